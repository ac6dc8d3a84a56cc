//! Offers: units held for one buyer at a set price until a deadline (an auction's award,
//! a waitlist's turn, a comment-to-buy keyword), paid with `pay_offer` (docs/protocol.md,
//! 4.22).
//!
//! Making an offer holds its units in the inventory first and records the offer second,
//! so an offer on record always has its units; a node that loses the race to record it
//! gives its own hold back. Paying places an order on the offer's own hold, then pays it
//! exactly as a checkout does (same ledger, same idempotency, same refund when the hold
//! ran out before the money came), so the sale is attributed to the room's host and
//! counts in every report.

use super::checkout::{CheckoutRequest, instrument, order_line, random_id, rehearsal_rules};
use super::settlement::{Placed, Terms};
use super::{Commerce, CommerceError, StockKey};
use crate::domain::{AccountId, DropId, Money, OfferId, Price, ProductId, Refusal, RoomId};
use crate::store::{
    AccountRow, NewOffer, NewOrder, OfferFate, OfferRow, OfferSource, OfferStatus, PlaceOutcome, PlacedOrder,
};
use crate::wire::ws::{OfferView, OrderView};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

type Result<T> = std::result::Result<T, CommerceError>;

/// What a buyer is shown of an offer.
pub fn offer_view(o: &OfferRow, title: &str) -> OfferView {
    OfferView {
        id: o.id,
        room_id: o.room_id,
        product_id: o.product_id,
        title: title.to_owned(),
        quantity: o.quantity,
        price: o.unit_price,
        expires_at: o.expires_at,
    }
}

/// What an offer's order is bought as, so a key reused for anything else is caught.
fn offer_hash(offer: OfferId) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(format!("offer:{offer}")))
}

/// What an offer holds: `quantity` units of `product` (and of its running `drop`, whose
/// units it then takes) at `unit_price` each.
pub struct Holding {
    pub product: ProductId,
    pub drop: Option<DropId>,
    pub quantity: i64,
    pub unit_price: Price,
}

/// What making an offer came to.
pub enum Offered {
    /// Made now, by this call: tell the buyer.
    Made(OfferRow),
    /// Made before (by another node): nothing to tell.
    Existing(OfferRow),
    /// No unit was left to hold.
    NoStock,
}

impl Commerce {
    /// Holds `what` for `buyer` for the hold time, and records the offer. An auction or a
    /// waitlist entry offers a buyer once, so a second call answers with the first offer.
    pub async fn make_offer(
        &self,
        room: RoomId,
        buyer: AccountId,
        what: Holding,
        source: OfferSource,
    ) -> Result<Offered> {
        let Holding { product, drop, quantity, unit_price } = what;
        if !matches!(source, OfferSource::Comment(_)) {
            if let Some(existing) = self.store.offer_of(source, buyer).await? {
                return Ok(Offered::Existing(existing));
            }
        }
        let p = self.store.product(product).await?.ok_or(Refusal::NotFound("product"))?;
        let rehearsal = self.store.room(room).await?.ok_or(Refusal::NotFound("room"))?.rehearsal_of.is_some();
        let mut lines = Vec::with_capacity(2);
        // A rehearsal never holds real stock (its drop's own units it does), as its checkout.
        if !rehearsal {
            let key = StockKey::Product(product);
            self.inventory.track(key, p.stock, p.card_version).await?;
            lines.push((key, quantity));
        }
        lines.extend(drop.map(|d| (StockKey::Drop(d), quantity)));
        let hold_id = random_id();
        let now = self.clock.now();
        let expires_at = now.plus(self.hold_ttl);
        if self.inventory.hold(&hold_id, &lines, expires_at).await?.is_err() {
            return Ok(Offered::NoStock);
        }
        let new = NewOffer {
            room,
            buyer,
            product,
            drop,
            quantity,
            unit_price: Money::new(unit_price.get(), p.currency),
            source,
            hold_id: &hold_id,
            expires_at,
        };
        match self.store.create_offer(&new, now).await {
            Ok(Some(offer)) => Ok(Offered::Made(offer)),
            Ok(None) => {
                self.inventory.release(&hold_id).await?;
                let existing = self.store.offer_of(source, buyer).await?.ok_or(Refusal::NotFound("offer"))?;
                Ok(Offered::Existing(existing))
            }
            Err(e) => {
                self.inventory.release(&hold_id).await?;
                Err(e.into())
            }
        }
    }

    /// What an open offer came to; a lapsed one gives its units back.
    pub async fn offer_fate(&self, offer: &OfferRow) -> Result<OfferFate> {
        let fate = self.store.offer_fate(offer.id, self.clock.now()).await?;
        if fate == OfferFate::Lapsed {
            self.inventory.release(&offer.hold_id).await?;
        }
        Ok(fate)
    }

    /// The buyer's open offers, with their products' titles.
    pub async fn open_offers(&self, buyer: AccountId) -> Result<Vec<OfferView>> {
        let offers = self.store.open_offers(buyer, self.clock.now()).await?;
        let ids: Vec<ProductId> = offers.iter().map(|o| o.product_id).collect();
        let products = self.store.products(&ids).await?;
        let title = |id| products.iter().find(|p| p.id == id).map_or("", |p| p.title.as_str());
        Ok(offers.iter().map(|o| offer_view(o, title(o.product_id))).collect())
    }

    /// Pays the buyer's offer `id`, as a checkout would, under the buyer's idempotency
    /// key: the same key again never pays twice.
    pub async fn pay_offer(
        &self,
        buyer: &AccountRow,
        id: OfferId,
        req: CheckoutRequest,
    ) -> Result<(OfferRow, OrderView)> {
        let work = self.claimed_offer(buyer, id, &req);
        match self.claimed(buyer.id, req.key.as_str(), work).await? {
            Some(outcome) => outcome,
            None => Err(CommerceError::CheckoutInProgress),
        }
    }

    async fn claimed_offer(
        &self,
        buyer: &AccountRow,
        id: OfferId,
        req: &CheckoutRequest,
    ) -> Result<(OfferRow, OrderView)> {
        let offer = self.store.offer(id).await?.filter(|o| o.buyer == buyer.id).ok_or(Refusal::NotFound("offer"))?;
        let room = self.store.room(offer.room_id).await?.ok_or(Refusal::NotFound("room"))?;
        let host_name = self.store.account(room.creator_id).await?.map(|a| a.display_name).unwrap_or_default();
        if let Some(existing) = self.store.order_by_key(buyer.id, req.key.as_str()).await? {
            if existing.request_hash != offer_hash(id) {
                return Err(CommerceError::IdempotencyMismatch);
            }
            let order = self.resume(&host_name, buyer, existing, req).await?;
            return Ok((offer, order));
        }
        let now = self.clock.now();
        if offer.status != OfferStatus::Open || offer.expires_at <= now {
            return Err(CommerceError::OfferClosed);
        }
        let rehearsal = room.rehearsal_of.is_some();
        if rehearsal {
            rehearsal_rules(req)?;
        }
        let saved = match req.payment {
            super::Payment::Saved => Some(self.saved_method(buyer).await?),
            super::Payment::Card(_) => None,
        };
        let instrument = instrument(&req.payment, saved.as_ref())?;
        let shipping = match &req.shipping {
            Some(a) => Some(a.clone()),
            None => self.store.shipping_address(buyer.id).await?.map(|(a, _)| a),
        };
        let p = self.store.product(offer.product_id).await?.ok_or(Refusal::NotFound("product"))?;
        let agreement = self.store.active_agreement(room.creator_id, p.id).await?.ok_or(CommerceError::NotInLineup)?;
        let unit = Price::try_from(offer.unit_price.amount)?;
        let mut line = order_line(&p, &agreement, room.co_host_id.is_some(), offer.quantity, unit);
        line.drop_id = offer.drop_id;
        let lines = vec![line];
        let subtotal = lines.iter().map(|l| l.line_total).sum();
        let order = NewOrder {
            buyer: buyer.id,
            room: room.id,
            creator: room.creator_id,
            currency: offer.unit_price.currency,
            subtotal,
            commission_total: lines.iter().map(|l| l.commission_amount).sum(),
            idempotency_key: req.key.as_str().to_owned(),
            request_hash: offer_hash(id),
            hold_id: offer.hold_id.clone(),
            hold_expires_at: offer.expires_at,
            promo_code: None,
            discount: 0,
            shares: super::commission::shares(room.creator_id, room.co_host_id, &lines),
            lines,
            shipping,
            rehearsal,
            charge: self.charge_opening(rehearsal, subtotal),
        };
        let PlacedOrder { view, charge } = match self.store.place_order(&order, now).await? {
            PlaceOutcome::Placed(placed) => *placed,
            PlaceOutcome::OverDropLimit(drop) => return Err(self.drop_limit(drop, buyer.id).await),
            // The key was taken by a racing request, or the offer's hold is already an
            // order's under another key: it is being paid.
            PlaceOutcome::KeyTaken | PlaceOutcome::PromoRefused => return Err(CommerceError::CheckoutInProgress),
        };
        let terms = Some(Terms::of(&order));
        let placed = Placed {
            order: view,
            charge: Some(charge),
            hold_id: &offer.hold_id,
            left: None,
            buyer,
            host_name: &host_name,
            terms,
        };
        let paid = self.pay(placed, instrument).await;
        self.save_after(buyer, req, &paid).await;
        let order = paid?;
        Ok((offer, order))
    }
}
