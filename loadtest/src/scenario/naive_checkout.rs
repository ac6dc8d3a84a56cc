//! The naive baseline `checkout-rate` compares livecart with: the textbook checkout
//! straight on PostgreSQL. Per order one transaction locks the product row
//! (`select … for update`), decrements its stock, inserts the order row and commits,
//! with the same number of clients, each ordering again as soon as its previous order
//! answered, for the same time.
//!
//! It runs in a schema of its own, created for the run and dropped after it, so it never
//! touches a livecart database's tables even when pointed at the same server.

use crate::client::Error;
use crate::measure::{Latency, histogram, record};
use crate::server::{CpuFigures, CpuWindow};
use hdrhistogram::Histogram;
use serde::Serialize;
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub struct NaiveCheckout {
    pub database_url: String,
    pub clients: usize,
    pub seconds: u64,
    pub stock: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct NaiveCheckoutReport {
    pub clients: usize,
    pub elapsed_secs: f64,
    pub orders: u64,
    pub orders_per_second: f64,
    pub failures: BTreeMap<String, u64>,
    /// Latency of the committed orders, from `begin` to `commit` answered.
    pub latency: Latency,
    /// CPU spent while the clients bought; the whole machine's includes PostgreSQL's.
    pub cpu: CpuFigures,
    /// Orders in the table plus stock left, less the starting stock: zero when the
    /// baseline itself is correct.
    pub discrepancy: i64,
}

/// The one product every client buys.
const PRODUCT: i64 = 1;

/// One order: lock, check, decrement, insert, commit. `Ok(false)` when out of stock.
async fn order(pool: &PgPool, schema: &str, client: i64) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let stock: i64 = sqlx::query_scalar(&format!("select stock from {schema}.product where id = $1 for update"))
        .bind(PRODUCT)
        .fetch_one(&mut *tx)
        .await?;
    if stock < 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    sqlx::query(&format!("update {schema}.product set stock = stock - 1 where id = $1"))
        .bind(PRODUCT)
        .execute(&mut *tx)
        .await?;
    sqlx::query(&format!("insert into {schema}.orders (product_id, client, quantity) values ($1, $2, 1)"))
        .bind(PRODUCT)
        .bind(client)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// One client ordering until the deadline: its latencies and failures.
async fn client(
    pool: PgPool,
    schema: String,
    client: i64,
    deadline: Instant,
) -> (Histogram<u64>, BTreeMap<String, u64>) {
    let (mut latency, mut failures) = (histogram(), BTreeMap::<String, u64>::new());
    while Instant::now() < deadline {
        let started = Instant::now();
        match order(&pool, &schema, client).await {
            Ok(true) => record(&mut latency, started.elapsed()),
            Ok(false) => *failures.entry("sold_out".into()).or_default() += 1,
            Err(e) => *failures.entry(format!("database: {e}")).or_default() += 1,
        }
    }
    (latency, failures)
}

async fn load(pool: &PgPool, schema: &str, cfg: &NaiveCheckout) -> Result<NaiveCheckoutReport, Error> {
    for ddl in [
        format!("create schema {schema}"),
        format!("create table {schema}.product (id bigint primary key, stock bigint not null check (stock >= 0))"),
        format!(
            "create table {schema}.orders (id bigserial primary key, product_id bigint not null references \
             {schema}.product (id), client bigint not null, quantity bigint not null, \
             created_at timestamptz not null default now())"
        ),
    ] {
        sqlx::query(&ddl).execute(pool).await?;
    }
    sqlx::query(&format!("insert into {schema}.product (id, stock) values ($1, $2)"))
        .bind(PRODUCT)
        .bind(cfg.stock)
        .execute(pool)
        .await?;

    let deadline = Instant::now() + Duration::from_secs(cfg.seconds);
    let cpu = CpuWindow::start(None);
    let started = Instant::now();
    let tasks: Vec<_> =
        (0..cfg.clients).map(|i| tokio::spawn(client(pool.clone(), schema.to_owned(), i as i64, deadline))).collect();
    let (mut latency, mut failures) = (histogram(), BTreeMap::<String, u64>::new());
    for t in tasks {
        let (l, f) = t.await?;
        latency.add(&l)?;
        for (code, n) in f {
            *failures.entry(code).or_default() += n;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu.finish();

    let orders: i64 = sqlx::query_scalar(&format!("select count(*) from {schema}.orders")).fetch_one(pool).await?;
    let left: i64 = sqlx::query_scalar(&format!("select stock from {schema}.product where id = $1"))
        .bind(PRODUCT)
        .fetch_one(pool)
        .await?;
    Ok(NaiveCheckoutReport {
        clients: cfg.clients,
        elapsed_secs: elapsed,
        orders: latency.len(),
        orders_per_second: if elapsed > 0.0 { latency.len() as f64 / elapsed } else { 0.0 },
        failures,
        latency: Latency::of(&latency),
        cpu,
        discrepancy: orders + left - cfg.stock,
    })
}

/// Runs the baseline in a fresh schema, which is dropped afterwards whatever happened.
pub async fn run(cfg: &NaiveCheckout) -> Result<NaiveCheckoutReport, Error> {
    let pool = PgPoolOptions::new()
        .max_connections(u32::try_from(cfg.clients)?.max(1))
        .acquire_timeout(Duration::from_secs(30))
        .connect(&cfg.database_url)
        .await?;
    let unique = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis();
    let schema = format!("livecart_naive_checkout_{}_{unique}", std::process::id());
    let outcome = load(&pool, &schema, cfg).await;
    let dropped = sqlx::query(&format!("drop schema if exists {schema} cascade")).execute(&pool).await;
    pool.close().await;
    let report = outcome?;
    dropped?;
    Ok(report)
}
