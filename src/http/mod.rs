//! REST handlers, one file per resource. Each parses and authorises, then calls one
//! domain function.

mod agreements;
mod auth;
mod creators;
mod extract;
mod health;
mod orders;
mod products;
mod rooms;

use crate::app::AppState;
use axum::Router;

pub use extract::{AppJson, AppPath, Auth};

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(health::router())
        .merge(auth::router())
        .merge(products::router())
        .merge(creators::router())
        .merge(agreements::router())
        .merge(rooms::router())
        .merge(orders::router())
}
