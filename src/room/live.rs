//! One room as this node serves it: cached facts from the database, the event-folded
//! state, and the broadcast channel that carries frames to local viewers.

use super::state::RoomState;
use super::stock::ReadTicket;
use crate::bus::Delivered;
use crate::bus::events::event_frame;
use crate::commerce::Storefront;
use crate::domain::{AccountId, ChatFilter, DropId, ProductId, Reaction, RoomId};
use crate::store::ProductRow;
use crate::wire::ws::{RoomCard, RoomEvent, ServerMsg};
use axum::extract::ws::Utf8Bytes;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use tokio::sync::{broadcast, watch};

/// A frame for every viewer of a room, serialised once. `seq` is set for room events
/// (so a viewer can detect a gap) and unset for ticks.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub seq: Option<u64>,
    pub frame: Utf8Bytes,
}

/// The state and the channel change together: a new epoch replaces the channel, which
/// tells every local viewer (their receivers close) to take a fresh snapshot.
struct Inner {
    state: RoomState,
    frames: broadcast::Sender<Delivery>,
}

pub struct LiveRoom {
    pub id: RoomId,
    pub host: AccountId,
    /// Title and host as of loading; status lives in the state.
    pub card: RoomCard,
    /// Guarded by a std mutex: every section is a few field updates and one channel
    /// send, never an `.await`.
    inner: Mutex<Inner>,
    channel_capacity: usize,
    /// Seats held (one per joined connection): the room stays loaded while any is.
    seats: AtomicU64,
    /// Viewers as counted: each guest, and each account but the host's once however
    /// many of its connections hold seats (the host is not their own audience).
    viewers: AtomicU64,
    /// Seats held per account, so that an account counts once.
    accounts: Mutex<HashMap<AccountId, u32>>,
    /// Viewers reported in the last tick, so an unchanged count is not re-sent.
    reported_viewers: AtomicU64,
    reactions: [AtomicU64; Reaction::ALL.len()],
    /// The room's reaction totals over every node as of the last tick, for snapshots: a
    /// join reads them here instead of asking the bus.
    reaction_totals: Mutex<BTreeMap<Reaction, u64>>,
    /// Consecutive ticks this node had no viewers of the room.
    idle: AtomicU64,
    /// The blocked words (the room's and its host's for all their rooms) as last read from
    /// the database, and when: another node may change them, so they are read again once
    /// they are older than a second. A std mutex: a pointer copy under it, never an `.await`.
    chat_filter: Mutex<Option<(std::time::Instant, std::sync::Arc<ChatFilter>)>>,
    /// Held by the one comment that reads the blocked words again once its copy is stale;
    /// the comments behind it wait and take what it read. Without it, every comment of a
    /// storm arriving while the read is under way starts one of its own: each holds a
    /// database connection, and the pool grows to its limit (each SQLite connection then
    /// keeps its schema and statements resident for good).
    chat_filter_read: tokio::sync::Mutex<()>,
    /// Held by the one join that reads the inventory for the lineup's stock when the
    /// room's figures are stale; the joins behind it wait and take what it read.
    stock_read: tokio::sync::Mutex<()>,
    /// The viewer count as last sent to each group of viewers ([`COUNT_GROUPS`]).
    viewer_counts: Box<[watch::Sender<Option<Utf8Bytes>>]>,
    /// The count frame the groups are being brought to, set on the tick.
    latest_count: Mutex<Option<Utf8Bytes>>,
    /// Which group the next viewer joins: round robin, so the groups stay even.
    next_group: AtomicUsize,
}

/// The groups a room's viewers are split into for viewer counts, each served a tenth of
/// a tick after the one before. Sent to every viewer at once, a count is a burst of one
/// frame per viewer (10,000 wakes and writes at once at 10,000 viewers) that every join
/// arriving meanwhile queues behind; in ten groups, the burst is a tenth as long.
pub const COUNT_GROUPS: usize = 10;

impl LiveRoom {
    pub fn new(card: RoomCard, state: RoomState, channel_capacity: usize) -> Self {
        Self {
            id: card.id,
            host: card.host.id,
            card,
            inner: Mutex::new(Inner { state, frames: broadcast::channel(channel_capacity).0 }),
            channel_capacity,
            seats: AtomicU64::new(0),
            viewers: AtomicU64::new(0),
            accounts: Mutex::new(HashMap::new()),
            reported_viewers: AtomicU64::new(0),
            reactions: Default::default(),
            reaction_totals: Mutex::default(),
            idle: AtomicU64::new(0),
            chat_filter: Mutex::default(),
            chat_filter_read: tokio::sync::Mutex::new(()),
            stock_read: tokio::sync::Mutex::new(()),
            viewer_counts: (0..COUNT_GROUPS).map(|_| watch::Sender::new(None)).collect(),
            latest_count: Mutex::default(),
            next_group: AtomicUsize::new(0),
        }
    }

    /// The blocked words read within `fresh`, if any.
    pub fn chat_filter(&self, fresh: std::time::Duration) -> Option<std::sync::Arc<ChatFilter>> {
        let cached = self.chat_filter.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        cached.as_ref().filter(|(at, _)| at.elapsed() < fresh).map(|(_, filter)| std::sync::Arc::clone(filter))
    }

    /// Remembers the blocked words just read.
    pub fn cache_chat_filter(&self, filter: std::sync::Arc<ChatFilter>) {
        *self.chat_filter.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) =
            Some((std::time::Instant::now(), filter));
    }

    /// The turn to read the blocked words from the database: one comment at a time.
    pub async fn chat_filter_read_turn(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.chat_filter_read.lock().await
    }

    /// Forgets the blocked words read: this node changed them, so the next comment reads
    /// them again.
    pub fn forget_chat_filter(&self) {
        *self.chat_filter.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
    }

    /// The turn to read the inventory for the lineup's stock: one join at a time.
    pub async fn stock_read_turn(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.stock_read.lock().await
    }

    /// Keeps the lineup's stock as a read begun with `ticket` found it.
    pub fn fill_stock(&self, ticket: ReadTicket, units: impl IntoIterator<Item = (ProductId, i64)>) {
        self.lock().state.stock.fill(ticket, units, std::time::Instant::now());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A lined-up product as the room knows it now.
    pub fn product(&self, id: ProductId) -> Option<ProductRow> {
        self.read(|s| s.lineup.iter().find(|p| p.id == id).cloned())
    }

    /// The room as commerce sees it right now.
    pub fn storefront(&self) -> Storefront<'_> {
        let (lineup, drop) = self.read(|s| (std::sync::Arc::clone(&s.lineup), s.drop.clone()));
        Storefront {
            room: self.id,
            host: self.host,
            host_name: &self.card.host.display_name,
            lineup,
            drop,
            rehearsal: self.card.rehearsal_of.is_some(),
        }
    }

    /// This node asked the database to end `drop` (it sold out): it stops asking, whether
    /// or not its update was the one that won.
    pub fn drop_ended_here(&self, drop: DropId) {
        let mut inner = self.lock();
        if inner.state.sold_out_drop == Some(drop) {
            inner.state.sold_out_drop = None;
        }
    }

    /// Reads the state under its lock.
    pub fn read<T>(&self, f: impl FnOnce(&RoomState) -> T) -> T {
        f(&self.lock().state)
    }

    /// Reads the state and subscribes in one critical section, so the subscriber receives
    /// exactly the events after what it read: no gap, no duplicate.
    pub fn read_and_subscribe<T>(&self, f: impl FnOnce(&RoomState) -> T) -> (T, broadcast::Receiver<Delivery>) {
        let inner = self.lock();
        (f(&inner.state), inner.frames.subscribe())
    }

    /// One-node sequencing: gives the event (already serialised as `body`) the next
    /// sequence number, records it and sends it to local viewers, under one lock so
    /// numbers and delivery order agree.
    pub fn record(&self, body: &str, event: &RoomEvent) {
        let mut inner = self.lock();
        let seq = inner.state.seq + 1;
        let frame = inner.state.apply(seq, event, &event_frame(seq, body));
        // No receivers is fine: nobody is watching right now.
        let _ = inner.frames.send(Delivery { seq: Some(seq), frame });
    }

    /// Applies an event sequenced by the bus, in order: the next sequence number is
    /// applied, an old one ignored, a later one reported as a gap.
    /// An event from another epoch (shared history was lost) starts the room's history
    /// afresh and moves local viewers to a new channel, so each gets a reset snapshot.
    pub fn deliver(&self, epoch: &str, seq: u64, frame: Utf8Bytes, event: &RoomEvent) -> Delivered {
        let mut inner = self.lock();
        if inner.state.epoch != epoch {
            inner.state.restart(epoch.to_owned());
            inner.frames = broadcast::channel(self.channel_capacity).0;
        }
        if seq <= inner.state.seq {
            return Delivered::Stale;
        }
        if seq != inner.state.seq + 1 {
            return Delivered::Gap;
        }
        let frame = inner.state.apply(seq, event, &frame);
        let _ = inner.frames.send(Delivery { seq: Some(seq), frame });
        Delivered::Applied
    }

    /// Moves to `epoch` at `seq` when shared history no longer holds the events in
    /// between: viewers move to a new channel and each takes a reset snapshot.
    pub fn restart_at(&self, epoch: &str, seq: u64) {
        let mut inner = self.lock();
        inner.state.restart(epoch.to_owned());
        inner.state.seq = seq;
        inner.frames = broadcast::channel(self.channel_capacity).0;
    }

    /// Sends an unsequenced tick to local viewers.
    pub fn tick_frame(&self, frame: Utf8Bytes) {
        let _ = self.lock().frames.send(Delivery { seq: None, frame });
    }

    /// A seat is taken: one more viewer, until [`LiveRoom::seat_named`] says it is an
    /// account's that is already counted.
    pub fn viewer_joined(&self) {
        self.seats.fetch_add(1, Ordering::Relaxed);
        self.viewers.fetch_add(1, Ordering::Relaxed);
    }

    /// The seat just taken is `account`'s: an account counts once, however many of its
    /// connections hold seats, and the host's never.
    pub fn seat_named(&self, account: AccountId) {
        if account == self.host {
            self.viewers.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        let mut accounts = self.accounts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let held = accounts.entry(account).or_insert(0);
        *held += 1;
        if *held > 1 {
            self.viewers.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// A seat is given up: `account` is whose it was named, `None` for a guest's.
    pub fn viewer_left(&self, account: Option<AccountId>) {
        let last = match account {
            None => true,
            Some(account) if account == self.host => false,
            Some(account) => {
                let mut accounts = self.accounts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                match accounts.get_mut(&account) {
                    Some(held) if *held > 1 => {
                        *held -= 1;
                        false
                    }
                    _ => {
                        accounts.remove(&account);
                        true
                    }
                }
            }
        };
        if last {
            self.viewers.fetch_sub(1, Ordering::Relaxed);
        }
        self.seats.fetch_sub(1, Ordering::Relaxed);
    }

    /// Viewers on this node: guests, and accounts but the host (once each), not
    /// connections.
    pub fn viewers(&self) -> u64 {
        self.viewers.load(Ordering::Relaxed)
    }

    /// Seats held on this node (joined connections).
    pub fn seats(&self) -> u64 {
        self.seats.load(Ordering::Relaxed)
    }

    /// `count` if it differs from the last count reported to viewers.
    pub fn report_viewers(&self, count: u64) -> Option<u64> {
        (self.reported_viewers.swap(count, Ordering::Relaxed) != count).then_some(count)
    }

    /// The viewer count to bring every group to, group by group ([`LiveRoom::serve_count_group`]).
    pub fn set_viewer_count(&self, count: u64) -> Result<(), serde_json::Error> {
        let frame = Utf8Bytes::from(serde_json::to_string(&ServerMsg::Viewers { count })?);
        *self.latest_count.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(frame);
        Ok(())
    }

    /// Sends the latest viewer count to the viewers of `group` that have not had it.
    pub fn serve_count_group(&self, group: usize) {
        let latest = self.latest_count.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        if let (Some(latest), Some(group)) = (latest, self.viewer_counts.get(group)) {
            group.send_if_modified(|sent| {
                let changed = sent.as_ref() != Some(&latest);
                *sent = Some(latest);
                changed
            });
        }
    }

    /// The viewer counts for one more viewer: those of the next group, from the next one
    /// sent (the snapshot carries the count at joining).
    pub fn viewer_counts(&self) -> watch::Receiver<Option<Utf8Bytes>> {
        let group = self.next_group.fetch_add(1, Ordering::Relaxed) % COUNT_GROUPS;
        self.viewer_counts[group].subscribe()
    }

    /// Counts one more tick without local viewers (or resets on a tick with some).
    pub fn idle_ticks(&self) -> u64 {
        if self.seats() > 0 {
            self.idle.store(0, Ordering::Relaxed);
            0
        } else {
            self.idle.fetch_add(1, Ordering::Relaxed) + 1
        }
    }

    /// The last room-wide viewer count reported (every node's viewers).
    pub fn reported_viewers(&self) -> u64 {
        self.reported_viewers.load(Ordering::Relaxed)
    }

    pub fn react(&self, reaction: Reaction) {
        self.reactions[reaction.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn reaction_totals(&self) -> BTreeMap<Reaction, u64> {
        self.reaction_totals.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    pub fn set_reaction_totals(&self, totals: BTreeMap<Reaction, u64>) {
        *self.reaction_totals.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = totals;
    }

    /// Takes the reaction counts gathered since the last call.
    pub fn take_reactions(&self) -> BTreeMap<Reaction, u64> {
        Reaction::ALL
            .iter()
            .filter_map(|r| {
                let n = self.reactions[r.index()].swap(0, Ordering::Relaxed);
                (n > 0).then_some((*r, n))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Tier, UnixMs};
    use crate::wire::ws::{HostCard, RoomStatus};

    fn room() -> LiveRoom {
        let host = HostCard { id: AccountId::from_row(1), display_name: "Maya".into(), followers: 0, tier: Tier::Nano };
        let card = RoomCard {
            id: RoomId::from_row(7),
            title: "Spring glow".into(),
            status: RoomStatus::Live,
            starts_at: UnixMs(0),
            host,
            co_host: None,
            disclosure: None,
            rehearsal_of: None,
        };
        LiveRoom::new(card, RoomState::new("e".into(), RoomStatus::Live, Vec::new(), 16), 16)
    }

    #[test]
    fn each_group_gets_a_new_count_once_when_it_is_served_and_not_before() {
        let room = room();
        let mut viewers: Vec<_> = (0..2 * COUNT_GROUPS).map(|_| room.viewer_counts()).collect();
        room.set_viewer_count(118).unwrap();
        room.serve_count_group(0);
        let changed: Vec<bool> = viewers.iter_mut().map(|v| v.has_changed().unwrap()).collect();
        let expected: Vec<bool> = (0..2 * COUNT_GROUPS).map(|i| i % COUNT_GROUPS == 0).collect();
        assert_eq!(changed, expected, "only group 0's viewers have it");
        for group in 1..COUNT_GROUPS {
            room.serve_count_group(group);
        }
        for v in &mut viewers {
            assert_eq!(v.borrow_and_update().as_deref(), Some(r#"{"type":"viewers","count":118}"#));
        }
        // Served again with the same count: nothing new for anyone.
        for group in 0..COUNT_GROUPS {
            room.serve_count_group(group);
        }
        assert!(viewers.iter().all(|v| !v.has_changed().unwrap()));
    }
}
