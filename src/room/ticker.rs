//! The room tick: viewer counts and reaction totals go out on a period rather than as an
//! event per join or per tap, drops end when their time is up, and rooms nobody here
//! watches any more are let go.

use super::live::COUNT_GROUPS;
use super::{LiveRoom, RoomResult, Rooms};
use crate::analytics::Event;
use crate::domain::UnixMs;
use crate::telemetry::Causes;
use crate::wire::ws::RoomStatus;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{MissedTickBehavior, interval};
use tokio_util::sync::CancellationToken;

/// Ticks a room may go without viewers on this node before the node lets it go.
const IDLE_TICKS: u64 = 30;

impl Rooms {
    /// Ticks every room this node serves, every tick period, until `shutdown`; between
    /// ticks, brings one group of each room's viewers after another to the latest viewer
    /// count (live.rs, [`COUNT_GROUPS`]).
    pub async fn run_ticker(self, shutdown: CancellationToken) {
        let groups = u32::try_from(COUNT_GROUPS).unwrap_or(u32::MAX);
        let mut step = interval((self.settings.tick / groups).max(Duration::from_millis(1)));
        step.set_missed_tick_behavior(MissedTickBehavior::Skip);
        for group in (0..COUNT_GROUPS).cycle() {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = step.tick() => {}
            }
            let rooms = self.hub.rooms();
            if group == 0 {
                self.tick(&rooms).await;
            }
            for room in &rooms {
                room.serve_count_group(group);
            }
        }
    }

    async fn tick(&self, rooms: &[Arc<LiveRoom>]) {
        let now = self.clock.now();
        metrics::gauge!("livecart_rooms").set(rooms.len() as f64);
        for room in rooms {
            // Each part on its own: Redis being away must not keep drops from ending.
            if let Err(e) = self.tick_counts(room, now).await {
                tracing::warn!(room = %room.id, error = %Causes(&e), "room tick failed");
            }
            if let Err(e) = self.tick_lifecycle(room, now).await {
                tracing::warn!(room = %room.id, error = %Causes(&e), "room upkeep failed");
            }
        }
    }

    /// Viewer count, reaction counts, and the reaction totals snapshots show.
    async fn tick_counts(&self, room: &LiveRoom, now: UnixMs) -> RoomResult<()> {
        let total = self.presence.viewer_total(room.id, room.viewers(), now).await?;
        if let Some(count) = room.report_viewers(total) {
            room.set_viewer_count(count).map_err(crate::bus::BusError::from)?;
            let count = i64::try_from(count).unwrap_or(i64::MAX);
            self.analytics.record(Event::Viewers { room: room.id, count });
        }
        let counts = room.take_reactions();
        if !counts.is_empty() {
            let count = counts.values().sum::<u64>();
            self.analytics.record(Event::Reacted { room: room.id, count: i64::try_from(count).unwrap_or(i64::MAX) });
            self.presence.publish_reactions(room.id, &counts).await?;
        }
        // Other nodes' reactions count too, so the totals are read back rather than added.
        if room.seats() > 0 {
            room.set_reaction_totals(self.presence.reaction_totals(room.id).await?);
        }
        Ok(())
    }

    /// Ends a drop whose time is up or whose units are gone, draws a giveaway whose entries
    /// closed; lets go of a room nobody here watches any more.
    async fn tick_lifecycle(&self, room: &LiveRoom, now: UnixMs) -> RoomResult<()> {
        let (status, timed_out, sold_out, closed) = room.read(|s| {
            let timed_out = s.drop.as_ref().filter(|d| d.ends_at <= now).map(|d| d.id);
            (s.status, timed_out, s.sold_out_drop, s.giveaway.as_ref().filter(|g| g.closes_at <= now).map(|g| g.id))
        });
        if let Some(giveaway) = closed {
            self.draw_giveaway(room.id, giveaway).await?;
        }
        if let Some(drop) = timed_out {
            self.end_drop(room.id, drop).await?;
        }
        if let Some(drop) = sold_out {
            // Whichever node's database update wins announces `drop_ended`; the others'
            // copies forget the drop when that event arrives.
            self.end_drop(room.id, drop).await?;
            room.drop_ended_here(drop);
        }
        // A node serves (and listens for) a room only while someone watches it here.
        if (status == RoomStatus::Ended || room.idle_ticks() >= IDLE_TICKS) && self.hub.let_go(room.id) {
            self.events.detach(room.id).await?;
            self.presence.forget(room.id).await?;
            // A viewer may have loaded the room again meanwhile: it must keep its events.
            if self.hub.get(room.id).is_some() {
                self.events.attach(room.id).await?;
            }
        }
        Ok(())
    }
}
