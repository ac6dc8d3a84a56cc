//! The `scale` scenario at small scale: two livecart nodes, started in this process, share
//! a fresh PostgreSQL database and a fresh Redis key prefix; the coordinator runs two
//! worker processes (the built `livecart-loadtest worker`), one per node. It checks the
//! accounting (every comment reached every viewer on both nodes, the deliveries split
//! into same-node and cross-node, Redis carried each event once per node), never a
//! timing. It needs LIVECART_TEST_POSTGRES and LIVECART_TEST_REDIS (`bash .ci/with-services
//! cargo test -p livecart-loadtest --test scale`) and says loudly that it was skipped
//! without them.

use livecart::config::Config;
use livecart::domain::Clock;
use livecart::state::AppState;
use livecart::store::Store;
use livecart_loadtest::scenario::scale::{self, RedisTarget, Scale};
use std::time::Duration;

/// A node on 127.0.0.1:0 over the shared database and Redis; the first seeds the demo.
async fn node(database_url: &str, redis: &RedisTarget, seed: bool) -> AppState {
    let mut config = Config::defaults();
    config.database_url = database_url.to_owned();
    config.redis_url = Some(redis.url.clone());
    config.redis_prefix = redis.prefix.clone();
    config.argon2_kib = 64;
    config.tick = Duration::from_millis(100);
    // Both workers dial from loopback.
    config.max_connections_per_address = 0;
    config.max_guests_per_address = 0;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    config.bind = listener.local_addr().unwrap();
    config.validate().unwrap();
    let store = Store::connect(&config.database_url, 4).await.unwrap();
    let state = AppState::from_config(config, store, Clock::system()).await.unwrap();
    if seed {
        livecart::seed::seed_demo(&state.accounts, &state.rooms, &state.store, Clock::system().now()).await.unwrap();
    }
    tokio::spawn(livecart::run(listener, state.clone()));
    state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_comment_reaches_every_viewer_on_every_node() {
    let (Ok(postgres), Ok(redis_url)) = (std::env::var("LIVECART_TEST_POSTGRES"), std::env::var("LIVECART_TEST_REDIS"))
    else {
        eprintln!(
            "SKIPPED every_comment_reaches_every_viewer_on_every_node: set LIVECART_TEST_POSTGRES and \
             LIVECART_TEST_REDIS (bash .ci/with-services runs it)"
        );
        return;
    };
    livecart_loadtest::client::raise_file_limit().unwrap();
    let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    let postgres = postgres.trim_end_matches('/');
    let db = format!("livecart_scale_{run}");
    let admin = sqlx::PgPool::connect(&format!("{postgres}/postgres")).await.unwrap();
    sqlx::query(&format!("create database {db}")).execute(&admin).await.unwrap();
    let redis = RedisTarget { url: redis_url, prefix: format!("scaletest{run}:") };
    let database_url = format!("{postgres}/{db}");
    let nodes = [node(&database_url, &redis, true).await, node(&database_url, &redis, false).await];

    let r = scale::run(&Scale {
        nodes: nodes.iter().map(|n| format!("http://{}", n.config.bind)).collect(),
        viewers: 2_000,
        rate: 2.0,
        senders: 0,
        seconds: 4,
        drain: Duration::from_secs(5),
        per_worker: 1_000,
        join_timeout: Duration::from_secs(120),
        worker_binary: env!("CARGO_BIN_EXE_livecart-loadtest").into(),
        redis: Some(redis),
        // The nodes run in this process, with the workers' coordinator.
        node_pids: Vec::new(),
        host_email: "maya@demo.livecart".into(),
        host_password: "demo-creator-pass".into(),
    })
    .await
    .unwrap();
    for n in &nodes {
        n.shutdown.cancel();
    }

    assert_eq!((r.nodes, r.workers, r.joined, r.join_failures), (2, 2, 2_000, 0), "{r:?}");
    assert!(r.comments_sent >= 4 && r.comments_refused == 0, "{r:?}");
    assert_eq!(r.deliveries_expected, r.comments_sent * 2_000);
    assert_eq!((r.deliveries, r.missing), (r.deliveries_expected, 0), "every comment reached every viewer: {r:?}");
    // Each comment reaches the 1,000 viewers of its own node and the 1,000 of the other.
    assert_eq!(r.same_node.count, r.cross_node.count, "{r:?}");
    assert_eq!(r.same_node.count + r.cross_node.count, r.deliveries);
    let redis = r.redis.expect("redis figures");
    assert_eq!(redis.room_channel_subscribers, 2, "each node subscribes to the room once: {redis:?}");
    assert!(redis.publishes >= r.comments_sent, "every comment was published: {redis:?}");
    admin.close().await;
}
