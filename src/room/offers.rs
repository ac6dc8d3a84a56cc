//! Offers in rooms: units held for one buyer at a set price until a deadline, made by
//! an auction's award ([`super::auction`]), a waitlist's turn, or a comment-to-buy
//! keyword, and paid with `pay_offer` (docs/protocol.md, 4.22 to 4.26).
//!
//! The offer sweep runs on every node, whatever rooms it serves: it closes auctions and
//! moves their offers on, and offers units that came back to the first in line on each
//! waitlist. The database and the inventory decide which node acts.

use super::live::LiveRoom;
use super::{RoomError, RoomResult, Rooms, Viewer};
use crate::commerce::CheckoutRequest;
use crate::commerce::offers::{Holding, Offered, offer_view};
use crate::domain::{BuyIntent, OfferId, OrderId, Price, ProductId, Quantity, UnixMs, buy_intent};
use crate::store::{OfferFate, OfferRow, OfferSource};
use crate::telemetry::Causes;
use crate::wire::ws::{OfferView, OrderView, RoomStatus, ServerMsg};
use tokio::time::{MissedTickBehavior, interval};
use tokio_util::sync::CancellationToken;

/// Open comment-to-buy offers one buyer may have in a room: a bound on what commenting
/// can hold.
pub const MAX_COMMENT_HOLDS: i64 = 3;

/// How long an awarded auction waits for the node that closed it (or passed its last
/// buyer over) to make the next offer before any node's sweep makes it: that node may
/// have stopped. Sooner, two nodes would both try, and the one whose hold lost to the
/// other's would end the auction unsold.
const OFFER_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

/// Waitlist entries one sweep offers per product at most.
const OFFERS_PER_SWEEP: i64 = 20;

/// What a comment that asked to buy came to.
pub struct CommentPurchase {
    pub product: Option<ProductId>,
    pub quantity: Quantity,
    pub held: RoomResult<OfferView>,
}

impl Rooms {
    /// Runs every tick until `shutdown`: auctions due, then waitlists with units back.
    pub async fn run_offer_sweep(self, shutdown: CancellationToken) {
        let mut tick = interval(self.settings.tick);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Err(e) = self.sweep_offers().await {
                tracing::warn!(error = %Causes(&e), "offer sweep failed");
            }
        }
    }

    async fn sweep_offers(&self) -> RoomResult<()> {
        let now = self.clock.now();
        let stalled = UnixMs(now.0 - OFFER_GRACE.as_millis() as i64);
        for auction in self.store.auctions_due(now, stalled).await? {
            if let Err(e) = self.advance_auction(auction).await {
                tracing::warn!(error = %Causes(&e), "auction upkeep failed");
            }
        }
        for (room, product) in self.store.waitlists().await? {
            if let Err(e) = self.offer_to_waitlist(room, product).await {
                tracing::warn!(%room, %product, error = %Causes(&e), "waitlist upkeep failed");
            }
        }
        Ok(())
    }

    /// Tells the buyer, on every connection they have open, what is held for them.
    pub(super) async fn tell_offer(&self, offer: &OfferRow, title: &str) -> RoomResult<()> {
        let frame = serde_json::to_string(&ServerMsg::Offer { offer: offer_view(offer, title) })
            .map_err(crate::bus::BusError::from)?;
        self.notices.notify(&[offer.buyer], &frame).await?;
        Ok(())
    }

    /// Pays the caller's offer; when it was an auction's, the auction is sold.
    pub async fn pay_offer(&self, viewer: &Viewer, id: OfferId, req: CheckoutRequest) -> RoomResult<OrderView> {
        let buyer = viewer.account()?;
        let (offer, order) = self.commerce.pay_offer(buyer, id, req).await?;
        if let OfferFate::Paid(order) = self.commerce.offer_fate(&offer).await? {
            self.offer_paid(&offer, order).await?;
        }
        Ok(order)
    }

    /// Ends what a paid offer was made for: an auction is sold.
    async fn offer_paid(&self, offer: &OfferRow, order: OrderId) -> RoomResult<()> {
        match offer.source {
            OfferSource::Auction(id) => {
                let id = crate::domain::AuctionId::try_from(id).map_err(RoomError::from)?;
                self.finish_auction(id, Some(order)).await
            }
            OfferSource::Waitlist(_) | OfferSource::Comment(_) => Ok(()),
        }
    }

    /// Puts the viewer on the waitlist of a sold-out product of the room: their place.
    pub async fn join_waitlist(&self, room: &LiveRoom, viewer: &Viewer, product: ProductId) -> RoomResult<i64> {
        let account = viewer.account()?;
        let p = room.product(product).ok_or(RoomError::NotInLineup)?;
        if self.commerce.available(&p).await? > 0 {
            return Err(RoomError::InStock);
        }
        Ok(self.store.join_waitlist(room.id, product, account.id, self.clock.now()).await?)
    }

    /// Takes the viewer off a waitlist (nothing when they were not on it).
    pub async fn leave_waitlist(&self, room: &LiveRoom, viewer: &Viewer, product: ProductId) -> RoomResult<()> {
        let account = viewer.account()?;
        room.product(product).ok_or(RoomError::NotInLineup)?;
        self.store.leave_waitlist(room.id, product, account.id).await?;
        Ok(())
    }

    /// Offers units of the product that are available again to the first in line, one
    /// each, at the catalogue price now.
    async fn offer_to_waitlist(&self, room: crate::domain::RoomId, product: ProductId) -> RoomResult<()> {
        let Some(p) = self.store.product(product).await? else { return Ok(()) };
        let available = self.commerce.available(&p).await?;
        if available <= 0 {
            return Ok(());
        }
        let price = Price::try_from(p.price)?;
        for waiting in self.store.first_waiting(room, product, available.min(OFFERS_PER_SWEEP)).await? {
            let unit = Holding { product, drop: None, quantity: 1, unit_price: price };
            let offer =
                match self.commerce.make_offer(room, waiting.account, unit, OfferSource::Waitlist(waiting.id)).await? {
                    Offered::Made(offer) | Offered::Existing(offer) => offer,
                    Offered::NoStock => break,
                };
            if self.store.waitlist_offered(waiting.id, offer.id).await? {
                self.tell_offer(&offer, &p.title).await?;
            }
        }
        Ok(())
    }

    /// After a comment is posted: when the whole comment asks to buy (`SOLD`, `BUY 2
    /// SERUM`), holds the units for its author as an offer. `None` for any other comment.
    pub(super) async fn comment_purchase(
        &self,
        room: &LiveRoom,
        viewer: &Viewer,
        text: &str,
    ) -> Option<CommentPurchase> {
        let intent = buy_intent(text)?;
        let (product, quantity) = match &intent {
            BuyIntent::Pinned(q) => (room.read(|s| s.pinned), *q),
            BuyIntent::Keyword(word, q) => {
                let keywords = self.store.room_keywords(room.id).await;
                let found = keywords.map(|k| k.into_iter().find(|(_, k)| k.as_str() == word).map(|(p, _)| p));
                (found.ok().flatten(), *q)
            }
        };
        let held = match product {
            Some(product) => self.hold_for_comment(room, viewer, product, quantity).await,
            None => Err(RoomError::NoSuchKeyword),
        };
        Some(CommentPurchase { product, quantity, held })
    }

    async fn hold_for_comment(
        &self,
        room: &LiveRoom,
        viewer: &Viewer,
        product: ProductId,
        quantity: Quantity,
    ) -> RoomResult<OfferView> {
        let account = viewer.account()?;
        if room.read(|s| s.status) != RoomStatus::Live {
            return Err(RoomError::NotLive);
        }
        let p = room.product(product).ok_or(RoomError::NotInLineup)?;
        let now = self.clock.now();
        if self.store.open_comment_offers(room.id, account.id, now).await? >= MAX_COMMENT_HOLDS {
            return Err(RoomError::TooManyHolds);
        }
        // Priced as checkout prices it now: the running drop's price and units, or the catalogue's.
        let drop = self.store.live_drop(room.id).await?.filter(|d| d.product_id == product && d.ends_at > now);
        let price = Price::try_from(drop.as_ref().and_then(|d| d.price).unwrap_or(p.price))?;
        let unit = Holding { product, drop: drop.map(|d| d.id), quantity: i64::from(quantity), unit_price: price };
        match self.commerce.make_offer(room.id, account.id, unit, OfferSource::Comment(room.id)).await? {
            // The answer to the comment says so; other connections find it in GET /api/me/offers.
            Offered::Made(offer) | Offered::Existing(offer) => Ok(offer_view(&offer, &p.title)),
            Offered::NoStock => Err(crate::commerce::CommerceError::SoldOut {
                title: p.title.clone(),
                available: self.commerce.available(&p).await?,
            }
            .into()),
        }
    }
}
