//! The payment ledger: every charge and every refund, written before the provider is
//! called (pending) and again when it answers, so no crash or retry can lose a charge or
//! make a second one. Refunds also move units back into stock and post the commission
//! reversal, in the same transaction that records them as done.

use super::adjustments::StockAdjustment;
use super::shapes::Insert;
use super::{Store, StoreError, is_unique_violation};
use crate::domain::{AccountId, BrandId, Currency, Money, OrderId, ProductId, UnixMs};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    Pending,
    Succeeded,
    Failed,
    Refunded,
    RefundFailed,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Pending => "pending",
            PaymentStatus::Succeeded => "succeeded",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Refunded => "refunded",
            PaymentStatus::RefundFailed => "refund_failed",
        }
    }

    fn parse(raw: &str) -> Result<Self, StoreError> {
        Ok(match raw {
            "pending" => PaymentStatus::Pending,
            "succeeded" => PaymentStatus::Succeeded,
            "failed" => PaymentStatus::Failed,
            "refunded" => PaymentStatus::Refunded,
            "refund_failed" => PaymentStatus::RefundFailed,
            other => return Err(sqlx::Error::Decode(format!("payment status {other:?}").into())),
        })
    }
}

/// An order's charge: one row for all its attempts, which share one provider key.
#[derive(Debug, Clone)]
pub struct ChargeRow {
    pub id: i64,
    pub order_id: OrderId,
    pub amount: Money,
    pub provider: String,
    pub provider_key: String,
    /// What the provider calls the charge, once it said (before any money moved).
    pub provider_ref: Option<String>,
    pub status: PaymentStatus,
    pub attempts: i64,
    pub failure: Option<String>,
}

/// What an order's charge is opened with in the ledger, before the provider is asked
/// anything: normally in the transaction that places the order.
#[derive(Debug, Clone)]
pub struct ChargeOpening {
    pub provider: &'static str,
    /// The provider's idempotency key: every attempt at the charge is asked under it.
    pub provider_key: String,
    /// The provider's reference, when it is known before anything is asked of the
    /// provider (see `PaymentProvider::reference_for`); recorded with the first attempt.
    pub provider_ref: Option<String>,
}

impl ChargeOpening {
    /// The ledger row a charge opened with `order`'s placement starts as: its first
    /// attempt, pending.
    pub(super) fn opened(&self, id: i64, order: OrderId, amount: Money) -> ChargeRow {
        ChargeRow {
            id,
            order_id: order,
            amount,
            provider: self.provider.to_owned(),
            provider_key: self.provider_key.clone(),
            provider_ref: self.provider_ref.clone(),
            status: PaymentStatus::Pending,
            attempts: 1,
            failure: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundLine {
    pub product_id: ProductId,
    pub quantity: i64,
    pub amount: i64,
}

#[derive(Debug, Clone)]
pub struct RefundRow {
    pub id: i64,
    pub order_id: OrderId,
    pub amount: Money,
    pub provider_key: String,
    pub provider_ref: Option<String>,
    pub status: PaymentStatus,
    pub failure: Option<String>,
    pub request_key: String,
    pub lines: Vec<RefundLine>,
    pub created_at: UnixMs,
}

/// A refund about to be asked of the provider: of the units in `lines` (back into stock
/// when it is done), or with no lines, of a charge whose order never completed.
pub struct NewRefund<'a> {
    pub order: OrderId,
    pub request_key: &'a str,
    pub provider: &'a str,
    pub amount: Money,
    pub lines: &'a [RefundLine],
}

pub enum RefundOpened {
    Opened(RefundRow),
    /// The same request was made before: here is what became of it.
    Existing(RefundRow),
    /// A line asks for more units than are left to refund (or is not in the order).
    TooMany,
}

/// An order line as refunding needs it: what was bought, what is refunded or being
/// refunded, and the commission terms it was sold under.
#[derive(Debug, Clone)]
pub struct PaidLine {
    pub product_id: ProductId,
    pub brand_id: BrandId,
    pub quantity: i64,
    pub unit_price: i64,
    pub refunded_quantity: i64,
    pub refund_held: i64,
    pub commission_bps: i64,
    pub commission_flat: i64,
    /// The co-host's share of the line's commission (0 without a co-host).
    pub co_host_share_bps: i64,
}

impl From<&super::NewOrderLine> for PaidLine {
    /// A line as it is written when the order is placed: nothing refunded yet.
    fn from(l: &super::NewOrderLine) -> Self {
        PaidLine {
            product_id: l.product_id,
            brand_id: l.brand_id,
            quantity: l.quantity,
            unit_price: l.unit_price,
            refunded_quantity: 0,
            refund_held: 0,
            commission_bps: l.commission_bps,
            commission_flat: l.commission_flat,
            co_host_share_bps: l.co_host_share_bps,
        }
    }
}

/// What a refund of some units of a line reverses: the host's part and the co-host's.
pub type Reversal = fn(&PaidLine, i64) -> (i64, i64);

/// One append-only commission ledger entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommissionEntry {
    pub order_id: OrderId,
    pub product_id: ProductId,
    pub creator_id: AccountId,
    pub brand_id: BrandId,
    pub kind: CommissionKind,
    pub amount: i64,
    pub currency: Currency,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommissionKind {
    Accrued,
    Reversed,
    Settled,
}

impl CommissionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CommissionKind::Accrued => "accrued",
            CommissionKind::Reversed => "reversed",
            CommissionKind::Settled => "settled",
        }
    }

    fn parse(raw: &str) -> Result<Self, StoreError> {
        Ok(match raw {
            "accrued" => CommissionKind::Accrued,
            "reversed" => CommissionKind::Reversed,
            "settled" => CommissionKind::Settled,
            other => return Err(sqlx::Error::Decode(format!("commission kind {other:?}").into())),
        })
    }
}

/// A creator's commission in one currency, by ledger entry kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommissionTotals {
    pub currency: Currency,
    pub accrued: i64,
    pub reversed: i64,
    pub settled: i64,
}

fn currency(row: &AnyRow) -> Result<Currency, StoreError> {
    let raw: String = row.try_get("currency")?;
    Currency::try_from(raw).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn paid_line(r: &AnyRow) -> Result<PaidLine, StoreError> {
    Ok(PaidLine {
        product_id: ProductId::from_row(r.try_get("product_id")?),
        brand_id: BrandId::from_row(r.try_get("brand_id")?),
        quantity: r.try_get("quantity")?,
        unit_price: r.try_get("unit_price")?,
        refunded_quantity: r.try_get("refunded_quantity")?,
        refund_held: r.try_get("refund_held")?,
        commission_bps: r.try_get("commission_bps")?,
        commission_flat: r.try_get("commission_flat")?,
        co_host_share_bps: r.try_get("co_host_share_bps")?,
    })
}

const CHARGE_COLUMNS: &str =
    "id, order_id, amount, currency, provider, provider_key, provider_ref, status, attempts, failure";

fn charge(row: &AnyRow) -> Result<ChargeRow, StoreError> {
    Ok(ChargeRow {
        id: row.try_get("id")?,
        order_id: OrderId::from_row(row.try_get("order_id")?),
        amount: Money::new(row.try_get("amount")?, currency(row)?),
        provider: row.try_get("provider")?,
        provider_key: row.try_get("provider_key")?,
        provider_ref: row.try_get("provider_ref")?,
        status: PaymentStatus::parse(&row.try_get::<String, _>("status")?)?,
        attempts: row.try_get("attempts")?,
        failure: row.try_get("failure")?,
    })
}

const REFUND_COLUMNS: &str = "id, order_id, amount, currency, provider_key, provider_ref, status, failure, \
     request_key, created_at";

fn refund(row: &AnyRow, lines: Vec<RefundLine>) -> Result<RefundRow, StoreError> {
    Ok(RefundRow {
        id: row.try_get("id")?,
        order_id: OrderId::from_row(row.try_get("order_id")?),
        amount: Money::new(row.try_get("amount")?, currency(row)?),
        provider_key: row.try_get("provider_key")?,
        provider_ref: row.try_get("provider_ref")?,
        status: PaymentStatus::parse(&row.try_get::<String, _>("status")?)?,
        failure: row.try_get("failure")?,
        request_key: row.try_get::<Option<String>, _>("request_key")?.unwrap_or_default(),
        lines,
        created_at: UnixMs(row.try_get("created_at")?),
    })
}

impl Store {
    /// Records a charge attempt before the provider is called: the order's charge row is
    /// created, if its placement did not open it, and counts every later attempt (which
    /// keeps the key and reference the row was opened with).
    pub async fn open_charge(
        &self,
        order: OrderId,
        amount: Money,
        c: &ChargeOpening,
        now: UnixMs,
    ) -> Result<ChargeRow, StoreError> {
        let sql = format!(
            "insert into payments (order_id, kind, amount, currency, provider, provider_key, provider_ref, status, \
             created_at, updated_at) values ($1, 'charge', $2, $3, $4, $5, $7, 'pending', $6, $6) \
             on conflict (order_id) where kind = 'charge' do update set attempts = payments.attempts + 1, \
             updated_at = $6 returning {CHARGE_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(order.get())
            .bind(amount.amount)
            .bind(amount.currency.as_str())
            .bind(c.provider)
            .bind(c.provider_key.as_str())
            .bind(now.0)
            .bind(c.provider_ref.as_deref())
            .fetch_one(&self.pool)
            .await?;
        charge(&row)
    }

    pub async fn charge_of(&self, order: OrderId) -> Result<Option<ChargeRow>, StoreError> {
        let sql = format!("select {CHARGE_COLUMNS} from payments where order_id = $1 and kind = 'charge'");
        let row = sqlx::query(&sql).bind(order.get()).fetch_optional(&self.pool).await?;
        row.as_ref().map(charge).transpose()
    }

    /// The charge the provider calls `reference` (how its webhooks name it).
    pub async fn charge_by_reference(&self, provider: &str, reference: &str) -> Result<Option<ChargeRow>, StoreError> {
        let sql = format!(
            "select {CHARGE_COLUMNS} from payments where kind = 'charge' and provider = $1 and provider_ref = $2"
        );
        let row = sqlx::query(&sql).bind(provider).bind(reference).fetch_optional(&self.pool).await?;
        row.as_ref().map(charge).transpose()
    }

    /// Records the provider's name for a prepared charge, before any money moves; `false`
    /// when the charge is no longer pending (the reconciler gave up on it meanwhile).
    pub async fn set_charge_reference(&self, id: i64, reference: &str, now: UnixMs) -> Result<bool, StoreError> {
        let recorded =
            sqlx::query("update payments set provider_ref = $1, updated_at = $2 where id = $3 and status = 'pending'")
                .bind(reference)
                .bind(now.0)
                .bind(id)
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok(recorded == 1)
    }

    /// Ends a pending payment (`succeeded` or `failed` for a charge); false when it was
    /// no longer pending, because another node or the reconciler got there first.
    pub async fn end_charge(
        &self,
        id: i64,
        status: PaymentStatus,
        failure: Option<&str>,
        now: UnixMs,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "update payments set status = $1, failure = $2, updated_at = $3 where id = $4 and status = 'pending'",
        )
        .bind(status.as_str())
        .bind(failure)
        .bind(now.0)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The provider charged after all a charge the ledger had given up on (failed while
    /// its confirmation was still under way): the ledger records the money that moved,
    /// so it can be refunded. False when the charge had succeeded already.
    pub async fn charge_approved_late(&self, id: i64, now: UnixMs) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "update payments set status = 'succeeded', failure = null, updated_at = $1 \
             where id = $2 and kind = 'charge' and status in ('pending', 'failed')",
        )
        .bind(now.0)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The lines of a paid order, as refunding needs them.
    pub async fn paid_lines(&self, order: OrderId) -> Result<Vec<PaidLine>, StoreError> {
        let rows = sqlx::query(
            "select product_id, brand_id, quantity, unit_price, refunded_quantity, refund_held, commission_bps, \
             commission_flat, co_host_share_bps from order_lines where order_id = $1 order by product_id",
        )
        .bind(order.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(paid_line).collect()
    }

    /// Records a refund before the provider is asked, holding its units so two refunds
    /// can never together return more than was bought. A request key seen before
    /// returns that refund instead.
    pub async fn open_refund(&self, r: &NewRefund<'_>, now: UnixMs) -> Result<RefundOpened, StoreError> {
        if let Some(existing) = self.refund_by_request(r.order, r.request_key).await? {
            return Ok(RefundOpened::Existing(existing));
        }
        let mut tx = self.pool.begin().await?;
        // The provider key is the ledger's own id-independent name for this refund.
        let provider_key = format!("livecart-o{}-refund-{}", r.order, r.request_key);
        let inserted = sqlx::query(
            "insert into payments (order_id, kind, amount, currency, provider, provider_key, status, request_key, \
             created_at, updated_at) values ($1, 'refund', $2, $3, $4, $5, 'pending', $6, $7, $7) returning id",
        )
        .bind(r.order.get())
        .bind(r.amount.amount)
        .bind(r.amount.currency.as_str())
        .bind(r.provider)
        .bind(&provider_key)
        .bind(r.request_key)
        .bind(now.0)
        .fetch_one(&mut *tx)
        .await;
        let id: i64 = match inserted {
            Ok(row) => row.try_get("id")?,
            Err(e) if is_unique_violation(&e) => {
                drop(tx);
                return match self.refund_by_request(r.order, r.request_key).await? {
                    Some(existing) => Ok(RefundOpened::Existing(existing)),
                    None => Err(e),
                };
            }
            Err(e) => return Err(e),
        };
        for l in r.lines {
            let held = sqlx::query(
                "update order_lines set refund_held = refund_held + $1 where order_id = $2 and product_id = $3 \
                 and refunded_quantity + refund_held + $1 <= quantity",
            )
            .bind(l.quantity)
            .bind(r.order.get())
            .bind(l.product_id.get())
            .execute(&mut *tx)
            .await?;
            if held.rows_affected() == 0 {
                return Ok(RefundOpened::TooMany);
            }
            sqlx::query(
                "insert into refund_lines (payment_id, order_id, product_id, quantity, amount) values ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(r.order.get())
            .bind(l.product_id.get())
            .bind(l.quantity)
            .bind(l.amount)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(RefundOpened::Opened(self.refund(id).await?.ok_or(sqlx::Error::RowNotFound)?))
    }

    async fn refund_lines(&self, payment: i64) -> Result<Vec<RefundLine>, StoreError> {
        let rows = sqlx::query(
            "select product_id, quantity, amount from refund_lines where payment_id = $1 order by product_id",
        )
        .bind(payment)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RefundLine {
                    product_id: ProductId::from_row(r.try_get("product_id")?),
                    quantity: r.try_get("quantity")?,
                    amount: r.try_get("amount")?,
                })
            })
            .collect()
    }

    pub async fn refund(&self, id: i64) -> Result<Option<RefundRow>, StoreError> {
        let sql = format!("select {REFUND_COLUMNS} from payments where id = $1 and kind = 'refund'");
        let Some(row) = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await? else { return Ok(None) };
        Ok(Some(refund(&row, self.refund_lines(id).await?)?))
    }

    pub async fn refund_by_request(&self, order: OrderId, request_key: &str) -> Result<Option<RefundRow>, StoreError> {
        let sql = format!(
            "select {REFUND_COLUMNS} from payments where order_id = $1 and kind = 'refund' and request_key = $2"
        );
        let row = sqlx::query(&sql).bind(order.get()).bind(request_key).fetch_optional(&self.pool).await?;
        let Some(row) = row else { return Ok(None) };
        let id: i64 = row.try_get("id")?;
        Ok(Some(refund(&row, self.refund_lines(id).await?)?))
    }

    pub async fn refunds_of_order(&self, order: OrderId) -> Result<Vec<RefundRow>, StoreError> {
        let sql = format!("select {REFUND_COLUMNS} from payments where order_id = $1 and kind = 'refund' order by id");
        let rows = sqlx::query(&sql).bind(order.get()).fetch_all(&self.pool).await?;
        let mut refunds = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = row.try_get("id")?;
            refunds.push(refund(row, self.refund_lines(id).await?)?);
        }
        Ok(refunds)
    }

    /// Refunds still waiting for the provider's answer since before `before`: what the
    /// reconciler asks about again.
    pub async fn refunds_waiting(&self, before: UnixMs) -> Result<Vec<RefundRow>, StoreError> {
        let sql = format!(
            "select {REFUND_COLUMNS} from payments where kind = 'refund' and status = 'pending' and updated_at <= $1 \
             order by id limit 100"
        );
        let rows = sqlx::query(&sql).bind(before.0).fetch_all(&self.pool).await?;
        let mut refunds = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = row.try_get("id")?;
            refunds.push(refund(row, self.refund_lines(id).await?)?);
        }
        Ok(refunds)
    }

    /// The provider refunded: in one transaction the refund is recorded, its units go
    /// back into stock, the commission reversal of each line is posted for each creator of
    /// the order (computed by `reversal` from the line as this transaction leaves it, so
    /// concurrent refunds of one line each reverse exactly their own units), and the
    /// order becomes `refunded` once every unit is. Returns the stock adjustments the
    /// inventory is to make (one per line), or `None` when the refund was no longer
    /// pending.
    pub async fn finish_refund(
        &self,
        refund: &RefundRow,
        reference: &str,
        parties: &super::Parties,
        reversal: Reversal,
        now: UnixMs,
    ) -> Result<Option<Vec<StockAdjustment>>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "update payments set status = 'refunded', provider_ref = $1, updated_at = $2 \
             where id = $3 and status = 'pending'",
        )
        .bind(reference)
        .bind(now.0)
        .bind(refund.id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        let mut reversals = Vec::with_capacity(refund.lines.len());
        let mut adjustments = Vec::with_capacity(refund.lines.len());
        for l in &refund.lines {
            let line = sqlx::query(
                "update order_lines set refund_held = refund_held - $1, refunded_quantity = refunded_quantity + $1 \
                 where order_id = $2 and product_id = $3 returning product_id, brand_id, quantity, unit_price, \
                 refunded_quantity, refund_held, commission_bps, commission_flat, co_host_share_bps",
            )
            .bind(l.quantity)
            .bind(refund.order_id.get())
            .bind(l.product_id.get())
            .fetch_one(&mut *tx)
            .await?;
            let line = paid_line(&line)?;
            let (host_part, co_host_part) = reversal(&line, l.quantity);
            let entry = |creator_id, amount| CommissionEntry {
                order_id: refund.order_id,
                product_id: line.product_id,
                creator_id,
                brand_id: line.brand_id,
                kind: CommissionKind::Reversed,
                amount,
                currency: refund.amount.currency,
            };
            reversals.push(entry(parties.host, host_part));
            if let Some(co_host) = parties.co_host {
                reversals.push(entry(co_host, co_host_part));
            }
            sqlx::query("update products set stock = stock + $1, card_version = card_version + 1 where id = $2")
                .bind(l.quantity)
                .bind(l.product_id.get())
                .execute(&mut *tx)
                .await?;
            adjustments.push(super::adjustments::record(&mut tx, l.product_id, l.quantity, now).await?);
        }
        insert_commission(&mut tx, &reversals, now, None).await?;
        sqlx::query(
            "update orders set status = 'refunded', updated_at = $1 where id = $2 and status = 'paid' and not exists \
             (select 1 from order_lines where order_id = $2 and refunded_quantity < quantity)",
        )
        .bind(now.0)
        .bind(refund.order_id.get())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(adjustments))
    }

    /// The provider refused the refund: it is recorded as failed and its units are no
    /// longer held for it.
    pub async fn fail_refund(&self, refund: &RefundRow, reason: &str, now: UnixMs) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "update payments set status = 'refund_failed', failure = $1, updated_at = $2 \
             where id = $3 and status = 'pending'",
        )
        .bind(reason)
        .bind(now.0)
        .bind(refund.id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        for l in &refund.lines {
            sqlx::query(
                "update order_lines set refund_held = refund_held - $1 where order_id = $2 and product_id = $3",
            )
            .bind(l.quantity)
            .bind(refund.order_id.get())
            .bind(l.product_id.get())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The commission ledger of one order, oldest first.
    pub async fn commission_entries(&self, order: OrderId) -> Result<Vec<CommissionEntry>, StoreError> {
        let rows = sqlx::query(
            "select order_id, product_id, creator_id, brand_id, kind, amount, currency from commission_entries \
             where order_id = $1 order by id",
        )
        .bind(order.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CommissionEntry {
                    order_id: OrderId::from_row(r.try_get("order_id")?),
                    product_id: ProductId::from_row(r.try_get("product_id")?),
                    creator_id: AccountId::from_row(r.try_get("creator_id")?),
                    brand_id: BrandId::from_row(r.try_get("brand_id")?),
                    kind: CommissionKind::parse(&r.try_get::<String, _>("kind")?)?,
                    amount: r.try_get("amount")?,
                    currency: currency(r)?,
                })
            })
            .collect()
    }

    /// A creator's commission ledger summed per currency and kind.
    pub async fn commission_totals(&self, creator: AccountId) -> Result<Vec<CommissionTotals>, StoreError> {
        let rows = sqlx::query(
            "select currency, \
             cast(coalesce(sum(case when kind = 'accrued' then amount else 0 end), 0) as bigint) as accrued, \
             cast(coalesce(sum(case when kind = 'reversed' then amount else 0 end), 0) as bigint) as reversed, \
             cast(coalesce(sum(case when kind = 'settled' then amount else 0 end), 0) as bigint) as settled \
             from commission_entries where creator_id = $1 group by currency order by currency",
        )
        .bind(creator.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CommissionTotals {
                    currency: currency(r)?,
                    accrued: r.try_get("accrued")?,
                    reversed: r.try_get("reversed")?,
                    settled: r.try_get("settled")?,
                })
            })
            .collect()
    }

    /// Settles every accrued line whose return window has passed: what is left of it
    /// after reversals becomes payable, once per line.
    pub async fn settle_due_commissions(&self, now: UnixMs) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "insert into commission_entries (order_id, product_id, creator_id, brand_id, kind, amount, currency, \
             created_at) \
             select a.order_id, a.product_id, a.creator_id, a.brand_id, 'settled', \
             a.amount - cast(coalesce((select sum(r.amount) from commission_entries r where r.kind = 'reversed' \
               and r.order_id = a.order_id and r.product_id = a.product_id and r.creator_id = a.creator_id), 0) \
               as bigint), \
             a.currency, $1 from commission_entries a where a.kind = 'accrued' and a.settles_at <= $1 \
             and not exists (select 1 from commission_entries s where s.kind = 'settled' \
               and s.order_id = a.order_id and s.product_id = a.product_id and s.creator_id = a.creator_id)",
        )
        .bind(now.0)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Records a provider webhook event; false when it was handled before.
    pub async fn first_webhook(&self, id: &str, kind: &str, now: UnixMs) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "insert into webhook_events (id, kind, received_at) values ($1, $2, $3) on conflict do nothing",
        )
        .bind(id)
        .bind(kind)
        .bind(now.0)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// Appends commission entries inside a transaction; accruals carry when they settle.
/// One statement per hundred entries (a settlement batch brings many; a hundred rows of
/// nine values stay under SQLite's oldest limit on bound values).
pub(super) async fn insert_commission(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    entries: &[CommissionEntry],
    now: UnixMs,
    settles_at: Option<UnixMs>,
) -> Result<(), StoreError> {
    let insert = Insert {
        head: "insert into commission_entries (order_id, product_id, creator_id, brand_id, kind, amount, currency, \
               settles_at, created_at)",
        columns: 9,
        tail: "",
        most: 64,
        keep: true,
    };
    insert
        .run(tx, entries, |q, e| {
            q.bind(e.order_id.get())
                .bind(e.product_id.get())
                .bind(e.creator_id.get())
                .bind(e.brand_id.get())
                .bind(e.kind.as_str())
                .bind(e.amount)
                .bind(e.currency.as_str())
                .bind(settles_at.map(|t| t.0))
                .bind(now.0)
        })
        .await?;
    Ok(())
}
