use crate::helpers::{TestApp, checkout, test_config};
use futures_util::future::join_all;
use livecart::commerce::payments::TestCards;
use livecart::domain::{Clock, ProductId, Role, UnixMs};
use livecart::wire::api::CreatorOrders;
use livecart::wire::routes::{self, path};
use livecart::wire::ws::{ClientMsg, OrderStatus, OrderView, RoomEvent, ServerMsg};
use std::time::Duration;

async fn db_stock(app: &TestApp, product: ProductId) -> i64 {
    app.state.store.product(product).await.unwrap().unwrap().stock
}

#[tokio::test]
async fn two_hundred_concurrent_checkouts_for_a_drop_of_37_sell_exactly_37_each_attributed_to_the_host() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[100]).await;
    let product = scene.products[0];
    let (mut host, _) = app.viewer(scene.room, Some(&scene.creator.token)).await;
    host.send(&ClientMsg::StartDrop {
        product_id: product,
        quantity: 37,
        price: Some(500),
        duration_secs: 600,
        per_buyer: None,
    })
    .await;
    let drop = host
        .recv_until(|m| match m {
            ServerMsg::Event { event: RoomEvent::DropStarted { drop }, .. } => Some(drop),
            ServerMsg::Error { code, .. } => panic!("start_drop failed: {code}"),
            _ => None,
        })
        .await;

    let mut buyers = Vec::new();
    for _ in 0..200 {
        buyers.push(app.shopper(scene.room, product, 1).await);
    }
    let outcomes = join_all(buyers.iter_mut().enumerate().map(|(i, (ws, _))| async move {
        ws.send(&checkout(&format!("drop-{i}"), TestCards::SUCCEEDS)).await;
        ws.checkout_outcome().await
    }))
    .await;

    // A checkout that starts after the drop's last sale buys at the regular price (the
    // drop is over as soon as it sells out): only the drop's units are capped at 37.
    let confirmed: Vec<&OrderView> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    let (in_drop, after): (Vec<&OrderView>, Vec<&OrderView>) =
        confirmed.iter().partition(|o| o.lines[0].drop_id.is_some());
    assert_eq!(in_drop.len(), 37);
    assert!(outcomes.iter().filter_map(|o| o.as_ref().err()).all(|code| code == "sold_out"));
    for order in &in_drop {
        assert_eq!(order.creator_id, scene.host_id());
        assert_eq!(order.lines[0].drop_id, Some(drop.id));
        assert_eq!(order.lines[0].unit_price, 500, "the drop price applies");
        assert_eq!(order.commission.amount, 50, "10% of the price actually paid");
    }
    for order in &after {
        assert_eq!(order.lines[0].unit_price, 1_000, "after the drop, the regular price");
    }
    assert_eq!(app.state.store.units_sold_in_drop(drop.id).await.unwrap(), 37);
    assert_eq!(db_stock(&app, product).await, 63 - after.len() as i64);
    let attributed: CreatorOrders =
        app.get(&path(routes::CREATOR_ORDERS, &[scene.host_id().get()]), Some(&scene.creator.token)).await;
    let paid = attributed.orders.iter().filter(|o| o.status == OrderStatus::Paid).count();
    assert_eq!(paid, confirmed.len());
    let after_sales = after.len() as i64 * 1_000;
    assert_eq!(attributed.earnings[0].sales.amount, 37 * 500 + after_sales);
    assert_eq!(attributed.earnings[0].commission.amount, 37 * 50 + after_sales / 10);
}

#[tokio::test]
async fn the_same_idempotency_key_gives_one_order_sequentially_and_concurrently() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[50]).await;
    let product = scene.products[0];
    let (mut ws, buyer) = app.shopper(scene.room, product, 2).await;

    ws.send(&checkout("same-key", TestCards::SUCCEEDS)).await;
    let first = ws.checkout_outcome().await.expect("first checkout");
    ws.send(&checkout("same-key", TestCards::SUCCEEDS)).await;
    let replay = ws.checkout_outcome().await.expect("replayed checkout");
    assert_eq!(first, replay, "the replay is the same order");

    // Two connections of the same buyer race with one key.
    let (mut second, _) = app.viewer(scene.room, Some(&buyer.token)).await;
    ws.send(&ClientMsg::CartAdd { product_id: product, quantity: 1 }).await;
    ws.recv_until(|m| matches!(m, ServerMsg::Cart { .. }).then_some(())).await;
    let (a, b) = tokio::join!(
        async {
            ws.send(&checkout("raced-key", TestCards::SUCCEEDS)).await;
            ws.checkout_outcome().await
        },
        async {
            second.send(&checkout("raced-key", TestCards::SUCCEEDS)).await;
            second.checkout_outcome().await
        }
    );
    let ids: Vec<_> = [&a, &b].iter().filter_map(|o| o.as_ref().ok().map(|o| o.id)).collect();
    assert!(!ids.is_empty(), "one of the racers gets the order: {a:?} {b:?}");
    assert!(ids.windows(2).all(|w| w[0] == w[1]));
    for o in [&a, &b] {
        if let Err(code) = o {
            assert_eq!(code, "checkout_in_progress");
        }
    }
    let orders: Vec<OrderView> = app.get(routes::ORDERS, Some(&buyer.token)).await;
    assert_eq!(orders.len(), 2, "one order per key");
    assert_eq!(db_stock(&app, product).await, 47);

    // Reusing a key for a different purchase is refused.
    ws.send(&ClientMsg::CartAdd { product_id: product, quantity: 3 }).await;
    ws.recv_until(|m| matches!(m, ServerMsg::Cart { .. }).then_some(())).await;
    ws.send(&checkout("same-key", TestCards::SUCCEEDS)).await;
    assert_eq!(ws.checkout_outcome().await.unwrap_err(), "idempotency_mismatch");
}

#[tokio::test]
async fn a_declined_card_leaves_stock_unchanged_and_says_why() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[5]).await;
    let product = scene.products[0];
    let (mut ws, buyer) = app.shopper(scene.room, product, 2).await;

    ws.send(&checkout("declined", TestCards::DECLINES)).await;
    let declined = ws
        .recv_until(|m| match m {
            ServerMsg::Error { code, message, .. } => Some((code, message)),
            _ => None,
        })
        .await;
    assert_eq!(declined.0, "payment_declined");
    assert!(declined.1.contains("insufficient funds"), "{}", declined.1);
    assert_eq!(app.stock(product).await, 5);
    assert_eq!(db_stock(&app, product).await, 5);
    let orders: Vec<OrderView> = app.get(routes::ORDERS, Some(&buyer.token)).await;
    assert_eq!(orders[0].status, OrderStatus::Cancelled);

    // The cart is still there: another card, another key, and it goes through.
    ws.send(&checkout("second-card", TestCards::SUCCEEDS)).await;
    assert!(ws.checkout_outcome().await.is_ok());
    assert_eq!(db_stock(&app, product).await, 3);
}

#[tokio::test]
async fn a_guest_cannot_fill_a_cart_or_check_out() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[5]).await;
    let (mut guest, snapshot) = app.viewer(scene.room, None).await;
    assert!(snapshot.cart.is_none());
    guest.send(&ClientMsg::CartAdd { product_id: scene.products[0], quantity: 1 }).await;
    assert_eq!(guest.error_code().await, "unauthenticated");
    guest.send(&checkout("guest", TestCards::SUCCEEDS)).await;
    assert_eq!(guest.error_code().await, "unauthenticated");
    assert_eq!(app.stock(scene.products[0]).await, 5);
}

#[tokio::test]
async fn a_brand_sales_feed_sees_its_own_sales_and_no_other_brands() {
    let app = TestApp::spawn().await;
    let ours = app.live_room(&[5]).await;
    let theirs = app.live_room(&[5]).await;
    let mut feed = app.ws().await;
    feed.send(&ClientMsg::FollowSales { token: ours.brand.token.clone() }).await;
    assert!(matches!(feed.recv().await, ServerMsg::FollowingSales { brand_id } if brand_id == ours.brand_id));

    let (mut other_buyer, _) = app.shopper(theirs.room, theirs.products[0], 1).await;
    other_buyer.send(&checkout("theirs", TestCards::SUCCEEDS)).await;
    other_buyer.checkout_outcome().await.expect("their sale");
    let (mut our_buyer, _) = app.shopper(ours.room, ours.products[0], 2).await;
    our_buyer.send(&checkout("ours", TestCards::SUCCEEDS)).await;
    let order = our_buyer.checkout_outcome().await.expect("our sale");

    // Their sale was announced before ours was placed: had it leaked, it would come first.
    match feed.recv().await {
        ServerMsg::BrandSale(sale) => {
            assert_eq!(sale.order_id, order.id);
            assert_eq!(sale.product_id, ours.products[0]);
            assert_eq!(sale.creator_id, ours.host_id());
            assert_eq!(sale.quantity, 2);
            assert_eq!(sale.amount.amount, 2_000);
        }
        other => panic!("expected our sale, got {other:?}"),
    }

    let mut not_brand = app.ws().await;
    not_brand.send(&ClientMsg::FollowSales { token: ours.creator.token.clone() }).await;
    assert_eq!(not_brand.error_code().await, "forbidden");
}

#[tokio::test]
async fn the_room_sees_a_sale_without_private_data() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[5]).await;
    let (mut watcher, _) = app.viewer(scene.room, None).await;
    let (mut ws, _) = app.shopper(scene.room, scene.products[0], 2).await;
    ws.send(&checkout("ticker", TestCards::SUCCEEDS)).await;
    ws.checkout_outcome().await.unwrap();
    let sale = watcher
        .recv_until(|m| match m {
            ServerMsg::Event { event: RoomEvent::Sale(s), .. } => Some(s),
            _ => None,
        })
        .await;
    assert_eq!((sale.buyer.as_str(), sale.quantity, sale.stock_left), ("Buyer", 2, 3));
    let raw = serde_json::to_string(&sale).unwrap();
    assert!(!raw.contains("@test.livecart") && !raw.contains("account"), "{raw}");
}

#[tokio::test]
async fn a_hold_expires_and_the_unit_is_sold_again() {
    let clock = Clock::manual(UnixMs(1_800_000_000_000));
    let mut config = test_config();
    config.hold_ttl = Duration::from_secs(60);
    let app = TestApp::spawn_with(config, clock.clone()).await;
    let scene = app.live_room(&[1]).await;
    let product = scene.products[0];

    let (mut first, _) = app.shopper(scene.room, product, 1).await;
    first.send(&checkout("slow", TestCards::FAILS_ONCE)).await;
    assert_eq!(first.checkout_outcome().await.unwrap_err(), "payment_unavailable");
    assert_eq!(app.stock(product).await, 0, "the unit is held for the retry");

    let (mut second, _) = app.shopper(scene.room, product, 1).await;
    second.send(&checkout("fast", TestCards::SUCCEEDS)).await;
    assert_eq!(second.checkout_outcome().await.unwrap_err(), "sold_out");

    clock.advance(Duration::from_secs(61));
    app.state.commerce.sweep().await.unwrap();
    assert_eq!(app.stock(product).await, 1, "the expired hold gave the unit back");

    second.send(&checkout("fast-again", TestCards::SUCCEEDS)).await;
    let order = second.checkout_outcome().await.expect("the unit sells again");
    assert_eq!(order.status, OrderStatus::Paid);

    first.send(&checkout("slow", TestCards::FAILS_ONCE)).await;
    assert_eq!(first.checkout_outcome().await.unwrap_err(), "hold_expired");
    assert_eq!(db_stock(&app, product).await, 0);
}

#[tokio::test]
async fn a_retry_after_a_transient_failure_pays_for_the_same_order() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[3]).await;
    let (mut ws, buyer) = app.shopper(scene.room, scene.products[0], 1).await;
    ws.send(&checkout("retry", TestCards::FAILS_ONCE)).await;
    assert_eq!(ws.checkout_outcome().await.unwrap_err(), "payment_unavailable");
    ws.send(&checkout("retry", TestCards::FAILS_ONCE)).await;
    let order = ws.checkout_outcome().await.expect("the retry succeeds");
    let orders: Vec<OrderView> = app.get(routes::ORDERS, Some(&buyer.token)).await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].id, order.id);
    assert_eq!(db_stock(&app, scene.products[0]).await, 2);
}

#[tokio::test]
async fn bad_cart_input_gets_a_clear_error_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[5]).await;
    let other = app.live_room(&[5]).await;
    let buyer = app.register(Role::Viewer, "Careful", None).await;
    let (mut ws, _) = app.viewer(scene.room, Some(&buyer.token)).await;
    for quantity in [0, -3, 100, 1_000_000_000_000] {
        ws.send_invalid_msg(&ClientMsg::CartAdd { product_id: scene.products[0], quantity }).await;
        assert_eq!(ws.error_code().await, "invalid_input", "quantity {quantity}");
    }
    ws.send_invalid(r#"{"type":"cart_add","product_id":-1,"quantity":1}"#).await;
    assert_eq!(ws.error_code().await, "invalid_input");
    ws.send(&ClientMsg::CartAdd { product_id: other.products[0], quantity: 1 }).await;
    assert_eq!(ws.error_code().await, "not_in_lineup");
    ws.send(&checkout("empty", TestCards::SUCCEEDS)).await;
    assert_eq!(ws.error_code().await, "cart_empty");
    let (_, snapshot) = app.viewer(scene.room, Some(&buyer.token)).await;
    assert!(snapshot.cart.unwrap().lines.is_empty());
}

#[tokio::test]
async fn a_checkout_while_redis_does_not_answer_is_unavailable_and_its_retry_with_the_key_buys_once() {
    use crate::backend_relay::BackendRelay;
    use crate::helpers::{Backing, TEST_REDIS};
    let Ok(redis) = std::env::var(TEST_REDIS) else {
        eprintln!("skipped: needs {TEST_REDIS}");
        return;
    };
    let Some(server) = redis.strip_prefix("redis://").and_then(|a| a.trim_end_matches('/').parse().ok()) else {
        eprintln!("skipped: needs {TEST_REDIS} to name one Redis server by its address");
        return;
    };
    let relay = BackendRelay::start(server).await;
    let backing = Backing::new().await;
    let mut config = test_config();
    backing.configure(&mut config);
    config.redis_url = Some(format!("redis://{}", relay.addr));
    let app = TestApp::spawn_on(config, Clock::system(), backing).await;
    let scene = app.live_room(&[5]).await;
    let product = scene.products[0];
    let (mut ws, buyer) = app.shopper(scene.room, product, 1).await;
    let buy = checkout("through-a-stall", TestCards::SUCCEEDS);

    relay.silence(true);
    ws.send(&buy).await;
    let stalled = ws.checkout_outcome().await;
    relay.silence(false);
    assert_eq!(stalled.unwrap_err(), "unavailable", "Redis did not answer: the client may retry");

    let order = ws.checkout_until_answered(&buy).await.expect("the retry with the same key buys");
    let orders: Vec<OrderView> = app.get(routes::ORDERS, Some(&buyer.token)).await;
    assert_eq!(orders.iter().map(|o| o.id).collect::<Vec<_>>(), [order.id], "one order");
    assert_eq!(orders[0].status, OrderStatus::Paid);
    assert_eq!(db_stock(&app, product).await, 4, "one unit sold");
}
