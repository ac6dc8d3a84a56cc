//! The Stripe provider against localstripe, a fake Stripe API: a checkout paid through a
//! PaymentIntent, a decline, refunds, a crash between charge and settle, and webhooks
//! (delivered by localstripe, and forged, stale and replayed ones sent by the test).
//!
//! Each test starts its own localstripe on loopback (a port the kernel picks), with the
//! command in `LIVECART_TEST_LOCALSTRIPE` (`.ci/localstripe` sets it up and prints it);
//! without it these tests say so and return. They run on both backends.
//!
//! What localstripe cannot show: it ignores `Idempotency-Key` (so the ledger's reference,
//! recorded before confirmation, is what the crash tests rely on), and it declines a
//! PaymentIntent only for 4000000000000341.

use crate::helpers::{TestApp, WAIT, checkout, test_config};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use livecart::config::{Config, PaymentsChoice, Secret};
use livecart::domain::{Clock, OrderId, UnixMs};
use livecart::store::{Backend, CommissionKind, PaymentStatus};
use livecart::wire::routes::{self, path};
use livecart::wire::ws::{OrderStatus, OrderView};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::sync::mpsc;

/// The command that serves localstripe on loopback (`--port 0` and the rest are added).
const TEST_LOCALSTRIPE: &str = "LIVECART_TEST_LOCALSTRIPE";
const SECRET_KEY: &str = "sk_test_livecart";
const WEBHOOK_SECRET: &str = "whsec_livecart_test";
const SUCCEEDS: &str = "4242424242424242";
/// The card localstripe declines a PaymentIntent for (4000000000000002 succeeds there).
const DECLINES: &str = "4000000000000341";

/// One localstripe server, stopped when dropped (killed, and its stdin closed, which the
/// wrapper exits on however this process ends).
struct Localstripe {
    base: String,
    http: reqwest::Client,
    log: Arc<Mutex<String>>,
    _server: tokio::process::Child,
}

impl Localstripe {
    async fn start() -> Option<Localstripe> {
        let Ok(command) = std::env::var(TEST_LOCALSTRIPE) else {
            eprintln!("skipped: the Stripe tests need {TEST_LOCALSTRIPE} (run `bash .ci/localstripe` for it)");
            return None;
        };
        let mut words = command.split_whitespace();
        let program = words.next().unwrap_or_else(|| panic!("{TEST_LOCALSTRIPE} is empty"));
        let mut server = tokio::process::Command::new(program)
            .args(words)
            .args(["--host", "127.0.0.1", "--port", "0", "--exit-with-stdin"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("starting localstripe ({command}): {e}"));
        let log = Arc::new(Mutex::new(String::new()));
        let mut stderr = server.stderr.take().expect("stderr");
        let sink = Arc::clone(&log);
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stderr.read(&mut buf).await {
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut stdout = BufReader::new(server.stdout.take().expect("stdout")).lines();
        let line = tokio::time::timeout(WAIT, stdout.next_line()).await;
        let base = match line {
            Ok(Ok(Some(line))) => line.rsplit(' ').next().unwrap_or_default().to_owned(),
            _ => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                panic!("localstripe did not start ({command}): {}", log.lock().unwrap());
            }
        };
        assert!(base.starts_with("http://127.0.0.1:"), "localstripe said {base:?}");
        Some(Localstripe { base, http: reqwest::Client::new(), log, _server: server })
    }

    async fn get(&self, path: &str) -> Value {
        let resp = self.http.get(format!("{}{path}", self.base)).bearer_auth(SECRET_KEY).send().await.unwrap();
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "localstripe GET {path}: {status} {body}");
        body
    }

    /// Registers a webhook endpoint for the two payment intent outcomes, signed with
    /// [`WEBHOOK_SECRET`].
    async fn deliver_to(&self, url: &str) {
        let form = [
            ("url", url),
            ("secret", WEBHOOK_SECRET),
            ("events[]", "payment_intent.succeeded"),
            ("events[]", "payment_intent.payment_failed"),
        ];
        let resp = self.http.post(format!("{}/_config/webhooks/livecart", self.base)).form(&form).send().await.unwrap();
        assert!(resp.status().is_success(), "registering the webhook: {}", resp.status());
    }

    /// The PaymentIntents made for an order (localstripe's list has no metadata filter).
    async fn intents_of(&self, order: OrderId) -> Vec<Value> {
        let list = self.get("/v1/payment_intents?limit=100").await;
        let all = list["data"].as_array().cloned().unwrap_or_default();
        assert!(all.len() < 100, "more intents than one page");
        all.into_iter().filter(|i| i["metadata"]["order_id"] == order.to_string()).collect()
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

fn stripe_config(stripe: &Localstripe) -> Config {
    let mut config = test_config();
    config.payments = PaymentsChoice::Stripe;
    config.stripe_api = stripe.base.clone();
    config.stripe_secret_key = Some(Secret(SECRET_KEY.into()));
    config.stripe_webhook_secret = Some(Secret(WEBHOOK_SECRET.into()));
    config
}

async fn stripe_app(stripe: &Localstripe) -> TestApp {
    TestApp::spawn_with(stripe_config(stripe), Clock::system()).await
}

async fn db_stock(app: &TestApp, product: livecart::domain::ProductId) -> i64 {
    app.state.store.product(product).await.unwrap().unwrap().stock
}

async fn order(app: &TestApp, token: &str, id: OrderId) -> OrderView {
    app.get(&path(routes::ORDER, &[id.get()]), Some(token)).await
}

/// A second connection to the test's database, for injecting faults and reading tables
/// the server has no API for.
async fn database(app: &TestApp) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(&app.state.config.database_url).await.expect("second database connection")
}

/// A statement the database makes fail until it is lifted: settling an order as paid, or
/// recording a charge as succeeded.
#[derive(Clone, Copy)]
enum Fault {
    OrderPaid,
    ChargeSucceeded,
}

impl Fault {
    fn table_and_condition(self) -> (&'static str, &'static str) {
        match self {
            Fault::OrderPaid => ("orders", "new.status = 'paid'"),
            Fault::ChargeSucceeded => ("payments", "new.status = 'succeeded' and new.kind = 'charge'"),
        }
    }

    async fn inject(self, app: &TestApp, db: &sqlx::AnyPool) {
        let (table, when) = self.table_and_condition();
        let statements = match app.state.store.backend() {
            Backend::Sqlite => vec![format!(
                "create trigger injected_fault before update of status on {table} when {when} \
                 begin select raise(abort, 'injected fault'); end"
            )],
            Backend::Postgres => vec![
                "create function injected_fault() returns trigger language plpgsql as \
                 $$ begin raise exception 'injected fault'; end $$"
                    .to_owned(),
                format!(
                    "create trigger injected_fault before update of status on {table} for each row \
                     when ({when}) execute function injected_fault()"
                ),
            ],
        };
        for sql in statements {
            sqlx::query(&sql).execute(db).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    }

    async fn lift(self, app: &TestApp, db: &sqlx::AnyPool) {
        let (table, _) = self.table_and_condition();
        let statements = match app.state.store.backend() {
            Backend::Sqlite => vec!["drop trigger injected_fault".to_owned()],
            Backend::Postgres => {
                vec![format!("drop trigger injected_fault on {table}"), "drop function injected_fault()".to_owned()]
            }
        };
        for sql in statements {
            sqlx::query(&sql).execute(db).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    }
}

/// The webhook events the server recorded (verified and handled), as (id, kind).
async fn recorded_webhooks(db: &sqlx::AnyPool) -> Vec<(String, String)> {
    sqlx::query_as("select id, kind from webhook_events order by id").fetch_all(db).await.unwrap()
}

/// `Stripe-Signature` as Stripe documents it, computed here independently of the server:
/// `t=<unix seconds>,v1=hex(HMAC-SHA256(secret, "<t>.<body>"))`.
fn stripe_signature(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

fn unix_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

async fn post_webhook(app: &TestApp, signature: Option<&str>, body: &[u8]) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new()
        .post(app.url(routes::STRIPE_WEBHOOK))
        .header("content-type", "application/json; charset=utf-8")
        .body(body.to_vec());
    if let Some(signature) = signature {
        req = req.header("Stripe-Signature", signature);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// A webhook delivery as it arrived: the signature header and the raw body.
#[derive(Debug, Clone)]
struct Delivery {
    signature: String,
    body: Vec<u8>,
}

impl Delivery {
    fn event(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON event")
    }
}

/// An endpoint of the test's own that keeps what localstripe delivers, so the test
/// decides when the server gets it (localstripe delivers once, about a second after the
/// event, and never retries; Stripe retries for days).
async fn holding_endpoint() -> (String, mpsc::UnboundedReceiver<Delivery>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let keep = |State(tx): State<mpsc::UnboundedSender<Delivery>>, headers: HeaderMap, body: Bytes| async move {
        let signature = headers.get("stripe-signature").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let _ = tx.send(Delivery { signature, body: body.to_vec() });
        axum::http::StatusCode::OK
    };
    let router = axum::Router::new().route("/held", axum::routing::post(keep)).with_state(tx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/held", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, rx)
}

async fn delivery_of(held: &mut mpsc::UnboundedReceiver<Delivery>, kind: &str, intent: &str) -> Delivery {
    loop {
        let delivery = tokio::time::timeout(WAIT, held.recv())
            .await
            .unwrap_or_else(|_| panic!("no {kind} delivery for {intent}"))
            .expect("endpoint running");
        let event = delivery.event();
        if event["type"] == kind && event["data"]["object"]["id"] == intent {
            return delivery;
        }
    }
}

/// A checkout whose charge went through at the provider but could not be recorded as
/// succeeded (an injected database fault, lifted before this returns): the order stays
/// placed, its charge pending with the intent's reference.
struct Unrecorded {
    order: OrderId,
    reference: String,
    token: String,
    /// The buyer's connection, to retry the checkout on.
    ws: crate::helpers::Ws,
}

async fn charged_but_unrecorded(app: &TestApp, db: &sqlx::AnyPool, key: &str) -> Unrecorded {
    let scene = app.live_room(&[5]).await;
    let (mut ws, buyer) = app.shopper(scene.room, scene.products[0], 1).await;
    Fault::ChargeSucceeded.inject(app, db).await;
    ws.send(&checkout(key, SUCCEEDS)).await;
    assert_eq!(ws.checkout_outcome().await.unwrap_err(), "internal", "the buyer is told it failed");
    Fault::ChargeSucceeded.lift(app, db).await;
    let orders: Vec<OrderView> = app.get(routes::ORDERS, Some(&buyer.token)).await;
    let charge = app.state.store.charge_of(orders[0].id).await.unwrap().unwrap();
    assert_eq!((orders[0].status, charge.status), (OrderStatus::Placed, PaymentStatus::Pending));
    Unrecorded {
        order: orders[0].id,
        reference: charge.provider_ref.expect("the reference was recorded before confirmation"),
        token: buyer.token,
        ws,
    }
}

#[tokio::test]
async fn a_checkout_is_paid_through_a_stripe_payment_intent() {
    let Some(stripe) = Localstripe::start().await else { return };
    let app = stripe_app(&stripe).await;
    let scene = app.live_room(&[5]).await;
    let (mut ws, buyer) = app.shopper(scene.room, scene.products[0], 2).await;
    ws.send(&checkout("stripe-paid", SUCCEEDS)).await;
    let order = ws.checkout_outcome().await.unwrap_or_else(|code| panic!("{code}; localstripe: {}", stripe.log()));
    assert_eq!(order.status, OrderStatus::Paid);

    let charge = app.state.store.charge_of(order.id).await.unwrap().unwrap();
    assert_eq!((charge.provider.as_str(), charge.status), ("stripe", PaymentStatus::Succeeded));
    let reference = charge.provider_ref.expect("reference");
    assert!(reference.starts_with("pi_"), "{reference}");
    let intent = stripe.get(&format!("/v1/payment_intents/{reference}")).await;
    assert_eq!(intent["status"], "succeeded");
    assert_eq!(intent["amount"], order.subtotal.amount);
    assert_eq!(intent["amount"], 2_000);
    assert_eq!(intent["currency"], "eur");
    assert_eq!(intent["metadata"]["order_id"], order.id.to_string());
    assert_eq!(intent["metadata"]["livecart_key"], charge.provider_key);
    assert_eq!(stripe.intents_of(order.id).await.len(), 1, "one intent for the order");
    assert_eq!(db_stock(&app, scene.products[0]).await, 3);
    assert_eq!(self::order(&app, &buyer.token, order.id).await.status, OrderStatus::Paid);
}

#[tokio::test]
async fn a_declined_card_cancels_the_order_and_leaves_the_stock() {
    let Some(stripe) = Localstripe::start().await else { return };
    let app = stripe_app(&stripe).await;
    let scene = app.live_room(&[5]).await;
    let (mut ws, buyer) = app.shopper(scene.room, scene.products[0], 1).await;
    ws.send(&checkout("stripe-declined", DECLINES)).await;
    assert_eq!(ws.checkout_outcome().await.unwrap_err(), "payment_declined");

    let orders: Vec<OrderView> = app.get(routes::ORDERS, Some(&buyer.token)).await;
    assert_eq!(orders[0].status, OrderStatus::Cancelled);
    assert_eq!(orders[0].failure_code.as_deref(), Some("payment_declined"));
    let charge = app.state.store.charge_of(orders[0].id).await.unwrap().unwrap();
    assert_eq!(charge.status, PaymentStatus::Failed);
    assert!(charge.failure.as_deref().is_some_and(|f| f.contains("declined")), "{:?}", charge.failure);
    let intent = stripe.get(&format!("/v1/payment_intents/{}", charge.provider_ref.unwrap())).await;
    assert_eq!(intent["status"], "requires_payment_method", "nothing was charged");
    assert_eq!(db_stock(&app, scene.products[0]).await, 5);
    assert_eq!(app.stock(scene.products[0]).await, 5, "the held unit is back on sale");

    // The same checkout again: its answer is replayed, nothing is charged.
    ws.send(&checkout("stripe-declined", DECLINES)).await;
    assert_eq!(ws.checkout_outcome().await.unwrap_err(), "payment_declined");
    assert_eq!(stripe.intents_of(orders[0].id).await.len(), 1);
}

#[tokio::test]
async fn refunds_go_to_stripe_and_restock() {
    let Some(stripe) = Localstripe::start().await else { return };
    let app = stripe_app(&stripe).await;
    let scene = app.live_room(&[5]).await;
    let (mut ws, buyer) = app.shopper(scene.room, scene.products[0], 2).await;
    ws.send(&checkout("stripe-refund", SUCCEEDS)).await;
    let order = ws.checkout_outcome().await.expect("paid");
    let reference = app.state.store.charge_of(order.id).await.unwrap().unwrap().provider_ref.unwrap();
    assert_eq!(db_stock(&app, scene.products[0]).await, 3);

    let refunds = path(routes::ORDER_REFUNDS, &[order.id.get()]);
    let one = json!({"idempotency_key": "one", "lines": [{"product_id": scene.products[0], "quantity": 1}]});
    let (status, body) = app.send(reqwest::Method::POST, &refunds, Some(&scene.brand.token), Some(&one)).await;
    assert_eq!((status.as_u16(), body["status"].as_str()), (201, Some("refunded")), "{body}");
    assert_eq!(db_stock(&app, scene.products[0]).await, 4, "one unit back in stock");
    let (status, body) = app
        .send(reqwest::Method::POST, &refunds, Some(&scene.brand.token), Some(&json!({"idempotency_key": "rest"})))
        .await;
    assert_eq!((status.as_u16(), body["status"].as_str()), (201, Some("refunded")), "{body}");
    assert_eq!(db_stock(&app, scene.products[0]).await, 5);
    assert_eq!(self::order(&app, &buyer.token, order.id).await.status, OrderStatus::Refunded);

    let listed = stripe.get(&format!("/v1/refunds?payment_intent={reference}")).await;
    let mut amounts: Vec<i64> =
        listed["data"].as_array().unwrap().iter().map(|r| r["amount"].as_i64().unwrap()).collect();
    amounts.sort();
    assert_eq!(amounts, [1_000, 1_000], "two refunds at Stripe, together the whole charge");
    let keys: Vec<&str> =
        listed["data"].as_array().unwrap().iter().filter_map(|r| r["metadata"]["livecart_key"].as_str()).collect();
    assert!(keys.iter().all(|k| k.starts_with(&format!("livecart-o{}-refund-", order.id))), "{keys:?}");
    let intent = stripe.get(&format!("/v1/payment_intents/{reference}")).await;
    assert_eq!(intent["latest_charge"]["amount_refunded"], 2_000);
    let ledger = app.state.store.refunds_of_order(order.id).await.unwrap();
    assert!(ledger.iter().all(
        |r| r.status == PaymentStatus::Refunded && r.provider_ref.as_deref().is_some_and(|p| p.starts_with("re_"))
    ));
}

#[tokio::test]
async fn a_retry_after_a_lost_success_confirms_nothing_twice() {
    let Some(stripe) = Localstripe::start().await else { return };
    let app = stripe_app(&stripe).await;
    let db = database(&app).await;
    let Unrecorded { order, reference, token, mut ws } = charged_but_unrecorded(&app, &db, "retried").await;
    // The same checkout again: the ledger has the intent, so it is confirmed again, not
    // made anew; Stripe (here localstripe) refuses a second confirmation, and the intent
    // says it succeeded.
    ws.send(&checkout("retried", SUCCEEDS)).await;
    let paid = ws.checkout_outcome().await.expect("the retry finds the charge");
    assert_eq!((paid.id, paid.status), (order, OrderStatus::Paid));
    let charge = app.state.store.charge_of(order).await.unwrap().unwrap();
    assert_eq!((charge.status, charge.attempts), (PaymentStatus::Succeeded, 2));
    assert_eq!(charge.provider_ref.as_deref(), Some(reference.as_str()));
    let intents = stripe.intents_of(order).await;
    assert_eq!(intents.len(), 1, "one intent, confirmed once: {intents:?}");
    assert_eq!(intents[0]["latest_charge"]["amount_refunded"], 0);
    assert_eq!(db_stock(&app, paid.lines[0].product_id).await, 4);
    assert_eq!(self::order(&app, &token, order).await.status, OrderStatus::Paid);
    db.close().await;
}

/// A crash between charge and settle, injected as a database fault on marking the order
/// paid: the buyer gets an error, the ledger knows the money moved, and the reconciler
/// finishes the order. The background sweeper is slowed to a crawl so the test sweeps.
async fn crash_between_charge_and_settle(
    stripe: &Localstripe,
    clock: Clock,
) -> (TestApp, OrderId, livecart::domain::ProductId, String) {
    let mut config = stripe_config(stripe);
    config.tick = Duration::from_secs(3_600);
    config.hold_ttl = Duration::from_secs(60);
    let app = TestApp::spawn_with(config, clock).await;
    let db = database(&app).await;
    let scene = app.live_room(&[5]).await;
    let (mut ws, buyer) = app.shopper(scene.room, scene.products[0], 1).await;
    Fault::OrderPaid.inject(&app, &db).await;
    ws.send(&checkout("crash", SUCCEEDS)).await;
    assert_eq!(ws.checkout_outcome().await.unwrap_err(), "internal", "settling failed");
    let orders: Vec<OrderView> = app.get(routes::ORDERS, Some(&buyer.token)).await;
    let order = orders[0].id;
    let charge = app.state.store.charge_of(order).await.unwrap().unwrap();
    assert_eq!(charge.status, PaymentStatus::Succeeded, "the ledger knows the money moved");
    assert_eq!(orders[0].status, OrderStatus::Placed);
    Fault::OrderPaid.lift(&app, &db).await;
    db.close().await;
    (app, order, scene.products[0], buyer.token)
}

#[tokio::test]
async fn a_crash_between_charge_and_settle_is_settled_by_the_reconciler_and_charged_once() {
    let Some(stripe) = Localstripe::start().await else { return };
    let (app, order, product, token) = crash_between_charge_and_settle(&stripe, Clock::system()).await;
    app.state.commerce.sweep().await.unwrap();

    let view = self::order(&app, &token, order).await;
    assert_eq!(view.status, OrderStatus::Paid, "{view:?}");
    assert_eq!(db_stock(&app, product).await, 4, "one unit sold, once");
    let accrued = app.state.store.commission_entries(order).await.unwrap();
    assert_eq!(accrued.iter().filter(|e| e.kind == CommissionKind::Accrued).count(), 1);
    assert!(app.state.store.refunds_of_order(order).await.unwrap().is_empty(), "nothing refunded");
    let intents = stripe.intents_of(order).await;
    assert_eq!(intents.len(), 1, "one intent for the order: {intents:?}");
    assert_eq!(intents[0]["status"], "succeeded");
    assert_eq!(intents[0]["latest_charge"]["amount_refunded"], 0);
}

#[tokio::test]
async fn a_crash_between_charge_and_settle_found_after_the_hold_is_refunded_and_recorded() {
    let Some(stripe) = Localstripe::start().await else { return };
    let clock = Clock::manual(UnixMs(unix_secs() * 1_000));
    let (app, order, product, token) = crash_between_charge_and_settle(&stripe, clock.clone()).await;
    clock.advance(Duration::from_secs(61));
    app.state.commerce.sweep().await.unwrap();

    let view = self::order(&app, &token, order).await;
    assert_eq!(view.status, OrderStatus::Cancelled, "{view:?}");
    let refunds = app.state.store.refunds_of_order(order).await.unwrap();
    assert_eq!(refunds.len(), 1);
    assert_eq!((refunds[0].status, refunds[0].amount.amount), (PaymentStatus::Refunded, 1_000));
    let reference = app.state.store.charge_of(order).await.unwrap().unwrap().provider_ref.unwrap();
    assert_eq!(refunds[0].provider_ref.as_deref().map(|r| r.starts_with("re_")), Some(true));
    let at_stripe = stripe.get(&format!("/v1/refunds?payment_intent={reference}")).await;
    assert_eq!(at_stripe["data"].as_array().unwrap().len(), 1);
    assert_eq!(at_stripe["data"][0]["amount"], 1_000);
    assert_eq!(stripe.intents_of(order).await.len(), 1, "charged once, refunded once");
    assert_eq!(db_stock(&app, product).await, 5, "nothing sold");
    assert_eq!(app.stock(product).await, 5, "the unit is on sale again");
}

#[tokio::test]
async fn localstripe_deliveries_are_verified_and_recorded_once() {
    let Some(stripe) = Localstripe::start().await else { return };
    let app = stripe_app(&stripe).await;
    stripe.deliver_to(&app.url(routes::STRIPE_WEBHOOK)).await;
    let db = database(&app).await;
    let scene = app.live_room(&[5]).await;
    let (mut ws, buyer) = app.shopper(scene.room, scene.products[0], 1).await;
    ws.send(&checkout("hooked", SUCCEEDS)).await;
    let paid = ws.checkout_outcome().await.expect("paid");
    let (mut ws, _) = app.shopper(scene.room, scene.products[0], 1).await;
    ws.send(&checkout("hooked-declined", DECLINES)).await;
    assert_eq!(ws.checkout_outcome().await.unwrap_err(), "payment_declined");

    // localstripe signs each delivery with the endpoint's secret about a second after
    // the event; the server records an event only once it verified it.
    let deadline = tokio::time::Instant::now() + WAIT;
    let kinds = loop {
        let mut kinds: Vec<String> = recorded_webhooks(&db).await.into_iter().map(|(_, kind)| kind).collect();
        kinds.sort();
        if kinds.len() >= 2 || tokio::time::Instant::now() > deadline {
            break kinds;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(kinds, ["payment_intent.payment_failed", "payment_intent.succeeded"], "localstripe: {}", stripe.log());
    // They agreed with what the checkouts had recorded: nothing changed.
    assert_eq!(self::order(&app, &buyer.token, paid.id).await.status, OrderStatus::Paid);
    assert_eq!(db_stock(&app, scene.products[0]).await, 4);
    let commission = app.state.store.commission_entries(paid.id).await.unwrap();
    assert_eq!(commission.iter().filter(|e| e.kind == CommissionKind::Accrued).count(), 1);
    db.close().await;
}

#[tokio::test]
async fn a_signed_webhook_settles_an_order_whose_checkout_could_not_record_the_charge() {
    let Some(stripe) = Localstripe::start().await else { return };
    let app = stripe_app(&stripe).await;
    let (endpoint, mut held) = holding_endpoint().await;
    stripe.deliver_to(&endpoint).await;
    let db = database(&app).await;
    let Unrecorded { order, reference, token, .. } = charged_but_unrecorded(&app, &db, "webhook-settles").await;

    // localstripe's own delivery, byte for byte, handed to the server once the fault is
    // lifted (what Stripe's retries would do).
    let delivery = delivery_of(&mut held, "payment_intent.succeeded", &reference).await;
    let (status, body) = post_webhook(&app, Some(&delivery.signature), &delivery.body).await;
    assert_eq!(status, 200, "{body}");
    let view = self::order(&app, &token, order).await;
    assert_eq!(view.status, OrderStatus::Paid);
    let charge = app.state.store.charge_of(order).await.unwrap().unwrap();
    assert_eq!(charge.status, PaymentStatus::Succeeded);
    assert_eq!(db_stock(&app, view.lines[0].product_id).await, 4);

    // Delivered again (a redelivery, or a replay within the five minutes): seen before.
    let (status, _) = post_webhook(&app, Some(&delivery.signature), &delivery.body).await;
    assert_eq!(status, 200);
    assert_eq!(db_stock(&app, view.lines[0].product_id).await, 4);
    let event_id = delivery.event()["id"].as_str().unwrap().to_owned();
    assert_eq!(recorded_webhooks(&db).await, [(event_id, "payment_intent.succeeded".to_owned())]);
    assert_eq!(stripe.intents_of(order).await.len(), 1);
    db.close().await;
}

#[tokio::test]
async fn forged_stale_and_replayed_webhooks_change_nothing() {
    let Some(stripe) = Localstripe::start().await else { return };
    let app = stripe_app(&stripe).await;
    let db = database(&app).await;
    let Unrecorded { order, reference, token, .. } = charged_but_unrecorded(&app, &db, "forged").await;
    let unchanged = || async {
        let charge = app.state.store.charge_of(order).await.unwrap().unwrap();
        assert_eq!(charge.status, PaymentStatus::Pending, "the ledger is unchanged");
        assert_eq!(self::order(&app, &token, order).await.status, OrderStatus::Placed);
    };

    // Sent by the test, signed as Stripe documents (see `stripe_signature`).
    let event = |id: &str, intent: &str| {
        serde_json::to_vec(&json!({
            "id": id, "object": "event", "type": "payment_intent.succeeded", "created": unix_secs(),
            "data": {"object": {"id": intent, "object": "payment_intent", "status": "succeeded"}}
        }))
        .unwrap()
    };
    let body = event("evt_test_1", &reference);
    // Signatures are made when sent (`None` for "unsigned"); stale ones are ten minutes
    // off, far outside the five-minute tolerance however slowly the test runs.
    let other_body = event("evt_test_1", "pi_other");
    let refused: [(&str, &dyn Fn() -> Option<String>); 6] = [
        ("unsigned", &|| None),
        ("malformed", &|| Some("v1=00".into())),
        ("wrong secret", &|| Some(stripe_signature("whsec_not_ours", unix_secs(), &body))),
        ("another body's signature", &|| Some(stripe_signature(WEBHOOK_SECRET, unix_secs(), &other_body))),
        ("stale", &|| Some(stripe_signature(WEBHOOK_SECRET, unix_secs() - 600, &body))),
        ("from the future", &|| Some(stripe_signature(WEBHOOK_SECRET, unix_secs() + 600, &body))),
    ];
    for (what, signature) in refused {
        let (status, reply) = post_webhook(&app, signature().as_deref(), &body).await;
        assert_eq!((status.as_u16(), reply["error"]["code"].as_str()), (400, Some("invalid_input")), "{what}: {reply}");
        unchanged().await;
    }
    assert!(recorded_webhooks(&db).await.is_empty(), "a refused delivery does not use up its event id");

    // The same event, correctly signed: it is believed, and settles the order.
    let signature = stripe_signature(WEBHOOK_SECRET, unix_secs(), &body);
    let (status, reply) = post_webhook(&app, Some(&signature), &body).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(self::order(&app, &token, order).await.status, OrderStatus::Paid);

    // A second order in the same state, and a delivery reusing the first event's id,
    // validly signed: an id seen before is not acted on, whatever it says.
    let Unrecorded { order: second, reference: second_reference, token: second_token, .. } =
        charged_but_unrecorded(&app, &db, "forged-2").await;
    let replayed = event("evt_test_1", &second_reference);
    let (status, _) =
        post_webhook(&app, Some(&stripe_signature(WEBHOOK_SECRET, unix_secs(), &replayed)), &replayed).await;
    assert_eq!(status, 200, "a replay is acknowledged, so it is not sent again");
    assert_eq!(self::order(&app, &second_token, second).await.status, OrderStatus::Placed);
    assert_eq!(app.state.store.charge_of(second).await.unwrap().unwrap().status, PaymentStatus::Pending);
    assert_eq!(recorded_webhooks(&db).await.len(), 1);
    db.close().await;
}

#[tokio::test]
async fn the_test_card_provider_takes_no_webhooks_and_the_route_is_described() {
    let app = TestApp::spawn().await;
    let body = br#"{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1"}}}"#;
    let (status, reply) = post_webhook(&app, Some(&stripe_signature(WEBHOOK_SECRET, unix_secs(), body)), body).await;
    assert_eq!((status.as_u16(), reply["error"]["code"].as_str()), (400, Some("invalid_input")), "{reply}");
    let doc: Value = app.get(routes::OPENAPI, None).await;
    assert!(doc["paths"][routes::STRIPE_WEBHOOK]["post"].is_object());
}

#[test]
fn stripe_needs_both_secrets_and_a_test_key() {
    let mut config = Config::defaults();
    assert_eq!(config.payments, PaymentsChoice::TestCards);
    config.payments = PaymentsChoice::Stripe;
    let err = config.validate().unwrap_err().to_string();
    assert!(err.contains("LIVECART_STRIPE_SECRET_KEY"), "{err}");
    config.stripe_secret_key = Some(Secret(SECRET_KEY.into()));
    let err = config.validate().unwrap_err().to_string();
    assert!(err.contains("LIVECART_STRIPE_WEBHOOK_SECRET"), "{err}");
    config.stripe_webhook_secret = Some(Secret(WEBHOOK_SECRET.into()));
    config.validate().expect("complete");
    config.stripe_secret_key = Some(Secret("sk_live_abc".into()));
    assert!(config.validate().is_err(), "a live key is refused while card numbers are sent");
    let shown = format!("{config:?}");
    assert!(!shown.contains("sk_live_abc") && !shown.contains(WEBHOOK_SECRET), "secrets are never shown");
}

/// One-tap buy through Stripe: the first checkout saves the card as a PaymentMethod
/// attached to the account's Customer (never a number in livecart's tables); a later
/// checkout in another room pays with it; a card Stripe declines to attach is refused
/// and nothing changes; removing the method detaches it.
#[tokio::test]
async fn a_saved_card_is_a_payment_method_attached_to_the_accounts_customer() {
    let Some(stripe) = Localstripe::start().await else { return };
    let app = stripe_app(&stripe).await;
    let first = app.live_room(&[5]).await;
    let second = app.live_room(&[5]).await;
    let (mut ws, buyer) = app.shopper(first.room, first.products[0], 1).await;
    let save = json!({"type": "checkout", "idempotency_key": "stripe-save", "card": SUCCEEDS, "save": true,
        "shipping": {"name": "Sam", "line1": "1 Main St", "city": "Oslo", "postal_code": "0150", "country": "NO"}});
    ws.send_text(&save.to_string()).await;
    let paid = ws.checkout_outcome().await.unwrap_or_else(|code| panic!("{code}; localstripe: {}", stripe.log()));
    assert_eq!(paid.status, OrderStatus::Paid);

    let saved = app.state.store.saved_method(buyer.account.id).await.unwrap().expect("saved");
    assert_eq!((saved.provider.as_str(), saved.last4.as_str()), ("stripe", "4242"));
    assert!(saved.method_ref.starts_with("pm_"), "{saved:?}");
    let customer = saved.customer_ref.clone().expect("a customer");
    assert!(customer.starts_with("cus_"), "{customer}");
    let method = stripe.get(&format!("/v1/payment_methods/{}", saved.method_ref)).await;
    assert_eq!(method["customer"], customer.as_str());
    let wallet: Value = app.get(routes::WALLET, Some(&buyer.token)).await;
    assert_eq!(wallet["payment_method"]["last4"], "4242");
    assert!(!wallet.to_string().contains(SUCCEEDS));

    // Another room: one message, no card; the intent is the Customer's, with the saved method.
    ws.close().await;
    let (mut ws, _) = app.viewer(second.room, Some(&buyer.token)).await;
    ws.send(&livecart::wire::ws::ClientMsg::CartAdd { product_id: second.products[0], quantity: 1 }).await;
    ws.recv_until(|m| matches!(m, livecart::wire::ws::ServerMsg::Cart { .. }).then_some(())).await;
    ws.send_text(&json!({"type": "checkout", "idempotency_key": "stripe-one-tap", "payment": "saved"}).to_string())
        .await;
    let again = ws.checkout_outcome().await.unwrap_or_else(|code| panic!("{code}; localstripe: {}", stripe.log()));
    assert_eq!(again.status, OrderStatus::Paid);
    let intents = stripe.intents_of(again.id).await;
    assert_eq!(intents.len(), 1);
    assert_eq!(intents[0]["customer"], customer.as_str());
    assert_eq!(intents[0]["payment_method"], saved.method_ref.as_str());
    assert_eq!(intents[0]["status"], "succeeded");

    // A card Stripe will not attach is refused, and the saved one stays.
    let body = json!({"card": "4000000000000002"});
    let (status, answer) =
        app.send(reqwest::Method::PUT, routes::WALLET_PAYMENT_METHOD, Some(&buyer.token), Some(&body)).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::PAYMENT_REQUIRED, Some("payment_declined")));
    assert_eq!(app.state.store.saved_method(buyer.account.id).await.unwrap().as_ref(), Some(&saved));

    // A card that attaches but is declined when charged: saved, then declined at checkout.
    let body = json!({"card": DECLINES});
    let (status, answer) =
        app.send(reqwest::Method::PUT, routes::WALLET_PAYMENT_METHOD, Some(&buyer.token), Some(&body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let replaced = stripe.get(&format!("/v1/payment_methods/{}", saved.method_ref)).await;
    assert_eq!(replaced["customer"], Value::Null, "the replaced method is detached");
    let declining = app.state.store.saved_method(buyer.account.id).await.unwrap().expect("saved");
    assert_eq!(declining.customer_ref.as_deref(), Some(customer.as_str()), "one Customer per account");
    ws.send(&livecart::wire::ws::ClientMsg::CartAdd { product_id: second.products[0], quantity: 1 }).await;
    ws.recv_until(|m| matches!(m, livecart::wire::ws::ServerMsg::Cart { .. }).then_some(())).await;
    ws.send_text(
        &json!({"type": "checkout", "idempotency_key": "stripe-declined-saved", "payment": "saved"}).to_string(),
    )
    .await;
    assert_eq!(ws.checkout_outcome().await.unwrap_err(), "payment_declined");

    let (status, _) = app.send(reqwest::Method::DELETE, routes::WALLET_PAYMENT_METHOD, Some(&buyer.token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let removed = stripe.get(&format!("/v1/payment_methods/{}", declining.method_ref)).await;
    assert_eq!(removed["customer"], Value::Null, "removing detaches it");
    assert!(app.state.store.saved_method(buyer.account.id).await.unwrap().is_none());
}
