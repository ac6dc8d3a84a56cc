//! Rehearsals (docs/protocol.md, section 9.10): the host of a scheduled show practises it
//! in a private, live copy (same host and lineup, a title marked as a rehearsal, its own
//! history, chat, drops and orders), which the load tester fills with simulated viewers
//! let in by the rehearsal's audience key. Nothing it does reaches the show: what
//! commerce does with its orders is in `commerce::checkout`.

use super::live::LiveRoom;
use super::{RoomError, RoomResult, Rooms, Viewer};
use crate::domain::{AudienceKey, Refusal, Role, RoomId, RoomTitle};
use crate::store::{AccountRow, RoomRow};
use crate::wire::api::RoomView;
use crate::wire::ws::RoomStatus;

/// What a rehearsal's title starts with.
const MARK: &str = "Rehearsal: ";

/// A rehearsal as its host opened it.
pub struct Rehearsal {
    pub room: RoomView,
    /// Shown once: only its digest is kept.
    pub audience_key: AudienceKey,
    /// False when one was open already: that one is answered, its key replaced.
    pub opened: bool,
}

/// The rehearsal's title: the show's, marked, cut to a title's length.
fn rehearsal_title(show: &str) -> String {
    let left = RoomTitle::MAX_CHARS - MARK.chars().count();
    format!("{MARK}{}", show.chars().take(left).collect::<String>())
}

impl Rooms {
    /// Opens a rehearsal of the scheduled room `show` for its host, live at once and with
    /// a fresh audience key; when one is open already, answers it with a new key (the old
    /// one admits no one from then on). No follower is told: it is private.
    pub async fn rehearse(&self, show: RoomId, by: &AccountRow) -> RoomResult<Rehearsal> {
        let row = self.store.room(show).await?.ok_or(Refusal::NotFound("room"))?;
        if row.creator_id != by.id {
            return Err(Refusal::Forbidden("only the room's host can rehearse it").into());
        }
        // A rehearsal is never scheduled itself: it cannot be rehearsed.
        if row.status != RoomStatus::Scheduled {
            return Err(Refusal::Conflict("only a scheduled room can be rehearsed").into());
        }
        let key = AudienceKey::generate();
        let digest = AudienceKey::digest(key.as_str());
        let title = rehearsal_title(&row.title);
        let (rehearsal, opened) = match self.store.open_rehearsal(&row, &title, &digest, self.clock.now()).await? {
            Some(rehearsal) => (rehearsal, true),
            None => {
                let rehearsal = self
                    .store
                    .open_rehearsal_of(show)
                    .await?
                    .ok_or(Refusal::Conflict("the open rehearsal just ended: open one again"))?;
                self.store.replace_audience_key(rehearsal.id, &digest).await?;
                (rehearsal, false)
            }
        };
        Ok(Rehearsal { room: self.view(rehearsal).await?, audience_key: key, opened })
    }

    /// Lets `viewer` into `room` unless it is a rehearsal that does not admit them: a
    /// rehearsal admits its host, the moderators of it or of its show (`viewer` says,
    /// as the database had it), and whoever presents its current audience key.
    pub(super) async fn admit(&self, room: &LiveRoom, viewer: &Viewer, audience_key: Option<&str>) -> RoomResult<()> {
        if room.card.rehearsal_of.is_none() || viewer.is_host || viewer.is_moderator {
            return Ok(());
        }
        match audience_key {
            Some(key) if self.store.audience_key_fits(room.id, &AudienceKey::digest(key)).await? => Ok(()),
            _ => Err(RoomError::RehearsalPrivate),
        }
    }

    /// Whether `who` may see the rehearsal `row` over REST: its host, its moderators and
    /// admins. To anyone else it does not exist.
    async fn sees_rehearsal(&self, row: &RoomRow, who: Option<&AccountRow>) -> RoomResult<bool> {
        Ok(match who {
            Some(a) if a.id == row.creator_id || a.role == Role::Admin => true,
            Some(a) => self.store.is_moderator(row.creator_id, row.id, a.id).await?,
            None => false,
        })
    }

    /// A room's card, as `who` (or a guest) may see it: a rehearsal only if they may.
    pub async fn room_seen_by(&self, id: RoomId, who: Option<&AccountRow>) -> RoomResult<RoomView> {
        let row = self.store.room(id).await?.ok_or(Refusal::NotFound("room"))?;
        if row.rehearsal_of.is_some() && !self.sees_rehearsal(&row, who).await? {
            return Err(Refusal::NotFound("room").into());
        }
        self.view(row).await
    }

    /// Lets whoever presents `bearer` (an audience key, or the session of `account`)
    /// watch `row`'s stream: anyone any room's, a rehearsal's only those it admits to its
    /// chat (its host, its moderators, holders of its key).
    pub(super) async fn admit_watcher(
        &self,
        row: &RoomRow,
        account: Option<&AccountRow>,
        bearer: Option<&str>,
    ) -> RoomResult<()> {
        if row.rehearsal_of.is_none() {
            return Ok(());
        }
        let admitted = match (account, bearer) {
            (Some(a), _) if a.id == row.creator_id => true,
            (Some(a), _) if self.store.is_moderator(row.creator_id, row.id, a.id).await? => true,
            (_, Some(key)) => self.store.audience_key_fits(row.id, &AudienceKey::digest(key)).await?,
            _ => false,
        };
        if admitted { Ok(()) } else { Err(RoomError::RehearsalPrivate) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rehearsal_is_titled_as_one_within_a_titles_length() {
        assert_eq!(rehearsal_title("Spring glow edit"), "Rehearsal: Spring glow edit");
        let longest = "é".repeat(RoomTitle::MAX_CHARS);
        let title = rehearsal_title(&longest);
        assert_eq!(title.chars().count(), RoomTitle::MAX_CHARS);
        assert!(title.starts_with(MARK));
    }
}
