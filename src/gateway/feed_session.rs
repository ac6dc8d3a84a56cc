//! A brand member's live sales feed: every sale of the brand's products, in any room.

use super::error_frame;
use super::session_end::SessionEnd;
use crate::domain::BrandId;
use crate::error::{ApiError, Code};
use crate::state::AppState;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use futures_util::StreamExt;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

pub async fn run(
    mut socket: WebSocket,
    state: AppState,
    brand: BrandId,
    mut feed: broadcast::Receiver<Utf8Bytes>,
    ends: SessionEnd,
) {
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            close = ends.reached() => {
                let _ = socket.send(Message::Close(Some(close))).await;
                return;
            }
            sale = feed.recv() => {
                let msg = match sale {
                    Ok(frame) => Message::Text(frame),
                    Err(RecvError::Lagged(missed)) => {
                        tracing::info!(%brand, missed, "sales feed lagged");
                        let e = ApiError::new(Code::Conflict, "the feed fell behind; reload orders over HTTP");
                        error_frame(&e, None)
                    }
                    Err(RecvError::Closed) => return,
                };
                if socket.send(msg).await.is_err() {
                    return;
                }
            }
            msg = socket.next() => match msg {
                Some(Err(e)) => {
                    if let Some(close) = super::too_big(&e) {
                        super::close_with(&mut socket, close).await;
                    }
                    return;
                }
                Some(Ok(Message::Close(_))) | None => return,
                Some(Ok(Message::Text(_) | Message::Binary(_))) => {
                    let e = ApiError::bad_request("the sales feed only sends");
                    if socket.send(error_frame(&e, None)).await.is_err() {
                        return;
                    }
                }
                Some(Ok(_)) => {}
            }
        }
    }
}
