//! The livecart binary: reads configuration, connects storage, binds and serves.

use clap::{Parser, Subcommand};
use livecart::config::Config;
use livecart::domain::Clock;
use livecart::seed::{DEMO_LOGINS, seed_demo};
use livecart::state::AppState;
use livecart::store::Store;
use livecart::telemetry::Causes;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "livecart", version, about = "Live-shopping backend")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: Config,
    /// Seed the demo brand, creator, viewer and live room (the embedded default).
    #[arg(long, env = "LIVECART_SEED_DEMO", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    seed_demo: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP and WebSocket (the default).
    Serve,
    /// Bring the database schema up to date and exit.
    Migrate,
    /// Seed the demo data and exit.
    Seed,
    /// Print the AsyncAPI document of the WebSocket protocol (what `docs/asyncapi.json`
    /// holds and `/api/asyncapi.json` serves) and exit.
    Asyncapi,
}

#[tokio::main]
async fn main() -> ExitCode {
    livecart::malloc::pin_mmap_threshold();
    let cli = Cli::parse();
    livecart::telemetry::init_tracing(cli.config.log_json);
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(Command::Asyncapi) = cli.command {
        print!("{}", livecart::http::asyncapi_document());
        return Ok(());
    }
    cli.config.validate()?;
    raise_open_file_limit();
    let store = Store::connect(&cli.config.database_url, cli.config.db_connections).await?;
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Migrate = command {
        tracing::info!("schema is up to date");
        return Ok(());
    }
    if let Command::Seed = command {
        let state = AppState::from_config(cli.config.clone(), store.clone(), Clock::system()).await?;
        seed_demo(&state.accounts, &state.rooms, &state.store, Clock::system().now()).await?;
        print_logins(&state.config);
        return Ok(());
    }
    let metrics = tokio::net::TcpListener::bind(cli.config.metrics_bind).await?;
    tracing::info!(addr = %metrics.local_addr()?, "metrics listening");
    let listener = tokio::net::TcpListener::bind(cli.config.bind).await?;
    // The bound address (port 0 resolved) is what this node tells clients and other nodes.
    let mut config = cli.config.clone();
    config.bind = listener.local_addr()?;
    let state = AppState::from_config(config, store.clone(), Clock::system()).await?;
    if cli.seed_demo {
        seed_demo(&state.accounts, &state.rooms, &state.store, Clock::system().now()).await?;
        print_logins(&state.config);
    }
    tracing::info!(addr = %state.config.bind, "livecart listening");
    tokio::spawn(livecart::serve_metrics(metrics, state.shutdown.clone()));
    let shutdown = state.shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: finishing requests, telling viewers to reconnect");
        shutdown.cancel();
    });
    livecart::run(listener, state).await?;
    store.close().await;
    Ok(())
}

/// Each connection is a descriptor: the soft open-file limit (often 1,024) goes up to the
/// hard one, from which the default connection limit is then derived.
fn raise_open_file_limit() {
    #[cfg(unix)]
    match rlimit::Resource::NOFILE.get() {
        Ok((soft, hard)) => match rlimit::increase_nofile_limit(hard) {
            Ok(raised) => tracing::info!(soft = raised, was = soft, hard, "open-file limit"),
            Err(e) => {
                tracing::warn!(soft, hard, error = %Causes(&e), "could not raise the open-file limit")
            }
        },
        Err(e) => tracing::warn!(error = %Causes(&e), "could not read the open-file limit"),
    }
}

fn print_logins(config: &Config) {
    println!("\nlivecart demo at http://{}/", config.bind);
    for login in &DEMO_LOGINS {
        println!("  {:<8} {:<24} {}", login.role.as_str(), login.email, login.password);
    }
    println!();
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
