//! Moderation: the host appoints moderators (for one room or all their rooms); the host
//! and moderators delete comments, time viewers out, ban them (from the room or all the
//! host's rooms) and set slow mode; the chat rules a comment is checked against.
//! Blocked words are in [`super::blocked_words`], comments held for review in
//! [`super::review`].
//!
//! The database holds every decision, so it survives restarts and every node sees it:
//! moderators, bans and blocked words are read from it when needed; timeouts and slow
//! mode also travel as room events (`timed_out`, `slow_mode`), which every node serving
//! the room folds into its state, so a comment is checked without a query. A ban closes
//! the viewer's connections on every node through the bus's kicks.

use super::live::LiveRoom;
use super::state::Author;
use super::{RoomError, RoomResult, Rooms, Viewer};
use crate::bus::kicks::{Target, Watch};
use crate::domain::{
    AccountId, BlockedAction, CommentText, Email, Invalid, RateLimit, Refusal, Role, RoomId, SlowModeSecs, TimeoutSecs,
    UnixMs,
};
use crate::store::{AccountRow, RoomRow};
use crate::wire::api::{BanView, ModeratorView};
use crate::wire::ws::{BanScope, RoomEvent};
use std::time::Duration;

/// Where a moderator is appointed.
#[derive(Debug, Clone, Copy)]
pub enum Appointment {
    Room(RoomId),
    /// All the creator's rooms.
    Creator(AccountId),
}

/// The keys a viewer is banned by: their account, or for a guest their connection and
/// their name (any case).
fn ban_keys(viewer: &Viewer) -> Vec<String> {
    match &viewer.account {
        Some(_) => vec![viewer.who.key.clone()],
        None => vec![viewer.who.key.clone(), name_key(&viewer.display_name)],
    }
}

fn name_key(name: &str) -> String {
    format!("n{}", name.to_lowercase())
}

fn account_of(key: &str) -> Option<AccountId> {
    key.strip_prefix('a')?.parse::<i64>().ok().and_then(|id| AccountId::try_from(id).ok())
}

impl Rooms {
    /// The host's or a moderator's account, for what only they may do in the room.
    pub(super) async fn moderating<'v>(&self, room: &LiveRoom, viewer: &'v Viewer) -> RoomResult<&'v AccountRow> {
        let forbidden = || Refusal::Forbidden("only the room's host or its moderators can do that");
        let account = viewer.account.as_ref().ok_or_else(forbidden)?;
        if viewer.is_host || self.store.is_moderator(room.host, room.id, account.id).await? {
            Ok(account)
        } else {
            Err(forbidden().into())
        }
    }

    /// The author of comment `seq`, whom a moderator acts on: never the host, and a
    /// moderator only by the host.
    async fn target(&self, room: &LiveRoom, viewer: &Viewer, seq: u64) -> RoomResult<Author> {
        let author = room.read(|s| s.author(seq).cloned()).ok_or(Refusal::NotFound("comment"))?;
        if let Some(account) = account_of(&author.key) {
            if account == room.host {
                return Err(Refusal::Forbidden("the host cannot be moderated").into());
            }
            if !viewer.is_host && self.store.is_moderator(room.host, room.id, account).await? {
                return Err(Refusal::Forbidden("only the host can moderate a moderator").into());
            }
        }
        Ok(author)
    }

    /// Removes comment `seq` for everyone, and from snapshots.
    pub async fn delete_comment(&self, room: &LiveRoom, viewer: &Viewer, seq: u64) -> RoomResult<()> {
        self.moderating(room, viewer).await?;
        room.read(|s| s.author(seq).map(drop)).ok_or(Refusal::NotFound("comment"))?;
        self.events.publish(room.id, &RoomEvent::CommentDeleted { seq }).await?;
        Ok(())
    }

    /// The author of comment `seq` may not comment in the room for `secs`.
    pub async fn time_out(&self, room: &LiveRoom, viewer: &Viewer, seq: u64, secs: i64) -> RoomResult<()> {
        let secs = TimeoutSecs::try_from(secs)?;
        self.moderating(room, viewer).await?;
        let author = self.target(room, viewer, seq).await?;
        let until = self.clock.now().plus(Duration::from_secs(secs.get() as u64));
        self.store.set_timeout(room.id, &author.key, until).await?;
        let event = RoomEvent::TimedOut { seq, author: author.name, author_key: author.key, until };
        self.events.publish(room.id, &event).await?;
        Ok(())
    }

    /// Bans the author of comment `seq` from the room, or from all its host's rooms: an
    /// account by its id, a guest by their connection and their name. Their connections
    /// close on every node.
    pub async fn ban(&self, room: &LiveRoom, viewer: &Viewer, seq: u64, scope: BanScope) -> RoomResult<()> {
        let by = self.moderating(room, viewer).await?.id;
        let author = self.target(room, viewer, seq).await?;
        let mut who = vec![author.key.clone()];
        if account_of(&author.key).is_none() {
            who.push(name_key(&author.name));
        }
        let only = match scope {
            BanScope::Room => Some(room.id),
            BanScope::Creator => None,
        };
        self.store.ban(room.host, only, &who, by, self.clock.now()).await?;
        let event = RoomEvent::Banned { seq, author: author.name, author_key: author.key, scope };
        self.events.publish(room.id, &event).await?;
        for who in who {
            let target = match scope {
                BanScope::Room => Target::Room { room: room.id, who },
                BanScope::Creator => Target::Creator { creator: room.host, who },
            };
            self.kicks.kick(&target).await?;
        }
        metrics::counter!("livecart_bans_total").increment(1);
        Ok(())
    }

    /// Slow mode: each viewer may comment once per `secs` (0: off).
    pub async fn set_slow_mode(&self, room: &LiveRoom, viewer: &Viewer, secs: i64) -> RoomResult<()> {
        let secs = SlowModeSecs::try_from(secs)?.get();
        self.moderating(room, viewer).await?;
        self.store.set_slow_mode(room.id, secs).await?;
        self.events.publish(room.id, &RoomEvent::SlowMode { secs }).await?;
        Ok(())
    }

    /// Refuses a banned viewer's join (the host is never banned).
    pub(super) async fn refuse_banned(&self, room: &LiveRoom, viewer: &Viewer) -> RoomResult<()> {
        if viewer.is_host {
            return Ok(());
        }
        // A guest's connection is new; their name may be banned.
        let key = match &viewer.account {
            Some(_) => viewer.who.key.clone(),
            None => name_key(&viewer.display_name),
        };
        match self.store.banned(room.host, room.id, &key).await? {
            Some(only) => Err(RoomError::Banned { creator: only.is_none() }),
            None => Ok(()),
        }
    }

    /// One watch that ends a viewer's connection when they are banned: its targets are
    /// the viewer's keys in the room and in all its host's rooms, so the target kicked
    /// says where the ban holds. None for the host.
    pub(super) fn ban_watch(&self, room: &LiveRoom, viewer: &Viewer) -> Option<Watch> {
        if viewer.is_host {
            return None;
        }
        let mut targets = Vec::with_capacity(4);
        for who in ban_keys(viewer) {
            targets.push(Target::Room { room: room.id, who: who.clone() });
            targets.push(Target::Creator { creator: room.host, who });
        }
        Some(self.kicks.watch(targets))
    }

    /// A comment's checks beyond rate limits: the author is not timed out, and (unless
    /// host or moderator) it keeps to slow mode and has no blocked word that refuses it.
    /// The blocked word that holds it for review instead, if any.
    pub(super) async fn chat_rules_allow(
        &self,
        room: &LiveRoom,
        viewer: &Viewer,
        text: &CommentText,
        now: UnixMs,
    ) -> RoomResult<Option<String>> {
        let key = &viewer.who.key;
        let (until, slow) = room.read(|s| (s.timed_out(key, now), s.slow_mode_secs));
        if let Some(until) = until {
            return Err(RoomError::TimedOut(Duration::from_millis((until.0 - now.0).max(0) as u64)));
        }
        if viewer.is_host || viewer.is_moderator {
            return Ok(None);
        }
        let hold = match self.chat_filter(room).await?.find(text.as_str()) {
            Some(blocked) if blocked.action == BlockedAction::Refuse => {
                return Err(RoomError::BlockedWord(blocked.word.to_owned()));
            }
            found => found.map(|blocked| blocked.word.to_owned()),
        };
        if slow > 0 {
            let rule = RateLimit { burst: 1, refill_ms: slow * 1_000 };
            if !self.limits.allow(&format!("slow:{}:{key}", room.id), rule, now).await? {
                return Err(RoomError::SlowMode(slow));
            }
        }
        Ok(hold)
    }

    /// The room, for its host (or an admin).
    async fn hosted(&self, room: RoomId, by: &AccountRow) -> RoomResult<RoomRow> {
        let row = self.store.room(room).await?.ok_or(Refusal::NotFound("room"))?;
        if row.creator_id != by.id && by.role != Role::Admin {
            return Err(Refusal::Forbidden("only the room's host can do that").into());
        }
        Ok(row)
    }

    /// The creator and room an appointment is for, checked that `by` may make it: the
    /// room's host or the creator themselves (or an admin).
    async fn appointer(&self, at: Appointment, by: &AccountRow) -> RoomResult<(AccountId, Option<RoomId>)> {
        match at {
            Appointment::Room(room) => Ok((self.hosted(room, by).await?.creator_id, Some(room))),
            Appointment::Creator(creator) => {
                if creator != by.id && by.role != Role::Admin {
                    return Err(Refusal::Forbidden("only the creator can appoint moderators of their rooms").into());
                }
                Ok((creator, None))
            }
        }
    }

    /// Appoints `account` a moderator; appointing again changes nothing.
    pub async fn appoint(&self, at: Appointment, by: &AccountRow, account: AccountId) -> RoomResult<()> {
        let (creator, room) = self.appointer(at, by).await?;
        if account == creator {
            return Err(Invalid::new("account_id", "the host moderates their rooms already").into());
        }
        self.store.account(account).await?.ok_or(Refusal::NotFound("account"))?;
        self.store.add_moderator(creator, room, account, self.clock.now()).await?;
        Ok(())
    }

    /// Appoints the account with this e-mail address a moderator: its id and name, so the
    /// host sees whom they appointed.
    pub async fn appoint_by_email(&self, at: Appointment, by: &AccountRow, email: Email) -> RoomResult<ModeratorView> {
        let (account, _) = self.store.account_by_email(email.as_str()).await?.ok_or(Refusal::NotFound("account"))?;
        self.appoint(at, by, account.id).await?;
        let room_id = match at {
            Appointment::Room(room) => Some(room),
            Appointment::Creator(_) => None,
        };
        Ok(ModeratorView { account_id: account.id, display_name: account.display_name, room_id })
    }

    /// Ends an appointment; none is no change.
    pub async fn dismiss(&self, at: Appointment, by: &AccountRow, account: AccountId) -> RoomResult<()> {
        let (creator, room) = self.appointer(at, by).await?;
        self.store.remove_moderator(creator, room, account).await?;
        Ok(())
    }

    /// The moderators of a room (those of all its host's rooms included), or of all a
    /// creator's rooms.
    pub async fn moderators(&self, at: Appointment, by: &AccountRow) -> RoomResult<Vec<ModeratorView>> {
        let (creator, room) = self.appointer(at, by).await?;
        let rows = self.store.moderators(creator, room).await?;
        Ok(rows
            .into_iter()
            .map(|m| ModeratorView { account_id: m.account.id, display_name: m.account.display_name, room_id: m.room })
            .collect())
    }

    /// The bans in force in the creator's rooms, newest first: for the creator or an admin.
    pub async fn bans(&self, creator: AccountId, by: &AccountRow) -> RoomResult<Vec<BanView>> {
        self.appointer(Appointment::Creator(creator), by).await?;
        let rows = self.store.bans(creator).await?;
        Ok(rows
            .into_iter()
            .map(|b| BanView { id: b.id, room_id: b.room, who: b.who, banned_at: b.banned_at })
            .collect())
    }

    /// Lifts a ban: the viewer may join again. No such ban is no change.
    pub async fn lift_ban(&self, creator: AccountId, by: &AccountRow, ban: i64) -> RoomResult<()> {
        self.appointer(Appointment::Creator(creator), by).await?;
        self.store.lift_ban(creator, ban).await?;
        Ok(())
    }

    /// The room, for its host, its moderators or an admin.
    pub(super) async fn moderated(&self, room: RoomId, by: &AccountRow) -> RoomResult<RoomRow> {
        let row = self.store.room(room).await?.ok_or(Refusal::NotFound("room"))?;
        let allowed = row.creator_id == by.id
            || by.role == Role::Admin
            || self.store.is_moderator(row.creator_id, room, by.id).await?;
        if !allowed {
            return Err(Refusal::Forbidden("only the room's host or its moderators can do that").into());
        }
        Ok(row)
    }
}
