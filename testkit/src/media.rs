//! Media clients that speak to livecart's SFU the way a browser or OBS does: a
//! synthetic publisher that sends generated RTP, and a receive-only viewer that counts
//! what arrives. The integration tests and the load tester use them; the HTTP exchange
//! (POST the offer to WHIP or WHEP, read the answer) is the caller's.

use livecart::media::MediaError;
use livecart::media::peer::{IceSettings, MediaFlow, Peer, PeerEvent, new_peer};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::transport::RTCIceCandidate;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::{TransportLayerNack, nack_pairs_from_sequence_numbers};
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::rtp_transceiver::RtpSender;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    Vp8,
    /// Constrained baseline, packetization mode 1: what OBS sends.
    H264,
}

impl VideoCodec {
    fn codec(self) -> RTCRtpCodec {
        let (mime, fmtp) = match self {
            VideoCodec::Vp8 => ("video/VP8", ""),
            VideoCodec::H264 => {
                ("video/H264", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f")
            }
        };
        RTCRtpCodec { mime_type: mime.into(), clock_rate: 90_000, sdp_fmtp_line: fmtp.into(), ..Default::default() }
    }
}

/// Why a media client could not start.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error("peer connection")]
    Peer(#[from] webrtc::error::Error),
    #[error("the answer negotiated no codec for the track")]
    NoCodec,
}

/// Counters a client keeps while it runs.
#[derive(Debug, Default)]
pub struct MediaCounters {
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
    pub keyframe_requests: AtomicU64,
}

/// Sends generated video RTP at a fixed rate once connected.
pub struct SyntheticPublisher {
    peer: Peer,
    track: Arc<TrackLocalStaticRTP>,
    sender: Arc<dyn RtpSender>,
    ssrc: u32,
    pub counters: Arc<MediaCounters>,
    stop: CancellationToken,
}

impl SyntheticPublisher {
    /// A publisher and the offer to POST to WHIP.
    pub async fn offer(ice: &IceSettings, codec: VideoCodec) -> Result<(SyntheticPublisher, String), ClientError> {
        let mut peer = new_peer(ice, MediaFlow::SendsOnly).await?;
        let ssrc = rand::random::<u32>();
        let coding = RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
            codec: codec.codec(),
            ..Default::default()
        };
        let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
            "synthetic".into(),
            "synthetic-video".into(),
            "synthetic".into(),
            RtpCodecKind::Video,
            vec![coding],
        )));
        let sender = peer.pc.add_track(Arc::clone(&track) as Arc<dyn TrackLocal>).await?;
        let offer = peer.offer().await?;
        let publisher =
            SyntheticPublisher { peer, track, sender, ssrc, counters: Arc::default(), stop: CancellationToken::new() };
        Ok((publisher, offer))
    }

    /// Applies WHIP's answer and starts sending `packets_per_second`, every 30th packet
    /// standing for a keyframe boundary (marker bit set).
    pub async fn start(&self, answer: String, packets_per_second: u32) -> Result<(), ClientError> {
        self.peer.accept_answer(answer).await?;
        let parameters = self.sender.get_parameters().await?;
        let payload_type =
            parameters.rtp_parameters.codecs.first().map(|c| c.payload_type).ok_or(ClientError::NoCodec)?;
        let (track, ssrc, counters, stop) =
            (Arc::clone(&self.track), self.ssrc, Arc::clone(&self.counters), self.stop.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1) / packets_per_second.max(1));
            let mut seq: u16 = rand::random();
            let mut timestamp: u32 = rand::random();
            let payload = bytes::Bytes::from(vec![0x90u8; 1_000]);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tick.tick() => {}
                }
                seq = seq.wrapping_add(1);
                timestamp = timestamp.wrapping_add(3_000);
                let header = rtp::header::Header {
                    version: 2,
                    marker: seq % 30 == 0,
                    payload_type,
                    sequence_number: seq,
                    timestamp,
                    ssrc,
                    ..Default::default()
                };
                if track.write_rtp(rtp::Packet { header, payload: payload.clone() }).await.is_ok() {
                    counters.packets.fetch_add(1, Ordering::Relaxed);
                    counters.bytes.fetch_add(payload.len() as u64, Ordering::Relaxed);
                }
            }
        });
        let (track, counters, stop) = (Arc::clone(&self.track), Arc::clone(&self.counters), self.stop.clone());
        tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    _ = stop.cancelled() => return,
                    event = track.poll() => event,
                };
                match event {
                    Some(TrackLocalEvent::OnRtcpPacket(packets)) => {
                        let plis = packets.iter().filter(|p| p.as_any().is::<PictureLossIndication>()).count();
                        counters.keyframe_requests.fetch_add(plis as u64, Ordering::Relaxed);
                    }
                    Some(_) => {}
                    None => return,
                }
            }
        });
        Ok(())
    }

    pub async fn close(self) {
        self.stop.cancel();
        let _ = self.peer.pc.close().await;
    }
}

/// A receive-only viewer that counts the packets and bytes it gets.
pub struct CountingViewer {
    peer: Peer,
    pub counters: Arc<MediaCounters>,
    stop: CancellationToken,
}

impl CountingViewer {
    /// A viewer and the offer to POST to WHEP.
    pub async fn offer(ice: &IceSettings) -> Result<(CountingViewer, String), ClientError> {
        let mut peer = new_peer(ice, MediaFlow::Receives).await?;
        for kind in [RtpCodecKind::Video, RtpCodecKind::Audio] {
            let init = RTCRtpTransceiverInit { direction: RTCRtpTransceiverDirection::Recvonly, ..Default::default() };
            peer.pc.add_transceiver_from_kind(kind, Some(init)).await?;
        }
        let offer = peer.offer().await?;
        Ok((CountingViewer { peer, counters: Arc::default(), stop: CancellationToken::new() }, offer))
    }

    /// Applies WHEP's answer and counts every packet of every track that arrives.
    pub async fn start(mut self, answer: String) -> Result<CountingViewerHandle, ClientError> {
        self.peer.accept_answer(answer).await?;
        let (counters, stop) = (Arc::clone(&self.counters), self.stop.clone());
        let video = Arc::new(VideoSeen::default());
        let handle_video = Arc::clone(&video);
        let mut events = std::mem::replace(&mut self.peer.events, tokio::sync::mpsc::channel(1).1);
        tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    _ = stop.cancelled() => return,
                    event = events.recv() => event,
                };
                let Some(event) = event else { return };
                if let PeerEvent::Track(remote) = event {
                    let (counters, stop, video) = (Arc::clone(&counters), stop.clone(), Arc::clone(&video));
                    tokio::spawn(async move {
                        let is_video = remote.kind().await == RtpCodecKind::Video;
                        if is_video {
                            let _ = video.track.set(Arc::clone(&remote));
                        }
                        loop {
                            let event = tokio::select! {
                                _ = stop.cancelled() => return,
                                event = remote.poll() => event,
                            };
                            match event {
                                Some(TrackRemoteEvent::OnRtpPacket(p)) => {
                                    counters.packets.fetch_add(1, Ordering::Relaxed);
                                    counters.bytes.fetch_add(p.payload.len() as u64, Ordering::Relaxed);
                                    if is_video {
                                        let seen = (p.header.sequence_number, p.header.ssrc);
                                        *video.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(seen);
                                    }
                                }
                                Some(TrackRemoteEvent::OnEnded) | None => return,
                                Some(_) => {}
                            }
                        }
                    });
                }
            }
        });
        Ok(CountingViewerHandle {
            pc: Arc::clone(&self.peer.pc),
            counters: self.counters,
            video: handle_video,
            stop: self.stop,
        })
    }
}

/// The video track a viewer receives, and the last packet of it that arrived: (sequence
/// number, SSRC).
#[derive(Default)]
struct VideoSeen {
    track: std::sync::OnceLock<Arc<dyn TrackRemote>>,
    last: std::sync::Mutex<Option<(u16, u32)>>,
}

/// A running viewer: its counters, and the means to hang up.
pub struct CountingViewerHandle {
    pc: Arc<dyn webrtc::peer_connection::PeerConnection>,
    pub counters: Arc<MediaCounters>,
    video: Arc<VideoSeen>,
    stop: CancellationToken,
}

impl CountingViewerHandle {
    pub fn packets(&self) -> u64 {
        self.counters.packets.load(Ordering::Relaxed)
    }

    /// Reports the last `count` video packets that arrived as lost (a NACK, as a viewer's
    /// stack sends one), so the server sends them again. False before any video arrived.
    pub async fn report_lost(&self, count: u16) -> Result<bool, ClientError> {
        let last = *self.video.last.lock().unwrap_or_else(|e| e.into_inner());
        let (Some(track), Some((seq, ssrc))) = (self.video.track.get(), last) else { return Ok(false) };
        let seqs: Vec<u16> = (0..count).rev().map(|back| seq.wrapping_sub(back)).collect();
        let nack =
            TransportLayerNack { sender_ssrc: 0, media_ssrc: ssrc, nacks: nack_pairs_from_sequence_numbers(&seqs) };
        track.write_rtcp(vec![Box::new(nack)]).await?;
        Ok(true)
    }

    /// The candidate pair ICE selected, as (local, remote) candidates, once it has; e.g.
    /// a viewer that may use only its TURN relay has a `Relay` local candidate.
    pub async fn selected_pair(&self) -> Option<(RTCIceCandidate, RTCIceCandidate)> {
        for receiver in self.pc.get_receivers().await {
            let Ok(Some(dtls)) = receiver.transport().await else { continue };
            if let Ok(Some(pair)) = dtls.ice_transport().get_selected_candidate_pair().await {
                return Some((pair.local().clone(), pair.remote().clone()));
            }
        }
        None
    }

    pub async fn close(self) {
        self.stop.cancel();
        let _ = self.pc.close().await;
    }
}
