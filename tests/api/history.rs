//! Jepsen-style history tests of checkout: many buyers (real WebSocket clients, over
//! three `livecart` nodes sharing PostgreSQL + Redis, or one embedded server) check out
//! with a mix of test cards while a fault is injected; every invocation and what its
//! client saw (ok, fail with a code, or unknown) goes into a history, with a brand's live
//! sales feed beside it. Once the reconcilers have run, a checker reads the orders,
//! stock, payment ledger, commission ledger and the test provider's own books back from
//! the database and holds them against each other and against the history:
//!
//! - a. no product or drop sells more than it offered, and stock and drop counters
//!   equal what the paid orders and refunds say;
//! - b. every `ok` names a paid order with one succeeded charge, which the provider
//!   charged once, for the same amount;
//! - c. per order, at most one charge, and the money the provider kept equals what the
//!   order is owed (its paid amount less refunds, or nothing); an unknown outcome ends
//!   paid with one charge or not charged (or refunded), never charged and unpaid;
//! - d. no order is paid twice, no two orders share a buyer's idempotency key;
//! - e. commission entries are the agreement applied to each paid line, reversals the
//!   refunded part;
//! - f. the brand's feed got exactly the brand's paid lines, and its totals are SQL's;
//! - g. no order is left `placed` once every hold has expired and a sweep ran.
//!
//! Faults, one per test: Redis keys deleted mid-drop; a node SIGKILLed mid-checkout; the
//! provider charging but its answer lost (`ANSWER_LOST`); every database connection
//! terminated while settles run. The embedded run (SQLite + memory, no services needed)
//! uses the lost-answer fault with a clock the test drives. After the buyers, the brand
//! refunds a few orders (one unit, one whole order), so returned stock and commission
//! reversals are checked too. Waits are bounded; nothing asserts how long anything took.
//! A failure prints every violation with the history of the keys and orders involved.

use crate::helpers::{Client, TestApp, WAIT, Ws, checkout, forget_redis_prefix, test_config};
use crate::nodes::Cluster;
use futures_util::future::join_all;
use livecart::commerce::commission::commission;
use livecart::commerce::payments::TestCards;
use livecart::domain::{AccountId, BrandId, Clock, ProductId, Role, RoomId, UnixMs};
use livecart::wire::api::{NewAgreementRequest, NewProductRequest, NewRoomRequest, Product, RoomView, SessionResponse};
use livecart::wire::routes::{self, path};
use livecart::wire::ws::{BrandSale, ClientMsg, DropCard, OrderStatus, RoomEvent, ServerMsg};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// How long a client waits for a checkout's answer before calling it unknown.
const ANSWER_WAIT: Duration = Duration::from_secs(15);
/// How long the cluster's nodes hold stock for a checkout (`LIVECART_HOLD_SECS`).
const CLUSTER_HOLD_SECS: u64 = 3;

// ----------------------------------------------------------------------------------
// The history.
// ----------------------------------------------------------------------------------

/// What a client saw of one checkout attempt.
#[derive(Debug, Clone)]
enum Outcome {
    /// `order_confirmed`.
    Ok(Confirmed),
    /// An `error` frame with this code.
    Fail(String),
    /// No answer: the connection was lost (its node killed), or nothing came in time.
    Unknown(String),
}

#[derive(Debug, Clone)]
struct Confirmed {
    order: i64,
    status: OrderStatus,
    buyer: i64,
    key: String,
    subtotal: i64,
}

/// Codes after which the key's order cannot be (or become) paid.
const NOT_PAID: &[&str] = &[
    "payment_declined",
    "sold_out",
    "hold_expired",
    "cart_empty",
    "idempotency_mismatch",
    "room_not_live",
    "not_in_lineup",
    "mixed_currency",
];

impl Outcome {
    /// The attempt may or may not have moved money: only the final state tells.
    fn indeterminate(&self) -> bool {
        match self {
            Outcome::Unknown(_) => true,
            Outcome::Fail(code) => code == "payment_unavailable" || code == "internal",
            Outcome::Ok(_) => false,
        }
    }

    fn not_paid(&self) -> bool {
        matches!(self, Outcome::Fail(code) if NOT_PAID.contains(&code.as_str()))
    }

    /// The key's order was given up on (declined, or its hold gone): it is not, and will
    /// never be, paid. (Other refusals may be an attempt that did nothing.)
    fn gave_up(&self) -> bool {
        matches!(self, Outcome::Fail(code) if code == "payment_declined" || code == "hold_expired")
    }

    fn label(&self) -> String {
        match self {
            Outcome::Ok(c) => format!("ok(order {} {})", c.order, c.status.as_str()),
            Outcome::Fail(code) => format!("fail({code})"),
            Outcome::Unknown(why) => format!("unknown({why})"),
        }
    }
}

/// One checkout invocation: who, with which key and card, on which node, for what.
#[derive(Debug, Clone)]
struct Op {
    buyer: usize,
    buyer_id: i64,
    key: String,
    card: &'static str,
    node: usize,
    cart: Vec<(ProductId, i64)>,
    attempt: u32,
    /// Position of the invocation and of the completion in the history.
    invoked: u64,
    completed: Option<(u64, Outcome)>,
    at: Duration,
}

/// A brand refund the test asked for, as the HTTP answer said.
#[derive(Debug, Clone)]
struct RefundOp {
    order: i64,
    lines: Option<Vec<(ProductId, i64)>>,
    answer: String,
    at: u64,
}

#[derive(Default)]
struct Log {
    ops: Vec<Op>,
    refunds: Vec<RefundOp>,
    /// Faults and phases, at their position in the history.
    notes: Vec<(u64, Duration, String)>,
    next: u64,
}

/// The history of a run: appended to by every client task, read by the checker.
#[derive(Clone)]
struct History {
    log: Arc<Mutex<Log>>,
    start: Instant,
}

fn card_name(card: &str) -> &'static str {
    match card {
        TestCards::SUCCEEDS => "SUCCEEDS",
        TestCards::DECLINES => "DECLINES",
        TestCards::FAILS_ONCE => "FAILS_ONCE",
        TestCards::ANSWER_LOST => "ANSWER_LOST",
        TestCards::SLOW => "SLOW",
        TestCards::REFUND_REFUSED => "REFUND_REFUSED",
        _ => "OTHER",
    }
}

impl History {
    fn new() -> History {
        History { log: Arc::default(), start: Instant::now() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn invoke(&self, mut op: Op) -> usize {
        let mut log = self.lock();
        op.invoked = log.next;
        op.at = self.start.elapsed();
        log.next += 1;
        log.ops.push(op);
        log.ops.len() - 1
    }

    fn complete(&self, id: usize, outcome: Outcome) {
        let mut log = self.lock();
        let at = log.next;
        log.next += 1;
        log.ops[id].completed = Some((at, outcome));
    }

    fn note(&self, what: impl Into<String>) {
        let what = what.into();
        eprintln!("history: {what}");
        let mut log = self.lock();
        let at = log.next;
        log.next += 1;
        log.notes.push((at, self.start.elapsed(), what));
    }

    fn refund(&self, order: i64, lines: Option<Vec<(ProductId, i64)>>, answer: String) {
        let mut log = self.lock();
        let at = log.next;
        log.next += 1;
        log.refunds.push(RefundOp { order, lines, answer, at });
    }

    /// Invocations on `node` with no completion yet.
    fn in_flight_on(&self, node: usize, card: &str) -> usize {
        self.lock().ops.iter().filter(|o| o.node == node && o.card == card && o.completed.is_none()).count()
    }

    fn invoked(&self) -> usize {
        self.lock().ops.len()
    }

    fn ops(&self) -> Vec<Op> {
        self.lock().ops.clone()
    }

    /// Counts of outcomes by card, for the run's summary.
    fn summary(&self) -> String {
        let log = self.lock();
        let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
        for op in &log.ops {
            let outcome = match &op.completed {
                Some((_, Outcome::Ok(_))) => "ok".to_owned(),
                Some((_, o)) => o.label(),
                None => "open".to_owned(),
            };
            *counts.entry((card_name(op.card).to_owned(), outcome)).or_default() += 1;
        }
        let mut out = format!("{} invocations, {} refunds asked\n", log.ops.len(), log.refunds.len());
        for ((card, outcome), n) in counts {
            let _ = writeln!(out, "  {card:<12} {outcome:<40} {n}");
        }
        out
    }

    /// The events touching the given buyers' keys and orders, in history order, with
    /// the faults and phases between them.
    fn excerpt(&self, keys: &BTreeSet<(i64, String)>, orders: &BTreeSet<i64>) -> String {
        let log = self.lock();
        let mut events: Vec<(u64, String)> = Vec::new();
        for op in log.ops.iter().filter(|o| keys.contains(&(o.buyer_id, o.key.clone()))) {
            let cart: Vec<String> = op.cart.iter().map(|(p, q)| format!("p{p}x{q}")).collect();
            events.push((
                op.invoked,
                format!(
                    "invoke   buyer {} (account {}) key={} attempt={} card={} node={} cart=[{}] at {:.3}s",
                    op.buyer,
                    op.buyer_id,
                    op.key,
                    op.attempt,
                    card_name(op.card),
                    op.node,
                    cart.join(" "),
                    op.at.as_secs_f64()
                ),
            ));
            if let Some((at, outcome)) = &op.completed {
                events.push((
                    *at,
                    format!("complete buyer {} key={} attempt={}: {}", op.buyer, op.key, op.attempt, outcome.label()),
                ));
            }
        }
        for r in log.refunds.iter().filter(|r| orders.contains(&r.order)) {
            events.push((r.at, format!("refund   order {} lines={:?}: {}", r.order, r.lines, r.answer)));
        }
        for (at, time, what) in &log.notes {
            events.push((*at, format!("nemesis  {what} at {:.3}s", time.as_secs_f64())));
        }
        events.sort();
        events.into_iter().map(|(at, e)| format!("    #{at:<5} {e}\n")).collect()
    }
}

// ----------------------------------------------------------------------------------
// The world: a brand with a drop product and a regular one, a host, a live room, a drop.
// ----------------------------------------------------------------------------------

/// Prices and commission terms chosen so rounding and the flat part both matter.
const DROP_PRODUCT_PRICE: i64 = 1_999;
const DROP_PRICE: i64 = 1_499;
const REGULAR_PRICE: i64 = 2_450;

struct World {
    room: RoomId,
    brand: SessionResponse,
    brand_id: BrandId,
    creator: AccountId,
    drop_product: ProductId,
    regular: ProductId,
    /// Stock each product started with.
    initial: BTreeMap<i64, i64>,
    drop: DropCard,
}

impl World {
    async fn build(client: &Client, drop_stock: i64, drop_units: i64, regular_stock: i64) -> World {
        let brand = client.register(Role::Brand, "History brand", Some(&format!("History {}", unique()))).await;
        let brand_id = brand.account.brand_id.expect("brand id");
        let creator = client.register(Role::Creator, "History host", None).await;
        let mut products = Vec::new();
        let terms = [(DROP_PRODUCT_PRICE, drop_stock, 1_250, Some(7)), (REGULAR_PRICE, regular_stock, 900, None)];
        for (i, (price, stock, bps, flat)) in terms.into_iter().enumerate() {
            let req = NewProductRequest {
                title: format!("History product {i}").as_str().try_into().unwrap(),
                description: Default::default(),
                image_url: Default::default(),
                price: price.try_into().unwrap(),
                currency: "EUR".try_into().unwrap(),
                stock: stock.try_into().unwrap(),
            };
            let product: Product =
                client.post(&path(routes::BRAND_PRODUCTS, &[brand_id.get()]), Some(&brand.token), &req).await;
            let card = product.card;
            let agreement = NewAgreementRequest {
                creator_id: creator.account.id,
                product_id: card.id,
                commission_bps: bps.try_into().unwrap(),
                commission_flat: flat.map(|f: i64| f.try_into().unwrap()),
                co_host_share_bps: None,
            };
            let _: serde_json::Value = client.post(routes::AGREEMENTS, Some(&brand.token), &agreement).await;
            products.push((card.id, stock));
        }
        let room = NewRoomRequest {
            title: "History room".try_into().unwrap(),
            starts_at: UnixMs(0),
            product_ids: products.iter().map(|(p, _)| *p).collect(),
        };
        let room: RoomView = client.post(routes::ROOMS, Some(&creator.token), &room).await;
        let _: RoomView = client.post(&path(routes::ROOM_GO_LIVE, &[room.id.get()]), Some(&creator.token), &()).await;
        let (mut host, _) = client.viewer(room.id, Some(&creator.token)).await;
        host.send(&ClientMsg::StartDrop {
            product_id: products[0].0,
            quantity: drop_units,
            price: Some(DROP_PRICE),
            duration_secs: 600,
            per_buyer: None,
        })
        .await;
        let drop = host
            .recv_until(|m| match m {
                ServerMsg::Event { event: RoomEvent::DropStarted { drop }, .. } => Some(drop),
                ServerMsg::Error { code, .. } => panic!("start_drop failed: {code}"),
                _ => None,
            })
            .await;
        host.close().await;
        World {
            room: room.id,
            brand,
            brand_id,
            creator: creator.account.id,
            drop_product: products[0].0,
            regular: products[1].0,
            initial: products.iter().map(|(p, s)| (p.get(), *s)).collect(),
            drop,
        }
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

// ----------------------------------------------------------------------------------
// Buyers and what they do.
// ----------------------------------------------------------------------------------

/// What a buyer does with their one idempotency key.
#[derive(Debug, Clone, Copy)]
enum Plan {
    /// One attempt.
    Once(&'static str),
    /// When the first attempt's outcome is indeterminate, the same key again on another
    /// node, with `retry_card` (after the retry gate opens, when the outcome was unknown).
    Retry { card: &'static str, retry_card: &'static str },
    /// A second attempt with the same key on another node while the first is in flight,
    /// sent when the hedge gate opens (or after a while).
    Hedge { card: &'static str, retry_card: &'static str },
    /// When the first attempt is indeterminate, the same key again only after every hold
    /// has expired (the embedded run, whose clock the test drives).
    Late { card: &'static str, retry_card: &'static str },
}

/// The nodes buyers may talk to, and which of them are down.
#[derive(Clone)]
struct Net {
    clients: Vec<Client>,
    down: Arc<Mutex<BTreeSet<usize>>>,
    room: RoomId,
}

impl Net {
    fn new(clients: Vec<Client>, room: RoomId) -> Net {
        Net { clients, down: Arc::default(), room }
    }

    fn is_down(&self, node: usize) -> bool {
        self.down.lock().unwrap_or_else(std::sync::PoisonError::into_inner).contains(&node)
    }

    fn mark_down(&self, node: usize) {
        self.down.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(node);
    }

    /// The next node after `node` that is up.
    fn other(&self, node: usize) -> usize {
        let n = self.clients.len();
        (1..=n).map(|d| (node + d) % n).find(|i| !self.is_down(*i)).expect("a node is up")
    }
}

/// Gates the workload waits on: opened by the fault (or right away when there is none).
#[derive(Clone)]
struct Gates {
    /// Hedged second attempts go out once this opens.
    hedge: watch::Receiver<bool>,
    /// Retries after an unknown outcome go out once this opens.
    retry: watch::Receiver<bool>,
}

impl Gates {
    fn open() -> Gates {
        let (_, rx) = watch::channel(true);
        Gates { hedge: rx.clone(), retry: rx }
    }
}

/// Waits (bounded) for the gate; a gate that never opens lets the buyer go on anyway.
async fn passed(gate: &mut watch::Receiver<bool>, bound: Duration) {
    let _ = tokio::time::timeout(bound, gate.wait_for(|open| *open)).await;
}

struct Buyer {
    n: usize,
    id: AccountId,
    token: String,
    key: String,
    cart: Vec<(ProductId, i64)>,
    plan: Plan,
    home: usize,
    conns: BTreeMap<usize, Ws>,
    attempts: u32,
    /// The card of the retry a `Late` plan still owes.
    late: Option<&'static str>,
}

/// A deterministic spread of numbers from a buyer's index.
fn mix(n: usize, salt: u64) -> u64 {
    let mut x = (n as u64).wrapping_add(salt).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^ (x >> 29)
}

/// What buyer `n` puts in the cart: mostly the drop, some the regular product (1–3
/// units), some both.
fn cart_of(world: &World, n: usize) -> Vec<(ProductId, i64)> {
    match mix(n, 1) % 20 {
        0..=9 => vec![(world.drop_product, 1)],
        10..=16 => vec![(world.regular, 1 + (mix(n, 2) % 3) as i64)],
        _ => vec![(world.drop_product, 1), (world.regular, 1)],
    }
}

/// Joins `room` with a token, or `None` when the node refuses or is gone.
async fn try_viewer(client: &Client, room: RoomId, token: &str) -> Option<Ws> {
    let mut ws = client.try_ws().await?;
    let join = ClientMsg::Join {
        room_id: room,
        token: Some(token.to_owned()),
        guest_name: None,
        since: None,
        epoch: None,
        audience_key: None,
    };
    if !ws.try_send(&join).await {
        return None;
    }
    loop {
        match ws.try_recv(WAIT).await.ok()? {
            ServerMsg::Snapshot(_) => return Some(ws),
            ServerMsg::Error { .. } => return None,
            _ => {}
        }
    }
}

impl Buyer {
    async fn new(net: &Net, world: &World, n: usize, plan: Plan, home: usize, tag: &str) -> Buyer {
        let session = net.clients[home].register(Role::Viewer, "Buyer", None).await;
        let mut buyer = Buyer {
            n,
            id: session.account.id,
            token: session.token,
            key: format!("{tag}-{n}"),
            cart: cart_of(world, n),
            plan,
            home,
            conns: BTreeMap::new(),
            attempts: 0,
            late: None,
        };
        let ws = try_viewer(&net.clients[home], net.room, &buyer.token).await.expect("buyer joins");
        buyer.conns.insert(home, ws);
        buyer
    }

    /// The buyer's connection to `node`, opened if need be.
    async fn conn(&mut self, net: &Net, node: usize) -> Option<Ws> {
        if let Some(ws) = self.conns.remove(&node) {
            return Some(ws);
        }
        if net.is_down(node) {
            return None;
        }
        try_viewer(&net.clients[node], net.room, &self.token).await
    }

    fn op(&mut self, card: &'static str, node: usize) -> Op {
        self.attempts += 1;
        Op {
            buyer: self.n,
            buyer_id: self.id.get(),
            key: self.key.clone(),
            card,
            node,
            cart: self.cart.clone(),
            attempt: self.attempts,
            invoked: 0,
            completed: None,
            at: Duration::ZERO,
        }
    }

    /// One checkout attempt on `node`, recorded in the history.
    async fn attempt(&mut self, net: &Net, h: &History, node: usize, card: &'static str) -> Outcome {
        let op = self.op(card, node);
        let ws = self.conn(net, node).await;
        let id = h.invoke(op);
        let (outcome, ws) = run_attempt(ws, &self.key, card, &self.cart).await;
        h.complete(id, outcome.clone());
        if let Some(ws) = ws {
            self.conns.insert(node, ws);
        }
        outcome
    }

    /// The buyer's part of the workload, up to a `Late` plan's retry.
    async fn run(&mut self, net: &Net, h: &History, mut gates: Gates) {
        tokio::time::sleep(Duration::from_millis(mix(self.n, 3) % 12 * 100)).await;
        match self.plan {
            Plan::Once(card) => {
                self.attempt(net, h, self.home, card).await;
            }
            Plan::Retry { card, retry_card } => {
                let first = self.attempt(net, h, self.home, card).await;
                if first.indeterminate() {
                    if matches!(first, Outcome::Unknown(_)) {
                        passed(&mut gates.retry, WAIT).await;
                    }
                    let other = net.other(self.home);
                    self.attempt(net, h, other, retry_card).await;
                }
            }
            Plan::Hedge { card, retry_card } => {
                let other = net.other(self.home);
                let first_op = self.op(card, self.home);
                let second_op = self.op(retry_card, other);
                let (home, key, cart) = (self.home, self.key.clone(), self.cart.clone());
                let first_ws = self.conn(net, home).await;
                let second_ws = self.conn(net, other).await;
                let hedge = &mut gates.hedge;
                let (first, second) = tokio::join!(
                    async {
                        let id = h.invoke(first_op);
                        let (outcome, ws) = run_attempt(first_ws, &key, card, &cart).await;
                        h.complete(id, outcome);
                        ws
                    },
                    async {
                        passed(hedge, Duration::from_millis(1_500)).await;
                        let id = h.invoke(second_op);
                        let (outcome, ws) = run_attempt(second_ws, &key, retry_card, &cart).await;
                        h.complete(id, outcome);
                        ws
                    }
                );
                for (node, ws) in [(home, first), (other, second)] {
                    if let Some(ws) = ws {
                        self.conns.insert(node, ws);
                    }
                }
            }
            Plan::Late { card, retry_card } => {
                if self.attempt(net, h, self.home, card).await.indeterminate() {
                    self.late = Some(retry_card);
                }
            }
        }
    }

    async fn run_late(&mut self, net: &Net, h: &History) {
        if let Some(card) = self.late.take() {
            let other = net.other(self.home);
            self.attempt(net, h, other, card).await;
        }
    }
}

/// Sets the cart and checks out on `ws`; the connection comes back unless it broke or
/// its answer did not come (a late answer must not be taken for a later attempt's).
async fn run_attempt(
    ws: Option<Ws>,
    key: &str,
    card: &'static str,
    cart: &[(ProductId, i64)],
) -> (Outcome, Option<Ws>) {
    let Some(mut ws) = ws else { return (Outcome::Fail("not_sent".into()), None) };
    let mut sent = true;
    for (product, quantity) in cart {
        sent &= ws.try_send(&ClientMsg::CartSet { product_id: *product, quantity: *quantity }).await;
    }
    sent &= ws.try_send(&checkout(key, card)).await;
    if !sent {
        return (Outcome::Unknown("send failed".into()), None);
    }
    match ws.try_checkout_outcome(ANSWER_WAIT).await {
        Ok(Ok(order)) => {
            let confirmed = Confirmed {
                order: order.id.get(),
                status: order.status,
                buyer: order.buyer_id.get(),
                key: order.idempotency_key.clone(),
                subtotal: order.subtotal.amount,
            };
            (Outcome::Ok(confirmed), Some(ws))
        }
        Ok(Err(code)) => (Outcome::Fail(code), Some(ws)),
        Err(why) => (Outcome::Unknown(why), None),
    }
}

/// Registers `plans.len()` buyers spread over the nodes (`home(n)`), each joined and with
/// a cart.
async fn buyers(net: &Net, world: &World, plans: &[Plan], home: impl Fn(usize) -> usize, tag: &str) -> Vec<Buyer> {
    let mut all = Vec::with_capacity(plans.len());
    for chunk in plans.iter().enumerate().collect::<Vec<_>>().chunks(16) {
        let made = join_all(chunk.iter().map(|(n, plan)| Buyer::new(net, world, *n, **plan, home(*n), tag))).await;
        all.extend(made);
    }
    all
}

/// Runs every buyer's part at once.
async fn run_all(buyers: &mut [Buyer], net: &Net, h: &History, gates: &Gates) {
    join_all(buyers.iter_mut().map(|b| b.run(net, h, gates.clone()))).await;
}

/// A plan for buyer `n` from a weighted mix.
fn plan_from(n: usize, mix_of: &[(u64, Plan)]) -> Plan {
    let total: u64 = mix_of.iter().map(|(w, _)| w).sum();
    let mut pick = mix(n, 7) % total;
    for (w, plan) in mix_of {
        if pick < *w {
            return *plan;
        }
        pick -= w;
    }
    mix_of[0].1
}

// ----------------------------------------------------------------------------------
// The brand's live sales feed, and brand refunds.
// ----------------------------------------------------------------------------------

#[derive(Clone, Default)]
struct Feed {
    sales: Arc<Mutex<Vec<BrandSale>>>,
    /// Anything else the feed said (a lag error, the connection closing).
    notes: Arc<Mutex<Vec<String>>>,
}

impl Feed {
    /// Opens the brand's feed on `client` and records every `brand_sale` until the test ends.
    async fn follow(client: &Client, brand: &SessionResponse) -> (Feed, tokio::task::JoinHandle<()>) {
        let mut ws = client.ws().await;
        ws.send(&ClientMsg::FollowSales { token: brand.token.clone() }).await;
        ws.recv_until(|m| match m {
            ServerMsg::FollowingSales { .. } => Some(()),
            ServerMsg::Error { code, .. } => panic!("follow_sales failed: {code}"),
            _ => None,
        })
        .await;
        let feed = Feed::default();
        let (sales, notes) = (Arc::clone(&feed.sales), Arc::clone(&feed.notes));
        let reader = tokio::spawn(async move {
            loop {
                match ws.try_recv(Duration::from_secs(3_600)).await {
                    Ok(ServerMsg::BrandSale(sale)) => sales.lock().unwrap().push(*sale),
                    Ok(other) => notes.lock().unwrap().push(format!("{other:?}")),
                    Err(why) => {
                        notes.lock().unwrap().push(why);
                        return;
                    }
                }
            }
        });
        (feed, reader)
    }

    fn sales(&self) -> Vec<BrandSale> {
        self.sales.lock().unwrap().clone()
    }

    fn notes(&self) -> Vec<String> {
        self.notes.lock().unwrap().clone()
    }
}

/// Order lines as (product, units).
type Lines = Vec<(ProductId, i64)>;

/// The brand refunds a few acknowledged orders: one unit of a multi-unit order, and one
/// order in full, so the checker sees stock come back and commission reversed.
async fn brand_refunds(client: &Client, world: &World, h: &History) {
    let mut paid: Vec<(i64, Vec<(ProductId, i64)>)> = Vec::new();
    for op in h.ops() {
        if let Some((_, Outcome::Ok(c))) = &op.completed {
            if !paid.iter().any(|(o, _)| *o == c.order) {
                paid.push((c.order, op.cart.clone()));
            }
        }
    }
    let partial = paid.iter().find(|(_, cart)| cart.iter().any(|(_, q)| *q >= 2)).cloned();
    let full = paid.iter().find(|(o, _)| Some(*o) != partial.as_ref().map(|p| p.0)).cloned();
    let mut asks: Vec<(i64, Option<Lines>)> = Vec::new();
    if let Some((order, cart)) = partial {
        let (product, _) = cart.iter().find(|(_, q)| *q >= 2).copied().unwrap();
        asks.push((order, Some(vec![(product, 1)])));
    }
    if let Some((order, _)) = full {
        asks.push((order, None));
    }
    for (order, lines) in asks {
        let mut body = json!({"idempotency_key": format!("history-refund-{order}")});
        if let Some(lines) = &lines {
            body["lines"] = lines.iter().map(|(p, q)| json!({"product_id": p, "quantity": q})).collect();
        }
        // As the protocol asks of a client: a refund left pending (or an error) is asked
        // for again with the same key, a bounded number of times.
        let mut answer = String::new();
        for attempt in 1..=5 {
            let url = path(routes::ORDER_REFUNDS, &[order]);
            let (status, body) = client.send(reqwest::Method::POST, &url, Some(&world.brand.token), Some(&body)).await;
            let state = body["status"].as_str().unwrap_or_default().to_owned();
            answer = format!("{status} {state} (attempt {attempt})");
            if status.is_success() && state != "pending" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        h.refund(order, lines, answer);
    }
}

// ----------------------------------------------------------------------------------
// The checker.
// ----------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct OrderRow {
    id: i64,
    buyer: i64,
    key: String,
    status: String,
    subtotal: i64,
    creator: i64,
    failure: Option<String>,
    hold_expires_at: i64,
}

#[derive(Debug, Clone)]
struct LineRow {
    order: i64,
    product: i64,
    brand: i64,
    drop: Option<i64>,
    quantity: i64,
    unit_price: i64,
    line_total: i64,
    bps: i64,
    flat: i64,
    commission: i64,
    refunded: i64,
    held: i64,
}

#[derive(Debug, Clone)]
struct PaymentRow {
    id: i64,
    order: i64,
    kind: String,
    amount: i64,
    status: String,
    provider_ref: Option<String>,
    request_key: Option<String>,
}

#[derive(Debug, Clone)]
struct CommissionRow {
    order: i64,
    product: i64,
    creator: i64,
    brand: i64,
    kind: String,
    amount: i64,
}

#[derive(Debug, Clone)]
struct ProviderCharge {
    amount: i64,
    status: String,
    refunded: i64,
}

/// Everything the checker reads back, straight from the tables.
struct Db {
    stock: BTreeMap<i64, i64>,
    /// Drop id → (product, quantity, remaining).
    drops: BTreeMap<i64, (i64, i64, i64)>,
    orders: BTreeMap<i64, OrderRow>,
    lines: Vec<LineRow>,
    payments: Vec<PaymentRow>,
    /// Refund payment id → its lines (product, quantity, amount).
    refund_lines: BTreeMap<i64, Vec<(i64, i64, i64)>>,
    commission: Vec<CommissionRow>,
    /// Provider reference → what the provider did.
    provider_charges: BTreeMap<String, ProviderCharge>,
    /// Provider reference → the refunds it made of it.
    provider_refunds: BTreeMap<String, Vec<i64>>,
    /// (creator, product) → (bps, flat) of the active agreement.
    agreements: BTreeMap<(i64, i64), (i64, i64)>,
    /// SQL's totals of the brand's paid lines: (units, amount, commission).
    brand_totals: (i64, i64, i64),
}

async fn pool(url: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    let deadline = Instant::now() + WAIT;
    loop {
        match sqlx::any::AnyPoolOptions::new().max_connections(2).connect(url).await {
            Ok(pool) => return pool,
            Err(e) if Instant::now() < deadline => {
                eprintln!("checker: database not reachable yet: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("checker: database: {e}"),
        }
    }
}

async fn rows(pool: &sqlx::AnyPool, sql: &str) -> Vec<sqlx::any::AnyRow> {
    sqlx::query(sql).fetch_all(pool).await.unwrap_or_else(|e| panic!("checker: {sql}: {e}"))
}

fn get<T>(row: &sqlx::any::AnyRow, column: &str) -> T
where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    use sqlx::Row;
    row.try_get(column).unwrap_or_else(|e| panic!("checker: column {column}: {e}"))
}

impl Db {
    async fn read(url: &str, brand: BrandId) -> Db {
        let pool = pool(url).await;
        let mut db = Db {
            stock: BTreeMap::new(),
            drops: BTreeMap::new(),
            orders: BTreeMap::new(),
            lines: Vec::new(),
            payments: Vec::new(),
            refund_lines: BTreeMap::new(),
            commission: Vec::new(),
            provider_charges: BTreeMap::new(),
            provider_refunds: BTreeMap::new(),
            agreements: BTreeMap::new(),
            brand_totals: (0, 0, 0),
        };
        for r in rows(&pool, "select id, stock from products").await {
            db.stock.insert(get(&r, "id"), get(&r, "stock"));
        }
        for r in rows(&pool, "select id, product_id, quantity, remaining from drops").await {
            db.drops.insert(get(&r, "id"), (get(&r, "product_id"), get(&r, "quantity"), get(&r, "remaining")));
        }
        let sql = "select id, buyer_id, idempotency_key, status, subtotal, creator_id, failure_code, hold_expires_at \
                   from orders order by id";
        for r in rows(&pool, sql).await {
            let o = OrderRow {
                id: get(&r, "id"),
                buyer: get(&r, "buyer_id"),
                key: get(&r, "idempotency_key"),
                status: get(&r, "status"),
                subtotal: get(&r, "subtotal"),
                creator: get(&r, "creator_id"),
                failure: get(&r, "failure_code"),
                hold_expires_at: get(&r, "hold_expires_at"),
            };
            db.orders.insert(o.id, o);
        }
        let sql = "select order_id, product_id, brand_id, drop_id, quantity, unit_price, line_total, commission_bps, \
                   commission_flat, commission_amount, refunded_quantity, refund_held from order_lines \
                   order by order_id, product_id";
        for r in rows(&pool, sql).await {
            db.lines.push(LineRow {
                order: get(&r, "order_id"),
                product: get(&r, "product_id"),
                brand: get(&r, "brand_id"),
                drop: get(&r, "drop_id"),
                quantity: get(&r, "quantity"),
                unit_price: get(&r, "unit_price"),
                line_total: get(&r, "line_total"),
                bps: get(&r, "commission_bps"),
                flat: get(&r, "commission_flat"),
                commission: get(&r, "commission_amount"),
                refunded: get(&r, "refunded_quantity"),
                held: get(&r, "refund_held"),
            });
        }
        let sql = "select id, order_id, kind, amount, status, provider_ref, request_key from payments order by id";
        for r in rows(&pool, sql).await {
            db.payments.push(PaymentRow {
                id: get(&r, "id"),
                order: get(&r, "order_id"),
                kind: get(&r, "kind"),
                amount: get(&r, "amount"),
                status: get(&r, "status"),
                provider_ref: get(&r, "provider_ref"),
                request_key: get(&r, "request_key"),
            });
        }
        for r in rows(&pool, "select payment_id, product_id, quantity, amount from refund_lines").await {
            let line = (get(&r, "product_id"), get(&r, "quantity"), get(&r, "amount"));
            db.refund_lines.entry(get(&r, "payment_id")).or_default().push(line);
        }
        let sql = "select order_id, product_id, creator_id, brand_id, kind, amount from commission_entries order by id";
        for r in rows(&pool, sql).await {
            db.commission.push(CommissionRow {
                order: get(&r, "order_id"),
                product: get(&r, "product_id"),
                creator: get(&r, "creator_id"),
                brand: get(&r, "brand_id"),
                kind: get(&r, "kind"),
                amount: get(&r, "amount"),
            });
        }
        for r in rows(&pool, "select reference, amount, status, refunded from test_card_charges").await {
            let charge =
                ProviderCharge { amount: get(&r, "amount"), status: get(&r, "status"), refunded: get(&r, "refunded") };
            db.provider_charges.insert(get(&r, "reference"), charge);
        }
        for r in rows(&pool, "select reference, amount from test_card_refunds").await {
            db.provider_refunds.entry(get(&r, "reference")).or_default().push(get(&r, "amount"));
        }
        for r in rows(
            &pool,
            "select creator_id, product_id, commission_bps, commission_flat from agreements where ended_at is null",
        )
        .await
        {
            db.agreements.insert(
                (get(&r, "creator_id"), get(&r, "product_id")),
                (get(&r, "commission_bps"), get(&r, "commission_flat")),
            );
        }
        let sql = format!(
            "select cast(coalesce(sum(l.quantity), 0) as bigint) as units, \
             cast(coalesce(sum(l.line_total), 0) as bigint) as amount, \
             cast(coalesce(sum(l.commission_amount), 0) as bigint) as commission \
             from order_lines l join orders o on o.id = l.order_id \
             where l.brand_id = {} and o.status in ('paid', 'refunded')",
            brand.get()
        );
        let totals = rows(&pool, &sql).await;
        db.brand_totals = (get(&totals[0], "units"), get(&totals[0], "amount"), get(&totals[0], "commission"));
        pool.close().await;
        db
    }

    fn lines_of(&self, order: i64) -> impl Iterator<Item = &LineRow> {
        self.lines.iter().filter(move |l| l.order == order)
    }

    fn payments_of(&self, order: i64, kind: &'static str) -> impl Iterator<Item = &PaymentRow> {
        self.payments.iter().filter(move |p| p.order == order && p.kind == kind)
    }
}

/// Whether an order was ever paid: it is `paid`, or `refunded` after being paid.
fn settled(status: &str) -> bool {
    status == "paid" || status == "refunded"
}

/// One broken invariant, with the keys and orders whose history explains it.
struct Violation {
    rule: &'static str,
    what: String,
    order: Option<i64>,
}

struct Checker<'a> {
    world: &'a World,
    db: &'a Db,
    ops: &'a [Op],
    feed: &'a [BrandSale],
    violations: Vec<Violation>,
}

impl Checker<'_> {
    fn fail(&mut self, rule: &'static str, order: Option<i64>, what: String) {
        self.violations.push(Violation { rule, what, order });
    }

    fn run(mut self) -> Vec<Violation> {
        self.stock();
        self.acknowledged();
        self.money();
        self.keys();
        self.commission();
        self.feed();
        self.resolved();
        self.violations
    }

    /// a. Units sold never exceed what was offered; stock and drop counters agree with
    /// the paid orders and refunds.
    fn stock(&mut self) {
        let db = self.db;
        for (&product, &initial) in &self.world.initial {
            let (mut sold, mut returned) = (0, 0);
            for l in db.lines.iter().filter(|l| l.product == product) {
                if settled(&db.orders[&l.order].status) {
                    sold += l.quantity;
                    returned += l.refunded;
                }
            }
            if sold - returned > initial {
                self.fail(
                    "a",
                    None,
                    format!("product {product}: {sold} units sold, {returned} returned, only {initial} offered"),
                );
            }
            let stock = db.stock[&product];
            if stock != initial - sold + returned {
                self.fail(
                    "a",
                    None,
                    format!("product {product}: stock {stock}, expected {initial} - {sold} sold + {returned} returned"),
                );
            }
        }
        let drop = &self.world.drop;
        if db.drops.get(&drop.id.get()).map(|d| (d.0, d.1)) != Some((drop.product_id.get(), drop.quantity)) {
            self.fail("a", None, format!("drop {} is not in the database as started", drop.id));
        }
        for (&drop, &(product, quantity, remaining)) in &db.drops {
            let sold: i64 = db
                .lines
                .iter()
                .filter(|l| l.drop == Some(drop) && settled(&db.orders[&l.order].status))
                .map(|l| l.quantity)
                .sum();
            if sold > quantity {
                self.fail("a", None, format!("drop {drop} (product {product}): {sold} units sold of {quantity}"));
            }
            if remaining != quantity - sold {
                self.fail("a", None, format!("drop {drop}: remaining {remaining}, expected {quantity} - {sold} sold"));
            }
        }
        for l in &db.lines {
            if !settled(&db.orders[&l.order].status) && (l.refunded != 0 || l.held != 0) {
                self.fail(
                    "a",
                    Some(l.order),
                    format!("order {} never paid has refunded units on product {}", l.order, l.product),
                );
            }
            if l.held != 0 {
                self.fail("c", Some(l.order), format!("order {}: {} units still held for a refund", l.order, l.held));
            }
        }
    }

    /// b. Every acknowledged order is paid (or refunded, explained by refund rows), with
    /// one succeeded charge that the provider approved once for the same amount.
    fn acknowledged(&mut self) {
        let db = self.db;
        for op in self.ops {
            let Some((_, Outcome::Ok(c))) = &op.completed else { continue };
            let Some(order) = db.orders.get(&c.order) else {
                self.fail("b", Some(c.order), format!("acknowledged order {} is not in the database", c.order));
                continue;
            };
            if order.buyer != op.buyer_id || order.key != op.key || c.buyer != op.buyer_id || c.key != op.key {
                self.fail(
                    "b",
                    Some(c.order),
                    format!("acknowledged order {} belongs to another buyer or key", c.order),
                );
            }
            if c.subtotal != order.subtotal {
                self.fail(
                    "b",
                    Some(c.order),
                    format!("order {}: acknowledged {} but the database says {}", c.order, c.subtotal, order.subtotal),
                );
            }
            match order.status.as_str() {
                "paid" => {}
                "refunded" => {
                    let explained = db.lines_of(order.id).all(|l| l.refunded == l.quantity)
                        && db
                            .payments_of(order.id, "refund")
                            .any(|r| r.status == "refunded" && db.refund_lines.contains_key(&r.id));
                    if !explained {
                        self.fail(
                            "b",
                            Some(order.id),
                            format!("acknowledged order {} is refunded without refund lines explaining it", order.id),
                        );
                    }
                }
                other => self.fail("b", Some(order.id), format!("acknowledged order {} is {other}", order.id)),
            }
            let charges: Vec<&PaymentRow> = db.payments_of(order.id, "charge").collect();
            let succeeded = charges.iter().filter(|c| c.status == "succeeded").count();
            if charges.len() != 1 || succeeded != 1 {
                self.fail(
                    "b",
                    Some(order.id),
                    format!("acknowledged order {}: {} charge rows, {succeeded} succeeded", order.id, charges.len()),
                );
                continue;
            }
            let provider = charges[0].provider_ref.as_ref().and_then(|r| db.provider_charges.get(r));
            match provider {
                Some(p) if p.status == "approved" && p.amount == order.subtotal => {}
                other => self.fail(
                    "b",
                    Some(order.id),
                    format!("acknowledged order {} ({}): the provider's books say {other:?}", order.id, order.subtotal),
                ),
            }
        }
    }

    /// c and d. Per order: one charge at most, the ledger agrees with the provider, and
    /// the money the provider kept is what the order is owed.
    fn money(&mut self) {
        let db = self.db;
        let mut references = BTreeSet::new();
        for order in db.orders.values() {
            if order.creator != self.world.creator.get() {
                self.fail(
                    "e",
                    Some(order.id),
                    format!("order {} is attributed to {}, not the host", order.id, order.creator),
                );
            }
            let charges: Vec<&PaymentRow> = db.payments_of(order.id, "charge").collect();
            let refunds: Vec<&PaymentRow> = db.payments_of(order.id, "refund").collect();
            if charges.len() > 1 {
                self.fail("d", Some(order.id), format!("order {}: {} charge rows", order.id, charges.len()));
            }
            let succeeded = charges.iter().filter(|c| c.status == "succeeded").count();
            if succeeded > 1 {
                self.fail("d", Some(order.id), format!("order {} paid {succeeded} times", order.id));
            }
            let (mut charged, mut returned) = (0, 0);
            for c in &charges {
                if c.status == "pending" {
                    self.fail(
                        "c",
                        Some(order.id),
                        format!("order {} ({}): its charge is still pending", order.id, order.status),
                    );
                }
                let Some(reference) = &c.provider_ref else { continue };
                references.insert(reference.clone());
                let Some(p) = db.provider_charges.get(reference) else { continue };
                let approved = p.status == "approved";
                if approved != (c.status == "succeeded") {
                    self.fail(
                        "c",
                        Some(order.id),
                        format!(
                            "order {}: the ledger says the charge {}, the provider {}",
                            order.id, c.status, p.status
                        ),
                    );
                }
                if approved {
                    charged += p.amount;
                    returned += p.refunded;
                    let refunded_by_key: i64 = db.provider_refunds.get(reference).map_or(0, |r| r.iter().sum());
                    if refunded_by_key != p.refunded {
                        self.fail(
                            "c",
                            Some(order.id),
                            format!(
                                "order {}: provider refunds sum {refunded_by_key}, its charge says {}",
                                order.id, p.refunded
                            ),
                        );
                    }
                    if p.amount != order.subtotal {
                        self.fail(
                            "c",
                            Some(order.id),
                            format!("order {}: charged {} for a subtotal of {}", order.id, p.amount, order.subtotal),
                        );
                    }
                }
            }
            let ledger_refunded: i64 = refunds.iter().filter(|r| r.status == "refunded").map(|r| r.amount).sum();
            if ledger_refunded != returned {
                self.fail(
                    "c",
                    Some(order.id),
                    format!(
                        "order {}: the ledger records {ledger_refunded} refunded, the provider {returned}",
                        order.id
                    ),
                );
            }
            for r in &refunds {
                if r.status == "pending" {
                    self.fail(
                        "c",
                        Some(order.id),
                        format!("order {}: refund {} ({:?}) left pending", order.id, r.id, r.request_key),
                    );
                }
            }
            let kept = charged - returned;
            let owed = if settled(&order.status) {
                let refunded_units: i64 = db.lines_of(order.id).map(|l| l.refunded * l.unit_price).sum();
                for r in refunds.iter().filter(|r| r.status == "refunded") {
                    if !db.refund_lines.contains_key(&r.id) {
                        self.fail(
                            "c",
                            Some(order.id),
                            format!(
                                "{} order {}: its whole charge was refunded ({:?}) yet it stays {}",
                                order.status, order.id, r.request_key, order.status
                            ),
                        );
                    }
                }
                if succeeded != 1 {
                    self.fail(
                        "c",
                        Some(order.id),
                        format!("{} order {} has {succeeded} succeeded charges", order.status, order.id),
                    );
                }
                order.subtotal - refunded_units
            } else {
                0
            };
            if kept != owed {
                self.fail(
                    "c",
                    Some(order.id),
                    format!(
                        "order {} is {}: the provider kept {kept} (charged {charged}, refunded {returned}), \
                         owed {owed}",
                        order.id, order.status
                    ),
                );
            }
        }
        for (reference, p) in &db.provider_charges {
            if !references.contains(reference) && p.status == "approved" {
                self.fail(
                    "c",
                    None,
                    format!("the provider charged {} under {reference}, which no order's charge names", p.amount),
                );
            }
        }
    }

    /// b, c and d against the history: one order per key, every answer for a key agrees
    /// with where its order ended.
    fn keys(&mut self) {
        let db = self.db;
        let mut by_key: BTreeMap<(i64, &str), Vec<&OrderRow>> = BTreeMap::new();
        for o in db.orders.values() {
            by_key.entry((o.buyer, o.key.as_str())).or_default().push(o);
        }
        for ((buyer, key), orders) in &by_key {
            if orders.len() > 1 {
                self.fail(
                    "d",
                    Some(orders[0].id),
                    format!("buyer {buyer} has {} orders under key {key}", orders.len()),
                );
            }
        }
        let mut ops_by_key: BTreeMap<(i64, &str), Vec<&Op>> = BTreeMap::new();
        for op in self.ops {
            ops_by_key.entry((op.buyer_id, op.key.as_str())).or_default().push(op);
        }
        for ((buyer, key), ops) in ops_by_key {
            let order = by_key.get(&(buyer, key)).and_then(|o| o.first()).copied();
            let oks: BTreeSet<i64> = ops
                .iter()
                .filter_map(|op| match &op.completed {
                    Some((_, Outcome::Ok(c))) => Some(c.order),
                    _ => None,
                })
                .collect();
            if oks.len() > 1 {
                self.fail("d", order.map(|o| o.id), format!("buyer {buyer} key {key}: acknowledged as orders {oks:?}"));
            }
            if let Some(&acknowledged) = oks.first() {
                if order.map(|o| o.id) != Some(acknowledged) {
                    self.fail(
                        "b",
                        Some(acknowledged),
                        format!(
                            "buyer {buyer} key {key}: acknowledged order {acknowledged}, the key's order is {order:?}"
                        ),
                    );
                }
                let first_ok = ops
                    .iter()
                    .filter(|op| matches!(op.completed, Some((_, Outcome::Ok(_)))))
                    .map(|op| op.invoked)
                    .min()
                    .unwrap_or(0);
                for op in &ops {
                    if let Some((done, outcome)) = &op.completed {
                        if outcome.gave_up() && *done > first_ok {
                            self.fail(
                                "b",
                                Some(acknowledged),
                                format!(
                                    "buyer {buyer} key {key}: attempt {} answered {} although order {acknowledged} \
                                     is acknowledged",
                                    op.attempt,
                                    outcome.label()
                                ),
                            );
                        }
                    }
                }
                continue;
            }
            // No acknowledgement. The last attempt, when it ran after every other one had
            // answered, tells where the key's order ended: a definite failure means not
            // paid. Unknown outcomes are left to the ledger checks (c), which hold for
            // every order.
            let Some(last) = ops.iter().max_by_key(|op| op.invoked) else { continue };
            let alone = ops.iter().all(|op| {
                op.invoked == last.invoked || op.completed.as_ref().is_some_and(|(done, _)| *done < last.invoked)
            });
            if let (true, Some((_, outcome)), Some(order)) = (alone, &last.completed, order) {
                if outcome.not_paid() && settled(&order.status) {
                    self.fail(
                        "c",
                        Some(order.id),
                        format!(
                            "buyer {buyer} key {key}: last answered {} but order {} is {}",
                            outcome.label(),
                            order.id,
                            order.status
                        ),
                    );
                }
            }
        }
    }

    /// e. One accrual per paid line, the agreement applied to it; reversals for exactly
    /// the refunded part; nothing for orders never paid.
    fn commission(&mut self) {
        let db = self.db;
        for order in db.orders.values() {
            let entries: Vec<&CommissionRow> = db.commission.iter().filter(|e| e.order == order.id).collect();
            if !settled(&order.status) {
                if !entries.is_empty() {
                    self.fail(
                        "e",
                        Some(order.id),
                        format!("order {} is {} but has {} commission entries", order.id, order.status, entries.len()),
                    );
                }
                continue;
            }
            for l in db.lines_of(order.id) {
                let Some(&(bps, flat)) = db.agreements.get(&(order.creator, l.product)) else {
                    self.fail(
                        "e",
                        Some(order.id),
                        format!("order {}: no agreement for product {}", order.id, l.product),
                    );
                    continue;
                };
                if (l.bps, l.flat) != (bps, flat) {
                    self.fail(
                        "e",
                        Some(order.id),
                        format!(
                            "order {} product {}: sold at {}+{} but the agreement says {bps}+{flat}",
                            order.id, l.product, l.bps, l.flat
                        ),
                    );
                }
                let due = commission(l.line_total, l.quantity, bps, flat);
                let of_line: Vec<&&CommissionRow> = entries.iter().filter(|e| e.product == l.product).collect();
                let accruals: Vec<&&&CommissionRow> = of_line.iter().filter(|e| e.kind == "accrued").collect();
                if accruals.len() != 1 || accruals[0].amount != due || l.commission != due {
                    let found: Vec<i64> = accruals.iter().map(|e| e.amount).collect();
                    self.fail(
                        "e",
                        Some(order.id),
                        format!(
                            "order {} product {}: accruals {found:?}, line says {}, agreement gives {due}",
                            order.id, l.product, l.commission
                        ),
                    );
                }
                for e in &of_line {
                    if e.creator != order.creator || e.brand != l.brand {
                        self.fail(
                            "e",
                            Some(order.id),
                            format!(
                                "order {} product {}: entry to creator {} brand {}",
                                order.id, l.product, e.creator, e.brand
                            ),
                        );
                    }
                }
                let kept = l.quantity - l.refunded;
                let reversed: i64 = of_line.iter().filter(|e| e.kind == "reversed").map(|e| e.amount).sum();
                let expected = due - commission(l.unit_price * kept, kept, bps, flat);
                if reversed != expected {
                    self.fail(
                        "e",
                        Some(order.id),
                        format!(
                            "order {} product {}: reversed {reversed}, the refunded part earned {expected}",
                            order.id, l.product
                        ),
                    );
                }
                if of_line.iter().filter(|e| e.kind == "settled").count() > 1 {
                    self.fail("e", Some(order.id), format!("order {} product {}: settled twice", order.id, l.product));
                }
            }
        }
    }

    /// f. The feed got every paid line of the brand once, as the database has it.
    fn feed(&mut self) {
        let db = self.db;
        let brand = self.world.brand_id.get();
        let mut expected: BTreeMap<(i64, i64), (i64, i64, i64)> = BTreeMap::new();
        for l in db.lines.iter().filter(|l| l.brand == brand && settled(&db.orders[&l.order].status)) {
            expected.insert((l.order, l.product), (l.quantity, l.line_total, l.commission));
        }
        let mut seen: BTreeMap<(i64, i64), (i64, i64, i64)> = BTreeMap::new();
        for s in self.feed {
            let key = (s.order_id.get(), s.product_id.get());
            let value = (s.quantity, s.amount.amount, s.commission.amount);
            if seen.insert(key, value).is_some() {
                self.fail("f", Some(key.0), format!("the feed announced order {} product {} twice", key.0, key.1));
            }
            if s.creator_id.get() != db.orders.get(&key.0).map_or(0, |o| o.creator) {
                self.fail("f", Some(key.0), format!("the feed attributes order {} to creator {}", key.0, s.creator_id));
            }
        }
        for (key, value) in &expected {
            match seen.get(key) {
                None => self.fail(
                    "f",
                    Some(key.0),
                    format!("the feed never announced paid order {} product {}", key.0, key.1),
                ),
                Some(got) if got != value => {
                    self.fail(
                        "f",
                        Some(key.0),
                        format!("order {} product {}: the feed said {got:?}, the database {value:?}", key.0, key.1),
                    );
                }
                Some(_) => {}
            }
        }
        for key in seen.keys().filter(|k| !expected.contains_key(k)) {
            let status = db.orders.get(&key.0).map_or("missing", |o| o.status.as_str());
            self.fail(
                "f",
                Some(key.0),
                format!("the feed announced order {} product {}, which is {status}", key.0, key.1),
            );
        }
        let totals = seen.values().fold((0, 0, 0), |t, v| (t.0 + v.0, t.1 + v.1, t.2 + v.2));
        if totals != db.brand_totals {
            self.fail(
                "f",
                None,
                format!("feed totals (units, amount, commission) {totals:?}, SQL says {:?}", db.brand_totals),
            );
        }
    }

    /// g. No order is left placed once every hold has expired and the reconcilers ran.
    fn resolved(&mut self) {
        for o in self.db.orders.values().filter(|o| o.status == "placed") {
            let what =
                format!("order {} is still placed (hold until {}, failure {:?})", o.id, o.hold_expires_at, o.failure);
            self.fail("g", Some(o.id), what);
        }
    }
}

/// Reads everything back and checks it; panics with every violation and the history
/// around it.
async fn check(url: &str, shop: &Client, world: &World, h: &History, feed: &Feed) {
    let brand = world.brand_id;
    // The feed is asynchronous: give it (bounded) time to deliver what SQL says was paid.
    let deadline = Instant::now() + Duration::from_secs(5);
    let db = loop {
        let db = Db::read(url, brand).await;
        let expected =
            db.lines.iter().filter(|l| l.brand == brand.get() && settled(&db.orders[&l.order].status)).count();
        if feed.sales().len() >= expected || Instant::now() >= deadline {
            break db;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Not an invariant, for the report: what the inventory (the fast gate) offers now,
    // with no hold left, against the database's units on hand.
    let mut inventory = Vec::new();
    for (&product, stock) in &db.stock {
        if world.initial.contains_key(&product) {
            let path = path(routes::PRODUCT, &[product]);
            let (status, body) = shop.send(reqwest::Method::GET, &path, None, None).await;
            let offered = body["stock"].as_i64().or_else(|| body["card"]["stock"].as_i64());
            inventory.push(format!("product {product}: inventory offers {offered:?} ({status}), database has {stock}"));
        }
    }
    let ops = h.ops();
    let sales = feed.sales();
    let violations = Checker { world, db: &db, ops: &ops, feed: &sales, violations: Vec::new() }.run();
    let orders_by_status = db.orders.values().fold(BTreeMap::<&str, usize>::new(), |mut m, o| {
        *m.entry(o.status.as_str()).or_default() += 1;
        m
    });
    let ledger = db.payments.iter().fold(BTreeMap::<String, usize>::new(), |mut m, p| {
        let what = match (&p.kind[..], &p.request_key) {
            ("refund", Some(why)) if !db.refund_lines.contains_key(&p.id) => format!("refund {why} {}", p.status),
            (kind, _) => format!("{kind} {}", p.status),
        };
        *m.entry(what).or_default() += 1;
        m
    });
    eprintln!(
        "history summary:\n{}  orders by status {orders_by_status:?}\n  ledger {ledger:?}\n  stock {:?}\n  {}\n  \
         drops {:?}\n  feed {} sales, notes {:?}\n  {} violations",
        h.summary(),
        db.stock,
        inventory.join("\n  "),
        db.drops,
        sales.len(),
        feed.notes(),
        violations.len()
    );
    if violations.is_empty() {
        return;
    }
    let mut report = format!("{} invariant violations\n", violations.len());
    let mut orders = BTreeSet::new();
    for v in &violations {
        let _ = writeln!(report, "  [{}] {}", v.rule, v.what);
        orders.extend(v.order);
    }
    for order in orders.iter().take(8) {
        let Some(o) = db.orders.get(order) else { continue };
        let _ = writeln!(report, "\norder {order}: {o:?}");
        for l in db.lines_of(*order) {
            let _ = writeln!(report, "  line {l:?}");
        }
        for p in db.payments.iter().filter(|p| p.order == *order) {
            let provider = p.provider_ref.as_ref().and_then(|r| db.provider_charges.get(r));
            let _ =
                writeln!(report, "  payment {p:?} provider {provider:?} refund lines {:?}", db.refund_lines.get(&p.id));
        }
        for e in db.commission.iter().filter(|e| e.order == *order) {
            let _ = writeln!(report, "  commission {e:?}");
        }
        let keys = BTreeSet::from([(o.buyer, o.key.clone())]);
        let _ = write!(report, "  history:\n{}", h.excerpt(&keys, &BTreeSet::from([*order])));
    }
    panic!("{report}");
}

// ----------------------------------------------------------------------------------
// The embedded run: one process, SQLite + memory, the lost-answer fault.
// ----------------------------------------------------------------------------------

const START: UnixMs = UnixMs(1_800_000_000_000);

#[tokio::test]
async fn embedded_checkout_history_with_lost_provider_answers_holds_every_invariant() {
    let clock = Clock::manual(START);
    let mut config = test_config();
    config.hold_ttl = Duration::from_secs(60);
    // The test sweeps when it means to, after moving the clock.
    config.tick = Duration::from_secs(3_600);
    let app = TestApp::spawn_with(config, clock.clone()).await;
    let world = World::build(&app.client, 100, 30, 40).await;
    let (feed, reader) = Feed::follow(&app.client, &world.brand).await;
    // One process: two connections per buyer stand in for two nodes.
    let net = Net::new(vec![app.client.clone(), app.client.clone()], world.room);
    let h = History::new();
    let mix_of = [
        (5, Plan::Once(TestCards::SUCCEEDS)),
        (2, Plan::Once(TestCards::DECLINES)),
        (2, Plan::Retry { card: TestCards::FAILS_ONCE, retry_card: TestCards::FAILS_ONCE }),
        (3, Plan::Retry { card: TestCards::ANSWER_LOST, retry_card: TestCards::ANSWER_LOST }),
        (3, Plan::Once(TestCards::ANSWER_LOST)),
        (2, Plan::Late { card: TestCards::ANSWER_LOST, retry_card: TestCards::ANSWER_LOST }),
        (2, Plan::Once(TestCards::SLOW)),
        (1, Plan::Hedge { card: TestCards::SLOW, retry_card: TestCards::SUCCEEDS }),
    ];
    let plans: Vec<Plan> = (0..80).map(|n| plan_from(n, &mix_of)).collect();
    let mut buyers = buyers(&net, &world, &plans, |n| n % 2, "embedded").await;
    h.note("workload starts");
    run_all(&mut buyers, &net, &h, &Gates::open()).await;
    brand_refunds(&app.client, &world, &h).await;

    // Every hold runs out. Buyers whose answer was lost retry now, before any sweep.
    clock.advance(Duration::from_secs(61));
    h.note("clock moved past every hold");
    join_all(buyers.iter_mut().map(|b| b.run_late(&net, &h))).await;
    for _ in 0..2 {
        if let Err(e) = app.state.commerce.sweep().await {
            h.note(format!("sweep failed: {e}"));
        }
    }
    h.note("swept");
    check(&app.state.config.database_url, &app.client, &world, &h, &feed).await;
    reader.abort();
}

// ----------------------------------------------------------------------------------
// The cluster runs: three nodes, PostgreSQL + Redis, one fault each.
// ----------------------------------------------------------------------------------

/// Three nodes with short holds, the world built on node 0, the feed followed there.
async fn cluster_run() -> Option<(Cluster, World, Feed, tokio::task::JoinHandle<()>, Net)> {
    let hold = CLUSTER_HOLD_SECS.to_string();
    let cluster = Cluster::start_with(3, &[("LIVECART_HOLD_SECS", hold.as_str())]).await?;
    let world = World::build(cluster.node(0), 100, 30, 40).await;
    let (feed, reader) = Feed::follow(cluster.node(0), &world.brand).await;
    let net = Net::new((0..3).map(|i| cluster.node(i).clone()).collect(), world.room);
    Some((cluster, world, feed, reader, net))
}

/// Waits (bounded) until every hold has expired and the nodes' sweepers have resolved
/// every placed order and pending payment.
async fn await_reconciled(url: &str, h: &History) {
    let pool = pool(url).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut quiet_since: Option<Instant> = None;
    loop {
        let now =
            UnixMs(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64);
        let open = rows(
            &pool,
            &format!(
                "select (select count(*) from orders where status = 'placed') + \
                 (select count(*) from payments where status = 'pending') + \
                 (select count(*) from orders where hold_expires_at > {}) as open",
                now.0
            ),
        )
        .await;
        let open: i64 = get(&open[0], "open");
        // Quiet for a few sweeps (nodes tick every 100 ms), so nothing is mid-way.
        if open == 0 {
            let since = *quiet_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= Duration::from_millis(500) {
                break;
            }
        } else {
            quiet_since = None;
        }
        if Instant::now() >= deadline {
            h.note(format!("reconciliation wait ended with {open} open orders, payments or holds"));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    pool.close().await;
}

#[tokio::test]
async fn cluster_history_with_redis_keys_deleted_mid_drop_holds_every_invariant() {
    let Some((cluster, world, feed, reader, net)) = cluster_run().await else { return };
    let h = History::new();
    let mix_of = [
        (6, Plan::Once(TestCards::SUCCEEDS)),
        (1, Plan::Once(TestCards::DECLINES)),
        (2, Plan::Retry { card: TestCards::FAILS_ONCE, retry_card: TestCards::FAILS_ONCE }),
        (2, Plan::Retry { card: TestCards::ANSWER_LOST, retry_card: TestCards::ANSWER_LOST }),
        (2, Plan::Once(TestCards::SLOW)),
        (2, Plan::Hedge { card: TestCards::SLOW, retry_card: TestCards::SUCCEEDS }),
    ];
    let plans: Vec<Plan> = (0..90).map(|n| plan_from(n, &mix_of)).collect();
    let mut buyers = buyers(&net, &world, &plans, |n| n % 3, "redis").await;
    let (open_hedge, hedge) = watch::channel(false);
    let gates = Gates { hedge, retry: Gates::open().retry };
    let url = cluster.backing.redis_url.clone().unwrap();
    let prefix = cluster.backing.redis_prefix.clone();
    h.note("workload starts");
    let nemesis = async {
        // Mid-drop: once a third of the buyers have started, and again a little later.
        let deadline = Instant::now() + WAIT;
        while h.invoked() < plans.len() / 3 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        forget_redis_prefix(&url, &prefix).await;
        h.note("redis: every key of the deployment deleted");
        let _ = open_hedge.send(true);
        tokio::time::sleep(Duration::from_millis(700)).await;
        forget_redis_prefix(&url, &prefix).await;
        h.note("redis: every key of the deployment deleted again");
    };
    tokio::join!(run_all(&mut buyers, &net, &h, &gates), nemesis);
    brand_refunds(cluster.node(1), &world, &h).await;
    await_reconciled(&cluster.backing.database_url, &h).await;
    check(&cluster.backing.database_url, cluster.node(0), &world, &h, &feed).await;
    reader.abort();
}

#[tokio::test]
async fn cluster_history_with_a_node_killed_mid_checkout_holds_every_invariant() {
    let Some((mut cluster, world, feed, reader, net)) = cluster_run().await else { return };
    let h = History::new();
    const DOOMED: usize = 2;
    // Buyers on the doomed node pay mostly with the slow card, so their checkouts are in
    // flight when it dies; about half of those retry the same key on another node
    // afterwards. A few lose their answer and leave a charged order behind.
    let elsewhere = [
        (5, Plan::Once(TestCards::SUCCEEDS)),
        (1, Plan::Once(TestCards::DECLINES)),
        (2, Plan::Retry { card: TestCards::FAILS_ONCE, retry_card: TestCards::FAILS_ONCE }),
        (2, Plan::Retry { card: TestCards::ANSWER_LOST, retry_card: TestCards::ANSWER_LOST }),
        (2, Plan::Once(TestCards::SLOW)),
    ];
    let doomed = [
        (3, Plan::Retry { card: TestCards::SLOW, retry_card: TestCards::SUCCEEDS }),
        (3, Plan::Once(TestCards::SLOW)),
        // Charged, the answer lost, not retried: the dead node leaves them to the others.
        (1, Plan::Once(TestCards::ANSWER_LOST)),
    ];
    let plans: Vec<Plan> =
        (0..90).map(|n| if n % 3 == DOOMED { plan_from(n, &doomed) } else { plan_from(n, &elsewhere) }).collect();
    let mut buyers = buyers(&net, &world, &plans, |n| n % 3, "kill").await;
    let (open_retry, retry) = watch::channel(false);
    let gates = Gates { hedge: Gates::open().hedge, retry };
    let redis_url = cluster.backing.redis_url.clone().unwrap();
    let prefix = cluster.backing.redis_prefix.clone();
    h.note("workload starts");
    let net_for_nemesis = net.clone();
    let nemesis = async {
        let deadline = Instant::now() + WAIT;
        while h.in_flight_on(DOOMED, TestCards::SLOW) < 8 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Inside the slow card's two seconds.
        tokio::time::sleep(Duration::from_millis(700)).await;
        let in_flight: Vec<Op> = h.ops().into_iter().filter(|o| o.node == DOOMED && o.completed.is_none()).collect();
        net_for_nemesis.mark_down(DOOMED);
        cluster.kill(DOOMED).await;
        h.note(format!("node {DOOMED} SIGKILLed with {} checkouts in flight", in_flight.len()));
        // The dead node's checkout claims lapse on their own once their expiry passes
        // (which may be longer than this test should run): lapse them now, only theirs,
        // as time would.
        let lapsed = lapse_claims(&redis_url, &prefix, &in_flight).await;
        h.note(format!("the dead node's {lapsed} checkout claims lapsed"));
        let _ = open_retry.send(true);
    };
    tokio::join!(run_all(&mut buyers, &net, &h, &gates), nemesis);
    assert!(!cluster.is_up(DOOMED));
    brand_refunds(cluster.node(0), &world, &h).await;
    await_reconciled(&cluster.backing.database_url, &h).await;
    check(&cluster.backing.database_url, cluster.node(0), &world, &h, &feed).await;
    reader.abort();
}

/// Expires the checkout claims of these invocations at once, as their TTL would later;
/// returns how many there were.
async fn lapse_claims(url: &str, prefix: &str, ops: &[Op]) -> i64 {
    let redis = livecart::redis::Redis::connect(url, prefix).await.expect("redis");
    let mut conn = redis.conn();
    let mut lapsed = 0;
    for op in ops {
        let key = redis.key(&format!("claim:{}:{}", op.buyer_id, op.key));
        lapsed += redis::cmd("PEXPIRE").arg(&key).arg(1).query_async::<i64>(&mut conn).await.unwrap_or(0);
    }
    lapsed
}

#[tokio::test]
async fn cluster_history_with_lost_provider_answers_holds_every_invariant() {
    let Some((cluster, world, feed, reader, net)) = cluster_run().await else { return };
    let h = History::new();
    let mix_of = [
        (4, Plan::Once(TestCards::SUCCEEDS)),
        (1, Plan::Once(TestCards::DECLINES)),
        (4, Plan::Retry { card: TestCards::ANSWER_LOST, retry_card: TestCards::ANSWER_LOST }),
        (4, Plan::Once(TestCards::ANSWER_LOST)),
        (2, Plan::Retry { card: TestCards::FAILS_ONCE, retry_card: TestCards::FAILS_ONCE }),
        (1, Plan::Once(TestCards::SLOW)),
    ];
    let plans: Vec<Plan> = (0..90).map(|n| plan_from(n, &mix_of)).collect();
    let mut buyers = buyers(&net, &world, &plans, |n| n % 3, "lost").await;
    h.note("workload starts");
    run_all(&mut buyers, &net, &h, &Gates::open()).await;
    brand_refunds(cluster.node(2), &world, &h).await;
    await_reconciled(&cluster.backing.database_url, &h).await;
    check(&cluster.backing.database_url, cluster.node(0), &world, &h, &feed).await;
    reader.abort();
}

#[tokio::test]
async fn cluster_history_with_database_connections_dropped_during_settle_holds_every_invariant() {
    let Some((cluster, world, feed, reader, net)) = cluster_run().await else { return };
    let h = History::new();
    let mix_of = [
        (4, Plan::Once(TestCards::SUCCEEDS)),
        (1, Plan::Once(TestCards::DECLINES)),
        (5, Plan::Once(TestCards::SLOW)),
        (2, Plan::Retry { card: TestCards::SLOW, retry_card: TestCards::SLOW }),
        (2, Plan::Retry { card: TestCards::ANSWER_LOST, retry_card: TestCards::ANSWER_LOST }),
        (2, Plan::Once(TestCards::ANSWER_LOST)),
    ];
    let plans: Vec<Plan> = (0..90).map(|n| plan_from(n, &mix_of)).collect();
    let mut buyers = buyers(&net, &world, &plans, |n| n % 3, "dbdrop").await;
    let url = cluster.backing.database_url.clone();
    let gates = Gates::open();
    h.note("workload starts");
    let nemesis = async {
        let deadline = Instant::now() + WAIT;
        while (0..3).map(|i| h.in_flight_on(i, TestCards::SLOW)).sum::<usize>() < 10 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The slow charges answer two seconds in, then settle: cut every connection
        // again and again across that moment.
        let admin = admin_connection(&url).await;
        let until = Instant::now() + Duration::from_secs(4);
        let mut rounds = 0;
        while Instant::now() < until {
            let killed = terminate_backends(&admin).await;
            rounds += 1;
            h.note(format!("database: {killed} connections terminated (round {rounds})"));
            tokio::time::sleep(Duration::from_millis(150 + mix(rounds, 9) % 200)).await;
        }
        admin.close().await;
    };
    tokio::join!(run_all(&mut buyers, &net, &h, &gates), nemesis);
    brand_refunds(cluster.node(0), &world, &h).await;
    await_reconciled(&url, &h).await;
    check(&url, cluster.node(0), &world, &h, &feed).await;
    reader.abort();
}

/// A connection to the test's database of its own, for terminating everyone else's.
async fn admin_connection(url: &str) -> sqlx::PgPool {
    sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(url).await.expect("admin connection")
}

async fn terminate_backends(admin: &sqlx::PgPool) -> i64 {
    let sql = "select count(pg_terminate_backend(pid)) as n from pg_stat_activity \
               where datname = current_database() and pid <> pg_backend_pid()";
    match sqlx::query_scalar::<_, i64>(sql).fetch_one(admin).await {
        Ok(n) => n,
        Err(e) => {
            eprintln!("terminate: {e}");
            0
        }
    }
}
