//! Abuse limits at the edge, tried as an attacker would, over real TCP and WebSocket
//! connections on loopback: slowloris and idle sockets, the global connection limit, the
//! per-address cap, the per-account and per-address guest caps on WebSockets (and that
//! an account counts once among a room's viewers), and the WebSocket's Origin check.
//! Every wait is bounded; nothing asserts how long anything took.

use crate::helpers::{TestApp, WAIT, Ws, contract, test_config};
use futures_util::{SinkExt, StreamExt};
use livecart::config::AllowedOrigin;
use livecart::domain::{Clock, RoomId};
use livecart::wire::routes;
use livecart::wire::ws::{ClientMsg, RoomEvent, ServerMsg};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// A TCP connection to the server from `source` (a loopback address of 127.0.0.0/8).
async fn connect_from(server: SocketAddr, source: Ipv4Addr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind(SocketAddr::from((source, 0))).expect("bind the source address");
    tokio::time::timeout(WAIT, socket.connect(server)).await.expect("connect in time").expect("connect")
}

async fn connect(server: SocketAddr) -> TcpStream {
    connect_from(server, Ipv4Addr::LOCALHOST).await
}

/// An HTTP/1.1 response as read off the wire: the head, and the body.
struct Answer {
    head: String,
    body: String,
}

impl Answer {
    fn status(&self) -> u16 {
        self.head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    fn code(&self) -> String {
        let body: serde_json::Value = serde_json::from_str(&self.body).unwrap_or_default();
        body["error"]["code"].as_str().unwrap_or_default().to_owned()
    }
}

/// Sends `GET path` (the connection kept alive) and reads the answer; `None` when the
/// server closed the connection without one.
async fn get(stream: &mut TcpStream, path: &str) -> Option<Answer> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: limits.test\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut read = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = read.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match tokio::time::timeout(WAIT, stream.read(&mut buf)).await.expect("an answer or a close in time") {
            Ok(0) | Err(_) => return None,
            Ok(n) => read.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&read[..head_end]).into_owned();
    let mut answer = Answer { head, body: String::new() };
    let length: usize = answer.header("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
    let mut body = read[head_end..].to_vec();
    while body.len() < length {
        match tokio::time::timeout(WAIT, stream.read(&mut buf)).await.expect("the body in time") {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&buf[..n]),
        }
    }
    answer.body = String::from_utf8_lossy(&body).into_owned();
    Some(answer)
}

/// Reads until the server closes the connection (within [`WAIT`]); what it sent first.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut read = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(WAIT, stream.read(&mut buf)).await.expect("the server closes the connection") {
            Ok(0) | Err(_) => return read,
            Ok(n) => read.extend_from_slice(&buf[..n]),
        }
    }
}

/// `GET path` on fresh connections from `source` until one is answered (the server
/// notices closed connections a moment after the client closes them).
async fn answered(server: SocketAddr, source: Ipv4Addr, path: &str) -> Answer {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mut stream = connect_from(server, source).await;
        if let Some(answer) = get(&mut stream, path).await {
            return answer;
        }
        assert!(tokio::time::Instant::now() < deadline, "GET {path} was never answered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Keep-alive connections that each had one `/health` answered, so the server holds them.
async fn held_connections(server: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut held = Vec::new();
    for _ in 0..n {
        let mut stream = connect(server).await;
        let answer = get(&mut stream, routes::HEALTH).await.expect("served under the limits");
        assert_eq!(answer.status(), 200);
        held.push(stream);
    }
    held
}

#[tokio::test]
async fn a_slowloris_head_is_cut_off_by_the_header_read_timeout_while_health_answers() {
    let mut config = test_config();
    config.header_read_timeout = Duration::from_secs(1);
    // Far beyond every wait here: whatever closes the slow connection, it is not this.
    config.http_idle_timeout = Duration::from_secs(600);
    let app = TestApp::spawn_with(config, Clock::system()).await;

    // A request head that never ends: a byte every 100 ms.
    let slow = connect(app.addr).await;
    let (mut slow_read, mut slow_write) = slow.into_split();
    let trickle = tokio::spawn(async move {
        slow_write.write_all(b"GET /health HTTP/1.1\r\nHost: limits.test\r\nX-Slow: ").await.ok()?;
        for _ in 0..(WAIT.as_millis() / 100) {
            tokio::time::sleep(Duration::from_millis(100)).await;
            slow_write.write_all(b"a").await.ok()?;
        }
        Some(())
    });
    let (status, _) = app.send(reqwest::Method::GET, routes::HEALTH, None, None).await;
    assert_eq!(status, 200, "/health answers while the slow head trickles in");

    let mut sent = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(WAIT, slow_read.read(&mut buf)).await.expect("the slowloris is cut off") {
            Ok(0) | Err(_) => break,
            Ok(n) => sent.extend_from_slice(&buf[..n]),
        }
    }
    assert!(sent.is_empty(), "the endless head got no answer: {}", String::from_utf8_lossy(&sent));
    assert_eq!(trickle.await.unwrap(), None, "the server stopped reading the trickle");
    let (status, _) = app.send(reqwest::Method::GET, routes::HEALTH, None, None).await;
    assert_eq!(status, 200);
}

/// A server whose request bodies must arrive within 1 s, and a connection to it that
/// has sent the head of a login whose body promises 100 bytes.
async fn login_body_promised() -> (TestApp, TcpStream) {
    let mut config = test_config();
    config.body_read_timeout = Duration::from_secs(1);
    config.http_idle_timeout = Duration::from_secs(600);
    let app = TestApp::spawn_with(config, Clock::system()).await;
    let mut stream = connect(app.addr).await;
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: limits.test\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n",
        routes::LOGIN
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    (app, stream)
}

#[tokio::test]
async fn a_request_body_that_stalls_is_abandoned_with_a_clear_error() {
    // The body sends 10 of its 100 bytes, then nothing.
    let (app, mut stream) = login_body_promised().await;
    stream.write_all(br#"{"email":""#).await.unwrap();
    let answer = String::from_utf8_lossy(&read_until_closed(&mut stream).await).into_owned();
    let status = answer.split(' ').nth(1).unwrap_or_default();
    assert_eq!(status, "400", "the stalled body gets an answer, not a hung handler: {answer}");
    let (status, _) = app.send(reqwest::Method::GET, routes::HEALTH, None, None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_request_body_that_trickles_in_is_abandoned_at_its_deadline() {
    // The body sends one of its 100 bytes every 200 ms: never idle for the limit, but
    // 20 s from whole.
    let (_app, stream) = login_body_promised().await;
    let (mut reader, mut writer) = stream.into_split();
    let trickle = tokio::spawn(async move {
        for _ in 0..100 {
            if writer.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    // The answer, read until its body has come or the connection closes.
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(15), async {
        let mut chunk = [0u8; 4096];
        while !String::from_utf8_lossy(&answer).contains('}') {
            match reader.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    trickle.abort();
    assert!(read.is_ok(), "no answer while the body trickled in for 15 s");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.split(' ').nth(1).unwrap_or_default();
    assert_eq!(status, "400", "the late body gets an answer: {answer}");
    assert!(answer.contains("invalid_input"), "with the documented code: {answer}");
}

#[tokio::test]
async fn idle_connections_are_closed_but_upgraded_websockets_are_not() {
    let mut config = test_config();
    config.http_idle_timeout = Duration::from_secs(2);
    config.header_read_timeout = Duration::from_secs(600);
    let app = TestApp::spawn_with(config, Clock::system()).await;
    // Set up first: the HTTP client's pooled connection is itself closed once idle, and
    // a request sent on it at that very moment would fail.
    let scene = app.live_room(&[1]).await;
    let (mut ws, _) = app.viewer(scene.room, None).await;

    // A connection that never sends anything, and one kept alive after a response.
    let mut idle = connect(app.addr).await;
    let mut kept = connect(app.addr).await;
    assert_eq!(get(&mut kept, routes::HEALTH).await.expect("answered").status(), 200);
    let mut health = connect(app.addr).await;
    assert_eq!(get(&mut health, routes::HEALTH).await.expect("answered").status(), 200, "/health answers");
    assert!(read_until_closed(&mut idle).await.is_empty(), "the idle connection is closed without a word");
    assert!(read_until_closed(&mut kept).await.is_empty(), "the idle keep-alive connection is closed");

    // The WebSocket, upgraded before, is not subject to the HTTP idle timeout.
    tokio::time::sleep(Duration::from_secs(4)).await;
    ws.send(&ClientMsg::Comment { text: "still connected".try_into().unwrap() }).await;
    let text = ws
        .recv_until(|m| match m {
            ServerMsg::Event { event: RoomEvent::Comment(c), .. } => Some(c.text),
            _ => None,
        })
        .await;
    assert_eq!(text, "still connected");
}

#[tokio::test]
async fn over_the_global_limit_health_answers_and_the_rest_is_refused() {
    let mut config = test_config();
    config.max_connections = Some(3);
    // Long enough that nothing this test holds open times out under it.
    config.header_read_timeout = Duration::from_secs(60);
    config.http_idle_timeout = Duration::from_secs(120);
    let app = TestApp::spawn_with(config, Clock::system()).await;

    let held = held_connections(app.addr, 3).await;
    // The reserved overflow slots fill with connections that send nothing…
    let mut overflow = Vec::new();
    for _ in 0..livecart::serve::OVERFLOW_SLOTS {
        overflow.push(connect(app.addr).await);
    }
    // …and the next connection is closed at once.
    let mut refused = connect(app.addr).await;
    assert!(get(&mut refused, routes::HEALTH).await.is_none(), "closed without an answer");

    // With overflow slots free again, /health answers over the limit, nothing else does.
    drop(overflow);
    let health = answered(app.addr, Ipv4Addr::LOCALHOST, routes::HEALTH).await;
    assert_eq!(health.status(), 200);
    let rooms = answered(app.addr, Ipv4Addr::LOCALHOST, routes::ROOMS).await;
    assert_eq!((rooms.status(), rooms.code().as_str()), (503, "unavailable"), "{}", rooms.body);
    assert!(rooms.header("retry-after").is_some(), "{}", rooms.head);
    let ws = tokio_tungstenite::connect_async(format!("ws://{}{}", app.addr, routes::WS)).await;
    assert!(ws.is_err(), "no WebSocket over the limit");

    // Below the limit again, everything is served.
    drop(held);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let rooms = answered(app.addr, Ipv4Addr::LOCALHOST, routes::ROOMS).await;
        if rooms.status() == 200 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still refused: {}", rooms.head);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_address_over_its_cap_is_closed_at_once_while_others_are_served() {
    let mut config = test_config();
    config.max_connections_per_address = 3;
    let app = TestApp::spawn_with(config, Clock::system()).await;

    let mut held = held_connections(app.addr, 3).await;
    let mut fourth = connect(app.addr).await;
    assert!(get(&mut fourth, routes::HEALTH).await.is_none(), "the fourth from 127.0.0.1 is closed at once");
    let other = answered(app.addr, Ipv4Addr::new(127, 0, 0, 2), routes::HEALTH).await;
    assert_eq!(other.status(), 200, "another address is served");

    held.pop();
    assert_eq!(answered(app.addr, Ipv4Addr::LOCALHOST, routes::HEALTH).await.status(), 200, "a place came free");
}

fn join(room: RoomId, token: Option<&str>) -> ClientMsg {
    ClientMsg::Join {
        room_id: room,
        token: token.map(str::to_owned),
        guest_name: token.is_none().then(|| "Guest".try_into().unwrap()),
        since: None,
        epoch: None,
        audience_key: None,
    }
}

/// The viewer counts `ws` receives until one equals `until`; every one seen.
async fn viewer_counts(ws: &mut Ws, until: u64) -> Vec<u64> {
    let mut seen = Vec::new();
    ws.recv_until(|m| match m {
        ServerMsg::Viewers { count } => {
            seen.push(count);
            (count == until).then_some(())
        }
        _ => None,
    })
    .await;
    seen
}

#[tokio::test]
async fn an_account_holds_at_most_its_cap_of_connections_and_counts_once_as_a_viewer() {
    let mut config = test_config();
    config.max_connections_per_account = 5;
    let app = TestApp::spawn_with(config, Clock::system()).await;
    let scene = app.live_room(&[1]).await;
    let (mut observer, _) = app.viewer(scene.room, None).await;
    let fan = app.register(livecart::domain::Role::Viewer, "Fan", None).await;

    let mut fans = Vec::new();
    for _ in 0..5 {
        fans.push(app.viewer(scene.room, Some(&fan.token)).await.0);
    }
    // The sixth join is refused; the connection stays open and may join otherwise.
    let mut sixth = app.ws().await;
    sixth.send(&join(scene.room, Some(&fan.token))).await;
    assert_eq!(sixth.error_code().await, "too_many_connections");
    let snapshot = sixth.join(scene.room, None).await;
    assert_eq!(snapshot.viewers, 3, "the observer, the fan once, and this guest");
    let counts = viewer_counts(&mut observer, 3).await;
    assert!(counts.iter().all(|&c| c <= 3), "never one viewer per socket: {counts:?}");

    // The cap covers the sales feed too (a brand member's room connections count).
    let mut brand_rooms = Vec::new();
    for _ in 0..5 {
        brand_rooms.push(app.viewer(scene.room, Some(&scene.brand.token)).await.0);
    }
    let mut feed = app.ws().await;
    feed.send(&ClientMsg::FollowSales { token: scene.brand.token.clone() }).await;
    assert_eq!(feed.error_code().await, "too_many_connections");
    for ws in brand_rooms {
        ws.close().await;
    }

    // The fan's connections leave; the fan counts until the last one has.
    let last = fans.pop().unwrap();
    for ws in fans {
        ws.close().await;
    }
    // A place came free: the fan may join again (once the server has seen a close).
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut again = app.ws().await;
    loop {
        again.send(&join(scene.room, Some(&fan.token))).await;
        match again
            .recv_until(|m| match m {
                ServerMsg::Snapshot(_) => Some(None),
                ServerMsg::Error { code, .. } => Some(Some(code)),
                _ => None,
            })
            .await
        {
            None => break,
            Some(code) => assert_eq!(code, "too_many_connections"),
        }
        assert!(tokio::time::Instant::now() < deadline, "no place came free");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    last.close().await;
    again.close().await;
    let counts = viewer_counts(&mut observer, 2).await;
    assert!(counts.iter().all(|&c| c <= 4), "at most the observer, the guest, the fan, the brand: {counts:?}");
}

#[tokio::test]
async fn guests_from_one_address_are_capped() {
    let mut config = test_config();
    config.max_guests_per_address = 2;
    let app = TestApp::spawn_with(config, Clock::system()).await;
    let scene = app.live_room(&[1]).await;
    let _first = app.viewer(scene.room, None).await;
    let _second = app.viewer(scene.room, None).await;
    let mut third = app.ws().await;
    third.send(&join(scene.room, None)).await;
    assert_eq!(third.error_code().await, "too_many_connections");
    let viewer = app.register(livecart::domain::Role::Viewer, "Signed in", None).await;
    third.join(scene.room, Some(&viewer.token)).await;
}

/// Opens the WebSocket with `origin` (none: no header); the HTTP status and error code of
/// a refusal, or `None` when upgraded.
async fn open_with_origin(app: &TestApp, origin: Option<&str>) -> Option<(u16, String)> {
    let mut request = format!("ws://{}{}", app.addr, routes::WS).into_client_request().unwrap();
    if let Some(origin) = origin {
        request.headers_mut().insert("origin", origin.parse().unwrap());
    }
    match tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request)).await.expect("in time") {
        Ok(_) => None,
        Err(tungstenite::Error::Http(response)) => {
            let body: serde_json::Value =
                response.body().as_deref().and_then(|b| serde_json::from_slice(b).ok()).unwrap_or_default();
            Some((response.status().as_u16(), body["error"]["code"].as_str().unwrap_or_default().to_owned()))
        }
        Err(e) => panic!("websocket: {e}"),
    }
}

#[tokio::test]
async fn websocket_origins_are_allowed_by_list_refused_otherwise_and_absent_is_fine() {
    let mut config = test_config();
    config.allowed_origins = vec![AllowedOrigin::parse("https://shop.example").unwrap()];
    let app = TestApp::spawn_with(config, Clock::system()).await;
    let own = format!("http://{}", app.addr);
    assert_eq!(open_with_origin(&app, None).await, None, "no Origin: not a browser");
    assert_eq!(open_with_origin(&app, Some(&own)).await, None, "the server's own origin");
    assert_eq!(open_with_origin(&app, Some("https://shop.example")).await, None, "listed");
    let refused = Some((403, "forbidden".to_owned()));
    assert_eq!(open_with_origin(&app, Some("https://evil.example")).await, refused);
    assert_eq!(open_with_origin(&app, Some("http://shop.example")).await, refused, "another scheme");
    assert_eq!(open_with_origin(&app, Some("null")).await, refused);
}

/// A connection that has not joined within the join timeout is dropped, whether it says
/// nothing or keeps failing to join (a failed join does not restart the count); one that
/// joined in time stays past it.
#[tokio::test]
async fn a_connection_that_does_not_join_in_time_is_dropped() {
    let mut config = test_config();
    config.join_timeout = Duration::from_secs(1);
    let app = TestApp::spawn_with(config, Clock::system()).await;
    let scene = app.live_room(&[1]).await;
    let (mut joined, _) = app.viewer(scene.room, None).await;

    let mut silent = app.ws().await;
    assert_eq!(silent.closed().await, None, "dropped, without a close frame");

    let mut failing = app.ws().await.into_stream();
    let no_room = r#"{"type":"join","room_id":999999,"guest_name":"Nobody"}"#;
    let mut refused = 0;
    let dropped = tokio::time::timeout(WAIT, async {
        loop {
            if failing.send(tungstenite::Message::text(no_room)).await.is_err() {
                return;
            }
            match failing.next().await {
                Some(Ok(tungstenite::Message::Text(text))) => {
                    contract().check_server(&text);
                    refused += 1;
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(dropped.is_ok(), "joins that fail do not keep a connection past the timeout");
    assert!(refused >= 1, "each failed join was answered meanwhile");

    // Past the timeout, the joined viewer still reacts and hears the room.
    joined.send(&ClientMsg::React { reaction: livecart::domain::Reaction::Fire }).await;
    joined.recv_until(|m| matches!(m, ServerMsg::Reactions { .. }).then_some(())).await;
}
