//! Blocked words: a room's own list, and its creator's list for all their rooms, each with
//! what a match does to a comment (refuse it, or hold it for review).
//!
//! Both lists live in the database. A node checks comments against a copy it read less
//! than a second ago, so a change made on this node applies to the next comment (the
//! copies of the rooms it touches are dropped), and on other nodes within a second. No
//! event announces a change: blocked words are not the room's business, only its
//! moderators', and a creator's list touches rooms that may be served nowhere.

use super::live::LiveRoom;
use super::{RoomResult, Rooms};
use crate::domain::{AccountId, BlockedWords, ChatFilter, Refusal, Role, RoomId, WordRule};
use crate::store::AccountRow;
use crate::wire::api::BlockedWordsBody;
use std::sync::Arc;
use std::time::Duration;

/// How long a node trusts the blocked words it read: another node may have changed them.
const FRESH: Duration = Duration::from_secs(1);

fn body(rule: WordRule) -> BlockedWordsBody {
    BlockedWordsBody { words: rule.words.words().to_vec(), action: rule.action }
}

/// The creator themselves, or an admin.
fn creator_only(creator: AccountId, by: &AccountRow) -> RoomResult<()> {
    if creator != by.id && by.role != Role::Admin {
        return Err(
            Refusal::Forbidden("only the creator can see or change the blocked words of all their rooms").into()
        );
    }
    Ok(())
}

fn rule(body: BlockedWordsBody) -> RoomResult<WordRule> {
    Ok(WordRule { words: BlockedWords::try_from(body.words)?, action: body.action })
}

impl Rooms {
    /// What the room's comments are checked against now.
    pub(super) async fn chat_filter(&self, room: &LiveRoom) -> RoomResult<Arc<ChatFilter>> {
        if let Some(filter) = room.chat_filter(FRESH) {
            return Ok(filter);
        }
        let _turn = room.chat_filter_read_turn().await;
        // The comment that held the turn before this one may have just read them.
        if let Some(filter) = room.chat_filter(FRESH) {
            return Ok(filter);
        }
        let filter = Arc::new(self.store.chat_filter(room.id, room.host).await?);
        room.cache_chat_filter(Arc::clone(&filter));
        Ok(filter)
    }

    /// The room's own blocked words: for its host, its moderators or an admin.
    pub async fn blocked_words(&self, room: RoomId, by: &AccountRow) -> RoomResult<BlockedWordsBody> {
        self.moderated(room, by).await?;
        Ok(body(self.store.chat_rules(room).await?.1))
    }

    /// Replaces the room's own blocked words and their action; answers them as kept.
    pub async fn set_blocked_words(
        &self,
        room: RoomId,
        by: &AccountRow,
        words: BlockedWordsBody,
    ) -> RoomResult<BlockedWordsBody> {
        let rule = rule(words)?;
        self.moderated(room, by).await?;
        self.store.set_blocked_words(room, &rule).await?;
        if let Some(live) = self.hub.get(room) {
            live.forget_chat_filter();
        }
        Ok(body(rule))
    }

    /// The creator's blocked words for all their rooms: for the creator or an admin.
    pub async fn creator_blocked_words(&self, creator: AccountId, by: &AccountRow) -> RoomResult<BlockedWordsBody> {
        creator_only(creator, by)?;
        Ok(body(self.store.creator_words(creator).await?))
    }

    /// Replaces the creator's blocked words for all their rooms and their action; answers
    /// them as kept.
    pub async fn set_creator_blocked_words(
        &self,
        creator: AccountId,
        by: &AccountRow,
        words: BlockedWordsBody,
    ) -> RoomResult<BlockedWordsBody> {
        let rule = rule(words)?;
        creator_only(creator, by)?;
        self.store.set_creator_words(creator, &rule).await?;
        for live in self.hub.rooms().into_iter().filter(|r| r.host == creator) {
            live.forget_chat_filter();
        }
        Ok(body(rule))
    }
}
