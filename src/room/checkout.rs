//! Checking out over REST: the same purchase as the WebSocket `checkout`, for a buyer who
//! is not (or not only) connected to the room.

use super::{RoomResult, Rooms};
use crate::commerce::CheckoutRequest;
use crate::domain::RoomId;
use crate::store::AccountRow;
use crate::wire::ws::OrderView;

impl Rooms {
    /// Buys `buyer`'s cart in the room, exactly as a `checkout` message on a connection
    /// joined to it would: same idempotency, same errors, same order.
    pub async fn checkout_in(&self, id: RoomId, buyer: &AccountRow, req: CheckoutRequest) -> RoomResult<OrderView> {
        let room = self.live_room(id).await?;
        Ok(self.commerce.checkout(&room.storefront(), buyer, req).await?)
    }
}
