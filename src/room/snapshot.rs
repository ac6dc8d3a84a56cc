//! What a viewer receives on joining: a full snapshot, or (when resuming within the same
//! epoch and history still reaches back) just the events it missed.

use super::live::Delivery;
use super::{LiveRoom, RoomResult, Rooms, Viewer};
use crate::commerce::catalog::product_card;
use crate::wire::ws::{Participant, ServerMsg, Snapshot};
use axum::extract::ws::Utf8Bytes;
use std::sync::Arc;
use tokio::sync::broadcast;

/// The frames that open a viewer's stream, and the receiver that continues it.
pub struct Opening {
    pub first: ServerMsg,
    /// Missed events after a successful resume, already serialised.
    pub replay: Vec<(u64, Utf8Bytes)>,
    /// The last sequence number the client will have seen once `first` and `replay` are sent.
    pub seq: u64,
    pub frames: broadcast::Receiver<Delivery>,
}

impl Rooms {
    /// Resumes from `since` when the epoch matches and history covers it; otherwise a
    /// fresh snapshot, flagged `reset` if the client had asked to resume.
    pub async fn open(&self, room: &LiveRoom, viewer: &Viewer, resume: Option<(u64, String)>) -> RoomResult<Opening> {
        if let Some((since, epoch)) = &resume {
            let (replay, frames) =
                room.read_and_subscribe(|s| if &s.epoch == epoch { s.since(*since).map(|r| (r, s.seq)) } else { None });
            if let Some((replay, seq)) = replay {
                let first = ServerMsg::Resumed { epoch: epoch.clone(), since: *since, seq };
                return Ok(Opening { first, replay, seq, frames });
            }
        }
        self.snapshot(room, viewer, resume.is_some()).await
    }

    pub async fn snapshot(&self, room: &LiveRoom, viewer: &Viewer, reset: bool) -> RoomResult<Opening> {
        let ((card, rows, pinned, drop, comments, seq, epoch, streaming), frames) = room.read_and_subscribe(|s| {
            let mut card = room.card.clone();
            card.status = s.status;
            let comments = s.comments.iter().cloned().collect();
            (card, Arc::clone(&s.lineup), s.pinned, s.drop.clone(), comments, s.seq, s.epoch.clone(), s.streaming)
        });
        // Stock is read after subscribing, so any sale it misses arrives as an event.
        let mut lineup = Vec::with_capacity(rows.len());
        for p in rows.iter() {
            lineup.push(product_card(p, self.commerce.available(p).await?));
        }
        let cart = match &viewer.account {
            Some(account) => Some(self.commerce.cart(&room.storefront(), account).await?),
            None => None,
        };
        let snapshot = Snapshot {
            room: card,
            lineup,
            pinned,
            drop,
            comments,
            viewers: room.reported_viewers().max(room.viewers()),
            streaming,
            cart,
            you: Participant {
                display_name: viewer.display_name.clone(),
                account_id: viewer.account_id(),
                role: viewer.account.as_ref().map(|a| a.role),
                is_host: viewer.is_host,
            },
            seq,
            epoch,
            reset,
        };
        Ok(Opening { first: ServerMsg::Snapshot(Box::new(snapshot)), replay: Vec::new(), seq, frames })
    }
}
