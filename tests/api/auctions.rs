//! Auctions: bids judged and ordered by the server alone, late bids extending the end,
//! proxy bids paying the second maximum plus one increment, the unit held for the winner
//! as an offer and passed on when they do not pay, and many bidders over three nodes in
//! the last seconds ending with exactly one winner at the highest valid bid.

use crate::helpers::{Scene, TestApp, Ws, test_config};
use futures_util::future::join_all;
use livecart::domain::{AuctionId, Clock, ProductId, Role, UnixMs};
use livecart::wire::api::SessionResponse;
use livecart::wire::routes;
use livecart::wire::ws::{AccountName, AuctionCard, AuctionOutcome, ClientMsg, OfferView, RoomEvent, ServerMsg};
use std::time::Duration;

const START: UnixMs = UnixMs(1_800_000_000_000);

fn start_msg(product: ProductId, duration_secs: i64, sudden_death: bool) -> ClientMsg {
    ClientMsg::StartAuction {
        product_id: product,
        starting_price: 1_000,
        duration_secs,
        increments: None,
        extend_secs: None,
        sudden_death: Some(sudden_death),
    }
}

async fn start(host: &mut Ws, msg: ClientMsg) -> AuctionCard {
    host.send(&msg).await;
    host.recv_until(|m| match m {
        ServerMsg::Event { event: RoomEvent::AuctionStarted { auction }, .. } => Some(auction),
        ServerMsg::Error { code, message, .. } => panic!("start_auction: {code}: {message}"),
        _ => None,
    })
    .await
}

/// Bids; the private answer `(leading, price, max)`, or the error code.
async fn bid(ws: &mut Ws, auction: AuctionId, amount: i64, max: Option<i64>) -> Result<(bool, i64, i64), String> {
    ws.send(&ClientMsg::Bid { auction_id: auction, amount, max_amount: max }).await;
    ws.recv_until(|m| match m {
        ServerMsg::BidPlaced { leading, price, max, .. } => Some(Ok((leading, price.amount, max.amount))),
        ServerMsg::Error { code, .. } => Some(Err(code)),
        _ => None,
    })
    .await
}

/// The next `auction_bid` event: `(price, leader, bids, ends_at, extended)`.
async fn next_bid(ws: &mut Ws) -> (i64, AccountName, i64, UnixMs, bool) {
    ws.recv_until(|m| match m {
        ServerMsg::Event { event: RoomEvent::AuctionBid { price, leader, bids, ends_at, extended, .. }, .. } => {
            Some((price.amount, leader, bids, ends_at, extended))
        }
        _ => None,
    })
    .await
}

async fn ended(ws: &mut Ws) -> (Option<AccountName>, Option<i64>) {
    ws.recv_until(|m| match m {
        ServerMsg::Event { event: RoomEvent::AuctionEnded { winner, price, .. }, .. } => {
            Some((winner, price.map(|p| p.amount)))
        }
        _ => None,
    })
    .await
}

/// The next `auction_offered`: `(buyer, price, round)`.
async fn offered(ws: &mut Ws) -> (AccountName, i64, i64) {
    ws.recv_until(|m| match m {
        ServerMsg::Event { event: RoomEvent::AuctionOffered { buyer, price, round, .. }, .. } => {
            Some((buyer, price.amount, round))
        }
        _ => None,
    })
    .await
}

async fn settled(ws: &mut Ws) -> (AuctionOutcome, Option<AccountName>, Option<i64>) {
    ws.recv_until(|m| match m {
        ServerMsg::Event { event: RoomEvent::AuctionSettled { outcome, buyer, price, .. }, .. } => {
            Some((outcome, buyer, price.map(|p| p.amount)))
        }
        _ => None,
    })
    .await
}

async fn bidders(app: &TestApp, scene: &Scene, n: usize) -> Vec<(Ws, SessionResponse)> {
    let mut all = Vec::new();
    for i in 0..n {
        let who = app.register(Role::Viewer, &format!("Bidder {i}"), None).await;
        let (ws, _) = app.viewer(scene.room, Some(&who.token)).await;
        all.push((ws, who));
    }
    all
}

#[tokio::test]
async fn bids_are_judged_late_bids_extend_and_the_winner_pays_the_second_maximum_plus_one_increment() {
    let clock = Clock::manual(START);
    let app = TestApp::spawn_with(test_config(), clock.clone()).await;
    let scene = app.live_room(&[3]).await;
    let product = scene.products[0];
    let (mut host, _) = app.viewer(scene.room, Some(&scene.creator.token)).await;
    let auction = start(&mut host, start_msg(product, 60, false)).await;
    assert_eq!(
        (auction.ends_at, auction.extend_secs, auction.min_bid.amount),
        (START.plus(Duration::from_secs(60)), 10, 1_000)
    );
    host.send(&start_msg(product, 60, false)).await;
    assert_eq!(host.error_code().await, "auction_running");

    let mut b = bidders(&app, &scene, 3).await;
    let (mut late, snapshot) = app.viewer(scene.room, None).await;
    assert_eq!(snapshot.auction.map(|a| a.id), Some(auction.id), "a late joiner sees the auction");

    assert_eq!(bid(&mut b[0].0, auction.id, 900, None).await, Err("bid_too_low".into()));
    assert_eq!(bid(&mut b[0].0, auction.id, 1_000, Some(5_000)).await, Ok((true, 1_000, 5_000)));
    let (price, leader, bids, _, extended) = next_bid(&mut late).await;
    assert_eq!((price, leader.account_id, bids, extended), (1_000, b[0].1.account.id, 1, false));
    assert_eq!(leader.display_name, "Bidder 0");
    // Beaten at once by the leader's proxy: taken, not leading, the price moves up.
    assert_eq!(bid(&mut b[1].0, auction.id, 1_100, None).await, Ok((false, 1_200, 1_100)));
    assert_eq!(bid(&mut b[1].0, auction.id, 1_200, None).await, Err("bid_too_low".into()), "needs 1,300 now");
    assert_eq!(bid(&mut host, auction.id, 2_000, None).await, Err("not_eligible".into()));
    assert_eq!(bid(&mut late, auction.id, 2_000, None).await, Err("unauthenticated".into()));
    late.send_text(r#"{"type":"bid","auction_id":1,"amount":2000,"max_amount":1500}"#).await;
    assert_eq!(late.error_code().await, "invalid_input", "a maximum below the amount");

    // Five seconds before the end: the end moves to ten seconds after the bid.
    clock.advance(Duration::from_secs(55));
    assert_eq!(bid(&mut b[2].0, auction.id, 3_000, None).await, Ok((false, 3_200, 3_000)));
    let (price, _, bids, ends_at, extended) = next_bid(&mut late).await;
    assert_eq!((price, bids, extended), (3_200, 3, true));
    assert_eq!(ends_at, START.plus(Duration::from_secs(65)));

    clock.advance(Duration::from_secs(11));
    let (winner, price) = ended(&mut late).await;
    assert_eq!((winner.map(|w| w.account_id), price), (Some(b[0].1.account.id), Some(3_200)));
    assert_eq!(bid(&mut b[2].0, auction.id, 9_000, None).await, Err("auction_closed".into()), "none after the end");
    let (buyer, price, round) = offered(&mut late).await;
    assert_eq!((buyer.account_id, price, round), (b[0].1.account.id, 3_200, 1));
    let held = b[0].0.next_offer().await;
    assert_eq!((held.product_id, held.quantity, held.price.amount), (product, 1, 3_200));
    let mine: Vec<OfferView> = app.get(routes::OFFERS, Some(&b[0].1.token)).await;
    assert_eq!(mine, vec![held.clone()]);
    assert_eq!(app.stock(product).await, 2, "the unit is held for the winner");
    assert_eq!(b[1].0.pay_offer(held.id, "not-mine").await.unwrap_err(), "not_found");

    let order = b[0].0.pay_offer(held.id, "won").await.expect("paid");
    assert_eq!((order.subtotal.amount, order.creator_id, order.lines[0].quantity), (3_200, scene.host_id(), 1));
    assert_eq!(b[0].0.pay_offer(held.id, "won").await.expect("the same key").id, order.id, "paid once");
    let (outcome, buyer, price) = settled(&mut late).await;
    assert_eq!(
        (outcome, buyer.map(|b| b.account_id), price),
        (AuctionOutcome::Sold, Some(b[0].1.account.id), Some(3_200))
    );
    let mine: Vec<OfferView> = app.get(routes::OFFERS, Some(&b[0].1.token)).await;
    assert!(mine.is_empty());
    assert_eq!(app.stock(product).await, 2);
    let (_, snapshot) = app.viewer(scene.room, None).await;
    assert!(snapshot.auction.is_none(), "settled");
    assert_eq!(snapshot.recent_sales[0].quantity, 1, "the sale is the show's like any other");
}

#[tokio::test]
async fn a_winner_who_does_not_pay_in_time_passes_the_unit_to_the_next_bidder() {
    let clock = Clock::manual(START);
    let mut config = test_config();
    config.hold_ttl = Duration::from_secs(60);
    let app = TestApp::spawn_with(config, clock.clone()).await;
    let scene = app.live_room(&[1]).await;
    let product = scene.products[0];
    let (mut host, _) = app.viewer(scene.room, Some(&scene.creator.token)).await;
    let auction = start(&mut host, start_msg(product, 30, false)).await;
    let mut b = bidders(&app, &scene, 3).await;
    bid(&mut b[0].0, auction.id, 1_000, Some(5_000)).await.unwrap();
    bid(&mut b[1].0, auction.id, 1_500, Some(2_000)).await.unwrap();
    bid(&mut b[2].0, auction.id, 2_400, None).await.unwrap();
    clock.advance(Duration::from_secs(31));
    let (buyer, price, round) = offered(&mut host).await;
    assert_eq!((buyer.account_id, price, round), (b[0].1.account.id, 2_600, 1));
    let first = b[0].0.next_offer().await;

    clock.advance(Duration::from_secs(61));
    let (buyer, price, round) = offered(&mut host).await;
    assert_eq!((buyer.account_id, price, round), (b[2].1.account.id, 2_400, 2), "its own outright bid");
    assert_eq!(b[0].0.pay_offer(first.id, "too-late").await.unwrap_err(), "offer_closed");
    let second = b[2].0.next_offer().await;
    let order = b[2].0.pay_offer(second.id, "second-chance").await.expect("paid");
    assert_eq!(order.subtotal.amount, 2_400);
    let (outcome, buyer, _) = settled(&mut host).await;
    assert_eq!((outcome, buyer.map(|b| b.account_id)), (AuctionOutcome::Sold, Some(b[2].1.account.id)));
    assert_eq!(app.stock(product).await, 0, "one unit, sold once");
}

#[tokio::test]
async fn sudden_death_does_not_extend_and_an_auction_nobody_bids_in_ends_unsold() {
    let clock = Clock::manual(START);
    let app = TestApp::spawn_with(test_config(), clock.clone()).await;
    let scene = app.live_room(&[2]).await;
    let product = scene.products[0];
    let (mut host, _) = app.viewer(scene.room, Some(&scene.creator.token)).await;
    let auction = start(&mut host, start_msg(product, 10, true)).await;
    assert!(auction.sudden_death && auction.extend_secs == 0);
    let mut b = bidders(&app, &scene, 1).await;
    clock.advance(Duration::from_secs(9));
    bid(&mut b[0].0, auction.id, 1_000, None).await.unwrap();
    let (_, _, _, ends_at, extended) = next_bid(&mut host).await;
    assert_eq!((ends_at, extended), (auction.ends_at, false));
    clock.advance(Duration::from_secs(2));
    assert_eq!(offered(&mut host).await.0.account_id, b[0].1.account.id);
    // Ending the show keeps the offer payable.
    let _: livecart::wire::api::RoomView =
        app.post(&routes::path(routes::ROOM_END, &[scene.room.get()]), Some(&scene.creator.token), &()).await;
    let held = b[0].0.next_offer().await;
    b[0].0.pay_offer(held.id, "after-the-show").await.expect("paid after the show ended");

    let other = app.live_room(&[1]).await;
    let (mut host, _) = app.viewer(other.room, Some(&other.creator.token)).await;
    start(&mut host, start_msg(other.products[0], 10, false)).await;
    clock.advance(Duration::from_secs(11));
    assert_eq!(ended(&mut host).await, (None, None));
    assert_eq!(settled(&mut host).await, (AuctionOutcome::Unsold, None, None));
    start(&mut host, start_msg(other.products[0], 10, false)).await;
}

#[tokio::test]
async fn fifty_bidders_over_three_nodes_in_the_last_seconds_make_exactly_one_winner() {
    let Some(cluster) = crate::nodes::Cluster::start(3).await else { return };
    let scene = cluster.node(0).live_room(&[1]).await;
    let (mut host, _) = cluster.node(0).viewer(scene.room, Some(&scene.creator.token)).await;
    let msg = ClientMsg::StartAuction {
        product_id: scene.products[0],
        starting_price: 1_000,
        duration_secs: 10,
        increments: None,
        extend_secs: Some(2.try_into().unwrap()),
        sudden_death: None,
    };
    let auction = start(&mut host, msg).await;
    let mut all = Vec::new();
    for i in 0..50 {
        let node = cluster.node(i % 3);
        let who = node.register(Role::Viewer, &format!("Bidder {i}"), None).await;
        let (ws, _) = node.viewer(scene.room, Some(&who.token)).await;
        all.push((ws, who));
    }
    // Wait for the last two seconds by the room's clock (this machine's), then everyone
    // bids as fast as they are answered, each raising on what they last saw.
    let now = || UnixMs(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64);
    let wait = (auction.ends_at.0 - 2_000 - now().0).max(0) as u64;
    tokio::time::sleep(Duration::from_millis(wait)).await;
    let rounds = all.into_iter().enumerate().map(|(i, (mut ws, who))| async move {
        let mut taken = Vec::new();
        let mut amount = 1_000 + i as i64 * 10;
        for _ in 0..6 {
            ws.send(&ClientMsg::Bid { auction_id: auction.id, amount, max_amount: None }).await;
            let answer = ws
                .recv_until(|m| match m {
                    ServerMsg::BidPlaced { .. } => Some(Ok(())),
                    ServerMsg::Error { code, message, .. } => Some(Err((code, message))),
                    _ => None,
                })
                .await;
            match answer {
                Ok(()) => taken.push(amount),
                Err((code, message)) if code == "bid_too_low" => {
                    let min: i64 = message.split_whitespace().find_map(|w| w.parse().ok()).expect("the minimum");
                    amount = min + (i as i64 % 3) * 100;
                    continue;
                }
                Err((code, _)) if code == "auction_closed" => break,
                Err((code, message)) => panic!("bid: {code}: {message}"),
            }
            amount += 100 + i as i64;
        }
        let (winner, price) = ended(&mut ws).await;
        (who.account.id, taken, winner.map(|w| w.account_id), price)
    });
    let results = join_all(rounds).await;
    // What the host saw: bid counts one by one and prices never falling, then one end.
    let (mut count, mut last_price) = (0, 0);
    let (winner, price) = loop {
        match host.recv().await {
            ServerMsg::Event { event: RoomEvent::AuctionBid { price, bids, .. }, .. } => {
                assert_eq!(bids, count + 1, "each bid counted once, in order");
                assert!(price.amount >= last_price, "the price never falls");
                (count, last_price) = (bids, price.amount);
            }
            ServerMsg::Event { event: RoomEvent::AuctionEnded { winner, price, .. }, .. } => break (winner, price),
            _ => {}
        }
    };
    let winner = winner.expect("someone won").account_id;
    let price = price.map(|p| p.amount);
    assert_eq!(price, Some(last_price), "the last price announced is the one won at");
    assert!(results.iter().all(|r| (r.2, r.3) == (Some(winner), price)), "every node announces the same one winner");
    // The highest bid taken anywhere is the winner's; they pay at least every other
    // bidder's best and at most their own (a leader's higher bid only raised their maximum).
    let best_of = |skip: Option<livecart::domain::AccountId>| {
        results
            .iter()
            .filter(|r| Some(r.0) != skip)
            .flat_map(|(who, taken, _, _)| taken.iter().map(move |a| (*who, *a)))
            .max_by_key(|(_, a)| *a)
            .expect("bids were taken")
    };
    let (best_bidder, best) = best_of(None);
    assert_eq!(best_bidder, winner);
    let (_, runner_up) = best_of(Some(winner));
    let price = price.unwrap();
    assert!(runner_up <= price && price <= best, "{runner_up} <= {price} <= {best}");
    let taken_total: usize = results.iter().map(|r| r.1.len()).sum();
    assert_eq!(count, taken_total as i64, "every taken bid announced once");
    let (_, snapshot) = cluster.node(2).viewer(scene.room, None).await;
    let card = snapshot.auction.expect("awarded, waiting for payment");
    assert!(card.ends_at > auction.ends_at, "late bids extended the auction");
    assert_eq!(card.leader.map(|l| l.account_id), Some(winner));
}

#[tokio::test]
async fn a_bidder_faster_than_the_comment_rate_is_told_to_slow_down_and_others_still_bid() {
    let mut config = test_config();
    config.comment_burst = 2;
    let app = TestApp::spawn_with(config, Clock::manual(START)).await;
    let scene = app.live_room(&[1]).await;
    let (mut host, _) = app.viewer(scene.room, Some(&scene.creator.token)).await;
    let auction = start(&mut host, start_msg(scene.products[0], 60, false)).await;
    let mut b = bidders(&app, &scene, 2).await;
    bid(&mut b[0].0, auction.id, 1_000, None).await.unwrap();
    bid(&mut b[0].0, auction.id, 0, Some(5_000)).await.unwrap();
    assert_eq!(bid(&mut b[0].0, auction.id, 0, Some(9_000)).await, Err("rate_limited".into()));
    assert_eq!(bid(&mut b[1].0, auction.id, 1_100, None).await, Ok((false, 1_200, 1_100)), "a bucket per bidder");
}
