use super::MediaError;
use super::feed::{Feed, Outlet};
use super::peer::{IceSettings, MediaFlow, Peer, PeerEvent, new_forwarding_peer, new_peer};
use crate::domain::RoomId;
use dashmap::DashMap;
use rtc::media_stream::MediaStreamTrack;
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodingParameters, RTCRtpEncodingParameters};
use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::peer_connection::{PeerConnection, RTCPeerConnectionState};
use webrtc::rtp_transceiver::RtpSender;

pub type SessionId = u64;

/// What the room hears about its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaNotice {
    StreamStarted(RoomId),
    StreamStopped(RoomId),
}

/// Keyframes are also asked for on this period, so a viewer whose request was lost
/// recovers anyway.
const PERIODIC_KEYFRAME: Duration = Duration::from_secs(4);

/// One room's publisher and the feeds of its tracks.
struct Broadcast {
    session: SessionId,
    /// Cancelled when the broadcast ends, which stops the task that owns the publisher.
    ended: CancellationToken,
    pc: Arc<dyn PeerConnection>,
    /// Guarded by a std mutex: sections push or clone the list.
    feeds: Mutex<Vec<Arc<Feed>>>,
    /// Tracks the publisher's offer announced. The stream is on air, and can be watched,
    /// only once all of them have arrived: a viewer let in after the audio but before the
    /// video would never get the video.
    announced: usize,
}

impl Broadcast {
    /// The feeds, once every announced track has one.
    fn complete_feeds(&self) -> Option<Vec<Arc<Feed>>> {
        let feeds = lock(&self.feeds);
        (!feeds.is_empty() && feeds.len() >= self.announced).then(|| feeds.clone())
    }
}

/// Media sections the offer sends on (audio or video, port not zero, not receive-only).
fn announced_tracks(offer: &str) -> usize {
    let mut count = 0;
    let mut current: Option<bool> = None;
    for line in offer.lines().map(str::trim) {
        if let Some(media) = line.strip_prefix("m=") {
            count += usize::from(current == Some(true));
            let mut parts = media.split_whitespace();
            let kind = parts.next().unwrap_or_default();
            let port = parts.next().unwrap_or("0");
            current = Some(matches!(kind, "audio" | "video") && port != "0");
        } else if matches!(line, "a=recvonly" | "a=inactive") {
            current = current.map(|_| false);
        }
    }
    count + usize::from(current == Some(true))
}

struct ViewerSession {
    room: RoomId,
    /// The client address (its counting key) the session was opened from, if known.
    client: Option<IpAddr>,
    /// Cancelled when the session ends, which stops the task that owns the viewer.
    ended: CancellationToken,
    pc: Arc<dyn PeerConnection>,
    feeds: Vec<Arc<Feed>>,
}

/// The payload type this viewer's leg negotiated for the feed's codec (same MIME type,
/// and the same format parameters when several variants of it were negotiated).
async fn negotiated_payload_type(sender: &Arc<dyn RtpSender>, feed: &Feed) -> Option<u8> {
    let parameters = sender.get_parameters().await.ok()?;
    let same_mime: Vec<_> = parameters
        .rtp_parameters
        .codecs
        .iter()
        .filter(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(&feed.codec.mime_type))
        .collect();
    same_mime
        .iter()
        .find(|c| c.rtp_codec.sdp_fmtp_line == feed.codec.sdp_fmtp_line)
        .or(same_mime.first())
        .map(|c| c.payload_type)
}

pub struct Sfu {
    ice: IceSettings,
    broadcasts: DashMap<RoomId, Arc<Broadcast>>,
    viewers: DashMap<SessionId, ViewerSession>,
    notices: broadcast::Sender<MediaNotice>,
    /// Closed peer connections, to prove they are released (see `released_all`).
    closed: Mutex<Vec<Weak<dyn PeerConnection>>>,
    /// The last sessions that ended here (their room and id, oldest first, at most
    /// `ENDED_SESSIONS`), so a `DELETE` of one that already ended (the show ended, the
    /// peer left) succeeds again instead of reporting it unknown. Guarded by a std mutex:
    /// sections push, pop or scan, never await.
    ended_sessions: Mutex<VecDeque<(RoomId, SessionId)>>,
}

/// How many ended sessions a node remembers for idempotent `DELETE`s.
const ENDED_SESSIONS: usize = 4096;

/// A viewing session whose connection is not up this long after its answer is ended.
const CONNECT_WITHIN: Duration = Duration::from_secs(15);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Sfu {
    pub fn new(ice: IceSettings) -> Arc<Sfu> {
        let notices = broadcast::channel(64).0;
        let sfu = Sfu {
            ice,
            broadcasts: DashMap::new(),
            viewers: DashMap::new(),
            notices,
            closed: Mutex::new(Vec::new()),
            ended_sessions: Mutex::new(VecDeque::new()),
        };
        Arc::new(sfu)
    }

    /// Stream starts and stops, for the application to announce in the room.
    pub fn notices(&self) -> broadcast::Receiver<MediaNotice> {
        self.notices.subscribe()
    }

    /// Session ids are random: a session's URL is what lets its owner end it.
    fn session_id(&self) -> SessionId {
        rand::random::<u64>() >> 11
    }

    pub fn is_streaming(&self, room: RoomId) -> bool {
        self.broadcasts.get(&room).is_some_and(|b| b.complete_feeds().is_some())
    }

    /// Media sessions open now: publishers and viewers.
    pub fn open_sessions(&self) -> usize {
        self.broadcasts.len() + self.viewers.len()
    }

    /// True once every closed peer connection has been dropped, sockets and all.
    pub fn released_all(&self) -> bool {
        let mut closed = lock(&self.closed);
        closed.retain(|w| w.strong_count() > 0);
        closed.is_empty()
    }

    async fn close_pc(&self, pc: Arc<dyn PeerConnection>) {
        if let Err(e) = pc.close().await {
            tracing::debug!(error = %e, "closing peer connection");
        }
        // Released ones go first: a `Weak` keeps its connection's allocation, so the list
        // holds only connections still being torn down, not every session ever closed.
        let mut closed = lock(&self.closed);
        closed.retain(|w| w.strong_count() > 0);
        closed.push(Arc::downgrade(&pc));
    }

    /// Starts the host's stream from a WHIP offer. A new publish replaces the room's
    /// current one (an encoder that reconnects must not be locked out by its own stale
    /// session); the replaced session's viewers are closed and reconnect when the
    /// stream resumes.
    pub async fn publish(self: &Arc<Self>, room: RoomId, offer: String) -> Result<(SessionId, String), MediaError> {
        let announced = announced_tracks(&offer);
        let mut peer = new_peer(&self.ice, MediaFlow::Receives).await?;
        let answer = match peer.answer(offer).await {
            Ok(answer) => answer,
            Err(e) => {
                self.close_pc(peer.pc).await;
                return Err(e);
            }
        };
        let session = self.session_id();
        let broadcast = Arc::new(Broadcast {
            session,
            ended: CancellationToken::new(),
            pc: Arc::clone(&peer.pc),
            feeds: Mutex::new(Vec::new()),
            announced,
        });
        if let Some(previous) = self.broadcasts.insert(room, Arc::clone(&broadcast)) {
            self.end_broadcast(room, previous).await;
        }
        tokio::spawn(Arc::clone(self).run_publisher(room, broadcast, peer));
        Ok((session, answer))
    }

    /// Owns a publisher: turns its tracks into feeds and ends the broadcast when the
    /// connection goes away.
    async fn run_publisher(self: Arc<Self>, room: RoomId, broadcast: Arc<Broadcast>, mut peer: Peer) {
        let mut keyframes = tokio::time::interval(PERIODIC_KEYFRAME);
        loop {
            let event = tokio::select! {
                _ = broadcast.ended.cancelled() => return,
                event = peer.events.recv() => event,
                _ = keyframes.tick() => {
                    let feeds = lock(&broadcast.feeds).clone();
                    for feed in feeds {
                        feed.request_keyframe().await;
                    }
                    continue;
                }
            };
            match event {
                Some(PeerEvent::Track(remote)) => {
                    let Some(feed) = Feed::new(remote).await else { continue };
                    let feed = Arc::new(feed);
                    let on_air = {
                        let mut feeds = lock(&broadcast.feeds);
                        feeds.push(Arc::clone(&feed));
                        feeds.len() == broadcast.announced.max(1)
                    };
                    // On the publisher's driver thread, each packet it hands the feed is a
                    // wake-up there rather than one sent to a worker of the main runtime.
                    match peer.driver_runtime() {
                        Some(driver) => driver.spawn(Arc::clone(&feed).pump()),
                        None => tokio::spawn(Arc::clone(&feed).pump()),
                    };
                    if on_air {
                        let _ = self.notices.send(MediaNotice::StreamStarted(room));
                    }
                }
                Some(PeerEvent::State(
                    RTCPeerConnectionState::Failed
                    | RTCPeerConnectionState::Closed
                    | RTCPeerConnectionState::Disconnected,
                ))
                | None => break,
                Some(PeerEvent::State(_)) => {}
            }
        }
        // Only if this publisher is still the room's: a replacement has taken over otherwise.
        if let Some((_, ended)) = self.broadcasts.remove_if(&room, |_, b| b.session == broadcast.session) {
            self.end_broadcast(room, ended).await;
        }
    }

    fn remember_ended(&self, room: RoomId, session: SessionId) {
        let mut ended = lock(&self.ended_sessions);
        if ended.len() == ENDED_SESSIONS {
            ended.pop_front();
        }
        ended.push_back((room, session));
    }

    /// Whether `session` of `room` ended on this node recently (see `ended_sessions`).
    pub fn ended_recently(&self, room: RoomId, session: SessionId) -> bool {
        lock(&self.ended_sessions).contains(&(room, session))
    }

    async fn end_broadcast(&self, room: RoomId, broadcast: Arc<Broadcast>) {
        self.remember_ended(room, broadcast.session);
        broadcast.ended.cancel();
        let had_feeds = broadcast.complete_feeds().is_some();
        self.close_pc(Arc::clone(&broadcast.pc)).await;
        let sessions: Vec<SessionId> = self.viewers.iter().filter(|v| v.room == room).map(|v| *v.key()).collect();
        for session in sessions {
            self.stop_viewer(session).await;
        }
        if had_feeds {
            let _ = self.notices.send(MediaNotice::StreamStopped(room));
        }
    }

    /// Starts a receive-only viewer of the room's stream from a WHEP offer, unless the
    /// client's address (its counting key) holds `cap` viewing sessions here already (0:
    /// no cap). Each holds a socket and a peer connection, and needs no account.
    pub async fn watch(
        self: &Arc<Self>,
        room: RoomId,
        offer: String,
        client: Option<IpAddr>,
        cap: usize,
    ) -> Result<(SessionId, String), MediaError> {
        let feeds = self.broadcasts.get(&room).and_then(|b| b.complete_feeds()).ok_or(MediaError::NotStreaming)?;
        // A scan, not a count kept aside: a session costs a peer connection's set-up,
        // against which looking over this node's viewers is nothing. Offers arriving
        // together may pass it together: the cap holds to within the client's
        // connections in flight.
        if let Some(client) = client.filter(|_| cap > 0) {
            if self.viewers.iter().filter(|v| v.client == Some(client)).count() >= cap {
                return Err(MediaError::TooManyViewers(cap));
            }
        }
        let codecs: Vec<_> = feeds.iter().map(|feed| (feed.kind, feed.codec.clone())).collect();
        let ssrcs: Vec<u32> = feeds.iter().map(|_| rand::random()).collect();
        let histories = ssrcs.iter().zip(&feeds).map(|(ssrc, feed)| (*ssrc, Arc::clone(&feed.history))).collect();
        let mut peer = new_forwarding_peer(&self.ice, &codecs, &histories).await?;
        let session = self.session_id();
        let mut tracks = Vec::with_capacity(feeds.len());
        for (feed, ssrc) in feeds.iter().zip(ssrcs) {
            let coding = RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
                codec: feed.codec.clone(),
                ..Default::default()
            };
            let id = format!("livecart-{room}-{session}");
            let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
                format!("room-{room}"),
                format!("{id}-{}", tracks.len()),
                id,
                feed.kind,
                vec![coding],
            )));
            let sender = match peer.pc.add_track(Arc::clone(&track) as Arc<dyn TrackLocal>).await {
                Ok(sender) => sender,
                Err(e) => {
                    self.close_pc(peer.pc).await;
                    return Err(MediaError::Peer(e));
                }
            };
            tracks.push((Arc::clone(feed), track, sender, ssrc));
        }
        let answer = match peer.answer(offer).await {
            Ok(answer) => answer,
            Err(e) => {
                self.close_pc(peer.pc).await;
                return Err(e);
            }
        };
        let mut outlets = Vec::with_capacity(tracks.len());
        for (feed, track, sender, ssrc) in tracks {
            // The viewer's leg may number the codec differently from the publisher's.
            let Some(payload_type) = negotiated_payload_type(&sender, &feed).await else {
                tracing::info!(%room, codec = %feed.codec.mime_type, "viewer did not accept the stream's codec");
                continue;
            };
            outlets.push((Arc::clone(&feed), Outlet { track: Arc::clone(&track), ssrc, payload_type }));
            let asking = Arc::clone(&feed);
            tokio::spawn(async move {
                while let Some(event) = track.poll().await {
                    if let TrackLocalEvent::OnRtcpPacket(packets) = event {
                        let wants_keyframe = packets
                            .iter()
                            .any(|p| p.as_any().is::<PictureLossIndication>() || p.as_any().is::<FullIntraRequest>());
                        if wants_keyframe {
                            asking.request_keyframe().await;
                        }
                    }
                }
            });
        }
        let ended = CancellationToken::new();
        let viewer = ViewerSession { room, client, ended: ended.clone(), pc: Arc::clone(&peer.pc), feeds };
        self.viewers.insert(session, viewer);
        tokio::spawn(Arc::clone(self).run_viewer(session, peer, ended, outlets));
        Ok((session, answer))
    }

    /// Owns a viewer: connects its outlets to the feeds once the connection is up, and
    /// ends the session when the connection goes away, or when it has not come up within
    /// [`CONNECT_WITHIN`] (an offer whose client never completes ICE would otherwise keep
    /// its socket until ICE gives up, half a minute later).
    async fn run_viewer(
        self: Arc<Self>,
        session: SessionId,
        mut peer: Peer,
        ended: CancellationToken,
        mut outlets: Vec<(Arc<Feed>, Outlet)>,
    ) {
        let connect_by = tokio::time::sleep(CONNECT_WITHIN);
        tokio::pin!(connect_by);
        let mut connected = false;
        loop {
            let event = tokio::select! {
                _ = ended.cancelled() => return,
                () = &mut connect_by, if !connected => {
                    metrics::counter!("livecart_media_sessions_unconnected_total").increment(1);
                    break;
                }
                event = peer.events.recv() => event,
            };
            let Some(event) = event else { break };
            // Packets sent before the leg's encryption is up are lost, yet each would cost
            // the driver a pass through the whole stack, so the viewer joins the feeds only
            // now; and it can only start decoding at a keyframe, so one is asked for.
            if let PeerEvent::State(RTCPeerConnectionState::Connected) = event {
                connected = true;
                for (feed, outlet) in std::mem::take(&mut outlets) {
                    feed.add_viewer(session, outlet);
                    // `stop_viewer` cancels before it leaves the feeds: a stop that ran
                    // since the check at the top of the loop is seen here.
                    if ended.is_cancelled() {
                        feed.remove_viewer(session);
                        return;
                    }
                    feed.request_keyframe().await;
                }
                continue;
            }
            if let PeerEvent::State(
                RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed | RTCPeerConnectionState::Disconnected,
            ) = event
            {
                break;
            }
        }
        self.stop_viewer(session).await;
    }

    async fn stop_viewer(&self, session: SessionId) -> bool {
        let Some((_, viewer)) = self.viewers.remove(&session) else { return false };
        self.remember_ended(viewer.room, session);
        viewer.ended.cancel();
        for feed in &viewer.feeds {
            feed.remove_viewer(session);
        }
        self.close_pc(viewer.pc).await;
        true
    }

    /// Ends a viewing session (WHEP `DELETE`) of `room`; a publishing session is not one,
    /// whoever names it.
    pub async fn stop_watching(&self, room: RoomId, session: SessionId) -> Result<(), MediaError> {
        if self.viewers.get(&session).is_some_and(|v| v.room == room) && self.stop_viewer(session).await {
            Ok(())
        } else {
            Err(MediaError::NoSession)
        }
    }

    /// Ends the publishing session (WHIP `DELETE`) of `room`.
    pub async fn stop_publishing(&self, room: RoomId, session: SessionId) -> Result<(), MediaError> {
        match self.broadcasts.remove_if(&room, |_, b| b.session == session) {
            Some((_, broadcast)) => {
                self.end_broadcast(room, broadcast).await;
                Ok(())
            }
            None => Err(MediaError::NoSession),
        }
    }

    /// Closes every media session of a room (it ended).
    pub async fn close_room(&self, room: RoomId) {
        if let Some((_, broadcast)) = self.broadcasts.remove(&room) {
            self.end_broadcast(room, broadcast).await;
        }
    }

    /// Packets forwarded to viewers and dropped for slow viewers, over all feeds.
    pub fn forwarding_totals(&self) -> Forwarding {
        let mut totals = Forwarding::default();
        for b in self.broadcasts.iter() {
            for feed in lock(&b.feeds).iter() {
                totals.forwarded += feed.forwarded.load(Ordering::Relaxed);
                totals.dropped += feed.dropped.load(Ordering::Relaxed);
                totals.resent += feed.history.resent.load(Ordering::Relaxed);
            }
        }
        totals
    }
}

/// Packets of the running broadcasts, over all their viewers.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Forwarding {
    pub forwarded: u64,
    /// Not forwarded: the viewer's queue was full.
    pub dropped: u64,
    /// Sent again, a viewer having reported them lost.
    pub resent: u64,
}

#[cfg(test)]
mod tests {
    use super::announced_tracks;

    #[test]
    fn counts_the_media_sections_an_offer_sends_on() {
        let offer =
            "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=sendonly\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=sendonly\r\n";
        assert_eq!(announced_tracks(offer), 2);
        let with_inactive = "m=audio 9 X 111\r\na=inactive\r\nm=video 9 X 96\r\nm=application 9 X webrtc-datachannel\r\nm=video 0 X 96\r\n";
        assert_eq!(announced_tracks(with_inactive), 1);
    }
}
