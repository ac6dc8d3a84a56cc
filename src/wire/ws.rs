//! WebSocket messages of the room protocol (documented in `docs/protocol.md`).
//!
//! The first frame a client sends is [`ClientMsg::Join`] (watch a room) or
//! [`ClientMsg::FollowSales`] (a brand's live sales feed). Room events carry a room
//! sequence number; ticks (viewer count, reaction counts) and private replies do not.

use super::api::Product;
use crate::domain::{
    AccountId, AuctionId, BrandId, CardNumber, CommentText, DisplayName, DropId, DropUnits, EntryRule, ExtendSecs,
    GiveawayId, HeldCommentId, IdempotencyKey, Increments, Keyword, Money, OfferId, OrderId, PaymentSource, Price,
    Prize, ProductId, PromoCode, PromoCodeId, Quantity, Reaction, Role, RoomId, ShippingAddress, SlowModeSecs, Step,
    Tier, TimeoutSecs, UnixMs, WindowSecs,
};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// The largest text frame a client may send. A full cart or a 300-character comment fits
/// in well under a kilobyte; anything past this is refused by the WebSocket layer.
pub const MAX_CLIENT_FRAME_BYTES: usize = 4 * 1024;

/// The largest frame the server sends. Every stored text is bounded at the edge and a
/// snapshot carries cards, not descriptions, so the largest possible snapshot (a full
/// lineup, chat and cart of the longest texts) stays under it; a test builds that
/// snapshot. A frame over it is a bug: it is logged and counted, never silently dropped.
pub const MAX_SERVER_FRAME_BYTES: usize = 128 * 1024;

/// Sales a snapshot recalls: enough for a late joiner to see the show is selling.
pub const RECENT_SALES: usize = 10;

/// Reads an integer field through its domain type `T`, so its limits are checked on
/// decoding, like those of the typed fields; the schema states the same limits
/// (`value_type = T`). The field stays an `i64`, so a test can still build a message
/// the server must refuse.
fn through<'de, T, D>(d: D) -> Result<i64, D::Error>
where
    T: Deserialize<'de> + Into<i64>,
    D: Deserializer<'de>,
{
    T::deserialize(d).map(Into::into)
}

/// As [`through`], for an optional field (absent or `null` is `None`).
fn through_optional<'de, T, D>(d: D) -> Result<Option<i64>, D::Error>
where
    T: Deserialize<'de> + Into<i64>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(|v| v.map(Into::into))
}

/// What a client sends: one JSON object per text frame, tagged by `type`. Every field's
/// own limits are checked on decoding (docs/protocol.md, section 4).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMsg {
    /// Watch a room: with a session token, or as a guest with a display name. `since` and
    /// `epoch` (from an earlier snapshot) resume a dropped connection without a gap.
    Join {
        room_id: RoomId,
        #[serde(default)]
        token: Option<String>,
        #[serde(default)]
        guest_name: Option<DisplayName>,
        #[serde(default)]
        since: Option<u64>,
        #[serde(default)]
        epoch: Option<String>,
        /// A private rehearsal's audience key, which lets anyone (a guest too) join it.
        #[serde(default)]
        audience_key: Option<String>,
    },
    /// A brand member's live feed of every sale of the brand's products, in any room.
    FollowSales {
        token: String,
    },
    /// A signed-in account's notices (a followed creator going live), on a connection
    /// that watches no room.
    Listen {
        token: String,
    },
    Comment {
        text: CommentText,
    },
    React {
        reaction: Reaction,
    },
    /// Host only.
    Pin {
        product_id: ProductId,
    },
    /// Host only. (Written `{}` so that, like every message, it refuses extra fields.)
    Unpin {},
    /// Host only: sell `quantity` units of a lined-up product, at `price` if given, until
    /// `duration_secs` have passed or the units are gone.
    StartDrop {
        product_id: ProductId,
        #[serde(deserialize_with = "through::<DropUnits, _>")]
        #[schema(value_type = DropUnits)]
        quantity: i64,
        #[serde(default, deserialize_with = "through_optional::<Price, _>")]
        #[schema(value_type = Option<Price>)]
        price: Option<i64>,
        #[serde(deserialize_with = "through::<WindowSecs, _>")]
        #[schema(value_type = WindowSecs)]
        duration_secs: i64,
        /// At most this many units per buyer (1 to 99); absent or null: no limit.
        #[serde(default, deserialize_with = "through_optional::<Quantity, _>")]
        #[schema(value_type = Option<Quantity>)]
        per_buyer: Option<i64>,
    },
    /// Host only: a provably fair giveaway in the room (docs/protocol.md, 4.14).
    StartGiveaway {
        prize: Prize,
        entry: EntryRule,
        #[serde(deserialize_with = "through::<WindowSecs, _>")]
        #[schema(value_type = WindowSecs)]
        duration_secs: i64,
    },
    /// A signed-in viewer enters the room's open giveaway, once.
    EnterGiveaway {
        giveaway_id: GiveawayId,
    },
    /// Host only: auctions one unit of a lined-up product (docs/protocol.md, 4.20).
    StartAuction {
        product_id: ProductId,
        #[serde(deserialize_with = "through::<Price, _>")]
        #[schema(value_type = Price)]
        starting_price: i64,
        #[serde(deserialize_with = "through::<WindowSecs, _>")]
        #[schema(value_type = WindowSecs)]
        duration_secs: i64,
        /// Absent or null: the default table.
        #[serde(default)]
        increments: Option<Increments>,
        /// Absent or null: 10.
        #[serde(default)]
        extend_secs: Option<ExtendSecs>,
        /// True: a bid in the last seconds does not extend the auction.
        #[serde(default)]
        sudden_death: Option<bool>,
    },
    /// A signed-in viewer bids `amount` outright, and lets the server bid for them up to
    /// `max_amount` (4.21).
    Bid {
        auction_id: AuctionId,
        #[serde(deserialize_with = "through::<Price, _>")]
        #[schema(value_type = Price)]
        amount: i64,
        #[serde(default, deserialize_with = "through_optional::<Price, _>")]
        #[schema(value_type = Option<Price>)]
        max_amount: Option<i64>,
    },
    /// Pays an offer made to the caller (an auction won), as `checkout` pays a cart (4.22).
    PayOffer {
        offer_id: OfferId,
        idempotency_key: IdempotencyKey,
        #[serde(default)]
        card: Option<CardNumber>,
        #[serde(default)]
        payment: Option<PaymentSource>,
        #[serde(default)]
        save: Option<bool>,
        #[serde(default)]
        shipping: Option<ShippingAddress>,
    },
    /// A signed-in viewer joins the waitlist of a sold-out lined-up product (4.25).
    JoinWaitlist {
        product_id: ProductId,
    },
    /// Leaves it (4.26).
    LeaveWaitlist {
        product_id: ProductId,
    },
    /// Host only.
    EndRoom {},
    /// The viewer opened a lined-up product's card: the answer is a private `product`
    /// with its description (and the view counts in the room's report).
    ViewProduct {
        product_id: ProductId,
    },
    CartAdd {
        product_id: ProductId,
        #[serde(deserialize_with = "through::<Quantity, _>")]
        #[schema(value_type = Quantity)]
        quantity: i64,
    },
    CartSet {
        product_id: ProductId,
        #[serde(deserialize_with = "through::<Quantity, _>")]
        #[schema(value_type = Quantity)]
        quantity: i64,
    },
    CartRemove {
        product_id: ProductId,
    },
    /// Buy what is in the cart, with a promo code if one is given. Sending the same key
    /// again never makes a second order. Pays with `card`, or with the account's saved
    /// method when `payment` is `saved` (exactly one of the two, checked after decoding);
    /// `save` keeps the card and `shipping` on the account once the order is paid.
    Checkout {
        idempotency_key: IdempotencyKey,
        #[serde(default)]
        card: Option<CardNumber>,
        #[serde(default)]
        payment: Option<PaymentSource>,
        #[serde(default)]
        save: Option<bool>,
        #[serde(default)]
        shipping: Option<ShippingAddress>,
        #[serde(default)]
        promo_code: Option<PromoCode>,
    },
    /// Host or moderator: removes comment `seq` for everyone (and from snapshots).
    DeleteComment {
        seq: u64,
    },
    /// Host or moderator: the author of comment `seq` may not comment for `secs` seconds.
    Timeout {
        seq: u64,
        #[serde(deserialize_with = "through::<TimeoutSecs, _>")]
        #[schema(value_type = TimeoutSecs)]
        secs: i64,
    },
    /// Host or moderator: bans the author of comment `seq` from this room, or with
    /// `scope` `creator` from all of the host's rooms. Their connections close; they may
    /// not join again.
    Ban {
        seq: u64,
        #[serde(default)]
        scope: Option<BanScope>,
    },
    /// Host or moderator: each viewer may comment once per `secs` seconds; 0 turns it off.
    SlowMode {
        #[serde(deserialize_with = "through::<SlowModeSecs, _>")]
        #[schema(value_type = SlowModeSecs)]
        secs: i64,
    },
    /// Host or moderator: publishes held comment `id` to the room, as a comment of now.
    ApproveComment {
        id: HeldCommentId,
    },
    /// Host or moderator: drops held comment `id`; its author is not told.
    RejectComment {
        id: HeldCommentId,
    },
}

/// Where a ban holds: the room (the default), or every room of its host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BanScope {
    #[default]
    Room,
    Creator,
}

/// Close code of a connection whose viewer was banned (docs/protocol.md, section 2).
pub const CLOSE_BANNED: u16 = 4003;

impl ClientMsg {
    /// Every message's `type`, as [`ClientMsg::kind`] names them.
    pub const TYPES: &[&str] = &[
        "join",
        "follow_sales",
        "listen",
        "comment",
        "react",
        "pin",
        "unpin",
        "start_drop",
        "start_giveaway",
        "enter_giveaway",
        "start_auction",
        "bid",
        "pay_offer",
        "join_waitlist",
        "leave_waitlist",
        "end_room",
        "view_product",
        "cart_add",
        "cart_set",
        "cart_remove",
        "checkout",
        "delete_comment",
        "timeout",
        "ban",
        "slow_mode",
        "approve_comment",
        "reject_comment",
    ];

    /// The `type` tag, echoed in error frames so a client knows which request failed.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientMsg::Join { .. } => "join",
            ClientMsg::FollowSales { .. } => "follow_sales",
            ClientMsg::Listen { .. } => "listen",
            ClientMsg::Comment { .. } => "comment",
            ClientMsg::React { .. } => "react",
            ClientMsg::Pin { .. } => "pin",
            ClientMsg::Unpin {} => "unpin",
            ClientMsg::StartDrop { .. } => "start_drop",
            ClientMsg::StartGiveaway { .. } => "start_giveaway",
            ClientMsg::EnterGiveaway { .. } => "enter_giveaway",
            ClientMsg::StartAuction { .. } => "start_auction",
            ClientMsg::Bid { .. } => "bid",
            ClientMsg::PayOffer { .. } => "pay_offer",
            ClientMsg::JoinWaitlist { .. } => "join_waitlist",
            ClientMsg::LeaveWaitlist { .. } => "leave_waitlist",
            ClientMsg::EndRoom {} => "end_room",
            ClientMsg::ViewProduct { .. } => "view_product",
            ClientMsg::CartAdd { .. } => "cart_add",
            ClientMsg::CartSet { .. } => "cart_set",
            ClientMsg::CartRemove { .. } => "cart_remove",
            ClientMsg::Checkout { .. } => "checkout",
            ClientMsg::DeleteComment { .. } => "delete_comment",
            ClientMsg::Timeout { .. } => "timeout",
            ClientMsg::Ban { .. } => "ban",
            ClientMsg::SlowMode { .. } => "slow_mode",
            ClientMsg::ApproveComment { .. } => "approve_comment",
            ClientMsg::RejectComment { .. } => "reject_comment",
        }
    }
}

/// What the server sends: one JSON object per text frame, tagged by `type`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// Everything a client needs to draw the room. `reset` is true when the client asked
    /// to resume but the events it missed are no longer in history.
    Snapshot(Box<Snapshot>),
    /// The client's `since` was honoured: the missed events follow, then live ones.
    Resumed { epoch: String, since: u64, seq: u64 },
    /// A room event. `seq` increases by one per event of the room.
    Event { seq: u64, event: RoomEvent },
    /// Tick: viewers connected to the room now.
    Viewers { count: u64 },
    /// Tick: reactions sent since the last tick, as counts.
    Reactions { counts: BTreeMap<Reaction, u64> },
    /// Private: the product the caller asked to view, with everything about it.
    Product { product: Box<Product> },
    /// Private: the caller's cart after a change.
    Cart { cart: CartView },
    /// Private: the caller is entered in the giveaway (also when they already were).
    GiveawayEntered { giveaway_id: GiveawayId, entries: i64 },
    /// Private: the caller's bid was taken. `leading` is false when another bidder's
    /// maximum already beats it; `max` is the caller's maximum, known only to them.
    BidPlaced { auction_id: AuctionId, leading: bool, price: Money, max: Money },
    /// Private, on every connection of the account: a unit is held for it at a set price
    /// until `expires_at` (an auction won); pay it with `pay_offer`.
    Offer { offer: OfferView },
    /// Private: where the caller is on the product's waitlist (1: next), or null when not
    /// on it (after `leave_waitlist`).
    Waitlist { product_id: ProductId, place: Option<i64> },
    /// Private: the answer to a comment that asked to buy (`SOLD`, `BUY 2 SERUM`): the
    /// offer holding the units, or why none could be made (`code`, `message`). The comment
    /// itself was posted either way.
    CommentPurchase {
        product_id: Option<ProductId>,
        quantity: i64,
        offer: Option<OfferView>,
        code: Option<String>,
        message: Option<String>,
    },
    /// Private: the caller's order is placed and paid.
    OrderConfirmed { order: OrderView },
    /// The brand sales feed is open.
    FollowingSales { brand_id: BrandId },
    /// One sale of the brand's products, in any room.
    BrandSale(Box<BrandSale>),
    /// The connection receives the account's notices.
    Listening { account_id: AccountId },
    /// Private: a creator the account follows went live in this room.
    GoingLive { room: Box<RoomCard> },
    /// Private, to the sender: their comment has a blocked word and is held for the host
    /// or a moderator to review; the room does not see it unless it is approved.
    HeldForReview { text: String },
    /// Private, to the host and the room's moderators: a comment was held for review.
    CommentHeld(Box<HeldComment>),
    /// Private, to the host and the room's moderators: held comment `id` was approved
    /// (it is now an ordinary comment of the room) or rejected; it leaves the queue.
    CommentReviewed { room_id: RoomId, id: HeldCommentId, approved: bool },
    /// The request named in `request` failed and changed nothing (except where the code
    /// says otherwise, e.g. `payment_unavailable` keeps the hold for a retry).
    Error {
        code: String,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request: Option<String>,
    },
}

/// A sequenced room event, inside an `event` frame, tagged by `kind`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RoomEvent {
    Comment(CommentView),
    Pinned {
        product: ProductCard,
    },
    /// A lined-up product changed: its price, title or image, or its stock (a
    /// restock, a recount, a refund). Replace the product's card with this one.
    ProductUpdated {
        product: ProductCard,
    },
    Unpinned {
        product_id: ProductId,
    },
    DropStarted {
        drop: DropCard,
    },
    DropEnded {
        drop_id: DropId,
        sold: i64,
    },
    Sale(SaleView),
    RoomLive,
    RoomEnded,
    /// The host's camera is on air. `resumed` is true when it comes back after a stop.
    StreamStarted {
        resumed: bool,
    },
    /// The host's stream stopped (publisher left or was replaced); chat and checkout go on.
    StreamStopped,
    /// The host opened a giveaway: enter with `enter_giveaway` until `closes_at`.
    GiveawayStarted {
        giveaway: GiveawayCard,
    },
    /// Entries closed and the winner was drawn: with the seed revealed, anyone can check
    /// the draw against the commitment and the entry list (`GET /api/giveaways/{id}`).
    GiveawayDrawn {
        giveaway_id: GiveawayId,
        seed: String,
        entries: i64,
        winner: Option<AccountName>,
    },
    /// The host started an auction: bid with `bid` until `ends_at` (which late bids move).
    AuctionStarted {
        auction: AuctionCard,
    },
    /// A bid was taken: the price, who leads, the bids so far, the end (moved when
    /// `extended`) and the least next bid.
    AuctionBid {
        auction_id: AuctionId,
        price: Money,
        leader: AccountName,
        bids: i64,
        ends_at: UnixMs,
        extended: bool,
        min_bid: Money,
    },
    /// Bidding is over: no bid is taken after this. `winner` and `price` are null when
    /// nobody bid.
    AuctionEnded {
        auction_id: AuctionId,
        winner: Option<AccountName>,
        price: Option<Money>,
    },
    /// The unit is held for `buyer` at `price` until `pay_by`: round 1 is the winner,
    /// each later round the next bidder after one who did not pay in time.
    AuctionOffered {
        auction_id: AuctionId,
        buyer: AccountName,
        price: Money,
        pay_by: UnixMs,
        round: i64,
    },
    /// The auction is over for good: `sold` to `buyer` at `price`, or `unsold`.
    AuctionSettled {
        auction_id: AuctionId,
        outcome: AuctionOutcome,
        buyer: Option<AccountName>,
        price: Option<Money>,
    },
    /// The host changed the room's comment-to-buy keywords: replace them all.
    KeywordsUpdated {
        keywords: Vec<KeywordCard>,
    },
    /// The room's co-host or its sponsorship disclosure changed (a co-host set or cleared,
    /// an agreement made or ended): replace both in the room card.
    RoomUpdated {
        co_host: Option<CoHostCard>,
        disclosure: Option<String>,
    },
    /// A host or moderator deleted comment `seq`: remove it from the chat.
    CommentDeleted {
        seq: u64,
    },
    /// The author of comment `seq` (named `author`, keyed `author_key`) may not comment
    /// until `until`.
    TimedOut {
        seq: u64,
        author: String,
        author_key: String,
        until: UnixMs,
    },
    /// The author of comment `seq` was banned from the room, or (`scope` `creator`) from
    /// all its host's rooms; their connections are being closed.
    Banned {
        seq: u64,
        author: String,
        author_key: String,
        scope: BanScope,
    },
    /// Slow mode changed: each viewer may comment once per `secs` seconds (0: off).
    SlowMode {
        secs: i64,
    },
}

/// An open giveaway, as viewers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GiveawayCard {
    pub id: GiveawayId,
    pub prize: String,
    pub entry: EntryRule,
    /// Hex SHA-256 of the secret seed the draw will use, published before any entry.
    pub commitment: String,
    pub closes_at: UnixMs,
}

/// How an auction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuctionOutcome {
    Sold,
    /// Nobody bid, nobody paid in time, or no unit was left to hold.
    Unsold,
}

/// Where a running auction is: taking bids, or over and offered to a buyer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuctionPhase {
    Open,
    Awarded,
}

/// A running auction, as viewers see it (in `auction_started` and snapshots).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuctionCard {
    pub id: AuctionId,
    pub product_id: ProductId,
    pub title: String,
    pub phase: AuctionPhase,
    pub starting_price: Money,
    pub increments: Vec<Step>,
    /// Seconds a late bid extends the auction by; 0 in sudden death.
    pub extend_secs: i64,
    pub sudden_death: bool,
    pub ends_at: UnixMs,
    pub bids: i64,
    /// The price now and who leads; null before the first bid.
    pub price: Option<Money>,
    pub leader: Option<AccountName>,
    pub min_bid: Money,
    /// Once awarded: who the unit is held for, until when, at what price.
    pub offer: Option<AuctionOfferCard>,
}

/// An auction's unit held for one buyer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuctionOfferCard {
    pub buyer: AccountName,
    pub price: Money,
    pub pay_by: UnixMs,
    pub round: i64,
}

/// A lined-up product's comment-to-buy keyword: `BUY <keyword>` in a comment buys it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeywordCard {
    pub product_id: ProductId,
    #[schema(value_type = Keyword)]
    pub keyword: Keyword,
}

/// A unit held for the caller at a set price until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OfferView {
    pub id: OfferId,
    pub room_id: RoomId,
    pub product_id: ProductId,
    pub title: String,
    pub quantity: i64,
    /// Per unit.
    pub price: Money,
    pub expires_at: UnixMs,
}

/// An account as the room shows it: who won a giveaway, who leads an auction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AccountName {
    pub account_id: AccountId,
    pub display_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Snapshot {
    pub room: RoomCard,
    pub lineup: Vec<ProductCard>,
    pub pinned: Option<ProductId>,
    pub drop: Option<DropCard>,
    /// The open giveaway, if any.
    pub giveaway: Option<GiveawayCard>,
    /// The running auction (taking bids, or awarded and waiting for payment), if any.
    pub auction: Option<AuctionCard>,
    /// The lined-up products' comment-to-buy keywords.
    pub keywords: Vec<KeywordCard>,
    /// The most recent comments, oldest first, each with its sequence number.
    pub comments: Vec<SequencedComment>,
    /// The show's latest sales, newest first: at most [`RECENT_SALES`].
    pub recent_sales: Vec<RecentSale>,
    /// Units sold in paid orders of the room so far.
    pub units_sold: i64,
    /// Reactions sent in the room so far, by name, as of the latest tick; the `reactions`
    /// ticks that follow add to them.
    pub reaction_totals: BTreeMap<Reaction, u64>,
    pub viewers: u64,
    /// Whether the host's stream is on air: watch it through WHEP when true.
    pub streaming: bool,
    /// Slow mode: each viewer may comment once per this many seconds; 0 when off.
    pub slow_mode_secs: i64,
    /// `None` for guests, who cannot buy.
    pub cart: Option<CartView>,
    pub you: Participant,
    /// The room's last sequence number: events after it follow this snapshot.
    pub seq: u64,
    /// Identifies the room's event history; resume only within the same epoch.
    pub epoch: String,
    pub reset: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RoomCard {
    pub id: RoomId,
    pub title: String,
    pub status: RoomStatus,
    pub starts_at: UnixMs,
    pub host: HostCard,
    /// The creator co-hosting with the host, who earns a share of the commission.
    pub co_host: Option<CoHostCard>,
    /// The sponsorship disclosure a viewer must see ("Paid partnership with Glow Labs"),
    /// or `None` when the room sells under no paid agreement.
    pub disclosure: Option<String>,
    /// For a private rehearsal (only test cards pay; nothing sold is real), the scheduled
    /// room it rehearses; `None` for every other room.
    pub rehearsal_of: Option<RoomId>,
}

/// A room's co-host, as viewers see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CoHostCard {
    pub id: AccountId,
    pub display_name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoomStatus {
    Scheduled,
    Live,
    Ended,
}

impl RoomStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RoomStatus::Scheduled => "scheduled",
            RoomStatus::Live => "live",
            RoomStatus::Ended => "ended",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HostCard {
    pub id: AccountId,
    pub display_name: String,
    pub followers: i64,
    pub tier: Tier,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProductCard {
    pub id: ProductId,
    pub brand_id: BrandId,
    pub title: String,
    pub image_url: String,
    pub price: Money,
    /// Units that can still be bought right now (stock less live holds).
    pub stock: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DropCard {
    pub id: DropId,
    pub product_id: ProductId,
    pub quantity: i64,
    pub remaining: i64,
    pub price: Money,
    pub ends_at: UnixMs,
    /// Units one buyer may have of the drop over all their orders; `None`: no limit.
    pub per_buyer: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    Host,
    Viewer,
    Guest,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CommentView {
    pub author: String,
    /// Who wrote it, as moderation knows them: `a{account id}` for an account, `g…` for
    /// one guest connection. The same for every comment of one author.
    pub author_key: String,
    pub speaker: Speaker,
    pub text: String,
    pub at: UnixMs,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SequencedComment {
    pub seq: u64,
    #[serde(flatten)]
    pub comment: CommentView,
}

/// A comment held for review: who wrote it, what, the blocked word that held it, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HeldComment {
    pub room_id: RoomId,
    pub id: HeldCommentId,
    pub author: String,
    /// As in comments: `a{account id}`, or `g…` for one guest connection.
    pub author_key: String,
    pub text: String,
    pub word: String,
    pub at: UnixMs,
}

/// A sale as the room sees it: a display name, never an account id or an address.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SaleView {
    pub buyer: String,
    pub product_id: ProductId,
    pub title: String,
    pub quantity: i64,
    pub stock_left: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_left: Option<i64>,
    /// When the order was paid.
    pub at: UnixMs,
}

/// A sale of the show as a snapshot recalls it for a late joiner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecentSale {
    /// The buyer's display name only.
    pub buyer: String,
    pub product_id: ProductId,
    pub title: String,
    pub quantity: i64,
    /// When the order was paid.
    pub at: UnixMs,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Participant {
    pub display_name: String,
    pub account_id: Option<AccountId>,
    pub role: Option<Role>,
    pub is_host: bool,
    /// A moderator of the room (or of all its host's rooms) when they joined.
    pub is_moderator: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CartView {
    pub lines: Vec<CartLineView>,
    /// `None` when the cart is empty.
    pub total: Option<Money>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CartLineView {
    pub product_id: ProductId,
    pub title: String,
    pub quantity: i64,
    pub unit_price: Money,
    pub line_total: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderView {
    pub id: OrderId,
    /// What buyers see as the order's number (`OrderId::reference`): 9 characters, not a
    /// counter; `id` stays the key for APIs.
    pub reference: String,
    pub room_id: RoomId,
    /// The creator who hosted the room when the order was placed: who the sale is
    /// attributed to.
    pub creator_id: AccountId,
    pub buyer_id: AccountId,
    pub status: OrderStatus,
    pub lines: Vec<OrderLineView>,
    pub subtotal: Money,
    pub commission: Money,
    /// What has been refunded of the subtotal so far.
    pub refunded: Money,
    /// The promo code the order used, if any (upper-case), and its id.
    pub promo_code: Option<String>,
    pub promo_code_id: Option<PromoCodeId>,
    /// What the promo code took off: Σ (list price − unit price) × quantity.
    pub discount: Money,
    pub idempotency_key: String,
    pub failure_code: Option<String>,
    pub created_at: UnixMs,
    /// Where the order ships: the address given at checkout (or the account's saved one
    /// then), as it was; `None` when the checkout had none. (Boxed: most frames carry none.)
    pub shipping: Option<Box<ShippingAddress>>,
    /// Placed in a rehearsal (paid with a test card): nothing ships, and no report,
    /// payout or sales feed counts it.
    pub rehearsal: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderLineView {
    pub product_id: ProductId,
    pub brand_id: BrandId,
    pub drop_id: Option<DropId>,
    pub title: String,
    pub quantity: i64,
    /// The unit price before any promo code (the catalogue or drop price).
    pub list_price: i64,
    /// What the buyer paid per unit.
    pub unit_price: i64,
    pub line_total: i64,
    pub commission: i64,
    /// Units of the line refunded so far.
    pub refunded_quantity: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Placed,
    Paid,
    Cancelled,
    Refunded,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Placed => "placed",
            OrderStatus::Paid => "paid",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Refunded => "refunded",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BrandSale {
    pub order_id: OrderId,
    pub room_id: RoomId,
    pub creator_id: AccountId,
    pub creator_name: String,
    pub product_id: ProductId,
    pub title: String,
    pub quantity: i64,
    pub amount: Money,
    pub commission: Money,
    pub at: UnixMs,
}
