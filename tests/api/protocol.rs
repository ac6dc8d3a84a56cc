use crate::helpers::{TestApp, test_config};
use livecart::domain::{Clock, Role};
use livecart::wire::ws::{ClientMsg, RoomEvent, ServerMsg};

#[tokio::test]
async fn malformed_frames_get_error_frames_and_the_same_connection_then_works() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[2]).await;
    let (mut ws, _) = app.viewer(scene.room, None).await;
    // Every one breaks the contract (docs/asyncapi.json) on purpose, but the last: that
    // one is well-formed and refused for the connection's state.
    let bad = [
        ("{not json", "malformed_json"),
        (r#"{"type":"teleport"}"#, "unknown_message"),
        (r#"{"text":"no type"}"#, "invalid_input"),
        (r#"{"type":"comment"}"#, "invalid_input"),
        (r#"{"type":"comment","text":42}"#, "invalid_input"),
        (r#"{"type":"comment","text":"   "}"#, "invalid_input"),
        (r#"{"type":"react","reaction":"volcano"}"#, "invalid_input"),
        (r#"{"type":"pin","product_id":"seven"}"#, "invalid_input"),
        (r#"{"type":"join","room_id":1,"guest_name":"again"}"#, "already_joined"),
    ];
    for (i, (frame, code)) in bad.into_iter().enumerate() {
        if i + 1 < bad.len() {
            ws.send_invalid(frame).await;
        } else {
            ws.send_text(frame).await;
        }
        assert_eq!(ws.error_code().await, code, "for {frame}");
    }
    let long = format!(r#"{{"type":"comment","text":"{}"}}"#, "x".repeat(301));
    ws.send_invalid(&long).await;
    assert_eq!(ws.error_code().await, "invalid_input");
    let oversize = format!(r#"{{"type":"comment","text":"{}"}}"#, "x".repeat(10_000));
    ws.send_invalid(&oversize).await;
    assert_eq!(ws.error_code().await, "frame_too_large");

    ws.send(&ClientMsg::Comment { text: "still here".try_into().unwrap() }).await;
    let text = ws
        .recv_until(|m| match m {
            ServerMsg::Event { event: RoomEvent::Comment(c), .. } => Some(c.text),
            _ => None,
        })
        .await;
    assert_eq!(text, "still here");
    let (_, snapshot) = app.viewer(scene.room, None).await;
    assert_eq!(snapshot.comments.len(), 1, "none of the bad frames changed the room");
}

#[tokio::test]
async fn a_connection_must_join_before_anything_else_and_a_bad_join_can_be_retried() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[2]).await;
    let mut ws = app.ws().await;
    ws.send(&ClientMsg::Comment { text: "hello?".try_into().unwrap() }).await;
    assert_eq!(ws.error_code().await, "not_joined");
    ws.send(&ClientMsg::Join {
        room_id: scene.room,
        token: Some("forged".into()),
        guest_name: None,
        since: None,
        epoch: None,
        audience_key: None,
    })
    .await;
    assert_eq!(ws.error_code().await, "unauthenticated");
    ws.send_text(r#"{"type":"join","room_id":999999,"guest_name":"Lost"}"#).await;
    assert_eq!(ws.error_code().await, "not_found");
    ws.send_invalid(r#"{"type":"join","room_id":0,"guest_name":"Zero"}"#).await;
    assert_eq!(ws.error_code().await, "invalid_input");
    let snapshot = ws.join(scene.room, None).await;
    assert_eq!(snapshot.room.id, scene.room);
    assert!(!snapshot.you.is_host);
}

#[tokio::test]
async fn a_chatty_viewer_is_rate_limited_and_nothing_is_published() {
    let mut config = test_config();
    config.comment_burst = 3;
    config.comment_refill_ms = 60_000;
    let app = TestApp::spawn_with(config, Clock::system()).await;
    let scene = app.live_room(&[2]).await;
    let viewer = app.register(Role::Viewer, "Chatty", None).await;
    let (mut ws, _) = app.viewer(scene.room, Some(&viewer.token)).await;
    for i in 0..4 {
        ws.send(&ClientMsg::Comment { text: format!("msg {i}").try_into().unwrap() }).await;
    }
    assert_eq!(ws.error_code().await, "rate_limited");
    // A second connection of the same account shares the limit.
    let (mut again, snapshot) = app.viewer(scene.room, Some(&viewer.token)).await;
    assert_eq!(snapshot.comments.len(), 3);
    again.send(&ClientMsg::Comment { text: "sneaky".try_into().unwrap() }).await;
    assert_eq!(again.error_code().await, "rate_limited");
}

#[tokio::test]
async fn the_snapshot_holds_everything_a_client_draws() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[4, 9]).await;
    let (mut host, snapshot) = app.viewer(scene.room, Some(&scene.creator.token)).await;
    assert!(snapshot.you.is_host);
    assert_eq!(snapshot.room.host.id, scene.host_id());
    assert_eq!(snapshot.lineup.iter().map(|p| p.stock).collect::<Vec<_>>(), vec![4, 9]);
    host.send(&ClientMsg::StartDrop {
        product_id: scene.products[1],
        quantity: 5,
        price: None,
        duration_secs: 60,
        per_buyer: None,
    })
    .await;
    host.recv_until(|m| matches!(m, ServerMsg::Event { event: RoomEvent::DropStarted { .. }, .. }).then_some(())).await;
    host.send(&ClientMsg::StartDrop {
        product_id: scene.products[0],
        quantity: 1,
        price: None,
        duration_secs: 60,
        per_buyer: None,
    })
    .await;
    assert_eq!(host.error_code().await, "drop_running");
    host.send(&ClientMsg::Comment { text: "welcome!".try_into().unwrap() }).await;
    host.recv_until(|m| matches!(m, ServerMsg::Event { event: RoomEvent::Comment(_), .. }).then_some(())).await;

    let buyer = app.register(Role::Viewer, "Sam", None).await;
    let (_, s) = app.viewer(scene.room, Some(&buyer.token)).await;
    let drop = s.drop.expect("the running drop");
    assert_eq!((drop.quantity, drop.remaining, drop.price.amount), (5, 5, 1_000));
    assert_eq!(s.comments.len(), 1);
    assert_eq!(s.comments[0].comment.text, "welcome!");
    assert_eq!(s.cart.unwrap().lines.len(), 0);
    assert_eq!(s.you.display_name, "Sam");
    assert!(s.viewers >= 1);
}

#[tokio::test]
async fn a_drop_cannot_promise_more_than_is_in_stock_or_last_forever() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[4]).await;
    let (mut host, _) = app.viewer(scene.room, Some(&scene.creator.token)).await;
    let product = scene.products[0];
    host.send(&ClientMsg::StartDrop {
        product_id: product,
        quantity: 5,
        price: None,
        duration_secs: 60,
        per_buyer: None,
    })
    .await;
    assert_eq!(host.error_code().await, "sold_out");
    host.send_invalid_msg(&ClientMsg::StartDrop {
        product_id: product,
        quantity: -1,
        price: None,
        duration_secs: 60,
        per_buyer: None,
    })
    .await;
    assert_eq!(host.error_code().await, "invalid_input");
    host.send_invalid_msg(&ClientMsg::StartDrop {
        product_id: product,
        quantity: 2,
        price: Some(-5),
        duration_secs: 60,
        per_buyer: None,
    })
    .await;
    assert_eq!(host.error_code().await, "invalid_input");
    host.send_invalid_msg(&ClientMsg::StartDrop {
        product_id: product,
        quantity: 2,
        price: None,
        duration_secs: 86_400,
        per_buyer: None,
    })
    .await;
    assert_eq!(host.error_code().await, "invalid_input");
    let (_, s) = app.viewer(scene.room, None).await;
    assert!(s.drop.is_none());
}
