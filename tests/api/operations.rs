use crate::helpers::TestApp;
use livecart::wire::routes;
use livecart::wire::ws::{ClientMsg, ServerMsg};
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
    let wrong_method = reqwest::Client::new().delete(app.url(routes::ROOMS)).send().await.unwrap();
    assert_eq!(wrong_method.status(), 405);
    let allow = wrong_method.headers().get("allow").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(allow.contains("GET") && allow.contains("POST"), "Allow names the methods the path takes: {allow:?}");
    let body: serde_json::Value = wrong_method.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");
}

/// Room viewers, sales feeds and notices connections are all told to reconnect.
#[tokio::test]
async fn shutdown_tells_viewers_to_reconnect() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[3]).await;
    let (viewer, _) = app.viewer(scene.room, None).await;
    let mut feed = app.ws().await;
    feed.send(&ClientMsg::FollowSales { token: scene.brand.token.clone() }).await;
    feed.recv_until(|m| matches!(m, ServerMsg::FollowingSales { .. }).then_some(())).await;
    let mut notices = app.ws().await;
    notices.send(&ClientMsg::Listen { token: scene.creator.token.clone() }).await;
    notices.recv_until(|m| matches!(m, ServerMsg::Listening { .. }).then_some(())).await;
    app.state.shutdown.cancel();
    for (mut ws, reason) in [
        (viewer, "server restarting: reconnect with since"),
        (feed, "server restarting: reconnect"),
        (notices, "server restarting: reconnect"),
    ] {
        assert_eq!(ws.closed().await, Some((1012, reason.to_owned())));
    }
}

/// The demo's product images are real SVG files; a missing file is a 404 (not the app's
/// page with a 200), and the pages the web demo links to are still served.
#[tokio::test]
async fn the_demo_images_load_and_a_missing_file_is_a_404() {
    let app = TestApp::spawn().await;
    let s = &app.state;
    livecart::seed::seed_demo(&s.accounts, &s.rooms, &s.store, livecart::domain::Clock::system().now())
        .await
        .expect("seeded");
    let brand = s.store.account_by_email("brand@demo.livecart").await.unwrap().unwrap().0.brand_id.unwrap();
    let products = s.store.products_of_brand(brand).await.unwrap();
    assert_eq!(products.len(), 3);
    let http = reqwest::Client::new();
    for p in &products {
        assert!(p.image_url.starts_with("/img/"), "{}", p.image_url);
        let answer = http.get(app.url(&p.image_url)).send().await.unwrap();
        assert_eq!(answer.status(), 200, "{}", p.image_url);
        assert_eq!(answer.headers()["content-type"], "image/svg+xml", "{}", p.image_url);
        let svg = answer.text().await.unwrap();
        assert!(svg.starts_with("<svg") && svg.contains(&p.title), "{} names its product", p.image_url);
    }
    for page in
        ["/", "/index.html", "/studio.html", "/brand.html", "/live/watch.html", "/live/publish.html", "/app/app.css"]
    {
        assert_eq!(http.get(app.url(page)).send().await.unwrap().status(), 200, "{page}");
    }
    for missing in ["/img/nope.svg", "/nope.js", "/nope", "/app/nope.css", "/api/nope"] {
        let answer = http.get(app.url(missing)).send().await.unwrap();
        assert_eq!(answer.status(), 404, "{missing}");
        let body: Value = answer.json().await.expect("our error body");
        assert_eq!(body["error"]["code"], "not_found", "{missing}");
    }
}
