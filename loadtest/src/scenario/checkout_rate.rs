//! `checkout-rate`: N buyers buy one unit at a time from a large stock of one product
//! for T seconds, each as fast as its previous checkout answers, over one or several
//! nodes. Afterwards every buyer's orders and the product's units on hand are read back
//! through the API, and the report says paid orders per second, checkout latency,
//! failures by error code, and whether the units add up: units in paid orders plus units
//! left must equal the units the run started with, and no more may be sold than there
//! were (`oversell`, which must be zero).

use super::progress;
use crate::client::test_card_checkout;
use crate::client::{Api, Error, RoomConn};
use crate::measure::{Latency, histogram, record};
use crate::server::{CpuFigures, CpuWindow};
use futures_util::{StreamExt, TryStreamExt, stream};
use hdrhistogram::Histogram;
use livecart::domain::{OrderId, ProductId, Stock};
use livecart::wire::api::{Product, SessionResponse, StockRequest};
use livecart::wire::routes::{self, path};
use livecart::wire::ws::{ClientMsg, OrderStatus, OrderView, ServerMsg};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

pub struct CheckoutRate {
    pub buyers: usize,
    pub seconds: u64,
    /// Units on hand the product is set to before the run: enough that it never sells out.
    pub stock: i64,
    /// The server's process, when known (one node): its CPU over the run is reported.
    pub server_pid: Option<u32>,
    pub quiet: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckoutRateReport {
    /// Nodes the buyers were spread over (buyer i talks to node i mod nodes).
    pub nodes: usize,
    pub buyers: usize,
    pub product_id: ProductId,
    /// From the first checkout sent to the last one answered.
    pub elapsed_secs: f64,
    /// Checkouts answered with `order_confirmed`.
    pub paid_orders: u64,
    pub orders_per_second: f64,
    pub failures: BTreeMap<String, u64>,
    /// Latency of the paid checkouts, from sending `checkout` to `order_confirmed`.
    pub checkout_latency: Latency,
    /// CPU spent while the buyers bought: by this client, the server (when its process is
    /// known) and the whole machine, so a reader sees whose cores the figure is.
    pub cpu: CpuFigures,
    /// The product's units on hand when the run started and after it, read through the API.
    pub starting_stock: i64,
    pub stock_left: i64,
    /// Units of the product in the buyers' paid orders, read back through the API.
    pub units_sold: i64,
    /// Paid orders read back that no buyer was told about (a lost answer).
    pub paid_unacknowledged: u64,
    /// Orders still `placed` (charged or not) when read back.
    pub orders_placed: u64,
    /// Units sold beyond what left the stock or beyond what there was. Anything but zero
    /// is a bug.
    pub oversell: i64,
    /// Units that left the stock without being in a paid order (held by unfinished
    /// orders, or lost). Zero when every checkout finished.
    pub unaccounted: i64,
}

/// Units sold beyond what left the stock (or beyond what there was), and units that left
/// the stock without being sold, from what the API reads back.
pub fn reconcile(starting: i64, left: i64, sold: i64) -> (i64, i64) {
    let taken = starting - left;
    let oversell = (sold - taken).max(sold - starting).max(0);
    (oversell, (taken - sold).max(0))
}

/// What one buyer saw: its confirmed orders, its failures, its paid latencies.
struct BuyerRun {
    confirmed: Vec<OrderId>,
    failures: BTreeMap<String, u64>,
    latency: Histogram<u64>,
    ended: Instant,
}

/// What every buyer buys, and until when.
#[derive(Clone, Copy)]
struct Shop {
    product: ProductId,
    deadline: Instant,
}

/// Fills the cart with one unit; the error code when the server refuses.
async fn add_one(conn: &mut RoomConn, product: ProductId) -> Result<Result<(), String>, Error> {
    conn.send(&ClientMsg::CartAdd { product_id: product, quantity: 1 }).await?;
    loop {
        match conn.recv().await? {
            Some(ServerMsg::Cart { .. }) => return Ok(Ok(())),
            Some(ServerMsg::Error { code, .. }) => return Ok(Err(format!("cart_add:{code}"))),
            Some(_) => {}
            None => return Err("closed while filling the cart".into()),
        }
    }
}

/// Checks out the cart under `key`: the order when paid, the error code otherwise.
async fn checkout(conn: &mut RoomConn, key: String) -> Result<Result<OrderView, String>, Error> {
    conn.send(&test_card_checkout(key)?).await?;
    loop {
        match conn.recv().await? {
            Some(ServerMsg::OrderConfirmed { order }) => return Ok(Ok(order)),
            Some(ServerMsg::Error { code, request: Some(r), .. }) if r == "checkout" => return Ok(Err(code)),
            Some(_) => {}
            None => return Err("closed while checking out".into()),
        }
    }
}

/// One buyer's loop: add a unit, check out, again, until the deadline. A broken
/// connection ends the buyer's run and is counted as a failure.
async fn buy_until(mut conn: RoomConn, shop: Shop, run_id: String, buyer: usize) -> BuyerRun {
    let mut run =
        BuyerRun { confirmed: Vec::new(), failures: BTreeMap::new(), latency: histogram(), ended: Instant::now() };
    let mut n = 0u64;
    while Instant::now() < shop.deadline {
        let key = format!("{run_id}-rate-{buyer}-{n}");
        n += 1;
        let attempt = async {
            if let Err(code) = add_one(&mut conn, shop.product).await? {
                return Ok::<_, Error>((Err(code), Duration::ZERO));
            }
            let sent = Instant::now();
            let outcome = checkout(&mut conn, key).await?;
            Ok((outcome.map(|o| o.id), sent.elapsed()))
        };
        match attempt.await {
            Ok((Ok(order), latency)) => {
                run.confirmed.push(order);
                record(&mut run.latency, latency);
            }
            Ok((Err(code), _)) => *run.failures.entry(code).or_default() += 1,
            Err(e) => {
                *run.failures.entry(format!("connection: {e}")).or_default() += 1;
                break;
            }
        }
    }
    run.ended = Instant::now();
    conn.close().await;
    run
}

/// Every order of `buyer` the API knows, with the confirmed ones the capped list left out.
async fn orders_of(api: &Api, token: &str, confirmed: &[OrderId]) -> Result<Vec<OrderView>, Error> {
    let mut orders: Vec<OrderView> = api.get(routes::ORDERS, token).await?;
    let listed: BTreeSet<OrderId> = orders.iter().map(|o| o.id).collect();
    for id in confirmed.iter().filter(|id| !listed.contains(id)) {
        orders.push(api.get(&path(routes::ORDER, &[id.get()]), token).await?);
    }
    Ok(orders)
}

/// The product's units on hand in the database (what it has, held units included).
async fn on_hand(api: &Api, token: &str, product: ProductId) -> Result<i64, Error> {
    let p: Product = api.get(&path(routes::PRODUCT, &[product.get()]), token).await?;
    Ok(p.on_hand)
}

/// Runs the load: `apis` are the nodes (buyer i uses node i mod nodes); the host's live
/// room and its first product are used; `brand` (the product's brand) sets its stock.
pub async fn run(
    apis: &[Api],
    host: &SessionResponse,
    brand: &SessionResponse,
    run_id: &str,
    cfg: &CheckoutRate,
) -> Result<CheckoutRateReport, Error> {
    let api = apis.first().ok_or("no node to load")?;
    let room = api.hosted_live_room(host).await?;
    let product = room.lineup.first().ok_or("the room lines up no product")?.id;
    let seen = on_hand(api, &brand.token, product).await?;
    let restock = StockRequest { stock: Stock::try_from(cfg.stock)?, expected: Stock::try_from(seen)? };
    let _: Product = api.put(&path(routes::PRODUCT_STOCK, &[product.get()]), &brand.token, &restock).await?;
    let starting_stock = on_hand(api, &brand.token, product).await?;

    let bar = progress(cfg.buyers as u64, "buyers", cfg.quiet);
    let mut buyers = Vec::with_capacity(cfg.buyers);
    for i in 0..cfg.buyers {
        let node = &apis[i % apis.len()];
        let account = api.register_viewer(run_id, i).await?;
        let mut conn = RoomConn::connect(node).await?;
        conn.join(room.id, Some(&account.token), "buyer", None).await?;
        buyers.push((account, conn));
        bar.inc(1);
    }
    bar.finish_and_clear();

    let shop = Shop { product, deadline: Instant::now() + Duration::from_secs(cfg.seconds) };
    let cpu = CpuWindow::start(cfg.server_pid);
    let started = Instant::now();
    let tasks: Vec<_> = buyers
        .into_iter()
        .enumerate()
        .map(|(i, (account, conn))| {
            let task = tokio::spawn(buy_until(conn, shop, run_id.to_owned(), i));
            (account, task)
        })
        .collect();
    let mut latency = histogram();
    let mut failures: BTreeMap<String, u64> = BTreeMap::new();
    let mut ended = started;
    let mut runs = Vec::with_capacity(tasks.len());
    for (account, task) in tasks {
        let run = task.await?;
        latency.add(&run.latency)?;
        for (code, n) in &run.failures {
            *failures.entry(code.clone()).or_default() += n;
        }
        ended = ended.max(run.ended);
        runs.push((account, run.confirmed));
    }
    let elapsed = ended.duration_since(started).as_secs_f64();
    let cpu = cpu.finish();

    // Read back, a few buyers at a time, from the first node (the record is shared).
    let bar = progress(runs.len() as u64, "read back", cfg.quiet);
    let confirmed: BTreeSet<OrderId> = runs.iter().flat_map(|(_, c)| c.iter().copied()).collect();
    let orders: Vec<Vec<OrderView>> = stream::iter(runs.iter())
        .map(|(account, mine)| {
            let bar = bar.clone();
            async move {
                let orders = orders_of(api, &account.token, mine).await;
                bar.inc(1);
                orders
            }
        })
        .buffer_unordered(8)
        .try_collect()
        .await?;
    bar.finish_and_clear();
    let orders: Vec<&OrderView> = orders.iter().flatten().collect();
    let paid: Vec<&&OrderView> = orders.iter().filter(|o| o.status == OrderStatus::Paid).collect();
    let units_sold: i64 =
        paid.iter().flat_map(|o| o.lines.iter()).filter(|l| l.product_id == product).map(|l| l.quantity).sum();
    let stock_left = on_hand(api, &brand.token, product).await?;
    let (oversell, unaccounted) = reconcile(starting_stock, stock_left, units_sold);
    let paid_orders = latency.len();
    Ok(CheckoutRateReport {
        nodes: apis.len(),
        buyers: cfg.buyers,
        product_id: product,
        elapsed_secs: elapsed,
        paid_orders,
        orders_per_second: if elapsed > 0.0 { paid_orders as f64 / elapsed } else { 0.0 },
        failures,
        checkout_latency: Latency::of(&latency),
        cpu,
        starting_stock,
        stock_left,
        units_sold,
        paid_unacknowledged: paid.iter().filter(|o| !confirmed.contains(&o.id)).count() as u64,
        orders_placed: orders.iter().filter(|o| o.status == OrderStatus::Placed).count() as u64,
        oversell,
        unaccounted,
    })
}

#[cfg(test)]
mod tests {
    use super::reconcile;

    #[test]
    fn units_that_add_up_are_neither_oversold_nor_unaccounted() {
        assert_eq!(reconcile(1000, 600, 400), (0, 0));
    }

    #[test]
    fn units_sold_beyond_what_left_the_stock_are_oversold() {
        assert_eq!(reconcile(1000, 700, 400), (100, 0));
    }

    #[test]
    fn units_sold_beyond_the_starting_stock_are_oversold() {
        assert_eq!(reconcile(10, 0, 12), (2, 0));
    }

    #[test]
    fn units_gone_from_the_stock_without_a_paid_order_are_unaccounted() {
        assert_eq!(reconcile(1000, 500, 400), (0, 100));
    }
}
