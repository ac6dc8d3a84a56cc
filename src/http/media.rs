//! WHIP and WHEP (RFC 9725 and its viewer twin): an SDP offer in, an SDP answer out with
//! every candidate, a `Location` to `DELETE` when done. CORS is open on these routes so
//! browser clients on other origins can use them.

use super::extract::{AppPath, Auth, Bearer, ClientAddr, RawBody};
use crate::domain::RoomId;
use crate::error::{ApiError, ApiResult, Code};
use crate::media::SessionId;
use crate::peer::address_key;
use crate::room::stream::Watcher;
use crate::state::AppState;
use crate::wire::routes::{self, path};
use axum::Router;
use axum::extract::{FromRequest, Request, State};
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tower_http::cors::{Any, CorsLayer};

pub fn router() -> Router<AppState> {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::POST, Method::DELETE, Method::OPTIONS])
        .allow_headers([axum::http::header::AUTHORIZATION, CONTENT_TYPE])
        .expose_headers([LOCATION]);
    Router::new()
        .route(routes::WHIP, post(publish))
        .route(routes::WHIP_SESSION, axum::routing::delete(unpublish))
        .route(routes::WHEP, post(watch))
        .route(routes::WHEP_SESSION, axum::routing::delete(unwatch))
        .layer(cors)
}

/// A WHIP or WHEP offer: SDP text. One labelled otherwise is refused (415) before its
/// body is read; one that is not UTF-8 is `invalid_input`.
pub struct SdpOffer(String);

impl FromRequest<AppState> for SdpOffer {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let sdp = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/sdp")));
        if !sdp {
            return Err(ApiError::new(Code::UnsupportedMediaType, "send the offer as application/sdp"));
        }
        let RawBody(body) = RawBody::from_request(req, state).await?;
        String::from_utf8(body.into()).map(SdpOffer).map_err(|_| ApiError::bad_request("the offer is not UTF-8 text"))
    }
}

/// A session's URL. With `LIVECART_PUBLIC_URL` set it is absolute, on this node's public
/// URL: behind a balancer, the `DELETE` must reach the node that holds the session, not
/// whichever node the balancer picks. Otherwise (one node) it is the path.
fn session_url(state: &AppState, path: String) -> String {
    match state.config.public_url.as_deref().map(|url| url.trim().trim_end_matches('/')) {
        Some(base) if !base.is_empty() => format!("{base}{path}"),
        _ => path,
    }
}

fn created(location: String, answer: String) -> Response {
    let mut response = (StatusCode::CREATED, answer).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/sdp"));
    if let Ok(location) = HeaderValue::from_str(&location) {
        headers.insert(LOCATION, location);
    }
    response
}

#[utoipa::path(post, path = routes::WHIP, params(("room_id" = i64, Path)), request_body(content = String, content_type = "application/sdp"),
    responses((status = 201, description = "SDP answer; Location names the session"), (status = 403, body = crate::wire::api::ErrorBody), (status = 409, body = crate::wire::api::ErrorBody, description = "room not live"), (status = 415, body = crate::wire::api::ErrorBody)),
    security(("bearer" = [])), tag = "media")]
pub async fn publish(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(room): AppPath<RoomId>,
    SdpOffer(offer): SdpOffer,
) -> ApiResult<Response> {
    let (session, answer) = state.rooms.publish(room, &auth.account, offer).await?;
    Ok(created(session_url(&state, path(routes::WHIP_SESSION, &[room.get(), session as i64])), answer))
}

#[utoipa::path(delete, path = routes::WHIP_SESSION, params(("room_id" = i64, Path), ("session_id" = u64, Path)),
    responses((status = 204, description = "stream stopped, or the session had already ended"), (status = 401, body = crate::wire::api::ErrorBody), (status = 403, body = crate::wire::api::ErrorBody, description = "not the room's host"), (status = 404, body = crate::wire::api::ErrorBody, description = "no such room, or a session of a room still open that is unknown here")), security(("bearer" = [])), tag = "media")]
pub async fn unpublish(
    State(state): State<AppState>,
    auth: Auth,
    AppPath((room, session)): AppPath<(RoomId, SessionId)>,
) -> ApiResult<StatusCode> {
    state.rooms.unpublish(room, &auth.account, session).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Watches a live room's stream: anyone, without a token. A rehearsal's only with
/// `Authorization: Bearer` and its audience key or the session token of its host or a
/// moderator.
#[utoipa::path(post, path = routes::WHEP, params(("room_id" = i64, Path)), request_body(content = String, content_type = "application/sdp"),
    responses((status = 201, description = "SDP answer; Location names the session"), (status = 403, body = crate::wire::api::ErrorBody, description = "rehearsal_private: a rehearsal, and the bearer is not one it admits"), (status = 409, body = crate::wire::api::ErrorBody, description = "room not live or not streaming"), (status = 415, body = crate::wire::api::ErrorBody), (status = 429, body = crate::wire::api::ErrorBody, description = "too_many_connections: this address already watches as many streams on this node as it may")),
    tag = "media")]
pub async fn watch(
    State(state): State<AppState>,
    bearer: Bearer,
    client: ClientAddr,
    AppPath(room): AppPath<RoomId>,
    SdpOffer(offer): SdpOffer,
) -> ApiResult<Response> {
    let watcher = Watcher {
        account: bearer.account.as_ref(),
        bearer: bearer.token.as_deref(),
        client: client.0.map(address_key),
    };
    let (session, answer) = state.rooms.watch(room, offer, watcher).await?;
    Ok(created(session_url(&state, path(routes::WHEP_SESSION, &[room.get(), session as i64])), answer))
}

#[utoipa::path(delete, path = routes::WHEP_SESSION, params(("room_id" = i64, Path), ("session_id" = u64, Path)),
    responses((status = 204, description = "session ended, or it had already ended"), (status = 404, body = crate::wire::api::ErrorBody, description = "no such room, or a session of a room still open that is unknown here")), tag = "media")]
pub async fn unwatch(
    State(state): State<AppState>,
    AppPath((room, session)): AppPath<(RoomId, SessionId)>,
) -> ApiResult<StatusCode> {
    state.rooms.unwatch(room, session).await?;
    Ok(StatusCode::NO_CONTENT)
}
