//! Deliveries from payment providers: Stripe's webhook.

use super::extract::RawBody;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::wire::routes;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

pub fn router() -> Router<AppState> {
    Router::new().route(routes::STRIPE_WEBHOOK, post(stripe_webhook))
}

/// Stripe's webhook: a payment intent's outcome (`payment_intent.succeeded`,
/// `payment_intent.payment_failed`), signed in `Stripe-Signature` with the endpoint's
/// secret. The body is read raw, as signed. 200 when it was handled or seen before; 400
/// when it cannot be verified (bad or missing signature, more than five minutes old) or
/// read, and then nothing it says is done.
#[utoipa::path(post, path = routes::STRIPE_WEBHOOK,
    request_body(content = String, content_type = "application/json", description = "the event, exactly as Stripe sent it"),
    params(("Stripe-Signature" = String, Header, description = "t=<unix seconds>,v1=<hex HMAC-SHA256>")),
    responses((status = 200, description = "handled, or seen before"),
        (status = 400, body = crate::wire::api::ErrorBody, description = "not verified: nothing was done")),
    tag = "payments")]
pub async fn stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<StatusCode> {
    // A header that is not text is present but malformed, not absent.
    let signature = headers.get("stripe-signature").map(|v| v.to_str().unwrap_or(""));
    state.commerce.payment_webhook(signature, &body).await?;
    Ok(StatusCode::OK)
}
