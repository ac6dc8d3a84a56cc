//! The caller's wallet for one-tap buy: the saved payment method and shipping address.
//! Only the account itself reads or changes it: every route acts on the caller's own.

use super::extract::{AppJson, Auth};
use crate::domain::ShippingAddress;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::wire::api::{ErrorBody, SaveCardRequest, WalletView};
use crate::wire::routes;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(routes::WALLET, get(wallet))
        .route(routes::WALLET_PAYMENT_METHOD, put(save_card).delete(remove_card))
        .route(routes::WALLET_SHIPPING_ADDRESS, put(save_address).delete(remove_address))
}

/// The caller's saved payment method (brand and last four digits only) and shipping address.
#[utoipa::path(get, path = routes::WALLET, responses((status = 200, body = WalletView), (status = 401, body = ErrorBody)),
    security(("bearer" = [])), tag = "accounts")]
pub async fn wallet(State(state): State<AppState>, auth: Auth) -> ApiResult<AppJson<WalletView>> {
    Ok(AppJson(state.commerce.wallet(&auth.account).await?))
}

/// Saves a card as the caller's payment method, in place of the one saved before: the
/// payment provider keeps it (and checks it: a card it refuses is `payment_declined`,
/// and nothing changes); livecart keeps only its reference. Nothing is charged.
#[utoipa::path(put, path = routes::WALLET_PAYMENT_METHOD, request_body = SaveCardRequest,
    responses((status = 200, body = WalletView), (status = 400, body = ErrorBody, description = "invalid input"),
        (status = 401, body = ErrorBody), (status = 402, body = ErrorBody, description = "payment_declined: the provider will not keep this card"),
        (status = 503, body = ErrorBody, description = "payment_unavailable: nothing was saved; try again")),
    security(("bearer" = [])), tag = "accounts")]
pub async fn save_card(
    State(state): State<AppState>,
    auth: Auth,
    AppJson(req): AppJson<SaveCardRequest>,
) -> ApiResult<AppJson<WalletView>> {
    Ok(AppJson(state.commerce.save_card(&auth.account, &req.card).await?))
}

/// Removes the caller's saved payment method (the provider forgets it). Idempotent.
#[utoipa::path(delete, path = routes::WALLET_PAYMENT_METHOD,
    responses((status = 204, description = "no payment method is saved now"), (status = 401, body = ErrorBody)),
    security(("bearer" = [])), tag = "accounts")]
pub async fn remove_card(State(state): State<AppState>, auth: Auth) -> ApiResult<StatusCode> {
    state.commerce.remove_card(&auth.account).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Saves the caller's shipping address, in place of the one saved before.
#[utoipa::path(put, path = routes::WALLET_SHIPPING_ADDRESS, request_body = ShippingAddress,
    responses((status = 200, body = WalletView), (status = 400, body = ErrorBody, description = "invalid input: a field out of its bounds"),
        (status = 401, body = ErrorBody)),
    security(("bearer" = [])), tag = "accounts")]
pub async fn save_address(
    State(state): State<AppState>,
    auth: Auth,
    AppJson(address): AppJson<ShippingAddress>,
) -> ApiResult<AppJson<WalletView>> {
    Ok(AppJson(state.commerce.save_shipping_address(&auth.account, &address).await?))
}

/// Removes the caller's shipping address. Idempotent.
#[utoipa::path(delete, path = routes::WALLET_SHIPPING_ADDRESS,
    responses((status = 204, description = "no shipping address is saved now"), (status = 401, body = ErrorBody)),
    security(("bearer" = [])), tag = "accounts")]
pub async fn remove_address(State(state): State<AppState>, auth: Auth) -> ApiResult<StatusCode> {
    state.commerce.remove_shipping_address(&auth.account).await?;
    Ok(StatusCode::NO_CONTENT)
}
