//! A giveaway's public record: anyone may check a draw.

use super::extract::{AppJson, AppPath};
use crate::domain::GiveawayId;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::wire::api::{ErrorBody, GiveawayView};
use crate::wire::routes;
use axum::Router;
use axum::extract::State;
use axum::routing::get;

pub fn router() -> Router<AppState> {
    Router::new().route(routes::GIVEAWAY, get(one))
}

/// The giveaway; once drawn, with the seed, the entries (account ids ascending) and the
/// winner, so anyone can recompute the draw (docs/protocol.md, 4.14).
#[utoipa::path(get, path = routes::GIVEAWAY, params(("giveaway_id" = i64, Path)),
    responses((status = 200, body = GiveawayView), (status = 404, body = ErrorBody)), tag = "rooms")]
pub async fn one(State(state): State<AppState>, AppPath(id): AppPath<GiveawayId>) -> ApiResult<AppJson<GiveawayView>> {
    Ok(AppJson(state.rooms.giveaway(id).await?))
}
