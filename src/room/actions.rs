//! What hosts and viewers do in a room, and the room lifecycle
//! (scheduled → live → ended, nothing else).

use super::hub::Seat;
use super::live::LiveRoom;
use super::offers::CommentPurchase;
use super::review::ToHold;
use super::snapshot::Opening;
use super::visit::Visit;
use super::{RoomError, RoomResult, Rooms, Viewer};
use crate::analytics::{Event, Who};
use crate::bus::kicks::Watch;
use crate::commerce::catalog::product_card;
use crate::commerce::checkout::drop_card;
use crate::commerce::{CartChange, CheckoutRequest, CommerceError};
use crate::domain::{CommentText, DisplayName, DropId, Price, ProductId, Reaction, Refusal, Role, RoomId, Stock};
use crate::store::{AccountRow, NewDrop, ProductRow, is_unique_violation};
use crate::wire::api::Product;
use crate::wire::ws::{CartView, CommentView, OrderView, RoomEvent, RoomStatus, Speaker};
use std::sync::Arc;
use std::time::Duration;

/// Bounds on a drop's length: long enough to announce, short enough to stay a drop.
pub const DROP_SECS: std::ops::RangeInclusive<i64> = crate::domain::WindowSecs::RANGE;

/// Who asks to join a room.
pub enum Joiner {
    Account(AccountRow),
    Guest(DisplayName),
}

/// A viewer let into a room: the room, who they are in it, the frames that open their
/// stream, their seat, and the watch that ends the connection if they are banned.
pub struct Admitted {
    pub room: Arc<LiveRoom>,
    pub viewer: Viewer,
    pub opening: Opening,
    pub seat: Seat,
    pub bans: Option<Watch>,
}

/// What became of a comment.
pub enum Posted {
    /// The room got it; when it asked to buy, what that came to.
    Shown { purchase: Option<CommentPurchase> },
    /// It waits for review; `text` is what its author wrote, as held.
    Held { text: String },
}

pub struct DropRequest {
    pub product: ProductId,
    pub quantity: i64,
    pub price: Option<i64>,
    pub duration_secs: i64,
    pub per_buyer: Option<i64>,
}

fn require_live(room: &LiveRoom) -> RoomResult<()> {
    if room.read(|s| s.status) == RoomStatus::Live { Ok(()) } else { Err(RoomError::NotLive) }
}

impl Rooms {
    /// Lets a viewer into a room, unless they are banned from it or it is a rehearsal that
    /// does not admit them (`audience_key` is what they presented): the room (loaded if
    /// need be), who they are in it, and the frames that open their stream.
    pub async fn join(
        &self,
        id: RoomId,
        joiner: Joiner,
        resume: Option<(u64, String)>,
        audience_key: Option<&str>,
    ) -> RoomResult<Admitted> {
        // Seated before the snapshot, which so counts this viewer too (an account once,
        // however many of its connections are in the room).
        let (room, mut seat) = self.seat(id).await?;
        let viewer = match joiner {
            Joiner::Account(account) => {
                seat.name(account.id);
                let is_host = account.id == room.host;
                let is_moderator = !is_host && self.store.is_moderator(room.host, room.id, account.id).await?;
                Viewer {
                    display_name: account.display_name.clone(),
                    is_host,
                    is_moderator,
                    who: Who::account(account.id),
                    account: Some(account),
                }
            }
            Joiner::Guest(name) => Viewer {
                display_name: name.into(),
                account: None,
                is_host: false,
                is_moderator: false,
                who: Who::guest(),
            },
        };
        self.admit(&room, &viewer, audience_key).await?;
        // Watched before the database is asked, so a ban decided in between still closes
        // the connection.
        let bans = self.ban_watch(&room, &viewer);
        self.refuse_banned(&room, &viewer).await?;
        let opening = self.open(&room, &viewer, resume).await?;
        if !viewer.is_host {
            seat.visit(Visit::start(&self.analytics, &self.clock, room.id, viewer.who.clone()));
        }
        Ok(Admitted { room, viewer, opening, seat, bans })
    }

    /// Posts a comment to the room, or holds it for review when a blocked word says so;
    /// when the whole comment asks to buy (4.3), what that came to.
    pub async fn comment(&self, room: &LiveRoom, viewer: &Viewer, text: CommentText) -> RoomResult<Posted> {
        if room.read(|s| s.status) == RoomStatus::Ended {
            return Err(RoomError::NotLive);
        }
        let now = self.clock.now();
        let hold = self.chat_rules_allow(room, viewer, &text, now).await?;
        let bucket = format!("{}:{}", room.id, viewer.who.key);
        if !self.limits.allow(&bucket, self.settings.comment_limit, now).await? {
            return Err(RoomError::RateLimited);
        }
        let speaker = match (&viewer.account, viewer.is_host) {
            (_, true) => Speaker::Host,
            (Some(_), false) => Speaker::Viewer,
            (None, false) => Speaker::Guest,
        };
        if let Some(word) = hold {
            let text = self.hold(room, ToHold { viewer, speaker, text: text.into(), word, at: now }).await?;
            return Ok(Posted::Held { text });
        }
        let text: String = text.into();
        let event = RoomEvent::Comment(CommentView {
            author: viewer.display_name.clone(),
            author_key: viewer.who.key.clone(),
            speaker,
            text: text.clone(),
            at: now,
        });
        self.events.publish(room.id, &event).await?;
        if !viewer.is_host {
            self.analytics.record(Event::Commented { room: room.id, who: viewer.who.clone() });
        }
        Ok(Posted::Shown { purchase: self.comment_purchase(room, viewer, &text).await })
    }

    /// Reactions are counted here and sent out as totals on the next tick.
    pub fn react(&self, room: &LiveRoom, reaction: Reaction) -> RoomResult<()> {
        require_live(room)?;
        room.react(reaction);
        Ok(())
    }

    pub async fn pin(&self, room: &LiveRoom, viewer: &Viewer, product: ProductId) -> RoomResult<()> {
        viewer.host()?;
        require_live(room)?;
        let p = room.product(product).ok_or(RoomError::NotInLineup)?;
        self.announce_pin(room, &p).await
    }

    /// Pins `p` for everyone (replacing any other pinned product) and records it.
    async fn announce_pin(&self, room: &LiveRoom, p: &ProductRow) -> RoomResult<()> {
        let card = product_card(p, self.commerce.available(p).await?);
        let replaced = room.read(|s| s.pinned).filter(|pinned| *pinned != p.id);
        self.events.publish(room.id, &RoomEvent::Pinned { product: card }).await?;
        if let Some(pinned) = replaced {
            self.analytics.record(Event::PinEnded { room: room.id, product: pinned });
        }
        let viewers = i64::try_from(room.reported_viewers()).unwrap_or(i64::MAX);
        self.analytics.record(Event::PinStarted { room: room.id, product: p.id, viewers });
        Ok(())
    }

    pub async fn unpin(&self, room: &LiveRoom, viewer: &Viewer) -> RoomResult<()> {
        viewer.host()?;
        let Some(product_id) = room.read(|s| s.pinned) else {
            return Ok(());
        };
        self.events.publish(room.id, &RoomEvent::Unpinned { product_id }).await?;
        self.analytics.record(Event::PinEnded { room: room.id, product: product_id });
        Ok(())
    }

    pub async fn start_drop(&self, room: &LiveRoom, viewer: &Viewer, req: DropRequest) -> RoomResult<()> {
        viewer.host()?;
        require_live(room)?;
        let p = room.product(req.product).ok_or(RoomError::NotInLineup)?;
        let quantity = Stock::try_from(req.quantity)?.get();
        if quantity == 0 {
            return Err(crate::domain::Invalid::new("quantity", "a drop sells at least one unit").into());
        }
        let available = self.commerce.available(&p).await?;
        if quantity > available {
            return Err(CommerceError::SoldOut { title: p.title.clone(), available }.into());
        }
        let price = req.price.map(Price::try_from).transpose()?.map(Price::get);
        if !DROP_SECS.contains(&req.duration_secs) {
            let bounds = format!("must be between {} and {}", DROP_SECS.start(), DROP_SECS.end());
            return Err(crate::domain::Invalid::new("duration_secs", bounds).into());
        }
        let now = self.clock.now();
        let ends_at = now.plus(Duration::from_secs(req.duration_secs as u64));
        // The database decides: at most one live drop per room, whichever node asks.
        let new = NewDrop { room: room.id, product: p.id, quantity, price, per_buyer: req.per_buyer };
        let d = match self.store.create_drop(&new, now, ends_at).await {
            Ok(d) => d,
            Err(e) if is_unique_violation(&e) => return Err(RoomError::DropRunning),
            Err(e) => return Err(e.into()),
        };
        self.commerce.track_stock(&[], Some((d.id, quantity))).await?;
        // A drop features its product: viewers see it pinned before the drop starts.
        if room.read(|s| s.pinned) != Some(p.id) {
            self.announce_pin(room, &p).await?;
        }
        self.events.publish(room.id, &RoomEvent::DropStarted { drop: drop_card(&d, &p) }).await?;
        self.analytics.record(Event::DropStarted { room: room.id, drop: d.id, product: p.id, quantity });
        Ok(())
    }

    /// Ends a running drop; the database decides which caller ends it, so the event goes
    /// out once.
    pub async fn end_drop(&self, room: RoomId, drop_id: DropId) -> RoomResult<()> {
        if self.store.end_drop(drop_id).await?.is_some() {
            let sold = self.store.units_sold_in_drop(drop_id).await?;
            self.events.publish(room, &RoomEvent::DropEnded { drop_id, sold }).await?;
        }
        Ok(())
    }

    pub async fn go_live(&self, room_id: RoomId, by: &AccountRow) -> RoomResult<()> {
        let row = self.store.room(room_id).await?.ok_or(Refusal::NotFound("room"))?;
        if row.creator_id != by.id {
            return Err(Refusal::Forbidden("only the room's host can take it live").into());
        }
        if !self.store.advance_room(room_id, RoomStatus::Scheduled, RoomStatus::Live, self.clock.now()).await? {
            return Err(Refusal::Conflict("only a scheduled room can go live").into());
        }
        // The database took the decision; whoever took it tells every node, whatever this
        // node's copy of the room says.
        self.events.publish(room_id, &RoomEvent::RoomLive).await?;
        self.tell_followers(room_id, row.creator_id).await;
        Ok(())
    }

    pub async fn end_room(&self, room_id: RoomId, by: &AccountRow) -> RoomResult<()> {
        let row = self.store.room(room_id).await?.ok_or(Refusal::NotFound("room"))?;
        if row.creator_id != by.id && by.role != Role::Admin {
            return Err(Refusal::Forbidden("only the room's host can end it").into());
        }
        if !self.store.advance_room(room_id, RoomStatus::Live, RoomStatus::Ended, self.clock.now()).await? {
            return Err(Refusal::Conflict("only a live room can end").into());
        }
        // Comments held for review end with the show.
        self.store.drop_held(room_id).await?;
        if let Some(drop) = self.store.live_drop(room_id).await? {
            self.end_drop(room_id, drop.id).await?;
        }
        // The show is over, so are its entries: the giveaway is drawn now.
        if let Some(giveaway) = self.store.open_giveaway(room_id).await? {
            self.draw_giveaway(room_id, giveaway.id).await?;
        }
        // Bidding ends with the show; the sweep closes the auction and offers its unit.
        self.store.end_bidding(room_id, self.clock.now()).await?;
        self.media.close_room(room_id).await;
        self.events.publish(room_id, &RoomEvent::RoomEnded).await?;
        Ok(())
    }

    /// The host ends the show from inside the room.
    pub async fn end_from_room(&self, room: &LiveRoom, viewer: &Viewer) -> RoomResult<()> {
        self.end_room(room.id, viewer.host()?).await
    }

    /// A lined-up product's details, for the viewer who opened its card.
    pub async fn view_product(&self, room: &LiveRoom, viewer: &Viewer, product: ProductId) -> RoomResult<Product> {
        let p = room.product(product).ok_or(RoomError::NotInLineup)?;
        let details = self.commerce.detail(&p).await?;
        if !viewer.is_host {
            self.analytics.record(Event::ProductViewed { room: room.id, who: viewer.who.clone(), product });
        }
        Ok(details)
    }

    /// Changes the viewer's cart in this room (guests have none).
    pub async fn change_cart(&self, room: &LiveRoom, viewer: &Viewer, change: CartChange) -> RoomResult<CartView> {
        Ok(self.commerce.change_cart(&room.storefront(), viewer.account()?, change).await?)
    }

    /// Buys the viewer's cart in this room, attributed to its host.
    pub async fn checkout(&self, room: &LiveRoom, viewer: &Viewer, req: CheckoutRequest) -> RoomResult<OrderView> {
        Ok(self.commerce.checkout(&room.storefront(), viewer.account()?, req).await?)
    }
}
