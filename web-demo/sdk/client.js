// One object holding what every part needs: the server's address, the WebSocket and
// fetch to use, and the signed-in session's token.
//
//   const lc = new Livecart();                           // in a page of the server
//   const lc = new Livecart({ baseUrl, WebSocket });     // in Node before 22: WebSocket from `ws`
//   await lc.login(email, password);
//   const room = lc.room(7);                             // joins with the token, or { guestName }
//   room.on('comment', (c) => …); await room.connect();

import { Api } from './api.js';
import { RoomConnection } from './room.js';
import { SalesFeed } from './sales.js';
import { Notices } from './notices.js';
import { publish, watch } from './media.js';
import { defaultBaseUrl } from './link.js';

/** @typedef {import('./link.js').WebSocketConstructor} WebSocketConstructor */
/** @typedef {import('./room.js').RoomConnectionOptions} RoomConnectionOptions */
/** @typedef {import('./sales.js').SalesFeedOptions} SalesFeedOptions */
/** @typedef {import('./notices.js').NoticesOptions} NoticesOptions */
/** @typedef {typeof globalThis.fetch} Fetch */

export class Livecart {
  /**
   * @param {{baseUrl?: string, WebSocket?: WebSocketConstructor, fetch?: Fetch, token?: string | null}} [options]
   */
  constructor({ baseUrl, WebSocket, fetch, token = null } = {}) {
    const base = baseUrl ?? defaultBaseUrl();
    if (!base) throw new TypeError('give baseUrl: there is no page address to start from');
    this.baseUrl = base;
    this.WebSocket = WebSocket;
    this.fetch = fetch;
    this.api = new Api({ baseUrl: base, token, fetch });
  }

  /** The session token rooms and feeds join with (set by `login`). */
  get token() {
    return this.api.token;
  }

  set token(token) {
    this.api.token = token;
  }

  /**
   * @param {string} email
   * @param {string} password
   */
  login(email, password) {
    return this.api.login(email, password);
  }

  logout() {
    return this.api.logout();
  }

  /**
   * A connection to a room, not yet connected (add listeners, then `connect()`). It joins
   * with `options.token`, else as the guest `options.guestName`, else with the client's token.
   * @param {number} roomId
   * @param {Omit<RoomConnectionOptions, 'roomId'>} [options]
   */
  room(roomId, options = {}) {
    const token = options.token !== undefined ? options.token : options.guestName ? null : this.token;
    return new RoomConnection({ baseUrl: this.baseUrl, WebSocket: this.WebSocket, api: this.#apiFor(token), ...options, roomId, token });
  }

  /**
   * The API as `token` calls it (a room joined with another token than the client's reads
   * its review queue with that token).
   * @param {string | null} token
   */
  #apiFor(token) {
    return token === this.token ? this.api : new Api({ baseUrl: this.baseUrl, token, fetch: this.fetch });
  }

  /**
   * A brand's sales feed, not yet connected (joins with the client's token by default).
   * @param {Partial<SalesFeedOptions>} [options]
   */
  salesFeed(options = {}) {
    const token = options.token ?? this.token;
    if (!token) throw new TypeError('the sales feed needs a brand member\'s token: log in first');
    return new SalesFeed({ baseUrl: this.baseUrl, WebSocket: this.WebSocket, ...options, token });
  }

  /**
   * The signed-in account's notifications (`going_live`), not yet connected (listens with
   * the client's token by default).
   * @param {Partial<NoticesOptions>} [options]
   */
  notices(options = {}) {
    const token = options.token ?? this.token;
    if (!token) throw new TypeError('notifications need a session token: log in first');
    return new Notices({ baseUrl: this.baseUrl, WebSocket: this.WebSocket, ...options, token });
  }

  /**
   * Publishes `pc` to the room over WHIP with the client's token (see media.js).
   * @param {RTCPeerConnection} pc
   * @param {number} roomId
   * @param {{signal?: AbortSignal}} [options]
   */
  publish(pc, roomId, { signal } = {}) {
    if (!this.token) throw new TypeError('publishing needs the host\'s token: log in first');
    return publish(pc, { roomId, token: this.token, baseUrl: this.baseUrl, fetch: this.fetch, signal });
  }

  /**
   * Watches the room's stream into `pc` over WHEP (see media.js).
   * @param {RTCPeerConnection} pc
   * @param {number} roomId
   * @param {{signal?: AbortSignal, waitForStream?: boolean, retryMs?: number, onWaiting?: (error: import('./errors.js').SignallingError) => void}} [options]
   */
  watch(pc, roomId, options = {}) {
    return watch(pc, { roomId, baseUrl: this.baseUrl, fetch: this.fetch, ...options });
  }
}
