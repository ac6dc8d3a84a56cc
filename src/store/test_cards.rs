//! The books of the built-in test-card provider: its own record of what it charged and
//! refunded, kept apart from livecart's payment ledger exactly as a card processor's
//! books are, so a checkout that lost the provider's answer can ask what happened, and
//! tests can check the ledger against the provider.

use super::{Store, StoreError};
use crate::domain::{AccountId, Money, UnixMs};
use sqlx::Row;

/// What the test-card provider did with a charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestCardCharge {
    Approved,
    Declined(String),
    /// Seen once and not answered (the card that fails on its first attempt).
    Unanswered,
}

impl Store {
    pub async fn test_card_charge(&self, reference: &str) -> Result<Option<TestCardCharge>, StoreError> {
        let row = sqlx::query("select status, reason from test_card_charges where reference = $1")
            .bind(reference)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let status: String = row.try_get("status")?;
        Ok(Some(match status.as_str() {
            "approved" => TestCardCharge::Approved,
            "declined" => TestCardCharge::Declined(row.try_get::<Option<String>, _>("reason")?.unwrap_or_default()),
            _ => TestCardCharge::Unanswered,
        }))
    }

    /// Records what became of a charge the first time; later calls leave it as it is (a
    /// charge is decided once) and return what was recorded.
    pub async fn record_test_card_charge(
        &self,
        reference: &str,
        amount: Money,
        card_last4: &str,
        outcome: &TestCardCharge,
        now: UnixMs,
    ) -> Result<TestCardCharge, StoreError> {
        let (status, reason) = match outcome {
            TestCardCharge::Approved => ("approved", None),
            TestCardCharge::Declined(reason) => ("declined", Some(reason.as_str())),
            TestCardCharge::Unanswered => ("unanswered", None),
        };
        // The common case (the first answer) is one statement: the insert returns what it
        // wrote; only a charge decided before is read back.
        let turn = self.gate.turn().await;
        let inserted = sqlx::query(
            "insert into test_card_charges (reference, amount, currency, card_last4, status, reason, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7) on conflict do nothing returning reference",
        )
        .bind(reference)
        .bind(amount.amount)
        .bind(amount.currency.as_str())
        .bind(card_last4)
        .bind(status)
        .bind(reason)
        .bind(now.0)
        .fetch_optional(&self.pool)
        .await?;
        drop(turn);
        match inserted {
            Some(_) => Ok(outcome.clone()),
            None => self.test_card_charge(reference).await?.ok_or(sqlx::Error::RowNotFound),
        }
    }

    /// The last four digits of the card a charge was made with.
    pub async fn test_card_last4(&self, reference: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("select card_last4 from test_card_charges where reference = $1")
            .bind(reference)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.try_get("card_last4")).transpose()
    }

    /// The unanswered charge is answered now: approved.
    pub async fn approve_test_card_charge(&self, reference: &str) -> Result<(), StoreError> {
        sqlx::query("update test_card_charges set status = 'approved' where reference = $1 and status = 'unanswered'")
            .bind(reference)
            .execute(&self.pool)
            .await
            .map(drop)
    }

    /// Refunds `amount` of an approved charge once per `key`; false when the charge is not
    /// approved or the refund would exceed what it charged.
    pub async fn refund_test_card(
        &self,
        reference: &str,
        key: &str,
        amount: i64,
        now: UnixMs,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let new = sqlx::query(
            "insert into test_card_refunds (key, reference, amount, created_at) values ($1, $2, $3, $4) \
             on conflict do nothing",
        )
        .bind(key)
        .bind(reference)
        .bind(amount)
        .bind(now.0)
        .execute(&mut *tx)
        .await?;
        if new.rows_affected() == 0 {
            return Ok(true);
        }
        let refunded = sqlx::query(
            "update test_card_charges set refunded = refunded + $1 \
             where reference = $2 and status = 'approved' and refunded + $1 <= amount",
        )
        .bind(amount)
        .bind(reference)
        .execute(&mut *tx)
        .await?;
        if refunded.rows_affected() == 0 {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// What the test-card provider charged and refunded in total for a reference: the
    /// provider's side of the books, for reconciliation checks.
    pub async fn test_card_totals(&self, reference: &str) -> Result<Option<(i64, i64)>, StoreError> {
        let row =
            sqlx::query("select amount, refunded from test_card_charges where reference = $1 and status = 'approved'")
                .bind(reference)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| Ok((r.try_get("amount")?, r.try_get("refunded")?))).transpose()
    }

    /// Keeps a test card in the provider's vault under `token`.
    pub async fn save_test_card(
        &self,
        token: &str,
        account: AccountId,
        number: &str,
        now: UnixMs,
    ) -> Result<(), StoreError> {
        sqlx::query("insert into test_card_methods (token, account_id, number, created_at) values ($1, $2, $3, $4)")
            .bind(token)
            .bind(account.get())
            .bind(number)
            .bind(now.0)
            .execute(&self.pool)
            .await
            .map(drop)
    }

    /// The card number a vault token stands for, while it is kept.
    pub async fn test_card_method(&self, token: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("select number from test_card_methods where token = $1")
            .bind(token)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.try_get("number")).transpose()
    }

    pub async fn forget_test_card(&self, token: &str) -> Result<(), StoreError> {
        sqlx::query("delete from test_card_methods where token = $1").bind(token).execute(&self.pool).await.map(drop)
    }
}
