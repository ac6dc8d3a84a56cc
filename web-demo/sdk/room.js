// A room connection: join with a session token or a guest name, then follow the room's
// events without ever drawing a room with a hole in it (docs/protocol.md §2).
//
// The client keeps the `epoch` and the last seq seen. A reconnect sends both as `since`
// and `epoch`, and the server answers one of two ways:
//
// - `resumed` {since, seq}: the missed events since+1 … seq follow (the replay), then live
//   events. The last seq seen stays at `since` until the replay's first event and then
//   moves one event at a time, so the replay's seqs (at or below `resumed.seq`) are each
//   exactly last + 1; events delivered during the replay say `replay: true`.
// - `snapshot` (with `reset: true` when the missed events are gone): start again from it.
//   A `reset: true` snapshot may also come at any time on a connection that fell behind.
//
// An event whose seq is not last + 1 is a gap: by default the connection is dropped and
// joined again with `since` at once, so the missing events arrive (exactly once); with
// `onGap: 'report'` the gap is only reported. An event at or below the last seq seen is
// one already applied and is skipped.

import { Emitter } from './emitter.js';
import { LivecartError } from './errors.js';
import { linkFor } from './link.js';
import { Purchase } from './checkout.js';
import { RoomState } from './state.js';

/** @typedef {import('./types.js').Snapshot} Snapshot */
/** @typedef {import('./types.js').Resumed} Resumed */
/** @typedef {import('./types.js').RoomEvent} RoomEvent */
/** @typedef {import('./types.js').RoomEventKind} RoomEventKind */
/** @typedef {import('./types.js').ServerMessage} ServerMessage */
/** @typedef {import('./types.js').ClientMessage} ClientMessage */
/** @typedef {import('./types.js').CartView} CartView */
/** @typedef {import('./types.js').Product} Product */
/** @typedef {import('./types.js').Order} Order */
/** @typedef {import('./types.js').Reaction} Reaction */
/** @typedef {import('./types.js').EntryRule} EntryRule */
/** @typedef {import('./types.js').GiveawayCard} GiveawayCard */
/** @typedef {import('./types.js').GiveawayEnteredMessage} GiveawayEnteredMessage */
/** @typedef {import('./types.js').HeldComment} HeldComment */
/** @typedef {import('./types.js').AuctionCard} AuctionCard */
/** @typedef {import('./types.js').Step} Step */
/** @typedef {import('./types.js').BidPlacedMessage} BidPlacedMessage */
/** @typedef {import('./types.js').OfferView} OfferView */
/** @typedef {import('./types.js').WaitlistMessage} WaitlistMessage */
/** @typedef {import('./types.js').CommentPurchaseMessage} CommentPurchaseMessage */
/** @typedef {import('./link.js').ReconnectOptions} ReconnectOptions */
/** @typedef {import('./link.js').ReconnectInfo} ReconnectInfo */
/** @typedef {import('./link.js').CloseInfo} CloseInfo */
/** @typedef {import('./link.js').WebSocketConstructor} WebSocketConstructor */
/** @typedef {import('./checkout.js').PurchaseRetry} PurchaseRetry */

/**
 * The link's states, plus `replaying` while the events missed before a `resumed` arrive.
 * @typedef {import('./link.js').LinkState | 'replaying'} RoomConnectionState
 */

/**
 * @typedef {object} EventMeta
 * @property {number} seq
 * @property {boolean} replay true for the missed events replayed after `resumed`
 */

/**
 * Why this connection was put out of the room for good (docs/protocol.md 2, 4.18).
 * @typedef {object} RemovedInfo
 * @property {'room' | 'creator'} scope `creator`: from every room of this host
 * @property {string} reason the close reason or the refusal's message
 * @property {number | null} code 4003 for a close; null for a refused join
 */

/**
 * @typedef {object} GapInfo
 * @property {number} expected the seq that should have come (last seen + 1)
 * @property {number} received the seq that came
 * @property {'resync' | 'report'} action what the connection does about it
 */

/**
 * @typedef {object} RoomConnectionEvents
 * @property {[RoomConnectionState]} state
 * @property {[Snapshot]} snapshot every snapshot: the first, and each `reset: true` one; rebuild the room from it
 * @property {[Resumed]} resumed the server honoured `since`; the replay follows
 * @property {[{seq: number}]} caught_up the replay after `resumed` is over (also right after a `resumed` with nothing to replay)
 * @property {[RoomEvent, EventMeta]} event every room event, in seq order, exactly once
 * @property {[GapInfo]} gap
 * @property {[number]} viewers
 * @property {[Partial<Record<Reaction, number>>]} reactions counts since the previous tick
 * @property {[CartView]} cart
 * @property {[Product]} product the answer to `view_product`
 * @property {[GiveawayEnteredMessage]} giveaway_entered the answer to `enter_giveaway`
 * @property {[Order]} order_confirmed
 * @property {[import('./types.js').RoomCard]} going_live a creator the account follows went live (another room, or this one)
 * @property {[string]} held_for_review the caller's comment (this text) is held for review: the room sees it only if approved
 * @property {[HeldComment]} comment_held host and moderators: a comment of this room was held for review (in `room.held`)
 * @property {[{id: number, approved: boolean}]} comment_reviewed host and moderators: a held comment was approved or rejected (and left `room.held`)
 * @property {[HeldComment[]]} held host and moderators: the review queue was read after a join (`room.held`)
 * @property {[BidPlacedMessage]} bid_placed the caller's bid was taken (`room.myBid`)
 * @property {[OfferView]} offer a unit is held for the caller: pay it with `payOffer` (`room.offers`)
 * @property {[OfferView[]]} offers the caller's open offers were read after a join (`room.openOffers()`)
 * @property {[WaitlistMessage]} waitlist the caller's place on a waitlist (`room.waitlists`)
 * @property {[CommentPurchaseMessage]} comment_purchase the answer to the caller's comment that asked to buy
 * @property {[LivecartError]} error an `error` frame (`request` says which message failed)
 * @property {[ReconnectInfo]} reconnecting
 * @property {[CloseInfo]} session_ended close 4001: sign in again, then `resume({token})`
 * @property {[RemovedInfo]} removed banned from the room: closed with 4003, or a join refused with `banned`; the connection does not come back
 * @property {[{reason: 'refused' | 'gave_up', error?: Error, close?: CloseInfo}]} failed the join was refused, or the reconnect attempts ran out
 * @property {[ServerMessage]} message every frame the server sends, before it is handled
 * @property {[ClientMessage]} sent every message sent
 */

/**
 * Each event kind is also emitted under its own name: `room.on('sale', (sale, meta) => …)`.
 * @typedef {{[K in RoomEventKind]: [Extract<RoomEvent, {kind: K}>, EventMeta]}} RoomKindEvents
 */

/** @typedef {RoomConnectionEvents & RoomKindEvents} RoomEvents */

/**
 * @typedef {object} RoomConnectionOptions
 * @property {number} roomId
 * @property {string | null} [token] a session token (POST /api/auth/login)
 * @property {string | null} [guestName] used when there is no token; guests cannot buy
 * @property {string} [baseUrl] the server's HTTP address (default: the page's)
 * @property {string} [url] the WebSocket address, if not `baseUrl` + `/ws`
 * @property {WebSocketConstructor} [WebSocket] default `globalThis.WebSocket`
 * @property {number | null} [since] resume from an earlier connection (with `epoch`)
 * @property {string | null} [epoch]
 * @property {'resync' | 'report'} [onGap] default `resync`
 * @property {ReconnectOptions} [reconnect]
 * @property {number} [joinTimeoutMs] a join unanswered this long is a lost connection (default 15000)
 * @property {RoomState} [state] the state to keep up to date (default a new RoomState)
 * @property {import('./api.js').Api} [api] reads the review queue over REST after each join
 *   when the caller may moderate (`held`), and a signed-in caller's open offers (`offers`);
 *   `Livecart.room()` passes its own
 */

/**
 * Throws `invalid_input` for a card or promo code the server would refuse on decoding
 * (docs/protocol.md §4.11).
 * @param {string | null} card none when paying with the saved method
 * @param {string | null} promoCode
 * @param {'card' | 'saved' | null} [payment]
 * @param {'checkout' | 'pay_offer'} [request] the message the fields are for
 */
function checkCheckoutFields(card, promoCode, payment = null, request = 'checkout') {
  const digits = typeof card === 'string' ? card.replace(/ /g, '') : '';
  if (payment !== 'saved' && !/^[0-9]{12,19}$/.test(digits)) {
    throw new LivecartError('invalid_input', 'card: give 12 to 19 digits (spaces are allowed)', { request });
  }
  if (promoCode && !/^[A-Za-z0-9_-]{3,32}$/.test(promoCode)) {
    throw new LivecartError('invalid_input', 'promo_code: 3 to 32 letters, digits, "-" or "_"', { request: 'checkout' });
  }
}

/** Join refusals worth trying again later; any other refusal is final. */
const RETRY_JOIN = new Set(['too_many_connections', 'internal', 'unavailable']);

/** @extends {Emitter<{[K in keyof RoomEvents]: RoomEvents[K]}>} */
export class RoomConnection extends Emitter {
  /** @type {number | null} */
  #lastSeq = null;
  /** @type {string | null} */
  #epoch = null;
  /** While replaying after `resumed`: the seq the replay ends at. @type {number | null} */
  #replayTo = null;
  /** @type {RoomConnectionState} */
  #state = 'idle';
  /** @type {Purchase | null} */
  #purchase = null;
  /** @type {{productId: number, resolve: (p: Product) => void, reject: (e: Error) => void}[]} */
  #productWaiters = [];
  /** @type {{resolve: (reply: Snapshot | Resumed) => void, reject: (e: Error) => void}[]} */
  #joinWaiters = [];
  /** `startGiveaway` calls waiting for their `giveaway_started`. @type {{resolve: (card: GiveawayCard) => void, reject: (e: Error) => void}[]} */
  #startWaiters = [];
  /** `enterGiveaway` calls waiting for their `giveaway_entered`. @type {{id: number, resolve: (reply: GiveawayEnteredMessage) => void, reject: (e: Error) => void}[]} */
  #enterWaiters = [];
  /** `startAuction` calls waiting for their `auction_started`. @type {{resolve: (card: AuctionCard) => void, reject: (e: Error) => void}[]} */
  #auctionWaiters = [];
  /** `bid` calls waiting for their `bid_placed`, in the order sent. @type {{resolve: (reply: BidPlacedMessage) => void, reject: (e: Error) => void}[]} */
  #bidWaiters = [];
  /** `joinWaitlist` and `leaveWaitlist` calls waiting for their `waitlist`. @type {{productId: number, resolve: (reply: WaitlistMessage) => void, reject: (e: Error) => void}[]} */
  #waitlistWaiters = [];
  /** @type {Snapshot | Resumed | null} */
  #lastReply = null;
  /**
   * While the review queue is being read: the `comment_held` and `comment_reviewed` frames
   * that came meanwhile, applied on top of what was read. @type {ServerMessage[] | null}
   */
  #heldWhileLoading = null;
  /** While the open offers are being read: the `offer` and `comment_purchase` frames that came meanwhile. @type {ServerMessage[] | null} */
  #offersWhileLoading = null;

  /** @param {RoomConnectionOptions} options */
  constructor(options) {
    super();
    const { roomId, token = null, guestName = null, since = null, epoch = null, onGap = 'resync' } = options;
    if (!Number.isInteger(roomId) || roomId <= 0) throw new TypeError('roomId must be a positive integer');
    this.roomId = roomId;
    this.token = token;
    this.guestName = guestName;
    if (since != null && epoch != null) {
      this.#lastSeq = since;
      this.#epoch = epoch;
    }
    this.onGap = onGap;
    this.api = options.api ?? null;
    /** The room as the frames so far describe it. */
    this.room = options.state ?? new RoomState();
    /** `snapshot` or `resumed`: how the last join was answered. @type {'snapshot' | 'resumed' | null} */
    this.lastJoinReply = null;
    /** Gaps seen so far. */
    this.gaps = 0;
    this.link = linkFor(options, {
      join: () => this.#joinMessage(),
      message: (message) => this.#handle(message),
      state: () => this.#syncState(),
      lost: () => this.#lost(),
      reconnecting: (info) => this.emit('reconnecting', info),
      sessionEnded: (info) => {
        this.#settleJoin(new LivecartError('unauthenticated', `session ended: ${info.reason || 'sign in again'}`));
        this.emit('session_ended', info);
      },
      banned: (info) => {
        this.#settleJoin(new LivecartError('banned', info.reason || 'banned from this room'));
        this.emit('removed', { scope: /creator/.test(info.reason) ? 'creator' : 'room', reason: info.reason || 'banned from this room', code: info.code });
      },
      failed: (info) => {
        this.#settleJoin(info.error ?? new LivecartError('unavailable', 'could not reach the room'));
        this.emit('failed', info);
      },
    });
  }

  /** @returns {RoomConnectionState} */
  get state() {
    return this.#state;
  }

  /** True while joined (replaying or live): messages can be sent. */
  get joined() {
    return this.#state === 'joined' || this.#state === 'replaying';
  }

  /** The epoch of the last snapshot or `resumed`. */
  get epoch() {
    return this.#epoch;
  }

  /** The last seq seen: what a reconnect sends as `since`. */
  get lastSeq() {
    return this.#lastSeq;
  }

  /** True between `resumed` and the end of its replay. */
  get replaying() {
    return this.#replayTo != null;
  }

  /** The WebSocket in use (for tests and debugging), or null. */
  get socket() {
    return this.link.socket;
  }

  /** The purchase being carried to its outcome, or null. */
  get purchase() {
    return this.#purchase && !this.#purchase.settled ? this.#purchase : null;
  }

  /**
   * Connects and joins. Resolves with the answer to this join (`snapshot` or `resumed`);
   * rejects if the join is refused, the session ends or the attempts run out first.
   * @returns {Promise<Snapshot | Resumed>}
   */
  connect() {
    if (this.joined && this.#lastReply) return Promise.resolve(this.#lastReply);
    const joined = this.#nextJoin();
    this.link.start();
    return joined;
  }

  /**
   * Joins again with new credentials, resuming from the last seq seen: after
   * `session_ended` (sign in, then resume with the new token), after a refused join, or
   * to change identity while connected.
   * @param {{token?: string | null, guestName?: string | null}} credentials
   * @returns {Promise<Snapshot | Resumed>}
   */
  resume({ token, guestName } = {}) {
    if (token !== undefined) this.token = token;
    if (guestName !== undefined) this.guestName = guestName;
    const joined = this.#nextJoin();
    if (this.link.state === 'joined' || this.link.state === 'connecting' || this.link.state === 'reconnecting') {
      this.link.restart('joining with new credentials');
    } else {
      this.link.start();
    }
    return joined;
  }

  /** Leaves the room: closes the connection, no reconnect. */
  close() {
    this.link.stop();
    this.#settleJoin(new LivecartError('closed', 'the connection was closed'));
  }

  /** While waiting to reconnect, tries at once (e.g. on the browser's `online` event). */
  reconnectNow() {
    this.link.reconnectNow();
  }

  /**
   * Sends a client message on the joined connection; false when not joined right now.
   * @param {ClientMessage} message
   */
  send(message) {
    if (!this.joined) return false;
    const sent = this.link.send(message);
    if (sent) this.emit('sent', message);
    return sent;
  }

  // ---------- chat ----------

  /** @param {string} text 1–300 characters */
  comment(text) {
    return this.send({ type: 'comment', text });
  }

  /** @param {Reaction} reaction */
  react(reaction) {
    return this.send({ type: 'react', reaction });
  }

  // ---------- moderation (host and moderators; docs/protocol.md 4.16 to 4.19) ----------

  /**
   * Deletes comment `seq` for everyone (a `comment_deleted` event follows).
   * @param {number} seq
   */
  deleteComment(seq) {
    return this.send({ type: 'delete_comment', seq });
  }

  /**
   * The author of comment `seq` may not comment for `secs` seconds (10 to 86,400).
   * @param {number} seq
   * @param {number} secs
   */
  timeout(seq, secs) {
    return this.send({ type: 'timeout', seq, secs });
  }

  /**
   * Bans the author of comment `seq` from this room, or with `creator` from every room of
   * the host; their connections close with 4003.
   * @param {number} seq
   * @param {import('./types.js').BanScope} [scope]
   */
  ban(seq, scope = 'room') {
    return this.send({ type: 'ban', seq, scope });
  }

  /**
   * Each viewer may comment once per `secs` seconds (0 to 3,600; 0 turns slow mode off).
   * @param {number} secs
   */
  slowMode(secs) {
    return this.send({ type: 'slow_mode', secs });
  }

  /**
   * Posts held comment `id` to the room (4.23): its `comment` event follows, and
   * `comment_reviewed` to the host and moderators.
   * @param {number} id
   */
  approveComment(id) {
    return this.send({ type: 'approve_comment', id });
  }

  /**
   * Drops held comment `id` (4.24); its author is not told.
   * @param {number} id
   */
  rejectComment(id) {
    return this.send({ type: 'reject_comment', id });
  }

  // ---------- host actions ----------

  /** @param {number} productId */
  pin(productId) {
    return this.send({ type: 'pin', product_id: productId });
  }

  unpin() {
    return this.send({ type: 'unpin' });
  }

  /**
   * @param {{productId: number, quantity: number, price?: number | null, durationSecs: number, perBuyer?: number | null}} drop
   *   `price` in minor units; null or absent for the catalogue price. `perBuyer`: at most
   *   this many units per buyer (1–99); null or absent for no limit
   */
  startDrop({ productId, quantity, price = null, durationSecs, perBuyer = null }) {
    return this.send({
      type: 'start_drop',
      product_id: productId,
      quantity,
      price,
      duration_secs: durationSecs,
      per_buyer: perBuyer,
    });
  }

  endRoom() {
    return this.send({ type: 'end_room' });
  }

  // ---------- giveaways (docs/protocol.md 4.14, 4.15) ----------

  /**
   * Host only: opens a giveaway. Resolves with its card once `giveaway_started` arrives;
   * rejects with the refusal (`giveaway_running`, `room_not_live`, `forbidden`,
   * `invalid_input`), or when not connected or the connection is lost first. Refusals
   * reach `error` listeners too.
   * @param {{prize: string, entry: EntryRule, durationSecs: number}} giveaway
   *   `prize` 1–120 characters; `durationSecs` 10 to 3,600
   * @returns {Promise<GiveawayCard>}
   */
  startGiveaway({ prize, entry, durationSecs }) {
    const sent = this.send({ type: 'start_giveaway', prize, entry, duration_secs: durationSecs });
    return this.#await(sent, 'start_giveaway', (resolve, reject) => this.#startWaiters.push({ resolve, reject }));
  }

  /**
   * Enters the room's open giveaway `giveawayId` (signed-in accounts; entering again
   * changes nothing). Resolves with the `giveaway_entered` reply (`entries`: how many
   * have entered so far); rejects with the refusal (`not_eligible`: its message says
   * what would admit the account; `giveaway_closed`; `unauthenticated`), or when not
   * connected or the connection is lost first.
   * @param {number} giveawayId
   * @returns {Promise<GiveawayEnteredMessage>}
   */
  enterGiveaway(giveawayId) {
    const sent = this.send({ type: 'enter_giveaway', giveaway_id: giveawayId });
    return this.#await(sent, 'enter_giveaway', (resolve, reject) => this.#enterWaiters.push({ id: giveawayId, resolve, reject }));
  }

  // ---------- auctions, offers and waitlists (docs/protocol.md 4.20 to 4.22, 4.25, 4.26) ----------

  /**
   * Host only: auctions one unit of a lined-up product. Resolves with its card once
   * `auction_started` arrives; rejects with the refusal (`auction_running`, `sold_out`,
   * `not_in_lineup`, `room_not_live`, `forbidden`, `invalid_input`), or when not connected
   * or the connection is lost first.
   * @param {{productId: number, startingPrice: number, durationSecs: number, increments?: Step[] | null,
   *   extendSecs?: number | null, suddenDeath?: boolean}} auction
   *   `startingPrice` in minor units; `durationSecs` 10 to 3,600; `increments` null for the
   *   server's table; `extendSecs` (1 to 60, default 10) is how long a late bid extends the
   *   end, unless `suddenDeath`
   * @returns {Promise<AuctionCard>}
   */
  startAuction({ productId, startingPrice, durationSecs, increments = null, extendSecs = null, suddenDeath = false }) {
    const sent = this.send({
      type: 'start_auction',
      product_id: productId,
      starting_price: startingPrice,
      duration_secs: durationSecs,
      increments,
      extend_secs: extendSecs,
      sudden_death: suddenDeath,
    });
    return this.#await(sent, 'start_auction', (resolve, reject) => this.#auctionWaiters.push({ resolve, reject }));
  }

  /**
   * Bids `amount` (minor units, at least the card's `min_bid`) in auction `auctionId`,
   * with `max` as a proxy maximum the server bids up to for the caller. Resolves with
   * `bid_placed` (`leading`, the price, the caller's maximum; also in `room.myBid`);
   * rejects with the refusal (`bid_too_low`: its message gives the least bid;
   * `auction_closed`; `unauthenticated`; `not_eligible` for the host), or when not
   * connected or the connection is lost first.
   * @param {number} auctionId
   * @param {number} amount
   * @param {{max?: number | null}} [options]
   * @returns {Promise<BidPlacedMessage>}
   */
  bid(auctionId, amount, { max = null } = {}) {
    if (max != null && max < amount) {
      const error = new LivecartError('invalid_input', 'max_amount: at least the amount bid', { request: 'bid' });
      return Promise.reject(error);
    }
    const sent = this.send({ type: 'bid', auction_id: auctionId, amount, max_amount: max });
    return this.#await(sent, 'bid', (resolve, reject) => this.#bidWaiters.push({ resolve, reject }));
  }

  /**
   * Pays an offer made to the caller (an auction won, units a comment held, a waitlist's
   * turn): a purchase like `checkout`'s, with its own idempotency key kept across
   * retries, the same payment options (`card`, or `payment: 'saved'`; `save` and
   * `shipping`), and the same outcome (`order_confirmed`; the offer leaves `room.offers`).
   * A connection follows one purchase at a time: while one is unsettled, paying the same
   * offer continues it; anything else throws. Throws `invalid_input` at once for a
   * malformed card.
   * @param {number} offerId
   * @param {{card?: string | null, retry?: PurchaseRetry, payment?: 'card' | 'saved' | null,
   *   save?: boolean, shipping?: import('./types.js').ShippingAddress | null}} [options]
   * @returns {Purchase}
   */
  payOffer(offerId, { card = null, retry, payment = null, save = false, shipping = null } = {}) {
    checkCheckoutFields(card, null, payment, 'pay_offer');
    const current = this.purchase;
    if (current) {
      if (current.offerId !== offerId) throw new Error('another purchase is not settled yet: retry or abandon it first');
      current.retry(card ? { card } : {});
      return current;
    }
    return this.#startPurchase(new Purchase({ card, retry, payment, save, shipping, offerId, send: (message) => this.send(message) }));
  }

  /**
   * Joins the waitlist of a sold-out product of the lineup. Resolves with `waitlist` (the
   * caller's `place`, 1 is next); rejects with the refusal (`conflict`: in stock, buy it;
   * `unauthenticated`; `not_in_lineup`). When a unit comes back an `offer` arrives.
   * @param {number} productId
   * @returns {Promise<WaitlistMessage>}
   */
  joinWaitlist(productId) {
    const sent = this.send({ type: 'join_waitlist', product_id: productId });
    return this.#await(sent, 'join_waitlist', (resolve, reject) => this.#waitlistWaiters.push({ productId, resolve, reject }));
  }

  /**
   * Leaves a product's waitlist. Resolves with `waitlist` (`place` null).
   * @param {number} productId
   * @returns {Promise<WaitlistMessage>}
   */
  leaveWaitlist(productId) {
    const sent = this.send({ type: 'leave_waitlist', product_id: productId });
    return this.#await(sent, 'leave_waitlist', (resolve, reject) => this.#waitlistWaiters.push({ productId, resolve, reject }));
  }

  /**
   * A promise of a request's reply. Its rejection is also marked handled here: the
   * refusal reaches `error` listeners anyway, so a caller who only listens there does not
   * get an unhandled rejection.
   * @template T
   * @param {boolean} sent
   * @param {import('./types.js').ClientMessageType} request
   * @param {(resolve: (value: T) => void, reject: (e: Error) => void) => void} wait
   * @returns {Promise<T>}
   */
  #await(sent, request, wait) {
    const promise = sent
      ? new Promise(wait)
      : Promise.reject(new LivecartError('not_connected', 'not connected right now', { request }));
    promise.catch(() => {});
    return /** @type {Promise<T>} */ (promise);
  }

  // ---------- products, cart and checkout ----------

  /**
   * Asks for a lined-up product's full card (counts as a product view: send it when a
   * person opens the card). Resolves with the product; rejects on an error answer or when
   * the connection is lost first.
   * @param {number} productId
   * @returns {Promise<Product>}
   */
  viewProduct(productId) {
    if (!this.send({ type: 'view_product', product_id: productId })) {
      return Promise.reject(new LivecartError('not_connected', 'not connected right now', { request: 'view_product' }));
    }
    return new Promise((resolve, reject) => this.#productWaiters.push({ productId, resolve, reject }));
  }

  /**
   * @param {number} productId
   * @param {number} [quantity] 1–99 (default 1)
   */
  cartAdd(productId, quantity = 1) {
    return this.send({ type: 'cart_add', product_id: productId, quantity });
  }

  /**
   * @param {number} productId
   * @param {number} quantity 1–99
   */
  cartSet(productId, quantity) {
    return this.send({ type: 'cart_set', product_id: productId, quantity });
  }

  /** @param {number} productId */
  cartRemove(productId) {
    return this.send({ type: 'cart_remove', product_id: productId });
  }

  /**
   * Buys the cart. Starts a purchase with a new idempotency key, or, while one is not
   * settled yet (after `payment_unavailable`, say), continues that one with the same key
   * and the card given. Error answers carry no key, so a connection follows one purchase
   * at a time. Throws `invalid_input` (a LivecartError) at once for a malformed card or
   * promo code.
   * With one-tap buy (servers with `GET /api/me/wallet`): `payment: 'saved'` pays with the
   * account's saved method and needs no `card`; `save: true` keeps the card and
   * `shipping` on the account once the order is paid.
   * @param {{card?: string | null, promoCode?: string | null, retry?: PurchaseRetry, payment?: 'card' | 'saved' | null,
   *   save?: boolean, shipping?: import('./types.js').ShippingAddress | null}} options
   * @returns {Purchase}
   */
  checkout({ card = null, promoCode = null, retry, payment = null, save = false, shipping = null }) {
    // Checked before sending: the server checks these while decoding, and such an error
    // names no request, so it could not be told apart from any other.
    checkCheckoutFields(card, promoCode, payment);
    const current = this.purchase;
    if (current) {
      if ((current.promoCode ?? null) !== (promoCode || null)) {
        throw new Error('a purchase with another promo code is not settled yet: retry or abandon it first');
      }
      current.retry(card ? { card } : {});
      return current;
    }
    return this.#startPurchase(new Purchase({ card, promoCode, retry, payment, save, shipping, send: (message) => this.send(message) }));
  }

  /**
   * @param {Purchase} purchase
   * @returns {Purchase}
   */
  #startPurchase(purchase) {
    this.#purchase = purchase;
    // The first attempt goes out once the caller has attached its listeners.
    queueMicrotask(() => purchase.start());
    return purchase;
  }

  // ---------- internals ----------

  #joinMessage() {
    /** @type {import('./types.js').JoinMessage} */
    const join = { type: 'join', room_id: this.roomId };
    if (this.token) join.token = this.token;
    else join.guest_name = this.guestName;
    if (this.#lastSeq != null && this.#epoch != null) {
      join.since = this.#lastSeq;
      join.epoch = this.#epoch;
    }
    return join;
  }

  /** @returns {Promise<Snapshot | Resumed>} */
  #nextJoin() {
    const promise = new Promise((resolve, reject) => this.#joinWaiters.push({ resolve, reject }));
    promise.catch(() => {});
    return /** @type {Promise<Snapshot | Resumed>} */ (promise);
  }

  /** @param {Snapshot | Resumed | Error} outcome */
  #settleJoin(outcome) {
    const waiters = this.#joinWaiters.splice(0);
    for (const waiter of waiters) {
      if (outcome instanceof Error) waiter.reject(outcome);
      else waiter.resolve(outcome);
    }
  }

  #syncState() {
    const link = this.link.state;
    /** @type {RoomConnectionState} */
    const state = link === 'joined' && this.#replayTo != null ? 'replaying' : link;
    if (state === this.#state) return;
    this.#state = state;
    this.emit('state', state);
  }

  #lost() {
    this.#replayTo = null;
    this.#purchase?.disconnected();
    for (const waiter of this.#productWaiters.splice(0)) {
      waiter.reject(new LivecartError('not_connected', 'the connection was lost', { request: 'view_product' }));
    }
    for (const waiter of this.#startWaiters.splice(0)) {
      waiter.reject(new LivecartError('not_connected', 'the connection was lost', { request: 'start_giveaway' }));
    }
    for (const waiter of this.#enterWaiters.splice(0)) {
      waiter.reject(new LivecartError('not_connected', 'the connection was lost', { request: 'enter_giveaway' }));
    }
    for (const waiter of this.#auctionWaiters.splice(0)) {
      waiter.reject(new LivecartError('not_connected', 'the connection was lost', { request: 'start_auction' }));
    }
    for (const waiter of this.#bidWaiters.splice(0)) {
      waiter.reject(new LivecartError('not_connected', 'the connection was lost', { request: 'bid' }));
    }
    for (const waiter of this.#waitlistWaiters.splice(0)) {
      waiter.reject(new LivecartError('not_connected', 'the connection was lost', { request: 'join_waitlist' }));
    }
  }

  /** @param {ServerMessage} message */
  #handle(message) {
    this.emit('message', message);
    switch (message?.type) {
      case 'snapshot':
        return this.#onSnapshot(message);
      case 'resumed':
        return this.#onResumed(message);
      case 'event':
        return this.#onEvent(message.seq, message.event);
      case 'error':
        return this.#onError(message);
      case 'viewers':
        this.room.applyMessage(message);
        return this.emit('viewers', message.count);
      case 'reactions':
        this.room.applyMessage(message);
        return this.emit('reactions', message.counts);
      case 'cart':
        this.room.applyMessage(message);
        return this.emit('cart', message.cart);
      case 'product': {
        this.room.applyMessage(message);
        const index = this.#productWaiters.findIndex((w) => w.productId === message.product.id);
        if (index >= 0) this.#productWaiters.splice(index, 1)[0].resolve(message.product);
        return this.emit('product', message.product);
      }
      case 'giveaway_entered': {
        this.room.applyMessage(message);
        const index = this.#enterWaiters.findIndex((w) => w.id === message.giveaway_id);
        if (index >= 0) this.#enterWaiters.splice(index, 1)[0].resolve(message);
        return this.emit('giveaway_entered', message);
      }
      case 'order_confirmed': {
        const purchase = this.#purchase?.key === message.order.idempotency_key ? this.#purchase : null;
        // An offer's payment leaves the cart as it was.
        if (purchase?.offerId != null) this.room.offerPaid(purchase.offerId);
        else this.room.applyMessage(message);
        purchase?.confirmed(message.order);
        return this.emit('order_confirmed', message.order);
      }
      case 'bid_placed':
        this.room.applyMessage(message);
        this.#bidWaiters.shift()?.resolve(message);
        return this.emit('bid_placed', message);
      case 'offer':
        this.#offersWhileLoading?.push(message);
        this.room.applyMessage(message);
        return this.emit('offer', message.offer);
      case 'waitlist': {
        this.room.applyMessage(message);
        const index = this.#waitlistWaiters.findIndex((w) => w.productId === message.product_id);
        if (index >= 0) this.#waitlistWaiters.splice(index, 1)[0].resolve(message);
        return this.emit('waitlist', message);
      }
      case 'comment_purchase':
        this.#offersWhileLoading?.push(message);
        this.room.applyMessage(message);
        return this.emit('comment_purchase', message);
      case 'going_live':
        return this.emit('going_live', message.room);
      case 'held_for_review':
        return this.emit('held_for_review', message.text);
      case 'comment_held':
      case 'comment_reviewed':
        // Notices reach every connection of the account: keep this room's.
        if (message.room_id !== this.roomId) return undefined;
        if (this.#heldWhileLoading) this.#heldWhileLoading.push(message);
        return this.#onHeld(message);
      default:
        return undefined; // a frame newer than this library
    }
  }

  /** @param {Snapshot} snapshot */
  #onSnapshot(snapshot) {
    const answersJoin = this.link.state !== 'joined'; // else a resync on a joined connection
    this.#epoch = snapshot.epoch;
    this.#lastSeq = snapshot.seq;
    this.#replayTo = null;
    this.lastJoinReply = 'snapshot';
    this.room.applySnapshot(snapshot);
    if (answersJoin) this.link.joined();
    this.#syncState();
    this.emit('snapshot', snapshot);
    if (answersJoin) this.#afterJoin(snapshot);
  }

  /** @param {Resumed} resumed */
  #onResumed(resumed) {
    if (resumed.epoch !== this.#epoch || resumed.since !== this.#lastSeq) {
      // Not the resume asked for: start afresh rather than trust a mismatched history.
      this.#epoch = null;
      this.#lastSeq = null;
      this.link.restart('resumed does not match since/epoch');
      return;
    }
    this.lastJoinReply = 'resumed';
    this.#replayTo = resumed.seq > resumed.since ? resumed.seq : null;
    this.link.joined();
    this.#syncState();
    this.emit('resumed', resumed);
    if (this.#replayTo == null) this.emit('caught_up', { seq: resumed.seq });
    this.#afterJoin(resumed);
  }

  /** @param {Snapshot | Resumed} reply */
  #afterJoin(reply) {
    this.#lastReply = reply;
    this.#settleJoin(reply);
    this.#purchase?.connected();
    if (this.api && this.room.canModerate) this.#loadHeld();
    if (this.api && this.room.you?.account_id != null) this.#loadOffers();
  }

  /**
   * Reads the caller's open offers (an `offer` frame sent while this connection was away
   * is not replayed); frames that come meanwhile are kept.
   */
  async #loadOffers() {
    const api = this.api;
    if (!api || this.#offersWhileLoading) return;
    this.#offersWhileLoading = [];
    try {
      const list = await api.offers();
      this.room.setOffers(list);
      for (const message of this.#offersWhileLoading) this.room.applyMessage(message);
      this.emit('offers', this.room.openOffers());
    } catch (error) {
      this.emit('error', error instanceof LivecartError ? error : new LivecartError('internal', String(error)));
    } finally {
      this.#offersWhileLoading = null;
    }
  }

  /** @param {import('./types.js').CommentHeldMessage | import('./types.js').CommentReviewedMessage} message */
  #onHeld(message) {
    this.room.applyMessage(message);
    if (message.type === 'comment_held') {
      const { type: _type, ...held } = message;
      this.emit('comment_held', held);
    } else {
      this.emit('comment_reviewed', { id: message.id, approved: message.approved });
    }
  }

  /**
   * Reads the review queue (frames missed while disconnected are not replayed), then
   * applies the frames that came while it was being read.
   */
  async #loadHeld() {
    const api = this.api;
    if (!api || this.#heldWhileLoading) return;
    this.#heldWhileLoading = [];
    try {
      const list = await api.heldComments(this.roomId);
      this.room.setHeld(list);
      for (const message of this.#heldWhileLoading) {
        if (message.type === 'comment_held' || message.type === 'comment_reviewed') this.room.applyMessage(message);
      }
      this.emit('held', [...this.room.held.values()]);
    } catch (error) {
      this.emit('error', error instanceof LivecartError ? error : new LivecartError('internal', String(error)));
    } finally {
      this.#heldWhileLoading = null;
    }
  }

  /**
   * @param {number} seq
   * @param {RoomEvent} event
   */
  #onEvent(seq, event) {
    if (this.#lastSeq == null) {
      this.#gap(1, seq);
      return;
    }
    if (seq <= this.#lastSeq) return; // already applied
    if (seq !== this.#lastSeq + 1) {
      if (this.#gap(this.#lastSeq + 1, seq)) return;
    }
    this.#lastSeq = seq;
    const replay = this.#replayTo != null && seq <= this.#replayTo;
    this.room.applyEvent(event, seq);
    const meta = { seq, replay };
    this.emit('event', event, meta);
    if (event.kind === 'giveaway_started' && !replay) this.#startWaiters.shift()?.resolve(event.giveaway);
    if (event.kind === 'auction_started' && !replay) this.#auctionWaiters.shift()?.resolve(event.auction);
    /** @type {any} */ (this).emit(event.kind, event, meta);
    if (this.#replayTo != null && seq >= this.#replayTo) {
      this.#replayTo = null;
      this.#syncState();
      this.emit('caught_up', { seq });
    }
  }

  /**
   * Reports a gap; true when the connection resyncs (the event is not applied).
   * @param {number} expected
   * @param {number} received
   */
  #gap(expected, received) {
    this.gaps += 1;
    const action = this.onGap === 'report' && this.#lastSeq != null ? 'report' : 'resync';
    this.emit('gap', { expected, received, action });
    if (action === 'report') return false;
    this.link.restart('sequence gap: resuming');
    return true;
  }

  /** @param {import('./types.js').ErrorMessage} frame */
  #onError(frame) {
    const error = new LivecartError(frame.code, frame.message, { request: frame.request });
    if (this.link.state !== 'joined') {
      // Only `join` was sent: this refuses it (with no `request` when it failed decoding,
      // e.g. a guest name out of its limits).
      this.emit('error', error);
      this.link.refused(error, RETRY_JOIN.has(frame.code));
      if (frame.code === 'banned') {
        this.emit('removed', { scope: /creator/.test(frame.message) ? 'creator' : 'room', reason: frame.message, code: null });
      }
      return;
    }
    if (frame.request === 'checkout' || frame.request === 'pay_offer') {
      if (this.#purchase?.request === frame.request) this.#purchase.refused(error);
    }
    if (frame.request === 'view_product') this.#productWaiters.shift()?.reject(error);
    if (frame.request === 'start_giveaway') this.#startWaiters.shift()?.reject(error);
    if (frame.request === 'enter_giveaway') this.#enterWaiters.shift()?.reject(error);
    if (frame.request === 'start_auction') this.#auctionWaiters.shift()?.reject(error);
    if (frame.request === 'bid') this.#bidWaiters.shift()?.reject(error);
    if (frame.request === 'join_waitlist' || frame.request === 'leave_waitlist') this.#waitlistWaiters.shift()?.reject(error);
    this.emit('error', error);
  }
}
