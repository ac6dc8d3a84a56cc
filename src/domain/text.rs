//! Text that crosses the edge: each kind with the limits a live room needs.

use super::Invalid;
use serde::{Deserialize, Serialize};

/// Trims, then checks the length in characters (not bytes) and refuses control characters,
/// which have no place in names or chat and break terminal and log output.
fn bounded_text(field: &'static str, raw: &str, min: usize, max: usize) -> Result<String, Invalid> {
    let text = raw.trim();
    let chars = text.chars().count();
    if chars < min {
        return Err(Invalid::new(field, format!("must be at least {min} characters")));
    }
    if chars > max {
        return Err(Invalid::new(field, format!("must be at most {max} characters, got {chars}")));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Invalid::new(field, "must not contain control characters"));
    }
    Ok(text.to_owned())
}

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $field:literal, $min:expr, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const MAX_CHARS: usize = $max;

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = Invalid;

            fn try_from(raw: String) -> Result<Self, Invalid> {
                bounded_text($field, &raw, $min, $max).map($name)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = Invalid;

            fn try_from(raw: &str) -> Result<Self, Invalid> {
                bounded_text($field, raw, $min, $max).map($name)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
    };
}

text_type!(
    /// The name shown next to a comment or a sale.
    DisplayName, "display_name", 1, 40
);
text_type!(
    /// One chat message. Short, because chat scrolls past at hundreds per second.
    CommentText, "text", 1, 300
);
text_type!(RoomTitle, "title", 1, 120);
text_type!(ProductTitle, "title", 1, 200);

/// A login e-mail address, stored lower-cased so that logins are case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = Invalid;

    fn try_from(raw: String) -> Result<Self, Invalid> {
        let email = raw.trim().to_lowercase();
        let valid = email.len() <= 254
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
            })
            && !email.chars().any(char::is_whitespace);
        if valid { Ok(Email(email)) } else { Err(Invalid::new("email", "must be an e-mail address")) }
    }
}

/// A password as typed. Its `Debug` never shows it.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(…)")
    }
}

impl TryFrom<String> for Password {
    type Error = Invalid;

    fn try_from(raw: String) -> Result<Self, Invalid> {
        match raw.chars().count() {
            0..8 => Err(Invalid::new("password", "must be at least 8 characters")),
            8..=128 => Ok(Password(raw)),
            _ => Err(Invalid::new("password", "must be at most 128 characters")),
        }
    }
}

/// The client's name for one checkout attempt, scoped to the buyer. The same key always
/// means the same order (IETF Idempotency-Key draft: at most 255 characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for IdempotencyKey {
    type Error = Invalid;

    fn try_from(raw: String) -> Result<Self, Invalid> {
        let ok = (1..=255).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(IdempotencyKey(raw))
        } else {
            Err(Invalid::new("idempotency_key", "must be 1 to 255 printable ASCII characters"))
        }
    }
}

impl From<IdempotencyKey> for String {
    fn from(k: IdempotencyKey) -> String {
        k.0
    }
}

/// A card number as the test payment provider understands it: 12 to 19 digits, spaces
/// allowed. Its `Debug` shows only the last four digits.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CardNumber(String);

impl CardNumber {
    pub fn digits(&self) -> &str {
        &self.0
    }

    pub fn last4(&self) -> &str {
        &self.0[self.0.len() - 4..]
    }
}

impl std::fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CardNumber(…{})", self.last4())
    }
}

impl TryFrom<String> for CardNumber {
    type Error = Invalid;

    fn try_from(raw: String) -> Result<Self, Invalid> {
        let digits: String = raw.chars().filter(|c| *c != ' ').collect();
        if (12..=19).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(CardNumber(digits))
        } else {
            Err(Invalid::new("card", "must be 12 to 19 digits"))
        }
    }
}

impl From<CardNumber> for String {
    fn from(c: CardNumber) -> String {
        c.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_length_is_counted_in_characters_after_trimming() {
        assert!(CommentText::try_from("  ").is_err());
        assert!(CommentText::try_from("é".repeat(300)).is_ok());
        assert!(CommentText::try_from("é".repeat(301)).is_err());
        assert!(CommentText::try_from("bell\u{7}").is_err());
    }

    #[test]
    fn email_is_lower_cased_and_checked() {
        assert_eq!(Email::try_from("Ana@Example.COM".to_owned()).unwrap().as_str(), "ana@example.com");
        assert!(Email::try_from("not-an-email".to_owned()).is_err());
        assert!(Email::try_from("a@b".to_owned()).is_err());
    }

    #[test]
    fn card_debug_hides_all_but_last_four() {
        let card = CardNumber::try_from("4242 4242 4242 4242".to_owned()).unwrap();
        assert_eq!(format!("{card:?}"), "CardNumber(…4242)");
    }
}
