//! The room tick: viewer counts and reaction totals go out on a period rather than as an
//! event per join or per tap, drops end when their time is up, and ended rooms nobody
//! watches any more are forgotten.

use super::actions::end_drop;
use crate::app::AppState;
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
        for room in state.hub.rooms() {
            if let Some(count) = room.viewers_if_changed() {
                let _ = room.tick(&ServerMsg::Viewers { count });
            }
            let counts = room.take_reactions();
            if !counts.is_empty() {
                let _ = room.tick(&ServerMsg::Reactions { counts });
            }
            let (status, drop_over) =
                room.read(|s| (s.status, s.drop.as_ref().is_some_and(|d| d.ends_at <= now)));
            if drop_over {
                if let Err(e) = end_drop(&state, &room).await {
                    tracing::warn!(room = %room.id, error = %e, "could not end drop");
                }
            }
            if status == RoomStatus::Ended && room.viewers() == 0 {
                state.hub.remove(room.id);
            }
        }
        state.hub.forget_idle_buckets(state.comment_limit(), now);
    }
}
