//! A room's comment-to-buy keywords: the host names lined-up products, and a comment
//! `BUY <keyword>` holds units of them for its author (docs/protocol.md, 9.11).

use super::{RoomResult, Rooms};
use crate::domain::{Refusal, RoomId};
use crate::store::AccountRow;
use crate::wire::ws::{KeywordCard, RoomEvent};

impl Rooms {
    /// The room's keywords, by product.
    pub async fn keyword_cards(&self, room: RoomId) -> RoomResult<Vec<KeywordCard>> {
        let keywords = self.store.room_keywords(room).await?;
        Ok(keywords.into_iter().map(|(product_id, keyword)| KeywordCard { product_id, keyword }).collect())
    }

    /// Replaces the room's keywords (the host's, or an admin's, call) and tells the room.
    pub async fn set_keywords(
        &self,
        room: RoomId,
        by: &AccountRow,
        keywords: Vec<KeywordCard>,
    ) -> RoomResult<Vec<KeywordCard>> {
        let row = self.store.room(room).await?.ok_or(Refusal::NotFound("room"))?;
        if row.creator_id != by.id && by.role != crate::domain::Role::Admin {
            return Err(Refusal::Forbidden("only the room's host can set its keywords").into());
        }
        let lineup = self.store.lineup(room).await?;
        if keywords.iter().any(|k| !lineup.iter().any(|p| p.id == k.product_id)) {
            return Err(super::RoomError::NotInLineup);
        }
        let pairs: Vec<_> = keywords.iter().map(|k| (k.product_id, k.keyword.clone())).collect();
        if !self.store.set_room_keywords(room, &pairs).await? {
            return Err(Refusal::Conflict("each product and each keyword may appear once").into());
        }
        let keywords = self.keyword_cards(room).await?;
        self.events.publish(room, &RoomEvent::KeywordsUpdated { keywords: keywords.clone() }).await?;
        Ok(keywords)
    }
}
