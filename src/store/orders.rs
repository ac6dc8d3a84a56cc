use super::payments::{CommissionEntry, insert_commission};
use super::{Store, is_unique_violation};
use crate::domain::{AccountId, BrandId, Currency, DropId, Money, OrderId, ProductId, RoomId, UnixMs};
use crate::wire::api::Earnings;
use crate::wire::ws::{OrderLineView, OrderStatus, OrderView};
use sqlx::Row;
use sqlx::any::AnyRow;

pub struct NewOrder {
    pub buyer: AccountId,
    pub room: RoomId,
    pub creator: AccountId,
    pub currency: Currency,
    pub subtotal: i64,
    pub commission_total: i64,
    pub idempotency_key: String,
    pub request_hash: String,
    pub hold_id: String,
    pub hold_expires_at: UnixMs,
    pub lines: Vec<NewOrderLine>,
}

pub struct NewOrderLine {
    pub product_id: ProductId,
    pub brand_id: BrandId,
    pub drop_id: Option<DropId>,
    pub title: String,
    pub quantity: i64,
    pub unit_price: i64,
    pub line_total: i64,
    pub commission_bps: i64,
    pub commission_flat: i64,
    pub commission_amount: i64,
}

/// An order with what checkout needs to resume it.
#[derive(Debug, Clone)]
pub struct OrderRecord {
    pub view: OrderView,
    pub request_hash: String,
    /// The buyer's display name: what sellers are shown instead of the buyer's account.
    pub buyer_name: String,
    pub hold_id: String,
    pub hold_expires_at: UnixMs,
}

/// Units a placed order still holds, as the inventory needs them to rebuild.
#[derive(Debug, Clone)]
pub struct LiveHold {
    pub hold_id: String,
    pub expires_at: UnixMs,
    pub lines: Vec<HeldLine>,
}

#[derive(Debug, Clone)]
pub struct HeldLine {
    pub product: ProductId,
    pub drop: Option<DropId>,
    pub units: i64,
}

pub enum PlaceOutcome {
    Placed(OrderView),
    /// Another checkout already holds this buyer's idempotency key.
    KeyTaken,
}

pub enum SettleOutcome {
    Paid,
    /// The order was no longer `placed` (cancelled by expiry, or settled by a racing retry).
    NotPlaced,
    /// A conditional stock decrement found too few units: the last guard against oversell.
    OutOfStock,
}

const ORDER_SELECT: &str = "select o.id, o.buyer_id, o.room_id, o.creator_id, o.currency, o.subtotal, \
     o.commission_total, o.status, o.idempotency_key, o.failure_code, o.created_at, o.request_hash, \
     o.hold_id, o.hold_expires_at, l.product_id, l.brand_id, l.drop_id, l.title, l.quantity, \
     l.unit_price, l.line_total, l.commission_amount, l.refunded_quantity, b.display_name as buyer_name \
     from orders o join order_lines l on l.order_id = o.id join accounts b on b.id = o.buyer_id";

fn status(raw: &str) -> Result<OrderStatus, sqlx::Error> {
    match raw {
        "placed" => Ok(OrderStatus::Placed),
        "paid" => Ok(OrderStatus::Paid),
        "cancelled" => Ok(OrderStatus::Cancelled),
        "refunded" => Ok(OrderStatus::Refunded),
        other => Err(sqlx::Error::Decode(format!("order status {other:?}").into())),
    }
}

fn line(row: &AnyRow) -> Result<OrderLineView, sqlx::Error> {
    Ok(OrderLineView {
        product_id: ProductId::from_row(row.try_get("product_id")?),
        brand_id: BrandId::from_row(row.try_get("brand_id")?),
        drop_id: row.try_get::<Option<i64>, _>("drop_id")?.map(DropId::from_row),
        title: row.try_get("title")?,
        quantity: row.try_get("quantity")?,
        unit_price: row.try_get("unit_price")?,
        line_total: row.try_get("line_total")?,
        commission: row.try_get("commission_amount")?,
        refunded_quantity: row.try_get("refunded_quantity")?,
    })
}

/// Folds joined order × line rows (ordered by order) into records.
fn records(rows: &[AnyRow]) -> Result<Vec<OrderRecord>, sqlx::Error> {
    let mut out: Vec<OrderRecord> = Vec::new();
    for row in rows {
        let id = OrderId::from_row(row.try_get("id")?);
        if out.last().is_none_or(|r| r.view.id != id) {
            let currency: String = row.try_get("currency")?;
            let currency = Currency::try_from(currency).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            out.push(OrderRecord {
                view: OrderView {
                    id,
                    room_id: RoomId::from_row(row.try_get("room_id")?),
                    creator_id: AccountId::from_row(row.try_get("creator_id")?),
                    buyer_id: AccountId::from_row(row.try_get("buyer_id")?),
                    status: status(&row.try_get::<String, _>("status")?)?,
                    lines: Vec::new(),
                    subtotal: Money::new(row.try_get("subtotal")?, currency),
                    commission: Money::new(row.try_get("commission_total")?, currency),
                    refunded: Money::new(0, currency),
                    idempotency_key: row.try_get("idempotency_key")?,
                    failure_code: row.try_get("failure_code")?,
                    created_at: UnixMs(row.try_get("created_at")?),
                },
                request_hash: row.try_get("request_hash")?,
                buyer_name: row.try_get("buyer_name")?,
                hold_id: row.try_get("hold_id")?,
                hold_expires_at: UnixMs(row.try_get("hold_expires_at")?),
            });
        }
        if let Some(record) = out.last_mut() {
            let line = line(row)?;
            record.view.refunded.amount += line.refunded_quantity * line.unit_price;
            record.view.lines.push(line);
        }
    }
    Ok(out)
}

/// Caps list endpoints: a buyer or brand with more orders pages through reports instead.
const LIST_LIMIT: i64 = 500;

impl Store {
    /// Writes the order, its lines and their commission in one transaction, status
    /// `placed`. The unique (buyer, idempotency key) constraint makes a duplicate
    /// checkout lose here instead of creating a second order.
    pub async fn place_order(&self, o: &NewOrder, now: UnixMs) -> Result<PlaceOutcome, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "insert into orders (buyer_id, room_id, creator_id, currency, subtotal, commission_total, status, \
             idempotency_key, request_hash, hold_id, hold_expires_at, created_at, updated_at) \
             values ($1, $2, $3, $4, $5, $6, 'placed', $7, $8, $9, $10, $11, $11) returning id",
        )
        .bind(o.buyer.get())
        .bind(o.room.get())
        .bind(o.creator.get())
        .bind(o.currency.as_str())
        .bind(o.subtotal)
        .bind(o.commission_total)
        .bind(&o.idempotency_key)
        .bind(&o.request_hash)
        .bind(&o.hold_id)
        .bind(o.hold_expires_at.0)
        .bind(now.0)
        .fetch_one(&mut *tx)
        .await;
        let id: i64 = match inserted {
            Ok(row) => row.try_get("id")?,
            Err(e) if is_unique_violation(&e) => return Ok(PlaceOutcome::KeyTaken),
            Err(e) => return Err(e),
        };
        for l in &o.lines {
            sqlx::query(
                "insert into order_lines (order_id, product_id, brand_id, drop_id, title, quantity, unit_price, \
                 line_total, commission_bps, commission_flat, commission_amount) \
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(id)
            .bind(l.product_id.get())
            .bind(l.brand_id.get())
            .bind(l.drop_id.map(DropId::get))
            .bind(&l.title)
            .bind(l.quantity)
            .bind(l.unit_price)
            .bind(l.line_total)
            .bind(l.commission_bps)
            .bind(l.commission_flat)
            .bind(l.commission_amount)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        let record = self.order_record(OrderId::from_row(id)).await?;
        record.map(|r| PlaceOutcome::Placed(r.view)).ok_or_else(|| sqlx::Error::RowNotFound)
    }

    pub async fn order_record(&self, id: OrderId) -> Result<Option<OrderRecord>, sqlx::Error> {
        let sql = format!("{ORDER_SELECT} where o.id = $1 order by o.id");
        let rows = sqlx::query(&sql).bind(id.get()).fetch_all(&self.pool).await?;
        Ok(records(&rows)?.pop())
    }

    pub async fn order_by_key(&self, buyer: AccountId, key: &str) -> Result<Option<OrderRecord>, sqlx::Error> {
        let sql = format!("{ORDER_SELECT} where o.buyer_id = $1 and o.idempotency_key = $2 order by o.id");
        let rows = sqlx::query(&sql).bind(buyer.get()).bind(key).fetch_all(&self.pool).await?;
        Ok(records(&rows)?.pop())
    }

    /// Counts a payment attempt on a placed order; `None` when it is no longer placed.
    pub async fn begin_payment_attempt(&self, id: OrderId, now: UnixMs) -> Result<Option<i64>, sqlx::Error> {
        let row = sqlx::query(
            "update orders set payment_attempts = payment_attempts + 1, updated_at = $1 \
             where id = $2 and status = 'placed' returning payment_attempts",
        )
        .bind(now.0)
        .bind(id.get())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| r.try_get("payment_attempts")).transpose()
    }

    /// Marks a placed order paid, takes its units out of stock (and out of its drop), and
    /// accrues its commission, in one transaction; each decrement is conditional on enough
    /// units remaining. Accruals settle at `settles_at` (the end of the return window).
    pub async fn settle_paid(
        &self,
        order: &OrderView,
        accruals: &[CommissionEntry],
        settles_at: UnixMs,
        now: UnixMs,
    ) -> Result<SettleOutcome, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let paid = sqlx::query(
            "update orders set status = 'paid', paid_at = $1, updated_at = $1 where id = $2 and status = 'placed'",
        )
        .bind(now.0)
        .bind(order.id.get())
        .execute(&mut *tx)
        .await?;
        if paid.rows_affected() == 0 {
            return Ok(SettleOutcome::NotPlaced);
        }
        for l in &order.lines {
            let taken = sqlx::query("update products set stock = stock - $1 where id = $2 and stock >= $1")
                .bind(l.quantity)
                .bind(l.product_id.get())
                .execute(&mut *tx)
                .await?;
            if taken.rows_affected() == 0 {
                return Ok(SettleOutcome::OutOfStock);
            }
            if let Some(drop) = l.drop_id {
                let taken =
                    sqlx::query("update drops set remaining = remaining - $1 where id = $2 and remaining >= $1")
                        .bind(l.quantity)
                        .bind(drop.get())
                        .execute(&mut *tx)
                        .await?;
                if taken.rows_affected() == 0 {
                    return Ok(SettleOutcome::OutOfStock);
                }
            }
        }
        insert_commission(&mut tx, accruals, now, Some(settles_at)).await?;
        tx.commit().await?;
        Ok(SettleOutcome::Paid)
    }

    /// Cancels a placed order with the reason; false if it was no longer placed.
    pub async fn cancel_order(&self, id: OrderId, code: &str, now: UnixMs) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "update orders set status = 'cancelled', failure_code = $1, updated_at = $2 where id = $3 and status = 'placed'",
        )
        .bind(code)
        .bind(now.0)
        .bind(id.get())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Placed orders that need reconciling: their hold has run out, or they were charged
    /// but never settled (a crash, a lost database connection between the two).
    pub async fn orders_to_reconcile(&self, now: UnixMs) -> Result<Vec<OrderId>, sqlx::Error> {
        let rows = sqlx::query(
            "select o.id from orders o where o.status = 'placed' and (o.hold_expires_at <= $1 or exists \
             (select 1 from payments p where p.order_id = o.id and p.kind = 'charge' and p.status = 'succeeded')) \
             order by o.id limit 500",
        )
        .bind(now.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(OrderId::from_row(r.try_get("id")?))).collect()
    }

    /// Placed orders whose hold has not expired: units that are promised but not yet sold.
    pub async fn live_holds(&self, now: UnixMs) -> Result<Vec<LiveHold>, sqlx::Error> {
        let rows = sqlx::query(
            "select o.hold_id, o.hold_expires_at, l.product_id, l.drop_id, l.quantity \
             from orders o join order_lines l on l.order_id = o.id \
             where o.status = 'placed' and o.hold_expires_at > $1 order by o.id",
        )
        .bind(now.0)
        .fetch_all(&self.pool)
        .await?;
        let mut holds: Vec<LiveHold> = Vec::new();
        for r in &rows {
            let hold_id: String = r.try_get("hold_id")?;
            let line = HeldLine {
                product: ProductId::from_row(r.try_get("product_id")?),
                drop: r.try_get::<Option<i64>, _>("drop_id")?.map(DropId::from_row),
                units: r.try_get("quantity")?,
            };
            match holds.last_mut() {
                Some(h) if h.hold_id == hold_id => h.lines.push(line),
                _ => holds.push(LiveHold {
                    hold_id,
                    expires_at: UnixMs(r.try_get("hold_expires_at")?),
                    lines: vec![line],
                }),
            }
        }
        Ok(holds)
    }

    pub async fn orders_of_buyer(&self, buyer: AccountId) -> Result<Vec<OrderView>, sqlx::Error> {
        Ok(self.order_list("o.buyer_id = $1", buyer.get()).await?.into_iter().map(|r| r.view).collect())
    }

    pub async fn orders_of_creator(&self, creator: AccountId) -> Result<Vec<OrderRecord>, sqlx::Error> {
        self.order_list("o.creator_id = $1", creator.get()).await
    }

    /// Orders containing the brand's products, each cut down to the brand's own lines and
    /// totals: a brand never sees what else the buyer bought.
    pub async fn orders_of_brand(&self, brand: BrandId) -> Result<Vec<OrderRecord>, sqlx::Error> {
        let mut orders = self.order_list("l.brand_id = $1", brand.get()).await?;
        for order in orders.iter_mut().map(|r| &mut r.view) {
            order.subtotal.amount = order.lines.iter().map(|l| l.line_total).sum();
            order.commission.amount = order.lines.iter().map(|l| l.commission).sum();
            order.refunded.amount = order.lines.iter().map(|l| l.refunded_quantity * l.unit_price).sum();
        }
        Ok(orders)
    }

    async fn order_list(&self, filter: &str, id: i64) -> Result<Vec<OrderRecord>, sqlx::Error> {
        let sql = format!(
            "{ORDER_SELECT} where o.id in (select o.id from orders o join order_lines l on l.order_id = o.id \
             where {filter} order by o.id desc limit {LIST_LIMIT}) and {filter} order by o.id desc"
        );
        let rows = sqlx::query(&sql).bind(id).fetch_all(&self.pool).await?;
        records(&rows)
    }

    /// Paid sales and commission owed to a creator, per currency.
    pub async fn creator_earnings(&self, creator: AccountId) -> Result<Vec<Earnings>, sqlx::Error> {
        let rows = sqlx::query(
            "select currency, count(*) as orders, cast(sum(subtotal) as bigint) as sales, \
             cast(sum(commission_total) as bigint) as commission \
             from orders where creator_id = $1 and status = 'paid' group by currency order by currency",
        )
        .bind(creator.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let currency: String = r.try_get("currency")?;
                let currency = Currency::try_from(currency).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
                Ok(Earnings {
                    orders: r.try_get("orders")?,
                    sales: Money::new(r.try_get("sales")?, currency),
                    commission: Money::new(r.try_get("commission")?, currency),
                })
            })
            .collect()
    }

    /// Units of a drop sold to paid orders: what the drop report and its tests compare with.
    pub async fn units_sold_in_drop(&self, drop: DropId) -> Result<i64, sqlx::Error> {
        let row = sqlx::query(
            "select cast(coalesce(sum(l.quantity), 0) as bigint) as units from order_lines l \
             join orders o on o.id = l.order_id where l.drop_id = $1 and o.status = 'paid'",
        )
        .bind(drop.get())
        .fetch_one(&self.pool)
        .await?;
        row.try_get("units")
    }
}
