//! The edge's one error type. Every domain error is mapped here, and only here, to one
//! HTTP status and one stable machine-readable code, used alike in REST bodies and
//! WebSocket `error` frames. Faults of our own keep their cause chain for the log and
//! reach clients only as "internal error".

use crate::accounts::AccountError;
use crate::commerce::{CartError, CommerceError};
use crate::domain::{Invalid, Refusal};
use crate::media::MediaError;
use crate::room::RoomError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::error::Error as StdError;

type Cause = Box<dyn StdError + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
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
    /// The request does not fit the current state; the message says why.
    #[error("{0}")]
    Conflict(String),
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
    /// A backend the node depends on does not answer; the cause is logged.
    #[error("not ready")]
    Unavailable(#[source] Cause),
    /// A fault of ours; the cause is logged, never sent.
    #[error("internal error")]
    Internal(#[source] Cause),
}

impl ApiError {
    pub fn internal(cause: impl StdError + Send + Sync + 'static) -> Self {
        ApiError::Internal(Box::new(cause))
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MalformedJson => "malformed_json",
            ApiError::FrameTooLarge(_) => "frame_too_large",
            ApiError::UnknownMessage(_) => "unknown_message",
            ApiError::Invalid(_) | ApiError::BadRequest(_) => "invalid_input",
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::BadCredentials => "bad_credentials",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::NotJoined => "not_joined",
            ApiError::AlreadyJoined => "already_joined",
            ApiError::RateLimited => "rate_limited",
            ApiError::RoomNotLive => "room_not_live",
            ApiError::NotInLineup => "not_in_lineup",
            ApiError::DropRunning => "drop_running",
            ApiError::SoldOut { .. } => "sold_out",
            ApiError::CartEmpty => "cart_empty",
            ApiError::MixedCurrency => "mixed_currency",
            ApiError::PaymentDeclined(_) => "payment_declined",
            ApiError::PaymentUnavailable => "payment_unavailable",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::NotStreaming => "not_streaming",
            ApiError::StreamElsewhere(_) => "stream_elsewhere",
            ApiError::HoldExpired => "hold_expired",
            ApiError::IdempotencyMismatch => "idempotency_mismatch",
            ApiError::CheckoutInProgress => "checkout_in_progress",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MalformedJson
            | ApiError::FrameTooLarge(_)
            | ApiError::UnknownMessage(_)
            | ApiError::Invalid(_)
            | ApiError::BadRequest(_)
            | ApiError::CartEmpty
            | ApiError::MixedCurrency => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated | ApiError::BadCredentials => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_)
            | ApiError::NotJoined
            | ApiError::AlreadyJoined
            | ApiError::RoomNotLive
            | ApiError::NotInLineup
            | ApiError::DropRunning
            | ApiError::SoldOut { .. }
            | ApiError::HoldExpired
            | ApiError::CheckoutInProgress
            | ApiError::NotStreaming => StatusCode::CONFLICT,
            ApiError::IdempotencyMismatch => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::StreamElsewhere(_) => StatusCode::TEMPORARY_REDIRECT,
            ApiError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ApiError::PaymentDeclined(_) => StatusCode::PAYMENT_REQUIRED,
            ApiError::PaymentUnavailable | ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message a client may see. A fault of ours is logged here, with its causes.
    pub fn public_message(&self) -> String {
        match self {
            ApiError::Internal(cause) => {
                tracing::error!(error = cause.as_ref() as &dyn StdError, "internal error");
            }
            ApiError::Unavailable(cause) => {
                tracing::warn!(error = cause.as_ref() as &dyn StdError, "not ready");
            }
            _ => {}
        }
        self.to_string()
    }
}

impl From<Refusal> for ApiError {
    fn from(e: Refusal) -> Self {
        match e {
            Refusal::NotFound(what) => ApiError::NotFound(what),
            Refusal::Forbidden(why) => ApiError::Forbidden(why),
            Refusal::Conflict(why) => ApiError::Conflict(why.to_owned()),
            Refusal::Invalid(e) => ApiError::Invalid(e),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Refused(r) => r.into(),
            AccountError::Unauthenticated => ApiError::Unauthenticated,
            AccountError::BadCredentials => ApiError::BadCredentials,
            AccountError::Password(_) | AccountError::Store(_) => ApiError::internal(e),
        }
    }
}

impl From<CartError> for ApiError {
    fn from(e: CartError) -> Self {
        match e {
            CartError::Invalid(e) => ApiError::Invalid(e),
            CartError::TooManyLines => ApiError::BadRequest(e.to_string()),
            CartError::Busy => ApiError::Conflict(e.to_string()),
            CartError::Redis(_) => ApiError::internal(e),
        }
    }
}

impl From<CommerceError> for ApiError {
    fn from(e: CommerceError) -> Self {
        match e {
            CommerceError::Refused(r) => r.into(),
            CommerceError::RoomNotLive => ApiError::RoomNotLive,
            CommerceError::NotInLineup => ApiError::NotInLineup,
            CommerceError::SoldOut { title, available } => ApiError::SoldOut { title, available },
            CommerceError::CartEmpty => ApiError::CartEmpty,
            CommerceError::MixedCurrency => ApiError::MixedCurrency,
            CommerceError::Cart(e) => e.into(),
            CommerceError::PaymentDeclined(reason) => ApiError::PaymentDeclined(reason),
            CommerceError::PaymentUnavailable => ApiError::PaymentUnavailable,
            CommerceError::HoldExpired => ApiError::HoldExpired,
            CommerceError::IdempotencyMismatch => ApiError::IdempotencyMismatch,
            CommerceError::CheckoutInProgress => ApiError::CheckoutInProgress,
            CommerceError::Store(_) | CommerceError::Inventory(_) | CommerceError::Bus(_) => ApiError::internal(e),
        }
    }
}

impl From<MediaError> for ApiError {
    fn from(e: MediaError) -> Self {
        match e {
            MediaError::BadSdp(_) => ApiError::BadRequest(e.to_string()),
            MediaError::NotStreaming => ApiError::NotStreaming,
            MediaError::NoSession => ApiError::NotFound("media session"),
            MediaError::Peer(_) | MediaError::NoRuntime | MediaError::NoLocalDescription => ApiError::internal(e),
        }
    }
}

impl From<RoomError> for ApiError {
    fn from(e: RoomError) -> Self {
        match e {
            RoomError::Refused(r) => r.into(),
            RoomError::NotLive => ApiError::RoomNotLive,
            RoomError::NotInLineup => ApiError::NotInLineup,
            RoomError::DropRunning => ApiError::DropRunning,
            RoomError::RateLimited => ApiError::RateLimited,
            RoomError::SignInFirst => ApiError::Unauthenticated,
            RoomError::StreamElsewhere(location) => ApiError::StreamElsewhere(location),
            RoomError::Commerce(e) => e.into(),
            RoomError::Media(e) => e.into(),
            RoomError::Bus(_) | RoomError::Store(_) => ApiError::internal(e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code(), "message": self.public_message() } });
        let mut response = (self.status(), Json(body)).into_response();
        if let ApiError::StreamElsewhere(location) = &self {
            if let Ok(location) = axum::http::HeaderValue::from_str(location) {
                response.headers_mut().insert(axum::http::header::LOCATION, location);
            }
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
