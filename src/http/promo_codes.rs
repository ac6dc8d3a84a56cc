use super::extract::{AppJson, AppPath, Auth};
use crate::domain::PromoCodeId;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::wire::api::{ErrorBody, NewPromoCodeRequest, PromoCodeView};
use crate::wire::routes;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};

pub fn router() -> Router<AppState> {
    Router::new().route(routes::PROMO_CODES, get(list).post(create)).route(routes::PROMO_CODE, delete(revoke))
}

/// The codes the caller may see, live ones first (at most 1,000): a brand member its
/// brand's, a creator those issued to them, an admin all.
#[utoipa::path(get, path = routes::PROMO_CODES, responses((status = 200, body = Vec<PromoCodeView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "viewers have no codes")), security(("bearer" = [])), tag = "promo codes")]
pub async fn list(State(state): State<AppState>, auth: Auth) -> ApiResult<AppJson<Vec<PromoCodeView>>> {
    Ok(AppJson(state.commerce.promo_codes(&auth.account).await?))
}

/// A brand issues a code to a creator it has an active agreement with: `percent_off` or
/// `amount_off`, on some of its products, optionally capped in uses and time.
#[utoipa::path(post, path = routes::PROMO_CODES, request_body = NewPromoCodeRequest,
    responses((status = 201, body = PromoCodeView), (status = 400, body = ErrorBody, description = "invalid input"),
        (status = 401, body = ErrorBody, description = "no valid session"), (status = 403, body = ErrorBody, description = "not a brand member, or a product of another brand"),
        (status = 404, body = ErrorBody, description = "no such creator"),
        (status = 409, body = ErrorBody, description = "the code is taken, the brand has no active agreement with the creator, or holds 1,000 live codes")),
    security(("bearer" = [])), tag = "promo codes")]
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    AppJson(req): AppJson<NewPromoCodeRequest>,
) -> ApiResult<(StatusCode, AppJson<PromoCodeView>)> {
    Ok((StatusCode::CREATED, AppJson(state.commerce.create_promo_code(&auth.account, req).await?)))
}

/// Revokes a code (its brand, or an admin): no checkout accepts it from then on.
#[utoipa::path(delete, path = routes::PROMO_CODE, params(("promo_code_id" = i64, Path)),
    responses((status = 204, description = "revoked"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "already revoked")),
    security(("bearer" = [])), tag = "promo codes")]
pub async fn revoke(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<PromoCodeId>,
) -> ApiResult<StatusCode> {
    state.commerce.revoke_promo_code(&auth.account, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
