//! Provably fair giveaways: one entry per account, entry rules, and a draw anyone can
//! recompute from what the server published (the commitment first, then the seed and the
//! entries), checked here with SHA-256 directly, not with the server's own code.

use crate::helpers::{Scene, TestApp, Ws, test_config};
use livecart::commerce::payments::TestCards;
use livecart::domain::{Clock, EntryRule, GiveawayId, Role, UnixMs};
use livecart::wire::api::{GiveawayStatus, GiveawayView, SessionResponse};
use livecart::wire::routes::{self, path};
use livecart::wire::ws::{AccountName, ClientMsg, GiveawayCard, RoomEvent, ServerMsg};
use sha2::{Digest, Sha256};
use std::time::Duration;

async fn start(host: &mut Ws, entry: EntryRule, duration_secs: i64) -> GiveawayCard {
    let prize = "A signed Glow Serum".try_into().unwrap();
    host.send(&ClientMsg::StartGiveaway { prize, entry, duration_secs }).await;
    host.recv_until(|m| match m {
        ServerMsg::Event { event: RoomEvent::GiveawayStarted { giveaway }, .. } => Some(giveaway),
        ServerMsg::Error { code, .. } => panic!("start_giveaway: {code}"),
        _ => None,
    })
    .await
}

/// Enters; the entries so far, or the error code.
async fn enter(ws: &mut Ws, giveaway_id: GiveawayId) -> Result<i64, String> {
    ws.send(&ClientMsg::EnterGiveaway { giveaway_id }).await;
    ws.recv_until(|m| match m {
        ServerMsg::GiveawayEntered { entries, .. } => Some(Ok(entries)),
        ServerMsg::Error { code, .. } => Some(Err(code)),
        _ => None,
    })
    .await
}

async fn drawn(ws: &mut Ws) -> (GiveawayId, String, i64, Option<AccountName>) {
    ws.recv_until(|m| match m {
        ServerMsg::Event { event: RoomEvent::GiveawayDrawn { giveaway_id, seed, entries, winner }, .. } => {
            Some((giveaway_id, seed, entries, winner))
        }
        _ => None,
    })
    .await
}

/// The documented rule, from the published data alone.
fn recompute(view: &GiveawayView) -> usize {
    let seed = hex::decode(view.seed.as_ref().expect("the seed is revealed")).unwrap();
    assert_eq!(hex::encode(Sha256::digest(&seed)), view.commitment, "the seed is the one committed to");
    let entries = view.entries.as_ref().expect("the entries are published");
    let joined = entries.iter().map(|a| a.get().to_string()).collect::<Vec<_>>().join(",");
    let digest = Sha256::digest([seed.as_slice(), joined.as_bytes()].concat());
    (u64::from_be_bytes(digest[..8].try_into().unwrap()) % entries.len() as u64) as usize
}

async fn viewers(app: &TestApp, scene: &Scene, n: usize) -> Vec<(Ws, SessionResponse)> {
    let mut all = Vec::new();
    for i in 0..n {
        let who = app.register(Role::Viewer, &format!("Fan {i}"), None).await;
        let (ws, _) = app.viewer(scene.room, Some(&who.token)).await;
        all.push((ws, who));
    }
    all
}

#[tokio::test]
async fn a_giveaway_is_entered_once_and_its_draw_can_be_recomputed_by_anyone() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[5]).await;
    let (mut host, _) = app.viewer(scene.room, Some(&scene.creator.token)).await;
    let giveaway = start(&mut host, EntryRule::SignedIn, 600).await;
    assert_eq!(giveaway.commitment.len(), 64);

    let mut fans = viewers(&app, &scene, 6).await;
    for (i, (ws, _)) in fans.iter_mut().enumerate() {
        assert_eq!(enter(ws, giveaway.id).await, Ok(i as i64 + 1));
    }
    assert_eq!(enter(&mut fans[0].0, giveaway.id).await, Ok(6), "entering again counts once");
    assert_eq!(enter(&mut host, giveaway.id).await, Err("not_eligible".into()));
    let (mut guest, snapshot) = app.viewer(scene.room, None).await;
    assert_eq!(snapshot.giveaway.as_ref().map(|g| g.id), Some(giveaway.id), "a late joiner sees it open");
    assert_eq!(enter(&mut guest, giveaway.id).await, Err("unauthenticated".into()));
    assert_eq!(start_again(&mut host).await, "giveaway_running");
    // Nothing secret before the draw.
    let open: GiveawayView = app.get(&path(routes::GIVEAWAY, &[giveaway.id.get()]), None).await;
    assert_eq!((open.status, open.seed, open.entries), (GiveawayStatus::Open, None, None));

    // Ending the show closes the entries and draws.
    let _: livecart::wire::api::RoomView =
        app.post(&path(routes::ROOM_END, &[scene.room.get()]), Some(&scene.creator.token), &()).await;
    let (id, seed, entries, winner) = drawn(&mut guest).await;
    assert_eq!((id, entries), (giveaway.id, 6));
    let view: GiveawayView = app.get(&path(routes::GIVEAWAY, &[giveaway.id.get()]), None).await;
    assert_eq!(view.seed.as_deref(), Some(seed.as_str()));
    let ids = view.entries.clone().unwrap();
    let mut expected: Vec<_> = fans.iter().map(|(_, who)| who.account.id).collect();
    expected.sort();
    assert_eq!(ids, expected, "every entrant once, ascending");
    let winner = winner.expect("a winner");
    assert_eq!(winner.account_id, ids[recompute(&view)], "the published rule gives the announced winner");
    assert_eq!(view.winner.map(|w| w.account_id), Some(winner.account_id));
    let name = fans.iter().find(|(_, who)| who.account.id == winner.account_id).unwrap().1.account.display_name.clone();
    assert_eq!(winner.display_name, name);
    assert_eq!(enter(&mut fans[1].0, giveaway.id).await, Err("giveaway_closed".into()));
}

async fn start_again(host: &mut Ws) -> String {
    let prize = "Another".try_into().unwrap();
    host.send(&ClientMsg::StartGiveaway { prize, entry: EntryRule::SignedIn, duration_secs: 60 }).await;
    host.error_code().await
}

#[tokio::test]
async fn entry_rules_admit_followers_or_buyers_and_the_tick_draws_when_entries_close() {
    const START: UnixMs = UnixMs(1_800_000_000_000);
    let clock = Clock::manual(START);
    let app = TestApp::spawn_with(test_config(), clock.clone()).await;
    let scene = app.live_room(&[5]).await;
    let (mut host, _) = app.viewer(scene.room, Some(&scene.creator.token)).await;
    let mut fans = viewers(&app, &scene, 2).await;

    let for_followers = start(&mut host, EntryRule::Followers, 10).await;
    assert_eq!(enter(&mut fans[0].0, for_followers.id).await, Err("not_eligible".into()));
    let follow = path(routes::FOLLOW, &[scene.creator.account.id.get()]);
    let (status, _) = app.send(reqwest::Method::PUT, &follow, Some(&fans[0].1.token), None).await;
    assert_eq!(status, 204);
    assert_eq!(enter(&mut fans[0].0, for_followers.id).await, Ok(1));
    clock.advance(Duration::from_secs(11));
    let (id, _, entries, winner) = drawn(&mut host).await;
    assert_eq!((id, entries), (for_followers.id, 1));
    assert_eq!(winner.map(|w| w.account_id), Some(fans[0].1.account.id), "the only entry wins");

    let for_buyers = start(&mut host, EntryRule::Buyers, 10).await;
    assert_eq!(enter(&mut fans[1].0, for_buyers.id).await, Err("not_eligible".into()));
    fans[1].0.send(&ClientMsg::CartAdd { product_id: scene.products[0], quantity: 1 }).await;
    fans[1].0.recv_until(|m| matches!(m, ServerMsg::Cart { .. }).then_some(())).await;
    fans[1].0.send(&crate::helpers::checkout("giveaway-buyer", TestCards::SUCCEEDS)).await;
    fans[1].0.checkout_outcome().await.expect("paid");
    assert_eq!(enter(&mut fans[1].0, for_buyers.id).await, Ok(1));
    clock.advance(Duration::from_secs(11));
    assert_eq!(enter(&mut fans[1].0, for_buyers.id).await, Err("giveaway_closed".into()), "past its close");
    drawn(&mut host).await;

    // Nobody entered: drawn with no winner.
    let empty = start(&mut host, EntryRule::SignedIn, 10).await;
    clock.advance(Duration::from_secs(11));
    let (id, _, entries, winner) = drawn(&mut host).await;
    assert_eq!((id, entries, winner), (empty.id, 0, None));
}

#[tokio::test]
async fn entries_on_two_nodes_make_one_draw_that_every_node_announces_once() {
    let Some(cluster) = crate::nodes::Cluster::start(2).await else { return };
    let scene = cluster.node(0).live_room(&[5]).await;
    let (mut host, _) = cluster.node(0).viewer(scene.room, Some(&scene.creator.token)).await;
    let giveaway = start(&mut host, EntryRule::SignedIn, 600).await;
    let mut entrants = Vec::new();
    for i in 0..6 {
        let node = cluster.node(i % 2);
        let who = node.register(Role::Viewer, &format!("Fan {i}"), None).await;
        let (mut ws, _) = node.viewer(scene.room, Some(&who.token)).await;
        enter(&mut ws, giveaway.id).await.expect("entered");
        entrants.push(ws);
    }
    let _: livecart::wire::api::RoomView =
        cluster.node(1).post(&path(routes::ROOM_END, &[scene.room.get()]), Some(&scene.creator.token), &()).await;
    let (_, seed, entries, winner) = drawn(&mut host).await;
    assert_eq!(entries, 6);
    for ws in &mut entrants {
        let (_, theirs, _, their_winner) = drawn(ws).await;
        assert_eq!((theirs, their_winner), (seed.clone(), winner.clone()), "one draw, on every node");
    }
    let view: GiveawayView = cluster.node(1).get(&path(routes::GIVEAWAY, &[giveaway.id.get()]), None).await;
    assert_eq!(winner.map(|w| w.account_id), Some(view.entries.as_ref().unwrap()[recompute(&view)]));
}
