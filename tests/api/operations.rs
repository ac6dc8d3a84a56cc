use crate::helpers::{TestApp, WAIT};
use futures_util::StreamExt;
use livecart::wire::routes;
use serde_json::Value;

#[tokio::test]
async fn the_openapi_description_lists_every_rest_route() {
    let app = TestApp::spawn().await;
    let doc: Value = app.get(routes::OPENAPI, None).await;
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with('3')));
    let paths = doc["paths"].as_object().expect("paths");
    for route in [routes::REGISTER, routes::ROOMS, routes::ROOM_GO_LIVE, routes::PRODUCT_STOCK, routes::CREATOR_ORDERS]
    {
        assert!(paths.contains_key(route), "{route} is described");
    }
    assert!(doc["components"]["schemas"]["OrderView"].is_object());
}

#[tokio::test]
async fn readiness_checks_the_backends_the_node_uses() {
    let app = TestApp::spawn().await;
    let ready: Value = app.get(routes::READY, None).await;
    assert_eq!(ready["database"], "ok");
    assert_eq!(ready["redis"].is_null(), app.state.redis.is_none());
}

#[tokio::test]
async fn metrics_are_served_on_their_own_listener() {
    let app = TestApp::spawn().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(livecart::serve_metrics(listener, app.state.shutdown.clone()));
    let scene = app.live_room(&[3]).await;
    let (mut ws, _) = app.viewer(scene.room, None).await;
    ws.send(&livecart::wire::ws::ClientMsg::Comment { text: "hi".try_into().unwrap() }).await;
    ws.recv_until(|m| matches!(m, livecart::wire::ws::ServerMsg::Event { .. }).then_some(())).await;
    let text = reqwest::get(format!("http://{addr}/metrics")).await.unwrap().text().await.unwrap();
    for metric in ["livecart_connections", "livecart_room_events_total", "livecart_frames_sent_total"] {
        assert!(text.contains(metric), "{metric} missing from:\n{text}");
    }
    let public = reqwest::get(app.url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(!public.contains("livecart_connections"), "metrics are not on the public port");
    let (status, body) = app.send(reqwest::Method::GET, "/api/no-such-route", None, None).await;
    assert_eq!((status.as_u16(), body["error"]["code"].as_str()), (404, Some("not_found")));
}

#[tokio::test]
async fn shutdown_tells_viewers_to_reconnect() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[3]).await;
    let (ws, _) = app.viewer(scene.room, None).await;
    app.state.shutdown.cancel();
    let mut stream = ws.into_stream();
    let code = tokio::time::timeout(WAIT, async {
        while let Some(Ok(msg)) = stream.next().await {
            match msg {
                tokio_tungstenite::tungstenite::Message::Close(frame) => return frame.map(|f| u16::from(f.code)),
                tokio_tungstenite::tungstenite::Message::Text(text) => crate::helpers::contract().check_server(&text),
                _ => {}
            }
        }
        None
    })
    .await
    .expect("closed in time");
    assert_eq!(code, Some(1012));
}
