//! The account's wallet (one-tap buy): its saved payment method (the provider's reference,
//! never a card number), its customer at the provider, and its shipping address. One of
//! each per account, by primary key, so what an account can store is bounded.

use super::reads::Read;
use super::shapes::{padded, placeholders};
use super::{Store, StoreError};
use crate::domain::{AccountId, ShippingAddress, UnixMs};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A saved payment method as the wallet keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedMethodRow {
    pub provider: String,
    pub method_ref: String,
    pub customer_ref: Option<String>,
    pub brand: String,
    pub last4: String,
    pub saved_at: UnixMs,
}

const METHOD_COLUMNS: &str = "provider, method_ref, customer_ref, brand, last4, saved_at";
const ADDRESS_COLUMNS: &str = "name, line1, line2, city, region, postal_code, country";

fn method(row: &AnyRow) -> Result<SavedMethodRow, StoreError> {
    Ok(SavedMethodRow {
        provider: row.try_get("provider")?,
        method_ref: row.try_get("method_ref")?,
        customer_ref: row.try_get("customer_ref")?,
        brand: row.try_get("brand")?,
        last4: row.try_get("last4")?,
        saved_at: UnixMs(row.try_get("saved_at")?),
    })
}

/// Binds an address's fields after what `query` already binds, in the column order every
/// table holding an address uses: name, line1, line2, city, region, postal_code, country.
pub(super) fn bind_address<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    a: &'q ShippingAddress,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    query
        .bind(a.name.as_str())
        .bind(a.line1.as_str())
        .bind(a.line2.as_str())
        .bind(a.city.as_str())
        .bind(a.region.as_str())
        .bind(a.postal_code.as_str())
        .bind(a.country.as_str())
}

/// An address from the columns [`ADDRESS_COLUMNS`] names, each prefixed with `prefix`.
pub(super) fn address(row: &AnyRow, prefix: &str) -> Result<ShippingAddress, StoreError> {
    let get = |c: &str| row.try_get::<String, _>(format!("{prefix}{c}").as_str());
    let value = serde_json::json!({
        "name": get("name")?, "line1": get("line1")?, "line2": get("line2")?, "city": get("city")?,
        "region": get("region")?, "postal_code": get("postal_code")?, "country": get("country")?,
    });
    serde_json::from_value(value).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

impl Store {
    pub async fn saved_method(&self, account: AccountId) -> Result<Option<SavedMethodRow>, StoreError> {
        let sql = format!("select {METHOD_COLUMNS} from saved_payment_methods where account_id = $1");
        let row = sqlx::query(&sql).bind(account.get()).fetch_optional(&self.pool).await?;
        row.as_ref().map(method).transpose()
    }

    /// Saves the account's payment method in place of the one it had, which is returned
    /// (for the provider to forget it).
    pub async fn save_method(
        &self,
        account: AccountId,
        new: &SavedMethodRow,
    ) -> Result<Option<SavedMethodRow>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let sql = format!("delete from saved_payment_methods where account_id = $1 returning {METHOD_COLUMNS}");
        let old = sqlx::query(&sql).bind(account.get()).fetch_optional(&mut *tx).await?;
        let old = old.as_ref().map(method).transpose()?;
        sqlx::query(
            "insert into saved_payment_methods (account_id, provider, method_ref, customer_ref, brand, last4, saved_at) \
             values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(account.get())
        .bind(&new.provider)
        .bind(&new.method_ref)
        .bind(new.customer_ref.as_deref())
        .bind(&new.brand)
        .bind(&new.last4)
        .bind(new.saved_at.0)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(old)
    }

    /// Removes the account's saved payment method, returning it if there was one.
    pub async fn remove_method(&self, account: AccountId) -> Result<Option<SavedMethodRow>, StoreError> {
        let sql = format!("delete from saved_payment_methods where account_id = $1 returning {METHOD_COLUMNS}");
        let row = sqlx::query(&sql).bind(account.get()).fetch_optional(&self.pool).await?;
        row.as_ref().map(method).transpose()
    }

    pub async fn payment_customer(&self, account: AccountId, provider: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("select customer_ref from payment_customers where account_id = $1 and provider = $2")
            .bind(account.get())
            .bind(provider)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.try_get("customer_ref")).transpose()
    }

    /// Records the account's customer at the provider, unless one was recorded first
    /// (two saves racing): returns the one that stands.
    pub async fn record_payment_customer(
        &self,
        account: AccountId,
        provider: &str,
        customer: &str,
        now: UnixMs,
    ) -> Result<String, StoreError> {
        sqlx::query(
            "insert into payment_customers (account_id, provider, customer_ref, created_at) values ($1, $2, $3, $4) \
             on conflict do nothing",
        )
        .bind(account.get())
        .bind(provider)
        .bind(customer)
        .bind(now.0)
        .execute(&self.pool)
        .await?;
        self.payment_customer(account, provider).await?.ok_or(sqlx::Error::RowNotFound)
    }

    pub async fn shipping_address(&self, account: AccountId) -> Result<Option<(ShippingAddress, UnixMs)>, StoreError> {
        shipping_addresses_read(&[account]).fetch_optional(&self.pool).await?.as_ref().map(saved_address).transpose()
    }

    /// Saves the account's shipping address in place of the one it had.
    pub async fn save_shipping_address(
        &self,
        account: AccountId,
        a: &ShippingAddress,
        now: UnixMs,
    ) -> Result<(), StoreError> {
        let upsert = sqlx::query(
            "insert into shipping_addresses (account_id, name, line1, line2, city, region, postal_code, country, \
             saved_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             on conflict (account_id) do update set name = excluded.name, line1 = excluded.line1, \
             line2 = excluded.line2, city = excluded.city, region = excluded.region, \
             postal_code = excluded.postal_code, country = excluded.country, saved_at = excluded.saved_at",
        )
        .bind(account.get());
        bind_address(upsert, a).bind(now.0).execute(&self.pool).await.map(drop)
    }

    /// Removes the account's shipping address; false when it had none.
    pub async fn remove_shipping_address(&self, account: AccountId) -> Result<bool, StoreError> {
        let done = sqlx::query("delete from shipping_addresses where account_id = $1")
            .bind(account.get())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

/// The saved shipping addresses of `accounts` (at least one) that have one, each row
/// naming its account.
pub(super) fn shipping_addresses_read(accounts: &[AccountId]) -> Read {
    let accounts = padded(accounts.iter().copied());
    let sql = format!(
        "select account_id, {ADDRESS_COLUMNS}, saved_at from shipping_addresses where account_id in ({})",
        placeholders(1, accounts.len())
    );
    accounts.iter().fold(Read::new(sql), |read, a| read.int(a.get()))
}

/// A saved shipping address, and when it was saved.
pub(super) fn saved_address(r: &AnyRow) -> Result<(ShippingAddress, UnixMs), StoreError> {
    Ok((address(r, "")?, UnixMs(r.try_get("saved_at")?)))
}
