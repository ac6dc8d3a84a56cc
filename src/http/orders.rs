use super::extract::{AppJson, AppPath, Auth};
use crate::app::AppState;
use crate::commerce::orders;
use crate::domain::{BrandId, OrderId};
use crate::error::AppResult;
use crate::wire::api::ErrorBody;
use crate::wire::routes;
use crate::wire::ws::OrderView;
use axum::Router;
use axum::extract::State;
use axum::routing::get;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(routes::ORDERS, get(mine))
        .route(routes::ORDER, get(one))
        .route(routes::BRAND_ORDERS, get(of_brand))
}

#[utoipa::path(get, path = routes::ORDERS, responses((status = 200, body = Vec<OrderView>), (status = 401, body = ErrorBody)), security(("bearer" = [])), tag = "orders")]
pub async fn mine(State(state): State<AppState>, auth: Auth) -> AppResult<AppJson<Vec<OrderView>>> {
    Ok(AppJson(orders::of_buyer(&state, &auth.account).await?))
}

#[utoipa::path(get, path = routes::ORDER, params(("order_id" = i64, Path)), responses((status = 200, body = OrderView), (status = 404, body = ErrorBody)), security(("bearer" = [])), tag = "orders")]
pub async fn one(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<OrderId>,
) -> AppResult<AppJson<OrderView>> {
    Ok(AppJson(orders::one(&state, &auth.account, id).await?))
}

#[utoipa::path(get, path = routes::BRAND_ORDERS, params(("brand_id" = i64, Path)), responses((status = 200, body = Vec<OrderView>), (status = 403, body = ErrorBody)), security(("bearer" = [])), tag = "orders")]
pub async fn of_brand(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(brand): AppPath<BrandId>,
) -> AppResult<AppJson<Vec<OrderView>>> {
    Ok(AppJson(orders::of_brand(&state, &auth.account, brand).await?))
}
