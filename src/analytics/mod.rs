//! What happens in rooms, recorded for the numbers brands decide by (conversion,
//! engagement, sales velocity, ROI), and the reports built from it and from the order
//! and commission ledgers ([`Reports`], [`Campaigns`]: the figures of docs/metrics.md, worked out
//! by [`report`] from sums the store aggregates).
//!
//! Recording is off the hot path: [`Analytics::record`] hands the event to a bounded
//! queue and never waits; a task writes the queue to the event log in batches (every
//! second, or sooner when a batch fills). Scaled out, every node records its own events
//! into the one database. A full queue drops the event and counts it
//! (`livecart_analytics_dropped_total`): chat never waits for analytics.

mod campaigns;
mod recorder;
pub mod report;
pub mod report_csv;
mod reports;

pub use campaigns::Campaigns;
pub use recorder::Recorder;
pub use reports::{BASELINE_ROOMS, Reports};

use crate::domain::{AccountId, DropId, Invalid, Money, OrderId, ProductId, PromoCodeId, Refusal, RoomId, UnixMs};
use crate::store::{EventRow, StoreError};

/// Why a report or a campaign was refused, or could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("database")]
    Store(#[from] StoreError),
}

impl From<Invalid> for ReportError {
    fn from(e: Invalid) -> Self {
        ReportError::Refused(e.into())
    }
}

/// Who did something in a room: an account, or one guest connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Who {
    /// `a{account}`, or `g{random}` for a guest connection.
    pub key: String,
    pub account: Option<AccountId>,
}

impl Who {
    pub fn account(id: AccountId) -> Who {
        Who { key: format!("a{id}"), account: Some(id) }
    }

    /// One guest connection: a fresh random key, so two guests never count as one (and
    /// one guest watching twice counts twice, which is all a guest can be known by).
    pub fn guest() -> Who {
        Who { key: format!("g{:016x}", rand::random::<u64>()), account: None }
    }
}

/// One thing worth counting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A viewer's connection to the room opened (the host's are not recorded: the host
    /// is not their own audience, nor are their comments and views).
    Joined {
        room: RoomId,
        who: Who,
    },
    /// It closed, after `watched_ms` in the room.
    Left {
        room: RoomId,
        who: Who,
        watched_ms: i64,
    },
    /// The room's viewer count (over every node) changed, as a node reported it to its
    /// viewers on a tick: every node records it, so the same count may appear once per
    /// node (a peak is still the peak).
    Viewers {
        room: RoomId,
        count: i64,
    },
    /// A product was pinned in front of `viewers` viewers (its impressions).
    PinStarted {
        room: RoomId,
        product: ProductId,
        viewers: i64,
    },
    /// The pin was taken down or replaced by another. A pin still up when the room
    /// ends ends with it (reports close it at the room's `ended_at`).
    PinEnded {
        room: RoomId,
        product: ProductId,
    },
    /// A viewer opened a product's details.
    ProductViewed {
        room: RoomId,
        who: Who,
        product: ProductId,
    },
    CartAdded {
        room: RoomId,
        who: Who,
        product: ProductId,
        quantity: i64,
    },
    CheckoutStarted {
        room: RoomId,
        who: Who,
    },
    CheckoutPaid {
        room: RoomId,
        who: Who,
        order: OrderId,
        amount: Money,
    },
    CheckoutFailed {
        room: RoomId,
        who: Who,
    },
    Commented {
        room: RoomId,
        who: Who,
    },
    /// Reactions gathered in one tick on one node.
    Reacted {
        room: RoomId,
        count: i64,
    },
    DropStarted {
        room: RoomId,
        drop: DropId,
        product: ProductId,
        quantity: i64,
    },
    /// The paid order that took a drop's last unit (read back from the database after
    /// it settled; two orders settling at once may both see it, the first counts).
    DropSoldOut {
        room: RoomId,
        drop: DropId,
        product: ProductId,
    },
    Refunded {
        order: OrderId,
        amount: Money,
    },
    /// A paid order used a promo code (`value` is the code's id).
    PromoRedeemed {
        room: RoomId,
        who: Who,
        order: OrderId,
        code: PromoCodeId,
    },
}

impl Event {
    /// The event as a row of the log, at `at`.
    pub fn row(&self, at: UnixMs) -> EventRow {
        let base = |kind, room: &RoomId| EventRow { at, kind, room: Some(*room), ..EventRow::default() };
        let by = |kind, room: &RoomId, who: &Who| EventRow {
            viewer: Some(who.key.clone()),
            account: who.account,
            ..base(kind, room)
        };
        match self {
            Event::Joined { room, who } => by("joined", room, who),
            Event::Left { room, who, watched_ms } => EventRow { value: Some(*watched_ms), ..by("left", room, who) },
            Event::Viewers { room, count } => EventRow { value: Some(*count), ..base("viewers", room) },
            Event::PinStarted { room, product, viewers } => {
                EventRow { product: Some(*product), value: Some(*viewers), ..base("pin_started", room) }
            }
            Event::PinEnded { room, product } => EventRow { product: Some(*product), ..base("pin_ended", room) },
            Event::ProductViewed { room, who, product } => {
                EventRow { product: Some(*product), ..by("product_viewed", room, who) }
            }
            Event::CartAdded { room, who, product, quantity } => {
                EventRow { product: Some(*product), quantity: Some(*quantity), ..by("cart_added", room, who) }
            }
            Event::CheckoutStarted { room, who } => by("checkout_started", room, who),
            Event::CheckoutPaid { room, who, order, amount } => {
                EventRow { order: Some(*order), amount: Some(*amount), ..by("checkout_paid", room, who) }
            }
            Event::CheckoutFailed { room, who } => by("checkout_failed", room, who),
            Event::Commented { room, who } => by("commented", room, who),
            Event::Reacted { room, count } => EventRow { value: Some(*count), ..base("reacted", room) },
            Event::DropStarted { room, drop, product, quantity } => EventRow {
                product: Some(*product),
                quantity: Some(*quantity),
                value: Some(drop.get()),
                ..base("drop_started", room)
            },
            Event::DropSoldOut { room, drop, product } => {
                EventRow { product: Some(*product), value: Some(drop.get()), ..base("drop_sold_out", room) }
            }
            Event::Refunded { order, amount } => {
                EventRow { at, kind: "refunded", order: Some(*order), amount: Some(*amount), ..EventRow::default() }
            }
            Event::PromoRedeemed { room, who, order, code } => {
                EventRow { order: Some(*order), value: Some(code.get()), ..by("promo_redeemed", room, who) }
            }
        }
    }
}
