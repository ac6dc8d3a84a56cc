//! A room connection speaking livecart's wire types, and the REST calls scenarios need.

use futures_util::{SinkExt, StreamExt};
use livecart::domain::{Role, RoomId};
use livecart::wire::api::{LoginRequest, RegisterRequest, RoomView, SessionResponse};
use livecart::wire::routes;
use livecart::wire::ws::{ClientMsg, ServerMsg, Snapshot};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// A checkout of the cart with the test card that always succeeds, under `key`.
pub fn test_card_checkout(key: String) -> Result<ClientMsg, Error> {
    Ok(ClientMsg::Checkout {
        idempotency_key: key.try_into()?,
        card: Some(livecart::commerce::payments::TestCards::SUCCEEDS.to_owned().try_into()?),
        payment: None,
        save: None,
        shipping: None,
        promo_code: None,
    })
}

#[derive(Clone)]
pub struct Api {
    pub base: String,
    http: reqwest::Client,
}

impl Api {
    pub fn new(base: &str) -> Api {
        Api { base: base.trim_end_matches('/').to_owned(), http: reqwest::Client::new() }
    }

    pub fn ws_url(&self) -> String {
        format!("{}{}", self.base.replacen("http", "ws", 1), routes::WS)
    }

    /// Sends a request and reads a JSON answer, turning an error status into an error.
    async fn json<T: serde::de::DeserializeOwned>(req: reqwest::RequestBuilder) -> Result<T, Error> {
        Ok(req.send().await?.error_for_status()?.json().await?)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn login(&self, email: &str, password: &str) -> Result<SessionResponse, Error> {
        let body = LoginRequest { email: email.into(), password: password.into() };
        Api::json(self.http.post(self.url(routes::LOGIN)).json(&body)).await
    }

    /// A fresh viewer account named for this run.
    pub async fn register_viewer(&self, run: &str, n: usize) -> Result<SessionResponse, Error> {
        let body = RegisterRequest {
            email: format!("load-{run}-{n}@loadtest.livecart"),
            password: "loadtest-password".into(),
            display_name: format!("Load {n}").as_str().try_into()?,
            role: Role::Viewer,
            brand_name: None,
        };
        Api::json(self.http.post(self.url(routes::REGISTER)).json(&body)).await
    }

    /// The live room hosted by `host`.
    pub async fn hosted_live_room(&self, host: &SessionResponse) -> Result<RoomView, Error> {
        let rooms: Vec<RoomView> = Api::json(self.http.get(format!("{}?status=live", self.url(routes::ROOMS)))).await?;
        rooms.into_iter().find(|r| r.host.id == host.account.id).ok_or_else(|| "the host has no live room".into())
    }

    pub async fn post<B: serde::Serialize, T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        token: &str,
        body: &B,
    ) -> Result<T, Error> {
        Api::json(self.http.post(self.url(path)).bearer_auth(token).json(body)).await
    }

    pub async fn put<B: serde::Serialize, T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        token: &str,
        body: &B,
    ) -> Result<T, Error> {
        Api::json(self.http.put(self.url(path)).bearer_auth(token).json(body)).await
    }

    pub async fn get<T: serde::de::DeserializeOwned>(&self, path: &str, token: &str) -> Result<T, Error> {
        Api::json(self.http.get(self.url(path)).bearer_auth(token)).await
    }
}

pub struct RoomConn {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// How many loopback source addresses connections are spread over (127.0.0.1 … 127.0.0.N
/// unless [`use_source_addresses`] moved the range): one source address has only ~28k
/// ephemeral ports towards one server port.
pub const SOURCE_ADDRESSES: u8 = 16;

/// The first of this process's loopback source addresses (last octet), once chosen.
static FIRST_SOURCE: OnceLock<u8> = OnceLock::new();
static NEXT_SOURCE: AtomicUsize = AtomicUsize::new(0);

/// Moves this process's source addresses to 127.0.0.`first` … `first + 15`, so several
/// load processes (the `scale` workers) each dial from addresses of their own. Only the
/// first call counts; call it before the first connection.
pub fn use_source_addresses(first: u8) {
    let _ = FIRST_SOURCE.set(first.clamp(1, 255 - SOURCE_ADDRESSES));
}

/// tungstenite reads into a buffer of this size, allocated per connection (its default,
/// 128 KiB, would be 2.4 GiB for the 19,000 viewers of one `scale` worker); a chat frame is
/// a few hundred bytes and a snapshot a few KiB, for which the buffer grows.
const READ_BUFFER: usize = 8 * 1024;

/// A TCP connection to `base`'s host, from the next loopback source address when the
/// target is on loopback.
pub async fn dial(base: &str) -> Result<TcpStream, Error> {
    let authority = base.split("://").nth(1).unwrap_or(base).split('/').next().unwrap_or_default();
    let target = tokio::net::lookup_host(authority).await?.next().ok_or("no address for the target")?;
    if !target.ip().is_loopback() || !target.is_ipv4() {
        return Ok(TcpStream::connect(target).await?);
    }
    let n = NEXT_SOURCE.fetch_add(1, Ordering::Relaxed) % usize::from(SOURCE_ADDRESSES);
    let first = *FIRST_SOURCE.get_or_init(|| 1);
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((Ipv4Addr::new(127, 0, 0, first + n as u8), 0)))?;
    Ok(socket.connect(target).await?)
}

/// The WebSocket handshake over `stream`, with a read buffer sized for many viewers.
pub async fn handshake(url: String, stream: TcpStream) -> Result<WebSocketStream<MaybeTlsStream<TcpStream>>, Error> {
    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
    let connecting = tokio_tungstenite::client_async_with_config(url, MaybeTlsStream::Plain(stream), Some(config));
    Ok(tokio::time::timeout(WAIT, connecting).await??.0)
}

/// Raises this process's open-file limit to its hard limit: each connection is a file.
pub fn raise_file_limit() -> Result<u64, Error> {
    let (_, hard) = rlimit::Resource::NOFILE.get()?;
    rlimit::Resource::NOFILE.set(hard, hard)?;
    Ok(hard)
}

/// How long any single wait on the server may take before the run counts a failure.
pub const WAIT: Duration = Duration::from_secs(30);

impl RoomConn {
    pub async fn connect(api: &Api) -> Result<RoomConn, Error> {
        let stream = tokio::time::timeout(WAIT, dial(&api.base)).await??;
        Ok(RoomConn { ws: handshake(api.ws_url(), stream).await? })
    }

    pub async fn send(&mut self, msg: &ClientMsg) -> Result<(), Error> {
        self.ws.send(Message::text(serde_json::to_string(msg)?)).await?;
        Ok(())
    }

    /// The next server message; `None` when the connection closed.
    pub async fn recv(&mut self) -> Result<Option<ServerMsg>, Error> {
        match tokio::time::timeout(WAIT, self.next_text()).await?? {
            Some(text) => Ok(Some(serde_json::from_str(&text)?)),
            None => Ok(None),
        }
    }

    /// The next text frame as it came, unparsed and unbounded in time (a viewer in a
    /// storm waits until its own deadline); `None` when the connection closed. Reading a
    /// frame's few bytes of interest instead of decoding it keeps the load client cheap.
    pub async fn next_text(&mut self) -> Result<Option<Utf8Bytes>, Error> {
        loop {
            match self.ws.next().await {
                None | Some(Ok(Message::Close(_))) => return Ok(None),
                Some(Ok(Message::Text(text))) => return Ok(Some(text)),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
            }
        }
    }

    /// Joins as `token`'s account, or as a guest, with a rehearsal's audience key if
    /// given, and returns the snapshot.
    pub async fn join(
        &mut self,
        room: RoomId,
        token: Option<&str>,
        guest: &str,
        audience_key: Option<&str>,
    ) -> Result<Snapshot, Error> {
        let frame = self.join_frame(room, token, guest, audience_key).await?;
        match serde_json::from_str(&frame)? {
            ServerMsg::Snapshot(s) => Ok(*s),
            _ => Err("the join was not answered with a snapshot".into()),
        }
    }

    /// Joins as [`RoomConn::join`] does and returns the snapshot frame unparsed: a
    /// viewer that only counts comments has no use for the room's state. Server frames
    /// start with their `type` (docs/protocol.md), which is all this reads of them.
    pub async fn join_frame(
        &mut self,
        room: RoomId,
        token: Option<&str>,
        guest: &str,
        audience_key: Option<&str>,
    ) -> Result<Utf8Bytes, Error> {
        let guest_name = token.is_none().then(|| guest.try_into()).transpose()?;
        self.send(&ClientMsg::Join {
            room_id: room,
            token: token.map(str::to_owned),
            guest_name,
            since: None,
            epoch: None,
            audience_key: audience_key.map(str::to_owned),
        })
        .await?;
        loop {
            let frame = tokio::time::timeout(WAIT, self.next_text()).await??.ok_or("closed before the snapshot")?;
            if frame.starts_with(r#"{"type":"snapshot""#) {
                return Ok(frame);
            }
            if let Ok(ServerMsg::Error { code, message, .. }) = serde_json::from_str(&frame) {
                return Err(format!("join: {code}: {message}").into());
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}
