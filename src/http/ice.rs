//! `GET /api/ice`: the STUN and TURN servers a WHIP or WHEP client puts in its peer
//! connection, TURN ones with credentials that expire (`LIVECART_TURN_SECRET`,
//! `LIVECART_TURN_TTL_SECS`). Guests get them too: most viewers watch without an
//! account, and those behind carrier NAT reach the node only through the relay.

use super::extract::{AppJson, Auth};
use crate::media::IceUser;
use crate::state::AppState;
use crate::wire::api::IceConfig;
use crate::wire::routes;
use axum::Router;
use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::routing::get;

pub fn router() -> Router<AppState> {
    Router::new().route(routes::ICE, get(ice_servers))
}

/// The ICE servers for this client; signed in, its TURN username names the account.
#[utoipa::path(get, path = routes::ICE,
    responses((status = 200, body = IceConfig, description = "STUN/TURN servers for RTCPeerConnection's iceServers; TURN credentials expire at expires_at"),
        (status = 401, body = crate::wire::api::ErrorBody, description = "an Authorization header with a token that is not valid")),
    security((), ("bearer" = [])), tag = "media")]
pub async fn ice_servers(
    State(state): State<AppState>,
    auth: Option<Auth>,
) -> ([(axum::http::HeaderName, &'static str); 1], AppJson<IceConfig>) {
    let user = auth.map_or(IceUser::Guest, |auth| IceUser::Account(auth.account.id));
    // Credentials: never cached by a browser or a proxy, so none outlives its page.
    ([(CACHE_CONTROL, "no-store")], AppJson(state.ice.for_client(user)))
}
