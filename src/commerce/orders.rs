//! Reading orders back: a buyer's own, a brand's sales, a creator's attributed orders.

use crate::app::AppState;
use crate::domain::{AccountId, BrandId, OrderId, Role};
use crate::error::{AppError, AppResult};
use crate::store::AccountRow;
use crate::wire::api::CreatorOrders;
use crate::wire::ws::OrderView;

pub async fn of_buyer(state: &AppState, who: &AccountRow) -> AppResult<Vec<OrderView>> {
    Ok(state.store.orders_of_buyer(who.id).await?)
}

/// One order, to its buyer, the creator it is attributed to, or an admin.
pub async fn one(state: &AppState, who: &AccountRow, id: OrderId) -> AppResult<OrderView> {
    let order = state.store.order_record(id).await?.ok_or(AppError::NotFound("order"))?.view;
    if order.buyer_id == who.id || order.creator_id == who.id || who.role == Role::Admin {
        Ok(order)
    } else {
        Err(AppError::NotFound("order"))
    }
}

pub async fn of_brand(state: &AppState, who: &AccountRow, brand: BrandId) -> AppResult<Vec<OrderView>> {
    let member = who.role == Role::Brand && who.brand_id == Some(brand);
    if !member && who.role != Role::Admin {
        return Err(AppError::Forbidden("only members of this brand can see its orders"));
    }
    Ok(state.store.orders_of_brand(brand).await?)
}

pub async fn of_creator(state: &AppState, who: &AccountRow, creator: AccountId) -> AppResult<CreatorOrders> {
    if who.id != creator && who.role != Role::Admin {
        return Err(AppError::Forbidden("creators see only their own attributed orders"));
    }
    Ok(CreatorOrders {
        orders: state.store.orders_of_creator(creator).await?,
        earnings: state.store.creator_earnings(creator).await?,
    })
}
