use crate::helpers::TestApp;
use livecart::accounts::SESSIONS_PER_ACCOUNT;
use livecart::domain::{Role, UnixMs};
use livecart::store::{MAX_PRODUCTS_PER_BRAND, NewProduct};
use livecart::wire::api::{AccountView, ErrorBody, LoginRequest, NewProductRequest, NewRoomRequest};
use livecart::wire::routes::{self, path};
use livecart::wire::ws::{ClientMsg, ServerMsg};
use reqwest::Method;
use serde_json::json;

fn error_code(body: &serde_json::Value) -> String {
    serde_json::from_value::<ErrorBody>(body.clone())
        .map(|b| b.error.code)
        .unwrap_or_else(|_| format!("not an error body: {body}"))
}

#[tokio::test]
async fn register_login_and_logout_revokes_the_token() {
    let app = TestApp::spawn().await;
    let session = app.register(Role::Viewer, "Ana", None).await;
    let me: AccountView = app.get(routes::ME, Some(&session.token)).await;
    assert_eq!(me.display_name, "Ana");

    let login = LoginRequest { email: session.account.email.to_uppercase(), password: "correct horse battery".into() };
    let again: livecart::wire::api::SessionResponse = app.post(routes::LOGIN, None, &login).await;
    assert_eq!(again.account.id, session.account.id, "e-mail is case-insensitive");

    let (status, _) = app.send(Method::POST, routes::LOGOUT, Some(&session.token), None).await;
    assert_eq!(status, 204);
    let (status, body) = app.send(Method::GET, routes::ME, Some(&session.token), None).await;
    assert_eq!((status.as_u16(), error_code(&body)), (401, "unauthenticated".into()));
    let (status, _) = app.send(Method::GET, routes::ME, Some(&again.token), None).await;
    assert_eq!(status, 200, "other sessions stay valid");
}

/// An account keeps its newest sessions only: a login past the cap ends the oldest, as
/// a logout would, connections included.
#[tokio::test]
async fn a_login_past_the_cap_ends_the_oldest_session() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[3]).await;
    let first = app.register(Role::Viewer, "Ana", None).await;
    let (mut watching, _) = app.viewer(scene.room, Some(&first.token)).await;
    let login = LoginRequest { email: first.account.email.clone(), password: "correct horse battery".into() };
    let mut later = Vec::new();
    for _ in 1..SESSIONS_PER_ACCOUNT {
        let session: livecart::wire::api::SessionResponse = app.post(routes::LOGIN, None, &login).await;
        later.push(session.token);
    }
    let (status, _) = app.send(Method::GET, routes::ME, Some(&first.token), None).await;
    assert_eq!(status, 200, "at the cap, every session is live");

    let newest: livecart::wire::api::SessionResponse = app.post(routes::LOGIN, None, &login).await;
    let (status, body) = app.send(Method::GET, routes::ME, Some(&first.token), None).await;
    assert_eq!((status.as_u16(), error_code(&body)), (401, "unauthenticated".into()), "the oldest has ended");
    let (code, _) = watching.closed().await.expect("a close frame");
    assert_eq!(code, 4001, "its connection is closed as at a logout");
    for token in later.iter().chain([&newest.token]) {
        let (status, _) = app.send(Method::GET, routes::ME, Some(token), None).await;
        assert_eq!(status, 200, "the newest sessions stay live");
    }
}

#[tokio::test]
async fn logging_out_closes_every_connection_of_that_session_and_no_other() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[3]).await;
    let (mut viewer, buyer) = app.shopper(scene.room, scene.products[0], 1).await;
    let (mut second, _) = app.viewer(scene.room, Some(&buyer.token)).await;
    let other_session: livecart::wire::api::SessionResponse = app
        .post(
            routes::LOGIN,
            None,
            &LoginRequest { email: buyer.account.email.clone(), password: "correct horse battery".into() },
        )
        .await;
    let (mut other, _) = app.viewer(scene.room, Some(&other_session.token)).await;
    let (mut host, _) = app.viewer(scene.room, Some(&scene.creator.token)).await;
    let mut feed = app.ws().await;
    feed.send(&ClientMsg::FollowSales { token: scene.brand.token.clone() }).await;
    feed.recv_until(|m| matches!(m, ServerMsg::FollowingSales { .. }).then_some(())).await;

    for token in [&buyer.token, &scene.creator.token, &scene.brand.token] {
        let (status, _) = app.send(Method::POST, routes::LOGOUT, Some(token), None).await;
        assert_eq!(status, 204);
    }
    for ws in [&mut viewer, &mut second, &mut host, &mut feed] {
        let (code, reason) = ws.closed().await.expect("a close frame");
        assert_eq!(code, 4001);
        assert!(reason.starts_with("session revoked"), "{reason}");
    }
    other.send(&ClientMsg::CartSet { product_id: scene.products[0], quantity: 2 }).await;
    other.recv_until(|m| matches!(m, ServerMsg::Cart { .. }).then_some(())).await;
}

#[tokio::test]
async fn bad_credentials_and_bad_registrations_get_clear_errors() {
    let app = TestApp::spawn().await;
    let session = app.register(Role::Viewer, "Ana", None).await;
    let wrong = json!({"email": session.account.email, "password": "wrong password"});
    let (status, body) = app.send(Method::POST, routes::LOGIN, None, Some(&wrong)).await;
    assert_eq!((status.as_u16(), error_code(&body)), (401, "bad_credentials".into()));
    let unknown = json!({"email": "nobody@test.livecart", "password": "whatever123"});
    let (status, body) = app.send(Method::POST, routes::LOGIN, None, Some(&unknown)).await;
    assert_eq!((status.as_u16(), error_code(&body)), (401, "bad_credentials".into()));

    let cases = [
        (
            json!({"email": session.account.email, "password": "long enough pw", "display_name": "Dup", "role": "viewer"}),
            409,
            "conflict",
        ),
        (json!({"email": "a@b.co", "password": "short", "display_name": "X", "role": "viewer"}), 400, "invalid_input"),
        (
            json!({"email": "not-an-email", "password": "long enough pw", "display_name": "X", "role": "viewer"}),
            400,
            "invalid_input",
        ),
        (
            json!({"email": "c@d.co", "password": "long enough pw", "display_name": "X", "role": "admin"}),
            403,
            "forbidden",
        ),
        (
            json!({"email": "e@f.co", "password": "long enough pw", "display_name": "X", "role": "brand"}),
            400,
            "invalid_input",
        ),
        (
            json!({"email": "g@h.co", "password": "long enough pw", "display_name": "X", "role": "wizard"}),
            400,
            "invalid_input",
        ),
        (
            json!({"email": "i@j.co", "password": "long enough pw", "display_name": "", "role": "viewer"}),
            400,
            "invalid_input",
        ),
    ];
    for (body, status, code) in cases {
        let (got, resp) = app.send(Method::POST, routes::REGISTER, None, Some(&body)).await;
        assert_eq!((got.as_u16(), error_code(&resp)), (status, code.to_owned()), "for {body}");
    }
    let resp = reqwest::Client::new()
        .post(app.url(routes::REGISTER))
        .header("content-type", "application/json")
        .body("{\"email\":")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(error_code(&resp.json().await.unwrap()), "malformed_json");
}

/// A product of one unit at 1.00 EUR.
fn one_unit_at_a_euro(title: &str) -> NewProductRequest {
    NewProductRequest {
        title: title.try_into().unwrap(),
        description: Default::default(),
        image_url: Default::default(),
        price: 100.try_into().unwrap(),
        currency: "EUR".try_into().unwrap(),
        stock: 1.try_into().unwrap(),
    }
}

#[tokio::test]
async fn only_a_brands_members_manage_its_products_and_stock() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[5]).await;
    let viewer = app.register(Role::Viewer, "Vi", None).await;
    let rival = app.register(Role::Brand, "Rival team", Some("Rival")).await;
    let product = one_unit_at_a_euro("Fake");
    let body = serde_json::to_value(&product).unwrap();
    let products = path(routes::BRAND_PRODUCTS, &[scene.brand_id.get()]);
    for token in [&viewer.token, &rival.token, &scene.creator.token] {
        let (status, resp) = app.send(Method::POST, &products, Some(token), Some(&body)).await;
        assert_eq!((status.as_u16(), error_code(&resp)), (403, "forbidden".into()));
    }
    let stock = path(routes::PRODUCT_STOCK, &[scene.products[0].get()]);
    let (status, _) =
        app.send(Method::PUT, &stock, Some(&rival.token), Some(&json!({"stock": 0, "expected": 5}))).await;
    assert_eq!(status, 403);
    let (status, resp) =
        app.send(Method::PUT, &stock, Some(&scene.brand.token), Some(&json!({"stock": -4, "expected": 5}))).await;
    assert_eq!((status.as_u16(), error_code(&resp)), (400, "invalid_input".into()));
    assert_eq!(app.stock(scene.products[0]).await, 5);

    let (status, _) =
        app.send(Method::PUT, &stock, Some(&scene.brand.token), Some(&json!({"stock": 12, "expected": 5}))).await;
    assert_eq!(status, 200);
    assert_eq!(app.stock(scene.products[0]).await, 12, "a restock reaches live stock");
    let (status, _) = app.send(Method::POST, &products, None, Some(&body)).await;
    assert_eq!(status, 401);
}

/// A brand's catalogue is bounded, so its public list is: one product past the cap is
/// refused and made nowhere.
#[tokio::test]
async fn a_brand_has_at_most_its_cap_of_products() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[5]).await;
    let product = one_unit_at_a_euro("One more");
    let row = NewProduct {
        title: product.title.clone(),
        description: product.description.clone(),
        image_url: product.image_url.clone(),
        price: product.price,
        currency: product.currency,
        stock: product.stock,
    };
    let mut made = 1;
    while app.state.store.create_product(scene.brand_id, &row, UnixMs(0)).await.unwrap().is_some() {
        made += 1;
    }
    assert_eq!(made, MAX_PRODUCTS_PER_BRAND);
    let products = path(routes::BRAND_PRODUCTS, &[scene.brand_id.get()]);
    let body = serde_json::to_value(&product).unwrap();
    let (status, resp) = app.send(Method::POST, &products, Some(&scene.brand.token), Some(&body)).await;
    assert_eq!((status.as_u16(), error_code(&resp)), (409, "conflict".into()));
    let (status, list) = app.send(Method::GET, &products, None, None).await;
    assert_eq!((status.as_u16(), list.as_array().map(Vec::len)), (200, Some(1_000)));
}

/// The public list of creators is bounded: at most 100 in one answer, fewer when asked.
#[tokio::test]
async fn the_creators_list_answers_at_most_its_limit() {
    let app = TestApp::spawn().await;
    for name in ["Ann", "Bea", "Cai"] {
        app.register(Role::Creator, name, None).await;
    }
    let (status, list) = app.send(Method::GET, &format!("{}?limit=2", routes::CREATORS), None, None).await;
    assert_eq!((status.as_u16(), list.as_array().map(Vec::len)), (200, Some(2)));
    let (status, list) = app.send(Method::GET, routes::CREATORS, None, None).await;
    assert_eq!((status.as_u16(), list.as_array().map(Vec::len)), (200, Some(3)));
    for bad in ["0", "101", "x"] {
        let (status, body) = app.send(Method::GET, &format!("{}?limit={bad}", routes::CREATORS), None, None).await;
        assert_eq!((status.as_u16(), error_code(&body)), (400, "invalid_input".into()), "limit={bad}");
    }
}

#[tokio::test]
async fn a_room_can_only_line_up_products_the_host_has_an_agreement_for() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[5]).await;
    let other = app.live_room(&[5]).await;
    let room = NewRoomRequest {
        title: "Sneaky".try_into().unwrap(),
        starts_at: livecart::domain::UnixMs(0),
        product_ids: vec![scene.products[0], other.products[0]],
    };
    let body = serde_json::to_value(&room).unwrap();
    let (status, resp) = app.send(Method::POST, routes::ROOMS, Some(&scene.creator.token), Some(&body)).await;
    assert_eq!((status.as_u16(), error_code(&resp)), (403, "forbidden".into()));
    let (status, _) = app.send(Method::POST, routes::ROOMS, Some(&scene.brand.token), Some(&body)).await;
    assert_eq!(status, 403, "brands do not host rooms");
    let (status, resp) = app.send(Method::GET, &path(routes::ROOM, &[0]), None, None).await;
    assert_eq!((status.as_u16(), error_code(&resp)), (400, "invalid_input".into()));
    let (status, resp) = app.send(Method::GET, &path(routes::ROOM, &[424242]), None, None).await;
    assert_eq!((status.as_u16(), error_code(&resp)), (404, "not_found".into()));
}

/// An HTTP client whose connections come from `ip` (any 127.x address is loopback).
fn client_from(ip: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder().local_address(std::net::IpAddr::from(ip)).build().unwrap()
}

#[tokio::test]
async fn failed_logins_back_off_per_address_and_the_owner_still_gets_in_from_elsewhere() {
    let app = TestApp::spawn().await;
    let victim = app.register(Role::Viewer, "Victim", None).await;
    let login = |password: &str| json!({"email": victim.account.email, "password": password});
    let attacker = client_from([127, 0, 0, 2]);
    let url = app.url(routes::LOGIN);
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..8 {
        let resp = attacker.post(&url).json(&login("wrong password!")).send().await.unwrap();
        statuses.push(resp.status().as_u16());
        if resp.status() == 429 {
            retry_after = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
            let body: serde_json::Value = resp.json().await.unwrap();
            assert_eq!(error_code(&body), "rate_limited");
        }
    }
    assert_eq!(&statuses[..5], &[401; 5], "a few free tries");
    assert!(statuses[5..].contains(&429), "then the attacker waits: {statuses:?}");
    assert!(retry_after.and_then(|s| s.parse::<u64>().ok()).is_some_and(|s| s >= 1), "with Retry-After");
    let resp = attacker.post(&url).json(&login("correct horse battery")).send().await.unwrap();
    assert_eq!(resp.status(), 429, "even the right password waits on the throttled address");

    let owner = client_from([127, 0, 0, 3]);
    let resp = owner.post(&url).json(&login("correct horse battery")).send().await.unwrap();
    assert_eq!(resp.status(), 200, "the owner, elsewhere, is not locked out");
}
