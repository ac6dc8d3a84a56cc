// Live video over WHIP (the host publishes) and WHEP (viewers watch), docs/protocol.md §8.
//
// Both are one HTTP round trip: POST a complete SDP offer (every ICE candidate already in
// it: livecart takes no trickled candidates), get 201 with the SDP answer and a Location
// naming the session, and DELETE that Location to end it. A MediaSession's `stop()` sends
// that DELETE once, however often it is called, and treats a session the server already
// closed (404) as stopped; `forget()` drops a session the server is known to have closed
// (the room ended) without a request at all.
//
// `publish(pc, …)` and `watch(pc, …)` run the whole exchange for a browser
// RTCPeerConnection; `sendOffer(…)` is the HTTP part alone, for any SDP source.

import { SignallingError, errorFromResponse } from './errors.js';
import { defaultBaseUrl } from './link.js';

export { SignallingError };

/** @typedef {typeof globalThis.fetch} Fetch */

/**
 * @typedef {object} MediaOptions
 * @property {string} [baseUrl] the server's HTTP address (default: the page's)
 * @property {Fetch} [fetch] default `globalThis.fetch`
 * @property {AbortSignal} [signal] aborts the exchange (and the waiting, for WHEP)
 */

/**
 * @param {string | undefined} baseUrl
 * @param {'whip' | 'whep'} kind
 * @param {number | string} roomId
 */
function endpoint(baseUrl, kind, roomId) {
  const path = `/api/rooms/${encodeURIComponent(roomId)}/${kind}`;
  const base = baseUrl ?? defaultBaseUrl();
  return base ? new URL(path, base).href : path;
}

/**
 * The room's WHIP endpoint (what OBS is given as its server URL).
 * @param {number | string} roomId
 * @param {string} [baseUrl]
 */
export const whipUrl = (roomId, baseUrl) => endpoint(baseUrl, 'whip', roomId);

/**
 * The room's WHEP endpoint.
 * @param {number | string} roomId
 * @param {string} [baseUrl]
 */
export const whepUrl = (roomId, baseUrl) => endpoint(baseUrl, 'whep', roomId);

/** A published or watched stream's session on the server. */
export class MediaSession {
  /** @type {Promise<void> | null} */
  #stopping = null;

  /**
   * @param {{location: string, token?: string | null, fetch?: Fetch}} options
   */
  constructor({ location, token = null, fetch }) {
    /** The session's URL (absolute). */
    this.location = location;
    this.token = token;
    this.fetch = fetch ?? globalThis.fetch.bind(globalThis);
  }

  /** True once `stop()` or `forget()` was called. */
  get stopped() {
    return this.#stopping !== null;
  }

  /**
   * Ends the session on the server: one DELETE, whatever the number of calls; a session
   * already gone (404) counts as ended. `keepalive` lets the request outlive the page.
   * @param {{keepalive?: boolean}} [options]
   * @returns {Promise<void>}
   */
  stop({ keepalive = false } = {}) {
    if (!this.#stopping) {
      this.#stopping = (async () => {
        /** @type {Record<string, string>} */
        const headers = {};
        if (this.token) headers.Authorization = `Bearer ${this.token}`;
        const response = await this.fetch(this.location, { method: 'DELETE', headers, keepalive });
        if (!response.ok && response.status !== 404) throw await errorFromResponse(response, SignallingError);
      })();
    }
    return this.#stopping;
  }

  /** Marks the session ended without asking the server (which already closed it). */
  forget() {
    if (!this.#stopping) this.#stopping = Promise.resolve();
  }
}

/**
 * POSTs an SDP offer to a room's WHIP or WHEP endpoint. With `retryWhileNotStreaming`,
 * a WHEP offer answered `409 not_streaming` is sent again every `retryMs` until the host
 * streams or `signal` aborts (`onWaiting` hears each wait). A 307 to the node that holds
 * the stream is followed by fetch, offer included.
 * @param {{kind: 'whip' | 'whep', roomId: number | string, sdp: string, token?: string | null,
 *   retryWhileNotStreaming?: boolean, retryMs?: number, onWaiting?: (error: SignallingError) => void} & MediaOptions} options
 * @returns {Promise<{answer: string, session: MediaSession}>}
 */
export async function sendOffer({ kind, roomId, sdp, token = null, baseUrl, fetch, signal, retryWhileNotStreaming = false, retryMs = 1500, onWaiting }) {
  const doFetch = fetch ?? globalThis.fetch.bind(globalThis);
  const url = endpoint(baseUrl, kind, roomId);
  for (;;) {
    signal?.throwIfAborted();
    /** @type {Record<string, string>} */
    const headers = { 'Content-Type': 'application/sdp' };
    if (token) headers.Authorization = `Bearer ${token}`;
    const response = await doFetch(url, { method: 'POST', headers, body: sdp, signal });
    if (response.status === 201) {
      const answer = await response.text();
      const header = response.headers.get('Location');
      if (!header) throw new SignallingError(201, undefined, 'the answer named no session (no Location header)');
      // Relative to the URL that answered: after a 307, that is the node holding the stream.
      const location = new URL(header, response.url || url).href;
      return { answer, session: new MediaSession({ location, token, fetch: doFetch }) };
    }
    const error = await errorFromResponse(response, SignallingError);
    if (!(retryWhileNotStreaming && error.status === 409 && error.code === 'not_streaming')) throw error;
    onWaiting?.(error);
    await sleep(retryMs, signal);
  }
}

/**
 * Resolves once `pc` has gathered every ICE candidate, or after `timeoutMs` regardless.
 * @param {RTCPeerConnection} pc
 * @param {number} [timeoutMs]
 * @returns {Promise<void>}
 */
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

/**
 * Creates the local offer and waits for ICE gathering; the complete SDP.
 * @param {RTCPeerConnection} pc
 */
export async function completeOffer(pc) {
  await pc.setLocalDescription(await pc.createOffer());
  await iceGatheringComplete(pc);
  return /** @type {RTCSessionDescription} */ (pc.localDescription).sdp;
}

/**
 * Publishes `pc`'s tracks to the room over WHIP (the host's token is required).
 * @param {RTCPeerConnection} pc with send-only transceivers added
 * @param {{roomId: number | string, token: string} & MediaOptions} options
 * @returns {Promise<MediaSession>}
 */
export async function publish(pc, { roomId, token, baseUrl, fetch, signal }) {
  const sdp = await completeOffer(pc);
  const { answer, session } = await sendOffer({ kind: 'whip', roomId, sdp, token, baseUrl, fetch, signal });
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  return session;
}

/**
 * Watches the room's stream over WHEP into `pc`. By default it waits while the host is
 * not streaming yet (409 `not_streaming`), asking again every `retryMs`.
 * @param {RTCPeerConnection} pc with receive-only transceivers added
 * @param {{roomId: number | string, waitForStream?: boolean, retryMs?: number, onWaiting?: (error: SignallingError) => void} & MediaOptions} options
 * @returns {Promise<MediaSession>}
 */
export async function watch(pc, { roomId, baseUrl, fetch, signal, waitForStream = true, retryMs = 1500, onWaiting }) {
  const sdp = await completeOffer(pc);
  const { answer, session } = await sendOffer({
    kind: 'whep', roomId, sdp, baseUrl, fetch, signal, retryWhileNotStreaming: waitForStream, retryMs, onWaiting,
  });
  if (signal?.aborted) {
    await session.stop().catch(() => {});
    signal.throwIfAborted();
  }
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  return session;
}

/**
 * Puts the video codecs livecart forwards (VP8, then H.264) first on a transceiver and
 * drops the others, so a viewer can decode exactly what was published. Retransmission and
 * FEC entries stay. Browsers without setCodecPreferences keep their own order.
 * @param {RTCRtpTransceiver} transceiver
 * @param {{codecs: {mimeType: string}[]} | null | undefined} capabilities
 */
export function preferForwardableVideo(transceiver, capabilities) {
  if (!transceiver.setCodecPreferences || !capabilities) return;
  /** @param {{mimeType: string}} codec */
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
    transceiver.setCodecPreferences(/** @type {any} */ (codecs));
  } catch (error) {
    console.warn('keeping the browser codec order:', error);
  }
}

/**
 * @param {number} ms
 * @param {AbortSignal} [signal]
 * @returns {Promise<void>}
 */
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}
