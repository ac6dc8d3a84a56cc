//! A room's state as a fold over its events: the same events that viewers receive build
//! it, so any node that sees the event stream can rebuild it.

use super::history::History;
use super::stock::KnownStock;
use crate::domain::{DropId, ProductId, UnixMs};
use crate::store::ProductRow;
use crate::wire::ws::{
    AuctionCard, AuctionOfferCard, AuctionPhase, CoHostCard, DropCard, GiveawayCard, KeywordCard, RECENT_SALES,
    RecentSale, RoomEvent, RoomStatus, SequencedComment,
};
use axum::extract::ws::Utf8Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Comments included in a snapshot: enough to fill a phone screen of chat.
pub const SNAPSHOT_COMMENTS: usize = 30;

/// Recent comments whose authors moderation can still act on (delete, time out, ban).
pub const MODERATED_COMMENTS: usize = 1_000;

/// Who wrote a recent comment, for moderation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub seq: u64,
    /// `a{account}` or `g{connection}` ([`crate::wire::ws::CommentView::author_key`]).
    pub key: String,
    pub name: String,
}

#[derive(Debug)]
pub struct RoomState {
    pub seq: u64,
    pub epoch: String,
    pub status: RoomStatus,
    /// The products lined up, fixed when the room was scheduled; their details follow
    /// `product_updated` events. Shared, so a storefront is a pointer copy.
    pub lineup: Arc<Vec<ProductRow>>,
    pub pinned: Option<ProductId>,
    pub drop: Option<DropCard>,
    /// A drop whose last unit sold (a `sale` with `drop_left` 0): it is over for the room
    /// at once (no drop in snapshots, the regular price applies), and the ticker ends it
    /// in the database, which announces `drop_ended`.
    pub sold_out_drop: Option<DropId>,
    /// The open giveaway, from `giveaway_started` until `giveaway_drawn`.
    pub giveaway: Option<GiveawayCard>,
    /// The running auction, from `auction_started` until `auction_settled`, kept up to
    /// date by the auction events between.
    pub auction: Option<AuctionCard>,
    /// The lined-up products' comment-to-buy keywords, as loaded and as
    /// `keywords_updated` events say.
    pub keywords: Vec<KeywordCard>,
    /// The host's stream is on air, and has been at least once (for `resumed`).
    pub streaming: bool,
    pub streamed: bool,
    /// The co-host and the sponsorship disclosure, as loaded from the database and then
    /// as `room_updated` events say.
    pub co_host: Option<CoHostCard>,
    pub disclosure: Option<String>,
    pub comments: VecDeque<SequencedComment>,
    /// The authors of the latest [`MODERATED_COMMENTS`] comments, oldest first.
    pub authors: VecDeque<Author>,
    /// Who may not comment until when (by author key): loaded from the database, then
    /// as `timed_out` events say. Expired entries are ignored, and dropped as new ones come.
    pub timeouts: HashMap<String, UnixMs>,
    /// Slow mode, as loaded from the database and then as `slow_mode` events say.
    pub slow_mode_secs: i64,
    /// What the show has sold, for late joiners: loaded from the paid orders, then
    /// folded from `sale` events. It outlives an epoch, as the orders do.
    pub sales: ShowSales,
    /// The lined-up products' stock for snapshots, kept current by the events above.
    pub stock: KnownStock,
    history: History,
}

impl RoomState {
    pub fn new(epoch: String, status: RoomStatus, lineup: Vec<ProductRow>, history_cap: usize) -> Self {
        Self {
            seq: 0,
            epoch,
            status,
            lineup: Arc::new(lineup),
            pinned: None,
            drop: None,
            sold_out_drop: None,
            giveaway: None,
            auction: None,
            keywords: Vec::new(),
            streaming: false,
            streamed: false,
            co_host: None,
            disclosure: None,
            comments: VecDeque::with_capacity(SNAPSHOT_COMMENTS),
            authors: VecDeque::new(),
            timeouts: HashMap::new(),
            slow_mode_secs: 0,
            sales: ShowSales::default(),
            stock: KnownStock::default(),
            history: History::new(history_cap),
        }
    }

    /// Starts a new epoch: shared history was lost, so sequence numbers begin again and
    /// nothing recorded before can be replayed. What the room shows (pin, drop, status)
    /// stays as it was.
    pub fn restart(&mut self, epoch: String) {
        self.epoch = epoch;
        self.seq = 0;
        self.history.clear();
        self.comments.clear();
        self.authors.clear();
        // Holds were rebuilt with history lost: what was known of stock may be off.
        self.stock.forget();
    }

    /// Records event `seq` (already serialised as `frame`) and folds it into the state;
    /// gives back the recorded frame, the bytes to send to viewers.
    pub fn apply(&mut self, seq: u64, event: &RoomEvent, frame: &str) -> Utf8Bytes {
        self.seq = seq;
        let recorded = self.history.record(seq, frame);
        self.stock.apply(event);
        match event {
            RoomEvent::Comment(comment) => {
                if self.comments.len() == SNAPSHOT_COMMENTS {
                    self.comments.pop_front();
                }
                self.comments.push_back(SequencedComment { seq, comment: comment.clone() });
                if self.authors.len() == MODERATED_COMMENTS {
                    self.authors.pop_front();
                }
                self.authors.push_back(Author { seq, key: comment.author_key.clone(), name: comment.author.clone() });
            }
            RoomEvent::CommentDeleted { seq } => self.comments.retain(|c| c.seq != *seq),
            RoomEvent::TimedOut { author_key, until, .. } => {
                let now = *until;
                // Keep the map to the timeouts that can still be running.
                if self.timeouts.len() >= MODERATED_COMMENTS {
                    self.timeouts.retain(|_, t| t.0 + crate::domain::TimeoutSecs::RANGE.end() * 1_000 > now.0);
                }
                self.timeouts.insert(author_key.clone(), *until);
            }
            RoomEvent::SlowMode { secs } => self.slow_mode_secs = *secs,
            RoomEvent::Banned { .. } => {}
            RoomEvent::Pinned { product } => self.pinned = Some(product.id),
            RoomEvent::ProductUpdated { product } => {
                let lineup = Arc::make_mut(&mut self.lineup);
                if let Some(row) = lineup.iter_mut().find(|p| p.id == product.id) {
                    row.title.clone_from(&product.title);
                    row.image_url.clone_from(&product.image_url);
                    row.price = product.price.amount;
                    row.currency = product.price.currency;
                }
            }
            RoomEvent::Unpinned { .. } => self.pinned = None,
            RoomEvent::DropStarted { drop } => self.drop = Some(drop.clone()),
            RoomEvent::DropEnded { drop_id, .. } => {
                if self.drop.as_ref().is_some_and(|d| d.id == *drop_id) {
                    self.drop = None;
                }
                if self.sold_out_drop == Some(*drop_id) {
                    self.sold_out_drop = None;
                }
            }
            RoomEvent::Sale(sale) => {
                self.sales.record(RecentSale {
                    buyer: sale.buyer.clone(),
                    product_id: sale.product_id,
                    title: sale.title.clone(),
                    quantity: sale.quantity,
                    at: sale.at,
                });
                if let (Some(drop), Some(left)) = (self.drop.as_mut(), sale.drop_left) {
                    if drop.product_id == sale.product_id {
                        drop.remaining = left;
                        if left == 0 {
                            self.sold_out_drop = Some(drop.id);
                            self.drop = None;
                        }
                    }
                }
            }
            RoomEvent::GiveawayStarted { giveaway } => self.giveaway = Some(giveaway.clone()),
            RoomEvent::GiveawayDrawn { giveaway_id, .. } => {
                if self.giveaway.as_ref().is_some_and(|g| g.id == *giveaway_id) {
                    self.giveaway = None;
                }
            }
            RoomEvent::AuctionStarted { auction } => self.auction = Some(auction.clone()),
            RoomEvent::AuctionBid { auction_id, price, leader, bids, ends_at, min_bid, .. } => {
                if let Some(a) = self.auction.as_mut().filter(|a| a.id == *auction_id) {
                    a.price = Some(*price);
                    a.leader = Some(leader.clone());
                    a.bids = *bids;
                    a.ends_at = *ends_at;
                    a.min_bid = *min_bid;
                }
            }
            RoomEvent::AuctionEnded { auction_id, winner, price } => {
                if let Some(a) = self.auction.as_mut().filter(|a| a.id == *auction_id) {
                    a.phase = AuctionPhase::Awarded;
                    a.leader.clone_from(winner);
                    a.price = *price;
                }
            }
            RoomEvent::AuctionOffered { auction_id, buyer, price, pay_by, round } => {
                if let Some(a) = self.auction.as_mut().filter(|a| a.id == *auction_id) {
                    a.offer =
                        Some(AuctionOfferCard { buyer: buyer.clone(), price: *price, pay_by: *pay_by, round: *round });
                }
            }
            RoomEvent::AuctionSettled { auction_id, .. } => {
                if self.auction.as_ref().is_some_and(|a| a.id == *auction_id) {
                    self.auction = None;
                }
            }
            RoomEvent::KeywordsUpdated { keywords } => self.keywords.clone_from(keywords),
            RoomEvent::RoomLive => self.status = RoomStatus::Live,
            RoomEvent::RoomEnded => {
                self.status = RoomStatus::Ended;
                self.pinned = None;
                self.drop = None;
                self.sold_out_drop = None;
                self.streaming = false;
            }
            RoomEvent::StreamStarted { .. } => {
                self.streaming = true;
                self.streamed = true;
            }
            RoomEvent::StreamStopped => self.streaming = false,
            RoomEvent::RoomUpdated { co_host, disclosure } => {
                self.co_host.clone_from(co_host);
                self.disclosure.clone_from(disclosure);
            }
        }
        recorded
    }

    /// The author of comment `seq`, while it is among the recent ones.
    pub fn author(&self, seq: u64) -> Option<&Author> {
        let at = self.authors.binary_search_by_key(&seq, |a| a.seq).ok()?;
        self.authors.get(at)
    }

    /// Until when `key` may not comment, if a timeout is running at `now`.
    pub fn timed_out(&self, key: &str, now: UnixMs) -> Option<UnixMs> {
        self.timeouts.get(key).copied().filter(|until| *until > now)
    }

    /// The recorded frames after `since`, or `None` when history no longer reaches back
    /// that far (or `since` is from the future), in which case the client needs a
    /// fresh snapshot.
    pub fn since(&self, since: u64) -> Option<Vec<(u64, Utf8Bytes)>> {
        if since > self.seq {
            return None;
        }
        if since == self.seq {
            return Some(Vec::new());
        }
        if since + 1 < self.history.oldest()? {
            return None;
        }
        Some(self.history.after(since))
    }
}

/// Units sold in the show and its latest sales, newest first.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ShowSales {
    pub units: i64,
    pub recent: VecDeque<RecentSale>,
}

impl ShowSales {
    /// From the paid orders: their units, and their latest sales newest first.
    pub fn loaded(units: i64, recent: Vec<RecentSale>) -> Self {
        let mut sales = ShowSales { units, recent: recent.into() };
        sales.recent.truncate(RECENT_SALES);
        sales
    }

    fn record(&mut self, sale: RecentSale) {
        self.units = self.units.saturating_add(sale.quantity);
        if self.recent.len() == RECENT_SALES {
            self.recent.pop_back();
        }
        self.recent.push_front(sale);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UnixMs;
    use crate::wire::ws::{CommentView, Speaker};

    fn comment(text: &str) -> RoomEvent {
        RoomEvent::Comment(CommentView {
            author: "a".into(),
            author_key: "a1".into(),
            speaker: Speaker::Viewer,
            text: text.into(),
            at: UnixMs(0),
        })
    }

    fn state_with(events: u64, cap: usize) -> RoomState {
        let mut s = RoomState::new("e".into(), RoomStatus::Live, Vec::new(), cap);
        for seq in 1..=events {
            s.apply(seq, &comment("x"), &seq.to_string());
        }
        s
    }

    #[test]
    fn resume_returns_exactly_the_missed_events() {
        let s = state_with(10, 100);
        let missed: Vec<u64> = s.since(7).unwrap().into_iter().map(|(seq, _)| seq).collect();
        assert_eq!(missed, vec![8, 9, 10]);
        assert_eq!(s.since(10).unwrap().len(), 0);
    }

    #[test]
    fn resume_past_history_asks_for_a_snapshot_instead_of_leaving_a_gap() {
        let s = state_with(10, 4);
        assert!(s.since(5).is_none());
        assert_eq!(s.since(6).unwrap().len(), 4);
        assert!(s.since(11).is_none());
    }

    fn sale(n: i64) -> RoomEvent {
        RoomEvent::Sale(crate::wire::ws::SaleView {
            buyer: format!("buyer {n}"),
            product_id: crate::domain::ProductId::try_from(5).unwrap(),
            title: "Serum".into(),
            quantity: n,
            stock_left: 100 - n,
            drop_left: None,
            at: UnixMs(n),
        })
    }

    #[test]
    fn sales_add_up_and_the_latest_come_first_however_many_there_were() {
        let mut s = RoomState::new("e".into(), RoomStatus::Live, Vec::new(), 100);
        s.sales = ShowSales::loaded(40, Vec::new());
        for n in 1..=12 {
            s.apply(n as u64, &sale(n), &n.to_string());
        }
        assert_eq!(s.sales.units, 40 + (1..=12).sum::<i64>());
        let recent: Vec<i64> = s.sales.recent.iter().map(|r| r.quantity).collect();
        assert_eq!(recent, (3..=12).rev().collect::<Vec<_>>());
        // A new epoch forgets history, not what was sold.
        s.restart("f".into());
        assert_eq!(s.sales.recent.len(), RECENT_SALES);
    }

    #[test]
    fn a_deleted_comment_leaves_the_snapshot_but_its_author_stays_known() {
        let mut s = state_with(3, 10);
        s.apply(4, &RoomEvent::CommentDeleted { seq: 2 }, "4");
        let seqs: Vec<u64> = s.comments.iter().map(|c| c.seq).collect();
        assert_eq!(seqs, vec![1, 3]);
        assert_eq!(s.author(2).map(|a| a.key.as_str()), Some("a1"));
        assert!(s.author(4).is_none(), "not a comment");
        let until = UnixMs(5_000);
        let timed_out = RoomEvent::TimedOut { seq: 1, author: "a".into(), author_key: "a1".into(), until };
        s.apply(5, &timed_out, "5");
        assert_eq!(s.timed_out("a1", UnixMs(4_999)), Some(until));
        assert_eq!(s.timed_out("a1", until), None, "a timeout ends by itself");
    }

    #[test]
    fn snapshot_comments_are_bounded() {
        let s = state_with(100, 10);
        assert_eq!(s.comments.len(), SNAPSHOT_COMMENTS);
        assert_eq!(s.comments.back().unwrap().seq, 100);
    }
}
