use crate::app::AppState;
use crate::wire::routes;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;

pub fn router() -> Router<AppState> {
    Router::new().route(routes::HEALTH, get(|| async { StatusCode::OK }))
}
