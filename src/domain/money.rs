//! Money is integer minor units plus an ISO 4217 currency code. There is no float here
//! and there must never be one: rounding errors in commission are real money.

use super::Invalid;
use serde::{Deserialize, Serialize};
use std::fmt;

/// An ISO 4217 code: three upper-case ASCII letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl utoipa::PartialSchema for Currency {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        super::schema::string(3, Some(3), "^[A-Z]{3}$", "An ISO 4217 currency code, like EUR.")
    }
}

impl utoipa::ToSchema for Currency {}

impl Currency {
    pub fn as_str(&self) -> &str {
        // Constructed only from ASCII letters.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl TryFrom<String> for Currency {
    type Error = Invalid;

    fn try_from(raw: String) -> Result<Self, Invalid> {
        Currency::try_from(raw.as_str())
    }
}

impl TryFrom<&str> for Currency {
    type Error = Invalid;

    fn try_from(raw: &str) -> Result<Self, Invalid> {
        let bytes = raw.as_bytes();
        if bytes.len() == 3 && bytes.iter().all(u8::is_ascii_uppercase) {
            Ok(Currency([bytes[0], bytes[1], bytes[2]]))
        } else {
            Err(Invalid::new("currency", format!("must be an ISO 4217 code like EUR, got {raw:?}")))
        }
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.as_str().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A non-negative unit price in minor units, bounded so that a line total
/// (price × [`super::Quantity::MAX`]) can never overflow an i64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Price(i64);

impl utoipa::PartialSchema for Price {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        super::schema::integer(Some(0), Some(Self::MAX), "A unit price in minor units of its currency.")
    }
}

impl utoipa::ToSchema for Price {}

impl Price {
    pub const MAX: i64 = 100_000_000_000;

    pub fn get(self) -> i64 {
        self.0
    }
}

impl TryFrom<i64> for Price {
    type Error = Invalid;

    fn try_from(raw: i64) -> Result<Self, Invalid> {
        if (0..=Self::MAX).contains(&raw) {
            Ok(Price(raw))
        } else {
            Err(Invalid::new("price", format!("must be between 0 and {} minor units, got {raw}", Self::MAX)))
        }
    }
}

impl From<Price> for i64 {
    fn from(p: Price) -> i64 {
        p.0
    }
}

/// An amount with its currency, as it travels in API responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Money {
    /// Minor units (cents for EUR and USD).
    pub amount: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount: i64, currency: Currency) -> Self {
        Self { amount, currency }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_accepts_only_three_uppercase_letters() {
        assert!(Currency::try_from("EUR").is_ok());
        assert!(Currency::try_from("eur").is_err());
        assert!(Currency::try_from("EURO").is_err());
        assert!(Currency::try_from("€").is_err());
    }

    #[test]
    fn price_is_never_negative() {
        assert!(Price::try_from(-1).is_err());
        assert_eq!(Price::try_from(0).unwrap().get(), 0);
    }
}
