//! The hold book: units reserved for checkouts in flight, as a plain struct driven by
//! inputs and the current time, so expiry is tested without sleeping.
//!
//! `available` is what can still be held: units on hand (not yet sold in the database)
//! less units held. A hold takes units from every key it names or from none. Committing
//! a hold means the units are sold (the database decrements its stock in the same step),
//! so `available` does not change; releasing or expiring it gives the units back.

use crate::domain::{AdjustmentId, DropId, ProductId, UnixMs};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};

/// A pool of units that a hold draws from: a product's stock, or the allotment of a drop
/// (a drop line draws from both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StockKey {
    Product(ProductId),
    Drop(DropId),
}

/// Units each key of a hold has left for others once the hold took its share: the
/// per-sale count-down a sale announces (a later read would already count other holds).
pub type Left = Vec<(StockKey, i64)>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortfall {
    pub key: StockKey,
    pub available: i64,
}

#[derive(Debug)]
struct Hold {
    lines: Vec<(StockKey, i64)>,
    expires_at: UnixMs,
}

/// Stock adjustments this book has made, most recent last, so one asked again (by the
/// sweeper, after the call that made it could not record that it did) is not made twice.
/// The sweeper asks again within a tick or two; a few thousand are kept.
const ADJUSTMENTS_REMEMBERED: usize = 4096;

#[derive(Debug, Default)]
pub struct HoldBook {
    available: HashMap<StockKey, i64>,
    /// The product version each key's count was last read from the database with: the
    /// stock adjustments of that version and before are in it.
    counted: HashMap<StockKey, u64>,
    holds: HashMap<String, Hold>,
    adjusted: HashSet<AdjustmentId>,
    adjusted_order: VecDeque<AdjustmentId>,
}

impl HoldBook {
    fn held(&self, key: StockKey) -> i64 {
        self.holds.values().flat_map(|h| h.lines.iter()).filter(|(k, _)| *k == key).map(|(_, q)| q).sum()
    }

    /// Starts tracking `key` with `on_hand` units, read from the database with the
    /// product's `version`, unless it is tracked already.
    pub fn track(&mut self, key: StockKey, on_hand: i64, version: u64) -> i64 {
        match self.available.entry(key) {
            Entry::Occupied(tracked) => *tracked.get(),
            Entry::Vacant(new) => {
                self.counted.insert(key, version);
                *new.insert(on_hand)
            }
        }
    }

    /// Replaces what is on hand with `on_hand` units, read from the database with the
    /// product's `version`, keeping live holds.
    pub fn set_on_hand(&mut self, key: StockKey, on_hand: i64, version: u64) -> i64 {
        let available = (on_hand - self.held(key)).max(0);
        self.available.insert(key, available);
        self.counted.insert(key, version);
        available
    }

    /// Moves what is on hand of a tracked key by `units` (negative: fewer), keeping live
    /// holds: stock adjustment `id` (a refund's units back, a brand's restock or recount),
    /// applied as the difference it made in the database, and once: asked again, it
    /// changes nothing. A sale's hold is committed here before the database takes its
    /// units, so a count read from the database in between still holds units already sold
    /// here; setting it ([`HoldBook::set_on_hand`]) would offer them again, and their last
    /// buyers would be charged and refunded when the database refused them. None when
    /// the key is not tracked (it is counted from the database, adjustment included, when
    /// next needed). An adjustment whose `version` is at most the one the key was last
    /// counted with is in that count already (its maker, or the sweeper, reached the book
    /// only after the key was counted), and moves nothing.
    pub fn adjust_on_hand(&mut self, key: StockKey, id: AdjustmentId, units: i64, version: u64) -> Option<i64> {
        if self.adjusted.insert(id) {
            self.adjusted_order.push_back(id);
            if self.adjusted_order.len() > ADJUSTMENTS_REMEMBERED {
                self.adjusted_order.pop_front().map(|old| self.adjusted.remove(&old));
            }
            let in_count = self.counted.get(&key).is_some_and(|counted| version <= *counted);
            if let Some(available) = self.available.get_mut(&key).filter(|_| !in_count) {
                *available = (*available + units).max(0);
            }
        }
        self.available(key)
    }

    pub fn available(&self, key: StockKey) -> Option<i64> {
        self.available.get(&key).copied()
    }

    /// Reserves every line or none. An untracked key counts as zero units.
    pub fn hold(&mut self, id: &str, lines: &[(StockKey, i64)], expires_at: UnixMs) -> Result<Left, Shortfall> {
        let mut need: HashMap<StockKey, i64> = HashMap::new();
        for (key, q) in lines {
            *need.entry(*key).or_default() += q;
        }
        for (key, q) in &need {
            let available = self.available(*key).unwrap_or(0);
            if available < *q {
                return Err(Shortfall { key: *key, available });
            }
        }
        let mut left = Vec::with_capacity(need.len());
        for (key, q) in need {
            let available = self.available.entry(key).or_default();
            *available -= q;
            left.push((key, *available));
        }
        self.holds.insert(id.to_owned(), Hold { lines: lines.to_vec(), expires_at });
        Ok(left)
    }

    /// Turns a live hold into a sale. False when the hold is unknown or has expired (an
    /// expired hold is released here, since its units may already be promised elsewhere).
    pub fn commit(&mut self, id: &str, now: UnixMs) -> bool {
        match self.holds.get(id) {
            Some(h) if h.expires_at > now => {
                self.holds.remove(id);
                true
            }
            Some(_) => {
                self.release(id);
                false
            }
            None => false,
        }
    }

    /// Gives a hold's units back. False when there was no such hold.
    pub fn release(&mut self, id: &str) -> bool {
        let Some(hold) = self.holds.remove(id) else {
            return false;
        };
        for (key, q) in hold.lines {
            *self.available.entry(key).or_default() += q;
        }
        true
    }

    /// Releases every hold that has expired by `now`; returns their ids.
    pub fn expire(&mut self, now: UnixMs) -> Vec<String> {
        let expired: Vec<String> =
            self.holds.iter().filter(|(_, h)| h.expires_at <= now).map(|(id, _)| id.clone()).collect();
        for id in &expired {
            self.release(id);
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The product version the tests' keys are counted with, and a later one.
    const COUNTED: u64 = 10;
    const MADE_LATER: u64 = 20;

    fn product(id: i64) -> StockKey {
        StockKey::Product(ProductId::try_from(id).unwrap())
    }

    #[test]
    fn a_hold_never_takes_more_than_is_available() {
        let mut book = HoldBook::default();
        book.track(product(1), 3, COUNTED);
        assert_eq!(book.hold("a", &[(product(1), 2)], UnixMs(100)), Ok(vec![(product(1), 1)]));
        assert_eq!(book.hold("b", &[(product(1), 2)], UnixMs(100)), Err(Shortfall { key: product(1), available: 1 }));
        assert_eq!(book.available(product(1)), Some(1));
    }

    #[test]
    fn a_multi_line_hold_is_all_or_nothing() {
        let mut book = HoldBook::default();
        book.track(product(1), 5, COUNTED);
        book.track(product(2), 0, COUNTED);
        assert!(book.hold("a", &[(product(1), 1), (product(2), 1)], UnixMs(100)).is_err());
        assert_eq!(book.available(product(1)), Some(5));
    }

    #[test]
    fn an_expired_hold_returns_its_units_and_cannot_be_committed() {
        let mut book = HoldBook::default();
        book.track(product(1), 1, COUNTED);
        book.hold("a", &[(product(1), 1)], UnixMs(1_000)).unwrap();
        assert_eq!(book.expire(UnixMs(999)), Vec::<String>::new());
        assert_eq!(book.expire(UnixMs(1_000)), vec!["a".to_owned()]);
        assert_eq!(book.available(product(1)), Some(1));
        assert!(!book.commit("a", UnixMs(1_001)));
        book.hold("b", &[(product(1), 1)], UnixMs(5_000)).unwrap();
        assert!(book.commit("b", UnixMs(1_001)));
        assert_eq!(book.available(product(1)), Some(0));
    }

    #[test]
    fn commit_after_expiry_but_before_the_sweep_releases_the_units() {
        let mut book = HoldBook::default();
        book.track(product(1), 1, COUNTED);
        book.hold("a", &[(product(1), 1)], UnixMs(1_000)).unwrap();
        assert!(!book.commit("a", UnixMs(1_000)));
        assert_eq!(book.available(product(1)), Some(1));
    }

    fn adjustment(id: i64) -> AdjustmentId {
        AdjustmentId::try_from(id).unwrap()
    }

    #[test]
    fn a_restock_counts_a_sale_the_database_has_not_taken_yet() {
        // A sale committed here whose unit the database has not taken yet when a brand
        // restocks there from 10 to 30: 29 units are left to sell.
        let committed_sale = || {
            let mut book = HoldBook::default();
            book.track(product(1), 10, COUNTED);
            book.hold("sale", &[(product(1), 1)], UnixMs(100)).unwrap();
            assert!(book.commit("sale", UnixMs(1)));
            book
        };
        assert_eq!(committed_sale().adjust_on_hand(product(1), adjustment(1), 20, MADE_LATER), Some(29));
        assert_eq!(
            committed_sale().set_on_hand(product(1), 30, COUNTED),
            30,
            "the count, set, offers the sold unit again"
        );
        assert_eq!(
            committed_sale().adjust_on_hand(product(1), adjustment(1), -40, MADE_LATER),
            Some(0),
            "a recount below what is left leaves none"
        );
        assert_eq!(
            committed_sale().adjust_on_hand(product(2), adjustment(1), 5, MADE_LATER),
            None,
            "an untracked key is counted when next needed"
        );
    }

    #[test]
    fn an_adjustment_asked_again_changes_nothing() {
        let mut book = HoldBook::default();
        book.track(product(1), 10, COUNTED);
        assert_eq!(book.adjust_on_hand(product(1), adjustment(7), 2, MADE_LATER), Some(12));
        assert_eq!(
            book.adjust_on_hand(product(1), adjustment(7), 2, MADE_LATER),
            Some(12),
            "the same adjustment again"
        );
        assert_eq!(book.adjust_on_hand(product(1), adjustment(8), 2, MADE_LATER), Some(14), "another one");
        // One made while the key was not tracked is in the count the key starts from.
        assert_eq!(book.adjust_on_hand(product(2), adjustment(9), 3, MADE_LATER), None);
        book.track(product(2), 3, COUNTED);
        assert_eq!(book.adjust_on_hand(product(2), adjustment(9), 3, MADE_LATER), Some(3));
        // The oldest are forgotten once thousands more have been made.
        for id in 10..10 + ADJUSTMENTS_REMEMBERED as i64 {
            book.adjust_on_hand(product(3), adjustment(id), 1, MADE_LATER);
        }
        assert_eq!(book.adjusted.len(), ADJUSTMENTS_REMEMBERED);
        assert_eq!(book.adjust_on_hand(product(1), adjustment(7), 2, MADE_LATER), Some(16));
    }

    #[test]
    fn an_adjustment_the_count_was_read_with_is_in_the_count() {
        let mut book = HoldBook::default();
        // Of versions 5 and 10, reaching the book only after a count of version 10 took
        // them in; version 11 came after that count.
        book.track(product(1), 12, COUNTED);
        assert_eq!(book.adjust_on_hand(product(1), adjustment(1), 2, 5), Some(12));
        assert_eq!(book.adjust_on_hand(product(1), adjustment(2), 2, COUNTED), Some(12), "the count's own version");
        assert_eq!(book.adjust_on_hand(product(1), adjustment(3), 2, COUNTED + 1), Some(14));
        // A recount moves the mark: what it read is in the new count.
        assert_eq!(book.set_on_hand(product(1), 20, 30), 20);
        assert_eq!(book.adjust_on_hand(product(1), adjustment(4), 2, 20), Some(20));
        assert_eq!(book.adjust_on_hand(product(1), adjustment(5), 2, 31), Some(22));
        // Tracking again keeps the first count, and its mark.
        assert_eq!(book.track(product(1), 99, 40), 22);
        assert_eq!(book.adjust_on_hand(product(1), adjustment(6), 1, 35), Some(23));
    }

    #[test]
    fn a_restock_keeps_live_holds() {
        let mut book = HoldBook::default();
        book.track(product(1), 2, COUNTED);
        book.hold("a", &[(product(1), 2)], UnixMs(100)).unwrap();
        assert_eq!(book.set_on_hand(product(1), 10, COUNTED), 8);
        assert!(book.release("a"));
        assert_eq!(book.available(product(1)), Some(10));
    }
}
