//! Moderation's durable record: moderators (of one room, or of all a creator's rooms),
//! bans, timeouts, each room's chat rules (slow mode, blocked words and what they do),
//! each creator's blocked words for all their rooms, and the comments held for review. A
//! `who` is `a{account}`, `g{guest connection}` or `n{lower-case guest name}`.

use super::Store;
use super::accounts::{ACCOUNT_COLUMNS, AccountRow, account};
use crate::domain::{AccountId, BlockedAction, BlockedWords, ChatFilter, RoomId, UnixMs, WordRule};
use crate::wire::ws::Speaker;
use sqlx::Row;
use sqlx::any::AnyRow;

/// A moderator and where they moderate: one room, or (`room` none) all the creator's rooms.
#[derive(Debug, Clone)]
pub struct ModeratorRow {
    pub account: AccountRow,
    pub room: Option<RoomId>,
}

/// A comment held for review, as its author wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRow {
    pub id: i64,
    pub author: String,
    pub author_key: String,
    /// `Viewer` or `Guest`: the host is never held.
    pub speaker: Speaker,
    pub text: String,
    /// The blocked word or phrase that held it.
    pub word: String,
    pub held_at: UnixMs,
}

/// A comment to hold for review in a room.
#[derive(Debug, Clone, Copy)]
pub struct NewHeld<'a> {
    pub room: RoomId,
    pub author: &'a str,
    pub author_key: &'a str,
    pub speaker: Speaker,
    pub text: &'a str,
    pub word: &'a str,
    pub at: UnixMs,
}

const HELD_COLUMNS: &str = "id, author, author_key, speaker, text, word, held_at";

fn held(r: &AnyRow) -> Result<HeldRow, sqlx::Error> {
    let speaker: String = r.try_get("speaker")?;
    Ok(HeldRow {
        id: r.try_get("id")?,
        author: r.try_get("author")?,
        author_key: r.try_get("author_key")?,
        speaker: if speaker == "guest" { Speaker::Guest } else { Speaker::Viewer },
        text: r.try_get("text")?,
        word: r.try_get("word")?,
        held_at: UnixMs(r.try_get("held_at")?),
    })
}

/// A word list as stored: its lines and its action.
fn word_rule(r: &AnyRow) -> Result<WordRule, sqlx::Error> {
    let action: String = r.try_get("blocked_action")?;
    Ok(WordRule {
        words: BlockedWords::from_lines(&r.try_get::<String, _>("blocked_words")?),
        action: BlockedAction::parse(&action)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown blocked action {action:?}").into()))?,
    })
}

/// A ban in force: from one room, or (`room` none) from all the creator's rooms.
#[derive(Debug, Clone)]
pub struct BanRow {
    pub id: i64,
    pub room: Option<RoomId>,
    pub who: String,
    pub banned_at: UnixMs,
}

impl Store {
    /// Appoints `account` a moderator of `creator`'s room `room`, or of all their rooms;
    /// false when they already were.
    pub async fn add_moderator(
        &self,
        creator: AccountId,
        room: Option<RoomId>,
        account: AccountId,
        now: UnixMs,
    ) -> Result<bool, sqlx::Error> {
        let added = sqlx::query(
            "insert into moderators (creator_id, room_id, account_id, appointed_at) values ($1, $2, $3, $4) \
             on conflict do nothing",
        )
        .bind(creator.get())
        .bind(room.map(RoomId::get))
        .bind(account.get())
        .bind(now.0)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(added == 1)
    }

    /// Ends an appointment; false when there was none.
    pub async fn remove_moderator(
        &self,
        creator: AccountId,
        room: Option<RoomId>,
        account: AccountId,
    ) -> Result<bool, sqlx::Error> {
        let removed = sqlx::query(
            "delete from moderators where creator_id = $1 and account_id = $2 and coalesce(room_id, 0) = $3",
        )
        .bind(creator.get())
        .bind(account.get())
        .bind(room.map_or(0, RoomId::get))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(removed > 0)
    }

    /// The moderators of `creator`'s room `room` (those of all their rooms included), or
    /// with `room` none those of all their rooms only; by display name.
    pub async fn moderators(&self, creator: AccountId, room: Option<RoomId>) -> Result<Vec<ModeratorRow>, sqlx::Error> {
        let sql = format!(
            "select {ACCOUNT_COLUMNS}, m.room_id from moderators m join accounts a on a.id = m.account_id \
             where m.creator_id = $1 and (m.room_id is null or m.room_id = $2) \
             order by a.display_name, a.id, m.room_id"
        );
        let rows =
            sqlx::query(&sql).bind(creator.get()).bind(room.map_or(0, RoomId::get)).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let room: Option<i64> = r.try_get("room_id")?;
                Ok(ModeratorRow { account: account(r)?, room: room.map(RoomId::from_row) })
            })
            .collect()
    }

    /// Whether `account` moderates `creator`'s room `room` (appointed for it, for all the
    /// creator's rooms, or, when `room` is a rehearsal, for the room it rehearses).
    pub async fn is_moderator(
        &self,
        creator: AccountId,
        room: RoomId,
        account: AccountId,
    ) -> Result<bool, sqlx::Error> {
        let found = sqlx::query(
            "select 1 from moderators where creator_id = $1 and account_id = $2 \
             and (room_id is null or room_id = $3 \
             or room_id = (select rehearsal_of from rooms where id = $3)) limit 1",
        )
        .bind(creator.get())
        .bind(account.get())
        .bind(room.get())
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    /// Bans each of `who` from `creator`'s room `room`, or (`room` none) from all their
    /// rooms. Banning again changes nothing.
    pub async fn ban(
        &self,
        creator: AccountId,
        room: Option<RoomId>,
        who: &[String],
        by: AccountId,
        now: UnixMs,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        for who in who {
            sqlx::query(
                "insert into bans (creator_id, room_id, who, banned_by, banned_at) values ($1, $2, $3, $4, $5) \
                 on conflict do nothing",
            )
            .bind(creator.get())
            .bind(room.map(RoomId::get))
            .bind(who)
            .bind(by.get())
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }

    /// Whether `who` is banned from `creator`'s room `room`: `Some(None)` from all the
    /// creator's rooms, `Some(Some(room))` from this one, `None` not at all.
    pub async fn banned(
        &self,
        creator: AccountId,
        room: RoomId,
        who: &str,
    ) -> Result<Option<Option<RoomId>>, sqlx::Error> {
        let row = sqlx::query(
            "select room_id from bans where creator_id = $1 and who = $2 and (room_id is null or room_id = $3) \
             order by room_id is not null limit 1",
        )
        .bind(creator.get())
        .bind(who)
        .bind(room.get())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok(r.try_get::<Option<i64>, _>("room_id")?.map(RoomId::from_row))).transpose()
    }

    /// The bans of `creator`'s rooms, newest first.
    pub async fn bans(&self, creator: AccountId) -> Result<Vec<BanRow>, sqlx::Error> {
        let rows = sqlx::query(
            "select id, room_id, who, banned_at from bans where creator_id = $1 order by banned_at desc, id desc",
        )
        .bind(creator.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(BanRow {
                    id: r.try_get("id")?,
                    room: r.try_get::<Option<i64>, _>("room_id")?.map(RoomId::from_row),
                    who: r.try_get("who")?,
                    banned_at: UnixMs(r.try_get("banned_at")?),
                })
            })
            .collect()
    }

    /// Lifts one of `creator`'s bans; false when there was none.
    pub async fn lift_ban(&self, creator: AccountId, ban: i64) -> Result<bool, sqlx::Error> {
        let lifted = sqlx::query("delete from bans where creator_id = $1 and id = $2")
            .bind(creator.get())
            .bind(ban)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(lifted > 0)
    }

    /// `who` may not comment in `room` until `until` (replacing any earlier timeout).
    pub async fn set_timeout(&self, room: RoomId, who: &str, until: UnixMs) -> Result<(), sqlx::Error> {
        sqlx::query(
            "insert into timeouts (room_id, who, until) values ($1, $2, $3) \
             on conflict (room_id, who) do update set until = excluded.until",
        )
        .bind(room.get())
        .bind(who)
        .bind(until.0)
        .execute(&self.pool)
        .await
        .map(drop)
    }

    /// The timeouts of `room` still running at `now`.
    pub async fn timeouts(&self, room: RoomId, now: UnixMs) -> Result<Vec<(String, UnixMs)>, sqlx::Error> {
        let rows = sqlx::query("select who, until from timeouts where room_id = $1 and until > $2")
            .bind(room.get())
            .bind(now.0)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get("who")?, UnixMs(r.try_get("until")?)))).collect()
    }

    /// The room's slow mode (seconds, 0 when off) and its own blocked words.
    pub async fn chat_rules(&self, room: RoomId) -> Result<(i64, WordRule), sqlx::Error> {
        let row =
            sqlx::query("select slow_mode_secs, blocked_words, blocked_action from chat_rules where room_id = $1")
                .bind(room.get())
                .fetch_optional(&self.pool)
                .await?;
        match row {
            Some(r) => Ok((r.try_get("slow_mode_secs")?, word_rule(&r)?)),
            None => Ok((0, WordRule::default())),
        }
    }

    /// The creator's blocked words for all their rooms.
    pub async fn creator_words(&self, creator: AccountId) -> Result<WordRule, sqlx::Error> {
        let row = sqlx::query("select blocked_words, blocked_action from creator_chat_rules where creator_id = $1")
            .bind(creator.get())
            .fetch_optional(&self.pool)
            .await?;
        row.map_or_else(|| Ok(WordRule::default()), |r| word_rule(&r))
    }

    /// What the comments of `creator`'s room `room` are checked against: the room's words
    /// and the creator's, in one read.
    pub async fn chat_filter(&self, room: RoomId, creator: AccountId) -> Result<ChatFilter, sqlx::Error> {
        let rows = sqlx::query(
            "select 'room' as list, blocked_words, blocked_action from chat_rules where room_id = $1 \
             union all \
             select 'creator' as list, blocked_words, blocked_action from creator_chat_rules where creator_id = $2",
        )
        .bind(room.get())
        .bind(creator.get())
        .fetch_all(&self.pool)
        .await?;
        let mut filter = ChatFilter::default();
        for r in &rows {
            let list: String = r.try_get("list")?;
            *(if list == "room" { &mut filter.room } else { &mut filter.creator }) = word_rule(r)?;
        }
        Ok(filter)
    }

    pub async fn set_slow_mode(&self, room: RoomId, secs: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "insert into chat_rules (room_id, slow_mode_secs) values ($1, $2) \
             on conflict (room_id) do update set slow_mode_secs = excluded.slow_mode_secs",
        )
        .bind(room.get())
        .bind(secs)
        .execute(&self.pool)
        .await
        .map(drop)
    }

    pub async fn set_blocked_words(&self, room: RoomId, rule: &WordRule) -> Result<(), sqlx::Error> {
        sqlx::query(
            "insert into chat_rules (room_id, blocked_words, blocked_action) values ($1, $2, $3) \
             on conflict (room_id) do update set blocked_words = excluded.blocked_words, \
             blocked_action = excluded.blocked_action",
        )
        .bind(room.get())
        .bind(rule.words.to_lines())
        .bind(rule.action.as_str())
        .execute(&self.pool)
        .await
        .map(drop)
    }

    pub async fn set_creator_words(&self, creator: AccountId, rule: &WordRule) -> Result<(), sqlx::Error> {
        sqlx::query(
            "insert into creator_chat_rules (creator_id, blocked_words, blocked_action) values ($1, $2, $3) \
             on conflict (creator_id) do update set blocked_words = excluded.blocked_words, \
             blocked_action = excluded.blocked_action",
        )
        .bind(creator.get())
        .bind(rule.words.to_lines())
        .bind(rule.action.as_str())
        .execute(&self.pool)
        .await
        .map(drop)
    }

    /// Holds a comment for review, unless its room already holds `cap` (or has ended):
    /// its id, or `None` when it was not held. (Nodes holding at the same moment may pass
    /// the cap by as many as they are.)
    pub async fn hold_comment(&self, new: &NewHeld<'_>, cap: usize) -> Result<Option<i64>, sqlx::Error> {
        let speaker = if new.speaker == Speaker::Guest { "guest" } else { "viewer" };
        let row = sqlx::query(
            "insert into held_comments (room_id, author, author_key, speaker, text, word, held_at) \
             select $1, $2, $3, $4, $5, $6, $7 \
             where (select count(*) from held_comments where room_id = $1) < $8 \
             and exists (select 1 from rooms where id = $1 and status <> 'ended') \
             returning id",
        )
        .bind(new.room.get())
        .bind(new.author)
        .bind(new.author_key)
        .bind(speaker)
        .bind(new.text)
        .bind(new.word)
        .bind(new.at.0)
        .bind(i64::try_from(cap).unwrap_or(i64::MAX))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| r.try_get("id")).transpose()
    }

    /// The comments held in `room`, oldest first.
    pub async fn held_comments(&self, room: RoomId) -> Result<Vec<HeldRow>, sqlx::Error> {
        let sql = format!("select {HELD_COLUMNS} from held_comments where room_id = $1 order by id");
        let rows = sqlx::query(&sql).bind(room.get()).fetch_all(&self.pool).await?;
        rows.iter().map(held).collect()
    }

    /// Takes held comment `id` of `room` out of the queue: whoever takes it decides its
    /// fate, once, whichever node they are on. `None` when it is not (or no longer) held.
    pub async fn take_held(&self, room: RoomId, id: i64) -> Result<Option<HeldRow>, sqlx::Error> {
        let sql = format!("delete from held_comments where room_id = $1 and id = $2 returning {HELD_COLUMNS}");
        let row = sqlx::query(&sql).bind(room.get()).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(held).transpose()
    }

    /// Forgets the comments held in `room` (it ended).
    pub async fn drop_held(&self, room: RoomId) -> Result<(), sqlx::Error> {
        sqlx::query("delete from held_comments where room_id = $1").bind(room.get()).execute(&self.pool).await.map(drop)
    }
}
