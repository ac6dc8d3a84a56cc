//! An interceptor that edits the RTCP a connection reads and passes everything else
//! through as it came: what our own interceptors ([`super::keyframes`],
//! [`super::nack_budget`]) differ in is only the edit.

use rtc::interceptor::{Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::sansio::Protocol;
use std::collections::VecDeque;
use std::time::Instant;

/// What an interceptor does to the RTCP packets of one message read, and to the message
/// itself (its attributes).
pub type Edit = fn(&mut TaggedPacket);

pub struct RtcpReads {
    edit: Edit,
    reads: VecDeque<TaggedPacket>,
    writes: VecDeque<TaggedPacket>,
}

impl RtcpReads {
    pub fn new(edit: Edit) -> RtcpReads {
        RtcpReads { edit, reads: VecDeque::new(), writes: VecDeque::new() }
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for RtcpReads {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if matches!(msg.message.packet, Packet::Rtcp(_)) {
            (self.edit)(&mut msg);
        }
        self.reads.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.reads.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.writes.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.writes.pop_front()
    }
}

impl Interceptor for RtcpReads {
    fn bind_local_stream(&mut self, _: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _: &StreamInfo) {}
}
