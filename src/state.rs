//! What every request handler and connection is given: the domain services and the few
//! operational handles the edge needs. Built by `app`; cheap to clone.

use crate::accounts::Accounts;
use crate::analytics::{Campaigns, Recorder, Reports};
use crate::commerce::Commerce;
use crate::config::Config;
use crate::media::{ClientIce, Sfu};
use crate::redis::Redis;
use crate::room::Rooms;
use crate::store::Store;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Everything a request handler or a connection may need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub accounts: Accounts,
    pub rooms: Rooms,
    pub commerce: Commerce,
    /// The durable record, for readiness checks (the services hold their own handle).
    pub store: Store,
    /// The SFU, for operations and tests (rooms publish and watch through it).
    pub media: Arc<Sfu>,
    /// The STUN/TURN servers and TURN credentials WHIP and WHEP clients are given.
    pub ice: Arc<ClientIce>,
    /// Set in the scaled-out deployment, for readiness checks.
    pub redis: Option<Redis>,
    /// Cancelled on shutdown; every background task and connection watches it.
    pub shutdown: CancellationToken,
    /// Checkouts running on their own tasks: shutdown waits for them, so a paid order is
    /// never cut off half-way.
    pub checkouts: TaskTracker,
    /// The analytics writer: shutdown waits for its last batch.
    pub analytics: Recorder,
    /// Reports of rooms, creators, brands and campaigns.
    pub reports: Reports,
    pub campaigns: Campaigns,
}
