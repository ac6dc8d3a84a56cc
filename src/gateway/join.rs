//! The first frame of a connection decides what it is: a room viewer or a brand's sales
//! feed. Until then every other message gets `not_joined`.

use super::{error_frame, frame, protocol};
use crate::accounts::authenticate;
use crate::app::AppState;
use crate::domain::{BrandId, DisplayName, Role, RoomId};
use crate::error::{AppError, AppResult};
use crate::room::actions::live_room;
use crate::room::snapshot::{Opening, open};
use crate::room::{LiveRoom, Viewer};
use crate::wire::ws::{ClientMsg, ServerMsg};
use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use futures_util::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::broadcast;

/// A connection that has not joined by then is closed.
const JOIN_TIMEOUT: Duration = Duration::from_secs(30);

pub enum Joined {
    Room { room: Arc<LiveRoom>, viewer: Viewer, opening: Box<Opening> },
    Sales { brand: BrandId, feed: broadcast::Receiver<Utf8Bytes> },
}

/// Numbers guest connections, so each guest has its own comment rate limit.
static GUESTS: AtomicU64 = AtomicU64::new(0);

pub async fn first_frame(mut socket: WebSocket, state: &AppState) -> Option<(WebSocket, Joined)> {
    let deadline = tokio::time::sleep(JOIN_TIMEOUT);
    tokio::pin!(deadline);
    loop {
        let msg = tokio::select! {
            _ = state.shutdown.cancelled() => return None,
            _ = &mut deadline => return None,
            msg = socket.next() => msg?.ok()?,
        };
        let text = match msg {
            Message::Text(text) => text,
            Message::Close(_) => return None,
            Message::Binary(_) => {
                let e = AppError::BadRequest("send JSON text frames".into());
                socket.send(error_frame(&e, None)).await.ok()?;
                continue;
            }
            _ => continue,
        };
        let decoded = protocol::decode(&text);
        let request = decoded.as_ref().ok().map(ClientMsg::kind);
        let joined = match decoded {
            Ok(ClientMsg::Join { room_id, token, guest_name, since, epoch }) => {
                join_room(state, room_id, token, guest_name, since.zip(epoch)).await
            }
            Ok(ClientMsg::FollowSales { token }) => follow_sales(state, &token).await,
            Ok(_) => Err(AppError::NotJoined),
            Err(e) => Err(e),
        };
        match joined {
            Ok(Joined::Sales { brand, feed }) => {
                socket.send(frame(&ServerMsg::FollowingSales { brand_id: brand })).await.ok()?;
                return Some((socket, Joined::Sales { brand, feed }));
            }
            Ok(joined) => return Some((socket, joined)),
            Err(e) => socket.send(error_frame(&e, request)).await.ok()?,
        }
    }
}

async fn join_room(
    state: &AppState,
    room_id: RoomId,
    token: Option<String>,
    guest_name: Option<DisplayName>,
    resume: Option<(u64, String)>,
) -> AppResult<Joined> {
    let room = live_room(state, room_id).await?;
    let viewer = match (token, guest_name) {
        (Some(token), _) => {
            let account = authenticate(state, &token).await?;
            Viewer {
                display_name: account.display_name.clone(),
                is_host: account.id == room.host,
                rate_key: format!("{room_id}:a{}", account.id),
                account: Some(account),
            }
        }
        (None, Some(name)) => Viewer {
            display_name: name.into(),
            account: None,
            is_host: false,
            rate_key: format!("{room_id}:g{}", GUESTS.fetch_add(1, Ordering::Relaxed)),
        },
        (None, None) => {
            return Err(AppError::BadRequest("join: give a token, or a guest_name to watch as a guest".into()));
        }
    };
    let opening = open(state, &room, &viewer, resume).await?;
    Ok(Joined::Room { room, viewer, opening: Box::new(opening) })
}

async fn follow_sales(state: &AppState, token: &str) -> AppResult<Joined> {
    let account = authenticate(state, token).await?;
    match (account.role, account.brand_id) {
        (Role::Brand, Some(brand)) => Ok(Joined::Sales { brand, feed: state.bus.follow_sales(brand).await? }),
        _ => Err(AppError::Forbidden("only brand members can follow sales")),
    }
}
