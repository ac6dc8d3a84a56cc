//! When a connection must end: its session was revoked (a logout, on any node) or has
//! expired (closed with code 4001 and a reason saying which, so the client knows to sign
//! in again rather than reconnect), or its viewer was banned from the room or from all
//! its host's rooms (code 4003, on any node).

use crate::accounts::Authenticated;
use crate::bus::kicks::{Target, Watch};
use crate::state::AppState;
use crate::wire::ws::CLOSE_BANNED;
use axum::extract::ws::CloseFrame;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::time::{Instant, Sleep};

/// Close code for a connection whose session ended (docs/protocol.md, section 2).
pub const CLOSE_SESSION_ENDED: u16 = 4001;

pub struct SessionEnd {
    /// Kicked when the session is revoked.
    session: Option<Watch>,
    expires: Option<Instant>,
    /// Kicked when the viewer is banned; the target kicked says where the ban holds.
    bans: Option<Watch>,
}

impl SessionEnd {
    /// A guest's connection: no session to end.
    pub fn never() -> Self {
        SessionEnd { session: None, expires: None, bans: None }
    }

    pub fn of(state: &AppState, auth: &Authenticated) -> Self {
        SessionEnd {
            session: Some(state.accounts.watch(&auth.session)),
            expires: Some(Instant::now() + auth.remaining),
            bans: None,
        }
    }

    /// Also ends when the viewer is banned (the watch is kicked).
    pub fn with_bans(self, bans: Option<Watch>) -> Self {
        SessionEnd { bans, ..self }
    }

    /// The session's end as one future the connection keeps for its whole life, polled
    /// beside everything else it waits for. It holds the watches themselves (a kick wakes
    /// the connection's task; nothing waits in a queue) and, when the session expires, a
    /// timer, boxed: a guest's connection holds two pointers for it.
    pub fn reached(self) -> Ending {
        let SessionEnd { session, expires, bans } = self;
        Ending { session, bans, expiry: expires.map(|at| Box::pin(tokio::time::sleep_until(at))) }
    }
}

/// When a connection must close, and with which frame (see [`SessionEnd::reached`]);
/// pending for ever when nothing can end it. It is ready once: a connection closes then.
pub struct Ending {
    session: Option<Watch>,
    bans: Option<Watch>,
    expiry: Option<Pin<Box<Sleep>>>,
}

impl Future for Ending {
    type Output = CloseFrame;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<CloseFrame> {
        let this = &mut *self;
        let kicked = [&this.session, &this.bans].into_iter().flatten().find_map(|w| match w.poll_kicked(cx) {
            Poll::Ready(target) => Some(closing(target)),
            Poll::Pending => None,
        });
        if let Some(close) = kicked {
            return Poll::Ready(close);
        }
        let expired = this.expiry.as_mut().is_some_and(|expiry| expiry.as_mut().poll(cx).is_ready());
        if expired {
            return Poll::Ready(close(CLOSE_SESSION_ENDED, "session expired: sign in again"));
        }
        Poll::Pending
    }
}

/// The close frame for a connection whose `target` was kicked.
fn closing(target: &Target) -> CloseFrame {
    match target {
        Target::Session(_) => close(CLOSE_SESSION_ENDED, "session revoked: sign in again"),
        Target::Room { .. } => close(CLOSE_BANNED, "banned from this room"),
        Target::Creator { .. } => close(CLOSE_BANNED, "banned from this creator's rooms"),
    }
}

fn close(code: u16, reason: &'static str) -> CloseFrame {
    CloseFrame { code, reason: reason.into() }
}
