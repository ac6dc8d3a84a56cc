//! One configuration, from flags and environment variables, every field with a default.

use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

fn parse_secs(raw: &str) -> Result<Duration, String> {
    raw.parse::<u64>().map(Duration::from_secs).map_err(|e| format!("{raw:?}: {e}"))
}

fn parse_millis(raw: &str) -> Result<Duration, String> {
    raw.parse::<u64>().map(Duration::from_millis).map_err(|e| format!("{raw:?}: {e}"))
}

fn parse_port_range(raw: &str) -> Result<(u16, u16), String> {
    let (lo, hi) = raw.split_once('-').ok_or_else(|| format!("{raw:?}: expected first-last"))?;
    let (lo, hi): (u16, u16) =
        (lo.trim().parse().map_err(|e| format!("{e}"))?, hi.trim().parse().map_err(|e| format!("{e}"))?);
    if lo == 0 || lo > hi {
        return Err(format!("{raw:?}: expected 1 <= first <= last"));
    }
    Ok((lo, hi))
}

/// A configuration value that must never reach a log: `Debug` shows only that it is set.
#[derive(Clone)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

/// Where Stripe is and the keys to it, checked (see [`Config::stripe`]).
#[derive(Debug, Clone)]
pub struct StripeSettings {
    /// `https://api.stripe.com`, or a stand-in such as localstripe in tests.
    pub api_base: String,
    /// The secret API key (`sk_test_…`), sent as a bearer token.
    pub secret_key: Secret,
    /// The webhook endpoint's signing secret (`whsec_…`).
    pub webhook_secret: Secret,
}

/// Which payment provider charges checkouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PaymentsChoice {
    /// The built-in test cards (the embedded default): no account, no network.
    TestCards,
    /// Stripe's API (test mode), with `stripe_secret_key` and `stripe_webhook_secret`.
    Stripe,
}

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address the HTTP and WebSocket server listens on.
    #[arg(long, env = "LIVECART_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// sqlite:… (embedded default) or postgres://…
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, default_value = "sqlite://livecart.db?mode=rwc")]
    pub database_url: String,

    /// redis://… to share rooms, carts and stock with other nodes; unset runs one node
    /// with in-memory state. A Redis Cluster is `redis+cluster://host:port[,host:port…]`
    /// or a comma-separated list of `redis://` URLs of its nodes (see `redis::Target`).
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// Prefix of every Redis key and channel, so deployments can share a Redis. No braces:
    /// keys carry their Redis Cluster hash tag after it, and a brace in the prefix would
    /// make it the tag of every key.
    #[arg(long, env = "LIVECART_REDIS_PREFIX", default_value = "livecart:")]
    pub redis_prefix: String,

    #[arg(long, env = "LIVECART_DB_CONNECTIONS", default_value_t = 8)]
    pub db_connections: u32,

    /// Folder of the web demo pages served at `/`.
    #[arg(long, env = "LIVECART_WEB_DEMO", default_value = "web-demo")]
    pub web_demo: PathBuf,

    /// How long a checkout may hold stock before the units go back on sale (seconds).
    #[arg(long, env = "LIVECART_HOLD_SECS", default_value = "120", value_parser = parse_secs)]
    pub hold_ttl: Duration,

    /// How long after payment a sale may be returned (seconds); the creator's commission
    /// on it settles then.
    #[arg(long, env = "LIVECART_RETURN_WINDOW_SECS", default_value = "1209600", value_parser = parse_secs)]
    pub return_window: Duration,

    /// How long a login session lasts (seconds).
    #[arg(long, env = "LIVECART_SESSION_SECS", default_value = "2592000", value_parser = parse_secs)]
    pub session_ttl: Duration,

    /// Period of viewer-count and reaction ticks, drop expiry and the hold sweeper (ms).
    #[arg(long, env = "LIVECART_TICK_MS", default_value = "1000", value_parser = parse_millis)]
    pub tick: Duration,

    /// Room events kept for resuming viewers.
    #[arg(long, env = "LIVECART_HISTORY", default_value_t = 512)]
    pub history: usize,

    /// Frames a viewer may fall behind by before it is resynced with a snapshot.
    #[arg(long, env = "LIVECART_VIEWER_QUEUE", default_value_t = 1024)]
    pub viewer_queue: usize,

    /// Comments a viewer may send in a burst, then one per `comment_refill_ms`.
    #[arg(long, env = "LIVECART_COMMENT_BURST", default_value_t = 5)]
    pub comment_burst: u32,

    #[arg(long, env = "LIVECART_COMMENT_REFILL_MS", default_value_t = 1000)]
    pub comment_refill_ms: i64,

    /// Argon2 memory cost in KiB (the OWASP minimum is 19456); lower only for tests.
    #[arg(long, env = "LIVECART_ARGON2_KIB", default_value_t = 19_456)]
    pub argon2_kib: u32,

    /// Address of the Prometheus `/metrics` listener, kept apart from the public port.
    #[arg(long, env = "LIVECART_METRICS_BIND", default_value = "127.0.0.1:9091")]
    pub metrics_bind: SocketAddr,

    /// The URL other nodes send viewers to when this node holds a room's publisher
    /// (scaled out). Defaults to http:// and the address this node is bound to.
    #[arg(long, env = "LIVECART_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// The node's media address: what its host candidates say, so viewers and the TURN
    /// server must be able to reach it (with the UDP ports below).
    #[arg(long, env = "LIVECART_ICE_IP", default_value = "127.0.0.1")]
    pub ice_ip: std::net::IpAddr,

    /// The address media sockets are bound to, when it is not `ice_ip`: behind a 1:1 NAT
    /// (a container with published ports, a cloud VM with a public address), e.g.
    /// `0.0.0.0` or the private address; host candidates still announce `ice_ip`.
    #[arg(long, env = "LIVECART_ICE_BIND")]
    pub ice_bind: Option<std::net::IpAddr>,

    /// UDP port range for media, as `first-last`; unset lets the OS pick. Each media
    /// session (a publisher, a viewer) holds one port.
    #[arg(long, env = "LIVECART_UDP_PORTS", value_parser = parse_port_range)]
    pub udp_ports: Option<(u16, u16)>,

    /// STUN and TURN servers for clients (comma-separated `stun:`, `turn:` or `turns:`
    /// URLs), handed out by `GET /api/ice`, TURN ones with time-limited credentials from
    /// `turn_secret`. The node itself announces only its host candidates.
    #[arg(long, env = "LIVECART_ICE_SERVERS", value_delimiter = ',')]
    pub ice_servers: Vec<String>,

    /// The secret shared with the TURN server (coturn's `static-auth-secret`): each
    /// client gets a username `expiry:user` and its HMAC-SHA1 as the credential.
    #[arg(long, env = "LIVECART_TURN_SECRET", hide_env_values = true)]
    pub turn_secret: Option<Secret>,

    /// How long the TURN credentials a client gets may start a relay (seconds). A TURN
    /// server checks them when a client allocates; a relay in use outlives them.
    #[arg(long, env = "LIVECART_TURN_TTL_SECS", default_value = "3600", value_parser = parse_secs)]
    pub turn_ttl: Duration,

    /// Replaced by `turn_secret`: a static TURN password would have to be given to every
    /// browser. Still read, only to refuse to start with a clear message.
    #[arg(long, env = "LIVECART_TURN_USERNAME", hide = true)]
    pub turn_username: Option<String>,

    /// Replaced by `turn_secret` (see `turn_username`).
    #[arg(long, env = "LIVECART_TURN_CREDENTIAL", hide_env_values = true, hide = true)]
    pub turn_credential: Option<Secret>,

    /// The payment provider: `test-cards` (built in) or `stripe` (test mode; needs the
    /// secret key and the webhook signing secret).
    #[arg(long, env = "LIVECART_PAYMENTS", value_enum, default_value = "test-cards")]
    pub payments: PaymentsChoice,

    /// Stripe's secret API key (`sk_test_…`); required with `--payments stripe`.
    #[arg(long, env = "LIVECART_STRIPE_SECRET_KEY", hide_env_values = true)]
    pub stripe_secret_key: Option<Secret>,

    /// The signing secret (`whsec_…`) of the webhook endpoint Stripe delivers to
    /// (`/api/payments/stripe/webhook`); required with `--payments stripe`.
    #[arg(long, env = "LIVECART_STRIPE_WEBHOOK_SECRET", hide_env_values = true)]
    pub stripe_webhook_secret: Option<Secret>,

    /// Stripe's API base URL (a stand-in such as localstripe in tests).
    #[arg(long, env = "LIVECART_STRIPE_API", default_value = "https://api.stripe.com")]
    pub stripe_api: String,

    /// Record the analytics event log (`false` only to measure what recording costs:
    /// reports then see no audience, engagement or funnel events).
    #[arg(long, env = "LIVECART_ANALYTICS", default_value_t = true, action = clap::ArgAction::Set)]
    pub analytics: bool,

    /// Log as JSON lines instead of human-readable text.
    #[arg(long, env = "LIVECART_LOG_JSON", default_value_t = false)]
    pub log_json: bool,

    /// Balancers in front of this node (comma-separated IP addresses): for a request from
    /// one of them, the client is the last address in `X-Forwarded-For` that is not one
    /// of them. Per-address limits (login back-off) count clients, not the balancer.
    #[arg(long, env = "LIVECART_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,

    /// Client connections (HTTP and WebSocket) served at once; unset: the open-file limit
    /// less a reserve for the database, Redis, media sockets and the process's own files.
    /// Connections over it are answered from a few reserved slots (`/health` 200,
    /// anything else 503) or closed at once.
    #[arg(long, env = "LIVECART_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,

    /// Open connections one client address may hold (an IPv6 client: its /64); 0: no cap.
    /// Connections from `trusted_proxies` are not capped. Over it, a connection is closed
    /// at once.
    #[arg(long, env = "LIVECART_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 256)]
    pub max_connections_per_address: usize,

    /// Room and sales-feed WebSockets one account may have joined on this node; 0: no cap.
    /// A `join` or `follow_sales` over it gets `too_many_connections`.
    #[arg(long, env = "LIVECART_MAX_CONNECTIONS_PER_ACCOUNT", default_value_t = 8)]
    pub max_connections_per_account: usize,

    /// Guest room connections one client address may have joined on this node (an IPv6
    /// client: its /64; behind `trusted_proxies`, the forwarded client), and likewise
    /// WHEP viewing sessions it may hold; 0: no cap.
    #[arg(long, env = "LIVECART_MAX_GUESTS_PER_ADDRESS", default_value_t = 256)]
    pub max_guests_per_address: usize,

    /// Once the first byte of a request has arrived, its whole head (request line and
    /// headers) must arrive within this many seconds, or the connection is closed.
    #[arg(long, env = "LIVECART_HEADER_READ_SECS", default_value = "10", value_parser = parse_secs)]
    pub header_read_timeout: Duration,

    /// A request's whole body must arrive within this many seconds of its head, however
    /// it trickles in, or it is abandoned (the request fails with 400).
    #[arg(long, env = "LIVECART_BODY_READ_SECS", default_value = "10", value_parser = parse_secs)]
    pub body_read_timeout: Duration,

    /// A WebSocket that has not joined (a room, a sales feed or notices) within this many
    /// seconds of opening is dropped; failed joins do not restart the count.
    #[arg(long, env = "LIVECART_JOIN_SECS", default_value = "30", value_parser = parse_secs)]
    pub join_timeout: Duration,

    /// A connection waiting for a request (just opened, or kept alive after a response)
    /// is closed when none has arrived within this many seconds. WebSockets, once
    /// upgraded, are not subject to it.
    #[arg(long, env = "LIVECART_HTTP_IDLE_SECS", default_value = "60", value_parser = parse_secs)]
    pub http_idle_timeout: Duration,

    /// Further origins (comma-separated `scheme://host[:port]`, or `*` for any) whose pages
    /// may open the WebSocket. The server's own are always allowed: the request's `Host`
    /// and `public_url`'s origin. A request without `Origin` (not a browser) is allowed.
    #[arg(long, env = "LIVECART_ALLOWED_ORIGINS", value_delimiter = ',', value_parser = AllowedOrigin::parse)]
    pub allowed_origins: Vec<AllowedOrigin>,
}

/// An origin whose pages may open the WebSocket (`LIVECART_ALLOWED_ORIGINS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigin {
    /// `*`: any origin.
    Any,
    /// One origin, as [`normalize_origin`] writes it.
    Exact(String),
}

impl AllowedOrigin {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw == "*" {
            return Ok(AllowedOrigin::Any);
        }
        normalize_origin(raw).map(AllowedOrigin::Exact).ok_or_else(|| {
            format!("{raw:?}: expected an origin such as https://shop.example or http://localhost:8080, or *")
        })
    }
}

/// An origin (`scheme://host[:port]`, as browsers send it in `Origin`) lower-cased and
/// without the scheme's default port, so that equal origins compare equal; `None` for
/// what is not one (no scheme or host, a path, user info, a bad port).
pub fn normalize_origin(raw: &str) -> Option<String> {
    let (scheme, authority) = raw.trim().split_once("://")?;
    let authority = authority.strip_suffix('/').unwrap_or(authority);
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !scheme_ok || authority.contains(['/', '?', '#', '@']) || authority.contains(char::is_whitespace) {
        return None;
    }
    let (scheme, authority) = (scheme.to_ascii_lowercase(), authority.to_ascii_lowercase());
    let (host, port) = split_host_port(&authority)?;
    let default_port = match scheme.as_str() {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    };
    Some(match port {
        Some(port) if Some(port) != default_port => format!("{scheme}://{host}:{port}"),
        _ => format!("{scheme}://{host}"),
    })
}

/// The origin of a URL that may have a path (`LIVECART_PUBLIC_URL` behind a balancer
/// that routes a path prefix to this node), as [`normalize_origin`] writes it.
pub fn origin_of_url(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let (scheme, rest) = raw.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    normalize_origin(&format!("{scheme}://{authority}"))
}

/// `host[:port]` (a `Host` header, an origin's authority) as its host, brackets kept
/// around an IPv6 address, and its port; `None` when malformed.
pub fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let port = |p: &str| p.parse::<u16>().ok().filter(|_| p.bytes().all(|b| b.is_ascii_digit()));
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')? + 1;
        match &authority[end..] {
            "" => (&authority[..end], None),
            rest => (&authority[..end], Some(port(rest.strip_prefix(':')?)?)),
        }
    } else {
        match authority.split_once(':') {
            Some((host, p)) => (host, Some(port(p)?)),
            None => (authority, None),
        }
    };
    (!host.is_empty()).then_some((host, port))
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} must be greater than zero")]
    Zero(&'static str),
    #[error("REDIS_URL is neither redis://…, redis+cluster://… nor a comma-separated list of a cluster's nodes")]
    RedisUrl(#[source] crate::redis::RedisError),
    #[error("LIVECART_REDIS_PREFIX must not hold {{ or }}: keys carry their cluster hash tag after it")]
    RedisPrefix,
    #[error("argon2 memory cost must be at least 8 KiB")]
    Argon2Memory,
    #[error("{0} is required when LIVECART_PAYMENTS=stripe")]
    StripeMissing(&'static str),
    #[error(
        "LIVECART_STRIPE_SECRET_KEY must be a test-mode key (sk_test_… or rk_test_…): the stripe provider \
         sends card numbers to Stripe, which only test mode allows"
    )]
    StripeLiveKey,
    #[error("LIVECART_STRIPE_API must be an http:// or https:// URL, got {0:?}")]
    StripeApi(String),
    #[error(
        "LIVECART_TURN_USERNAME and LIVECART_TURN_CREDENTIAL are no longer used: set LIVECART_TURN_SECRET to the \
         TURN server's shared secret (coturn: use-auth-secret, static-auth-secret), and clients get time-limited \
         credentials from GET /api/ice"
    )]
    StaticTurnCredentials,
    #[error("LIVECART_ICE_SERVERS: {0:?} is not a stun:, turn: or turns: URL")]
    IceServer(String),
    #[error("LIVECART_ICE_SERVERS names a TURN server ({0}) but LIVECART_TURN_SECRET is not set")]
    TurnSecretMissing(String),
    #[error("LIVECART_TURN_SECRET is set but LIVECART_ICE_SERVERS names no turn: or turns: server")]
    TurnServerMissing,
}

impl Config {
    /// Checks what clap's types cannot, before anything binds.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let zero = [
            ("hold_ttl", self.hold_ttl.is_zero()),
            ("session_ttl", self.session_ttl.is_zero()),
            ("tick", self.tick.is_zero()),
            ("history", self.history == 0),
            ("viewer_queue", self.viewer_queue == 0),
            ("comment_burst", self.comment_burst == 0),
            ("comment_refill_ms", self.comment_refill_ms <= 0),
            ("db_connections", self.db_connections == 0),
            ("max_connections", self.max_connections == Some(0)),
            ("header_read_timeout", self.header_read_timeout.is_zero()),
            ("body_read_timeout", self.body_read_timeout.is_zero()),
            ("join_timeout", self.join_timeout.is_zero()),
            ("http_idle_timeout", self.http_idle_timeout.is_zero()),
            ("turn_ttl", self.turn_ttl.is_zero()),
        ];
        if let Some((name, _)) = zero.iter().find(|(_, z)| *z) {
            return Err(ConfigError::Zero(name));
        }
        if self.argon2_kib < 8 {
            return Err(ConfigError::Argon2Memory);
        }
        if let Some(url) = &self.redis_url {
            crate::redis::Target::parse(url).map_err(ConfigError::RedisUrl)?;
        }
        if self.redis_prefix.contains(['{', '}']) {
            return Err(ConfigError::RedisPrefix);
        }
        if self.payments == PaymentsChoice::Stripe {
            self.stripe()?;
        }
        self.check_ice_servers()?;
        Ok(())
    }

    /// The ICE servers for clients: known schemes, and a TURN server if and only if there
    /// is a secret to make its credentials with.
    fn check_ice_servers(&self) -> Result<(), ConfigError> {
        if self.turn_username.is_some() || self.turn_credential.is_some() {
            return Err(ConfigError::StaticTurnCredentials);
        }
        let mut turn = None;
        for url in self.ice_servers.iter().map(|u| u.trim()) {
            let (scheme, rest) = url.split_once(':').unwrap_or((url, ""));
            match scheme.to_ascii_lowercase().as_str() {
                _ if rest.is_empty() => return Err(ConfigError::IceServer(url.to_owned())),
                "stun" => {}
                "turn" | "turns" => turn = turn.or(Some(url)),
                _ => return Err(ConfigError::IceServer(url.to_owned())),
            }
        }
        let secret = self.turn_secret.as_ref().is_some_and(|s| !s.0.is_empty());
        match turn {
            Some(url) if !secret => Err(ConfigError::TurnSecretMissing(url.to_owned())),
            None if secret => Err(ConfigError::TurnServerMissing),
            _ => Ok(()),
        }
    }

    /// The Stripe provider's settings, checked: both secrets given, a test-mode key, an
    /// HTTP(S) API URL.
    pub fn stripe(&self) -> Result<StripeSettings, ConfigError> {
        let given = |s: &Option<Secret>| s.clone().filter(|s| !s.0.trim().is_empty());
        let secret_key =
            given(&self.stripe_secret_key).ok_or(ConfigError::StripeMissing("LIVECART_STRIPE_SECRET_KEY"))?;
        let webhook_secret =
            given(&self.stripe_webhook_secret).ok_or(ConfigError::StripeMissing("LIVECART_STRIPE_WEBHOOK_SECRET"))?;
        if !(secret_key.0.starts_with("sk_test_") || secret_key.0.starts_with("rk_test_")) {
            return Err(ConfigError::StripeLiveKey);
        }
        let api = self.stripe_api.trim();
        if !(api.starts_with("https://") || api.starts_with("http://")) || api.len() <= "https://".len() {
            return Err(ConfigError::StripeApi(self.stripe_api.clone()));
        }
        Ok(StripeSettings { api_base: api.to_owned(), secret_key, webhook_secret })
    }

    /// The node's own peer connections: host candidates on `ice_ip`, no STUN or TURN.
    pub fn ice(&self) -> crate::media::IceSettings {
        crate::media::IceSettings {
            host_ip: self.ice_ip,
            bind_ip: self.ice_bind,
            udp_ports: self.udp_ports,
            servers: Vec::new(),
            relay_only: false,
        }
    }

    /// The STUN and TURN servers clients are given, with the TURN secret and lifetime of
    /// their credentials.
    pub fn client_ice(&self) -> crate::media::ClientIceSettings {
        crate::media::ClientIceSettings {
            urls: self.ice_servers.iter().map(|u| u.trim().to_owned()).filter(|u| !u.is_empty()).collect(),
            turn_secret: self.turn_secret.as_ref().map(|s| s.0.clone()),
            turn_ttl: self.turn_ttl,
        }
    }

    /// The defaults, as if no flag or variable were given.
    pub fn defaults() -> Self {
        use clap::{FromArgMatches, Parser};
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            config: Config,
        }
        let matches =
            <Wrapper as clap::CommandFactory>::command().no_binary_name(true).get_matches_from(Vec::<String>::new());
        Wrapper::from_arg_matches(&matches).map(|w| w.config).unwrap_or_else(|e| e.exit())
    }
}
