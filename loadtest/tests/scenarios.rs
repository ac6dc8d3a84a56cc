//! Small runs of each scenario against a livecart server started in this process (on
//! 127.0.0.1:0, SQLite in a temporary folder, demo data seeded). They check the load
//! tester's own accounting against what the server says, never how fast anything was.

use livecart::config::Config;
use livecart::domain::{Clock, RoomId};
use livecart::state::AppState;
use livecart::store::Store;
use livecart_loadtest::chat::ChatTarget;
use livecart_loadtest::client::Api;
use livecart_loadtest::scenario::{audience, chat_storm, checkout_rate, drop, raid};
use livecart_loadtest::server::SpawnedPeer;
use livecart_loadtest::video;

struct Server {
    api: Api,
    state: AppState,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.state.shutdown.cancel();
    }
}

async fn server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::defaults();
    config.database_url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    config.argon2_kib = 64;
    config.tick = std::time::Duration::from_millis(100);
    let store = Store::connect(&config.database_url, 4).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    config.bind = listener.local_addr().unwrap();
    let state = AppState::embedded(config, store, Clock::system()).await.expect("test cards need no settings");
    livecart::seed::seed_demo(&state.accounts, &state.rooms, &state.store, Clock::system().now()).await.unwrap();
    tokio::spawn(livecart::run(listener, state.clone()));
    Server { api: Api::new(&format!("http://{}", state.config.bind)), state, _dir: dir }
}

#[tokio::test]
async fn chat_storm_counts_every_comment_at_every_viewer() {
    let s = server().await;
    let host = s.api.login("maya@demo.livecart", "demo-creator-pass").await.unwrap();
    let target = ChatTarget::Livecart { api: s.api.clone(), room: s.api.hosted_live_room(&host).await.unwrap().id };
    let cfg = chat_storm::ChatStorm { viewers: 12, rate: 4, senders: 4, seconds: 2, server_pid: None, quiet: true };
    let r = chat_storm::run(&target, &cfg).await.unwrap();
    assert_eq!(r.joined, 12);
    assert!(r.comments_sent >= 4, "{r:?}");
    assert_eq!(r.deliveries_expected, r.comments_sent * 12);
    assert_eq!(r.deliveries, r.deliveries_expected, "every comment reached every viewer: {r:?}");
    assert_eq!(r.latency.count, r.deliveries);
    assert_eq!(
        r.timeline.iter().map(|s| s.deliveries).sum::<u64>(),
        r.deliveries,
        "the timeline accounts for every delivery"
    );
    let html = livecart_loadtest::report::chat_storm_html(&[("livecart", &r)]).unwrap();
    assert!(html.contains("<svg") && html.contains("deliveries per second"));
}

#[tokio::test]
async fn raid_counts_every_join() {
    let s = server().await;
    let host = s.api.login("maya@demo.livecart", "demo-creator-pass").await.unwrap();
    let target = ChatTarget::Livecart { api: s.api.clone(), room: s.api.hosted_live_room(&host).await.unwrap().id };
    let r =
        raid::run(&target, &raid::Raid { viewers: 25, within_secs: 0.5, server_pid: None, quiet: true }).await.unwrap();
    assert_eq!((r.joined, r.failed), (25, 0));
    assert_eq!(r.join_latency.count, 25);
}

#[tokio::test]
async fn the_drop_report_matches_what_the_database_says() {
    let s = server().await;
    let host = s.api.login("maya@demo.livecart", "demo-creator-pass").await.unwrap();
    let cfg = drop::Drop { buyers: 30, units: 7, price: Some(990), quiet: true };
    let r = drop::run(&s.api, &host, "t", &cfg).await.unwrap();
    assert_eq!(r.confirmed_orders, 7);
    assert_eq!(r.units_sold, 7);
    assert_eq!(r.oversell, 0);
    assert_eq!(r.failures.get("sold_out"), Some(&23));
    // The drop sold out, so it may have ended already: read it by the id the run reports.
    assert_eq!(s.state.store.units_sold_in_drop(r.drop_id).await.unwrap(), r.units_sold);
}

#[tokio::test]
async fn checkout_rate_accounts_for_every_unit_it_sold() {
    let s = server().await;
    let host = s.api.login("maya@demo.livecart", "demo-creator-pass").await.unwrap();
    let brand = s.api.login("brand@demo.livecart", "demo-brand-pass").await.unwrap();
    let cfg = checkout_rate::CheckoutRate { buyers: 3, seconds: 2, stock: 100_000, server_pid: None, quiet: true };
    // Two "nodes" of one server: the buyers are spread over both URLs.
    let apis = [s.api.clone(), livecart_loadtest::client::Api::new(&s.api.base)];
    let r = checkout_rate::run(&apis, &host, &brand, "rate", &cfg).await.unwrap();
    assert_eq!((r.nodes, r.buyers), (2, 3));
    assert!(r.paid_orders > 0, "{r:?}");
    assert!(r.failures.is_empty(), "{r:?}");
    assert_eq!(r.starting_stock, 100_000);
    assert_eq!(r.units_sold, r.paid_orders as i64, "one unit per paid order: {r:?}");
    assert_eq!(r.stock_left, r.starting_stock - r.units_sold, "{r:?}");
    assert_eq!((r.oversell, r.unaccounted, r.paid_unacknowledged, r.orders_placed), (0, 0, 0, 0), "{r:?}");
    assert_eq!(r.checkout_latency.count, r.paid_orders);
    assert!(r.cpu.server_cpu_s.is_none() && r.cpu.machine_busy_cpu_s > 0.0, "{:?}", r.cpu);
    // The server agrees with what the run read back through the API.
    let product = s.state.store.product(r.product_id).await.unwrap().unwrap();
    assert_eq!(product.stock, r.stock_left);
}

#[tokio::test]
async fn video_counts_packets_at_every_viewer() {
    let s = server().await;
    let cfg = video::VideoRun {
        url: s.api.base.clone(),
        email: "maya@demo.livecart".into(),
        password: "demo-creator-pass".into(),
        audiences: vec![3],
        seconds: 2,
        packets_per_second: 50,
        server_pid: Some(std::process::id()),
        codec: livecart_testkit::media::VideoCodec::Vp8,
    };
    let results = video::run(&cfg).await.unwrap();
    let r = &results[0];
    assert!(r.packets_sent > 0 && r.packets_received > 0, "{r:?}");
    assert_eq!(r.deliveries_expected, r.packets_sent * 3);
    assert!(r.server_cpu_us_per_packet.is_some());
}

/// The Socket.IO peer gets the same accounting as livecart. Needs node and the peer's
/// packages (`.ci/test` installs them); without them the test says so and fails.
#[tokio::test]
async fn chat_storm_counts_the_socketio_peer_the_same_way() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/socketio");
    let peer = SpawnedPeer::start(dir).await.expect("the Socket.IO peer starts (npm ci in loadtest/peers/socketio)");
    let target = ChatTarget::SocketIo { base: peer.url.clone() };
    let cfg =
        chat_storm::ChatStorm { viewers: 12, rate: 4, senders: 4, seconds: 2, server_pid: Some(peer.pid), quiet: true };
    let r = chat_storm::run(&target, &cfg).await.unwrap();
    peer.stop().await;
    assert_eq!(r.joined, 12);
    assert!(r.comments_sent >= 4, "{r:?}");
    assert_eq!(r.deliveries, r.comments_sent * 12, "{r:?}");
}

/// The minimal peer speaks enough of livecart's protocol for the chat-storm client, which
/// counts it exactly as it counts livecart; the client reports its own CPU beside it.
#[tokio::test]
async fn chat_storm_counts_the_minimal_peer_the_same_way() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = Api::new(&format!("http://{}", listener.local_addr().unwrap()));
    let peer = tokio::spawn(livecart_loadtest::minimal::serve(listener));
    let target = ChatTarget::Livecart { api, room: RoomId::try_from(1).unwrap() };
    let cfg = chat_storm::ChatStorm { viewers: 12, rate: 4, senders: 4, seconds: 2, server_pid: None, quiet: true };
    let r = chat_storm::run(&target, &cfg).await.unwrap();
    peer.abort();
    assert_eq!(r.joined, 12);
    assert!(r.comments_sent >= 4, "{r:?}");
    assert_eq!(r.deliveries, r.comments_sent * 12, "{r:?}");
    // Seven seconds of a machine running this test: some of its cores were busy.
    assert!(r.cpu.machine_busy_percent > 0.0 && r.cpu.machine_busy_percent <= 100.0, "{:?}", r.cpu);
}

#[tokio::test]
async fn audience_spreads_viewers_over_rooms_and_churned_viewers_resume_without_gaps() {
    let s = server().await;
    let host = s.api.login("maya@demo.livecart", "demo-creator-pass").await.unwrap();
    let cfg = audience::Audience {
        viewers: 40,
        rooms: 3,
        ramp_secs: 0.5,
        seconds: 3,
        chatters: 0.2,
        reactors: 0.2,
        shoppers: 0.2,
        buy_probability: 1.0,
        churn: 0.3,
        // The server runs in this process: its memory is sampled like a spawned one's.
        server_pid: Some(std::process::id()),
        quiet: true,
    };
    let r = audience::run(&s.api, &host, "aud", &cfg).await.unwrap();
    // Sampled when the run starts and once more after the audience left.
    assert!(r.memory.len() >= 2 && r.memory.iter().all(|m| m.rss_kib > 0), "{:?}", r.memory);
    assert_eq!(r.rooms, 3);
    assert_eq!(r.viewers_per_room.iter().sum::<usize>(), 40);
    assert_eq!((r.joined, r.connection_failures), (40, 0), "{r:?}");
    assert_eq!(r.gaps, 0, "{r:?}");
    assert!(r.comments_sent > 0 && r.comments_received > 0, "{r:?}");
    let paid = r.checkouts.get("paid").copied().unwrap_or(0);
    let orders = s.state.store.orders_of_creator(host.account.id).await.unwrap();
    assert_eq!(orders.iter().filter(|o| o.view.status == livecart::wire::ws::OrderStatus::Paid).count() as u64, paid);
}

#[tokio::test]
async fn audience_fills_a_rehearsal_with_viewers_who_chat_and_buy_flagged_orders() {
    use livecart::wire::api::{NewRoomRequest, RehearsalView, RoomView};
    use livecart::wire::routes::{self, path};
    let s = server().await;
    let host = s.api.login("maya@demo.livecart", "demo-creator-pass").await.unwrap();
    // A scheduled show (the live room's lineup), and its rehearsal.
    let lineup: Vec<_> = s.api.hosted_live_room(&host).await.unwrap().lineup.iter().map(|p| p.id).collect();
    let show = NewRoomRequest {
        title: "Friday drops".try_into().unwrap(),
        starts_at: livecart::domain::UnixMs(0),
        product_ids: lineup.clone(),
    };
    let show: RoomView = s.api.post(routes::ROOMS, &host.token, &show).await.unwrap();
    let opened: RehearsalView =
        s.api.post(&path(routes::ROOM_REHEARSAL, &[show.id.get()]), &host.token, &()).await.unwrap();
    let stock_before = s.state.store.product(lineup[0]).await.unwrap().unwrap().stock;

    let cfg = audience::Audience {
        viewers: 20,
        rooms: 3,
        ramp_secs: 0.5,
        seconds: 3,
        chatters: 0.2,
        reactors: 0.2,
        shoppers: 0.6,
        buy_probability: 1.0,
        churn: 0.2,
        server_pid: None,
        quiet: true,
    };
    let rehearsal = audience::Rehearsal { room: opened.room.id, audience_key: opened.audience_key };
    let r = audience::rehearse(&s.api, &rehearsal, "reh", &cfg).await.unwrap();
    assert_eq!((r.rooms, r.joined, r.connection_failures), (1, 20, 0), "{r:?}");
    assert_eq!(r.gaps, 0, "{r:?}");
    assert!(r.comments_sent > 0 && r.comments_received > 0, "{r:?}");
    let paid = r.checkouts.get("paid").copied().unwrap_or(0);
    assert!(paid > 0, "{r:?}");
    assert_eq!(r.rehearsal_orders, paid, "every order is flagged: {r:?}");
    // The server agrees: the rehearsal sold one unit per order, none of them counts as
    // the creator's, and the product's real stock never moved.
    let (units, _) = s.state.store.show_sales(opened.room.id, 10).await.unwrap();
    assert_eq!(units as u64, paid);
    let counted = s.state.store.orders_of_creator(host.account.id).await.unwrap();
    assert!(counted.iter().all(|o| o.view.room_id != opened.room.id), "{counted:?}");
    assert_eq!(s.state.store.product(lineup[0]).await.unwrap().unwrap().stock, stock_before);
}
