//! "Remind me": the creators the caller follows, and their upcoming shows. Only the
//! account itself reads or changes its follows.

use super::extract::{AppJson, AppPath, Auth};
use crate::domain::AccountId;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::wire::api::{ErrorBody, RoomView};
use crate::wire::routes;
use crate::wire::ws::HostCard;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(routes::FOLLOWS, get(followed))
        .route(routes::FOLLOW, put(follow).delete(unfollow))
        .route(routes::UPCOMING, get(upcoming))
}

/// The creators the caller follows, by display name.
#[utoipa::path(get, path = routes::FOLLOWS, responses((status = 200, body = Vec<HostCard>), (status = 401, body = ErrorBody)),
    security(("bearer" = [])), tag = "accounts")]
pub async fn followed(State(state): State<AppState>, auth: Auth) -> ApiResult<AppJson<Vec<HostCard>>> {
    Ok(AppJson(state.rooms.followed(&auth.account).await?))
}

/// Follows a creator: their shows appear in `GET /api/me/upcoming`, and the caller's open
/// connections get `going_live` when one starts. Idempotent; adds one to the creator's
/// `followers` the first time.
#[utoipa::path(put, path = routes::FOLLOW, params(("creator_id" = i64, Path)),
    responses((status = 204, description = "the caller follows the creator"), (status = 400, body = ErrorBody, description = "invalid input: the caller's own id"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody, description = "no such creator")),
    security(("bearer" = [])), tag = "accounts")]
pub async fn follow(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(creator): AppPath<AccountId>,
) -> ApiResult<StatusCode> {
    state.rooms.follow(&auth.account, creator).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stops following a creator. Idempotent: not following already is also a 204.
#[utoipa::path(delete, path = routes::FOLLOW, params(("creator_id" = i64, Path)),
    responses((status = 204, description = "the caller does not follow the creator"), (status = 401, body = ErrorBody)),
    security(("bearer" = [])), tag = "accounts")]
pub async fn unfollow(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(creator): AppPath<AccountId>,
) -> ApiResult<StatusCode> {
    state.rooms.unfollow(&auth.account, creator).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The scheduled and live shows of the creators the caller follows: live ones first,
/// then by `starts_at`; at most 50.
#[utoipa::path(get, path = routes::UPCOMING, responses((status = 200, body = Vec<RoomView>), (status = 401, body = ErrorBody)),
    security(("bearer" = [])), tag = "accounts")]
pub async fn upcoming(State(state): State<AppState>, auth: Auth) -> ApiResult<AppJson<Vec<RoomView>>> {
    Ok(AppJson(state.rooms.upcoming_for(&auth.account).await?))
}
