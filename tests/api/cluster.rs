//! Several real `livecart` processes on loopback sharing one PostgreSQL and one Redis:
//! fan-out across nodes, a drop sold from three nodes at once, and faults (Redis losing
//! everything mid-drop, a node killed with SIGKILL). These need the shared services and
//! run in the suite's PostgreSQL + Redis pass; without them they say so and return (a
//! race some of them check between nodes is also checked on one node, on every pass).

use crate::helpers::{Client, TestApp, WAIT, Ws, checkout, forget_redis_prefix};
use crate::nodes::Cluster;
use futures_util::future::join_all;
use livecart::commerce::payments::TestCards;
use livecart::domain::DropId;
use livecart::store::Store;
use livecart::wire::routes;
use livecart::wire::ws::{ClientMsg, DropCard, OrderView, RoomEvent, ServerMsg};

fn comment(text: &str) -> ClientMsg {
    ClientMsg::Comment { text: text.try_into().unwrap() }
}

async fn next_comment(ws: &mut Ws) -> (u64, String) {
    ws.recv_until(|m| match m {
        ServerMsg::Event { seq, event: RoomEvent::Comment(c) } => Some((seq, c.text)),
        _ => None,
    })
    .await
}

fn checkout_ok(key: &str) -> ClientMsg {
    checkout(key, TestCards::SUCCEEDS)
}

async fn start_drop(host: &mut Ws, product: livecart::domain::ProductId, quantity: i64) -> DropCard {
    host.send(&ClientMsg::StartDrop {
        product_id: product,
        quantity,
        price: None,
        duration_secs: 600,
        per_buyer: None,
    })
    .await;
    host.recv_until(|m| match m {
        ServerMsg::Event { event: RoomEvent::DropStarted { drop }, .. } => Some(drop),
        ServerMsg::Error { code, .. } => panic!("start_drop failed: {code}"),
        _ => None,
    })
    .await
}

async fn sold_in_drop(store: &Store, drop: DropId) -> i64 {
    store.units_sold_in_drop(drop).await.unwrap()
}

#[tokio::test]
async fn a_comment_posted_on_one_node_reaches_viewers_on_every_node_in_order() {
    let Some(cluster) = Cluster::start(3).await else { return };
    let scene = cluster.node(0).live_room(&[5]).await;
    let mut viewers = Vec::new();
    for i in 0..15 {
        viewers.push(cluster.node(i % 3).viewer(scene.room, None).await);
    }
    let (mut writer, _) = cluster.node(0).viewer(scene.room, None).await;
    for i in 0..20 {
        writer.send(&comment(&format!("c{i}"))).await;
    }
    let streams = join_all(viewers.iter_mut().map(|(ws, snapshot)| async move {
        let mut seen = Vec::new();
        while seen.len() < 20 {
            seen.push(next_comment(ws).await);
        }
        (snapshot.epoch.clone(), seen)
    }))
    .await;
    let expected: Vec<String> = (0..20).map(|i| format!("c{i}")).collect();
    for (epoch, seen) in &streams {
        assert_eq!(epoch, &streams[0].0, "one epoch for the room on every node");
        assert_eq!(seen, &streams[0].1, "the same sequence numbers and order on every node");
        assert_eq!(seen.iter().map(|(_, t)| t.clone()).collect::<Vec<_>>(), expected);
        assert!(seen.windows(2).all(|w| w[1].0 == w[0].0 + 1));
    }
}

#[tokio::test]
async fn a_drop_of_fifty_hammered_by_six_hundred_checkouts_over_three_nodes_sells_exactly_fifty() {
    let Some(cluster) = Cluster::start(3).await else { return };
    let scene = cluster.node(0).live_room(&[500]).await;
    let product = scene.products[0];
    let (mut host, _) = cluster.node(1).viewer(scene.room, Some(&scene.creator.token)).await;
    let drop = start_drop(&mut host, product, 50).await;

    let mut buyers = Vec::new();
    for i in 0..600 {
        buyers.push(cluster.node(i % 3).shopper(scene.room, product, 1).await);
    }
    // Each buyer retries as the protocol says: on a busy machine the database or Redis may
    // not answer a checkout in time (`unavailable`).
    let outcomes =
        join_all(buyers.iter_mut().enumerate().map(|(i, (ws, _))| async move {
            ws.checkout_until_answered(&checkout_ok(&format!("stampede-{i}"))).await
        }))
        .await;
    // Checkouts that start after the drop sold out buy at the regular price.
    let confirmed: Vec<&OrderView> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    let in_drop = confirmed.iter().filter(|o| o.lines[0].drop_id == Some(drop.id)).count();
    assert_eq!(in_drop, 50);
    assert!(confirmed.iter().all(|o| o.creator_id == scene.host_id()));
    assert!(outcomes.iter().filter_map(|o| o.as_ref().err()).all(|c| c == "sold_out"), "{outcomes:?}");
    assert_eq!(sold_in_drop(&cluster.store, drop.id).await, 50);
    let stock = cluster.store.product(product).await.unwrap().unwrap().stock;
    assert_eq!(stock, 500 - confirmed.len() as i64);
}

#[tokio::test]
async fn the_same_idempotency_key_sent_to_two_nodes_gives_one_order() {
    let Some(cluster) = Cluster::start(2).await else { return };
    let scene = cluster.node(0).live_room(&[10]).await;
    let (mut first, buyer) = cluster.node(0).shopper(scene.room, scene.products[0], 1).await;
    let (mut second, _) = cluster.node(1).viewer(scene.room, Some(&buyer.token)).await;
    let (a, b) = tokio::join!(
        async {
            first.send(&checkout_ok("one-key")).await;
            first.checkout_outcome().await
        },
        async {
            second.send(&checkout_ok("one-key")).await;
            second.checkout_outcome().await
        }
    );
    let ids: Vec<_> = [&a, &b].iter().filter_map(|o| o.as_ref().ok().map(|o| o.id)).collect();
    assert!(!ids.is_empty(), "{a:?} {b:?}");
    assert!(ids.windows(2).all(|w| w[0] == w[1]));
    for o in [&a, &b] {
        if let Err(code) = o {
            assert_eq!(code, "checkout_in_progress");
        }
    }
    second.send(&checkout_ok("one-key")).await;
    let replay = second.checkout_outcome().await.expect("a later retry on the other node replays");
    assert_eq!(replay.id, ids[0]);
    let orders: Vec<OrderView> = cluster.node(1).get(routes::ORDERS, Some(&buyer.token)).await;
    assert_eq!(orders.len(), 1);
}

#[tokio::test]
async fn redis_losing_everything_mid_drop_oversells_nothing_and_loses_no_acknowledged_order() {
    let Some(cluster) = Cluster::start(2).await else { return };
    let scene = cluster.node(0).live_room(&[100]).await;
    let product = scene.products[0];
    let (mut host, _) = cluster.node(0).viewer(scene.room, Some(&scene.creator.token)).await;
    let drop = start_drop(&mut host, product, 30).await;

    let mut buyers = Vec::new();
    for i in 0..80 {
        buyers.push(cluster.node(i % 2).shopper(scene.room, product, 1).await);
    }
    let (early, late) = buyers.split_at_mut(20);
    let early_outcomes = join_all(early.iter_mut().enumerate().map(|(i, (ws, _))| async move {
        ws.send(&checkout_ok(&format!("early-{i}"))).await;
        ws.checkout_outcome().await
    }))
    .await;
    assert_eq!(early_outcomes.iter().filter(|o| o.is_ok()).count(), 20);

    // Everything this deployment had in Redis is gone, as after a restart without
    // persistence: stock counters, holds, history, carts.
    let url = cluster.backing.redis_url.clone().unwrap();
    forget_redis_prefix(&url, &cluster.backing.redis_prefix).await;

    let late_outcomes = join_all(late.iter_mut().enumerate().map(|(i, (ws, _))| async move {
        // Carts were in Redis too; they come back from the database: nothing to add again.
        ws.send(&checkout_ok(&format!("late-{i}"))).await;
        ws.checkout_outcome().await
    }))
    .await;
    // Once the drop sold out, later checkouts buy at the regular price.
    let late_sold = late_outcomes.iter().filter(|o| o.as_ref().is_ok_and(|o| o.lines[0].drop_id.is_some())).count();
    assert_eq!(late_sold, 10, "the drop continues after the rebuild and sells its remaining units: {late_outcomes:?}");
    let acknowledged: Vec<&OrderView> =
        early_outcomes.iter().chain(late_outcomes.iter()).filter_map(|o| o.as_ref().ok()).collect();
    for order in &acknowledged {
        let stored = cluster.store.order_record(order.id).await.unwrap().expect("acknowledged order is stored");
        assert_eq!(stored.view.status, livecart::wire::ws::OrderStatus::Paid);
    }
    assert_eq!(sold_in_drop(&cluster.store, drop.id).await, 30, "never more than the drop");
    let stock = cluster.store.product(product).await.unwrap().unwrap().stock;
    assert_eq!(stock, 100 - acknowledged.len() as i64);
}

#[tokio::test]
async fn viewers_of_a_killed_node_resume_on_another_node_without_a_gap() {
    let Some(mut cluster) = Cluster::start(3).await else { return };
    let scene = cluster.node(0).live_room(&[5]).await;
    let (mut writer, _) = cluster.node(0).viewer(scene.room, None).await;
    let (mut watcher, _) = cluster.node(1).viewer(scene.room, None).await;
    let mut doomed = Vec::new();
    for _ in 0..3 {
        doomed.push(cluster.node(2).viewer(scene.room, None).await);
    }
    writer.send(&comment("before the crash")).await;
    let mut positions = Vec::new();
    for (ws, snapshot) in doomed.iter_mut() {
        let (seq, _) = next_comment(ws).await;
        positions.push((seq, snapshot.epoch.clone()));
    }
    watcher.recv_until(|m| matches!(m, ServerMsg::Viewers { count: 5 }).then_some(())).await;

    cluster.kill(2).await;
    for i in 0..5 {
        writer.send(&comment(&format!("while away {i}"))).await;
    }
    // The dead node stops reporting and its viewers drop out of the room's count.
    watcher.recv_until(|m| matches!(m, ServerMsg::Viewers { count: 2 }).then_some(())).await;

    for (i, (since, epoch)) in positions.into_iter().enumerate() {
        let mut back = cluster.node(i % 2).ws().await;
        back.send(&ClientMsg::Join {
            room_id: scene.room,
            token: None,
            guest_name: Some("Back".try_into().unwrap()),
            since: Some(since),
            epoch: Some(epoch),
            audience_key: None,
        })
        .await;
        let (first, last) = match back.recv().await {
            ServerMsg::Resumed { since: from, seq, .. } => (from, seq),
            other => panic!("expected a resume, got {other:?}"),
        };
        assert_eq!(first, since);
        let mut texts = Vec::new();
        let mut expected = since + 1;
        while expected <= last {
            let (seq, text) = next_comment(&mut back).await;
            assert_eq!(seq, expected, "no gap");
            texts.push(text);
            expected += 1;
        }
        assert_eq!(texts, (0..5).map(|i| format!("while away {i}")).collect::<Vec<_>>());
    }
}

#[tokio::test]
async fn a_viewer_on_a_node_without_the_publisher_is_redirected_to_the_node_with_it() {
    use livecart::media::IceSettings;
    use livecart_testkit::media::{CountingViewer, SyntheticPublisher, VideoCodec};
    let Some(cluster) = Cluster::start(2).await else { return };
    let scene = cluster.node(0).live_room(&[5]).await;
    let (mut room_ws, _) = cluster.node(1).viewer(scene.room, None).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let sdp = |url: String, offer: String| http.post(url).header("content-type", "application/sdp").body(offer);

    let (publisher, offer) = SyntheticPublisher::offer(&IceSettings::loopback(), VideoCodec::H264).await.unwrap();
    let whip = cluster.node(0).url(&livecart::wire::routes::path(routes::WHIP, &[scene.room.get()]));
    let answer = sdp(whip, offer).bearer_auth(&scene.creator.token).send().await.unwrap();
    assert_eq!(answer.status(), 201);
    publisher.start(answer.text().await.unwrap(), 50).await.unwrap();
    // The room hears about the stream on every node.
    room_ws
        .recv_until(|m| matches!(m, ServerMsg::Event { event: RoomEvent::StreamStarted { .. }, .. }).then_some(()))
        .await;

    let whep = livecart::wire::routes::path(routes::WHEP, &[scene.room.get()]);
    let (viewer, offer) = CountingViewer::offer(&IceSettings::loopback()).await.unwrap();
    let redirected = sdp(cluster.node(1).url(&whep), offer.clone()).send().await.unwrap();
    assert_eq!(redirected.status(), 307);
    let location = redirected.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, cluster.node(0).url(&whep));
    let answer = sdp(location, offer).send().await.unwrap();
    assert_eq!(answer.status(), 201);
    let viewer = viewer.start(answer.text().await.unwrap()).await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while viewer.packets() < 10 {
        assert!(tokio::time::Instant::now() < deadline, "the redirected viewer receives the stream");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    viewer.close().await;
    publisher.close().await;
}

#[tokio::test]
async fn a_price_and_a_stock_change_reach_viewers_on_every_node_and_every_node_charges_the_new_price() {
    let Some(cluster) = Cluster::start(3).await else { return };
    let scene = cluster.node(0).live_room(&[50]).await;
    let product = scene.products[0];
    let mut viewers = Vec::new();
    for i in 0..3 {
        viewers.push(cluster.node(i).shopper(scene.room, product, 1).await.0);
    }
    let price = serde_json::json!({"price": 1_234});
    let (status, _) = cluster
        .node(1)
        .send(
            reqwest::Method::PATCH,
            &routes::path(routes::PRODUCT, &[product.get()]),
            Some(&scene.brand.token),
            Some(&price),
        )
        .await;
    assert_eq!(status, 200);
    for ws in &mut viewers {
        let card = next_product_update(ws).await;
        assert_eq!(card.price.amount, 1_234, "every node's viewers see the new price");
    }
    let stock = serde_json::json!({"stock": 40, "expected": 50});
    let (status, _) = cluster
        .node(2)
        .send(
            reqwest::Method::PUT,
            &routes::path(routes::PRODUCT_STOCK, &[product.get()]),
            Some(&scene.brand.token),
            Some(&stock),
        )
        .await;
    assert_eq!(status, 200);
    for ws in &mut viewers {
        assert_eq!(next_product_update(ws).await.stock, 40, "and the new stock");
    }
    for (i, ws) in viewers.iter_mut().enumerate() {
        ws.send(&checkout_ok(&format!("priced-{i}"))).await;
        let order = ws.checkout_outcome().await.expect("paid");
        assert_eq!(order.subtotal.amount, 1_234, "node {i} charged the new price");
    }
}

/// Brand edits of one product made at once on three nodes commit in one order and may
/// be announced in another: whatever the race, every node's viewers end on the card the
/// database holds, because a card older than one already out is never sent.
#[tokio::test]
async fn price_changes_racing_over_three_nodes_leave_every_viewer_on_the_price_the_database_holds() {
    let Some(cluster) = Cluster::start(3).await else { return };
    let nodes: Vec<&Client> = (0..3).map(|i| cluster.node(i)).collect();
    racing_price_changes_end_on_the_database_price(&nodes).await;
}

/// The same race between the requests one node serves at once, on each pass's backends.
#[tokio::test]
async fn price_changes_racing_on_one_node_leave_its_viewers_on_the_price_the_database_holds() {
    let app = TestApp::spawn().await;
    racing_price_changes_end_on_the_database_price(&[&app.client]).await;
}

/// Six rounds of nine price edits at once, spread over `nodes`, with a viewer on each:
/// after each round every viewer's last card carries the price the database holds.
async fn racing_price_changes_end_on_the_database_price(nodes: &[&Client]) {
    let scene = nodes[0].live_room(&[50]).await;
    let product = scene.products[0];
    let route = routes::path(routes::PRODUCT, &[product.get()]);
    let mut viewers = Vec::new();
    for node in nodes {
        viewers.push(node.shopper(scene.room, product, 1).await.0);
    }
    let set_price = |node: usize, price: i64| {
        let (client, route, token) = (nodes[node % nodes.len()], route.clone(), scene.brand.token.clone());
        async move {
            let body = serde_json::json!({ "price": price });
            let (status, answer) = client.send(reqwest::Method::PATCH, &route, Some(&token), Some(&body)).await;
            assert_eq!(status, 200, "price {price} on node {node}: {answer}");
        }
    };
    for round in 0..6_i64 {
        join_all((0..9).map(|i| set_price(i, 1_000 + round * 100 + i as i64))).await;
        let held: livecart::wire::api::Product = nodes[0].get(&route, None).await;
        // A last edit, made after every one of the round was answered, marks where the
        // round's cards end in each viewer's stream.
        let marker = 90_000 + round;
        set_price(0, marker).await;
        for (node, ws) in viewers.iter_mut().enumerate() {
            let mut last = None;
            loop {
                let card = next_product_update(ws).await;
                if card.price.amount == marker {
                    break;
                }
                last = Some(card.price.amount);
            }
            assert_eq!(
                last,
                Some(held.card.price.amount),
                "round {round}: node {node}'s viewers ended the round on the database's price"
            );
        }
    }
}

async fn next_product_update(ws: &mut Ws) -> livecart::wire::ws::ProductCard {
    ws.recv_until(|m| match m {
        ServerMsg::Event { event: RoomEvent::ProductUpdated { product }, .. } => Some(product),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn viewers_waiting_on_another_node_see_the_room_go_live_and_can_buy() {
    let Some(cluster) = Cluster::start(2).await else { return };
    let scene = cluster.node(0).scheduled_room(&[5], "EUR").await;
    let (mut waiting, buyer) = cluster.node(1).shopper(scene.room, scene.products[0], 1).await;
    waiting.send(&checkout_ok("too-early")).await;
    assert_eq!(waiting.checkout_outcome().await.unwrap_err(), "room_not_live");
    let _: livecart::wire::api::RoomView = cluster
        .node(0)
        .post(&routes::path(routes::ROOM_GO_LIVE, &[scene.room.get()]), Some(&scene.creator.token), &())
        .await;
    waiting.recv_until(|m| matches!(m, ServerMsg::Event { event: RoomEvent::RoomLive, .. }).then_some(())).await;
    waiting.send(&checkout_ok("on-time")).await;
    let order = waiting.checkout_outcome().await.expect("the room is live on this node too");
    assert_eq!(order.buyer_id, buyer.account.id);
}

#[tokio::test]
async fn two_start_drops_on_two_nodes_at_once_start_exactly_one_drop() {
    let Some(cluster) = Cluster::start(2).await else { return };
    for round in 0..5 {
        let scene = cluster.node(0).live_room(&[20, 20]).await;
        let (mut a, _) = cluster.node(0).viewer(scene.room, Some(&scene.creator.token)).await;
        let (mut b, _) = cluster.node(1).viewer(scene.room, Some(&scene.creator.token)).await;
        let start =
            |p| ClientMsg::StartDrop { product_id: p, quantity: 3, price: None, duration_secs: 600, per_buyer: None };
        let (first, second) = (start(scene.products[0]), start(scene.products[1]));
        tokio::join!(a.send(&first), b.send(&second));
        let (x, y) = tokio::join!(
            a.recv_until(|m| match m {
                ServerMsg::Event { event: RoomEvent::DropStarted { drop }, .. } => Some(Ok(drop.id)),
                ServerMsg::Error { code, request: Some(r), .. } if r == "start_drop" => Some(Err(code)),
                _ => None,
            }),
            b.recv_until(|m| match m {
                ServerMsg::Event { event: RoomEvent::DropStarted { drop }, .. } => Some(Ok(drop.id)),
                ServerMsg::Error { code, request: Some(r), .. } if r == "start_drop" => Some(Err(code)),
                _ => None,
            })
        );
        // Whatever each connection heard first, the database holds one live drop.
        let live = cluster.store.live_drop(scene.room).await.unwrap().expect("a drop runs");
        for outcome in [x, y] {
            match outcome {
                Ok(id) => assert_eq!(id, live.id, "round {round}: only the one drop was announced"),
                Err(code) => assert_eq!(code, "drop_running", "round {round}"),
            }
        }
    }
}
