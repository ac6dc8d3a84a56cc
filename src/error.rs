//! The edge's one error type. Every domain error is mapped here, and only here, to one
//! stable machine-readable [`Code`] and its HTTP status, used alike in REST bodies and
//! WebSocket `error` frames. The message is the domain error's own words; faults of ours
//! keep their cause chain for the log and reach clients only as "internal error".

use crate::accounts::AccountError;
use crate::analytics::ReportError;
use crate::commerce::promo::PromoRefusal;
use crate::commerce::{CartError, CommerceError};
use crate::domain::{Invalid, Refusal};
use crate::media::MediaError;
use crate::room::RoomError;
use crate::telemetry::Causes;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::error::Error as StdError;

type Cause = Box<dyn StdError + Send + Sync>;

/// What went wrong, as clients tell cases apart (docs/protocol.md, section 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    MalformedJson,
    FrameTooLarge,
    UnknownMessage,
    InvalidInput,
    Unauthenticated,
    BadCredentials,
    Forbidden,
    NotFound,
    Conflict,
    NotJoined,
    AlreadyJoined,
    RateLimited,
    TooManyConnections,
    Banned,
    TimedOut,
    SlowMode,
    BlockedWord,
    RoomNotLive,
    NotInLineup,
    DropRunning,
    GiveawayRunning,
    GiveawayClosed,
    NotEligible,
    AuctionRunning,
    AuctionClosed,
    BidTooLow,
    SoldOut,
    DropLimit,
    CartEmpty,
    MixedCurrency,
    PaymentDeclined,
    PaymentUnavailable,
    UnsupportedMediaType,
    MethodNotAllowed,
    NotStreaming,
    StreamElsewhere,
    HoldExpired,
    OfferClosed,
    IdempotencyMismatch,
    CheckoutInProgress,
    NoSavedPaymentMethod,
    PromoCodeInvalid,
    PromoCodeExpired,
    PromoCodeUsedUp,
    PromoCodeNotApplicable,
    Unavailable,
    Internal,
    RehearsalPrivate,
    TestCardRequired,
}

impl Code {
    /// Every code, in the order of docs/protocol.md, section 7 (the AsyncAPI document lists
    /// them from here; a test compares this list with that section).
    pub const ALL: [Code; 49] = [
        Code::MalformedJson,
        Code::FrameTooLarge,
        Code::UnknownMessage,
        Code::InvalidInput,
        Code::CartEmpty,
        Code::MixedCurrency,
        Code::Unauthenticated,
        Code::BadCredentials,
        Code::Forbidden,
        Code::NotFound,
        Code::Conflict,
        Code::NotJoined,
        Code::AlreadyJoined,
        Code::RoomNotLive,
        Code::NotInLineup,
        Code::DropRunning,
        Code::GiveawayRunning,
        Code::GiveawayClosed,
        Code::NotEligible,
        Code::AuctionRunning,
        Code::AuctionClosed,
        Code::BidTooLow,
        Code::SoldOut,
        Code::DropLimit,
        Code::HoldExpired,
        Code::OfferClosed,
        Code::CheckoutInProgress,
        Code::NoSavedPaymentMethod,
        Code::IdempotencyMismatch,
        Code::PromoCodeInvalid,
        Code::PromoCodeExpired,
        Code::PromoCodeUsedUp,
        Code::PromoCodeNotApplicable,
        Code::BlockedWord,
        Code::Banned,
        Code::RateLimited,
        Code::TimedOut,
        Code::SlowMode,
        Code::TooManyConnections,
        Code::PaymentDeclined,
        Code::PaymentUnavailable,
        Code::NotStreaming,
        Code::StreamElsewhere,
        Code::UnsupportedMediaType,
        Code::MethodNotAllowed,
        Code::Unavailable,
        Code::Internal,
        Code::RehearsalPrivate,
        Code::TestCardRequired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::MalformedJson => "malformed_json",
            Code::FrameTooLarge => "frame_too_large",
            Code::UnknownMessage => "unknown_message",
            Code::InvalidInput => "invalid_input",
            Code::Unauthenticated => "unauthenticated",
            Code::BadCredentials => "bad_credentials",
            Code::Forbidden => "forbidden",
            Code::NotFound => "not_found",
            Code::Conflict => "conflict",
            Code::NotJoined => "not_joined",
            Code::AlreadyJoined => "already_joined",
            Code::RateLimited => "rate_limited",
            Code::TooManyConnections => "too_many_connections",
            Code::Banned => "banned",
            Code::TimedOut => "timed_out",
            Code::SlowMode => "slow_mode",
            Code::BlockedWord => "blocked_word",
            Code::RoomNotLive => "room_not_live",
            Code::NotInLineup => "not_in_lineup",
            Code::DropRunning => "drop_running",
            Code::GiveawayRunning => "giveaway_running",
            Code::GiveawayClosed => "giveaway_closed",
            Code::NotEligible => "not_eligible",
            Code::AuctionRunning => "auction_running",
            Code::AuctionClosed => "auction_closed",
            Code::BidTooLow => "bid_too_low",
            Code::OfferClosed => "offer_closed",
            Code::SoldOut => "sold_out",
            Code::DropLimit => "drop_limit",
            Code::CartEmpty => "cart_empty",
            Code::MixedCurrency => "mixed_currency",
            Code::PaymentDeclined => "payment_declined",
            Code::PaymentUnavailable => "payment_unavailable",
            Code::UnsupportedMediaType => "unsupported_media_type",
            Code::MethodNotAllowed => "method_not_allowed",
            Code::NotStreaming => "not_streaming",
            Code::StreamElsewhere => "stream_elsewhere",
            Code::HoldExpired => "hold_expired",
            Code::IdempotencyMismatch => "idempotency_mismatch",
            Code::CheckoutInProgress => "checkout_in_progress",
            Code::NoSavedPaymentMethod => "no_saved_payment_method",
            Code::PromoCodeInvalid => "promo_code_invalid",
            Code::PromoCodeExpired => "promo_code_expired",
            Code::PromoCodeUsedUp => "promo_code_used_up",
            Code::PromoCodeNotApplicable => "promo_code_not_applicable",
            Code::Unavailable => "unavailable",
            Code::Internal => "internal",
            Code::RehearsalPrivate => "rehearsal_private",
            Code::TestCardRequired => "test_card_required",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Code::MalformedJson
            | Code::FrameTooLarge
            | Code::UnknownMessage
            | Code::InvalidInput
            | Code::CartEmpty
            | Code::MixedCurrency => StatusCode::BAD_REQUEST,
            Code::Unauthenticated | Code::BadCredentials => StatusCode::UNAUTHORIZED,
            Code::Forbidden | Code::NotEligible | Code::Banned | Code::RehearsalPrivate => StatusCode::FORBIDDEN,
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::Conflict
            | Code::NotJoined
            | Code::AlreadyJoined
            | Code::RoomNotLive
            | Code::NotInLineup
            | Code::DropRunning
            | Code::GiveawayRunning
            | Code::GiveawayClosed
            | Code::AuctionRunning
            | Code::AuctionClosed
            | Code::BidTooLow
            | Code::OfferClosed
            | Code::SoldOut
            | Code::DropLimit
            | Code::HoldExpired
            | Code::CheckoutInProgress
            | Code::NoSavedPaymentMethod
            | Code::NotStreaming => StatusCode::CONFLICT,
            Code::IdempotencyMismatch
            | Code::PromoCodeInvalid
            | Code::PromoCodeExpired
            | Code::PromoCodeUsedUp
            | Code::PromoCodeNotApplicable
            | Code::BlockedWord
            | Code::TestCardRequired => StatusCode::UNPROCESSABLE_ENTITY,
            Code::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Code::StreamElsewhere => StatusCode::TEMPORARY_REDIRECT,
            Code::RateLimited | Code::TimedOut | Code::SlowMode | Code::TooManyConnections => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Code::PaymentDeclined => StatusCode::PAYMENT_REQUIRED,
            Code::PaymentUnavailable | Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

#[derive(Debug)]
pub struct ApiError {
    code: Code,
    message: String,
    /// Where `stream_elsewhere` sends the client.
    location: Option<String>,
    /// How long a throttled client must wait (`Retry-After`).
    retry_after: Option<std::time::Duration>,
    /// Why `internal` or `unavailable` happened: logged, never sent.
    cause: Option<Cause>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for ApiError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.cause.as_deref().map(|c| c as &(dyn StdError + 'static))
    }
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into(), location: None, retry_after: None, cause: None }
    }

    /// A body or frame that is JSON but not of the expected shape, or a value out of range.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(Code::InvalidInput, message)
    }

    /// A fault of ours; the cause is logged, never sent. A database or Redis that did not
    /// answer in time (somewhere in the cause's chain) is no fault of the request: the
    /// client is told `unavailable`, which says that the same request may be sent again.
    pub fn internal(cause: impl StdError + Send + Sync + 'static) -> Self {
        let (code, message) = match backend_unanswered(&cause) {
            true => (Code::Unavailable, "the database or Redis did not answer in time; try again shortly"),
            false => (Code::Internal, "internal error"),
        };
        ApiError { cause: Some(Box::new(cause)), ..ApiError::new(code, message) }
    }

    /// A backend the node depends on does not answer; the cause is logged.
    pub fn unavailable(cause: impl StdError + Send + Sync + 'static) -> Self {
        ApiError { cause: Some(Box::new(cause)), ..ApiError::new(Code::Unavailable, "not ready") }
    }

    pub fn malformed_json() -> Self {
        ApiError::new(Code::MalformedJson, "the message is not valid JSON")
    }

    /// A WebSocket message over the size a client may send.
    pub fn frame_too_large(limit: usize) -> Self {
        ApiError::new(Code::FrameTooLarge, format!("frames are limited to {limit} bytes"))
    }

    pub fn unknown_message(kind: &str) -> Self {
        ApiError::new(Code::UnknownMessage, format!("unknown message type {kind:?}"))
    }

    /// A domain error told in its own words.
    fn said(code: Code, e: &impl std::fmt::Display) -> Self {
        ApiError::new(code, e.to_string())
    }

    pub fn code(&self) -> &'static str {
        self.code.as_str()
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// The message a client may see. A fault of ours is logged here, with its causes.
    pub fn public_message(&self) -> String {
        if let Some(cause) = &self.cause {
            let cause = cause.as_ref() as &dyn StdError;
            match self.code {
                Code::Unavailable => tracing::warn!(error = %Causes(cause), "unavailable"),
                _ => tracing::error!(error = %Causes(cause), "internal error"),
            }
        }
        self.message.clone()
    }
}

/// Whether `cause`, or an error that caused it, says the database or Redis did not answer
/// in time ([`crate::store::is_transient`], [`crate::redis::is_transient`]).
fn backend_unanswered(cause: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(cause);
    while let Some(e) = next {
        if e.downcast_ref::<sqlx::Error>().is_some_and(crate::store::is_transient)
            || e.downcast_ref::<crate::redis::RedisError>().is_some_and(crate::redis::is_transient)
        {
            return true;
        }
        next = e.source();
    }
    false
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        ApiError::said(Code::InvalidInput, &e)
    }
}

impl From<Refusal> for ApiError {
    fn from(e: Refusal) -> Self {
        let code = match &e {
            Refusal::NotFound(_) => Code::NotFound,
            Refusal::Forbidden(_) => Code::Forbidden,
            Refusal::Conflict(_) => Code::Conflict,
            Refusal::Invalid(_) => Code::InvalidInput,
        };
        ApiError::said(code, &e)
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Refused(r) => r.into(),
            AccountError::Unauthenticated => ApiError::said(Code::Unauthenticated, &e),
            AccountError::BadCredentials => ApiError::said(Code::BadCredentials, &e),
            AccountError::Throttled(wait) => {
                ApiError { retry_after: Some(wait), ..ApiError::said(Code::RateLimited, &e) }
            }
            AccountError::Password(_) | AccountError::Store(_) | AccountError::Backoff(_) => ApiError::internal(e),
        }
    }
}

impl From<ReportError> for ApiError {
    fn from(e: ReportError) -> Self {
        match e {
            ReportError::Refused(r) => r.into(),
            ReportError::Store(_) => ApiError::internal(e),
        }
    }
}

impl From<CartError> for ApiError {
    fn from(e: CartError) -> Self {
        match e {
            CartError::Invalid(_) | CartError::TooManyLines => ApiError::said(Code::InvalidInput, &e),
            CartError::Busy => ApiError::said(Code::Conflict, &e),
            CartError::Redis(_) | CartError::Store(_) => ApiError::internal(e),
        }
    }
}

impl From<CommerceError> for ApiError {
    fn from(e: CommerceError) -> Self {
        let code = match e {
            CommerceError::Refused(r) => return r.into(),
            CommerceError::Cart(e) => return e.into(),
            CommerceError::Store(_) | CommerceError::Inventory(_) | CommerceError::Bus(_) => {
                return ApiError::internal(e);
            }
            CommerceError::RoomNotLive => Code::RoomNotLive,
            CommerceError::NotInLineup => Code::NotInLineup,
            CommerceError::SoldOut { .. } => Code::SoldOut,
            CommerceError::DropLimit { .. } => Code::DropLimit,
            CommerceError::CartEmpty => Code::CartEmpty,
            CommerceError::MixedCurrency => Code::MixedCurrency,
            CommerceError::PaymentDeclined(_) => Code::PaymentDeclined,
            CommerceError::PaymentUnavailable => Code::PaymentUnavailable,
            CommerceError::HoldExpired => Code::HoldExpired,
            CommerceError::OfferClosed => Code::OfferClosed,
            CommerceError::IdempotencyMismatch => Code::IdempotencyMismatch,
            CommerceError::CheckoutInProgress => Code::CheckoutInProgress,
            CommerceError::NoSavedPaymentMethod => Code::NoSavedPaymentMethod,
            CommerceError::TestCardRequired => Code::TestCardRequired,
            CommerceError::WebhookRefused(_) => Code::InvalidInput,
            CommerceError::Promo(ref refused) => match refused {
                PromoRefusal::Unknown(_) | PromoRefusal::Revoked(_) => Code::PromoCodeInvalid,
                PromoRefusal::Expired(_) => Code::PromoCodeExpired,
                PromoRefusal::UsedUp(_) => Code::PromoCodeUsedUp,
                PromoRefusal::OtherRoom(_) | PromoRefusal::NoEligibleLine(_) | PromoRefusal::Rehearsal(_) => {
                    Code::PromoCodeNotApplicable
                }
            },
        };
        ApiError::said(code, &e)
    }
}

impl From<MediaError> for ApiError {
    fn from(e: MediaError) -> Self {
        match e {
            MediaError::BadSdp(_) => ApiError::said(Code::InvalidInput, &e),
            MediaError::NotStreaming => ApiError::said(Code::NotStreaming, &e),
            MediaError::TooManyViewers(_) => ApiError::said(Code::TooManyConnections, &e),
            MediaError::NoSession => ApiError::said(Code::NotFound, &e),
            MediaError::Peer(_) | MediaError::NoRuntime | MediaError::NoLocalDescription => ApiError::internal(e),
        }
    }
}

impl From<RoomError> for ApiError {
    fn from(e: RoomError) -> Self {
        let code = match &e {
            RoomError::NotLive => Code::RoomNotLive,
            RoomError::NotInLineup => Code::NotInLineup,
            RoomError::DropRunning => Code::DropRunning,
            RoomError::GiveawayRunning => Code::GiveawayRunning,
            RoomError::GiveawayClosed => Code::GiveawayClosed,
            RoomError::NotEligible(_) => Code::NotEligible,
            RoomError::InStock | RoomError::TooManyHolds => Code::Conflict,
            RoomError::NoSuchKeyword => Code::NotInLineup,
            RoomError::AuctionRunning => Code::AuctionRunning,
            RoomError::AuctionClosed | RoomError::AuctionFull => Code::AuctionClosed,
            RoomError::BidTooLow(_) | RoomError::LeadNotRaised(_) => Code::BidTooLow,
            RoomError::RateLimited => Code::RateLimited,
            RoomError::Banned { .. } => Code::Banned,
            RoomError::TimedOut(_) => Code::TimedOut,
            RoomError::SlowMode(_) => Code::SlowMode,
            RoomError::BlockedWord(_) => Code::BlockedWord,
            RoomError::RehearsalPrivate => Code::RehearsalPrivate,
            RoomError::SignInFirst => Code::Unauthenticated,
            RoomError::StreamElsewhere(_) => Code::StreamElsewhere,
            RoomError::Refused(_)
            | RoomError::Commerce(_)
            | RoomError::Media(_)
            | RoomError::Bus(_)
            | RoomError::Store(_) => {
                return match e {
                    RoomError::Refused(r) => r.into(),
                    RoomError::Commerce(e) => e.into(),
                    RoomError::Media(e) => e.into(),
                    _ => ApiError::internal(e),
                };
            }
        };
        let location = match &e {
            RoomError::StreamElsewhere(location) => Some(location.clone()),
            _ => None,
        };
        let retry_after = match &e {
            RoomError::TimedOut(wait) => Some(*wait),
            RoomError::SlowMode(secs) => Some(std::time::Duration::from_secs(*secs as u64)),
            _ => None,
        };
        ApiError { location, retry_after, ..ApiError::said(code, &e) }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code(), "message": self.public_message() } });
        let mut response = (self.status(), Json(body)).into_response();
        if let Some(location) = self.location.as_deref().and_then(|l| axum::http::HeaderValue::from_str(l).ok()) {
            response.headers_mut().insert(axum::http::header::LOCATION, location);
        }
        if let Some(wait) = self.retry_after {
            // Whole seconds, rounded up: a client that waits that long is let in.
            let seconds = wait.as_millis().div_ceil(1_000).max(1) as u64;
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commerce::InventoryError;
    use crate::redis::RedisError;

    #[test]
    fn a_database_or_redis_that_did_not_answer_in_time_is_unavailable_and_any_other_fault_internal() {
        let no_connection = CommerceError::Store(sqlx::Error::PoolTimedOut);
        assert_eq!(ApiError::from(no_connection).code(), "unavailable");
        let late = RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
        assert_eq!(ApiError::from(CommerceError::Inventory(InventoryError::Redis(late))).code(), "unavailable");
        let ours = CommerceError::Store(sqlx::Error::RowNotFound);
        assert_eq!(ApiError::from(ours).code(), "internal");
    }
}
