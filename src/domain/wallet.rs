//! What one-tap buy keeps on an account: where to ship, and how a checkout pays.

use super::Invalid;
use super::text::{AddressLine1, AddressLine2, City, PostalCode, RecipientName, Region};
use serde::{Deserialize, Serialize};

/// A country, as its ISO 3166-1 alpha-2 code (`FR`, `US`), stored upper-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountryCode(String);

impl CountryCode {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl utoipa::PartialSchema for CountryCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        super::schema::string(2, Some(2), "^[A-Za-z]{2}$", "An ISO 3166-1 alpha-2 country code, in any case.")
    }
}

impl utoipa::ToSchema for CountryCode {}

impl TryFrom<String> for CountryCode {
    type Error = Invalid;

    fn try_from(raw: String) -> Result<Self, Invalid> {
        if raw.len() == 2 && raw.bytes().all(|b| b.is_ascii_alphabetic()) {
            Ok(CountryCode(raw.to_ascii_uppercase()))
        } else {
            Err(Invalid::new("country", "must be a two-letter country code, like FR"))
        }
    }
}

impl From<CountryCode> for String {
    fn from(c: CountryCode) -> String {
        c.0
    }
}

/// Where an order ships: every field bounded (at most 80 to 120 characters a line, one
/// line each), so an account can store only so much and a checkout frame stays small.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShippingAddress {
    pub name: RecipientName,
    pub line1: AddressLine1,
    /// Empty (or absent) when there is no second line.
    #[serde(default)]
    pub line2: AddressLine2,
    pub city: City,
    /// Empty (or absent) where addresses have no region.
    #[serde(default)]
    pub region: Region,
    pub postal_code: PostalCode,
    pub country: CountryCode,
}

/// How a checkout pays: with the card number it carries (the default), or with the
/// account's saved payment method.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentSource {
    #[default]
    Card,
    Saved,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_bounded_and_one_line_per_field() {
        let ok = serde_json::json!({"name": "Sam Lee", "line1": "1 Rue de Rivoli", "city": "Paris",
            "postal_code": "75001", "country": "fr"});
        let a: ShippingAddress = serde_json::from_value(ok.clone()).unwrap();
        assert_eq!(a.country.as_str(), "FR");
        assert_eq!(a.line2.as_str(), "");
        for (field, bad) in [
            ("name", serde_json::Value::from("")),
            ("line1", "x".repeat(121).into()),
            ("city", "Pa\nris".into()),
            ("postal_code", "1".repeat(17).into()),
            ("country", "FRA".into()),
            ("extra", 1.into()),
        ] {
            let mut v = ok.clone();
            v[field] = bad;
            assert!(serde_json::from_value::<ShippingAddress>(v).is_err(), "{field}");
        }
    }
}
