use super::extract::{AppJson, AppPath, Auth};
use crate::domain::{BrandId, OrderId};
use crate::error::ApiResult;
use crate::state::AppState;
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
pub async fn mine(State(state): State<AppState>, auth: Auth) -> ApiResult<AppJson<Vec<OrderView>>> {
    Ok(AppJson(state.commerce.orders_of_buyer(&auth.account).await?))
}

#[utoipa::path(get, path = routes::ORDER, params(("order_id" = i64, Path)), responses((status = 200, body = OrderView), (status = 404, body = ErrorBody)), security(("bearer" = [])), tag = "orders")]
pub async fn one(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<OrderId>,
) -> ApiResult<AppJson<OrderView>> {
    Ok(AppJson(state.commerce.order(&auth.account, id).await?))
}

#[utoipa::path(get, path = routes::BRAND_ORDERS, params(("brand_id" = i64, Path)), responses((status = 200, body = Vec<OrderView>), (status = 403, body = ErrorBody)), security(("bearer" = [])), tag = "orders")]
pub async fn of_brand(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(brand): AppPath<BrandId>,
) -> ApiResult<AppJson<Vec<OrderView>>> {
    Ok(AppJson(state.commerce.orders_of_brand(&auth.account, brand).await?))
}
