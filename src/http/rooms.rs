use super::extract::{AppJson, AppPath, AppQuery, Auth};
use crate::app::AppState;
use crate::domain::RoomId;
use crate::error::AppResult;
use crate::room::{actions, schedule};
use crate::wire::api::{NewRoomRequest, RoomFilter, RoomListQuery, RoomView};
use crate::wire::routes;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(routes::ROOMS, get(list).post(create))
        .route(routes::ROOM, get(one))
        .route(routes::ROOM_GO_LIVE, post(go_live))
        .route(routes::ROOM_END, post(end))
}

async fn list(
    State(state): State<AppState>,
    AppQuery(q): AppQuery<RoomListQuery>,
) -> AppResult<AppJson<Vec<RoomView>>> {
    Ok(AppJson(schedule::list(&state, q.status.unwrap_or(RoomFilter::Live)).await?))
}

async fn create(
    State(state): State<AppState>,
    auth: Auth,
    AppJson(req): AppJson<NewRoomRequest>,
) -> AppResult<(StatusCode, AppJson<RoomView>)> {
    Ok((StatusCode::CREATED, AppJson(schedule::schedule(&state, &auth.account, req).await?)))
}

async fn one(State(state): State<AppState>, AppPath(id): AppPath<RoomId>) -> AppResult<AppJson<RoomView>> {
    Ok(AppJson(schedule::get(&state, id).await?))
}

async fn go_live(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<RoomId>,
) -> AppResult<AppJson<RoomView>> {
    actions::go_live(&state, id, &auth.account).await?;
    Ok(AppJson(schedule::get(&state, id).await?))
}

async fn end(State(state): State<AppState>, auth: Auth, AppPath(id): AppPath<RoomId>) -> AppResult<AppJson<RoomView>> {
    actions::end_room(&state, id, &auth.account).await?;
    Ok(AppJson(schedule::get(&state, id).await?))
}
