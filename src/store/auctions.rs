//! Auctions and their bids. The database is the judge across nodes: one running auction
//! per room, and every bid and the close take the auction's row first, so bids are
//! ordered once (by `auction_bids.id`) and none is taken after the close.

use super::{Store, is_unique_violation};
use crate::domain::{
    AccountId, AuctionId, BidBook, BidRefusal, Increments, OfferId, OrderId, Price, ProductId, RoomId, Standing, UnixMs,
};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

/// Most bids one auction takes: a bound on what judging a bid reads.
pub const MAX_BIDS: i64 = 5_000;

/// Where an auction is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuctionStatus {
    Open,
    /// Bidding is over and a buyer is offered the unit.
    Awarded,
    Sold,
    Unsold,
}

impl AuctionStatus {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(Self::Open),
            "awarded" => Some(Self::Awarded),
            "sold" => Some(Self::Sold),
            "unsold" => Some(Self::Unsold),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct AuctionRow {
    pub id: AuctionId,
    pub room_id: RoomId,
    pub product_id: ProductId,
    pub starting_price: Price,
    pub increments: Increments,
    /// 0 in sudden death.
    pub extend_secs: i64,
    pub sudden_death: bool,
    pub status: AuctionStatus,
    pub ends_at: UnixMs,
    pub bids: i64,
    pub leader: Option<AccountId>,
    pub price: Option<i64>,
    /// Bidders passed over for not paying, in order.
    pub lapsed: Vec<AccountId>,
    pub offer_id: Option<OfferId>,
    pub order_id: Option<OrderId>,
}

pub struct NewAuction {
    pub room: RoomId,
    pub product: ProductId,
    pub starting_price: Price,
    pub increments: Increments,
    pub extend_secs: i64,
    pub sudden_death: bool,
    pub ends_at: UnixMs,
}

/// A bid the database took: the standing after it, and the end (moved by a late bid).
#[derive(Debug, Clone, Copy)]
pub struct BidTaken {
    pub standing: Standing,
    pub bids: i64,
    pub ends_at: UnixMs,
    pub extended: bool,
    pub min_bid: i64,
}

/// What a bid came to.
#[derive(Debug, Clone, Copy)]
pub enum BidOutcome {
    Taken(BidTaken),
    Refused(BidRefusal),
    /// The auction is not taking bids: over, or not this room's.
    Closed,
    /// The auction has taken [`MAX_BIDS`].
    Full,
}

const COLUMNS: &str = "id, room_id, product_id, starting_price, increments, extend_secs, sudden_death, status, \
                       ends_at, bids, leader_id, price, lapsed, offer_id, order_id";

fn auction(row: &AnyRow) -> Result<AuctionRow, sqlx::Error> {
    let decode = |what: &str| sqlx::Error::Decode(format!("auction {what}").into());
    let increments: String = row.try_get("increments")?;
    let status: String = row.try_get("status")?;
    let lapsed: String = row.try_get("lapsed")?;
    Ok(AuctionRow {
        id: AuctionId::from_row(row.try_get("id")?),
        room_id: RoomId::from_row(row.try_get("room_id")?),
        product_id: ProductId::from_row(row.try_get("product_id")?),
        starting_price: Price::try_from(row.try_get::<i64, _>("starting_price")?).map_err(|_| decode("price"))?,
        increments: serde_json::from_str(&increments).map_err(|_| decode("increments"))?,
        extend_secs: row.try_get("extend_secs")?,
        sudden_death: row.try_get::<i64, _>("sudden_death")? == 1,
        status: AuctionStatus::parse(&status).ok_or_else(|| decode("status"))?,
        ends_at: UnixMs(row.try_get("ends_at")?),
        bids: row.try_get("bids")?,
        leader: row.try_get::<Option<i64>, _>("leader_id")?.map(AccountId::from_row),
        price: row.try_get("price")?,
        lapsed: lapsed
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<i64>().ok().and_then(|n| AccountId::try_from(n).ok()).ok_or_else(|| decode("lapsed")))
            .collect::<Result<_, _>>()?,
        offer_id: row.try_get::<Option<i64>, _>("offer_id")?.map(OfferId::from_row),
        order_id: row.try_get::<Option<i64>, _>("order_id")?.map(OrderId::from_row),
    })
}

async fn auction_in(tx: &mut Transaction<'_, Any>, id: AuctionId) -> Result<AuctionRow, sqlx::Error> {
    let sql = format!("select {COLUMNS} from auctions where id = $1");
    auction(&sqlx::query(&sql).bind(id.get()).fetch_one(&mut **tx).await?)
}

/// The auction's bids so far, judged.
async fn book_in(tx: &mut Transaction<'_, Any>, a: &AuctionRow) -> Result<BidBook, sqlx::Error> {
    let rows =
        sqlx::query("select id, account_id, amount, max_amount from auction_bids where auction_id = $1 order by id")
            .bind(a.id.get())
            .fetch_all(&mut **tx)
            .await?;
    let mut book = BidBook::new(a.starting_price, a.increments.clone());
    for r in &rows {
        let since = u64::try_from(r.try_get::<i64, _>("id")?).unwrap_or_default();
        book.record(
            AccountId::from_row(r.try_get("account_id")?),
            r.try_get("amount")?,
            r.try_get("max_amount")?,
            since,
        );
    }
    Ok(book)
}

impl Store {
    /// Opens an auction in the room; `None` when one is running there already.
    pub async fn create_auction(&self, a: &NewAuction, now: UnixMs) -> Result<Option<AuctionRow>, sqlx::Error> {
        let increments = serde_json::to_string(&a.increments).map_err(|e| sqlx::Error::Encode(e.into()))?;
        let created = sqlx::query(
            "insert into auctions (room_id, product_id, starting_price, increments, extend_secs, sudden_death, \
             status, started_at, ends_at) values ($1, $2, $3, $4, $5, $6, 'open', $7, $8) returning id",
        )
        .bind(a.room.get())
        .bind(a.product.get())
        .bind(a.starting_price.get())
        .bind(increments)
        .bind(a.extend_secs)
        .bind(i64::from(a.sudden_death))
        .bind(now.0)
        .bind(a.ends_at.0)
        .fetch_one(&self.pool)
        .await;
        match created {
            Ok(row) => self.auction(AuctionId::from_row(row.try_get("id")?)).await,
            Err(e) if is_unique_violation(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn auction(&self, id: AuctionId) -> Result<Option<AuctionRow>, sqlx::Error> {
        let sql = format!("select {COLUMNS} from auctions where id = $1");
        sqlx::query(&sql).bind(id.get()).fetch_optional(&self.pool).await?.as_ref().map(auction).transpose()
    }

    /// The room's running auction (open or awarded), if any.
    pub async fn running_auction(&self, room: RoomId) -> Result<Option<AuctionRow>, sqlx::Error> {
        let sql = format!("select {COLUMNS} from auctions where room_id = $1 and status in ('open', 'awarded')");
        sqlx::query(&sql).bind(room.get()).fetch_optional(&self.pool).await?.as_ref().map(auction).transpose()
    }

    /// The bids' standing and the least next bid, as the book has them now.
    pub async fn auction_book(&self, a: &AuctionRow) -> Result<BidBook, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let book = book_in(&mut tx, a).await?;
        tx.commit().await?;
        Ok(book)
    }

    /// Judges `account`'s bid and takes it if it stands, while the auction is open and
    /// `now` is before its end. The row is taken first (the bid counter), so concurrent
    /// bids on any node are judged one after another, each against all before it. A bid
    /// taken less than `extend_secs` before the end moves the end to `now` plus that.
    pub async fn place_bid(
        &self,
        room: RoomId,
        id: AuctionId,
        account: AccountId,
        amount: i64,
        max: i64,
        now: UnixMs,
    ) -> Result<BidOutcome, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let taken = sqlx::query(
            "update auctions set bids = bids + 1 where id = $1 and room_id = $2 and status = 'open' and ends_at > $3",
        )
        .bind(id.get())
        .bind(room.get())
        .bind(now.0)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if taken == 0 {
            return Ok(BidOutcome::Closed);
        }
        let a = auction_in(&mut tx, id).await?;
        if a.bids > MAX_BIDS {
            return Ok(BidOutcome::Full);
        }
        let mut book = book_in(&mut tx, &a).await?;
        let inserted = sqlx::query(
            "insert into auction_bids (auction_id, account_id, amount, max_amount, placed_at) \
             values ($1, $2, $3, $4, $5) returning id",
        )
        .bind(id.get())
        .bind(account.get())
        .bind(amount)
        .bind(max.max(amount))
        .bind(now.0)
        .fetch_one(&mut *tx)
        .await?;
        let since = u64::try_from(inserted.try_get::<i64, _>("id")?).unwrap_or_default();
        let standing = match book.bid(account, amount, max, since) {
            Ok(standing) => standing,
            // Dropping the transaction takes back the counter and the row.
            Err(refused) => return Ok(BidOutcome::Refused(refused)),
        };
        let late = a.ends_at.0 - now.0 < a.extend_secs * 1_000;
        let ends_at = if late { UnixMs(now.0 + a.extend_secs * 1_000) } else { a.ends_at };
        sqlx::query("update auctions set leader_id = $2, price = $3, ends_at = $4 where id = $1")
            .bind(id.get())
            .bind(standing.leader.get())
            .bind(standing.price)
            .bind(ends_at.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(BidOutcome::Taken(BidTaken { standing, bids: a.bids, ends_at, extended: late, min_bid: book.min_bid() }))
    }

    /// Ends bidding if it is still open and its time is up: `awarded` to the leader at
    /// the book's price, or `unsold` without bids. `None` when another caller closed it
    /// first or it is not over yet (a late bid moved the end).
    pub async fn close_auction(&self, id: AuctionId, now: UnixMs) -> Result<Option<AuctionRow>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let closed = sqlx::query(
            "update auctions set status = case when bids > 0 then 'awarded' else 'unsold' end, closed_at = $2, \
             awaiting_offer_since = $2 where id = $1 and status = 'open' and ends_at <= $2",
        )
        .bind(id.get())
        .bind(now.0)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if closed == 0 {
            return Ok(None);
        }
        let a = auction_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(Some(a))
    }

    /// Passes over the buyer the auction's offer `offer` was for (it lapsed), making
    /// room for the next offer; `false` when another caller did first.
    pub async fn pass_over(
        &self,
        id: AuctionId,
        offer: OfferId,
        buyer: AccountId,
        now: UnixMs,
    ) -> Result<bool, sqlx::Error> {
        let passed = sqlx::query(
            "update auctions set offer_id = null, lapsed = lapsed || $3 || ',', awaiting_offer_since = $4 \
             where id = $1 and status = 'awarded' and offer_id = $2",
        )
        .bind(id.get())
        .bind(offer.get())
        .bind(buyer.get().to_string())
        .bind(now.0)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(passed == 1)
    }

    /// Makes `offer` the awarded auction's current one; `false` when it has one already
    /// (another node attached it first).
    pub async fn attach_offer(&self, id: AuctionId, offer: OfferId) -> Result<bool, sqlx::Error> {
        let attached =
            sqlx::query("update auctions set offer_id = $2, awaiting_offer_since = null where id = $1 and status = 'awarded' and offer_id is null")
                .bind(id.get())
                .bind(offer.get())
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok(attached == 1)
    }

    /// Ends an awarded auction: `sold` with the order that paid its offer, or `unsold`
    /// when nobody is left to offer it to (or no unit is left). `false` when it was
    /// ended already.
    pub async fn finish_auction(&self, id: AuctionId, order: Option<OrderId>) -> Result<bool, sqlx::Error> {
        let status = if order.is_some() { "sold" } else { "unsold" };
        let done = sqlx::query("update auctions set status = $2, order_id = $3 where id = $1 and status = 'awarded'")
            .bind(id.get())
            .bind(status)
            .bind(order.map(OrderId::get))
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(done == 1)
    }

    /// Auctions with something due at `now`: bidding to close, an award whose offer has
    /// run out, or (the node that was to make it having gone quiet since `stalled`) an
    /// award still without an offer. Every node asks; the database decides who acts.
    pub async fn auctions_due(&self, now: UnixMs, stalled: UnixMs) -> Result<Vec<AuctionRow>, sqlx::Error> {
        let sql = format!(
            "select {COLUMNS} from auctions where (status = 'open' and ends_at <= $1) or (status = 'awarded' \
             and ((offer_id is null and awaiting_offer_since <= $2) or exists (select 1 from offers o \
             where o.id = auctions.offer_id and o.expires_at <= $1))) order by id limit 100"
        );
        sqlx::query(&sql).bind(now.0).bind(stalled.0).fetch_all(&self.pool).await?.iter().map(auction).collect()
    }

    /// Ends the room's open auction's bidding now (the room is ending): the next sweep
    /// closes it as if its time were up.
    pub async fn end_bidding(&self, room: RoomId, now: UnixMs) -> Result<(), sqlx::Error> {
        sqlx::query("update auctions set ends_at = $2 where room_id = $1 and status = 'open' and ends_at > $2")
            .bind(room.get())
            .bind(now.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
