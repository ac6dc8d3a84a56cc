//! Live rooms: their in-memory state, the directory of rooms this node serves, and what
//! hosts and viewers do in them.
//!
//! A room event is serialised once, given the next sequence number, recorded in the
//! room's recent history and handed as the same bytes to every local viewer through one
//! bounded broadcast channel.

pub mod actions;
pub mod hub;
pub mod live;
pub mod rate;
pub mod schedule;
pub mod snapshot;
pub mod state;
pub mod stream;
pub mod ticker;

pub use hub::RoomHub;
pub use live::{Delivery, LiveRoom};

use crate::store::AccountRow;

/// Who is on the other end of a room connection.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub display_name: String,
    /// `None` for a guest, who may watch and chat but not buy.
    pub account: Option<AccountRow>,
    pub is_host: bool,
    /// Identifies the viewer for rate limits: the account, or the connection for guests.
    pub rate_key: String,
}
