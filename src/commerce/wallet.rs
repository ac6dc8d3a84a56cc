//! The account's wallet, for one-tap buy: one saved payment method and one shipping
//! address. The method is kept by the payment provider ([`PaymentProvider::save_card`]);
//! livecart stores only the provider's reference to it, its brand and last four digits.
//! A method saved with another provider than the one running now is not shown and not
//! used.
//!
//! [`PaymentProvider::save_card`]: super::payments::PaymentProvider::save_card

use super::payments::{PaymentFailure, SavedMethod};
use super::{Commerce, CommerceError};
use crate::domain::{CardNumber, ShippingAddress};
use crate::store::{AccountRow, SavedMethodRow};
use crate::wire::api::{SavedCardView, WalletView};

type Result<T> = std::result::Result<T, CommerceError>;

fn failed(e: PaymentFailure) -> CommerceError {
    match e {
        PaymentFailure::Declined(reason) => CommerceError::PaymentDeclined(reason),
        PaymentFailure::Unavailable => CommerceError::PaymentUnavailable,
    }
}

impl Commerce {
    /// What the account has saved.
    pub async fn wallet(&self, account: &AccountRow) -> Result<WalletView> {
        let method = self.saved_row(account).await?;
        let address = self.store.shipping_address(account.id).await?;
        Ok(WalletView {
            payment_method: method.map(|m| SavedCardView { brand: m.brand, last4: m.last4, saved_at: m.saved_at }),
            shipping_address: address.map(|(a, _)| a),
        })
    }

    /// The account's saved method, if the provider running now is the one it was saved with.
    async fn saved_row(&self, account: &AccountRow) -> Result<Option<SavedMethodRow>> {
        let row = self.store.saved_method(account.id).await?;
        Ok(row.filter(|m| m.provider == self.payments.name()))
    }

    /// The saved method a `"payment":"saved"` checkout charges.
    pub(super) async fn saved_method(&self, account: &AccountRow) -> Result<SavedMethod> {
        let row = self.saved_row(account).await?.ok_or(CommerceError::NoSavedPaymentMethod)?;
        Ok(SavedMethod {
            method_ref: row.method_ref,
            customer_ref: row.customer_ref,
            brand: row.brand,
            last4: row.last4,
        })
    }

    /// Has the provider keep `card` for the account, in place of the method it had (which
    /// the provider then forgets). Nothing is charged. A card the provider will not keep
    /// is `payment_declined`, and the wallet is left as it was.
    pub async fn save_card(&self, account: &AccountRow, card: &CardNumber) -> Result<WalletView> {
        let provider = self.payments.name();
        let customer = self.store.payment_customer(account.id, provider).await?;
        let saved = self.payments.save_card(account.id, customer.as_deref(), card).await.map_err(failed)?;
        let now = self.clock.now();
        if let (None, Some(made)) = (&customer, &saved.customer_ref) {
            self.store.record_payment_customer(account.id, provider, made, now).await?;
        }
        let row = SavedMethodRow {
            provider: provider.to_owned(),
            method_ref: saved.method_ref,
            customer_ref: saved.customer_ref,
            brand: saved.brand,
            last4: saved.last4,
            saved_at: now,
        };
        if let Some(old) = self.store.save_method(account.id, &row).await? {
            self.forget(old).await;
        }
        self.wallet(account).await
    }

    /// Removes the account's saved method; the provider forgets it. Nothing to remove is
    /// not an error.
    pub async fn remove_card(&self, account: &AccountRow) -> Result<()> {
        if let Some(old) = self.store.remove_method(account.id).await? {
            self.forget(old).await;
        }
        Ok(())
    }

    pub async fn save_shipping_address(&self, account: &AccountRow, address: &ShippingAddress) -> Result<WalletView> {
        self.store.save_shipping_address(account.id, address, self.clock.now()).await?;
        self.wallet(account).await
    }

    pub async fn remove_shipping_address(&self, account: &AccountRow) -> Result<()> {
        self.store.remove_shipping_address(account.id).await?;
        Ok(())
    }

    /// Tells the provider a method is no longer saved. The wallet no longer names it, so
    /// no checkout can use it whatever the provider answers; a failure is only logged.
    async fn forget(&self, old: SavedMethodRow) {
        if old.provider != self.payments.name() {
            tracing::info!(
                provider = old.provider,
                "a method saved with another provider is dropped, not forgotten there"
            );
            return;
        }
        let method = SavedMethod {
            method_ref: old.method_ref,
            customer_ref: old.customer_ref,
            brand: old.brand,
            last4: old.last4,
        };
        if let Err(e) = self.payments.forget(&method).await {
            tracing::warn!(error = ?e, "the payment provider did not forget a removed method");
        }
    }
}
