use crate::helpers::{TestApp, Ws, test_config};
use futures_util::future::join_all;
use livecart::commerce::payments::TestCards;
use livecart::domain::{Clock, Reaction, Role, UnixMs};
use livecart::wire::api::RoomView;
use livecart::wire::routes::{self, path};
use livecart::wire::ws::{ClientMsg, CommentView, RoomEvent, RoomStatus, ServerMsg, Speaker};

fn comment(text: &str) -> ClientMsg {
    ClientMsg::Comment { text: text.try_into().unwrap() }
}

/// The next room event with its sequence number, skipping ticks.
async fn next_event(ws: &mut Ws) -> (u64, RoomEvent) {
    ws.recv_until(|m| match m {
        ServerMsg::Event { seq, event } => Some((seq, event)),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn the_host_pins_and_fifty_viewers_all_see_the_pin() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[10, 5]).await;
    let (mut host, _) = app.viewer(scene.room, Some(&scene.creator.token)).await;
    let mut viewers = join_all((0..50).map(|_| app.viewer(scene.room, None))).await;

    host.send(&ClientMsg::Pin { product_id: scene.products[1] }).await;

    let pins = join_all(viewers.iter_mut().map(|(ws, _)| next_event(ws))).await;
    for (_, event) in pins {
        match event {
            RoomEvent::Pinned { product } => {
                assert_eq!(product.id, scene.products[1]);
                assert_eq!(product.stock, 5);
            }
            other => panic!("expected the pin, got {other:?}"),
        }
    }
    let (late, snapshot) = app.viewer(scene.room, None).await;
    assert_eq!(snapshot.pinned, Some(scene.products[1]), "a late joiner sees the pin in its snapshot");
    late.close().await;
}

#[tokio::test]
async fn comments_arrive_at_every_viewer_in_the_same_order_with_increasing_sequence_numbers() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[1]).await;
    let mut viewers = join_all((0..20).map(|_| app.viewer(scene.room, None))).await;
    let mut writers = join_all((0..4).map(|_| app.viewer(scene.room, None))).await;

    // Four writers post at once, so the server (not the test) decides the order.
    join_all(writers.iter_mut().enumerate().map(|(w, (ws, _))| async move {
        for i in 0..10 {
            ws.send(&comment(&format!("w{w} c{i}"))).await;
        }
    }))
    .await;

    let mut orders = Vec::new();
    for (ws, snapshot) in viewers.iter_mut() {
        let mut seen = Vec::new();
        let mut last = snapshot.seq;
        while seen.len() < 40 {
            let (seq, event) = next_event(ws).await;
            assert_eq!(seq, last + 1, "sequence numbers increase by one");
            last = seq;
            if let RoomEvent::Comment(c) = event {
                seen.push(c.text);
            }
        }
        orders.push(seen);
    }
    assert!(orders.windows(2).all(|w| w[0] == w[1]), "every viewer saw the same order");
    for w in 0..4 {
        let mine: Vec<&String> = orders[0].iter().filter(|t| t.starts_with(&format!("w{w} "))).collect();
        let expected: Vec<String> = (0..10).map(|i| format!("w{w} c{i}")).collect();
        assert_eq!(mine, expected.iter().collect::<Vec<_>>(), "one writer's comments keep their order");
    }
}

#[tokio::test]
async fn a_viewer_cannot_pin_start_a_drop_or_end_the_room() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[3]).await;
    let buyer = app.register(Role::Viewer, "Vi", None).await;
    let (mut ws, _) = app.viewer(scene.room, Some(&buyer.token)).await;

    ws.send(&ClientMsg::Pin { product_id: scene.products[0] }).await;
    assert_eq!(ws.error_code().await, "forbidden");
    ws.send(&ClientMsg::StartDrop {
        product_id: scene.products[0],
        quantity: 1,
        price: None,
        duration_secs: 60,
        per_buyer: None,
    })
    .await;
    assert_eq!(ws.error_code().await, "forbidden");
    ws.send(&ClientMsg::EndRoom {}).await;
    assert_eq!(ws.error_code().await, "forbidden");

    let (_, snapshot) = app.viewer(scene.room, None).await;
    assert_eq!(snapshot.pinned, None);
    assert_eq!(snapshot.drop.map(|d| d.id), None);
    assert_eq!(snapshot.room.status, RoomStatus::Live);
}

#[tokio::test]
async fn a_reconnect_with_since_receives_exactly_the_missed_events() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[3]).await;
    let (mut talker, _) = app.viewer(scene.room, None).await;
    let (mut dropped, snapshot) = app.viewer(scene.room, None).await;
    talker.send(&comment("before")).await;
    let (seen_seq, _) = next_event(&mut dropped).await;
    dropped.close().await;

    for i in 0..5 {
        talker.send(&comment(&format!("missed {i}"))).await;
    }
    let (last_seq, _) = {
        let mut last = (0, None);
        for _ in 0..6 {
            let (seq, e) = next_event(&mut talker).await;
            last = (seq, Some(e));
        }
        last
    };

    let mut back = app.ws().await;
    back.send(&ClientMsg::Join {
        room_id: scene.room,
        token: None,
        guest_name: Some("Back".try_into().unwrap()),
        since: Some(seen_seq),
        epoch: Some(snapshot.epoch.clone()),
        audience_key: None,
    })
    .await;
    match back.recv().await {
        ServerMsg::Resumed { since, seq, .. } => {
            assert_eq!(since, seen_seq);
            assert_eq!(seq, last_seq);
        }
        other => panic!("expected a resume, got {other:?}"),
    }
    let mut texts = Vec::new();
    for expected_seq in seen_seq + 1..=last_seq {
        let (seq, event) = next_event(&mut back).await;
        assert_eq!(seq, expected_seq, "no gap, no duplicate");
        if let RoomEvent::Comment(c) = event {
            texts.push(c.text);
        }
    }
    assert_eq!(texts, (0..5).map(|i| format!("missed {i}")).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_reconnect_from_too_long_ago_gets_a_snapshot_flagged_reset() {
    let mut config = test_config();
    config.history = 4;
    let app = TestApp::spawn_with(config, Clock::system()).await;
    let scene = app.live_room(&[3]).await;
    let (mut talker, snapshot) = app.viewer(scene.room, None).await;
    for i in 0..10 {
        talker.send(&comment(&format!("c{i}"))).await;
    }
    for _ in 0..10 {
        next_event(&mut talker).await;
    }
    let mut back = app.ws().await;
    back.send(&ClientMsg::Join {
        room_id: scene.room,
        token: None,
        guest_name: Some("Back".try_into().unwrap()),
        since: Some(snapshot.seq),
        epoch: Some(snapshot.epoch.clone()),
        audience_key: None,
    })
    .await;
    match back.recv().await {
        ServerMsg::Snapshot(s) => {
            assert!(s.reset, "the client is told it missed events that cannot be replayed");
            assert_eq!(s.seq, snapshot.seq + 10);
        }
        other => panic!("expected a snapshot, got {other:?}"),
    }
    // Another epoch (say, after a restart) is a reset too, never a silent gap.
    let mut other = app.ws().await;
    other
        .send(&ClientMsg::Join {
            room_id: scene.room,
            token: None,
            guest_name: Some("Other".try_into().unwrap()),
            since: Some(snapshot.seq + 9),
            epoch: Some("another-epoch".into()),
            audience_key: None,
        })
        .await;
    assert!(matches!(other.recv().await, ServerMsg::Snapshot(s) if s.reset));
}

#[tokio::test]
async fn reactions_and_viewer_counts_arrive_as_ticks() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[3]).await;
    let (mut watcher, _) = app.viewer(scene.room, None).await;
    let (mut fan, _) = app.viewer(scene.room, None).await;
    for _ in 0..7 {
        fan.send(&ClientMsg::React { reaction: Reaction::Heart }).await;
    }
    fan.send(&ClientMsg::React { reaction: Reaction::Fire }).await;

    let (mut hearts, mut fires, mut viewers) = (0, 0, 0);
    while hearts < 7 || fires < 1 || viewers != 2 {
        match watcher.recv().await {
            ServerMsg::Reactions { counts } => {
                hearts += counts.get(&Reaction::Heart).copied().unwrap_or(0);
                fires += counts.get(&Reaction::Fire).copied().unwrap_or(0);
            }
            ServerMsg::Viewers { count } => viewers = count,
            _ => {}
        }
    }
    assert_eq!((hearts, fires), (7, 1), "every reaction is counted once");
}

#[tokio::test]
async fn a_room_goes_scheduled_then_live_then_ended_and_nothing_else() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[3]).await;
    let (mut ws, _) = app.viewer(scene.room, None).await;
    let token = Some(scene.creator.token.as_str());

    let (status, body) =
        app.send(reqwest::Method::POST, &path(routes::ROOM_GO_LIVE, &[scene.room.get()]), token, None).await;
    assert_eq!(status, 409, "a live room cannot go live again: {body}");

    let ended: RoomView = app.post(&path(routes::ROOM_END, &[scene.room.get()]), token, &()).await;
    assert_eq!(ended.status, RoomStatus::Ended);
    ws.recv_until(|m| matches!(m, ServerMsg::Event { event: RoomEvent::RoomEnded, .. }).then_some(())).await;

    let (status, _) =
        app.send(reqwest::Method::POST, &path(routes::ROOM_GO_LIVE, &[scene.room.get()]), token, None).await;
    assert_eq!(status, 409, "an ended room stays ended");
    ws.send(&comment("anyone?")).await;
    assert_eq!(ws.error_code().await, "room_not_live");
}

/// The test runtime is single-threaded: recording events in a loop without yielding
/// fills the room's channel before the viewer's send task can run, exactly as a viewer
/// that cannot keep up would.
#[tokio::test]
async fn a_viewer_that_falls_behind_is_resynced_with_a_snapshot_not_buffered() {
    let mut config = test_config();
    config.viewer_queue = 4;
    let app = TestApp::spawn_with(config, Clock::system()).await;
    let scene = app.live_room(&[3]).await;
    let (mut slow, snapshot) = app.viewer(scene.room, None).await;
    let room = app.state.rooms.live_room(scene.room).await.unwrap();
    for i in 0..20 {
        let event = RoomEvent::Comment(CommentView {
            author: "flood".into(),
            author_key: "g1".into(),
            speaker: Speaker::Guest,
            text: format!("flood {i}"),
            at: UnixMs(0),
        });
        room.record(&serde_json::to_string(&event).unwrap(), &event);
    }
    let mut last = snapshot.seq;
    loop {
        match slow.recv().await {
            ServerMsg::Event { seq, .. } => {
                assert_eq!(seq, last + 1, "no silent gap");
                last = seq;
            }
            ServerMsg::Snapshot(s) => {
                assert!(s.reset, "the resync snapshot says events were skipped");
                assert_eq!(s.seq, snapshot.seq + 20);
                break;
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn a_guest_opens_a_lined_up_product_and_gets_its_details_only() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[10, 5]).await;
    let (mut guest, _) = app.viewer(scene.room, None).await;

    guest.send(&ClientMsg::ViewProduct { product_id: scene.products[1] }).await;
    let product = guest
        .recv_until(|m| match m {
            ServerMsg::Product { product } => Some(product),
            _ => None,
        })
        .await;
    assert_eq!(product.card.id, scene.products[1]);
    assert_eq!(product.card.stock, 5);

    let elsewhere = app.live_room(&[3]).await;
    guest.send(&ClientMsg::ViewProduct { product_id: elsewhere.products[0] }).await;
    assert_eq!(guest.error_code().await, "not_in_lineup");
}

/// A drop features its product: a drop on a product that is not pinned pins it first
/// (`pinned`, then `drop_started`); a drop on the pinned product pins nothing again.
#[tokio::test]
async fn a_drop_on_a_product_that_is_not_pinned_pins_it_first() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[10, 5]).await;
    let (mut host, _) = app.viewer(scene.room, Some(&scene.creator.token)).await;
    host.send(&ClientMsg::Pin { product_id: scene.products[0] }).await;
    host.recv_until(|m| matches!(m, ServerMsg::Event { event: RoomEvent::Pinned { .. }, .. }).then_some(())).await;
    let (mut viewer, _) = app.viewer(scene.room, None).await;

    host.send(&ClientMsg::StartDrop {
        product_id: scene.products[1],
        quantity: 2,
        price: None,
        duration_secs: 60,
        per_buyer: None,
    })
    .await;
    let (pin_seq, pinned) = next_event(&mut viewer).await;
    match pinned {
        RoomEvent::Pinned { product } => assert_eq!((product.id, product.stock), (scene.products[1], 5)),
        other => panic!("expected the drop's product pinned first, got {other:?}"),
    }
    let (drop_seq, started) = next_event(&mut viewer).await;
    match started {
        RoomEvent::DropStarted { drop } => assert_eq!(drop.product_id, scene.products[1]),
        other => panic!("expected drop_started after the pin, got {other:?}"),
    }
    assert!(drop_seq > pin_seq);
    let (_, snapshot) = app.viewer(scene.room, None).await;
    assert_eq!(snapshot.pinned, Some(scene.products[1]));
    assert_eq!(snapshot.drop.map(|d| d.product_id), Some(scene.products[1]));

    // The pinned product's next drop pins nothing again.
    app.state.rooms.end_drop(scene.room, snapshot_drop_id(&app, scene.room).await).await.unwrap();
    viewer.recv_until(|m| matches!(m, ServerMsg::Event { event: RoomEvent::DropEnded { .. }, .. }).then_some(())).await;
    host.send(&ClientMsg::StartDrop {
        product_id: scene.products[1],
        quantity: 1,
        price: None,
        duration_secs: 60,
        per_buyer: None,
    })
    .await;
    match next_event(&mut viewer).await.1 {
        RoomEvent::DropStarted { drop } => assert_eq!(drop.product_id, scene.products[1]),
        other => panic!("expected drop_started alone, got {other:?}"),
    }
}

async fn snapshot_drop_id(app: &TestApp, room: livecart::domain::RoomId) -> livecart::domain::DropId {
    app.state.store.live_drop(room).await.unwrap().expect("a live drop").id
}

/// When a drop's last unit sells, the drop is over at once: the snapshot has no drop,
/// `drop_ended` follows, the next buyer pays the regular price, and the host may start
/// another drop.
#[tokio::test]
async fn a_drop_that_sells_out_ends_and_the_regular_price_comes_back() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[10]).await;
    let product = scene.products[0];
    let (mut host, _) = app.viewer(scene.room, Some(&scene.creator.token)).await;
    host.send(&ClientMsg::StartDrop {
        product_id: product,
        quantity: 2,
        price: Some(500),
        duration_secs: 600,
        per_buyer: None,
    })
    .await;
    let drop = host
        .recv_until(|m| match m {
            ServerMsg::Event { event: RoomEvent::DropStarted { drop }, .. } => Some(drop),
            _ => None,
        })
        .await;

    let (mut first, _) = app.shopper(scene.room, product, 2).await;
    first.send(&crate::helpers::checkout("all-of-the-drop", TestCards::SUCCEEDS)).await;
    let order = first.checkout_outcome().await.expect("paid");
    assert_eq!((order.lines[0].unit_price, order.lines[0].drop_id), (500, Some(drop.id)));
    let left = host
        .recv_until(|m| match m {
            ServerMsg::Event { event: RoomEvent::Sale(sale), .. } => Some(sale.drop_left),
            _ => None,
        })
        .await;
    assert_eq!(left, Some(0));
    let (_, snapshot) = app.viewer(scene.room, None).await;
    assert!(snapshot.drop.is_none(), "the sold-out drop is over as soon as it sold out");
    let sold = host
        .recv_until(|m| match m {
            ServerMsg::Event { event: RoomEvent::DropEnded { drop_id, sold }, .. } => Some((drop_id, sold)),
            _ => None,
        })
        .await;
    assert_eq!(sold, (drop.id, 2));
    assert!(app.state.store.live_drop(scene.room).await.unwrap().is_none(), "ended in the database");

    let (mut second, _) = app.shopper(scene.room, product, 1).await;
    second.send(&crate::helpers::checkout("after-the-drop", TestCards::SUCCEEDS)).await;
    let order = second.checkout_outcome().await.expect("the regular price, from the product's stock");
    assert_eq!((order.lines[0].unit_price, order.lines[0].drop_id), (1_000, None));
    host.send(&ClientMsg::StartDrop {
        product_id: product,
        quantity: 1,
        price: None,
        duration_secs: 60,
        per_buyer: None,
    })
    .await;
    host.recv_until(|m| match m {
        ServerMsg::Event { event: RoomEvent::DropStarted { .. }, .. } => Some(()),
        ServerMsg::Error { code, .. } => panic!("a new drop: {code}"),
        _ => None,
    })
    .await;
}

/// The host is not their own audience: neither the `viewers` tick nor a snapshot counts
/// the host's connections.
#[tokio::test]
async fn the_host_is_not_counted_as_a_viewer() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[3]).await;
    let (mut host, alone) = app.viewer(scene.room, Some(&scene.creator.token)).await;
    assert_eq!(alone.viewers, 0, "the host alone in the room has no viewers");
    let (_second_tab, _) = app.viewer(scene.room, Some(&scene.creator.token)).await;
    let (_guest, snapshot) = app.viewer(scene.room, None).await;
    assert_eq!(snapshot.viewers, 1, "the guest, not the host's two connections");
    host.recv_until(|m| matches!(m, ServerMsg::Viewers { count: 1 }).then_some(())).await;
    let fan = app.register(Role::Viewer, "Fan", None).await;
    let (_fan, snapshot) = app.viewer(scene.room, Some(&fan.token)).await;
    assert_eq!(snapshot.viewers, 2);
    host.recv_until(|m| match m {
        ServerMsg::Viewers { count } => {
            assert!(count <= 2, "never the host: {count}");
            (count == 2).then_some(())
        }
        _ => None,
    })
    .await;
}

/// A late joiner sees the show so far: what sold (newest first) and how the room
/// reacted, whether the room was in memory all along or loaded afresh from the orders.
#[tokio::test]
async fn a_late_joiner_sees_what_the_show_sold_and_how_it_reacted() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[10, 10]).await;
    let (mut watcher, first) = app.viewer(scene.room, None).await;
    assert_eq!((first.units_sold, first.recent_sales.len(), first.reaction_totals.len()), (0, 0, 0));

    for (n, (product, quantity)) in [(scene.products[0], 2), (scene.products[1], 1)].into_iter().enumerate() {
        let (mut buyer, _) = app.shopper(scene.room, product, quantity).await;
        buyer.send(&crate::helpers::checkout(&format!("late-joiner-{n}"), TestCards::SUCCEEDS)).await;
        buyer.checkout_outcome().await.expect("paid");
        let sale = watcher
            .recv_until(|m| match m {
                ServerMsg::Event { event: RoomEvent::Sale(sale), .. } => Some(sale),
                _ => None,
            })
            .await;
        assert!(sale.at.0 > 0, "a sale says when it was paid");
    }
    for _ in 0..3 {
        watcher.send(&ClientMsg::React { reaction: Reaction::Heart }).await;
    }
    watcher
        .recv_until(|m| match m {
            ServerMsg::Reactions { .. } => Some(()),
            _ => None,
        })
        .await;

    let expect = |snapshot: &livecart::wire::ws::Snapshot, how: &str| {
        assert_eq!(snapshot.units_sold, 3, "{how}: units sold");
        let recent: Vec<_> = snapshot.recent_sales.iter().map(|s| (s.product_id, s.quantity)).collect();
        assert_eq!(recent, vec![(scene.products[1], 1), (scene.products[0], 2)], "{how}: newest first");
        assert!(snapshot.recent_sales.iter().all(|s| s.buyer == "Buyer"), "{how}: buyers by display name");
    };
    // The totals are read back on the tick after the reactions went out.
    let mut late = app.viewer(scene.room, None).await.1;
    for _ in 0..100 {
        if late.reaction_totals.get(&Reaction::Heart) == Some(&3) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        late = app.viewer(scene.room, None).await.1;
    }
    expect(&late, "in memory");
    assert_eq!(late.reaction_totals, std::collections::BTreeMap::from([(Reaction::Heart, 3)]));

    watcher.close().await;
    crate::media::eventually("the room is let go of while nobody watches it", || !app.state.rooms.serves(scene.room))
        .await;
    let (_, reloaded) = app.viewer(scene.room, None).await;
    expect(&reloaded, "loaded from the orders");
    assert_eq!(reloaded.reaction_totals, std::collections::BTreeMap::from([(Reaction::Heart, 3)]));
}
