//! Reading orders back: a buyer's own, a brand's sales (and their live feed), a
//! creator's attributed orders.

use super::{Commerce, CommerceError};
use crate::domain::{AccountId, BrandId, OrderId, Refusal, Role};
use crate::store::{AccountRow, OrderRecord};
use crate::wire::api::{AttributedOrder, CreatorOrders};
use crate::wire::ws::OrderView;
use axum::extract::ws::Utf8Bytes;
use tokio::sync::broadcast;

/// What a seller sees of an order.
fn attributed(r: OrderRecord) -> AttributedOrder {
    let o = r.view;
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
        Ok(self.store.orders_of_brand(brand).await?.into_iter().map(attributed).collect())
    }

    pub async fn orders_of_creator(
        &self,
        who: &AccountRow,
        creator: AccountId,
    ) -> Result<CreatorOrders, CommerceError> {
        if who.id != creator && who.role != Role::Admin {
            return Err(Refusal::Forbidden("creators see only their own attributed orders").into());
        }
        Ok(CreatorOrders {
            orders: self.store.orders_of_creator(creator).await?.into_iter().map(attributed).collect(),
            earnings: self.store.creator_earnings(creator).await?,
        })
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
