//! The one error type at the edge. Each variant maps to one HTTP status and one stable
//! machine-readable code, used alike in REST bodies and WebSocket `error` frames.

use crate::domain::Invalid;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("the message is not valid JSON")]
    MalformedJson,
    #[error("frames are limited to {0} bytes")]
    FrameTooLarge(usize),
    #[error("unknown message type {0:?}")]
    UnknownMessage(String),
    #[error("{0}")]
    Invalid(#[from] Invalid),
    /// A body or frame that is JSON but not of the expected shape (missing field, wrong type).
    #[error("{0}")]
    BadRequest(String),
    #[error("sign in first: this needs a valid session token")]
    Unauthenticated,
    #[error("wrong e-mail or password")]
    BadCredentials,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(&'static str),
    #[error("join a room first")]
    NotJoined,
    #[error("this connection has already joined")]
    AlreadyJoined,
    #[error("slow down: too many messages, try again in a moment")]
    RateLimited,
    #[error("the room is not live")]
    RoomNotLive,
    #[error("that product is not in this room's lineup")]
    NotInLineup,
    #[error("a drop is already running in this room")]
    DropRunning,
    #[error("sold out: {title} has {available} left")]
    SoldOut { title: String, available: i64 },
    #[error("the cart is empty")]
    CartEmpty,
    #[error("the cart mixes currencies; check out one currency at a time")]
    MixedCurrency,
    #[error("the card was declined: {0}")]
    PaymentDeclined(String),
    #[error("send the offer as application/sdp")]
    UnsupportedMediaType,
    #[error("the host is not streaming right now; wait for stream_started")]
    NotStreaming,
    /// The room's publisher is on another node: the viewer is redirected there.
    #[error("the stream is served by another node")]
    StreamElsewhere(String),
    #[error("the payment provider is unavailable; retry with the same idempotency key")]
    PaymentUnavailable,
    #[error("the stock hold for this checkout expired; start a new checkout")]
    HoldExpired,
    #[error("this idempotency key was already used for a different checkout")]
    IdempotencyMismatch,
    #[error("a checkout with this idempotency key is still in progress")]
    CheckoutInProgress,
    /// A backend the node depends on does not answer; the detail is logged.
    #[error("not ready")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            AppError::MalformedJson => "malformed_json",
            AppError::FrameTooLarge(_) => "frame_too_large",
            AppError::UnknownMessage(_) => "unknown_message",
            AppError::Invalid(_) | AppError::BadRequest(_) => "invalid_input",
            AppError::Unauthenticated => "unauthenticated",
            AppError::BadCredentials => "bad_credentials",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "not_found",
            AppError::Conflict(_) => "conflict",
            AppError::NotJoined => "not_joined",
            AppError::AlreadyJoined => "already_joined",
            AppError::RateLimited => "rate_limited",
            AppError::RoomNotLive => "room_not_live",
            AppError::NotInLineup => "not_in_lineup",
            AppError::DropRunning => "drop_running",
            AppError::SoldOut { .. } => "sold_out",
            AppError::CartEmpty => "cart_empty",
            AppError::MixedCurrency => "mixed_currency",
            AppError::PaymentDeclined(_) => "payment_declined",
            AppError::PaymentUnavailable => "payment_unavailable",
            AppError::UnsupportedMediaType => "unsupported_media_type",
            AppError::NotStreaming => "not_streaming",
            AppError::StreamElsewhere(_) => "stream_elsewhere",
            AppError::HoldExpired => "hold_expired",
            AppError::IdempotencyMismatch => "idempotency_mismatch",
            AppError::CheckoutInProgress => "checkout_in_progress",
            AppError::Unavailable(_) => "unavailable",
            AppError::Internal(_) => "internal",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::MalformedJson
            | AppError::FrameTooLarge(_)
            | AppError::UnknownMessage(_)
            | AppError::Invalid(_)
            | AppError::BadRequest(_)
            | AppError::CartEmpty
            | AppError::MixedCurrency => StatusCode::BAD_REQUEST,
            AppError::Unauthenticated | AppError::BadCredentials => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_)
            | AppError::NotJoined
            | AppError::AlreadyJoined
            | AppError::RoomNotLive
            | AppError::NotInLineup
            | AppError::DropRunning
            | AppError::SoldOut { .. }
            | AppError::HoldExpired
            | AppError::CheckoutInProgress => StatusCode::CONFLICT,
            AppError::IdempotencyMismatch => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::NotStreaming => StatusCode::CONFLICT,
            AppError::StreamElsewhere(_) => StatusCode::TEMPORARY_REDIRECT,
            AppError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            AppError::PaymentDeclined(_) => StatusCode::PAYMENT_REQUIRED,
            AppError::PaymentUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message a client may see. Internal detail stays in the log.
    pub fn public_message(&self) -> String {
        match self {
            AppError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                self.to_string()
            }
            AppError::Unavailable(detail) => {
                tracing::warn!(%detail, "not ready");
                self.to_string()
            }
            other => other.to_string(),
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        AppError::Internal(format!("database: {e}"))
    }
}

impl From<sqlx::migrate::MigrateError> for AppError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        AppError::Internal(format!("migration: {e}"))
    }
}

impl From<crate::commerce::inventory::InventoryError> for AppError {
    fn from(e: crate::commerce::inventory::InventoryError) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl From<crate::bus::BusError> for AppError {
    fn from(e: crate::bus::BusError) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl From<crate::media::MediaError> for AppError {
    fn from(e: crate::media::MediaError) -> Self {
        use crate::media::MediaError;
        match e {
            MediaError::BadSdp(detail) => AppError::BadRequest(format!("sdp: {detail}")),
            MediaError::NotStreaming => AppError::NotStreaming,
            MediaError::NoSession => AppError::NotFound("media session"),
            MediaError::Peer(detail) => AppError::Internal(format!("media: {detail}")),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code(), "message": self.public_message() } });
        let mut response = (self.status(), Json(body)).into_response();
        if let AppError::StreamElsewhere(location) = &self {
            if let Ok(location) = axum::http::HeaderValue::from_str(location) {
                response.headers_mut().insert(axum::http::header::LOCATION, location);
            }
        }
        response
    }
}

pub type AppResult<T> = Result<T, AppError>;
