//! One published track, fanned out to its viewers.
//!
//! Each viewer has a bounded queue drained by its own writer task. The feed only ever
//! `try_send`s: when a viewer's queue is full the packet is dropped for that viewer alone
//! (its decoder recovers with the next keyframe), and the publisher and every other
//! viewer carry on.

use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RtpCodecKind};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

/// Packets a viewer may have waiting before it starts losing them.
pub const VIEWER_QUEUE: usize = 512;
/// Keyframe requests reach the publisher at most this often, however many viewers ask.
const KEYFRAME_INTERVAL: Duration = Duration::from_millis(500);

pub struct Feed {
    pub kind: RtpCodecKind,
    pub codec: RTCRtpCodec,
    source_ssrc: u32,
    remote: Arc<dyn TrackRemote>,
    /// Guarded by a std mutex: sections are a map update or a loop of `try_send`s.
    viewers: Mutex<HashMap<u64, mpsc::Sender<rtp::Packet>>>,
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
            last_keyframe_request: Mutex::new(None),
            forwarded: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        })
    }

    pub fn add_viewer(&self, id: u64, queue: mpsc::Sender<rtp::Packet>) {
        self.viewers.lock().unwrap_or_else(|p| p.into_inner()).insert(id, queue);
    }

    pub fn remove_viewer(&self, id: u64) {
        self.viewers.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
    }

    fn forward(&self, packet: &rtp::Packet) {
        let viewers = self.viewers.lock().unwrap_or_else(|p| p.into_inner());
        for queue in viewers.values() {
            match queue.try_send(packet.clone()) {
                Ok(()) => self.forwarded.fetch_add(1, Ordering::Relaxed),
                Err(_) => self.dropped.fetch_add(1, Ordering::Relaxed),
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
                    self.forward(&packet);
                }
                TrackRemoteEvent::OnEnded => break,
                _ => {}
            }
        }
        self.viewers.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}
