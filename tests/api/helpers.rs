//! The test harness: `TestApp::spawn()` starts the real server, typed helpers speak the
//! wire types of `livecart::wire`.

use futures_util::{SinkExt, StreamExt};
use livecart::config::Config;
use livecart::domain::{AccountId, BrandId, Clock, ProductId, Role, RoomId, UnixMs};
use livecart::state::AppState;
use livecart::wire::api::{
    NewAgreementRequest, NewProductRequest, NewRoomRequest, RegisterRequest, RoomView, SessionResponse,
};
use livecart::wire::routes::{self, path};
use livecart::wire::ws::{ClientMsg, OrderView, ServerMsg, Snapshot};
use reqwest::StatusCode;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Every wait in the tests is bounded by this; none asserts how long anything took.
pub const WAIT: Duration = Duration::from_secs(20);

/// The real server in this process, on its own database.
pub struct TestApp {
    pub client: Client,
    pub state: AppState,
    backing: Backing,
}

impl std::ops::Deref for TestApp {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

/// Typed HTTP and WebSocket helpers against one server address.
#[derive(Clone)]
pub struct Client {
    pub addr: SocketAddr,
    http: reqwest::Client,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.state.shutdown.cancel();
        self.backing.clean_up();
    }
}

/// Where a test's data lives: a temporary SQLite file, or (when the environment names
/// the shared services) a database of its own on PostgreSQL and a key prefix of its own
/// on Redis. Either way it is removed when the test ends.
pub struct Backing {
    pub database_url: String,
    pub redis_url: Option<String>,
    pub redis_prefix: String,
    postgres: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

/// PostgreSQL server for tests (e.g. `postgres://postgres@127.0.0.1:5432`); unset uses SQLite.
pub const TEST_POSTGRES: &str = "LIVECART_TEST_POSTGRES";
/// Redis for tests (e.g. `redis://127.0.0.1:6379`); unset uses in-memory state.
pub const TEST_REDIS: &str = "LIVECART_TEST_REDIS";

fn unique_name() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!("{}_{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed), rand_suffix())
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now()) % 1_000_000
}

impl Backing {
    pub async fn new() -> Backing {
        let dir = tempfile::tempdir().expect("temp dir");
        let name = unique_name();
        let (database_url, postgres) = match std::env::var(TEST_POSTGRES) {
            Ok(server) => {
                let server = server.trim_end_matches('/').to_owned();
                let db = format!("livecart_test_{name}");
                let admin = sqlx::PgPool::connect(&format!("{server}/postgres")).await.expect("postgres");
                sqlx::query(&format!("create database {db}")).execute(&admin).await.expect("create database");
                admin.close().await;
                (format!("{server}/{db}"), Some((server, db)))
            }
            Err(_) => (format!("sqlite://{}?mode=rwc", dir.path().join("livecart.db").display()), None),
        };
        Backing {
            database_url,
            redis_url: std::env::var(TEST_REDIS).ok(),
            redis_prefix: format!("livecart_test:{name}:"),
            postgres,
            _dir: dir,
        }
    }

    pub fn configure(&self, config: &mut Config) {
        config.database_url = self.database_url.clone();
        config.redis_url = self.redis_url.clone();
        config.redis_prefix = self.redis_prefix.clone();
    }

    /// Deletes this test's Redis keys and database, from a thread of its own since drop
    /// cannot await.
    pub fn clean_up(&mut self) {
        let postgres = self.postgres.take();
        let redis = self.redis_url.take().map(|url| (url, self.redis_prefix.clone()));
        if postgres.is_none() && redis.is_none() {
            return;
        }
        let cleaner = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async move {
                if let Some((url, prefix)) = redis {
                    forget_redis_prefix(&url, &prefix).await;
                }
                if let Some((server, db)) = postgres {
                    if let Ok(admin) = sqlx::PgPool::connect(&format!("{server}/postgres")).await {
                        let _ =
                            sqlx::query(&format!("drop database if exists {db} with (force)")).execute(&admin).await;
                        admin.close().await;
                    }
                }
            });
        });
        let _ = cleaner.join();
    }
}

/// Deletes every key under `prefix` (on every master of a cluster): what a Redis restart
/// without persistence does to this test's data, and the clean-up after it.
pub async fn forget_redis_prefix(url: &str, prefix: &str) {
    if let Ok(redis) = livecart::redis::Redis::connect(url, prefix).await {
        let _ = redis.forget_all().await;
    }
}

/// Settings that keep tests quick without changing behaviour: cheap password hashing
/// and a fast tick.
pub fn test_config() -> Config {
    let mut config = Config::defaults();
    config.argon2_kib = 64;
    config.tick = Duration::from_millis(50);
    config.comment_burst = 1_000;
    config
}

impl TestApp {
    /// What a Redis restart without persistence does to this test's data; nothing when
    /// the test runs on memory.
    pub async fn lose_redis(&self) {
        if let Some(url) = &self.backing.redis_url {
            forget_redis_prefix(url, &self.backing.redis_prefix).await;
        }
    }

    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(test_config(), Clock::system()).await
    }

    pub async fn spawn_with(mut config: Config, clock: Clock) -> TestApp {
        let backing = Backing::new().await;
        backing.configure(&mut config);
        TestApp::spawn_on(config, clock, backing).await
    }

    /// As [`TestApp::spawn_with`], on `backing`, which `config` is already configured
    /// for (a test may then reach a backend another way, e.g. through a [`BackendRelay`]).
    ///
    /// [`BackendRelay`]: crate::backend_relay::BackendRelay
    pub async fn spawn_on(config: Config, clock: Clock, backing: Backing) -> TestApp {
        config.validate().expect("valid test config");
        let store =
            livecart::store::Store::connect(&config.database_url, config.db_connections).await.expect("database");
        let state = AppState::from_config(config, store, clock).await.expect("backends");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(livecart::run(listener, state.clone()));
        TestApp { client: Client::new(addr), state, backing }
    }
}

impl Client {
    pub fn new(addr: SocketAddr) -> Client {
        Client { addr, http: reqwest::Client::new() }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.expect("http request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str, token: Option<&str>) -> T {
        let (status, body) = self.send(reqwest::Method::GET, path, token, None).await;
        assert!(status.is_success(), "GET {path}: {status} {body}");
        serde_json::from_value(body).expect("response shape")
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, token: Option<&str>, body: &B) -> T {
        let body = serde_json::to_value(body).expect("request body");
        let (status, body) = self.send(reqwest::Method::POST, path, token, Some(&body)).await;
        assert!(status.is_success(), "POST {path}: {status} {body}");
        serde_json::from_value(body).expect("response shape")
    }

    pub async fn register(&self, role: Role, name: &str, brand: Option<&str>) -> SessionResponse {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let req = RegisterRequest {
            email: format!("user{n}@test.livecart"),
            password: "correct horse battery".into(),
            display_name: name.try_into().expect("name"),
            role,
            brand_name: brand.map(|b| b.try_into().expect("brand name")),
        };
        self.post(routes::REGISTER, None, &req).await
    }

    /// A brand with products of the given stock, a creator with agreements for all of
    /// them (10% commission), and a live room lining them up.
    pub async fn live_room(&self, stocks: &[i64]) -> Scene {
        self.live_room_priced(stocks, "EUR").await
    }

    pub async fn live_room_priced(&self, stocks: &[i64], currency: &str) -> Scene {
        let scene = self.scheduled_room(stocks, currency).await;
        let _: RoomView =
            self.post(&path(routes::ROOM_GO_LIVE, &[scene.room.get()]), Some(&scene.creator.token), &()).await;
        scene
    }

    /// As [`Client::live_room_priced`], but the room stays scheduled.
    pub async fn scheduled_room(&self, stocks: &[i64], currency: &str) -> Scene {
        static BRANDS: AtomicU64 = AtomicU64::new(0);
        let b = BRANDS.fetch_add(1, Ordering::Relaxed);
        let brand = self.register(Role::Brand, "Brand team", Some(&format!("Brand {b}"))).await;
        let brand_id = brand.account.brand_id.expect("brand id");
        let creator = self.register(Role::Creator, "Host", None).await;
        let mut products = Vec::new();
        for (i, stock) in stocks.iter().enumerate() {
            let req = NewProductRequest {
                title: format!("Product {i}").as_str().try_into().unwrap(),
                description: Default::default(),
                image_url: Default::default(),
                price: 1_000.try_into().unwrap(),
                currency: currency.try_into().unwrap(),
                stock: (*stock).try_into().unwrap(),
            };
            let product: livecart::wire::api::Product =
                self.post(&path(routes::BRAND_PRODUCTS, &[brand_id.get()]), Some(&brand.token), &req).await;
            let agreement = NewAgreementRequest {
                creator_id: creator.account.id,
                product_id: product.card.id,
                commission_bps: 1_000.try_into().unwrap(),
                commission_flat: None,
                co_host_share_bps: None,
            };
            let _: Value = self.post(routes::AGREEMENTS, Some(&brand.token), &agreement).await;
            products.push(product.card.id);
        }
        let room = NewRoomRequest {
            title: "Live test".try_into().unwrap(),
            starts_at: UnixMs(0),
            product_ids: products.clone(),
        };
        let room: RoomView = self.post(routes::ROOMS, Some(&creator.token), &room).await;
        Scene { room: room.id, brand, brand_id, creator, products }
    }

    pub async fn ws(&self) -> Ws {
        let (stream, _) = tokio_tungstenite::connect_async(format!("ws://{}{}", self.addr, routes::WS))
            .await
            .expect("websocket connect");
        Ws { stream }
    }

    /// As [`Client::ws`], but `None` when the server cannot be reached (its node killed).
    pub async fn try_ws(&self) -> Option<Ws> {
        let url = format!("ws://{}{}", self.addr, routes::WS);
        tokio_tungstenite::connect_async(url).await.ok().map(|(stream, _)| Ws { stream })
    }

    /// A connection that has joined `room` and read its snapshot.
    pub async fn viewer(&self, room: RoomId, token: Option<&str>) -> (Ws, Snapshot) {
        let mut ws = self.ws().await;
        let snapshot = ws.join(room, token).await;
        (ws, snapshot)
    }

    /// A signed-in viewer in `room` with `quantity` of `product` in the cart.
    pub async fn shopper(&self, room: RoomId, product: ProductId, quantity: i64) -> (Ws, SessionResponse) {
        let buyer = self.register(Role::Viewer, "Buyer", None).await;
        let (mut ws, _) = self.viewer(room, Some(&buyer.token)).await;
        ws.send(&ClientMsg::CartAdd { product_id: product, quantity }).await;
        ws.recv_until(|m| match m {
            ServerMsg::Cart { .. } => Some(()),
            ServerMsg::Error { code, .. } => panic!("cart_add failed: {code}"),
            _ => None,
        })
        .await;
        (ws, buyer)
    }

    /// Stock as clients see it (units on hand less live holds).
    pub async fn stock(&self, product: ProductId) -> i64 {
        let card: livecart::wire::ws::ProductCard = self.get(&path(routes::PRODUCT, &[product.get()]), None).await;
        card.stock
    }
}

/// A checkout of the cart with a test card.
pub fn checkout(key: &str, card: &str) -> ClientMsg {
    ClientMsg::Checkout {
        idempotency_key: key.to_owned().try_into().unwrap(),
        card: Some(card.to_owned().try_into().unwrap()),
        payment: None,
        save: None,
        shipping: None,
        promo_code: None,
    }
}

pub struct Scene {
    pub room: RoomId,
    pub brand: SessionResponse,
    pub brand_id: BrandId,
    pub creator: SessionResponse,
    pub products: Vec<ProductId>,
}

impl Scene {
    pub fn host_id(&self) -> AccountId {
        self.creator.account.id
    }
}

/// The WebSocket contract every test frame is held to: the schemas of the committed
/// `docs/asyncapi.json` (what clients read), closed objects included, so a field renamed,
/// added or dropped in the wire types without regenerating the document fails here, in
/// whichever test first sends or receives such a frame. Frames a test sends malformed on
/// purpose go through [`Ws::send_invalid`], which requires them to break the contract.
pub struct Contract {
    client: jsonschema::Validator,
    server: jsonschema::Validator,
}

/// How to bring the document up to date, for every contract failure.
const REGENERATE: &str = "if the wire types changed on purpose, regenerate the document: \
    `cargo run -- asyncapi > docs/asyncapi.json` (or `LIVECART_WRITE_ASYNCAPI=1 cargo test --lib asyncapi`)";

pub fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/asyncapi.json");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        let union = |name: &str| {
            let root = serde_json::json!({
                "$ref": format!("#/components/schemas/{name}"),
                "components": doc["components"].clone(),
            });
            jsonschema::draft7::new(&root).unwrap_or_else(|e| panic!("{path}: {name} does not compile: {e}"))
        };
        Contract { client: union("ClientMsg"), server: union("ServerMsg") }
    })
}

impl Contract {
    fn problems(validator: &jsonschema::Validator, text: &str) -> Vec<String> {
        match serde_json::from_str::<Value>(text) {
            Ok(value) => validator.iter_errors(&value).map(|e| format!("{e} (at {})", e.instance_path())).collect(),
            Err(e) => vec![format!("not JSON: {e}")],
        }
    }

    /// What makes `text` no server message as docs/asyncapi.json describes them (none
    /// when it is one).
    pub fn server_problems(&self, text: &str) -> Vec<String> {
        Self::problems(&self.server, text)
    }

    /// Whether `text` is a client message as docs/asyncapi.json describes them.
    pub fn is_client_message(&self, text: &str) -> bool {
        Self::problems(&self.client, text).is_empty()
    }

    /// Fails the test unless `text` is a client message as docs/asyncapi.json says.
    pub fn check_client(&self, text: &str) {
        let problems = Self::problems(&self.client, text);
        assert!(
            problems.is_empty(),
            "a test sent a frame docs/asyncapi.json does not allow: {text}\n{}\n(send a frame that breaks the \
             contract on purpose with Ws::send_invalid; {REGENERATE})",
            problems.join("\n")
        );
    }

    /// Fails the test unless `text` is a server message as docs/asyncapi.json says.
    pub fn check_server(&self, text: &str) {
        let problems = Self::problems(&self.server, text);
        assert!(
            problems.is_empty(),
            "the server sent a frame docs/asyncapi.json does not describe: {text}\n{}\n({REGENERATE})",
            problems.join("\n")
        );
    }
}

pub struct Ws {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// A text frame from the server, held to the contract, as the message it is.
fn server_message(text: &str) -> ServerMsg {
    contract().check_server(text);
    serde_json::from_str(text).unwrap_or_else(|e| panic!("bad frame {text}: {e}"))
}

impl Ws {
    pub async fn send(&mut self, msg: &ClientMsg) {
        self.send_text(&serde_json::to_string(msg).unwrap()).await;
    }

    /// Sends a frame that must be a valid client message (docs/asyncapi.json).
    pub async fn send_text(&mut self, text: &str) {
        contract().check_client(text);
        self.stream.send(Message::text(text)).await.expect("ws send");
    }

    /// Sends a frame that breaks the contract on purpose (to see the server refuse it);
    /// fails the test if the frame is in fact a valid client message, which would make
    /// the schemas looser than the test thinks.
    pub async fn send_invalid(&mut self, text: &str) {
        assert!(!contract().is_client_message(text), "sent as invalid, but docs/asyncapi.json allows it: {text}");
        self.stream.send(Message::text(text)).await.expect("ws send");
    }

    /// As [`Ws::send_invalid`], for a message built from the wire types with a value
    /// out of its limits.
    pub async fn send_invalid_msg(&mut self, msg: &ClientMsg) {
        self.send_invalid(&serde_json::to_string(msg).unwrap()).await;
    }

    /// The next message from the server, within [`WAIT`].
    pub async fn recv(&mut self) -> ServerMsg {
        loop {
            let msg = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("timed out waiting for a frame")
                .expect("connection closed")
                .expect("ws error");
            if let Message::Text(text) = msg {
                return server_message(&text);
            }
        }
    }

    /// Skips frames until `pick` accepts one.
    pub async fn recv_until<T>(&mut self, mut pick: impl FnMut(ServerMsg) -> Option<T>) -> T {
        loop {
            if let Some(t) = pick(self.recv().await) {
                return t;
            }
        }
    }

    /// The next error frame's code, skipping room traffic.
    pub async fn error_code(&mut self) -> String {
        self.recv_until(|m| match m {
            ServerMsg::Error { code, .. } => Some(code),
            _ => None,
        })
        .await
    }

    pub async fn join(&mut self, room: RoomId, token: Option<&str>) -> Snapshot {
        self.try_join(room, token).await.unwrap_or_else(|(code, message)| panic!("join failed: {code}: {message}"))
    }

    /// Joins `room`: its snapshot, or the refusal's code and message.
    pub async fn try_join(&mut self, room: RoomId, token: Option<&str>) -> Result<Snapshot, (String, String)> {
        let guest_name = token.is_none().then(|| "Guest".try_into().unwrap());
        self.send(&ClientMsg::Join {
            room_id: room,
            token: token.map(str::to_owned),
            guest_name,
            since: None,
            epoch: None,
            audience_key: None,
        })
        .await;
        self.recv_until(|m| match m {
            ServerMsg::Snapshot(s) => Some(Ok(*s)),
            ServerMsg::Error { code, message, .. } => Some(Err((code, message))),
            _ => None,
        })
        .await
    }

    /// The outcome of the checkout this connection sent: the order, or the error code.
    pub async fn checkout_outcome(&mut self) -> Result<OrderView, String> {
        self.recv_until(|m| match m {
            ServerMsg::OrderConfirmed { order } => Some(Ok(order)),
            ServerMsg::Error { code, request: Some(r), .. } if r == "checkout" => Some(Err(code)),
            _ => None,
        })
        .await
    }

    /// A checkout as docs/protocol.md (10.1) tells a client to make one: sent again with
    /// the same key, a little later, while the answer is `unavailable` (a backend did not
    /// answer in time) or `checkout_in_progress` (an attempt that was not answered may
    /// still hold the key), within [`WAIT`]; the final outcome.
    pub async fn checkout_until_answered(&mut self, msg: &ClientMsg) -> Result<OrderView, String> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            self.send(msg).await;
            match self.checkout_outcome().await {
                Err(code)
                    if matches!(code.as_str(), "unavailable" | "checkout_in_progress")
                        && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                outcome => return outcome,
            }
        }
    }

    /// The next private `offer` frame: what is held for this connection's account.
    pub async fn next_offer(&mut self) -> livecart::wire::ws::OfferView {
        self.recv_until(|m| match m {
            ServerMsg::Offer { offer } => Some(offer),
            _ => None,
        })
        .await
    }

    /// Pays offer `offer` with a test card that succeeds: the order, or the error code.
    pub async fn pay_offer(&mut self, offer: livecart::domain::OfferId, key: &str) -> Result<OrderView, String> {
        self.send(&ClientMsg::PayOffer {
            offer_id: offer,
            idempotency_key: key.to_owned().try_into().unwrap(),
            card: Some(livecart::commerce::payments::TestCards::SUCCEEDS.to_owned().try_into().unwrap()),
            payment: None,
            save: None,
            shipping: None,
        })
        .await;
        self.recv_until(|m| match m {
            ServerMsg::OrderConfirmed { order } => Some(Ok(order)),
            ServerMsg::Error { code, request: Some(r), .. } if r == "pay_offer" => Some(Err(code)),
            _ => None,
        })
        .await
    }

    /// As [`Ws::send`], but a connection that is gone (its node killed) is reported as
    /// false instead of failing the test.
    pub async fn try_send(&mut self, msg: &ClientMsg) -> bool {
        let text = serde_json::to_string(msg).unwrap();
        contract().check_client(&text);
        self.stream.send(Message::text(text)).await.is_ok()
    }

    /// The next message from the server within `wait`; `Err` says why there was none (the
    /// connection closed or broke, or nothing came in time) instead of failing the test.
    pub async fn try_recv(&mut self, wait: Duration) -> Result<ServerMsg, String> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let msg = match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => return Err("timeout".into()),
                Ok(None) => return Err("connection closed".into()),
                Ok(Some(Err(e))) => return Err(format!("connection lost: {e}")),
                Ok(Some(Ok(msg))) => msg,
            };
            match msg {
                Message::Text(text) => return Ok(server_message(&text)),
                Message::Close(_) => return Err("connection closed".into()),
                _ => {}
            }
        }
    }

    /// As [`Ws::checkout_outcome`], but a connection lost or no answer within `wait` is
    /// `Err(why)`: the outcome is unknown to this client.
    pub async fn try_checkout_outcome(&mut self, wait: Duration) -> Result<Result<OrderView, String>, String> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.try_recv(left).await? {
                ServerMsg::OrderConfirmed { order } => return Ok(Ok(order)),
                ServerMsg::Error { code, request: Some(r), .. } if r == "checkout" => return Ok(Err(code)),
                _ => {}
            }
        }
    }

    /// Reads until the server closes the connection, within [`WAIT`]: the close code
    /// and reason (`None` when it closed without a close frame).
    pub async fn closed(&mut self) -> Option<(u16, String)> {
        loop {
            let msg = tokio::time::timeout(WAIT, self.stream.next()).await.expect("timed out waiting for the close");
            match msg {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| (u16::from(f.code), f.reason.to_string())),
                Some(Ok(Message::Text(text))) => contract().check_server(&text),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// The raw socket, for tests that send frames no client should (the fuzz tests):
    /// what they send is theirs to check; what they read, they hold to the contract
    /// with [`contract`].
    pub fn into_stream(self) -> WebSocketStream<MaybeTlsStream<TcpStream>> {
        self.stream
    }

    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }
}

impl TestApp {
    /// An admin. There is no registration for admins (an operator creates them), so the
    /// account is created in the store, with a real password hash (so it can also log in,
    /// with "correct horse battery"), and a session is opened for it.
    pub async fn admin(&self, name: &str) -> SessionResponse {
        use argon2::password_hash::rand_core::OsRng;
        use argon2::password_hash::{PasswordHasher, SaltString};
        static N: AtomicU64 = AtomicU64::new(0);
        let email = format!("admin{}@test.livecart", N.fetch_add(1, Ordering::Relaxed));
        let params = argon2::Params::new(64, 2, 1, None).expect("argon2 parameters");
        let hash = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password(b"correct horse battery", &SaltString::generate(&mut OsRng))
            .expect("password hash")
            .to_string();
        let account = self
            .state
            .store
            .create_account(&email, &hash, name, Role::Admin, None, Clock::system().now())
            .await
            .expect("admin account");
        let session = self.state.accounts.open_session(account).await.expect("admin session");
        let a = &session.account;
        let account = livecart::wire::api::AccountView {
            id: a.id,
            email: a.email.clone(),
            display_name: a.display_name.clone(),
            role: a.role,
            brand_id: a.brand_id,
            followers: a.follower_count,
            tier: None,
        };
        SessionResponse { token: session.token, account }
    }
}
