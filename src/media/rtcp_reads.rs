//! An interceptor that acts on the RTCP a connection reads and passes everything else
//! through as it came: what our own interceptors ([`super::keyframes`],
//! [`super::nack_budget`], [`super::resend`]) differ in is only what they do with it.

use rtc::interceptor::{Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::sansio::Protocol;
use std::collections::VecDeque;
use std::time::Instant;

/// What an interceptor does with each message of RTCP read: it may edit the message (its
/// packets, its attributes) and queue packets of its own to write.
pub trait OnRtcp: Send + Sync + 'static {
    fn on_rtcp(&mut self, msg: &mut TaggedPacket, writes: &mut VecDeque<TaggedPacket>);

    /// A stream the connection sends starts or stops.
    fn bind_local_stream(&mut self, _: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _: &StreamInfo) {}
}

/// An edit of the message alone.
pub type Edit = fn(&mut TaggedPacket);

impl OnRtcp for Edit {
    fn on_rtcp(&mut self, msg: &mut TaggedPacket, _: &mut VecDeque<TaggedPacket>) {
        self(msg)
    }
}

pub struct RtcpReads<A = Edit> {
    action: A,
    reads: VecDeque<TaggedPacket>,
    writes: VecDeque<TaggedPacket>,
}

impl<A: OnRtcp> RtcpReads<A> {
    pub fn new(action: A) -> RtcpReads<A> {
        RtcpReads { action, reads: VecDeque::new(), writes: VecDeque::new() }
    }
}

impl<A: OnRtcp> Protocol<TaggedPacket, TaggedPacket, ()> for RtcpReads<A> {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if matches!(msg.message.packet, Packet::Rtcp(_)) {
            self.action.on_rtcp(&mut msg, &mut self.writes);
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

impl<A: OnRtcp> Interceptor for RtcpReads<A> {
    fn bind_local_stream(&mut self, info: &StreamInfo) {
        self.action.bind_local_stream(info);
    }

    fn unbind_local_stream(&mut self, info: &StreamInfo) {
        self.action.unbind_local_stream(info);
    }

    fn bind_remote_stream(&mut self, _: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _: &StreamInfo) {}
}
