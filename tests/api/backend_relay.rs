//! A TCP relay on loopback in front of a backend (Redis), which a test can silence: its
//! connections stay open, but nothing passes either way until it speaks again. To the
//! server behind it, the backend has stopped answering, as a stalled or cut-off one does.

use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct BackendRelay {
    /// Where to connect instead of the backend.
    pub addr: SocketAddr,
    /// Whether it is silent; every connection's pumps watch it. Dropping it ends them.
    silent: watch::Sender<bool>,
    accept: JoinHandle<()>,
}

impl Drop for BackendRelay {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl BackendRelay {
    /// Relays every connection made to [`BackendRelay::addr`] to `backend`.
    pub async fn start(backend: SocketAddr) -> BackendRelay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the relay");
        let addr = listener.local_addr().expect("relay address");
        let (silent, gate) = watch::channel(false);
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(backend).await else { continue };
                let ((client_reads, client_writes), (server_reads, server_writes)) =
                    (client.into_split(), server.into_split());
                tokio::spawn(pump(client_reads, server_writes, gate.clone()));
                tokio::spawn(pump(server_reads, client_writes, gate.clone()));
            }
        });
        BackendRelay { addr, silent, accept }
    }

    /// Stops passing bytes (`true`), or passes them again (`false`), what was held
    /// meanwhile first.
    pub fn silence(&self, silent: bool) {
        self.silent.send_replace(silent);
    }
}

/// Copies `from` to `to`, holding what it read while the relay is silent; ends with
/// either side, or with the relay.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut silent: watch::Receiver<bool>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if silent.wait_for(|silent| !silent).await.is_err() || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
