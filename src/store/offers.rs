//! Offers: units held for one buyer at a set price until a deadline (an auction's award,
//! a waitlist's turn, a comment-to-buy keyword).
//! The offer's hold is the order's hold when the buyer pays, so an offer's fate is read
//! from the orders that used its hold: paid, still being paid, or none.

use super::{Store, is_unique_violation};
use crate::domain::{AccountId, Currency, DropId, Money, OfferId, OrderId, ProductId, RoomId, UnixMs};
use sqlx::Row;
use sqlx::any::AnyRow;

/// What made an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferSource {
    Auction(i64),
    /// A waitlist entry's turn.
    Waitlist(i64),
    /// A comment-to-buy keyword in this room.
    Comment(RoomId),
}

impl OfferSource {
    fn kind(self) -> &'static str {
        match self {
            OfferSource::Auction(_) => "auction",
            OfferSource::Waitlist(_) => "waitlist",
            OfferSource::Comment(_) => "comment",
        }
    }

    fn id(self) -> i64 {
        match self {
            OfferSource::Auction(id) | OfferSource::Waitlist(id) => id,
            OfferSource::Comment(room) => room.get(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferStatus {
    Open,
    Paid,
    Lapsed,
}

#[derive(Debug, Clone)]
pub struct OfferRow {
    pub id: OfferId,
    pub room_id: RoomId,
    pub buyer: AccountId,
    pub product_id: ProductId,
    pub drop_id: Option<DropId>,
    pub quantity: i64,
    pub unit_price: Money,
    pub source: OfferSource,
    pub hold_id: String,
    pub expires_at: UnixMs,
    pub status: OfferStatus,
    pub order_id: Option<OrderId>,
}

pub struct NewOffer<'a> {
    pub room: RoomId,
    pub buyer: AccountId,
    pub product: ProductId,
    pub drop: Option<DropId>,
    pub quantity: i64,
    pub unit_price: Money,
    pub source: OfferSource,
    pub hold_id: &'a str,
    pub expires_at: UnixMs,
}

/// What an open offer came to, as its orders say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferFate {
    Paid(OrderId),
    /// Its time ran out with no order paying or being paid: it is lapsed now.
    Lapsed,
    /// Still open: not yet run out, or an order with its hold is being paid.
    Open,
}

const COLUMNS: &str = "id, room_id, buyer_id, product_id, drop_id, quantity, unit_price, currency, source, source_id, \
                       hold_id, expires_at, status, order_id";

fn offer(row: &AnyRow) -> Result<OfferRow, sqlx::Error> {
    let decode = |what: &str| sqlx::Error::Decode(format!("offer {what}").into());
    let currency: String = row.try_get("currency")?;
    let source: String = row.try_get("source")?;
    let source_id: i64 = row.try_get("source_id")?;
    let status: String = row.try_get("status")?;
    Ok(OfferRow {
        id: OfferId::from_row(row.try_get("id")?),
        room_id: RoomId::from_row(row.try_get("room_id")?),
        buyer: AccountId::from_row(row.try_get("buyer_id")?),
        product_id: ProductId::from_row(row.try_get("product_id")?),
        drop_id: row.try_get::<Option<i64>, _>("drop_id")?.map(DropId::from_row),
        quantity: row.try_get("quantity")?,
        unit_price: Money::new(
            row.try_get("unit_price")?,
            Currency::try_from(currency.as_str()).map_err(|_| decode("currency"))?,
        ),
        source: match source.as_str() {
            "auction" => OfferSource::Auction(source_id),
            "waitlist" => OfferSource::Waitlist(source_id),
            "comment" => OfferSource::Comment(RoomId::from_row(source_id)),
            _ => return Err(decode("source")),
        },
        hold_id: row.try_get("hold_id")?,
        expires_at: UnixMs(row.try_get("expires_at")?),
        status: match status.as_str() {
            "open" => OfferStatus::Open,
            "paid" => OfferStatus::Paid,
            "lapsed" => OfferStatus::Lapsed,
            _ => return Err(decode("status")),
        },
        order_id: row.try_get::<Option<i64>, _>("order_id")?.map(OrderId::from_row),
    })
}

impl Store {
    /// Records an offer whose units are held under `hold_id`; `None` when its source
    /// already offered this buyer (another node was first: its hold is the one).
    pub async fn create_offer(&self, o: &NewOffer<'_>, now: UnixMs) -> Result<Option<OfferRow>, sqlx::Error> {
        let created = sqlx::query(
            "insert into offers (room_id, buyer_id, product_id, drop_id, quantity, unit_price, currency, source, \
             source_id, hold_id, expires_at, status, created_at) \
             values ($1, $2, $3, $12, $4, $5, $6, $7, $8, $9, $10, 'open', $11) returning id",
        )
        .bind(o.room.get())
        .bind(o.buyer.get())
        .bind(o.product.get())
        .bind(o.quantity)
        .bind(o.unit_price.amount)
        .bind(o.unit_price.currency.as_str())
        .bind(o.source.kind())
        .bind(o.source.id())
        .bind(o.hold_id)
        .bind(o.expires_at.0)
        .bind(now.0)
        .bind(o.drop.map(DropId::get))
        .fetch_one(&self.pool)
        .await;
        match created {
            Ok(row) => self.offer(OfferId::from_row(row.try_get("id")?)).await,
            Err(e) if is_unique_violation(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn offer(&self, id: OfferId) -> Result<Option<OfferRow>, sqlx::Error> {
        let sql = format!("select {COLUMNS} from offers where id = $1");
        sqlx::query(&sql).bind(id.get()).fetch_optional(&self.pool).await?.as_ref().map(offer).transpose()
    }

    /// The offer a source made to a buyer, if it made one.
    pub async fn offer_of(&self, source: OfferSource, buyer: AccountId) -> Result<Option<OfferRow>, sqlx::Error> {
        let sql = format!("select {COLUMNS} from offers where source = $1 and source_id = $2 and buyer_id = $3");
        let row = sqlx::query(&sql)
            .bind(source.kind())
            .bind(source.id())
            .bind(buyer.get())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(offer).transpose()
    }

    /// The buyer's open offers from comments in the room: a bound on what commenting holds.
    pub async fn open_comment_offers(&self, room: RoomId, buyer: AccountId, now: UnixMs) -> Result<i64, sqlx::Error> {
        let row = sqlx::query(
            "select count(*) as n from offers where source = 'comment' and source_id = $1 and buyer_id = $2 \
             and status = 'open' and expires_at > $3",
        )
        .bind(room.get())
        .bind(buyer.get())
        .bind(now.0)
        .fetch_one(&self.pool)
        .await?;
        row.try_get("n")
    }

    /// The buyer's open offers, soonest to run out first.
    pub async fn open_offers(&self, buyer: AccountId, now: UnixMs) -> Result<Vec<OfferRow>, sqlx::Error> {
        let sql = format!(
            "select {COLUMNS} from offers where buyer_id = $1 and status = 'open' and expires_at > $2 \
             order by expires_at"
        );
        sqlx::query(&sql).bind(buyer.get()).bind(now.0).fetch_all(&self.pool).await?.iter().map(offer).collect()
    }

    /// Settles an open offer from its orders: paid when an order with its hold is paid;
    /// lapsed when its time is up and no order with its hold is paid or being paid.
    pub async fn offer_fate(&self, id: OfferId, now: UnixMs) -> Result<OfferFate, sqlx::Error> {
        let paid = sqlx::query(
            "update offers set status = 'paid', order_id = (select o.id from orders o where o.hold_id = \
             offers.hold_id and o.status in ('paid', 'refunded')) where id = $1 and status = 'open' and exists \
             (select 1 from orders o where o.hold_id = offers.hold_id and o.status in ('paid', 'refunded'))",
        )
        .bind(id.get())
        .execute(&self.pool)
        .await?
        .rows_affected();
        if paid == 0 {
            sqlx::query(
                "update offers set status = 'lapsed' where id = $1 and status = 'open' and expires_at <= $2 \
                 and not exists (select 1 from orders o where o.hold_id = offers.hold_id \
                 and o.status in ('placed', 'paid', 'refunded'))",
            )
            .bind(id.get())
            .bind(now.0)
            .execute(&self.pool)
            .await?;
        }
        let row = self.offer(id).await?.ok_or_else(|| sqlx::Error::RowNotFound)?;
        Ok(match (row.status, row.order_id) {
            (OfferStatus::Paid, Some(order)) => OfferFate::Paid(order),
            (OfferStatus::Lapsed, _) => OfferFate::Lapsed,
            _ => OfferFate::Open,
        })
    }
}
