//! The money path: the payment ledger, lost answers and crashes between charge and
//! settle, refunds with their restock and commission reversal, the commission ledger,
//! and prices and stock that every viewer sees and every checkout charges.

use crate::helpers::{Scene, TestApp, Ws, checkout, test_config};
use livecart::commerce::payments::TestCards;
use livecart::domain::{AccountId, Clock, Currency, OrderId, ProductId, Role, RoomId, ShippingAddress, UnixMs};
use livecart::state::AppState;
use livecart::store::{
    CartWrite, ChargeOpening, CheckoutAsk, CheckoutReads, CommissionEntry, CommissionKind, NewOrder, NewOrderLine,
    NewShare, PaymentStatus, PlaceOutcome, PlacedOrder, RefusalRow, SettleOutcome,
};
use livecart::wire::api::{CommissionBalance, ProductPatchRequest, RefundStatus, RefundView, ShareRole, StockRequest};
use livecart::wire::routes::{self, path};
use livecart::wire::ws::{ClientMsg, OrderStatus, OrderView, RoomEvent, ServerMsg};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

const START: UnixMs = UnixMs(1_800_000_000_000);

async fn db_stock(app: &TestApp, product: ProductId) -> i64 {
    app.state.store.product(product).await.unwrap().unwrap().stock
}

/// Moves the database's stock from `expected` to `stock` as a change the inventory is not
/// to make: its stock adjustment is recorded as made.
async fn set_stock_behind_the_inventorys_back(app: &TestApp, product: ProductId, stock: i64, expected: i64) {
    let store = &app.state.store;
    let (stock, expected) = (stock.try_into().unwrap(), expected.try_into().unwrap());
    let adjustment =
        store.set_stock(product, stock, expected, START).await.unwrap().expect("the stock was as expected");
    store.adjustment_applied(adjustment.id, START).await.unwrap();
}

/// The provider's own books for an order's charge: (charged, refunded).
async fn provider_books(app: &TestApp, order: OrderId) -> Option<(i64, i64)> {
    let charge = app.state.store.charge_of(order).await.unwrap()?;
    app.state.store.test_card_totals(charge.provider_ref.as_deref()?).await.unwrap()
}

async fn refund(
    app: &TestApp,
    token: &str,
    order: OrderId,
    body: serde_json::Value,
) -> (reqwest::StatusCode, serde_json::Value) {
    app.send(Method::POST, &path(routes::ORDER_REFUNDS, &[order.get()]), Some(token), Some(&body)).await
}

#[tokio::test]
async fn a_charge_whose_answer_was_lost_is_found_on_retry_and_paid_exactly_once() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[5]).await;
    let (mut ws, _) = app.shopper(scene.room, scene.products[0], 1).await;
    ws.send(&checkout("lost", TestCards::ANSWER_LOST)).await;
    assert_eq!(ws.checkout_outcome().await.unwrap_err(), "payment_unavailable");
    ws.send(&checkout("lost", TestCards::ANSWER_LOST)).await;
    let order = ws.checkout_outcome().await.expect("the retry finds the charge");
    let charge = app.state.store.charge_of(order.id).await.unwrap().unwrap();
    assert_eq!(charge.status, PaymentStatus::Succeeded);
    assert_eq!(charge.attempts, 2, "both attempts were one charge");
    assert_eq!(provider_books(&app, order.id).await, Some((1_000, 0)), "the provider charged once");
    assert_eq!(db_stock(&app, scene.products[0]).await, 4);
}

#[tokio::test]
async fn a_charge_whose_answer_was_lost_is_refunded_and_recorded_when_nobody_retries() {
    let clock = Clock::manual(START);
    let mut config = test_config();
    config.hold_ttl = Duration::from_secs(60);
    let app = TestApp::spawn_with(config, clock.clone()).await;
    let scene = app.live_room(&[1]).await;
    let (mut ws, buyer) = app.shopper(scene.room, scene.products[0], 1).await;
    ws.send(&checkout("gone", TestCards::ANSWER_LOST)).await;
    assert_eq!(ws.checkout_outcome().await.unwrap_err(), "payment_unavailable");

    clock.advance(Duration::from_secs(61));
    // On a heavily loaded machine the first sweep once left this order placed (the
    // reconciler skips an order whose checkout it cannot claim yet, as when the server's
    // own sweeper holds it, and may still be refunding it when the order reads
    // cancelled): sweep again, as the server's own sweeper would, a bounded number of
    // times, until the refund has an outcome.
    let mut orders: Vec<OrderView> = Vec::new();
    let mut refunds = Vec::new();
    for _ in 0..100 {
        app.state.commerce.sweep().await.unwrap();
        orders = app.get(routes::ORDERS, Some(&buyer.token)).await;
        refunds = app.state.store.refunds_of_order(orders[0].id).await.unwrap();
        let refunded = !refunds.is_empty() && refunds.iter().all(|r| r.status != PaymentStatus::Pending);
        if orders[0].status != OrderStatus::Placed && refunded {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(orders[0].status, OrderStatus::Cancelled);
    let charge = app.state.store.charge_of(orders[0].id).await.unwrap().unwrap();
    assert_eq!(charge.status, PaymentStatus::Succeeded, "the ledger knows the money moved");
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].status, PaymentStatus::Refunded);
    assert_eq!(refunds[0].amount.amount, 1_000);
    assert_eq!(provider_books(&app, orders[0].id).await, Some((1_000, 1_000)), "the provider gave it all back");
    assert_eq!(app.stock(scene.products[0]).await, 1, "the unit is on sale again");
    assert_eq!(db_stock(&app, scene.products[0]).await, 1);
}

#[tokio::test]
async fn a_charge_that_never_happened_is_cancelled_after_the_hold_without_a_refund() {
    let clock = Clock::manual(START);
    let mut config = test_config();
    config.hold_ttl = Duration::from_secs(60);
    let app = TestApp::spawn_with(config, clock.clone()).await;
    let scene = app.live_room(&[1]).await;
    let (mut ws, buyer) = app.shopper(scene.room, scene.products[0], 1).await;
    ws.send(&checkout("once", TestCards::FAILS_ONCE)).await;
    assert_eq!(ws.checkout_outcome().await.unwrap_err(), "payment_unavailable");
    clock.advance(Duration::from_secs(61));
    // The node's own sweeper may hold the buyer's claim on this order when this sweep
    // comes (then this one leaves it to that one): wait, bounded, for either to finish.
    let orders = tokio::time::timeout(crate::helpers::WAIT, async {
        loop {
            app.state.commerce.sweep().await.unwrap();
            let orders: Vec<OrderView> = app.get(routes::ORDERS, Some(&buyer.token)).await;
            if orders[0].status != OrderStatus::Placed {
                return orders;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the expired order is reconciled");
    assert_eq!(orders[0].status, OrderStatus::Cancelled);
    let charge = app.state.store.charge_of(orders[0].id).await.unwrap().unwrap();
    assert_eq!(charge.status, PaymentStatus::Failed);
    assert!(app.state.store.refunds_of_order(orders[0].id).await.unwrap().is_empty());
    assert_eq!(provider_books(&app, orders[0].id).await, None, "the provider charged nothing");
    // The sweeper that cancelled it may still hold the key's claim for a moment: that
    // answer is `checkout_in_progress`, which a client retries (docs/protocol.md).
    let late = tokio::time::timeout(crate::helpers::WAIT, async {
        loop {
            ws.send(&checkout("once", TestCards::FAILS_ONCE)).await;
            match ws.checkout_outcome().await {
                Err(code) if code == "checkout_in_progress" => tokio::time::sleep(Duration::from_millis(20)).await,
                outcome => return outcome,
            }
        }
    })
    .await
    .expect("the key's claim is released");
    assert_eq!(late.unwrap_err(), "hold_expired", "a late retry charges nothing either");
    assert_eq!(provider_books(&app, orders[0].id).await, None);
}

/// A settlement records its order's charge as succeeded in its own transaction. Three
/// charges the provider took, settled in one batch: one still pending in the ledger is
/// recorded and paid; one a webhook recorded first is paid as well; one the ledger had
/// given up on meanwhile is left as it was, with its order placed and its stock untouched,
/// for the checkout to record the late approval and refund it.
#[tokio::test]
async fn a_settlement_records_its_charge_and_leaves_one_the_ledger_gave_up_on() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[5]).await;
    let product = scene.products[0];
    let store = &app.state.store;
    let mut placed = Vec::new();
    for i in 0..3 {
        let (mut ws, buyer) = app.shopper(scene.room, product, 1).await;
        ws.send(&checkout(&format!("charged-{i}"), TestCards::FAILS_ONCE)).await;
        assert_eq!(ws.checkout_outcome().await.unwrap_err(), "payment_unavailable");
        let orders: Vec<OrderView> = app.get(routes::ORDERS, Some(&buyer.token)).await;
        let charge = store.charge_of(orders[0].id).await.unwrap().expect("opened with the order");
        assert_eq!((charge.status, charge.attempts), (PaymentStatus::Pending, 1));
        placed.push((orders[0].clone(), charge.id));
    }
    let now = UnixMs(placed[2].0.created_at.0 + 1);
    assert!(store.end_charge(placed[1].1, PaymentStatus::Succeeded, None, now).await.unwrap(), "a webhook's record");
    assert!(store.end_charge(placed[2].1, PaymentStatus::Failed, Some("abandoned"), now).await.unwrap(), "given up");
    let none: &[CommissionEntry] = &[];
    let batch: Vec<(&OrderView, Option<i64>, &[CommissionEntry])> =
        placed.iter().map(|(order, charge)| (order, Some(*charge), none)).collect();
    let outcomes = store.settle_paid_together(&batch, now, now).await.unwrap();
    assert_eq!(outcomes, [SettleOutcome::Paid, SettleOutcome::Paid, SettleOutcome::ChargeGivenUp]);
    let mut after = Vec::new();
    for (order, _) in &placed {
        let charge = store.charge_of(order.id).await.unwrap().unwrap();
        after.push((store.order_record(order.id).await.unwrap().unwrap().view.status, charge.status));
    }
    assert_eq!(
        after,
        [
            (OrderStatus::Paid, PaymentStatus::Succeeded),
            (OrderStatus::Paid, PaymentStatus::Succeeded),
            (OrderStatus::Placed, PaymentStatus::Failed),
        ]
    );
    assert_eq!(db_stock(&app, product).await, 3, "two units sold, none for the charge given up on");
}

/// Paid orders are settled in groups, one transaction per batch (`store::settlements`).
/// The batch is driven directly here, since which orders share one is otherwise up to
/// timing: the middle order finds too few units in the database (the conditional
/// decrement, the last guard), and it alone is refused while the orders before and after
/// it in the same transaction are paid; its retry is charged, refunded and recorded.
#[tokio::test]
async fn one_order_of_a_group_committed_batch_runs_out_of_stock_and_the_others_are_paid() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[5]).await;
    let product = scene.products[0];
    let mut placed = Vec::new();
    for (i, units) in [1, 3, 1].into_iter().enumerate() {
        let (mut ws, buyer) = app.shopper(scene.room, product, units).await;
        ws.send(&checkout(&format!("batch-{i}"), TestCards::FAILS_ONCE)).await;
        assert_eq!(ws.checkout_outcome().await.unwrap_err(), "payment_unavailable");
        let orders: Vec<OrderView> = app.get(routes::ORDERS, Some(&buyer.token)).await;
        placed.push((ws, orders[0].clone()));
    }
    let store = &app.state.store;
    // Behind the inventory's back, three of the five units go elsewhere.
    set_stock_behind_the_inventorys_back(&app, product, 2, 5).await;
    let none: &[CommissionEntry] = &[];
    let batch: Vec<(&OrderView, Option<i64>, &[CommissionEntry])> =
        placed.iter().map(|(_, order)| (order, None, none)).collect();
    let now = UnixMs(placed[2].1.created_at.0 + 1);
    let outcomes = store.settle_paid_together(&batch, now, now).await.unwrap();
    assert_eq!(outcomes, [SettleOutcome::Paid, SettleOutcome::OutOfStock, SettleOutcome::Paid]);
    assert_eq!(db_stock(&app, product).await, 0, "the two single units, and nothing of the three");
    let mut statuses = Vec::new();
    for (_, order) in &placed {
        statuses.push(store.order_record(order.id).await.unwrap().unwrap().view.status);
    }
    assert_eq!(statuses, [OrderStatus::Paid, OrderStatus::Placed, OrderStatus::Paid]);

    // The refused order is still the buyer's to retry: charged, found unsellable, refunded.
    let (ws, refused) = &mut placed[1];
    ws.send(&checkout("batch-1", TestCards::FAILS_ONCE)).await;
    assert_eq!(ws.checkout_outcome().await.unwrap_err(), "sold_out");
    let record = store.order_record(refused.id).await.unwrap().unwrap();
    assert_eq!(record.view.status, OrderStatus::Cancelled);
    assert_eq!(
        provider_books(&app, refused.id).await,
        Some((refused.subtotal.amount, refused.subtotal.amount)),
        "charged, and all of it refunded"
    );
    assert_eq!(db_stock(&app, product).await, 0);
}

#[tokio::test]
async fn a_brand_refunds_a_line_in_parts_and_stock_and_commission_follow() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[5]).await;
    let (mut ws, buyer) = app.shopper(scene.room, scene.products[0], 3).await;
    ws.send(&checkout("three", TestCards::SUCCEEDS)).await;
    let order = ws.checkout_outcome().await.expect("paid");
    assert_eq!(db_stock(&app, scene.products[0]).await, 2);

    let one = json!({"idempotency_key": "r1", "lines": [{"product_id": scene.products[0], "quantity": 1}]});
    let (status, body) = refund(&app, &scene.brand.token, order.id, one.clone()).await;
    assert_eq!(status, 201, "{body}");
    let first: RefundView = serde_json::from_value(body).unwrap();
    assert_eq!(first.status, RefundStatus::Refunded);
    assert_eq!(first.amount.amount, 1_000);
    let (_, again) = refund(&app, &scene.brand.token, order.id, one).await;
    assert_eq!(again["id"], first.id, "the same key refunds once");
    assert_eq!(db_stock(&app, scene.products[0]).await, 3, "one unit back in stock");
    assert_eq!(app.stock(scene.products[0]).await, 3);

    let (status, body) = refund(&app, &scene.brand.token, order.id, json!({"idempotency_key": "rest"})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["amount"]["amount"], 2_000, "the rest of the line");
    let paid: OrderView = app.get(&path(routes::ORDER, &[order.id.get()]), Some(&buyer.token)).await;
    assert_eq!(paid.status, OrderStatus::Refunded);
    assert_eq!(paid.refunded.amount, 3_000);
    assert_eq!(paid.lines[0].refunded_quantity, 3);
    let (status, body) = refund(&app, &scene.brand.token, order.id, json!({"idempotency_key": "more"})).await;
    assert_eq!((status.as_u16(), body["error"]["code"].as_str()), (409, Some("conflict")));

    // 10% of 3,000 accrued; reversed in two parts that add up to all of it.
    let ledger = app.state.store.commission_entries(order.id).await.unwrap();
    let sum = |kind| ledger.iter().filter(|e| e.kind == kind).map(|e| e.amount).sum::<i64>();
    assert_eq!((sum(CommissionKind::Accrued), sum(CommissionKind::Reversed)), (300, 300));
    let earnings: Vec<CommissionBalance> =
        app.get(&path(routes::CREATOR_EARNINGS, &[scene.host_id().get()]), Some(&scene.creator.token)).await;
    assert_eq!(earnings[0].owed.amount, 0);
}

#[tokio::test]
async fn a_refund_puts_back_its_units_not_a_sale_the_database_has_not_taken_yet() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[5]).await;
    let product = scene.products[0];
    let (mut ws, _) = app.shopper(scene.room, product, 3).await;
    ws.send(&checkout("three", TestCards::SUCCEEDS)).await;
    let order = ws.checkout_outcome().await.expect("paid");
    assert_eq!((db_stock(&app, product).await, app.stock(product).await), (2, 2));
    // A sale the inventory has committed and the database has not taken yet: seen from
    // here, one unit more in the database than the inventory offers.
    set_stock_behind_the_inventorys_back(&app, product, 3, 2).await;

    let one = json!({"idempotency_key": "r1", "lines": [{"product_id": product, "quantity": 1}]});
    for _ in 0..2 {
        let (status, body) = refund(&app, &scene.brand.token, order.id, one.clone()).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["status"], "refunded");
    }
    assert_eq!(db_stock(&app, product).await, 4);
    assert_eq!(app.stock(product).await, 3, "the refunded unit is back once, the unit sold meanwhile is not");
}

/// A stock change the database took whose maker stopped before the inventory heard of it
/// (a node stopped, Redis did not answer) reaches the inventory once, from the sweeper;
/// asked again, nothing moves. One that was waiting when Redis lost everything is in the
/// count the inventory is rebuilt from, and is not added to it again.
#[tokio::test]
async fn a_stock_change_the_inventory_did_not_hear_of_reaches_it_once_from_the_sweeper() {
    let clock = Clock::manual(START);
    let app = TestApp::spawn_with(test_config(), clock.clone()).await;
    let scene = app.live_room(&[6]).await;
    let product = scene.products[0];
    let store = &app.state.store;
    let app = &app;
    let room = scene.room;
    let buy_one = |key: &'static str| async move {
        let (mut ws, _) = app.shopper(room, product, 1).await;
        ws.send(&checkout(key, TestCards::SUCCEEDS)).await;
        ws.checkout_outcome().await.expect("paid");
    };
    // The inventory counts the product from its first sale.
    buy_one("first").await;
    let sweep_later = || async {
        clock.advance(Duration::from_secs(3));
        app.state.commerce.apply_waiting_adjustments().await.unwrap();
    };
    let restock = |stock: i64, expected: i64| {
        let (stock, expected, now) = (stock.try_into().unwrap(), expected.try_into().unwrap(), clock.now());
        async move { store.set_stock(product, stock, expected, now).await.unwrap().expect("the stock was as expected") }
    };

    let adjustment = restock(8, 5).await;
    assert_eq!(app.stock(product).await, 5, "the inventory has not heard of it yet");
    sweep_later().await;
    assert_eq!(app.stock(product).await, 8);
    assert_eq!(store.waiting_adjustments(UnixMs(i64::MAX), 10).await.unwrap(), vec![]);

    // Made, but not recorded as made (the database did not answer then): the sweeper
    // asks the inventory again, which makes nothing of it.
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&app.state.config.database_url).await.unwrap();
    sqlx::query("update stock_adjustments set applied_at = null where id = $1")
        .bind(adjustment.id.get())
        .execute(&db)
        .await
        .unwrap();
    sweep_later().await;
    assert_eq!(app.stock(product).await, 8, "made once");
    assert_eq!(store.waiting_adjustments(UnixMs(i64::MAX), 10).await.unwrap(), vec![]);

    // Waiting when Redis loses everything: a sale before the sweeper's next round rebuilds
    // the inventory from the database, whose count has the two.
    restock(10, 8).await;
    app.lose_redis().await;
    buy_one("after-loss").await;
    sweep_later().await;
    assert_eq!((db_stock(app, product).await, app.stock(product).await), (9, 9), "the two added once");
}

/// A stock change made before the inventory counted the product (its maker stopped before
/// telling it; the product was then counted from the database, change included) is not
/// added to that count when the sweeper reaches it, whatever the clocks say: here the
/// node that made the change runs 3 s ahead of the one that counts.
#[tokio::test]
async fn a_stock_change_made_before_the_inventory_counted_the_product_is_not_added_again() {
    let clock = Clock::manual(START);
    let app = TestApp::spawn_with(test_config(), clock.clone()).await;
    let scene = app.live_room(&[6]).await;
    let product = scene.products[0];
    let store = &app.state.store;
    let (stock, expected) = (8.try_into().unwrap(), 6.try_into().unwrap());
    let ahead = UnixMs(clock.now().0 + 3_000);
    store.set_stock(product, stock, expected, ahead).await.unwrap().expect("the stock was as expected");
    clock.advance(Duration::from_secs(1));
    // The first sale counts the product from the database: 8, less the unit it sells.
    let (mut ws, _) = app.shopper(scene.room, product, 1).await;
    ws.send(&checkout("first", TestCards::SUCCEEDS)).await;
    ws.checkout_outcome().await.expect("paid");
    // Past the sweeper's 2 s wait by the maker's clock too.
    clock.advance(Duration::from_secs(5));
    app.state.commerce.apply_waiting_adjustments().await.unwrap();
    assert_eq!((db_stock(&app, product).await, app.stock(product).await), (7, 7), "the change counted once");
    assert_eq!(store.waiting_adjustments(UnixMs(i64::MAX), 10).await.unwrap(), vec![]);
}

/// An embedded node starts with an empty inventory that counts each product from the
/// database when first needed, so a stock change left waiting (its maker stopped) is in
/// those counts and is not made again.
#[tokio::test]
async fn an_embedded_node_starting_takes_the_waiting_stock_changes_as_counted() {
    let clock = Clock::manual(START);
    let app = TestApp::spawn_with(test_config(), clock.clone()).await;
    let scene = app.live_room(&[5]).await;
    let store = &app.state.store;
    store.set_stock(scene.products[0], 7.try_into().unwrap(), 5.try_into().unwrap(), START).await.unwrap();
    let waiting = || async { store.waiting_adjustments(UnixMs(i64::MAX), 10).await.unwrap().len() };
    assert_eq!(waiting().await, 1);
    let config = (*app.state.config).clone();
    let _started = AppState::embedded(config, store.clone(), clock).await.expect("wiring");
    assert_eq!(waiting().await, 0);
}

#[tokio::test]
async fn only_the_brand_or_an_admin_refunds_and_a_refused_refund_changes_nothing() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[5]).await;
    let other = app.live_room(&[5]).await;
    let (mut ws, buyer) = app.shopper(scene.room, scene.products[0], 1).await;
    ws.send(&checkout("k", TestCards::REFUND_REFUSED)).await;
    let order = ws.checkout_outcome().await.expect("paid");
    for token in [&buyer.token, &scene.creator.token] {
        let (status, _) = refund(&app, token, order.id, json!({"idempotency_key": "x"})).await;
        assert_eq!(status, 403);
    }
    // To another brand the order does not exist.
    let (status, _) = refund(&app, &other.brand.token, order.id, json!({"idempotency_key": "x"})).await;
    assert_eq!(status, 404);
    for lines in [
        json!([]),
        json!([{"product_id": scene.products[0], "quantity": 1}, {"product_id": scene.products[0], "quantity": 1}]),
    ] {
        let (status, body) =
            refund(&app, &scene.brand.token, order.id, json!({"idempotency_key": "x", "lines": lines})).await;
        assert_eq!((status.as_u16(), body["error"]["code"].as_str()), (400, Some("invalid_input")), "{body}");
    }
    let (status, body) = refund(&app, &scene.brand.token, order.id, json!({"idempotency_key": "x"})).await;
    assert_eq!(status, 201);
    assert_eq!(body["status"], "refund_failed");
    assert!(body["failure"].as_str().is_some_and(|f| !f.is_empty()));
    assert_eq!(db_stock(&app, scene.products[0]).await, 4, "nothing came back");
    let ledger = app.state.store.commission_entries(order.id).await.unwrap();
    assert!(ledger.iter().all(|e| e.kind == CommissionKind::Accrued), "no reversal for a refund that failed");
    let (status, body) = refund(&app, &scene.brand.token, order.id, json!({"idempotency_key": "again"})).await;
    assert_eq!((status.as_u16(), body["status"].as_str()), (201, Some("refund_failed")), "the units stay refundable");
}

#[tokio::test]
async fn commission_settles_after_the_return_window_and_a_later_refund_is_owed_back() {
    let clock = Clock::manual(START);
    let mut config = test_config();
    config.return_window = Duration::from_secs(3_600);
    let app = TestApp::spawn_with(config, clock.clone()).await;
    let scene = app.live_room(&[5]).await;
    let (mut ws, _) = app.shopper(scene.room, scene.products[0], 2).await;
    ws.send(&checkout("k", TestCards::SUCCEEDS)).await;
    let order = ws.checkout_outcome().await.expect("paid");
    let earnings = || async {
        let e: Vec<CommissionBalance> =
            app.get(&path(routes::CREATOR_EARNINGS, &[scene.host_id().get()]), Some(&scene.creator.token)).await;
        (e[0].accrued.amount, e[0].reversed.amount, e[0].settled.amount, e[0].owed.amount)
    };
    app.state.commerce.sweep().await.unwrap();
    assert_eq!(earnings().await, (200, 0, 0, 200), "inside the return window nothing settles");
    clock.advance(Duration::from_secs(3_601));
    app.state.commerce.sweep().await.unwrap();
    app.state.commerce.sweep().await.unwrap();
    assert_eq!(earnings().await, (200, 0, 200, 0), "settled once");
    let (status, _) = refund(&app, &scene.brand.token, order.id, json!({"idempotency_key": "late"})).await;
    assert_eq!(status, 201);
    assert_eq!(earnings().await, (200, 200, 200, -200), "a refund after settlement is owed back");
    let (status, _) = app
        .send(Method::GET, &path(routes::CREATOR_EARNINGS, &[scene.host_id().get()]), Some(&scene.brand.token), None)
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_price_change_reaches_viewers_and_checkout_charges_the_new_price() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[5]).await;
    let (mut ws, _) = app.shopper(scene.room, scene.products[0], 1).await;
    let patch = ProductPatchRequest { price: Some(1_500.try_into().unwrap()), ..Default::default() };
    let body = serde_json::to_value(&patch).unwrap();
    let (status, _) = app
        .send(Method::PATCH, &path(routes::PRODUCT, &[scene.products[0].get()]), Some(&scene.brand.token), Some(&body))
        .await;
    assert_eq!(status, 200);
    let card = ws
        .recv_until(|m| match m {
            ServerMsg::Event { event: RoomEvent::ProductUpdated { product }, .. } => Some(product),
            _ => None,
        })
        .await;
    assert_eq!(card.price.amount, 1_500);
    ws.send(&ClientMsg::CartSet { product_id: scene.products[0], quantity: 1 }).await;
    let cart = ws
        .recv_until(|m| match m {
            ServerMsg::Cart { cart } => Some(cart),
            _ => None,
        })
        .await;
    assert_eq!(cart.total.unwrap().amount, 1_500, "the cart shows the new price");
    ws.send(&checkout("new-price", TestCards::SUCCEEDS)).await;
    let order = ws.checkout_outcome().await.expect("paid");
    assert_eq!(order.subtotal.amount, 1_500, "and checkout charges it");
}

#[tokio::test]
async fn a_stock_change_reaches_viewers_and_no_unit_that_is_gone_can_be_bought() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[5]).await;
    let (mut ws, _) = app.shopper(scene.room, scene.products[0], 1).await;
    let body =
        serde_json::to_value(StockRequest { stock: 0.try_into().unwrap(), expected: 5.try_into().unwrap() }).unwrap();
    let (status, _) = app
        .send(
            Method::PUT,
            &path(routes::PRODUCT_STOCK, &[scene.products[0].get()]),
            Some(&scene.brand.token),
            Some(&body),
        )
        .await;
    assert_eq!(status, 200);
    let card = ws
        .recv_until(|m| match m {
            ServerMsg::Event { event: RoomEvent::ProductUpdated { product }, .. } => Some(product),
            _ => None,
        })
        .await;
    assert_eq!(card.stock, 0);
    ws.send(&checkout("gone", TestCards::SUCCEEDS)).await;
    assert_eq!(ws.checkout_outcome().await.unwrap_err(), "sold_out");
}

#[tokio::test]
async fn each_sale_of_a_drop_counts_down_from_its_own_hold() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[20]).await;
    let (mut host, _) = app.viewer(scene.room, Some(&scene.creator.token)).await;
    host.send(&ClientMsg::StartDrop {
        product_id: scene.products[0],
        quantity: 7,
        price: None,
        duration_secs: 600,
        per_buyer: None,
    })
    .await;
    host.recv_until(|m| matches!(m, ServerMsg::Event { event: RoomEvent::DropStarted { .. }, .. }).then_some(())).await;
    let mut buyers = Vec::new();
    for _ in 0..7 {
        buyers.push(app.shopper(scene.room, scene.products[0], 1).await.0);
    }
    for (i, ws) in buyers.iter_mut().enumerate() {
        ws.send(&checkout(&format!("d{i}"), TestCards::SUCCEEDS)).await;
    }
    for ws in &mut buyers {
        ws.checkout_outcome().await.expect("seven units for seven buyers");
    }
    let mut left = Vec::new();
    while left.len() < 7 {
        if let ServerMsg::Event { event: RoomEvent::Sale(sale), .. } = host.recv().await {
            left.push((sale.drop_left.unwrap(), sale.stock_left));
        }
    }
    left.sort();
    let expected: Vec<(i64, i64)> = (0..7).map(|n| (n, 13 + n)).collect();
    assert_eq!(left, expected, "every sale carries its own count, none the final one twice");
}

/// Whether the connection's `start_drop` was refused: its replies are in order, so the
/// `cart` answer to a message sent after it comes after any error it got.
async fn start_drop_refused(ws: &mut Ws, product: ProductId) -> Option<String> {
    ws.send(&ClientMsg::CartSet { product_id: product, quantity: 1 }).await;
    let mut refused = None;
    loop {
        match ws.recv().await {
            ServerMsg::Error { code, request: Some(r), .. } if r == "start_drop" => refused = Some(code),
            ServerMsg::Cart { .. } => return refused,
            _ => {}
        }
    }
}

#[tokio::test]
async fn two_drops_started_at_once_give_exactly_one_drop() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[20, 20]).await;
    let (mut a, _) = app.viewer(scene.room, Some(&scene.creator.token)).await;
    let (mut b, _) = app.viewer(scene.room, Some(&scene.creator.token)).await;
    let start =
        |p| ClientMsg::StartDrop { product_id: p, quantity: 3, price: None, duration_secs: 600, per_buyer: None };
    a.send(&start(scene.products[0])).await;
    b.send(&start(scene.products[1])).await;
    let refused =
        [start_drop_refused(&mut a, scene.products[0]).await, start_drop_refused(&mut b, scene.products[0]).await];
    let running = refused.iter().filter(|r| r.as_deref() == Some("drop_running")).count();
    assert_eq!(running, 1, "exactly one of the two is refused: {refused:?}");
    assert!(app.state.store.live_drop(scene.room).await.unwrap().is_some());
}

#[tokio::test]
async fn the_snapshot_counts_the_viewer_it_is_sent_to() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[1]).await;
    let (_ws, snapshot) = app.viewer(scene.room, None).await;
    assert_eq!(snapshot.viewers, 1);
}

/// The buyer's cart lines as Redis (or, having lost it, the database) gives them back
/// after Redis loses everything, read from a new connection's snapshot.
async fn cart_after_losing_redis(app: &TestApp, room: RoomId, token: &str) -> Vec<(ProductId, i64)> {
    app.lose_redis().await;
    let (_, snapshot) = app.viewer(room, Some(token)).await;
    snapshot.cart.unwrap().lines.iter().map(|l| (l.product_id, l.quantity)).collect()
}

async fn add_to_cart(ws: &mut Ws, product: ProductId, quantity: i64) {
    ws.send(&ClientMsg::CartAdd { product_id: product, quantity }).await;
    ws.recv_until(|m| matches!(m, ServerMsg::Cart { .. }).then_some(())).await;
}

#[tokio::test]
async fn a_buyers_cart_survives_redis_losing_everything() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[5, 5]).await;
    let (mut ws, buyer) = app.shopper(scene.room, scene.products[0], 2).await;
    add_to_cart(&mut ws, scene.products[1], 1).await;
    let lines = cart_after_losing_redis(&app, scene.room, &buyer.token).await;
    assert_eq!(lines, vec![(scene.products[0], 2), (scene.products[1], 1)]);
    ws.send(&checkout("after-loss", TestCards::SUCCEEDS)).await;
    let order = ws.checkout_outcome().await.expect("the cart was still there to buy");
    assert_eq!(order.subtotal.amount, 3_000);
    let (_, after) = app.viewer(scene.room, Some(&buyer.token)).await;
    assert!(after.cart.unwrap().lines.is_empty(), "a paid cart is emptied");

    // The emptied cart comes back empty from the database, and the buyer's next add is
    // saved over it.
    assert_eq!(cart_after_losing_redis(&app, scene.room, &buyer.token).await, vec![], "emptied durably too");
    add_to_cart(&mut ws, scene.products[1], 2).await;
    let lines = cart_after_losing_redis(&app, scene.room, &buyer.token).await;
    assert_eq!(lines, vec![(scene.products[1], 2)], "the next cart is saved over the emptied one");
}

/// Cart changes that arrive at the same moment are written together: each
/// cart keeps its newest version whatever order the saves came in, and an emptying
/// empties its own cart only.
#[tokio::test]
async fn cart_changes_written_together_keep_each_carts_newest_version() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[5]).await;
    let (first, second) =
        (app.register(Role::Viewer, "First", None).await, app.register(Role::Viewer, "Second", None).await);
    let (a, b) = (first.account.id, second.account.id);
    let save = |buyer, lines: &str, version| CartWrite::Save { room: scene.room, buyer, lines: lines.into(), version };
    let store = &app.state.store;
    store.write_carts_together(&[(save(b, r#"{"1":1}"#, 1), START)]).await.unwrap();
    let writes = [
        (save(a, r#"{"1":1}"#, 1), START),
        (save(a, r#"{"1":3}"#, 3), START),
        (save(a, r#"{"1":2}"#, 2), START),
        (CartWrite::Empty { room: scene.room, buyer: b }, START),
    ];
    store.write_carts_together(&writes).await.unwrap();
    assert_eq!(store.saved_cart(scene.room, a).await.unwrap(), Some((r#"{"1":3}"#.to_owned(), 3)));
    assert_eq!(store.saved_cart(scene.room, b).await.unwrap(), Some(("{}".to_owned(), 2)), "emptied, one version on");
    store.write_carts_together(&[(save(a, r#"{"1":2}"#, 2), START)]).await.unwrap();
    assert_eq!(store.saved_cart(scene.room, a).await.unwrap().unwrap().1, 3, "an older version arriving late loses");
}

/// The brand saw 5 on hand, then a unit sold: saving the 5 it saw (or any count based on
/// it) is refused with 409 and changes nothing; a save based on the current count works.
#[tokio::test]
async fn a_stock_write_based_on_a_stale_count_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[5]).await;
    let product = scene.products[0];
    let route = path(routes::PRODUCT_STOCK, &[product.get()]);
    let seen: livecart::wire::api::Product = app.get(&path(routes::PRODUCT, &[product.get()]), None).await;
    assert_eq!((seen.on_hand, seen.card.stock), (5, 5));

    let (mut ws, _) = app.shopper(scene.room, product, 1).await;
    ws.send(&checkout("one-unit", TestCards::SUCCEEDS)).await;
    let order = ws.checkout_outcome().await.expect("paid");
    assert_eq!(order.reference, order.id.reference(), "buyers see the order's reference");
    assert_eq!(db_stock(&app, product).await, 4);

    let stale = json!({"stock": 5, "expected": seen.on_hand});
    let (status, body) = app.send(Method::PUT, &route, Some(&scene.brand.token), Some(&stale)).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "conflict");
    assert_eq!(db_stock(&app, product).await, 4, "the stale count was not written back");
    let now: livecart::wire::api::Product = app.get(&path(routes::PRODUCT, &[product.get()]), None).await;
    assert_eq!((now.on_hand, now.card.stock), (4, 4));

    let fresh = json!({"stock": 10, "expected": now.on_hand});
    let (status, body) = app.send(Method::PUT, &route, Some(&scene.brand.token), Some(&fresh)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["on_hand"], 10);
    assert_eq!(body["stock"], 10);
    assert_eq!(db_stock(&app, product).await, 10);
    let (status, _) = app.send(Method::PUT, &route, Some(&scene.brand.token), Some(&fresh)).await;
    assert_eq!(status, 409, "the same write twice: the second saw 4, there are 10");
    let blind = json!({"stock": 3});
    let (status, body) = app.send(Method::PUT, &route, Some(&scene.brand.token), Some(&blind)).await;
    assert_eq!((status.as_u16(), body["error"]["code"].as_str()), (400, Some("invalid_input")), "expected is required");
    assert_eq!(db_stock(&app, product).await, 10);
}

/// Checkouts that ask at the same moment share one list of reads; each gets its own
/// answers: its key's order or refusal, its buyer's address, its room, and each of its
/// products with its own host's agreement (or none).
#[tokio::test]
async fn checkouts_read_together_each_get_their_own_answers() {
    let app = TestApp::spawn().await;
    let (a, b) = (app.live_room(&[5]).await, app.live_room(&[7]).await);
    let (mut ws, first) = app.shopper(a.room, a.products[0], 1).await;
    ws.send(&checkout("bought", TestCards::SUCCEEDS)).await;
    let bought = ws.checkout_outcome().await.expect("paid");
    let second = app.register(Role::Viewer, "Second", None).await;
    let store = &app.state.store;
    let address: ShippingAddress = serde_json::from_value(json!({
        "name": "A Buyer", "line1": "1 Main St", "city": "Lyon", "postal_code": "69001", "country": "FR"
    }))
    .unwrap();
    store.save_shipping_address(second.account.id, &address, START).await.unwrap();
    let refusal =
        RefusalRow { room: b.room, request_hash: "hash".into(), promo_code: None, title: "Lamp".into(), available: 0 };
    store.record_checkout_refusal(second.account.id, "refused", &refusal, START, 1).await.unwrap();

    let ask = |buyer: AccountId, key: &str, scene: &Scene, products: Vec<ProductId>| CheckoutAsk {
        buyer,
        key: key.into(),
        saved_address: buyer == second.account.id,
        room: scene.room,
        host: scene.host_id(),
        products,
    };
    let asks = [
        ask(first.account.id, "bought", &a, vec![a.products[0]]),
        ask(first.account.id, "fresh", &b, vec![b.products[0]]),
        ask(second.account.id, "refused", &b, vec![]),
        ask(second.account.id, "bought", &a, vec![b.products[0], a.products[0]]),
    ];
    let reads = store.checkout_reads_together(&asks).await.expect("read");
    assert_eq!(reads.len(), 4);
    let existing: Vec<Option<OrderId>> = reads.iter().map(|r| r.existing.as_ref().map(|o| o.view.id)).collect();
    assert_eq!(existing, [Some(bought.id), None, None, None], "a key is its own buyer's");
    let refused: Vec<bool> = reads.iter().map(|r| r.refused.is_some()).collect();
    assert_eq!(refused, [false, false, true, false]);
    let addressed: Vec<Option<&ShippingAddress>> = reads.iter().map(|r| r.saved_address.as_ref()).collect();
    assert_eq!(addressed, [None, None, Some(&address), Some(&address)]);
    let rooms: Vec<Option<RoomId>> = reads.iter().map(|r| r.pricing.room.as_ref().map(|r| r.id)).collect();
    assert_eq!(rooms, [Some(a.room), Some(b.room), None, Some(a.room)], "an empty cart reads no room");
    let priced = |r: &CheckoutReads| -> Vec<(ProductId, Option<AccountId>)> {
        r.pricing.products.iter().map(|(p, agreement)| (p.id, agreement.as_ref().map(|a| a.creator_id))).collect()
    };
    assert_eq!(priced(&reads[0]), [(a.products[0], Some(a.host_id()))]);
    assert_eq!(priced(&reads[1]), [(b.products[0], Some(b.host_id()))]);
    assert_eq!(priced(&reads[2]), []);
    assert_eq!(
        priced(&reads[3]),
        [(a.products[0], Some(a.host_id())), (b.products[0], None)],
        "in id order, each with its own host's agreement: this host has none on the other room's product"
    );
}

/// Orders placed at the same moment share one transaction (one multi-row insert per
/// table); when it fails, here because two of them reuse one key, each order is placed
/// alone and gets its own outcome: the first under the key is placed with its lines,
/// share, shipping address and charge, the second loses to it, and the third is placed
/// too.
#[tokio::test]
async fn orders_placed_together_each_get_their_own_outcome_when_two_reuse_a_key() {
    let clock = Clock::manual(START);
    let app = TestApp::spawn_with(test_config(), clock.clone()).await;
    let scene = app.live_room(&[5]).await;
    let product = scene.products[0];
    let first = app.register(Role::Viewer, "First", None).await;
    let second = app.register(Role::Viewer, "Second", None).await;
    let now = clock.now();
    let order = |buyer: AccountId, key: &str| NewOrder {
        buyer,
        room: scene.room,
        creator: scene.creator.account.id,
        currency: Currency::try_from("EUR").unwrap(),
        subtotal: 1_000,
        commission_total: 100,
        idempotency_key: key.to_owned(),
        request_hash: format!("hash-{key}"),
        hold_id: format!("hold-{key}"),
        hold_expires_at: UnixMs(now.0 + 60_000),
        lines: vec![NewOrderLine {
            product_id: product,
            brand_id: scene.brand_id,
            drop_id: None,
            title: "Lamp".into(),
            quantity: 1,
            list_price: 1_000,
            unit_price: 1_000,
            line_total: 1_000,
            commission_bps: 1_000,
            commission_flat: 0,
            commission_amount: 100,
            co_host_share_bps: 0,
        }],
        promo_code: None,
        discount: 0,
        shares: vec![NewShare {
            creator: scene.creator.account.id,
            role: ShareRole::Host,
            share_bps: 10_000,
            commission_amount: 100,
            rule_version: "cohost-v1",
        }],
        shipping: Some(
            serde_json::from_value::<ShippingAddress>(json!({
                "name": "A Buyer", "line1": "1 Main St", "city": "Lyon", "postal_code": "69001", "country": "FR"
            }))
            .unwrap(),
        ),
        rehearsal: false,
        charge: ChargeOpening {
            provider: "test-cards",
            provider_key: format!("charge-{buyer}-{key}"),
            provider_ref: Some(format!("tc-{buyer}-{key}")),
        },
    };
    let together = [
        (order(first.account.id, "k1"), now),
        (order(first.account.id, "k1"), now),
        (order(second.account.id, "k1"), now),
    ];
    let outcomes = app.state.store.place_orders_together(&together).await;
    let placed: Vec<PlacedOrder> = outcomes
        .into_iter()
        .filter_map(|o| match o.expect("no database error") {
            PlaceOutcome::Placed(placed) => Some(*placed),
            PlaceOutcome::KeyTaken => None,
            _ => panic!("no promo code or drop to refuse it"),
        })
        .collect();
    assert_eq!(placed.len(), 2, "the reused key placed once, the other buyer's order too");
    assert_eq!(placed[0].view.buyer_id, first.account.id);
    assert_eq!(placed[1].view.buyer_id, second.account.id);
    for PlacedOrder { view, charge } in &placed {
        let opened = app.state.store.charge_of(view.id).await.unwrap().expect("its charge opened with it");
        assert_eq!(opened.id, charge.id, "the charge acknowledged is the ledger's");
        assert_eq!((opened.status, opened.attempts, opened.amount.amount), (PaymentStatus::Pending, 1, 1_000));
        assert_eq!(opened.provider_key, format!("charge-{}-k1", view.buyer_id));
        let stored = app.state.store.order_record(view.id).await.unwrap().expect("written");
        assert_eq!(stored.view.status, OrderStatus::Placed);
        assert_eq!(stored.view.lines, view.lines, "its lines, as acknowledged");
        assert_eq!(stored.view.shipping, view.shipping, "its shipping address, as acknowledged");
        let shares = app.state.store.order_shares(&[view.id]).await.unwrap();
        assert_eq!(shares.len(), 1, "the host's share");
    }
}
