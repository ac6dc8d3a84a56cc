//! When a connection must end: its session was revoked (a logout, on any node) or has
//! expired (closed with code 4001 and a reason saying which, so the client knows to sign
//! in again rather than reconnect), or its viewer was banned from the room or from all
//! its host's rooms (code 4003, on any node).

use crate::accounts::Authenticated;
use crate::bus::kicks::Watch;
use crate::state::AppState;
use crate::wire::ws::{BanScope, CLOSE_BANNED};
use axum::extract::ws::CloseFrame;
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

    /// Waits until the session ends; never, for a guest.
    pub async fn reached(&self) -> CloseFrame {
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
