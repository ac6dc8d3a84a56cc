//! `drop`: the host starts a drop of K units; N buyers check out at once. Afterwards the
//! orders are read back through the API, and the report says units sold, orders,
//! failures by reason, and any oversell (which must be zero).

use super::progress;
use crate::client::test_card_checkout;
use crate::client::{Api, Error, RoomConn};
use crate::measure::{Latency, histogram, record};
use livecart::domain::DropId;
use livecart::wire::api::AttributedOrder;
use livecart::wire::api::{CreatorOrders, SessionResponse};
use livecart::wire::routes::{self, path};
use livecart::wire::ws::{ClientMsg, OrderStatus, RoomEvent, ServerMsg};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Instant;

pub struct Drop {
    pub buyers: usize,
    pub units: i64,
    pub price: Option<i64>,
    pub quiet: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct DropReport {
    /// The drop the run started (ended by the time the report is read, if it sold out).
    pub drop_id: DropId,
    pub units: i64,
    pub buyers: usize,
    pub confirmed_orders: usize,
    /// Units of the drop in paid orders, as the API reports them.
    pub units_sold: i64,
    pub failures: BTreeMap<String, usize>,
    /// Units sold beyond the drop's quantity. Anything but zero is a bug.
    pub oversell: i64,
    pub checkout_latency_paid: Latency,
    pub checkout_latency_refused: Latency,
}

/// Units of `drop` in paid orders, and how far that exceeds `quantity`.
pub fn oversell(orders: &[AttributedOrder], drop: DropId, quantity: i64) -> (i64, i64) {
    let sold: i64 = orders
        .iter()
        .filter(|o| o.status == OrderStatus::Paid)
        .flat_map(|o| o.lines.iter())
        .filter(|l| l.drop_id == Some(drop))
        .map(|l| l.quantity)
        .sum();
    (sold, (sold - quantity).max(0))
}

pub async fn run(api: &Api, host: &SessionResponse, run_id: &str, cfg: &Drop) -> Result<DropReport, Error> {
    let room = api.hosted_live_room(host).await?;
    let product = room.lineup.first().ok_or("the room lines up no product")?.id;

    let bar = progress(cfg.buyers as u64, "buyers", cfg.quiet);
    let mut buyers = Vec::with_capacity(cfg.buyers);
    for i in 0..cfg.buyers {
        let account = api.register_viewer(run_id, i).await?;
        let mut conn = RoomConn::connect(api).await?;
        conn.join(room.id, Some(&account.token), "buyer", None).await?;
        conn.send(&ClientMsg::CartAdd { product_id: product, quantity: 1 }).await?;
        loop {
            match conn.recv().await? {
                Some(ServerMsg::Cart { .. }) => break,
                Some(ServerMsg::Error { code, message, .. }) => {
                    return Err(format!("cart_add: {code}: {message}").into());
                }
                Some(_) => {}
                None => return Err("closed while filling the cart".into()),
            }
        }
        buyers.push(conn);
        bar.inc(1);
    }
    bar.finish_and_clear();

    let mut host_conn = RoomConn::connect(api).await?;
    host_conn.join(room.id, Some(&host.token), "host", None).await?;
    host_conn
        .send(&ClientMsg::StartDrop {
            product_id: product,
            quantity: cfg.units,
            price: cfg.price,
            duration_secs: 600,
            per_buyer: None,
        })
        .await?;
    let drop = loop {
        match host_conn.recv().await? {
            Some(ServerMsg::Event { event: RoomEvent::DropStarted { drop }, .. }) => break drop,
            Some(ServerMsg::Error { code, message, .. }) => return Err(format!("start_drop: {code}: {message}").into()),
            Some(_) => {}
            None => return Err("host connection closed".into()),
        }
    };

    let bar = progress(cfg.buyers as u64, "checkouts", cfg.quiet);
    let tasks: Vec<_> = buyers
        .into_iter()
        .enumerate()
        .map(|(i, mut conn)| {
            let key = format!("{run_id}-drop-{i}");
            let bar = bar.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                let sent = match test_card_checkout(key) {
                    Ok(checkout) => conn.send(&checkout).await,
                    Err(e) => Err(e),
                };
                let outcome = match sent {
                    Err(e) => Err(format!("send: {e}")),
                    Ok(()) => loop {
                        match conn.recv().await {
                            Ok(Some(ServerMsg::OrderConfirmed { .. })) => break Ok(()),
                            Ok(Some(ServerMsg::Error { code, request: Some(r), .. })) if r == "checkout" => {
                                break Err(code);
                            }
                            Ok(Some(_)) => {}
                            Ok(None) => break Err("closed".into()),
                            Err(e) => break Err(format!("connection: {e}")),
                        }
                    },
                };
                bar.inc(1);
                conn.close().await;
                (outcome, started.elapsed())
            })
        })
        .collect();
    let (mut paid, mut refused) = (histogram(), histogram());
    let mut confirmed = 0;
    let mut failures: BTreeMap<String, usize> = BTreeMap::new();
    for t in tasks {
        let (outcome, latency) = t.await?;
        match outcome {
            Ok(()) => {
                confirmed += 1;
                record(&mut paid, latency);
            }
            Err(code) => {
                *failures.entry(code).or_default() += 1;
                record(&mut refused, latency);
            }
        }
    }
    bar.finish_and_clear();
    host_conn.close().await;

    let attributed: CreatorOrders =
        api.get(&path(routes::CREATOR_ORDERS, &[host.account.id.get()]), &host.token).await?;
    let (units_sold, oversold) = oversell(&attributed.orders, drop.id, cfg.units);
    Ok(DropReport {
        drop_id: drop.id,
        units: cfg.units,
        buyers: cfg.buyers,
        confirmed_orders: confirmed,
        units_sold,
        failures,
        oversell: oversold,
        checkout_latency_paid: Latency::of(&paid),
        checkout_latency_refused: Latency::of(&refused),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use livecart::domain::{AccountId, BrandId, Currency, Money, OrderId, ProductId, RoomId, UnixMs};
    use livecart::wire::ws::OrderLineView;

    fn order(id: i64, status: OrderStatus, drop: Option<i64>, quantity: i64) -> AttributedOrder {
        let eur = Currency::try_from("EUR").unwrap();
        AttributedOrder {
            id: OrderId::from_row(id),
            room_id: RoomId::from_row(1),
            creator_id: AccountId::from_row(1),
            buyer_name: format!("buyer {id}"),
            status,
            lines: vec![OrderLineView {
                product_id: ProductId::from_row(1),
                brand_id: BrandId::from_row(1),
                drop_id: drop.map(DropId::from_row),
                title: "x".into(),
                quantity,
                list_price: 100,
                unit_price: 100,
                line_total: 100 * quantity,
                commission: 0,
                refunded_quantity: 0,
            }],
            subtotal: Money::new(100 * quantity, eur),
            refunded: Money::new(0, eur),
            commission: Money::new(0, eur),
            promo_code: None,
            promo_code_id: None,
            discount: Money::new(0, eur),
            shares: Vec::new(),
            created_at: UnixMs(0),
        }
    }

    #[test]
    fn the_oversell_detector_reports_units_beyond_the_drop() {
        let drop = DropId::from_row(7);
        let orders: Vec<AttributedOrder> = (1..=5).map(|i| order(i, OrderStatus::Paid, Some(7), 1)).collect();
        assert_eq!(oversell(&orders, drop, 3), (5, 2));
    }

    #[test]
    fn the_oversell_detector_ignores_unpaid_orders_and_other_drops() {
        let drop = DropId::from_row(7);
        let orders = vec![
            order(1, OrderStatus::Paid, Some(7), 2),
            order(2, OrderStatus::Cancelled, Some(7), 5),
            order(3, OrderStatus::Paid, Some(8), 5),
            order(4, OrderStatus::Paid, None, 5),
        ];
        assert_eq!(oversell(&orders, drop, 2), (2, 0));
    }
}
