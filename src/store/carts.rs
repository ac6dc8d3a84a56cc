//! The durable copy of buyers' carts: what brings a cart back when Redis (which serves
//! carts when scaled out) loses it.

use super::{Store, StoreError};
use crate::domain::{AccountId, RoomId, UnixMs};
use sqlx::Row;

impl Store {
    /// The saved cart (its lines as JSON) and its version, if any.
    pub async fn saved_cart(&self, room: RoomId, buyer: AccountId) -> Result<Option<(String, i64)>, StoreError> {
        let row = sqlx::query("select lines, version from carts where room_id = $1 and buyer_id = $2")
            .bind(room.get())
            .bind(buyer.get())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get("lines")?, r.try_get("version")?))).transpose()
    }

    /// Saves a cart unless a newer version of it is saved already (changes that race can
    /// reach the database out of order).
    pub async fn save_cart(
        &self,
        room: RoomId,
        buyer: AccountId,
        lines: &str,
        version: i64,
        now: UnixMs,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "insert into carts (room_id, buyer_id, lines, version, updated_at) values ($1, $2, $3, $4, $5) \
             on conflict (room_id, buyer_id) do update set lines = excluded.lines, version = excluded.version, \
             updated_at = excluded.updated_at where carts.version < excluded.version",
        )
        .bind(room.get())
        .bind(buyer.get())
        .bind(lines)
        .bind(version)
        .bind(now.0)
        .execute(&self.pool)
        .await
        .map(drop)
    }

    /// Empties the saved cart after an order, as one more version of it. The row stays:
    /// a buyer who buys again saves over it in place (on PostgreSQL an update that adds
    /// no index entry and checks no foreign key, where a delete and a fresh insert per
    /// order left the key's index entry a trail of dead rows to step over, and made the
    /// save the costliest statement of a checkout), and a save of an older version that
    /// arrives late still loses to the emptied cart instead of bringing it back.
    pub async fn empty_saved_cart(&self, room: RoomId, buyer: AccountId, now: UnixMs) -> Result<(), StoreError> {
        sqlx::query(
            "update carts set lines = '{}', version = version + 1, updated_at = $3 \
             where room_id = $1 and buyer_id = $2",
        )
        .bind(room.get())
        .bind(buyer.get())
        .bind(now.0)
        .execute(&self.pool)
        .await
        .map(drop)
    }
}
