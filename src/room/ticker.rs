//! The room tick: viewer counts and reaction totals go out on a period rather than as an
//! event per join or per tap, drops end when their time is up, and ended rooms nobody
//! watches any more are forgotten.

use super::actions::end_drop;
use crate::app::AppState;
use crate::bus::BusError;
use crate::domain::UnixMs;
use crate::room::LiveRoom;
use crate::wire::ws::{RoomStatus, ServerMsg};
use tokio::time::{MissedTickBehavior, interval};

pub async fn run(state: AppState) {
    let mut tick = interval(state.config.tick);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = state.clock.now();
        let rooms = state.hub.rooms();
        metrics::gauge!("livecart_rooms").set(rooms.len() as f64);
        for room in rooms {
            if let Err(e) = tick_room(&state, &room, now).await {
                tracing::warn!(room = %room.id, error = %e, "room tick failed");
            }
            let (status, drop_over) = room.read(|s| (s.status, s.drop.as_ref().is_some_and(|d| d.ends_at <= now)));
            if drop_over {
                if let Err(e) = end_drop(&state, &room).await {
                    tracing::warn!(room = %room.id, error = %e, "could not end drop");
                }
            }
            // A node serves (and listens for) a room only while someone watches it here.
            if room.viewers() == 0 && (status == RoomStatus::Ended || room.idle_ticks() >= IDLE_TICKS) {
                state.hub.remove(room.id);
                if let Err(e) = state.bus.detach(room.id).await {
                    tracing::warn!(room = %room.id, error = %e, "could not detach room");
                }
            }
        }
    }
}

/// Ticks a room may go without viewers on this node before the node lets it go.
const IDLE_TICKS: u64 = 30;

async fn tick_room(state: &AppState, room: &LiveRoom, now: UnixMs) -> Result<(), BusError> {
    let total = state.bus.viewer_total(room, now).await?;
    if let Some(count) = room.report_viewers(total) {
        let _ = room.tick(&ServerMsg::Viewers { count });
    }
    let counts = room.take_reactions();
    if !counts.is_empty() {
        state.bus.publish_reactions(room, counts).await?;
    }
    Ok(())
}
