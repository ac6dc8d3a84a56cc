//! A connection that only receives a feed: a brand member's live sales (every sale of the
//! brand's products, in any room), or an account's notices (a followed creator going
//! live). Neither has history: a gap is filled over HTTP.

use super::error_frame;
use super::join::FeedSession;
use crate::error::{ApiError, Code};
use crate::state::AppState;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::StreamExt;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

/// What the connection receives.
pub enum Feed {
    /// A brand's sales: a dashboard that falls behind is told to reload orders.
    Sales(broadcast::Receiver<Utf8Bytes>),
    /// An account's notices: rare and best-effort, so missed ones are skipped.
    Notices(broadcast::Receiver<Utf8Bytes>),
}

impl Feed {
    /// The next frame to send; `None` when the feed is closed.
    async fn next(&mut self) -> Option<Message> {
        loop {
            let (feed, sales) = match self {
                Feed::Sales(feed) => (feed, true),
                Feed::Notices(feed) => (feed, false),
            };
            match feed.recv().await {
                Ok(frame) => return Some(Message::Text(frame)),
                Err(RecvError::Lagged(missed)) if sales => {
                    tracing::info!(missed, "sales feed lagged");
                    let e = ApiError::new(Code::Conflict, "the feed fell behind; reload orders over HTTP");
                    return Some(error_frame(&e, None));
                }
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

/// Close code 1012 (service restart): reconnect, and read what was missed over HTTP.
const CLOSE_RESTARTING: u16 = 1012;

/// Serves a feed until either side ends the connection (`socket`, borrowed: the
/// connection's task holds it once).
pub async fn run(socket: &mut WebSocket, state: &AppState, session: Box<FeedSession>) {
    let FeedSession { mut feed, ends, brand: _ } = *session;
    let mut ends = ends.reached();
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => {
                let close = CloseFrame { code: CLOSE_RESTARTING, reason: "server restarting: reconnect".into() };
                super::send_within(socket, Message::Close(Some(close))).await;
                return;
            }
            close = &mut ends => {
                super::send_within(socket, Message::Close(Some(close))).await;
                return;
            }
            frame = feed.next() => match frame {
                Some(msg) => {
                    if !super::send_within(socket, msg).await {
                        return;
                    }
                }
                None => return,
            },
            msg = socket.next() => match msg {
                Some(Err(e)) => {
                    if let Some(close) = super::too_big(&e) {
                        super::close_with(socket, close).await;
                    }
                    return;
                }
                Some(Ok(Message::Close(_))) | None => return,
                Some(Ok(Message::Text(_) | Message::Binary(_))) => {
                    let e = ApiError::bad_request("this connection only sends");
                    if !super::send_within(socket, error_frame(&e, None)).await {
                        return;
                    }
                }
                Some(Ok(_)) => {}
            }
        }
    }
}
