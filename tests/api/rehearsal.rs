//! Rehearsals (docs/protocol.md, section 9.10): the host of a scheduled room opens a
//! private, live copy of it; only the host, moderators and holders of the audience key
//! get in; only test cards pay; its orders are flagged and count in no report, earnings,
//! ledger, order list or sales feed, and take no real stock. Both backends.

use crate::helpers::{Scene, TestApp, Ws, checkout, test_config};
use crate::reports::{get_raw, parse_csv, report};
use livecart::commerce::payments::TestCards;
use livecart::config::{PaymentsChoice, Secret};
use livecart::domain::{Clock, ProductId, Role, RoomId};
use livecart::wire::api::{CommissionBalance, CreatorOrders, RehearsalView, RoomView, SessionResponse};
use livecart::wire::report::{BrandReport, CreatorReport, RoomReport};
use livecart::wire::routes::{self, path};
use livecart::wire::ws::{ClientMsg, OrderView, RoomStatus, ServerMsg, Snapshot};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// `POST /api/rooms/{show}/rehearsal` as `token`: the status and the body.
async fn open(app: &TestApp, show: RoomId, token: Option<&str>) -> (StatusCode, Value) {
    app.send(Method::POST, &path(routes::ROOM_REHEARSAL, &[show.get()]), token, Some(&json!({}))).await
}

/// The host opens a rehearsal of `show`, which must be a new one.
async fn rehearse(app: &TestApp, show: RoomId, host: &SessionResponse) -> RehearsalView {
    let (status, body) = open(app, show, Some(&host.token)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    serde_json::from_value(body).expect("a rehearsal")
}

/// A connection that sent `join` (an account's, or a guest's) with `key`: the snapshot, or
/// the refusal's code.
async fn join(app: &TestApp, room: RoomId, token: Option<&str>, key: Option<&str>) -> (Ws, Result<Snapshot, String>) {
    let mut ws = app.ws().await;
    ws.send(&ClientMsg::Join {
        room_id: room,
        token: token.map(str::to_owned),
        guest_name: token.is_none().then(|| "Sim".try_into().unwrap()),
        since: None,
        epoch: None,
        audience_key: key.map(str::to_owned),
    })
    .await;
    let joined = ws
        .recv_until(|m| match m {
            ServerMsg::Snapshot(s) => Some(Ok(*s)),
            ServerMsg::Error { code, .. } => Some(Err(code)),
            _ => None,
        })
        .await;
    (ws, joined)
}

/// A viewer account let into the rehearsal with its key, with `quantity` of `product` in
/// the cart.
async fn rehearsal_shopper(
    app: &TestApp,
    rehearsal: &RehearsalView,
    product: ProductId,
    quantity: i64,
) -> (Ws, SessionResponse) {
    let buyer = app.register(Role::Viewer, "Simulated buyer", None).await;
    let (mut ws, joined) = join(app, rehearsal.room.id, Some(&buyer.token), Some(&rehearsal.audience_key)).await;
    joined.expect("the key lets the buyer in");
    ws.send(&ClientMsg::CartAdd { product_id: product, quantity }).await;
    ws.recv_until(|m| matches!(m, ServerMsg::Cart { .. }).then_some(())).await;
    (ws, buyer)
}

/// The rehearsal's room card as `token` sees it over REST.
async fn card(app: &TestApp, room: RoomId, token: Option<&str>) -> (StatusCode, Value) {
    app.send(Method::GET, &path(routes::ROOM, &[room.get()]), token, None).await
}

/// The ids of `GET /api/rooms` with `query`.
async fn listed(app: &TestApp, query: &str) -> Vec<RoomId> {
    let rooms: Vec<RoomView> = app.get(&format!("{}{query}", routes::ROOMS), None).await;
    rooms.iter().map(|r| r.id).collect()
}

async fn appoint(app: &TestApp, scene: &Scene, route: &str, ids: &[i64]) {
    let (status, body) = app.send(Method::PUT, &path(route, ids), Some(&scene.creator.token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

#[tokio::test]
async fn only_the_host_opens_a_rehearsal_and_only_of_a_scheduled_room() {
    let app = TestApp::spawn().await;
    let scene = app.scheduled_room(&[5, 3], "EUR").await;
    let stranger = app.register(Role::Creator, "Other host", None).await;
    let viewer = app.register(Role::Viewer, "Viewer", None).await;
    let admin = app.admin("Admin").await;
    assert_eq!(open(&app, scene.room, None).await.0, StatusCode::UNAUTHORIZED);
    for who in [&stranger, &viewer, &admin] {
        assert_eq!(open(&app, scene.room, Some(&who.token)).await.0, StatusCode::FORBIDDEN);
    }
    let nowhere = RoomId::try_from(999_999).unwrap();
    assert_eq!(open(&app, nowhere, Some(&scene.creator.token)).await.0, StatusCode::NOT_FOUND);

    let rehearsal = rehearse(&app, scene.room, &scene.creator).await;
    let room = &rehearsal.room;
    assert_ne!(room.id, scene.room);
    assert_eq!(room.rehearsal_of, Some(scene.room));
    assert_eq!(room.status, RoomStatus::Live, "live at once");
    assert_eq!(room.title, "Rehearsal: Live test");
    assert_eq!(room.host.id, scene.host_id());
    assert_eq!(room.lineup.iter().map(|p| p.id).collect::<Vec<_>>(), scene.products, "the same lineup, in order");
    assert_eq!(rehearsal.audience_key.len(), 32);

    // Opening again answers the open one, with a new key.
    let (status, again) = open(&app, scene.room, Some(&scene.creator.token)).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    let again: RehearsalView = serde_json::from_value(again).unwrap();
    assert_eq!(again.room.id, room.id);
    assert_ne!(again.audience_key, rehearsal.audience_key);

    // A rehearsal is no scheduled room; nor is a live one.
    let (status, body) = open(&app, room.id, Some(&scene.creator.token)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")));
    let live = app.live_room(&[1]).await;
    assert_eq!(open(&app, live.room, Some(&live.creator.token)).await.0, StatusCode::CONFLICT);

    // The host ends it as any room, and may open another; the show stays scheduled.
    let ended: RoomView = app.post(&path(routes::ROOM_END, &[room.id.get()]), Some(&scene.creator.token), &()).await;
    assert_eq!(ended.status, RoomStatus::Ended);
    let next = rehearse(&app, scene.room, &scene.creator).await;
    assert_ne!(next.room.id, room.id);
    let show: RoomView = app.get(&path(routes::ROOM, &[scene.room.get()]), None).await;
    assert_eq!(show.status, RoomStatus::Scheduled);
    assert_eq!(show.rehearsal_of, None);

    // The host ends the next one from inside it.
    let (mut host, snapshot) = app.viewer(next.room.id, Some(&scene.creator.token)).await;
    assert!(snapshot.you.is_host);
    host.send(&ClientMsg::EndRoom {}).await;
    host.recv_until(|m| match m {
        ServerMsg::Event { event: livecart::wire::ws::RoomEvent::RoomEnded, .. } => Some(()),
        _ => None,
    })
    .await;
    rehearse(&app, scene.room, &scene.creator).await;
}

#[tokio::test]
async fn a_rehearsal_is_seen_only_by_its_host_its_moderators_and_holders_of_its_key() {
    let app = TestApp::spawn().await;
    let scene = app.scheduled_room(&[5], "EUR").await;
    let follower = app.register(Role::Viewer, "Follower", None).await;
    let (status, _) =
        app.send(Method::PUT, &path(routes::FOLLOW, &[scene.host_id().get()]), Some(&follower.token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let mut notices = app.ws().await;
    notices.send(&ClientMsg::Listen { token: follower.token.clone() }).await;
    notices.recv_until(|m| matches!(m, ServerMsg::Listening { .. }).then_some(())).await;
    let room_moderator = app.register(Role::Viewer, "Show moderator", None).await;
    let creator_moderator = app.register(Role::Viewer, "Creator moderator", None).await;
    let stranger = app.register(Role::Viewer, "Stranger", None).await;
    let admin = app.admin("Admin").await;
    appoint(&app, &scene, routes::ROOM_MODERATOR, &[scene.room.get(), room_moderator.account.id.get()]).await;
    appoint(&app, &scene, routes::CREATOR_MODERATOR, &[scene.host_id().get(), creator_moderator.account.id.get()])
        .await;

    let rehearsal = rehearse(&app, scene.room, &scene.creator).await;
    let id = rehearsal.room.id;

    // Never listed, whatever the filter.
    for query in ["", "?status=live", "?status=upcoming", "?status=ended"] {
        assert!(!listed(&app, query).await.contains(&id), "{query}");
        let of_host = format!("{}host={}", if query.is_empty() { "?" } else { "&" }, scene.host_id());
        assert!(!listed(&app, &format!("{query}{of_host}")).await.contains(&id), "{query}{of_host}");
    }
    assert!(listed(&app, "?status=upcoming").await.contains(&scene.room));
    let upcoming: Vec<RoomView> = app.get(routes::UPCOMING, Some(&follower.token)).await;
    assert_eq!(upcoming.iter().map(|r| r.id).collect::<Vec<_>>(), [scene.room]);

    // Its card: to its host, moderators and admins; to anyone else it does not exist.
    assert_eq!(card(&app, id, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(card(&app, id, Some(&stranger.token)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(card(&app, id, Some("no-such-session")).await.0, StatusCode::NOT_FOUND);
    // Any other room's card is public: a stale token is a guest, not an error.
    assert_eq!(card(&app, scene.room, Some("no-such-session")).await.0, StatusCode::OK);
    for who in [&scene.creator, &room_moderator, &creator_moderator, &admin] {
        let (status, body) = card(&app, id, Some(&who.token)).await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", who.account.display_name);
        assert_eq!(body["rehearsal_of"], json!(scene.room));
    }

    // Its chat: the host, moderators of the show or of all the host's rooms, the key.
    for (token, key) in [
        (None, None),
        (Some(stranger.token.as_str()), None),
        (Some(stranger.token.as_str()), Some("not-the-key")),
        (None, Some("")),
        (Some(admin.token.as_str()), None),
    ] {
        let (ws, joined) = join(&app, id, token, key).await;
        assert_eq!(joined.map(|_| ()), Err("rehearsal_private".to_owned()), "{token:?} with {key:?}");
        ws.close().await;
    }
    let (host, joined) = join(&app, id, Some(&scene.creator.token), None).await;
    let snapshot = joined.expect("the host joins");
    assert!(snapshot.you.is_host);
    assert_eq!(snapshot.room.rehearsal_of, Some(scene.room));
    for moderator in [&room_moderator, &creator_moderator] {
        let (ws, joined) = join(&app, id, Some(&moderator.token), None).await;
        assert!(joined.expect("a moderator joins").you.is_moderator);
        ws.close().await;
    }
    let (guest, joined) = join(&app, id, None, Some(&rehearsal.audience_key)).await;
    assert_eq!(joined.expect("a guest with the key joins").room.id, id);
    let (keyed, joined) = join(&app, id, Some(&stranger.token), Some(&rehearsal.audience_key)).await;
    joined.expect("an account with the key joins");

    // The show's moderators moderate it.
    let (mut moderator, _) = join(&app, id, Some(&room_moderator.token), None).await;
    moderator.send(&ClientMsg::SlowMode { secs: 5 }).await;
    moderator
        .recv_until(|m| match m {
            ServerMsg::Event { event: livecart::wire::ws::RoomEvent::SlowMode { secs: 5 }, .. } => Some(()),
            ServerMsg::Error { code, .. } => panic!("the show's moderator was refused: {code}"),
            _ => None,
        })
        .await;

    // Its stream: the key, or the session of its host or a moderator.
    let whep = |bearer: Option<String>| {
        let url = app.url(&path(routes::WHEP, &[id.get()]));
        async move {
            let mut req = reqwest::Client::new().post(url).header("content-type", "application/sdp").body("v=0\r\n");
            if let Some(bearer) = bearer {
                req = req.bearer_auth(bearer);
            }
            let resp = req.send().await.expect("whep");
            let status = resp.status();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            (status, body["error"]["code"].as_str().unwrap_or_default().to_owned())
        }
    };
    assert_eq!(whep(None).await, (StatusCode::FORBIDDEN, "rehearsal_private".to_owned()));
    assert_eq!(whep(Some(stranger.token.clone())).await, (StatusCode::FORBIDDEN, "rehearsal_private".to_owned()));
    // Let in: nothing is on air yet.
    for bearer in [rehearsal.audience_key.clone(), scene.creator.token.clone(), room_moderator.token.clone()] {
        assert_eq!(whep(Some(bearer)).await, (StatusCode::CONFLICT, "not_streaming".to_owned()));
    }

    // Opening again replaces the key: the old one admits no one more.
    let (_, again) = open(&app, scene.room, Some(&scene.creator.token)).await;
    let again: RehearsalView = serde_json::from_value(again).unwrap();
    let (ws, joined) = join(&app, id, None, Some(&rehearsal.audience_key)).await;
    assert_eq!(joined.map(|_| ()), Err("rehearsal_private".to_owned()));
    ws.close().await;
    let (ws, joined) = join(&app, id, None, Some(&again.audience_key)).await;
    joined.expect("the new key lets a guest in");
    ws.close().await;

    // No follower heard of the rehearsal: the first notice is the show going live.
    let _: RoomView = app.post(&path(routes::ROOM_GO_LIVE, &[scene.room.get()]), Some(&scene.creator.token), &()).await;
    let told = notices
        .recv_until(|m| match m {
            ServerMsg::GoingLive { room } => Some(room.id),
            _ => None,
        })
        .await;
    assert_eq!(told, scene.room);
    for ws in [host, guest, keyed, moderator, notices] {
        ws.close().await;
    }
}

#[tokio::test]
async fn only_test_cards_pay_in_a_rehearsal_and_its_orders_are_flagged_and_take_no_stock() {
    let app = TestApp::spawn().await;
    let scene = app.scheduled_room(&[5], "EUR").await;
    let product = scene.products[0];
    let rehearsal = rehearse(&app, scene.room, &scene.creator).await;
    let (mut ws, buyer) = rehearsal_shopper(&app, &rehearsal, product, 2).await;

    // Refused before anything is held: each time with the same key, which stays unused.
    let refused = [
        (checkout("r-1", "4111 1111 1111 1111"), "test_card_required"),
        (
            ClientMsg::Checkout {
                idempotency_key: "r-1".to_owned().try_into().unwrap(),
                card: None,
                payment: Some(livecart::domain::PaymentSource::Saved),
                save: None,
                shipping: None,
                promo_code: None,
            },
            "test_card_required",
        ),
        (
            ClientMsg::Checkout {
                idempotency_key: "r-1".to_owned().try_into().unwrap(),
                card: Some(TestCards::SUCCEEDS.to_owned().try_into().unwrap()),
                payment: None,
                save: Some(true),
                shipping: None,
                promo_code: None,
            },
            "invalid_input",
        ),
        (
            ClientMsg::Checkout {
                idempotency_key: "r-1".to_owned().try_into().unwrap(),
                card: Some(TestCards::SUCCEEDS.to_owned().try_into().unwrap()),
                payment: None,
                save: None,
                shipping: None,
                promo_code: Some("MAYA10".to_owned().try_into().unwrap()),
            },
            "promo_code_not_applicable",
        ),
    ];
    for (msg, code) in refused {
        ws.send(&msg).await;
        assert_eq!(ws.checkout_outcome().await.map(|o| o.id), Err(code.to_owned()));
    }
    assert_eq!(app.stock(product).await, 5, "nothing was held");
    // The same over REST.
    let body = json!({"idempotency_key": "r-1", "card": "4111111111111111"});
    let (status, answer) = app
        .send(Method::POST, &path(routes::ROOM_CHECKOUT, &[rehearsal.room.id.get()]), Some(&buyer.token), Some(&body))
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("test_card_required"))
    );

    // A test card behaves as its table says.
    ws.send(&checkout("r-declined", TestCards::DECLINES)).await;
    assert_eq!(ws.checkout_outcome().await.map(|o| o.id), Err("payment_declined".to_owned()));
    ws.send(&checkout("r-1", TestCards::SUCCEEDS)).await;
    let order = ws.checkout_outcome().await.expect("a test card pays");
    assert!(order.rehearsal, "{order:?}");
    assert_eq!((order.room_id, order.lines[0].quantity), (rehearsal.room.id, 2));

    // Flagged in the buyer's order views.
    let one: OrderView = app.get(&path(routes::ORDER, &[order.id.get()]), Some(&buyer.token)).await;
    assert!(one.rehearsal);
    let mine: Vec<OrderView> = app.get(routes::ORDERS, Some(&buyer.token)).await;
    assert!(mine.iter().any(|o| o.id == order.id && o.rehearsal), "{mine:?}");

    // No real stock moved: not in the catalogue, not in the database.
    assert_eq!(app.stock(product).await, 5);
    assert_eq!(app.state.store.product(product).await.unwrap().unwrap().stock, 5);
    // The rehearsal's own show sells: a late joiner sees its sale.
    let (_, snapshot) = app.viewer(rehearsal.room.id, Some(&scene.creator.token)).await;
    assert_eq!(snapshot.units_sold, 2);

    // An order of the show is a real one, and takes stock.
    let _: RoomView = app.post(&path(routes::ROOM_GO_LIVE, &[scene.room.get()]), Some(&scene.creator.token), &()).await;
    let (mut real, _) = app.shopper(scene.room, product, 1).await;
    real.send(&checkout("real-1", TestCards::SUCCEEDS)).await;
    assert!(!real.checkout_outcome().await.expect("paid").rehearsal);
    assert_eq!(app.stock(product).await, 4);
}

#[tokio::test]
async fn a_rehearsal_drop_sells_its_own_units_and_never_the_products_stock() {
    let app = TestApp::spawn().await;
    let scene = app.scheduled_room(&[5], "EUR").await;
    let product = scene.products[0];
    let rehearsal = rehearse(&app, scene.room, &scene.creator).await;
    let (mut host, _) = app.viewer(rehearsal.room.id, Some(&scene.creator.token)).await;
    host.send(&ClientMsg::StartDrop {
        product_id: product,
        quantity: 2,
        price: Some(500),
        duration_secs: 600,
        per_buyer: None,
    })
    .await;
    host.recv_until(|m| match m {
        ServerMsg::Event { event: livecart::wire::ws::RoomEvent::DropStarted { .. }, .. } => Some(()),
        ServerMsg::Error { code, .. } => panic!("start_drop: {code}"),
        _ => None,
    })
    .await;
    let mut outcomes = Vec::new();
    for (n, quantity) in [3, 1, 1, 1].into_iter().enumerate() {
        if n == 3 {
            // Sold out, the drop ends (whichever node ends it): then the catalogue price.
            host.recv_until(|m| match m {
                ServerMsg::Event { event: livecart::wire::ws::RoomEvent::DropEnded { .. }, .. } => Some(()),
                _ => None,
            })
            .await;
        }
        let (mut ws, _) = rehearsal_shopper(&app, &rehearsal, product, quantity).await;
        ws.send(&checkout(&format!("drop-{n}"), TestCards::SUCCEEDS)).await;
        outcomes.push(ws.checkout_outcome().await.map(|o| (o.rehearsal, o.lines[0].unit_price)));
    }
    assert_eq!(
        outcomes,
        [
            Err("sold_out".to_owned()), // more than the drop's two units
            Ok((true, 500)),
            Ok((true, 500)),
            Ok((true, 1_000)), // the drop is over: the catalogue price again
        ]
    );
    assert_eq!(app.stock(product).await, 5, "the product's stock never moved");
}

#[tokio::test]
async fn rehearsal_orders_count_in_no_report_order_list_earnings_or_ledger() {
    let app = TestApp::spawn().await;
    // The rehearsal sells 2 units, then the show 1.
    let scene = app.scheduled_room(&[10], "EUR").await;
    let product = scene.products[0];
    let rehearsal = rehearse(&app, scene.room, &scene.creator).await;
    let (mut ws, _) = rehearsal_shopper(&app, &rehearsal, product, 2).await;
    ws.send(&checkout("rehearsed", TestCards::SUCCEEDS)).await;
    let rehearsed = ws.checkout_outcome().await.expect("paid in the rehearsal");
    let _: RoomView = app.post(&path(routes::ROOM_GO_LIVE, &[scene.room.get()]), Some(&scene.creator.token), &()).await;
    let (mut ws, _) = app.shopper(scene.room, product, 1).await;
    ws.send(&checkout("real", TestCards::SUCCEEDS)).await;
    let real = ws.checkout_outcome().await.expect("paid in the show");
    let (host, brand) = (&scene.creator, &scene.brand);
    let one_order = |f: &livecart::wire::report::Figures| (f.orders, f.units, f.gmv.amount, f.buyers);

    // Reports: the creator's, the brand's and the show's count the show's order only.
    let creator: CreatorReport = report(&app, routes::CREATOR_REPORT, host.account.id.get(), &host.token, "").await;
    assert_eq!(one_order(&creator.figures), (1, 1, 1_000, 1));
    assert_eq!(creator.figures.commission.accrued.amount, 100);
    assert_eq!(creator.rooms.iter().map(|r| r.room.id).collect::<Vec<_>>(), [scene.room], "no rehearsal row");
    let by_brand: BrandReport = report(&app, routes::BRAND_REPORT, scene.brand_id.get(), &brand.token, "").await;
    assert_eq!(one_order(&by_brand.figures), (1, 1, 1_000, 1));
    let show: RoomReport = report(&app, routes::ROOM_REPORT, scene.room.get(), &host.token, "").await;
    assert_eq!(one_order(&show.figures), (1, 1, 1_000, 1));
    // A rehearsal has no report of its own.
    let (status, _, _) = get_raw(&app, &path(routes::ROOM_REPORT, &[rehearsal.room.id.get()]), Some(&host.token)).await;
    assert_eq!(status, 404);
    // Nor does it count in CSV.
    let csv = format!("{}?format=csv", path(routes::CREATOR_REPORT, &[host.account.id.get()]));
    let (status, _, body) = get_raw(&app, &csv, Some(&host.token)).await;
    assert_eq!(status, 200, "{body}");
    let rows = parse_csv(&body);
    let col = |name: &str| rows[0].iter().position(|h| h == name).unwrap();
    assert_eq!((rows[1][col("orders")].as_str(), rows[1][col("gmv")].as_str()), ("1", "1000"));
    assert_eq!(rows.len(), 3, "header, totals, the show: {body}");

    // Order lists and earnings: the show's order only.
    let orders: CreatorOrders =
        app.get(&path(routes::CREATOR_ORDERS, &[host.account.id.get()]), Some(&host.token)).await;
    assert_eq!(orders.orders.iter().map(|o| o.id).collect::<Vec<_>>(), [real.id]);
    assert_eq!(orders.earnings.iter().map(|e| (e.orders, e.sales.amount)).collect::<Vec<_>>(), [(1, 1_000)]);
    let ledger: Vec<CommissionBalance> =
        app.get(&path(routes::CREATOR_EARNINGS, &[host.account.id.get()]), Some(&host.token)).await;
    assert_eq!(ledger.iter().map(|b| b.accrued.amount).collect::<Vec<_>>(), [100], "no payout for a rehearsal");
    let brand_orders: Vec<Value> =
        app.get(&path(routes::BRAND_ORDERS, &[scene.brand_id.get()]), Some(&brand.token)).await;
    assert_eq!(brand_orders.iter().map(|o| o["id"].clone()).collect::<Vec<_>>(), [json!(real.id)]);

    // Nothing to refund, and no campaign takes a rehearsal.
    let body = json!({"idempotency_key": "rehearsal-refund"});
    let (status, answer) = app
        .send(Method::POST, &path(routes::ORDER_REFUNDS, &[rehearsed.id.get()]), Some(&brand.token), Some(&body))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    let agreements: Vec<Value> = app.get(routes::AGREEMENTS, Some(&brand.token)).await;
    let campaign = json!({"name": "Spring", "budget": {"amount": 10_000, "currency": "EUR"},
        "agreement_ids": [agreements[0]["id"]], "room_ids": [rehearsal.room.id]});
    let (status, answer) = app.send(Method::POST, routes::CAMPAIGNS, Some(&brand.token), Some(&campaign)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");

    // Stock: the show's unit only.
    assert_eq!(app.stock(scene.products[0]).await, 9);
}

#[tokio::test]
async fn the_brands_sales_feed_never_hears_of_a_rehearsal_sale() {
    let app = TestApp::spawn().await;
    let scene = app.scheduled_room(&[10], "EUR").await;
    let mut feed = app.ws().await;
    feed.send(&ClientMsg::FollowSales { token: scene.brand.token.clone() }).await;
    feed.recv_until(|m| matches!(m, ServerMsg::FollowingSales { .. }).then_some(())).await;
    let product = scene.products[0];
    let rehearsal = rehearse(&app, scene.room, &scene.creator).await;
    let (mut ws, _) = rehearsal_shopper(&app, &rehearsal, product, 2).await;
    ws.send(&checkout("rehearsed", TestCards::SUCCEEDS)).await;
    assert!(ws.checkout_outcome().await.expect("paid in the rehearsal").rehearsal);
    let _: RoomView = app.post(&path(routes::ROOM_GO_LIVE, &[scene.room.get()]), Some(&scene.creator.token), &()).await;
    let (mut ws, _) = app.shopper(scene.room, product, 1).await;
    ws.send(&checkout("real", TestCards::SUCCEEDS)).await;
    let real = ws.checkout_outcome().await.expect("paid in the show");
    // The rehearsal's sale came first: had it reached the feed, it would be first.
    let first = feed
        .recv_until(|m| match m {
            ServerMsg::BrandSale(sale) => Some(sale.order_id),
            _ => None,
        })
        .await;
    assert_eq!(first, real.id);
}

/// Whatever provider the server runs, a rehearsal is paid by the test cards: here Stripe
/// cannot even be reached, and the rehearsal still sells.
#[tokio::test]
async fn a_rehearsal_pays_with_test_cards_on_a_stripe_server() {
    let mut config = test_config();
    config.payments = PaymentsChoice::Stripe;
    config.stripe_api = "http://127.0.0.1:9".into();
    config.stripe_secret_key = Some(Secret("sk_test_livecart".into()));
    config.stripe_webhook_secret = Some(Secret("whsec_livecart_test".into()));
    let app = TestApp::spawn_with(config, Clock::system()).await;
    let scene = app.scheduled_room(&[5], "EUR").await;
    let rehearsal = rehearse(&app, scene.room, &scene.creator).await;
    let (mut ws, _) = rehearsal_shopper(&app, &rehearsal, scene.products[0], 1).await;
    ws.send(&checkout("on-stripe", TestCards::SUCCEEDS)).await;
    let order = ws.checkout_outcome().await.expect("the test cards pay");
    assert!(order.rehearsal);
    let charge = app.state.store.charge_of(order.id).await.unwrap().expect("a charge in the ledger");
    assert_eq!(charge.provider, "test_cards");
}

/// Scaled out, Redis's inventory is rebuilt from the placed orders when it is lost: a
/// rehearsal's order waiting for its payment holds no product stock there either.
#[tokio::test]
async fn a_rebuilt_inventory_holds_no_stock_for_a_rehearsals_order() {
    let app = TestApp::spawn().await;
    let scene = app.scheduled_room(&[5], "EUR").await;
    let product = scene.products[0];
    let rehearsal = rehearse(&app, scene.room, &scene.creator).await;
    let (mut rehearsing, _) = rehearsal_shopper(&app, &rehearsal, product, 2).await;
    // Unanswered on its first attempt: the order stays placed, its hold kept.
    rehearsing.send(&checkout("waiting", TestCards::FAILS_ONCE)).await;
    assert_eq!(rehearsing.checkout_outcome().await.map(|o| o.id), Err("payment_unavailable".to_owned()));
    let _: RoomView = app.post(&path(routes::ROOM_GO_LIVE, &[scene.room.get()]), Some(&scene.creator.token), &()).await;
    let (mut real, _) = app.shopper(scene.room, product, 1).await;
    app.lose_redis().await;
    // The show's checkout finds the inventory lost and rebuilds it from the placed orders:
    // its unit is the only one taken from the product.
    real.send(&checkout("real", TestCards::SUCCEEDS)).await;
    assert!(!real.checkout_outcome().await.expect("paid").rehearsal);
    assert_eq!(app.stock(product).await, 4, "nothing of the product is held for the rehearsal");
    // The retry finishes the same rehearsal order, still without taking stock.
    rehearsing.send(&checkout("waiting", TestCards::FAILS_ONCE)).await;
    assert!(rehearsing.checkout_outcome().await.expect("the retry pays").rehearsal);
    assert_eq!(app.stock(product).await, 4);
}
