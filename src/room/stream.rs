//! The room's live video: who may publish or watch, and the room events that tell
//! viewers when the stream starts, stops and resumes.

use super::{RoomError, RoomResult, Rooms};
use crate::domain::{Refusal, RoomId};
use crate::media::{MediaError, MediaNotice, SessionId};
use crate::store::{AccountRow, RoomRow};
use crate::telemetry::Causes;
use crate::wire::routes::{self, path};
use crate::wire::ws::{RoomEvent, RoomStatus};
use std::net::IpAddr;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

/// Who asks to watch: their account and bearer token, if any, and their client address
/// (its counting key), if known.
pub struct Watcher<'a> {
    pub account: Option<&'a AccountRow>,
    pub bearer: Option<&'a str>,
    pub client: Option<IpAddr>,
}

impl Rooms {
    async fn live_row(&self, room: RoomId) -> RoomResult<RoomRow> {
        let row = self.store.room(room).await?.ok_or(Refusal::NotFound("room"))?;
        if row.status != RoomStatus::Live {
            return Err(RoomError::NotLive);
        }
        Ok(row)
    }

    /// Only the host of a live room publishes; a new publish replaces the current one.
    pub async fn publish(&self, room: RoomId, who: &AccountRow, offer: String) -> RoomResult<(SessionId, String)> {
        let row = self.live_row(room).await?;
        if row.creator_id != who.id {
            return Err(Refusal::Forbidden("only the room's host can publish its stream").into());
        }
        let published = self.media.publish(room, offer).await?;
        self.media_home.set(room, &self.settings.public_url, true).await?;
        Ok(published)
    }

    /// Anyone may watch a live room's stream, as anyone may join its chat; a rehearsal's,
    /// those it admits (`bearer`: an audience key, or the session of `account`). Scaled
    /// out, a viewer who reaches a node without the room's publisher is redirected (307,
    /// the offer is re-sent) to the node that holds it.
    pub async fn watch(&self, room: RoomId, offer: String, watcher: Watcher<'_>) -> RoomResult<(SessionId, String)> {
        let Watcher { account, bearer, client } = watcher;
        let row = self.live_row(room).await?;
        self.admit_watcher(&row, account, bearer).await?;
        if !self.media.is_streaming(room) {
            let me = &self.settings.public_url;
            if let Some(home) = self.media_home.get(room).await?.filter(|home| home != me) {
                return Err(RoomError::StreamElsewhere(format!("{home}{}", path(routes::WHEP, &[room.get()]))));
            }
        }
        let cap = self.settings.max_guests_per_address;
        Ok(self.media.watch(room, offer, client, cap).await?)
    }

    /// Ends a publishing session: only the host (the session URL alone is not enough).
    /// Ending one that already ended succeeds (see [`Rooms::already_ended`]).
    pub async fn unpublish(&self, room: RoomId, who: &AccountRow, session: SessionId) -> RoomResult<()> {
        let row = self.store.room(room).await?.ok_or(Refusal::NotFound("room"))?;
        if row.creator_id != who.id {
            return Err(Refusal::Forbidden("only the room's host can stop its stream").into());
        }
        match self.media.stop_publishing(room, session).await {
            Err(MediaError::NoSession) if self.already_ended(&row, session) => Ok(()),
            done => Ok(done?),
        }
    }

    /// Ends a viewing session; its random URL is the viewer's capability. Ending one that
    /// already ended succeeds (see [`Rooms::already_ended`]); in a room that does not
    /// exist it is `not_found`.
    pub async fn unwatch(&self, room: RoomId, session: SessionId) -> RoomResult<()> {
        match self.media.stop_watching(room, session).await {
            Err(MediaError::NoSession) => {
                let row = self.store.room(room).await?.ok_or(Refusal::NotFound("room"))?;
                if self.already_ended(&row, session) { Ok(()) } else { Err(MediaError::NoSession.into()) }
            }
            done => Ok(done?),
        }
    }

    /// A session no longer open that a `DELETE` may end again: one this node ended
    /// recently (the peer left, the publisher stopped, the show ended), or any session of
    /// a room that has ended (none of its sessions is open any more, on any node).
    fn already_ended(&self, room: &RoomRow, session: SessionId) -> bool {
        room.status == RoomStatus::Ended || self.media.ended_recently(room.id, session)
    }

    /// Turns the SFU's notices into room events until `shutdown`.
    pub async fn announce_streams(self, shutdown: CancellationToken) {
        let mut notices = self.media.notices();
        loop {
            let notice = tokio::select! {
                _ = shutdown.cancelled() => return,
                notice = notices.recv() => notice,
            };
            let (room, started) = match notice {
                Ok(MediaNotice::StreamStarted(room)) => (room, true),
                Ok(MediaNotice::StreamStopped(room)) => (room, false),
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "stream notices lagged");
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            if let Err(e) = self.announce_stream(room, started).await {
                tracing::warn!(%room, error = %Causes(&e), "stream notice not announced");
            }
        }
    }

    async fn announce_stream(&self, room: RoomId, started: bool) -> RoomResult<()> {
        let event = if started {
            // The database remembers the first stream, so a room this node let go of and
            // loaded again still announces a later one as resumed.
            let first = self.store.mark_streamed(room, self.clock.now()).await?;
            RoomEvent::StreamStarted { resumed: !first }
        } else {
            self.media_home.set(room, &self.settings.public_url, false).await?;
            RoomEvent::StreamStopped
        };
        self.events.publish(room, &event).await?;
        Ok(())
    }
}
