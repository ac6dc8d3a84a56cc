//! Promo codes and shares of commission: the values a brand sets when it issues a code
//! or agrees a co-host's share, refused at the edge when out of range.

use super::Invalid;
use serde::{Deserialize, Serialize};

/// A promo code as buyers type it: 3 to 32 characters of `A`–`Z`, `0`–`9`, `-` and `_`,
/// in any case. It is kept upper-case, so `maya10` and `MAYA10` are one code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PromoCode(String);

impl utoipa::PartialSchema for PromoCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let (min, max) = (Self::MIN_CHARS, Self::MAX_CHARS);
        let pattern = format!("^[A-Za-z0-9_-]{{{min},{max}}}$");
        super::schema::string(min, Some(max), &pattern, "A promo code, in any case (kept upper-case), like MAYA10.")
    }
}

impl utoipa::ToSchema for PromoCode {}

impl PromoCode {
    pub const MIN_CHARS: usize = 3;
    pub const MAX_CHARS: usize = 32;

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PromoCode {
    type Error = Invalid;

    fn try_from(raw: String) -> Result<Self, Invalid> {
        PromoCode::try_from(raw.as_str())
    }
}

impl TryFrom<&str> for PromoCode {
    type Error = Invalid;

    fn try_from(raw: &str) -> Result<Self, Invalid> {
        let ok = (Self::MIN_CHARS..=Self::MAX_CHARS).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(PromoCode(raw.to_ascii_uppercase()))
        } else {
            Err(Invalid::new("promo_code", "must be 3 to 32 characters of A-Z, 0-9, - and _"))
        }
    }
}

impl From<PromoCode> for String {
    fn from(c: PromoCode) -> String {
        c.0
    }
}

/// A share of a price taken off by a promo code: 1 to 100 percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "i64", into = "i64")]
pub struct PercentOff(u8);

impl PercentOff {
    pub fn get(self) -> i64 {
        i64::from(self.0)
    }
}

impl TryFrom<i64> for PercentOff {
    type Error = Invalid;

    fn try_from(raw: i64) -> Result<Self, Invalid> {
        if (1..=100).contains(&raw) {
            Ok(PercentOff(raw as u8))
        } else {
            Err(Invalid::new("percent_off", format!("must be between 1 and 100, got {raw}")))
        }
    }
}

impl From<PercentOff> for i64 {
    fn from(p: PercentOff) -> i64 {
        p.get()
    }
}

/// How many orders may use a promo code: 1 to 1,000,000,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "i64", into = "i64")]
pub struct MaxUses(i64);

impl MaxUses {
    pub const MAX: i64 = 1_000_000_000;

    pub fn get(self) -> i64 {
        self.0
    }
}

impl TryFrom<i64> for MaxUses {
    type Error = Invalid;

    fn try_from(raw: i64) -> Result<Self, Invalid> {
        if (1..=Self::MAX).contains(&raw) {
            Ok(MaxUses(raw))
        } else {
            Err(Invalid::new("max_uses", format!("must be between 1 and {}, got {raw}", Self::MAX)))
        }
    }
}

impl From<MaxUses> for i64 {
    fn from(m: MaxUses) -> i64 {
        m.0
    }
}

/// The co-host's share of a line's commission, in basis points (0 to 10,000 = 100%).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "i64", into = "i64")]
pub struct ShareBps(u16);

impl ShareBps {
    /// Half of each line's commission: what an agreement gives a co-host unless it says.
    pub const DEFAULT: ShareBps = ShareBps(5_000);

    pub fn get(self) -> i64 {
        i64::from(self.0)
    }
}

impl TryFrom<i64> for ShareBps {
    type Error = Invalid;

    fn try_from(raw: i64) -> Result<Self, Invalid> {
        if (0..=10_000).contains(&raw) {
            Ok(ShareBps(raw as u16))
        } else {
            Err(Invalid::new("co_host_share_bps", format!("must be between 0 and 10000, got {raw}")))
        }
    }
}

impl From<ShareBps> for i64 {
    fn from(s: ShareBps) -> i64 {
        s.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_case_insensitive_and_kept_upper_case() {
        assert_eq!(PromoCode::try_from("maya-10_x").unwrap().as_str(), "MAYA-10_X");
        assert_eq!(PromoCode::try_from("abc").unwrap(), PromoCode::try_from("ABC").unwrap());
    }

    #[test]
    fn codes_refuse_other_characters_and_lengths() {
        for bad in ["ab", "", "a b c", "MAYA10!", "émile", &"A".repeat(33), "MAYA\u{0}10", " MAYA10"] {
            assert!(PromoCode::try_from(bad).is_err(), "{bad:?}");
        }
        assert!(PromoCode::try_from("A".repeat(32).as_str()).is_ok());
    }

    #[test]
    fn percentages_and_shares_are_bounded() {
        assert!(PercentOff::try_from(0).is_err());
        assert!(PercentOff::try_from(101).is_err());
        assert_eq!(PercentOff::try_from(100).unwrap().get(), 100);
        assert!(ShareBps::try_from(-1).is_err());
        assert!(ShareBps::try_from(10_001).is_err());
        assert_eq!(ShareBps::try_from(0).unwrap().get(), 0);
        assert!(MaxUses::try_from(0).is_err());
    }
}
