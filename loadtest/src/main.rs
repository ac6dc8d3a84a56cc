//! livecart-loadtest: the audience simulator and benchmarks for livecart deployments. It
//! speaks livecart's own wire types, targets loopback unless told otherwise, and every
//! run is bounded in connections and time.

mod server;
mod video;

use clap::{Parser, Subcommand, ValueEnum};
use livecart::media::client::VideoCodec;
use server::Spawned;

#[derive(Parser)]
#[command(name = "livecart-loadtest", about = "Audience simulator and benchmarks for livecart")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(clap::Args)]
struct Target {
    /// The deployment to load, e.g. http://127.0.0.1:8080. Unset with --spawn.
    #[arg(long)]
    url: Option<String>,
    /// Start a livecart server for the run (this binary, with the demo data) and measure it.
    #[arg(long, conflicts_with = "url")]
    spawn: Option<String>,
    /// Process id of the server, to report its CPU time and memory (same machine only).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Allow a URL outside 127.0.0.0/8. Only for deployments you own.
    #[arg(long, default_value_t = false)]
    allow_remote: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Codec {
    Vp8,
    H264,
}

#[derive(Subcommand)]
enum Scenario {
    /// One publisher, N receive-only WHEP viewers: packets received, loss, server CPU per packet.
    Video {
        #[command(flatten)]
        target: Target,
        /// The host whose live room is streamed (the demo creator by default).
        #[arg(long, default_value = "maya@demo.livecart")]
        email: String,
        #[arg(long, default_value = "demo-creator-pass")]
        password: String,
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
        /// Write every figure as JSON here.
        #[arg(long)]
        json: Option<std::path::PathBuf>,
    },
}

/// Bounds on any run, whatever the flags say.
const MAX_VIEWERS: usize = 2_000;
const MAX_SECONDS: u64 = 600;

fn check_loopback(url: &str, allow_remote: bool) -> Result<(), String> {
    let host = url.split("://").nth(1).unwrap_or(url).split(['/', ':']).next().unwrap_or_default();
    let loopback = host == "localhost" || host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback());
    if loopback || allow_remote {
        Ok(())
    } else {
        Err(format!("{url} is not a loopback address; pass --allow-remote only for a deployment you own"))
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

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    match cli.scenario {
        Scenario::Video { target, email, password, viewers, seconds, pps, codec, json } => {
            if viewers.iter().any(|n| *n == 0 || *n > MAX_VIEWERS) || seconds == 0 || seconds > MAX_SECONDS {
                return Err(format!("viewers must be 1..={MAX_VIEWERS} and seconds 1..={MAX_SECONDS}").into());
            }
            let spawned = match &target.spawn {
                Some(binary) => Some(Spawned::start(binary).await?),
                None => None,
            };
            let url = match (&spawned, &target.url) {
                (Some(s), _) => s.url.clone(),
                (None, Some(url)) => url.trim_end_matches('/').to_owned(),
                (None, None) => return Err("give --url or --spawn".into()),
            };
            check_loopback(&url, target.allow_remote)?;
            let cfg = video::VideoRun {
                url,
                email,
                password,
                audiences: viewers,
                seconds,
                packets_per_second: pps,
                server_pid: spawned.as_ref().map(|s| s.pid).or(target.server_pid),
                codec: match codec {
                    Codec::Vp8 => VideoCodec::Vp8,
                    Codec::H264 => VideoCodec::H264,
                },
            };
            let results = video::run(&cfg).await;
            if let Some(s) = spawned {
                s.stop().await;
            }
            let results = results?;
            video::print(&results);
            if let Some(path) = json {
                std::fs::write(path, serde_json::to_string_pretty(&results)?)?;
            }
        }
    }
    Ok(())
}
