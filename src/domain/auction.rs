//! An auction's rules, sans IO: its bid increments, how long a late bid extends it, and
//! the bid book that decides who leads and at what price (docs/protocol.md, 4.20).
//!
//! Every bid carries an `amount` (bid outright: the price goes to at least this if the
//! bidder leads) and a maximum (the most the server may bid for them, at least the
//! amount). The leader is the highest maximum, the earlier of two equal ones; the price
//! is the second-highest maximum plus one increment, capped at the leader's maximum, and
//! never below the leader's own outright amount or the starting price. The database
//! serialises bids; this module only judges them, so every node judges alike.

use super::{AccountId, Invalid, Price, schema};
use serde::{Deserialize, Serialize};

secs_type!(
    /// How far a bid in an auction's last seconds pushes its end: 1 to 60 seconds.
    ExtendSecs,
    "extend_secs",
    1,
    60,
    "Anti-sniping: a bid accepted less than this many seconds before the end moves the end to this many seconds after the bid (1 to 60)."
);

impl Default for ExtendSecs {
    fn default() -> Self {
        ExtendSecs(10)
    }
}

/// One row of an increments table: from this price on, a bid must beat the current
/// price by at least `step` (minor units).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub from: i64,
    pub step: i64,
}

/// The bid increments of an auction: 1 to [`Increments::MAX_ROWS`] rows, the first from
/// 0, `from` strictly ascending, every step at least 1 and every figure a valid price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Step>", into = "Vec<Step>")]
pub struct Increments(Vec<Step>);

impl Increments {
    pub const MAX_ROWS: usize = 20;

    /// The increment at `price`: the step of the last row whose `from` it has reached.
    pub fn at(&self, price: i64) -> i64 {
        self.0.iter().take_while(|s| s.from <= price).last().map_or(self.0[0].step, |s| s.step)
    }

    pub fn rows(&self) -> &[Step] {
        &self.0
    }
}

impl Default for Increments {
    /// 1.00 up to 20.00, 2.00 up to 100.00, 5.00 up to 500.00, then 10.00.
    fn default() -> Self {
        let rows = [(0, 100), (2_000, 200), (10_000, 500), (50_000, 1_000)];
        Increments(rows.into_iter().map(|(from, step)| Step { from, step }).collect())
    }
}

impl TryFrom<Vec<Step>> for Increments {
    type Error = Invalid;

    fn try_from(rows: Vec<Step>) -> Result<Self, Invalid> {
        let bad = |reason: &str| Err(Invalid::new("increments", reason));
        if rows.is_empty() || rows.len() > Self::MAX_ROWS {
            return bad(&format!("give 1 to {} rows, got {}", Self::MAX_ROWS, rows.len()));
        }
        if rows[0].from != 0 {
            return bad("the first row must start from 0");
        }
        if rows.windows(2).any(|w| w[0].from >= w[1].from) {
            return bad("each row's \"from\" must be greater than the row before");
        }
        if rows.iter().any(|r| Price::try_from(r.from).is_err() || !(1..=Price::MAX).contains(&r.step)) {
            return bad(&format!("\"from\" must be 0 to {max}, \"step\" 1 to {max}", max = Price::MAX));
        }
        Ok(Increments(rows))
    }
}

impl From<Increments> for Vec<Step> {
    fn from(i: Increments) -> Vec<Step> {
        i.0
    }
}

impl utoipa::PartialSchema for Increments {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        schema::array_of::<Step>(
            1,
            Self::MAX_ROWS,
            "Bid increments: from each row's `from` price on, a bid must beat the current price by `step`. The first row starts from 0; `from` ascends.",
        )
    }
}

impl utoipa::ToSchema for Increments {}

/// A bidder's standing in the book: the highest amount they bid outright, the most the
/// server may bid for them, and the bid (`since`, ascending in bid order) that set that
/// maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bidder {
    pub account: AccountId,
    pub amount: i64,
    pub max: i64,
    pub since: u64,
}

/// Who leads an auction, and the price they would pay now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub leader: AccountId,
    /// The leader's maximum, private to them.
    pub leader_max: i64,
    pub price: i64,
}

/// Why a bid was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BidRefusal {
    #[error("bid at least {min}")]
    TooLow { min: i64 },
    /// The leader may only raise their maximum.
    #[error("you lead with a maximum of {max}: bid above it to raise it")]
    NotHigher { max: i64 },
}

/// An auction's bids, judged: fold the stored ones in with [`BidBook::record`], then
/// judge a new one with [`BidBook::bid`].
#[derive(Debug, Clone)]
pub struct BidBook {
    start: i64,
    increments: Increments,
    bidders: Vec<Bidder>,
}

impl BidBook {
    pub fn new(start: Price, increments: Increments) -> Self {
        BidBook { start: start.get(), increments, bidders: Vec::new() }
    }

    /// Folds in a bid that was accepted before, in bid order.
    pub fn record(&mut self, account: AccountId, amount: i64, max: i64, since: u64) {
        match self.bidders.iter_mut().find(|b| b.account == account) {
            Some(b) => {
                b.amount = b.amount.max(amount);
                if max > b.max {
                    b.max = max;
                    b.since = since;
                }
            }
            None => self.bidders.push(Bidder { account, amount, max, since }),
        }
    }

    /// The leader and the price, once anyone has bid.
    pub fn standing(&self) -> Option<Standing> {
        let mut ranked: Vec<&Bidder> = self.bidders.iter().collect();
        ranked.sort_by(|a, b| b.max.cmp(&a.max).then(a.since.cmp(&b.since)));
        let leader = ranked.first()?;
        let contested = ranked
            .get(1)
            .map_or(self.start, |second| second.max.saturating_add(self.increments.at(second.max)).min(leader.max));
        Some(Standing { leader: leader.account, leader_max: leader.max, price: contested.max(leader.amount) })
    }

    /// The least a new bid may be: the starting price before any bid, then the price
    /// plus its increment.
    pub fn min_bid(&self) -> i64 {
        match self.standing() {
            None => self.start,
            Some(s) => s.price.saturating_add(self.increments.at(s.price)),
        }
    }

    /// Judges a bid of `amount` outright with a maximum of `max` (at least `amount`),
    /// and takes it when it stands: the leader may only raise their maximum; anyone else
    /// must bid at least [`BidBook::min_bid`].
    pub fn bid(&mut self, account: AccountId, amount: i64, max: i64, since: u64) -> Result<Standing, BidRefusal> {
        let max = max.max(amount);
        match self.standing() {
            Some(s) if s.leader == account => {
                if max <= s.leader_max {
                    return Err(BidRefusal::NotHigher { max: s.leader_max });
                }
                // A leader only raises their maximum (never bids against themselves): the
                // price moves only where their old maximum capped it.
                self.record(account, 0, max, since);
            }
            _ => {
                let min = self.min_bid();
                if amount < min {
                    return Err(BidRefusal::TooLow { min });
                }
                self.record(account, amount, max, since);
            }
        }
        Ok(self.standing().expect("a bid was just recorded"))
    }

    /// The book without some bidders: who is offered the unit when those before them
    /// did not pay, and at what price.
    pub fn without(&self, lapsed: &[AccountId]) -> BidBook {
        let bidders = self.bidders.iter().filter(|b| !lapsed.contains(&b.account)).copied().collect();
        BidBook { start: self.start, increments: self.increments.clone(), bidders }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(n: i64) -> AccountId {
        AccountId::try_from(n).unwrap()
    }

    fn book() -> BidBook {
        BidBook::new(Price::try_from(1_000).unwrap(), Increments::default())
    }

    #[test]
    fn a_bid_must_beat_the_price_by_the_increment() {
        let mut b = book();
        assert_eq!(b.min_bid(), 1_000);
        assert_eq!(b.bid(id(1), 999, 999, 1), Err(BidRefusal::TooLow { min: 1_000 }));
        assert_eq!(b.bid(id(1), 1_000, 1_000, 1).unwrap().price, 1_000);
        assert_eq!(b.min_bid(), 1_100);
        assert_eq!(b.bid(id(2), 1_099, 1_099, 2), Err(BidRefusal::TooLow { min: 1_100 }));
        let s = b.bid(id(2), 1_100, 1_100, 2).unwrap();
        assert_eq!((s.leader, s.price), (id(2), 1_100));
        // Past 20.00 the step is 2.00.
        let s = b.bid(id(1), 2_500, 2_500, 3).unwrap();
        assert_eq!((s.leader, s.price), (id(1), 2_500));
        assert_eq!(b.min_bid(), 2_700);
    }

    #[test]
    fn a_proxy_pays_the_second_maximum_plus_one_increment_capped_at_its_own() {
        let mut b = book();
        b.bid(id(1), 1_000, 5_000, 1).unwrap();
        let s = b.bid(id(2), 1_500, 3_000, 2).unwrap();
        assert_eq!((s.leader, s.price), (id(1), 3_200), "3000 + its step of 200");
        // A challenger at the leader's maximum loses to the earlier bid, at that maximum.
        let s = b.bid(id(3), 5_000, 5_000, 3).unwrap();
        assert_eq!((s.leader, s.price), (id(1), 5_000));
        // The leader raises; the price moves only where their old maximum capped it.
        assert_eq!(b.bid(id(1), 0, 5_000, 4), Err(BidRefusal::NotHigher { max: 5_000 }));
        assert_eq!(b.bid(id(1), 0, 9_000, 4).unwrap().price, 5_200);
        // Whoever else now needs the price plus its step, and leads only past 9,000.
        let s = b.bid(id(2), 9_500, 9_500, 5).unwrap();
        assert_eq!((s.leader, s.price), (id(2), 9_500));
    }

    #[test]
    fn without_the_lapsed_the_runner_up_leads_at_its_own_second_price() {
        let mut b = book();
        b.bid(id(1), 1_000, 8_000, 1).unwrap();
        b.bid(id(2), 1_100, 4_000, 2).unwrap();
        assert_eq!(b.min_bid(), 4_400);
        b.bid(id(3), 4_400, 4_400, 3).unwrap();
        assert_eq!(b.standing().unwrap().price, 4_600);
        let next = b.without(&[id(1)]).standing().unwrap();
        assert_eq!((next.leader, next.price), (id(3), 4_400), "its own outright bid");
        let last = b.without(&[id(1), id(3)]).standing().unwrap();
        assert_eq!((last.leader, last.price), (id(2), 1_100));
        assert_eq!(b.without(&[id(1), id(2), id(3)]).standing(), None);
    }

    #[test]
    fn increments_tables_are_checked() {
        let rows = |r: &[(i64, i64)]| r.iter().map(|&(from, step)| Step { from, step }).collect::<Vec<_>>();
        assert!(Increments::try_from(rows(&[(0, 50), (1_000, 100)])).is_ok());
        assert!(Increments::try_from(rows(&[])).is_err());
        assert!(Increments::try_from(rows(&[(10, 50)])).is_err(), "must start from 0");
        assert!(Increments::try_from(rows(&[(0, 50), (0, 100)])).is_err(), "ascending");
        assert!(Increments::try_from(rows(&[(0, 0)])).is_err(), "a step of nothing");
        let i = Increments::try_from(rows(&[(0, 50), (1_000, 100)])).unwrap();
        assert_eq!((i.at(0), i.at(999), i.at(1_000), i.at(i64::MAX)), (50, 50, 100, 100));
    }

    proptest! {
        /// Whatever the bids and their order: the price never falls, the leader holds the
        /// highest maximum (the earliest of equals), the price stays within the leader's
        /// maximum and at least the starting price, and no refused bid changes anything.
        #[test]
        fn the_book_never_contradicts_itself(bids in prop::collection::vec((1i64..6, 0i64..20_000, 0i64..5_000), 1..60)) {
            let mut b = book();
            let mut last_price = 0;
            let mut best: Option<(i64, i64, u64)> = None; // (max, account, since) of the leader
            for (seq, (who, amount, extra)) in bids.into_iter().enumerate() {
                let seq = seq as u64;
                let before = b.standing();
                let min = b.min_bid();
                match b.bid(id(who), amount, amount + extra, seq) {
                    Ok(s) => {
                        prop_assert!(s.price >= last_price && s.price >= 1_000 && s.price <= s.leader_max);
                        if before.is_none_or(|p| p.leader != id(who)) {
                            prop_assert!(amount >= min);
                        }
                        if best.is_none_or(|(max, _, _)| amount + extra > max) {
                            best = Some((amount + extra, who, seq));
                        }
                        prop_assert_eq!(s.leader, id(best.unwrap().1));
                        last_price = s.price;
                    }
                    Err(_) => prop_assert_eq!(b.standing(), before),
                }
            }
        }
    }
}
