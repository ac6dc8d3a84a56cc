//! A room as this node serves it, loaded from the database and the bus's shared history
//! on first use.

use super::giveaway::giveaway_card;
use super::hub::Seat;
use super::live::LiveRoom;
use super::state::{RoomState, ShowSales};
use super::{RoomResult, Rooms};
use crate::accounts::host_card;
use crate::bus::parse_event;
use crate::commerce::checkout::drop_card;
use crate::domain::{Refusal, RoomId};
use crate::wire::ws::{RECENT_SALES, RoomCard};
use std::sync::Arc;

impl Rooms {
    /// Whether this node serves the room right now (it is in memory here).
    pub fn serves(&self, id: RoomId) -> bool {
        self.hub.get(id).is_some()
    }

    /// The room as this node serves it, loaded on first use.
    pub async fn live_room(&self, id: RoomId) -> RoomResult<Arc<LiveRoom>> {
        match self.hub.get(id) {
            Some(room) => Ok(room),
            None => Ok(self.load(id, false).await?.0),
        }
    }

    /// The room with a seat in it for a viewer, loaded on first use.
    pub(super) async fn seat(&self, id: RoomId) -> RoomResult<(Arc<LiveRoom>, Seat)> {
        if let Some(seated) = self.hub.enter(id) {
            return Ok(seated);
        }
        let (room, seat) = self.load(id, true).await?;
        Ok((room, seat.ok_or(Refusal::NotFound("room"))?))
    }

    async fn load(&self, id: RoomId, seated: bool) -> RoomResult<(Arc<LiveRoom>, Option<Seat>)> {
        let row = self.store.room(id).await?.ok_or(Refusal::NotFound("room"))?;
        let host = self.store.account(row.creator_id).await?.ok_or(Refusal::NotFound("host"))?;
        let lineup = self.store.lineup(id).await?;
        let drop = match self.store.live_drop(id).await? {
            Some(d) => {
                let product = lineup.iter().find(|p| p.id == d.product_id).ok_or(Refusal::NotFound("drop product"))?;
                Some(drop_card(&d, product))
            }
            None => None,
        };
        self.commerce.track_stock(&lineup, drop.as_ref().map(|d| (d.id, d.remaining))).await?;
        // The database, not the fold of history, says who co-hosts and what to disclose now.
        let terms = self.commerce.room_terms(&row).await?;
        let card = RoomCard {
            id,
            title: row.title,
            status: row.status,
            starts_at: row.starts_at,
            host: host_card(&host),
            co_host: terms.co_host.clone(),
            disclosure: terms.disclosure.clone(),
            rehearsal_of: row.rehearsal_of,
        };
        let shared = self.events.bootstrap(id).await?;
        let mut state = RoomState::new(shared.epoch, row.status, lineup, self.settings.history);
        for (seq, frame) in shared.frames {
            if let Some((_, event)) = parse_event(&frame) {
                state.apply(seq, &event, &frame);
            }
        }
        state.seq = state.seq.max(shared.seq);
        // The paid orders, not the fold of a trimmed history, say what the show sold.
        let (units, recent) = self.store.show_sales(id, RECENT_SALES).await?;
        state.sales = ShowSales::loaded(units, recent);
        // The database, not the fold of a trimmed history, says what is live now.
        state.status = row.status;
        // A drop whose units are all sold is over, even if no node has ended it yet.
        match drop {
            Some(d) if d.remaining == 0 || state.sold_out_drop == Some(d.id) => {
                state.drop = None;
                state.sold_out_drop = Some(d.id);
            }
            drop => state.drop = drop,
        }
        // The database, not the fold of a trimmed history, says what moderation holds.
        state.slow_mode_secs = self.store.chat_rules(id).await?.0;
        for (who, until) in self.store.timeouts(id, self.clock.now()).await? {
            state.timeouts.insert(who, until);
        }
        // Likewise for the giveaway: the database says which one is open.
        state.giveaway = self.store.open_giveaway(id).await?.as_ref().map(giveaway_card);
        state.auction = self.running_auction_card(id, &state.lineup).await?;
        state.keywords = self.keyword_cards(id).await?;
        state.co_host = terms.co_host;
        state.disclosure = terms.disclosure;
        // A stream outlives the room's stay in this node's memory: ask the media layer
        // (scaled out, the media home names the node holding it) whether one is on air.
        state.streaming = self.media.is_streaming(id) || self.media_home.get(id).await?.is_some();
        state.streamed = state.streaming || row.streamed_at.is_some();
        state.pinned = shared.pinned.or(state.pinned).filter(|p| state.lineup.iter().any(|l| l.id == *p));
        let live = LiveRoom::new(card, state, self.settings.viewer_queue);
        live.set_reaction_totals(self.presence.reaction_totals(id).await?);
        let (room, seat, loaded_here) = self.hub.insert(live, seated);
        if loaded_here {
            self.events.attach(id).await?;
        }
        Ok((room, seat))
    }
}
