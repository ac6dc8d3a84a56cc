use super::extract::{AppJson, Auth, ClientAddr};
use crate::accounts::{Registration, Session};
use crate::domain::{Email, Password, Role, Tier};
use crate::error::ApiResult;
use crate::state::AppState;
use crate::store::AccountRow;
use crate::wire::api::{AccountView, ErrorBody, LoginRequest, RegisterRequest, SessionResponse};
use crate::wire::routes;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(routes::REGISTER, post(register))
        .route(routes::LOGIN, post(login))
        .route(routes::LOGOUT, post(logout))
        .route(routes::ME, get(me))
}

pub fn account_view(a: &AccountRow) -> AccountView {
    AccountView {
        id: a.id,
        email: a.email.clone(),
        display_name: a.display_name.clone(),
        role: a.role,
        brand_id: a.brand_id,
        followers: a.follower_count,
        tier: (a.role == Role::Creator).then(|| Tier::for_followers(a.follower_count)),
    }
}

fn session_response(s: Session) -> AppJson<SessionResponse> {
    AppJson(SessionResponse { account: account_view(&s.account), token: s.token })
}

#[utoipa::path(post, path = routes::REGISTER, request_body = RegisterRequest, responses((status = 201, body = SessionResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody, description = "`forbidden`: the admin role, which an operator grants"), (status = 409, body = ErrorBody, description = "e-mail or brand name taken")), tag = "accounts")]
pub async fn register(
    State(state): State<AppState>,
    AppJson(req): AppJson<RegisterRequest>,
) -> ApiResult<(StatusCode, AppJson<SessionResponse>)> {
    let registration = Registration {
        email: Email::try_from(req.email)?,
        password: Password::try_from(req.password)?,
        display_name: req.display_name,
        role: req.role,
        brand_name: req.brand_name,
    };
    let session = state.accounts.register(registration).await?;
    Ok((StatusCode::CREATED, session_response(session)))
}

#[utoipa::path(post, path = routes::LOGIN, request_body = LoginRequest, responses((status = 200, body = SessionResponse), (status = 400, body = ErrorBody, description = "`invalid_input`: a field out of its limits (a password of fewer than 8 characters is never one an account has)"), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody, description = "too many failed sign-ins from this address: wait Retry-After seconds")), tag = "accounts")]
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(from): ClientAddr,
    AppJson(req): AppJson<LoginRequest>,
) -> ApiResult<AppJson<SessionResponse>> {
    let session = state.accounts.login(Email::try_from(req.email)?, Password::try_from(req.password)?, from).await?;
    Ok(session_response(session))
}

#[utoipa::path(post, path = routes::LOGOUT, responses((status = 204, description = "session revoked"), (status = 401, body = ErrorBody)), security(("bearer" = [])), tag = "accounts")]
pub async fn logout(State(state): State<AppState>, auth: Auth) -> ApiResult<StatusCode> {
    state.accounts.logout(&auth.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = routes::ME, responses((status = 200, body = AccountView), (status = 401, body = ErrorBody)), security(("bearer" = [])), tag = "accounts")]
pub async fn me(auth: Auth) -> AppJson<AccountView> {
    AppJson(account_view(&auth.account))
}
