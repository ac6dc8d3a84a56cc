//! REST request and response bodies. Requests use the domain's checked types, so a body
//! that deserialises is already valid; e-mail and password stay strings on the wire and
//! are checked by the handler, so that they never appear in a `Debug` of the body.

use crate::domain::{
    AccountId, AgreementId, BasisPoints, BlockedAction, BrandId, CardNumber, Currency, DisplayName, IdempotencyKey,
    ImageUrl, MaxUses, Money, OrderId, PaymentSource, PercentOff, Price, ProductDescription, ProductId, ProductTitle,
    PromoCode, PromoCodeId, Quantity, Role, RoomId, RoomTitle, ShareBps, ShippingAddress, Stock, Tier, UnixMs,
};
use crate::wire::ws::{CoHostCard, HostCard, OrderLineView, OrderStatus, ProductCard, RoomStatus};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub email: String,
    pub password: String,
    pub display_name: DisplayName,
    pub role: Role,
    /// Brand members register their brand with their account.
    #[serde(default)]
    pub brand_name: Option<DisplayName>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionResponse {
    /// Send as `Authorization: Bearer <token>`, or in the WebSocket `join`.
    pub token: String,
    pub account: AccountView,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AccountView {
    pub id: AccountId,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub brand_id: Option<BrandId>,
    pub followers: i64,
    pub tier: Option<Tier>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProductRequest {
    pub title: ProductTitle,
    #[serde(default)]
    #[schema(value_type = String)]
    pub description: ProductDescription,
    #[serde(default)]
    #[schema(value_type = String)]
    pub image_url: ImageUrl,
    pub price: Price,
    pub currency: Currency,
    pub stock: Stock,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductPatchRequest {
    #[serde(default)]
    pub title: Option<ProductTitle>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Option<ProductDescription>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub image_url: Option<ImageUrl>,
    #[serde(default)]
    pub price: Option<Price>,
}

/// A product with everything about it: its card (what rooms show) and its description.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Product {
    #[serde(flatten)]
    pub card: ProductCard,
    pub description: String,
    /// Units on hand in the database: `stock` plus units held by checkouts in flight.
    /// What `PUT /api/products/{id}/stock` compares its `expected` with.
    pub on_hand: i64,
}

/// A recount or a restock, refused (409 `conflict`, nothing changed) unless the units on
/// hand are still `expected`: a page showing an old count cannot write it back.
/// A room's comment-to-buy keywords, all of them (docs/protocol.md, 9.11).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeywordsRequest {
    /// At most one per lined-up product; each keyword once.
    #[schema(max_items = 50)]
    pub keywords: Vec<crate::wire::ws::KeywordCard>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockRequest {
    /// The new units on hand.
    pub stock: Stock,
    /// The `on_hand` the caller last saw.
    pub expected: Stock,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowersRequest {
    pub followers: Stock,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAgreementRequest {
    pub creator_id: AccountId,
    pub product_id: ProductId,
    pub commission_bps: BasisPoints,
    /// Per unit, in the product's currency.
    #[serde(default)]
    pub commission_flat: Option<Price>,
    /// The share of each line's commission a co-host of the creator's rooms earns, in
    /// basis points (split rule `cohost-v1`); 5000 (half) when absent.
    #[serde(default)]
    pub co_host_share_bps: Option<ShareBps>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgreementView {
    pub id: AgreementId,
    pub brand_id: BrandId,
    pub creator_id: AccountId,
    pub product_id: ProductId,
    pub commission_bps: i64,
    pub commission_flat: i64,
    /// The co-host's share of each line's commission, in basis points.
    pub co_host_share_bps: i64,
    pub created_at: UnixMs,
    pub ended_at: Option<UnixMs>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRoomRequest {
    pub title: RoomTitle,
    pub starts_at: UnixMs,
    /// The products to sell, in lineup order; each needs an active agreement with the host.
    pub product_ids: Vec<ProductId>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RoomView {
    pub id: crate::domain::RoomId,
    pub title: String,
    pub status: RoomStatus,
    pub starts_at: UnixMs,
    pub live_at: Option<UnixMs>,
    pub ended_at: Option<UnixMs>,
    pub host: HostCard,
    /// The creator co-hosting with the host, if any.
    pub co_host: Option<CoHostCard>,
    /// The sponsorship disclosure ("Paid partnership with Glow Labs"), or `None` when the
    /// room sells under no paid agreement.
    pub disclosure: Option<String>,
    pub lineup: Vec<ProductCard>,
    /// Viewers connected to this node now.
    pub viewers: u64,
    /// For a private rehearsal, the scheduled room it rehearses (docs/protocol.md, 9.10);
    /// `None` for every other room.
    pub rehearsal_of: Option<crate::domain::RoomId>,
}

/// A rehearsal as its host opens it: the rehearsal's room, and the audience key that lets
/// simulated viewers (the load tester's) join it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RehearsalView {
    pub room: RoomView,
    /// Give it to `livecart-loadtest audience --rehearsal ROOM --audience-key KEY`, or as
    /// `audience_key` in `join`. Shown only here, once: opening again replaces it.
    pub audience_key: String,
}

/// Sets or clears a room's co-host: `{"creator_id": 7}`, or `{"creator_id": null}`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CoHostRequest {
    /// A creator other than the host; `null` (or absent) clears the co-host.
    #[serde(default)]
    pub creator_id: Option<AccountId>,
}

/// A checkout of the caller's cart in a room, over REST: what the WebSocket `checkout`
/// message carries.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    /// One per purchase, chosen by the client: the same key never makes a second order.
    #[schema(value_type = String)]
    pub idempotency_key: IdempotencyKey,
    /// The card to pay with: 12 to 19 digits, spaces allowed. Required unless `payment`
    /// is `saved`, and then refused.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub card: Option<CardNumber>,
    /// `card` (the default): pay with `card`; `saved`: with the account's saved payment
    /// method (`GET /api/me/wallet`).
    #[serde(default)]
    pub payment: Option<PaymentSource>,
    /// Once the order is paid, save `card` as the account's payment method and `shipping`
    /// as its shipping address (each in place of the one saved before).
    #[serde(default)]
    pub save: Option<bool>,
    /// Where to ship; without it, the account's saved shipping address (if any).
    #[serde(default)]
    pub shipping: Option<ShippingAddress>,
    #[serde(default)]
    pub promo_code: Option<PromoCode>,
}

/// What the caller's account keeps for one-tap buy (`GET /api/me/wallet`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WalletView {
    /// The saved payment method, shown by brand and last four digits; `None` when none is
    /// saved.
    pub payment_method: Option<SavedCardView>,
    pub shipping_address: Option<ShippingAddress>,
}

/// A saved payment method as its owner sees it: never the number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SavedCardView {
    /// `visa`, `mastercard`, `amex`, `discover`, or `card`.
    pub brand: String,
    pub last4: String,
    pub saved_at: UnixMs,
}

/// Saves a card as the account's payment method (`PUT /api/me/wallet/payment-method`),
/// in place of the one saved before. Nothing is charged.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveCardRequest {
    /// 12 to 19 digits, spaces allowed.
    #[schema(value_type = String)]
    pub card: CardNumber,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoomFilter {
    Live,
    Upcoming,
    Ended,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoomListQuery {
    #[serde(default)]
    pub status: Option<RoomFilter>,
    /// Rooms to return: 1 to 100, 20 by default.
    #[serde(default)]
    pub limit: Option<u32>,
    /// Only the rooms this creator hosts (e.g. their next show, for a recap).
    #[serde(default)]
    pub host: Option<crate::domain::AccountId>,
}

/// `GET /api/agreements`'s query: one page, newest first.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgreementListQuery {
    /// Agreements to return: 1 to 100, 100 by default.
    #[serde(default)]
    pub limit: Option<u32>,
    /// Only agreements older than this one (smaller ids): the last id of the page before.
    #[serde(default)]
    pub before: Option<crate::domain::AgreementId>,
}

/// `GET /api/creators`'s query.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreatorListQuery {
    /// Creators to return: 1 to 100, 100 by default.
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Earnings {
    pub orders: i64,
    pub sales: Money,
    pub commission: Money,
}

/// An order as the creator it is attributed to, or a brand selling in it, sees it: the
/// buyer appears by display name; their account and their idempotency key stay theirs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AttributedOrder {
    pub id: OrderId,
    pub room_id: crate::domain::RoomId,
    pub creator_id: AccountId,
    pub buyer_name: String,
    pub status: OrderStatus,
    pub lines: Vec<OrderLineView>,
    pub subtotal: Money,
    pub commission: Money,
    pub refunded: Money,
    /// The promo code the order used, if any, and what it took off.
    pub promo_code: Option<String>,
    pub promo_code_id: Option<PromoCodeId>,
    pub discount: Money,
    /// How the commission is split between the creators of the room (rule `cohost-v1`).
    pub shares: Vec<ShareView>,
    pub created_at: UnixMs,
}

/// One creator's share of an order's commission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShareView {
    pub creator_id: AccountId,
    pub display_name: String,
    pub role: ShareRole,
    /// Basis points of each line's commission this creator earns.
    pub share_bps: i64,
    pub commission: Money,
    /// The split rule that computed it: `cohost-v1`.
    pub rule_version: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShareRole {
    Host,
    CoHost,
}

impl ShareRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ShareRole::Host => "host",
            ShareRole::CoHost => "co_host",
        }
    }
}

/// A promo code a brand issues to a creator: `percent_off` or `amount_off` (one of them).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPromoCodeRequest {
    /// 3 to 32 characters of A–Z, 0–9, `-` and `_`, case-insensitive (kept upper-case).
    pub code: PromoCode,
    /// The creator who shares it; the brand must have an active agreement with them.
    pub creator_id: AccountId,
    /// 1 to 100: this share of each eligible unit's price is taken off (rounded down).
    #[serde(default)]
    pub percent_off: Option<PercentOff>,
    /// Minor units taken off each eligible unit, in the products' currency (never below 0).
    #[serde(default)]
    pub amount_off: Option<Price>,
    /// Orders that may use it; unlimited when absent.
    #[serde(default)]
    pub max_uses: Option<MaxUses>,
    /// When it stops being accepted; never when absent.
    #[serde(default)]
    pub expires_at: Option<UnixMs>,
    /// The brand's products it applies to: 1 to 50.
    pub product_ids: Vec<ProductId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PromoCodeStatus {
    /// Accepted at checkout (where its other conditions hold).
    Live,
    /// Every use is taken (uses given back by cancelled orders make it live again).
    UsedUp,
    Expired,
    Revoked,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PromoCodeView {
    pub id: PromoCodeId,
    pub code: String,
    pub brand_id: BrandId,
    pub creator_id: AccountId,
    pub percent_off: Option<i64>,
    pub amount_off: Option<Money>,
    pub max_uses: Option<i64>,
    /// Orders placed or paid with it (cancelled orders give their use back).
    pub uses: i64,
    /// Paid orders that used it, refunded ones included.
    pub redemptions: i64,
    pub expires_at: Option<UnixMs>,
    pub revoked_at: Option<UnixMs>,
    pub created_at: UnixMs,
    pub status: PromoCodeStatus,
    pub product_ids: Vec<ProductId>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatorOrders {
    pub orders: Vec<AttributedOrder>,
    /// Per currency: paid orders the creator hosted or co-hosted, their sales, and the
    /// creator's share of their commission.
    pub earnings: Vec<Earnings>,
}

/// A creator's commission in one currency, read from the commission ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CommissionBalance {
    /// Accrued on paid orders.
    pub accrued: Money,
    /// Given back because the sale was refunded.
    pub reversed: Money,
    /// Paid out: lines whose return window has passed.
    pub settled: Money,
    /// accrued − reversed − settled: still to be paid (negative when a refund came after
    /// the line had settled, and the creator owes it back).
    pub owed: Money,
}

/// A refund of a paid order: all of the lines the caller may refund, or the units named.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// Chosen by the caller, one per refund: the same key never refunds twice.
    #[schema(value_type = String)]
    pub idempotency_key: IdempotencyKey,
    /// The units to refund; absent means every unit left of the lines the caller may refund.
    #[serde(default)]
    pub lines: Option<Vec<RefundLineRequest>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundLineRequest {
    pub product_id: ProductId,
    pub quantity: Quantity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Asked of the provider, no answer yet: retry with the same key.
    Pending,
    Refunded,
    /// The provider refused; nothing was returned, the units stay sold.
    RefundFailed,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RefundView {
    pub id: i64,
    pub order_id: OrderId,
    pub status: RefundStatus,
    pub amount: Money,
    pub lines: Vec<RefundLineView>,
    /// Why the provider refused, for `refund_failed`.
    pub failure: Option<String>,
    pub created_at: UnixMs,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RefundLineView {
    pub product_id: ProductId,
    pub quantity: i64,
    /// Minor units of the order's currency.
    pub amount: i64,
}

/// `GET /api/ice`: what a client gives its `RTCPeerConnection` (`iceServers`) before a
/// WHIP or WHEP offer, so it can reach the node through a TURN relay when it cannot
/// directly (docs/protocol.md, section 8).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IceConfig {
    pub ice_servers: Vec<IceServer>,
    /// When the TURN credentials stop working for new relays (Unix ms); `null` when there
    /// are none. Ask again before a peer connection that starts later.
    pub expires_at: Option<UnixMs>,
}

/// One STUN or TURN server, in the shape of the browser's `RTCIceServer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IceServer {
    /// `stun:`, `turn:` or `turns:` URLs.
    pub urls: Vec<String>,
    /// TURN only: `expiry:user` (the TURN REST scheme; `expiry` in Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN only: base64 of HMAC-SHA1(shared secret, username).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    pub database: &'static str,
    pub redis: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

/// A moderator: of one room (`room_id`), or with `room_id` null of all the creator's rooms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModeratorView {
    pub account_id: AccountId,
    pub display_name: String,
    pub room_id: Option<RoomId>,
}

/// A ban in force, from one room (`room_id`) or with `room_id` null from all the
/// creator's rooms. `who` is whom it holds: `a` and an account id, `n` and a guest name
/// in lower case, or `g` and a guest connection's key (as `author_key` in comments).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BanView {
    pub id: i64,
    pub room_id: Option<RoomId>,
    pub who: String,
    pub banned_at: UnixMs,
}

/// A room's blocked words and phrases, or a creator's for all their rooms, and what a
/// comment that contains one (as a whole word, in any case) gets: `refuse` (the default)
/// refuses it with `blocked_word`, `hold` holds it for review. At most 200 words, each 1
/// to 40 characters; kept trimmed, in lower case, without duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockedWordsBody {
    pub words: Vec<String>,
    /// Absent in a request: `refuse`.
    #[serde(default)]
    pub action: BlockedAction,
}

/// Appoints the account with this e-mail address a moderator.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppointRequest {
    pub email: String,
}

/// A giveaway and, once drawn, everything needed to check the draw: the seed (whose
/// SHA-256 is `commitment`), the entries it was drawn from and the winner
/// (docs/protocol.md, 4.14).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GiveawayView {
    pub id: crate::domain::GiveawayId,
    pub room_id: crate::domain::RoomId,
    pub prize: String,
    pub entry: crate::domain::EntryRule,
    pub commitment: String,
    pub closes_at: UnixMs,
    /// `open` while entries are taken, `drawn` after.
    pub status: GiveawayStatus,
    /// Accounts entered so far (while open), or drawn from.
    pub entry_count: i64,
    /// Hex, revealed by the draw; `None` while open.
    pub seed: Option<String>,
    /// The entries the draw was made from, account ids ascending; `None` while open.
    pub entries: Option<Vec<crate::domain::AccountId>>,
    pub winner: Option<crate::wire::ws::AccountName>,
    pub drawn_at: Option<UnixMs>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GiveawayStatus {
    Open,
    Drawn,
}
