//! Peer connections with livecart's media settings, and the non-trickle offer/answer
//! exchange of WHIP and WHEP: the answer (or offer) is sent only once every ICE candidate
//! is gathered, so one HTTP round trip carries everything.

use super::MediaError;
use super::keyframes::{self, KeyframeRequests};
use rtc::ice::mdns::MulticastDnsMode;
use rtc::interceptor::Registry;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::MediaEngine;
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::transport::RTCIceServer;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::sync::{Mutex, mpsc, oneshot};
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceGatheringState, RTCPeerConnectionState,
};

/// Where peer connections listen and which servers help them through NAT.
#[derive(Debug, Clone)]
pub struct IceSettings {
    /// The address host candidates are gathered on (and UDP sockets bound to).
    pub host_ip: IpAddr,
    /// Inclusive UDP port range for media sockets; `None` lets the OS pick.
    pub udp_ports: Option<(u16, u16)>,
    /// `stun:` and `turn:` URLs, for deployments behind NAT. None are needed on loopback.
    pub servers: Vec<String>,
    pub turn_username: Option<String>,
    pub turn_credential: Option<String>,
}

impl IceSettings {
    pub fn loopback() -> Self {
        IceSettings {
            host_ip: IpAddr::from([127, 0, 0, 1]),
            udp_ports: None,
            servers: Vec::new(),
            turn_username: None,
            turn_credential: None,
        }
    }
}

/// What a peer connection reports to the task that owns it.
pub enum PeerEvent {
    Track(Arc<dyn TrackRemote>),
    State(RTCPeerConnectionState),
}

struct Handler {
    events: mpsc::Sender<PeerEvent>,
    gathered: Mutex<Option<oneshot::Sender<()>>>,
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
        let _ = self.events.send(PeerEvent::Track(track)).await;
    }
}

/// A peer connection, its events, and the signal that ICE gathering finished.
pub struct Peer {
    pub pc: Arc<dyn PeerConnection>,
    pub events: mpsc::Receiver<PeerEvent>,
    gathered: oneshot::Receiver<()>,
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

/// A peer connection on a free port of the range: tries up to 64 ports before giving up
/// with the last failure.
pub async fn new_peer(ice: &IceSettings) -> Result<Peer, MediaError> {
    let attempts = ice.udp_ports.map_or(1, |(lo, hi)| u32::from(hi.saturating_sub(lo)) + 1).min(64);
    let mut built = build(ice, next_port(ice)).await;
    for _ in 1..attempts {
        if built.is_ok() {
            break;
        }
        built = build(ice, next_port(ice)).await;
    }
    built
}

async fn build(ice: &IceSettings, port: u16) -> Result<Peer, MediaError> {
    let mut media = MediaEngine::default();
    media.register_default_codecs()?;
    // Registered after the codecs: the default interceptors add feedback to existing codecs.
    let registry = register_default_interceptors(Registry::new(), &mut media)?
        .with(rtc::interceptor::Slot::from(keyframes::SLOT), KeyframeRequests::default());
    // No mDNS: host candidates are plain addresses, and no peer connection opens a
    // multicast socket of its own.
    let settings = SettingEngineBuilder::new().with_multicast_dns_mode(MulticastDnsMode::Disabled).build();
    let servers = ice
        .servers
        .iter()
        .map(|url| RTCIceServer {
            urls: vec![url.clone()],
            username: ice.turn_username.clone().unwrap_or_default(),
            credential: ice.turn_credential.clone().unwrap_or_default(),
        })
        .collect();
    let (events_tx, events) = mpsc::channel(16);
    let (gathered_tx, gathered) = oneshot::channel();
    let handler = Arc::new(Handler { events: events_tx, gathered: Mutex::new(Some(gathered_tx)) });
    let runtime = webrtc::runtime::default_runtime().ok_or(MediaError::NoRuntime)?;
    let pc = PeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().with_ice_servers(servers).build())
        .with_media_engine(media)
        .with_interceptor_registry(registry)
        .with_setting_engine(settings)
        .with_handler(handler as Arc<dyn PeerConnectionEventHandler>)
        .with_runtime(runtime)
        .with_udp_addrs(vec![std::net::SocketAddr::new(ice.host_ip, port)])
        .build()
        .await?;
    Ok(Peer { pc: Arc::new(pc), events, gathered })
}

impl Peer {
    async fn local_sdp(&mut self) -> Result<String, MediaError> {
        let _ = tokio::time::timeout(GATHER_TIMEOUT, &mut self.gathered).await;
        self.pc.local_description().await.map(|d| d.sdp).ok_or(MediaError::NoLocalDescription)
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
