//! Waitlists of sold-out products, and the room's comment-to-buy keywords. The database
//! orders each waitlist (by entry id) and keeps one waiting entry per account, on every
//! node.

use super::{Store, is_unique_violation};
use crate::domain::{AccountId, Keyword, OfferId, ProductId, RoomId, UnixMs};
use sqlx::Row;

/// A waiting entry, first in line first.
#[derive(Debug, Clone, Copy)]
pub struct Waiting {
    pub id: i64,
    pub account: AccountId,
}

impl Store {
    /// Puts `account` on the room's waitlist for `product` (once: joining again keeps
    /// its place); its place in line, 1 for the first.
    pub async fn join_waitlist(
        &self,
        room: RoomId,
        product: ProductId,
        account: AccountId,
        now: UnixMs,
    ) -> Result<i64, sqlx::Error> {
        sqlx::query(
            "insert into waitlist (room_id, product_id, account_id, joined_at, status) \
             values ($1, $2, $3, $4, 'waiting') on conflict do nothing",
        )
        .bind(room.get())
        .bind(product.get())
        .bind(account.get())
        .bind(now.0)
        .execute(&self.pool)
        .await?;
        Ok(self.waitlist_place(room, product, account).await?.unwrap_or_default())
    }

    /// The account's place in line, if it waits.
    pub async fn waitlist_place(
        &self,
        room: RoomId,
        product: ProductId,
        account: AccountId,
    ) -> Result<Option<i64>, sqlx::Error> {
        let row = sqlx::query(
            "select (select count(*) from waitlist o where o.room_id = w.room_id and o.product_id = w.product_id \
             and o.status = 'waiting' and o.id <= w.id) as place from waitlist w \
             where w.room_id = $1 and w.product_id = $2 and w.account_id = $3 and w.status = 'waiting'",
        )
        .bind(room.get())
        .bind(product.get())
        .bind(account.get())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| r.try_get("place")).transpose()
    }

    /// Takes `account` off the waitlist; `false` when it was not waiting.
    pub async fn leave_waitlist(
        &self,
        room: RoomId,
        product: ProductId,
        account: AccountId,
    ) -> Result<bool, sqlx::Error> {
        let left = sqlx::query(
            "update waitlist set status = 'left' where room_id = $1 and product_id = $2 and account_id = $3 \
             and status = 'waiting'",
        )
        .bind(room.get())
        .bind(product.get())
        .bind(account.get())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(left == 1)
    }

    /// Waitlists with someone waiting: (room, product), at most 100.
    pub async fn waitlists(&self) -> Result<Vec<(RoomId, ProductId)>, sqlx::Error> {
        let rows = sqlx::query(
            "select distinct room_id, product_id from waitlist where status = 'waiting' order by room_id, product_id \
             limit 100",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((RoomId::from_row(r.try_get("room_id")?), ProductId::from_row(r.try_get("product_id")?))))
            .collect()
    }

    /// The first `n` waiting for the product in the room.
    pub async fn first_waiting(&self, room: RoomId, product: ProductId, n: i64) -> Result<Vec<Waiting>, sqlx::Error> {
        let rows = sqlx::query(
            "select id, account_id from waitlist where room_id = $1 and product_id = $2 and status = 'waiting' \
             order by id limit $3",
        )
        .bind(room.get())
        .bind(product.get())
        .bind(n)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok(Waiting { id: r.try_get("id")?, account: AccountId::from_row(r.try_get("account_id")?) }))
            .collect()
    }

    /// Marks the entry offered `offer`; `false` when it was not waiting any more (another
    /// node offered first, or its account left).
    pub async fn waitlist_offered(&self, entry: i64, offer: OfferId) -> Result<bool, sqlx::Error> {
        let done =
            sqlx::query("update waitlist set status = 'offered', offer_id = $2 where id = $1 and status = 'waiting'")
                .bind(entry)
                .bind(offer.get())
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok(done == 1)
    }

    /// The room's keywords, by product.
    pub async fn room_keywords(&self, room: RoomId) -> Result<Vec<(ProductId, Keyword)>, sqlx::Error> {
        let rows = sqlx::query("select product_id, keyword from room_keywords where room_id = $1 order by product_id")
            .bind(room.get())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let keyword =
                    Keyword::try_from(r.try_get::<String, _>("keyword")?).map_err(|e| sqlx::Error::Decode(e.into()))?;
                Ok((ProductId::from_row(r.try_get("product_id")?), keyword))
            })
            .collect()
    }

    /// Replaces the room's keywords; `false` when two products were given one keyword.
    pub async fn set_room_keywords(
        &self,
        room: RoomId,
        keywords: &[(ProductId, Keyword)],
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("delete from room_keywords where room_id = $1").bind(room.get()).execute(&mut *tx).await?;
        for (product, keyword) in keywords {
            let inserted = sqlx::query("insert into room_keywords (room_id, product_id, keyword) values ($1, $2, $3)")
                .bind(room.get())
                .bind(product.get())
                .bind(keyword.as_str())
                .execute(&mut *tx)
                .await;
            match inserted {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        tx.commit().await?;
        Ok(true)
    }
}
