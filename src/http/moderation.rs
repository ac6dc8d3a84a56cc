//! Moderation over REST: the host appoints moderators for one room or all their rooms
//! and lifts bans; the host or a moderator sets the room's blocked words and reads the
//! comments held for review; the creator sets blocked words for all their rooms. In-room
//! actions (delete, time out, ban, slow mode, approve or reject a held comment) are
//! WebSocket messages of the room connection.

use super::extract::{AppJson, AppPath, Auth};
use crate::domain::{AccountId, Email, RoomId};
use crate::error::ApiResult;
use crate::room::moderation::Appointment;
use crate::state::AppState;
use crate::wire::api::{AppointRequest, BanView, BlockedWordsBody, ErrorBody, ModeratorView};
use crate::wire::routes;
use crate::wire::ws::HeldComment;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(routes::ROOM_MODERATORS, get(room_moderators).post(appoint_in_room_by_email))
        .route(routes::ROOM_MODERATOR, put(appoint_in_room).delete(dismiss_in_room))
        .route(routes::CREATOR_MODERATORS, get(creator_moderators).post(appoint_for_creator_by_email))
        .route(routes::CREATOR_MODERATOR, put(appoint_for_creator).delete(dismiss_for_creator))
        .route(routes::ROOM_BLOCKED_WORDS, get(blocked_words).put(set_blocked_words))
        .route(routes::CREATOR_BLOCKED_WORDS, get(creator_blocked_words).put(set_creator_blocked_words))
        .route(routes::ROOM_HELD_COMMENTS, get(held_comments))
        .route(routes::CREATOR_BANS, get(bans))
        .route(routes::CREATOR_BAN, axum::routing::delete(lift_ban))
}

/// The room's moderators: those appointed for it (`room_id` set) and those of all its
/// host's rooms (`room_id` null), by display name. The host (or an admin) only.
#[utoipa::path(get, path = routes::ROOM_MODERATORS, params(("room_id" = i64, Path)),
    responses((status = 200, body = Vec<ModeratorView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])), tag = "moderation")]
pub async fn room_moderators(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(room): AppPath<RoomId>,
) -> ApiResult<AppJson<Vec<ModeratorView>>> {
    Ok(AppJson(state.rooms.moderators(Appointment::Room(room), &auth.account).await?))
}

/// Appoints an account a moderator of the room. Idempotent. The host (or an admin) only.
#[utoipa::path(put, path = routes::ROOM_MODERATOR, params(("room_id" = i64, Path), ("account_id" = i64, Path)),
    responses((status = 204, description = "the account moderates the room"),
        (status = 400, body = ErrorBody, description = "invalid input: the host themselves"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "no such room or account")),
    security(("bearer" = [])), tag = "moderation")]
pub async fn appoint_in_room(
    State(state): State<AppState>,
    auth: Auth,
    AppPath((room, account)): AppPath<(RoomId, AccountId)>,
) -> ApiResult<StatusCode> {
    state.rooms.appoint(Appointment::Room(room), &auth.account, account).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Appoints the account with this e-mail address a moderator of the room; answers whom.
/// Idempotent. The host (or an admin) only.
#[utoipa::path(post, path = routes::ROOM_MODERATORS, params(("room_id" = i64, Path)), request_body = AppointRequest,
    responses((status = 200, body = ModeratorView, description = "the account moderates the room"),
        (status = 400, body = ErrorBody, description = "invalid input: not an e-mail address, or the host themselves"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "no such room, or no account with that e-mail address")),
    security(("bearer" = [])), tag = "moderation")]
pub async fn appoint_in_room_by_email(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(room): AppPath<RoomId>,
    AppJson(req): AppJson<AppointRequest>,
) -> ApiResult<AppJson<ModeratorView>> {
    let email = Email::try_from(req.email)?;
    Ok(AppJson(state.rooms.appoint_by_email(Appointment::Room(room), &auth.account, email).await?))
}

/// Ends an appointment for the room. Idempotent. The host (or an admin) only.
#[utoipa::path(delete, path = routes::ROOM_MODERATOR, params(("room_id" = i64, Path), ("account_id" = i64, Path)),
    responses((status = 204, description = "the account no longer moderates the room by this appointment"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])), tag = "moderation")]
pub async fn dismiss_in_room(
    State(state): State<AppState>,
    auth: Auth,
    AppPath((room, account)): AppPath<(RoomId, AccountId)>,
) -> ApiResult<StatusCode> {
    state.rooms.dismiss(Appointment::Room(room), &auth.account, account).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The moderators of all the creator's rooms. The creator (or an admin) only.
#[utoipa::path(get, path = routes::CREATOR_MODERATORS, params(("creator_id" = i64, Path)),
    responses((status = 200, body = Vec<ModeratorView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])), tag = "moderation")]
pub async fn creator_moderators(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(creator): AppPath<AccountId>,
) -> ApiResult<AppJson<Vec<ModeratorView>>> {
    Ok(AppJson(state.rooms.moderators(Appointment::Creator(creator), &auth.account).await?))
}

/// Appoints an account a moderator of all the creator's rooms. Idempotent. The creator
/// (or an admin) only.
#[utoipa::path(put, path = routes::CREATOR_MODERATOR, params(("creator_id" = i64, Path), ("account_id" = i64, Path)),
    responses((status = 204, description = "the account moderates all the creator's rooms"),
        (status = 400, body = ErrorBody, description = "invalid input: the creator themselves"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "no such account")),
    security(("bearer" = [])), tag = "moderation")]
pub async fn appoint_for_creator(
    State(state): State<AppState>,
    auth: Auth,
    AppPath((creator, account)): AppPath<(AccountId, AccountId)>,
) -> ApiResult<StatusCode> {
    state.rooms.appoint(Appointment::Creator(creator), &auth.account, account).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Appoints the account with this e-mail address a moderator of all the creator's rooms;
/// answers whom. Idempotent. The creator (or an admin) only.
#[utoipa::path(post, path = routes::CREATOR_MODERATORS, params(("creator_id" = i64, Path)), request_body = AppointRequest,
    responses((status = 200, body = ModeratorView, description = "the account moderates all the creator's rooms"),
        (status = 400, body = ErrorBody, description = "invalid input: not an e-mail address, or the creator themselves"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "no account with that e-mail address")),
    security(("bearer" = [])), tag = "moderation")]
pub async fn appoint_for_creator_by_email(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(creator): AppPath<AccountId>,
    AppJson(req): AppJson<AppointRequest>,
) -> ApiResult<AppJson<ModeratorView>> {
    let email = Email::try_from(req.email)?;
    Ok(AppJson(state.rooms.appoint_by_email(Appointment::Creator(creator), &auth.account, email).await?))
}

/// Ends an appointment for all the creator's rooms. Idempotent. The creator (or an
/// admin) only.
#[utoipa::path(delete, path = routes::CREATOR_MODERATOR, params(("creator_id" = i64, Path), ("account_id" = i64, Path)),
    responses((status = 204, description = "the account no longer moderates all the creator's rooms"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])), tag = "moderation")]
pub async fn dismiss_for_creator(
    State(state): State<AppState>,
    auth: Auth,
    AppPath((creator, account)): AppPath<(AccountId, AccountId)>,
) -> ApiResult<StatusCode> {
    state.rooms.dismiss(Appointment::Creator(creator), &auth.account, account).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The bans in force in the creator's rooms, newest first. The creator (or an admin) only.
#[utoipa::path(get, path = routes::CREATOR_BANS, params(("creator_id" = i64, Path)),
    responses((status = 200, body = Vec<BanView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])), tag = "moderation")]
pub async fn bans(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(creator): AppPath<AccountId>,
) -> ApiResult<AppJson<Vec<BanView>>> {
    Ok(AppJson(state.rooms.bans(creator, &auth.account).await?))
}

/// Lifts a ban: whom it held may join again. Idempotent. The creator (or an admin) only.
#[utoipa::path(delete, path = routes::CREATOR_BAN, params(("creator_id" = i64, Path), ("ban_id" = i64, Path)),
    responses((status = 204, description = "the ban is no longer in force"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)),
    security(("bearer" = [])), tag = "moderation")]
pub async fn lift_ban(
    State(state): State<AppState>,
    auth: Auth,
    AppPath((creator, ban)): AppPath<(AccountId, i64)>,
) -> ApiResult<StatusCode> {
    state.rooms.lift_ban(creator, &auth.account, ban).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The room's own blocked words and their action. The host, a moderator of the room, or
/// an admin.
#[utoipa::path(get, path = routes::ROOM_BLOCKED_WORDS, params(("room_id" = i64, Path)),
    responses((status = 200, body = BlockedWordsBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])), tag = "moderation")]
pub async fn blocked_words(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(room): AppPath<RoomId>,
) -> ApiResult<AppJson<BlockedWordsBody>> {
    Ok(AppJson(state.rooms.blocked_words(room, &auth.account).await?))
}

/// Replaces the room's own blocked words (an empty list clears them) and their action
/// (`refuse`, the default, or `hold`); answers them as kept. Applies to the next comment
/// on this node, within a second on others. The host, a moderator of the room, or an
/// admin.
#[utoipa::path(put, path = routes::ROOM_BLOCKED_WORDS, params(("room_id" = i64, Path)), request_body = BlockedWordsBody,
    responses((status = 200, body = BlockedWordsBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])), tag = "moderation")]
pub async fn set_blocked_words(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(room): AppPath<RoomId>,
    AppJson(body): AppJson<BlockedWordsBody>,
) -> ApiResult<AppJson<BlockedWordsBody>> {
    Ok(AppJson(state.rooms.set_blocked_words(room, &auth.account, body).await?))
}

/// The creator's blocked words for all their rooms, and their action. The creator (or an
/// admin) only.
#[utoipa::path(get, path = routes::CREATOR_BLOCKED_WORDS, params(("creator_id" = i64, Path)),
    responses((status = 200, body = BlockedWordsBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])), tag = "moderation")]
pub async fn creator_blocked_words(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(creator): AppPath<AccountId>,
) -> ApiResult<AppJson<BlockedWordsBody>> {
    Ok(AppJson(state.rooms.creator_blocked_words(creator, &auth.account).await?))
}

/// Replaces the creator's blocked words for all their rooms (checked in each of them
/// besides the room's own) and their action; answers them as kept. Applies to the next
/// comment on this node, within a second on others. The creator (or an admin) only.
#[utoipa::path(put, path = routes::CREATOR_BLOCKED_WORDS, params(("creator_id" = i64, Path)), request_body = BlockedWordsBody,
    responses((status = 200, body = BlockedWordsBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)),
    security(("bearer" = [])), tag = "moderation")]
pub async fn set_creator_blocked_words(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(creator): AppPath<AccountId>,
    AppJson(body): AppJson<BlockedWordsBody>,
) -> ApiResult<AppJson<BlockedWordsBody>> {
    Ok(AppJson(state.rooms.set_creator_blocked_words(creator, &auth.account, body).await?))
}

/// The comments held for review in the room, oldest first: what a host or moderator
/// reads on joining, then follows with `comment_held` and `comment_reviewed` frames. The
/// host, a moderator of the room, or an admin.
#[utoipa::path(get, path = routes::ROOM_HELD_COMMENTS, params(("room_id" = i64, Path)),
    responses((status = 200, body = Vec<HeldComment>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])), tag = "moderation")]
pub async fn held_comments(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(room): AppPath<RoomId>,
) -> ApiResult<AppJson<Vec<HeldComment>>> {
    Ok(AppJson(state.rooms.held_comments(room, &auth.account).await?))
}
