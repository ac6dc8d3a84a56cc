//! Live video through the SFU: a synthetic publisher (built in the test, generating RTP)
//! over WHIP, receive-only viewers over WHEP, all on 127.0.0.1.

use crate::helpers::{Scene, TestApp, WAIT, Ws, test_config};
use livecart::domain::Clock;
use livecart::media::IceSettings;
use livecart::wire::routes::{self, path};
use livecart::wire::ws::{RoomEvent, ServerMsg};
use livecart_testkit::media::{CountingViewer, CountingViewerHandle, SyntheticPublisher, VideoCodec};
use reqwest::StatusCode;
use std::time::Duration;

/// POSTs an SDP offer; returns the status, the body and the `Location`.
pub(crate) async fn post_sdp(
    app: &TestApp,
    route: &str,
    token: Option<&str>,
    offer: &str,
) -> (StatusCode, String, Option<String>) {
    let mut req =
        reqwest::Client::new().post(app.url(route)).header("content-type", "application/sdp").body(offer.to_owned());
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.expect("sdp request");
    let location = resp.headers().get("location").and_then(|l| l.to_str().ok()).map(str::to_owned);
    (resp.status(), resp.text().await.unwrap_or_default(), location)
}

pub(crate) async fn publish(app: &TestApp, scene: &Scene, codec: VideoCodec) -> (SyntheticPublisher, String) {
    let (publisher, offer) = SyntheticPublisher::offer(&IceSettings::loopback(), codec).await.expect("publisher offer");
    let whip = path(routes::WHIP, &[scene.room.get()]);
    let (status, answer, location) = post_sdp(app, &whip, Some(&scene.creator.token), &offer).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert!(answer.contains("a=candidate"), "the answer carries its candidates");
    publisher.start(answer, 50).await.expect("publisher connects");
    (publisher, location.expect("a Location for the session"))
}

async fn watch(app: &TestApp, scene: &Scene) -> CountingViewerHandle {
    let (viewer, offer) = CountingViewer::offer(&IceSettings::loopback()).await.expect("viewer offer");
    let (status, answer, location) = post_sdp(app, &path(routes::WHEP, &[scene.room.get()]), None, &offer).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert!(location.is_some_and(|l| l.starts_with(&path(routes::WHEP, &[scene.room.get()]))));
    viewer.start(answer).await.expect("viewer connects")
}

/// Waits (bounded) until `done` holds.
pub(crate) async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn stream_event(ws: &mut Ws) -> RoomEvent {
    ws.recv_until(|m| match m {
        ServerMsg::Event { event: e @ (RoomEvent::StreamStarted { .. } | RoomEvent::StreamStopped), .. } => Some(e),
        _ => None,
    })
    .await
}

async fn forwards_to_twenty_viewers(codec: VideoCodec) {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[3]).await;
    let (mut room_ws, _) = app.viewer(scene.room, None).await;
    let (publisher, _) = publish(&app, &scene, codec).await;
    assert!(matches!(stream_event(&mut room_ws).await, RoomEvent::StreamStarted { resumed: false }));

    let mut viewers = Vec::new();
    for _ in 0..20 {
        viewers.push(watch(&app, &scene).await);
    }
    eventually("every viewer received packets", || viewers.iter().all(|v| v.packets() >= 25)).await;

    let before = publisher.counters.keyframe_requests.load(std::sync::atomic::Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(600)).await; // past the keyframe-request throttle
    let late = watch(&app, &scene).await;
    eventually("a new viewer's keyframe request reached the publisher", || {
        publisher.counters.keyframe_requests.load(std::sync::atomic::Ordering::Relaxed) > before
    })
    .await;
    eventually("the new viewer received packets", || late.packets() >= 10).await;
    for v in viewers {
        v.close().await;
    }
    late.close().await;
    publisher.close().await;
}

#[tokio::test]
async fn a_vp8_publisher_reaches_twenty_whep_viewers_and_new_viewers_get_a_keyframe() {
    forwards_to_twenty_viewers(VideoCodec::Vp8).await;
}

#[tokio::test]
async fn an_h264_publisher_as_obs_sends_reaches_twenty_whep_viewers() {
    forwards_to_twenty_viewers(VideoCodec::H264).await;
}

/// A viewer that reports packets lost (a NACK) gets them again, from the track's one
/// history: each viewer's leg re-sends what it names, and only what is still kept.
#[tokio::test]
async fn a_viewer_that_reports_packets_lost_is_sent_them_again() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[3]).await;
    let (mut room_ws, _) = app.viewer(scene.room, None).await;
    let (publisher, _) = publish(&app, &scene, VideoCodec::Vp8).await;
    assert!(matches!(stream_event(&mut room_ws).await, RoomEvent::StreamStarted { .. }));
    let (first, second) = (watch(&app, &scene).await, watch(&app, &scene).await);
    eventually("both viewers received packets", || first.packets() >= 10 && second.packets() >= 10).await;
    assert_eq!(app.state.media.forwarding_totals().resent, 0, "nobody reported a loss");

    assert!(first.report_lost(5).await.unwrap());
    eventually("the five were sent again", || app.state.media.forwarding_totals().resent == 5).await;
    assert!(second.report_lost(3).await.unwrap());
    eventually("and the other viewer's three", || app.state.media.forwarding_totals().resent == 8).await;
    // Far more than is kept (the last 128), or one NACK may have sent (32): no more than that.
    assert!(second.report_lost(500).await.unwrap());
    eventually("at most 32 of one report", || app.state.media.forwarding_totals().resent > 8).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(app.state.media.forwarding_totals().resent <= 8 + 32);
    first.close().await;
    second.close().await;
    publisher.close().await;
}

/// One address holds at most its cap of viewing sessions, and a session whose client
/// never connects ends by itself, freeing its place.
#[tokio::test]
async fn an_address_holds_at_most_its_cap_of_viewing_sessions_and_unconnected_ones_end() {
    let mut config = test_config();
    config.max_guests_per_address = 2;
    let app = TestApp::spawn_with(config, Clock::system()).await;
    let scene = app.live_room(&[3]).await;
    let (publisher, _) = publish(&app, &scene, VideoCodec::Vp8).await;
    eventually("the stream is on air", || app.state.media.is_streaming(scene.room)).await;
    let whep = path(routes::WHEP, &[scene.room.get()]);
    // Offers whose clients never answer: no ICE, no connection.
    let mut silent = Vec::new();
    let mut locations = Vec::new();
    for _ in 0..2 {
        let (viewer, offer) = CountingViewer::offer(&IceSettings::loopback()).await.unwrap();
        let (status, body, location) = post_sdp(&app, &whep, None, &offer).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        silent.push(viewer);
        locations.push(location.unwrap());
    }
    let (_third, offer) = CountingViewer::offer(&IceSettings::loopback()).await.unwrap();
    let (status, body, _) = post_sdp(&app, &whep, None, &offer).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(body.contains("too_many_connections"), "{body}");

    eventually("the unconnected sessions end", || app.state.media.open_sessions() == 1).await;
    let (status, body, _) = post_sdp(&app, &whep, None, &offer).await;
    assert_eq!(status, StatusCode::CREATED, "a place is free again: {body}");
    let ended = reqwest::Client::new().delete(app.url(&locations[0])).send().await.unwrap();
    assert_eq!(ended.status(), StatusCode::NO_CONTENT, "a session that ended by itself is deleted again");
    publisher.close().await;
}

/// An offer the server cannot read gets the documented error body, not axum's plain
/// text, and the content type is judged before the body is read.
#[tokio::test]
async fn an_unreadable_offer_gets_the_documented_error() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[3]).await;
    let whep = app.url(&path(routes::WHEP, &[scene.room.get()]));
    let client = reqwest::Client::new();
    let answer = |resp: reqwest::Response| async move {
        let status = resp.status();
        let body: serde_json::Value = resp.json().await.expect("our JSON error body");
        (status, body["error"]["code"].as_str().unwrap_or_default().to_owned())
    };
    let not_utf8 = vec![0xff, 0xfe, b'v', b'='];
    let sent = |content_type: &'static str, body: Vec<u8>| {
        client.post(whep.clone()).header("content-type", content_type).body(body).send()
    };
    let resp = sent("application/sdp", not_utf8.clone()).await.unwrap();
    assert_eq!(answer(resp).await, (StatusCode::BAD_REQUEST, "invalid_input".to_owned()));
    let resp = sent("text/plain", not_utf8).await.unwrap();
    assert_eq!(answer(resp).await, (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type".to_owned()));
    assert_eq!(app.state.media.open_sessions(), 0, "refused offers leave no session behind");
}

#[tokio::test]
async fn only_the_host_publishes_and_only_a_streaming_room_can_be_watched() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[3]).await;
    let viewer = app.register(livecart::domain::Role::Viewer, "Vi", None).await;
    let (_probe, offer) = SyntheticPublisher::offer(&IceSettings::loopback(), VideoCodec::Vp8).await.unwrap();
    let whip = path(routes::WHIP, &[scene.room.get()]);
    assert_eq!(post_sdp(&app, &whip, None, &offer).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(post_sdp(&app, &whip, Some(&viewer.token), &offer).await.0, StatusCode::FORBIDDEN);
    let (status, body, _) = post_sdp(&app, &whip, Some(&scene.creator.token), "v=0 not sdp").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let wrong_type = reqwest::Client::new()
        .post(app.url(&whip))
        .bearer_auth(&scene.creator.token)
        .header("content-type", "text/plain")
        .body(offer.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let (_watcher, viewer_offer) = CountingViewer::offer(&IceSettings::loopback()).await.unwrap();
    let (status, body, _) = post_sdp(&app, &path(routes::WHEP, &[scene.room.get()]), None, &viewer_offer).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body.contains("not_streaming"), "{body}");
    assert_eq!(app.state.media.open_sessions(), 0, "refused offers leave no session behind");
}

#[tokio::test]
async fn the_room_hears_when_the_stream_stops_and_resumes_and_chat_goes_on() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[3]).await;
    let (mut room_ws, _) = app.viewer(scene.room, None).await;
    let (publisher, location) = publish(&app, &scene, VideoCodec::Vp8).await;
    assert!(matches!(stream_event(&mut room_ws).await, RoomEvent::StreamStarted { resumed: false }));
    let viewer = watch(&app, &scene).await;
    eventually("the viewer receives packets", || viewer.packets() > 5).await;

    let (status, _) = app.send(reqwest::Method::DELETE, &location, Some(&scene.creator.token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(matches!(stream_event(&mut room_ws).await, RoomEvent::StreamStopped));
    eventually("the stopped stream's viewer sessions are closed", || app.state.media.open_sessions() == 0).await;
    publisher.close().await;
    viewer.close().await;

    room_ws.send(&livecart::wire::ws::ClientMsg::Comment { text: "still here".try_into().unwrap() }).await;
    room_ws.recv_until(|m| matches!(m, ServerMsg::Event { event: RoomEvent::Comment(_), .. }).then_some(())).await;

    let (again, _) = publish(&app, &scene, VideoCodec::Vp8).await;
    assert!(matches!(stream_event(&mut room_ws).await, RoomEvent::StreamStarted { resumed: true }));
    let (_, snapshot) = app.viewer(scene.room, None).await;
    assert!(snapshot.streaming);
    again.close().await;
}

#[tokio::test]
async fn media_sessions_are_released_when_closed_and_when_the_room_ends() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[3]).await;
    let (publisher, _) = publish(&app, &scene, VideoCodec::Vp8).await;
    eventually("the stream is on air", || app.state.media.is_streaming(scene.room)).await;
    for _ in 0..3 {
        let mut locations = Vec::new();
        for _ in 0..10 {
            let (viewer, offer) = CountingViewer::offer(&IceSettings::loopback()).await.unwrap();
            let (status, answer, location) =
                post_sdp(&app, &path(routes::WHEP, &[scene.room.get()]), None, &offer).await;
            assert_eq!(status, StatusCode::CREATED);
            let handle = viewer.start(answer).await.unwrap();
            locations.push((handle, location.unwrap()));
        }
        for (handle, location) in locations {
            let (status, _) = app.send(reqwest::Method::DELETE, &location, None, None).await;
            assert_eq!(status, StatusCode::NO_CONTENT);
            handle.close().await;
        }
        assert_eq!(app.state.media.open_sessions(), 1, "only the publisher is left");
    }
    eventually("every closed peer connection is released", || app.state.media.released_all()).await;

    let _: serde_json::Value =
        app.post(&path(routes::ROOM_END, &[scene.room.get()]), Some(&scene.creator.token), &()).await;
    assert_eq!(app.state.media.open_sessions(), 0, "ending the room closes its media sessions");
    eventually("the publisher's peer connection is released", || app.state.media.released_all()).await;
    publisher.close().await;
}

/// The common case of a creator going live from OBS before anyone joins: the room is let
/// go of on this node while nobody watches, and must still know its stream on return.
#[tokio::test]
async fn a_stream_outlives_the_room_being_let_go_while_nobody_watches() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[3]).await;
    let (publisher, location) = publish(&app, &scene, VideoCodec::Vp8).await;
    eventually("the stream is on air", || app.state.media.is_streaming(scene.room)).await;
    // Its announcement (the database marks the first stream, then the room hears of it)
    // comes a moment after: waited for, or on a busy machine it could reach the late
    // viewer after the room was let go of and loaded again, as the first stream event.
    let announced = async {
        while app.state.store.room(scene.room).await.unwrap().and_then(|r| r.streamed_at).is_none() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(WAIT, announced).await.expect("the stream is announced");
    eventually("the room is let go of while nobody watches it", || !app.state.rooms.serves(scene.room)).await;

    let (mut room_ws, snapshot) = app.viewer(scene.room, None).await;
    assert!(snapshot.streaming, "a late viewer is told the stream is on air");
    let viewer = watch(&app, &scene).await;
    eventually("the late viewer receives packets", || viewer.packets() > 5).await;
    viewer.close().await;

    let (status, _) = app.send(reqwest::Method::DELETE, &location, Some(&scene.creator.token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    publisher.close().await;
    assert!(matches!(stream_event(&mut room_ws).await, RoomEvent::StreamStopped));
    let (again, _) = publish(&app, &scene, VideoCodec::Vp8).await;
    assert!(matches!(stream_event(&mut room_ws).await, RoomEvent::StreamStarted { resumed: true }));
    again.close().await;
}

/// Behind a balancer that routes a path prefix to each node (docker/nginx.conf), a
/// session's `DELETE` must reach the node that holds the session: with a public URL, the
/// `Location`s of WHIP and WHEP sessions are absolute, on it.
#[tokio::test]
async fn with_a_public_url_session_locations_lead_back_to_this_node() {
    let mut config = crate::helpers::test_config();
    config.public_url = Some("http://balancer.example:8080/nodes/node1/".into());
    let app = TestApp::spawn_with(config, livecart::domain::Clock::system()).await;
    let scene = app.live_room(&[3]).await;
    let (publisher, whip_location) = publish(&app, &scene, VideoCodec::Vp8).await;
    let node = "http://balancer.example:8080/nodes/node1";
    assert!(whip_location.starts_with(&format!("{node}/api/rooms/{}/whip/", scene.room)), "{whip_location}");
    eventually("the stream is on air", || app.state.media.is_streaming(scene.room)).await;

    let (_viewer, offer) = CountingViewer::offer(&IceSettings::loopback()).await.expect("viewer offer");
    let (status, answer, location) = post_sdp(&app, &path(routes::WHEP, &[scene.room.get()]), None, &offer).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let location = location.expect("a Location");
    assert!(location.starts_with(&format!("{node}/api/rooms/{}/whep/", scene.room)), "{location}");
    // The balancer strips the prefix; the rest of the URL ends the session on this node.
    let (status, _) = app.send(reqwest::Method::DELETE, location.strip_prefix(node).unwrap(), None, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .send(reqwest::Method::DELETE, whip_location.strip_prefix(node).unwrap(), Some(&scene.creator.token), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    publisher.close().await;
}

/// When the show ends it closes every media session; the clients' own `DELETE`s that
/// follow succeed (204), as does a second `DELETE` of a session; an unknown session of a
/// live room, or any session of a room that does not exist, is 404, and a WHIP session
/// stays the host's to end.
#[tokio::test]
async fn deleting_a_session_that_already_ended_succeeds_again() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[3]).await;
    let (publisher, whip) = publish(&app, &scene, VideoCodec::Vp8).await;
    eventually("the stream is on air", || app.state.media.is_streaming(scene.room)).await;
    let (viewer, offer) = CountingViewer::offer(&IceSettings::loopback()).await.unwrap();
    let (status, answer, whep) = post_sdp(&app, &path(routes::WHEP, &[scene.room.get()]), None, &offer).await;
    assert_eq!(status, StatusCode::CREATED);
    let viewer = viewer.start(answer).await.unwrap();
    let whep = whep.unwrap();
    let (other_viewer, offer) = CountingViewer::offer(&IceSettings::loopback()).await.unwrap();
    let (_, answer, other_whep) = post_sdp(&app, &path(routes::WHEP, &[scene.room.get()]), None, &offer).await;
    let other_viewer = other_viewer.start(answer).await.unwrap();
    let other_whep = other_whep.unwrap();

    // A viewer leaves, and its client's DELETE is repeated: 204 both times.
    for _ in 0..2 {
        let (status, _) = app.send(reqwest::Method::DELETE, &other_whep, None, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    let unknown = path(routes::WHEP_SESSION, &[scene.room.get(), 12_345]);
    let (status, body) = app.send(reqwest::Method::DELETE, &unknown, None, None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));

    let _: serde_json::Value =
        app.post(&path(routes::ROOM_END, &[scene.room.get()]), Some(&scene.creator.token), &()).await;
    assert_eq!(app.state.media.open_sessions(), 0);
    let (status, _) = app.send(reqwest::Method::DELETE, &whep, None, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "the ended show closed it already");
    let (status, _) = app.send(reqwest::Method::DELETE, &whip, Some(&scene.creator.token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "the ended show closed it already");
    let stranger = app.register(livecart::domain::Role::Creator, "Stranger", None).await;
    let (status, _) = app.send(reqwest::Method::DELETE, &whip, Some(&stranger.token), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only the host ends a WHIP session, even an ended one");
    let nowhere = path(routes::WHEP_SESSION, &[scene.room.get() + 1_000, 12_345]);
    let (status, _) = app.send(reqwest::Method::DELETE, &nowhere, None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no such room");
    publisher.close().await;
    viewer.close().await;
    other_viewer.close().await;
}
