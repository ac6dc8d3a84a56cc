//! The values of the live-shopping domain, parsed once at the edge.
//!
//! Every constructor here rejects what the domain cannot hold (a negative price, a
//! quantity of zero, a comment of ten thousand characters), so modules further in never
//! re-check and never see such a value.

/// A whole number of seconds within a range, checked at the edge, with its schema.
macro_rules! secs_type {
    ($(#[$doc:meta])* $name:ident, $field:literal, $min:expr, $max:expr, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "i64", into = "i64")]
        pub struct $name(i64);

        impl $name {
            pub const RANGE: std::ops::RangeInclusive<i64> = $min..=$max;

            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl TryFrom<i64> for $name {
            type Error = Invalid;

            fn try_from(raw: i64) -> Result<Self, Invalid> {
                if Self::RANGE.contains(&raw) {
                    Ok($name(raw))
                } else {
                    let (min, max) = (Self::RANGE.start(), Self::RANGE.end());
                    Err(Invalid::new($field, format!("must be between {min} and {max}, got {raw}")))
                }
            }
        }

        impl From<$name> for i64 {
            fn from(d: $name) -> i64 {
                d.0
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                schema::integer(Some(*Self::RANGE.start()), Some(*Self::RANGE.end()), $what)
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

mod auction;
mod giveaway;
mod ids;
mod keyword;
mod moderation;
mod money;
mod promo;
mod rate;
mod rehearsal;
mod schema;
mod text;
mod time;
mod wallet;

pub use auction::{BidBook, BidRefusal, Bidder, ExtendSecs, Increments, Standing, Step};
pub use giveaway::{EntryRule, Seed};
pub use ids::{
    AccountId, AdjustmentId, AgreementId, AuctionId, BrandId, CampaignId, DropId, GiveawayId, HeldCommentId, OfferId,
    OrderId, ProductId, PromoCodeId, RoomId,
};
pub use keyword::{BuyIntent, Keyword, buy_intent};
pub use moderation::{Blocked, BlockedAction, BlockedWords, ChatFilter, SlowModeSecs, TimeoutSecs, WordRule};
pub use money::{Currency, Money, Price};
pub use promo::{MaxUses, PercentOff, PromoCode, ShareBps};
pub use rate::{RateLimit, TokenBucket};
pub use rehearsal::AudienceKey;
pub use text::{
    AddressLine1, AddressLine2, CampaignName, CardNumber, City, CommentText, DisplayName, Email, IdempotencyKey,
    ImageUrl, Password, PostalCode, Prize, ProductDescription, ProductTitle, RecipientName, Region, RoomTitle,
};
pub use time::{Clock, UnixMs};
pub use wallet::{CountryCode, PaymentSource, ShippingAddress};

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a raw value was refused: the field it was meant for and what was wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Invalid {
    pub field: &'static str,
    pub reason: String,
}

impl Invalid {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self { field, reason: reason.into() }
    }
}

/// How many items a list answers with: `asked`, or `default` when the caller did not
/// say; from 1 to `max`, so no list answer grows with what is stored.
pub fn list_limit(asked: Option<u32>, default: u32, max: u32) -> Result<u32, Invalid> {
    let limit = asked.unwrap_or(default);
    if (1..=max).contains(&limit) {
        Ok(limit)
    } else {
        Err(Invalid::new("limit", format!("must be between 1 and {max}")))
    }
}

/// A request the domain turns down for a reason the caller can act on. Every domain
/// module's error carries one for these common cases; only the edge decides what each
/// means on the wire (a status, a code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The account may not do this; the text says who may.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The request does not fit the current state; the text says why.
    #[error("{0}")]
    Conflict(&'static str),
    #[error(transparent)]
    Invalid(#[from] Invalid),
}

/// What an account may do. A brand member acts for exactly one brand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Creator,
    Brand,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Creator => "creator",
            Role::Brand => "brand",
            Role::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        match raw {
            "viewer" => Ok(Role::Viewer),
            "creator" => Ok(Role::Creator),
            "brand" => Ok(Role::Brand),
            "admin" => Ok(Role::Admin),
            other => Err(Invalid::new("role", format!("unknown role {other:?}"))),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A creator's reach bracket. Brands compare creators within a tier, because a nano
/// creator's conversion rate means something different from a mega creator's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Under 10,000 followers.
    Nano,
    /// 10,000 to 99,999.
    Micro,
    /// 100,000 to 499,999.
    Mid,
    /// 500,000 to 999,999.
    Macro,
    /// A million or more.
    Mega,
}

impl Tier {
    pub const ALL: [Tier; 5] = [Tier::Nano, Tier::Micro, Tier::Mid, Tier::Macro, Tier::Mega];

    /// The fewest followers of each tier, in the order of [`Tier::ALL`]
    /// (docs/metrics.md, "Creator tiers").
    pub const FLOORS: [i64; 5] = [0, 10_000, 100_000, 500_000, 1_000_000];

    pub fn for_followers(followers: i64) -> Self {
        match followers {
            ..10_000 => Tier::Nano,
            10_000..100_000 => Tier::Micro,
            100_000..500_000 => Tier::Mid,
            500_000..1_000_000 => Tier::Macro,
            _ => Tier::Mega,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Nano => "nano",
            Tier::Micro => "micro",
            Tier::Mid => "mid",
            Tier::Macro => "macro",
            Tier::Mega => "mega",
        }
    }
}

/// Units of one product in one cart line or order line: at least one, at most
/// [`Quantity::MAX`], so a typo cannot reserve a warehouse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Quantity(u32);

impl utoipa::PartialSchema for Quantity {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        schema::integer(Some(1), Some(i64::from(Self::MAX)), "Units of one product in a cart or order line.")
    }
}

impl utoipa::ToSchema for Quantity {}

impl Quantity {
    pub const MAX: u32 = 99;

    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<i64> for Quantity {
    type Error = Invalid;

    fn try_from(raw: i64) -> Result<Self, Invalid> {
        if (1..=i64::from(Self::MAX)).contains(&raw) {
            Ok(Quantity(raw as u32))
        } else {
            Err(Invalid::new("quantity", format!("must be between 1 and {}, got {raw}", Self::MAX)))
        }
    }
}

impl From<Quantity> for i64 {
    fn from(q: Quantity) -> i64 {
        i64::from(q.0)
    }
}

/// Units a brand has on hand for a product. Zero is allowed (sold out), negative is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Stock(i64);

impl utoipa::PartialSchema for Stock {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        schema::integer(Some(0), Some(Self::MAX), "Units on hand.")
    }
}

impl utoipa::ToSchema for Stock {}

impl Stock {
    pub const MAX: i64 = 1_000_000_000;

    pub fn get(self) -> i64 {
        self.0
    }
}

impl TryFrom<i64> for Stock {
    type Error = Invalid;

    fn try_from(raw: i64) -> Result<Self, Invalid> {
        if (0..=Self::MAX).contains(&raw) {
            Ok(Stock(raw))
        } else {
            Err(Invalid::new("stock", format!("must be between 0 and {}, got {raw}", Self::MAX)))
        }
    }
}

impl From<Stock> for i64 {
    fn from(s: Stock) -> i64 {
        s.0
    }
}

/// Units a drop sells: at least one, at most what stock can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct DropUnits(i64);

impl DropUnits {
    pub fn get(self) -> i64 {
        self.0
    }
}

impl TryFrom<i64> for DropUnits {
    type Error = Invalid;

    fn try_from(raw: i64) -> Result<Self, Invalid> {
        if (1..=Stock::MAX).contains(&raw) {
            Ok(DropUnits(raw))
        } else {
            Err(Invalid::new("quantity", format!("a drop sells between 1 and {} units, got {raw}", Stock::MAX)))
        }
    }
}

impl From<DropUnits> for i64 {
    fn from(u: DropUnits) -> i64 {
        u.0
    }
}

impl utoipa::PartialSchema for DropUnits {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        schema::integer(Some(1), Some(Stock::MAX), "Units a drop sells.")
    }
}

impl utoipa::ToSchema for DropUnits {}

/// How long a drop or a giveaway runs, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct WindowSecs(i64);

impl WindowSecs {
    pub const RANGE: std::ops::RangeInclusive<i64> = 10..=3_600;

    pub fn get(self) -> i64 {
        self.0
    }
}

impl TryFrom<i64> for WindowSecs {
    type Error = Invalid;

    fn try_from(raw: i64) -> Result<Self, Invalid> {
        if Self::RANGE.contains(&raw) {
            Ok(WindowSecs(raw))
        } else {
            let (min, max) = (Self::RANGE.start(), Self::RANGE.end());
            Err(Invalid::new("duration_secs", format!("must be between {min} and {max}, got {raw}")))
        }
    }
}

impl From<WindowSecs> for i64 {
    fn from(d: WindowSecs) -> i64 {
        d.0
    }
}

impl utoipa::PartialSchema for WindowSecs {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        schema::integer(
            Some(*Self::RANGE.start()),
            Some(*Self::RANGE.end()),
            "How long a drop or a giveaway runs, in seconds.",
        )
    }
}

impl utoipa::ToSchema for WindowSecs {}

/// A commission rate in basis points of the amount paid (0 to 100%).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct BasisPoints(u16);

impl utoipa::PartialSchema for BasisPoints {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        schema::integer(Some(0), Some(10_000), "Basis points: hundredths of a percent, 0 to 10000.")
    }
}

impl utoipa::ToSchema for BasisPoints {}

impl BasisPoints {
    pub fn get(self) -> u16 {
        self.0
    }
}

impl TryFrom<i64> for BasisPoints {
    type Error = Invalid;

    fn try_from(raw: i64) -> Result<Self, Invalid> {
        if (0..=10_000).contains(&raw) {
            Ok(BasisPoints(raw as u16))
        } else {
            Err(Invalid::new("commission_bps", format!("must be between 0 and 10000, got {raw}")))
        }
    }
}

impl From<BasisPoints> for i64 {
    fn from(b: BasisPoints) -> i64 {
        i64::from(b.0)
    }
}

/// The reactions a viewer can send. A closed set, so counts aggregate cleanly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reaction {
    Heart,
    Fire,
    Clap,
    Laugh,
    Wow,
}

impl Reaction {
    pub const ALL: [Reaction; 5] = [Reaction::Heart, Reaction::Fire, Reaction::Clap, Reaction::Laugh, Reaction::Wow];

    pub fn index(self) -> usize {
        self as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantity_refuses_zero_negative_and_absurd_values() {
        assert!(Quantity::try_from(0).is_err());
        assert!(Quantity::try_from(-3).is_err());
        assert!(Quantity::try_from(1_000_000).is_err());
        assert_eq!(Quantity::try_from(99).unwrap().get(), 99);
    }

    #[test]
    fn tiers_follow_follower_brackets() {
        assert_eq!(Tier::for_followers(9_999), Tier::Nano);
        assert_eq!(Tier::for_followers(10_000), Tier::Micro);
        assert_eq!(Tier::for_followers(99_999), Tier::Micro);
        assert_eq!(Tier::for_followers(100_000), Tier::Mid);
        assert_eq!(Tier::for_followers(499_999), Tier::Mid);
        assert_eq!(Tier::for_followers(500_000), Tier::Macro);
        assert_eq!(Tier::for_followers(999_999), Tier::Macro);
        assert_eq!(Tier::for_followers(1_000_000), Tier::Mega);
        for (tier, floor) in Tier::ALL.into_iter().zip(Tier::FLOORS) {
            assert_eq!(Tier::for_followers(floor), tier);
        }
    }
}
