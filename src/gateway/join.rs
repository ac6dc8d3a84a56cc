//! The first frame of a connection decides what it is: a room viewer, a brand's sales
//! feed or an account's notices. Until then every other message gets `not_joined`. A join over the caps of
//! [`Admission`] gets `too_many_connections` and, like any failed join, leaves the
//! connection open for another.

use super::admission::{Admission, Pass};
use super::feed_session::Feed;
use super::room_session::RoomSession;
use super::session_end::SessionEnd;
use super::{error_frame, frame, protocol};
use crate::domain::{BrandId, DisplayName, RoomId};
use crate::error::{ApiError, ApiResult, Code};
use crate::room::actions::{Admitted, Joiner};
use crate::state::AppState;
use crate::wire::ws::{ClientMsg, ServerMsg};
use axum::extract::ws::{Message, WebSocket};
use futures_util::StreamExt;
use std::net::IpAddr;
use std::sync::Arc;

/// What a connection joined, boxed: the connection's task keeps it for as long as the
/// session runs.
pub enum Joined {
    Room(Box<RoomSession>),
    Feed(Box<FeedSession>),
}

/// A feed, and when its connection ends; `brand` is set for a brand's sales.
pub struct FeedSession {
    pub feed: Feed,
    pub ends: SessionEnd,
    pub brand: Option<BrandId>,
}

/// Where a connection's joins are counted: its node's [`Admission`], and the client
/// address its guests count under.
pub struct Caps<'a> {
    pub admission: &'a Arc<Admission>,
    pub client: IpAddr,
}

/// Reads frames until one joins (or the connection ends, or the join timeout passes, from
/// the opening: a connection that only fails to join is dropped all the same): what the
/// connection joined, and its place under the caps, held as long as it runs.
pub async fn first_frame(socket: &mut WebSocket, state: &AppState, caps: Caps<'_>) -> Option<(Joined, Pass)> {
    let until = tokio::time::Instant::now() + state.config.join_timeout;
    let deadline = tokio::time::sleep_until(until);
    tokio::pin!(deadline);
    loop {
        let msg = tokio::select! {
            _ = state.shutdown.cancelled() => return None,
            _ = &mut deadline => return None,
            msg = socket.next() => match msg? {
                Ok(msg) => msg,
                Err(e) => {
                    if let Some(close) = super::too_big(&e) {
                        super::close_with(socket, close).await;
                    }
                    return None;
                }
            },
        };
        let text = match msg {
            Message::Text(text) => text,
            Message::Close(_) => return None,
            Message::Binary(_) => {
                let e = super::binary_refused();
                send_by(socket, until, error_frame(&e, None)).await?;
                continue;
            }
            _ => continue,
        };
        let decoded = protocol::decode(&text);
        let request = decoded.as_ref().ok().map(ClientMsg::kind).or_else(|| protocol::named_type(&text));
        let joined = match decoded {
            Ok(ClientMsg::Join { room_id, token, guest_name, since, epoch, audience_key }) => {
                let who = JoinAs { token, guest_name, audience_key };
                join_room(state, &caps, room_id, who, since.zip(epoch)).await
            }
            Ok(ClientMsg::FollowSales { token }) => follow_sales(state, &caps, &token).await,
            Ok(ClientMsg::Listen { token }) => listen(state, &caps, &token).await,
            Ok(_) => Err(ApiError::new(Code::NotJoined, "join a room first")),
            Err(e) => Err(e),
        };
        match joined {
            Ok((joined, reply, pass)) => {
                if let Some(reply) = reply {
                    send_by(socket, until, frame(&reply)).await?;
                }
                return Some((joined, pass));
            }
            Err(e) => send_by(socket, until, error_frame(&e, request)).await?,
        }
    }
}

/// Sends a frame before the join deadline: a client that sends requests and reads none
/// of the replies fills its socket, and the send would wait past the deadline forever.
async fn send_by(socket: &mut WebSocket, until: tokio::time::Instant, frame: Message) -> Option<()> {
    tokio::time::timeout_at(until, socket.send(frame)).await.ok()?.ok()
}

/// Who a `join` says the viewer is: an account's token, or a guest's name; and a
/// rehearsal's audience key, if they hold one.
struct JoinAs {
    token: Option<String>,
    guest_name: Option<DisplayName>,
    audience_key: Option<String>,
}

async fn join_room(
    state: &AppState,
    caps: &Caps<'_>,
    room_id: RoomId,
    who: JoinAs,
    resume: Option<(u64, String)>,
) -> ApiResult<(Joined, Option<ServerMsg>, Pass)> {
    let config = &state.config;
    let JoinAs { token, guest_name, audience_key } = who;
    // The place under the cap is taken before the seat, so a refused join never counts.
    let (joiner, ends, notices, pass) = match (token, guest_name) {
        (Some(token), _) => {
            let auth = state.accounts.authenticate(&token).await?;
            let pass = caps.admission.account(auth.account.id, config.max_connections_per_account)?;
            let ends = SessionEnd::of(state, &auth);
            let notices = state.rooms.notices_for(auth.account.id);
            (Joiner::Account(auth.account), ends, Some(notices), pass)
        }
        (None, Some(name)) => {
            let pass = caps.admission.guest(caps.client, config.max_guests_per_address)?;
            (Joiner::Guest(name), SessionEnd::never(), None, pass)
        }
        (None, None) => {
            return Err(ApiError::bad_request("join: give a token, or a guest_name to watch as a guest"));
        }
    };
    let Admitted { room, viewer, opening, seat, bans } =
        state.rooms.join(room_id, joiner, resume, audience_key.as_deref()).await?;
    let ends = ends.with_bans(bans);
    // The snapshot is the reply: the session sends it first.
    Ok((Joined::Room(Box::new(RoomSession { room, viewer, opening, seat, ends, notices })), None, pass))
}

async fn follow_sales(state: &AppState, caps: &Caps<'_>, token: &str) -> ApiResult<(Joined, Option<ServerMsg>, Pass)> {
    let auth = state.accounts.authenticate(token).await?;
    let pass = caps.admission.account(auth.account.id, state.config.max_connections_per_account)?;
    let (brand, feed) = state.commerce.follow_sales(&auth.account).await?;
    let joined = Joined::Feed(Box::new(FeedSession {
        feed: Feed::Sales(feed),
        ends: SessionEnd::of(state, &auth),
        brand: Some(brand),
    }));
    Ok((joined, Some(ServerMsg::FollowingSales { brand_id: brand }), pass))
}

/// Any signed-in account may listen for its own notices.
async fn listen(state: &AppState, caps: &Caps<'_>, token: &str) -> ApiResult<(Joined, Option<ServerMsg>, Pass)> {
    let auth = state.accounts.authenticate(token).await?;
    let pass = caps.admission.account(auth.account.id, state.config.max_connections_per_account)?;
    let feed = Feed::Notices(state.rooms.notices_for(auth.account.id));
    let joined = Joined::Feed(Box::new(FeedSession { feed, ends: SessionEnd::of(state, &auth), brand: None }));
    Ok((joined, Some(ServerMsg::Listening { account_id: auth.account.id }), pass))
}
