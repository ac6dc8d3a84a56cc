//! The lined-up products' stock as the room last knew it, so that a join storm builds its
//! snapshots without asking the inventory once per product per viewer.
//!
//! Filled from an inventory read at most once per [`FRESH_FOR`], and kept current between
//! reads by the room's own events: a `sale` says the product's stock left and
//! `product_updated` its new card, while the events after which stock moved without a
//! figure (a drop starting or ending, an auction's unit offered or settled, the room going
//! live) drop what is known. Live holds (carts, offers) move stock without any event; a
//! snapshot may miss those of the last [`FRESH_FOR`], as every viewer already in the room
//! misses them until the next sale.

use crate::domain::ProductId;
use crate::wire::ws::RoomEvent;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long an inventory read serves snapshots.
pub const FRESH_FOR: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
pub struct KnownStock {
    units: HashMap<ProductId, i64>,
    read_at: Option<Instant>,
    /// Counts the events that changed stock, so that a read overtaken by one is not kept.
    generation: u64,
}

/// Where the stock stood when a read began, to hand back with the read's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadTicket(u64);

impl KnownStock {
    /// The units of `product`, if a read that is still fresh at `now` (or an event since)
    /// said them.
    pub fn units(&self, product: ProductId, now: Instant) -> Option<i64> {
        let fresh = self.read_at.is_some_and(|at| now.saturating_duration_since(at) < FRESH_FOR);
        if fresh { self.units.get(&product).copied() } else { None }
    }

    /// Taken before reading the inventory.
    pub fn ticket(&self) -> ReadTicket {
        ReadTicket(self.generation)
    }

    /// Keeps what a read begun with `ticket` found at `at`, unless an event changed stock
    /// since it began: the event's figure may be newer than the read's.
    pub fn fill(&mut self, ticket: ReadTicket, units: impl IntoIterator<Item = (ProductId, i64)>, at: Instant) {
        if ticket.0 != self.generation {
            return;
        }
        self.units = units.into_iter().collect();
        self.read_at = Some(at);
    }

    /// Folds one room event in.
    pub fn apply(&mut self, event: &RoomEvent) {
        match event {
            RoomEvent::Sale(sale) => self.set(sale.product_id, sale.stock_left),
            RoomEvent::ProductUpdated { product } => self.set(product.id, product.stock),
            RoomEvent::DropStarted { .. }
            | RoomEvent::DropEnded { .. }
            | RoomEvent::AuctionOffered { .. }
            | RoomEvent::AuctionSettled { .. }
            | RoomEvent::RoomLive => self.forget(),
            _ => {}
        }
    }

    fn set(&mut self, product: ProductId, units: i64) {
        self.generation += 1;
        self.units.insert(product, units);
    }

    /// Forgets every figure: the next snapshot reads the inventory.
    pub fn forget(&mut self) {
        self.generation += 1;
        self.units.clear();
        self.read_at = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{DropId, UnixMs};
    use crate::wire::ws::SaleView;

    fn sale(product: ProductId, stock_left: i64) -> RoomEvent {
        RoomEvent::Sale(SaleView {
            buyer: "Ana".into(),
            product_id: product,
            title: "Serum".into(),
            quantity: 1,
            stock_left,
            drop_left: None,
            at: UnixMs(1),
        })
    }

    fn ids() -> (ProductId, ProductId) {
        (ProductId::from_row(1), ProductId::from_row(2))
    }

    #[test]
    fn a_read_serves_until_it_is_stale() {
        let (serum, balm) = ids();
        let mut known = KnownStock::default();
        let now = Instant::now();
        assert_eq!(known.units(serum, now), None);
        known.fill(known.ticket(), [(serum, 10), (balm, 3)], now);
        assert_eq!(known.units(serum, now), Some(10));
        assert_eq!(known.units(balm, now + FRESH_FOR / 2), Some(3));
        assert_eq!(known.units(balm, now + FRESH_FOR), None);
    }

    #[test]
    fn sales_keep_the_figures_current_and_a_read_they_overtook_is_not_kept() {
        let (serum, balm) = ids();
        let mut known = KnownStock::default();
        let now = Instant::now();
        known.fill(known.ticket(), [(serum, 10), (balm, 3)], now);
        known.apply(&sale(serum, 9));
        assert_eq!(known.units(serum, now), Some(9));
        // A read begun before the next sale, ending after it, may hold the older figure.
        let ticket = known.ticket();
        known.apply(&sale(serum, 8));
        known.fill(ticket, [(serum, 9), (balm, 3)], now);
        assert_eq!(known.units(serum, now), Some(8));
    }

    #[test]
    fn events_that_move_stock_without_a_figure_forget_it() {
        let (serum, _) = ids();
        let mut known = KnownStock::default();
        let now = Instant::now();
        known.fill(known.ticket(), [(serum, 10)], now);
        known.apply(&RoomEvent::DropEnded { drop_id: DropId::from_row(4), sold: 0 });
        assert_eq!(known.units(serum, now), None);
    }
}
