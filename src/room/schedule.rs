//! Scheduling rooms and listing them.

use super::actions::host_card;
use crate::app::AppState;
use crate::commerce::catalog::card;
use crate::domain::{ProductId, Role, RoomId};
use crate::error::{AppError, AppResult};
use crate::store::{AccountRow, RoomRow};
use crate::wire::api::{NewRoomRequest, RoomFilter, RoomView};
use crate::wire::ws::RoomStatus;
use std::collections::HashSet;

/// Products one room may line up.
pub const MAX_LINEUP: usize = 50;
/// Rooms one listing returns.
const LIST_LIMIT: i64 = 100;

pub async fn schedule(state: &AppState, who: &AccountRow, req: NewRoomRequest) -> AppResult<RoomView> {
    if who.role != Role::Creator {
        return Err(AppError::Forbidden("only creators host rooms"));
    }
    if req.product_ids.is_empty() || req.product_ids.len() > MAX_LINEUP {
        return Err(AppError::BadRequest(format!("product_ids: line up 1 to {MAX_LINEUP} products")));
    }
    if req.product_ids.iter().collect::<HashSet<&ProductId>>().len() != req.product_ids.len() {
        return Err(AppError::BadRequest("product_ids: each product once".into()));
    }
    for product in &req.product_ids {
        if state.store.active_agreement(who.id, *product).await?.is_none() {
            return Err(AppError::Forbidden("every lined-up product needs an active agreement with its brand"));
        }
    }
    let row =
        state.store.create_room(who.id, req.title.as_str(), req.starts_at, &req.product_ids, state.clock.now()).await?;
    view(state, row).await
}

pub async fn get(state: &AppState, id: RoomId) -> AppResult<RoomView> {
    let row = state.store.room(id).await?.ok_or(AppError::NotFound("room"))?;
    view(state, row).await
}

pub async fn list(state: &AppState, filter: RoomFilter) -> AppResult<Vec<RoomView>> {
    let status = match filter {
        RoomFilter::Live => RoomStatus::Live,
        RoomFilter::Upcoming => RoomStatus::Scheduled,
        RoomFilter::Ended => RoomStatus::Ended,
    };
    let mut rooms = Vec::new();
    for row in state.store.rooms_with_status(status, LIST_LIMIT).await? {
        rooms.push(view(state, row).await?);
    }
    Ok(rooms)
}

async fn view(state: &AppState, row: RoomRow) -> AppResult<RoomView> {
    let host = state.store.account(row.creator_id).await?.ok_or(AppError::NotFound("host"))?;
    let mut lineup = Vec::new();
    for p in state.store.lineup(row.id).await? {
        lineup.push(card(state, &p).await?);
    }
    Ok(RoomView {
        id: row.id,
        title: row.title,
        status: row.status,
        starts_at: row.starts_at,
        live_at: row.live_at,
        ended_at: row.ended_at,
        host: host_card(&host),
        lineup,
        viewers: state.hub.get(row.id).map_or(0, |r| r.reported_viewers().max(r.viewers())),
    })
}
