//! An interceptor that lets keyframe requests (PLI, FIR) reach the application. On the
//! default interceptor chain they are consumed inside the stack, so an SFU would never
//! learn that a viewer needs a keyframe, nor a publisher that one was asked for.

use super::rtcp_reads::RtcpReads;
use rtc::interceptor::{Attribute, Packet, TaggedPacket};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;

/// Where the forwarder sits in the chain: after the default interceptors.
pub const SLOT: usize = 14_000;

/// The interceptor.
pub fn requests() -> RtcpReads {
    RtcpReads::new(deliver_keyframe_requests)
}

fn is_keyframe_request(p: &dyn rtc::rtcp::Packet) -> bool {
    let any = p.as_any();
    any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()
}

/// Hands the keyframe requests among the packets read to the application.
fn deliver_keyframe_requests(msg: &mut TaggedPacket) {
    if let Packet::Rtcp(packets) = &msg.message.packet {
        let requests: Vec<Box<dyn rtc::rtcp::Packet>> =
            packets.iter().filter(|p| is_keyframe_request(p.as_ref())).cloned().collect();
        if !requests.is_empty() {
            msg.message.packet = Packet::Rtcp(requests);
            msg.message.add(Attribute::DeliverToApplication);
        }
    }
}
