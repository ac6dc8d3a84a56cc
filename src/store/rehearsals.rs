//! Rehearsals' durable record: each is a room of its own (`rehearsal_of` names the
//! scheduled room it rehearses), live from the start, with the digest of its audience key.

use super::rooms::{ROOM_COLUMNS, room};
use super::{RoomRow, Store, is_unique_violation};
use crate::domain::{RoomId, UnixMs};

impl Store {
    /// Opens a rehearsal of `of`: a live room of the same host with the same lineup, under
    /// `title`. `None` when one of `of` is open already (the database allows one).
    pub async fn open_rehearsal(
        &self,
        of: &RoomRow,
        title: &str,
        key_digest: &str,
        now: UnixMs,
    ) -> Result<Option<RoomRow>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "insert into rooms (creator_id, title, status, starts_at, live_at, created_at, rehearsal_of, \
             audience_key_hash) values ($1, $2, 'live', $3, $3, $3, $4, $5) returning {ROOM_COLUMNS}"
        );
        let inserted = sqlx::query(&sql)
            .bind(of.creator_id.get())
            .bind(title)
            .bind(now.0)
            .bind(of.id.get())
            .bind(key_digest)
            .fetch_one(&mut *tx)
            .await;
        let row = match inserted {
            Ok(row) => room(&row)?,
            Err(e) if is_unique_violation(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        sqlx::query(
            "insert into room_products (room_id, product_id, position) \
             select $1, product_id, position from room_products where room_id = $2",
        )
        .bind(row.id.get())
        .bind(of.id.get())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(row))
    }

    /// The rehearsal of `of` that has not ended, if any.
    pub async fn open_rehearsal_of(&self, of: RoomId) -> Result<Option<RoomRow>, sqlx::Error> {
        let sql = format!("select {ROOM_COLUMNS} from rooms where rehearsal_of = $1 and status <> 'ended'");
        let row = sqlx::query(&sql).bind(of.get()).fetch_optional(&self.pool).await?;
        row.as_ref().map(room).transpose()
    }

    /// Replaces the rehearsal's audience key: the old one admits no one from now on.
    pub async fn replace_audience_key(&self, rehearsal: RoomId, key_digest: &str) -> Result<(), sqlx::Error> {
        sqlx::query("update rooms set audience_key_hash = $1 where id = $2 and rehearsal_of is not null")
            .bind(key_digest)
            .bind(rehearsal.get())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether a key with this digest is the rehearsal's audience key now.
    pub async fn audience_key_fits(&self, rehearsal: RoomId, key_digest: &str) -> Result<bool, sqlx::Error> {
        let found = sqlx::query("select 1 from rooms where id = $1 and audience_key_hash = $2")
            .bind(rehearsal.get())
            .bind(key_digest)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }
}
