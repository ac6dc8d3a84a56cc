//! The room's live video: who may publish or watch, and the room events that tell
//! viewers when the stream starts, stops and resumes.

use super::actions::live_room;
use crate::app::AppState;
use crate::domain::RoomId;
use crate::error::{AppError, AppResult};
use crate::media::{MediaNotice, SessionId};
use crate::store::AccountRow;
use crate::wire::routes::{self, path};
use crate::wire::ws::{RoomEvent, RoomStatus};
use tokio::sync::broadcast::error::RecvError;

async fn live_row(state: &AppState, room: RoomId) -> AppResult<crate::store::RoomRow> {
    let row = state.store.room(room).await?.ok_or(AppError::NotFound("room"))?;
    if row.status != RoomStatus::Live {
        return Err(AppError::RoomNotLive);
    }
    Ok(row)
}

/// Only the host of a live room publishes; a new publish replaces the current one.
pub async fn publish(
    state: &AppState,
    room: RoomId,
    who: &AccountRow,
    offer: String,
) -> AppResult<(SessionId, String)> {
    let row = live_row(state, room).await?;
    if row.creator_id != who.id {
        return Err(AppError::Forbidden("only the room's host can publish its stream"));
    }
    let published = state.media.publish(room, offer).await?;
    state.bus.set_media_home(room, &state.public_url(), true).await?;
    Ok(published)
}

/// Anyone may watch a live room's stream, as anyone may join its chat. Scaled out, a
/// viewer who reaches a node without the room's publisher is redirected (307, the offer
/// is re-sent) to the node that holds it.
pub async fn watch(state: &AppState, room: RoomId, offer: String) -> AppResult<(SessionId, String)> {
    live_row(state, room).await?;
    if !state.media.is_streaming(room) {
        let me = state.public_url();
        if let Some(home) = state.bus.media_home(room).await?.filter(|home| *home != me) {
            return Err(AppError::StreamElsewhere(format!("{home}{}", path(routes::WHEP, &[room.get()]))));
        }
    }
    Ok(state.media.watch(room, offer).await?)
}

/// Ends a publishing session: only the host (the session URL alone is not enough).
pub async fn unpublish(state: &AppState, room: RoomId, who: &AccountRow, session: SessionId) -> AppResult<()> {
    let row = state.store.room(room).await?.ok_or(AppError::NotFound("room"))?;
    if row.creator_id != who.id {
        return Err(AppError::Forbidden("only the room's host can stop its stream"));
    }
    Ok(state.media.stop(room, session).await?)
}

/// Ends a viewing session; its random URL is the viewer's capability.
pub async fn unwatch(state: &AppState, room: RoomId, session: SessionId) -> AppResult<()> {
    Ok(state.media.stop(room, session).await?)
}

/// Turns the SFU's notices into room events until shutdown.
pub async fn announce(state: AppState) {
    let mut notices = state.media.notices();
    loop {
        let notice = tokio::select! {
            _ = state.shutdown.cancelled() => return,
            notice = notices.recv() => notice,
        };
        let (room, started) = match notice {
            Ok(MediaNotice::StreamStarted(room)) => (room, true),
            Ok(MediaNotice::StreamStopped(room)) => (room, false),
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "stream notices lagged");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        let announced = async {
            let live = live_room(&state, room).await?;
            let event = if started {
                RoomEvent::StreamStarted { resumed: live.read(|s| s.streamed) }
            } else {
                state.bus.set_media_home(room, &state.public_url(), false).await?;
                RoomEvent::StreamStopped
            };
            state.bus.publish(&live, event).await?;
            AppResult::Ok(())
        };
        if let Err(e) = announced.await {
            tracing::warn!(%room, error = %e, "stream notice not announced");
        }
    }
}
