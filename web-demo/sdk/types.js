// Types of every message of the livecart WebSocket protocol (docs/protocol.md, sections 4–7),
// as JSDoc typedefs. They mirror the Rust wire types in src/wire/ws.rs, which the server's
// AsyncAPI document (/api/asyncapi.json) is generated from; tests/sdk/types.test.mjs checks
// the two agree. This module has no code: import the types with
//   /** @typedef {import('./sdk/types.js').Snapshot} Snapshot */

// ---------- values ----------

/**
 * Money: an integer amount in minor units of an ISO 4217 currency ({amount: 2900,
 * currency: 'EUR'} is €29.00). Never a float.
 * @typedef {object} Money
 * @property {number} amount
 * @property {string} currency
 */

/** @typedef {'scheduled' | 'live' | 'ended'} RoomStatus */
/** @typedef {'nano' | 'micro' | 'mid' | 'macro' | 'mega'} Tier */
/** @typedef {'viewer' | 'creator' | 'brand' | 'admin'} Role */
/** @typedef {'heart' | 'fire' | 'clap' | 'laugh' | 'wow'} Reaction */
/** @typedef {'host' | 'viewer' | 'guest'} Speaker */
/**
 * Where a ban holds: this room, or every room of its host (docs/protocol.md 4.18).
 * @typedef {'room' | 'creator'} BanScope
 */
/** @typedef {'placed' | 'paid' | 'cancelled' | 'refunded'} OrderStatus */
/**
 * Who may enter a giveaway: any account but the host, the host's followers, or accounts
 * with a paid order in this room (docs/protocol.md 4.14).
 * @typedef {'signed_in' | 'followers' | 'buyers'} EntryRule
 */

/**
 * @typedef {object} HostCard
 * @property {number} id
 * @property {string} display_name
 * @property {number} followers
 * @property {Tier} tier
 */

/**
 * @typedef {object} CoHostCard
 * @property {number} id
 * @property {string} display_name
 */

/**
 * @typedef {object} RoomCard
 * @property {number} id
 * @property {string} title
 * @property {RoomStatus} status
 * @property {number} starts_at Unix milliseconds.
 * @property {HostCard} host
 * @property {CoHostCard | null} co_host
 * @property {string | null} disclosure Show it as a visible banner while it is not null.
 * @property {number | null} [rehearsal_of] In a private rehearsal, the scheduled room it
 *   rehearses (only test cards pay, nothing sold is real; docs/protocol.md 9.10).
 */

/**
 * A product as rooms show it. `stock` is what can be bought now (stock less live holds).
 * @typedef {object} ProductCard
 * @property {number} id
 * @property {number} brand_id
 * @property {string} title
 * @property {string} image_url An `https:` URL or a path on the server; empty when none.
 * @property {Money} price
 * @property {number} stock
 */

/**
 * A product with its description (the private `product` reply to `view_product`).
 * @typedef {ProductCard & {description: string, on_hand: number}} Product
 */

/**
 * @typedef {object} DropCard
 * @property {number} id
 * @property {number} product_id
 * @property {number} quantity
 * @property {number} remaining
 * @property {Money} price
 * @property {number} ends_at Unix milliseconds.
 * @property {number | null} per_buyer Units one buyer may have of the drop (null: no limit).
 */

/**
 * An open giveaway (docs/protocol.md 4.14). `commitment` is the lower-case hex SHA-256 of
 * the secret seed the draw will use, published before any entry.
 * @typedef {object} GiveawayCard
 * @property {number} id
 * @property {string} prize
 * @property {EntryRule} entry
 * @property {string} commitment
 * @property {number} closes_at Unix milliseconds: entries close then.
 */

/**
 * @typedef {object} AccountName
 * @property {number} account_id
 * @property {string} display_name
 */

/** @typedef {{from: number, step: number}} Step From price `from` on, a bid must beat the price by `step`. */
/** @typedef {'open' | 'awarded'} AuctionPhase */
/** @typedef {'sold' | 'unsold'} AuctionOutcome */

/**
 * A running auction (docs/protocol.md 4.20): `open` while it takes bids until `ends_at`
 * (late bids move it), `awarded` once bidding is over and its unit is offered (`offer`).
 * @typedef {object} AuctionCard
 * @property {number} id
 * @property {number} product_id
 * @property {string} title
 * @property {AuctionPhase} phase
 * @property {Money} starting_price
 * @property {Step[]} increments
 * @property {number} extend_secs Seconds a late bid extends the end by; 0 in sudden death.
 * @property {boolean} sudden_death
 * @property {number} ends_at Unix milliseconds, by the room clock.
 * @property {number} bids
 * @property {Money | null} price null before the first bid.
 * @property {AccountName | null} leader
 * @property {Money} min_bid The least a bid may be now.
 * @property {AuctionOfferCard | null} offer
 */

/**
 * @typedef {object} AuctionOfferCard
 * @property {AccountName} buyer
 * @property {Money} price
 * @property {number} pay_by Unix milliseconds.
 * @property {number} round 1 for the winner, then one more for each bidder passed over.
 */

/**
 * A lined-up product's comment-to-buy keyword (upper case): a comment `BUY <keyword>` buys it.
 * @typedef {{product_id: number, keyword: string}} KeywordCard
 */

/**
 * A unit held for the account at `price` until `expires_at` (4.22, 5.16): pay it with
 * `pay_offer`.
 * @typedef {object} OfferView
 * @property {number} id
 * @property {number} room_id
 * @property {number} product_id
 * @property {string} title
 * @property {number} quantity
 * @property {Money} price Per unit.
 * @property {number} expires_at Unix milliseconds.
 */

/**
 * A giveaway's record, GET /api/giveaways/{id} (docs/protocol.md 9.7): once drawn, with
 * the revealed `seed` (hex), the `entries` the draw was made from (account ids,
 * ascending), the `winner` and `drawn_at`; while open those four are null.
 * @typedef {object} GiveawayView
 * @property {number} id
 * @property {number} room_id
 * @property {string} prize
 * @property {EntryRule} entry
 * @property {string} commitment
 * @property {number} closes_at
 * @property {'open' | 'drawn'} status
 * @property {string | null} seed
 * @property {number[] | null} entries
 * @property {AccountName | null} winner
 * @property {number | null} drawn_at
 */

/**
 * @typedef {object} CommentView
 * @property {string} author
 * @property {string} author_key Who wrote it, as moderation knows them (`a` and the account
 *   id, or `g` and 16 hex digits for one guest connection); the same for all of one author's comments.
 * @property {Speaker} speaker
 * @property {string} text
 * @property {number} at Unix milliseconds (the server's clock).
 */

/** @typedef {CommentView & {seq: number}} SequencedComment */

/**
 * A comment held for review (docs/protocol.md 5.17): `id` is what `approve_comment` and
 * `reject_comment` take; `word` the blocked word that held it.
 * @typedef {object} HeldComment
 * @property {number} room_id
 * @property {number} id
 * @property {string} author
 * @property {string} author_key
 * @property {string} text
 * @property {string} word
 * @property {number} at When it was held.
 */

/**
 * A paid order line of the show, as the snapshot's `recent_sales` lists them (newest
 * first): what a late joiner is told sold before they came.
 * @typedef {object} RecentSale
 * @property {string} buyer the buyer's display name
 * @property {number} product_id
 * @property {string} title
 * @property {number} quantity
 * @property {number} at when the order was paid (Unix milliseconds)
 */

/**
 * @typedef {object} Participant
 * @property {string} display_name
 * @property {number | null} account_id null for guests.
 * @property {Role | null} role null for guests.
 * @property {boolean} is_host
 * @property {boolean} is_moderator A moderator of the room (or of all its host's rooms) when
 *   this connection joined (docs/protocol.md 9.8).
 */

/**
 * @typedef {object} CartLine
 * @property {number} product_id
 * @property {string} title
 * @property {number} quantity
 * @property {Money} unit_price
 * @property {Money} line_total
 */

/**
 * @typedef {object} CartView
 * @property {CartLine[]} lines Ordered by product id.
 * @property {Money | null} total null when the cart is empty.
 */

/**
 * Figures are integers in minor units of the order's currency.
 * @typedef {object} OrderLine
 * @property {number} product_id
 * @property {number} brand_id
 * @property {number | null} drop_id
 * @property {string} title
 * @property {number} quantity
 * @property {number} refunded_quantity
 * @property {number} list_price
 * @property {number} unit_price
 * @property {number} line_total
 * @property {number} commission
 */

/**
 * @typedef {object} Order
 * @property {number} id
 * @property {string} reference what buyers see as the order's number (not a counter)
 * @property {number} room_id
 * @property {number} creator_id
 * @property {number} buyer_id
 * @property {OrderStatus} status
 * @property {OrderLine[]} lines
 * @property {Money} subtotal
 * @property {Money} commission
 * @property {Money} refunded
 * @property {string | null} promo_code
 * @property {number | null} promo_code_id
 * @property {Money} discount
 * @property {string} idempotency_key
 * @property {string | null} failure_code
 * @property {number} created_at
 * @property {ShippingAddress | null} [shipping] where the order ships (only its buyer sees it)
 * @property {boolean} rehearsal placed in a rehearsal: paid with a test card, counted nowhere
 */

/**
 * Where an order ships (one-tap buy, docs/protocol.md 4.11 and 9.5); `country` is an ISO
 * 3166-1 alpha-2 code. `line2` and `region` are empty when there are none.
 * @typedef {object} ShippingAddress
 * @property {string} name
 * @property {string} line1
 * @property {string} [line2]
 * @property {string} city
 * @property {string} [region]
 * @property {string} postal_code
 * @property {string} country
 */

/**
 * @typedef {object} BrandSale
 * @property {number} order_id
 * @property {number} room_id
 * @property {number} creator_id
 * @property {string} creator_name
 * @property {number} product_id
 * @property {string} title
 * @property {number} quantity
 * @property {Money} amount
 * @property {Money} commission
 * @property {number} at
 */

// ---------- room events (inside an `event` frame, tagged by `kind`) ----------

/** @typedef {{kind: 'comment'} & CommentView} CommentEvent */
/** @typedef {{kind: 'comment_deleted', seq: number}} CommentDeletedEvent The comment `seq` was deleted: remove it. */
/**
 * The author of comment `seq` may not comment until `until` (Unix milliseconds).
 * @typedef {{kind: 'timed_out', seq: number, author: string, author_key: string, until: number}} TimedOutEvent
 */
/**
 * The author of comment `seq` was banned; their connections are being closed (4003).
 * @typedef {{kind: 'banned', seq: number, author: string, author_key: string, scope: BanScope}} BannedEvent
 */
/** @typedef {{kind: 'slow_mode', secs: number}} SlowModeEvent Slow mode changed (0: off). */
/** @typedef {{kind: 'pinned', product: ProductCard}} PinnedEvent */
/** @typedef {{kind: 'unpinned', product_id: number}} UnpinnedEvent */
/** @typedef {{kind: 'product_updated', product: ProductCard}} ProductUpdatedEvent */
/** @typedef {{kind: 'drop_started', drop: DropCard}} DropStartedEvent */
/** @typedef {{kind: 'drop_ended', drop_id: number, sold: number}} DropEndedEvent */
/**
 * One paid order line. `stock_left`/`drop_left` are what this sale's reservation left;
 * sales can arrive out of reservation order, so keep the lowest figure seen. `at`: when
 * the order was paid (Unix milliseconds, the server's clock).
 * @typedef {{kind: 'sale', buyer: string, product_id: number, title: string, quantity: number, stock_left: number,
 *   drop_left?: number, at: number}} SaleEvent
 */
/** @typedef {{kind: 'room_live'}} RoomLiveEvent */
/** @typedef {{kind: 'room_ended'}} RoomEndedEvent */
/** @typedef {{kind: 'stream_started', resumed: boolean}} StreamStartedEvent */
/** @typedef {{kind: 'stream_stopped'}} StreamStoppedEvent */
/** @typedef {{kind: 'room_updated', co_host: CoHostCard | null, disclosure: string | null}} RoomUpdatedEvent */
/** @typedef {{kind: 'giveaway_started', giveaway: GiveawayCard}} GiveawayStartedEvent */
/**
 * Entries closed and the winner was drawn: `seed` is the hex of the 32 bytes whose SHA-256
 * is the commitment; `entries` how many entered; `winner` null without entries.
 * @typedef {{kind: 'giveaway_drawn', giveaway_id: number, seed: string, entries: number, winner: AccountName | null}} GiveawayDrawnEvent
 */

/** @typedef {{kind: 'auction_started', auction: AuctionCard}} AuctionStartedEvent */
/**
 * A bid was taken: `ends_at` moved when `extended`.
 * @typedef {{kind: 'auction_bid', auction_id: number, price: Money, leader: AccountName, bids: number,
 *   ends_at: number, extended: boolean, min_bid: Money}} AuctionBidEvent
 */
/**
 * Bidding is over; `winner` and `price` are null when nobody bid.
 * @typedef {{kind: 'auction_ended', auction_id: number, winner: AccountName | null, price: Money | null}} AuctionEndedEvent
 */
/**
 * The unit is held for `buyer` until `pay_by` (round 1: the winner).
 * @typedef {{kind: 'auction_offered', auction_id: number, buyer: AccountName, price: Money, pay_by: number,
 *   round: number}} AuctionOfferedEvent
 */
/**
 * @typedef {{kind: 'auction_settled', auction_id: number, outcome: AuctionOutcome, buyer: AccountName | null,
 *   price: Money | null}} AuctionSettledEvent
 */

/** @typedef {{kind: 'keywords_updated', keywords: KeywordCard[]}} KeywordsUpdatedEvent Replace the room's keywords. */

/**
 * @typedef {CommentEvent | PinnedEvent | UnpinnedEvent | ProductUpdatedEvent | DropStartedEvent
 *   | DropEndedEvent | SaleEvent | RoomLiveEvent | RoomEndedEvent | StreamStartedEvent
 *   | StreamStoppedEvent | RoomUpdatedEvent | GiveawayStartedEvent | GiveawayDrawnEvent
 *   | CommentDeletedEvent | TimedOutEvent | BannedEvent | SlowModeEvent | AuctionStartedEvent
 *   | AuctionBidEvent | AuctionEndedEvent | AuctionOfferedEvent | AuctionSettledEvent | KeywordsUpdatedEvent} RoomEvent
 */
/** @typedef {RoomEvent['kind']} RoomEventKind */

// ---------- server messages (tagged by `type`) ----------

/**
 * @typedef {object} Snapshot
 * @property {'snapshot'} type
 * @property {RoomCard} room
 * @property {ProductCard[]} lineup
 * @property {number | null} pinned
 * @property {DropCard | null} drop
 * @property {GiveawayCard | null} [giveaway] The open giveaway; null when none is open.
 * @property {AuctionCard | null} auction The running auction; null when none runs.
 * @property {KeywordCard[]} keywords The comment-to-buy keywords of the lineup.
 * @property {SequencedComment[]} comments The last 30 comments of this epoch, oldest first.
 * @property {number} viewers
 * @property {boolean} streaming
 * @property {number} slow_mode_secs Each viewer may comment once per this many seconds; 0 when off.
 * @property {CartView | null} cart null for guests.
 * @property {Participant} you
 * @property {RecentSale[]} recent_sales The show's latest sales, newest first (at most 10).
 * @property {number} units_sold Units in the show's paid orders so far.
 * @property {Partial<Record<Reaction, number>>} reaction_totals The show's reactions so far,
 *   as of the latest tick (the `reactions` ticks that follow add to them); only names counted.
 * @property {number} seq
 * @property {string} epoch
 * @property {boolean} reset True when a resume could not be honoured, or after a resync.
 */

/**
 * @typedef {object} Resumed
 * @property {'resumed'} type
 * @property {string} epoch
 * @property {number} since The client's `since`.
 * @property {number} seq The last event the replay brings the client to.
 */

/**
 * @typedef {object} EventMessage
 * @property {'event'} type
 * @property {number} seq
 * @property {RoomEvent} event
 */

/** @typedef {{type: 'viewers', count: number}} ViewersMessage */
/** @typedef {{type: 'reactions', counts: Partial<Record<Reaction, number>>}} ReactionsMessage */
/** @typedef {{type: 'product', product: Product}} ProductMessage */
/** @typedef {{type: 'cart', cart: CartView}} CartMessage */
/**
 * The answer to `enter_giveaway` (also when already entered): `entries` is how many
 * accounts have entered so far, the sender included.
 * @typedef {{type: 'giveaway_entered', giveaway_id: number, entries: number}} GiveawayEnteredMessage
 */
/**
 * The answer to a taken `bid`: whether the sender leads, the price now, and their own maximum.
 * @typedef {{type: 'bid_placed', auction_id: number, leading: boolean, price: Money, max: Money}} BidPlacedMessage
 */
/**
 * A unit held for the account (an auction won): pay it with `pay_offer` before `expires_at`.
 * On every open connection of the account, at most once (GET /api/me/offers lists them).
 * @typedef {{type: 'offer', offer: OfferView}} OfferMessage
 */
/**
 * The sender's place on a waitlist (1: next), or null when not on it.
 * @typedef {{type: 'waitlist', product_id: number, place: number | null}} WaitlistMessage
 */
/**
 * The answer to a comment that asked to buy: the offer holding the units, or the `code`
 * and `message` of why there is none. The comment was posted either way.
 * @typedef {{type: 'comment_purchase', product_id: number | null, quantity: number, offer: OfferView | null,
 *   code: ErrorCode | null, message: string | null}} CommentPurchaseMessage
 */
/** @typedef {{type: 'order_confirmed', order: Order}} OrderConfirmedMessage */
/**
 * To the sender: their comment is held for review (docs/protocol.md 5.17); the room sees
 * it only if the host or a moderator approves it.
 * @typedef {{type: 'held_for_review', text: string}} HeldForReviewMessage
 */
/**
 * To the host and the room's moderators, on every connection of theirs (check `room_id`).
 * @typedef {{type: 'comment_held'} & HeldComment} CommentHeldMessage
 */
/**
 * To the host and the room's moderators: held comment `id` was approved or rejected.
 * @typedef {{type: 'comment_reviewed', room_id: number, id: number, approved: boolean}} CommentReviewedMessage
 */
/** @typedef {{type: 'following_sales', brand_id: number}} FollowingSalesMessage */
/** @typedef {{type: 'brand_sale'} & BrandSale} BrandSaleMessage */
/**
 * The answer to `listen`: this connection now receives the account's notifications.
 * @typedef {{type: 'listening', account_id: number}} ListeningMessage
 */
/**
 * A creator the account follows took `room` live (its status is `live`). Private and
 * unsequenced, on every open connection of the account (room and listen connections),
 * at most once per connection and room; nothing is replayed to a connection opened later
 * (GET /api/me/upcoming lists what is live).
 * @typedef {{type: 'going_live', room: RoomCard}} GoingLiveMessage
 */

/**
 * @typedef {object} ErrorMessage
 * @property {'error'} type
 * @property {ErrorCode} code
 * @property {string} message For people; its wording may change.
 * @property {ClientMessageType} [request] The failed message's type; absent when the frame
 *   could not be decoded, and for errors tied to no request.
 */

/**
 * @typedef {Snapshot | Resumed | EventMessage | ViewersMessage | ReactionsMessage | ProductMessage
 *   | CartMessage | GiveawayEnteredMessage | OrderConfirmedMessage | FollowingSalesMessage | BrandSaleMessage
 *   | ListeningMessage | GoingLiveMessage | BidPlacedMessage | OfferMessage | WaitlistMessage
 *   | CommentPurchaseMessage | HeldForReviewMessage | CommentHeldMessage | CommentReviewedMessage
 *   | ErrorMessage} ServerMessage
 */
/** @typedef {ServerMessage['type']} ServerMessageType */

// ---------- client messages (tagged by `type`) ----------

/**
 * @typedef {object} JoinMessage
 * @property {'join'} type
 * @property {number} room_id
 * @property {string | null} [token]
 * @property {string | null} [guest_name]
 * @property {number | null} [since]
 * @property {string | null} [epoch]
 * @property {string | null} [audience_key] a rehearsal's audience key (docs/protocol.md 9.10)
 */
/** @typedef {{type: 'follow_sales', token: string}} FollowSalesMessage */
/**
 * The first frame of a notifications connection (a session token is required).
 * @typedef {{type: 'listen', token: string}} ListenMessage
 */
/** @typedef {{type: 'comment', text: string}} CommentMessage */
/** @typedef {{type: 'react', reaction: Reaction}} ReactMessage */
/** @typedef {{type: 'pin', product_id: number}} PinMessage */
/** @typedef {{type: 'unpin'}} UnpinMessage */
/** @typedef {{type: 'start_drop', product_id: number, quantity: number, price?: number | null, duration_secs: number, per_buyer?: number | null}} StartDropMessage */
/**
 * Host only: `prize` 1–120 characters, `duration_secs` 10 to 3,600.
 * @typedef {{type: 'start_giveaway', prize: string, entry: EntryRule, duration_secs: number}} StartGiveawayMessage
 */
/** @typedef {{type: 'enter_giveaway', giveaway_id: number}} EnterGiveawayMessage */
/**
 * Host only (4.20): one unit of a lined-up product; `duration_secs` 10 to 3,600.
 * @typedef {{type: 'start_auction', product_id: number, starting_price: number, duration_secs: number,
 *   increments?: Step[] | null, extend_secs?: number | null, sudden_death?: boolean | null}} StartAuctionMessage
 */
/**
 * `amount` outright, and up to `max_amount` by proxy (4.21).
 * @typedef {{type: 'bid', auction_id: number, amount: number, max_amount?: number | null}} BidMessage
 */
/**
 * Pays an offer made to the sender (4.22), with the same payment fields as `checkout`.
 * @typedef {{type: 'pay_offer', offer_id: number, idempotency_key: string, card?: string | null,
 *   payment?: 'card' | 'saved' | null, save?: boolean | null, shipping?: ShippingAddress | null}} PayOfferMessage
 */
/** @typedef {{type: 'join_waitlist', product_id: number}} JoinWaitlistMessage A sold-out product's waitlist (4.25). */
/** @typedef {{type: 'leave_waitlist', product_id: number}} LeaveWaitlistMessage */
/** @typedef {{type: 'end_room'}} EndRoomMessage */
/** @typedef {{type: 'delete_comment', seq: number}} DeleteCommentMessage Host or moderator (4.16). */
/** @typedef {{type: 'timeout', seq: number, secs: number}} TimeoutMessage Host or moderator (4.17): `secs` 10 to 86,400. */
/** @typedef {{type: 'ban', seq: number, scope?: BanScope | null}} BanMessage Host or moderator (4.18). */
/** @typedef {{type: 'slow_mode', secs: number}} SlowModeMessage Host or moderator (4.19): `secs` 0 to 3,600. */
/** @typedef {{type: 'approve_comment', id: number}} ApproveCommentMessage Host or moderator (4.23). */
/** @typedef {{type: 'reject_comment', id: number}} RejectCommentMessage Host or moderator (4.24). */
/** @typedef {{type: 'view_product', product_id: number}} ViewProductMessage */
/** @typedef {{type: 'cart_add', product_id: number, quantity: number}} CartAddMessage */
/** @typedef {{type: 'cart_set', product_id: number, quantity: number}} CartSetMessage */
/** @typedef {{type: 'cart_remove', product_id: number}} CartRemoveMessage */
/**
 * `card`, or `payment: 'saved'` (the account's saved method); `save` keeps the card and
 * `shipping` on the account once the order is paid.
 * @typedef {{type: 'checkout', idempotency_key: string, card?: string | null, payment?: 'card' | 'saved' | null,
 *   save?: boolean | null, shipping?: ShippingAddress | null, promo_code?: string | null}} CheckoutMessage
 */

/**
 * @typedef {JoinMessage | FollowSalesMessage | ListenMessage | CommentMessage | ReactMessage | PinMessage
 *   | UnpinMessage | StartDropMessage | StartGiveawayMessage | EnterGiveawayMessage | EndRoomMessage | ViewProductMessage | CartAddMessage
 *   | CartSetMessage | CartRemoveMessage | CheckoutMessage | DeleteCommentMessage | TimeoutMessage | BanMessage
 *   | SlowModeMessage | StartAuctionMessage | BidMessage | PayOfferMessage | JoinWaitlistMessage
 *   | LeaveWaitlistMessage | ApproveCommentMessage | RejectCommentMessage} ClientMessage
 */
/** @typedef {ClientMessage['type']} ClientMessageType */

// ---------- error codes (section 7; the same codes in HTTP error bodies) ----------

/**
 * @typedef {'malformed_json' | 'frame_too_large' | 'unknown_message' | 'invalid_input'
 *   | 'cart_empty' | 'mixed_currency' | 'unauthenticated' | 'bad_credentials' | 'forbidden'
 *   | 'not_found' | 'conflict' | 'not_joined' | 'already_joined' | 'room_not_live'
 *   | 'not_in_lineup' | 'drop_running' | 'giveaway_running' | 'giveaway_closed'
 *   | 'not_eligible' | 'sold_out' | 'drop_limit' | 'hold_expired' | 'checkout_in_progress'
 *   | 'idempotency_mismatch' | 'promo_code_invalid' | 'promo_code_expired'
 *   | 'promo_code_used_up' | 'promo_code_not_applicable' | 'rate_limited'
 *   | 'too_many_connections' | 'payment_declined' | 'payment_unavailable' | 'not_streaming'
 *   | 'stream_elsewhere' | 'unsupported_media_type' | 'method_not_allowed' | 'unavailable'
 *   | 'internal'
 *   | 'no_saved_payment_method' | 'banned' | 'timed_out' | 'slow_mode' | 'blocked_word'
 *   | 'auction_running' | 'auction_closed' | 'bid_too_low' | 'offer_closed' | 'rehearsal_private'
 *   | 'test_card_required'} ErrorCode
 */

export {};
