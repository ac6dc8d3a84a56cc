//! The analytics event log: appended in batches, read by the reports.

use super::shapes::Insert;
use super::{Store, StoreError};
use crate::domain::{AccountId, Money, OrderId, ProductId, RoomId, UnixMs};

/// One row of the log. Which fields a kind fills is the analytics module's business.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventRow {
    pub at: UnixMs,
    pub kind: &'static str,
    pub room: Option<RoomId>,
    pub viewer: Option<String>,
    pub account: Option<AccountId>,
    pub product: Option<ProductId>,
    pub order: Option<OrderId>,
    pub quantity: Option<i64>,
    pub amount: Option<Money>,
    pub value: Option<i64>,
}

/// The most rows one insert statement takes (a power of two, see [`shapes`]): well
/// under every driver's limit on bound parameters.
const ROWS_PER_INSERT: usize = 64;

impl Store {
    /// Appends events, many rows per statement, all or none.
    ///
    /// The inserts are prepared for each batch and not kept. A 64-row insert is about
    /// 800 opcodes and 704 parameters; kept, every pooled connection the writer took in
    /// turn (the pool hands out the one idle longest) came to hold its own copy of every
    /// shape, so SQLite's heap grew through a chat storm's first seconds. Preparing them
    /// again is a few statements' work a second at most, on SQLite's worker thread.
    pub async fn append_events(&self, events: &[EventRow]) -> Result<(), StoreError> {
        let _turn = self.gate.turn().await;
        let mut tx = self.pool.begin().await?;
        let insert = Insert {
            head: "insert into analytics_events (at, kind, room_id, viewer, account_id, product_id, order_id, \
                   quantity, amount, currency, value)",
            columns: 11,
            tail: "",
            most: ROWS_PER_INSERT,
            keep: false,
        };
        insert
            .run(&mut tx, events, |q, e| {
                q.bind(e.at.0)
                    .bind(e.kind)
                    .bind(e.room.map(RoomId::get))
                    .bind(e.viewer.clone())
                    .bind(e.account.map(AccountId::get))
                    .bind(e.product.map(ProductId::get))
                    .bind(e.order.map(OrderId::get))
                    .bind(e.quantity)
                    .bind(e.amount.map(|m| m.amount))
                    .bind(e.amount.map(|m| m.currency.as_str().to_owned()))
                    .bind(e.value)
            })
            .await?;
        tx.commit().await
    }
}
