use super::Store;
use super::catalog::{PRODUCT_COLUMNS, ProductRow, product};
use super::columns::{Columns, qualified};
use super::reads::Read;
use super::shapes::{padded, placeholders};
use crate::domain::{AccountId, DropId, ProductId, RoomId, UnixMs};
use crate::wire::ws::RoomStatus;
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone)]
pub struct RoomRow {
    pub id: RoomId,
    pub creator_id: AccountId,
    pub title: String,
    pub status: RoomStatus,
    pub starts_at: UnixMs,
    pub live_at: Option<UnixMs>,
    pub ended_at: Option<UnixMs>,
    /// When the room's video first went on air, if it has.
    pub streamed_at: Option<UnixMs>,
    /// The creator co-hosting with the host, if any.
    pub co_host_id: Option<AccountId>,
    /// For a rehearsal, the scheduled room it rehearses (docs/protocol.md, 9.10).
    pub rehearsal_of: Option<RoomId>,
}

#[derive(Debug, Clone)]
pub struct DropRow {
    pub id: DropId,
    pub room_id: RoomId,
    pub product_id: ProductId,
    pub quantity: i64,
    pub remaining: i64,
    pub price: Option<i64>,
    pub starts_at: UnixMs,
    pub ends_at: UnixMs,
    /// Units one buyer may have of the drop, over all their orders; `None`: no limit.
    pub per_buyer: Option<i64>,
}

/// A drop as the host starts it.
pub struct NewDrop {
    pub room: RoomId,
    pub product: ProductId,
    pub quantity: i64,
    /// The drop's unit price; `None`: the catalogue price.
    pub price: Option<i64>,
    pub per_buyer: Option<i64>,
}

pub(super) fn room(row: &AnyRow) -> Result<RoomRow, sqlx::Error> {
    let status: String = row.try_get("status")?;
    let status = match status.as_str() {
        "scheduled" => RoomStatus::Scheduled,
        "live" => RoomStatus::Live,
        "ended" => RoomStatus::Ended,
        other => return Err(sqlx::Error::Decode(format!("room status {other:?}").into())),
    };
    Ok(RoomRow {
        id: RoomId::from_row(row.try_get("id")?),
        creator_id: AccountId::from_row(row.try_get("creator_id")?),
        title: row.try_get("title")?,
        status,
        starts_at: UnixMs(row.try_get("starts_at")?),
        live_at: row.try_get::<Option<i64>, _>("live_at")?.map(UnixMs),
        ended_at: row.try_get::<Option<i64>, _>("ended_at")?.map(UnixMs),
        streamed_at: row.try_get::<Option<i64>, _>("streamed_at")?.map(UnixMs),
        co_host_id: row.try_get::<Option<i64>, _>("co_host_id")?.map(AccountId::from_row),
        rehearsal_of: row.try_get::<Option<i64>, _>("rehearsal_of")?.map(RoomId::from_row),
    })
}

pub(super) fn drop_row(row: &AnyRow) -> Result<DropRow, sqlx::Error> {
    drop_in(&Columns::own(row))
}

fn drop_in(c: &Columns) -> Result<DropRow, sqlx::Error> {
    Ok(DropRow {
        id: DropId::from_row(c.get("id")?),
        room_id: RoomId::from_row(c.get("room_id")?),
        product_id: ProductId::from_row(c.get("product_id")?),
        quantity: c.get("quantity")?,
        remaining: c.get("remaining")?,
        price: c.get("price")?,
        starts_at: UnixMs(c.get("starts_at")?),
        ends_at: UnixMs(c.get("ends_at")?),
        per_buyer: c.get("per_buyer")?,
    })
}

pub(super) const ROOM_COLUMNS: &str =
    "id, creator_id, title, status, starts_at, live_at, ended_at, streamed_at, co_host_id, rehearsal_of";
const DROP_COLUMNS: &str = "id, room_id, product_id, quantity, remaining, price, starts_at, ends_at, per_buyer";
/// A live drop's columns joined to its room's ([`room_with_live_drop_read`]).
const JOINED_DROP: &str = "drop_";

impl Store {
    /// Schedules a room with its product lineup, in the order given.
    pub async fn create_room(
        &self,
        creator: AccountId,
        title: &str,
        starts_at: UnixMs,
        lineup: &[ProductId],
        now: UnixMs,
    ) -> Result<RoomRow, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query(
            "insert into rooms (creator_id, title, status, starts_at, created_at) \
             values ($1, $2, 'scheduled', $3, $4) returning id",
        )
        .bind(creator.get())
        .bind(title)
        .bind(starts_at.0)
        .bind(now.0)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        for (position, product) in lineup.iter().enumerate() {
            sqlx::query("insert into room_products (room_id, product_id, position) values ($1, $2, $3)")
                .bind(id)
                .bind(product.get())
                .bind(position as i64)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(RoomRow {
            id: RoomId::from_row(id),
            creator_id: creator,
            title: title.to_owned(),
            status: RoomStatus::Scheduled,
            starts_at,
            live_at: None,
            ended_at: None,
            streamed_at: None,
            co_host_id: None,
            rehearsal_of: None,
        })
    }

    pub async fn room(&self, id: RoomId) -> Result<Option<RoomRow>, sqlx::Error> {
        room_read(id).fetch_optional(&self.pool).await?.as_ref().map(room).transpose()
    }

    /// Rooms in one status, rehearsals left out (they are private); live rooms newest
    /// first, others by start time.
    pub async fn rooms_with_status(
        &self,
        status: RoomStatus,
        host: Option<AccountId>,
        limit: i64,
    ) -> Result<Vec<RoomRow>, sqlx::Error> {
        let order = if status == RoomStatus::Live { "live_at desc" } else { "starts_at" };
        let of_host = if host.is_some() { "and creator_id = $3" } else { "" };
        let sql = format!(
            "select {ROOM_COLUMNS} from rooms where status = $1 and rehearsal_of is null {of_host} \
             order by {order}, id limit $2"
        );
        let mut query = sqlx::query(&sql).bind(status.as_str()).bind(limit);
        if let Some(host) = host {
            query = query.bind(host.get());
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(room).collect()
    }

    pub async fn lineup(&self, room: RoomId) -> Result<Vec<ProductRow>, sqlx::Error> {
        let sql = format!(
            "select {PRODUCT_COLUMNS} from room_products rp join products p on p.id = rp.product_id \
             where rp.room_id = $1 order by rp.position"
        );
        let rows = sqlx::query(&sql).bind(room.get()).fetch_all(&self.pool).await?;
        rows.iter().map(product).collect()
    }

    /// Moves a room from one status to the next; false when it was not in `from`, so two
    /// racing requests cannot both take the room live or both end it.
    pub async fn advance_room(
        &self,
        id: RoomId,
        from: RoomStatus,
        to: RoomStatus,
        now: UnixMs,
    ) -> Result<bool, sqlx::Error> {
        let column = if to == RoomStatus::Live { "live_at" } else { "ended_at" };
        let sql = format!("update rooms set status = $1, {column} = $2 where id = $3 and status = $4");
        let done = sqlx::query(&sql)
            .bind(to.as_str())
            .bind(now.0)
            .bind(id.get())
            .bind(from.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Sets (or clears) the room's co-host while it is scheduled or live; false when it is
    /// neither (or does not exist).
    pub async fn set_co_host(&self, id: RoomId, co_host: Option<AccountId>) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("update rooms set co_host_id = $1 where id = $2 and status in ('scheduled', 'live')")
            .bind(co_host.map(AccountId::get))
            .bind(id.get())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The names of the brands whose products the room lines up and with which its host
    /// has an active paid agreement (a rate or a flat amount above zero, for any of the
    /// brand's products), in the order the lineup first shows each brand.
    pub async fn paid_partners(&self, room: RoomId, host: AccountId) -> Result<Vec<String>, sqlx::Error> {
        let rows = sqlx::query(
            "select b.name, min(rp.position) as first_position from room_products rp \
             join products p on p.id = rp.product_id join brands b on b.id = p.brand_id \
             where rp.room_id = $1 and exists (select 1 from agreements a where a.creator_id = $2 \
             and a.brand_id = b.id and a.ended_at is null and (a.commission_bps > 0 or a.commission_flat > 0)) \
             group by b.id, b.name order by first_position, b.id",
        )
        .bind(room.get())
        .bind(host.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| r.try_get("name")).collect()
    }

    /// Scheduled or live rooms `host` hosts that line up a product of `brand`: where an
    /// agreement between the two changes what the room must disclose.
    pub async fn rooms_of_host_with_brand(
        &self,
        host: AccountId,
        brand: crate::domain::BrandId,
    ) -> Result<Vec<RoomId>, sqlx::Error> {
        let rows = sqlx::query(
            "select distinct r.id from rooms r join room_products rp on rp.room_id = r.id \
             join products p on p.id = rp.product_id \
             where r.creator_id = $1 and p.brand_id = $2 and r.status in ('scheduled', 'live') order by r.id",
        )
        .bind(host.get())
        .bind(brand.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(RoomId::from_row(r.try_get("id")?))).collect()
    }

    /// Records that the room's video went on air; true the first time.
    pub async fn mark_streamed(&self, id: RoomId, now: UnixMs) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("update rooms set streamed_at = $1 where id = $2 and streamed_at is null")
            .bind(now.0)
            .bind(id.get())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn create_drop(&self, d: &NewDrop, starts_at: UnixMs, ends_at: UnixMs) -> Result<DropRow, sqlx::Error> {
        let id: i64 = sqlx::query(
            "insert into drops (room_id, product_id, quantity, remaining, price, starts_at, ends_at, status, \
             per_buyer) values ($1, $2, $3, $3, $4, $5, $6, 'live', $7) returning id",
        )
        .bind(d.room.get())
        .bind(d.product.get())
        .bind(d.quantity)
        .bind(d.price)
        .bind(starts_at.0)
        .bind(ends_at.0)
        .bind(d.per_buyer)
        .fetch_one(&self.pool)
        .await?
        .try_get("id")?;
        Ok(DropRow {
            id: DropId::from_row(id),
            room_id: d.room,
            product_id: d.product,
            quantity: d.quantity,
            remaining: d.quantity,
            price: d.price,
            starts_at,
            ends_at,
            per_buyer: d.per_buyer,
        })
    }

    pub async fn live_drop(&self, room: RoomId) -> Result<Option<DropRow>, sqlx::Error> {
        live_drop_read(room).fetch_optional(&self.pool).await?.as_ref().map(drop_row).transpose()
    }

    /// Ends a live drop; returns it (with its final `remaining`) only to the caller that
    /// actually ended it.
    pub async fn end_drop(&self, id: DropId) -> Result<Option<DropRow>, sqlx::Error> {
        let done = sqlx::query("update drops set status = 'ended' where id = $1 and status = 'live'")
            .bind(id.get())
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.drop_row(id).await
    }

    pub async fn drop_row(&self, id: DropId) -> Result<Option<DropRow>, sqlx::Error> {
        let sql = format!("select {DROP_COLUMNS} from drops where id = $1");
        let row = sqlx::query(&sql).bind(id.get()).fetch_optional(&self.pool).await?;
        row.as_ref().map(drop_row).transpose()
    }

    /// Units of the drop the buyer has in placed and paid orders (its per-buyer count).
    pub async fn drop_units_of(&self, drop: DropId, buyer: AccountId) -> Result<i64, sqlx::Error> {
        let row = sqlx::query("select units from drop_buyers where drop_id = $1 and buyer_id = $2")
            .bind(drop.get())
            .bind(buyer.get())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("units")).transpose()?.unwrap_or(0))
    }

    pub async fn drop_remaining(&self, id: DropId) -> Result<Option<i64>, sqlx::Error> {
        let row =
            sqlx::query("select remaining from drops where id = $1").bind(id.get()).fetch_optional(&self.pool).await?;
        row.map(|r| r.try_get("remaining")).transpose()
    }
}

fn room_read(id: RoomId) -> Read {
    Read::new(format!("select {ROOM_COLUMNS} from rooms where id = $1")).int(id.get())
}

/// The room with its live drop, if any (one at most: a unique index), in one statement.
/// The rooms `ids` (at least one), each with its live drop if it runs one.
pub(super) fn rooms_with_live_drop_read(ids: &[RoomId]) -> Read {
    let ids = padded(ids.iter().copied());
    let (room, drop) = (qualified("r", ROOM_COLUMNS, ""), qualified("d", DROP_COLUMNS, JOINED_DROP));
    let sql = format!(
        "select {room}, {drop} from rooms r left join drops d on d.room_id = r.id and d.status = 'live' \
         where r.id in ({})",
        placeholders(1, ids.len())
    );
    ids.iter().fold(Read::new(sql), |read, id| read.int(id.get()))
}

/// A row of [`room_with_live_drop_read`].
pub(super) fn room_with_live_drop(row: &AnyRow) -> Result<(RoomRow, Option<DropRow>), sqlx::Error> {
    Ok((room(row)?, Columns::prefixed(row, JOINED_DROP).joined(drop_in)?))
}

fn live_drop_read(room: RoomId) -> Read {
    Read::new(format!("select {DROP_COLUMNS} from drops where room_id = $1 and status = 'live'")).int(room.get())
}
