use super::extract::{AppJson, AppPath, Auth};
use crate::app::AppState;
use crate::commerce::{catalog, orders};
use crate::domain::{AccountId, Role};
use crate::error::{AppError, AppResult};
use crate::room::actions::host_card;
use crate::wire::api::{CreatorOrders, FollowersRequest};
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
}

async fn list(State(state): State<AppState>) -> AppResult<AppJson<Vec<HostCard>>> {
    Ok(AppJson(state.store.creators().await?.iter().map(host_card).collect()))
}

async fn one(State(state): State<AppState>, AppPath(id): AppPath<AccountId>) -> AppResult<AppJson<HostCard>> {
    let creator = state.store.account(id).await?.filter(|a| a.role == Role::Creator);
    Ok(AppJson(host_card(&creator.ok_or(AppError::NotFound("creator"))?)))
}

async fn set_followers(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<AccountId>,
    AppJson(req): AppJson<FollowersRequest>,
) -> AppResult<StatusCode> {
    catalog::set_followers(&state, &auth.account, id, req.followers).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn attributed_orders(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<AccountId>,
) -> AppResult<AppJson<CreatorOrders>> {
    Ok(AppJson(orders::of_creator(&state, &auth.account, id).await?))
}
