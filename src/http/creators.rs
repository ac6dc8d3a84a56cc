use super::extract::{AppJson, AppPath, AppQuery, Auth};
use crate::domain::AccountId;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::wire::api::{CommissionBalance, CreatorListQuery, CreatorOrders, ErrorBody, FollowersRequest};
use crate::wire::routes;
use crate::wire::ws::HostCard;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(routes::CREATORS, get(list))
        .route(routes::CREATOR, get(one).put(set_followers))
        .route(routes::CREATOR_ORDERS, get(attributed_orders))
        .route(routes::CREATOR_EARNINGS, get(earnings))
}

#[utoipa::path(get, path = routes::CREATORS, params(("limit" = Option<u32>, Query, description = "1 to 100 creators, 100 by default")),
    responses((status = 200, body = Vec<HostCard>, description = "the most followed creators first"), (status = 400, body = ErrorBody, description = "invalid_input: a limit out of range")), tag = "creators")]
pub async fn list(
    State(state): State<AppState>,
    AppQuery(q): AppQuery<CreatorListQuery>,
) -> ApiResult<AppJson<Vec<HostCard>>> {
    Ok(AppJson(state.accounts.creators(q.limit).await?))
}

#[utoipa::path(get, path = routes::CREATOR, params(("creator_id" = i64, Path)), responses((status = 200, body = HostCard), (status = 404, body = ErrorBody)), tag = "creators")]
pub async fn one(State(state): State<AppState>, AppPath(id): AppPath<AccountId>) -> ApiResult<AppJson<HostCard>> {
    Ok(AppJson(state.accounts.creator(id).await?))
}

#[utoipa::path(put, path = routes::CREATOR, params(("creator_id" = i64, Path)), request_body = FollowersRequest, responses((status = 204, description = "updated"), (status = 400, body = ErrorBody, description = "invalid input"), (status = 401, body = ErrorBody, description = "no valid session"), (status = 403, body = ErrorBody)), security(("bearer" = [])), tag = "creators")]
pub async fn set_followers(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<AccountId>,
    AppJson(req): AppJson<FollowersRequest>,
) -> ApiResult<StatusCode> {
    state.accounts.set_followers(&auth.account, id, req.followers).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = routes::CREATOR_ORDERS, params(("creator_id" = i64, Path)), responses((status = 200, body = CreatorOrders), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)), security(("bearer" = [])), tag = "creators")]
pub async fn attributed_orders(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<AccountId>,
) -> ApiResult<AppJson<CreatorOrders>> {
    Ok(AppJson(state.commerce.orders_of_creator(&auth.account, id).await?))
}

/// The creator's commission, per currency, from the commission ledger.
#[utoipa::path(get, path = routes::CREATOR_EARNINGS, params(("creator_id" = i64, Path)), responses((status = 200, body = Vec<CommissionBalance>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)), security(("bearer" = [])), tag = "creators")]
pub async fn earnings(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<AccountId>,
) -> ApiResult<AppJson<Vec<CommissionBalance>>> {
    Ok(AppJson(state.commerce.earnings(&auth.account, id).await?))
}
