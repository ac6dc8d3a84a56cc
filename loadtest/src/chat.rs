//! One chat connection to either server under comparison: livecart's room protocol, or
//! the Socket.IO peer (`loadtest/peers/socketio`) with the same semantics. Scenarios
//! drive both through this one type, so both get exactly the same load.

use crate::client::{Api, Error, RoomConn, WAIT, dial};
use futures_util::{SinkExt, StreamExt};
use livecart::domain::RoomId;
use livecart::wire::ws::{ClientMsg, RoomEvent, ServerMsg};
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
    Comment(String),
    RateLimited,
    Other,
}

pub enum ChatConn {
    Livecart(RoomConn),
    SocketIo(WebSocketStream<MaybeTlsStream<TcpStream>>),
}

/// The room every Socket.IO client joins.
const SIO_ROOM: &str = "storm";

impl ChatConn {
    /// Connects and joins; returns once the server confirmed the join (livecart: the
    /// snapshot; Socket.IO: the join acknowledgement).
    pub async fn join(target: &ChatTarget, name: &str) -> Result<ChatConn, Error> {
        match target {
            ChatTarget::Livecart { api, room } => {
                let mut conn = RoomConn::connect(api).await?;
                conn.join(*room, None, name, None).await?;
                Ok(ChatConn::Livecart(conn))
            }
            ChatTarget::SocketIo { base } => {
                let stream = tokio::time::timeout(WAIT, dial(base)).await??;
                let url = format!("{}/socket.io/?EIO=4&transport=websocket", base.replacen("http", "ws", 1));
                let (mut ws, _) =
                    tokio::time::timeout(WAIT, tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(stream)))
                        .await??;
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

    /// The next message; `None` when the connection closed.
    pub async fn next(&mut self) -> Result<Option<Incoming>, Error> {
        match self {
            ChatConn::Livecart(conn) => Ok(conn.recv().await?.map(|m| match m {
                ServerMsg::Event { event: RoomEvent::Comment(c), .. } => Incoming::Comment(c.text),
                ServerMsg::Error { code, .. } if code == "rate_limited" => Incoming::RateLimited,
                _ => Incoming::Other,
            })),
            ChatConn::SocketIo(ws) => loop {
                let Some(msg) = tokio::time::timeout(WAIT, ws.next()).await? else { return Ok(None) };
                let Message::Text(text) = msg? else { continue };
                if text.as_str() == "2" {
                    ws.send(Message::text("3")).await?; // engine.io ping, pong
                    continue;
                }
                let Some(payload) = text.strip_prefix("42") else { return Ok(Some(Incoming::Other)) };
                let event: serde_json::Value = serde_json::from_str(payload)?;
                return Ok(Some(match event[1]["text"].as_str() {
                    Some(t) if event[0] == "comment" => Incoming::Comment(t.to_owned()),
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
