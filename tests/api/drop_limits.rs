//! Per-buyer limits on drops: at most K units of a drop per buyer over all their placed
//! and paid orders, on one node and across nodes; a checkout that fails gives its units
//! back to the buyer's allowance.

use crate::helpers::{Client, Ws, checkout};
use crate::nodes::Cluster;
use futures_util::future::join_all;
use livecart::commerce::payments::TestCards;
use livecart::domain::{ProductId, Role, RoomId};
use livecart::wire::api::SessionResponse;
use livecart::wire::ws::{ClientMsg, DropCard, RoomEvent, ServerMsg};

async fn limited_drop(host: &mut Ws, product: ProductId, quantity: i64, per_buyer: i64) -> DropCard {
    host.send(&ClientMsg::StartDrop {
        product_id: product,
        quantity,
        price: Some(500),
        duration_secs: 600,
        per_buyer: Some(per_buyer),
    })
    .await;
    host.recv_until(|m| match m {
        ServerMsg::Event { event: RoomEvent::DropStarted { drop }, .. } => Some(drop),
        ServerMsg::Error { code, .. } => panic!("start_drop failed: {code}"),
        _ => None,
    })
    .await
}

/// Puts `quantity` in the cart and checks out; the order's drop units, or the error code.
async fn buy(ws: &mut Ws, product: ProductId, quantity: i64, key: &str, card: &str) -> Result<i64, String> {
    ws.send(&ClientMsg::CartSet { product_id: product, quantity }).await;
    ws.recv_until(|m| matches!(m, ServerMsg::Cart { .. }).then_some(())).await;
    ws.send(&checkout(key, card)).await;
    ws.checkout_outcome().await.map(|o| o.lines.iter().filter(|l| l.drop_id.is_some()).map(|l| l.quantity).sum())
}

async fn joined(client: &Client, room: RoomId, who: &SessionResponse) -> Ws {
    client.viewer(room, Some(&who.token)).await.0
}

#[tokio::test]
async fn a_buyer_gets_at_most_the_drops_limit_and_a_failed_checkout_gives_units_back() {
    let app = crate::helpers::TestApp::spawn().await;
    let scene = app.live_room(&[50]).await;
    let product = scene.products[0];
    let (mut host, _) = app.viewer(scene.room, Some(&scene.creator.token)).await;
    let drop = limited_drop(&mut host, product, 10, 2).await;
    assert_eq!(drop.per_buyer, Some(2));
    let (_, late) = app.viewer(scene.room, None).await;
    assert_eq!(late.drop.and_then(|d| d.per_buyer), Some(2), "the snapshot says the limit");

    let ana = app.register(Role::Viewer, "Ana", None).await;
    let mut ws = joined(&app, scene.room, &ana).await;
    assert_eq!(buy(&mut ws, product, 3, "too-many", TestCards::SUCCEEDS).await, Err("drop_limit".into()));
    assert_eq!(buy(&mut ws, product, 2, "two", TestCards::SUCCEEDS).await, Ok(2));
    assert_eq!(buy(&mut ws, product, 1, "one-more", TestCards::SUCCEEDS).await, Err("drop_limit".into()));
    assert_eq!(app.stock(product).await, 48, "a refused checkout holds nothing");

    let ben = app.register(Role::Viewer, "Ben", None).await;
    let mut ws = joined(&app, scene.room, &ben).await;
    assert_eq!(buy(&mut ws, product, 2, "declined", TestCards::DECLINES).await, Err("payment_declined".into()));
    assert_eq!(buy(&mut ws, product, 2, "paid", TestCards::SUCCEEDS).await, Ok(2), "the declined units came back");
}

#[tokio::test]
async fn one_buyer_checking_out_on_two_nodes_at_once_stays_within_the_limit() {
    let Some(cluster) = Cluster::start(2).await else { return };
    let scene = cluster.node(0).live_room(&[100]).await;
    let product = scene.products[0];
    let (mut host, _) = cluster.node(0).viewer(scene.room, Some(&scene.creator.token)).await;
    let drop = limited_drop(&mut host, product, 60, 3).await;
    let mut pairs = Vec::new();
    for i in 0..8 {
        let who = cluster.node(0).register(Role::Viewer, &format!("Twin {i}"), None).await;
        let (a, b) = (joined(cluster.node(0), scene.room, &who).await, joined(cluster.node(1), scene.room, &who).await);
        pairs.push((a, b));
    }
    let outcomes = join_all(pairs.iter_mut().enumerate().map(|(i, (a, b))| async move {
        let (key_a, key_b) = (format!("a-{i}"), format!("b-{i}"));
        let (first, second) = tokio::join!(
            buy(a, product, 2, &key_a, TestCards::SUCCEEDS),
            buy(b, product, 2, &key_b, TestCards::SUCCEEDS)
        );
        [first, second]
    }))
    .await;
    for [first, second] in outcomes {
        let paid: i64 = [&first, &second].iter().filter_map(|o| o.as_ref().ok()).sum();
        assert_eq!(paid, 2, "one of the two checkouts, never both: {first:?} {second:?}");
        // The account's cart is one on both nodes: the other checkout is refused for the
        // limit, or, when the first has already emptied the cart, finds nothing to buy.
        assert!(
            [&first, &second]
                .iter()
                .any(|o| matches!(o.as_ref().err().map(String::as_str), Some("drop_limit" | "cart_empty"))),
            "the other is refused: {first:?} {second:?}"
        );
    }
    assert_eq!(cluster.store.units_sold_in_drop(drop.id).await.unwrap(), 16);
}
