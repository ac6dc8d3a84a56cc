//! Stock adjustments: changes the database made to a product's stock that the inventory
//! must make too, once (migrations/*/0019_stock_adjustments.sql). The call that changes
//! the stock writes one in the same transaction and applies it; the sweeper applies those
//! that call did not get to.

use super::Store;
use crate::domain::{AdjustmentId, ProductId, UnixMs};
use sqlx::Row;
use sqlx::any::AnyRow;

/// Units a product's stock moved by (negative: fewer), waiting to reach the inventory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StockAdjustment {
    pub id: AdjustmentId,
    pub product: ProductId,
    pub units: i64,
    /// The product's `card_version` as the transaction that moved the stock left it: a
    /// count of the product read with this version or a later one has the adjustment
    /// already, one read with an earlier version has not. Versions, not times, so that
    /// whether a count has an adjustment does not depend on the nodes' clocks or on when
    /// the adjustment's transaction committed.
    pub version: u64,
}

/// Records that `product`'s stock moved by `units`, in the transaction that moved it,
/// after it raised the product's `card_version`.
pub(super) async fn record(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    product: ProductId,
    units: i64,
    now: UnixMs,
) -> Result<StockAdjustment, sqlx::Error> {
    let row = sqlx::query(
        "insert into stock_adjustments (product_id, units, created_at, card_version) \
         values ($1, $2, $3, (select card_version from products where id = $1)) \
         returning id, product_id, units, card_version",
    )
    .bind(product.get())
    .bind(units)
    .bind(now.0)
    .fetch_one(&mut **tx)
    .await?;
    adjustment(&row)
}

fn adjustment(r: &AnyRow) -> Result<StockAdjustment, sqlx::Error> {
    Ok(StockAdjustment {
        id: AdjustmentId::from_row(r.try_get("id")?),
        product: ProductId::from_row(r.try_get("product_id")?),
        units: r.try_get("units")?,
        version: u64::try_from(r.try_get::<i64, _>("card_version")?).unwrap_or_default(),
    })
}

impl Store {
    /// Adjustments made before `before` that the inventory does not have yet, oldest
    /// first, at most `limit`.
    pub async fn waiting_adjustments(&self, before: UnixMs, limit: i64) -> Result<Vec<StockAdjustment>, sqlx::Error> {
        sqlx::query(
            "select id, product_id, units, card_version from stock_adjustments where applied_at is null and created_at < $1 \
             order by created_at limit $2",
        )
        .bind(before.0)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(adjustment)
        .collect()
    }

    /// The inventory has adjustment `id`.
    pub async fn adjustment_applied(&self, id: AdjustmentId, now: UnixMs) -> Result<(), sqlx::Error> {
        sqlx::query("update stock_adjustments set applied_at = $1 where id = $2 and applied_at is null")
            .bind(now.0)
            .bind(id.get())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The inventory has just counted stock from the database (of every product, or of
    /// `product`): the adjustments made so far are in that count, so none is to be applied
    /// again. Returns how many were waiting.
    pub async fn adjustments_counted(&self, product: Option<ProductId>, now: UnixMs) -> Result<u64, sqlx::Error> {
        let done = sqlx::query(
            "update stock_adjustments set applied_at = $1 where applied_at is null and ($2 is null or product_id = $2)",
        )
        .bind(now.0)
        .bind(product.map(ProductId::get))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
