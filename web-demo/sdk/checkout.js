// A purchase: one checkout of the room cart, or one payment of an offer made to the buyer
// (`pay_offer`, §4.22: an auction won, units a comment held), under one idempotency key,
// carried to a final outcome (docs/protocol.md §4.11). Both work the same way. The key is made once, when the purchase starts, and
// every attempt sends it again:
//
// - `payment_unavailable`: the order and its hold are kept; a few automatic retries, then
//   `retry()` (the buyer's call), charge the same order, never a second one;
// - the connection drops while an attempt waits for its answer: the answer is lost with
//   it, so the attempt is sent again, same key, as soon as the room is joined again;
// - `checkout_in_progress`: an earlier attempt with the key is still running (perhaps on
//   the connection that dropped); ask again shortly;
// - `unavailable` (the database or Redis did not answer in time) and `internal`: retried
//   as `payment_unavailable` is;
// - `order_confirmed` with the key: paid, final;
// - any other error (declined, sold out, hold expired, a promo code refused, …): final;
//   a new purchase gets a new key.

import { Emitter } from './emitter.js';
import { LivecartError } from './errors.js';

/** @typedef {import('./types.js').Order} Order */
/** @typedef {import('./types.js').CheckoutMessage} CheckoutMessage */
/** @typedef {import('./types.js').PayOfferMessage} PayOfferMessage */
/** @typedef {import('./types.js').ErrorCode} ErrorCode */
/** @typedef {import('./types.js').ShippingAddress} ShippingAddress */

/**
 * `sending`: an attempt waits for its answer; `waiting`: not connected, the attempt goes
 * out when the room is joined again; `unavailable`: the provider did not answer, call
 * `retry()`; `retrying`: another attempt comes by itself shortly; `confirmed` and
 * `failed` are final, as is `abandoned`.
 * @typedef {'sending' | 'waiting' | 'unavailable' | 'retrying' | 'confirmed' | 'failed' | 'abandoned'} PurchaseState
 */

/**
 * @typedef {object} PurchaseRetry
 * @property {number} [unavailable] automatic retries after `payment_unavailable` before
 *   reporting `unavailable` (default 2; 0 lets the buyer decide at once)
 * @property {number} [inProgress] retries after `checkout_in_progress` before reporting `unavailable` (default 60)
 * @property {number} [delayMs] between automatic retries (default 1500)
 */

/**
 * @typedef {object} PurchaseEvents
 * @property {[PurchaseState, LivecartError | null]} state
 * @property {[Order]} confirmed
 * @property {[LivecartError]} failed
 */

/** Codes after which the same key may be sent again. */
const KEEP_KEY = new Set(['payment_unavailable', 'checkout_in_progress', 'unavailable', 'internal']);

/**
 * A random idempotency key: printable ASCII without spaces, as the protocol asks.
 * @returns {string}
 */
export function newIdempotencyKey() {
  const crypto = /** @type {any} */ (globalThis).crypto;
  if (crypto?.randomUUID) return crypto.randomUUID();
  if (crypto?.getRandomValues) {
    return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
  }
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`;
}

/** @extends {Emitter<{[K in keyof PurchaseEvents]: PurchaseEvents[K]}>} */
export class Purchase extends Emitter {
  /** @type {PurchaseState} */
  #state = 'waiting';
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #timer;
  #unavailableRetries = 0;
  #inProgressRetries = 0;
  /** @type {(order: Order) => void} */
  #resolve = () => {};
  /** @type {(error: LivecartError) => void} */
  #reject = () => {};
  /** @type {(message: CheckoutMessage | PayOfferMessage) => boolean} */
  #send;

  /**
   * Made by `RoomConnection.checkout()`.
   * `payment: 'saved'` pays with the account's saved method instead of `card`; `save`
   * keeps the card and `shipping` on the account once the order is paid (servers with
   * one-tap buy, `GET /api/me/wallet`). With `offerId` it pays that offer (`pay_offer`)
   * instead of the cart (`RoomConnection.payOffer()`).
   * @param {{card?: string | null, promoCode?: string | null, key?: string, retry?: PurchaseRetry,
   *   payment?: 'card' | 'saved' | null, save?: boolean, shipping?: ShippingAddress | null,
   *   offerId?: number | null, send: (message: CheckoutMessage | PayOfferMessage) => boolean}} options
   */
  constructor({ card = null, promoCode = null, key = newIdempotencyKey(), retry = {}, payment = null, save = false, shipping = null, offerId = null, send }) {
    super();
    /** The offer this purchase pays; null for the cart. */
    this.offerId = offerId;
    /** The idempotency key every attempt of this purchase sends. */
    this.key = key;
    this.card = card;
    this.promoCode = promoCode || null;
    /** @type {'card' | 'saved' | null} */
    this.payment = payment;
    this.save = save;
    this.shipping = shipping;
    /** @type {Required<PurchaseRetry>} */
    this.retryPolicy = { unavailable: 2, inProgress: 60, delayMs: 1500, ...retry };
    this.attempts = 0;
    /** @type {Order | null} */
    this.order = null;
    /** The last error answer. @type {LivecartError | null} */
    this.error = null;
    this.#send = send;
    /** Resolves with the paid order; rejects with the LivecartError that ended the purchase. @type {Promise<Order>} */
    this.result = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.result.catch(() => {}); // an app that only listens to events is not warned
  }

  get state() {
    return this.#state;
  }

  /** True once confirmed, failed or abandoned. */
  get settled() {
    return this.#state === 'confirmed' || this.#state === 'failed' || this.#state === 'abandoned';
  }

  /**
   * Sends the checkout again with the same key, now; with a new card if given (a retry
   * after `payment_unavailable` charges the card it carries, once). While an attempt
   * waits for its answer, nothing more is sent.
   * @param {{card?: string}} [options]
   */
  retry({ card } = {}) {
    if (this.settled) throw new Error(`this purchase is ${this.#state}; start a new one`);
    if (card) this.card = card;
    if (this.#state !== 'sending') this.#attempt();
  }

  /** Stops following the purchase (a held order is released by the server when its hold expires). */
  abandon() {
    if (this.settled) return;
    clearTimeout(this.#timer);
    this.#set('abandoned', null);
    this.#reject(new LivecartError('abandoned', 'the purchase was abandoned', { request: this.request }));
  }

  /** @internal the room is joined (again): send what was waiting, or was lost in flight. */
  connected() {
    if (this.#state === 'waiting' || this.#state === 'sending') this.#attempt();
  }

  /** @internal the connection is gone: an answer in flight is lost with it. */
  disconnected() {
    if (this.#state === 'sending') this.#set('waiting', null);
  }

  /**
   * @internal an `order_confirmed` for this key.
   * @param {Order} order
   */
  confirmed(order) {
    if (this.settled) return;
    clearTimeout(this.#timer);
    this.order = order;
    this.error = null;
    this.#set('confirmed', null);
    this.emit('confirmed', order);
    this.#resolve(order);
  }

  /**
   * @internal an `error` answer to `checkout` (or `pay_offer`).
   * @param {LivecartError} error
   */
  refused(error) {
    if (this.settled || this.#state !== 'sending') return;
    this.error = error;
    if (!KEEP_KEY.has(error.code ?? '')) {
      this.#set('failed', error);
      this.emit('failed', error);
      this.#reject(error);
      return;
    }
    const automatic = error.code === 'checkout_in_progress'
      ? this.#inProgressRetries++ < this.retryPolicy.inProgress
      : this.#unavailableRetries++ < this.retryPolicy.unavailable;
    if (automatic) {
      this.#set('retrying', error);
      this.#timer = setTimeout(() => {
        if (this.#state === 'retrying') this.#attempt();
      }, this.retryPolicy.delayMs);
    } else {
      this.#set('unavailable', error);
    }
  }

  /** @internal the first attempt: sent now, or when the room is joined. */
  start() {
    if (this.attempts === 0 && this.#state === 'waiting') this.#attempt();
  }

  /** The request this purchase sends, as error answers name it. */
  get request() {
    return this.offerId == null ? 'checkout' : 'pay_offer';
  }

  #attempt() {
    clearTimeout(this.#timer);
    /** @type {CheckoutMessage | PayOfferMessage} */
    const message = this.offerId == null
      ? { type: 'checkout', idempotency_key: this.key }
      : { type: 'pay_offer', offer_id: this.offerId, idempotency_key: this.key };
    if (this.payment === 'saved') message.payment = 'saved';
    else message.card = this.card;
    if (this.promoCode && message.type === 'checkout') message.promo_code = this.promoCode;
    if (this.save) message.save = true;
    if (this.shipping) message.shipping = this.shipping;
    if (this.#send(message)) {
      this.attempts += 1;
      this.#set('sending', null);
    } else {
      this.#set('waiting', null);
    }
  }

  /**
   * @param {PurchaseState} state
   * @param {LivecartError | null} error
   */
  #set(state, error) {
    const changed = this.#state !== state;
    this.#state = state;
    // `sending` again after a retry is news too: a view shows "Paying…" again.
    if (changed || state === 'sending') this.emit('state', state, error);
  }
}
