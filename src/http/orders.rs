use super::extract::{AppJson, AppPath, Auth};
use crate::app::AppState;
use crate::commerce::orders;
use crate::domain::{BrandId, OrderId};
use crate::error::AppResult;
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

async fn mine(State(state): State<AppState>, auth: Auth) -> AppResult<AppJson<Vec<OrderView>>> {
    Ok(AppJson(orders::of_buyer(&state, &auth.account).await?))
}

async fn one(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<OrderId>,
) -> AppResult<AppJson<OrderView>> {
    Ok(AppJson(orders::one(&state, &auth.account, id).await?))
}

async fn of_brand(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(brand): AppPath<BrandId>,
) -> AppResult<AppJson<Vec<OrderView>>> {
    Ok(AppJson(orders::of_brand(&state, &auth.account, brand).await?))
}
