//! Reading orders back: a buyer's own, a brand's sales (and their live feed), a
//! creator's attributed orders.

use super::{Commerce, CommerceError};
use crate::domain::{AccountId, BrandId, OrderId, Refusal, Role};
use crate::store::AccountRow;
use crate::wire::api::CreatorOrders;
use crate::wire::ws::OrderView;
use axum::extract::ws::Utf8Bytes;
use tokio::sync::broadcast;

impl Commerce {
    pub async fn orders_of_buyer(&self, who: &AccountRow) -> Result<Vec<OrderView>, CommerceError> {
        Ok(self.store.orders_of_buyer(who.id).await?)
    }

    /// One order, to its buyer, the creator it is attributed to, or an admin; anyone
    /// else is told it does not exist.
    pub async fn order(&self, who: &AccountRow, id: OrderId) -> Result<OrderView, CommerceError> {
        let order = self.store.order_record(id).await?.ok_or(Refusal::NotFound("order"))?.view;
        if order.buyer_id == who.id || order.creator_id == who.id || who.role == Role::Admin {
            Ok(order)
        } else {
            Err(Refusal::NotFound("order").into())
        }
    }

    pub async fn orders_of_brand(&self, who: &AccountRow, brand: BrandId) -> Result<Vec<OrderView>, CommerceError> {
        let member = who.role == Role::Brand && who.brand_id == Some(brand);
        if !member && who.role != Role::Admin {
            return Err(Refusal::Forbidden("only members of this brand can see its orders").into());
        }
        Ok(self.store.orders_of_brand(brand).await?)
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
            orders: self.store.orders_of_creator(creator).await?,
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
