//! Checkout inside the stream: hold → place → pay → settle, attributed to the host.
//!
//! 1. The cart is priced from the database (the current catalogue row, the drop price
//!    while the room's drop runs, less the promo code's discount on its products) and
//!    every line is attributed to the creator hosting the room, with the commission of
//!    their agreement, split with the room's co-host (rule `cohost-v1`).
//! 2. Stock is held atomically in the inventory (all lines or none), with an expiry.
//! 3. The order, its lines, commission and shares are written in one transaction as
//!    `placed`, taking one use of the promo code (never past its `max_uses`), with its
//!    charge opened `pending` in the payment ledger; the unique (buyer, idempotency key)
//!    makes a duplicate lose here.
//! 4. The charge is made (see `settlement`): once, whatever happens, under the provider
//!    key the ledger opened it with. Approved: the hold is committed and, in one
//!    transaction, the ledger records the success, the order becomes `paid`, its units
//!    leave the database's stock (each decrement conditional, the last guard against
//!    oversell) and its commission accrues. Declined: the hold is released and the order cancelled. No
//!    answer: the order stays `placed` with its hold, so a retry with the same key
//!    finishes the same charge; if none comes, the reconciler settles it or refunds it.
//!
//! A key is bound to its first answer from step 2 on: a hold refused (`sold_out`) writes
//! no order but records the refusal under the key, which a retry answers again; refusals
//! before the hold (the room, the cart, the code) leave the key unused. A buyer's
//! [`REFUSALS_PER_BUYER`] newest refusals are kept; an older key is free again.
//!
//! Only then does the buyer get `order_confirmed`, the room a `sale` and the brand its
//! feed entry: an acknowledged order is always a committed, paid one.
//!
//! One-tap buy: a checkout pays with a card number or with the account's saved method
//! ([`Payment`]), looked up when the charge is made (a `"saved"` checkout without one is
//! refused before anything is held). The order keeps the shipping address it was placed
//! with. `save` keeps the card and the address on the account once this call has paid
//! the order; saving comes after the money and never undoes an order.
//!
//! In a rehearsal (docs/protocol.md, 9.10) only a published test card pays, charged by
//! the test-card provider whatever the server runs, and nothing real is touched: the
//! order is flagged `rehearsal`, holds and takes no product stock (a rehearsal drop's own
//! units it does), takes no promo code use, accrues no commission and reaches no brand's
//! sales feed. Refusals of the rules come before anything is held, so the key stays unused.

use super::cart::Cart;
use super::commission::{commission, shares};
use super::holds::Left;
use super::payments::{Instrument, SavedMethod, TestCards};
use super::pricing::unit_price;
use super::promo::{AppliedPromo, PromoRefusal};
use super::settlement::{Placed, Terms, cancelled_error};
use super::{Commerce, CommerceError, StockKey, Storefront};
use crate::analytics::{Event, Who};
use crate::domain::{
    AccountId, CardNumber, Currency, DropId, IdempotencyKey, Invalid, Money, PaymentSource, Price, PromoCode, Refusal,
    ShippingAddress, UnixMs,
};
use crate::store::{
    AccountRow, AgreementRow, CheckoutAsk, CheckoutReads, DropRow, NewOrder, NewOrderLine, OrderPromo, OrderRecord,
    PlaceOutcome, PlacedOrder, PricingReads, ProductRow, RefusalRow, RoomRow,
};
use crate::telemetry::{Causes, timed};
use crate::wire::ws::{DropCard, OrderStatus, OrderView, RoomStatus};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use tracing::Instrument as _;

/// How many keys spent on `sold_out` a buyer's account remembers: enough for any retry of
/// a lost answer, and a bound on what refused checkouts, which cost a buyer nothing,
/// make the database keep.
pub const REFUSALS_PER_BUYER: i64 = 100;

pub struct CheckoutRequest {
    pub key: IdempotencyKey,
    pub payment: Payment,
    pub promo_code: Option<PromoCode>,
    /// Save the card (when paying with one) and `shipping` (when given) on the account
    /// once this checkout has paid the order.
    pub save: bool,
    /// Where to ship; `None`: the account's saved address, if any.
    pub shipping: Option<ShippingAddress>,
}

/// What a checkout pays with.
#[derive(Debug, Clone)]
pub enum Payment {
    Card(CardNumber),
    /// The account's saved payment method.
    Saved,
}

impl Payment {
    /// The one rule for a checkout's `card` and `payment` fields, on every edge: a card,
    /// or `"payment":"saved"` without one.
    pub fn from_fields(card: Option<CardNumber>, source: Option<PaymentSource>) -> std::result::Result<Self, Invalid> {
        match (card, source.unwrap_or_default()) {
            (Some(card), PaymentSource::Card) => Ok(Payment::Card(card)),
            (None, PaymentSource::Saved) => Ok(Payment::Saved),
            (None, PaymentSource::Card) => {
                Err(Invalid::new("card", "a card is required, unless \"payment\" is \"saved\""))
            }
            (Some(_), PaymentSource::Saved) => {
                Err(Invalid::new("card", "\"payment\":\"saved\" pays with the saved method: send no card"))
            }
        }
    }
}

/// A cart priced for an order: its lines, their currency, the code applied and the
/// room's creators as the database has them.
struct Priced {
    lines: Vec<NewOrderLine>,
    currency: Currency,
    promo: Option<AppliedPromo>,
    room: RoomRow,
}

type Result<T> = std::result::Result<T, CommerceError>;

/// What writing a new order came to.
enum Placement {
    /// Written, with its stock held and its charge opened: next, the payment.
    Placed { placed: Box<PlacedOrder>, hold_id: String, left: Left, terms: Terms },
    /// A racing request with the same key wrote it first: its outcome as it stands.
    Raced(Result<OrderView>),
}

/// Identifies what was bought, so reusing a key for a different purchase is caught: the
/// room, the cart and the promo code.
fn request_hash(shop: &Storefront<'_>, cart: &Cart, promo: Option<&PromoCode>) -> String {
    let mut h = Sha256::new();
    h.update(shop.room.get().to_be_bytes());
    for (product, q) in &cart.lines {
        h.update(product.get().to_be_bytes());
        h.update(i64::from(*q).to_be_bytes());
    }
    if let Some(code) = promo {
        // After the lines, so a checkout without a code hashes as it always did.
        h.update(b"promo:");
        h.update(code.as_str().as_bytes());
    }
    URL_SAFE_NO_PAD.encode(h.finalize())
}

/// A drop as it prices a unit of `p`: its own price, or the catalogue's current one.
pub fn drop_card(d: &DropRow, p: &ProductRow) -> DropCard {
    DropCard {
        id: d.id,
        product_id: d.product_id,
        quantity: d.quantity,
        remaining: d.remaining,
        price: Money::new(d.price.unwrap_or(p.price), p.currency),
        ends_at: d.ends_at,
        per_buyer: d.per_buyer,
    }
}

/// An order line of `quantity` units of `p` at `unit` each, attributed with the
/// commission of the host's `agreement` (shared with a co-host when the room has one);
/// its list price is `unit` until a caller says otherwise.
pub(super) fn order_line(
    p: &ProductRow,
    agreement: &AgreementRow,
    co_hosted: bool,
    quantity: i64,
    unit: Price,
) -> NewOrderLine {
    // Both factors are bounded (Price::MAX × Quantity::MAX), so this cannot overflow.
    let line_total = unit.get() * quantity;
    NewOrderLine {
        product_id: p.id,
        brand_id: p.brand_id,
        drop_id: None,
        title: p.title.clone(),
        quantity,
        list_price: unit.get(),
        unit_price: unit.get(),
        line_total,
        co_host_share_bps: if co_hosted { agreement.co_host_share_bps } else { 0 },
        commission_bps: agreement.commission_bps,
        commission_flat: agreement.commission_flat,
        commission_amount: commission(line_total, quantity, agreement.commission_bps, agreement.commission_flat),
    }
}

/// What the charge is made with: the checkout's card, or the saved method looked up for it.
pub(super) fn instrument<'a>(payment: &'a Payment, saved: Option<&'a SavedMethod>) -> Result<Instrument<'a>> {
    match (payment, saved) {
        (Payment::Card(card), _) => Ok(Instrument::Card(card)),
        (Payment::Saved, Some(saved)) => Ok(Instrument::Saved(saved)),
        (Payment::Saved, None) => Err(CommerceError::NoSavedPaymentMethod),
    }
}

/// What a rehearsal's checkout may ask for: a published test card, and nothing that
/// would outlive the rehearsal (a saved card, a promo code's use).
pub(super) fn rehearsal_rules(req: &CheckoutRequest) -> Result<()> {
    match &req.payment {
        Payment::Card(card) if TestCards::is_test_card(card.digits()) => {}
        Payment::Card(_) | Payment::Saved => return Err(CommerceError::TestCardRequired),
    }
    if req.save {
        return Err(Invalid::new("save", "a rehearsal keeps nothing in the wallet").into());
    }
    match &req.promo_code {
        Some(code) => Err(PromoRefusal::Rehearsal(code.as_str().to_owned()).into()),
        None => Ok(()),
    }
}

/// 128 random bits, URL-safe: a hold's id, a charge's provider key.
pub(super) fn random_id() -> String {
    let mut raw = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut raw);
    URL_SAFE_NO_PAD.encode(raw)
}

impl Commerce {
    /// Runs one checkout while holding the buyer's claim on its idempotency key, so a
    /// second request with the same key, on any node, gets `checkout_in_progress`
    /// meanwhile. Every log line inside names the key and, once placed, the order.
    pub async fn checkout(&self, shop: &Storefront<'_>, buyer: &AccountRow, req: CheckoutRequest) -> Result<OrderView> {
        let span = tracing::info_span!(
            "checkout",
            room = %shop.room,
            buyer = %buyer.id,
            key = req.key.as_str(),
            order = tracing::field::Empty
        );
        let work = self.claimed_checkout(shop, buyer, &req);
        match self.claimed(buyer.id, req.key.as_str(), work).instrument(span).await? {
            Some(outcome) => outcome,
            None => Err(CommerceError::CheckoutInProgress),
        }
    }

    async fn claimed_checkout(
        &self,
        shop: &Storefront<'_>,
        buyer: &AccountRow,
        req: &CheckoutRequest,
    ) -> Result<OrderView> {
        let cart = self.carts.get(shop.room, buyer.id).await?;
        // A first checkout needs every answer, so everything is read at once.
        let ask = CheckoutAsk {
            buyer: buyer.id,
            key: req.key.as_str().to_owned(),
            saved_address: req.shipping.is_none(),
            room: shop.room,
            host: shop.host,
            products: cart.lines.keys().copied().collect(),
        };
        let CheckoutReads { existing, refused, saved_address, pricing } = self.store.checkout_reads(ask).await?;
        if let Some(existing) = existing {
            tracing::Span::current().record("order", existing.view.id.get());
            let code = req.promo_code.as_ref();
            if existing.view.room_id != shop.room
                || existing.view.promo_code.as_deref() != code.map(PromoCode::as_str)
                || (!cart.lines.is_empty() && existing.request_hash != request_hash(shop, &cart, code))
            {
                return Err(CommerceError::IdempotencyMismatch);
            }
            return self.resume(shop.host_name, buyer, existing, req).await;
        }
        if let Some(refused) = refused {
            // The key's first attempt found too few units: that answer stands, so a retry
            // never buys later, at another price, what was refused then.
            let code = req.promo_code.as_ref();
            if refused.room != shop.room
                || refused.promo_code.as_deref() != code.map(PromoCode::as_str)
                || (!cart.lines.is_empty() && refused.request_hash != request_hash(shop, &cart, code))
            {
                return Err(CommerceError::IdempotencyMismatch);
            }
            return Err(CommerceError::SoldOut { title: refused.title, available: refused.available });
        }
        if cart.lines.is_empty() {
            return Err(CommerceError::CartEmpty);
        }
        if shop.rehearsal {
            rehearsal_rules(req)?;
        }
        let who = Who::account(buyer.id);
        self.analytics.record(Event::CheckoutStarted { room: shop.room, who: who.clone() });
        // Refused before anything is held, so the key stays unused.
        let saved = match req.payment {
            Payment::Saved => match self.saved_method(buyer).await {
                Ok(saved) => Some(saved),
                Err(e) => {
                    self.analytics.record(Event::CheckoutFailed { room: shop.room, who });
                    return Err(e);
                }
            },
            Payment::Card(_) => None,
        };
        let shipping = req.shipping.clone().or(saved_address);
        let instrument = instrument(&req.payment, saved.as_ref())?;
        match self.place(shop, buyer, req, &cart, pricing, shipping).await {
            Ok(Placement::Placed { placed, hold_id, left, terms }) => {
                let PlacedOrder { view, charge } = *placed;
                let placed = Placed {
                    order: view,
                    charge: Some(charge),
                    hold_id: &hold_id,
                    left: Some(left),
                    buyer,
                    host_name: shop.host_name,
                    terms: Some(terms),
                };
                let paid = self.pay(placed, instrument).await;
                self.save_after(buyer, req, &paid).await;
                paid
            }
            Ok(Placement::Raced(outcome)) => outcome,
            Err(e) => {
                // Refused before an order existed; once one does, its cancellation records it.
                self.analytics.record(Event::CheckoutFailed { room: shop.room, who });
                Err(e)
            }
        }
    }

    /// Prices the cart, holds its stock and writes the order as `placed`.
    async fn place(
        &self,
        shop: &Storefront<'_>,
        buyer: &AccountRow,
        req: &CheckoutRequest,
        cart: &Cart,
        pricing: PricingReads,
        shipping: Option<ShippingAddress>,
    ) -> Result<Placement> {
        let now = self.clock.now();
        let Priced { lines, currency, promo, room } =
            self.price_lines(shop, cart, pricing, req.promo_code.as_ref(), now).await?;
        let mut hold_lines = Vec::with_capacity(lines.len() * 2);
        for l in &lines {
            if !shop.rehearsal {
                hold_lines.push((StockKey::Product(l.product_id), l.quantity));
            }
            if let Some(drop) = l.drop_id {
                hold_lines.push((StockKey::Drop(drop), l.quantity));
            }
        }
        let hold_id = random_id();
        let hold_expires_at = now.plus(self.hold_ttl);
        let held = match self.inventory.hold(&hold_id, &hold_lines, hold_expires_at).await {
            Ok(held) => held,
            Err(e) => {
                // The hold may have been taken with its answer lost (Redis answered too
                // late): its units go back now, not when it expires. Releasing a hold
                // that was never taken does nothing.
                if let Err(release) = self.inventory.release(&hold_id).await {
                    tracing::warn!(error = %Causes(&release), "a hold that failed was not released; it expires");
                }
                return Err(e.into());
            }
        };
        metrics::counter!("livecart_holds_total", "result" => if held.is_ok() { "held" } else { "refused" })
            .increment(1);
        let left = match held {
            Ok(left) => left,
            Err(short) => {
                let title = lines
                    .iter()
                    .find(|l| {
                        StockKey::Product(l.product_id) == short.key || l.drop_id.map(StockKey::Drop) == Some(short.key)
                    })
                    .map_or_else(String::new, |l| l.title.clone());
                // No order, but the key is spent on this answer (docs/protocol.md, 4.11).
                let refusal = RefusalRow {
                    room: shop.room,
                    request_hash: request_hash(shop, cart, req.promo_code.as_ref()),
                    promo_code: req.promo_code.as_ref().map(|c| c.as_str().to_owned()),
                    title: title.clone(),
                    available: short.available,
                };
                self.store
                    .record_checkout_refusal(buyer.id, req.key.as_str(), &refusal, now, REFUSALS_PER_BUYER)
                    .await?;
                return Err(CommerceError::SoldOut { title, available: short.available });
            }
        };

        let subtotal = lines.iter().map(|l| l.line_total).sum();
        let order = NewOrder {
            buyer: buyer.id,
            room: shop.room,
            creator: shop.host,
            currency,
            subtotal,
            commission_total: lines.iter().map(|l| l.commission_amount).sum(),
            idempotency_key: req.key.as_str().to_owned(),
            request_hash: request_hash(shop, cart, req.promo_code.as_ref()),
            hold_id: hold_id.clone(),
            hold_expires_at,
            promo_code: promo.as_ref().map(|p| OrderPromo { id: p.id, code: p.code.clone() }),
            discount: lines.iter().map(|l| (l.list_price - l.unit_price) * l.quantity).sum(),
            shares: shares(shop.host, room.co_host_id, &lines),
            lines,
            shipping,
            rehearsal: shop.rehearsal,
            charge: self.charge_opening(shop.rehearsal, subtotal),
        };
        match timed("livecart_db_seconds", "place_order", self.store.place_order(&order, now)).await {
            Ok(PlaceOutcome::Placed(placed)) => {
                tracing::Span::current().record("order", placed.view.id.get());
                Ok(Placement::Placed { placed, hold_id, left, terms: Terms::of(&order) })
            }
            Ok(PlaceOutcome::KeyTaken) => {
                self.inventory.release(&hold_id).await?;
                Ok(Placement::Raced(match self.store.order_by_key(buyer.id, req.key.as_str()).await? {
                    Some(r) if r.view.status == OrderStatus::Paid => Ok(r.view),
                    _ => Err(CommerceError::CheckoutInProgress),
                }))
            }
            Ok(PlaceOutcome::OverDropLimit(drop)) => {
                self.inventory.release(&hold_id).await?;
                Err(self.drop_limit(drop, buyer.id).await)
            }
            Ok(PlaceOutcome::PromoRefused) => {
                self.inventory.release(&hold_id).await?;
                match &promo {
                    Some(applied) => Err(self.promo_refused(applied, &room).await),
                    None => Err(CommerceError::CheckoutInProgress),
                }
            }
            Err(e) => {
                self.inventory.release(&hold_id).await?;
                Err(e.into())
            }
        }
    }

    /// What a buyer over a drop's per-buyer limit is told: the limit, and what they have.
    pub(super) async fn drop_limit(&self, drop: DropId, buyer: AccountId) -> CommerceError {
        let limit = async {
            let per_buyer = self.store.drop_row(drop).await?.and_then(|d| d.per_buyer).unwrap_or_default();
            let held = self.store.drop_units_of(drop, buyer).await?;
            Ok(CommerceError::DropLimit { per_buyer, held })
        };
        limit.await.unwrap_or_else(CommerceError::Store)
    }

    /// A checkout seen before under the same key: replay its outcome, or retry its
    /// payment if it is still waiting for one.
    pub(super) async fn resume(
        &self,
        host_name: &str,
        buyer: &AccountRow,
        existing: OrderRecord,
        req: &CheckoutRequest,
    ) -> Result<OrderView> {
        match existing.view.status {
            OrderStatus::Paid | OrderStatus::Refunded => Ok(existing.view),
            OrderStatus::Cancelled => Err(cancelled_error(existing.view.failure_code.as_deref())),
            OrderStatus::Placed if existing.hold_expires_at <= self.clock.now() => {
                // Too late to pay; what an earlier attempt may have charged is found and
                // given back, as the reconciler would (this checkout holds the claim).
                self.reconcile_claimed(existing.view.id).await?;
                Err(CommerceError::HoldExpired)
            }
            OrderStatus::Placed => {
                if existing.view.rehearsal {
                    rehearsal_rules(req)?;
                }
                let placed = Placed {
                    order: existing.view,
                    charge: None,
                    hold_id: &existing.hold_id,
                    left: None,
                    buyer,
                    host_name,
                    terms: None,
                };
                // The retry's payment pays: its card, or the method saved now.
                let saved = match req.payment {
                    Payment::Saved => Some(self.saved_method(buyer).await?),
                    Payment::Card(_) => None,
                };
                let paid = self.pay(placed, instrument(&req.payment, saved.as_ref())?).await;
                self.save_after(buyer, req, &paid).await;
                paid
            }
        }
    }

    /// Keeps what a `save` checkout asked to, once this call has paid its order: the
    /// card it paid with and the shipping address it gave. The order stands whatever
    /// happens here; a card the provider will not keep leaves the wallet as it was.
    pub(super) async fn save_after(&self, buyer: &AccountRow, req: &CheckoutRequest, paid: &Result<OrderView>) {
        if !req.save || paid.is_err() {
            return;
        }
        if let Some(address) = &req.shipping {
            if let Err(e) = self.save_shipping_address(buyer, address).await {
                tracing::warn!(error = %Causes(&e), "shipping address not saved after checkout");
            }
        }
        if let Payment::Card(card) = &req.payment {
            if let Err(e) = self.save_card(buyer, card).await {
                tracing::warn!(error = %Causes(&e), "card not saved after checkout");
            }
        }
    }

    /// Prices every cart line from what the database says now (`pricing`, read for this
    /// checkout): the room must be live there, each
    /// product is priced from its current catalogue row (or the drop the database says
    /// runs), less the promo code's discount where the code applies, and attributed to
    /// the host with the commission of their agreement (and the co-host's share of it
    /// when the room has one). All lines must share one currency; a code must be usable
    /// in the room and apply to at least one line.
    async fn price_lines(
        &self,
        shop: &Storefront<'_>,
        cart: &Cart,
        pricing: PricingReads,
        code: Option<&PromoCode>,
        now: UnixMs,
    ) -> Result<Priced> {
        let PricingReads { room, live_drop: drop, products: catalogue } = pricing;
        let room = room.ok_or(Refusal::NotFound("room"))?;
        if room.status != RoomStatus::Live {
            return Err(CommerceError::RoomNotLive);
        }
        let promo = match code {
            Some(code) => Some(self.promo_for(code, &room, now).await?),
            None => None,
        };
        let co_host: Option<AccountId> = room.co_host_id;
        let mut discounted_lines = 0;
        let mut lines = Vec::with_capacity(cart.lines.len());
        let mut currencies = Vec::with_capacity(cart.lines.len());
        for (product, q) in &cart.lines {
            shop.product(*product).ok_or(CommerceError::NotInLineup)?;
            let (p, agreement) = catalogue.iter().find(|(p, _)| p.id == *product).ok_or(CommerceError::NotInLineup)?;
            let agreement = agreement.as_ref().ok_or(CommerceError::NotInLineup)?;
            let drop = drop.as_ref().map(|d| drop_card(d, p));
            let (price, drop_id) = unit_price(p, drop.as_ref(), now);
            let quantity = i64::from(*q);
            let paid = match &promo {
                Some(applied) if applied.products.contains(&p.id) => applied.discount.apply(price),
                _ => None,
            };
            discounted_lines += usize::from(paid.is_some());
            let paid = Price::try_from(paid.unwrap_or(price.amount))?;
            let mut line = order_line(p, agreement, co_host.is_some(), quantity, paid);
            line.drop_id = drop_id;
            line.list_price = price.amount;
            lines.push(line);
            currencies.push(price.currency);
        }
        let currency = match currencies.first() {
            Some(first) if currencies.iter().all(|c| c == first) => *first,
            Some(_) => return Err(CommerceError::MixedCurrency),
            None => return Err(CommerceError::CartEmpty),
        };
        if let Some(applied) = &promo {
            if discounted_lines == 0 {
                return Err(PromoRefusal::NoEligibleLine(applied.code.clone()).into());
            }
        }
        Ok(Priced { lines, currency, promo, room })
    }
}
