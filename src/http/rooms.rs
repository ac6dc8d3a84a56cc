use super::extract::{AppJson, AppPath, AppQuery, Auth};
use crate::domain::RoomId;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::wire::api::{ErrorBody, NewRoomRequest, RoomFilter, RoomListQuery, RoomView};
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

#[utoipa::path(get, path = routes::ROOMS, params(("status" = Option<RoomFilter>, Query, description = "live (default), upcoming or ended"), ("limit" = Option<u32>, Query, description = "1 to 100 rooms, 20 by default")), responses((status = 200, body = Vec<RoomView>)), tag = "rooms")]
pub async fn list(
    State(state): State<AppState>,
    AppQuery(q): AppQuery<RoomListQuery>,
) -> ApiResult<AppJson<Vec<RoomView>>> {
    Ok(AppJson(state.rooms.list(q.status.unwrap_or(RoomFilter::Live), q.limit).await?))
}

#[utoipa::path(post, path = routes::ROOMS, request_body = NewRoomRequest, responses((status = 201, body = RoomView), (status = 400, body = ErrorBody, description = "invalid input"), (status = 401, body = ErrorBody, description = "no valid session"), (status = 403, body = ErrorBody)), security(("bearer" = [])), tag = "rooms")]
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    AppJson(req): AppJson<NewRoomRequest>,
) -> ApiResult<(StatusCode, AppJson<RoomView>)> {
    Ok((StatusCode::CREATED, AppJson(state.rooms.schedule(&auth.account, req).await?)))
}

#[utoipa::path(get, path = routes::ROOM, params(("room_id" = i64, Path)), responses((status = 200, body = RoomView), (status = 404, body = ErrorBody)), tag = "rooms")]
pub async fn one(State(state): State<AppState>, AppPath(id): AppPath<RoomId>) -> ApiResult<AppJson<RoomView>> {
    Ok(AppJson(state.rooms.room(id).await?))
}

#[utoipa::path(post, path = routes::ROOM_GO_LIVE, params(("room_id" = i64, Path)), responses((status = 200, body = RoomView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "not scheduled")), security(("bearer" = [])), tag = "rooms")]
pub async fn go_live(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<RoomId>,
) -> ApiResult<AppJson<RoomView>> {
    state.rooms.go_live(id, &auth.account).await?;
    Ok(AppJson(state.rooms.room(id).await?))
}

#[utoipa::path(post, path = routes::ROOM_END, params(("room_id" = i64, Path)), responses((status = 200, body = RoomView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "not live")), security(("bearer" = [])), tag = "rooms")]
pub async fn end(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<RoomId>,
) -> ApiResult<AppJson<RoomView>> {
    state.rooms.end_room(id, &auth.account).await?;
    Ok(AppJson(state.rooms.room(id).await?))
}
