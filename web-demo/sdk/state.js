// What a client knows about a room, folded from the snapshot and the frames after it by
// the rules of docs/protocol.md section 5. A RoomConnection keeps one up to date before
// its listeners run, so a listener can draw from it; apps that keep their own state can
// ignore it.

/** @typedef {import('./types.js').RoomCard} RoomCard */
/** @typedef {import('./types.js').ProductCard} ProductCard */
/** @typedef {import('./types.js').Product} Product */
/** @typedef {import('./types.js').DropCard} DropCard */
/** @typedef {import('./types.js').GiveawayCard} GiveawayCard */
/** @typedef {import('./types.js').GiveawayDrawnEvent} GiveawayDrawnEvent */
/** @typedef {import('./types.js').SequencedComment} SequencedComment */
/** @typedef {import('./types.js').HeldComment} HeldComment */
/** @typedef {import('./types.js').CartView} CartView */
/** @typedef {import('./types.js').Participant} Participant */
/** @typedef {import('./types.js').Reaction} Reaction */
/** @typedef {import('./types.js').Snapshot} Snapshot */
/** @typedef {import('./types.js').RoomEvent} RoomEvent */
/** @typedef {import('./types.js').SaleEvent} SaleEvent */
/** @typedef {import('./types.js').RecentSale} RecentSale */
/** @typedef {import('./types.js').ServerMessage} ServerMessage */
/** @typedef {import('./types.js').AuctionCard} AuctionCard */
/** @typedef {import('./types.js').AuctionSettledEvent} AuctionSettledEvent */
/** @typedef {import('./types.js').AuctionEndedEvent} AuctionEndedEvent */
/** @typedef {import('./types.js').BidPlacedMessage} BidPlacedMessage */
/** @typedef {import('./types.js').KeywordCard} KeywordCard */
/** @typedef {import('./types.js').OfferView} OfferView */
/** @typedef {import('./types.js').CommentPurchaseMessage} CommentPurchaseMessage */

/** @type {readonly Reaction[]} */
export const REACTIONS = Object.freeze(['heart', 'fire', 'clap', 'laugh', 'wow']);

/**
 * A sale of the show: one from the snapshot's `recent_sales`, or a `sale` event seen since
 * (those also carry their `seq` and the stock figures).
 * @typedef {RecentSale & {seq?: number, stock_left?: number, drop_left?: number}} ShowSale
 */

/**
 * A giveaway's draw as this client saw it: the `giveaway_drawn` event's fields, the card
 * of the giveaway it closed when this client knew it (null when the giveaway opened and
 * was drawn while it was away: `api.giveaway(id)` has it) and the event's seq.
 * @typedef {Omit<GiveawayDrawnEvent, 'kind'> & {giveaway: GiveawayCard | null, seq: number}} GiveawayDraw
 */

/**
 * An auction's outcome as this client saw it: the `auction_settled` event's fields, the
 * auctioned product's id and title when this client knew the auction, and the event's seq.
 * @typedef {Omit<AuctionSettledEvent, 'kind'> & {product_id: number | null, title: string | null, seq: number}} AuctionOutcomeSeen
 */

/**
 * The caller's own standing in an auction: their last `bid_placed` (their maximum, which
 * only they are told), with `leading` kept true or false by the `auction_bid` events since.
 * @typedef {Omit<BidPlacedMessage, 'type'>} MyBid
 */

export class RoomState {
  /** The room card (title, status, host, co-host, disclosure); null before the first snapshot. @type {RoomCard | null} */
  card = null;
  /** The lineup by product id, in lineup order. @type {Map<number, ProductCard & {description?: string}>} */
  lineup = new Map();
  /** @type {number | null} */
  pinned = null;
  /** @type {DropCard | null} */
  drop = null;
  /** The open giveaway (entries not closed yet); null when none is open. @type {GiveawayCard | null} */
  giveaway = null;
  /**
   * The last giveaway draw seen since this client joined (kept across reset snapshots: a
   * draw does not change afterwards). @type {GiveawayDraw | null}
   */
  lastDraw = null;
  /**
   * The giveaway this account last entered, and the entries it was told of then
   * (`giveaway_entered`): compare `id` with `giveaway.id` or `lastDraw.giveaway_id`.
   * @type {{id: number, entries: number} | null}
   */
  entered = null;
  /**
   * The running auction (docs/protocol.md 4.20), as the snapshot gives it and the auction
   * events change it: `phase` `open` while it takes bids, `awarded` once its unit is
   * offered (`offer`); null when none runs or once it is settled. @type {AuctionCard | null}
   */
  auction = null;
  /**
   * The running auction's `auction_ended` when it came (winner and price, or nulls): no
   * bid is taken any more. Null while bidding goes on. @type {Omit<AuctionEndedEvent, 'kind'> | null}
   */
  auctionEnded = null;
  /** The last auction settled since this client joined (kept across reset snapshots). @type {AuctionOutcomeSeen | null} */
  lastAuction = null;
  /** The caller's standing in the running auction; null before their first bid in it. @type {MyBid | null} */
  myBid = null;
  /** The lineup's comment-to-buy keywords (4.3, 9.11), upper case. @type {KeywordCard[]} */
  keywords = [];
  /**
   * The caller's open offers by id (units held for them: an auction won, a comment that
   * bought, a waitlist's turn; 5.16), from `offer` and `comment_purchase` frames and
   * `GET /api/me/offers` (`setOffers`); an offer leaves once paid here. Use `openOffers()`
   * for those not run out. @type {Map<number, OfferView>}
   */
  offers = new Map();
  /** The caller's place on each product's waitlist (1 is next), by product id (4.25, 5.18). @type {Map<number, number>} */
  waitlists = new Map();
  /** The answer to the caller's last comment that asked to buy (5.19). @type {Omit<CommentPurchaseMessage, 'type'> | null} */
  lastCommentPurchase = null;
  /** Comments seen, oldest first (the snapshot's, then each `comment` event). @type {SequencedComment[]} */
  comments = [];
  viewers = 0;
  /**
   * The show's reactions: the snapshot's totals (as of the server's latest tick) plus every
   * tick's counts since. @type {Record<Reaction, number>}
   */
  reactions = { heart: 0, fire: 0, clap: 0, laugh: 0, wow: 0 };
  /**
   * Units sold in this show: the snapshot's `units_sold` plus every `sale` since; null
   * only from a server older than these fields. @type {number | null}
   */
  unitsSold = null;
  /** Units sold in the `sale` events this client has seen since it joined. */
  unitsSeen = 0;
  streaming = false;
  /** Slow mode: each viewer may comment once per this many seconds; 0 when off (4.19). */
  slowModeSecs = 0;
  /**
   * Authors timed out since this client joined, by `author_key`: until when (Unix ms).
   * Compare with `you` to know whether the caller is timed out. @type {Map<string, number>}
   */
  timeouts = new Map();
  /** Authors banned since this client joined, by `author_key` (a client may hide their comments). @type {Set<string>} */
  banned = new Set();
  /**
   * The comments held for review in this room, by id, oldest first: for the host and
   * moderators (docs/protocol.md 5.17). Loaded over REST on joining (`setHeld`), then kept
   * by `comment_held` and `comment_reviewed`; emptied when the room ends.
   * @type {Map<number, HeldComment>}
   */
  held = new Map();
  /** The caller's cart; null for guests. @type {CartView | null} */
  cart = null;
  /** Who this connection joined as; `you.is_moderator` (with `is_host`) may moderate. @type {Participant | null} */
  you = null;
  /** The show's latest sales, newest first: the snapshot's, then each `sale`. @type {ShowSale[]} */
  recentSales = [];

  /** @param {{maxComments?: number, maxSales?: number}} [limits] */
  constructor({ maxComments = 100, maxSales = 20 } = {}) {
    this.maxComments = maxComments;
    this.maxSales = maxSales;
  }

  /**
   * Replaces the review queue with `list` (GET /api/rooms/{id}/held-comments).
   * @param {HeldComment[]} list
   */
  setHeld(list) {
    this.held = new Map(list.map((c) => [c.id, { ...c }]));
  }

  /**
   * Replaces the open offers with `list` (GET /api/me/offers).
   * @param {OfferView[]} list
   */
  setOffers(list) {
    this.offers = new Map(list.map((o) => [o.id, { ...o }]));
  }

  /**
   * An offer was paid (its `order_confirmed` came): it is no longer open.
   * @param {number} offerId
   */
  offerPaid(offerId) {
    this.offers.delete(offerId);
  }

  /**
   * The open offers at `now`, soonest to run out first.
   * @param {number} [now]
   */
  openOffers(now = Date.now()) {
    return [...this.offers.values()].filter((o) => o.expires_at > now).sort((a, b) => a.expires_at - b.expires_at);
  }

  /**
   * The comment-to-buy keyword of a product, or null.
   * @param {number} productId
   */
  keywordOf(productId) {
    return this.keywords.find((k) => k.product_id === productId)?.keyword ?? null;
  }

  /**
   * True once the running auction takes no more bids: `auction_ended` came, its unit is
   * offered, or its `ends_at` passed (the event may be a tick late).
   * @param {number} [now]
   */
  biddingOver(now = Date.now()) {
    const a = this.auction;
    if (!a) return true;
    return a.phase !== 'open' || this.auctionEnded?.auction_id === a.id || a.ends_at <= now;
  }

  /** True when this connection may delete comments, time out, ban, set slow mode and review held comments. */
  get canModerate() {
    return Boolean(this.you && (this.you.is_host || this.you.is_moderator));
  }

  get status() {
    return this.card?.status ?? null;
  }

  /** The pinned product's card, or null. */
  get pinnedProduct() {
    return this.pinned == null ? null : (this.lineup.get(this.pinned) ?? null);
  }

  /**
   * The drop running on `productId` at `now`, or null (a drop ends at `ends_at`, even if
   * its `drop_ended` is a tick late).
   * @param {number} productId
   * @param {number} [now]
   */
  runningDrop(productId, now = Date.now()) {
    const drop = this.drop;
    return drop && drop.product_id === productId && drop.ends_at > now ? drop : null;
  }

  /**
   * Starts again from a snapshot: after `reset: true` nothing known before still holds.
   * @param {Snapshot} snapshot
   */
  applySnapshot(snapshot) {
    this.card = { ...snapshot.room };
    this.lineup = new Map(snapshot.lineup.map((p) => [p.id, { ...p }]));
    this.pinned = snapshot.pinned;
    this.drop = snapshot.drop ? { ...snapshot.drop } : null;
    // (Left out by servers from before giveaways.)
    this.giveaway = snapshot.giveaway ? { ...snapshot.giveaway } : null;
    // (Left out by servers from before auctions and comment-to-buy.)
    const auction = snapshot.auction ?? null;
    if (auction?.id !== this.auction?.id) this.auctionEnded = null;
    if (auction?.id !== this.myBid?.auction_id) this.myBid = null;
    this.auction = auction ? { ...auction } : null;
    if (this.myBid && auction) this.myBid.leading = auction.leader?.account_id === snapshot.you.account_id;
    this.keywords = (snapshot.keywords ?? []).map((k) => ({ ...k }));
    this.comments = snapshot.comments.slice(-this.maxComments);
    this.viewers = snapshot.viewers;
    this.streaming = snapshot.streaming;
    // (Left out by servers from before moderation.)
    this.slowModeSecs = snapshot.slow_mode_secs ?? 0;
    this.cart = snapshot.cart;
    this.you = snapshot.you;
    // The show so far, so a late joiner sees what sold and how the room reacted. (Servers
    // from before these fields leave them out: then they start empty, and unitsSold null.)
    this.recentSales = (snapshot.recent_sales ?? []).slice(0, this.maxSales).map((sale) => ({ ...sale }));
    this.unitsSold = snapshot.units_sold ?? null;
    this.unitsSeen = 0;
    const totals = snapshot.reaction_totals ?? {};
    this.reactions = { heart: 0, fire: 0, clap: 0, laugh: 0, wow: 0 };
    for (const name of REACTIONS) this.reactions[name] = totals[name] ?? 0;
  }

  /**
   * @param {RoomEvent} event
   * @param {number} seq
   */
  applyEvent(event, seq) {
    switch (event.kind) {
      case 'comment': {
        const { kind: _kind, ...comment } = event;
        this.comments.push({ ...comment, seq });
        if (this.comments.length > this.maxComments) this.comments.splice(0, this.comments.length - this.maxComments);
        break;
      }
      case 'comment_deleted':
        this.comments = this.comments.filter((comment) => comment.seq !== event.seq);
        break;
      case 'timed_out':
        this.timeouts.set(event.author_key, event.until);
        break;
      case 'banned':
        this.banned.add(event.author_key);
        break;
      case 'slow_mode':
        this.slowModeSecs = event.secs;
        break;
      case 'pinned':
        this.lineup.set(event.product.id, { ...this.lineup.get(event.product.id), ...event.product });
        this.pinned = event.product.id;
        break;
      case 'unpinned':
        if (this.pinned === event.product_id) this.pinned = null;
        break;
      case 'product_updated':
        this.lineup.set(event.product.id, { ...this.lineup.get(event.product.id), ...event.product });
        break;
      case 'drop_started':
        this.drop = { ...event.drop };
        break;
      case 'drop_ended':
        if (this.drop?.id === event.drop_id) this.drop = null;
        break;
      case 'giveaway_started':
        this.giveaway = { ...event.giveaway };
        break;
      case 'giveaway_drawn': {
        const { kind: _kind, ...draw } = event;
        const card = this.giveaway?.id === event.giveaway_id ? this.giveaway : null;
        this.lastDraw = { ...draw, giveaway: card, seq };
        if (card) this.giveaway = null;
        break;
      }
      case 'auction_started':
        this.auction = { ...event.auction };
        this.auctionEnded = null;
        this.myBid = null;
        break;
      case 'auction_bid': {
        const a = this.auction;
        if (a?.id !== event.auction_id) break;
        Object.assign(a, { price: event.price, leader: event.leader, bids: event.bids, ends_at: event.ends_at, min_bid: event.min_bid });
        // Outbid (or back in the lead through a proxy maximum): the leader says which.
        if (this.myBid?.auction_id === a.id && this.you?.account_id != null) {
          this.myBid.leading = event.leader.account_id === this.you.account_id;
          this.myBid.price = event.price;
        }
        break;
      }
      case 'auction_ended': {
        if (this.auction?.id !== event.auction_id) break;
        const { kind: _kind, ...ended } = event;
        this.auctionEnded = ended;
        if (event.price) this.auction.price = event.price;
        if (event.winner) this.auction.leader = event.winner;
        break;
      }
      case 'auction_offered': {
        const a = this.auction;
        if (a?.id !== event.auction_id) break;
        a.phase = 'awarded';
        a.offer = { buyer: event.buyer, price: event.price, pay_by: event.pay_by, round: event.round };
        break;
      }
      case 'auction_settled': {
        const { kind: _kind, ...settled } = event;
        const card = this.auction?.id === event.auction_id ? this.auction : null;
        this.lastAuction = { ...settled, product_id: card?.product_id ?? null, title: card?.title ?? null, seq };
        if (card) {
          this.auction = null;
          this.auctionEnded = null;
          this.myBid = null;
        }
        break;
      }
      case 'keywords_updated':
        this.keywords = event.keywords.map((k) => ({ ...k }));
        break;
      case 'sale': {
        // Sales can arrive out of reservation order: keep the lowest figure seen.
        const product = this.lineup.get(event.product_id);
        if (product) product.stock = Math.min(product.stock, event.stock_left);
        if (event.drop_left != null && this.drop?.product_id === event.product_id) {
          this.drop.remaining = Math.min(this.drop.remaining, event.drop_left);
          // A drop ends when it sells out (docs/protocol.md 4.7): the catalogue price and
          // the product's stock again, without waiting for `drop_ended`.
          if (this.drop.remaining <= 0) this.drop = null;
        }
        if (this.unitsSold != null) this.unitsSold += event.quantity;
        this.unitsSeen += event.quantity;
        const { kind: _kind, ...sale } = event;
        this.recentSales.unshift({ ...sale, seq });
        if (this.recentSales.length > this.maxSales) this.recentSales.length = this.maxSales;
        break;
      }
      case 'room_live':
        if (this.card) this.card.status = 'live';
        break;
      case 'room_ended':
        if (this.card) this.card.status = 'ended';
        this.held.clear();
        this.pinned = null;
        this.drop = null;
        this.streaming = false;
        break;
      case 'stream_started':
        this.streaming = true;
        break;
      case 'stream_stopped':
        this.streaming = false;
        break;
      case 'room_updated':
        if (this.card) Object.assign(this.card, { co_host: event.co_host, disclosure: event.disclosure });
        break;
      default:
        break; // a kind newer than this library: nothing to fold
    }
  }

  /**
   * Folds an unsequenced frame (ticks and private replies).
   * @param {ServerMessage} message
   */
  applyMessage(message) {
    switch (message.type) {
      case 'viewers':
        this.viewers = message.count;
        break;
      case 'reactions':
        for (const [name, count] of Object.entries(message.counts)) {
          const reaction = /** @type {Reaction} */ (name);
          this.reactions[reaction] = (this.reactions[reaction] ?? 0) + (count ?? 0);
        }
        break;
      case 'cart':
        this.cart = message.cart;
        break;
      case 'order_confirmed':
        // A paid checkout empties the buyer's cart in the room; no `cart` frame says so.
        if (this.cart) this.cart = { lines: [], total: null };
        break;
      case 'giveaway_entered':
        this.entered = { id: message.giveaway_id, entries: message.entries };
        break;
      case 'comment_held': {
        const { type: _type, ...held } = message;
        this.held.set(held.id, held);
        break;
      }
      case 'comment_reviewed':
        this.held.delete(message.id);
        break;
      case 'bid_placed': {
        const { type: _type, ...bid } = message;
        if (this.auction?.id === bid.auction_id) this.myBid = bid;
        break;
      }
      case 'offer':
        this.offers.set(message.offer.id, { ...message.offer });
        // An entry offered a unit leaves the waitlist (4.25).
        if (message.offer.room_id === this.card?.id) this.waitlists.delete(message.offer.product_id);
        break;
      case 'comment_purchase': {
        const { type: _type, ...answer } = message;
        this.lastCommentPurchase = answer;
        if (answer.offer) this.offers.set(answer.offer.id, { ...answer.offer });
        break;
      }
      case 'waitlist':
        if (message.place == null) this.waitlists.delete(message.product_id);
        else this.waitlists.set(message.product_id, message.place);
        break;
      case 'product':
        if (this.lineup.has(message.product.id)) this.lineup.set(message.product.id, { ...message.product });
        break;
      default:
        break;
    }
  }
}
