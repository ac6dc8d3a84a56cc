//! One chat connection to any server under comparison: livecart's room protocol (which
//! the minimal peer of `crate::minimal` speaks too), or the Socket.IO peer
//! (`loadtest/peers/socketio`) with the same semantics. Scenarios drive all of them
//! through this one type, so each gets exactly the same load.
//!
//! Receiving is the load client's hot path (400,000 frames/s at 2,000 viewers × 200
//! comments/s, on the cores the server also needs), so a frame is never decoded: the
//! comment's send time is found with a byte search for a [`Stamp`] the sender wrote into
//! the comment text.

use crate::client::{Api, Error, RoomConn, WAIT, dial, handshake};
use futures_util::{SinkExt, StreamExt};
use livecart::domain::RoomId;
use livecart::wire::ws::ClientMsg;
use memchr::memmem::Finder;
use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Which server, and which room on it.
#[derive(Clone)]
pub enum ChatTarget {
    Livecart { api: Api, room: RoomId },
    SocketIo { base: String },
}

pub enum Incoming {
    /// A comment that carries a [`Stamp`].
    Comment(Stamp),
    RateLimited,
    Other,
}

pub enum ChatConn {
    Livecart(RoomConn),
    SocketIo(WebSocketStream<MaybeTlsStream<TcpStream>>),
}

/// The room every Socket.IO client joins.
const SIO_ROOM: &str = "storm";

/// When and where a comment was sent, written into its text as
/// `~ls~{microseconds since the Unix epoch}~{origin}~{number}`. Wall-clock time, so that
/// processes on one machine (the `scale` workers) compare their stamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub sent_us: u64,
    /// Who sent it, as the scenario numbers its senders or nodes.
    pub origin: u32,
}

const MARK: &str = "~ls~";
/// The stamp as it appears in a frame: the mark at the start of a `text` field. Both
/// livecart (serde) and Socket.IO (`JSON.stringify`) write JSON without spaces.
static STAMPED_TEXT: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"text\":\"~ls~"));

/// Microseconds since the Unix epoch.
pub fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

impl Stamp {
    /// A comment text stamped now, from `origin`; `n` makes each comment's text unique.
    pub fn text(origin: u32, n: u64) -> String {
        format!("{MARK}{}~{origin}~{n}", now_us())
    }

    /// The stamp in a frame, if it carries one.
    pub fn find(frame: &[u8]) -> Option<Stamp> {
        let at = STAMPED_TEXT.find(frame)? + STAMPED_TEXT.needle().len();
        let (sent_us, rest) = number(&frame[at..])?;
        let (origin, _) = number(rest.strip_prefix(b"~")?)?;
        Some(Stamp { sent_us, origin: u32::try_from(origin).ok()? })
    }
}

/// The decimal number at the start of `bytes`, and what follows it.
fn number(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    let value = bytes[..digits].iter().try_fold(0u64, |n, d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))?;
    (digits > 0).then_some((value, &bytes[digits..]))
}

/// What a livecart frame is to a chat viewer, from its opening bytes (frames start with
/// their `type`) and, for a comment, its stamp.
fn livecart_incoming(frame: &str) -> Incoming {
    if frame.starts_with(r#"{"type":"event""#) {
        Stamp::find(frame.as_bytes()).map_or(Incoming::Other, Incoming::Comment)
    } else if frame.starts_with(r#"{"type":"error""#) && frame.contains(r#""code":"rate_limited""#) {
        Incoming::RateLimited
    } else {
        Incoming::Other
    }
}

impl ChatConn {
    /// Connects and joins; returns once the server confirmed the join (livecart: the
    /// snapshot; Socket.IO: the join acknowledgement).
    pub async fn join(target: &ChatTarget, name: &str) -> Result<ChatConn, Error> {
        match target {
            ChatTarget::Livecart { api, room } => {
                let mut conn = RoomConn::connect(api).await?;
                conn.join_frame(*room, None, name, None).await?;
                Ok(ChatConn::Livecart(conn))
            }
            ChatTarget::SocketIo { base } => {
                let stream = tokio::time::timeout(WAIT, dial(base)).await??;
                let url = format!("{}/socket.io/?EIO=4&transport=websocket", base.replacen("http", "ws", 1));
                let mut ws = handshake(url, stream).await?;
                expect_prefix(&mut ws, "0").await?; // engine.io open
                ws.send(Message::text("40")).await?; // connect to the default namespace
                expect_prefix(&mut ws, "40").await?;
                ws.send(Message::text(format!(r#"420["join","{SIO_ROOM}"]"#))).await?;
                expect_prefix(&mut ws, "430").await?; // the join's acknowledgement
                Ok(ChatConn::SocketIo(ws))
            }
        }
    }

    pub async fn comment(&mut self, text: &str) -> Result<(), Error> {
        match self {
            ChatConn::Livecart(conn) => conn.send(&ClientMsg::Comment { text: text.try_into()? }).await,
            ChatConn::SocketIo(ws) => {
                let frame = format!("42{}", serde_json::json!(["comment", { "text": text }]));
                ws.send(Message::text(frame)).await?;
                Ok(())
            }
        }
    }

    /// The next message; `None` when the connection closed. Unbounded in time: the
    /// caller waits until its own deadline.
    pub async fn next(&mut self) -> Result<Option<Incoming>, Error> {
        match self {
            ChatConn::Livecart(conn) => Ok(conn.next_text().await?.map(|frame| livecart_incoming(&frame))),
            ChatConn::SocketIo(ws) => loop {
                let Some(msg) = ws.next().await else { return Ok(None) };
                let Message::Text(text) = msg? else { continue };
                if text.as_str() == "2" {
                    ws.send(Message::text("3")).await?; // engine.io ping, pong
                    continue;
                }
                return Ok(Some(match Stamp::find(text.as_bytes()) {
                    Some(stamp) if text.starts_with(r#"42["comment""#) => Incoming::Comment(stamp),
                    _ => Incoming::Other,
                }));
            },
        }
    }

    pub async fn close(self) {
        match self {
            ChatConn::Livecart(conn) => conn.close().await,
            ChatConn::SocketIo(mut ws) => {
                let _ = ws.close(None).await;
            }
        }
    }
}

async fn expect_prefix(ws: &mut WebSocketStream<MaybeTlsStream<TcpStream>>, prefix: &str) -> Result<(), Error> {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next()).await?.ok_or("closed during the handshake")??;
        if let Message::Text(text) = msg {
            if text.starts_with(prefix) {
                return Ok(());
            }
            if text.as_str() == "2" {
                ws.send(Message::text("3")).await?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_is_read_back_from_a_livecart_comment_frame() {
        let text = Stamp::text(7, 3);
        let frame = format!(
            r#"{{"type":"event","seq":41,"event":{{"kind":"comment","author":"Storm 1","author_key":"g1","speaker":"guest","text":"{text}","at":1}}}}"#
        );
        let Incoming::Comment(stamp) = livecart_incoming(&frame) else { panic!("no stamp in {frame}") };
        assert_eq!(stamp.origin, 7);
        assert!(text.starts_with(&format!("~ls~{}~7~3", stamp.sent_us)));
    }

    #[test]
    fn frames_without_a_stamp_in_a_comment_text_carry_none() {
        // A snapshot lists recent comments, stamps included: it is not a delivery.
        let snapshot = r#"{"type":"snapshot","comments":[{"text":"~ls~12~0~1"}]}"#;
        assert!(matches!(livecart_incoming(snapshot), Incoming::Other));
        // The mark elsewhere than at the start of the text.
        assert_eq!(Stamp::find(br#"{"type":"event","event":{"author":"~ls~1~2","text":"hi ~ls~1~2~3"}}"#), None);
        assert_eq!(Stamp::find(br#"{"text":"~ls~~1~1"}"#), None);
        assert_eq!(Stamp::find(br#"{"text":"~ls~99999999999999999999~1~1"}"#), None, "overflow is no stamp");
        let limited = r#"{"type":"error","code":"rate_limited","message":"slow down"}"#;
        assert!(matches!(livecart_incoming(limited), Incoming::RateLimited));
    }
}
