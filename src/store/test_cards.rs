//! The books of the built-in test-card provider: its own record of what it charged and
//! refunded, kept apart from livecart's payment ledger exactly as a card processor's
//! books are, so a checkout that lost the provider's answer can ask what happened, and
//! tests can check the ledger against the provider.

use super::group_commit::{GroupCommit, together_or_alone};
use super::shapes::Insert;
use super::write_gate::WriteGate;
use super::{Store, StoreError};
use crate::domain::{AccountId, Money, UnixMs};
use sqlx::{AnyConnection, AnyPool, Row};
use std::collections::{HashMap, HashSet};

/// The most answers one transaction records.
const MAX_BATCH: usize = 64;

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
        recorded(&mut *self.pool.acquire().await?, reference).await
    }

    /// Records what became of a charge the first time; later calls leave it as it is (a
    /// charge is decided once) and return what was recorded. Charges answered at the
    /// same moment share one transaction ([`GroupCommit`]).
    pub async fn record_test_card_charge(
        &self,
        reference: &str,
        amount: Money,
        card_last4: &str,
        outcome: &TestCardCharge,
        now: UnixMs,
    ) -> Result<TestCardCharge, StoreError> {
        let answer = ChargeAnswer {
            reference: reference.to_owned(),
            amount,
            card_last4: card_last4.to_owned(),
            outcome: outcome.clone(),
            now,
        };
        self.test_card_books.submit(answer).await
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

/// A charge's first answer, on its way to the books.
pub(super) struct ChargeAnswer {
    reference: String,
    amount: Money,
    card_last4: String,
    outcome: TestCardCharge,
    now: UnixMs,
}

impl ChargeAnswer {
    fn status(&self) -> (&'static str, Option<&str>) {
        match &self.outcome {
            TestCardCharge::Approved => ("approved", None),
            TestCardCharge::Declined(reason) => ("declined", Some(reason.as_str())),
            TestCardCharge::Unanswered => ("unanswered", None),
        }
    }
}

/// Where the provider queues its answers for the group commit.
pub(super) type TestCardBooks = GroupCommit<ChargeAnswer, TestCardCharge>;

/// Starts the test cards' book-keeper on the current runtime.
pub(super) fn start_books(pool: AnyPool, gate: WriteGate) -> TestCardBooks {
    GroupCommit::start("livecart_test_card_batch_size", MAX_BATCH, move |answers: Vec<ChargeAnswer>| {
        let (pool, gate) = (pool.clone(), gate.clone());
        async move { together_or_alone(&answers, "test-card", |batch| record_batch(&pool, &gate, batch)).await }
    })
}

/// Records the answers, one statement for the whole batch in the common case; what each
/// charge's record says afterwards, in order. A reference recorded before, or twice in
/// the batch, keeps its first answer. No transaction: each answer stands on its own, and
/// an insert is atomic by itself, so a begin and a commit would only add round trips.
async fn record_batch(
    pool: &AnyPool,
    gate: &WriteGate,
    answers: &[ChargeAnswer],
) -> Result<Vec<TestCardCharge>, StoreError> {
    let insert = Insert {
        head: "insert into test_card_charges (reference, amount, currency, card_last4, status, reason, created_at)",
        columns: 7,
        tail: "on conflict do nothing returning reference",
        most: MAX_BATCH,
        keep: true,
    };
    let _turn = gate.turn().await;
    let mut conn = pool.acquire().await?;
    let mut inserted = HashSet::with_capacity(answers.len());
    let rows = insert
        .run(&mut conn, answers, |q, a| {
            let (status, reason) = a.status();
            q.bind(a.reference.as_str())
                .bind(a.amount.amount)
                .bind(a.amount.currency.as_str())
                .bind(a.card_last4.as_str())
                .bind(status)
                .bind(reason)
                .bind(a.now.0)
        })
        .await?;
    for row in rows {
        inserted.insert(row.try_get::<String, _>("reference")?);
    }
    // The first answer of each reference inserted stands; any other reads what stands.
    let mut stands: HashMap<&str, TestCardCharge> = HashMap::with_capacity(answers.len());
    for a in answers {
        if stands.contains_key(a.reference.as_str()) {
            continue;
        }
        let outcome = match inserted.contains(&a.reference) {
            true => a.outcome.clone(),
            false => recorded(&mut conn, &a.reference).await?.ok_or(sqlx::Error::RowNotFound)?,
        };
        stands.insert(a.reference.as_str(), outcome);
    }
    Ok(answers.iter().map(|a| stands[a.reference.as_str()].clone()).collect())
}

/// What the books say of a charge, on `conn`.
async fn recorded(conn: &mut AnyConnection, reference: &str) -> Result<Option<TestCardCharge>, StoreError> {
    let row = sqlx::query("select status, reason from test_card_charges where reference = $1")
        .bind(reference)
        .fetch_optional(conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let status: String = row.try_get("status")?;
    Ok(Some(match status.as_str() {
        "approved" => TestCardCharge::Approved,
        "declined" => TestCardCharge::Declined(row.try_get::<Option<String>, _>("reason")?.unwrap_or_default()),
        _ => TestCardCharge::Unanswered,
    }))
}

#[cfg(test)]
mod tests {
    use super::{Store, TestCardCharge};
    use crate::domain::{Currency, Money, UnixMs};

    /// Two confirmations of one charge answered at once, as a retry racing the first
    /// attempt: whichever the books record first stands, and both are told that one.
    #[tokio::test]
    async fn a_charge_answered_twice_at_once_keeps_its_first_answer() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Store::connect(&format!("sqlite://{}?mode=rwc", dir.path().join("b.db").display()), 2).await.unwrap();
        let amount = Money::new(1_000, Currency::try_from("EUR").unwrap());
        let declined = TestCardCharge::Declined("insufficient funds".into());
        let (a, b, other) = tokio::join!(
            store.record_test_card_charge("tc_k", amount, "4242", &TestCardCharge::Approved, UnixMs(1)),
            store.record_test_card_charge("tc_k", amount, "0002", &declined, UnixMs(1)),
            store.record_test_card_charge("tc_other", amount, "4242", &TestCardCharge::Approved, UnixMs(1)),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a, b, "one answer stands for the charge");
        assert_eq!(store.test_card_charge("tc_k").await.unwrap(), Some(a.clone()));
        assert_eq!(other.unwrap(), TestCardCharge::Approved, "a charge beside it keeps its own");
        // Answered later, the charge still says what it said first.
        let late = store.record_test_card_charge("tc_k", amount, "0002", &declined, UnixMs(2)).await.unwrap();
        let late_too = store.record_test_card_charge("tc_k", amount, "4242", &TestCardCharge::Approved, UnixMs(2));
        assert_eq!((late, late_too.await.unwrap()), (a.clone(), a));
    }
}
