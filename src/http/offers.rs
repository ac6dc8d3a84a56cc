//! The caller's open offers (an auction won): what is held for them, until when. Notices
//! of new offers are best-effort; this is where an app that missed one finds it.

use super::extract::{AppJson, Auth};
use crate::error::ApiResult;
use crate::state::AppState;
use crate::wire::api::ErrorBody;
use crate::wire::routes;
use crate::wire::ws::OfferView;
use axum::Router;
use axum::extract::State;
use axum::routing::get;

pub fn router() -> Router<AppState> {
    Router::new().route(routes::OFFERS, get(mine))
}

/// The caller's open offers, soonest to run out first: pay one with `pay_offer`
/// (docs/protocol.md, 4.22) before its `expires_at`.
#[utoipa::path(get, path = routes::OFFERS, responses((status = 200, body = Vec<OfferView>), (status = 401, body = ErrorBody)),
    security(("bearer" = [])), tag = "accounts")]
pub async fn mine(State(state): State<AppState>, auth: Auth) -> ApiResult<AppJson<Vec<OfferView>>> {
    Ok(AppJson(state.commerce.open_offers(auth.account.id).await?))
}
