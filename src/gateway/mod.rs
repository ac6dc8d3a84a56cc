//! WebSocket: the upgrade (for an allowed `Origin`), the first frame (join a room,
//! follow a brand's sales or listen for the account's notices, within the per-account and per-address caps), and the
//! per-connection loop. `protocol` turns text frames into typed messages before any
//! logic runs.

pub mod admission;
mod feed_session;
mod join;
mod protocol;
mod room_session;
mod session_end;

use crate::error::ApiError;
use crate::state::AppState;
use crate::wire::routes;
use crate::wire::ws::{MAX_CLIENT_FRAME_BYTES, MAX_SERVER_FRAME_BYTES, ServerMsg};
use admission::Admission;
use axum::extract::ConnectInfo;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use tracing::Instrument;

/// Frames larger than this close the connection; frames between
/// [`MAX_CLIENT_FRAME_BYTES`] and this get a `frame_too_large` error and the connection
/// stays usable.
const HARD_FRAME_LIMIT: usize = 16 * MAX_CLIENT_FRAME_BYTES;

/// Close code 1009 (message too big): a message over [`HARD_FRAME_LIMIT`].
const CLOSE_TOO_BIG: u16 = 1009;

/// How long a connection closed for a message too big stays open after its close frame:
/// the unread rest of that message would make the kernel answer the close with a reset,
/// which can overtake the close frame before the client has read it.
const LINGER: std::time::Duration = std::time::Duration::from_millis(250);

/// tungstenite's read buffer: none while idle. tungstenite then reads at most a frame
/// header's worth (14 bytes) at a time, which the listener's socket serves from what it
/// read ahead in one system call, and keeps the buffer at the size of the largest message
/// read (a join, a comment).
const VIEWER_READ_BUFFER: usize = 0;

/// tungstenite hands every frame to the socket at once: its write buffer keeps the
/// capacity of the largest burst it ever held, for the connection's life, where the
/// listener's socket gathers the frames of a flush into one write and then frees the
/// buffer (the listener's gathering socket, in serve.rs).
const WRITE_BUFFER: usize = 0;

/// Bytes a viewer's unsent frames may occupy before the connection is dropped as too slow:
/// room for the largest frame the server sends, twice.
const MAX_WRITE_BUFFER: usize = 2 * MAX_SERVER_FRAME_BYTES;

/// What every WebSocket connection of a node shares, behind one `Arc`: the application
/// state (by value some 900 bytes, which a copy per connection would keep for as long as
/// the viewer watches) and the caps on joins.
struct Gateway {
    state: AppState,
    admission: Arc<Admission>,
}

/// The WebSocket route; its connections are counted per account and per guest address
/// by one [`Admission`] per router, that is per node.
pub fn router(state: &AppState) -> Router<AppState> {
    let gateway = Gateway { state: state.clone(), admission: Arc::new(Admission::default()) };
    Router::new().route(routes::WS, get(upgrade)).layer(Extension(Arc::new(gateway)))
}

async fn upgrade(
    Extension(gateway): Extension<Arc<Gateway>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let config = &gateway.state.config;
    admission::check_origin(config, &headers)?;
    // Served by `crate::run`, every request knows its peer; a router served otherwise
    // counts its guests as one address.
    let peer = peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |Extension(ConnectInfo(peer))| peer.ip());
    let client = crate::peer::client_ip(peer, &headers, &config.trusted_proxies);
    // tungstenite defaults to a 128 KiB read buffer and an unbounded write buffer per
    // connection: gigabytes at a hundred thousand viewers. Viewers mostly listen: the read
    // buffer grows to what they send (a join, a comment, a checkout), up to the frame
    // limit.
    Ok(ws
        .read_buffer_size(VIEWER_READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .max_message_size(HARD_FRAME_LIMIT)
        .max_frame_size(HARD_FRAME_LIMIT)
        .on_upgrade(move |socket| serve(socket, gateway, client)))
}

/// The connection's one task, from the upgrade to the close: the join, then the session
/// (reading, writing and the room's frames in one loop).
///
/// Every argument of an `async fn`, and every local held across an await, is part of this
/// task for as long as the connection lives, and an argument moved on to another `async
/// fn` stays behind as a copy of dead bytes. So this is a plain function whose future uses
/// the socket where it was captured: the task holds it once, and lends it to the join and
/// the session.
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn would keep a dead copy of the socket in every connection's task"
)]
fn serve(mut socket: WebSocket, gateway: Arc<Gateway>, client: IpAddr) -> impl Future<Output = ()> {
    async move {
        metrics::gauge!("livecart_connections").increment(1.0);
        let state = &gateway.state;
        let caps = join::Caps { admission: &gateway.admission, client };
        // The join (authentication, loading the room, the snapshot) is boxed: its state is
        // far larger than a joined session's, and inline it would be part of every
        // connection's task for as long as the connection lives. The pass keeps the
        // connection's place under its account's or address's cap for as long as the
        // session runs.
        if let Some((joined, _pass)) = Box::pin(join::first_frame(&mut socket, state, caps)).await {
            match joined {
                join::Joined::Room(session) => {
                    // Every log line of the session says which room and which viewer it is about.
                    let span = tracing::info_span!("ws", room = %session.room.id, viewer = %session.viewer.who.key);
                    room_session::run(&mut socket, state, session).instrument(span).await
                }
                join::Joined::Feed(session) => {
                    let span = tracing::info_span!("feed", brand = session.brand.map(tracing::field::display));
                    feed_session::run(&mut socket, state, session).instrument(span).await
                }
            }
        }
        metrics::gauge!("livecart_connections").decrement(1.0);
    }
}

/// The close frame for a read that failed on a message over [`HARD_FRAME_LIMIT`] (the
/// limit is on whole messages: a fragmented one counts all its frames). The connection
/// cannot go on (the rest of the message is unread) but the client learns why, rather
/// than seeing it drop. `None` for any other failure: the peer went away or broke the
/// protocol.
fn too_big(e: &axum::Error) -> Option<CloseFrame> {
    match std::error::Error::source(e)?.downcast_ref::<tungstenite::Error>()? {
        tungstenite::Error::Capacity(_) => Some(CloseFrame {
            code: CLOSE_TOO_BIG,
            reason: format!("message too big: over {HARD_FRAME_LIMIT} bytes").into(),
        }),
        _ => None,
    }
}

/// Sends `close` on a connection that ends now, then keeps it open for [`LINGER`].
async fn close_with(socket: &mut WebSocket, close: CloseFrame) {
    let sent = tokio::time::timeout(LINGER, socket.send(Message::Close(Some(close)))).await;
    if matches!(sent, Ok(Ok(()))) {
        tokio::time::sleep(LINGER).await;
    }
}

/// A connection whose socket accepts nothing for this long is disconnected.
const WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Sends one frame within [`WRITE_TIMEOUT`]; false when it failed or could not go out:
/// a client that reads nothing fills its socket, and the send would wait forever.
async fn send_within(socket: &mut WebSocket, frame: Message) -> bool {
    matches!(tokio::time::timeout(WRITE_TIMEOUT, socket.send(frame)).await, Ok(Ok(())))
}

/// What a binary frame gets: the protocol is JSON text.
fn binary_refused() -> crate::error::ApiError {
    crate::error::ApiError::bad_request("send JSON text frames")
}

fn frame(msg: &ServerMsg) -> Message {
    // Serialising our own message types cannot fail: no maps with non-string keys.
    let text = serde_json::to_string(msg).unwrap_or_default();
    if text.len() > MAX_SERVER_FRAME_BYTES {
        // The write buffer holds twice the limit, so it still goes out; but the bounds
        // that keep frames small have a hole.
        metrics::counter!("livecart_oversized_frames_total").increment(1);
        tracing::error!(bytes = text.len(), limit = MAX_SERVER_FRAME_BYTES, "frame over the documented limit");
    }
    Message::Text(Utf8Bytes::from(text))
}

fn error_frame(e: &crate::error::ApiError, request: Option<&str>) -> Message {
    frame(&ServerMsg::Error {
        code: e.code().to_owned(),
        message: e.public_message(),
        request: request.map(str::to_owned),
    })
}
