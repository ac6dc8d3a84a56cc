//! Row identifiers, one type per table, so a product id can never be passed as a room id.

use super::Invalid;
use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "i64", into = "i64")]
        pub struct $name(i64);

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                super::schema::integer(Some(1), None, concat!("A ", $field, ": a positive integer."))
            }
        }

        impl utoipa::ToSchema for $name {}

        impl $name {
            pub fn get(self) -> i64 {
                self.0
            }

            /// Ids read back from our own database are positive by construction.
            pub fn from_row(raw: i64) -> Self {
                Self(raw)
            }
        }

        impl TryFrom<i64> for $name {
            type Error = Invalid;

            fn try_from(raw: i64) -> Result<Self, Invalid> {
                if raw > 0 {
                    Ok(Self(raw))
                } else {
                    Err(Invalid::new($field, format!("must be a positive id, got {raw}")))
                }
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(AccountId, "account_id");
id_type!(BrandId, "brand_id");
id_type!(ProductId, "product_id");
id_type!(AgreementId, "agreement_id");
id_type!(RoomId, "room_id");
id_type!(DropId, "drop_id");
id_type!(OrderId, "order_id");
id_type!(CampaignId, "campaign_id");
id_type!(PromoCodeId, "promo_code_id");
id_type!(GiveawayId, "giveaway_id");
id_type!(AuctionId, "auction_id");
id_type!(OfferId, "offer_id");
id_type!(HeldCommentId, "held_comment_id");
id_type!(AdjustmentId, "adjustment_id");

/// Crockford's base-32 alphabet: no I, L, O or U, so a reference read aloud or typed from
/// a receipt is not misread.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

impl OrderId {
    /// The order's reference as buyers see it (`"K7QF-3M2X"`): the id scrambled by a fixed
    /// bijection of 40 bits, in base 32. Unique per order for ids below 2^40, and not a
    /// counter: consecutive orders get unrelated references, so a declined attempt leaves
    /// no visible gap and the references do not tell how many orders there are. Not a
    /// secret (the mapping is public); access to an order is checked by its id as ever.
    pub fn reference(self) -> String {
        const MASK: u64 = (1 << 40) - 1;
        let mut x = (self.0 as u64) & MASK;
        // Each step is invertible modulo 2^40: odd multipliers and right xor-shifts.
        x = x.wrapping_mul(0x9E37_79B9_7F4B) & MASK;
        x ^= x >> 19;
        x = x.wrapping_mul(0xC2B2_AE3D_27D5) & MASK;
        x ^= x >> 21;
        let mut out = String::with_capacity(9);
        for i in (0..8).rev() {
            out.push(CROCKFORD[((x >> (i * 5)) & 31) as usize] as char);
            if i == 4 {
                out.push('-');
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::OrderId;
    use std::collections::HashSet;

    #[test]
    fn order_references_are_short_distinct_and_not_a_counter() {
        let refs: Vec<String> = (1..=100_000).map(|n| OrderId::from_row(n).reference()).collect();
        assert!(refs.iter().all(|r| r.len() == 9 && r.as_bytes()[4] == b'-'));
        assert_eq!(refs.iter().collect::<HashSet<_>>().len(), refs.len(), "one reference per order");
        let prefix_shared = refs.windows(2).filter(|w| w[0][..4] == w[1][..4]).count();
        assert!(prefix_shared < 100, "consecutive orders look unrelated ({prefix_shared} share a prefix)");
        assert_eq!(OrderId::from_row(41).reference(), "M6EN-5K6K", "stable (docs/protocol.md's example)");
    }
}
