// The few REST calls clients of the room protocol need around it: signing in (the token
// a room or a sales feed joins with), listing rooms, taking a room live or ending it,
// following creators and the followed creators' shows, moderation (moderators, bans,
// blocked words, the comments held for review),
// reading orders (how a checkout ended, or the sales a feed missed), reports (JSON, or CSV
// text: docs/metrics.md is what every figure means) and a brand's campaigns. Anything
// else is one `request()` away. Errors are ApiErrors with livecart's code
// (docs/protocol.md §7).

import { ApiError, errorFromResponse } from './errors.js';
import { defaultBaseUrl } from './link.js';

/** @typedef {import('./types.js').Role} Role */
/** @typedef {import('./types.js').Tier} Tier */
/** @typedef {import('./types.js').Order} Order */
/** @typedef {import('./types.js').ProductCard} ProductCard */
/** @typedef {import('./types.js').Money} Money */
/** @typedef {import('./types.js').HostCard} HostCard */
/** @typedef {typeof globalThis.fetch} Fetch */

/**
 * @typedef {object} Account
 * @property {number} id
 * @property {string} email
 * @property {string} display_name
 * @property {Role} role
 * @property {number | null} brand_id
 * @property {number} followers
 * @property {Tier | null} tier
 */

/** @typedef {{token: string, account: Account}} Session */

// ---------- moderation (docs/protocol.md 9.8) ----------

/**
 * A moderator: of one room (`room_id`), or with `room_id` null of all the creator's rooms.
 * @typedef {object} Moderator
 * @property {number} account_id
 * @property {string} display_name
 * @property {number | null} room_id
 */

/**
 * A ban in force: from one room, or (`room_id` null) all the creator's rooms. `who` is `a`
 * and an account id, `n` and a guest name in lower case, or `g` and a guest connection.
 * @typedef {object} Ban
 * @property {number} id
 * @property {number | null} room_id
 * @property {string} who
 * @property {number} banned_at
 */

/** @typedef {'refuse' | 'hold'} BlockedAction what a blocked word does to a comment */

/**
 * Blocked words (kept trimmed, lower case, without duplicates) and what they do.
 * @typedef {{words: string[], action: BlockedAction}} BlockedWords
 */

/**
 * Where moderators are appointed or blocked words apply: one room, or all of a creator's.
 * @typedef {{roomId: number} | {creatorId: number}} ModerationScope
 */

/** @param {ModerationScope} scope */
function scopePath(scope) {
  return 'roomId' in scope ? `/api/rooms/${scope.roomId}` : `/api/creators/${scope.creatorId}`;
}

/**
 * A room as GET /api/rooms and GET /api/rooms/{id} show it.
 * @typedef {object} RoomView
 * @property {number} id
 * @property {string} title
 * @property {import('./types.js').RoomStatus} status
 * @property {number} starts_at
 * @property {number | null} live_at
 * @property {number | null} ended_at
 * @property {import('./types.js').HostCard} host
 * @property {import('./types.js').CoHostCard | null} co_host
 * @property {string | null} disclosure
 * @property {ProductCard[]} lineup
 * @property {number} viewers viewers connected to the node that answered
 */

// ---------- reports and campaigns (GET /api/openapi.json has every field) ----------

/**
 * An exact fraction: compare and add `numerator` and `denominator`. `value` is it rounded
 * to four decimals (halves away from zero), or null when `denominator` is 0.
 * @typedef {object} Rate
 * @property {number} numerator
 * @property {number} denominator
 * @property {string | null} value e.g. "0.0750"
 */

/**
 * @typedef {object} CommissionFigures
 * @property {Money} accrued
 * @property {Money} reversed
 * @property {Money} settled
 * @property {Money} owed accrued − reversed − settled
 * @property {Money} net accrued − reversed
 */

/**
 * Every figure of a scope (docs/metrics.md).
 * @typedef {object} Figures
 * @property {Money} gmv
 * @property {Money} net_gmv
 * @property {Money} refunded
 * @property {Money} discount
 * @property {number} orders
 * @property {number} units
 * @property {Money} aov
 * @property {number} buyers
 * @property {number} new_buyers
 * @property {number} repeat_buyers
 * @property {Rate} repeat_buyer_rate
 * @property {number} promo_redemptions
 * @property {number} unique_viewers
 * @property {number} peak_viewers
 * @property {number} watch_ms
 * @property {number} average_watch_ms
 * @property {number} comments
 * @property {number} reactions
 * @property {Rate} conversion_rate
 * @property {Rate} engagement_rate
 * @property {Rate} engagement_per_viewer_minute
 * @property {number} pin_impressions
 * @property {number} product_views
 * @property {Rate} click_through_rate
 * @property {number} cart_adders
 * @property {Rate} cart_add_rate
 * @property {number} checkouts_started
 * @property {number} checkouts_paid
 * @property {Rate} checkout_success_rate
 * @property {number} pinned_ms
 * @property {number} orders_while_pinned
 * @property {Rate} sales_velocity orders per minute pinned
 * @property {number} drops
 * @property {number} drop_units
 * @property {number} drop_ms
 * @property {Rate} drop_velocity units per minute of drop
 * @property {number} drops_sold_out
 * @property {number | null} sell_out_ms
 * @property {CommissionFigures} commission
 */

/**
 * @typedef {object} ReportBasis
 * @property {number | null} from
 * @property {number | null} to
 * @property {string} currency the one currency the money figures count
 * @property {string[]} other_currencies ask for each with `currency`
 * @property {number} generated_at
 * @property {number | null} brand_id set when cut down to one brand's products
 */

/**
 * @typedef {object} ProductFigures
 * @property {number} product_id
 * @property {string} title
 * @property {Money} gmv
 * @property {Money} net_gmv
 * @property {Money} refunded
 * @property {Money} discount
 * @property {number} orders
 * @property {number} units
 * @property {Money} aov
 * @property {number} buyers
 * @property {number} pin_impressions
 * @property {number} product_views
 * @property {Rate} click_through_rate
 * @property {number} cart_adders
 * @property {number} pinned_ms
 * @property {number} orders_while_pinned
 * @property {Rate} sales_velocity
 * @property {number} drop_units
 * @property {Rate} drop_velocity
 * @property {CommissionFigures} commission
 */

/**
 * @typedef {object} PromoFigures
 * @property {number} code_id
 * @property {string} code
 * @property {number} creator_id
 * @property {number} redemptions
 * @property {Money} gmv
 * @property {Money} discount
 */

/**
 * This show against the creator's usual (their last ended rooms, at most 5).
 * @typedef {object} Uplift
 * @property {number[]} baseline_rooms
 * @property {Rate} baseline_sales_velocity
 * @property {Rate} baseline_conversion_rate
 * @property {Rate} sales_velocity this ÷ baseline
 * @property {Rate} conversion_rate this ÷ baseline
 */

/**
 * @typedef {object} RoomSummary
 * @property {number} id
 * @property {string} title
 * @property {import('./types.js').RoomStatus} status
 * @property {number} host_id
 * @property {number | null} co_host_id
 * @property {number | null} live_at
 * @property {number | null} ended_at
 */

/**
 * @typedef {ReportBasis & Figures & {room: RoomSummary, live: boolean, uplift: Uplift | null,
 *   promo_codes: PromoFigures[], products: ProductFigures[]}} RoomReport
 */

/**
 * @typedef {object} CreatorSummary
 * @property {number} id
 * @property {string} display_name
 * @property {number} followers
 * @property {Tier} tier
 */

/**
 * @typedef {ReportBasis & Figures & {creator: CreatorSummary, uplift: Uplift | null,
 *   promo_codes: PromoFigures[], rooms: (Figures & {room: RoomSummary})[]}} CreatorReport
 */

/**
 * @typedef {ReportBasis & Figures & {brand: {id: number, name: string},
 *   promo_codes: PromoFigures[], products: ProductFigures[]}} BrandReport
 */

/**
 * What a campaign cost the brand, and what it returned.
 * @typedef {object} CostFigures
 * @property {Money} flat_fees
 * @property {Money} cost net commission + flat fees
 * @property {Rate} roi (net GMV − cost) ÷ cost
 * @property {Money | null} cost_per_new_buyer
 */

/** @typedef {Figures & CostFigures & {creator: CreatorSummary, rooms: number}} CreatorRow */
/** @typedef {Figures & CostFigures & {tier: Tier, creators: number}} TierRow */
/** @typedef {'net_gmv' | 'conversion_rate' | 'aov' | 'sales_velocity' | 'roi'} CreatorSort */

/**
 * @typedef {object} Campaign
 * @property {number} id
 * @property {number} brand_id
 * @property {string} name
 * @property {Money} budget
 * @property {Money} flat_fee paid to each creator with a room of it that went live
 * @property {number[]} agreement_ids
 * @property {number[]} room_ids
 * @property {number} created_at
 */

/**
 * A commission agreement between a brand and a creator on one product.
 * @typedef {object} Agreement
 * @property {number} id
 * @property {number} brand_id
 * @property {number} creator_id
 * @property {number} product_id
 * @property {number} commission_bps
 * @property {number} commission_flat per unit, in the product's currency's minor units
 * @property {number} co_host_share_bps
 * @property {number} created_at Unix ms
 * @property {number | null} ended_at Unix ms
 */

/** The most agreements the server answers in one page of `GET /api/agreements`. */
const AGREEMENTS_PAGE = 100;

/**
 * `POST /api/campaigns`; for `PATCH`, any of its fields (the lists whole).
 * @typedef {object} CampaignDraft
 * @property {string} name
 * @property {Money} budget
 * @property {Money} [flat_fee] in the budget's currency
 * @property {number[]} [agreement_ids] the brand's own agreements
 * @property {number[]} [room_ids] rooms hosted by those agreements' creators
 */

/**
 * @typedef {ReportBasis & Figures & CostFigures & {campaign: Campaign, budget_left: Money,
 *   promo_codes: PromoFigures[], sort: CreatorSort, tier: Tier | null, creators: CreatorRow[],
 *   tiers: TierRow[]}} CampaignReport
 */

/** @typedef {'room' | 'creator' | 'brand' | 'campaign'} ReportScope */

/**
 * The period (Unix ms, `from` inclusive, `to` exclusive) and currency of a report; `sort`
 * and `tier` are for a campaign's creator rows.
 * @typedef {object} ReportQuery
 * @property {number} [from]
 * @property {number} [to]
 * @property {string} [currency]
 * @property {CreatorSort} [sort]
 * @property {Tier} [tier]
 */

/** @type {Record<ReportScope, string>} */
const REPORT_PATHS = { room: 'rooms', creator: 'creators', brand: 'brands', campaign: 'campaigns' };

/**
 * `/api/{scope}s/{id}/report?…`
 * @param {ReportScope} scope
 * @param {number} id
 * @param {ReportQuery & {format?: 'json' | 'csv'}} query
 */
export function reportPath(scope, id, query = {}) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(name, String(value));
  }
  const suffix = params.toString() ? `?${params}` : '';
  return `/api/${REPORT_PATHS[scope]}/${id}/report${suffix}`;
}

export class Api {
  /**
   * @param {{baseUrl?: string, token?: string | null, fetch?: Fetch, timeoutMs?: number}} [options]
   */
  constructor({ baseUrl, token = null, fetch, timeoutMs = 15_000 } = {}) {
    /** @type {string | undefined} */
    this.baseUrl = baseUrl ?? defaultBaseUrl();
    /** The session token sent as `Authorization: Bearer …` when a call gives none. */
    this.token = token;
    this.fetch = fetch ?? globalThis.fetch.bind(globalThis);
    this.timeoutMs = timeoutMs;
  }

  /**
   * Calls the REST API; resolves to the parsed JSON body (null for an empty one).
   * @param {string} method
   * @param {string} path e.g. `/api/rooms?status=live`
   * @param {{body?: unknown, token?: string | null, signal?: AbortSignal}} [options] `token: null` sends none
   * @returns {Promise<any>}
   */
  async request(method, path, options = {}) {
    const text = await this.requestText(method, path, options);
    return text ? JSON.parse(text) : null;
  }

  /**
   * Calls the REST API; resolves to the body as text (a CSV report, say).
   * @param {string} method
   * @param {string} path
   * @param {{body?: unknown, token?: string | null, signal?: AbortSignal}} [options] `token: null` sends none
   * @returns {Promise<string>}
   */
  async requestText(method, path, { body, token = this.token, signal } = {}) {
    /** @type {Record<string, string>} */
    const headers = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (token) headers.Authorization = `Bearer ${token}`;
    const url = this.baseUrl ? new URL(path, this.baseUrl).href : path;
    const timeout = typeof AbortSignal.timeout === 'function' ? AbortSignal.timeout(this.timeoutMs) : undefined;
    const response = await this.fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: signal && timeout && AbortSignal.any ? AbortSignal.any([signal, timeout]) : (signal ?? timeout),
    });
    if (!response.ok) throw await errorFromResponse(response, ApiError);
    return response.text();
  }

  /**
   * Signs in; the token is kept for later calls.
   * @param {string} email
   * @param {string} password
   * @returns {Promise<Session>}
   */
  async login(email, password) {
    const session = await this.request('POST', '/api/auth/login', { body: { email, password }, token: null });
    this.token = session.token;
    return session;
  }

  /**
   * Ends the session (its WebSockets close with 4001) and forgets the token.
   * @param {string | null} [token]
   */
  async logout(token = this.token) {
    if (token === this.token) this.token = null;
    if (token) await this.request('POST', '/api/auth/logout', { token });
  }

  /** @returns {Promise<Account>} */
  me() {
    return this.request('GET', '/api/me');
  }

  /**
   * Rooms by status; `host` keeps one creator's (their next show:
   * `rooms({ status: 'upcoming', host: id, limit: 1 })`).
   * @param {{status?: 'live' | 'upcoming' | 'ended', limit?: number, host?: number}} [query]
   * @returns {Promise<RoomView[]>}
   */
  rooms({ status, limit, host } = {}) {
    const query = new URLSearchParams();
    if (status) query.set('status', status);
    if (host != null) query.set('host', String(host));
    if (limit) query.set('limit', String(limit));
    const suffix = query.toString() ? `?${query}` : '';
    return this.request('GET', `/api/rooms${suffix}`);
  }

  /**
   * @param {number} roomId
   * @returns {Promise<RoomView>}
   */
  room(roomId) {
    return this.request('GET', `/api/rooms/${roomId}`);
  }

  /** @param {number} roomId the host takes a scheduled room live */
  goLive(roomId) {
    return this.request('POST', `/api/rooms/${roomId}/live`);
  }

  /** @param {number} roomId the host ends the show */
  endRoom(roomId) {
    return this.request('POST', `/api/rooms/${roomId}/end`);
  }

  // ---------- following creators ----------

  /**
   * Follows a creator ("Remind me"): their going-live reaches the caller's connections,
   * and their shows are in `upcoming()`. Following twice is the same as once.
   * @param {number} creatorId
   * @returns {Promise<void>}
   */
  async follow(creatorId) {
    await this.request('PUT', `/api/me/follows/${creatorId}`);
  }

  /**
   * Stops following a creator (also fine when not following).
   * @param {number} creatorId
   * @returns {Promise<void>}
   */
  async unfollow(creatorId) {
    await this.request('DELETE', `/api/me/follows/${creatorId}`);
  }

  /**
   * The creators the caller follows, by display name.
   * @returns {Promise<HostCard[]>}
   */
  follows() {
    return this.request('GET', '/api/me/follows');
  }

  /**
   * The live and scheduled rooms of the creators the caller follows: live first, then by
   * start time (at most 50).
   * @returns {Promise<RoomView[]>}
   */
  upcoming() {
    return this.request('GET', '/api/me/upcoming');
  }

  // ---------- moderation (docs/protocol.md 9.8) ----------

  /**
   * The moderators of a room (with those of all its host's rooms), or of all a creator's
   * rooms, by display name.
   * @param {ModerationScope} scope
   * @returns {Promise<Moderator[]>}
   */
  moderators(scope) {
    return this.request('GET', `${scopePath(scope)}/moderators`);
  }

  /**
   * Appoints a moderator of a room or of all a creator's rooms, by account id or e-mail
   * address; resolves with whom (by e-mail) or null (by id). Appointing again changes nothing.
   * @param {ModerationScope} scope
   * @param {{accountId: number} | {email: string}} who
   * @returns {Promise<Moderator | null>}
   */
  appointModerator(scope, who) {
    return 'email' in who
      ? this.request('POST', `${scopePath(scope)}/moderators`, { body: { email: who.email } })
      : this.request('PUT', `${scopePath(scope)}/moderators/${who.accountId}`);
  }

  /**
   * Ends an appointment (for the room, or for all the creator's rooms).
   * @param {ModerationScope} scope
   * @param {number} accountId
   * @returns {Promise<void>}
   */
  async dismissModerator(scope, accountId) {
    await this.request('DELETE', `${scopePath(scope)}/moderators/${accountId}`);
  }

  /**
   * The bans in force in a creator's rooms, newest first.
   * @param {number} creatorId
   * @returns {Promise<Ban[]>}
   */
  bans(creatorId) {
    return this.request('GET', `/api/creators/${creatorId}/bans`);
  }

  /**
   * Lifts a ban: whom it held may join again.
   * @param {number} creatorId
   * @param {number} banId
   * @returns {Promise<void>}
   */
  async liftBan(creatorId, banId) {
    await this.request('DELETE', `/api/creators/${creatorId}/bans/${banId}`);
  }

  /**
   * A room's own blocked words, or a creator's for all their rooms, with their action.
   * @param {ModerationScope} scope
   * @returns {Promise<BlockedWords>}
   */
  blockedWords(scope) {
    return this.request('GET', `${scopePath(scope)}/blocked-words`);
  }

  /**
   * Replaces a room's own blocked words, or a creator's for all their rooms (at most 200,
   * each 1 to 40 characters; `[]` clears them); resolves with them as kept.
   * @param {ModerationScope} scope
   * @param {{words: string[], action?: BlockedAction}} list `action` defaults to `refuse`
   * @returns {Promise<BlockedWords>}
   */
  setBlockedWords(scope, { words, action = 'refuse' }) {
    return this.request('PUT', `${scopePath(scope)}/blocked-words`, { body: { words, action } });
  }

  /**
   * The comments held for review in a room, oldest first (the host and moderators).
   * @param {number} roomId
   * @returns {Promise<import('./types.js').HeldComment[]>}
   */
  heldComments(roomId) {
    return this.request('GET', `/api/rooms/${roomId}/held-comments`);
  }

  // ---------- giveaways ----------

  /**
   * A giveaway's record (no token needed): once drawn, its seed, entries and winner,
   * everything `verifyDraw` needs to check the draw.
   * @param {number} giveawayId
   * @returns {Promise<import('./types.js').GiveawayView>}
   */
  giveaway(giveawayId) {
    return this.request('GET', `/api/giveaways/${giveawayId}`);
  }

  // ---------- offers and comment-to-buy (docs/protocol.md 9.9, 9.11) ----------

  /**
   * The caller's open offers (units held for them: an auction won, a comment that bought,
   * a waitlist's turn), soonest to run out first; pay one with `room.payOffer(id)`.
   * @returns {Promise<import('./types.js').OfferView[]>}
   */
  offers() {
    return this.request('GET', '/api/me/offers');
  }

  /**
   * A room's comment-to-buy keywords (no token needed).
   * @param {number} roomId
   * @returns {Promise<import('./types.js').KeywordCard[]>}
   */
  keywords(roomId) {
    return this.request('GET', `/api/rooms/${roomId}/keywords`);
  }

  /**
   * The host replaces a room's keywords (2 to 20 letters and digits, not SOLD or BUY, one
   * per lined-up product); resolves to the new list, stored upper case. The room gets
   * `keywords_updated`.
   * @param {number} roomId
   * @param {import('./types.js').KeywordCard[]} keywords
   * @returns {Promise<import('./types.js').KeywordCard[]>}
   */
  setKeywords(roomId, keywords) {
    return this.request('PUT', `/api/rooms/${roomId}/keywords`, { body: { keywords } });
  }

  /**
   * The caller's orders: how a checkout ended when its answer was lost.
   * @returns {Promise<Order[]>}
   */
  orders() {
    return this.request('GET', '/api/orders');
  }

  /**
   * A brand's sales (its own lines; `AttributedOrder` in /api/openapi.json): what a
   * sales feed missed.
   * @param {number} brandId
   * @returns {Promise<(Order & Record<string, unknown>)[]>}
   */
  brandOrders(brandId) {
    return this.request('GET', `/api/brands/${brandId}/orders`);
  }

  /**
   * A room's report: the show so far while it is live (`live: true`), its final figures
   * once it ended. Cut down to the brand's products for a brand member (`brand_id`).
   * @param {number} roomId
   * @param {ReportQuery} [query]
   * @param {{signal?: AbortSignal}} [options]
   * @returns {Promise<RoomReport>}
   */
  roomReport(roomId, query = {}, { signal } = {}) {
    return this.request('GET', reportPath('room', roomId, query), { signal });
  }

  /**
   * @param {number} creatorId
   * @param {ReportQuery} [query]
   * @returns {Promise<CreatorReport>}
   */
  creatorReport(creatorId, query = {}) {
    return this.request('GET', reportPath('creator', creatorId, query));
  }

  /**
   * @param {number} brandId
   * @param {ReportQuery} [query]
   * @returns {Promise<BrandReport>}
   */
  brandReport(brandId, query = {}) {
    return this.request('GET', reportPath('brand', brandId, query));
  }

  /**
   * A campaign's report, its creator rows ordered by `sort` (highest first) and kept to
   * one `tier` if given.
   * @param {number} campaignId
   * @param {ReportQuery} [query]
   * @returns {Promise<CampaignReport>}
   */
  campaignReport(campaignId, query = {}) {
    return this.request('GET', reportPath('campaign', campaignId, query));
  }

  /**
   * A report as CSV text (RFC 4180: a header row, the totals, a row per product, room,
   * creator or tier). A link cannot carry the Authorization header, so a page fetches it
   * here and saves it from a Blob.
   * @param {ReportScope} scope
   * @param {number} id
   * @param {ReportQuery} [query]
   * @returns {Promise<string>}
   */
  reportCsv(scope, id, query = {}) {
    return this.requestText('GET', reportPath(scope, id, { ...query, format: 'csv' }));
  }

  /**
   * The caller's agreements (a brand member's brand's, or a creator's with every brand),
   * ended ones included, newest first: every page, `before` the last id of the one before.
   * @returns {Promise<Agreement[]>}
   */
  async agreements() {
    /** @type {Agreement[]} */
    const all = [];
    for (;;) {
      const before = all.length ? `&before=${all[all.length - 1].id}` : '';
      const page = await this.request('GET', `/api/agreements?limit=${AGREEMENTS_PAGE}${before}`);
      all.push(...page);
      if (page.length < AGREEMENTS_PAGE) return all;
    }
  }

  /**
   * The caller's brand's campaigns, newest first.
   * @returns {Promise<Campaign[]>}
   */
  campaigns() {
    return this.request('GET', '/api/campaigns');
  }

  /**
   * @param {number} campaignId
   * @returns {Promise<Campaign>}
   */
  campaign(campaignId) {
    return this.request('GET', `/api/campaigns/${campaignId}`);
  }

  /**
   * @param {CampaignDraft} draft
   * @returns {Promise<Campaign>}
   */
  createCampaign(draft) {
    return this.request('POST', '/api/campaigns', { body: draft });
  }

  /**
   * Changes a campaign: the fields given replace the old, `agreement_ids` and `room_ids`
   * whole.
   * @param {number} campaignId
   * @param {Partial<CampaignDraft>} patch
   * @returns {Promise<Campaign>}
   */
  updateCampaign(campaignId, patch) {
    return this.request('PATCH', `/api/campaigns/${campaignId}`, { body: patch });
  }
}
