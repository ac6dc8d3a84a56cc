//! "Remind me": viewers follow creators, list their upcoming shows, and hear on every
//! connection they have open when one of those shows goes live.

use super::{RoomResult, Rooms};
use crate::accounts::host_card;
use crate::domain::{AccountId, Invalid, Refusal, Role, RoomId};
use crate::store::AccountRow;
use crate::telemetry::Causes;
use crate::wire::api::RoomView;
use crate::wire::ws::{HostCard, RoomCard, ServerMsg};
use axum::extract::ws::Utf8Bytes;
use tokio::sync::broadcast;

/// Shows listed for a follower at most: a screenful or two of reminders.
const UPCOMING_MAX: i64 = 50;

impl Rooms {
    /// Follows `creator`; following again changes nothing.
    pub async fn follow(&self, by: &AccountRow, creator: AccountId) -> RoomResult<()> {
        if by.id == creator {
            return Err(Invalid::new("creator_id", "you cannot follow yourself").into());
        }
        self.creator(creator).await?;
        self.store.follow(by.id, creator, self.clock.now()).await?;
        Ok(())
    }

    /// Stops following `creator`; not following already changes nothing.
    pub async fn unfollow(&self, by: &AccountRow, creator: AccountId) -> RoomResult<()> {
        self.store.unfollow(by.id, creator).await?;
        Ok(())
    }

    /// The creators `by` follows.
    pub async fn followed(&self, by: &AccountRow) -> RoomResult<Vec<HostCard>> {
        Ok(self.store.followed_creators(by.id).await?.iter().map(host_card).collect())
    }

    /// The scheduled and live shows of the creators `by` follows: live first, then soonest.
    pub async fn upcoming_for(&self, by: &AccountRow) -> RoomResult<Vec<RoomView>> {
        let mut rooms = Vec::new();
        for row in self.store.followed_rooms(by.id, UPCOMING_MAX).await? {
            rooms.push(self.view(row).await?);
        }
        Ok(rooms)
    }

    /// The notices of `account` (a followed creator going live) for one connection.
    pub fn notices_for(&self, account: AccountId) -> broadcast::Receiver<Utf8Bytes> {
        self.notices.listen(account)
    }

    async fn creator(&self, id: AccountId) -> RoomResult<AccountRow> {
        match self.store.account(id).await? {
            Some(account) if account.role == Role::Creator => Ok(account),
            _ => Err(Refusal::NotFound("creator").into()),
        }
    }

    /// Tells the host's followers, on every connection they have open, that the room went
    /// live. The room is live whatever happens here, so a failure is only logged.
    pub(super) async fn tell_followers(&self, room: RoomId, host: AccountId) {
        let told = async {
            let followers = self.store.followers_of(host).await?;
            if followers.is_empty() {
                return Ok(());
            }
            let view = self.room(room).await?;
            let card = RoomCard {
                id: view.id,
                title: view.title,
                status: view.status,
                starts_at: view.starts_at,
                host: view.host,
                co_host: view.co_host,
                disclosure: view.disclosure,
                rehearsal_of: view.rehearsal_of,
            };
            let frame = serde_json::to_string(&ServerMsg::GoingLive { room: Box::new(card) })
                .map_err(crate::bus::BusError::from)?;
            self.notices.notify(&followers, &frame).await?;
            metrics::counter!("livecart_going_live_notices_total").increment(followers.len() as u64);
            RoomResult::Ok(())
        };
        if let Err(e) = told.await {
            tracing::warn!(%room, error = %Causes(&e), "followers not told the room went live");
        }
    }
}
