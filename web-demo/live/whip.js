// Page helpers of the standalone live pages (publish.html, watch.html). The WHIP/WHEP
// signalling itself (offer, answer, session Location, DELETE) is the client library's:
// ../sdk/media.js.

export { SignallingError, preferForwardableVideo, publish, watch, whepUrl, whipUrl } from '../sdk/index.js';

/**
 * Room id and token from the page address. The fragment is read first, so a token given as
 * `#room=1&token=…` never reaches the server in a request line; the query string is a
 * fallback for values that are safe to send (the room id).
 */
export function pageParams(location = window.location) {
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ''));
  const query = new URLSearchParams(location.search);
  const read = (name) => fragment.get(name) ?? query.get(name) ?? '';
  return { room: read('room').trim(), token: fragment.get('token') ?? '' };
}

/** Whether a room id is a positive integer, as the server numbers rooms. */
export function isRoomId(room) {
  return /^[1-9][0-9]*$/.test(room);
}

/** Shows a state on a status element: its text for people, `data-state` for scripts. */
export function showStatus(element, state, detail = '') {
  element.dataset.state = state;
  element.textContent = detail ? `${state}: ${detail}` : state;
}
