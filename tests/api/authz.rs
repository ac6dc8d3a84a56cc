//! The authorisation matrix: every REST route and every WebSocket message, for every role,
//! run against one scene on the real server; every mismatch is reported at once.
//!
//! Both tables are complete by construction:
//! - REST: `the_route_table_lists_every_route` fails when a route has no row. It compares
//!   the table with the OpenAPI document, with every `.route(…)` registered in `src/` (read
//!   from the source, paths resolved through `src/wire/routes.rs`), and it asks the server
//!   for every other method on every path, which must answer 405.
//! - WebSocket: [`ws_row`] matches on `ClientMsg` without a wildcard arm, so a new message
//!   does not compile until it has a row, and the samples sent must cover every message
//!   serde knows.
//!
//! Where the server's rule is "not found rather than forbidden" (so as not to tell who may
//! not see a thing that it exists), the table says 404.

use crate::helpers::{TestApp, WAIT, Ws};
use livecart::commerce::payments::TestCards;
use livecart::domain::{AccountId, BrandId, ProductId, Role, RoomId};
use livecart::media::IceSettings;
use livecart::wire::api::{Product, RoomView, SessionResponse};
use livecart::wire::routes::{self, path};
use livecart::wire::ws::{ClientMsg, RoomEvent, ServerMsg};
use livecart_testkit::media::{CountingViewer, SyntheticPublisher, VideoCodec};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::sync::Mutex;

const PASSWORD: &str = "correct horse battery";

/// Who asks. Each role is a separate account in the scene (the guest has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Guest,
    /// Bought the scene's order.
    Viewer,
    OtherViewer,
    /// Hosts the scene's room, has the agreement for its product.
    Host,
    /// Hosts a room of their own, with another brand's product.
    OtherCreator,
    /// A member of the brand whose product the room sells.
    Brand,
    OtherBrand,
    Admin,
}

/// The column order of the REST table.
const EVERYONE: [Who; 8] =
    [Who::Guest, Who::Viewer, Who::OtherViewer, Who::Host, Who::OtherCreator, Who::Brand, Who::OtherBrand, Who::Admin];

// ---------------------------------------------------------------------------------------
// The scene
// ---------------------------------------------------------------------------------------

/// One scene: a brand with a product and an agreement with a creator, that creator's live
/// room with a paid order by a viewer, a second brand, a second creator with their own
/// room, a second viewer and an admin; with `media`, the room is streaming and a second
/// live room of the host takes WHIP publishes.
struct World {
    app: TestApp,
    http: reqwest::Client,
    sessions: BTreeMap<Who, SessionResponse>,
    brand_id: BrandId,
    /// Brand A's product, lined up in the room, with an agreement with the host.
    product: ProductId,
    host_id: AccountId,
    /// The host's live room: the order was placed here; it streams when `media`.
    room: RoomId,
    /// The viewer's paid order (3 units of `product`).
    order: i64,
    /// The other creator's room.
    other_room: RoomId,
    /// A live room of the host for WHIP publishes.
    whip_room: RoomId,
    /// Brand A's agreement with the host for `product`.
    agreement: i64,
    /// Brand A's campaign of that agreement and `room`.
    campaign: i64,
    /// Peers of the test's own, kept open until the end.
    publishers: Mutex<Vec<SyntheticPublisher>>,
    watchers: Mutex<Vec<CountingViewer>>,
}

impl World {
    async fn build(media: bool) -> World {
        let app = TestApp::spawn().await;
        let brand = app.register(Role::Brand, "Brand A team", Some("Authz Brand A")).await;
        let other_brand = app.register(Role::Brand, "Brand B team", Some("Authz Brand B")).await;
        let host = app.register(Role::Creator, "Host", None).await;
        let other_creator = app.register(Role::Creator, "Other host", None).await;
        let viewer = app.register(Role::Viewer, "Buyer", None).await;
        let other_viewer = app.register(Role::Viewer, "Other buyer", None).await;
        let admin = app.admin("Admin").await;
        let brand_id = brand.account.brand_id.expect("brand id");
        let other_brand_id = other_brand.account.brand_id.expect("brand id");

        let product = new_product(&app, &brand.token, brand_id, "Serum", 1_000).await;
        let agreement = agree(&app, &brand.token, host.account.id, product).await;
        let room = live_room(&app, &host.token, product).await;
        let other_product = new_product(&app, &other_brand.token, other_brand_id, "Balm", 1_000).await;
        agree(&app, &other_brand.token, other_creator.account.id, other_product).await;
        let other_room = live_room(&app, &other_creator.token, other_product).await;
        let whip_room = live_room(&app, &host.token, product).await;

        let (mut ws, _) = app.viewer(room, Some(&viewer.token)).await;
        ws.send(&ClientMsg::CartAdd { product_id: product, quantity: 3 }).await;
        ws.recv_until(|m| matches!(m, ServerMsg::Cart { .. }).then_some(())).await;
        ws.send(&crate::helpers::checkout("authz-order", TestCards::SUCCEEDS)).await;
        let order = ws.checkout_outcome().await.expect("the viewer's order is paid").id.get();
        ws.close().await;
        let campaign = json!({"name": "Authz campaign", "budget": {"amount": 10_000, "currency": "EUR"},
            "agreement_ids": [agreement], "room_ids": [room]});
        let campaign: Value = app.post(routes::CAMPAIGNS, Some(&brand.token), &campaign).await;
        let campaign = campaign["id"].as_i64().expect("campaign id");

        let sessions = BTreeMap::from([
            (Who::Viewer, viewer),
            (Who::OtherViewer, other_viewer),
            (Who::Host, host),
            (Who::OtherCreator, other_creator),
            (Who::Brand, brand),
            (Who::OtherBrand, other_brand),
            (Who::Admin, admin),
        ]);
        let world = World {
            host_id: sessions[&Who::Host].account.id,
            app,
            http: reqwest::Client::new(),
            sessions,
            brand_id,
            product,
            room,
            order,
            other_room,
            whip_room,
            agreement,
            campaign,
            publishers: Mutex::default(),
            watchers: Mutex::default(),
        };
        if media {
            world.stream(room).await;
        }
        world
    }

    fn token(&self, who: Who) -> Option<&str> {
        self.sessions.get(&who).map(|s| s.token.as_str())
    }

    fn session(&self, who: Who) -> &SessionResponse {
        &self.sessions[&who]
    }

    /// The host publishes a synthetic stream to `room`, until the test ends.
    async fn stream(&self, room: RoomId) {
        let (publisher, offer) =
            SyntheticPublisher::offer(&IceSettings::loopback(), VideoCodec::Vp8).await.expect("publisher offer");
        let answer = self.sdp(&path(routes::WHIP, &[room.get()]), self.token(Who::Host), offer).await;
        publisher.start(answer.body, 50).await.expect("the publisher connects");
        self.publishers.lock().await.push(publisher);
        let deadline = tokio::time::Instant::now() + WAIT;
        while !self.app.state.media.is_streaming(room) {
            assert!(tokio::time::Instant::now() < deadline, "the room never went on air");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// POSTs an SDP offer; the answer must be 201.
    async fn sdp(&self, route: &str, token: Option<&str>, offer: String) -> Answer {
        let req = Request {
            method: Method::POST,
            path: route.to_owned(),
            token: token.map(str::to_owned),
            body: Some(("application/sdp", offer.into_bytes())),
            headers: vec![],
        };
        let answer = self.send(req).await;
        assert_eq!(answer.status, 201, "SDP offer to {route}: {}", answer.body);
        answer
    }

    /// A fresh session of the same account, for what ends a session.
    async fn fresh_token(&self, who: Who) -> Option<String> {
        let s = self.sessions.get(&who)?;
        let login = json!({"email": s.account.email, "password": PASSWORD});
        let (status, body) = self.app.send(Method::POST, routes::LOGIN, None, Some(&login)).await;
        assert_eq!(status, 200, "login as {who:?}: {body}");
        Some(body["token"].as_str().expect("a token").to_owned())
    }

    async fn send(&self, req: Request) -> Answer {
        let mut r = self.http.request(req.method, self.app.url(&req.path));
        if let Some(token) = &req.token {
            r = r.bearer_auth(token);
        }
        for (name, value) in &req.headers {
            r = r.header(*name, value);
        }
        if let Some((content_type, body)) = req.body {
            r = r.header("content-type", content_type).body(body);
        }
        let resp = r.send().await.expect("http request");
        let status = resp.status().as_u16();
        let location = resp.headers().get("location").and_then(|l| l.to_str().ok()).map(str::to_owned);
        Answer { status, body: resp.text().await.unwrap_or_default(), location }
    }

    /// The path of a row's route for the resource it names, creating a fresh resource
    /// where the cell uses one up.
    async fn path_of(&self, route: &'static str, at: At) -> String {
        let host = self.token(Who::Host);
        match at {
            At::Nothing => route.to_owned(),
            At::Literal(p) => p.to_owned(),
            At::BrandA => path(route, &[self.brand_id.get()]),
            At::ProductA => path(route, &[self.product.get()]),
            At::Host => path(route, &[self.host_id.get()]),
            At::Room => path(route, &[self.room.get()]),
            At::RoomAndAdmin => path(route, &[self.room.get(), self.session(Who::Admin).account.id.get()]),
            At::HostAndAdmin => path(route, &[self.host_id.get(), self.session(Who::Admin).account.id.get()]),
            At::WhipRoom => path(route, &[self.whip_room.get()]),
            At::Campaign => path(route, &[self.campaign]),
            At::Order => path(route, &[self.order]),
            At::FreshAgreement => {
                let brand = self.token(Who::Brand).unwrap();
                let spare = new_product(&self.app, brand, self.brand_id, "Spare", 5).await;
                path(route, &[agree(&self.app, brand, self.host_id, spare).await])
            }
            At::FreshPromoCode => {
                static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let req = json!({"code": format!("REVOKE{n}"), "creator_id": self.host_id, "percent_off": 10,
                    "product_ids": [self.product]});
                let code: Value = self.app.post(routes::PROMO_CODES, self.token(Who::Brand), &req).await;
                path(route, &[code["id"].as_i64().expect("promo code id")])
            }
            At::FreshScheduledRoom => {
                path(route, &[scheduled_room(&self.app, host.unwrap(), self.product).await.get()])
            }
            At::FreshLiveRoom => path(route, &[live_room(&self.app, host.unwrap(), self.product).await.get()]),
            At::Giveaway => {
                let room = live_room(&self.app, host.unwrap(), self.product).await;
                let (mut ws, _) = self.app.viewer(room, host).await;
                let start = ws_samples(self, Who::Host, 0).into_iter().find(|m| m.kind() == "start_giveaway").unwrap();
                ws.send(&start).await;
                let id = ws
                    .recv_until(|m| match m {
                        ServerMsg::Event { event: RoomEvent::GiveawayStarted { giveaway }, .. } => Some(giveaway.id),
                        _ => None,
                    })
                    .await;
                path(route, &[id.get()])
            }
            At::FreshWhipSession => {
                let (publisher, offer) = SyntheticPublisher::offer(&IceSettings::loopback(), VideoCodec::Vp8)
                    .await
                    .expect("publisher offer");
                self.publishers.lock().await.push(publisher);
                let answer = self.sdp(&path(routes::WHIP, &[self.whip_room.get()]), host, offer).await;
                answer.location.expect("a Location for the session")
            }
            At::PublisherAsViewer => {
                let whip = Box::pin(self.path_of(routes::WHIP_SESSION, At::FreshWhipSession)).await;
                let session: i64 = whip.rsplit('/').next().and_then(|s| s.parse().ok()).expect("a session id");
                path(route, &[self.whip_room.get(), session])
            }
            At::FreshWhepSession => {
                let (watcher, offer) = CountingViewer::offer(&IceSettings::loopback()).await.expect("viewer offer");
                self.watchers.lock().await.push(watcher);
                let answer = self.sdp(&path(routes::WHEP, &[self.room.get()]), None, offer).await;
                answer.location.expect("a Location for the session")
            }
        }
    }

    /// A row's body, fresh for each cell (`n` numbers the cell).
    async fn body_of(&self, body: Body, n: usize) -> Option<(&'static str, Vec<u8>)> {
        let json = |v: Value| Some(("application/json", v.to_string().into_bytes()));
        match body {
            Body::None => None,
            Body::Register => json(json!({
                "email": format!("authz{n}@test.livecart"), "password": PASSWORD,
                "display_name": "Newcomer", "role": "viewer",
            })),
            Body::Login => json(json!({"email": self.session(Who::Viewer).account.email, "password": PASSWORD})),
            Body::NewProduct => {
                json(json!({"title": format!("Authz product {n}"), "price": 500, "currency": "EUR", "stock": 5}))
            }
            Body::ProductPatch => json(json!({"price": 1_000})),
            Body::Stock => {
                // The count the caller saw: a stale one would be refused (409).
                let on_hand = self.app.state.store.product(self.product).await.unwrap().unwrap().stock;
                json(json!({"stock": 1_000, "expected": on_hand}))
            }
            Body::Followers => json(json!({"followers": 1_234})),
            Body::NewAgreement => {
                let spare = new_product(&self.app, self.token(Who::Brand).unwrap(), self.brand_id, "Spare", 5).await;
                json(json!({"creator_id": self.host_id, "product_id": spare, "commission_bps": 500}))
            }
            Body::NewRoom => {
                json(json!({"title": format!("Authz room {n}"), "starts_at": 0, "product_ids": [self.product]}))
            }
            Body::NewPromoCode => json(json!({
                "code": format!("AUTHZ{n}"), "creator_id": self.host_id, "percent_off": 10, "product_ids": [self.product],
            })),
            Body::CoHost => json(json!({"creator_id": self.session(Who::OtherCreator).account.id})),
            Body::Checkout => {
                json(json!({"idempotency_key": format!("authz-checkout-{n}"), "card": TestCards::SUCCEEDS}))
            }
            Body::Refund => json(json!({
                "idempotency_key": format!("authz-refund-{n}"),
                "lines": [{"product_id": self.product, "quantity": 1}],
            })),
            Body::Webhook => json(json!({"id": "evt_authz", "type": "payment_intent.succeeded"})),
            Body::SaveCard => json(json!({"card": TestCards::SUCCEEDS})),
            Body::BlockedWords => json(json!({"words": ["scam"]})),
            Body::Keywords => json(json!({"keywords": [{"product_id": self.product, "keyword": "serum"}]})),
            Body::AppointAdmin => json(json!({"email": self.session(Who::Admin).account.email})),
            Body::Address => json(json!({
                "name": "Authz", "line1": "1 Main St", "city": "Oslo", "postal_code": "0150", "country": "NO",
            })),
            Body::NewCampaign => json(json!({
                "name": format!("Authz campaign {n}"), "budget": {"amount": 5_000, "currency": "EUR"},
                "agreement_ids": [self.agreement], "room_ids": [self.room],
            })),
            Body::CampaignPatch => json(json!({"name": format!("Authz campaign {n}")})),
            Body::PublishOffer => {
                let (publisher, offer) = SyntheticPublisher::offer(&IceSettings::loopback(), VideoCodec::Vp8)
                    .await
                    .expect("publisher offer");
                self.publishers.lock().await.push(publisher);
                Some(("application/sdp", offer.into_bytes()))
            }
            Body::WatchOffer => {
                let (watcher, offer) = CountingViewer::offer(&IceSettings::loopback()).await.expect("viewer offer");
                self.watchers.lock().await.push(watcher);
                Some(("application/sdp", offer.into_bytes()))
            }
        }
    }

    async fn close(self) {
        for publisher in self.publishers.into_inner() {
            publisher.close().await;
        }
    }
}

struct Request {
    method: Method,
    path: String,
    token: Option<String>,
    body: Option<(&'static str, Vec<u8>)>,
    headers: Vec<(&'static str, String)>,
}

struct Answer {
    status: u16,
    body: String,
    location: Option<String>,
}

async fn new_product(app: &TestApp, brand_token: &str, brand: BrandId, title: &str, stock: i64) -> ProductId {
    let req = json!({"title": title, "price": 1_000, "currency": "EUR", "stock": stock});
    let product: Product = app.post(&path(routes::BRAND_PRODUCTS, &[brand.get()]), Some(brand_token), &req).await;
    product.card.id
}

/// An agreement (10%) between the token's brand and `creator` for `product`; its id.
async fn agree(app: &TestApp, brand_token: &str, creator: AccountId, product: ProductId) -> i64 {
    let req = json!({"creator_id": creator, "product_id": product, "commission_bps": 1_000});
    let agreement: Value = app.post(routes::AGREEMENTS, Some(brand_token), &req).await;
    agreement["id"].as_i64().expect("agreement id")
}

async fn scheduled_room(app: &TestApp, host_token: &str, product: ProductId) -> RoomId {
    let req = json!({"title": "Authz room", "starts_at": 0, "product_ids": [product]});
    let room: RoomView = app.post(routes::ROOMS, Some(host_token), &req).await;
    room.id
}

async fn live_room(app: &TestApp, host_token: &str, product: ProductId) -> RoomId {
    let room = scheduled_room(app, host_token, product).await;
    let _: RoomView = app.post(&path(routes::ROOM_GO_LIVE, &[room.get()]), Some(host_token), &()).await;
    room
}

// ---------------------------------------------------------------------------------------
// The REST table
// ---------------------------------------------------------------------------------------

/// Which resource a row's path names: the scene's own (its owner is one of the roles, so
/// the other roles ask for someone else's), or a fresh one per cell where the action uses
/// it up (ending an agreement, taking a room live, ending a room, closing a session).
#[derive(Debug, Clone, Copy)]
enum At {
    /// The route has no parameters.
    Nothing,
    /// This path (for the catch-all).
    Literal(&'static str),
    /// Brand A, whose product the room sells.
    BrandA,
    /// Brand A's product.
    ProductA,
    /// The host, as a creator.
    Host,
    /// The host's room with the viewer's order (streaming, so it can be watched).
    Room,
    /// The host's room and the admin's account (appointed a moderator, which changes no
    /// other cell: an admin may do whatever a moderator may).
    RoomAndAdmin,
    /// The host, as a creator, and the admin's account.
    HostAndAdmin,
    WhipRoom,
    /// The viewer's order.
    Order,
    /// Brand A's campaign (the host's agreement and room).
    Campaign,
    FreshAgreement,
    /// A code brand A issued to the host.
    FreshPromoCode,
    FreshScheduledRoom,
    FreshLiveRoom,
    FreshWhipSession,
    FreshWhepSession,
    /// The host's fresh publishing session, named on the viewers' (WHEP) route.
    PublisherAsViewer,
    /// A giveaway of the host's room.
    Giveaway,
}

/// A valid body for the row, so an authorised caller's cell checks authorisation, not
/// validation.
#[derive(Debug, Clone, Copy)]
enum Body {
    None,
    Register,
    Login,
    NewProduct,
    ProductPatch,
    Stock,
    Followers,
    /// For a fresh product of brand A, with the host.
    NewAgreement,
    NewRoom,
    /// A code for brand A's product, issued to the host (a fresh code per cell).
    NewPromoCode,
    /// The other creator as co-host.
    CoHost,
    /// A checkout of the caller's cart (empty: the authorised get `cart_empty`).
    Checkout,
    /// One unit of the viewer's order.
    Refund,
    /// An unsigned Stripe delivery: no bearer token stands in for the signature.
    Webhook,
    /// A campaign of brand A's agreement with the host and the host's room.
    NewCampaign,
    /// A new name for the campaign.
    CampaignPatch,
    PublishOffer,
    WatchOffer,
    /// A test card to save in the caller's own wallet.
    SaveCard,
    /// A room's (or a creator's) blocked words.
    BlockedWords,
    /// A keyword for the room's product.
    Keywords,
    /// The admin's e-mail address, to appoint them a moderator (which changes no other
    /// cell, as for [`At::RoomAndAdmin`]).
    AppointAdmin,
    /// A shipping address for the caller's own wallet.
    Address,
}

struct Row {
    method: Method,
    route: &'static str,
    at: At,
    body: Body,
    /// The cell's caller uses a fresh session of their account (the action ends it).
    fresh_session: bool,
    /// Expected status, in the order of [`EVERYONE`].
    expect: [u16; 8],
}

fn row(method: Method, route: &'static str, at: At, body: Body, expect: [u16; 8]) -> Row {
    Row { method, route, at, body, fresh_session: false, expect }
}

/// Routes that are not in the OpenAPI document, on purpose.
const UNDOCUMENTED: &[(&str, &str, &str)] = &[
    ("GET", routes::OPENAPI, "the document itself"),
    ("GET", routes::ASYNCAPI, "the WebSocket protocol's own document (AsyncAPI, not OpenAPI)"),
    ("GET", routes::WS, "the WebSocket upgrade: its messages have their own table below"),
    ("ANY", FALLBACK, "unknown API paths answer not_found with our error body"),
];

/// The catch-all of unknown API paths (src/http/mod.rs).
const FALLBACK: &str = "/api/{*rest}";

/// Every route, for every role, in the order of [`EVERYONE`].
#[rustfmt::skip]
fn rest_table() -> Vec<Row> {
    use At::*;
    use Body as B;
    use Method as M;
    use routes::*;
    let all = |status: u16| [status; 8];
    vec![
        //                                                                  guest viewer other host other  brand other admin
        //                                                                               viewer     creator      brand
        row(M::GET,    HEALTH,           Nothing,            B::None,         all(200)),
        row(M::GET,    READY,            Nothing,            B::None,         all(200)),
        row(M::GET,    OPENAPI,          Nothing,            B::None,         all(200)),
        row(M::GET,    ASYNCAPI,         Nothing,            B::None,         all(200)),
        // A plain GET is no WebSocket handshake; who may send what on a socket is the
        // second table.
        row(M::GET,    WS,               Nothing,            B::None,         all(400)),
        row(M::GET,    FALLBACK,         Literal("/api/no/such/route"), B::None, all(404)),
        row(M::POST,   REGISTER,         Nothing,            B::Register,     all(201)),
        row(M::POST,   LOGIN,            Nothing,            B::Login,        all(200)),
        Row { fresh_session: true,
        ..row(M::POST, LOGOUT,           Nothing,            B::None,         [401, 204, 204, 204, 204, 204, 204, 204]) },
        row(M::GET,    ME,               Nothing,            B::None,         [401, 200, 200, 200, 200, 200, 200, 200]),
        // Every account has its own wallet, and no route names another's
        // (tests/api/wallet.rs shows one account never reaching another's).
        row(M::GET,    WALLET,           Nothing,            B::None,         [401, 200, 200, 200, 200, 200, 200, 200]),
        row(M::PUT,    WALLET_PAYMENT_METHOD, Nothing,       B::SaveCard,     [401, 200, 200, 200, 200, 200, 200, 200]),
        row(M::DELETE, WALLET_PAYMENT_METHOD, Nothing,       B::None,         [401, 204, 204, 204, 204, 204, 204, 204]),
        row(M::PUT,    WALLET_SHIPPING_ADDRESS, Nothing,     B::Address,      [401, 200, 200, 200, 200, 200, 200, 200]),
        row(M::DELETE, WALLET_SHIPPING_ADDRESS, Nothing,     B::None,         [401, 204, 204, 204, 204, 204, 204, 204]),
        // Follows are the caller's own too; the host cannot follow themselves.
        row(M::GET,    FOLLOWS,          Nothing,            B::None,         [401, 200, 200, 200, 200, 200, 200, 200]),
        row(M::PUT,    FOLLOW,           Host,               B::None,         [401, 204, 204, 400, 204, 204, 204, 204]),
        row(M::DELETE, FOLLOW,           Host,               B::None,         [401, 204, 204, 204, 204, 204, 204, 204]),
        row(M::GET,    UPCOMING,         Nothing,            B::None,         [401, 200, 200, 200, 200, 200, 200, 200]),
        row(M::GET,    OFFERS,           Nothing,            B::None,         [401, 200, 200, 200, 200, 200, 200, 200]),
        // Anyone may check a draw.
        row(M::GET,    GIVEAWAY,         Giveaway,           B::None,         all(200)),
        row(M::GET,    BRAND_PRODUCTS,   BrandA,             B::None,         all(200)),
        row(M::POST,   BRAND_PRODUCTS,   BrandA,             B::NewProduct,   [401, 403, 403, 403, 403, 201, 403, 403]),
        row(M::GET,    BRAND_ORDERS,     BrandA,             B::None,         [401, 403, 403, 403, 403, 200, 403, 200]),
        row(M::GET,    PRODUCT,          ProductA,           B::None,         all(200)),
        row(M::PATCH,  PRODUCT,          ProductA,           B::ProductPatch, [401, 403, 403, 403, 403, 200, 403, 403]),
        row(M::PUT,    PRODUCT_STOCK,    ProductA,           B::Stock,        [401, 403, 403, 403, 403, 200, 403, 403]),
        row(M::GET,    CREATORS,         Nothing,            B::None,         all(200)),
        row(M::GET,    CREATOR,          Host,               B::None,         all(200)),
        row(M::PUT,    CREATOR,          Host,               B::Followers,    [401, 403, 403, 403, 403, 403, 403, 204]),
        row(M::GET,    CREATOR_ORDERS,   Host,               B::None,         [401, 403, 403, 200, 403, 403, 403, 200]),
        row(M::GET,    CREATOR_EARNINGS, Host,               B::None,         [401, 403, 403, 200, 403, 403, 403, 200]),
        // Agreements are between brands and creators: each sees their own.
        row(M::GET,    AGREEMENTS,       Nothing,            B::None,         [401, 403, 403, 200, 200, 200, 200, 403]),
        row(M::POST,   AGREEMENTS,       Nothing,            B::NewAgreement, [401, 403, 403, 403, 403, 201, 403, 403]),
        row(M::DELETE, AGREEMENT,        FreshAgreement,     B::None,         [401, 403, 403, 403, 403, 204, 403, 403]),
        // Promo codes: a brand issues and revokes its own (an admin may revoke any); each
        // creator sees those issued to them, an admin all; viewers have none.
        row(M::GET,    PROMO_CODES,      Nothing,            B::None,         [401, 403, 403, 200, 200, 200, 200, 200]),
        row(M::POST,   PROMO_CODES,      Nothing,            B::NewPromoCode, [401, 403, 403, 403, 403, 201, 403, 403]),
        row(M::DELETE, PROMO_CODE,       FreshPromoCode,     B::None,         [401, 403, 403, 403, 403, 204, 403, 204]),
        row(M::GET,    ROOMS,            Nothing,            B::None,         all(200)),
        row(M::POST,   ROOMS,            Nothing,            B::NewRoom,      [401, 403, 403, 201, 403, 403, 403, 403]),
        row(M::GET,    ROOM,             Room,               B::None,         all(200)),
        row(M::POST,   ROOM_GO_LIVE,     FreshScheduledRoom, B::None,         [401, 403, 403, 200, 403, 403, 403, 403]),
        row(M::POST,   ROOM_END,         FreshLiveRoom,      B::None,         [401, 403, 403, 200, 403, 403, 403, 200]),
        row(M::PUT,    ROOM_CO_HOST,     Room,               B::CoHost,       [401, 403, 403, 200, 403, 403, 403, 200]),
        // The host alone rehearses their scheduled room (an admin neither: a rehearsal is
        // the host's own practice).
        row(M::POST,   ROOM_REHEARSAL,   FreshScheduledRoom, B::None,         [401, 403, 403, 201, 403, 403, 403, 403]),
        // Moderators are appointed by the host (of a room) or the creator (of all their
        // rooms), or an admin; blocked words are set by them or a moderator.
        row(M::GET,    ROOM_MODERATORS,  Room,               B::None,         [401, 403, 403, 200, 403, 403, 403, 200]),
        row(M::POST,   ROOM_MODERATORS,  Room,               B::AppointAdmin, [401, 403, 403, 200, 403, 403, 403, 200]),
        row(M::PUT,    ROOM_MODERATOR,   RoomAndAdmin,       B::None,         [401, 403, 403, 204, 403, 403, 403, 204]),
        row(M::DELETE, ROOM_MODERATOR,   RoomAndAdmin,       B::None,         [401, 403, 403, 204, 403, 403, 403, 204]),
        row(M::GET,    CREATOR_MODERATORS, Host,             B::None,         [401, 403, 403, 200, 403, 403, 403, 200]),
        row(M::POST,   CREATOR_MODERATORS, Host,             B::AppointAdmin, [401, 403, 403, 200, 403, 403, 403, 200]),
        row(M::PUT,    CREATOR_MODERATOR, HostAndAdmin,      B::None,         [401, 403, 403, 204, 403, 403, 403, 204]),
        row(M::DELETE, CREATOR_MODERATOR, HostAndAdmin,      B::None,         [401, 403, 403, 204, 403, 403, 403, 204]),
        row(M::GET,    CREATOR_BANS,     Host,               B::None,         [401, 403, 403, 200, 403, 403, 403, 200]),
        // No such ban (the id is the admin's account id): lifting it is no change.
        row(M::DELETE, CREATOR_BAN,      HostAndAdmin,       B::None,         [401, 403, 403, 204, 403, 403, 403, 204]),
        row(M::GET,    ROOM_BLOCKED_WORDS, Room,             B::None,         [401, 403, 403, 200, 403, 403, 403, 200]),
        row(M::PUT,    ROOM_BLOCKED_WORDS, Room,             B::BlockedWords, [401, 403, 403, 200, 403, 403, 403, 200]),
        // Anyone may read a room's keywords; only its host (or an admin) sets them.
        row(M::GET,    ROOM_KEYWORDS,    Room,               B::None,         all(200)),
        row(M::PUT,    ROOM_KEYWORDS,    Room,               B::Keywords,     [401, 403, 403, 200, 403, 403, 403, 200]),
        row(M::GET,    CREATOR_BLOCKED_WORDS, Host,          B::None,         [401, 403, 403, 200, 403, 403, 403, 200]),
        row(M::PUT,    CREATOR_BLOCKED_WORDS, Host,          B::BlockedWords, [401, 403, 403, 200, 403, 403, 403, 200]),
        row(M::GET,    ROOM_HELD_COMMENTS, Room,             B::None,         [401, 403, 403, 200, 403, 403, 403, 200]),
        // Any account may check out its own cart; here every cart is empty, so an
        // authorised caller gets `cart_empty` (the WebSocket table buys a filled one).
        row(M::POST,   ROOM_CHECKOUT,    Room,               B::Checkout,     [401, 400, 400, 400, 400, 400, 400, 400]),
        row(M::POST,   WHIP,             WhipRoom,           B::PublishOffer, [401, 403, 403, 201, 403, 403, 403, 403]),
        row(M::DELETE, WHIP_SESSION,     FreshWhipSession,   B::None,         [401, 403, 403, 204, 403, 403, 403, 403]),
        // Anyone may watch a live room, as anyone may join its chat; a viewing session's
        // random URL is its owner's capability.
        row(M::POST,   WHEP,             Room,               B::WatchOffer,   all(201)),
        row(M::DELETE, WHEP_SESSION,     FreshWhepSession,   B::None,         all(204)),
        // A publisher's session is no viewer's: its URL alone must not stop the stream
        // (stopping one takes the host, on the WHIP route above).
        row(M::DELETE, WHEP_SESSION,     PublisherAsViewer,  B::None,         all(404)),
        // STUN/TURN servers for WHIP and WHEP clients: guests watch too.
        row(M::GET,    ICE,              Nothing,            B::None,         all(200)),
        row(M::GET,    ORDERS,           Nothing,            B::None,         [401, 200, 200, 200, 200, 200, 200, 200]),
        // An order is its buyer's (and an admin's); anyone else is told it does not exist.
        row(M::GET,    ORDER,            Order,              B::None,         [401, 200, 404, 404, 404, 404, 404, 200]),
        row(M::GET,    ORDER_REFUNDS,    Order,              B::None,         [401, 200, 404, 200, 404, 200, 404, 200]),
        // Only brands and admins refund: a role that never may is refused whatever the
        // order; a brand with nothing in the order must not learn that it exists.
        row(M::POST,   ORDER_REFUNDS,    Order,              B::Refund,       [401, 403, 403, 403, 403, 201, 404, 201]),
        // Campaigns are their brand's: another brand may not group brand A's agreement
        // (invalid input), and is told brand A's campaign does not exist; an admin reads
        // every campaign but runs none.
        row(M::GET,    CAMPAIGNS,        Nothing,            B::None,         [401, 403, 403, 403, 403, 200, 200, 200]),
        row(M::POST,   CAMPAIGNS,        Nothing,            B::NewCampaign,  [401, 403, 403, 403, 403, 201, 400, 403]),
        row(M::GET,    CAMPAIGN,         Campaign,           B::None,         [401, 404, 404, 404, 404, 200, 404, 200]),
        row(M::PATCH,  CAMPAIGN,         Campaign,           B::CampaignPatch,[401, 404, 404, 404, 404, 200, 404, 403]),
        row(M::GET,    CAMPAIGN_REPORT,  Campaign,           B::None,         [401, 404, 404, 404, 404, 200, 404, 200]),
        // Reports (docs/metrics.md, "Who sees what"): a room's to its host, co-host (the
        // other creator, since the ROOM_CO_HOST row above) and the brands it sells (their
        // products only); a creator's to them and to any brand (its products only).
        row(M::GET,    ROOM_REPORT,      Room,               B::None,         [401, 403, 403, 200, 200, 200, 403, 200]),
        row(M::GET,    CREATOR_REPORT,   Host,               B::None,         [401, 403, 403, 200, 403, 200, 200, 200]),
        row(M::GET,    BRAND_REPORT,     BrandA,             B::None,         [401, 403, 403, 403, 403, 200, 403, 200]),
        row(M::POST,   STRIPE_WEBHOOK,   Nothing,            B::Webhook,      all(400)),
    ]
}

#[tokio::test]
async fn every_route_answers_every_role_as_the_table_says() {
    let world = World::build(true).await;
    let mut mismatches = Vec::new();
    let mut n = 0;
    for row in rest_table() {
        for (who, expected) in EVERYONE.into_iter().zip(row.expect) {
            n += 1;
            let token = match (row.fresh_session, who) {
                (_, Who::Guest) => None,
                (true, _) => world.fresh_token(who).await,
                (false, _) => world.token(who).map(str::to_owned),
            };
            let headers = match row.body {
                Body::Webhook => vec![("stripe-signature", "t=1,v1=00".to_owned())],
                _ => vec![],
            };
            let req = Request {
                method: row.method.clone(),
                path: world.path_of(row.route, row.at).await,
                token,
                body: world.body_of(row.body, n).await,
                headers,
            };
            let shown = format!("{} {}", req.method, req.path);
            let answer = world.send(req).await;
            if answer.status != expected {
                let body: String = answer.body.chars().take(160).collect();
                mismatches.push(format!(
                    "{} {} ({shown}) as {who:?}: expected {expected}, got {} {body}",
                    row.method, row.route, answer.status
                ));
            }
        }
    }
    world.close().await;
    assert!(mismatches.is_empty(), "{} of the table's cells disagree:\n{}", mismatches.len(), mismatches.join("\n"));
}

// ---------------------------------------------------------------------------------------
// Completeness of the REST table
// ---------------------------------------------------------------------------------------

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// The `pub const NAME: &str = "/path";` items of src/wire/routes.rs.
fn route_constants() -> BTreeMap<String, String> {
    let source = include_str!("../../src/wire/routes.rs");
    source
        .lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("pub const ")?;
            let (name, rest) = rest.split_once(':')?;
            let value = rest.split('"').nth(1)?;
            Some((name.trim().to_owned(), value.to_owned()))
        })
        .collect()
}

/// Every `.route(path, methods)` in `src/`, as (METHOD or "ANY", path): the routes the
/// server registers, read from the source. `.nest` and friends would hide prefixes from
/// this reading, so finding one fails the test until the reading learns them.
fn registered_routes() -> (BTreeSet<(String, String)>, Vec<String>) {
    let constants = route_constants();
    let mut found = BTreeSet::new();
    let mut problems = Vec::new();
    let mut files = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))];
    while let Some(p) = files.pop() {
        if p.is_dir() {
            files.extend(std::fs::read_dir(&p).expect("src dir").map(|e| e.expect("dir entry").path()));
            continue;
        }
        if p.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let source = std::fs::read_to_string(&p).expect("source file");
        let shown = p.display().to_string();
        for hidden in [".nest(", ".nest_service("] {
            if source.contains(hidden) {
                problems.push(format!("{shown} uses {hidden}: teach registered_routes() about it"));
            }
        }
        for call in [".route(", ".route_service("] {
            for (at, _) in source.match_indices(call) {
                let args = balanced(&source[at + call.len()..]);
                let (path_expr, methods) = args.split_once(',').unwrap_or((&args, ""));
                let path_expr = path_expr.trim();
                let route = if let Some(literal) = path_expr.strip_prefix('"') {
                    literal.trim_end_matches('"').to_owned()
                } else if let Some(name) = path_expr.rsplit("::").next().filter(|n| constants.contains_key(*n)) {
                    constants[name].clone()
                } else {
                    problems.push(format!("{shown}: cannot read the path of .route({args})"));
                    continue;
                };
                if route == "/metrics" && shown.ends_with("src/lib.rs") {
                    continue; // the metrics listener, not the API's
                }
                let verbs = methods_of(methods);
                if verbs.is_empty() || call == ".route_service(" {
                    found.insert(("ANY".to_owned(), route));
                } else {
                    found.extend(verbs.into_iter().map(|v| (v, route.clone())));
                }
            }
        }
    }
    (found, problems)
}

/// The text up to the parenthesis that closes the one just opened.
fn balanced(text: &str) -> String {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' if depth == 0 => return text[..i].to_owned(),
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
    }
    text.to_owned()
}

/// The HTTP methods named in an axum method router expression (`get(a).post(b)`).
fn methods_of(expr: &str) -> BTreeSet<String> {
    let mut verbs = BTreeSet::new();
    for verb in ["get", "post", "put", "patch", "delete", "any"] {
        for (at, _) in expr.match_indices(&format!("{verb}(")) {
            let before = expr[..at].chars().next_back();
            if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_')) {
                verbs.insert(verb.to_uppercase());
            }
        }
    }
    if verbs.contains("ANY") {
        return BTreeSet::from(["ANY".to_owned()]);
    }
    verbs
}

#[tokio::test]
async fn the_route_table_lists_every_route() {
    let app = TestApp::spawn().await;
    let table = rest_table();
    let rows: BTreeSet<(String, String)> = table.iter().map(|r| (r.method.to_string(), r.route.to_owned())).collect();
    let has_row = |method: &str, route: &str| {
        if method == "ANY" {
            rows.iter().any(|(_, r)| r == route)
        } else {
            rows.contains(&(method.into(), route.into()))
        }
    };
    let undocumented =
        |method: &str, route: &str| UNDOCUMENTED.iter().any(|(m, r, _)| *r == route && (*m == method || *m == "ANY"));
    let mut problems = Vec::new();

    // 1. Every documented operation has a row, and every row is documented or listed as
    // intentionally undocumented.
    let doc: Value = app.get(routes::OPENAPI, None).await;
    let mut documented = BTreeSet::new();
    for (route, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if METHODS.contains(&method.to_uppercase().as_str()) {
                documented.insert((method.to_uppercase(), route.clone()));
            }
        }
    }
    for (method, route) in &documented {
        if !has_row(method, route) {
            problems.push(format!("{method} {route} is in the OpenAPI document but has no row in rest_table()"));
        }
        if undocumented(method, route) {
            problems.push(format!("{method} {route} is documented now: take it out of UNDOCUMENTED"));
        }
    }
    for (method, route) in &rows {
        if !documented.contains(&(method.clone(), route.clone())) && !undocumented(method, route) {
            problems.push(format!("{method} {route} has a row but is neither documented nor in UNDOCUMENTED"));
        }
    }

    // 2. Every route the server registers (read from the source) has a row; every path
    // constant is routed.
    let (registered, unreadable) = registered_routes();
    problems.extend(unreadable);
    for (method, route) in &registered {
        if !has_row(method, route) {
            problems.push(format!("{method} {route} is registered in src/ but has no row in rest_table()"));
        }
    }
    for (name, route) in route_constants() {
        if !rows.iter().any(|(_, r)| *r == route) {
            problems.push(format!("routes::{name} ({route}) has no row in rest_table()"));
        }
    }
    assert!(registered.len() >= 30, "the source reading found too few routes: {registered:?}");

    // 3. The server routes no other method on the table's paths.
    let paths: BTreeSet<&str> = table.iter().map(|r| r.route).filter(|r| *r != FALLBACK).collect();
    for route in paths {
        let concrete = path(route, &[1, 1]);
        for method in METHODS.into_iter().filter(|m| !has_row(m, route)) {
            let (status, body) = app.send(Method::from_bytes(method.as_bytes()).unwrap(), &concrete, None, None).await;
            if status != 405 {
                problems.push(format!("{method} {route} answers {status} {body}: a route without a row?"));
            }
        }
    }
    assert!(problems.is_empty(), "the route table is incomplete:\n{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------------------
// The WebSocket table
// ---------------------------------------------------------------------------------------

/// The column order of the WebSocket table: everyone joined to the host's room.
const IN_THE_ROOM: [Who; 6] = [Who::Guest, Who::Viewer, Who::Host, Who::OtherCreator, Who::Brand, Who::Admin];

/// What a message gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reply {
    Snapshot,
    FollowingSales,
    Listening,
    /// A room event of this kind, to everyone in the room (the sender included).
    Event(&'static str),
    /// The reaction counted in the next tick.
    Reactions,
    /// The private `product`.
    Product,
    Cart,
    OrderConfirmed,
    GiveawayEntered,
    BidPlaced,
    Waitlist,
    /// The private `comment_reviewed`, to the host and moderators (the sender included).
    CommentReviewed,
}

/// One cell: the message's reply, or an error frame with this code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cell {
    Granted,
    Refused(&'static str),
}

/// What must be true before the message is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Setup {
    Nothing,
    /// The host pinned the product (through a connection of their own).
    Pinned,
    /// The sender asked to put the product in their cart (whatever the answer).
    CartFilled,
    /// A guest commented; the message acts on that comment (its `seq` is filled in).
    Commented,
    /// The host opened a giveaway for anyone signed in; the message names it.
    GiveawayOpen,
    /// The host started an auction; the message names it.
    AuctionOpen,
    /// A guest's comment is held for review; the message names it (its `id` is filled in).
    Held,
}

struct WsRow {
    /// What a sender who may send it gets.
    reply: Reply,
    /// As the connection's first frame, in the order of [`IN_THE_ROOM`].
    first: [Cell; 6],
    /// After joining a live room of the host, in the order of [`IN_THE_ROOM`].
    joined: [Cell; 6],
    setup: Setup,
}

const G: Cell = Cell::Granted;
const FORBIDDEN: Cell = Cell::Refused("forbidden");
const UNAUTHENTICATED: Cell = Cell::Refused("unauthenticated");
const NOT_FOUND: Cell = Cell::Refused("not_found");
const CONFLICT: Cell = Cell::Refused("conflict");
const NOT_JOINED: [Cell; 6] = [Cell::Refused("not_joined"); 6];
const ALREADY_JOINED: [Cell; 6] = [Cell::Refused("already_joined"); 6];

/// Every message, for every role (docs/protocol.md, section 3). No wildcard arm: a new
/// message does not compile until it has a row.
fn ws_row(msg: &ClientMsg) -> WsRow {
    use Reply::*;
    let row = |reply, first, joined| WsRow { reply, first, joined, setup: Setup::Nothing };
    // The host alone; everyone else is refused.
    let host_only = [FORBIDDEN, FORBIDDEN, G, FORBIDDEN, FORBIDDEN, FORBIDDEN];
    // Any account; a guest is told to sign in.
    let accounts = [UNAUTHENTICATED, G, G, G, G, G];
    match msg {
        //                                                guest            viewer     host       other creator brand      admin
        ClientMsg::Join { .. } => row(Snapshot, [G; 6], ALREADY_JOINED),
        ClientMsg::FollowSales { .. } => {
            row(FollowingSales, [UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, FORBIDDEN, G, FORBIDDEN], ALREADY_JOINED)
        }
        ClientMsg::Listen { .. } => row(Listening, [UNAUTHENTICATED, G, G, G, G, G], ALREADY_JOINED),
        ClientMsg::Comment { .. } => row(Event("comment"), NOT_JOINED, [G; 6]),
        ClientMsg::React { .. } => row(Reactions, NOT_JOINED, [G; 6]),
        ClientMsg::Pin { .. } => row(Event("pinned"), NOT_JOINED, host_only),
        ClientMsg::Unpin {} => WsRow { setup: Setup::Pinned, ..row(Event("unpinned"), NOT_JOINED, host_only) },
        ClientMsg::StartDrop { .. } => row(Event("drop_started"), NOT_JOINED, host_only),
        ClientMsg::EndRoom {} => row(Event("room_ended"), NOT_JOINED, host_only),
        ClientMsg::StartGiveaway { .. } => row(Event("giveaway_started"), NOT_JOINED, host_only),
        ClientMsg::EnterGiveaway { .. } => WsRow {
            setup: Setup::GiveawayOpen,
            ..row(GiveawayEntered, NOT_JOINED, [UNAUTHENTICATED, G, Cell::Refused("not_eligible"), G, G, G])
        },
        ClientMsg::StartAuction { .. } => row(Event("auction_started"), NOT_JOINED, host_only),
        ClientMsg::Bid { .. } => WsRow {
            setup: Setup::AuctionOpen,
            ..row(BidPlaced, NOT_JOINED, [UNAUTHENTICATED, G, Cell::Refused("not_eligible"), G, G, G])
        },
        // Nobody here was offered anything: an account is told there is no such offer of
        // theirs (tests/api/auctions.rs pays real ones).
        ClientMsg::PayOffer { .. } => {
            row(OrderConfirmed, NOT_JOINED, [UNAUTHENTICATED, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND])
        }
        // The product is in stock here: an account is told to buy it now
        // (tests/api/waitlists.rs sells one out).
        ClientMsg::JoinWaitlist { .. } => {
            row(Waitlist, NOT_JOINED, [UNAUTHENTICATED, CONFLICT, CONFLICT, CONFLICT, CONFLICT, CONFLICT])
        }
        ClientMsg::LeaveWaitlist { .. } => row(Waitlist, NOT_JOINED, accounts),
        ClientMsg::ViewProduct { .. } => row(Reply::Product, NOT_JOINED, [G; 6]),
        ClientMsg::CartAdd { .. } => row(Cart, NOT_JOINED, accounts),
        ClientMsg::CartSet { .. } => row(Cart, NOT_JOINED, accounts),
        ClientMsg::CartRemove { .. } => row(Cart, NOT_JOINED, accounts),
        ClientMsg::Checkout { .. } => WsRow { setup: Setup::CartFilled, ..row(OrderConfirmed, NOT_JOINED, accounts) },
        // Moderation: the host, or a moderator (none is appointed here; tests/api/moderation.rs
        // has them).
        ClientMsg::DeleteComment { .. } => {
            WsRow { setup: Setup::Commented, ..row(Event("comment_deleted"), NOT_JOINED, host_only) }
        }
        ClientMsg::Timeout { .. } => {
            WsRow { setup: Setup::Commented, ..row(Event("timed_out"), NOT_JOINED, host_only) }
        }
        ClientMsg::Ban { .. } => WsRow { setup: Setup::Commented, ..row(Event("banned"), NOT_JOINED, host_only) },
        ClientMsg::SlowMode { .. } => row(Event("slow_mode"), NOT_JOINED, host_only),
        ClientMsg::ApproveComment { .. } => {
            WsRow { setup: Setup::Held, ..row(Event("comment"), NOT_JOINED, host_only) }
        }
        ClientMsg::RejectComment { .. } => WsRow { setup: Setup::Held, ..row(CommentReviewed, NOT_JOINED, host_only) },
    }
}

/// One message of every kind, as `who` would send it.
fn ws_samples(world: &World, who: Who, n: usize) -> Vec<ClientMsg> {
    let product_id = world.product;
    vec![
        ClientMsg::Join {
            room_id: world.room,
            token: world.token(who).map(str::to_owned),
            guest_name: (who == Who::Guest).then(|| "Guest".try_into().unwrap()),
            since: None,
            epoch: None,
            audience_key: None,
        },
        ClientMsg::FollowSales { token: world.token(who).unwrap_or("no-such-session").to_owned() },
        ClientMsg::Listen { token: world.token(who).unwrap_or("no-such-session").to_owned() },
        ClientMsg::Comment { text: "hello".try_into().unwrap() },
        ClientMsg::React { reaction: livecart::domain::Reaction::Fire },
        ClientMsg::Pin { product_id },
        ClientMsg::Unpin {},
        ClientMsg::StartDrop { product_id, quantity: 1, price: None, duration_secs: 60, per_buyer: None },
        ClientMsg::EndRoom {},
        ClientMsg::StartGiveaway {
            prize: "A serum".try_into().unwrap(),
            entry: livecart::domain::EntryRule::SignedIn,
            duration_secs: 60,
        },
        // Named once the host has opened it (Setup::GiveawayOpen).
        ClientMsg::EnterGiveaway { giveaway_id: livecart::domain::GiveawayId::try_from(1).unwrap() },
        ClientMsg::StartAuction {
            product_id,
            starting_price: 100,
            duration_secs: 60,
            increments: None,
            extend_secs: None,
            sudden_death: None,
        },
        // Named once the host has started it (Setup::AuctionOpen).
        ClientMsg::Bid { auction_id: livecart::domain::AuctionId::try_from(1).unwrap(), amount: 100, max_amount: None },
        ClientMsg::PayOffer {
            offer_id: livecart::domain::OfferId::try_from(1).unwrap(),
            idempotency_key: format!("authz-offer-{n}").try_into().unwrap(),
            card: Some(TestCards::SUCCEEDS.to_owned().try_into().unwrap()),
            payment: None,
            save: None,
            shipping: None,
        },
        ClientMsg::JoinWaitlist { product_id },
        ClientMsg::LeaveWaitlist { product_id },
        ClientMsg::ViewProduct { product_id },
        ClientMsg::CartAdd { product_id, quantity: 1 },
        ClientMsg::CartSet { product_id, quantity: 2 },
        ClientMsg::CartRemove { product_id },
        crate::helpers::checkout(&format!("authz-ws-{n}"), TestCards::SUCCEEDS),
        ClientMsg::DeleteComment { seq: 1 },
        ClientMsg::Timeout { seq: 1, secs: 60 },
        ClientMsg::Ban { seq: 1, scope: None },
        ClientMsg::SlowMode { secs: 5 },
        // Named once a comment is held (Setup::Held).
        ClientMsg::ApproveComment { id: livecart::domain::HeldCommentId::try_from(1).unwrap() },
        ClientMsg::RejectComment { id: livecart::domain::HeldCommentId::try_from(1).unwrap() },
    ]
}

/// The `seq` of the next comment `ws` sees.
async fn comment_seq(ws: &mut Ws) -> u64 {
    loop {
        match ws.try_recv(WAIT).await {
            Ok(ServerMsg::Event { seq, event: livecart::wire::ws::RoomEvent::Comment(_) }) => return seq,
            Ok(_) => {}
            Err(why) => panic!("no comment came back: {why}"),
        }
    }
}

/// The message types serde knows, from its own "expected one of" list.
pub fn client_message_types() -> BTreeSet<String> {
    let e = serde_json::from_str::<ClientMsg>(r#"{"type":"\u0000"}"#).expect_err("no such message");
    let text = e.to_string();
    let list = text.split("expected ").nth(1).expect("serde lists the variants").to_owned();
    list.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}

/// Whether `msg` is the reply `granted` stands for.
fn is_reply(granted: Reply, msg: &ServerMsg) -> bool {
    match (granted, msg) {
        (Reply::Snapshot, ServerMsg::Snapshot(_))
        | (Reply::FollowingSales, ServerMsg::FollowingSales { .. })
        | (Reply::Listening, ServerMsg::Listening { .. })
        | (Reply::Product, ServerMsg::Product { .. })
        | (Reply::Cart, ServerMsg::Cart { .. })
        | (Reply::OrderConfirmed, ServerMsg::OrderConfirmed { .. })
        | (Reply::GiveawayEntered, ServerMsg::GiveawayEntered { .. })
        | (Reply::BidPlaced, ServerMsg::BidPlaced { .. })
        | (Reply::Waitlist, ServerMsg::Waitlist { .. })
        | (Reply::CommentReviewed, ServerMsg::CommentReviewed { .. }) => true,
        (Reply::Reactions, ServerMsg::Reactions { counts }) => !counts.is_empty(),
        (Reply::Event(kind), ServerMsg::Event { event, .. }) => serde_json::to_value(event).unwrap()["kind"] == kind,
        _ => false,
    }
}

/// What came back: `Ok(Ok(()))` for the granted reply, `Ok(Err(code))` for an error frame
/// (whichever comes first; ticks and other events are skipped), `Err` when neither came.
async fn observe(ws: &mut Ws, granted: Reply, wait: Duration) -> Result<Result<(), String>, String> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut skipped = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match ws.try_recv(left).await {
            Ok(ServerMsg::Error { code, .. }) => return Ok(Err(code)),
            Ok(msg) if is_reply(granted, &msg) => return Ok(Ok(())),
            Ok(msg) => skipped.push(format!("{msg:?}").chars().take(80).collect::<String>()),
            Err(why) => return Err(format!("{why}, after {skipped:?}")),
        }
    }
}

/// Whether what came back is what the cell says.
fn agrees(cell: Cell, seen: &Result<Result<(), String>, String>) -> bool {
    match (cell, seen) {
        (Cell::Granted, Ok(Ok(()))) => true,
        (Cell::Refused(code), Ok(Err(got))) => code == got,
        _ => false,
    }
}

#[tokio::test]
async fn every_message_answers_every_role_as_the_table_says() {
    let world = World::build(false).await;
    let wait = Duration::from_secs(5);
    let mut problems = Vec::new();

    // The samples cover every message the type has, once each.
    let kinds: Vec<&str> = ws_samples(&world, Who::Viewer, 0).iter().map(ClientMsg::kind).collect();
    let unique: BTreeSet<String> = kinds.iter().map(|k| k.to_string()).collect();
    assert_eq!(unique.len(), kinds.len(), "one sample per message: {kinds:?}");
    assert_eq!(unique, client_message_types(), "ws_samples() must send every ClientMsg");

    let mut n = 0;
    for (column, who) in IN_THE_ROOM.into_iter().enumerate() {
        let samples = ws_samples(&world, who, 0).len();
        for i in 0..samples {
            // As the first frame of a connection.
            n += 1;
            let msg = ws_samples(&world, who, n).swap_remove(i);
            let row = ws_row(&msg);
            let mut ws = world.app.ws().await;
            ws.send(&msg).await;
            let seen = observe(&mut ws, row.reply, wait).await;
            if !agrees(row.first[column], &seen) {
                problems.push(format!(
                    "{} as the first frame, as {who:?}: expected {:?}, got {seen:?}",
                    msg.kind(),
                    row.first[column]
                ));
            }
            ws.close().await;

            // Joined to a fresh live room of the host, so that no cell depends on another.
            n += 1;
            let mut msg = ws_samples(&world, who, n).swap_remove(i);
            let room = live_room(&world.app, world.token(Who::Host).unwrap(), world.product).await;
            let mut host = None;
            if row.setup == Setup::GiveawayOpen {
                let (mut h, _) = world.app.viewer(room, world.token(Who::Host)).await;
                h.send(&ws_samples(&world, Who::Host, n).into_iter().find(|m| m.kind() == "start_giveaway").unwrap())
                    .await;
                let opened = h
                    .recv_until(|m| match m {
                        ServerMsg::Event { event: RoomEvent::GiveawayStarted { giveaway }, .. } => Some(giveaway.id),
                        _ => None,
                    })
                    .await;
                if let ClientMsg::EnterGiveaway { giveaway_id } = &mut msg {
                    *giveaway_id = opened;
                }
                host = Some(h);
            }
            if row.setup == Setup::AuctionOpen {
                let (mut h, _) = world.app.viewer(room, world.token(Who::Host)).await;
                h.send(&ws_samples(&world, Who::Host, n).into_iter().find(|m| m.kind() == "start_auction").unwrap())
                    .await;
                let opened = h
                    .recv_until(|m| match m {
                        ServerMsg::Event { event: RoomEvent::AuctionStarted { auction }, .. } => Some(auction.id),
                        _ => None,
                    })
                    .await;
                if let ClientMsg::Bid { auction_id, .. } = &mut msg {
                    *auction_id = opened;
                }
                host = Some(h);
            }
            if row.setup == Setup::Pinned {
                let (mut h, _) = world.app.viewer(room, world.token(Who::Host)).await;
                h.send(&ClientMsg::Pin { product_id: world.product }).await;
                let pinned = observe(&mut h, Reply::Event("pinned"), WAIT).await;
                assert!(agrees(Cell::Granted, &pinned), "the host pins for the unpin cell: {pinned:?}");
                host = Some(h);
            }
            let (mut ws, _) = world.app.viewer(room, world.token(who)).await;
            let mut target = None;
            if row.setup == Setup::Commented {
                let (mut guest, _) = world.app.viewer(room, None).await;
                guest.send(&ClientMsg::Comment { text: "target".try_into().unwrap() }).await;
                let seq = comment_seq(&mut guest).await;
                match &mut msg {
                    ClientMsg::DeleteComment { seq: s }
                    | ClientMsg::Timeout { seq: s, .. }
                    | ClientMsg::Ban { seq: s, .. } => *s = seq,
                    other => panic!("{} has no comment to act on", other.kind()),
                }
                target = Some(guest);
            }
            if row.setup == Setup::Held {
                let host_token = world.token(Who::Host);
                let words = path(routes::ROOM_BLOCKED_WORDS, &[room.get()]);
                let rule = json!({"words": ["held"], "action": "hold"});
                let (status, _) = world.app.send(Method::PUT, &words, host_token, Some(&rule)).await;
                assert_eq!(status, 200, "the host holds comments with a word");
                let (mut guest, _) = world.app.viewer(room, None).await;
                guest.send(&ClientMsg::Comment { text: "held".try_into().unwrap() }).await;
                guest.recv_until(|m| matches!(m, ServerMsg::HeldForReview { .. }).then_some(())).await;
                let held: Vec<livecart::wire::ws::HeldComment> =
                    world.app.get(&path(routes::ROOM_HELD_COMMENTS, &[room.get()]), host_token).await;
                match &mut msg {
                    ClientMsg::ApproveComment { id } | ClientMsg::RejectComment { id } => *id = held[0].id,
                    other => panic!("{} has no held comment to act on", other.kind()),
                }
                target = Some(guest);
            }
            if row.setup == Setup::CartFilled {
                ws.send(&ClientMsg::CartAdd { product_id: world.product, quantity: 1 }).await;
                let _ = observe(&mut ws, Reply::Cart, WAIT).await;
            }
            ws.send(&msg).await;
            let seen = observe(&mut ws, row.reply, wait).await;
            if !agrees(row.joined[column], &seen) {
                problems.push(format!(
                    "{} after joining, as {who:?}: expected {:?}, got {seen:?}",
                    msg.kind(),
                    row.joined[column]
                ));
            }
            ws.close().await;
            if let Some(h) = host {
                h.close().await;
            }
            if let Some(t) = target {
                t.close().await;
            }
        }
    }
    // The other creator's own room is theirs: there, they are the host.
    let (_, snapshot) = world.app.viewer(world.other_room, world.token(Who::OtherCreator)).await;
    assert!(snapshot.you.is_host);
    assert!(problems.is_empty(), "{} of the table's cells disagree:\n{}", problems.len(), problems.join("\n"));
}
