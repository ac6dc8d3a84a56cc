//! When a signed-in connection must end: its session was revoked (a logout, on any node)
//! or has expired. The connection is then closed with code 4001 and a reason saying
//! which, so the client knows to sign in again rather than reconnect.

use crate::accounts::Authenticated;
use crate::bus::kicks::Watch;
use crate::state::AppState;
use axum::extract::ws::CloseFrame;
use tokio::time::Instant;

/// Close code for a connection whose session ended (docs/protocol.md, section 2).
pub const CLOSE_SESSION_ENDED: u16 = 4001;

pub struct SessionEnd {
    watch: Option<Watch>,
    expires: Option<Instant>,
}

impl SessionEnd {
    /// A guest's connection: no session to end.
    pub fn never() -> Self {
        SessionEnd { watch: None, expires: None }
    }

    pub fn of(state: &AppState, auth: &Authenticated) -> Self {
        SessionEnd { watch: Some(state.accounts.watch(&auth.session)), expires: Some(Instant::now() + auth.remaining) }
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
        let reason = tokio::select! {
            _ = revoked => "session revoked: sign in again",
            _ = expired => "session expired: sign in again",
        };
        CloseFrame { code: CLOSE_SESSION_ENDED, reason: reason.into() }
    }
}
