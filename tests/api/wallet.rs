//! One-tap buy: the account's wallet (a saved payment method and shipping address), saved
//! at a first checkout and used by later ones in any room with one message; a declined
//! saved card, removal, bounds, and one account never reaching another's wallet.

use crate::helpers::{TestApp, Ws};
use livecart::commerce::payments::TestCards;
use livecart::domain::{AccountId, ProductId, Role, RoomId};
use livecart::wire::api::WalletView;
use livecart::wire::routes::{self, path};
use livecart::wire::ws::{ClientMsg, OrderStatus, OrderView, ServerMsg};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn address() -> Value {
    json!({"name": "Sam Lee", "line1": "1 Rue de Rivoli", "city": "Paris", "postal_code": "75001", "country": "fr"})
}

/// The address as the server gives it back: optional lines filled in, the country upper-case.
fn stored(address: &Value) -> Value {
    let mut a = address.clone();
    for optional in ["line2", "region"] {
        if a.get(optional).is_none() {
            a[optional] = "".into();
        }
    }
    a["country"] = a["country"].as_str().unwrap().to_uppercase().into();
    a
}

async fn fill_cart(ws: &mut Ws, product: ProductId, quantity: i64) {
    ws.send(&ClientMsg::CartSet { product_id: product, quantity }).await;
    ws.recv_until(|m| match m {
        ServerMsg::Cart { .. } => Some(()),
        ServerMsg::Error { code, .. } => panic!("cart_set failed: {code}"),
        _ => None,
    })
    .await;
}

/// Sends a checkout frame as JSON (the fields a web client sends) and waits for its outcome.
async fn checkout(ws: &mut Ws, frame: Value) -> Result<OrderView, String> {
    let mut frame = frame;
    frame["type"] = "checkout".into();
    ws.send_text(&frame.to_string()).await;
    ws.checkout_outcome().await
}

async fn wallet(app: &TestApp, token: &str) -> Value {
    let (status, body) = app.send(Method::GET, routes::WALLET, Some(token), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_value::<WalletView>(body.clone()).expect("a wallet");
    body
}

async fn save_card(app: &TestApp, token: &str, card: &str) -> (StatusCode, Value) {
    app.send(Method::PUT, routes::WALLET_PAYMENT_METHOD, Some(token), Some(&json!({"card": card}))).await
}

async fn orders(app: &TestApp, token: &str) -> Vec<OrderView> {
    app.get(routes::ORDERS, Some(token)).await
}

/// A signed-in buyer joined to `room`.
async fn buyer_in(app: &TestApp, room: RoomId) -> (Ws, String) {
    let buyer = app.register(Role::Viewer, "Sam", None).await;
    let (ws, _) = app.viewer(room, Some(&buyer.token)).await;
    (ws, buyer.token)
}

#[tokio::test]
async fn the_first_checkout_saves_the_card_and_address_and_a_later_one_in_another_room_is_one_message() {
    let app = TestApp::spawn().await;
    let first = app.live_room(&[10]).await;
    let second = app.live_room(&[10]).await;
    let (mut ws, token) = buyer_in(&app, first.room).await;
    fill_cart(&mut ws, first.products[0], 2).await;
    let order = checkout(
        &mut ws,
        json!({"idempotency_key": "one-tap-1", "card": "4242 4242 4242 4242", "save": true, "shipping": address()}),
    )
    .await
    .expect("paid");
    assert_eq!(order.status, OrderStatus::Paid);
    assert_eq!(serde_json::to_value(&order.shipping).unwrap(), stored(&address()), "the order ships there");

    let saved = wallet(&app, &token).await;
    assert_eq!(saved["payment_method"]["brand"], "visa");
    assert_eq!(saved["payment_method"]["last4"], "4242");
    assert_eq!(saved["shipping_address"], stored(&address()));
    assert!(!saved.to_string().contains(TestCards::SUCCEEDS), "never the number: {saved}");
    let row = app.state.store.saved_method(account_id(&app, &token).await).await.unwrap().expect("a saved method");
    assert!(row.method_ref.starts_with("tcpm_") && !row.method_ref.contains("4242"), "{row:?}");

    // Another room, another day: one message with no card, shipped to the saved address.
    ws.close().await;
    let (mut ws, _) = app.viewer(second.room, Some(&token)).await;
    fill_cart(&mut ws, second.products[0], 1).await;
    let again = checkout(&mut ws, json!({"idempotency_key": "one-tap-2", "payment": "saved"})).await.expect("paid");
    assert_eq!(again.status, OrderStatus::Paid);
    assert_eq!(again.room_id, second.room);
    assert_eq!(serde_json::to_value(&again.shipping).unwrap(), stored(&address()));
    assert_eq!(app.stock(second.products[0]).await, 9);

    // The same key again replays the order; it does not charge the saved card twice.
    fill_cart(&mut ws, second.products[0], 1).await;
    let replay = checkout(&mut ws, json!({"idempotency_key": "one-tap-2", "payment": "saved"})).await.expect("replay");
    assert_eq!(replay.id, again.id);
    assert_eq!(app.stock(second.products[0]).await, 9);

    // An order keeps the address it was placed with, whatever is saved later.
    let moved =
        json!({"name": "Sam Lee", "line1": "2 Main St", "city": "Oslo", "postal_code": "0150", "country": "NO"});
    let (status, _) = app.send(Method::PUT, routes::WALLET_SHIPPING_ADDRESS, Some(&token), Some(&moved)).await;
    assert_eq!(status, StatusCode::OK);
    let listed = orders(&app, &token).await;
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|o| serde_json::to_value(&o.shipping).unwrap() == stored(&address())));
}

async fn account_id(app: &TestApp, token: &str) -> AccountId {
    let me: Value = app.get(routes::ME, Some(token)).await;
    AccountId::try_from(me["id"].as_i64().unwrap()).unwrap()
}

#[tokio::test]
async fn one_tap_buy_works_over_rest_too() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[5]).await;
    let (mut ws, token) = buyer_in(&app, scene.room).await;
    assert_eq!(save_card(&app, &token, TestCards::SUCCEEDS).await.0, StatusCode::OK);
    fill_cart(&mut ws, scene.products[0], 1).await;
    let route = path(routes::ROOM_CHECKOUT, &[scene.room.get()]);
    let body = json!({"idempotency_key": "rest-saved", "payment": "saved"});
    let (status, order) = app.send(Method::POST, &route, Some(&token), Some(&body)).await;
    assert_eq!(status, StatusCode::OK, "{order}");
    assert_eq!(order["status"], "paid");
    assert_eq!(order["shipping"], Value::Null, "no address given, none saved");
}

#[tokio::test]
async fn a_declined_saved_card_is_payment_declined_and_stays_saved() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[5]).await;
    let (mut ws, token) = buyer_in(&app, scene.room).await;
    let (status, saved) = save_card(&app, &token, TestCards::SAVED_THEN_DECLINES).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["payment_method"]["last4"], "0341");
    fill_cart(&mut ws, scene.products[0], 1).await;
    let outcome = checkout(&mut ws, json!({"idempotency_key": "declined-saved", "payment": "saved"})).await;
    assert_eq!(outcome.unwrap_err(), "payment_declined");
    let listed = orders(&app, &token).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].status, OrderStatus::Cancelled);
    assert_eq!(listed[0].failure_code.as_deref(), Some("payment_declined"));
    assert_eq!(app.stock(scene.products[0]).await, 5, "the units are back");
    assert_eq!(wallet(&app, &token).await["payment_method"]["last4"], "0341", "still saved until removed");
}

#[tokio::test]
async fn a_checkout_that_is_not_paid_saves_nothing() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[5]).await;
    let (mut ws, token) = buyer_in(&app, scene.room).await;
    fill_cart(&mut ws, scene.products[0], 1).await;
    let frame = json!({"idempotency_key": "no-save", "card": TestCards::DECLINES, "save": true, "shipping": address()});
    assert_eq!(checkout(&mut ws, frame).await.unwrap_err(), "payment_declined");
    let nothing = wallet(&app, &token).await;
    assert_eq!(nothing, json!({"payment_method": null, "shipping_address": null}));
}

#[tokio::test]
async fn a_removed_method_is_refused_before_anything_is_held_and_the_key_stays_unused() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[5]).await;
    let (mut ws, token) = buyer_in(&app, scene.room).await;
    assert_eq!(save_card(&app, &token, TestCards::SUCCEEDS).await.0, StatusCode::OK);
    for _ in 0..2 {
        let (status, _) = app.send(Method::DELETE, routes::WALLET_PAYMENT_METHOD, Some(&token), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "removing is idempotent");
    }
    assert_eq!(wallet(&app, &token).await["payment_method"], Value::Null);
    fill_cart(&mut ws, scene.products[0], 1).await;
    let outcome = checkout(&mut ws, json!({"idempotency_key": "after-removal", "payment": "saved"})).await;
    assert_eq!(outcome.unwrap_err(), "no_saved_payment_method");
    assert!(orders(&app, &token).await.is_empty());
    assert_eq!(app.stock(scene.products[0]).await, 5);
    // The key was not spent: saved again, the same key buys.
    assert_eq!(save_card(&app, &token, TestCards::SUCCEEDS).await.0, StatusCode::OK);
    let order = checkout(&mut ws, json!({"idempotency_key": "after-removal", "payment": "saved"})).await;
    assert_eq!(order.expect("paid").status, OrderStatus::Paid);
    // The provider forgot the removed card's token: only the current one is kept.
    let row = app.state.store.saved_method(account_id(&app, &token).await).await.unwrap().unwrap();
    assert!(app.state.store.test_card_method(&row.method_ref).await.unwrap().is_some());
}

#[tokio::test]
async fn bad_wallet_input_gets_a_clear_error_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[5]).await;
    let (mut ws, token) = buyer_in(&app, scene.room).await;
    assert_eq!(save_card(&app, &token, TestCards::SUCCEEDS).await.0, StatusCode::OK);
    let (status, _) = app.send(Method::PUT, routes::WALLET_SHIPPING_ADDRESS, Some(&token), Some(&address())).await;
    assert_eq!(status, StatusCode::OK);
    let before = wallet(&app, &token).await;

    let mut too_long = address();
    too_long["line1"] = "x".repeat(121).into();
    let mut two_lines = address();
    two_lines["city"] = "Pa\nris".into();
    let mut bad_country = address();
    bad_country["country"] = "FRA".into();
    let mut extra = address();
    extra["floor"] = 3.into();
    let mut missing = address();
    missing.as_object_mut().unwrap().remove("postal_code");
    for body in [too_long, two_lines, bad_country, extra, missing, json!("1 Rue de Rivoli")] {
        let (status, answer) = app.send(Method::PUT, routes::WALLET_SHIPPING_ADDRESS, Some(&token), Some(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_input");
    }
    for (card, status, code) in [
        ("1234", StatusCode::BAD_REQUEST, "invalid_input"),
        ("4111111111111111", StatusCode::PAYMENT_REQUIRED, "payment_declined"),
        (TestCards::DECLINES, StatusCode::PAYMENT_REQUIRED, "payment_declined"),
    ] {
        let (got, answer) = save_card(&app, &token, card).await;
        assert_eq!((got, answer["error"]["code"].as_str()), (status, Some(code)), "{card}: {answer}");
    }
    let (status, _) = app
        .send(
            Method::PUT,
            routes::WALLET_PAYMENT_METHOD,
            Some(&token),
            Some(&json!({"card": "4242424242424242", "cvc": "1"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(wallet(&app, &token).await, before, "nothing changed");

    // A checkout must name a card or the saved method, not both, not neither: refused
    // before anything else (a guest gets the same answer).
    fill_cart(&mut ws, scene.products[0], 1).await;
    let both = json!({"type": "checkout", "idempotency_key": "both", "card": TestCards::SUCCEEDS, "payment": "saved"});
    let neither = json!({"type": "checkout", "idempotency_key": "neither"});
    let (mut guest, _) = app.viewer(scene.room, None).await;
    for frame in [&both, &neither] {
        ws.send_text(&frame.to_string()).await;
        assert_eq!(ws.checkout_outcome().await.unwrap_err(), "invalid_input", "{frame}");
        guest.send_text(&frame.to_string()).await;
        assert_eq!(guest.checkout_outcome().await.unwrap_err(), "invalid_input", "{frame}");
    }
    let mut long_address =
        json!({"type": "checkout", "idempotency_key": "long", "payment": "saved", "shipping": address()});
    long_address["shipping"]["name"] = "n".repeat(81).into();
    ws.send_invalid(&long_address.to_string()).await;
    assert_eq!(ws.checkout_outcome().await.unwrap_err(), "invalid_input");
    assert!(orders(&app, &token).await.is_empty());
    assert_eq!(app.stock(scene.products[0]).await, 5);
}

#[tokio::test]
async fn another_account_can_neither_read_nor_use_nor_remove_a_wallet() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[5]).await;
    let (_, owner) = buyer_in(&app, scene.room).await;
    assert_eq!(save_card(&app, &owner, TestCards::SUCCEEDS).await.0, StatusCode::OK);
    let (status, _) = app.send(Method::PUT, routes::WALLET_SHIPPING_ADDRESS, Some(&owner), Some(&address())).await;
    assert_eq!(status, StatusCode::OK);
    let before = wallet(&app, &owner).await;

    let (mut other_ws, other) = buyer_in(&app, scene.room).await;
    let admin = app.admin("Ops").await;
    for token in [&other, &admin.token] {
        assert_eq!(wallet(&app, token).await, json!({"payment_method": null, "shipping_address": null}));
        for route in [routes::WALLET_PAYMENT_METHOD, routes::WALLET_SHIPPING_ADDRESS] {
            let (status, _) = app.send(Method::DELETE, route, Some(token), None).await;
            assert_eq!(status, StatusCode::NO_CONTENT, "removes only the caller's own");
        }
    }
    fill_cart(&mut other_ws, scene.products[0], 1).await;
    let outcome = checkout(&mut other_ws, json!({"idempotency_key": "not-mine", "payment": "saved"})).await;
    assert_eq!(outcome.unwrap_err(), "no_saved_payment_method");
    assert_eq!(wallet(&app, &owner).await, before, "the owner's wallet is untouched");

    for (method, route) in [
        (Method::GET, routes::WALLET),
        (Method::PUT, routes::WALLET_PAYMENT_METHOD),
        (Method::DELETE, routes::WALLET_PAYMENT_METHOD),
        (Method::PUT, routes::WALLET_SHIPPING_ADDRESS),
        (Method::DELETE, routes::WALLET_SHIPPING_ADDRESS),
    ] {
        let (status, body) = app.send(method.clone(), route, None, Some(&json!({"card": TestCards::SUCCEEDS}))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {route}: {body}");
    }
}
