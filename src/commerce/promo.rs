//! Promo codes: a brand issues a code to a creator it has an agreement with; the
//! creator's audience types it at checkout in a room the creator hosts or co-hosts.
//!
//! The discount rule (docs/protocol.md, "Promo codes"): applied to each unit of each cart
//! line that is one of the code's products, on the unit price being charged (the drop
//! price included):
//! - `percent_off`: unit − floor(unit × percent / 100);
//! - `amount_off`: max(0, unit − amount_off), when the unit is priced in the code's
//!   currency (a line in another currency is not eligible).
//!
//! The order line keeps both prices: `list_price` before the code, `unit_price` paid. So
//! refunds (unit price × units) and commission (on the line total paid) need nothing more.
//! A use is taken in the transaction that places the order, by a conditional update that
//! never passes `max_uses`, and given back when the order is cancelled.

use super::{Commerce, CommerceError};
use crate::domain::{Currency, Invalid, Money, ProductId, PromoCode, PromoCodeId, Refusal, Role, UnixMs};
use crate::store::{AccountRow, NewPromo, PromoCreated, PromoRow, PromoScope, RoomRow};
use crate::wire::api::{NewPromoCodeRequest, PromoCodeStatus, PromoCodeView};
use std::collections::HashSet;

/// Codes a brand may hold that are neither revoked nor expired.
pub const MAX_LIVE_CODES_PER_BRAND: i64 = 1_000;
/// Products one code may name.
pub const MAX_CODE_PRODUCTS: usize = 50;
/// Codes one listing returns at most (live ones first).
const LIST_LIMIT: i64 = 1_000;
/// The latest expiry a code may have (the year 9999).
const LATEST_EXPIRY: i64 = 253_402_300_799_999;

/// Why a code was not accepted at checkout. Each case has its own wire code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromoRefusal {
    #[error("promo code {0} does not exist")]
    Unknown(String),
    #[error("promo code {0} has been revoked by its brand")]
    Revoked(String),
    #[error("promo code {0} has expired")]
    Expired(String),
    #[error("promo code {0} has no uses left")]
    UsedUp(String),
    #[error("promo code {0} belongs to a creator who does not host or co-host this room")]
    OtherRoom(String),
    #[error("promo code {0} applies to none of the products in the cart")]
    NoEligibleLine(String),
    /// A code's uses are real: a rehearsal takes none.
    #[error("promo code {0} cannot be used in a rehearsal")]
    Rehearsal(String),
}

/// What a code takes off each eligible unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discount {
    Percent(i64),
    Amount { per_unit: i64, currency: Currency },
}

impl Discount {
    fn of(row: &PromoRow) -> Discount {
        match (row.percent_off, row.amount_off, row.currency) {
            (_, Some(per_unit), Some(currency)) => Discount::Amount { per_unit, currency },
            (percent, _, _) => Discount::Percent(percent.unwrap_or(0)),
        }
    }

    /// The price of one unit priced `unit` once the discount applies, or `None` when it
    /// does not apply to that currency. Never below 0, never above `unit`.
    pub fn apply(self, unit: Money) -> Option<i64> {
        match self {
            Discount::Percent(percent) => Some(unit.amount - unit.amount * percent / 100),
            Discount::Amount { per_unit, currency } if currency == unit.currency => {
                Some((unit.amount - per_unit).max(0))
            }
            Discount::Amount { .. } => None,
        }
    }
}

/// A code accepted for a checkout (before its use is taken with the order).
#[derive(Debug, Clone)]
pub struct AppliedPromo {
    pub id: PromoCodeId,
    pub code: String,
    pub discount: Discount,
    pub products: HashSet<ProductId>,
}

/// Why `row` cannot be used now in `room`, if it cannot.
fn refusal(row: &PromoRow, room: &RoomRow, now: UnixMs) -> Option<PromoRefusal> {
    let code = || row.code.clone();
    if row.revoked_at.is_some() {
        Some(PromoRefusal::Revoked(code()))
    } else if row.expires_at.is_some_and(|t| t <= now) {
        Some(PromoRefusal::Expired(code()))
    } else if row.max_uses.is_some_and(|max| row.uses >= max) {
        Some(PromoRefusal::UsedUp(code()))
    } else if row.creator_id != room.creator_id && Some(row.creator_id) != room.co_host_id {
        Some(PromoRefusal::OtherRoom(code()))
    } else {
        None
    }
}

fn status(row: &PromoRow, now: UnixMs) -> PromoCodeStatus {
    if row.revoked_at.is_some() {
        PromoCodeStatus::Revoked
    } else if row.expires_at.is_some_and(|t| t <= now) {
        PromoCodeStatus::Expired
    } else if row.max_uses.is_some_and(|max| row.uses >= max) {
        PromoCodeStatus::UsedUp
    } else {
        PromoCodeStatus::Live
    }
}

fn view(row: PromoRow, now: UnixMs) -> PromoCodeView {
    PromoCodeView {
        status: status(&row, now),
        id: row.id,
        code: row.code,
        brand_id: row.brand_id,
        creator_id: row.creator_id,
        percent_off: row.percent_off,
        amount_off: row.amount_off.zip(row.currency).map(|(amount, currency)| Money::new(amount, currency)),
        max_uses: row.max_uses,
        uses: row.uses,
        redemptions: row.redemptions,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
        created_at: row.created_at,
        product_ids: row.products,
    }
}

impl Commerce {
    /// Issues a code: by a member of the brand whose products it names, to a creator the
    /// brand has an active agreement with.
    pub async fn create_promo_code(
        &self,
        who: &AccountRow,
        req: NewPromoCodeRequest,
    ) -> Result<PromoCodeView, CommerceError> {
        let brand = match (who.role, who.brand_id) {
            (Role::Brand, Some(brand)) => brand,
            _ => return Err(Refusal::Forbidden("only brand members issue promo codes").into()),
        };
        let amount_off = match (req.percent_off, req.amount_off) {
            (Some(_), None) => None,
            (None, Some(amount)) if amount.get() > 0 => Some(amount.get()),
            (None, Some(_)) => return Err(Invalid::new("amount_off", "must be at least 1 minor unit").into()),
            _ => return Err(Invalid::new("percent_off", "give either percent_off or amount_off").into()),
        };
        if req.product_ids.is_empty() || req.product_ids.len() > MAX_CODE_PRODUCTS {
            let why = format!("name 1 to {MAX_CODE_PRODUCTS} products");
            return Err(Invalid::new("product_ids", why).into());
        }
        if req.product_ids.iter().collect::<HashSet<_>>().len() != req.product_ids.len() {
            return Err(Invalid::new("product_ids", "each product once").into());
        }
        let products = self.store.products(&req.product_ids).await?;
        if products.len() != req.product_ids.len() {
            return Err(Invalid::new("product_ids", "one of the products does not exist").into());
        }
        if products.iter().any(|p| p.brand_id != brand) {
            return Err(Refusal::Forbidden("a brand issues promo codes for its own products only").into());
        }
        let currency = match amount_off {
            None => None,
            Some(_) => match products.first().map(|p| p.currency) {
                Some(c) if products.iter().all(|p| p.currency == c) => Some(c),
                _ => {
                    return Err(Invalid::new("product_ids", "an amount off needs products of one currency").into());
                }
            },
        };
        let now = self.clock.now();
        if let Some(t) = req.expires_at {
            if t <= now || t.0 > LATEST_EXPIRY {
                return Err(Invalid::new("expires_at", "must be a time in the future, in milliseconds").into());
            }
        }
        let creator = self.store.account(req.creator_id).await?.ok_or(Refusal::NotFound("creator"))?;
        if creator.role != Role::Creator {
            return Err(Invalid::new("creator_id", "that account is not a creator").into());
        }
        if !self.store.has_active_agreement(creator.id, brand).await? {
            return Err(Refusal::Conflict("the brand has no active agreement with this creator").into());
        }
        let new = NewPromo {
            code: req.code.as_str(),
            brand,
            creator: creator.id,
            percent_off: req.percent_off.map(|p| p.get()),
            amount_off,
            currency,
            max_uses: req.max_uses.map(|m| m.get()),
            expires_at: req.expires_at,
            products: &req.product_ids,
        };
        match self.store.create_promo_code(&new, MAX_LIVE_CODES_PER_BRAND, now).await? {
            PromoCreated::Created(row) => Ok(view(row, now)),
            PromoCreated::Taken => Err(Refusal::Conflict("that promo code is taken: choose another").into()),
            PromoCreated::TooMany => Err(Refusal::Conflict(
                "a brand holds at most 1000 promo codes that are neither revoked nor expired: revoke some first",
            )
            .into()),
        }
    }

    /// The codes `who` may see: a brand member its brand's, a creator those issued to
    /// them, an admin every code; live ones first, at most 1,000.
    pub async fn promo_codes(&self, who: &AccountRow) -> Result<Vec<PromoCodeView>, CommerceError> {
        let scope = match (who.role, who.brand_id) {
            (Role::Brand, Some(brand)) => PromoScope::Brand(brand),
            (Role::Creator, _) => PromoScope::Creator(who.id),
            (Role::Admin, _) => PromoScope::All,
            _ => return Err(Refusal::Forbidden("promo codes are for brands, creators and admins").into()),
        };
        let now = self.clock.now();
        Ok(self.store.promo_codes(scope, now, LIST_LIMIT).await?.into_iter().map(|r| view(r, now)).collect())
    }

    /// Revokes a code: by a member of its brand, or an admin. Orders placed with it keep
    /// it; no new checkout accepts it.
    pub async fn revoke_promo_code(&self, who: &AccountRow, id: PromoCodeId) -> Result<(), CommerceError> {
        let row = self.store.promo_code(id).await?.ok_or(Refusal::NotFound("promo code"))?;
        let member = who.role == Role::Brand && who.brand_id == Some(row.brand_id);
        if !member && who.role != Role::Admin {
            return Err(Refusal::Forbidden("only the brand that issued a promo code can revoke it").into());
        }
        if !self.store.revoke_promo_code(id, self.clock.now()).await? {
            return Err(Refusal::Conflict("the promo code has already been revoked").into());
        }
        Ok(())
    }

    /// The code a checkout in `room` asks for, if it may be used there now (whether it
    /// applies to the cart is the pricing's to say).
    pub(super) async fn promo_for(
        &self,
        code: &PromoCode,
        room: &RoomRow,
        now: UnixMs,
    ) -> Result<AppliedPromo, CommerceError> {
        let row = self.store.promo_code_named(code.as_str()).await?;
        let row = row.ok_or_else(|| PromoRefusal::Unknown(code.as_str().to_owned()))?;
        if let Some(refused) = refusal(&row, room, now) {
            return Err(refused.into());
        }
        Ok(AppliedPromo {
            id: row.id,
            discount: Discount::of(&row),
            products: row.products.iter().copied().collect(),
            code: row.code,
        })
    }

    /// Why the code could not be taken with the order after all (the database refused
    /// the use: it ran out, expired or was revoked meanwhile).
    pub(super) async fn promo_refused(&self, applied: &AppliedPromo, room: &RoomRow) -> CommerceError {
        let now = self.clock.now();
        match self.store.promo_code(applied.id).await {
            Ok(Some(row)) => refusal(&row, room, now).unwrap_or(PromoRefusal::UsedUp(row.code)).into(),
            Ok(None) => PromoRefusal::Unknown(applied.code.clone()).into(),
            Err(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn eur(amount: i64) -> Money {
        Money::new(amount, Currency::try_from("EUR").unwrap())
    }

    #[test]
    fn percent_off_rounds_the_discount_down() {
        // 15% of 999 is 149.85: 149 off, 850 paid.
        assert_eq!(Discount::Percent(15).apply(eur(999)), Some(850));
        assert_eq!(Discount::Percent(100).apply(eur(999)), Some(0));
        assert_eq!(Discount::Percent(10).apply(eur(0)), Some(0));
    }

    #[test]
    fn amount_off_never_goes_below_zero_and_needs_the_same_currency() {
        let off = Discount::Amount { per_unit: 300, currency: Currency::try_from("EUR").unwrap() };
        assert_eq!(off.apply(eur(1_000)), Some(700));
        assert_eq!(off.apply(eur(200)), Some(0));
        assert_eq!(off.apply(Money::new(1_000, Currency::try_from("USD").unwrap())), None);
    }

    proptest! {
        /// Whatever the price and the discount, a unit never costs less than 0 or more
        /// than before, and a percentage takes off at most that share.
        #[test]
        fn a_discounted_unit_stays_between_zero_and_its_list_price(
            unit in 0i64..=100_000_000_000,
            percent in 1i64..=100,
            per_unit in 1i64..=100_000_000_000,
        ) {
            let paid = Discount::Percent(percent).apply(eur(unit)).unwrap();
            prop_assert!((0..=unit).contains(&paid));
            prop_assert!((unit - paid) * 100 <= unit * percent);
            prop_assert!((unit - paid + 1) * 100 > unit * percent);
            let off = Discount::Amount { per_unit, currency: Currency::try_from("EUR").unwrap() };
            let paid = off.apply(eur(unit)).unwrap();
            prop_assert!((0..=unit).contains(&paid));
            prop_assert_eq!(paid, (unit - per_unit).max(0));
        }
    }
}
