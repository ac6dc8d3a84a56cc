//! Giveaways in a room, provably fair: the host opens one with a published commitment,
//! signed-in viewers the entry rule admits enter once, and when entries close the first
//! caller to draw (the ticker on whichever node, or the room's end) reveals the seed and
//! the winner (docs/protocol.md, 4.14).

use super::live::LiveRoom;
use super::{RoomError, RoomResult, Rooms, Viewer};
use crate::domain::{EntryRule, GiveawayId, Prize, Refusal, RoomId, Seed, WindowSecs};
use crate::store::{Entered, GiveawayRow};
use crate::wire::api::{GiveawayStatus, GiveawayView};
use crate::wire::ws::{GiveawayCard, RoomEvent, RoomStatus};
use std::time::Duration;

pub struct GiveawayRequest {
    pub prize: Prize,
    pub entry: EntryRule,
    pub duration_secs: i64,
}

pub fn giveaway_card(g: &GiveawayRow) -> GiveawayCard {
    GiveawayCard {
        id: g.id,
        prize: g.prize.clone(),
        entry: g.entry_rule,
        commitment: g.commitment.clone(),
        closes_at: g.closes_at,
    }
}

impl Rooms {
    pub async fn start_giveaway(&self, room: &LiveRoom, viewer: &Viewer, req: GiveawayRequest) -> RoomResult<()> {
        viewer.host()?;
        if room.read(|s| s.status) != RoomStatus::Live {
            return Err(RoomError::NotLive);
        }
        let secs = WindowSecs::try_from(req.duration_secs)?.get();
        let now = self.clock.now();
        let closes_at = now.plus(Duration::from_secs(secs as u64));
        let seed = Seed::random();
        let created = self.store.create_giveaway(room.id, req.prize.as_str(), req.entry, &seed, now, closes_at).await?;
        let giveaway = created.ok_or(RoomError::GiveawayRunning)?;
        self.events.publish(room.id, &RoomEvent::GiveawayStarted { giveaway: giveaway_card(&giveaway) }).await?;
        Ok(())
    }

    /// Enters the viewer in the room's open giveaway: the entries so far.
    pub async fn enter_giveaway(&self, room: &LiveRoom, viewer: &Viewer, id: GiveawayId) -> RoomResult<i64> {
        let account = viewer.account()?;
        if viewer.is_host {
            return Err(RoomError::NotEligible("the host cannot enter their own giveaway"));
        }
        let rule = room.read(|s| s.giveaway.as_ref().filter(|g| g.id == id).map(|g| g.entry));
        let rule = rule.ok_or(RoomError::GiveawayClosed)?;
        let eligible = match rule {
            EntryRule::SignedIn => true,
            EntryRule::Followers => self.store.follows(account.id, room.host).await?,
            EntryRule::Buyers => self.store.bought_in_room(account.id, room.id).await?,
        };
        if !eligible {
            return Err(RoomError::NotEligible(match rule {
                EntryRule::Followers => "this giveaway is for the host's followers: follow them to enter",
                _ => "this giveaway is for buyers in this show: buy something to enter",
            }));
        }
        match self.store.enter_giveaway(room.id, id, account.id, self.clock.now()).await? {
            Entered::In(entries) => Ok(entries),
            Entered::Closed => Err(RoomError::GiveawayClosed),
        }
    }

    /// Draws the giveaway if nobody has yet, and tells the room; the database decides
    /// which caller draws, so the event goes out once.
    pub async fn draw_giveaway(&self, room: RoomId, id: GiveawayId) -> RoomResult<()> {
        let now = self.clock.now();
        let Some(drawn) = self.store.draw_giveaway(id, now, |seed, entries| seed.winner_index(entries)).await? else {
            return Ok(());
        };
        let Some(draw) = drawn.drawn else { return Ok(()) };
        let winner = self.name_of(draw.winner).await?;
        let entries = i64::try_from(draw.entries.len()).unwrap_or(i64::MAX);
        let event = RoomEvent::GiveawayDrawn { giveaway_id: id, seed: draw.seed.to_hex(), entries, winner };
        self.events.publish(room, &event).await?;
        Ok(())
    }

    /// A giveaway with its draw, once drawn: what anyone needs to verify it.
    pub async fn giveaway(&self, id: GiveawayId) -> RoomResult<GiveawayView> {
        let g = self.store.giveaway(id).await?.ok_or(Refusal::NotFound("giveaway"))?;
        let card = giveaway_card(&g);
        let mut view = GiveawayView {
            id: card.id,
            room_id: g.room_id,
            prize: card.prize,
            entry: card.entry,
            commitment: card.commitment,
            closes_at: card.closes_at,
            status: GiveawayStatus::Open,
            entry_count: self.store.giveaway_entry_count(id).await?,
            seed: None,
            entries: None,
            winner: None,
            drawn_at: None,
        };
        if let Some(draw) = g.drawn {
            view.status = GiveawayStatus::Drawn;
            view.seed = Some(draw.seed.to_hex());
            view.winner = self.name_of(draw.winner).await?;
            view.entries = Some(draw.entries);
            view.drawn_at = Some(draw.at);
        }
        Ok(view)
    }
}
