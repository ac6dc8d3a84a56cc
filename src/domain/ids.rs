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
