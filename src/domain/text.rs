//! Text that crosses the edge: each kind with the limits a live room needs.

use super::Invalid;
use serde::{Deserialize, Serialize};

/// Characters that reorder text around them (bidirectional overrides and isolates): in a
/// name or a comment they disguise what is written.
fn reorders_text(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Trims, then checks the length in characters (not bytes) and refuses control characters
/// (newlines only where `lines` allows them) and text-reordering characters, which have
/// no place in names or chat, break terminal and log output, and some databases refuse
/// (PostgreSQL rejects NUL).
fn bounded_text(field: &'static str, raw: &str, min: usize, max: usize, lines: bool) -> Result<String, Invalid> {
    let text = raw.trim();
    let chars = text.chars().count();
    if chars < min {
        return Err(Invalid::new(field, format!("must be at least {min} characters")));
    }
    if chars > max {
        return Err(Invalid::new(field, format!("must be at most {max} characters, got {chars}")));
    }
    if text.chars().any(|c| (c.is_control() && !(lines && c == '\n')) || reorders_text(c)) {
        return Err(Invalid::new(field, "must not contain control characters"));
    }
    Ok(text.to_owned())
}

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $field:literal, $min:expr, $max:expr) => {
        text_type!($(#[$doc])* $name, $field, $min, $max, false);
    };
    ($(#[$doc:meta])* $name:ident, $field:literal, $min:expr, $max:expr, $lines:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                let what = if $lines { "may span lines" } else { "one line" };
                super::schema::string(
                    $min,
                    Some($max),
                    &super::schema::text_pattern($min, $lines),
                    &format!(
                        "{} to {} characters once trimmed ({what}); no control or text-reordering characters.",
                        $min, $max
                    ),
                )
            }
        }

        impl utoipa::ToSchema for $name {}

        impl $name {
            pub const MAX_CHARS: usize = $max;

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = Invalid;

            fn try_from(raw: String) -> Result<Self, Invalid> {
                bounded_text($field, &raw, $min, $max, $lines).map($name)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = Invalid;

            fn try_from(raw: &str) -> Result<Self, Invalid> {
                bounded_text($field, raw, $min, $max, $lines).map($name)
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
    /// One chat message. Short, because chat scrolls past at hundreds per second; it may
    /// span lines.
    CommentText, "text", 1, 300, true
);
text_type!(RoomTitle, "title", 1, 120);
text_type!(
    /// What a giveaway's winner gets, as the host names it ("A Glow Serum, signed").
    Prize, "prize", 1, 120
);
text_type!(
    /// What a brand calls a campaign ("Spring glow, nano creators").
    CampaignName, "name", 1, 120
);
text_type!(
    /// A product's name, as cards in a room show it.
    ProductTitle, "title", 1, 120
);
text_type!(
    /// A product's description: shown when a viewer opens the product, never sent in room
    /// frames, so a long one cannot make a room heavy to join. Empty by default.
    #[derive(Default)]
    ProductDescription, "description", 0, 2_000, true
);

text_type!(
    /// Who a parcel is addressed to.
    RecipientName, "name", 1, 80
);
text_type!(
    /// The first line of a shipping address (street and number).
    AddressLine1, "line1", 1, 120
);
text_type!(
    /// The second line of a shipping address; empty when there is none.
    #[derive(Default)]
    AddressLine2, "line2", 0, 120
);
text_type!(City, "city", 1, 80);
text_type!(
    /// A state, province or county; empty where addresses have none.
    #[derive(Default)]
    Region, "region", 0, 80
);
text_type!(PostalCode, "postal_code", 1, 16);

/// Where a product's picture is: an `https:` URL or a path on this site. Nothing else is
/// accepted (`javascript:`, `data:`, protocol-relative `//host` URLs), and no character a
/// page or a log could misread. Empty means no picture.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
pub struct ImageUrl(String);

impl ImageUrl {
    pub const MAX_BYTES: usize = 300;

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ImageUrl {
    type Error = Invalid;

    fn try_from(raw: String) -> Result<Self, Invalid> {
        let url = raw.trim();
        let scheme_ok = url.is_empty()
            || url.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://"))
            || (url.starts_with('/') && !url.starts_with("//"));
        let chars_ok = url.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\\' | b'<' | b'>' | b'`'));
        if url.len() > Self::MAX_BYTES {
            return Err(Invalid::new("image_url", format!("must be at most {} characters", Self::MAX_BYTES)));
        }
        if !scheme_ok || !chars_ok {
            return Err(Invalid::new("image_url", "must be an https: URL or a path on this site, like /img/serum.svg"));
        }
        Ok(ImageUrl(url.to_owned()))
    }
}

impl From<ImageUrl> for String {
    fn from(u: ImageUrl) -> String {
        u.0
    }
}

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
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            })
            && !email.chars().any(|c| c.is_whitespace() || c.is_control() || reorders_text(c));
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

impl utoipa::PartialSchema for IdempotencyKey {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let (min, max) = (1, IdempotencyKey::MAX_BYTES);
        let description = "The client's name for one purchase: printable ASCII without spaces.";
        super::schema::string(min, Some(max), &format!("^[!-~]{{{min},{max}}}$"), description)
    }
}

impl utoipa::ToSchema for IdempotencyKey {}

impl IdempotencyKey {
    pub const MAX_BYTES: usize = 255;

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for IdempotencyKey {
    type Error = Invalid;

    fn try_from(raw: String) -> Result<Self, Invalid> {
        let ok = (1..=Self::MAX_BYTES).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic());
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
    pub const DIGITS: std::ops::RangeInclusive<usize> = 12..=19;
}

impl utoipa::PartialSchema for CardNumber {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let (min, max) = (*Self::DIGITS.start(), *Self::DIGITS.end());
        let pattern = format!("^ *(?:[0-9] *){{{min},{max}}}$");
        // Spaces are allowed anywhere, as many as the frame holds.
        super::schema::string(min, None, &pattern, "A card number: 12 to 19 digits; spaces are allowed and removed.")
    }
}

impl utoipa::ToSchema for CardNumber {}

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
        if Self::DIGITS.contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
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
    fn names_and_titles_are_one_line_and_never_reorder_text() {
        assert!(DisplayName::try_from("Sam\nX").is_err());
        assert!(DisplayName::try_from("evil\u{202E}gnp.exe").is_err());
        assert!(CommentText::try_from("two\nlines").is_ok());
        assert!(ProductDescription::try_from("nul\u{0}byte".to_owned()).is_err());
        assert!(ProductDescription::try_from(String::new()).is_ok());
    }

    #[test]
    fn image_urls_are_https_or_same_origin_paths() {
        for ok in ["", "https://cdn.example/a.jpg", "/img/serum.svg", "HTTPS://x.example/y.png"] {
            assert!(ImageUrl::try_from(ok.to_owned()).is_ok(), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "http://x.example/a.jpg",
            "//evil.example/a.jpg",
            "data:image/png;base64,AA",
            "/a b.jpg",
            "/a\"onerror=.jpg",
        ] {
            assert!(ImageUrl::try_from(bad.to_owned()).is_err(), "{bad}");
        }
        assert!(ImageUrl::try_from(format!("/{}", "a".repeat(300))).is_err());
    }

    #[test]
    fn email_is_lower_cased_and_checked() {
        assert_eq!(Email::try_from("Ana@Example.COM".to_owned()).unwrap().as_str(), "ana@example.com");
        assert!(Email::try_from("not-an-email".to_owned()).is_err());
        assert!(Email::try_from("a@b".to_owned()).is_err());
        for bad in ["a\u{0}@a.co", "a\u{1}@a.co", "a@a\u{202E}.co", "a@b@c.co"] {
            assert!(Email::try_from(bad.to_owned()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn card_debug_hides_all_but_last_four() {
        let card = CardNumber::try_from("4242 4242 4242 4242".to_owned()).unwrap();
        assert_eq!(format!("{card:?}"), "CardNumber(…4242)");
    }
}
