use super::extract::{AppJson, AppPath, AppQuery, Auth};
use crate::domain::AgreementId;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::wire::api::{AgreementListQuery, AgreementView, ErrorBody, NewAgreementRequest};
use crate::wire::routes;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};

pub fn router() -> Router<AppState> {
    Router::new().route(routes::AGREEMENTS, get(list).post(create)).route(routes::AGREEMENT, delete(end))
}

#[utoipa::path(get, path = routes::AGREEMENTS,
    params(("limit" = Option<u32>, Query, description = "1 to 100 agreements, 100 by default"),
        ("before" = Option<i64>, Query, description = "only agreements with a smaller id: the last id of the page before")),
    responses((status = 200, body = Vec<AgreementView>, description = "the newest first (highest id)"), (status = 400, body = ErrorBody, description = "invalid_input: a limit out of range"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "neither a brand member nor a creator")),
    security(("bearer" = [])), tag = "agreements")]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    AppQuery(q): AppQuery<AgreementListQuery>,
) -> ApiResult<AppJson<Vec<AgreementView>>> {
    Ok(AppJson(state.commerce.agreements(&auth.account, q).await?))
}

#[utoipa::path(post, path = routes::AGREEMENTS, request_body = NewAgreementRequest, responses((status = 201, body = AgreementView), (status = 400, body = ErrorBody, description = "invalid input"), (status = 401, body = ErrorBody, description = "no valid session"), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])), tag = "agreements")]
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    AppJson(req): AppJson<NewAgreementRequest>,
) -> ApiResult<(StatusCode, AppJson<AgreementView>)> {
    Ok((StatusCode::CREATED, AppJson(state.commerce.create_agreement(&auth.account, req).await?)))
}

#[utoipa::path(delete, path = routes::AGREEMENT, params(("agreement_id" = i64, Path)), responses((status = 204, description = "ended"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "no such agreement"), (status = 409, body = ErrorBody)), security(("bearer" = [])), tag = "agreements")]
pub async fn end(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<AgreementId>,
) -> ApiResult<StatusCode> {
    state.commerce.end_agreement(&auth.account, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
