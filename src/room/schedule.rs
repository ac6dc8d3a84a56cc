//! Scheduling rooms and listing them.

use super::{RoomResult, Rooms};
use crate::accounts::host_card;
use crate::domain::{AccountId, Invalid, ProductId, Refusal, Role, RoomId, list_limit};
use crate::store::{AccountRow, RoomRow};
use crate::wire::api::{NewRoomRequest, RoomFilter, RoomView};
use crate::wire::ws::RoomStatus;
use std::collections::HashSet;

/// Products one room may line up.
pub const MAX_LINEUP: usize = 50;
/// Rooms one listing returns: by default, and at most.
const LIST_DEFAULT: u32 = 20;
const LIST_MAX: u32 = 100;
/// The latest start a room may be scheduled for (the year 9999).
const LATEST_START: i64 = 253_402_300_799_999;

impl Rooms {
    pub async fn schedule(&self, who: &AccountRow, req: NewRoomRequest) -> RoomResult<RoomView> {
        if who.role != Role::Creator {
            return Err(Refusal::Forbidden("only creators host rooms").into());
        }
        if req.product_ids.is_empty() || req.product_ids.len() > MAX_LINEUP {
            return Err(Invalid::new("product_ids", format!("line up 1 to {MAX_LINEUP} products")).into());
        }
        if !(0..=LATEST_START).contains(&req.starts_at.0) {
            return Err(Invalid::new("starts_at", "must be a time in milliseconds since 1970").into());
        }
        if req.product_ids.iter().collect::<HashSet<&ProductId>>().len() != req.product_ids.len() {
            return Err(Invalid::new("product_ids", "each product once").into());
        }
        for product in &req.product_ids {
            if self.store.active_agreement(who.id, *product).await?.is_none() {
                return Err(
                    Refusal::Forbidden("every lined-up product needs an active agreement with its brand").into()
                );
            }
        }
        let row = self
            .store
            .create_room(who.id, req.title.as_str(), req.starts_at, &req.product_ids, self.clock.now())
            .await?;
        self.view(row).await
    }

    pub async fn room(&self, id: RoomId) -> RoomResult<RoomView> {
        let row = self.store.room(id).await?.ok_or(Refusal::NotFound("room"))?;
        self.view(row).await
    }

    /// Rooms with the filter's status (of one host, when given): live ones latest first,
    /// the others by start time.
    pub async fn list(
        &self,
        filter: RoomFilter,
        host: Option<AccountId>,
        limit: Option<u32>,
    ) -> RoomResult<Vec<RoomView>> {
        let limit = list_limit(limit, LIST_DEFAULT, LIST_MAX)?;
        let status = match filter {
            RoomFilter::Live => RoomStatus::Live,
            RoomFilter::Upcoming => RoomStatus::Scheduled,
            RoomFilter::Ended => RoomStatus::Ended,
        };
        let mut rooms = Vec::new();
        for row in self.store.rooms_with_status(status, host, i64::from(limit)).await? {
            rooms.push(self.view(row).await?);
        }
        Ok(rooms)
    }

    pub(super) async fn view(&self, row: RoomRow) -> RoomResult<RoomView> {
        let host = self.store.account(row.creator_id).await?.ok_or(Refusal::NotFound("host"))?;
        let mut lineup = Vec::new();
        for p in self.store.lineup(row.id).await? {
            lineup.push(self.commerce.card(&p).await?);
        }
        let terms = self.commerce.room_terms(&row).await?;
        Ok(RoomView {
            id: row.id,
            title: row.title,
            status: row.status,
            starts_at: row.starts_at,
            live_at: row.live_at,
            ended_at: row.ended_at,
            host: host_card(&host),
            co_host: terms.co_host,
            disclosure: terms.disclosure,
            lineup,
            viewers: self.hub.get(row.id).map_or(0, |r| r.reported_viewers().max(r.viewers())),
            rehearsal_of: row.rehearsal_of,
        })
    }
}
