//! Re-sending what a viewer lost, from one history per published track.
//!
//! A viewer's leg answers a NACK (RFC 4585) by sending the named packets again. The
//! webrtc crate's responder keeps its own copy of every packet a leg sends: a history
//! per leg and track, written once per packet per viewer. Every viewer of a track is
//! sent the same packets, with the publisher's sequence numbers (only the SSRC and the
//! payload type are the leg's), so one history per track serves them all: the feed
//! keeps each packet once ([`History::keep`]) and a leg's [`resender`] looks the named
//! ones up there and stamps them with its own SSRC and payload type.

use super::nack_budget::MAX_RESENT;
use super::rtcp_reads::{OnRtcp, RtcpReads};
use crate::domain::{RateLimit, TokenBucket, UnixMs};
use rtc::interceptor::{Attribute, AttributedPacket, Packet, StreamInfo, TaggedPacket};
use rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
use rtc::rtp;
use rtc::shared::TransportContext;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Packets of a track kept for re-sending: half a second of a 2.5 Mbit/s stream (~250
/// packets/s). A packet re-sent later than that misses the viewer's jitter buffer (a
/// browser's targets a few hundred milliseconds) and is discarded there. A power of two,
/// so a sequence number finds its slot by a mask.
const HISTORY: usize = 128;

/// The last [`HISTORY`] packets of one published track, by sequence number.
pub struct History {
    slots: Mutex<Vec<Option<rtp::Packet>>>,
    /// Packets re-sent from it, to every viewer.
    pub resent: AtomicU64,
}

impl Default for History {
    fn default() -> Self {
        History { slots: Mutex::new(vec![None; HISTORY]), resent: AtomicU64::new(0) }
    }
}

fn slot(seq: u16) -> usize {
    usize::from(seq) & (HISTORY - 1)
}

impl History {
    /// Keeps `packet` (its payload is shared, not copied) in place of the one
    /// [`HISTORY`] sequence numbers before it.
    pub fn keep(&self, packet: &rtp::Packet) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots[slot(packet.header.sequence_number)] = Some(packet.clone());
    }

    /// The packet numbered `seq`, if it is still kept.
    fn get(&self, seq: u16) -> Option<rtp::Packet> {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots[slot(seq)].as_ref().filter(|p| p.header.sequence_number == seq).cloned()
    }
}

/// The histories a viewer's leg re-sends from, by the SSRC the leg sends each track with.
pub type Histories = HashMap<u32, Arc<History>>;

/// Packets one leg may have re-sent: a burst of [`MAX_RESENT`] (what one NACK may name),
/// then one every 10 ms (100 a second, several times what a viewer losing one packet in
/// twenty of a 2.5 Mbit/s stream asks for). The per-message cap alone let a viewer send
/// NACKs without end, each of ~80 bytes making the node send 32 packets (~40 KB) again.
const RESENDS: RateLimit = RateLimit { burst: MAX_RESENT as u32, refill_ms: 10 };

/// A viewer leg's NACK responder, in the crate's responder's slot: re-sends the packets a
/// NACK names from the history of the track it names, for the streams the viewer
/// negotiated NACKs for, within the leg's allowance ([`RESENDS`]).
pub fn resender(histories: Histories) -> RtcpReads<Resend> {
    RtcpReads::new(Resend { histories, streams: HashMap::new(), allowance: None })
}

pub struct Resend {
    histories: Histories,
    /// Bound streams that take NACKs: their history and the leg's payload type.
    streams: HashMap<u32, (Arc<History>, u8)>,
    /// Re-sends left to the leg, counted in milliseconds from its first NACK.
    allowance: Option<(Instant, TokenBucket)>,
}

impl Resend {
    /// Takes one re-send from the leg's allowance, if one is left at `now`.
    fn may_resend(&mut self, now: Instant) -> bool {
        let (since, bucket) = self.allowance.get_or_insert_with(|| (now, TokenBucket::full(RESENDS, UnixMs(0))));
        let elapsed = i64::try_from(now.saturating_duration_since(*since).as_millis()).unwrap_or(i64::MAX);
        bucket.try_take(RESENDS, UnixMs(elapsed))
    }
}

impl OnRtcp for Resend {
    fn on_rtcp(&mut self, msg: &mut TaggedPacket, writes: &mut VecDeque<TaggedPacket>) {
        let Packet::Rtcp(packets) = &msg.message.packet else { return };
        for nack in packets.iter().filter_map(|p| p.as_any().downcast_ref::<TransportLayerNack>()) {
            let Some((history, payload_type)) = self.streams.get(&nack.media_ssrc).cloned() else { continue };
            for seq in nack.nacks.iter().flat_map(|pair| pair.packet_list()) {
                let Some(mut packet) = history.get(seq) else { continue };
                if !self.may_resend(msg.now) {
                    return;
                }
                history.resent.fetch_add(1, Ordering::Relaxed);
                packet.header.ssrc = nack.media_ssrc;
                packet.header.payload_type = payload_type;
                // Marked, so what counts bytes on the wire downstream counts it as sent again.
                let message = AttributedPacket::new(Packet::Rtp(packet)).with(Attribute::Retransmission);
                writes.push_back(TaggedPacket { now: msg.now, transport: TransportContext::default(), message });
            }
        }
    }

    fn bind_local_stream(&mut self, info: &StreamInfo) {
        let takes_nacks = info.rtcp_feedback.iter().any(|fb| fb.typ == "nack" && fb.parameter.is_empty());
        if let Some(history) = self.histories.get(&info.ssrc).filter(|_| takes_nacks) {
            self.streams.insert(info.ssrc, (Arc::clone(history), info.payload_type));
        }
    }

    fn unbind_local_stream(&mut self, info: &StreamInfo) {
        self.streams.remove(&info.ssrc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::interceptor::{Interceptor, RTCPFeedback};
    use rtc::rtcp::transport_feedbacks::transport_layer_nack::nack_pairs_from_sequence_numbers;
    use rtc::sansio::Protocol;
    use std::time::Duration;

    fn packet(seq: u16) -> rtp::Packet {
        let header =
            rtp::header::Header { version: 2, sequence_number: seq, ssrc: 1, payload_type: 100, ..Default::default() };
        rtp::Packet { header, payload: vec![seq as u8; 3].into() }
    }

    fn nack(media_ssrc: u32, seqs: &[u16]) -> TaggedPacket {
        let nack = TransportLayerNack { sender_ssrc: 9, media_ssrc, nacks: nack_pairs_from_sequence_numbers(seqs) };
        let rtcp: Vec<Box<dyn rtc::rtcp::Packet>> = vec![Box::new(nack)];
        TaggedPacket {
            now: Instant::now(),
            transport: TransportContext::default(),
            message: AttributedPacket::new(Packet::Rtcp(rtcp)),
        }
    }

    fn stream(ssrc: u32, payload_type: u8, nack: bool) -> StreamInfo {
        let rtcp_feedback =
            if nack { vec![RTCPFeedback { typ: "nack".into(), parameter: String::new() }] } else { vec![] };
        StreamInfo { ssrc, payload_type, rtcp_feedback, ..Default::default() }
    }

    /// The re-sent packets a NACK made: (sequence number, SSRC, payload type).
    fn resent(leg: &mut RtcpReads<Resend>, msg: TaggedPacket) -> Vec<(u16, u32, u8)> {
        leg.handle_read(msg).unwrap();
        assert!(leg.poll_read().is_some(), "the NACK goes on up the chain");
        std::iter::from_fn(|| leg.poll_write())
            .map(|w| match w.message.packet {
                Packet::Rtp(p) => (p.header.sequence_number, p.header.ssrc, p.header.payload_type),
                _ => panic!("only RTP is written"),
            })
            .collect()
    }

    #[test]
    fn a_nack_gets_the_kept_packets_it_names_with_the_legs_ssrc_and_payload_type() {
        let history = Arc::new(History::default());
        for seq in 65_500..=65_535 {
            history.keep(&packet(seq));
        }
        for seq in 0..40 {
            history.keep(&packet(seq));
        }
        let mut leg = resender(HashMap::from([(77, Arc::clone(&history))]));
        leg.bind_local_stream(&stream(77, 96, true));
        assert_eq!(
            resent(&mut leg, nack(77, &[65_530, 3, 39, 40])),
            [(65_530, 77, 96), (3, 77, 96), (39, 77, 96)],
            "across the wrap, and not one not sent yet"
        );
        // Overwritten by the one HISTORY numbers later: too old.
        history.keep(&packet(3 + HISTORY as u16));
        assert_eq!(resent(&mut leg, nack(77, &[3])), []);
    }

    #[test]
    fn a_leg_re_sends_a_burst_then_one_packet_every_ten_milliseconds() {
        let history = Arc::new(History::default());
        for seq in 0..64 {
            history.keep(&packet(seq));
        }
        let mut leg = resender(HashMap::from([(7, Arc::clone(&history))]));
        leg.bind_local_stream(&stream(7, 96, true));
        let at = Instant::now();
        let nack_at = |seqs: &[u16], ms: u64| {
            let mut msg = nack(7, seqs);
            msg.now = at + Duration::from_millis(ms);
            msg
        };
        let all: Vec<u16> = (0..64).collect();
        assert_eq!(resent(&mut leg, nack_at(&all[..20], 0)).len(), 20);
        assert_eq!(resent(&mut leg, nack_at(&all[20..40], 0)).len(), 12, "the burst is spent");
        assert_eq!(resent(&mut leg, nack_at(&all[40..], 0)).len(), 0, "NACKs sent again and again get nothing");
        assert_eq!(resent(&mut leg, nack_at(&all[40..], 50)).len(), 5, "five more 50 ms later");
        assert_eq!(resent(&mut leg, nack_at(&all, 10_000)).len(), MAX_RESENT, "never more than a burst");
    }

    #[test]
    fn only_streams_that_negotiated_nacks_and_have_a_history_are_answered() {
        let history = Arc::new(History::default());
        history.keep(&packet(5));
        let mut leg = resender(HashMap::from([(1, Arc::clone(&history)), (2, history)]));
        leg.bind_local_stream(&stream(1, 96, false));
        leg.bind_local_stream(&stream(2, 97, true));
        leg.bind_local_stream(&stream(3, 98, true));
        assert_eq!(resent(&mut leg, nack(1, &[5])), []);
        assert_eq!(resent(&mut leg, nack(3, &[5])), []);
        assert_eq!(resent(&mut leg, nack(2, &[5])), [(5, 2, 97)]);
        leg.unbind_local_stream(&stream(2, 97, true));
        assert_eq!(resent(&mut leg, nack(2, &[5])), []);
    }
}
