//! A room's comment-to-buy keywords: anyone may read them (the viewer app shows "comment
//! BUY SERUM"), only the host sets them.

use super::extract::{AppJson, AppPath, Auth};
use crate::domain::RoomId;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::wire::api::{ErrorBody, KeywordsRequest};
use crate::wire::routes;
use crate::wire::ws::KeywordCard;
use axum::Router;
use axum::extract::State;
use axum::routing::get;

pub fn router() -> Router<AppState> {
    Router::new().route(routes::ROOM_KEYWORDS, get(list).put(set))
}

/// The room's keywords, by product.
#[utoipa::path(get, path = routes::ROOM_KEYWORDS, params(("room_id" = i64, Path)),
    responses((status = 200, body = Vec<KeywordCard>), (status = 404, body = ErrorBody)), tag = "rooms")]
pub async fn list(
    State(state): State<AppState>,
    AppPath(room): AppPath<RoomId>,
) -> ApiResult<AppJson<Vec<KeywordCard>>> {
    state.rooms.room(room).await?;
    Ok(AppJson(state.rooms.keyword_cards(room).await?))
}

/// Replaces the room's keywords: each lined-up product at most once, each keyword once.
/// The room gets `keywords_updated`.
#[utoipa::path(put, path = routes::ROOM_KEYWORDS, params(("room_id" = i64, Path)), request_body = KeywordsRequest,
    responses((status = 200, body = Vec<KeywordCard>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "a product not in the lineup, or a product or keyword given twice")),
    security(("bearer" = [])), tag = "rooms")]
pub async fn set(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(room): AppPath<RoomId>,
    AppJson(req): AppJson<KeywordsRequest>,
) -> ApiResult<AppJson<Vec<KeywordCard>>> {
    Ok(AppJson(state.rooms.set_keywords(room, &auth.account, req.keywords).await?))
}
