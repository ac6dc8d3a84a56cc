//! Media through a TURN relay: Debian's coturn on loopback, livecart issuing time-limited
//! TURN credentials (`GET /api/ice`, the TURN REST scheme), and a receive-only viewer
//! that may use its relay and nothing else (`RTCIceTransportPolicy::Relay`), as a phone
//! behind carrier NAT must. The stream must arrive over the relay; credentials that have
//! expired must be refused by coturn.
//!
//! Each test that needs coturn starts its own on 127.0.0.1 (a free port, a throwaway
//! database), from `LIVECART_TEST_COTURN` (the `turnserver` program; `.ci/coturn` installs
//! it and `.ci/test` sets it), else `turnserver` on the PATH. Without either, the test
//! says so loudly and returns, unless `CI` is set: then it fails.

use crate::helpers::{TestApp, WAIT, test_config};
use crate::media::{eventually, post_sdp, publish};
use livecart::config::{Config, Secret};
use livecart::domain::{Clock, Role, UnixMs};
use livecart::media::{IceSettings, turn_credential};
use livecart::wire::api::IceConfig;
use livecart::wire::routes::{self, path};
use livecart_testkit::media::{CountingViewer, VideoCodec};
use reqwest::StatusCode;
use rtc::peer_connection::transport::RTCIceCandidateType;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;

const TEST_COTURN: &str = "LIVECART_TEST_COTURN";
const SECRET: &str = "livecart-test-turn-secret";
const REALM: &str = "livecart.test";

/// One coturn process on loopback, killed when dropped.
struct Coturn {
    port: u16,
    log: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
    _server: tokio::process::Child,
}

impl Coturn {
    /// The `turnserver` program to run, or `None` (after saying so) when there is none and
    /// this is not CI.
    fn program() -> Option<String> {
        if let Ok(program) = std::env::var(TEST_COTURN) {
            return Some(program);
        }
        let on_path = std::env::var_os("PATH")
            .and_then(|paths| std::env::split_paths(&paths).map(|dir| dir.join("turnserver")).find(|p| p.is_file()));
        if let Some(found) = on_path {
            return Some(found.display().to_string());
        }
        if std::env::var_os("CI").is_some() {
            panic!("CI must run the TURN relay tests: install coturn (`bash .ci/coturn`) and set {TEST_COTURN}");
        }
        eprintln!(
            "\n==== SKIPPED: the TURN relay test needs coturn's `turnserver` ({TEST_COTURN}, or on the PATH; \
             `bash .ci/coturn` installs Debian's coturn). It proves nothing here. ====\n"
        );
        None
    }

    async fn start() -> Option<Coturn> {
        let program = Coturn::program()?;
        let dir = tempfile::tempdir().expect("temp dir");
        // A port free for both UDP and TCP (coturn listens on both), found by binding.
        let port = loop {
            let tcp = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            let port = tcp.local_addr().expect("addr").port();
            if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
                break port;
            }
        };
        let mut server = tokio::process::Command::new(&program)
            .args(["-n", "-v", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1"])
            .arg(format!("--listening-port={port}"))
            .args(["--no-tls", "--no-dtls", "--no-cli", "--no-rfc5780", "--no-software-attribute", "--fingerprint"])
            .args(["--use-auth-secret", &format!("--static-auth-secret={SECRET}"), &format!("--realm={REALM}")])
            // Everything here, livecart's media address included, is on 127.0.0.1.
            .arg("--allow-loopback-peers")
            .args(["--log-file=stdout", "--simple-log"])
            .arg(format!("--pidfile={}", dir.path().join("turnserver.pid").display()))
            .arg(format!("--db={}", dir.path().join("turndb").display()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("starting coturn ({program}): {e}"));
        let log = Arc::new(Mutex::new(String::new()));
        for mut output in [
            Box::new(server.stdout.take().expect("stdout")) as Box<dyn tokio::io::AsyncRead + Send + Unpin>,
            Box::new(server.stderr.take().expect("stderr")),
        ] {
            let sink = Arc::clone(&log);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = output.read(&mut buf).await {
                    sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            let exited = server.try_wait().ok().flatten();
            if exited.is_some() || tokio::time::Instant::now() > deadline {
                tokio::time::sleep(Duration::from_millis(200)).await;
                panic!("coturn did not start on 127.0.0.1:{port} ({exited:?}): {}", log.lock().unwrap());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Some(Coturn { port, log, _dir: dir, _server: server })
    }

    fn url(&self) -> String {
        format!("turn:127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The log once it says `what` (or once [`WAIT`] has passed): coturn writes a line
    /// after it has answered, so the client can be done before the line is there.
    async fn log_saying(&self, what: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !what(&self.log()) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.log()
    }
}

fn turn_config(urls: &[String]) -> Config {
    let mut config = test_config();
    config.ice_servers = urls.to_vec();
    config.turn_secret = Some(Secret(SECRET.into()));
    config
}

async fn ice_for(app: &TestApp, token: Option<&str>) -> IceConfig {
    app.get(routes::ICE, token).await
}

/// A receive-only client that may use its TURN relay and nothing else.
fn relay_only(ice: &IceConfig) -> IceSettings {
    IceSettings { servers: ice.ice_servers.clone(), relay_only: true, ..IceSettings::loopback() }
}

#[tokio::test]
async fn a_viewer_that_can_reach_the_node_only_through_turn_receives_the_stream_over_the_relay() {
    let Some(coturn) = Coturn::start().await else { return };
    let app = TestApp::spawn_with(turn_config(&[coturn.url()]), Clock::system()).await;
    let scene = app.live_room(&[3]).await;
    // The host publishes directly (host candidates on 127.0.0.1).
    let (publisher, _) = publish(&app, &scene, VideoCodec::Vp8).await;
    eventually("the stream is on air", || app.state.media.is_streaming(scene.room)).await;

    let ice = ice_for(&app, None).await;
    let (viewer, offer) = CountingViewer::offer(&relay_only(&ice)).await.expect("viewer offer");
    assert!(
        offer.contains(" typ relay"),
        "the viewer gathered a relay candidate from coturn: {offer}\n{}",
        coturn.log()
    );
    assert!(!offer.contains(" typ host") && !offer.contains(" typ srflx"), "relay candidates only: {offer}");

    let (status, answer, _) = post_sdp(&app, &path(routes::WHEP, &[scene.room.get()]), None, &offer).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let viewer = viewer.start(answer).await.expect("viewer connects");
    eventually("the relay-only viewer receives packets", || viewer.packets() >= 25).await;

    let deadline = tokio::time::Instant::now() + WAIT;
    let (local, remote) = loop {
        if let Some(pair) = viewer.selected_pair().await {
            break pair;
        }
        assert!(tokio::time::Instant::now() < deadline, "ICE selected no candidate pair");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(local.typ, RTCIceCandidateType::Relay, "the media path is the relay: {local:?} -> {remote:?}");
    assert_eq!(local.port, relay_port(&offer), "the relay coturn allocated for this viewer");
    assert_eq!((remote.address.as_str(), remote.typ), ("127.0.0.1", RTCIceCandidateType::Host), "to the node");
    let log = coturn.log_saying(|log| log.contains("ALLOCATE processed, success")).await;
    assert!(log.contains("ALLOCATE processed, success"), "coturn allocated the relay:\n{log}");
    println!("{} packets over the relay {local:?} -> {remote:?}", viewer.packets());

    viewer.close().await;
    publisher.close().await;
}

/// The port of the first relay candidate in an SDP.
fn relay_port(sdp: &str) -> u16 {
    sdp.lines()
        .find(|l| l.starts_with("a=candidate:") && l.contains(" typ relay"))
        .and_then(|l| l.split(' ').nth(5))
        .and_then(|p| p.parse().ok())
        .expect("a relay candidate")
}

#[tokio::test]
async fn turn_credentials_that_have_expired_are_refused_by_the_relay() {
    let Some(coturn) = Coturn::start().await else { return };
    // A node whose clock says two hours ago hands out credentials (one hour) that have
    // run out by the relay's clock.
    let two_hours_ago = UnixMs(Clock::system().now().0 - 2 * 3_600_000);
    let mut config = turn_config(&[coturn.url()]);
    config.turn_ttl = Duration::from_secs(3_600);
    let app = TestApp::spawn_with(config, Clock::manual(two_hours_ago)).await;
    let ice = ice_for(&app, None).await;
    let expires_at = ice.expires_at.expect("an expiry");
    assert!(expires_at.0 < Clock::system().now().0, "expired: {expires_at:?}");
    let username = ice.ice_servers[0].username.clone().expect("a TURN username");

    let (_viewer, offer) = CountingViewer::offer(&relay_only(&ice)).await.expect("viewer offer");
    assert!(!offer.contains(" typ relay"), "no relay for expired credentials: {offer}");
    let refused =
        |log: &str| log.contains(&format!("Cannot find credentials of user <{username}>")) && log.contains("401");
    let log = coturn.log_saying(refused).await;
    assert!(refused(&log), "coturn refused {username}:\n{log}");
    assert!(!log.contains("ALLOCATE processed, success"), "nothing was allocated:\n{log}");
}

#[tokio::test]
async fn the_ice_route_gives_each_client_turn_credentials_that_expire_and_no_static_password() {
    let urls = ["stun:127.0.0.1:3478".to_owned(), "turn:127.0.0.1:3478".to_owned()];
    let app = TestApp::spawn_with(turn_config(&urls), Clock::manual(UnixMs(1_800_000_000_000))).await;

    let resp = reqwest::get(app.url(routes::ICE)).await.expect("GET /api/ice");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store", "credentials are never cached");
    let guest: IceConfig = resp.json().await.expect("ice config");
    assert_eq!(guest.ice_servers.len(), 2);
    assert_eq!(guest.ice_servers[0].urls, ["stun:127.0.0.1:3478"]);
    assert!(guest.ice_servers[0].username.is_none() && guest.ice_servers[0].credential.is_none());
    let turn = &guest.ice_servers[1];
    assert_eq!(turn.urls, ["turn:127.0.0.1:3478"]);
    let username = turn.username.clone().unwrap();
    assert!(username.starts_with("1800003600:guest-"), "expiry (the default hour) and a guest id: {username}");
    assert_eq!(turn.credential.clone().unwrap(), turn_credential(SECRET.as_bytes(), &username));
    assert_eq!(guest.expires_at, Some(UnixMs(1_800_003_600_000)));
    assert!(!serde_json::to_string(&guest).unwrap().contains(SECRET), "the secret never leaves the node");

    let viewer = app.register(Role::Viewer, "Vi", None).await;
    let signed_in = ice_for(&app, Some(&viewer.token)).await;
    assert_eq!(
        signed_in.ice_servers[1].username.as_deref(),
        Some(format!("1800003600:{}", viewer.account.id).as_str())
    );
    let (status, _) = app.send(reqwest::Method::GET, routes::ICE, Some("not-a-session"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a token that is given must be valid");

    // No ICE servers configured (the embedded default): nothing to hand out.
    let plain = TestApp::spawn().await;
    let none = ice_for(&plain, None).await;
    assert!(none.ice_servers.is_empty() && none.expires_at.is_none());
}

#[test]
fn the_ice_configuration_is_one_coherent_story() {
    let check = |edit: &dyn Fn(&mut Config)| {
        let mut config = test_config();
        edit(&mut config);
        config.validate().map_err(|e| e.to_string())
    };
    assert!(check(&|_| {}).is_ok());
    assert!(check(&|c| c.ice_servers = vec!["stun:stun.example:3478".into()]).is_ok());
    let turn = vec!["turn:turn.example:3478".to_owned(), "turns:turn.example:443?transport=tcp".to_owned()];
    let err = check(&|c| c.ice_servers = turn.clone()).unwrap_err();
    assert!(err.contains("LIVECART_TURN_SECRET"), "{err}");
    assert!(check(&|c| *c = turn_config(&turn)).is_ok());
    let err = check(&|c| c.turn_secret = Some(Secret("s".into()))).unwrap_err();
    assert!(err.contains("names no turn"), "{err}");
    let err = check(&|c| c.ice_servers = vec!["http://turn.example".into()]).unwrap_err();
    assert!(err.contains("not a stun:, turn: or turns: URL"), "{err}");
    let err = check(&|c| c.turn_credential = Some(Secret("static".into()))).unwrap_err();
    assert!(err.contains("LIVECART_TURN_SECRET") && err.contains("no longer used"), "{err}");
    let err = check(&|c| {
        *c = turn_config(&turn);
        c.turn_ttl = Duration::ZERO;
    })
    .unwrap_err();
    assert!(err.contains("turn_ttl"), "{err}");
}
