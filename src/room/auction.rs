//! Auctions in a room (docs/protocol.md, 4.20 to 4.22): the host auctions one unit of a
//! lined-up product, signed-in viewers bid (the database orders bids once across nodes,
//! the bid book judges them), and when bidding is over the unit is held for the winner
//! as an offer; if they do not pay in time, the next bidder is offered it.
//!
//! What is due (a close, an offer to make, an offer run out) is found by the offer sweep
//! every node runs ([`super::offers`]), not by the rooms it serves, so an auction finishes
//! even when nobody watches its room any more; the database decides which node acts, and
//! that node tells the room.

use super::live::LiveRoom;
use super::{RoomError, RoomResult, Rooms, Viewer};
use crate::bus::Turn;
use crate::commerce::offers::{Holding, Offered};
use crate::domain::{
    AccountId, AuctionId, BidRefusal, ExtendSecs, Increments, Money, OrderId, Price, ProductId, Refusal, RoomId,
    WindowSecs,
};
use crate::store::{AuctionRow, AuctionStatus, BidOutcome, NewAuction, OfferFate, OfferSource, ProductRow};
use crate::wire::ws::{
    AccountName, AuctionCard, AuctionOfferCard, AuctionOutcome, AuctionPhase, RoomEvent, RoomStatus, ServerMsg,
};
use std::time::Duration;

/// An auction's place in its chain of announcements: the start is turn 0, bid `n` turn
/// `n` (the database's count), the end the turn after the last bid. Nodes commit bids in
/// the database's order but announce them after, so without turns two bids taken on two
/// nodes could reach viewers the other way round, or a late bid after the end.
fn turn(auction: AuctionId, n: i64, last: bool) -> Turn {
    Turn { chain: format!("auction:{auction}"), n: u64::try_from(n).unwrap_or_default(), last }
}

/// Offers an auction makes at most (the winner, then up to four more bidders), so an
/// auction nobody pays for ends in bounded time.
pub const MAX_OFFER_ROUNDS: usize = 5;

pub struct AuctionRequest {
    pub product: ProductId,
    pub starting_price: Price,
    pub duration_secs: i64,
    pub increments: Option<Increments>,
    pub extend_secs: Option<ExtendSecs>,
    pub sudden_death: bool,
}

/// A bid as sent: `amount` outright, up to `max` by proxy.
pub struct BidRequest {
    pub auction: AuctionId,
    pub amount: Price,
    pub max: Option<Price>,
}

fn money(amount: i64, p: &ProductRow) -> Money {
    Money::new(amount, p.currency)
}

/// The card of a new auction.
fn auction_card(a: &AuctionRow, p: &ProductRow) -> AuctionCard {
    AuctionCard {
        id: a.id,
        product_id: a.product_id,
        title: p.title.clone(),
        phase: AuctionPhase::Open,
        starting_price: money(a.starting_price.get(), p),
        increments: a.increments.rows().to_vec(),
        extend_secs: a.extend_secs,
        sudden_death: a.sudden_death,
        ends_at: a.ends_at,
        bids: 0,
        price: None,
        leader: None,
        min_bid: money(a.starting_price.get(), p),
        offer: None,
    }
}

impl Rooms {
    pub async fn start_auction(&self, room: &LiveRoom, viewer: &Viewer, req: AuctionRequest) -> RoomResult<()> {
        viewer.host()?;
        if room.read(|s| s.status) != RoomStatus::Live {
            return Err(RoomError::NotLive);
        }
        let p = room.storefront().product(req.product).cloned().ok_or(RoomError::NotInLineup)?;
        if self.commerce.available(&p).await? < 1 {
            return Err(crate::commerce::CommerceError::SoldOut { title: p.title, available: 0 }.into());
        }
        let secs = WindowSecs::try_from(req.duration_secs)?.get();
        let now = self.clock.now();
        let new = NewAuction {
            room: room.id,
            product: p.id,
            starting_price: req.starting_price,
            increments: req.increments.unwrap_or_default(),
            extend_secs: if req.sudden_death { 0 } else { req.extend_secs.unwrap_or_default().get() },
            sudden_death: req.sudden_death,
            ends_at: now.plus(Duration::from_secs(secs as u64)),
        };
        let auction = self.store.create_auction(&new, now).await?.ok_or(RoomError::AuctionRunning)?;
        let event = RoomEvent::AuctionStarted { auction: auction_card(&auction, &p) };
        self.events.publish_in_turn(room.id, &event, &turn(auction.id, 0, false)).await?;
        Ok(())
    }

    /// Bids in the room's auction: the caller's private answer, after the room's
    /// `auction_bid`.
    pub async fn bid(&self, room: &LiveRoom, viewer: &Viewer, req: BidRequest) -> RoomResult<ServerMsg> {
        let account = viewer.account()?;
        if viewer.is_host {
            return Err(RoomError::NotEligible("the host cannot bid in their own auction"));
        }
        // Each bid takes the auction's row: a bidder gets the comment rate, in a bucket of
        // their own, so nobody can crowd out the room's bids (or use up its 5,000).
        let bucket = format!("bid:{}:{}", room.id, viewer.who.key);
        if !self.limits.allow(&bucket, self.settings.comment_limit, self.clock.now()).await? {
            return Err(RoomError::RateLimited);
        }
        let auction = self.store.auction(req.auction).await?.filter(|a| a.room_id == room.id);
        let auction = auction.ok_or(RoomError::AuctionClosed)?;
        let p = room.storefront().product(auction.product_id).cloned().ok_or(RoomError::NotInLineup)?;
        let (amount, max) = (req.amount.get(), req.max.map_or(req.amount.get(), Price::get));
        let now = self.clock.now();
        let taken = match self.store.place_bid(room.id, auction.id, account.id, amount, max, now).await? {
            BidOutcome::Taken(taken) => taken,
            BidOutcome::Refused(BidRefusal::TooLow { min }) => return Err(RoomError::BidTooLow(money(min, &p))),
            BidOutcome::Refused(BidRefusal::NotHigher { max }) => return Err(RoomError::LeadNotRaised(money(max, &p))),
            BidOutcome::Closed => return Err(RoomError::AuctionClosed),
            BidOutcome::Full => return Err(RoomError::AuctionFull),
        };
        let leader = if taken.standing.leader == account.id {
            AccountName { account_id: account.id, display_name: account.display_name.clone() }
        } else {
            self.account_name(taken.standing.leader).await?
        };
        let price = money(taken.standing.price, &p);
        let event = RoomEvent::AuctionBid {
            auction_id: auction.id,
            price,
            leader,
            bids: taken.bids,
            ends_at: taken.ends_at,
            extended: taken.extended,
            min_bid: money(taken.min_bid, &p),
        };
        self.events.publish_in_turn(room.id, &event, &turn(auction.id, taken.bids, false)).await?;
        let leading = taken.standing.leader == account.id;
        let max = if leading { taken.standing.leader_max } else { max.max(amount) };
        Ok(ServerMsg::BidPlaced { auction_id: auction.id, leading, price, max: money(max, &p) })
    }

    /// Takes a due auction one step: closes it, makes its next offer, or settles the
    /// offer that ran out.
    pub(super) async fn advance_auction(&self, a: AuctionRow) -> RoomResult<()> {
        match (a.status, a.offer_id) {
            (AuctionStatus::Open, _) => {
                let Some(closed) = self.store.close_auction(a.id, self.clock.now()).await? else { return Ok(()) };
                let p = self.store.product(closed.product_id).await?.ok_or(Refusal::NotFound("product"))?;
                let winner = self.name_of(closed.leader).await?;
                let price = closed.price.map(|n| money(n, &p));
                let event = RoomEvent::AuctionEnded { auction_id: a.id, winner, price };
                self.events.publish_in_turn(closed.room_id, &event, &turn(a.id, closed.bids + 1, true)).await?;
                if closed.status == AuctionStatus::Unsold {
                    self.announce_settled(&closed, None).await?;
                } else {
                    self.offer_next(&closed, &p).await?;
                }
            }
            (AuctionStatus::Awarded, None) => {
                let p = self.store.product(a.product_id).await?.ok_or(Refusal::NotFound("product"))?;
                self.offer_next(&a, &p).await?;
            }
            (AuctionStatus::Awarded, Some(offer)) => {
                let offer = self.store.offer(offer).await?.ok_or(Refusal::NotFound("offer"))?;
                match self.commerce.offer_fate(&offer).await? {
                    OfferFate::Paid(order) => self.finish_auction(a.id, Some(order)).await?,
                    OfferFate::Lapsed => {
                        if self.store.pass_over(a.id, offer.id, offer.buyer, self.clock.now()).await? {
                            let a = self.store.auction(a.id).await?.ok_or(Refusal::NotFound("auction"))?;
                            let p = self.store.product(a.product_id).await?.ok_or(Refusal::NotFound("product"))?;
                            self.offer_next(&a, &p).await?;
                        }
                    }
                    OfferFate::Open => {}
                }
            }
            (AuctionStatus::Sold | AuctionStatus::Unsold, _) => {}
        }
        Ok(())
    }

    /// Offers the unit to whoever leads once the bidders passed over are left out, at
    /// the price the book gives them; ends the auction unsold when nobody is left, the
    /// rounds are used up, or no unit is left.
    async fn offer_next(&self, a: &AuctionRow, p: &ProductRow) -> RoomResult<()> {
        let book = self.store.auction_book(a).await?.without(&a.lapsed);
        let next = book.standing().filter(|_| a.lapsed.len() < MAX_OFFER_ROUNDS);
        let Some(next) = next else { return self.finish_auction(a.id, None).await };
        let price = Price::try_from(next.price)?;
        let unit = Holding { product: p.id, drop: None, quantity: 1, unit_price: price };
        let offer =
            match self.commerce.make_offer(a.room_id, next.leader, unit, OfferSource::Auction(a.id.get())).await? {
                Offered::Made(offer) | Offered::Existing(offer) => offer,
                Offered::NoStock => return self.finish_auction(a.id, None).await,
            };
        if !self.store.attach_offer(a.id, offer.id).await? {
            return Ok(());
        }
        let buyer = self.account_name(next.leader).await?;
        let round = i64::try_from(a.lapsed.len()).unwrap_or(i64::MAX) + 1;
        let event = RoomEvent::AuctionOffered {
            auction_id: a.id,
            buyer,
            price: offer.unit_price,
            pay_by: offer.expires_at,
            round,
        };
        self.events.publish(a.room_id, &event).await?;
        self.tell_offer(&offer, &p.title).await
    }

    /// Ends an awarded auction: sold with `order`, or unsold.
    pub(super) async fn finish_auction(&self, id: AuctionId, order: Option<OrderId>) -> RoomResult<()> {
        if self.store.finish_auction(id, order).await? {
            let a = self.store.auction(id).await?.ok_or(Refusal::NotFound("auction"))?;
            self.announce_settled(&a, order).await?;
        }
        Ok(())
    }

    /// The room's running auction as the database has it now, for a room being loaded.
    pub(super) async fn running_auction_card(
        &self,
        room: RoomId,
        lineup: &[ProductRow],
    ) -> RoomResult<Option<AuctionCard>> {
        let Some(a) = self.store.running_auction(room).await? else { return Ok(None) };
        let Some(p) = lineup.iter().find(|p| p.id == a.product_id) else { return Ok(None) };
        let mut card = auction_card(&a, p);
        card.bids = a.bids;
        card.price = a.price.map(|n| money(n, p));
        card.leader = self.name_of(a.leader).await?;
        card.min_bid = money(self.store.auction_book(&a).await?.min_bid(), p);
        if a.status == AuctionStatus::Awarded {
            card.phase = AuctionPhase::Awarded;
            if let Some(offer) = a.offer_id {
                let offer = self.store.offer(offer).await?.ok_or(Refusal::NotFound("offer"))?;
                card.offer = Some(AuctionOfferCard {
                    buyer: self.account_name(offer.buyer).await?,
                    price: offer.unit_price,
                    pay_by: offer.expires_at,
                    round: i64::try_from(a.lapsed.len()).unwrap_or(i64::MAX) + 1,
                });
            }
        }
        Ok(Some(card))
    }

    /// Tells the room an auction is over for good.
    async fn announce_settled(&self, a: &AuctionRow, order: Option<OrderId>) -> RoomResult<()> {
        let (outcome, buyer, price) = match order {
            Some(order) => {
                let o = self.store.order_record(order).await?.ok_or(Refusal::NotFound("order"))?;
                let buyer = self.account_name(o.view.buyer_id).await?;
                (AuctionOutcome::Sold, Some(buyer), Some(o.view.subtotal))
            }
            None => (AuctionOutcome::Unsold, None, None),
        };
        let event = RoomEvent::AuctionSettled { auction_id: a.id, outcome, buyer, price };
        self.events.publish(a.room_id, &event).await?;
        Ok(())
    }

    async fn account_name(&self, account: AccountId) -> RoomResult<AccountName> {
        let display_name = self.store.account(account).await?.map(|a| a.display_name).unwrap_or_default();
        Ok(AccountName { account_id: account, display_name })
    }

    /// The account's name as the room shows it, when there is an account.
    pub(super) async fn name_of(&self, account: Option<AccountId>) -> RoomResult<Option<AccountName>> {
        match account {
            Some(account) => Ok(Some(self.account_name(account).await?)),
            None => Ok(None),
        }
    }
}
