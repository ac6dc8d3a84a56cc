//! What every request handler and connection is given: the domain services and the few
//! operational handles the edge needs. Built by `app`; cheap to clone.

use crate::accounts::Accounts;
use crate::analytics::{Campaigns, Recorder, Reports};
use crate::commerce::Commerce;
use crate::config::Config;
use crate::domain::AccountId;
use crate::media::{ClientIce, Sfu};
use crate::redis::Redis;
use crate::room::Rooms;
use crate::store::Store;
use dashmap::DashMap;
use std::hash::Hash;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Payments (checkouts, offers paid) one account may run at once on a node, over all
/// its connections and REST together: a payment takes a while, and each running one
/// holds its units, so more at once would let one buyer keep stock from everyone else.
pub const CONCURRENT_CHECKOUTS: usize = 2;

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
    /// Payments each account runs on this node now (at most [`CONCURRENT_CHECKOUTS`]).
    pub paying: Arc<Tally<AccountId>>,
    /// The analytics writer: shutdown waits for its last batch.
    pub analytics: Recorder,
    /// Reports of rooms, creators, brands and campaigns.
    pub reports: Reports,
    pub campaigns: Campaigns,
}

/// How many of something each key holds at once (joined connections, running
/// checkouts), counted under the entry's lock so that two arriving together never both
/// pass a cap; a key holding none takes no room.
pub struct Tally<K: Eq + Hash>(DashMap<K, usize>);

impl<K: Eq + Hash> Default for Tally<K> {
    fn default() -> Self {
        Tally(DashMap::new())
    }
}

impl<K: Eq + Hash + Clone> Tally<K> {
    /// One more under `key` if fewer than `cap` are held.
    pub fn take(&self, key: K, cap: usize) -> bool {
        let mut held = self.0.entry(key).or_insert(0);
        if *held >= cap {
            return false;
        }
        *held += 1;
        true
    }

    pub fn give_back(&self, key: &K) {
        self.0.remove_if_mut(key, |_, held| {
            *held = held.saturating_sub(1);
            *held == 0
        });
    }

    /// Whether no key holds any.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// One more under `key`, given back when the [`Held`] is dropped; `None` at `cap`.
    pub fn hold(self: &Arc<Self>, key: K, cap: usize) -> Option<Held<K>> {
        self.take(key.clone(), cap).then(|| Held { tally: Arc::clone(self), key })
    }
}

/// One place in a [`Tally`], given back on drop.
pub struct Held<K: Eq + Hash + Clone> {
    tally: Arc<Tally<K>>,
    key: K,
}

impl<K: Eq + Hash + Clone> Drop for Held<K> {
    fn drop(&mut self) {
        self.tally.give_back(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tally_holds_up_to_its_cap_per_key_and_forgets_a_key_holding_none() {
        let tally = Arc::new(Tally::default());
        let (a, b) = (tally.hold("a", 2).unwrap(), tally.hold("a", 2).unwrap());
        assert!(tally.hold("a", 2).is_none(), "a third of one key is refused");
        let other = tally.hold("b", 2).expect("another key has its own count");
        drop(a);
        let again = tally.hold("a", 2).expect("a place given back is free again");
        drop((b, again, other));
        assert!(tally.is_empty(), "keys holding none are removed");
    }
}
