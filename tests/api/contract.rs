//! The WebSocket contract: the AsyncAPI document (served, and held to by every frame of
//! every test through the helpers' `Ws`), and the rules of docs/protocol.md a client
//! needs exact: which errors name their request, size limits per message with close code
//! 1009 past 64 KiB, and the idempotency key of a checkout refused `sold_out`.

use crate::helpers::{Scene, TestApp, WAIT, Ws, checkout, contract};
use futures_util::{SinkExt, StreamExt};
use livecart::commerce::checkout::REFUSALS_PER_BUYER;
use livecart::commerce::payments::TestCards;
use livecart::domain::Role;
use livecart::wire::api::{SessionResponse, StockRequest};
use livecart::wire::routes::{self, path};
use livecart::wire::ws::{ClientMsg, OrderView, ServerMsg};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

#[tokio::test]
async fn the_asyncapi_document_is_served_beside_the_openapi_one() {
    let app = TestApp::spawn().await;
    let served: Value = app.get(routes::ASYNCAPI, None).await;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/asyncapi.json");
    let committed: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(served == committed, "/api/asyncapi.json is not docs/asyncapi.json: regenerate the file");
    assert_eq!(served["asyncapi"], "3.0.0");
    assert_eq!(served["channels"]["ws"]["address"], routes::WS);
}

/// What the frame validation of every test catches: a field renamed, added or dropped on
/// either side, at any depth, against the committed document.
#[tokio::test]
async fn the_contract_refuses_a_renamed_or_unknown_field_in_either_direction() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[2]).await;
    let (_, snapshot) = app.viewer(scene.room, Some(&scene.creator.token)).await;
    let frame = serde_json::to_value(ServerMsg::Snapshot(Box::new(snapshot))).unwrap();
    assert_eq!(contract().server_problems(&frame.to_string()), Vec::<String>::new());

    let renamed = |mut v: Value, at: &[&str], from: &str, to: &str| {
        let mut object = &mut v;
        for key in at {
            object = &mut object[*key];
        }
        let field = object.as_object_mut().unwrap().remove(from).expect("the field is there");
        object[to] = field;
        v.to_string()
    };
    for (at, from, to) in [
        (&[][..], "epoch", "era"),
        (&["room"][..], "disclosure", "sponsorship"),
        (&["you"][..], "account_id", "account"),
        (&["room", "host"][..], "tier", "level"),
    ] {
        let text = renamed(frame.clone(), at, from, to);
        assert!(!contract().server_problems(&text).is_empty(), "{from} renamed {to} in {at:?} went unnoticed");
    }
    let mut extra = frame.clone();
    extra["lineup"][0]["colour"] = json!("red");
    assert!(!contract().server_problems(&extra.to_string()).is_empty(), "an unknown field went unnoticed");

    let comment = serde_json::to_value(ClientMsg::Comment { text: "hi".try_into().unwrap() }).unwrap();
    assert!(contract().is_client_message(&comment.to_string()));
    assert!(!contract().is_client_message(&renamed(comment, &[], "text", "body")));
}

/// The `error` frame's code and `request`, skipping anything else.
async fn refusal(ws: &mut Ws) -> (String, Option<String>) {
    ws.recv_until(|m| match m {
        ServerMsg::Error { code, request, .. } => Some((code, request)),
        _ => None,
    })
    .await
}

fn owned(code: &str, request: Option<&str>) -> (String, Option<String>) {
    (code.to_owned(), request.map(str::to_owned))
}

#[tokio::test]
async fn an_error_names_its_request_whenever_the_frame_names_a_client_message() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[2]).await;
    let product = scene.products[0].get();

    // Before joining: a join refused on decoding still names itself.
    let mut ws = app.ws().await;
    ws.send_invalid(r#"{"type":"join","room_id":0,"guest_name":"Zero"}"#).await;
    assert_eq!(refusal(&mut ws).await, owned("invalid_input", Some("join")));
    ws.send_text(r#"{"type":"comment","text":"early"}"#).await;
    assert_eq!(refusal(&mut ws).await, owned("not_joined", Some("comment")));

    let viewer = app.register(Role::Viewer, "Exact", None).await;
    ws.join(scene.room, Some(&viewer.token)).await;
    let named = [
        (format!(r#"{{"type":"cart_add","product_id":{product},"quantity":0}}"#), "cart_add"),
        (format!(r#"{{"type":"cart_set","product_id":{product},"quantity":100}}"#), "cart_set"),
        (r#"{"type":"pin","product_id":-4}"#.to_owned(), "pin"),
        (r#"{"type":"comment","text":"  "}"#.to_owned(), "comment"),
        (r#"{"type":"comment","text":"hi","colour":"red"}"#.to_owned(), "comment"),
        (r#"{"type":"checkout","idempotency_key":"a b","card":"4242424242424242"}"#.to_owned(), "checkout"),
        (
            format!(r#"{{"type":"start_drop","product_id":{product},"quantity":1,"price":-5,"duration_secs":60}}"#),
            "start_drop",
        ),
    ];
    for (frame, request) in &named {
        ws.send_invalid(frame).await;
        assert_eq!(refusal(&mut ws).await, owned("invalid_input", Some(request)), "for {frame}");
    }
    // A refusal after decoding names its request as always.
    ws.send(&ClientMsg::Pin { product_id: scene.products[0] }).await;
    assert_eq!(refusal(&mut ws).await, owned("forbidden", Some("pin")));
    // Frames that name no client message get errors without `request`.
    for (frame, code) in [
        ("{not json", "malformed_json"),
        (r#"{"type":"dance"}"#, "unknown_message"),
        (r#"{"text":"no type"}"#, "invalid_input"),
        (r#"["comment"]"#, "invalid_input"),
    ] {
        ws.send_invalid(frame).await;
        assert_eq!(refusal(&mut ws).await, owned(code, None), "for {frame}");
    }
    let big = format!(r#"{{"type":"comment","text":"{}"}}"#, "x".repeat(5_000));
    ws.send_invalid(&big).await;
    assert_eq!(refusal(&mut ws).await, owned("frame_too_large", None));

    // Binary frames, and the sales feed: no `request` either.
    let mut socket = ws.into_stream();
    socket.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(raw_refusal(&mut socket).await, owned("invalid_input", None));
    let mut feed = app.ws().await;
    feed.send(&ClientMsg::FollowSales { token: scene.brand.token.clone() }).await;
    feed.recv_until(|m| matches!(m, ServerMsg::FollowingSales { .. }).then_some(())).await;
    feed.send_text(r#"{"type":"comment","text":"hello"}"#).await;
    assert_eq!(refusal(&mut feed).await, owned("invalid_input", None));
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// As [`refusal`], on a raw socket (its frames held to the contract too).
async fn raw_refusal(socket: &mut Socket) -> (String, Option<String>) {
    loop {
        let msg = tokio::time::timeout(WAIT, socket.next()).await.expect("a frame in time").expect("open").unwrap();
        if let Message::Text(text) = msg {
            contract().check_server(&text);
            if let ServerMsg::Error { code, request, .. } = serde_json::from_str(&text).unwrap() {
                return (code, request);
            }
        }
    }
}

/// Sends `text` as one message in frames of `chunk` bytes (the last one final).
async fn send_fragmented(socket: &mut Socket, text: &str, chunk: usize) {
    let bytes = text.as_bytes();
    let parts: Vec<&[u8]> = bytes.chunks(chunk).collect();
    for (i, part) in parts.iter().enumerate() {
        let opcode = OpCode::Data(if i == 0 { Data::Text } else { Data::Continue });
        let frame = Frame::message(part.to_vec(), opcode, i + 1 == parts.len());
        socket.send(Message::Frame(frame)).await.expect("send a fragment");
    }
}

/// The close code the server ends `socket` with (`None`: no close frame), within [`WAIT`].
async fn close_code(socket: &mut Socket) -> Option<u16> {
    loop {
        match tokio::time::timeout(WAIT, socket.next()).await.expect("closed in time") {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
            Some(Ok(Message::Text(text))) => contract().check_server(&text),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return None,
        }
    }
}

#[tokio::test]
async fn size_limits_count_whole_messages_and_past_64_kib_the_close_code_is_1009() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[2]).await;
    let comment = |len: usize| format!(r#"{{"type":"comment","text":"{}"}}"#, "x".repeat(len));

    // 5,000 bytes in two frames of 2,500: one message over 4,096 bytes.
    let (ws, _) = app.viewer(scene.room, None).await;
    let mut socket = ws.into_stream();
    send_fragmented(&mut socket, &comment(5_000), 2_500).await;
    assert_eq!(raw_refusal(&mut socket).await, owned("frame_too_large", None));
    // A valid comment in three small frames is one message, and goes through.
    let fine = r#"{"type":"comment","text":"in three parts"}"#;
    contract().check_client(fine);
    send_fragmented(&mut socket, fine, 15).await;
    loop {
        let msg = tokio::time::timeout(WAIT, socket.next()).await.unwrap().unwrap().unwrap();
        if msg.to_text().unwrap().contains("in three parts") {
            break;
        }
    }

    // Over 65,536 bytes: close code 1009, in one frame or in several, joined or not, on a
    // room connection and on a sales feed.
    send_fragmented(&mut socket, &comment(70_000), 40_000).await;
    assert_eq!(close_code(&mut socket).await, Some(1009), "fragmented, joined");
    let (mut ws, _) = app.viewer(scene.room, None).await;
    ws.send_invalid(&comment(70_000)).await;
    assert_eq!(ws.closed().await.map(|c| c.0), Some(1009), "one frame, joined");
    let mut ws = app.ws().await;
    ws.send_invalid(&comment(70_000)).await;
    assert_eq!(ws.closed().await.map(|c| c.0), Some(1009), "before joining");
    let mut feed = app.ws().await;
    feed.send(&ClientMsg::FollowSales { token: scene.brand.token.clone() }).await;
    feed.recv_until(|m| matches!(m, ServerMsg::FollowingSales { .. }).then_some(())).await;
    feed.send_invalid(&comment(70_000)).await;
    assert_eq!(feed.closed().await.map(|c| c.0), Some(1009), "sales feed");
    // The server itself is fine.
    let (_, snapshot) = app.viewer(scene.room, None).await;
    assert_eq!(snapshot.comments.len(), 1);
}

async fn orders_of(app: &TestApp, token: &str) -> Vec<OrderView> {
    app.get(routes::ORDERS, Some(token)).await
}

async fn set_stock(app: &TestApp, token: &str, product: livecart::domain::ProductId, stock: i64, expected: i64) {
    let body =
        serde_json::to_value(StockRequest { stock: stock.try_into().unwrap(), expected: expected.try_into().unwrap() })
            .unwrap();
    let (status, answer) =
        app.send(Method::PUT, &path(routes::PRODUCT_STOCK, &[product.get()]), Some(token), Some(&body)).await;
    assert!(status.is_success(), "{status} {answer}");
}

/// A live room whose product's only unit is sold, and a late shopper with it in the cart.
async fn sold_out() -> (TestApp, Scene, Ws, SessionResponse) {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[1]).await;
    let (mut first, _) = app.shopper(scene.room, scene.products[0], 1).await;
    first.send(&checkout("first-buyer", TestCards::SUCCEEDS)).await;
    first.checkout_outcome().await.expect("the only unit is sold");
    let (late, buyer) = app.shopper(scene.room, scene.products[0], 1).await;
    (app, scene, late, buyer)
}

/// A key whose checkout was refused `sold_out` is spent on that answer: a retry never
/// buys later, at whatever the price is then, what was refused.
#[tokio::test]
async fn a_key_refused_sold_out_keeps_that_answer_even_once_there_is_stock_again() {
    let (app, scene, mut late, buyer) = sold_out().await;
    let product = scene.products[0];
    late.send(&checkout("late-1", TestCards::SUCCEEDS)).await;
    assert_eq!(late.checkout_outcome().await.unwrap_err(), "sold_out");
    set_stock(&app, &scene.brand.token, product, 5, 0).await;

    // The same key, the same cart: the same answer, no order, no stock taken.
    late.send(&checkout("late-1", TestCards::SUCCEEDS)).await;
    assert_eq!(late.checkout_outcome().await.unwrap_err(), "sold_out");
    let over_rest = json!({"idempotency_key": "late-1", "card": TestCards::SUCCEEDS});
    let route = path(routes::ROOM_CHECKOUT, &[scene.room.get()]);
    let (status, body) = app.send(Method::POST, &route, Some(&buyer.token), Some(&over_rest)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("sold_out")), "{body}");
    assert!(orders_of(&app, &buyer.token).await.is_empty());
    assert_eq!(app.stock(product).await, 5);

    // The key used for another purchase is a mismatch; a new key buys.
    late.send(&ClientMsg::CartSet { product_id: product, quantity: 2 }).await;
    late.recv_until(|m| matches!(m, ServerMsg::Cart { .. }).then_some(())).await;
    late.send(&checkout("late-1", TestCards::SUCCEEDS)).await;
    assert_eq!(late.checkout_outcome().await.unwrap_err(), "idempotency_mismatch");
    late.send(&checkout("late-2", TestCards::SUCCEEDS)).await;
    let order = late.checkout_outcome().await.expect("a new key buys");
    assert_eq!(order.lines[0].quantity, 2);
    assert_eq!(orders_of(&app, &buyer.token).await.len(), 1);
}

/// An account remembers its newest keys spent on `sold_out`, not every one: of 101 the
/// oldest is free again and buys, the next still answers `sold_out`.
#[tokio::test]
async fn a_buyer_remembers_only_its_newest_keys_refused_sold_out() {
    let (app, scene, mut late, _) = sold_out().await;
    let product = scene.products[0];
    let key = |n: i64| format!("late-{n:03}");
    for n in 0..=REFUSALS_PER_BUYER {
        late.send(&checkout(&key(n), TestCards::SUCCEEDS)).await;
        assert_eq!(late.checkout_outcome().await.unwrap_err(), "sold_out", "{}", key(n));
    }
    set_stock(&app, &scene.brand.token, product, 5, 0).await;
    late.send(&checkout(&key(1), TestCards::SUCCEEDS)).await;
    assert_eq!(late.checkout_outcome().await.unwrap_err(), "sold_out", "the 100th newest is remembered");
    late.send(&checkout(&key(0), TestCards::SUCCEEDS)).await;
    late.checkout_outcome().await.expect("the oldest key is a new checkout");
}

/// Refusals before the stock is held change nothing, the key included: fixed, the same
/// request with the same key is a new checkout.
#[tokio::test]
async fn a_key_refused_before_the_hold_may_be_used_again() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[3]).await;
    let buyer = app.register(Role::Viewer, "Eager", None).await;
    let (mut ws, _) = app.viewer(scene.room, Some(&buyer.token)).await;
    ws.send(&checkout("eager-1", TestCards::SUCCEEDS)).await;
    assert_eq!(ws.checkout_outcome().await.unwrap_err(), "cart_empty");
    ws.send(&ClientMsg::CartAdd { product_id: scene.products[0], quantity: 1 }).await;
    ws.recv_until(|m| matches!(m, ServerMsg::Cart { .. }).then_some(())).await;
    ws.send(&checkout("eager-1", TestCards::SUCCEEDS)).await;
    ws.checkout_outcome().await.expect("the same key, now with a cart, buys");
}
