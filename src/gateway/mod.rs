//! WebSocket: the upgrade, the first frame (join a room or follow a brand's sales), and
//! the per-connection loops. `protocol` turns text frames into typed messages before any
//! logic runs.

mod join;
mod protocol;
mod room_session;
mod sales_session;
mod session_end;

use crate::state::AppState;
use crate::wire::routes;
use crate::wire::ws::{MAX_CLIENT_FRAME_BYTES, MAX_SERVER_FRAME_BYTES, ServerMsg};
use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use tracing::Instrument;

/// Frames larger than this close the connection; frames between
/// [`MAX_CLIENT_FRAME_BYTES`] and this get a `frame_too_large` error and the connection
/// stays usable.
const HARD_FRAME_LIMIT: usize = 16 * MAX_CLIENT_FRAME_BYTES;

/// Bytes a viewer's unsent frames may occupy before the connection is dropped as too slow:
/// room for the largest frame the server sends, twice.
const MAX_WRITE_BUFFER: usize = 2 * MAX_SERVER_FRAME_BYTES;

pub fn router() -> Router<AppState> {
    Router::new().route(routes::WS, get(upgrade))
}

async fn upgrade(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    // tungstenite defaults to a 128 KiB read buffer and an unbounded write buffer per
    // connection: gigabytes at a hundred thousand viewers. Viewers mostly listen.
    ws.read_buffer_size(4 * 1024)
        .write_buffer_size(8 * 1024)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .max_message_size(HARD_FRAME_LIMIT)
        .max_frame_size(HARD_FRAME_LIMIT)
        .on_upgrade(move |socket| serve(socket, state))
}

async fn serve(socket: WebSocket, state: AppState) {
    metrics::gauge!("livecart_connections").increment(1.0);
    match join::first_frame(socket, &state).await {
        Some((socket, join::Joined::Room(session))) => {
            // Every log line of the session says which room and which viewer it is about.
            let span = tracing::info_span!("ws", room = %session.room.id, viewer = %session.viewer.key);
            room_session::run(socket, state, *session).instrument(span).await
        }
        Some((socket, join::Joined::Sales { brand, feed, ends })) => {
            sales_session::run(socket, state, brand, feed, ends).await
        }
        None => {}
    }
    metrics::gauge!("livecart_connections").decrement(1.0);
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
