//! What a viewer receives on joining: a full snapshot, or (when resuming within the same
//! epoch and history still reaches back) just the events it missed.

use super::live::Delivery;
use super::state::RoomState;
use super::{LiveRoom, RoomResult, Rooms, Viewer};
use crate::commerce::catalog::product_card;
use crate::wire::ws::{Participant, ProductCard, ServerMsg, Snapshot};
use axum::extract::ws::Utf8Bytes;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::broadcast;

/// The frames that open a viewer's stream, and the receiver that continues it.
pub struct Opening {
    pub first: ServerMsg,
    /// Missed events after a successful resume, already serialised.
    pub replay: Vec<(u64, Utf8Bytes)>,
    /// The last sequence number the client will have seen once `first` and `replay` are sent.
    pub seq: u64,
    pub frames: broadcast::Receiver<Delivery>,
}

impl Rooms {
    /// Resumes from `since` when the epoch matches and history covers it; otherwise a
    /// fresh snapshot, flagged `reset` if the client had asked to resume.
    pub async fn open(&self, room: &LiveRoom, viewer: &Viewer, resume: Option<(u64, String)>) -> RoomResult<Opening> {
        if let Some((since, epoch)) = &resume {
            let (replay, frames) =
                room.read_and_subscribe(|s| if &s.epoch == epoch { s.since(*since).map(|r| (r, s.seq)) } else { None });
            if let Some((replay, seq)) = replay {
                let first = ServerMsg::Resumed { epoch: epoch.clone(), since: *since, seq };
                return Ok(Opening { first, replay, seq, frames });
            }
        }
        self.snapshot(room, viewer, resume.is_some()).await
    }

    pub async fn snapshot(&self, room: &LiveRoom, viewer: &Viewer, reset: bool) -> RoomResult<Opening> {
        // What the room's state says, read under its lock with the subscription; the
        // viewer's cart, and the lineup's stock when the room's figures are stale, are
        // filled in after.
        let ((mut snapshot, known), frames) = room.read_and_subscribe(|s| {
            let mut card = room.card.clone();
            card.status = s.status;
            card.co_host.clone_from(&s.co_host);
            card.disclosure.clone_from(&s.disclosure);
            let snapshot = Snapshot {
                room: card,
                lineup: Vec::new(),
                pinned: s.pinned,
                drop: s.drop.clone(),
                giveaway: s.giveaway.clone(),
                auction: s.auction.clone(),
                keywords: s.keywords.clone(),
                comments: s.comments.iter().cloned().collect(),
                recent_sales: s.sales.recent.iter().cloned().collect(),
                units_sold: s.sales.units,
                reaction_totals: room.reaction_totals(),
                viewers: room.reported_viewers().max(room.viewers()),
                streaming: s.streaming,
                slow_mode_secs: s.slow_mode_secs,
                cart: None,
                you: Participant {
                    display_name: viewer.display_name.clone(),
                    account_id: viewer.account_id(),
                    role: viewer.account.as_ref().map(|a| a.role),
                    is_host: viewer.is_host,
                    is_moderator: viewer.is_moderator,
                },
                seq: s.seq,
                epoch: s.epoch.clone(),
                reset,
            };
            (snapshot, known_lineup(s))
        });
        snapshot.lineup = match known {
            Some(lineup) => lineup,
            None => self.read_lineup(room).await?,
        };
        if let Some(account) = &viewer.account {
            snapshot.cart = Some(self.commerce.cart(&room.storefront(), account).await?);
        }
        let seq = snapshot.seq;
        Ok(Opening { first: ServerMsg::Snapshot(Box::new(snapshot)), replay: Vec::new(), seq, frames })
    }

    /// The lineup with its stock read from the inventory, by one join at a time: those
    /// waiting behind a read take what it found. Read after subscribing, so any sale the
    /// read misses reaches the viewer as an event.
    async fn read_lineup(&self, room: &LiveRoom) -> RoomResult<Vec<ProductCard>> {
        let _turn = room.stock_read_turn().await;
        let (rows, ticket) =
            match room.read(|s| known_lineup(s).ok_or_else(|| (Arc::clone(&s.lineup), s.stock.ticket()))) {
                Ok(lineup) => return Ok(lineup),
                Err(stale) => stale,
            };
        let mut lineup = Vec::with_capacity(rows.len());
        for p in rows.iter() {
            lineup.push(product_card(p, self.commerce.available(p).await?));
        }
        room.fill_stock(ticket, lineup.iter().map(|card| (card.id, card.stock)));
        Ok(lineup)
    }
}

/// The lineup with the stock the room knows, if it knows every product's.
fn known_lineup(s: &RoomState) -> Option<Vec<ProductCard>> {
    let now = Instant::now();
    s.lineup.iter().map(|p| s.stock.units(p.id, now).map(|units| product_card(p, units))).collect()
}

#[cfg(test)]
mod tests {
    use crate::commerce::cart::MAX_CART_LINES;
    use crate::domain::{
        AccountId, BrandId, CommentText, Currency, DisplayName, DropId, ImageUrl, Money, ProductId, ProductTitle,
        RoomId, RoomTitle, Tier, UnixMs,
    };
    use crate::room::schedule::MAX_LINEUP;
    use crate::room::state::SNAPSHOT_COMMENTS;
    use crate::wire::ws::*;

    /// The heaviest text each field can hold: its longest length in the widest UTF-8
    /// character, with a quote that JSON escapes.
    fn longest(chars: usize) -> String {
        let mut s = "\"".repeat(chars / 2);
        s.push_str(&"😀".repeat(chars - chars / 2));
        s
    }

    #[test]
    fn the_largest_possible_snapshot_fits_in_one_frame() {
        let eur = Currency::try_from("EUR").unwrap();
        let money = Money::new(100_000_000_000, eur);
        let id = |n: i64| ProductId::try_from(n).unwrap();
        let card = |n: i64| ProductCard {
            id: id(n),
            brand_id: BrandId::try_from(i64::MAX).unwrap(),
            title: longest(ProductTitle::MAX_CHARS),
            image_url: format!("/{}", "a".repeat(ImageUrl::MAX_BYTES - 1)),
            price: money,
            stock: 1_000_000_000,
        };
        let name = longest(DisplayName::MAX_CHARS);
        let comment = |seq| SequencedComment {
            seq,
            comment: CommentView {
                author: name.clone(),
                author_key: format!("a{}", i64::MAX),
                speaker: Speaker::Viewer,
                text: "\n".repeat(CommentText::MAX_CHARS),
                at: UnixMs(i64::MAX),
            },
        };
        let line = |n: i64| CartLineView {
            product_id: id(n),
            title: longest(ProductTitle::MAX_CHARS),
            quantity: 99,
            unit_price: money,
            line_total: money,
        };
        let snapshot = Snapshot {
            room: RoomCard {
                id: RoomId::try_from(i64::MAX).unwrap(),
                title: longest(RoomTitle::MAX_CHARS),
                status: RoomStatus::Scheduled,
                starts_at: UnixMs(i64::MAX),
                host: HostCard {
                    id: AccountId::try_from(i64::MAX).unwrap(),
                    display_name: name.clone(),
                    followers: i64::MAX,
                    tier: Tier::Mega,
                },
                co_host: Some(CoHostCard { id: AccountId::try_from(i64::MAX).unwrap(), display_name: name.clone() }),
                // Every lined-up product of another brand, each named at the longest.
                disclosure: crate::commerce::disclosure::disclosure_text(&vec![
                    longest(DisplayName::MAX_CHARS);
                    MAX_LINEUP
                ]),
                rehearsal_of: Some(RoomId::try_from(i64::MAX).unwrap()),
            },
            lineup: (1..=MAX_LINEUP as i64).map(card).collect(),
            pinned: Some(id(1)),
            drop: Some(DropCard {
                id: DropId::try_from(i64::MAX).unwrap(),
                product_id: id(1),
                quantity: 1_000_000_000,
                remaining: 1_000_000_000,
                price: money,
                ends_at: UnixMs(i64::MAX),
                per_buyer: Some(99),
            }),
            giveaway: Some(GiveawayCard {
                id: crate::domain::GiveawayId::try_from(i64::MAX).unwrap(),
                prize: longest(crate::domain::Prize::MAX_CHARS),
                entry: crate::domain::EntryRule::Followers,
                commitment: "f".repeat(64),
                closes_at: UnixMs(i64::MAX),
            }),
            auction: Some({
                let bidder = crate::wire::ws::AccountName {
                    account_id: AccountId::try_from(i64::MAX).unwrap(),
                    display_name: name.clone(),
                };
                let step = crate::domain::Step { from: crate::domain::Price::MAX, step: crate::domain::Price::MAX };
                crate::wire::ws::AuctionCard {
                    id: crate::domain::AuctionId::try_from(i64::MAX).unwrap(),
                    product_id: id(1),
                    title: longest(ProductTitle::MAX_CHARS),
                    phase: crate::wire::ws::AuctionPhase::Awarded,
                    starting_price: money,
                    increments: vec![step; crate::domain::Increments::MAX_ROWS],
                    extend_secs: 60,
                    sudden_death: false,
                    ends_at: UnixMs(i64::MAX),
                    bids: i64::MAX,
                    price: Some(money),
                    leader: Some(bidder.clone()),
                    min_bid: money,
                    offer: Some(crate::wire::ws::AuctionOfferCard {
                        buyer: bidder,
                        price: money,
                        pay_by: UnixMs(i64::MAX),
                        round: i64::MAX,
                    }),
                }
            }),
            keywords: (1..=MAX_LINEUP as i64)
                .map(|n| crate::wire::ws::KeywordCard {
                    product_id: id(n),
                    keyword: crate::domain::Keyword::try_from("K".repeat(crate::domain::Keyword::MAX_CHARS)).unwrap(),
                })
                .collect(),
            comments: (0..SNAPSHOT_COMMENTS as u64).map(|n| comment(u64::MAX - n)).collect(),
            recent_sales: (0..RECENT_SALES as i64)
                .map(|n| RecentSale {
                    buyer: name.clone(),
                    product_id: id(n + 1),
                    title: longest(ProductTitle::MAX_CHARS),
                    quantity: 99,
                    at: UnixMs(i64::MAX),
                })
                .collect(),
            units_sold: i64::MAX,
            reaction_totals: crate::domain::Reaction::ALL.iter().map(|r| (*r, u64::MAX)).collect(),
            viewers: u64::MAX,
            streaming: true,
            slow_mode_secs: crate::domain::SlowModeSecs::RANGE.end().to_owned(),
            cart: Some(CartView { lines: (1..=MAX_CART_LINES as i64).map(line).collect(), total: Some(money) }),
            you: Participant {
                display_name: name,
                account_id: Some(AccountId::try_from(i64::MAX).unwrap()),
                role: Some(crate::domain::Role::Viewer),
                is_host: false,
                is_moderator: true,
            },
            seq: u64::MAX,
            epoch: "x".repeat(16),
            reset: true,
        };
        let bytes = serde_json::to_string(&ServerMsg::Snapshot(Box::new(snapshot))).unwrap().len();
        assert!(bytes <= MAX_SERVER_FRAME_BYTES, "the largest snapshot is {bytes} bytes");
    }
}
