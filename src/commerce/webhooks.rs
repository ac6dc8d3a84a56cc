//! Payment provider webhooks: what the provider reports on its own, verified, once.
//!
//! A delivery is believed only when the provider's port verifies it (for Stripe, the
//! `Stripe-Signature` HMAC over the raw body, within five minutes). Its event id is then
//! recorded; an id seen before is a replay (or a redelivery) and changes nothing. An
//! event about a charge's outcome is recorded in the ledger and its order finished, just
//! as the reconciler would (see `settlement`).
//!
//! The webhook is a shortcut, never the only path: an outcome it would have reported is
//! also found by a retry of the checkout or, once the hold runs out, by the reconciler
//! asking the provider.

use super::{Commerce, CommerceError};

impl Commerce {
    /// Handles one webhook delivery: its signature header (if any) and raw body.
    pub async fn payment_webhook(&self, signature: Option<&str>, body: &[u8]) -> Result<(), CommerceError> {
        let now = self.clock.now();
        let event = self.payments.read_webhook(signature, body, now).map_err(|e| {
            tracing::warn!(error = %e, "payment webhook refused");
            CommerceError::WebhookRefused(e)
        })?;
        if !self.store.first_webhook(&event.id, &event.kind, now).await? {
            tracing::debug!(event = %event.id, kind = %event.kind, "payment webhook seen before");
            return Ok(());
        }
        let Some(charge) = event.charge else {
            tracing::debug!(event = %event.id, kind = %event.kind, "payment webhook without a charge outcome");
            return Ok(());
        };
        tracing::info!(event = %event.id, kind = %event.kind, reference = %charge.reference, "payment webhook");
        self.charge_reported(&charge.reference, charge.state).await
    }
}
