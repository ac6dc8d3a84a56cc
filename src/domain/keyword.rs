//! Comment-to-buy: the keywords a host gives lined-up products, and the comments that ask
//! to buy with them (docs/protocol.md, 9.11). Matching is exact on the whole comment,
//! so a chatty comment that merely mentions a keyword never buys anything.

use super::{Invalid, Quantity};
use serde::{Deserialize, Serialize};

/// A product's keyword in a room: 2 to 20 ASCII letters and digits, kept in upper case;
/// never `SOLD` or `BUY`, which the rule itself uses.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Keyword(String);

impl Keyword {
    pub const MAX_CHARS: usize = 20;

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Keyword {
    type Error = Invalid;

    fn try_from(raw: String) -> Result<Self, Invalid> {
        let word = raw.trim().to_ascii_uppercase();
        if !(2..=Self::MAX_CHARS).contains(&word.len()) || !word.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(Invalid::new("keyword", "2 to 20 letters and digits (A–Z, 0–9)"));
        }
        if word == "SOLD" || word == "BUY" {
            return Err(Invalid::new("keyword", "SOLD and BUY are the rule's own words"));
        }
        Ok(Keyword(word))
    }
}

impl From<Keyword> for String {
    fn from(k: Keyword) -> String {
        k.0
    }
}

impl utoipa::PartialSchema for Keyword {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        super::schema::string(
            2,
            Some(Self::MAX_CHARS),
            "^[A-Za-z0-9]{2,20}$",
            "A comment-to-buy keyword: letters and digits, matched case-insensitively (not SOLD or BUY).",
        )
    }
}

impl utoipa::ToSchema for Keyword {}

/// What a comment asks to buy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuyIntent {
    /// `SOLD` or `SOLD 2`: the pinned product.
    Pinned(Quantity),
    /// `BUY SERUM` or `BUY 2 SERUM`: the product with that keyword.
    Keyword(String, Quantity),
}

/// The comment's buy intent, if the whole comment is one: words separated by white
/// space, case-insensitive, the quantity 1 to 99 when given.
pub fn buy_intent(text: &str) -> Option<BuyIntent> {
    let words: Vec<String> = text.split_whitespace().map(str::to_ascii_uppercase).collect();
    let quantity = |w: &str| w.parse::<i64>().ok().and_then(|n| Quantity::try_from(n).ok());
    match words.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["SOLD"] => Some(BuyIntent::Pinned(Quantity::try_from(1).ok()?)),
        ["SOLD", n] => Some(BuyIntent::Pinned(quantity(n)?)),
        ["BUY", word] if word.parse::<i64>().is_err() => {
            Some(BuyIntent::Keyword((*word).to_owned(), Quantity::try_from(1).ok()?))
        }
        ["BUY", n, word] => Some(BuyIntent::Keyword((*word).to_owned(), quantity(n)?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(n: i64) -> Quantity {
        Quantity::try_from(n).unwrap()
    }

    #[test]
    fn only_a_whole_comment_in_the_documented_shapes_buys() {
        assert_eq!(buy_intent("sold"), Some(BuyIntent::Pinned(q(1))));
        assert_eq!(buy_intent("  Sold   3 "), Some(BuyIntent::Pinned(q(3))));
        assert_eq!(buy_intent("buy serum"), Some(BuyIntent::Keyword("SERUM".into(), q(1))));
        assert_eq!(buy_intent("BUY 2 Serum"), Some(BuyIntent::Keyword("SERUM".into(), q(2))));
        for chatter in ["sold out already?", "SOLD 0", "SOLD 100", "buy", "I'll buy serum", "BUY 2", "sold!"] {
            assert_eq!(buy_intent(chatter), None, "{chatter:?}");
        }
    }

    #[test]
    fn keywords_are_checked_and_kept_upper_case() {
        assert_eq!(Keyword::try_from("serum".to_owned()).unwrap().as_str(), "SERUM");
        for bad in ["s", "sold", "Buy", "two words", "é-serum", &"X".repeat(21)] {
            assert!(Keyword::try_from(bad.to_owned()).is_err(), "{bad:?}");
        }
    }
}
