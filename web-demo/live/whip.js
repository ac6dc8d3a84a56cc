// WHIP (publish) and WHEP (watch) signalling shared by the live pages.
//
// Both protocols are one HTTP round trip: POST a complete SDP offer (every ICE candidate
// already in it, since livecart does not take trickled candidates), get back a 201 with
// the SDP answer and a Location naming the session, and DELETE that Location to end it.

/** An error answer from the WHIP/WHEP endpoint, with livecart's error code when it sent one. */
export class SignallingError extends Error {
  constructor(status, code, message) {
    super(message || `request failed with HTTP ${status}`);
    this.name = 'SignallingError';
    this.status = status;
    this.code = code;
  }
}

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

/** Resolves once `pc` has gathered every ICE candidate, or after `timeoutMs` regardless. */
export function iceGatheringComplete(pc, timeoutMs = 5000) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', onChange);
      resolve();
    };
    const onChange = () => {
      if (pc.iceGatheringState === 'complete') done();
    };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener('icegatheringstatechange', onChange);
  });
}

/** Creates the local offer and waits for ICE gathering, returning the complete SDP. */
export async function completeOffer(pc) {
  await pc.setLocalDescription(await pc.createOffer());
  await iceGatheringComplete(pc);
  return pc.localDescription.sdp;
}

async function errorFrom(response) {
  let code;
  let message;
  try {
    const body = await response.json();
    code = body?.error?.code;
    message = body?.error?.message;
  } catch {
    // Not a JSON error body: the status alone has to do.
  }
  return new SignallingError(response.status, code, message);
}

function headersFor(token, extra = {}) {
  const headers = { ...extra };
  if (token) headers.Authorization = `Bearer ${token}`;
  return headers;
}

/**
 * Sends the SDP offer to a WHIP/WHEP endpoint and returns `{ answer, location }`, the
 * location as an absolute URL. Throws a SignallingError on any status but 201.
 */
export async function postOffer(endpoint, sdp, { token, signal } = {}) {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: headersFor(token, { 'Content-Type': 'application/sdp' }),
    body: sdp,
    signal,
  });
  if (response.status !== 201) throw await errorFrom(response);
  const answer = await response.text();
  const header = response.headers.get('Location');
  // Relative to the URL that answered: a WHEP offer may be redirected (307) to the node
  // that holds the stream, and fetch follows that, sending the offer again.
  const location = header ? new URL(header, response.url).href : null;
  return { answer, location };
}

/**
 * Ends a session by deleting its Location. A session already gone (404) counts as ended.
 * `keepalive` lets the request outlive the page, for ending a session as the page closes.
 */
export async function endSession(location, { token, keepalive = false } = {}) {
  if (!location) return;
  const response = await fetch(location, { method: 'DELETE', headers: headersFor(token), keepalive });
  if (!response.ok && response.status !== 404) throw await errorFrom(response);
}

/**
 * Full exchange for `pc`: complete offer, POST, apply the answer. Returns the session location.
 *
 * With `retryWhile(error)` returning true, the same offer is sent again after `retryMs`
 * until it is accepted or `signal` aborts (WHEP uses this while the host is not streaming).
 * `onRetry(error)` is told about each retried answer.
 */
export async function negotiate(pc, endpoint, { token, signal, retryWhile, retryMs = 1000, onRetry } = {}) {
  const offer = await completeOffer(pc);
  for (;;) {
    signal?.throwIfAborted();
    try {
      const { answer, location } = await postOffer(endpoint, offer, { token, signal });
      await pc.setRemoteDescription({ type: 'answer', sdp: answer });
      return location;
    } catch (error) {
      if (!(error instanceof SignallingError) || !retryWhile?.(error)) throw error;
      onRetry?.(error);
      await sleep(retryMs, signal);
    }
  }
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

/** Endpoints of a room's stream, on the server that served the page. */
export const whipUrl = (room) => `/api/rooms/${encodeURIComponent(room)}/whip`;
export const whepUrl = (room) => `/api/rooms/${encodeURIComponent(room)}/whep`;

/**
 * Puts the video codecs livecart forwards (VP8, then H.264) first on a transceiver, and drops
 * the others, so a viewer can decode exactly what was published. Retransmission and FEC
 * entries stay. Browsers without setCodecPreferences keep their own order.
 */
export function preferForwardableVideo(transceiver, capabilities) {
  if (!transceiver.setCodecPreferences || !capabilities) return;
  const rank = (codec) => {
    const mime = codec.mimeType.toLowerCase();
    if (mime === 'video/vp8') return 0;
    if (mime === 'video/h264') return 1;
    if (['video/rtx', 'video/red', 'video/ulpfec', 'video/flexfec-03'].includes(mime)) return 2;
    return -1;
  };
  const codecs = capabilities.codecs.filter((c) => rank(c) >= 0).sort((a, b) => rank(a) - rank(b));
  if (!codecs.some((c) => rank(c) < 2)) return;
  try {
    transceiver.setCodecPreferences(codecs);
  } catch (error) {
    console.warn('keeping the browser codec order:', error);
  }
}

/** Shows a state on a status element: its text for people, `data-state` for scripts. */
export function showStatus(element, state, detail = '') {
  element.dataset.state = state;
  element.textContent = detail ? `${state}: ${detail}` : state;
}
