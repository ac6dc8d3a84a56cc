//! livecart-loadtest: the audience simulator and benchmarks for livecart deployments. It
//! speaks livecart's own wire types, targets loopback unless told otherwise, and every
//! run is bounded in connections and time.

use clap::{Parser, Subcommand, ValueEnum};
use livecart::domain::RoomId;
use livecart::wire::api::SessionResponse;
use livecart_loadtest::chat::ChatTarget;
use livecart_loadtest::client::Api;
use livecart_loadtest::measure::print_latency;
use livecart_loadtest::scenario::{audience, chat_storm, checkout_rate, drop, naive_checkout, raid, scale};
use livecart_loadtest::server::{Spawned, SpawnedPeer};
use livecart_loadtest::video;
use livecart_testkit::media::VideoCodec;
use serde::Serialize;

#[derive(Parser)]
#[command(name = "livecart-loadtest", about = "Audience simulator and benchmarks for livecart")]
struct Cli {
    #[command(flatten)]
    target: Target,
    /// Write every figure as JSON here.
    #[arg(long, global = true)]
    json: Option<std::path::PathBuf>,
    /// Write an HTML report with charts over time here (chat-storm and compare).
    #[arg(long, global = true)]
    report: Option<std::path::PathBuf>,
    /// No progress display.
    #[arg(long, global = true, default_value_t = false)]
    quiet: bool,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(clap::Args)]
struct Target {
    /// The deployment to load, e.g. http://127.0.0.1:8080. Several nodes of one
    /// deployment: repeat it, or give a comma-separated list (checkout-rate spreads its
    /// buyers over them, scale loads one per node; other scenarios use the first).
    #[arg(long, global = true, value_delimiter = ',')]
    url: Vec<String>,
    /// Instead of --url: start this livecart binary (with the demo data) for the run, and measure it.
    #[arg(long, global = true, conflicts_with = "url")]
    spawn: Option<String>,
    /// Process id of the server, to report its CPU time and memory (same machine only).
    #[arg(long, global = true)]
    server_pid: Option<u32>,
    /// Allow a URL outside 127.0.0.0/8. Only for deployments you own.
    #[arg(long, global = true, default_value_t = false)]
    allow_remote: bool,
    /// The host account whose live room is used (the demo creator by default).
    #[arg(long, global = true, default_value = "maya@demo.livecart")]
    host_email: String,
    #[arg(long, global = true, default_value = "demo-creator-pass")]
    host_password: String,
}

/// The load of a chat-storm, shared by `chat-storm` and `compare`.
#[derive(clap::Args)]
struct StormArgs {
    #[arg(long, default_value_t = 200)]
    viewers: usize,
    /// Comments per second over all senders.
    #[arg(long, default_value_t = 20)]
    rate: u32,
    /// Viewers that also comment (the server rate-limits each one).
    #[arg(long, default_value_t = 20)]
    senders: usize,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

impl StormArgs {
    fn config(&self, server_pid: Option<u32>, quiet: bool) -> chat_storm::ChatStorm {
        chat_storm::ChatStorm {
            viewers: self.viewers,
            rate: self.rate,
            senders: self.senders,
            seconds: self.seconds,
            server_pid,
            quiet,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Codec {
    Vp8,
    H264,
}

#[derive(Subcommand)]
enum Scenario {
    /// N viewers over R rooms (skewed popularity), a join ramp, behaviour mixes, churn; or,
    /// with --rehearsal, all of them in one private rehearsal of a scheduled show.
    Audience {
        #[arg(long, default_value_t = 500)]
        viewers: usize,
        #[arg(long, default_value_t = 5)]
        rooms: usize,
        #[arg(long, default_value_t = 5.0)]
        ramp: f64,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Shares of chatters, reactors and shoppers (the rest lurk).
        #[arg(long, default_value_t = 0.05)]
        chatters: f64,
        #[arg(long, default_value_t = 0.15)]
        reactors: f64,
        #[arg(long, default_value_t = 0.05)]
        shoppers: f64,
        /// Probability that a shopper checks out.
        #[arg(long, default_value_t = 0.5)]
        buy: f64,
        /// Share of viewers that leave once and come back with `since`.
        #[arg(long, default_value_t = 0.1)]
        churn: f64,
        /// Fill this rehearsal (its room id, as opening it answered) instead of the host's
        /// live rooms; --rooms and the host's credentials are not used. Shoppers buy with
        /// the approved test card.
        #[arg(long, requires = "audience_key")]
        rehearsal: Option<i64>,
        /// The rehearsal's audience key, which lets every simulated viewer in.
        #[arg(long, env = "LIVECART_AUDIENCE_KEY", hide_env_values = true)]
        audience_key: Option<String>,
    },
    /// One room, many viewers, a set comment rate: how fast comments reach everyone.
    ChatStorm {
        #[command(flatten)]
        storm: StormArgs,
        /// Then the same load against the minimal tokio-tungstenite broadcast peer (this
        /// binary, started for the run), with ratios livecart ÷ minimal.
        #[arg(long, default_value_t = false)]
        vs_minimal: bool,
    },
    /// N viewers join one room within T seconds: join-to-snapshot latency.
    Raid {
        #[arg(long, default_value_t = 500)]
        viewers: usize,
        #[arg(long, default_value_t = 5.0)]
        within: f64,
    },
    /// The host starts a drop of K units; N buyers check out at once; orders are read back.
    Drop {
        #[arg(long, default_value_t = 200)]
        buyers: usize,
        #[arg(long, default_value_t = 37)]
        units: i64,
        /// Drop price in minor units (the catalogue price if unset).
        #[arg(long)]
        price: Option<i64>,
    },
    /// N buyers buy one unit at a time from a large stock of one product for T seconds,
    /// over every --url; orders read back; beside a naive PostgreSQL checkout run with
    /// the same concurrency and time, with ratios (livecart ÷ baseline).
    CheckoutRate {
        #[arg(long, default_value_t = 50)]
        buyers: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Units on hand the product is set to before the run (and the baseline starts with).
        #[arg(long, default_value_t = 10_000_000)]
        stock: i64,
        /// PostgreSQL for the naive baseline (a throwaway schema is created and dropped
        /// there); without it the baseline is skipped.
        #[arg(long)]
        baseline_database_url: Option<String>,
        /// The brand that owns the room's first product, which restocks it for the run.
        #[arg(long, default_value = "brand@demo.livecart")]
        brand_email: String,
        #[arg(long, default_value = "demo-brand-pass")]
        brand_password: String,
    },
    /// The same chat-storm and raid against livecart and the Socket.IO peer, side by side
    /// with ratios (livecart ÷ peer). Measure livecart with --spawn; the peer needs node.
    Compare {
        /// Folder of the Socket.IO peer (after `npm ci` there).
        #[arg(long, default_value = "loadtest/peers/socketio")]
        peer: String,
        #[command(flatten)]
        storm: StormArgs,
        #[arg(long, default_value_t = 1000)]
        raid_viewers: usize,
    },
    /// What recording analytics costs the fan-out: the same chat-storm against the
    /// --spawn binary started with analytics off and on, alternating, with ratios (on ÷ off).
    AnalyticsCost {
        #[command(flatten)]
        storm: StormArgs,
        /// Off/on pairs to run; the medians are compared.
        #[arg(long, default_value_t = 2)]
        rounds: usize,
    },
    /// One publisher, N receive-only WHEP viewers: packets received, loss, server CPU per packet.
    Video {
        /// Audience sizes, run one after another.
        #[arg(long, value_delimiter = ',', default_value = "10,50,100,200")]
        viewers: Vec<usize>,
        /// Measured seconds per audience size.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Packets per second the publisher sends (a 2.5 Mbit/s 30 fps stream is ~250).
        #[arg(long, default_value_t = 250)]
        pps: u32,
        #[arg(long, value_enum, default_value = "vp8")]
        codec: Codec,
    },
    /// 100,000 viewers (by default) of one room over several nodes sharing PostgreSQL and
    /// Redis, from worker processes of at most --per-worker connections each: deliveries,
    /// latency same-node and cross-node, Redis messages per event per node. Give the
    /// nodes with --url (once each) or start them with --spawn BIN --nodes N.
    Scale {
        #[arg(long, default_value_t = 100_000)]
        viewers: usize,
        /// Comments per second over all senders.
        #[arg(long, default_value_t = 2.0)]
        rate: f64,
        /// Viewers that comment, spread over the workers (0: one per worker).
        #[arg(long, default_value_t = 0)]
        senders: usize,
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        /// Seconds viewers keep reading after the last comment was sent.
        #[arg(long, default_value_t = 20)]
        drain: u64,
        /// With --spawn: how many nodes to start.
        #[arg(long, default_value_t = 6)]
        nodes: usize,
        /// With --spawn: the nodes' PostgreSQL database (it is migrated and seeded).
        #[arg(long)]
        database_url: Option<String>,
        /// The nodes' Redis: with --spawn they use it; with --url, give it to count its messages.
        #[arg(long)]
        redis_url: Option<String>,
        /// With --url: the nodes' LIVECART_REDIS_PREFIX (--spawn picks a fresh one).
        #[arg(long, default_value = "livecart:")]
        redis_prefix: String,
        /// Connections per worker process, at most 19,000 (the open-file limit is 20,000).
        #[arg(long, default_value_t = scale::MAX_PER_WORKER)]
        per_worker: usize,
        /// Seconds all the joins may take.
        #[arg(long, default_value_t = 300)]
        join_timeout: u64,
    },
    /// One `scale` worker: reads its assignment on stdin, answers on stdout.
    #[command(hide = true)]
    Worker,
    /// The minimal broadcast peer chat-storm --vs-minimal compares with: listens on
    /// 127.0.0.1, prints `listening PORT`, and exits after --seconds.
    #[command(hide = true)]
    MinimalPeer {
        #[arg(long, default_value_t = MAX_SECONDS)]
        seconds: u64,
    },
}

/// Bounds on any run, whatever the flags say.
const MAX_CONNECTIONS: usize = 20_000;
const MAX_SECONDS: u64 = 600;
/// `scale` spreads its viewers over worker processes, each under MAX_CONNECTIONS.
const MAX_SCALE_VIEWERS: usize = 120_000;

type Error = Box<dyn std::error::Error + Send + Sync>;

fn check_loopback(url: &str, allow_remote: bool) -> Result<(), String> {
    let host = url.split("://").nth(1).unwrap_or(url).split(['/', ':']).next().unwrap_or_default();
    let loopback = host == "localhost" || host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback());
    if loopback || allow_remote {
        Ok(())
    } else {
        Err(format!("{url} is not a loopback address; pass --allow-remote only for a deployment you own"))
    }
}

fn check_bounds(connections: usize, seconds: u64) -> Result<(), String> {
    if connections == 0 || connections > MAX_CONNECTIONS || seconds > MAX_SECONDS {
        return Err(format!("runs are bounded: 1..={MAX_CONNECTIONS} connections, at most {MAX_SECONDS} s"));
    }
    Ok(())
}

mod compare {
    use livecart_loadtest::scenario::chat_storm::ChatStormReport;
    use livecart_loadtest::scenario::raid::RaidReport;

    /// The header of a side-by-side table.
    pub fn header(ours: &str, theirs: &str) {
        println!("{:<28} {ours:>12} {theirs:>12} {:>9}", "", "ratio");
    }

    /// One row of it, with the ratio ours ÷ theirs.
    pub fn row(name: &str, ours: Option<f64>, theirs: Option<f64>, unit: &str) {
        let show = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2}"));
        let ratio = ours.zip(theirs).filter(|(_, t)| *t > 0.0).map(|(o, t)| format!("{:.2}x", o / t));
        println!(
            "{name:<28} {:>12} {:>12} {:>9}  {unit}",
            show(ours),
            show(theirs),
            ratio.unwrap_or_else(|| "-".into())
        );
    }

    /// livecart beside the Socket.IO peer under the same load; ratios are livecart ÷ peer.
    pub fn print(ours: &(ChatStormReport, RaidReport), theirs: &(ChatStormReport, RaidReport)) {
        header("livecart", "socket.io");
        row("server CPU per delivery", ours.0.server_cpu_us_per_delivery, theirs.0.server_cpu_us_per_delivery, "µs");
        row("comment p50 latency", Some(ours.0.latency.p50_ms), Some(theirs.0.latency.p50_ms), "ms");
        row("comment p99 latency", Some(ours.0.latency.p99_ms), Some(theirs.0.latency.p99_ms), "ms");
        row("deliveries per second", Some(ours.0.deliveries_per_second), Some(theirs.0.deliveries_per_second), "/s");
        row("missing deliveries", Some(ours.0.missing as f64), Some(theirs.0.missing as f64), "");
        row("memory per connection", ours.0.server_kib_per_viewer, theirs.0.server_kib_per_viewer, "KiB");
        row("raid join p99", Some(ours.1.join_latency.p99_ms), Some(theirs.1.join_latency.p99_ms), "ms");
    }
}

mod checkout_rate_cmd {
    use livecart_loadtest::measure::print_latency;
    use livecart_loadtest::scenario::checkout_rate::CheckoutRateReport;
    use livecart_loadtest::scenario::naive_checkout::NaiveCheckoutReport;
    use livecart_loadtest::server::CpuFigures;

    /// The run's figures, then livecart beside the baseline (ratios livecart ÷ baseline:
    /// above 1 is better for orders/s, below 1 for latency).
    pub fn print(ours: &CheckoutRateReport, baseline: Option<&NaiveCheckoutReport>) {
        println!(
            "checkout-rate: {} buyers over {} node(s), {:.1} s: {} paid orders, {:.0} orders/s",
            ours.buyers, ours.nodes, ours.elapsed_secs, ours.paid_orders, ours.orders_per_second
        );
        for (code, n) in &ours.failures {
            println!("  failed {code}: {n}");
        }
        print_latency("checkout (paid)", &ours.checkout_latency);
        println!(
            "read back: {} units sold, stock {} -> {}, oversell {}, unaccounted {}, paid but unacknowledged {}, still placed {}",
            ours.units_sold,
            ours.starting_stock,
            ours.stock_left,
            ours.oversell,
            ours.unaccounted,
            ours.paid_unacknowledged,
            ours.orders_placed
        );
        print_cpu(&ours.cpu, ours.paid_orders);
        let Some(b) = baseline else {
            println!("baseline: skipped (give --baseline-database-url postgres://… to run it)");
            return;
        };
        println!(
            "baseline (PostgreSQL select … for update, decrement, insert, commit): {} clients, {} orders, {:.0} orders/s, discrepancy {}",
            b.clients, b.orders, b.orders_per_second, b.discrepancy
        );
        for (code, n) in &b.failures {
            println!("  failed {code}: {n}");
        }
        print_latency("baseline order", &b.latency);
        print_cpu(&b.cpu, b.orders);
        let ratio = |o: f64, t: f64| if t > 0.0 { format!("{:.2}x", o / t) } else { "-".to_owned() };
        let (l, r) = (&ours.checkout_latency, &b.latency);
        println!("{:<16} {:>12} {:>12} {:>9}", "", "livecart", "baseline", "ratio");
        for (name, o, t, unit) in [
            ("orders/s", ours.orders_per_second, b.orders_per_second, ""),
            ("p50", l.p50_ms, r.p50_ms, "ms"),
            ("p99", l.p99_ms, r.p99_ms, "ms"),
            ("max", l.max_ms, r.max_ms, "ms"),
            ("machine CPU/order", per_order(&ours.cpu, ours.paid_orders), per_order(&b.cpu, b.orders), "µs"),
        ] {
            println!("{name:<16} {o:>12.2} {t:>12.2} {:>9}  {unit}", ratio(o, t));
        }
    }

    /// Busy CPU of the whole machine (every process: server, database, this client) per
    /// order, in µs: what one order costs the hardware, whoever spent it.
    fn per_order(cpu: &CpuFigures, orders: u64) -> f64 {
        if orders == 0 { 0.0 } else { cpu.machine_busy_cpu_s * 1e6 / orders as f64 }
    }

    fn print_cpu(cpu: &CpuFigures, orders: u64) {
        let server = cpu.server_cpu_s.map_or("unknown (give --server-pid)".to_owned(), |s| {
            format!("{s:.2} s ({:.0} µs per order)", if orders == 0 { 0.0 } else { s * 1e6 / orders as f64 })
        });
        println!(
            "  CPU while buying: load client {:.2} s, server {server}, whole machine {:.2} s busy ({:.0}% of its cores, {:.0} µs per order)",
            cpu.client_cpu_s,
            cpu.machine_busy_cpu_s,
            cpu.machine_busy_percent,
            per_order(cpu, orders)
        );
    }
}

mod analytics_cost {
    use super::{Cli, Error, StormArgs, check_bounds, write_json};
    use livecart_loadtest::chat::ChatTarget;
    use livecart_loadtest::client::Api;
    use livecart_loadtest::scenario::chat_storm::{self, ChatStormReport};
    use livecart_loadtest::server::Spawned;

    /// One chat-storm against a fresh server started with `analytics` on or off.
    async fn storm(cli: &Cli, binary: &str, analytics: bool, load: &StormArgs) -> Result<ChatStormReport, Error> {
        let server =
            Spawned::start_with(binary, &[("LIVECART_ANALYTICS", if analytics { "true" } else { "false" })]).await?;
        let outcome = async {
            let api = Api::new(&server.url);
            let host = api.login(&cli.target.host_email, &cli.target.host_password).await?;
            let target = ChatTarget::Livecart { api: api.clone(), room: api.hosted_live_room(&host).await?.id };
            chat_storm::run(&target, &load.config(Some(server.pid), cli.quiet)).await
        }
        .await;
        server.stop().await;
        outcome
    }

    /// One figure of a run, if the run has it.
    type Figure = fn(&ChatStormReport) -> Option<f64>;

    fn median(mut values: Vec<f64>) -> f64 {
        values.sort_by(f64::total_cmp);
        match values.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => values[n / 2],
            n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
        }
    }

    pub async fn run(cli: &Cli, binary: &str, load: &StormArgs, rounds: usize) -> Result<(), Error> {
        check_bounds(load.viewers, load.seconds * 2 * rounds as u64)?;
        let (mut off, mut on) = (Vec::new(), Vec::new());
        for _ in 0..rounds.max(1) {
            off.push(storm(cli, binary, false, load).await?);
            on.push(storm(cli, binary, true, load).await?);
        }
        let figure = |runs: &[ChatStormReport], f: Figure| median(runs.iter().filter_map(f).collect());
        let rows: [(&str, Figure, &str); 4] = [
            ("server CPU per delivery", |r| r.server_cpu_us_per_delivery, "µs"),
            ("deliveries per second", |r| Some(r.deliveries_per_second), "/s"),
            ("comment p99 latency", |r| Some(r.latency.p99_ms), "ms"),
            ("missing deliveries", |r| Some(r.missing as f64), ""),
        ];
        println!("{:<28} {:>12} {:>12} {:>9}   (medians of {} rounds)", "", "off", "on", "on÷off", off.len());
        let mut figures = serde_json::Map::new();
        for (name, f, unit) in rows {
            let (a, b) = (figure(&off, f), figure(&on, f));
            let ratio = if a > 0.0 { format!("{:.3}x", b / a) } else { "-".to_owned() };
            println!("{name:<28} {a:>12.2} {b:>12.2} {ratio:>9}  {unit}");
            figures.insert(name.to_owned(), serde_json::json!({ "off": a, "on": b, "ratio": b / a }));
        }
        write_json(&cli.json, &serde_json::json!({ "medians": figures, "off": off, "on": on }))
    }
}

mod scale_run {
    use super::{Cli, Error, MAX_SCALE_VIEWERS, MAX_SECONDS, Scenario, check_loopback, write_json};
    use livecart_loadtest::measure::print_latency;
    use livecart_loadtest::scenario::scale::{self, RedisTarget, Scale};
    use livecart_loadtest::server::Spawned;
    use std::time::Duration;

    /// Starts `count` nodes of `binary` sharing `database_url` and Redis under a fresh
    /// prefix; the first seeds the demo data before the others start.
    async fn spawn_nodes(
        binary: &str,
        count: usize,
        database_url: &str,
        redis: &RedisTarget,
    ) -> Result<Vec<Spawned>, Error> {
        let mut nodes = Vec::with_capacity(count);
        for i in 0..count {
            let env = [
                ("DATABASE_URL", database_url),
                ("REDIS_URL", redis.url.as_str()),
                ("LIVECART_REDIS_PREFIX", redis.prefix.as_str()),
                ("LIVECART_SEED_DEMO", if i == 0 { "true" } else { "false" }),
                // Every viewer comes from loopback: no per-address caps.
                ("LIVECART_MAX_CONNECTIONS_PER_ADDRESS", "0"),
                ("LIVECART_MAX_GUESTS_PER_ADDRESS", "0"),
                ("LIVECART_DB_CONNECTIONS", "4"),
            ];
            nodes.push(Spawned::start_with(binary, &env).await?);
        }
        Ok(nodes)
    }

    pub async fn run(cli: &Cli) -> Result<(), Error> {
        let Scenario::Scale {
            viewers,
            rate,
            senders,
            seconds,
            drain,
            nodes,
            database_url,
            redis_url,
            redis_prefix,
            per_worker,
            join_timeout,
        } = &cli.scenario
        else {
            return Err("not a scale run".into());
        };
        if *viewers > MAX_SCALE_VIEWERS || *seconds > MAX_SECONDS || *join_timeout > MAX_SECONDS || *drain > 120 {
            return Err(format!(
                "scale is bounded: at most {MAX_SCALE_VIEWERS} viewers, {MAX_SECONDS} s per phase, 120 s of drain"
            )
            .into());
        }
        let run_id = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis();
        let (spawned, urls, redis): (_, Vec<String>, _) = match &cli.target.spawn {
            Some(binary) => {
                let (Some(db), Some(redis_url)) = (database_url, redis_url) else {
                    return Err("scale --spawn needs --database-url and --redis-url".into());
                };
                let redis = RedisTarget { url: redis_url.clone(), prefix: format!("scale{run_id}:") };
                let spawned = spawn_nodes(binary, (*nodes).clamp(1, 16), db, &redis).await?;
                let urls = spawned.iter().map(|s| s.url.clone()).collect();
                (spawned, urls, Some(redis))
            }
            None => {
                let redis = redis_url.clone().map(|url| RedisTarget { url, prefix: redis_prefix.clone() });
                (Vec::new(), cli.target.url.iter().map(|u| u.trim_end_matches('/').to_owned()).collect(), redis)
            }
        };
        for url in &urls {
            check_loopback(url, cli.target.allow_remote)?;
        }
        let cfg = Scale {
            nodes: urls,
            viewers: *viewers,
            rate: *rate,
            senders: *senders,
            seconds: *seconds,
            drain: Duration::from_secs(*drain),
            per_worker: *per_worker,
            join_timeout: Duration::from_secs(*join_timeout),
            worker_binary: std::env::current_exe()?,
            redis,
            node_pids: spawned.iter().map(|s| s.pid).collect(),
            host_email: cli.target.host_email.clone(),
            host_password: cli.target.host_password.clone(),
        };
        // The whole run is bounded too: joins, storm, drain and a margin.
        let total = Duration::from_secs(join_timeout + seconds + drain + 120);
        let outcome =
            tokio::time::timeout(total, scale::run(&cfg)).await.map_err(|_| "the scale run overran its bound");
        for node in spawned {
            node.stop().await;
        }
        let r = outcome??;
        println!(
            "scale: {} of {} viewers joined over {} nodes from {} workers in {:.1} s ({} failed)",
            r.joined, r.viewers, r.nodes, r.workers, r.join_seconds, r.join_failures
        );
        println!(
            "{} comments sent ({} refused): {} of {} deliveries ({} missing)",
            r.comments_sent, r.comments_refused, r.deliveries, r.deliveries_expected, r.missing
        );
        print_latency("comment to viewer", &r.latency);
        print_latency("  same node", &r.same_node);
        print_latency("  cross node", &r.cross_node);
        println!("cross-node adds p50 {:.2} ms, p99 {:.2} ms", r.cross_node_added_p50_ms, r.cross_node_added_p99_ms);
        if let Some(redis) = &r.redis {
            println!(
                "redis: {} publishes x {} subscribers of the room = {} messages: {:.2} per comment per node",
                redis.publishes, redis.room_channel_subscribers, redis.messages, redis.messages_per_event_per_node
            );
        }
        if let Some(kib) = r.nodes_kib_per_viewer {
            println!("nodes' memory per viewer: {kib:.1} KiB");
        }
        println!(
            "CPU over the storm: workers {:.1} s, whole machine {:.1} s busy ({:.0}% of its cores); workers hold {} MiB",
            r.workers_cpu_s,
            r.machine.machine_busy_cpu_s,
            r.machine.machine_busy_percent,
            r.workers_rss_kib / 1024
        );
        write_json(&cli.json, &r)
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("livecart-loadtest: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn write_json<T: Serialize>(path: &Option<std::path::PathBuf>, report: &T) -> Result<(), Error> {
    if let Some(path) = path {
        std::fs::write(path, serde_json::to_string_pretty(report)?)?;
    }
    Ok(())
}

fn write_report(path: &Option<std::path::PathBuf>, runs: &[(&str, &chat_storm::ChatStormReport)]) -> Result<(), Error> {
    if let Some(path) = path {
        std::fs::write(path, livecart_loadtest::report::chat_storm_html(runs)?)?;
    }
    Ok(())
}

async fn run(cli: Cli) -> Result<(), Error> {
    if let Err(e) = livecart_loadtest::client::raise_file_limit() {
        eprintln!("could not raise the open-file limit: {e}");
    }
    if let Scenario::MinimalPeer { seconds } = &cli.scenario {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("listening {}", listener.local_addr()?.port());
        let serving = livecart_loadtest::minimal::serve(listener);
        return match tokio::time::timeout(std::time::Duration::from_secs((*seconds).min(MAX_SECONDS)), serving).await {
            Ok(outcome) => Ok(outcome?),
            Err(_) => Ok(()), // its time is up
        };
    }
    if let Scenario::Worker = &cli.scenario {
        return scale::worker().await;
    }
    if let Scenario::Scale { .. } = &cli.scenario {
        return scale_run::run(&cli).await;
    }
    if let Scenario::AnalyticsCost { storm, rounds } = &cli.scenario {
        let binary = cli.target.spawn.as_deref().ok_or("analytics-cost starts its own servers: give --spawn")?;
        return analytics_cost::run(&cli, binary, storm, *rounds).await;
    }
    let spawned = match &cli.target.spawn {
        Some(binary) => Some(Spawned::start(binary).await?),
        None => None,
    };
    let urls: Vec<String> = match &spawned {
        Some(s) => vec![s.url.clone()],
        None => cli.target.url.iter().map(|u| u.trim_end_matches('/').to_owned()).collect(),
    };
    if urls.is_empty() {
        return Err("give --url or --spawn".into());
    }
    for url in &urls {
        check_loopback(url, cli.target.allow_remote)?;
    }
    let server_pid = spawned.as_ref().map(|s| s.pid).or(cli.target.server_pid);
    let outcome = scenario(&cli, &urls, server_pid).await;
    if let Some(s) = spawned {
        s.stop().await;
    }
    outcome
}

/// A chat-storm's figures, as text.
fn print_storm(name: &str, r: &chat_storm::ChatStormReport) {
    println!(
        "chat-storm ({name}): {} viewers joined, {} comments sent ({} refused), {} of {} deliveries ({} missing), {:.0} deliveries/s",
        r.joined,
        r.comments_sent,
        r.send_errors,
        r.deliveries,
        r.deliveries_expected,
        r.missing,
        r.deliveries_per_second
    );
    print_latency("comment to viewer", &r.latency);
    if let Some(us) = r.server_cpu_us_per_delivery {
        println!("server CPU per delivery: {us:.2} µs");
    }
    if let Some(kib) = r.server_kib_per_viewer {
        println!("server memory per viewer: {kib:.1} KiB joined");
    }
    if let Some((idle, after)) = r.server_kib_per_viewer.zip(r.server_kib_per_viewer_after_storm) {
        let growth = if idle > 0.0 {
            format!(" ({:+.0}% of the joined figure)", (after - idle) / idle * 100.0)
        } else {
            String::new()
        };
        println!("server memory per viewer after the storm: {after:.1} KiB{growth}");
    }
    let server = r.cpu.server_cpu_s.map_or("unknown (give --server-pid)".to_owned(), |s| format!("{s:.2} s"));
    println!(
        "CPU over the storm: load client {:.2} s, server {server}, whole machine {:.2} s busy ({:.0}% of its cores)",
        r.cpu.client_cpu_s, r.cpu.machine_busy_cpu_s, r.cpu.machine_busy_percent
    );
}

/// The host whose rooms a scenario loads, signed in.
async fn host(cli: &Cli, api: &Api) -> Result<SessionResponse, Error> {
    api.login(&cli.target.host_email, &cli.target.host_password).await
}

async fn scenario(cli: &Cli, urls: &[String], server_pid: Option<u32>) -> Result<(), Error> {
    let url = urls[0].as_str();
    let api = Api::new(url);
    let run_id = format!("{}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis());
    match &cli.scenario {
        Scenario::Audience {
            viewers,
            rooms,
            ramp,
            seconds,
            chatters,
            reactors,
            shoppers,
            buy,
            churn,
            rehearsal,
            audience_key,
        } => {
            check_bounds(*viewers, *seconds + ramp.ceil() as u64)?;
            let cfg = audience::Audience {
                viewers: *viewers,
                rooms: (*rooms).clamp(1, 100),
                ramp_secs: *ramp,
                seconds: *seconds,
                chatters: *chatters,
                reactors: *reactors,
                shoppers: *shoppers,
                buy_probability: *buy,
                churn: *churn,
                server_pid,
                quiet: cli.quiet,
            };
            let r = match (rehearsal, audience_key) {
                (Some(room), Some(key)) => {
                    let room = RoomId::try_from(*room)?;
                    audience::rehearse(&api, &audience::Rehearsal { room, audience_key: key.clone() }, &run_id, &cfg)
                        .await?
                }
                (Some(_), None) => return Err("--rehearsal needs --audience-key (or LIVECART_AUDIENCE_KEY)".into()),
                (None, _) => audience::run(&api, &host(cli, &api).await?, &run_id, &cfg).await?,
            };
            println!(
                "audience: {} of {} joined over {} rooms {:?}, {} connection failures",
                r.joined, r.viewers, r.rooms, r.viewers_per_room, r.connection_failures
            );
            if rehearsal.is_some() {
                println!("rehearsal orders (test cards, counted nowhere): {}", r.rehearsal_orders);
            }
            println!(
                "comments {} sent / {} received, reactions {}, resumes {} (reset snapshots {}), gaps {}",
                r.comments_sent, r.comments_received, r.reactions_sent, r.resumed, r.reset_snapshots, r.gaps
            );
            println!("checkouts {:?}; errors {:?}", r.checkouts, r.errors);
            print_latency("join to snapshot", &r.join_latency);
            print_latency("comment to viewer", &r.comment_latency);
            if let (Some(first), Some(last)) = (r.memory.first(), r.memory.last()) {
                let peak = r.memory.iter().map(|m| m.rss_kib).max().unwrap_or(0);
                println!(
                    "server memory: {} MiB before, {} MiB at peak, {} MiB after the audience left ({} samples)",
                    first.rss_kib / 1024,
                    peak / 1024,
                    last.rss_kib / 1024,
                    r.memory.len()
                );
            }
            write_json(&cli.json, &r)
        }
        Scenario::ChatStorm { storm, vs_minimal } => {
            check_bounds(storm.viewers, storm.seconds)?;
            let host = host(cli, &api).await?;
            let room = api.hosted_live_room(&host).await?.id;
            let target = ChatTarget::Livecart { api: api.clone(), room };
            let r = chat_storm::run(&target, &storm.config(server_pid, cli.quiet)).await?;
            print_storm("livecart", &r);
            if !vs_minimal {
                write_report(&cli.report, &[("livecart", &r)])?;
                return write_json(&cli.json, &r);
            }
            let peer = SpawnedPeer::minimal(storm.seconds + 120).await?;
            let minimal = ChatTarget::Livecart { api: Api::new(&peer.url), room };
            let m = chat_storm::run(&minimal, &storm.config(Some(peer.pid), cli.quiet)).await;
            peer.stop().await;
            let m = m?;
            print_storm("minimal", &m);
            compare::header("livecart", "minimal");
            compare::row("comment p50 latency", Some(r.latency.p50_ms), Some(m.latency.p50_ms), "ms");
            compare::row("comment p99 latency", Some(r.latency.p99_ms), Some(m.latency.p99_ms), "ms");
            compare::row("server memory per viewer", r.server_kib_per_viewer, m.server_kib_per_viewer, "KiB");
            compare::row(
                "server memory per viewer after the storm",
                r.server_kib_per_viewer_after_storm,
                m.server_kib_per_viewer_after_storm,
                "KiB",
            );
            compare::row("server CPU per delivery", r.server_cpu_us_per_delivery, m.server_cpu_us_per_delivery, "µs");
            compare::row("client CPU per delivery", r.client_cpu_us_per_delivery, m.client_cpu_us_per_delivery, "µs");
            compare::row("deliveries per second", Some(r.deliveries_per_second), Some(m.deliveries_per_second), "/s");
            write_report(&cli.report, &[("livecart", &r), ("minimal", &m)])?;
            let ratio = |a: Option<f64>, b: Option<f64>| a.zip(b).filter(|(_, b)| *b > 0.0).map(|(a, b)| a / b);
            write_json(
                &cli.json,
                &serde_json::json!({
                    "livecart": r,
                    "minimal": m,
                    "ratios": {
                        "p99_latency": ratio(Some(r.latency.p99_ms), Some(m.latency.p99_ms)),
                        "server_kib_per_viewer": ratio(r.server_kib_per_viewer, m.server_kib_per_viewer),
                        "server_kib_per_viewer_after_storm": ratio(r.server_kib_per_viewer_after_storm, m.server_kib_per_viewer_after_storm),
                        "server_cpu_us_per_delivery": ratio(r.server_cpu_us_per_delivery, m.server_cpu_us_per_delivery),
                    },
                }),
            )
        }
        Scenario::Raid { viewers, within } => {
            check_bounds(*viewers, within.ceil() as u64)?;
            let host = host(cli, &api).await?;
            let target = ChatTarget::Livecart { api: api.clone(), room: api.hosted_live_room(&host).await?.id };
            let r = raid::run(
                &target,
                &raid::Raid { viewers: *viewers, within_secs: *within, server_pid, quiet: cli.quiet },
            )
            .await?;
            println!("raid: {} of {} joined, {} failed", r.joined, r.viewers, r.failed);
            print_latency("join to snapshot", &r.join_latency);
            if let Some(kib) = r.server_kib_per_viewer {
                println!("server memory per viewer: {kib:.1} KiB");
            }
            write_json(&cli.json, &r)
        }
        Scenario::Drop { buyers, units, price } => {
            check_bounds(*buyers, 0)?;
            let host = host(cli, &api).await?;
            let cfg = drop::Drop { buyers: *buyers, units: *units, price: *price, quiet: cli.quiet };
            let r = drop::run(&api, &host, &run_id, &cfg).await?;
            println!(
                "drop: {} units, {} buyers: {} orders confirmed, {} units sold (read back), oversell {}",
                r.units, r.buyers, r.confirmed_orders, r.units_sold, r.oversell
            );
            for (code, n) in &r.failures {
                println!("  refused {code}: {n}");
            }
            print_latency("checkout (paid)", &r.checkout_latency_paid);
            print_latency("checkout (refused)", &r.checkout_latency_refused);
            write_json(&cli.json, &r)?;
            if r.oversell > 0 {
                return Err(format!("OVERSOLD by {} units", r.oversell).into());
            }
            Ok(())
        }
        Scenario::CheckoutRate { buyers, seconds, stock, baseline_database_url, brand_email, brand_password } => {
            check_bounds(*buyers, *seconds)?;
            let apis: Vec<Api> = urls.iter().map(|u| Api::new(u)).collect();
            let host = host(cli, &api).await?;
            let brand = api.login(brand_email, brand_password).await?;
            let cfg = checkout_rate::CheckoutRate {
                buyers: *buyers,
                seconds: *seconds,
                stock: *stock,
                server_pid,
                quiet: cli.quiet,
            };
            let ours = checkout_rate::run(&apis, &host, &brand, &run_id, &cfg).await?;
            let baseline = match baseline_database_url {
                Some(database_url) => Some(
                    naive_checkout::run(&naive_checkout::NaiveCheckout {
                        database_url: database_url.clone(),
                        clients: *buyers,
                        seconds: *seconds,
                        stock: *stock,
                    })
                    .await?,
                ),
                None => None,
            };
            checkout_rate_cmd::print(&ours, baseline.as_ref());
            write_json(&cli.json, &serde_json::json!({ "livecart": ours, "baseline": baseline }))?;
            if ours.oversell > 0 {
                return Err(format!("OVERSOLD by {} units", ours.oversell).into());
            }
            Ok(())
        }
        Scenario::Compare { peer, storm: load, raid_viewers } => {
            check_bounds(load.viewers.max(*raid_viewers), load.seconds)?;
            let host = host(cli, &api).await?;
            let livecart = ChatTarget::Livecart { api: api.clone(), room: api.hosted_live_room(&host).await?.id };
            let storm = |pid| load.config(pid, cli.quiet);
            let raid_cfg =
                |pid| raid::Raid { viewers: *raid_viewers, within_secs: 5.0, server_pid: pid, quiet: cli.quiet };
            let ours = (
                chat_storm::run(&livecart, &storm(server_pid)).await?,
                raid::run(&livecart, &raid_cfg(server_pid)).await?,
            );
            let node = SpawnedPeer::start(peer).await?;
            let peer_target = ChatTarget::SocketIo { base: node.url.clone() };
            let theirs = async {
                Ok::<_, Error>((
                    chat_storm::run(&peer_target, &storm(Some(node.pid))).await?,
                    raid::run(&peer_target, &raid_cfg(Some(node.pid))).await?,
                ))
            }
            .await;
            node.stop().await;
            let theirs = theirs?;
            compare::print(&ours, &theirs);
            write_report(&cli.report, &[("livecart", &ours.0), ("socket.io", &theirs.0)])?;
            let both = serde_json::json!({
                "livecart": { "chat_storm": ours.0, "raid": ours.1 },
                "socketio": { "chat_storm": theirs.0, "raid": theirs.1 },
            });
            write_json(&cli.json, &both)
        }
        // Handled by run(), which starts its own servers for it.
        Scenario::AnalyticsCost { .. } => Err("analytics-cost starts its own servers: give --spawn".into()),
        // Handled by run(): they are not loads on one server.
        Scenario::MinimalPeer { .. } | Scenario::Scale { .. } | Scenario::Worker => {
            Err("handled before a server is chosen".into())
        }
        Scenario::Video { viewers, seconds, pps, codec } => {
            check_bounds(viewers.iter().copied().max().unwrap_or(0), *seconds)?;
            let cfg = video::VideoRun {
                url: url.to_owned(),
                email: cli.target.host_email.clone(),
                password: cli.target.host_password.clone(),
                audiences: viewers.clone(),
                seconds: *seconds,
                packets_per_second: *pps,
                server_pid,
                codec: match codec {
                    Codec::Vp8 => VideoCodec::Vp8,
                    Codec::H264 => VideoCodec::H264,
                },
            };
            let results = video::run(&cfg).await?;
            video::print(&results);
            write_json(&cli.json, &results)
        }
    }
}
