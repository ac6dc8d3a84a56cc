//! Peer connections with livecart's media settings, and the non-trickle offer/answer
//! exchange of WHIP and WHEP: the answer (or offer) is sent only once every ICE candidate
//! is gathered, so one HTTP round trip carries everything.

use super::MediaError;
use super::keyframes;
use super::nack_budget;
use super::resend::{self, Histories};
use super::small_reads::SmallReads;
use crate::wire::api::IceServer;
use rtc::ice::mdns::MulticastDnsMode;
use rtc::interceptor::{NackResponderBuilder, Registry, SenderReportBuilder, Slot};
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_nack, configure_simulcast_extension_headers, configure_twcc_receiver_only, register_default_interceptors,
};
use rtc::peer_connection::configuration::media_engine::MediaEngine;
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::configuration::{RTCConfigurationBuilder, RTCIceTransportPolicy};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::transport::RTCIceServer;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RTCRtpCodecParameters, RtpCodecKind};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::{Mutex, mpsc, oneshot};
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceGatheringState, RTCPeerConnectionState,
};

/// Where peer connections listen, what they announce, and which servers help them
/// through NAT.
#[derive(Debug, Clone)]
pub struct IceSettings {
    /// The address host candidates announce: where the other side sends media.
    pub host_ip: IpAddr,
    /// The address UDP sockets are bound to when it is not `host_ip` (behind a 1:1 NAT:
    /// a container with published ports, a cloud VM); host candidates are then
    /// rewritten to `host_ip` before the description leaves. `None`: `host_ip`.
    pub bind_ip: Option<IpAddr>,
    /// Inclusive UDP port range for media sockets; `None` lets the OS pick.
    pub udp_ports: Option<(u16, u16)>,
    /// STUN and TURN servers to gather candidates from. The node's own peer connections
    /// use none (its host candidates are its media address); clients use what
    /// `GET /api/ice` gives them.
    pub servers: Vec<IceServer>,
    /// Gather and use relay candidates only, as a client that can reach nothing but its
    /// TURN server does (a browser's `iceTransportPolicy: "relay"`).
    pub relay_only: bool,
}

impl IceSettings {
    pub fn loopback() -> Self {
        IceSettings {
            host_ip: IpAddr::from([127, 0, 0, 1]),
            bind_ip: None,
            udp_ports: None,
            servers: Vec::new(),
            relay_only: false,
        }
    }

    /// Host candidates to rewrite: from the bound address to the announced one.
    fn nat_mapping(&self) -> Option<(IpAddr, IpAddr)> {
        self.bind_ip.filter(|bind| *bind != self.host_ip).map(|bind| (bind, self.host_ip))
    }
}

/// What a peer connection does with media, which decides the interceptors it runs.
#[derive(Clone, Copy)]
pub enum MediaFlow<'a> {
    /// Receives media (the SFU's publisher leg, a test viewer) and may send it: the
    /// default chain, with loss detection, receiver reports and congestion feedback.
    Receives,
    /// Only sends media of its own (a test publisher): the sending chain
    /// ([`sending_interceptors`]) with the crate's NACK responder, which keeps what the
    /// leg sent, and [`SmallReads`].
    SendsOnly,
    /// Only sends the feeds of a broadcast (the SFU's leg to a WHEP viewer): the sending
    /// chain, re-sending from the feeds' histories by the SSRC the leg sends each with
    /// ([`resend`]), and [`SmallReads`].
    Forwards(&'a Histories),
}

impl MediaFlow<'_> {
    fn only_sends(&self) -> bool {
        !matches!(self, MediaFlow::Receives)
    }
}

/// Packets of each track the crate's NACK responder keeps for a leg that sends its own
/// media: the same half second of a 2.5 Mbit/s stream a feed's history keeps
/// ([`resend`]).
const NACK_HISTORY: u16 = 128;

/// The chain of a leg that only sends: a NACK responder (`responder`, with a cap on what
/// one NACK re-sends: [`nack_budget`]) and sender reports, and nothing that acts on
/// received media (the NACK generator, receiver reports, the TWCC receiver), which on
/// such a leg would only wake up on its timers for streams that never come. The media
/// engine gets the same feedback and header extensions as with the default chain (the
/// registries those calls return are dropped), so the SDP a viewer gets is unchanged.
fn sending_interceptors<R>(media: &mut MediaEngine, responder: R) -> Result<Registry, MediaError>
where
    R: rtc::interceptor::Interceptor + Send + 'static,
{
    drop(configure_nack(Registry::new(), media));
    configure_simulcast_extension_headers(media)?;
    drop(configure_twcc_receiver_only(Registry::new(), media)?);
    Ok(Registry::new()
        .with(Slot::from(nack_budget::SLOT), nack_budget::budget())
        .with(Slot::NackResponder, responder)
        .with(Slot::SenderReport, SenderReportBuilder::new().build()))
}

/// What a peer connection reports to the task that owns it.
pub enum PeerEvent {
    Track(Arc<dyn TrackRemote>),
    State(RTCPeerConnectionState),
}

struct Handler {
    events: mpsc::Sender<PeerEvent>,
    gathered: Mutex<Option<oneshot::Sender<()>>>,
    /// The runtime the connection's driver runs on, seen from the first track callback
    /// (callbacks are awaited on the driver's task). See [`Peer::driver_runtime`].
    driver_runtime: Arc<OnceLock<tokio::runtime::Handle>>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            if let Some(done) = self.gathered.lock().await.take() {
                let _ = done.send(());
            }
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.events.send(PeerEvent::State(state)).await;
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let _ = self.driver_runtime.set(runtime);
        }
        let _ = self.events.send(PeerEvent::Track(track)).await;
    }
}

/// A peer connection, its events, and the signal that ICE gathering finished.
pub struct Peer {
    pub pc: Arc<dyn PeerConnection>,
    pub events: mpsc::Receiver<PeerEvent>,
    gathered: oneshot::Receiver<()>,
    /// Host candidates to announce on another address (see [`IceSettings::bind_ip`]).
    nat: Option<(IpAddr, IpAddr)>,
    driver_runtime: Arc<OnceLock<tokio::runtime::Handle>>,
}

/// How long gathering may take before an answer goes out without it.
const GATHER_TIMEOUT: Duration = Duration::from_secs(5);

/// Next port to try in the configured range, shared by all peer connections.
static NEXT_PORT: AtomicU32 = AtomicU32::new(0);

/// A port from the configured range (taken in turn, so busy ports are skipped on the next
/// try), or 0 to let the OS pick.
fn next_port(ice: &IceSettings) -> u16 {
    match ice.udp_ports {
        Some((lo, hi)) => lo + (NEXT_PORT.fetch_add(1, Ordering::Relaxed) % (u32::from(hi - lo) + 1)) as u16,
        None => 0,
    }
}

/// The codecs a peer connection's media engine knows, and so can negotiate.
#[derive(Debug, Clone, Copy)]
enum Codecs<'a> {
    /// Every codec the `webrtc` crate registers by default.
    Default,
    /// These only: the codecs of the media a leg will forward.
    Only(&'a [(RtpCodecKind, RTCRtpCodec)]),
}

impl Codecs<'_> {
    fn register(self, media: &mut MediaEngine) -> Result<(), MediaError> {
        match self {
            Codecs::Default => media.register_default_codecs()?,
            // The payload type is the offerer's to choose: an answer uses the numbers of the
            // offer, so these are placeholders from the dynamic range, one per codec.
            Codecs::Only(codecs) => {
                for ((kind, codec), payload_type) in codecs.iter().zip(96u8..) {
                    media.register_codec(RTCRtpCodecParameters { rtp_codec: codec.clone(), payload_type }, *kind)?;
                }
            }
        }
        Ok(())
    }
}

/// A peer connection on a free port of the range: tries up to 64 ports before giving up
/// with the last failure.
pub async fn new_peer(ice: &IceSettings, flow: MediaFlow<'_>) -> Result<Peer, MediaError> {
    new_peer_with(ice, flow, Codecs::Default).await
}

/// A leg that sends a viewer the publisher's media: it knows only `codecs`, the codecs
/// of the feeds it will forward. Every codec a media engine knows is carried in each of
/// the connection's SDP descriptions (several copies are kept) and copied into the send
/// parameters rebuilt for every packet sent, so the default set of 20-odd codecs cost a
/// viewer both memory and CPU per packet for codecs it can never receive.
pub async fn new_forwarding_peer(
    ice: &IceSettings,
    codecs: &[(RtpCodecKind, RTCRtpCodec)],
    histories: &Histories,
) -> Result<Peer, MediaError> {
    new_peer_with(ice, MediaFlow::Forwards(histories), Codecs::Only(codecs)).await
}

async fn new_peer_with(ice: &IceSettings, flow: MediaFlow<'_>, codecs: Codecs<'_>) -> Result<Peer, MediaError> {
    let attempts = ice.udp_ports.map_or(1, |(lo, hi)| u32::from(hi.saturating_sub(lo)) + 1).min(64);
    let mut built = build(ice, flow, codecs, next_port(ice)).await;
    for _ in 1..attempts {
        if built.is_ok() {
            break;
        }
        built = build(ice, flow, codecs, next_port(ice)).await;
    }
    built
}

/// Reactor threads that run the peer connections' drivers: one per core. A driver on
/// the shared multi-threaded runtime is woken per packet from another worker; on a pool
/// thread all the drivers a forwarded packet wakes run in one pass, so a packet for N
/// viewers costs one thread wake-up per pool thread instead of up to N.
fn reactor_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

async fn build(ice: &IceSettings, flow: MediaFlow<'_>, codecs: Codecs<'_>, port: u16) -> Result<Peer, MediaError> {
    let mut media = MediaEngine::default();
    codecs.register(&mut media)?;
    // Registered after the codecs: the interceptors add feedback to existing codecs.
    let registry = match flow {
        MediaFlow::Receives => register_default_interceptors(Registry::new(), &mut media)?,
        MediaFlow::SendsOnly => {
            sending_interceptors(&mut media, NackResponderBuilder::new().with_size(NACK_HISTORY).build())?
        }
        MediaFlow::Forwards(histories) => sending_interceptors(&mut media, resend::resender(histories.clone()))?,
    }
    .with(Slot::from(keyframes::SLOT), keyframes::requests());
    // No mDNS: host candidates are plain addresses, and no peer connection opens a
    // multicast socket of its own.
    let settings = SettingEngineBuilder::new().with_multicast_dns_mode(MulticastDnsMode::Disabled).build();
    let servers = ice
        .servers
        .iter()
        .map(|server| RTCIceServer {
            urls: server.urls.clone(),
            username: server.username.clone().unwrap_or_default(),
            credential: server.credential.clone().unwrap_or_default(),
        })
        .collect();
    let policy = if ice.relay_only { RTCIceTransportPolicy::Relay } else { RTCIceTransportPolicy::All };
    let (events_tx, events) = mpsc::channel(16);
    let (gathered_tx, gathered) = oneshot::channel();
    let driver_runtime = Arc::new(OnceLock::new());
    let handler = Arc::new(Handler {
        events: events_tx,
        gathered: Mutex::new(Some(gathered_tx)),
        driver_runtime: Arc::clone(&driver_runtime),
    });
    let runtime = webrtc::runtime::default_runtime().ok_or(MediaError::NoRuntime)?;
    let runtime: Arc<dyn webrtc::runtime::Runtime> =
        if flow.only_sends() { Arc::new(SmallReads { inner: runtime }) } else { runtime };
    let pc = PeerConnectionBuilder::new()
        .with_configuration(
            RTCConfigurationBuilder::new().with_ice_servers(servers).with_ice_transport_policy(policy).build(),
        )
        .with_media_engine(media)
        .with_interceptor_registry(registry)
        .with_setting_engine(settings)
        .with_handler(handler as Arc<dyn PeerConnectionEventHandler>)
        .with_runtime(runtime)
        .with_dedicated_reactor_pool_size(reactor_threads())
        .with_udp_addrs(vec![std::net::SocketAddr::new(ice.bind_ip.unwrap_or(ice.host_ip), port)])
        .build()
        .await?;
    Ok(Peer { pc: Arc::new(pc), events, gathered, nat: ice.nat_mapping(), driver_runtime })
}

/// `sdp` with every host candidate on `from` (or on any address, when `from` is
/// unspecified: a socket bound to `0.0.0.0` announces each interface) announcing `to`
/// instead, and duplicates that leaves dropped. The `webrtc` crate has a setting for this
/// (`with_nat_1to1_ips`) that its gatherer does not read, hence the rewrite.
fn announce_host_as(sdp: &str, from: IpAddr, to: IpAddr) -> String {
    let mut seen = std::collections::HashSet::new();
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.split_inclusive('\n') {
        let body = line.trim_end_matches(['\r', '\n']);
        let Some(candidate) = body.strip_prefix("a=candidate:") else {
            out.push_str(line);
            continue;
        };
        // foundation component transport priority address port typ type ...
        let mut fields: Vec<&str> = candidate.split(' ').collect();
        let host = fields.get(6..8) == Some(&["typ", "host"][..]);
        let matches = fields
            .get(4)
            .and_then(|a| a.parse::<IpAddr>().ok())
            .is_some_and(|address| address == from || (from.is_unspecified() && address.is_ipv4() == from.is_ipv4()));
        if !(host && matches) {
            out.push_str(line);
            continue;
        }
        let announced = to.to_string();
        fields[4] = &announced;
        // Same component, transport, address and port: the same candidate.
        if !seen.insert((fields[1].to_owned(), fields[2].to_ascii_lowercase(), fields[5].to_owned())) {
            continue;
        }
        out.push_str("a=candidate:");
        out.push_str(&fields.join(" "));
        out.push_str(&line[body.len()..]);
    }
    out
}

impl Peer {
    /// The runtime the connection's driver runs on (a reactor pool thread), known once a
    /// track has arrived. A task that reads the connection's tracks runs best there:
    /// each packet the driver hands it is then a wake-up on the same thread, not one
    /// sent to another.
    pub fn driver_runtime(&self) -> Option<tokio::runtime::Handle> {
        self.driver_runtime.get().cloned()
    }

    async fn local_sdp(&mut self) -> Result<String, MediaError> {
        let _ = tokio::time::timeout(GATHER_TIMEOUT, &mut self.gathered).await;
        let sdp = self.pc.local_description().await.map(|d| d.sdp).ok_or(MediaError::NoLocalDescription)?;
        Ok(match self.nat {
            Some((from, to)) => announce_host_as(&sdp, from, to),
            None => sdp,
        })
    }

    /// Answers a remote offer with every candidate included.
    pub async fn answer(&mut self, offer: String) -> Result<String, MediaError> {
        let offer = RTCSessionDescription::offer(offer).map_err(MediaError::BadSdp)?;
        self.pc.set_remote_description(offer).await.map_err(MediaError::BadSdp)?;
        let answer = self.pc.create_answer(None).await?;
        self.pc.set_local_description(answer).await?;
        self.local_sdp().await
    }

    /// Creates an offer with every candidate included (for clients: tests, the load tester).
    pub async fn offer(&mut self) -> Result<String, MediaError> {
        let offer = self.pc.create_offer(None).await?;
        self.pc.set_local_description(offer).await?;
        self.local_sdp().await
    }

    pub async fn accept_answer(&self, answer: String) -> Result<(), MediaError> {
        let answer = RTCSessionDescription::answer(answer).map_err(MediaError::BadSdp)?;
        self.pc.set_remote_description(answer).await.map_err(MediaError::BadSdp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\n\
        a=candidate:1 1 udp 2130706431 172.18.0.5 40001 typ host\r\n\
        a=candidate:2 1 udp 2130706431 172.19.0.7 40001 typ host\r\n\
        a=candidate:3 1 udp 1694498815 198.51.100.9 50000 typ srflx raddr 172.18.0.5 rport 40001\r\n\
        a=candidate:4 1 udp 2130706431 fd00::5 40001 typ host\r\na=end-of-candidates\r\n";

    #[test]
    fn host_candidates_announce_the_public_address_and_nothing_else_changes() {
        let public: IpAddr = "203.0.113.7".parse().unwrap();
        let one = announce_host_as(ANSWER, "172.18.0.5".parse().unwrap(), public);
        assert!(one.contains("a=candidate:1 1 udp 2130706431 203.0.113.7 40001 typ host\r\n"), "{one}");
        assert!(one.contains("172.19.0.7 40001 typ host"), "another interface is left alone");
        assert!(one.contains("198.51.100.9 50000 typ srflx raddr 172.18.0.5 rport 40001"), "only host candidates");
        assert!(one.starts_with("v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\n") && one.ends_with("a=end-of-candidates\r\n"));

        // Bound to 0.0.0.0: every IPv4 interface announces the public address, once.
        let any = announce_host_as(ANSWER, "0.0.0.0".parse().unwrap(), public);
        assert_eq!(any.matches("203.0.113.7 40001 typ host").count(), 1, "{any}");
        assert!(!any.contains("172.19.0.7"), "{any}");
        assert!(any.contains("fd00::5 40001 typ host"), "IPv6 is another family");
    }
}
