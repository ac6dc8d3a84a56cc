//! Reading orders back: a buyer's own, a brand's sales (and their live feed), a
//! creator's attributed orders.

use super::commission::co_host_part;
use super::{Commerce, CommerceError};
use crate::domain::{AccountId, BrandId, Money, OrderId, Refusal, Role};
use crate::store::{AccountRow, OrderRecord, ShareRow};
use crate::wire::api::{AttributedOrder, CreatorOrders, ShareRole, ShareView};
use crate::wire::ws::OrderView;
use axum::extract::ws::Utf8Bytes;
use tokio::sync::broadcast;

/// Whose commission a seller's view counts: the whole order's, or only the lines it shows
/// (a brand sees only its own lines, and each creator's share of their commission).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lines {
    All,
    Shown,
}

/// What a seller sees of an order, with each creator's share of its commission.
fn attributed(r: OrderRecord, shares: &[ShareRow], lines: Lines) -> AttributedOrder {
    let o = r.view;
    let currency = o.subtotal.currency;
    // Under `cohost-v1` the co-host's part of each line is its share of it, rounded down.
    let co_host_part: i64 = o.lines.iter().zip(&r.co_host_bps).map(|(l, bps)| co_host_part(l.commission, *bps)).sum();
    let shares = shares
        .iter()
        .filter(|s| s.order_id == o.id)
        .map(|s| ShareView {
            creator_id: s.creator_id,
            display_name: s.display_name.clone(),
            role: s.role,
            share_bps: s.share_bps,
            commission: Money::new(
                match (lines, s.role) {
                    (Lines::All, _) => s.commission_amount,
                    (Lines::Shown, ShareRole::CoHost) => co_host_part,
                    (Lines::Shown, ShareRole::Host) => o.commission.amount - co_host_part,
                },
                currency,
            ),
            rule_version: s.rule_version.clone(),
        })
        .collect();
    AttributedOrder {
        id: o.id,
        room_id: o.room_id,
        creator_id: o.creator_id,
        buyer_name: r.buyer_name,
        status: o.status,
        lines: o.lines,
        subtotal: o.subtotal,
        commission: o.commission,
        refunded: o.refunded,
        promo_code: o.promo_code,
        promo_code_id: o.promo_code_id,
        discount: o.discount,
        shares,
        created_at: o.created_at,
    }
}

impl Commerce {
    pub async fn orders_of_buyer(&self, who: &AccountRow) -> Result<Vec<OrderView>, CommerceError> {
        Ok(self.store.orders_of_buyer(who.id).await?)
    }

    /// One order, to its buyer or an admin; anyone else is told it does not exist (the
    /// creator and the brands see it, without the buyer's internals, in their lists).
    pub async fn order(&self, who: &AccountRow, id: OrderId) -> Result<OrderView, CommerceError> {
        let order = self.store.order_record(id).await?.ok_or(Refusal::NotFound("order"))?.view;
        if order.buyer_id == who.id || who.role == Role::Admin {
            Ok(order)
        } else {
            Err(Refusal::NotFound("order").into())
        }
    }

    pub async fn orders_of_brand(
        &self,
        who: &AccountRow,
        brand: BrandId,
    ) -> Result<Vec<AttributedOrder>, CommerceError> {
        let member = who.role == Role::Brand && who.brand_id == Some(brand);
        if !member && who.role != Role::Admin {
            return Err(Refusal::Forbidden("only members of this brand can see its orders").into());
        }
        let orders = self.store.orders_of_brand(brand).await?;
        self.attributed(orders, Lines::Shown).await
    }

    pub async fn orders_of_creator(
        &self,
        who: &AccountRow,
        creator: AccountId,
    ) -> Result<CreatorOrders, CommerceError> {
        if who.id != creator && who.role != Role::Admin {
            return Err(Refusal::Forbidden("creators see only their own attributed orders").into());
        }
        let orders = self.store.orders_of_creator(creator).await?;
        Ok(CreatorOrders {
            orders: self.attributed(orders, Lines::All).await?,
            earnings: self.store.creator_earnings(creator).await?,
        })
    }

    async fn attributed(&self, orders: Vec<OrderRecord>, lines: Lines) -> Result<Vec<AttributedOrder>, CommerceError> {
        let ids: Vec<OrderId> = orders.iter().map(|r| r.view.id).collect();
        let shares = self.store.order_shares(&ids).await?;
        Ok(orders.into_iter().map(|r| attributed(r, &shares, lines)).collect())
    }

    /// The live feed of the brand `who` works for: every sale of its products, in any
    /// room, on any node.
    pub async fn follow_sales(
        &self,
        who: &AccountRow,
    ) -> Result<(BrandId, broadcast::Receiver<Utf8Bytes>), CommerceError> {
        match (who.role, who.brand_id) {
            (Role::Brand, Some(brand)) => Ok((brand, self.sales.follow(brand).await?)),
            _ => Err(Refusal::Forbidden("only brand members can follow sales").into()),
        }
    }
}
