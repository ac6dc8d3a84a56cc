//! Live video: livecart's own SFU on the `webrtc` crate. The host publishes one audio and
//! one video track (WHIP, from OBS or the browser); each viewer receives them (WHEP).
//! Media is forwarded packet by packet, never decoded or transcoded.
//!
//! - `feed`: one published track fanned out to viewers, each through its connection's
//!   bounded queue, so a slow viewer loses packets for itself only.
//! - `peer`: building peer connections with our codecs, interceptors and ICE settings,
//!   and the non-trickle offer/answer exchange WHIP and WHEP use; `small_reads`: the
//!   runtime of legs that only send, whose sockets read one datagram at a time.
//! - `nack_budget`: a cap on what one viewer's NACK makes its leg re-send; `resend`: the
//!   re-sending, from one history per published track that all its viewers' legs share.
//! - `ice`: the STUN and TURN servers clients are given, with TURN credentials that
//!   expire (the TURN REST scheme).
//! - `sfu`: each room's broadcast (its publisher and feeds) and the viewer sessions;
//!   publish, watch, stop, and the notices that tell the room when its stream starts
//!   and stops.

mod feed;
mod ice;
mod keyframes;
mod nack_budget;
pub mod peer;
mod resend;
mod rtcp_reads;
mod sfu;
mod small_reads;

pub use ice::{ClientIce, ClientIceSettings, IceUser, turn_credential};
pub use peer::IceSettings;
pub use sfu::{Forwarding, MediaNotice, SessionId, Sfu};

/// Why a media request failed.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The client's SDP could not be used; the detail tells it what is wrong.
    #[error("sdp: {0}")]
    BadSdp(webrtc::error::Error),
    #[error("the host is not streaming right now; wait for stream_started")]
    NotStreaming,
    #[error("{0} streams are already being watched from this address on this server: end one, then watch")]
    TooManyViewers(usize),
    #[error("media session not found")]
    NoSession,
    #[error("peer connection")]
    Peer(#[from] webrtc::error::Error),
    #[error("no async runtime for the peer connection")]
    NoRuntime,
    #[error("ICE gathering produced no local description")]
    NoLocalDescription,
}
