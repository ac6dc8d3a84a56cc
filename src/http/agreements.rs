use super::extract::{AppJson, AppPath, Auth};
use crate::app::AppState;
use crate::commerce::catalog;
use crate::domain::AgreementId;
use crate::error::AppResult;
use crate::wire::api::{AgreementView, NewAgreementRequest};
use crate::wire::routes;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};

pub fn router() -> Router<AppState> {
    Router::new().route(routes::AGREEMENTS, get(list).post(create)).route(routes::AGREEMENT, delete(end))
}

async fn list(State(state): State<AppState>, auth: Auth) -> AppResult<AppJson<Vec<AgreementView>>> {
    Ok(AppJson(catalog::agreements(&state, &auth.account).await?))
}

async fn create(
    State(state): State<AppState>,
    auth: Auth,
    AppJson(req): AppJson<NewAgreementRequest>,
) -> AppResult<(StatusCode, AppJson<AgreementView>)> {
    Ok((StatusCode::CREATED, AppJson(catalog::create_agreement(&state, &auth.account, req).await?)))
}

async fn end(State(state): State<AppState>, auth: Auth, AppPath(id): AppPath<AgreementId>) -> AppResult<StatusCode> {
    catalog::end_agreement(&state, &auth.account, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
