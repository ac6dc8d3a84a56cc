//! The public listener: our own accept loop in front of the router, built on hyper's
//! HTTP/1.1 connection (with upgrades, for the WebSocket), so that every connection is
//! counted and timed from the moment it is accepted.
//!
//! - **Global limit** ([`Limits::max_connections`]): connections served at once, HTTP
//!   and WebSocket alike, kept below the process's open-file limit (see
//!   [`default_max_connections`]). A connection over it is still accepted (left in the
//!   backlog, it would starve `/health` too): up to [`OVERFLOW_SLOTS`] of them are
//!   answered one request each, `GET /health` as usual and anything else
//!   `503 unavailable` with `Retry-After`; beyond those it is closed at once.
//! - **Per address** ([`Limits::per_address`]): open connections one client address (an
//!   IPv6 client: its /64) may hold; over it, closed at once. Trusted balancers are not
//!   capped, since many clients arrive through each.
//! - **Idle** ([`Limits::idle`]): a connection waiting for a request (just opened, or
//!   kept alive after a response) is closed when no request head has arrived within it;
//!   this is hyper's header-read timeout, which runs from the moment hyper waits for a
//!   head.
//! - **Header read** ([`Limits::header_read`]): once the first byte of a request has
//!   arrived, its whole head must arrive within this (slowloris: bytes trickling in).
//! - **Body read** ([`Limits::body_read`]): a request's whole body must arrive within
//!   this of its head, however it trickles in ([`deadline`]).
//! - Upgraded WebSockets leave hyper and both timeouts behind (they have the join
//!   timeout and their own liveness), but keep their places under both limits: the
//!   places belong to the socket, which the WebSocket owns.
//! - **Gathered writes** after an upgrade: what the WebSocket writes is gathered (up to
//!   [`GATHER`] bytes) until it flushes, then sent with one write, and the buffer is
//!   freed once sent. tungstenite's own write buffer would do the gathering, but it never
//!   gives memory back: every viewer would keep its largest burst's bytes for as long as
//!   it watches.
//! - **Read ahead** after an upgrade: the WebSocket asks for a few bytes at a time (it
//!   keeps no read buffer while idle), so the socket reads up to [`READ_AHEAD`] bytes at
//!   once and keeps what was not asked for until it is, then frees it.
//!
//! On shutdown the loop stops accepting and closes the listener; a connection with a
//! request in flight finishes it, an idle one is closed; [`serve`] returns when they are
//! all done. WebSockets close themselves (code 1012).

mod deadline;

use crate::config::Config;
use crate::error::{ApiError, Code};
use crate::peer::address_key;
use crate::telemetry::Causes;
use crate::wire::routes;
use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dashmap::DashMap;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::io;
use std::mem::MaybeUninit;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// Connections over the global limit that are still answered, one request each, so that
/// a node at its limit still answers `/health` (and says 503 to everything else).
pub const OVERFLOW_SLOTS: usize = 16;

/// Bytes an upgraded connection gathers before it writes them out unflushed.
pub const GATHER: usize = 8 * 1024;

/// Bytes an upgraded connection reads from the network at once.
pub const READ_AHEAD: usize = 4 * 1024;

/// How long the loop pauses after an accept error that is not one client's (out of
/// descriptors or memory), so that it does not spin.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// What a client refused at the global limit is asked to wait (`Retry-After`, seconds).
const RETRY_AFTER_SECS: u32 = 5;

/// The open-file limit assumed where the platform has no `RLIMIT_NOFILE`.
const FALLBACK_OPEN_FILES: u64 = 8_192;

/// Descriptors the process itself needs: stdio, the public and metrics listeners, the
/// runtime's epoll and wakers, the signal pipe, and the files of the web demo being sent.
const PROCESS_FILES: u64 = 64;

/// Descriptors for Redis: the shared multiplexed connection and the bus's subscriber
/// connection, with room for each to reconnect while its old socket is closing.
const REDIS_FILES: u64 = 16;

/// Descriptors per database connection: SQLite holds the database, its WAL and its
/// shared-memory index open (PostgreSQL one socket).
const FILES_PER_DB_CONNECTION: u64 = 3;

/// At most this many descriptors are set aside for media when the UDP port range is not
/// configured (one UDP socket per WHIP or WHEP session).
const MEDIA_FILES: u64 = 1_024;

/// The public listener's limits and timeouts (configuration: [`Limits::from_config`]).
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_connections: usize,
    /// 0: no cap.
    pub per_address: usize,
    /// Addresses not subject to `per_address` (the trusted balancers).
    pub uncapped: Vec<IpAddr>,
    pub header_read: Duration,
    pub idle: Duration,
    /// How long a request body may send nothing before it is abandoned.
    pub body_read: Duration,
}

impl Limits {
    /// The configured limits; the global one, when not configured, from the open-file
    /// limit as it is now (`main` raises it to the hard limit first).
    pub fn from_config(config: &Config) -> Limits {
        let files = open_file_limit();
        let derived = default_max_connections(config, files);
        let max_connections = match config.max_connections {
            Some(n) => {
                if n > derived {
                    tracing::warn!(
                        max_connections = n,
                        open_files = files,
                        reserve = descriptor_reserve(config, files),
                        "LIVECART_MAX_CONNECTIONS eats into the descriptors kept for the database, Redis and media"
                    );
                }
                n.min(Semaphore::MAX_PERMITS)
            }
            None => derived,
        };
        Limits {
            max_connections,
            per_address: config.max_connections_per_address,
            uncapped: config.trusted_proxies.iter().map(|ip| ip.to_canonical()).collect(),
            header_read: config.header_read_timeout,
            idle: config.http_idle_timeout,
            body_read: config.body_read_timeout,
        }
    }
}

/// The soft `RLIMIT_NOFILE` of this process.
pub fn open_file_limit() -> u64 {
    #[cfg(unix)]
    if let Ok((soft, _)) = rlimit::Resource::NOFILE.get() {
        return soft;
    }
    FALLBACK_OPEN_FILES
}

/// Descriptors kept from client connections out of `open_files`: the process's own
/// ([`PROCESS_FILES`]), three per database connection, [`REDIS_FILES`] when scaled out,
/// media (the size of `LIVECART_UDP_PORTS`, or an eighth of the limit up to
/// [`MEDIA_FILES`]), and the [`OVERFLOW_SLOTS`].
pub fn descriptor_reserve(config: &Config, open_files: u64) -> u64 {
    let database = FILES_PER_DB_CONNECTION * u64::from(config.db_connections);
    let redis = if config.redis_url.is_some() { REDIS_FILES } else { 0 };
    let media = match config.udp_ports {
        Some((first, last)) => u64::from(last - first) + 1,
        None => (open_files / 8).min(MEDIA_FILES),
    };
    PROCESS_FILES + database + redis + media + OVERFLOW_SLOTS as u64
}

/// The global limit when none is configured: the open-file limit less the
/// [`descriptor_reserve`] (but at least half the limit, for tiny limits). With the
/// defaults (one node, 8 database connections): 18,872 connections for 20,000
/// descriptors, 1,047,448 for 1,048,576, 792 for 1,024.
pub fn default_max_connections(config: &Config, open_files: u64) -> usize {
    let limit = open_files.saturating_sub(descriptor_reserve(config, open_files)).max(open_files / 2).max(1);
    usize::try_from(limit).unwrap_or(usize::MAX).min(Semaphore::MAX_PERMITS)
}

/// Serves `router` on `listener` within `limits` until `shutdown` is cancelled, then
/// lets requests in flight finish (see the module's documentation).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: CancellationToken,
) -> io::Result<()> {
    tracing::info!(
        max_connections = limits.max_connections,
        per_address = limits.per_address,
        header_read_secs = limits.header_read.as_secs_f64(),
        idle_secs = limits.idle.as_secs_f64(),
        "connection limits"
    );
    metrics::gauge!("livecart_connection_limit").set(limits.max_connections as f64);
    let limits = Arc::new(limits);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let overflow = Arc::new(Semaphore::new(OVERFLOW_SLOTS));
    let addresses =
        Arc::new(Addresses { cap: limits.per_address, uncapped: limits.uncapped.clone(), open: DashMap::new() });
    let connections = TaskTracker::new();
    loop {
        let (tcp, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e, &shutdown).await;
                    continue;
                }
            },
        };
        // Every answer goes out at once: with Nagle's algorithm a second small frame (an
        // `order_confirmed` after a `sale`) waits for the client's delayed ACK, ~40 ms.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %Causes(&e), "TCP_NODELAY not set");
        }
        let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
        let Some(address) = addresses.admit(peer.ip()) else {
            refused("address");
            continue;
        };
        match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => {
                let socket = Socket::new(tcp, Places::new(slot, address), true);
                connections.spawn(serve_connection(
                    socket,
                    peer,
                    router.clone(),
                    Arc::clone(&limits),
                    shutdown.clone(),
                ));
            }
            Err(_) => {
                refused("limit");
                if let Ok(slot) = Arc::clone(&overflow).try_acquire_owned() {
                    let socket = Socket::new(tcp, Places::new(slot, address), false);
                    connections.spawn(serve_overflow(socket, router.clone(), Arc::clone(&limits), shutdown.clone()));
                }
            }
        }
    }
    // Closing the listener refuses new connections at once rather than queueing them.
    drop(listener);
    connections.close();
    connections.wait().await;
    Ok(())
}

/// A connection closed at once, without a response.
fn refused(reason: &'static str) {
    metrics::counter!("livecart_connections_refused_total", "reason" => reason).increment(1);
}

async fn accept_failed(e: io::Error, shutdown: &CancellationToken) {
    // One client gave up between its handshake and our accept: nothing to wait for.
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    metrics::counter!("livecart_accept_errors_total").increment(1);
    tracing::warn!(error = %Causes(&e), "accept failed; pausing");
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = tokio::time::sleep(ACCEPT_PAUSE) => {}
    }
}

/// Serves one connection under the limits, until it closes, upgrades, times out, or
/// shutdown ends it.
async fn serve_connection(
    socket: Socket,
    peer: SocketAddr,
    router: Router,
    limits: Arc<Limits>,
    shutdown: CancellationToken,
) {
    let head = Arc::clone(&socket.head);
    let body_read = limits.body_read;
    let service = {
        let head = Arc::clone(&head);
        service_fn(move |mut req: Request<Incoming>| {
            head.request_began();
            let busy = Busy(Arc::clone(&head));
            // Handlers that count per client (login back-off, guests) need the peer.
            req.extensions_mut().insert(ConnectInfo(peer));
            // A body not whole by the deadline is abandoned: its handler gets a read error (400).
            let req = req.map(|body| deadline::Deadline::new(body, body_read));
            let response = router.clone().oneshot(req);
            async move {
                let response = response.await;
                if response.as_ref().is_ok_and(|r| r.status() == StatusCode::SWITCHING_PROTOCOLS) {
                    busy.0.upgraded.store(true, Ordering::Relaxed);
                }
                drop(busy);
                response
            }
        })
    };
    let mut builder = http1::Builder::new();
    // hyper's header-read timeout runs from the moment it waits for a request head:
    // that is the idle timeout. The header read proper is `Head::overrun`.
    builder.timer(TokioTimer::new()).header_read_timeout(limits.idle);
    let conn = builder.serve_connection(TokioIo::new(socket), service).with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        served = conn.as_mut() => {
            if let Err(e) = served {
                if e.is_timeout() {
                    metrics::counter!("livecart_connections_timed_out_total", "phase" => "idle").increment(1);
                }
                tracing::debug!(error = %Causes(&e), "connection ended");
            }
            return;
        }
        () = head.overrun(limits.header_read) => {
            metrics::counter!("livecart_connections_timed_out_total", "phase" => "header").increment(1);
            return;
        }
        () = shutdown.cancelled() => {}
    }
    // Shutdown: hyper closes the connection at once if it is idle or has not sent a byte,
    // and after the response otherwise; a head still arriving has the header-read time.
    conn.as_mut().graceful_shutdown();
    tokio::select! {
        _ = conn.as_mut() => {}
        () = head.overrun(limits.header_read) => {}
    }
}

/// Answers one request of a connection over the global limit: `GET /health` as usual,
/// anything else `503 unavailable`; then closes it.
async fn serve_overflow(socket: Socket, router: Router, limits: Arc<Limits>, shutdown: CancellationToken) {
    let service = service_fn(move |req: Request<Incoming>| {
        let router = router.clone();
        async move {
            if req.method() == Method::GET && req.uri().path() == routes::HEALTH {
                return router.oneshot(req).await;
            }
            Ok::<_, Infallible>(at_capacity())
        }
    });
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read.min(limits.idle)).keep_alive(false);
    let conn = builder.serve_connection(TokioIo::new(socket), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        () = shutdown.cancelled() => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}

fn at_capacity() -> Response {
    let message = "the server is at its connection limit: retry in a few seconds";
    let mut response = ApiError::new(Code::Unavailable, message).into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    response
}

/// Open connections per client address.
struct Addresses {
    cap: usize,
    uncapped: Vec<IpAddr>,
    open: DashMap<IpAddr, usize>,
}

/// A connection's place under its address's cap (none when the address is not capped),
/// given back on drop.
struct AddressPlace(Option<(Arc<Addresses>, IpAddr)>);

impl Addresses {
    /// A place for one more connection from `ip`; `None` when its address holds the cap.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<AddressPlace> {
        if self.cap == 0 || self.uncapped.contains(&ip) {
            return Some(AddressPlace(None));
        }
        let key = address_key(ip);
        let mut open = self.open.entry(key).or_insert(0);
        if *open >= self.cap {
            return None;
        }
        *open += 1;
        Some(AddressPlace(Some((Arc::clone(self), key))))
    }
}

impl Drop for AddressPlace {
    fn drop(&mut self) {
        if let Some((addresses, key)) = self.0.take() {
            addresses.open.remove_if_mut(&key, |_, open| {
                *open = open.saturating_sub(1);
                *open == 0
            });
        }
    }
}

/// What an open connection holds: a slot under the global limit, a place under its
/// address's cap, and its count in `livecart_open_connections`.
struct Places {
    _slot: OwnedSemaphorePermit,
    _address: AddressPlace,
}

impl Places {
    fn new(slot: OwnedSemaphorePermit, address: AddressPlace) -> Places {
        metrics::gauge!("livecart_open_connections").increment(1.0);
        Places { _slot: slot, _address: address }
    }
}

impl Drop for Places {
    fn drop(&mut self) {
        metrics::gauge!("livecart_open_connections").decrement(1.0);
    }
}

/// Where the request head being read stands: when its first byte arrived (while no
/// request was in flight), and whether a request is in flight.
struct Head {
    opened: Instant,
    /// Milliseconds after `opened` the head began to arrive, plus one; 0: not begun.
    began: AtomicU64,
    busy: AtomicBool,
    began_now: Notify,
    /// False for overflow connections, which hyper's own timeout covers.
    watched: bool,
    /// Switched to another protocol (a WebSocket): its writes are gathered until flushed.
    upgraded: AtomicBool,
}

impl Head {
    /// Bytes arrived: the first ones while no request is in flight begin a head.
    fn bytes_read(&self) {
        if !self.watched || self.busy.load(Ordering::Relaxed) || self.began.load(Ordering::Relaxed) != 0 {
            return;
        }
        let at = self.opened.elapsed().as_millis() as u64 + 1;
        if self.began.compare_exchange(0, at, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            self.began_now.notify_one();
        }
    }

    /// The head is complete: the router has the request.
    fn request_began(&self) {
        self.busy.store(true, Ordering::Relaxed);
        self.began.store(0, Ordering::Relaxed);
    }

    /// Returns when a head has been arriving for longer than `limit`.
    async fn overrun(&self, limit: Duration) {
        loop {
            let began_now = self.began_now.notified();
            let began = self.began.load(Ordering::Relaxed);
            if began == 0 {
                began_now.await;
                continue;
            }
            tokio::time::sleep_until(self.opened + Duration::from_millis(began - 1) + limit).await;
            if self.began.load(Ordering::Relaxed) == began {
                return;
            }
        }
    }
}

/// Marks the end of a request's handling, however its future ends.
struct Busy(Arc<Head>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.store(false, Ordering::Relaxed);
    }
}

/// A client's TCP stream with its [`Places`], which it keeps for as long as it is open:
/// through an upgrade the WebSocket owns it, and so the places.
struct Socket {
    tcp: TcpStream,
    head: Arc<Head>,
    /// After an upgrade, bytes written and not yet sent (from `sent` on); empty, with no
    /// allocation, once they are.
    gathered: Vec<u8>,
    sent: usize,
    /// After an upgrade, bytes read and not yet asked for (from `taken` on); empty, with
    /// no allocation, once they are.
    ahead: Vec<u8>,
    taken: usize,
    _places: Places,
}

impl Socket {
    fn new(tcp: TcpStream, places: Places, watched: bool) -> Socket {
        let head = Head {
            opened: Instant::now(),
            began: AtomicU64::new(0),
            busy: AtomicBool::new(false),
            began_now: Notify::new(),
            watched,
            upgraded: AtomicBool::new(false),
        };
        Socket {
            tcp,
            head: Arc::new(head),
            gathered: Vec::new(),
            sent: 0,
            ahead: Vec::new(),
            taken: 0,
            _places: places,
        }
    }

    fn upgraded(&self) -> bool {
        self.head.upgraded.load(Ordering::Relaxed)
    }

    /// Sends what is gathered, then frees the buffer.
    fn poll_send_gathered(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.gathered.len() {
            let n = ready!(Pin::new(&mut self.tcp).poll_write(cx, &self.gathered[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.gathered = Vec::new();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

impl Socket {
    /// An upgraded connection's read: what was read ahead, or else up to [`READ_AHEAD`]
    /// bytes from the network, keeping what `buf` has no room for.
    fn poll_read_ahead(&mut self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.taken == self.ahead.len() {
            if buf.remaining() >= READ_AHEAD {
                return Pin::new(&mut self.tcp).poll_read(cx, buf);
            }
            // Uninitialised: a read that finds nothing to read writes nothing.
            let mut chunk = [MaybeUninit::uninit(); READ_AHEAD];
            let mut read = ReadBuf::uninit(&mut chunk);
            ready!(Pin::new(&mut self.tcp).poll_read(cx, &mut read))?;
            self.ahead = read.filled().to_vec();
            self.taken = 0;
        }
        let n = buf.remaining().min(self.ahead.len() - self.taken);
        buf.put_slice(&self.ahead[self.taken..self.taken + n]);
        self.taken += n;
        if self.taken == self.ahead.len() {
            self.ahead = Vec::new();
            self.taken = 0;
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Socket {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.upgraded() {
            return this.poll_read_ahead(cx, buf);
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.tcp).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.head.bytes_read();
        }
        polled
    }
}

impl AsyncWrite for Socket {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if !this.upgraded() {
            return Pin::new(&mut this.tcp).poll_write(cx, buf);
        }
        if this.gathered.len() >= GATHER {
            ready!(this.poll_send_gathered(cx))?;
        }
        this.gathered.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.upgraded() {
            let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| &**b);
            return self.poll_write(cx, first);
        }
        Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        !self.upgraded() && self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send_gathered(cx))?;
        Pin::new(&mut this.tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send_gathered(cx))?;
        Pin::new(&mut this.tcp).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_limit_keeps_a_reserve_of_descriptors() {
        let config = Config::defaults();
        // 64 + 3 × 8 (database) + media (an eighth, at most 1,024) + 16 overflow slots.
        assert_eq!(default_max_connections(&config, 20_000), 20_000 - (64 + 24 + 1_024 + 16));
        assert_eq!(default_max_connections(&config, 1_048_576), 1_048_576 - 1_128);
        assert_eq!(default_max_connections(&config, 1_024), 1_024 - (64 + 24 + 128 + 16));
        assert_eq!(default_max_connections(&config, 100), 50, "at least half of a tiny limit");
        let mut scaled = Config::defaults();
        scaled.redis_url = Some("redis://127.0.0.1".into());
        scaled.udp_ports = Some((40_000, 40_099));
        assert_eq!(default_max_connections(&scaled, 20_000), 20_000 - (64 + 24 + 16 + 100 + 16));
    }

    #[test]
    fn an_address_holds_at_most_its_cap_and_trusted_balancers_none() {
        let balancer: IpAddr = "10.0.0.2".parse().unwrap();
        let addresses = Arc::new(Addresses { cap: 2, uncapped: vec![balancer], open: DashMap::new() });
        let client: IpAddr = "192.0.2.7".parse().unwrap();
        let first = addresses.admit(client).unwrap();
        let _second = addresses.admit(client).unwrap();
        assert!(addresses.admit(client).is_none());
        assert!(addresses.admit("192.0.2.8".parse().unwrap()).is_some());
        drop(first);
        assert!(addresses.admit(client).is_some());
        let through: Vec<_> = (0..5).map(|_| addresses.admit(balancer)).collect();
        assert!(through.iter().all(Option::is_some));
    }
}
