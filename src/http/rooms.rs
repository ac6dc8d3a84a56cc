use super::extract::{AppJson, AppPath, AppQuery, Auth, Bearer};
use crate::commerce::{CheckoutRequest as Purchase, CommerceError, Payment};
use crate::domain::RoomId;
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, CONCURRENT_CHECKOUTS};
use crate::wire::api::{
    CheckoutRequest, CoHostRequest, ErrorBody, NewRoomRequest, RehearsalView, RoomFilter, RoomListQuery, RoomView,
};
use crate::wire::routes;
use crate::wire::ws::OrderView;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(routes::ROOMS, get(list).post(create))
        .route(routes::ROOM, get(one))
        .route(routes::ROOM_GO_LIVE, post(go_live))
        .route(routes::ROOM_END, post(end))
        .route(routes::ROOM_CO_HOST, put(co_host))
        .route(routes::ROOM_REHEARSAL, post(rehearse))
        .route(routes::ROOM_CHECKOUT, post(checkout))
}

/// Rooms by status; rehearsals are private and never listed.
#[utoipa::path(get, path = routes::ROOMS, params(("status" = Option<RoomFilter>, Query, description = "live (default), upcoming or ended"), ("limit" = Option<u32>, Query, description = "1 to 100 rooms, 20 by default"), ("host" = Option<i64>, Query, description = "only this creator's rooms")), responses((status = 200, body = Vec<RoomView>)), tag = "rooms")]
pub async fn list(
    State(state): State<AppState>,
    AppQuery(q): AppQuery<RoomListQuery>,
) -> ApiResult<AppJson<Vec<RoomView>>> {
    Ok(AppJson(state.rooms.list(q.status.unwrap_or(RoomFilter::Live), q.host, q.limit).await?))
}

#[utoipa::path(post, path = routes::ROOMS, request_body = NewRoomRequest, responses((status = 201, body = RoomView), (status = 400, body = ErrorBody, description = "invalid input"), (status = 401, body = ErrorBody, description = "no valid session"), (status = 403, body = ErrorBody)), security(("bearer" = [])), tag = "rooms")]
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    AppJson(req): AppJson<NewRoomRequest>,
) -> ApiResult<(StatusCode, AppJson<RoomView>)> {
    Ok((StatusCode::CREATED, AppJson(state.rooms.schedule(&auth.account, req).await?)))
}

/// A room's card, to anyone. A rehearsal's only to its host, its moderators and admins
/// (with their bearer token): to anyone else it does not exist.
#[utoipa::path(get, path = routes::ROOM, params(("room_id" = i64, Path)), responses((status = 200, body = RoomView),
    (status = 404, body = ErrorBody, description = "no such room, or a rehearsal the caller may not see")), tag = "rooms")]
pub async fn one(
    State(state): State<AppState>,
    bearer: Bearer,
    AppPath(id): AppPath<RoomId>,
) -> ApiResult<AppJson<RoomView>> {
    Ok(AppJson(state.rooms.room_seen_by(id, bearer.account.as_ref()).await?))
}

#[utoipa::path(post, path = routes::ROOM_GO_LIVE, params(("room_id" = i64, Path)), responses((status = 200, body = RoomView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "not scheduled")), security(("bearer" = [])), tag = "rooms")]
pub async fn go_live(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<RoomId>,
) -> ApiResult<AppJson<RoomView>> {
    state.rooms.go_live(id, &auth.account).await?;
    Ok(AppJson(state.rooms.room(id).await?))
}

#[utoipa::path(post, path = routes::ROOM_END, params(("room_id" = i64, Path)), responses((status = 200, body = RoomView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "not live")), security(("bearer" = [])), tag = "rooms")]
pub async fn end(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<RoomId>,
) -> ApiResult<AppJson<RoomView>> {
    state.rooms.end_room(id, &auth.account).await?;
    Ok(AppJson(state.rooms.room(id).await?))
}

/// Sets (`{"creator_id": 7}`) or clears (`{"creator_id": null}`) the room's co-host: the
/// host or an admin, while the room is scheduled or live. Viewers get `room_updated`.
#[utoipa::path(put, path = routes::ROOM_CO_HOST, params(("room_id" = i64, Path)), request_body = CoHostRequest,
    responses((status = 200, body = RoomView), (status = 400, body = ErrorBody, description = "not a creator, or the host"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "not the host"),
        (status = 404, body = ErrorBody, description = "no such room or creator"), (status = 409, body = ErrorBody, description = "the room has ended")),
    security(("bearer" = [])), tag = "rooms")]
pub async fn co_host(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<RoomId>,
    AppJson(req): AppJson<CoHostRequest>,
) -> ApiResult<AppJson<RoomView>> {
    Ok(AppJson(state.rooms.set_co_host(id, &auth.account, req.creator_id).await?))
}

/// Opens a private rehearsal of a scheduled room, for its host: a live copy of it with
/// its own history, chat and orders, and the audience key that lets simulated viewers
/// join it (201). While one is open, answers that one with a new key (200).
#[utoipa::path(post, path = routes::ROOM_REHEARSAL, params(("room_id" = i64, Path, description = "the scheduled room to rehearse")),
    responses((status = 201, body = RehearsalView, description = "opened"), (status = 200, body = RehearsalView, description = "already open: the same rehearsal, with a new audience key (the old one admits no one more)"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "not the room's host"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "the room is not scheduled")),
    security(("bearer" = [])), tag = "rooms")]
pub async fn rehearse(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<RoomId>,
) -> ApiResult<(StatusCode, AppJson<RehearsalView>)> {
    let rehearsal = state.rooms.rehearse(id, &auth.account).await?;
    let status = if rehearsal.opened { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, AppJson(RehearsalView { room: rehearsal.room, audience_key: rehearsal.audience_key.into_string() })))
}

/// Checks out the caller's cart in the room, as the WebSocket `checkout` message does: the
/// same idempotency key semantics, the same error codes, the paid order as the answer.
#[utoipa::path(post, path = routes::ROOM_CHECKOUT, params(("room_id" = i64, Path)), request_body = CheckoutRequest,
    responses((status = 200, body = OrderView, description = "paid (or, for a key used before, the order as it stands)"),
        (status = 400, body = ErrorBody, description = "invalid input (including a card with `\"payment\":\"saved\"`, or neither), cart_empty, mixed_currency"),
        (status = 401, body = ErrorBody), (status = 402, body = ErrorBody, description = "payment_declined"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "room_not_live, not_in_lineup, sold_out, hold_expired, checkout_in_progress, no_saved_payment_method"),
        (status = 422, body = ErrorBody, description = "idempotency_mismatch, promo_code_invalid, promo_code_expired, promo_code_used_up, promo_code_not_applicable"),
        (status = 503, body = ErrorBody, description = "payment_unavailable, or unavailable (the database or Redis did not answer in time): retry with the same key")),
    security(("bearer" = [])), tag = "rooms")]
pub async fn checkout(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<RoomId>,
    AppJson(req): AppJson<CheckoutRequest>,
) -> ApiResult<AppJson<OrderView>> {
    let purchase = Purchase {
        key: req.idempotency_key,
        payment: Payment::from_fields(req.card, req.payment)?,
        promo_code: req.promo_code,
        save: req.save.unwrap_or(false),
        shipping: req.shipping,
    };
    let paying = state.paying.hold(auth.account.id, CONCURRENT_CHECKOUTS).ok_or(CommerceError::CheckoutInProgress)?;
    // On a task shutdown waits for, so a client that goes away never cuts a payment off
    // half-way; its place under the cap is given back when the payment ends.
    let worker = state.clone();
    let outcome = state
        .checkouts
        .spawn(async move {
            let _paying = paying;
            worker.rooms.checkout_in(id, &auth.account, purchase).await.map_err(ApiError::from)
        })
        .await
        .map_err(ApiError::internal)?;
    let label = outcome.as_ref().map_or_else(ApiError::code, |_| "paid");
    metrics::counter!("livecart_checkouts_total", "outcome" => label).increment(1);
    Ok(AppJson(outcome?))
}
