//! Comments held for review: a comment with a blocked word whose list says `hold` is kept
//! aside instead of posted. Its author is told it is held; the host and the room's
//! moderators get it privately, on every connection they have open on any node; one of
//! them approves it (it is then posted as a comment of that moment) or rejects it (it is
//! gone, and its author is not told).
//!
//! The queue lives in the database, so any node can decide, and the database decides
//! once: approving and rejecting take the comment out of it, and only the one who took it
//! acts. It is bounded per room, and emptied when the room ends.

use super::live::LiveRoom;
use super::{RoomError, RoomResult, Rooms, Viewer};
use crate::domain::{AccountId, HeldCommentId, Refusal, RoomId, UnixMs};
use crate::store::{AccountRow, HeldRow, NewHeld};
use crate::telemetry::Causes;
use crate::wire::ws::{CommentView, HeldComment, RoomEvent, RoomStatus, ServerMsg, Speaker};

/// Comments a room holds for review at most. When it is full, a comment that would be
/// held is refused instead (as a refusing list would refuse it), so its author knows it
/// was not posted and no held comment is ever dropped unseen.
pub const HELD_PER_ROOM: usize = 100;

fn view(room: RoomId, row: HeldRow) -> HeldComment {
    HeldComment {
        room_id: room,
        id: HeldCommentId::from_row(row.id),
        author: row.author,
        author_key: row.author_key,
        text: row.text,
        word: row.word,
        at: row.held_at,
    }
}

/// A comment to hold: who wrote it, what, and the word that holds it.
pub(super) struct ToHold<'a> {
    pub viewer: &'a Viewer,
    pub speaker: Speaker,
    pub text: String,
    pub word: String,
    pub at: UnixMs,
}

impl Rooms {
    /// Holds a comment for review and tells the host and moderators; its text, for the
    /// author's answer. Refused with `blocked_word` when the room's queue is full.
    pub(super) async fn hold(&self, room: &LiveRoom, held: ToHold<'_>) -> RoomResult<String> {
        let new = NewHeld {
            room: room.id,
            author: &held.viewer.display_name,
            author_key: &held.viewer.who.key,
            speaker: held.speaker,
            text: &held.text,
            word: &held.word,
            at: held.at,
        };
        let Some(id) = self.store.hold_comment(&new, HELD_PER_ROOM).await? else {
            return Err(RoomError::BlockedWord(held.word));
        };
        metrics::counter!("livecart_comments_held_total").increment(1);
        let comment = HeldComment {
            room_id: room.id,
            id: HeldCommentId::from_row(id),
            author: held.viewer.display_name.clone(),
            author_key: held.viewer.who.key.clone(),
            text: held.text.clone(),
            word: held.word,
            at: held.at,
        };
        self.tell_moderators(room, &ServerMsg::CommentHeld(Box::new(comment))).await;
        Ok(held.text)
    }

    /// Posts held comment `id` to the room, as a comment of now.
    pub async fn approve_held(&self, room: &LiveRoom, viewer: &Viewer, id: HeldCommentId) -> RoomResult<()> {
        self.moderating(room, viewer).await?;
        if room.read(|s| s.status) == RoomStatus::Ended {
            return Err(RoomError::NotLive);
        }
        let held = self.take_held(room, id).await?;
        let event = RoomEvent::Comment(CommentView {
            author: held.author,
            author_key: held.author_key,
            speaker: held.speaker,
            text: held.text,
            at: self.clock.now(),
        });
        self.events.publish(room.id, &event).await?;
        self.tell_moderators(room, &ServerMsg::CommentReviewed { room_id: room.id, id, approved: true }).await;
        Ok(())
    }

    /// Drops held comment `id`; its author is not told.
    pub async fn reject_held(&self, room: &LiveRoom, viewer: &Viewer, id: HeldCommentId) -> RoomResult<()> {
        self.moderating(room, viewer).await?;
        self.take_held(room, id).await?;
        self.tell_moderators(room, &ServerMsg::CommentReviewed { room_id: room.id, id, approved: false }).await;
        Ok(())
    }

    async fn take_held(&self, room: &LiveRoom, id: HeldCommentId) -> RoomResult<HeldRow> {
        Ok(self.store.take_held(room.id, id.get()).await?.ok_or(Refusal::NotFound("held comment"))?)
    }

    /// The comments held in the room, oldest first: for its host, its moderators or an
    /// admin.
    pub async fn held_comments(&self, room: RoomId, by: &AccountRow) -> RoomResult<Vec<HeldComment>> {
        self.moderated(room, by).await?;
        Ok(self.store.held_comments(room).await?.into_iter().map(|row| view(room, row)).collect())
    }

    /// Sends `msg` to every connection of the host and of the room's moderators, on every
    /// node. The queue is in the database whatever happens here (and read again when they
    /// join), so a failure is only logged.
    async fn tell_moderators(&self, room: &LiveRoom, msg: &ServerMsg) {
        let told = async {
            let mut to: Vec<AccountId> = vec![room.host];
            to.extend(self.store.moderators(room.host, Some(room.id)).await?.into_iter().map(|m| m.account.id));
            to.sort_unstable();
            to.dedup();
            let frame = serde_json::to_string(msg).map_err(crate::bus::BusError::from)?;
            self.notices.notify(&to, &frame).await?;
            RoomResult::Ok(())
        };
        if let Err(e) = told.await {
            tracing::warn!(room = %room.id, error = %Causes(&e), "moderators not told of a held comment");
        }
    }
}
