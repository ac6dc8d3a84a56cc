//! Brands' products and stock, and the commission agreements that let creators sell them.

use super::StockKey;
use crate::app::AppState;
use crate::domain::{AccountId, AgreementId, BrandId, Price, ProductId, Role, Stock};
use crate::error::{AppError, AppResult};
use crate::room::snapshot::product_card;
use crate::store::{AccountRow, AgreementRow, NewProduct, ProductPatch, ProductRow, is_unique_violation};
use crate::wire::api::{AgreementView, NewAgreementRequest, NewProductRequest, ProductPatchRequest};
use crate::wire::ws::ProductCard;

/// The brand `who` acts for, if it is `brand`.
fn require_member(who: &AccountRow, brand: BrandId) -> AppResult<()> {
    if who.role == Role::Brand && who.brand_id == Some(brand) {
        Ok(())
    } else {
        Err(AppError::Forbidden("only members of this brand can do that"))
    }
}

async fn owned_product(state: &AppState, who: &AccountRow, id: ProductId) -> AppResult<ProductRow> {
    let product = state.store.product(id).await?.ok_or(AppError::NotFound("product"))?;
    require_member(who, product.brand_id)?;
    Ok(product)
}

/// A product as clients see it, with live stock where this node tracks it.
pub async fn card(state: &AppState, p: &ProductRow) -> AppResult<ProductCard> {
    let stock = state.inventory.available(StockKey::Product(p.id)).await?.unwrap_or(p.stock);
    Ok(product_card(p, stock))
}

pub async fn create_product(
    state: &AppState,
    who: &AccountRow,
    brand: BrandId,
    req: NewProductRequest,
) -> AppResult<ProductCard> {
    require_member(who, brand)?;
    let new = NewProduct {
        title: req.title,
        description: req.description,
        image_url: req.image_url,
        price: req.price,
        currency: req.currency,
        stock: req.stock,
    };
    let p = state.store.create_product(brand, &new, state.clock.now()).await?;
    card(state, &p).await
}

pub async fn products_of_brand(state: &AppState, brand: BrandId) -> AppResult<Vec<ProductCard>> {
    let mut cards = Vec::new();
    for p in state.store.products_of_brand(brand).await? {
        cards.push(card(state, &p).await?);
    }
    Ok(cards)
}

pub async fn update_product(
    state: &AppState,
    who: &AccountRow,
    id: ProductId,
    req: ProductPatchRequest,
) -> AppResult<ProductCard> {
    owned_product(state, who, id).await?;
    let patch =
        ProductPatch { title: req.title, description: req.description, image_url: req.image_url, price: req.price };
    let p = state.store.update_product(id, &patch).await?.ok_or(AppError::NotFound("product"))?;
    card(state, &p).await
}

/// A restock or recount: the database gets the new count, the inventory keeps its holds.
pub async fn set_stock(state: &AppState, who: &AccountRow, id: ProductId, stock: Stock) -> AppResult<ProductCard> {
    let mut p = owned_product(state, who, id).await?;
    state.store.set_stock(id, stock).await?;
    state.inventory.set_on_hand(StockKey::Product(id), stock.get()).await?;
    p.stock = stock.get();
    card(state, &p).await
}

pub fn agreement_view(a: &AgreementRow) -> AgreementView {
    AgreementView {
        id: a.id,
        brand_id: a.brand_id,
        creator_id: a.creator_id,
        product_id: a.product_id,
        commission_bps: a.commission_bps,
        commission_flat: a.commission_flat,
        created_at: a.created_at,
        ended_at: a.ended_at,
    }
}

pub async fn create_agreement(
    state: &AppState,
    who: &AccountRow,
    req: NewAgreementRequest,
) -> AppResult<AgreementView> {
    let product = owned_product(state, who, req.product_id).await?;
    let creator = state.store.account(req.creator_id).await?.ok_or(AppError::NotFound("creator"))?;
    if creator.role != Role::Creator {
        return Err(AppError::BadRequest("creator_id: that account is not a creator".into()));
    }
    let flat = req.commission_flat.unwrap_or(Price::try_from(0)?);
    let created = state
        .store
        .create_agreement(product.brand_id, creator.id, product.id, req.commission_bps, flat, state.clock.now())
        .await;
    match created {
        Ok(a) => Ok(agreement_view(&a)),
        Err(e) if is_unique_violation(&e) => {
            Err(AppError::Conflict("this creator already has an active agreement for this product"))
        }
        Err(e) => Err(e.into()),
    }
}

/// A brand member sees the brand's agreements, a creator their own.
pub async fn agreements(state: &AppState, who: &AccountRow) -> AppResult<Vec<AgreementView>> {
    let rows = match who.role {
        Role::Brand => state.store.agreements_of(who.brand_id, None).await?,
        Role::Creator => state.store.agreements_of(None, Some(who.id)).await?,
        _ => {
            return Err(AppError::Forbidden("only brands and creators have agreements"));
        }
    };
    Ok(rows.iter().map(agreement_view).collect())
}

/// Ends an agreement: the creator can no longer line the product up or sell it.
pub async fn end_agreement(state: &AppState, who: &AccountRow, id: AgreementId) -> AppResult<()> {
    let a = state.store.agreement(id).await?.ok_or(AppError::NotFound("agreement"))?;
    require_member(who, a.brand_id)?;
    if !state.store.end_agreement(id, state.clock.now()).await? {
        return Err(AppError::Conflict("the agreement has already ended"));
    }
    Ok(())
}

pub async fn set_followers(state: &AppState, who: &AccountRow, creator: AccountId, followers: Stock) -> AppResult<()> {
    if who.role != Role::Admin {
        return Err(AppError::Forbidden("only an admin can set follower counts"));
    }
    if !state.store.set_followers(creator, followers.get()).await? {
        return Err(AppError::NotFound("creator"));
    }
    Ok(())
}
