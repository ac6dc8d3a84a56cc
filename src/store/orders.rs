use super::Store;
use super::payments::{ChargeOpening, ChargeRow};
use super::promo::give_back_use;
use super::reads::Read;
use super::shapes::{padded, pairs_match};
use crate::domain::{
    AccountId, BrandId, Currency, DropId, Money, OrderId, ProductId, PromoCodeId, RoomId, ShippingAddress, UnixMs,
};
use crate::wire::api::{Earnings, ShareRole};
use crate::wire::ws::{OrderLineView, OrderStatus, OrderView, RecentSale};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Clone)]
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
    /// The promo code the order uses: one of its uses is taken with the order, or the
    /// order is not placed.
    pub promo_code: Option<OrderPromo>,
    /// Σ (list price − unit price) × quantity.
    pub discount: i64,
    /// Each creator's share of the commission: the host's, and the co-host's if any.
    pub shares: Vec<NewShare>,
    /// Where it ships, copied onto the order.
    pub shipping: Option<ShippingAddress>,
    /// Placed in a rehearsal: it never takes real stock, and no report, payout or sales
    /// feed counts it.
    pub rehearsal: bool,
    /// The charge opened in the ledger with the order, for its subtotal.
    pub charge: ChargeOpening,
}

/// A promo code as an order keeps it: its id, and the code the order view shows.
#[derive(Clone)]
pub struct OrderPromo {
    pub id: PromoCodeId,
    pub code: String,
}

#[derive(Clone)]
pub struct NewShare {
    pub creator: AccountId,
    pub role: ShareRole,
    pub share_bps: i64,
    pub commission_amount: i64,
    pub rule_version: &'static str,
}

/// One creator's stored share of an order's commission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareRow {
    pub order_id: OrderId,
    pub creator_id: AccountId,
    pub display_name: String,
    pub role: ShareRole,
    pub share_bps: i64,
    pub commission_amount: i64,
    pub rule_version: String,
}

/// The creators an order's commission goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parties {
    pub host: AccountId,
    pub co_host: Option<AccountId>,
}

impl NewOrder {
    /// The order as `Store::order_record` reads it back once it is written as `id` at
    /// `now`: built from what was inserted, so placing an order needs no second read.
    pub(super) fn view(&self, id: OrderId, now: UnixMs) -> OrderView {
        let mut lines: Vec<OrderLineView> = self
            .lines
            .iter()
            .map(|l| OrderLineView {
                product_id: l.product_id,
                brand_id: l.brand_id,
                drop_id: l.drop_id,
                title: l.title.clone(),
                quantity: l.quantity,
                list_price: l.list_price,
                unit_price: l.unit_price,
                line_total: l.line_total,
                commission: l.commission_amount,
                refunded_quantity: 0,
            })
            .collect();
        // In the order the read-back gives them.
        lines.sort_by_key(|l| l.product_id);
        OrderView {
            id,
            reference: id.reference(),
            room_id: self.room,
            creator_id: self.creator,
            buyer_id: self.buyer,
            status: OrderStatus::Placed,
            lines,
            subtotal: Money::new(self.subtotal, self.currency),
            commission: Money::new(self.commission_total, self.currency),
            refunded: Money::new(0, self.currency),
            promo_code: self.promo_code.as_ref().map(|p| p.code.clone()),
            promo_code_id: self.promo_code.as_ref().map(|p| p.id),
            discount: Money::new(self.discount, self.currency),
            idempotency_key: self.idempotency_key.clone(),
            failure_code: None,
            created_at: now,
            shipping: self.shipping.clone().map(Box::new),
            rehearsal: self.rehearsal,
        }
    }

    /// Who the order's commission goes to, as `Store::order_parties` reads it back once
    /// the order is written.
    pub fn parties(&self) -> Parties {
        let co_host = self.shares.iter().find(|s| s.role == ShareRole::CoHost).map(|s| s.creator);
        Parties { host: self.creator, co_host }
    }
}

#[derive(Clone)]
pub struct NewOrderLine {
    pub product_id: ProductId,
    pub brand_id: BrandId,
    pub drop_id: Option<DropId>,
    pub title: String,
    pub quantity: i64,
    /// The unit price before the promo code; `unit_price` is what is paid.
    pub list_price: i64,
    pub unit_price: i64,
    pub line_total: i64,
    pub commission_bps: i64,
    pub commission_flat: i64,
    pub commission_amount: i64,
    /// The co-host's share of `commission_amount` (0 without a co-host).
    pub co_host_share_bps: i64,
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
    /// The co-host's share of each line's commission, in the order of `view.lines`.
    pub co_host_bps: Vec<i64>,
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
    /// The product whose stock the line holds; `None` in a rehearsal's order, which
    /// never holds real stock (its drop's units it does).
    pub product: Option<ProductId>,
    pub drop: Option<DropId>,
    pub units: i64,
}

/// A placed order, and its charge as the ledger opened it in the same transaction.
pub struct PlacedOrder {
    pub view: OrderView,
    pub charge: ChargeRow,
}

pub enum PlaceOutcome {
    Placed(Box<PlacedOrder>),
    /// Another checkout already holds this buyer's idempotency key.
    KeyTaken,
    /// The promo code had no use left to take (used up, expired or revoked meanwhile):
    /// nothing was written.
    PromoRefused,
    /// A drop line would take the buyer past the drop's per-buyer limit: nothing written.
    OverDropLimit(DropId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettleOutcome {
    Paid,
    /// The order was no longer `placed` (cancelled by expiry, or settled by a racing retry).
    NotPlaced,
    /// A conditional stock decrement found too few units: the last guard against oversell.
    OutOfStock,
    /// The charge to record was no longer pending and had not succeeded: the ledger had
    /// given up on it (the reconciler found nothing charged yet). Nothing was written.
    ChargeGivenUp,
}

const ORDER_SELECT: &str = "select o.id, o.buyer_id, o.room_id, o.creator_id, o.currency, o.subtotal, \
     o.commission_total, o.status, o.idempotency_key, o.failure_code, o.created_at, o.request_hash, \
     o.hold_id, o.hold_expires_at, o.promo_code_id, o.discount, o.rehearsal, pc.code as promo_code, l.product_id, l.brand_id, \
     l.drop_id, l.title, l.quantity, l.list_price, l.unit_price, l.line_total, l.commission_amount, \
     l.refunded_quantity, l.co_host_share_bps, b.display_name as buyer_name, s.name as ship_name, \
     s.line1 as ship_line1, s.line2 as ship_line2, s.city as ship_city, s.region as ship_region, \
     s.postal_code as ship_postal_code, s.country as ship_country \
     from orders o join order_lines l on l.order_id = o.id join accounts b on b.id = o.buyer_id \
     left join promo_codes pc on pc.id = o.promo_code_id left join order_shipping s on s.order_id = o.id";

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
        list_price: row.try_get("list_price")?,
        unit_price: row.try_get("unit_price")?,
        line_total: row.try_get("line_total")?,
        commission: row.try_get("commission_amount")?,
        refunded_quantity: row.try_get("refunded_quantity")?,
    })
}

/// Folds joined order × line rows (ordered by order) into records.
pub(super) fn records(rows: &[AnyRow]) -> Result<Vec<OrderRecord>, sqlx::Error> {
    let mut out: Vec<OrderRecord> = Vec::new();
    for row in rows {
        let id = OrderId::from_row(row.try_get("id")?);
        if out.last().is_none_or(|r| r.view.id != id) {
            let currency: String = row.try_get("currency")?;
            let currency = Currency::try_from(currency).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            out.push(OrderRecord {
                view: OrderView {
                    id,
                    reference: id.reference(),
                    room_id: RoomId::from_row(row.try_get("room_id")?),
                    creator_id: AccountId::from_row(row.try_get("creator_id")?),
                    buyer_id: AccountId::from_row(row.try_get("buyer_id")?),
                    status: status(&row.try_get::<String, _>("status")?)?,
                    lines: Vec::new(),
                    subtotal: Money::new(row.try_get("subtotal")?, currency),
                    commission: Money::new(row.try_get("commission_total")?, currency),
                    refunded: Money::new(0, currency),
                    promo_code: row.try_get("promo_code")?,
                    promo_code_id: row.try_get::<Option<i64>, _>("promo_code_id")?.map(PromoCodeId::from_row),
                    discount: Money::new(row.try_get("discount")?, currency),
                    idempotency_key: row.try_get("idempotency_key")?,
                    failure_code: row.try_get("failure_code")?,
                    created_at: UnixMs(row.try_get("created_at")?),
                    shipping: match row.try_get::<Option<String>, _>("ship_name")? {
                        Some(_) => Some(Box::new(super::wallet::address(row, "ship_")?)),
                        None => None,
                    },
                    rehearsal: row.try_get::<i64, _>("rehearsal")? != 0,
                },
                request_hash: row.try_get("request_hash")?,
                buyer_name: row.try_get("buyer_name")?,
                hold_id: row.try_get("hold_id")?,
                hold_expires_at: UnixMs(row.try_get("hold_expires_at")?),
                co_host_bps: Vec::new(),
            });
        }
        if let Some(record) = out.last_mut() {
            let line = line(row)?;
            record.co_host_bps.push(row.try_get("co_host_share_bps")?);
            record.view.refunded.amount += line.refunded_quantity * line.unit_price;
            record.view.lines.push(line);
        }
    }
    Ok(out)
}

/// How long after its cancellation an order is still checked for money to give back.
const RECONCILE_CANCELLED_FOR_MS: i64 = 24 * 3600 * 1000;

/// Caps list endpoints: a buyer or brand with more orders pages through reports instead.
const LIST_LIMIT: i64 = 500;

impl Store {
    pub async fn order_record(&self, id: OrderId) -> Result<Option<OrderRecord>, sqlx::Error> {
        let sql = format!("{ORDER_SELECT} where o.id = $1 order by o.id, l.product_id");
        let rows = sqlx::query(&sql).bind(id.get()).fetch_all(&self.pool).await?;
        Ok(records(&rows)?.pop())
    }

    pub async fn order_by_key(&self, buyer: AccountId, key: &str) -> Result<Option<OrderRecord>, sqlx::Error> {
        Ok(records(&orders_by_key_read(&[(buyer, key)]).fetch_all(&self.pool).await?)?.pop())
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

    /// Cancels a placed order with the reason, giving back the use of its promo code in
    /// the same transaction; false if it was no longer placed.
    pub async fn cancel_order(&self, id: OrderId, code: &str, now: UnixMs) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "update orders set status = 'cancelled', failure_code = $1, updated_at = $2 where id = $3 and status = 'placed'",
        )
        .bind(code)
        .bind(now.0)
        .bind(id.get())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        give_back_use(&mut tx, id).await?;
        give_back_drop_units(&mut tx, id).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Each creator's stored share of the commission of `orders`, host first.
    pub async fn order_shares(&self, orders: &[OrderId]) -> Result<Vec<ShareRow>, sqlx::Error> {
        if orders.is_empty() {
            return Ok(Vec::new());
        }
        let params: Vec<String> = (1..=orders.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "select s.order_id, s.creator_id, a.display_name, s.role, s.share_bps, s.commission_amount, \
             s.rule_version from order_shares s join accounts a on a.id = s.creator_id \
             where s.order_id in ({}) order by s.order_id, s.role desc",
            params.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for o in orders {
            query = query.bind(o.get());
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let role = match r.try_get::<String, _>("role")?.as_str() {
                    "host" => ShareRole::Host,
                    "co_host" => ShareRole::CoHost,
                    other => return Err(sqlx::Error::Decode(format!("share role {other:?}").into())),
                };
                Ok(ShareRow {
                    order_id: OrderId::from_row(r.try_get("order_id")?),
                    creator_id: AccountId::from_row(r.try_get("creator_id")?),
                    display_name: r.try_get("display_name")?,
                    role,
                    share_bps: r.try_get("share_bps")?,
                    commission_amount: r.try_get("commission_amount")?,
                    rule_version: r.try_get("rule_version")?,
                })
            })
            .collect()
    }

    /// Who an order's commission goes to: the host it is attributed to, and the co-host
    /// that shared the room when it was placed.
    pub async fn order_parties(&self, order: OrderId) -> Result<Option<Parties>, sqlx::Error> {
        let Some(row) = sqlx::query("select creator_id from orders where id = $1")
            .bind(order.get())
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let co_host = sqlx::query("select creator_id from order_shares where order_id = $1 and role = 'co_host'")
            .bind(order.get())
            .fetch_optional(&self.pool)
            .await?;
        Ok(Some(Parties {
            host: AccountId::from_row(row.try_get("creator_id")?),
            co_host: co_host.map(|r| r.try_get("creator_id")).transpose()?.map(AccountId::from_row),
        }))
    }

    /// Orders that need reconciling: placed ones whose hold has run out, or that were
    /// charged but never settled (a crash, a lost database connection between the two);
    /// and ones cancelled in the last day whose money has not all gone back (a charge of
    /// unknown outcome, or a charge with no finished refund).
    pub async fn orders_to_reconcile(&self, now: UnixMs) -> Result<Vec<OrderId>, sqlx::Error> {
        let rows = sqlx::query(
            "select o.id from orders o where (o.status = 'placed' and (o.hold_expires_at <= $1 or exists \
             (select 1 from payments p where p.order_id = o.id and p.kind = 'charge' and p.status = 'succeeded'))) \
             or (o.status = 'cancelled' and o.updated_at >= $2 and exists (select 1 from payments p where p.order_id = o.id \
             and p.kind = 'charge' and (p.status = 'pending' or (p.status = 'succeeded' and not exists \
             (select 1 from payments r where r.order_id = o.id and r.kind = 'refund' \
             and r.status in ('refunded', 'refund_failed')))))) \
             order by o.id limit 500",
        )
        .bind(now.0)
        .bind(now.0 - RECONCILE_CANCELLED_FOR_MS)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(OrderId::from_row(r.try_get("id")?))).collect()
    }

    /// Placed orders whose hold has not expired, then open offers no order has taken up
    /// yet: units that are promised but not yet sold.
    pub async fn live_holds(&self, now: UnixMs) -> Result<Vec<LiveHold>, sqlx::Error> {
        let rows = sqlx::query(
            "select o.hold_id, o.hold_expires_at, o.rehearsal, l.product_id, l.drop_id, l.quantity \
             from orders o join order_lines l on l.order_id = o.id \
             where o.status = 'placed' and o.hold_expires_at > $1 order by o.id",
        )
        .bind(now.0)
        .fetch_all(&self.pool)
        .await?;
        let mut holds: Vec<LiveHold> = Vec::new();
        for r in &rows {
            let hold_id: String = r.try_get("hold_id")?;
            let rehearsal = r.try_get::<i64, _>("rehearsal")? != 0;
            let line = HeldLine {
                product: (!rehearsal).then_some(ProductId::from_row(r.try_get("product_id")?)),
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
        let offers = sqlx::query(
            "select f.hold_id, f.expires_at, f.product_id, f.drop_id, f.quantity, r.rehearsal_of from offers f \
             join rooms r on r.id = f.room_id where f.status = 'open' and f.expires_at > $1 \
             and not exists (select 1 from orders o where o.hold_id = f.hold_id) order by f.id",
        )
        .bind(now.0)
        .fetch_all(&self.pool)
        .await?;
        for r in &offers {
            holds.push(LiveHold {
                hold_id: r.try_get("hold_id")?,
                expires_at: UnixMs(r.try_get("expires_at")?),
                lines: vec![HeldLine {
                    product: r
                        .try_get::<Option<i64>, _>("rehearsal_of")?
                        .is_none()
                        .then_some(ProductId::from_row(r.try_get("product_id")?)),
                    drop: r.try_get::<Option<i64>, _>("drop_id")?.map(DropId::from_row),
                    units: r.try_get("quantity")?,
                }],
            });
        }
        Ok(holds)
    }

    pub async fn orders_of_buyer(&self, buyer: AccountId) -> Result<Vec<OrderView>, sqlx::Error> {
        Ok(self.order_list("o.buyer_id = $1", buyer.get()).await?.into_iter().map(|r| r.view).collect())
    }

    /// Orders the creator hosted or co-hosted (not their rehearsals': nothing was sold).
    pub async fn orders_of_creator(&self, creator: AccountId) -> Result<Vec<OrderRecord>, sqlx::Error> {
        let filter = "(o.creator_id = $1 or exists (select 1 from order_shares s where s.order_id = o.id \
                      and s.creator_id = $1)) and o.rehearsal = 0";
        self.order_list(filter, creator.get()).await
    }

    /// Orders containing the brand's products, each cut down to the brand's own lines and
    /// totals: a brand never sees what else the buyer bought, nor rehearsals' orders
    /// (nothing to ship).
    pub async fn orders_of_brand(&self, brand: BrandId) -> Result<Vec<OrderRecord>, sqlx::Error> {
        let mut orders = self.order_list("l.brand_id = $1 and o.rehearsal = 0", brand.get()).await?;
        for order in orders.iter_mut().map(|r| &mut r.view) {
            order.subtotal.amount = order.lines.iter().map(|l| l.line_total).sum();
            order.commission.amount = order.lines.iter().map(|l| l.commission).sum();
            order.refunded.amount = order.lines.iter().map(|l| l.refunded_quantity * l.unit_price).sum();
            order.discount.amount = order.lines.iter().map(|l| (l.list_price - l.unit_price) * l.quantity).sum();
        }
        Ok(orders)
    }

    async fn order_list(&self, filter: &str, id: i64) -> Result<Vec<OrderRecord>, sqlx::Error> {
        let sql = format!(
            "{ORDER_SELECT} where o.id in (select o.id from orders o join order_lines l on l.order_id = o.id \
             where {filter} order by o.id desc limit {LIST_LIMIT}) and {filter} order by o.id desc, l.product_id"
        );
        let rows = sqlx::query(&sql).bind(id).fetch_all(&self.pool).await?;
        records(&rows)
    }

    /// Paid sales of the orders a creator hosted or co-hosted, and the creator's share of
    /// their commission, per currency; rehearsals' orders earn nothing.
    pub async fn creator_earnings(&self, creator: AccountId) -> Result<Vec<Earnings>, sqlx::Error> {
        let rows = sqlx::query(
            "select o.currency, count(*) as orders, cast(sum(o.subtotal) as bigint) as sales, \
             cast(sum(s.commission_amount) as bigint) as commission \
             from orders o join order_shares s on s.order_id = o.id \
             where s.creator_id = $1 and o.status = 'paid' and o.rehearsal = 0 group by o.currency \
             order by o.currency",
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

    /// Units sold in the room's paid orders, and its latest `limit` sales (order lines),
    /// newest first: what a late joiner is shown of the show so far.
    pub async fn show_sales(&self, room: RoomId, limit: usize) -> Result<(i64, Vec<RecentSale>), sqlx::Error> {
        let units: i64 = sqlx::query(
            "select cast(coalesce(sum(l.quantity), 0) as bigint) as units from order_lines l \
             join orders o on o.id = l.order_id where o.room_id = $1 and o.status = 'paid'",
        )
        .bind(room.get())
        .fetch_one(&self.pool)
        .await?
        .try_get("units")?;
        let rows = sqlx::query(
            "select a.display_name, l.product_id, l.title, l.quantity, o.paid_at from order_lines l \
             join orders o on o.id = l.order_id join accounts a on a.id = o.buyer_id \
             where o.room_id = $1 and o.status = 'paid' \
             order by o.paid_at desc, o.id desc, l.product_id desc limit $2",
        )
        .bind(room.get())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        let recent = rows
            .iter()
            .map(|r| {
                Ok(RecentSale {
                    buyer: r.try_get("display_name")?,
                    product_id: ProductId::from_row(r.try_get("product_id")?),
                    title: r.try_get("title")?,
                    quantity: r.try_get("quantity")?,
                    at: UnixMs(r.try_get::<Option<i64>, _>("paid_at")?.unwrap_or_default()),
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok((units, recent))
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

/// Counts `units` of the drop against the buyer's per-buyer limit, inside the transaction
/// that places the order; false (and nothing counted) when it would pass the limit. One
/// conditional upsert: the row's lock makes concurrent orders of one buyer, on any node,
/// count one after the other. A drop without a limit always passes.
pub(super) async fn take_drop_units(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    drop: DropId,
    buyer: AccountId,
    units: i64,
) -> Result<bool, sqlx::Error> {
    let limit = "(select coalesce(per_buyer, 9223372036854775807) from drops where id = $1)";
    let done = sqlx::query(&format!(
        "insert into drop_buyers (drop_id, buyer_id, units) select $1, $2, $3 where $3 <= {limit} \
         on conflict (drop_id, buyer_id) do update set units = drop_buyers.units + excluded.units \
         where drop_buyers.units + excluded.units <= {limit}"
    ))
    .bind(drop.get())
    .bind(buyer.get())
    .bind(units)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives back the drop units a cancelled order counted, inside the transaction that
/// cancels it.
async fn give_back_drop_units(tx: &mut sqlx::Transaction<'_, sqlx::Any>, order: OrderId) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update drop_buyers set units = units - (select l.quantity from order_lines l \
         where l.order_id = $1 and l.drop_id = drop_buyers.drop_id) \
         where buyer_id = (select buyer_id from orders where id = $1) \
         and drop_id in (select drop_id from order_lines where order_id = $1 and drop_id is not null)",
    )
    .bind(order.get())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The order a buyer placed under a key, one row per line: see [`records`].
/// The orders placed under each of `keys` (a buyer's idempotency key; at least one), at
/// most one each (a unique index), their rows in id order.
pub(super) fn orders_by_key_read(keys: &[(AccountId, &str)]) -> Read {
    let keys = padded(keys.iter().copied());
    let sql = format!(
        "{ORDER_SELECT} where ({}) order by o.id, l.product_id",
        pairs_match("o.buyer_id", "o.idempotency_key", 1, keys.len())
    );
    keys.iter().fold(Read::new(sql), |read, (buyer, key)| read.int(buyer.get()).text(key))
}
