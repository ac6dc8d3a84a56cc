// A brand's live sales feed (docs/protocol.md §6): `follow_sales` with a brand member's
// token, then one `brand_sale` per paid order line of the brand's products, in any room.
//
// The feed has no seq and no resume, so whatever happened while it was away is only
// available over HTTP (GET /api/brands/{id}/orders). The feed says when to read it: a
// `resync` event after every reconnect and when the server reports the feed fell behind
// (an `error` with code `conflict`). Reconnects follow the same rules as a room's.

import { Emitter } from './emitter.js';
import { LivecartError } from './errors.js';
import { linkFor } from './link.js';

/** @typedef {import('./types.js').BrandSale} BrandSale */
/** @typedef {import('./types.js').BrandSaleMessage} BrandSaleMessage */
/** @typedef {import('./link.js').LinkState} LinkState */
/** @typedef {import('./link.js').ReconnectOptions} ReconnectOptions */
/** @typedef {import('./link.js').ReconnectInfo} ReconnectInfo */
/** @typedef {import('./link.js').CloseInfo} CloseInfo */
/** @typedef {import('./link.js').WebSocketConstructor} WebSocketConstructor */

/**
 * @typedef {object} SalesFeedEvents
 * @property {[LinkState]} state
 * @property {[{brand_id: number}]} following the feed is open (again)
 * @property {[BrandSaleMessage]} sale
 * @property {[{reason: 'reconnected' | 'fell_behind'}]} resync sales may have been missed: read them over HTTP
 * @property {[LivecartError]} error
 * @property {[ReconnectInfo]} reconnecting
 * @property {[CloseInfo]} session_ended close 4001: sign in again, then `resume({token})`
 * @property {[{reason: 'refused' | 'gave_up', error?: Error, close?: CloseInfo}]} failed
 */

/**
 * @typedef {object} SalesFeedOptions
 * @property {string} token a brand member's session token
 * @property {string} [baseUrl]
 * @property {string} [url]
 * @property {WebSocketConstructor} [WebSocket]
 * @property {ReconnectOptions} [reconnect]
 * @property {number} [joinTimeoutMs]
 */

/** @extends {Emitter<{[K in keyof SalesFeedEvents]: SalesFeedEvents[K]}>} */
export class SalesFeed extends Emitter {
  /** Whether the feed has been open before: the next `following` follows a gap. */
  #followedBefore = false;

  /** @param {SalesFeedOptions} options */
  constructor(options) {
    super();
    this.token = options.token;
    /** @type {number | null} */
    this.brandId = null;
    this.link = linkFor(options, {
      join: () => ({ type: 'follow_sales', token: this.token }),
      message: (message) => this.#handle(message),
      state: (state) => this.emit('state', state),
      lost: () => {},
      reconnecting: (info) => this.emit('reconnecting', info),
      sessionEnded: (info) => this.emit('session_ended', info),
      failed: (info) => this.emit('failed', info),
    });
  }

  get state() {
    return this.link.state;
  }

  /** The WebSocket in use (for tests and debugging), or null. */
  get socket() {
    return this.link.socket;
  }

  /**
   * Opens the feed. Resolves once it is open; rejects if refused or unreachable.
   * @returns {Promise<{brand_id: number}>}
   */
  connect() {
    if (this.link.state === 'joined' && this.brandId != null) return Promise.resolve({ brand_id: this.brandId });
    /** @type {Promise<{brand_id: number}>} */
    const open = new Promise((resolve, reject) => {
      const offs = [
        this.on('following', (info) => { offs.forEach((off) => off()); resolve(info); }),
        this.on('failed', (info) => { offs.forEach((off) => off()); reject(info.error ?? new LivecartError('unavailable', 'the feed could not connect')); }),
        this.on('session_ended', (info) => { offs.forEach((off) => off()); reject(new LivecartError('unauthenticated', info.reason)); }),
      ];
    });
    open.catch(() => {});
    this.link.start();
    return open;
  }

  /**
   * Opens the feed again with a new token (after `session_ended`).
   * @param {{token: string}} credentials
   */
  resume({ token }) {
    this.token = token;
    if (this.link.state === 'joined') this.link.restart('new credentials');
    return this.connect();
  }

  close() {
    this.link.stop();
  }

  /** @param {import('./types.js').ServerMessage} message */
  #handle(message) {
    switch (message?.type) {
      case 'following_sales':
        this.brandId = message.brand_id;
        this.link.joined();
        this.emit('following', { brand_id: message.brand_id });
        if (this.#followedBefore) this.emit('resync', { reason: 'reconnected' });
        this.#followedBefore = true;
        break;
      case 'brand_sale':
        this.emit('sale', message);
        break;
      case 'error': {
        const error = new LivecartError(message.code, message.message, { request: message.request });
        if (this.link.state !== 'joined') {
          // `follow_sales` was refused (the feed's errors carry no `request`).
          this.emit('error', error);
          this.link.refused(error, message.code === 'too_many_connections' || message.code === 'internal');
        } else if (message.code === 'conflict') {
          this.emit('resync', { reason: 'fell_behind' });
        } else {
          this.emit('error', error);
        }
        break;
      }
      default:
        break;
    }
  }
}
