//! When a connection must end: its session was revoked (a logout, on any node) or has
//! expired (closed with code 4001 and a reason saying which, so the client knows to sign
//! in again rather than reconnect), or its viewer was banned from the room or from all
//! its host's rooms (code 4003, on any node).

use crate::accounts::Authenticated;
use crate::bus::kicks::Watch;
use crate::state::AppState;
use crate::wire::ws::{BanScope, CLOSE_BANNED};
use axum::extract::ws::CloseFrame;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::time::Instant;

/// Close code for a connection whose session ended (docs/protocol.md, section 2).
pub const CLOSE_SESSION_ENDED: u16 = 4001;

pub struct SessionEnd {
    watch: Option<Watch>,
    expires: Option<Instant>,
    /// Cancelled when the viewer is banned, with where the ban holds.
    bans: Vec<(Watch, BanScope)>,
}

impl SessionEnd {
    /// A guest's connection: no session to end.
    pub fn never() -> Self {
        SessionEnd { watch: None, expires: None, bans: Vec::new() }
    }

    pub fn of(state: &AppState, auth: &Authenticated) -> Self {
        SessionEnd {
            watch: Some(state.accounts.watch(&auth.session)),
            expires: Some(Instant::now() + auth.remaining),
            bans: Vec::new(),
        }
    }

    /// Also ends when one of these bans is kicked.
    pub fn with_bans(self, bans: Vec<(Watch, BanScope)>) -> Self {
        SessionEnd { bans, ..self }
    }

    /// The session's end as one future the connection keeps for its whole life, polled
    /// beside everything else it waits for: built once, it stays registered with its
    /// watches and its timer instead of joining and leaving them on every frame sent.
    /// Boxed, and only when there is something to wait for: a guest's connection holds
    /// nothing for it.
    pub fn reached(self) -> Ending {
        if self.watch.is_none() && self.expires.is_none() && self.bans.is_empty() {
            return Ending(None);
        }
        Ending(Some(Box::pin(async move { self.wait().await })))
    }

    async fn wait(&self) -> CloseFrame {
        let revoked = async {
            match &self.watch {
                Some(watch) => watch.kicked.cancelled().await,
                None => std::future::pending().await,
            }
        };
        let expired = async {
            match self.expires {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let banned = async {
            if self.bans.is_empty() {
                return std::future::pending().await;
            }
            let kicked = self.bans.iter().map(|(watch, scope)| {
                Box::pin(async move {
                    watch.kicked.cancelled().await;
                    *scope
                })
            });
            futures_util::future::select_all(kicked).await.0
        };
        let (code, reason) = tokio::select! {
            _ = revoked => (CLOSE_SESSION_ENDED, "session revoked: sign in again"),
            _ = expired => (CLOSE_SESSION_ENDED, "session expired: sign in again"),
            scope = banned => match scope {
                BanScope::Room => (CLOSE_BANNED, "banned from this room"),
                BanScope::Creator => (CLOSE_BANNED, "banned from this creator's rooms"),
            },
        };
        CloseFrame { code, reason: reason.into() }
    }
}

/// When a connection must close, and with which frame (see [`SessionEnd::reached`]);
/// pending for ever when nothing can end it. It is ready once: a connection closes then.
pub struct Ending(Option<Pin<Box<dyn Future<Output = CloseFrame> + Send>>>);

impl Future for Ending {
    type Output = CloseFrame;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<CloseFrame> {
        match &mut self.0 {
            Some(end) => end.as_mut().poll(cx),
            None => Poll::Pending,
        }
    }
}
