//! A cap on how many packets one NACK makes a viewer's leg re-send.
//!
//! The NACK responder re-sends at once every packet a NACK names that is still in its
//! history, and each re-sent packet passes through every queue of the connection's stack.
//! Those queues keep, for the connection's life, the capacity the largest burst gave them.
//! A viewer far behind (a starved or very lossy client) names most of the history in one
//! NACK; on a starved machine at 200 viewers that grew the server from ~230 KiB to ~950
//! KiB per viewer (heaptrack: nine queues of the stack, ~14 MiB each, grown from the
//! responder's bursts). Only the most recent [`MAX_RESENT`] packets a NACK names are asked
//! of the responder: older ones would mostly arrive too late to be played, and a viewer
//! missing them recovers at the next keyframe, as it does from any loss.

use super::rtcp_reads::RtcpReads;
use rtc::interceptor::Packet;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::{TransportLayerNack, nack_pairs_from_sequence_numbers};

/// Where the cap sits in the chain: nearer the wire than the NACK responder
/// (`Slot::NackResponder`, 4,000), so the responder reads the capped NACKs.
pub const SLOT: usize = 3_900;

/// Packets one RTCP message may have re-sent: about four frames of a 2.5 Mbit/s, 30 fps
/// stream, more than a viewer that is keeping up ever loses between two NACKs.
pub const MAX_RESENT: usize = 32;

/// The interceptor.
pub fn budget() -> RtcpReads {
    RtcpReads::new(|msg| {
        if let Packet::Rtcp(packets) = &mut msg.message.packet {
            capped(packets);
        }
    })
}

/// `packets` with the NACKs among them naming at most `MAX_RESENT` sequence numbers in
/// all, the most recent ones (the last named); NACKs left with none are dropped.
fn capped(packets: &mut Vec<Box<dyn rtc::rtcp::Packet>>) {
    let named = |p: &dyn rtc::rtcp::Packet| {
        p.as_any()
            .downcast_ref::<TransportLayerNack>()
            .map_or(0, |n| n.nacks.iter().map(|pair| pair.packet_list().len()).sum())
    };
    if packets.iter().map(|p| named(p.as_ref())).sum::<usize>() <= MAX_RESENT {
        return;
    }
    let mut budget = MAX_RESENT;
    for packet in packets.iter_mut().rev() {
        let Some(nack) = packet.as_any().downcast_ref::<TransportLayerNack>() else { continue };
        let seqs: Vec<u16> = nack.nacks.iter().flat_map(|pair| pair.packet_list()).collect();
        let kept = &seqs[seqs.len().saturating_sub(budget)..];
        budget -= kept.len();
        if kept.len() < seqs.len() {
            *packet = Box::new(TransportLayerNack {
                sender_ssrc: nack.sender_ssrc,
                media_ssrc: nack.media_ssrc,
                nacks: nack_pairs_from_sequence_numbers(kept),
            });
        }
    }
    packets.retain(|p| p.as_any().downcast_ref::<TransportLayerNack>().is_none_or(|n| !n.nacks.is_empty()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;

    fn nack(seqs: &[u16]) -> Box<dyn rtc::rtcp::Packet> {
        Box::new(TransportLayerNack { sender_ssrc: 1, media_ssrc: 2, nacks: nack_pairs_from_sequence_numbers(seqs) })
    }

    fn named(packets: &[Box<dyn rtc::rtcp::Packet>]) -> Vec<u16> {
        packets
            .iter()
            .filter_map(|p| p.as_any().downcast_ref::<TransportLayerNack>())
            .flat_map(|n| n.nacks.iter().flat_map(|pair| pair.packet_list()))
            .collect()
    }

    #[test]
    fn a_nack_for_the_whole_history_asks_only_for_the_most_recent_packets() {
        let all: Vec<u16> = (1000..1128).collect();
        let mut packets = vec![nack(&all)];
        capped(&mut packets);
        assert_eq!(named(&packets), (1128 - MAX_RESENT as u16..1128).collect::<Vec<_>>());
    }

    #[test]
    fn small_nacks_and_other_feedback_pass_unchanged() {
        let pli: Box<dyn rtc::rtcp::Packet> = Box::new(PictureLossIndication { sender_ssrc: 1, media_ssrc: 2 });
        let mut packets = vec![nack(&[5, 7, 40]), pli];
        capped(&mut packets);
        assert_eq!(named(&packets), vec![5, 7, 40]);
        assert!(packets[1].as_any().is::<PictureLossIndication>());
    }

    #[test]
    fn the_budget_spans_every_nack_of_a_message_and_empty_ones_go() {
        let older: Vec<u16> = (0..20).collect();
        let newer: Vec<u16> = (100..130).collect();
        let mut packets = vec![nack(&older), nack(&newer)];
        capped(&mut packets);
        let kept = named(&packets);
        assert_eq!(kept.len(), MAX_RESENT);
        assert_eq!(&kept[kept.len() - 30..], &newer[..]);
        assert_eq!(&kept[..2], &[18, 19]);

        let mut only_newest = vec![nack(&older), nack(&(200..240).collect::<Vec<_>>())];
        capped(&mut only_newest);
        assert_eq!(only_newest.len(), 1, "the older NACK has nothing left to ask");
    }
}
