//! Extractors that reject bad input with our error body instead of axum's plain text.

use crate::accounts::AccountError;
use crate::error::ApiError;
use crate::peer::client_ip;
use crate::state::AppState;
use crate::store::AccountRow;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::net::{IpAddr, SocketAddr};

/// JSON in and out with our error shape.
pub struct AppJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for AppJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(AppJson(v)),
            Err(JsonRejection::JsonSyntaxError(_)) => Err(ApiError::malformed_json()),
            Err(e) => Err(ApiError::bad_request(e.body_text())),
        }
    }
}

impl<T: Serialize> IntoResponse for AppJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// A body read whole, as sent (a signed webhook, an SDP offer), with our error shape when
/// it cannot be: over the size limit, or not whole by the body deadline.
pub struct RawBody(pub Bytes);

impl FromRequest<AppState> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(|e: BytesRejection| ApiError::bad_request(e.body_text()))
    }
}

/// Path parameters parsed into typed ids.
pub struct AppPath<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for AppPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| AppPath(v))
            .map_err(|e: PathRejection| ApiError::bad_request(e.body_text()))
    }
}

/// Query strings parsed into typed values.
pub struct AppQuery<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for AppQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| AppQuery(v))
            .map_err(|e: QueryRejection| ApiError::bad_request(e.body_text()))
    }
}

/// The address of the client a request came from: the peer, or, when the peer is a
/// trusted balancer, the last address in `X-Forwarded-For` that is not one. `None` when
/// the server was not told its peers' addresses.
pub struct ClientAddr(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
            return Ok(ClientAddr(None));
        };
        Ok(ClientAddr(Some(client_ip(peer.ip(), &parts.headers, &state.config.trusted_proxies))))
    }
}

/// The signed-in account, from `Authorization: Bearer <token>`.
pub struct Auth {
    pub account: AccountRow,
    pub token: String,
}

/// The token of `Authorization: Bearer <token>`, if the request carries one.
fn bearer_token(parts: &Parts) -> Option<String> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    Some(value.strip_prefix("Bearer ")?.trim().to_owned())
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(parts).ok_or(AccountError::Unauthenticated)?;
        let account = state.accounts.authenticate(&token).await?.account;
        Ok(Auth { account, token })
    }
}

/// For a public route that shows more to some callers (a rehearsal's card, its stream):
/// the bearer token as sent, which may be a session's or another secret (a rehearsal's
/// audience key), and the account it signs in when it is a live session's. A missing or
/// refused token is a guest, never an error, so a stale token does not lose a guest's
/// view.
pub struct Bearer {
    pub token: Option<String>,
    pub account: Option<AccountRow>,
}

impl FromRequestParts<AppState> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(token) = bearer_token(parts) else { return Ok(Bearer { token: None, account: None }) };
        let account = match state.accounts.authenticate(&token).await {
            Ok(auth) => Some(auth.account),
            Err(AccountError::Unauthenticated) => None,
            Err(e) => return Err(e.into()),
        };
        Ok(Bearer { token: Some(token), account })
    }
}

/// `Option<Auth>`: `None` for a request without `Authorization` (a guest); a token that is
/// given must be valid (401 otherwise), as for [`Auth`].
impl axum::extract::OptionalFromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Option<Self>, ApiError> {
        if !parts.headers.contains_key(AUTHORIZATION) {
            return Ok(None);
        }
        <Auth as FromRequestParts<AppState>>::from_request_parts(parts, state).await.map(Some)
    }
}
