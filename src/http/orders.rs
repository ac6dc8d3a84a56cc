use super::extract::{AppJson, AppPath, Auth};
use crate::domain::{BrandId, OrderId};
use crate::error::ApiResult;
use crate::state::AppState;
use crate::wire::api::{AttributedOrder, ErrorBody, RefundRequest, RefundView};
use crate::wire::routes;
use crate::wire::ws::OrderView;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(routes::ORDERS, get(mine))
        .route(routes::ORDER, get(one))
        .route(routes::BRAND_ORDERS, get(of_brand))
        .route(routes::ORDER_REFUNDS, get(refunds).post(refund))
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

#[utoipa::path(get, path = routes::BRAND_ORDERS, params(("brand_id" = i64, Path)), responses((status = 200, body = Vec<AttributedOrder>), (status = 403, body = ErrorBody)), security(("bearer" = [])), tag = "orders")]
pub async fn of_brand(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(brand): AppPath<BrandId>,
) -> ApiResult<AppJson<Vec<AttributedOrder>>> {
    Ok(AppJson(state.commerce.orders_of_brand(&auth.account, brand).await?))
}

/// Refunds units of a paid order (all the caller may refund when `lines` is absent). A
/// brand refunds its own lines, an admin any. The answer is the refund as it stands:
/// `refunded`, `refund_failed`, or `pending` (retry with the same key).
#[utoipa::path(post, path = routes::ORDER_REFUNDS, params(("order_id" = i64, Path)), request_body = RefundRequest,
    responses((status = 201, body = RefundView),
        (status = 400, body = ErrorBody, description = "invalid input: an empty `lines`, or a product named twice"),
        (status = 401, body = ErrorBody, description = "no valid session"),
        (status = 403, body = ErrorBody, description = "not a brand or an admin, or a line of another brand"),
        (status = 404, body = ErrorBody, description = "no such order, or (to a brand) none of its lines in it"),
        (status = 409, body = ErrorBody, description = "not paid, or nothing left to refund")),
    security(("bearer" = [])), tag = "orders")]
pub async fn refund(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<OrderId>,
    AppJson(req): AppJson<RefundRequest>,
) -> ApiResult<(StatusCode, AppJson<RefundView>)> {
    Ok((StatusCode::CREATED, AppJson(state.commerce.refund(&auth.account, id, req).await?)))
}

#[utoipa::path(get, path = routes::ORDER_REFUNDS, params(("order_id" = i64, Path)),
    responses((status = 200, body = Vec<RefundView>), (status = 404, body = ErrorBody)), security(("bearer" = [])), tag = "orders")]
pub async fn refunds(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<OrderId>,
) -> ApiResult<AppJson<Vec<RefundView>>> {
    Ok(AppJson(state.commerce.refunds(&auth.account, id).await?))
}
