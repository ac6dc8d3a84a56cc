//! Live video: livecart's own SFU on the `webrtc` crate. The host publishes one audio and
//! one video track (WHIP, from OBS or the browser); each viewer receives them (WHEP).
//! Media is forwarded packet by packet, never decoded or transcoded.
//!
//! - `feed`: one published track fanned out to viewers through bounded per-viewer queues,
//!   so a slow viewer loses packets for itself only.
//! - `peer`: building peer connections with our codecs, interceptors and ICE settings,
//!   and the non-trickle offer/answer exchange WHIP and WHEP use.
//! - `sfu`: each room's broadcast (its publisher and feeds) and the viewer sessions;
//!   publish, watch, stop, and the notices that tell the room when its stream starts
//!   and stops.

pub mod client;
mod feed;
mod keyframes;
pub mod peer;
mod sfu;

pub use peer::IceSettings;
pub use sfu::{MediaError, MediaNotice, SessionId, Sfu};
