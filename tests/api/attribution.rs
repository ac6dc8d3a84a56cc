//! Attribution beyond the host: promo codes (the discount, its uses under concurrency,
//! every refusal), the REST checkout, a co-host's share of the commission through the
//! ledger and refunds, and the sponsorship disclosure in the room card and snapshot.

use crate::helpers::{Client, TestApp, WAIT, Ws, test_config};
use crate::nodes::Cluster;
use livecart::commerce::payments::TestCards;
use livecart::domain::{AccountId, BrandId, Clock, OrderId, ProductId, Role, RoomId, UnixMs};
use livecart::store::CommissionKind;
use livecart::wire::api::{
    AgreementView, AttributedOrder, CommissionBalance, CreatorOrders, PromoCodeStatus, PromoCodeView, RefundView,
    RoomView, SessionResponse, ShareRole,
};
use livecart::wire::routes::{self, path};
use livecart::wire::ws::{ClientMsg, CoHostCard, OrderStatus, OrderView, RoomEvent, ServerMsg};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

const START: UnixMs = UnixMs(1_800_000_000_000);

// ---------------------------------------------------------------------------------------
// The scene
// ---------------------------------------------------------------------------------------

async fn new_brand(app: &Client, name: &str) -> (SessionResponse, BrandId) {
    let brand = app.register(Role::Brand, "Brand team", Some(name)).await;
    let id = brand.account.brand_id.expect("brand id");
    (brand, id)
}

async fn new_product(app: &Client, brand: &SessionResponse, title: &str, price: i64, stock: i64) -> ProductId {
    let req = json!({"title": title, "price": price, "currency": "EUR", "stock": stock});
    let route = path(routes::BRAND_PRODUCTS, &[brand.account.brand_id.unwrap().get()]);
    let product: livecart::wire::api::Product = app.post(&route, Some(&brand.token), &req).await;
    product.card.id
}

/// An agreement between the token's brand and `creator` for `product`.
async fn agree(
    app: &Client,
    brand: &SessionResponse,
    creator: AccountId,
    product: ProductId,
    terms: Value,
) -> AgreementView {
    let mut req = json!({"creator_id": creator, "product_id": product});
    for (k, v) in terms.as_object().expect("terms") {
        req[k] = v.clone();
    }
    app.post(routes::AGREEMENTS, Some(&brand.token), &req).await
}

async fn room(app: &Client, host: &SessionResponse, products: &[ProductId], live: bool) -> RoomId {
    let req = json!({"title": "Attribution test", "starts_at": 0, "product_ids": products});
    let room: RoomView = app.post(routes::ROOMS, Some(&host.token), &req).await;
    if live {
        let _: RoomView = app.post(&path(routes::ROOM_GO_LIVE, &[room.id.get()]), Some(&host.token), &()).await;
    }
    room.id
}

/// A brand selling `prices` (units of stock 100 each) through a host with a 10%
/// agreement for each, in the host's live room.
struct Shop {
    brand: SessionResponse,
    host: SessionResponse,
    products: Vec<ProductId>,
    room: RoomId,
}

async fn shop(app: &Client, prices: &[i64]) -> Shop {
    let (brand, _) = new_brand(app, "Glow Labs").await;
    let host = app.register(Role::Creator, "Maya", None).await;
    let mut products = Vec::new();
    for (i, price) in prices.iter().enumerate() {
        let p = new_product(app, &brand, &format!("Product {i}"), *price, 100).await;
        agree(app, &brand, host.account.id, p, json!({"commission_bps": 1_000})).await;
        products.push(p);
    }
    let room = room(app, &host, &products, true).await;
    Shop { brand, host, products, room }
}

async fn issue(app: &Client, brand: &SessionResponse, body: Value) -> PromoCodeView {
    let (status, answer) = app.send(Method::POST, routes::PROMO_CODES, Some(&brand.token), Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "issuing {body}: {answer}");
    serde_json::from_value(answer).expect("a promo code")
}

async fn code_named(app: &Client, token: &str, code: &str) -> PromoCodeView {
    let codes: Vec<PromoCodeView> = app.get(routes::PROMO_CODES, Some(token)).await;
    codes.into_iter().find(|c| c.code == code).unwrap_or_else(|| panic!("no code {code}"))
}

fn checkout_with(key: &str, card: &str, code: Option<&str>) -> ClientMsg {
    ClientMsg::Checkout {
        idempotency_key: key.to_owned().try_into().unwrap(),
        card: Some(card.to_owned().try_into().unwrap()),
        payment: None,
        save: None,
        shipping: None,
        promo_code: code.map(|c| c.try_into().expect("a well-formed code")),
    }
}

/// A new signed-in viewer in `room` with these units in the cart.
async fn buyer(app: &Client, room: RoomId, cart: &[(ProductId, i64)]) -> (Ws, SessionResponse) {
    let buyer = app.register(Role::Viewer, "Buyer", None).await;
    let (mut ws, _) = app.viewer(room, Some(&buyer.token)).await;
    for (product, quantity) in cart {
        ws.send(&ClientMsg::CartAdd { product_id: *product, quantity: *quantity }).await;
        ws.recv_until(|m| match m {
            ServerMsg::Cart { .. } => Some(()),
            ServerMsg::Error { code, .. } => panic!("cart_add failed: {code}"),
            _ => None,
        })
        .await;
    }
    (ws, buyer)
}

async fn pay(ws: &mut Ws, key: &str, code: Option<&str>) -> OrderView {
    ws.send(&checkout_with(key, TestCards::SUCCEEDS, code)).await;
    ws.checkout_outcome().await.unwrap_or_else(|e| panic!("checkout {key} with {code:?}: {e}"))
}

async fn earnings(app: &Client, creator: &SessionResponse) -> CommissionBalance {
    let route = path(routes::CREATOR_EARNINGS, &[creator.account.id.get()]);
    let mut balances: Vec<CommissionBalance> = app.get(&route, Some(&creator.token)).await;
    assert_eq!(balances.len(), 1, "one currency: {balances:?}");
    balances.remove(0)
}

async fn refund(app: &Client, brand: &SessionResponse, order: OrderId, key: &str, lines: Value) -> RefundView {
    let body = json!({"idempotency_key": key, "lines": lines});
    let route = path(routes::ORDER_REFUNDS, &[order.get()]);
    let (status, answer) = app.send(Method::POST, &route, Some(&brand.token), Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "refund {body}: {answer}");
    serde_json::from_value(answer).expect("a refund")
}

/// The next `room_updated` event on this connection: (co-host, disclosure).
async fn room_updated(ws: &mut Ws) -> (Option<CoHostCard>, Option<String>) {
    ws.recv_until(|m| match m {
        ServerMsg::Event { event: RoomEvent::RoomUpdated { co_host, disclosure }, .. } => Some((co_host, disclosure)),
        _ => None,
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Promo codes
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_percent_code_takes_its_share_off_each_eligible_unit_and_commission_follows_the_price_paid() {
    let app = TestApp::spawn().await;
    let shop = shop(&app, &[999, 1_000]).await;
    let (serum, balm) = (shop.products[0], shop.products[1]);
    let body = json!({"code": "glow15", "creator_id": shop.host.account.id, "percent_off": 15, "product_ids": [serum]});
    let code = issue(&app, &shop.brand, body).await;
    assert_eq!((code.code.as_str(), code.uses, code.status), ("GLOW15", 0, PromoCodeStatus::Live));

    let (mut ws, buyer) = buyer(&app, shop.room, &[(serum, 3), (balm, 1)]).await;
    let order = pay(&mut ws, "pct-1", Some("Glow15")).await;
    // 15% of 999 is 149.85: 149 off each serum, 850 paid; the balm is not the code's.
    let serum_line = order.lines.iter().find(|l| l.product_id == serum).unwrap();
    let balm_line = order.lines.iter().find(|l| l.product_id == balm).unwrap();
    assert_eq!((serum_line.list_price, serum_line.unit_price, serum_line.line_total), (999, 850, 2_550));
    assert_eq!((balm_line.list_price, balm_line.unit_price, balm_line.line_total), (1_000, 1_000, 1_000));
    assert_eq!((serum_line.commission, balm_line.commission), (255, 100), "10% of what was paid");
    assert_eq!(order.subtotal.amount, 3_550);
    assert_eq!(order.discount.amount, 447);
    assert_eq!(order.commission.amount, 355);
    assert_eq!((order.promo_code.as_deref(), order.promo_code_id), (Some("GLOW15"), Some(code.id)));

    // The buyer's, the brand's and the host's views all say so.
    let mine: Vec<OrderView> = app.get(routes::ORDERS, Some(&buyer.token)).await;
    assert_eq!(mine, vec![order.clone()]);
    let brand_route = path(routes::BRAND_ORDERS, &[shop.brand.account.brand_id.unwrap().get()]);
    let sold: Vec<AttributedOrder> = app.get(&brand_route, Some(&shop.brand.token)).await;
    assert_eq!((sold[0].promo_code.as_deref(), sold[0].discount.amount), (Some("GLOW15"), 447));
    assert_eq!(sold[0].lines.iter().map(|l| l.list_price).collect::<Vec<_>>(), [999, 1_000]);
    let host_route = path(routes::CREATOR_ORDERS, &[shop.host.account.id.get()]);
    let hosted: CreatorOrders = app.get(&host_route, Some(&shop.host.token)).await;
    let shares = &hosted.orders[0].shares;
    assert_eq!(shares.len(), 1, "no co-host: one share");
    assert_eq!((shares[0].role, shares[0].share_bps, shares[0].commission.amount), (ShareRole::Host, 10_000, 355));
    assert_eq!(shares[0].rule_version, "cohost-v1");

    // The ledger accrues on the discounted lines; the code counts one use and redemption.
    let ledger = app.state.store.commission_entries(order.id).await.unwrap();
    let mut accrued: Vec<i64> = ledger.iter().filter(|e| e.kind == CommissionKind::Accrued).map(|e| e.amount).collect();
    accrued.sort_unstable();
    assert_eq!(accrued, [100, 255]);
    let seen = code_named(&app, &shop.brand.token, "GLOW15").await;
    assert_eq!((seen.uses, seen.redemptions), (1, 1));
    let issued_to_host = code_named(&app, &shop.host.token, "GLOW15").await;
    assert_eq!(issued_to_host.id, code.id);

    // A refund gives back exactly what was paid for the units.
    let refunded = refund(&app, &shop.brand, order.id, "r1", json!([{"product_id": serum, "quantity": 2}])).await;
    assert_eq!(refunded.amount.amount, 1_700);

    // The redemption reaches the event log, with the code's id.
    let db = analytics_db(&app).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let found: Vec<(i64, i64)> =
            sqlx::query_as("select order_id, value from analytics_events where kind = 'promo_redeemed'")
                .fetch_all(&db)
                .await
                .unwrap();
        if !found.is_empty() {
            assert_eq!(found, [(order.id.get(), code.id.get())]);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "promo_redeemed was never recorded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn analytics_db(app: &TestApp) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(&app.state.config.database_url).await.expect("a second database connection")
}

#[tokio::test]
async fn an_amount_code_takes_a_sum_off_each_unit_never_below_zero_and_drop_prices_too() {
    let app = TestApp::spawn().await;
    let shop = shop(&app, &[1_000, 250]).await;
    let (big, small) = (shop.products[0], shop.products[1]);
    let body =
        json!({"code": "MINUS3", "creator_id": shop.host.account.id, "amount_off": 300, "product_ids": [big, small]});
    let code = issue(&app, &shop.brand, body).await;
    assert_eq!(code.amount_off.map(|m| (m.amount, m.currency.to_string())), Some((300, "EUR".into())));

    let (mut ws, _) = buyer(&app, shop.room, &[(big, 2), (small, 1)]).await;
    let order = pay(&mut ws, "amt-1", Some("minus3")).await;
    let line = |p| order.lines.iter().find(|l| l.product_id == p).unwrap().clone();
    assert_eq!((line(big).unit_price, line(big).line_total, line(big).commission), (700, 1_400, 140));
    assert_eq!((line(small).list_price, line(small).unit_price, line(small).commission), (250, 0, 0));
    assert_eq!((order.subtotal.amount, order.discount.amount), (1_400, 850));

    // A drop's price is the price the code applies to.
    let (mut host, _) = app.viewer(shop.room, Some(&shop.host.token)).await;
    host.send(&ClientMsg::StartDrop {
        product_id: big,
        quantity: 5,
        price: Some(500),
        duration_secs: 600,
        per_buyer: None,
    })
    .await;
    host.recv_until(|m| matches!(m, ServerMsg::Event { event: RoomEvent::DropStarted { .. }, .. }).then_some(())).await;
    let (mut ws, _) = buyer(&app, shop.room, &[(big, 1)]).await;
    let order = pay(&mut ws, "amt-drop", Some("MINUS3")).await;
    assert_eq!((order.lines[0].list_price, order.lines[0].unit_price), (500, 200));
    assert!(order.lines[0].drop_id.is_some());
    assert_eq!(order.discount.amount, 300);
}

#[tokio::test]
async fn codes_that_cannot_be_used_are_refused_with_their_own_code_and_change_nothing() {
    let clock = Clock::manual(START);
    let app = TestApp::spawn_with(test_config(), clock.clone()).await;
    let shop = shop(&app, &[1_000, 1_000]).await;
    let (serum, balm) = (shop.products[0], shop.products[1]);
    let other = app.register(Role::Creator, "Other creator", None).await;
    agree(&app, &shop.brand, other.account.id, serum, json!({"commission_bps": 500})).await;
    let host = shop.host.account.id;
    let code = |code: &str, extra: Value| {
        let mut body = json!({"code": code, "creator_id": host, "percent_off": 10, "product_ids": [serum]});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    issue(&app, &shop.brand, code("EXPIRING", json!({"expires_at": START.0 + 60_000}))).await;
    let revoked = issue(&app, &shop.brand, code("REVOKED", json!({}))).await;
    issue(&app, &shop.brand, code("ONCE", json!({"max_uses": 1}))).await;
    issue(&app, &shop.brand, code("OTHERS", json!({"creator_id": other.account.id}))).await;
    issue(&app, &shop.brand, code("BALMONLY", json!({"product_ids": [balm]}))).await;
    let route = path(routes::PROMO_CODE, &[revoked.id.get()]);
    let (status, _) = app.send(Method::DELETE, &route, Some(&shop.brand.token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app.send(Method::DELETE, &route, Some(&shop.brand.token), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")));

    let (mut first, _) = buyer(&app, shop.room, &[(serum, 1)]).await;
    pay(&mut first, "once", Some("ONCE")).await;
    clock.advance(Duration::from_secs(61));

    let (mut ws, who) = buyer(&app, shop.room, &[(serum, 2)]).await;
    let stock = app.stock(serum).await;
    let uses = |name: &'static str| {
        let app = &app;
        async move { app.state.store.promo_code_named(name).await.unwrap().map(|c| c.uses) }
    };
    let before = [uses("EXPIRING").await, uses("REVOKED").await, uses("ONCE").await, uses("OTHERS").await];
    for (code, expected) in [
        ("NOPE99", "promo_code_invalid"),
        ("revoked", "promo_code_invalid"),
        ("Expiring", "promo_code_expired"),
        ("once", "promo_code_used_up"),
        ("OTHERS", "promo_code_not_applicable"),
        ("balmonly", "promo_code_not_applicable"),
    ] {
        ws.send(&checkout_with(&format!("refused-{code}"), TestCards::SUCCEEDS, Some(code))).await;
        assert_eq!(ws.checkout_outcome().await.unwrap_err(), expected, "code {code}");
    }
    // Over REST too, with the same code and status.
    let body = json!({"idempotency_key": "rest-expired", "card": TestCards::SUCCEEDS, "promo_code": "EXPIRING"});
    let route = path(routes::ROOM_CHECKOUT, &[shop.room.get()]);
    let (status, answer) = app.send(Method::POST, &route, Some(&who.token), Some(&body)).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("promo_code_expired"))
    );
    assert!(answer["error"]["message"].as_str().unwrap().contains("expired"), "{answer}");
    // A code that is not even well-formed is refused on decoding.
    ws.send_invalid(r#"{"type":"checkout","idempotency_key":"bad","card":"4242424242424242","promo_code":"a b"}"#)
        .await;
    assert_eq!(ws.error_code().await, "invalid_input");

    // Nothing changed: no order, no stock held, no use taken; the cart is still there.
    let orders: Vec<OrderView> = app.get(routes::ORDERS, Some(&who.token)).await;
    assert!(orders.is_empty(), "{orders:?}");
    assert_eq!(app.stock(serum).await, stock);
    let after = [uses("EXPIRING").await, uses("REVOKED").await, uses("ONCE").await, uses("OTHERS").await];
    assert_eq!(before, after);
    assert_eq!(code_named(&app, &shop.brand.token, "EXPIRING").await.status, PromoCodeStatus::Expired);
    assert_eq!(code_named(&app, &shop.brand.token, "ONCE").await.status, PromoCodeStatus::UsedUp);
    assert_eq!(code_named(&app, &shop.brand.token, "REVOKED").await.status, PromoCodeStatus::Revoked);
    let order = pay(&mut ws, "refused-NOPE99", None).await;
    assert_eq!((order.lines[0].quantity, order.discount.amount), (2, 0), "the same key, never used, buys the cart");
}

#[tokio::test]
async fn issuing_a_code_checks_who_for_whom_what_and_how_many() {
    let app = TestApp::spawn().await;
    let shop = shop(&app, &[1_000]).await;
    let serum = shop.products[0];
    let (other_brand, _) = new_brand(&app, "Other brand").await;
    let foreign = new_product(&app, &other_brand, "Foreign", 1_000, 5).await;
    let stranger = app.register(Role::Creator, "Stranger", None).await;
    let viewer = app.register(Role::Viewer, "Viewer", None).await;
    let host = shop.host.account.id;
    let base = json!({"code": "BASE10", "creator_id": host, "percent_off": 10, "product_ids": [serum]});
    let with = |changes: Value| {
        let mut body = base.clone();
        for (k, v) in changes.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let cases = [
        (&shop.host, with(json!({})), 403, "forbidden"),
        (&shop.brand, with(json!({"code": "no"})), 400, "invalid_input"),
        (&shop.brand, with(json!({"code": "NO WAY"})), 400, "invalid_input"),
        (&shop.brand, with(json!({"percent_off": 0})), 400, "invalid_input"),
        (&shop.brand, with(json!({"percent_off": 101})), 400, "invalid_input"),
        (&shop.brand, with(json!({"amount_off": 100})), 400, "invalid_input"),
        (&shop.brand, with(json!({"percent_off": null})), 400, "invalid_input"),
        (&shop.brand, with(json!({"percent_off": null, "amount_off": 0})), 400, "invalid_input"),
        (&shop.brand, with(json!({"product_ids": []})), 400, "invalid_input"),
        (&shop.brand, with(json!({"product_ids": [serum, serum]})), 400, "invalid_input"),
        (&shop.brand, with(json!({"product_ids": [999_999]})), 400, "invalid_input"),
        (&shop.brand, with(json!({"product_ids": [serum, foreign]})), 403, "forbidden"),
        (&shop.brand, with(json!({"max_uses": 0})), 400, "invalid_input"),
        (&shop.brand, with(json!({"expires_at": 1_000})), 400, "invalid_input"),
        (&shop.brand, with(json!({"creator_id": viewer.account.id})), 400, "invalid_input"),
        (&shop.brand, with(json!({"creator_id": 999_999})), 404, "not_found"),
        (&shop.brand, with(json!({"creator_id": stranger.account.id})), 409, "conflict"),
    ];
    for (who, body, status, code) in cases {
        let (got, answer) = app.send(Method::POST, routes::PROMO_CODES, Some(&who.token), Some(&body)).await;
        assert_eq!((got.as_u16(), answer["error"]["code"].as_str()), (status, Some(code)), "{body}: {answer}");
    }
    let (status, _) = app.send(Method::POST, routes::PROMO_CODES, None, Some(&base)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(app.state.store.promo_code_named("BASE10").await.unwrap().is_none(), "nothing was issued");

    issue(&app, &shop.brand, base.clone()).await;
    // Codes are one namespace, case-insensitive, across brands.
    agree(&app, &other_brand, host, foreign, json!({"commission_bps": 100})).await;
    let clash = json!({"code": "base10", "creator_id": host, "percent_off": 5, "product_ids": [foreign]});
    let (status, answer) = app.send(Method::POST, routes::PROMO_CODES, Some(&other_brand.token), Some(&clash)).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")), "{answer}");

    // Who sees which codes.
    let brand_codes: Vec<PromoCodeView> = app.get(routes::PROMO_CODES, Some(&shop.brand.token)).await;
    let other_codes: Vec<PromoCodeView> = app.get(routes::PROMO_CODES, Some(&other_brand.token)).await;
    let stranger_codes: Vec<PromoCodeView> = app.get(routes::PROMO_CODES, Some(&stranger.token)).await;
    assert_eq!((brand_codes.len(), other_codes.len(), stranger_codes.len()), (1, 0, 0));
    let admin = app.admin("Admin").await;
    let all: Vec<PromoCodeView> = app.get(routes::PROMO_CODES, Some(&admin.token)).await;
    assert_eq!(all.len(), 1);
    let (status, _) = app.send(Method::GET, routes::PROMO_CODES, Some(&viewer.token), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let route = path(routes::PROMO_CODE, &[brand_codes[0].id.get()]);
    let (status, _) = app.send(Method::DELETE, &route, Some(&other_brand.token), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only the issuing brand revokes");
}

#[tokio::test]
async fn a_brand_holds_a_bounded_number_of_live_codes() {
    let app = TestApp::spawn().await;
    let shop = shop(&app, &[1_000]).await;
    let limit = livecart::commerce::promo::MAX_LIVE_CODES_PER_BRAND;
    let brand = shop.brand.account.brand_id.unwrap();
    // Issued through the store to keep the test quick; the bound is the store's too.
    for n in 0..limit {
        let new = livecart::store::NewPromo {
            code: &format!("BULK{n}"),
            brand,
            creator: shop.host.account.id,
            percent_off: Some(5),
            amount_off: None,
            currency: None,
            max_uses: None,
            expires_at: None,
            products: &shop.products,
        };
        let created = app.state.store.create_promo_code(&new, limit, UnixMs(0)).await.unwrap();
        assert!(matches!(created, livecart::store::PromoCreated::Created(_)), "code {n}");
    }
    let body =
        json!({"code": "ONEMORE", "creator_id": shop.host.account.id, "percent_off": 5, "product_ids": shop.products});
    let (status, answer) = app.send(Method::POST, routes::PROMO_CODES, Some(&shop.brand.token), Some(&body)).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")), "{answer}");
    let listed: Vec<PromoCodeView> = app.get(routes::PROMO_CODES, Some(&shop.brand.token)).await;
    assert_eq!(listed.len() as i64, limit);
    // A revoked code makes room for a new one.
    let route = path(routes::PROMO_CODE, &[listed[0].id.get()]);
    let (status, _) = app.send(Method::DELETE, &route, Some(&shop.brand.token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    issue(&app, &shop.brand, body).await;
}

#[tokio::test]
async fn a_code_is_never_used_more_than_its_max_uses_under_concurrent_checkouts() {
    let app = TestApp::spawn().await;
    let shop = shop(&app, &[1_000]).await;
    let serum = shop.products[0];
    let body = json!({"code": "FIRST3", "creator_id": shop.host.account.id, "percent_off": 50, "max_uses": 3, "product_ids": [serum]});
    issue(&app, &shop.brand, body).await;
    let mut buyers = Vec::new();
    for _ in 0..12 {
        buyers.push(buyer(&app, shop.room, &[(serum, 1)]).await.0);
    }
    let outcomes = futures_util::future::join_all(buyers.iter_mut().enumerate().map(|(i, ws)| async move {
        ws.send(&checkout_with(&format!("rush-{i}"), TestCards::SUCCEEDS, Some("FIRST3"))).await;
        ws.checkout_outcome().await
    }))
    .await;
    let paid: Vec<&OrderView> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(paid.len(), 3, "{outcomes:?}");
    assert!(paid.iter().all(|o| o.promo_code.as_deref() == Some("FIRST3") && o.lines[0].unit_price == 500));
    for o in &outcomes {
        if let Err(code) = o {
            assert_eq!(code, "promo_code_used_up");
        }
    }
    let code = app.state.store.promo_code_named("FIRST3").await.unwrap().unwrap();
    assert_eq!((code.uses, code.redemptions), (3, 3));
    assert_eq!(app.stock(serum).await, 97);
}

#[tokio::test]
async fn a_code_with_three_uses_hammered_over_three_nodes_is_used_exactly_three_times() {
    let Some(cluster) = Cluster::start(3).await else { return };
    let entry = cluster.node(0);
    let shop = shop(entry, &[1_000]).await;
    let serum = shop.products[0];
    let body = json!({"code": "NODES3", "creator_id": shop.host.account.id, "percent_off": 10, "max_uses": 3, "product_ids": [serum]});
    issue(entry, &shop.brand, body).await;
    let mut buyers = Vec::new();
    for i in 0..15 {
        buyers.push(buyer(cluster.node(i % 3), shop.room, &[(serum, 1)]).await.0);
    }
    let outcomes = futures_util::future::join_all(buyers.iter_mut().enumerate().map(|(i, ws)| async move {
        ws.send(&checkout_with(&format!("nodes-{i}"), TestCards::SUCCEEDS, Some("nodes3"))).await;
        ws.checkout_outcome().await
    }))
    .await;
    let paid = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(paid, 3, "{outcomes:?}");
    assert!(outcomes.iter().all(|o| o.as_ref().map_or_else(|e| e == "promo_code_used_up", |_| true)), "{outcomes:?}");
    let code = cluster.store.promo_code_named("NODES3").await.unwrap().unwrap();
    assert_eq!((code.uses, code.redemptions), (3, 3));
}

#[tokio::test]
async fn a_declined_checkout_gives_its_use_back() {
    let app = TestApp::spawn().await;
    let shop = shop(&app, &[1_000]).await;
    let serum = shop.products[0];
    let body = json!({"code": "LASTONE", "creator_id": shop.host.account.id, "percent_off": 20, "max_uses": 1, "product_ids": [serum]});
    issue(&app, &shop.brand, body).await;
    let (mut declined, _) = buyer(&app, shop.room, &[(serum, 1)]).await;
    declined.send(&checkout_with("declined", TestCards::DECLINES, Some("LASTONE"))).await;
    assert_eq!(declined.checkout_outcome().await.unwrap_err(), "payment_declined");
    assert_eq!(app.state.store.promo_code_named("LASTONE").await.unwrap().unwrap().uses, 0);
    let (mut next, _) = buyer(&app, shop.room, &[(serum, 1)]).await;
    let order = pay(&mut next, "after-decline", Some("LASTONE")).await;
    assert_eq!(order.lines[0].unit_price, 800);
    let code = app.state.store.promo_code_named("LASTONE").await.unwrap().unwrap();
    assert_eq!((code.uses, code.redemptions), (1, 1));
}

#[tokio::test]
async fn a_checkout_whose_hold_runs_out_gives_its_use_back() {
    let clock = Clock::manual(START);
    let mut config = test_config();
    config.hold_ttl = Duration::from_secs(60);
    let app = TestApp::spawn_with(config, clock.clone()).await;
    let shop = shop(&app, &[1_000]).await;
    let serum = shop.products[0];
    let body = json!({"code": "HELD", "creator_id": shop.host.account.id, "percent_off": 20, "max_uses": 1, "product_ids": [serum]});
    issue(&app, &shop.brand, body).await;
    let (mut ws, who) = buyer(&app, shop.room, &[(serum, 1)]).await;
    ws.send(&checkout_with("held", TestCards::FAILS_ONCE, Some("HELD"))).await;
    assert_eq!(ws.checkout_outcome().await.unwrap_err(), "payment_unavailable");
    assert_eq!(app.state.store.promo_code_named("HELD").await.unwrap().unwrap().uses, 1, "the placed order holds it");
    clock.advance(Duration::from_secs(61));
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let orders: Vec<OrderView> = app.get(routes::ORDERS, Some(&who.token)).await;
        if orders[0].status == OrderStatus::Cancelled {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the hold never ran out");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.state.store.promo_code_named("HELD").await.unwrap().unwrap().uses, 0);
}

#[tokio::test]
async fn the_rest_checkout_buys_the_cart_with_a_code_as_the_websocket_does() {
    let app = TestApp::spawn().await;
    let shop = shop(&app, &[1_000]).await;
    let serum = shop.products[0];
    let body = json!({"code": "REST25", "creator_id": shop.host.account.id, "percent_off": 25, "product_ids": [serum]});
    issue(&app, &shop.brand, body).await;
    let (ws, who) = buyer(&app, shop.room, &[(serum, 2)]).await;
    ws.close().await;
    let route = path(routes::ROOM_CHECKOUT, &[shop.room.get()]);
    let body = json!({"idempotency_key": "rest-1", "card": "4242 4242 4242 4242", "promo_code": "rest25"});
    let (status, answer) = app.send(Method::POST, &route, Some(&who.token), Some(&body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let order: OrderView = serde_json::from_value(answer).unwrap();
    assert_eq!(order.status, OrderStatus::Paid);
    assert_eq!((order.lines[0].unit_price, order.subtotal.amount, order.discount.amount), (750, 1_500, 500));
    assert_eq!((order.commission.amount, order.creator_id), (150, shop.host.account.id));

    // The same key replays the order, even with the cart now empty.
    let (status, again) = app.send(Method::POST, &route, Some(&who.token), Some(&body)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_value::<OrderView>(again).unwrap().id, order.id);
    // The same key with another code (or none) is another purchase.
    let other = json!({"idempotency_key": "rest-1", "card": TestCards::SUCCEEDS});
    let (status, answer) = app.send(Method::POST, &route, Some(&who.token), Some(&other)).await;
    assert_eq!((status.as_u16(), answer["error"]["code"].as_str()), (422, Some("idempotency_mismatch")));
    // An empty cart, a guest, a bad body, a room that does not exist.
    let fresh = json!({"idempotency_key": "rest-2", "card": TestCards::SUCCEEDS});
    let (status, answer) = app.send(Method::POST, &route, Some(&who.token), Some(&fresh)).await;
    assert_eq!((status.as_u16(), answer["error"]["code"].as_str()), (400, Some("cart_empty")));
    let (status, _) = app.send(Method::POST, &route, None, Some(&fresh)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, answer) = app.send(Method::POST, &route, Some(&who.token), Some(&json!({"card": "4242"}))).await;
    assert_eq!((status.as_u16(), answer["error"]["code"].as_str()), (400, Some("invalid_input")));
    let nowhere = path(routes::ROOM_CHECKOUT, &[999_999]);
    let (status, _) = app.send(Method::POST, &nowhere, Some(&who.token), Some(&fresh)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let orders: Vec<OrderView> = app.get(routes::ORDERS, Some(&who.token)).await;
    assert_eq!(orders.len(), 1);
}

/// One account runs at most two payments at once on a node, over its connections and
/// REST together: a third is refused at once, holding nothing, a connection closed does
/// not free its payment's place, and a payment that ends does.
#[tokio::test]
async fn an_account_runs_at_most_two_payments_at_once_however_it_connects() {
    let app = TestApp::spawn().await;
    let shop = shop(&app, &[1_000]).await;
    let serum = shop.products[0];
    let who = app.register(Role::Viewer, "Buyer", None).await;
    // A cart in each of three rooms, so that no checkout waits on another's cart.
    let mut rooms = vec![shop.room];
    for _ in 0..2 {
        rooms.push(room(&app, &shop.host, &[serum], true).await);
    }
    let mut connections = Vec::new();
    for &room in &rooms {
        let (mut ws, _) = app.viewer(room, Some(&who.token)).await;
        ws.send(&ClientMsg::CartAdd { product_id: serum, quantity: 1 }).await;
        ws.recv_until(|m| matches!(m, ServerMsg::Cart { .. }).then_some(())).await;
        connections.push(ws);
    }
    let checkout = |room: RoomId, key: &str| {
        let (app, token) = (app.client.clone(), who.token.clone());
        let body = json!({"idempotency_key": key, "card": TestCards::SLOW});
        async move { app.send(Method::POST, &path(routes::ROOM_CHECKOUT, &[room.get()]), Some(&token), Some(&body)).await }
    };
    // The first over the room's WebSocket, which then closes; the second over REST.
    let mut first = connections.remove(0);
    first.send(&checkout_with("cap-1", TestCards::SLOW, None)).await;
    let second = tokio::spawn(checkout(rooms[1], "cap-2"));
    // Both are paying (their orders placed, the slow card taking 2 s) before the third.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let orders: Vec<OrderView> = app.get(routes::ORDERS, Some(&who.token)).await;
        if orders.iter().filter(|o| o.status == OrderStatus::Placed).count() == 2 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the two checkouts never placed their orders: {orders:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.close().await;
    let (status, answer) = checkout(rooms[2], "cap-3").await;
    assert_eq!((status.as_u16(), answer["error"]["code"].as_str()), (409, Some("checkout_in_progress")));
    let (status, answer) = second.await.unwrap();
    assert_eq!((status, answer["status"].as_str()), (StatusCode::OK, Some("paid")), "{answer}");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let orders: Vec<OrderView> = app.get(routes::ORDERS, Some(&who.token)).await;
        assert_eq!(orders.len(), 2, "the refused checkout wrote no order");
        if orders.iter().all(|o| o.status == OrderStatus::Paid) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the closed connection's payment never ended: {orders:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, answer) = checkout(rooms[2], "cap-3").await;
    assert_eq!((status, answer["status"].as_str()), (StatusCode::OK, Some("paid")), "the key was unused: {answer}");
}

// ---------------------------------------------------------------------------------------
// Co-host
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_co_host_earns_their_share_of_each_line_and_refunds_reverse_each_share_to_zero() {
    let app = TestApp::spawn().await;
    let (brand, _) = new_brand(&app, "Glow Labs").await;
    let host = app.register(Role::Creator, "Maya", None).await;
    let co_host = app.register(Role::Creator, "Lena", None).await;
    let serum = new_product(&app, &brand, "Serum", 999, 50).await;
    let agreement =
        agree(&app, &brand, host.account.id, serum, json!({"commission_bps": 1_000, "co_host_share_bps": 3_333})).await;
    assert_eq!(agreement.co_host_share_bps, 3_333);
    let room = room(&app, &host, &[serum], true).await;
    let (mut watching, snapshot) = app.viewer(room, None).await;
    assert_eq!(snapshot.room.co_host, None);

    let route = path(routes::ROOM_CO_HOST, &[room.get()]);
    let (status, answer) =
        app.send(Method::PUT, &route, Some(&host.token), Some(&json!({"creator_id": co_host.account.id}))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let card: RoomView = serde_json::from_value(answer).unwrap();
    let expected = CoHostCard { id: co_host.account.id, display_name: "Lena".into() };
    assert_eq!(card.co_host.as_ref(), Some(&expected));
    assert_eq!(room_updated(&mut watching).await.0.as_ref(), Some(&expected), "viewers are told at once");
    let (_, snapshot) = app.viewer(room, None).await;
    assert_eq!(snapshot.room.co_host.as_ref(), Some(&expected));

    // 3 × 999 = 2,997; 10% is 299; 33.33% of it is 99.65: 99 to the co-host, 200 to the host.
    let (mut ws, _) = buyer(&app, room, &[(serum, 3)]).await;
    let order = pay(&mut ws, "co-1", None).await;
    assert_eq!(order.commission.amount, 299);
    let shares = app.state.store.order_shares(&[order.id]).await.unwrap();
    let stored: Vec<_> = shares
        .iter()
        .map(|s| (s.creator_id, s.role, s.share_bps, s.commission_amount, s.rule_version.as_str()))
        .collect();
    assert_eq!(
        stored,
        [
            (host.account.id, ShareRole::Host, 6_667, 200, "cohost-v1"),
            (co_host.account.id, ShareRole::CoHost, 3_333, 99, "cohost-v1")
        ]
    );
    let ledger = app.state.store.commission_entries(order.id).await.unwrap();
    let accrued: Vec<_> = ledger.iter().map(|e| (e.creator_id, e.kind, e.amount)).collect();
    assert_eq!(
        accrued,
        [(host.account.id, CommissionKind::Accrued, 200), (co_host.account.id, CommissionKind::Accrued, 99)]
    );

    // Each creator sees the order and their share of it.
    for (who, share) in [(&host, 200), (&co_host, 99)] {
        let mine: CreatorOrders =
            app.get(&path(routes::CREATOR_ORDERS, &[who.account.id.get()]), Some(&who.token)).await;
        assert_eq!(mine.orders.len(), 1);
        assert_eq!(mine.orders[0].shares.iter().map(|s| s.commission.amount).collect::<Vec<_>>(), [200, 99]);
        assert_eq!(mine.earnings[0].commission.amount, share);
        assert_eq!(earnings(&app, who).await.accrued.amount, share);
    }

    // One unit back: 2 kept earn 199, split 66 / 133; the reversals are 33 and 67.
    refund(&app, &brand, order.id, "part", json!([{"product_id": serum, "quantity": 1}])).await;
    let (h, c) = (earnings(&app, &host).await, earnings(&app, &co_host).await);
    assert_eq!((h.reversed.amount, c.reversed.amount), (67, 33));
    // Then the rest: each creator's net is exactly zero.
    refund(&app, &brand, order.id, "rest", json!([{"product_id": serum, "quantity": 2}])).await;
    for who in [&host, &co_host] {
        let e = earnings(&app, who).await;
        assert_eq!(e.accrued.amount - e.reversed.amount, 0, "{e:?}");
        assert_eq!(e.owed.amount, 0);
    }
    let (_, answer) =
        app.send(Method::GET, &path(routes::ORDER_REFUNDS, &[order.id.get()]), Some(&co_host.token), None).await;
    assert_eq!(answer.as_array().map(Vec::len), Some(2), "the co-host sees the order's refunds");
}

#[tokio::test]
async fn a_co_hosts_own_code_works_in_the_room_and_a_cleared_co_host_stops_sharing() {
    let app = TestApp::spawn().await;
    let shop = shop(&app, &[1_000]).await;
    let serum = shop.products[0];
    let co_host = app.register(Role::Creator, "Lena", None).await;
    agree(&app, &shop.brand, co_host.account.id, serum, json!({"commission_bps": 500})).await;
    let body = json!({"code": "LENA10", "creator_id": co_host.account.id, "percent_off": 10, "product_ids": [serum]});
    issue(&app, &shop.brand, body).await;
    let (mut ws, _) = buyer(&app, shop.room, &[(serum, 1)]).await;
    ws.send(&checkout_with("before", TestCards::SUCCEEDS, Some("LENA10"))).await;
    assert_eq!(ws.checkout_outcome().await.unwrap_err(), "promo_code_not_applicable", "not her room yet");

    let route = path(routes::ROOM_CO_HOST, &[shop.room.get()]);
    let _: Value = put(&app, &route, &shop.host.token, json!({"creator_id": co_host.account.id})).await;
    let order = pay(&mut ws, "with-lena", Some("LENA10")).await;
    assert_eq!(order.lines[0].unit_price, 900);
    // The host's agreement splits it (default share: half of 90).
    let shares = app.state.store.order_shares(&[order.id]).await.unwrap();
    assert_eq!(
        shares.iter().map(|s| (s.share_bps, s.commission_amount)).collect::<Vec<_>>(),
        [(5_000, 45), (5_000, 45)]
    );

    let (mut watching, _) = app.viewer(shop.room, None).await;
    let cleared: RoomView = put(&app, &route, &shop.host.token, json!({"creator_id": null})).await;
    assert_eq!(cleared.co_host, None);
    assert_eq!(room_updated(&mut watching).await.0, None);
    let (mut ws, _) = buyer(&app, shop.room, &[(serum, 1)]).await;
    let order = pay(&mut ws, "after", None).await;
    let shares = app.state.store.order_shares(&[order.id]).await.unwrap();
    assert_eq!(shares.iter().map(|s| (s.role, s.commission_amount)).collect::<Vec<_>>(), [(ShareRole::Host, 100)]);
}

async fn put<T: serde::de::DeserializeOwned>(app: &Client, route: &str, token: &str, body: Value) -> T {
    let (status, answer) = app.send(Method::PUT, route, Some(token), Some(&body)).await;
    assert_eq!(status, StatusCode::OK, "PUT {route} {body}: {answer}");
    serde_json::from_value(answer).expect("response shape")
}

#[tokio::test]
async fn only_the_host_or_an_admin_makes_another_creator_co_host_while_the_room_runs() {
    let app = TestApp::spawn().await;
    let shop = shop(&app, &[1_000]).await;
    let co_host = app.register(Role::Creator, "Lena", None).await;
    let other = app.register(Role::Creator, "Other", None).await;
    let viewer = app.register(Role::Viewer, "Viewer", None).await;
    let admin = app.admin("Admin").await;
    let route = path(routes::ROOM_CO_HOST, &[shop.room.get()]);
    let lena = json!({"creator_id": co_host.account.id});
    for (token, body, status, code) in [
        (Some(&viewer.token), lena.clone(), 403, "forbidden"),
        (Some(&other.token), lena.clone(), 403, "forbidden"),
        (Some(&shop.brand.token), lena.clone(), 403, "forbidden"),
        (None, lena.clone(), 401, "unauthenticated"),
        (Some(&shop.host.token), json!({"creator_id": viewer.account.id}), 400, "invalid_input"),
        (Some(&shop.host.token), json!({"creator_id": shop.host.account.id}), 400, "invalid_input"),
        (Some(&shop.host.token), json!({"creator_id": 999_999}), 404, "not_found"),
        (Some(&shop.host.token), json!({"creator_id": 0}), 400, "invalid_input"),
        (Some(&shop.host.token), json!({"creator": 7}), 400, "invalid_input"),
    ] {
        let (got, answer) = app.send(Method::PUT, &route, token.map(String::as_str), Some(&body)).await;
        assert_eq!((got.as_u16(), answer["error"]["code"].as_str()), (status, Some(code)), "{body}: {answer}");
    }
    assert_eq!(app.state.store.room(shop.room).await.unwrap().unwrap().co_host_id, None, "nothing changed");

    let set: RoomView = put(&app, &route, &admin.token, lena.clone()).await;
    assert_eq!(set.co_host.map(|c| c.id), Some(co_host.account.id));
    // A scheduled room takes a co-host too; an ended one no longer does.
    let later = room(&app, &shop.host, &shop.products, false).await;
    let set: RoomView = put(&app, &path(routes::ROOM_CO_HOST, &[later.get()]), &shop.host.token, lena.clone()).await;
    assert_eq!(set.co_host.map(|c| c.display_name), Some("Lena".to_owned()));
    let _: RoomView = app.post(&path(routes::ROOM_END, &[shop.room.get()]), Some(&shop.host.token), &()).await;
    let (status, answer) =
        app.send(Method::PUT, &route, Some(&shop.host.token), Some(&json!({"creator_id": null}))).await;
    assert_eq!((status.as_u16(), answer["error"]["code"].as_str()), (409, Some("conflict")));
    let card: RoomView = app.get(&path(routes::ROOM, &[shop.room.get()]), None).await;
    assert_eq!(card.co_host.map(|c| c.id), Some(co_host.account.id), "the ended room keeps who co-hosted it");
}

#[tokio::test]
async fn a_co_host_set_on_one_node_reaches_viewers_on_another() {
    let Some(cluster) = Cluster::start(2).await else { return };
    let shop = shop(cluster.node(0), &[1_000]).await;
    let co_host = cluster.node(0).register(Role::Creator, "Lena", None).await;
    let (mut watching, _) = cluster.node(1).viewer(shop.room, None).await;
    let route = path(routes::ROOM_CO_HOST, &[shop.room.get()]);
    let _: RoomView = put(cluster.node(0), &route, &shop.host.token, json!({"creator_id": co_host.account.id})).await;
    let (card, disclosure) = room_updated(&mut watching).await;
    assert_eq!(card.map(|c| c.id), Some(co_host.account.id));
    assert_eq!(disclosure.as_deref(), Some("Paid partnership with Glow Labs"));
    let (_, snapshot) = cluster.node(1).viewer(shop.room, None).await;
    assert_eq!(snapshot.room.co_host.map(|c| c.id), Some(co_host.account.id));
}

// ---------------------------------------------------------------------------------------
// Disclosure
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_room_selling_under_paid_agreements_discloses_them_in_its_card_and_snapshot_and_keeps_it_current() {
    let app = TestApp::spawn().await;
    let host = app.register(Role::Creator, "Maya", None).await;
    let (glow, _) = new_brand(&app, "Glow Labs").await;
    let (dew, _) = new_brand(&app, "Dew Co").await;
    let (free, _) = new_brand(&app, "Free Co").await;
    let serum = new_product(&app, &glow, "Serum", 1_000, 10).await;
    let mist = new_product(&app, &dew, "Mist", 1_000, 10).await;
    let balm = new_product(&app, &free, "Balm", 1_000, 10).await;
    let glow_deal = agree(&app, &glow, host.account.id, serum, json!({"commission_bps": 1_000})).await;
    // A flat amount per unit is paid too; a gifted product (0 and 0) is not.
    agree(&app, &dew, host.account.id, mist, json!({"commission_bps": 0, "commission_flat": 25})).await;
    agree(&app, &free, host.account.id, balm, json!({"commission_bps": 0})).await;
    let room = room(&app, &host, &[balm, serum, mist], true).await;

    let card: RoomView = app.get(&path(routes::ROOM, &[room.get()]), None).await;
    assert_eq!(card.disclosure.as_deref(), Some("Paid partnership with Glow Labs and Dew Co"));
    let (mut watching, snapshot) = app.viewer(room, None).await;
    assert_eq!(snapshot.room.disclosure, card.disclosure);
    let listed: Vec<RoomView> = app.get(routes::ROOMS, None).await;
    assert_eq!(listed.iter().find(|r| r.id == room).unwrap().disclosure, card.disclosure);

    // Glow Labs ends its agreement: viewers are told, the card follows.
    let (status, _) =
        app.send(Method::DELETE, &path(routes::AGREEMENT, &[glow_deal.id.get()]), Some(&glow.token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(room_updated(&mut watching).await.1.as_deref(), Some("Paid partnership with Dew Co"));
    let card: RoomView = app.get(&path(routes::ROOM, &[room.get()]), None).await;
    assert_eq!(card.disclosure.as_deref(), Some("Paid partnership with Dew Co"));

    // A room selling only gifted products discloses nothing.
    let gifted = room_of(&app, &host, &[balm]).await;
    assert_eq!(gifted.disclosure, None);

    // Free Co starts paying the host (for another product): it is a paid partner now,
    // named where the lineup first shows it, in every room of the host selling its products.
    let lotion = new_product(&app, &free, "Lotion", 1_000, 10).await;
    agree(&app, &free, host.account.id, lotion, json!({"commission_bps": 500})).await;
    assert_eq!(room_updated(&mut watching).await.1.as_deref(), Some("Paid partnership with Free Co and Dew Co"));
    let (_, snapshot) = app.viewer(room, None).await;
    assert_eq!(snapshot.room.disclosure.as_deref(), Some("Paid partnership with Free Co and Dew Co"));
    let gifted: RoomView = app.get(&path(routes::ROOM, &[gifted.id.get()]), None).await;
    assert_eq!(gifted.disclosure.as_deref(), Some("Paid partnership with Free Co"));
}

async fn room_of(app: &Client, host: &SessionResponse, products: &[ProductId]) -> RoomView {
    let id = room(app, host, products, false).await;
    app.get(&path(routes::ROOM, &[id.get()]), None).await
}

/// A creator's agreements come from any number of brands, so the list is in pages: the
/// newest first, `limit` at a time, `before` the last id seen; each side sees its own.
#[tokio::test]
async fn agreements_are_listed_newest_first_a_page_at_a_time() {
    let app = TestApp::spawn().await;
    let shop = shop(&app, &[100, 200, 300]).await;
    let (other, _) = new_brand(&app, "Other Labs").await;
    let theirs = new_product(&app, &other, "Theirs", 400, 1).await;
    let newest = agree(&app, &other, shop.host.account.id, theirs, json!({"commission_bps": 500})).await;
    let page = |token: &str, query: &str| {
        let (app, token, query) = (&app, token.to_owned(), query.to_owned());
        async move {
            let (status, body) =
                app.send(Method::GET, &format!("{}{query}", routes::AGREEMENTS), Some(&token), None).await;
            assert_eq!(status, StatusCode::OK, "{query}: {body}");
            serde_json::from_value::<Vec<AgreementView>>(body).unwrap().iter().map(|a| a.id.get()).collect::<Vec<_>>()
        }
    };

    let all = page(&shop.host.token, "").await;
    assert_eq!(all.len(), 4);
    assert_eq!(all[0], newest.id.get(), "the newest first, whichever brand made it");
    assert!(all.windows(2).all(|w| w[0] > w[1]));
    let first = page(&shop.host.token, "?limit=3").await;
    assert_eq!(first, all[..3]);
    let rest = page(&shop.host.token, &format!("?limit=3&before={}", first[2])).await;
    assert_eq!(rest, all[3..]);
    assert_eq!(page(&shop.brand.token, "").await, all[1..], "a brand sees only its own");
    assert_eq!(page(&shop.brand.token, &format!("?before={}", all[1])).await, all[2..]);

    for bad in ["limit=0", "limit=101", "limit=x", "before=x", "after=1"] {
        let (status, body) =
            app.send(Method::GET, &format!("{}?{bad}", routes::AGREEMENTS), Some(&shop.host.token), None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_input")), "{bad}");
    }
}
