//! One published track, fanned out to its viewers.
//!
//! Each packet is handed straight to every viewer's peer connection, whose driver has a
//! bounded queue of its own. The feed never waits: when a viewer's queue is full the
//! packet is dropped for that viewer alone (its decoder recovers with the next
//! keyframe), and the publisher and every other viewer carry on. No task of ours sits
//! between the feed and a viewer's connection, so a packet wakes one task per viewer
//! (its connection's driver), not two.

use super::resend::History;
use futures_util::FutureExt;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RtpCodecKind};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

/// Where one viewer receives a feed: its track, and the SSRC and payload type its leg
/// negotiated (they differ from the publisher's).
pub struct Outlet {
    pub track: Arc<TrackLocalStaticRTP>,
    pub ssrc: u32,
    pub payload_type: u8,
}

/// Keyframe requests reach the publisher at most this often, however many viewers ask.
const KEYFRAME_INTERVAL: Duration = Duration::from_millis(500);

pub struct Feed {
    pub kind: RtpCodecKind,
    pub codec: RTCRtpCodec,
    source_ssrc: u32,
    remote: Arc<dyn TrackRemote>,
    /// Guarded by a std mutex: sections are a map update or a loop of writes polled once.
    viewers: Mutex<HashMap<u64, Outlet>>,
    /// What the viewers' legs re-send from when a viewer reports packets lost.
    pub history: Arc<History>,
    last_keyframe_request: Mutex<Option<Instant>>,
    pub forwarded: AtomicU64,
    pub dropped: AtomicU64,
}

impl Feed {
    pub async fn new(remote: Arc<dyn TrackRemote>) -> Option<Feed> {
        let source_ssrc = *remote.ssrcs().await.first()?;
        let codec = remote.codec(source_ssrc).await?;
        Some(Feed {
            kind: remote.kind().await,
            codec,
            source_ssrc,
            remote,
            viewers: Mutex::new(HashMap::new()),
            history: Arc::default(),
            last_keyframe_request: Mutex::new(None),
            forwarded: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        })
    }

    pub fn add_viewer(&self, id: u64, outlet: Outlet) {
        self.viewers.lock().unwrap_or_else(|p| p.into_inner()).insert(id, outlet);
    }

    pub fn remove_viewer(&self, id: u64) {
        self.viewers.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
    }

    /// Hands a copy of `packet` (the payload is shared, not copied) to every viewer.
    /// `write_rtp` is polled once and never awaited: it is ready at once unless the
    /// viewer's queue is full (or its track is being bound or unbound), and then dropping
    /// it drops the packet for that viewer only. No await happens under the lock.
    fn forward(&self, packet: &rtp::Packet) {
        let viewers = self.viewers.lock().unwrap_or_else(|p| p.into_inner());
        for outlet in viewers.values() {
            let mut copy = packet.clone();
            copy.header.ssrc = outlet.ssrc;
            copy.header.payload_type = outlet.payload_type;
            match outlet.track.write_rtp(copy).now_or_never() {
                Some(Ok(())) => self.forwarded.fetch_add(1, Ordering::Relaxed),
                Some(Err(_)) | None => self.dropped.fetch_add(1, Ordering::Relaxed),
            };
        }
    }

    /// Asks the publisher for a keyframe (a picture loss indication), throttled.
    pub async fn request_keyframe(&self) {
        if self.kind != RtpCodecKind::Video {
            return;
        }
        {
            let mut last = self.last_keyframe_request.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|t| t.elapsed() < KEYFRAME_INTERVAL) {
                return;
            }
            *last = Some(Instant::now());
        }
        let pli = PictureLossIndication { sender_ssrc: 0, media_ssrc: self.source_ssrc };
        if let Err(e) = self.remote.write_rtcp(vec![Box::new(pli)]).await {
            tracing::debug!(error = %e, "keyframe request not sent");
        }
    }

    /// Reads the publisher's packets and fans them out until the track ends.
    pub async fn pump(self: Arc<Self>) {
        while let Some(event) = self.remote.poll().await {
            match event {
                TrackRemoteEvent::OnRtpPacket(mut packet) => {
                    // Header extension ids belong to the publisher's leg; viewers' legs
                    // number them differently, so they are not forwarded.
                    packet.header.extension = false;
                    packet.header.extensions.clear();
                    self.history.keep(&packet);
                    self.forward(&packet);
                }
                TrackRemoteEvent::OnEnded => break,
                _ => {}
            }
        }
        self.viewers.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}
