//! Checkouts refused at the stock hold, which wrote no order but spent their idempotency
//! key (docs/protocol.md, section 4.11): the answer a retry with the key gets again.

use super::Store;
use super::reads::Read;
use super::shapes::{padded, pairs_match};
use crate::domain::{AccountId, RoomId, UnixMs};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A `sold_out` refusal as the first attempt under a key got it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusalRow {
    pub room: RoomId,
    /// What was asked for (room, cart, code), as orders record it.
    pub request_hash: String,
    /// Upper-case, as given.
    pub promo_code: Option<String>,
    /// The product that ran short, and the units it had left then.
    pub title: String,
    pub available: i64,
}

/// The refusals recorded under each of `keys` (a buyer's idempotency key; at least one)
/// whose first checkout was refused, each row naming its buyer and key.
pub(super) fn refusals_read(keys: &[(AccountId, &str)]) -> Read {
    let keys = padded(keys.iter().copied());
    let sql = format!(
        "select buyer_id, idempotency_key, room_id, request_hash, promo_code, title, available \
         from checkout_refusals where {}",
        pairs_match("buyer_id", "idempotency_key", 1, keys.len())
    );
    keys.iter().fold(Read::new(sql), |read, (buyer, key)| read.int(buyer.get()).text(key))
}

pub(super) fn refusal(r: &AnyRow) -> Result<RefusalRow, sqlx::Error> {
    Ok(RefusalRow {
        room: RoomId::from_row(r.try_get("room_id")?),
        request_hash: r.try_get("request_hash")?,
        promo_code: r.try_get("promo_code")?,
        title: r.try_get("title")?,
        available: r.try_get("available")?,
    })
}

impl Store {
    /// Records the refusal under the key, then forgets the buyer's refusals beyond the
    /// `keep` newest (the bound on what one account's refused checkouts store). The first
    /// record of a key stays (a racing attempt holds no claim on it, so there is none, but
    /// the key is never rebound).
    pub async fn record_checkout_refusal(
        &self,
        buyer: AccountId,
        key: &str,
        refusal: &RefusalRow,
        now: UnixMs,
        keep: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "insert into checkout_refusals \
             (buyer_id, idempotency_key, room_id, request_hash, promo_code, code, title, available, created_at) \
             values ($1, $2, $3, $4, $5, 'sold_out', $6, $7, $8) on conflict (buyer_id, idempotency_key) do nothing",
        )
        .bind(buyer.get())
        .bind(key)
        .bind(refusal.room.get())
        .bind(&refusal.request_hash)
        .bind(refusal.promo_code.as_deref())
        .bind(&refusal.title)
        .bind(refusal.available)
        .bind(now.0)
        .execute(&self.pool)
        .await?;
        // Ties in time are broken by key, so which refusals stay never depends on the plan.
        sqlx::query(
            "delete from checkout_refusals where buyer_id = $1 and idempotency_key not in \
             (select idempotency_key from checkout_refusals where buyer_id = $1 \
              order by created_at desc, idempotency_key desc limit $2)",
        )
        .bind(buyer.get())
        .bind(keep)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
