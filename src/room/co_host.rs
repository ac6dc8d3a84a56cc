//! A room's co-host: a creator the host invites to present with them, who earns a share
//! of each sale's commission (split rule `cohost-v1`, in `commerce::commission`). The host
//! (or an admin) sets or clears them while the room is scheduled or live; the room's
//! viewers are told at once, on every node, with a `room_updated` event.

use super::{RoomResult, Rooms};
use crate::domain::{AccountId, Invalid, Refusal, Role, RoomId};
use crate::store::AccountRow;
use crate::wire::api::RoomView;

impl Rooms {
    /// Sets (`Some`) or clears (`None`) the co-host of a scheduled or live room.
    pub async fn set_co_host(&self, id: RoomId, by: &AccountRow, co_host: Option<AccountId>) -> RoomResult<RoomView> {
        let row = self.store.room(id).await?.ok_or(Refusal::NotFound("room"))?;
        if row.creator_id != by.id && by.role != Role::Admin {
            return Err(Refusal::Forbidden("only the room's host can choose its co-host").into());
        }
        if let Some(creator) = co_host {
            let account = self.store.account(creator).await?.ok_or(Refusal::NotFound("creator"))?;
            if account.role != Role::Creator {
                return Err(Invalid::new("creator_id", "the co-host must be a creator").into());
            }
            if account.id == row.creator_id {
                return Err(Invalid::new("creator_id", "the host cannot co-host their own room").into());
            }
        }
        // The database decides, whichever node asks: only a scheduled or live room changes.
        if !self.store.set_co_host(id, co_host).await? {
            return Err(Refusal::Conflict("the co-host can change only while the room is scheduled or live").into());
        }
        let row = self.store.room(id).await?.ok_or(Refusal::NotFound("room"))?;
        // Whoever took the decision tells every node, whatever this node's copy says.
        self.events.publish(id, &self.commerce.room_terms(&row).await?.event()).await?;
        self.view(row).await
    }
}
