//! Placing orders, and the group commit of the orders placed at the same moment.
//!
//! Placing an order writes its row, its lines, its creators' shares, its shipping
//! address and its charge's first ledger entry in one transaction: six round trips to
//! the database or more for one order.
//! One writer per store gathers the orders that arrive while its previous batch commits
//! and writes them all in ONE transaction of one multi-row insert per table, so a hot
//! sale's concurrent checkouts share their round trips.
//!
//! An order that takes a promo code's use or a drop's units has conditions of its own
//! that can refuse it alone; it is placed in a transaction of its own, as is every order
//! of a batch that fails (the same key twice, a database error), so each caller gets its
//! own outcome: a duplicate key still loses on the unique (buyer, idempotency key). A
//! batch that could not reach the database fails all its orders at once.

use super::group_commit::{GroupCommit, each_unreached};
use super::orders::{NewOrder, NewOrderLine, NewShare, PlaceOutcome, PlacedOrder, take_drop_units};
use super::payments::ChargeRow;
use super::promo::take_use;
use super::shapes::{Insert, Query};
use super::write_gate::WriteGate;
use super::{Store, is_unique_violation};
use crate::domain::{AccountId, DropId, Money, OrderId, ShippingAddress, UnixMs};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Row, Transaction};
use std::collections::HashMap;

/// The most orders one transaction places.
const MAX_BATCH: usize = 64;

/// The most values one insert binds: far below SQLite's and PostgreSQL's limits, so a
/// batch of large carts is split into several inserts rather than refused.
const MAX_BINDS: usize = 4_000;

/// Where checkouts queue their orders for the group commit.
pub(super) type PlacementWriter = GroupCommit<(NewOrder, UnixMs), PlaceOutcome>;

/// Starts the store's placement writer on the current runtime.
pub(super) fn start_writer(pool: AnyPool, gate: WriteGate) -> PlacementWriter {
    GroupCommit::start("livecart_placement_batch_size", MAX_BATCH, move |orders: Vec<(NewOrder, UnixMs)>| {
        let (pool, gate) = (pool.clone(), gate.clone());
        async move { place_each(&pool, &gate, &orders).await }
    })
}

impl Store {
    /// Writes the order, its lines, their commission, each creator's share and its
    /// shipping address in one transaction, status `placed`, taking one use of its promo
    /// code and its units of a drop's per-buyer limit in the same transaction (or writing
    /// nothing when it cannot). The unique (buyer, idempotency key) constraint makes a
    /// duplicate checkout lose here instead of creating a second order.
    pub async fn place_order(&self, o: &NewOrder, now: UnixMs) -> Result<PlaceOutcome, sqlx::Error> {
        if has_conditions(o) {
            return place_alone(&self.pool, &self.gate, o, now).await;
        }
        self.placements.submit((o.clone(), now)).await
    }

    /// Places the given orders as the writer places one batch, each with its own outcome:
    /// what the group-commit tests drive directly, since which orders share a batch is
    /// otherwise up to timing.
    pub async fn place_orders_together(&self, orders: &[(NewOrder, UnixMs)]) -> Vec<Result<PlaceOutcome, sqlx::Error>> {
        place_each(&self.pool, &self.gate, orders).await
    }
}

/// Whether placing `o` can be refused for a reason of its own (a promo code's last use,
/// a drop's per-buyer limit), which a shared transaction cannot refuse it alone for.
fn has_conditions(o: &NewOrder) -> bool {
    o.promo_code.is_some() || o.lines.iter().any(|l| l.drop_id.is_some())
}

/// One outcome per order: all in one transaction, or, when that fails, each in a
/// transaction of its own.
async fn place_each(
    pool: &AnyPool,
    gate: &WriteGate,
    orders: &[(NewOrder, UnixMs)],
) -> Vec<Result<PlaceOutcome, sqlx::Error>> {
    if orders.len() > 1 {
        match write_batch(pool, gate, orders).await {
            Ok(placed) => return placed.into_iter().map(|p| Ok(PlaceOutcome::Placed(Box::new(p)))).collect(),
            // Two checkouts under one key (racing on two nodes) is a race the key settles.
            Err(e) if is_unique_violation(&e) => {}
            Err(e) => match each_unreached(e, orders.len()) {
                Ok(each) => return each,
                Err(e) => tracing::warn!(
                    error = &e as &dyn std::error::Error,
                    orders = orders.len(),
                    "placement batch failed; placing its orders one by one"
                ),
            },
        }
    }
    let mut outcomes = Vec::with_capacity(orders.len());
    for (o, now) in orders {
        outcomes.push(place_alone(pool, gate, o, *now).await);
    }
    outcomes
}

/// Places orders without conditions of their own in one transaction; each placed, in order.
async fn write_batch(
    pool: &AnyPool,
    gate: &WriteGate,
    orders: &[(NewOrder, UnixMs)],
) -> Result<Vec<PlacedOrder>, sqlx::Error> {
    let _turn = gate.turn().await;
    let mut tx = pool.begin().await?;
    let rows: Vec<(&NewOrder, UnixMs)> = orders.iter().map(|(o, now)| (o, *now)).collect();
    let ids = insert_orders(&mut tx, &rows).await?;
    let placed: Vec<(OrderId, &NewOrder, UnixMs)> =
        ids.iter().copied().zip(orders).map(|(id, (o, now))| (id, o, *now)).collect();
    insert_contents(&mut tx, &placed).await?;
    let charges = open_charges(&mut tx, &placed).await?;
    tx.commit().await?;
    Ok(placed
        .iter()
        .zip(charges)
        .map(|((id, o, now), charge)| PlacedOrder { view: o.view(*id, *now), charge })
        .collect())
}

/// Places one order in a transaction of its own, with its promo code's use and its drop
/// units taken in it.
async fn place_alone(pool: &AnyPool, gate: &WriteGate, o: &NewOrder, now: UnixMs) -> Result<PlaceOutcome, sqlx::Error> {
    let _turn = gate.turn().await;
    let mut tx = pool.begin().await?;
    let id = match insert_orders(&mut tx, &[(o, now)]).await {
        Ok(ids) => ids[0],
        Err(e) if is_unique_violation(&e) => return Ok(PlaceOutcome::KeyTaken),
        Err(e) => return Err(e),
    };
    if let Some(promo) = &o.promo_code {
        if !take_use(&mut tx, promo.id, now).await? {
            return Ok(PlaceOutcome::PromoRefused);
        }
    }
    for l in &o.lines {
        if let Some(drop) = l.drop_id {
            if !take_drop_units(&mut tx, drop, o.buyer, l.quantity).await? {
                return Ok(PlaceOutcome::OverDropLimit(drop));
            }
        }
    }
    let placed = [(id, o, now)];
    insert_contents(&mut tx, &placed).await?;
    let charge = open_charges(&mut tx, &placed).await?.pop().ok_or(sqlx::Error::RowNotFound)?;
    tx.commit().await?;
    Ok(PlaceOutcome::Placed(Box::new(PlacedOrder { view: o.view(id, now), charge })))
}

/// Inserts `rows` into `head`'s table, `columns` values a row, in statements of at most
/// [`MAX_BINDS`] values; what they return (`tail`), in order.
async fn insert_rows<T>(
    tx: &mut Transaction<'_, Any>,
    head: &str,
    columns: usize,
    tail: &str,
    rows: &[T],
    bind: impl for<'q> Fn(Query<'q>, &'q T) -> Query<'q>,
) -> Result<Vec<AnyRow>, sqlx::Error> {
    let most = 1 << (MAX_BINDS / columns).max(1).ilog2();
    Insert { head, columns, tail, most, keep: true }.run(tx, rows, bind).await
}

/// Inserts the orders as `placed`; their ids, in the order given.
async fn insert_orders(
    tx: &mut Transaction<'_, Any>,
    orders: &[(&NewOrder, UnixMs)],
) -> Result<Vec<OrderId>, sqlx::Error> {
    let rows = insert_rows(
        tx,
        "insert into orders (buyer_id, room_id, creator_id, currency, subtotal, commission_total, status, \
         idempotency_key, request_hash, hold_id, hold_expires_at, created_at, updated_at, promo_code_id, discount, \
         rehearsal)",
        16,
        "returning id, buyer_id, idempotency_key",
        orders,
        |q, (o, now)| {
            q.bind(o.buyer.get())
                .bind(o.room.get())
                .bind(o.creator.get())
                .bind(o.currency.as_str())
                .bind(o.subtotal)
                .bind(o.commission_total)
                .bind("placed")
                .bind(o.idempotency_key.as_str())
                .bind(o.request_hash.as_str())
                .bind(o.hold_id.as_str())
                .bind(o.hold_expires_at.0)
                .bind(now.0)
                .bind(now.0)
                .bind(o.promo_code.as_ref().map(|p| p.id.get()))
                .bind(o.discount)
                .bind(i64::from(o.rehearsal))
        },
    )
    .await?;
    // Which row is whose: a multi-row insert returns its rows in no promised order.
    let mut ids: HashMap<(AccountId, String), OrderId> = HashMap::with_capacity(rows.len());
    for r in &rows {
        let key = (AccountId::from_row(r.try_get("buyer_id")?), r.try_get("idempotency_key")?);
        ids.insert(key, OrderId::from_row(r.try_get("id")?));
    }
    orders
        .iter()
        .map(|(o, _)| ids.get(&(o.buyer, o.idempotency_key.clone())).copied().ok_or(sqlx::Error::RowNotFound))
        .collect()
}

/// Opens each placed order's charge in the ledger (its first attempt, pending, for its
/// subtotal), before the provider hears of it; the rows, in the order given.
async fn open_charges(
    tx: &mut Transaction<'_, Any>,
    placed: &[(OrderId, &NewOrder, UnixMs)],
) -> Result<Vec<ChargeRow>, sqlx::Error> {
    let rows = insert_rows(
        tx,
        "insert into payments (order_id, kind, amount, currency, provider, provider_key, provider_ref, status, \
         created_at, updated_at)",
        10,
        "returning id, order_id",
        placed,
        |q, (id, o, now)| {
            q.bind(id.get())
                .bind("charge")
                .bind(o.subtotal)
                .bind(o.currency.as_str())
                .bind(o.charge.provider)
                .bind(o.charge.provider_key.as_str())
                .bind(o.charge.provider_ref.as_deref())
                .bind("pending")
                .bind(now.0)
                .bind(now.0)
        },
    )
    .await?;
    let mut ids: HashMap<OrderId, i64> = HashMap::with_capacity(rows.len());
    for r in &rows {
        ids.insert(OrderId::from_row(r.try_get("order_id")?), r.try_get("id")?);
    }
    placed
        .iter()
        .map(|(order, o, _)| {
            let id = ids.get(order).copied().ok_or(sqlx::Error::RowNotFound)?;
            Ok(o.charge.opened(id, *order, Money::new(o.subtotal, o.currency)))
        })
        .collect()
}

/// Inserts what the placed orders hold: their lines, shipping addresses and shares.
async fn insert_contents(
    tx: &mut Transaction<'_, Any>,
    placed: &[(OrderId, &NewOrder, UnixMs)],
) -> Result<(), sqlx::Error> {
    let lines: Vec<(OrderId, &NewOrderLine)> =
        placed.iter().flat_map(|(id, o, _)| o.lines.iter().map(move |l| (*id, l))).collect();
    insert_rows(
        tx,
        "insert into order_lines (order_id, product_id, brand_id, drop_id, title, quantity, unit_price, line_total, \
         commission_bps, commission_flat, commission_amount, list_price, co_host_share_bps)",
        13,
        "",
        &lines,
        |q, (id, l)| {
            q.bind(id.get())
                .bind(l.product_id.get())
                .bind(l.brand_id.get())
                .bind(l.drop_id.map(DropId::get))
                .bind(l.title.as_str())
                .bind(l.quantity)
                .bind(l.unit_price)
                .bind(l.line_total)
                .bind(l.commission_bps)
                .bind(l.commission_flat)
                .bind(l.commission_amount)
                .bind(l.list_price)
                .bind(l.co_host_share_bps)
        },
    )
    .await?;
    let addresses: Vec<(OrderId, &ShippingAddress)> =
        placed.iter().filter_map(|(id, o, _)| o.shipping.as_ref().map(|a| (*id, a))).collect();
    if !addresses.is_empty() {
        insert_rows(
            tx,
            "insert into order_shipping (order_id, name, line1, line2, city, region, postal_code, country)",
            8,
            "",
            &addresses,
            |q, (id, a)| super::wallet::bind_address(q.bind(id.get()), a),
        )
        .await?;
    }
    let shares: Vec<(OrderId, &NewShare)> =
        placed.iter().flat_map(|(id, o, _)| o.shares.iter().map(move |s| (*id, s))).collect();
    if !shares.is_empty() {
        insert_rows(
            tx,
            "insert into order_shares (order_id, creator_id, role, share_bps, commission_amount, rule_version)",
            6,
            "",
            &shares,
            |q, (id, s)| {
                q.bind(id.get())
                    .bind(s.creator.get())
                    .bind(s.role.as_str())
                    .bind(s.share_bps)
                    .bind(s.commission_amount)
                    .bind(s.rule_version)
            },
        )
        .await?;
    }
    Ok(())
}
