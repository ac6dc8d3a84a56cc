// An account's notifications (docs/protocol.md, notifications): `listen` with a session token, then
// the account's private notifications on that connection. Today that is `going_live`: a
// creator the account follows took a room live.
//
// Delivery is at most once and nothing is replayed: a notification sent while the
// connection was away is gone. So after every reconnect the feed emits `resync`, and an
// app that shows "who is live" reads GET /api/me/upcoming (`lc.api.upcoming()`) then.
// Each room's `going_live` is emitted once per feed, even if the server were to repeat
// it. Reconnects follow the same rules as a room's (link.js).

import { Emitter } from './emitter.js';
import { LivecartError } from './errors.js';
import { linkFor } from './link.js';

/** @typedef {import('./types.js').RoomCard} RoomCard */
/** @typedef {import('./link.js').LinkState} LinkState */
/** @typedef {import('./link.js').ReconnectOptions} ReconnectOptions */
/** @typedef {import('./link.js').ReconnectInfo} ReconnectInfo */
/** @typedef {import('./link.js').CloseInfo} CloseInfo */
/** @typedef {import('./link.js').WebSocketConstructor} WebSocketConstructor */

/**
 * @typedef {object} NoticesEvents
 * @property {[LinkState]} state
 * @property {[{account_id: number}]} listening the feed is open (again)
 * @property {[RoomCard]} going_live a creator the account follows went live in this room
 * @property {[{reason: 'reconnected'}]} resync notifications may have been missed: read GET /api/me/upcoming
 * @property {[LivecartError]} error
 * @property {[ReconnectInfo]} reconnecting
 * @property {[CloseInfo]} session_ended close 4001: sign in again, then `resume({token})`
 * @property {[{reason: 'refused' | 'gave_up', error?: Error, close?: CloseInfo}]} failed
 */

/**
 * @typedef {object} NoticesOptions
 * @property {string} token a session token (any role)
 * @property {string} [baseUrl]
 * @property {string} [url]
 * @property {WebSocketConstructor} [WebSocket]
 * @property {ReconnectOptions} [reconnect]
 * @property {number} [joinTimeoutMs]
 */

/** Refusals of `listen` worth trying again later; any other is final. */
const RETRY_LISTEN = new Set(['too_many_connections', 'internal', 'unavailable']);

/** @extends {Emitter<{[K in keyof NoticesEvents]: NoticesEvents[K]}>} */
export class Notices extends Emitter {
  /** Whether the feed has been open before: the next `listening` follows a gap. */
  #listenedBefore = false;
  /** Rooms whose `going_live` was emitted already. @type {Set<number>} */
  #announced = new Set();

  /** @param {NoticesOptions} options */
  constructor(options) {
    super();
    this.token = options.token;
    /** The account the feed listens for, once it does. @type {number | null} */
    this.accountId = null;
    this.link = linkFor(options, {
      join: () => ({ type: 'listen', token: this.token }),
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
   * Opens the feed. Resolves once the server listens; rejects if refused or unreachable.
   * @returns {Promise<{account_id: number}>}
   */
  connect() {
    if (this.link.state === 'joined' && this.accountId != null) return Promise.resolve({ account_id: this.accountId });
    /** @type {Promise<{account_id: number}>} */
    const open = new Promise((resolve, reject) => {
      const offs = [
        this.on('listening', (info) => { offs.forEach((off) => off()); resolve(info); }),
        this.on('failed', (info) => { offs.forEach((off) => off()); reject(info.error ?? new LivecartError('unavailable', 'the notifications could not connect')); }),
        this.on('session_ended', (info) => { offs.forEach((off) => off()); reject(new LivecartError('unauthenticated', info.reason || 'session ended')); }),
      ];
    });
    open.catch(() => {});
    this.link.start();
    return open;
  }

  /**
   * Listens again with a new token (after `session_ended`, or another sign-in).
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
      case 'listening':
        this.accountId = message.account_id;
        this.link.joined();
        this.emit('listening', { account_id: message.account_id });
        if (this.#listenedBefore) this.emit('resync', { reason: 'reconnected' });
        this.#listenedBefore = true;
        break;
      case 'going_live':
        if (this.#announced.has(message.room.id)) break;
        this.#announced.add(message.room.id);
        this.emit('going_live', message.room);
        break;
      case 'error': {
        const error = new LivecartError(message.code, message.message, { request: message.request });
        this.emit('error', error);
        if (this.link.state !== 'joined') this.link.refused(error, RETRY_LISTEN.has(message.code));
        break;
      }
      default:
        break; // a notification newer than this library
    }
  }
}
