use super::extract::AppJson;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::wire::api::{ErrorBody, Readiness};
use crate::wire::routes;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

pub fn router() -> Router<AppState> {
    Router::new().route(routes::HEALTH, get(health)).route(routes::READY, get(ready))
}

/// Liveness: the process serves requests.
#[utoipa::path(get, path = routes::HEALTH, responses((status = 200, description = "alive")), tag = "operations")]
pub async fn health() -> StatusCode {
    StatusCode::OK
}

/// Readiness: the database (and Redis, when scaled out) answer.
#[utoipa::path(get, path = routes::READY, responses((status = 200, body = Readiness), (status = 503, body = ErrorBody)), tag = "operations")]
pub async fn ready(State(state): State<AppState>) -> ApiResult<AppJson<Readiness>> {
    state.store.ping().await.map_err(ApiError::unavailable)?;
    if let Some(redis) = &state.redis {
        redis.ping().await.map_err(ApiError::unavailable)?;
    }
    Ok(AppJson(Readiness { database: "ok", redis: state.redis.as_ref().map(|_| "ok") }))
}
