//! Who follows which creator: the rows behind "Remind me", the creators' follower counts,
//! and who hears that a room went live.

use super::Store;
use super::accounts::{ACCOUNT_COLUMNS, AccountRow, account};
use super::rooms::{ROOM_COLUMNS, RoomRow, room};
use crate::domain::{AccountId, UnixMs};
use sqlx::Row;

impl Store {
    /// Starts following `creator` (an account with the creator role); false when the
    /// follower already did, or `creator` is no creator. The creator's follower count
    /// goes up in the same transaction.
    pub async fn follow(&self, follower: AccountId, creator: AccountId, now: UnixMs) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let added = sqlx::query(
            "insert into follows (follower_id, creator_id, followed_at) \
             select $1, id, $3 from accounts where id = $2 and role = 'creator' \
             on conflict do nothing",
        )
        .bind(follower.get())
        .bind(creator.get())
        .bind(now.0)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if added {
            sqlx::query("update accounts set follower_count = follower_count + 1 where id = $1")
                .bind(creator.get())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Stops following; false when the follower did not follow `creator`. The count goes
    /// down with the row (never below zero: it may have been set lower by hand).
    pub async fn unfollow(&self, follower: AccountId, creator: AccountId) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let removed = sqlx::query("delete from follows where follower_id = $1 and creator_id = $2")
            .bind(follower.get())
            .bind(creator.get())
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if removed {
            sqlx::query("update accounts set follower_count = follower_count - 1 where id = $1 and follower_count > 0")
                .bind(creator.get())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(removed)
    }

    /// The creators `follower` follows, by display name.
    pub async fn followed_creators(&self, follower: AccountId) -> Result<Vec<AccountRow>, sqlx::Error> {
        let sql = format!(
            "select {ACCOUNT_COLUMNS} from accounts a join follows f on f.creator_id = a.id \
             where f.follower_id = $1 order by a.display_name, a.id"
        );
        let rows = sqlx::query(&sql).bind(follower.get()).fetch_all(&self.pool).await?;
        rows.iter().map(account).collect()
    }

    pub async fn follows(&self, follower: AccountId, creator: AccountId) -> Result<bool, sqlx::Error> {
        let row = sqlx::query("select count(*) as n from follows where follower_id = $1 and creator_id = $2")
            .bind(follower.get())
            .bind(creator.get())
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    /// Everyone who follows `creator`.
    pub async fn followers_of(&self, creator: AccountId) -> Result<Vec<AccountId>, sqlx::Error> {
        let rows = sqlx::query("select follower_id from follows where creator_id = $1")
            .bind(creator.get())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(AccountId::from_row(r.try_get("follower_id")?))).collect()
    }

    /// The scheduled and live rooms of the creators `follower` follows (not their private
    /// rehearsals): live ones first, then by start time.
    pub async fn followed_rooms(&self, follower: AccountId, limit: i64) -> Result<Vec<RoomRow>, sqlx::Error> {
        let sql = format!(
            "select {ROOM_COLUMNS} from rooms \
             where creator_id in (select creator_id from follows where follower_id = $1) \
             and status in ('scheduled', 'live') and rehearsal_of is null \
             order by case status when 'live' then 0 else 1 end, starts_at, id limit $2"
        );
        let rows = sqlx::query(&sql).bind(follower.get()).bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(room).collect()
    }
}
