//! Values of room moderation, checked at the edge: how long a timeout lasts, how slow
//! slow mode is, and blocked words (a room's, a creator's) with the rule that matches them
//! in a comment and what a match does to it.

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

/// A list of blocked words and phrases (a room's, or a creator's for all their rooms): at most [`BlockedWords::MAX`], each 1 to
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

/// What a blocked word does to a comment that contains it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BlockedAction {
    /// The comment is refused with `blocked_word`; its author may say it otherwise.
    #[default]
    Refuse,
    /// The comment is held for the host or a moderator to approve or reject.
    Hold,
}

impl BlockedAction {
    pub fn as_str(self) -> &'static str {
        match self {
            BlockedAction::Refuse => "refuse",
            BlockedAction::Hold => "hold",
        }
    }

    pub fn parse(s: &str) -> Option<BlockedAction> {
        [BlockedAction::Refuse, BlockedAction::Hold].into_iter().find(|a| a.as_str() == s)
    }
}

/// A list of blocked words and what a match does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WordRule {
    pub words: BlockedWords,
    pub action: BlockedAction,
}

/// A blocked word found in a comment, and what it does to the comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocked<'a> {
    pub word: &'a str,
    pub action: BlockedAction,
}

/// The blocked words a room's comments are checked against: the room's own list and its
/// creator's list for all their rooms, each with its action.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatFilter {
    pub room: WordRule,
    pub creator: WordRule,
}

impl ChatFilter {
    /// The blocked word `text` contains, if any. When both lists match and their actions
    /// differ, refusing wins: a word one list refuses is never posted, not even after review.
    pub fn find(&self, text: &str) -> Option<Blocked<'_>> {
        [&self.room, &self.creator]
            .into_iter()
            .filter_map(|rule| rule.words.find(text).map(|word| Blocked { word, action: rule.action }))
            .min_by_key(|found| found.action != BlockedAction::Refuse)
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
    fn the_room_and_creator_lists_both_apply_and_refusing_wins() {
        let rule = |list: &[&str], action| WordRule { words: words(list), action };
        let filter = ChatFilter {
            room: rule(&["scam", "spam"], BlockedAction::Hold),
            creator: rule(&["spam", "rival"], BlockedAction::Refuse),
        };
        let found = |text| filter.find(text).map(|b| (b.word, b.action));
        assert_eq!(found("a scam"), Some(("scam", BlockedAction::Hold)));
        assert_eq!(found("my rival"), Some(("rival", BlockedAction::Refuse)), "the creator's list applies too");
        assert_eq!(found("spam"), Some(("spam", BlockedAction::Refuse)), "refusing wins");
        assert_eq!(found("scam and rival"), Some(("rival", BlockedAction::Refuse)));
        assert_eq!(found("hello"), None);
        assert_eq!(ChatFilter::default().find("scam"), None);
        assert_eq!(BlockedAction::parse(BlockedAction::Hold.as_str()), Some(BlockedAction::Hold));
    }

    #[test]
    fn durations_are_bounded() {
        assert!(TimeoutSecs::try_from(9).is_err() && TimeoutSecs::try_from(86_401).is_err());
        assert!(TimeoutSecs::try_from(10).is_ok() && SlowModeSecs::try_from(0).is_ok());
        assert!(SlowModeSecs::try_from(3_601).is_err());
    }
}
