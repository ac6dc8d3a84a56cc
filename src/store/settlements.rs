//! Group commit of paid orders' settlements.
//!
//! Settling a paid order (its charge recorded as succeeded, status `paid`, its units out
//! of the product's and the drop's stock, its commission accrued) is the write every sale
//! of a hot product makes to the same row. One transaction per order makes every checkout wait for the row's lock and
//! pay its own commit; here one writer per store gathers the settlements that arrive
//! while its previous batch commits and writes them all in ONE transaction.
//!
//! A batch costs a few statements whatever its size (see [`write_batch`]), and each
//! order in it keeps its own outcome: an order that finds too few units (the
//! conditional decrement, still the last guard against oversell) or that is no longer
//! `placed` leaves nothing behind in the transaction and is told so, while the others
//! commit. When the batch itself fails (a database error, a
//! deadlock between two nodes' batches), every order of it is written again alone, so
//! each waiter gets its own result and its own error.

use super::group_commit::{GroupCommit, together_or_alone};
use super::payments::{CommissionEntry, insert_commission};
use super::write_gate::WriteGate;
use super::{SettleOutcome, Store, shapes};
use crate::domain::{DropId, OrderId, ProductId, UnixMs};
use crate::wire::ws::OrderView;
use sqlx::{AnyPool, Row};
use std::collections::{BTreeMap, BTreeSet};

/// The most settlements one transaction writes: bounds how long a batch holds the hot
/// row, and the writer's memory.
const MAX_BATCH: usize = 256;

/// What settling one paid order writes.
pub(super) struct Settlement {
    order: OrderId,
    /// The ledger's charge the provider has just taken, recorded as succeeded with the
    /// settlement; `None`: the ledger says so already.
    charge: Option<i64>,
    /// A rehearsal's order takes its drop's units but never the product's real stock.
    rehearsal: bool,
    lines: Vec<SettledLine>,
    accruals: Vec<CommissionEntry>,
    settles_at: UnixMs,
    now: UnixMs,
}

struct SettledLine {
    product: ProductId,
    drop: Option<DropId>,
    quantity: i64,
}

impl Settlement {
    /// The counters the order takes units from, with how many: a rehearsal's order never
    /// takes the product's real stock, only its drop's units.
    fn counters(&self) -> impl Iterator<Item = (Counter, i64)> + '_ {
        self.lines.iter().flat_map(move |l| {
            let product = (!self.rehearsal).then_some(Counter::Product(l.product));
            product.into_iter().chain(l.drop.map(Counter::Drop)).map(move |c| (c, l.quantity))
        })
    }

    fn of(
        order: &OrderView,
        charge: Option<i64>,
        accruals: &[CommissionEntry],
        settles_at: UnixMs,
        now: UnixMs,
    ) -> Settlement {
        Settlement {
            order: order.id,
            charge,
            rehearsal: order.rehearsal,
            lines: order
                .lines
                .iter()
                .map(|l| SettledLine { product: l.product_id, drop: l.drop_id, quantity: l.quantity })
                .collect(),
            accruals: accruals.to_vec(),
            settles_at,
            now,
        }
    }
}

/// Where checkouts queue their settlements for the group commit.
pub(super) type SettlementWriter = GroupCommit<Settlement, SettleOutcome>;

/// Starts the store's settlement writer on the current runtime.
pub(super) fn start_writer(pool: AnyPool, gate: WriteGate) -> SettlementWriter {
    GroupCommit::start("livecart_settlement_batch_size", MAX_BATCH, move |settlements: Vec<Settlement>| {
        let (pool, gate) = (pool.clone(), gate.clone());
        async move { settle_each(&pool, &gate, &settlements).await }
    })
}

/// One outcome per settlement: all in one transaction, or, when that fails, each in a
/// transaction of its own.
async fn settle_each(
    pool: &AnyPool,
    gate: &WriteGate,
    settlements: &[Settlement],
) -> Vec<Result<SettleOutcome, sqlx::Error>> {
    together_or_alone(settlements, "settlement", |batch| write_batch(pool, gate, batch)).await
}

/// Settles `settlements` in one transaction, a few statements for the whole batch:
///
/// 0. the charges the provider has just taken are recorded as succeeded (one statement,
///    and one more to tell a webhook's earlier record from a charge the ledger gave up
///    on: those orders are `ChargeGivenUp` and write nothing else). A charge's record
///    stays whatever becomes of its order below, so what is not booked can be refunded;
/// 1. every order still `placed` is marked paid (one statement; the others are
///    `NotPlaced` and write nothing);
/// 2. each stock counter (product, drop) loses the units of all those orders at once,
///    conditional on that many remaining, counters in a fixed order so two nodes'
///    batches never wait on each other in a cycle. A counter that is short is taken
///    order by order instead, in batch order, each decrement conditional: the orders
///    that find too few units are `OutOfStock`, get back what other counters took for
///    them and are `placed` again (one statement), so they leave nothing behind;
/// 3. the commission of the paid orders is accrued (one multi-row insert).
///
/// The batch's orders are paid at its latest `now`, and their commission settles at
/// its latest `settles_at`: a few milliseconds at most after each order's own.
async fn write_batch(
    pool: &AnyPool,
    gate: &WriteGate,
    settlements: &[Settlement],
) -> Result<Vec<SettleOutcome>, sqlx::Error> {
    let now = settlements.iter().map(|s| s.now).max().unwrap_or(UnixMs(0));
    let settles_at = settlements.iter().map(|s| s.settles_at).max().unwrap_or(now);
    let _turn = gate.turn().await;
    let mut tx = pool.begin().await?;
    let given_up = end_charges(&mut tx, settlements, now).await?;
    let payable: Vec<OrderId> = settlements.iter().map(|s| s.order).filter(|o| !given_up.contains(o)).collect();
    let placed = mark_paid(&mut tx, &payable, now).await?;
    let mut outcomes: Vec<SettleOutcome> = Vec::with_capacity(settlements.len());
    let mut seen = BTreeSet::new();
    for s in settlements {
        // The same order twice in a batch is settled once: the first.
        let first = seen.insert(s.order);
        outcomes.push(if given_up.contains(&s.order) {
            SettleOutcome::ChargeGivenUp
        } else if first && placed.contains(&s.order) {
            SettleOutcome::Paid
        } else {
            SettleOutcome::NotPlaced
        });
    }

    // What each counter owes to which paid order, in batch order.
    let mut owed: BTreeMap<Counter, Vec<(usize, i64)>> = BTreeMap::new();
    for (i, s) in settlements.iter().enumerate() {
        if outcomes[i] == SettleOutcome::Paid {
            for (counter, units) in s.counters() {
                owed.entry(counter).or_default().push((i, units));
            }
        }
    }
    let mut taken: Vec<Vec<(Counter, i64)>> = vec![Vec::new(); settlements.len()];
    for (counter, debts) in &owed {
        let total: i64 = debts.iter().map(|(_, units)| units).sum();
        if counter.take(&mut tx, total).await? {
            for &(i, units) in debts {
                taken[i].push((*counter, units));
            }
            continue;
        }
        for &(i, units) in debts {
            if outcomes[i] != SettleOutcome::Paid {
                continue;
            }
            if counter.take(&mut tx, units).await? {
                taken[i].push((*counter, units));
            } else {
                outcomes[i] = SettleOutcome::OutOfStock;
            }
        }
    }
    let short: Vec<usize> = (0..settlements.len()).filter(|&i| outcomes[i] == SettleOutcome::OutOfStock).collect();
    for &i in &short {
        for &(counter, units) in &taken[i] {
            counter.put_back(&mut tx, units).await?;
        }
    }
    if !short.is_empty() {
        let orders: Vec<OrderId> = short.iter().map(|&i| settlements[i].order).collect();
        unmark_paid(&mut tx, &orders).await?;
    }

    let accruals: Vec<CommissionEntry> = settlements
        .iter()
        .zip(&outcomes)
        .filter(|(_, outcome)| **outcome == SettleOutcome::Paid)
        .flat_map(|(s, _)| s.accruals.iter().cloned())
        .collect();
    insert_commission(&mut tx, &accruals, now, Some(settles_at)).await?;
    tx.commit().await?;
    Ok(outcomes)
}

/// Records as succeeded the charges the settlements carry that are still pending; returns
/// the orders whose charge was neither pending nor succeeded (given up on).
async fn end_charges(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    settlements: &[Settlement],
    now: UnixMs,
) -> Result<BTreeSet<OrderId>, sqlx::Error> {
    let charges: BTreeMap<i64, OrderId> = settlements.iter().filter_map(|s| Some((s.charge?, s.order))).collect();
    if charges.is_empty() {
        return Ok(BTreeSet::new());
    }
    let ids = shapes::padded(charges.keys().copied());
    let sql = format!(
        "update payments set status = 'succeeded', updated_at = $1 where status = 'pending' and id in ({}) \
         returning id",
        shapes::placeholders(2, ids.len())
    );
    let query = ids.iter().fold(sqlx::query(&sql).bind(now.0), |q, id| q.bind(*id));
    let mut unended = charges;
    for row in query.fetch_all(&mut **tx).await? {
        unended.remove(&row.try_get::<i64, _>("id")?);
    }
    if unended.is_empty() {
        return Ok(BTreeSet::new());
    }
    // Not pending: a webhook recorded the success first (settle as usual), or the ledger
    // gave up on the charge.
    let ids = shapes::padded(unended.keys().copied());
    let sql = format!(
        "select id from payments where status <> 'succeeded' and id in ({})",
        shapes::placeholders(1, ids.len())
    );
    let query = ids.iter().fold(sqlx::query(&sql), |q, id| q.bind(*id));
    let mut given_up = BTreeSet::new();
    for row in query.fetch_all(&mut **tx).await? {
        given_up.extend(unended.get(&row.try_get::<i64, _>("id")?));
    }
    Ok(given_up)
}

/// Marks paid those of the orders still `placed`; returns them.
async fn mark_paid(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    orders: &[OrderId],
    now: UnixMs,
) -> Result<BTreeSet<OrderId>, sqlx::Error> {
    if orders.is_empty() {
        return Ok(BTreeSet::new());
    }
    let ids = shapes::padded(orders.iter().map(|o| o.get()));
    let sql = format!(
        "update orders set status = 'paid', paid_at = $1, updated_at = $1 where status = 'placed' and id in ({}) \
         returning id",
        shapes::placeholders(2, ids.len())
    );
    let query = ids.iter().fold(sqlx::query(&sql).bind(now.0), |q, id| q.bind(*id));
    let rows = query.fetch_all(&mut **tx).await?;
    rows.iter().map(|r| Ok(OrderId::from_row(r.try_get("id")?))).collect()
}

/// Puts orders marked paid by this transaction back to `placed`.
async fn unmark_paid(tx: &mut sqlx::Transaction<'_, sqlx::Any>, orders: &[OrderId]) -> Result<(), sqlx::Error> {
    let sql = format!(
        "update orders set status = 'placed', paid_at = null where id in ({})",
        shapes::placeholders(1, orders.len())
    );
    let mut query = sqlx::query(&sql);
    for order in orders {
        query = query.bind(order.get());
    }
    query.execute(&mut **tx).await.map(drop)
}

/// One stock counter an order takes units from.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Counter {
    Product(ProductId),
    Drop(DropId),
}

impl Counter {
    /// Takes `units` when that many remain: the conditional decrement, the last guard
    /// against oversell; false (and nothing taken) otherwise.
    async fn take(self, tx: &mut sqlx::Transaction<'_, sqlx::Any>, units: i64) -> Result<bool, sqlx::Error> {
        let (sql, id) = match self {
            Counter::Product(p) => ("update products set stock = stock - $1 where id = $2 and stock >= $1", p.get()),
            Counter::Drop(d) => {
                ("update drops set remaining = remaining - $1 where id = $2 and remaining >= $1", d.get())
            }
        };
        Ok(sqlx::query(sql).bind(units).bind(id).execute(&mut **tx).await?.rows_affected() == 1)
    }

    /// Puts back `units` this transaction took a moment ago.
    async fn put_back(self, tx: &mut sqlx::Transaction<'_, sqlx::Any>, units: i64) -> Result<(), sqlx::Error> {
        let (sql, id) = match self {
            Counter::Product(p) => ("update products set stock = stock + $1 where id = $2", p.get()),
            Counter::Drop(d) => ("update drops set remaining = remaining + $1 where id = $2", d.get()),
        };
        sqlx::query(sql).bind(units).bind(id).execute(&mut **tx).await.map(drop)
    }
}

impl Store {
    /// Records the order's `charge` as succeeded (when given: the provider has just taken
    /// it), marks the placed order paid, takes its units out of stock (and out of its
    /// drop), and accrues its commission, in one transaction shared with the orders
    /// settled beside it (see the module's documentation); each decrement is conditional
    /// on enough units remaining. A rehearsal's order takes its drop's units but never
    /// the product's real stock. Accruals settle at `settles_at` (the end of the return
    /// window).
    pub async fn settle_paid(
        &self,
        order: &OrderView,
        charge: Option<i64>,
        accruals: &[CommissionEntry],
        settles_at: UnixMs,
        now: UnixMs,
    ) -> Result<SettleOutcome, sqlx::Error> {
        self.settlements.submit(Settlement::of(order, charge, accruals, settles_at, now)).await
    }

    /// Settles the given orders as the writer does one batch, in one transaction, each
    /// with its own outcome: what the group-commit tests drive directly, since which
    /// orders share a batch is otherwise up to timing.
    pub async fn settle_paid_together(
        &self,
        orders: &[(&OrderView, Option<i64>, &[CommissionEntry])],
        settles_at: UnixMs,
        now: UnixMs,
    ) -> Result<Vec<SettleOutcome>, sqlx::Error> {
        let settlements: Vec<Settlement> = orders
            .iter()
            .map(|(order, charge, accruals)| Settlement::of(order, *charge, accruals, settles_at, now))
            .collect();
        write_batch(&self.pool, &self.gate, &settlements).await
    }
}
