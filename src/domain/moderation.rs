//! Values of room moderation, checked at the edge: how long a timeout lasts, how slow
//! slow mode is, and a room's blocked words with the rule that matches them in a comment.

use super::{Invalid, schema};
use serde::{Deserialize, Serialize};

secs_type!(
    /// How long a viewer is timed out: 10 seconds to 24 hours.
    TimeoutSecs,
    "secs",
    10,
    86_400,
    "A timeout's length in seconds (10 s to 24 h)."
);

secs_type!(
    /// Slow mode: each viewer may comment once per this many seconds; 0 turns it off.
    SlowModeSecs,
    "secs",
    0,
    3_600,
    "Seconds between two comments of one viewer in slow mode; 0 turns slow mode off."
);

/// A room's blocked words and phrases: at most [`BlockedWords::MAX`], each 1 to
/// [`BlockedWords::MAX_CHARS`] characters once trimmed, kept in lower case, without
/// duplicates, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockedWords(Vec<String>);

impl BlockedWords {
    pub const MAX: usize = 200;
    pub const MAX_CHARS: usize = 40;

    pub fn words(&self) -> &[String] {
        &self.0
    }

    /// The first blocked entry `text` contains, as a whole word or phrase: letters and
    /// digits may not touch it on either side (so "ass" blocks "ass!" but not "class"),
    /// compared without regard to case.
    pub fn find(&self, text: &str) -> Option<&str> {
        if self.0.is_empty() {
            return None;
        }
        let text = text.to_lowercase();
        let word_char = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
        self.0
            .iter()
            .find(|word| {
                text.match_indices(word.as_str()).any(|(at, w)| {
                    !word_char(text[..at].chars().next_back()) && !word_char(text[at + w.len()..].chars().next())
                })
            })
            .map(String::as_str)
    }

    /// As stored: one entry per line.
    pub fn to_lines(&self) -> String {
        self.0.join("\n")
    }

    /// From the stored lines (already checked when they were set).
    pub fn from_lines(lines: &str) -> Self {
        BlockedWords(lines.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect())
    }
}

impl TryFrom<Vec<String>> for BlockedWords {
    type Error = Invalid;

    fn try_from(raw: Vec<String>) -> Result<Self, Invalid> {
        if raw.len() > Self::MAX {
            return Err(Invalid::new("words", format!("at most {} words, got {}", Self::MAX, raw.len())));
        }
        let mut words: Vec<String> = Vec::with_capacity(raw.len());
        for word in raw {
            let word = word.trim().to_lowercase();
            let chars = word.chars().count();
            if chars == 0 || chars > Self::MAX_CHARS {
                return Err(Invalid::new("words", format!("each word is 1 to {} characters", Self::MAX_CHARS)));
            }
            if word.chars().any(char::is_control) {
                return Err(Invalid::new("words", "a word must not contain control characters"));
            }
            if !words.contains(&word) {
                words.push(word);
            }
        }
        Ok(BlockedWords(words))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> BlockedWords {
        BlockedWords::try_from(list.iter().map(|w| w.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn blocked_words_match_whole_words_and_phrases_in_any_case() {
        let blocked = words(&["Scam", "free money", "ass"]);
        assert_eq!(blocked.find("this is a SCAM!"), Some("scam"));
        assert_eq!(blocked.find("get Free  money"), None, "a phrase is matched as written");
        assert_eq!(blocked.find("get free money now"), Some("free money"));
        assert_eq!(blocked.find("first class"), None, "not inside another word");
        assert_eq!(blocked.find("scams"), None);
        assert_eq!(blocked.find("ass."), Some("ass"));
        assert_eq!(BlockedWords::default().find("scam"), None);
    }

    #[test]
    fn blocked_words_are_checked_trimmed_and_deduplicated() {
        assert_eq!(words(&[" Scam ", "scam"]).words(), ["scam"]);
        assert!(BlockedWords::try_from(vec![" ".to_string()]).is_err());
        assert!(BlockedWords::try_from(vec!["a".repeat(41)]).is_err());
        assert!(BlockedWords::try_from(vec!["a\nb".to_string()]).is_err());
        assert!(BlockedWords::try_from(vec!["x".to_string(); 201]).is_err());
        let stored = words(&["one", "two words"]);
        assert_eq!(BlockedWords::from_lines(&stored.to_lines()), stored);
    }

    #[test]
    fn durations_are_bounded() {
        assert!(TimeoutSecs::try_from(9).is_err() && TimeoutSecs::try_from(86_401).is_err());
        assert!(TimeoutSecs::try_from(10).is_ok() && SlowModeSecs::try_from(0).is_ok());
        assert!(SlowModeSecs::try_from(3_601).is_err());
    }
}
