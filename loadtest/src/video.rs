//! `video`: one synthetic publisher and N receive-only WHEP viewers of one room. Reports
//! packets and bytes received, loss, and (with the server's process id) server CPU time
//! per forwarded packet and server memory per viewer, for each audience size in turn.
//!
//! Memory per viewer is the server's RSS at the end of the window less its RSS with the
//! stream up and nobody watching (read once, before the first audience, when it has
//! stopped growing by itself), divided by the audience. Sizes run one after another, and
//! memory an earlier audience freed stays with the allocator and is reused, so each
//! figure is what N viewers need at most.
//!
//! A second figure reads that RSS again after one viewer has come and gone: what a
//! server pays once in its life, at its first peer (the webrtc crate's reactor thread
//! and the allocator arena it grows, the crate's process-wide tables), is then in the
//! baseline, and what is left is what each further audience costs. The stream's shared
//! re-send history is freed with the last viewer, so it is counted in both.

use crate::server::{resident_kib, usage};
use livecart::media::IceSettings;
use livecart::wire::api::{LoginRequest, RoomView, SessionResponse};
use livecart::wire::routes::{self, path};
use livecart_testkit::media::{CountingViewer, CountingViewerHandle, SyntheticPublisher, VideoCodec};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

pub struct VideoRun {
    pub url: String,
    pub email: String,
    pub password: String,
    pub audiences: Vec<usize>,
    pub seconds: u64,
    pub packets_per_second: u32,
    pub server_pid: Option<u32>,
    pub codec: VideoCodec,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct VideoResult {
    pub viewers: usize,
    pub packets_sent: u64,
    pub deliveries_expected: u64,
    pub packets_received: u64,
    pub bytes_received: u64,
    pub loss_percent: f64,
    pub server_cpu_ms: Option<u64>,
    pub server_cpu_us_per_packet: Option<f64>,
    pub server_rss_kib: Option<u64>,
    /// (RSS now − RSS with no viewer yet) ÷ viewers.
    pub server_kib_per_viewer: Option<f64>,
    /// (RSS now − RSS with no viewer, once one viewer has come and gone) ÷ viewers.
    pub server_kib_per_viewer_after_first: Option<f64>,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

/// How often, and for how long at most, [`settled_rss`] looks.
const SETTLE_STEP: Duration = Duration::from_secs(4);
const SETTLE_AT_MOST: Duration = Duration::from_secs(30);
/// Growth over one step below which the server counts as settled: 8 KiB a second, a
/// tenth of a KiB per viewer over a window at 10 viewers.
const SETTLED_GROWTH_KIB: u64 = 32;

/// The server's RSS with the stream up and nobody watching, once it has stopped growing
/// by itself. A server that has just started keeps growing for a while (its database
/// caches fill as its background work reads): here, with nobody watching, by 0.3 to 0.5
/// MiB in the ten seconds after the stream's first second, and little after twenty.
/// Read after one second, as it was, that growth was counted as the first audience's:
/// 30 to 50 KiB per viewer at 10 viewers.
async fn settled_rss(pid: u32) -> Option<u64> {
    let deadline = Instant::now() + SETTLE_AT_MOST;
    let mut last = resident_kib(pid)?;
    loop {
        tokio::time::sleep(SETTLE_STEP).await;
        let now = resident_kib(pid)?;
        if now.saturating_sub(last) < SETTLED_GROWTH_KIB || Instant::now() >= deadline {
            return Some(now);
        }
        last = now;
    }
}

/// Posts an offer; the answer, and the session's URL from `Location` (on `base` when
/// the server gives a path).
async fn post_sdp(
    http: &reqwest::Client,
    base: &str,
    url: &str,
    token: Option<&str>,
    offer: String,
) -> Result<(String, Option<String>), Error> {
    let mut req = http.post(url).header("content-type", "application/sdp").body(offer);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await?;
    let status = resp.status();
    let session = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .map(|l| if l.starts_with('/') { format!("{base}{l}") } else { l.to_owned() });
    let body = resp.text().await?;
    if status != reqwest::StatusCode::CREATED {
        return Err(format!("{url}: {status} {body}").into());
    }
    Ok((body, session))
}

/// An audience watching: its viewers and the WHEP sessions to hang up.
struct Audience {
    viewers: Vec<CountingViewerHandle>,
    sessions: Vec<String>,
}

impl Audience {
    /// Connects `n` viewers and waits (20 s at most) until every one receives.
    async fn join(http: &reqwest::Client, base: &str, whep: &str, ice: &IceSettings, n: usize) -> Result<Self, Error> {
        let mut viewers: Vec<CountingViewerHandle> = Vec::with_capacity(n);
        let mut sessions: Vec<String> = Vec::with_capacity(n);
        for _ in 0..n {
            let (viewer, offer) = CountingViewer::offer(ice).await?;
            let (answer, session) = post_sdp(http, base, whep, None, offer).await?;
            viewers.push(viewer.start(answer).await?);
            sessions.extend(session);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while viewers.iter().any(|v| v.packets() == 0) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Audience { viewers, sessions })
    }

    /// Each viewer hangs up as a WHEP client does, with a DELETE of its session, so the
    /// server stops forwarding to it now. A peer connection that is only closed is still
    /// forwarded to until the server's ICE gives up on it, seconds later, into the next
    /// audience's window, whose CPU and memory it would be counted in.
    async fn leave(self, http: &reqwest::Client) {
        for session in self.sessions {
            if let Err(e) = http.delete(&session).send().await.and_then(|r| r.error_for_status()) {
                eprintln!("video: hanging up {session}: {e}");
            }
        }
        for v in self.viewers {
            v.close().await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

pub async fn run(cfg: &VideoRun) -> Result<Vec<VideoResult>, Error> {
    let http = reqwest::Client::new();
    let login = LoginRequest { email: cfg.email.clone(), password: cfg.password.clone() };
    let session: SessionResponse = http
        .post(format!("{}{}", cfg.url, routes::LOGIN))
        .json(&login)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let rooms: Vec<RoomView> =
        http.get(format!("{}{}?status=live", cfg.url, routes::ROOMS)).send().await?.error_for_status()?.json().await?;
    let room = rooms.iter().find(|r| r.host.id == session.account.id).ok_or("the account hosts no live room")?.id;
    let ice = IceSettings::loopback();
    let (publisher, offer) = SyntheticPublisher::offer(&ice, cfg.codec).await?;
    let whip = format!("{}{}", cfg.url, path(routes::WHIP, &[room.get()]));
    let whep = format!("{}{}", cfg.url, path(routes::WHEP, &[room.get()]));
    let (answer, _) = post_sdp(&http, &cfg.url, &whip, Some(&session.token), offer).await?;
    publisher.start(answer, cfg.packets_per_second).await?;
    // Let the stream settle before anyone watches.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let unwatched_rss = match cfg.server_pid {
        Some(pid) => settled_rss(pid).await,
        None => None,
    };
    let after_first_rss = match cfg.server_pid {
        Some(pid) => {
            Audience::join(&http, &cfg.url, &whep, &ice, 1).await?.leave(&http).await;
            settled_rss(pid).await
        }
        None => None,
    };

    let mut results = Vec::new();
    for &n in &cfg.audiences {
        let audience = Audience::join(&http, &cfg.url, &whep, &ice, n).await?;
        let viewers = &audience.viewers;
        let sent_before = publisher.counters.packets.load(Ordering::Relaxed);
        let received_before: Vec<(u64, u64)> =
            viewers.iter().map(|v| (v.packets(), v.counters.bytes.load(Ordering::Relaxed))).collect();
        let cpu_before = cfg.server_pid.and_then(usage);
        tokio::time::sleep(Duration::from_secs(cfg.seconds)).await;
        let sent = publisher.counters.packets.load(Ordering::Relaxed) - sent_before;
        let cpu_after = cfg.server_pid.and_then(usage);
        let (received, bytes) = viewers.iter().zip(&received_before).fold((0, 0), |(p, b), (v, (p0, b0))| {
            (p + v.packets() - p0, b + v.counters.bytes.load(Ordering::Relaxed) - b0)
        });
        let expected = sent * n as u64;
        let cpu = cpu_before.zip(cpu_after).map(|(a, b)| b.cpu.saturating_sub(a.cpu));
        let per_viewer = |base: Option<u64>| {
            cpu_after.zip(base).filter(|_| n > 0).map(|(u, base)| u.rss_kib.saturating_sub(base) as f64 / n as f64)
        };
        results.push(VideoResult {
            viewers: n,
            packets_sent: sent,
            deliveries_expected: expected,
            packets_received: received,
            bytes_received: bytes,
            loss_percent: if expected == 0 {
                0.0
            } else {
                100.0 * expected.saturating_sub(received) as f64 / expected as f64
            },
            server_cpu_ms: cpu.map(|c| c.as_millis() as u64),
            server_cpu_us_per_packet: cpu.filter(|_| received > 0).map(|c| c.as_micros() as f64 / received as f64),
            server_rss_kib: cpu_after.map(|u| u.rss_kib),
            server_kib_per_viewer: per_viewer(unwatched_rss),
            server_kib_per_viewer_after_first: per_viewer(after_first_rss),
        });
        audience.leave(&http).await;
    }
    publisher.close().await;
    Ok(results)
}

pub fn print(results: &[VideoResult]) {
    println!(
        "{:>8} {:>10} {:>12} {:>12} {:>8} {:>12} {:>11} {:>12} {:>10} {:>12} {:>12}",
        "viewers",
        "sent",
        "expected",
        "received",
        "loss %",
        "server ms",
        "µs/packet",
        "vs first",
        "RSS KiB",
        "KiB/viewer",
        "after first"
    );
    let baseline = results.first().and_then(|r| r.server_cpu_us_per_packet);
    for r in results {
        let ratio = baseline.zip(r.server_cpu_us_per_packet).map(|(b, v)| v / b);
        println!(
            "{:>8} {:>10} {:>12} {:>12} {:>8.2} {:>12} {:>11} {:>12} {:>10} {:>12} {:>12}",
            r.viewers,
            r.packets_sent,
            r.deliveries_expected,
            r.packets_received,
            r.loss_percent,
            r.server_cpu_ms.map_or("-".into(), |v| v.to_string()),
            r.server_cpu_us_per_packet.map_or("-".into(), |v| format!("{v:.2}")),
            ratio.map_or("-".into(), |v| format!("{v:.2}x")),
            r.server_rss_kib.map_or("-".into(), |v| v.to_string()),
            r.server_kib_per_viewer.map_or("-".into(), |v| format!("{v:.1}")),
            r.server_kib_per_viewer_after_first.map_or("-".into(), |v| format!("{v:.1}")),
        );
    }
}
