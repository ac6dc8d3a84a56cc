//! REST handlers, one file per resource. Each parses and authorises, then calls one
//! domain function.

mod agreements;
mod asyncapi;
mod auth;
mod campaigns;
mod creators;
mod extract;
mod follows;
mod giveaways;
mod health;
mod ice;
mod keywords;
mod media;
mod moderation;
mod offers;
mod openapi;
mod orders;
mod payments;
mod products;
mod promo_codes;
mod reports;
mod rooms;
mod wallet;

use crate::state::AppState;
use axum::Router;

pub use asyncapi::document_text as asyncapi_document;
pub use extract::{AppJson, AppPath, Auth};
pub use openapi::ApiDoc;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(health::router())
        .merge(auth::router())
        .merge(products::router())
        .merge(creators::router())
        .merge(agreements::router())
        .merge(promo_codes::router())
        .merge(rooms::router())
        .merge(orders::router())
        .merge(wallet::router())
        .merge(follows::router())
        .merge(moderation::router())
        .merge(giveaways::router())
        .merge(offers::router())
        .merge(keywords::router())
        .merge(campaigns::router())
        .merge(reports::router())
        .merge(payments::router())
        .merge(media::router())
        .merge(ice::router())
        .merge(openapi::router())
        .merge(asyncapi::router())
        // A known path with a method it does not take: our error body (axum keeps `Allow`).
        .method_not_allowed_fallback(|| async {
            crate::error::ApiError::new(crate::error::Code::MethodNotAllowed, "this path does not take that method")
        })
        // Unknown API paths get our error body, not the web demo's page.
        .route(
            "/api/{*rest}",
            axum::routing::any(|| async { crate::error::ApiError::from(crate::domain::Refusal::NotFound("route")) }),
        )
}
