//! The minimal server livecart's fan-out is measured against (issue 15): tokio-tungstenite
//! and one broadcast channel, nothing else. It speaks just enough of livecart's protocol
//! for the chat-storm client: any `join` is answered with a snapshot frame that holds
//! only its type and `seq`, and every `comment` goes to everyone joined as livecart's own
//! `event` frame (`RoomEvent::Comment`), serialised once. Each viewer's task writes every
//! frame that is waiting with one flush, as livecart's send loop does; a viewer that falls
//! a whole channel behind is closed (livecart would resync it). No accounts, no rate
//! limit, no history: what is left is the cost of the fan-out itself.

use futures_util::{SinkExt, StreamExt};
use livecart::domain::UnixMs;
use livecart::wire::ws::{ClientMsg, CommentView, RoomEvent, ServerMsg, Speaker};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// Frames a viewer may lag before it is closed: livecart's default viewer queue.
const QUEUE: usize = 1024;

/// The one room: its frames, and the next sequence number.
struct Room {
    frames: broadcast::Sender<Utf8Bytes>,
    seq: AtomicU64,
}

/// Serves viewers on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener) -> std::io::Result<()> {
    let room = Arc::new(Room { frames: broadcast::channel(QUEUE).0, seq: AtomicU64::new(0) });
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(viewer(stream, Arc::clone(&room)));
    }
}

fn comment_frame(room: &Room, text: String) -> Option<Utf8Bytes> {
    let event = RoomEvent::Comment(CommentView {
        author: "guest".into(),
        author_key: "g".into(),
        speaker: Speaker::Guest,
        text,
        at: UnixMs((crate::chat::now_us() / 1000) as i64),
    });
    let seq = room.seq.fetch_add(1, Ordering::Relaxed) + 1;
    serde_json::to_string(&ServerMsg::Event { seq, event }).ok().map(Utf8Bytes::from)
}

async fn viewer(stream: TcpStream, room: Arc<Room>) {
    // A read buffer sized for what a viewer sends (tungstenite's default is 128 KiB); the
    // write buffer keeps its default, so that `feed` gathers frames for one flush.
    let config = WebSocketConfig::default().read_buffer_size(4 * 1024);
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else { return };
    let mut frames: Option<broadcast::Receiver<Utf8Bytes>> = None;
    loop {
        let next = async {
            match frames.as_mut() {
                Some(rx) => rx.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            msg = ws.next() => {
                let Some(Ok(msg)) = msg else { return };
                let Message::Text(text) = msg else { continue };
                match serde_json::from_str::<ClientMsg>(&text) {
                    Ok(ClientMsg::Join { .. }) => {
                        frames = Some(room.frames.subscribe());
                        let snapshot = format!(r#"{{"type":"snapshot","seq":{}}}"#, room.seq.load(Ordering::Relaxed));
                        if ws.send(Message::text(snapshot)).await.is_err() {
                            return;
                        }
                    }
                    Ok(ClientMsg::Comment { text }) => {
                        if let Some(frame) = comment_frame(&room, text.as_str().to_owned()) {
                            let _ = room.frames.send(frame);
                        }
                    }
                    _ => {}
                }
            }
            frame = next => {
                let Ok(frame) = frame else { return };
                if ws.feed(Message::Text(frame)).await.is_err() {
                    return;
                }
                while let Some(Ok(frame)) = frames.as_mut().map(|rx| rx.try_recv()) {
                    if ws.feed(Message::Text(frame)).await.is_err() {
                        return;
                    }
                }
                if ws.flush().await.is_err() {
                    return;
                }
            }
        }
    }
}
