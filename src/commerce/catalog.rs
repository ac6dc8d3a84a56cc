//! Brands' products and stock, and the commission agreements that let creators sell them.

use super::inventory::UNVERSIONED;
use super::{Commerce, CommerceError, StockKey};
use crate::bus::{Offered, Turn};
use crate::domain::{AgreementId, BrandId, Money, Price, ProductId, Refusal, Role, ShareBps, Stock, list_limit};
use crate::store::{
    AccountRow, AgreementRow, AgreementTerms, NewProduct, ProductPatch, ProductRow, is_unique_violation,
};
use crate::wire::api::{
    AgreementListQuery, AgreementView, NewAgreementRequest, NewProductRequest, Product, ProductPatchRequest,
};
use crate::wire::ws::{ProductCard, RoomEvent};

/// The most agreements one page of `GET /api/agreements` answers, and its default.
const AGREEMENTS_LISTED: u32 = 100;

/// The brand `who` acts for, if it is `brand`.
fn require_member(who: &AccountRow, brand: BrandId) -> Result<(), Refusal> {
    if who.role == Role::Brand && who.brand_id == Some(brand) {
        Ok(())
    } else {
        Err(Refusal::Forbidden("only members of this brand can do that"))
    }
}

/// A product as clients see it, with `stock` units buyable now.
pub fn product_card(p: &ProductRow, stock: i64) -> ProductCard {
    ProductCard {
        id: p.id,
        brand_id: p.brand_id,
        title: p.title.clone(),
        image_url: p.image_url.clone(),
        price: Money::new(p.price, p.currency),
        stock,
    }
}

pub fn agreement_view(a: &AgreementRow) -> AgreementView {
    AgreementView {
        id: a.id,
        brand_id: a.brand_id,
        creator_id: a.creator_id,
        product_id: a.product_id,
        commission_bps: a.commission_bps,
        commission_flat: a.commission_flat,
        co_host_share_bps: a.co_host_share_bps,
        created_at: a.created_at,
        ended_at: a.ended_at,
    }
}

impl Commerce {
    async fn owned_product(&self, who: &AccountRow, id: ProductId) -> Result<ProductRow, CommerceError> {
        let product = self.store.product(id).await?.ok_or(Refusal::NotFound("product"))?;
        require_member(who, product.brand_id)?;
        Ok(product)
    }

    /// Units of a product buyable now: stock less live holds where the inventory tracks
    /// it, the database's count otherwise.
    pub async fn available(&self, p: &ProductRow) -> Result<i64, CommerceError> {
        Ok(self.inventory.available(StockKey::Product(p.id)).await?.unwrap_or(p.stock))
    }

    /// A product as clients see it, with live stock.
    pub async fn card(&self, p: &ProductRow) -> Result<ProductCard, CommerceError> {
        Ok(product_card(p, self.available(p).await?))
    }

    /// A product with everything about it, as its page shows it.
    pub async fn detail(&self, p: &ProductRow) -> Result<Product, CommerceError> {
        Ok(Product { card: self.card(p).await?, description: p.description.clone(), on_hand: p.stock })
    }

    pub async fn product(&self, id: ProductId) -> Result<Product, CommerceError> {
        let p = self.store.product(id).await?.ok_or(Refusal::NotFound("product"))?;
        self.detail(&p).await
    }

    pub async fn create_product(
        &self,
        who: &AccountRow,
        brand: BrandId,
        req: NewProductRequest,
    ) -> Result<Product, CommerceError> {
        require_member(who, brand)?;
        let new = NewProduct {
            title: req.title,
            description: req.description,
            image_url: req.image_url,
            price: req.price,
            currency: req.currency,
            stock: req.stock,
        };
        let Some(p) = self.store.create_product(brand, &new, self.clock.now()).await? else {
            let message = "this brand has as many products as it may have (1,000): change one instead";
            return Err(Refusal::Conflict(message).into());
        };
        self.detail(&p).await
    }

    pub async fn products_of_brand(&self, brand: BrandId) -> Result<Vec<Product>, CommerceError> {
        let mut products = Vec::new();
        for p in self.store.products_of_brand(brand).await? {
            products.push(self.detail(&p).await?);
        }
        Ok(products)
    }

    pub async fn update_product(
        &self,
        who: &AccountRow,
        id: ProductId,
        req: ProductPatchRequest,
    ) -> Result<Product, CommerceError> {
        self.owned_product(who, id).await?;
        let patch =
            ProductPatch { title: req.title, description: req.description, image_url: req.image_url, price: req.price };
        let p = self.store.update_product(id, &patch).await?.ok_or(Refusal::NotFound("product"))?;
        self.announce_product(&p).await?;
        self.detail(&p).await
    }

    /// A restock or recount: the database gets the new count if it still holds
    /// `expected` (checked in the update itself, so a sale or another write in between on
    /// any node refuses it), the inventory keeps its holds, and rooms selling the product
    /// are told.
    pub async fn set_stock(
        &self,
        who: &AccountRow,
        id: ProductId,
        stock: Stock,
        expected: Stock,
    ) -> Result<Product, CommerceError> {
        self.owned_product(who, id).await?;
        let Some(adjustment) = self.store.set_stock(id, stock, expected, self.clock.now()).await? else {
            return Err(Refusal::Conflict("the stock changed since you saw it: reload and try again").into());
        };
        // By the difference the update made (it was conditional on `expected`), not to
        // the new count: sales in flight are committed here before the database takes
        // their units (`HoldBook::adjust_on_hand`). Rooms are told the new card there.
        self.restock(&[adjustment]).await;
        // Read again: an edit made meanwhile (on any node) is in the answer too.
        let p = self.store.product(id).await?.ok_or(Refusal::NotFound("product"))?;
        self.detail(&p).await
    }

    /// Tells every scheduled or live room lining the product up (on every node) what it
    /// is and costs now; returns its card. Two changes made at once on two nodes commit
    /// in one order and may be announced in the other, so a room takes the card only if
    /// it is newer (its `card_version`) than the last one it took: the last card a room
    /// shows is the database's.
    pub(super) async fn announce_product(&self, p: &ProductRow) -> Result<ProductCard, CommerceError> {
        let card = self.card(p).await?;
        let event = RoomEvent::ProductUpdated { product: card.clone() };
        let turn = Turn { chain: format!("product:{}", p.id), n: p.card_version, last: false };
        for room in self.store.rooms_lining_up(p.id).await? {
            if self.events.publish_if_newer(room, &event, &turn).await? == Offered::Passed {
                tracing::debug!(%room, product = %p.id, version = p.card_version, "a newer card is out: not announced");
            }
        }
        Ok(card)
    }

    pub async fn create_agreement(
        &self,
        who: &AccountRow,
        req: NewAgreementRequest,
    ) -> Result<AgreementView, CommerceError> {
        let product = self.owned_product(who, req.product_id).await?;
        let creator = self.store.account(req.creator_id).await?.ok_or(Refusal::NotFound("creator"))?;
        if creator.role != Role::Creator {
            return Err(crate::domain::Invalid::new("creator_id", "that account is not a creator").into());
        }
        let flat = req.commission_flat.unwrap_or(Price::try_from(0)?);
        let terms = AgreementTerms {
            bps: req.commission_bps,
            flat,
            co_host_share: req.co_host_share_bps.unwrap_or(ShareBps::DEFAULT),
        };
        let created =
            self.store.create_agreement(product.brand_id, creator.id, product.id, terms, self.clock.now()).await;
        match created {
            Ok(a) => {
                // A paid agreement may add the brand to the disclosure of the creator's rooms.
                self.announce_room_terms(a.creator_id, a.brand_id).await;
                Ok(agreement_view(&a))
            }
            Err(e) if is_unique_violation(&e) => {
                Err(Refusal::Conflict("this creator already has an active agreement for this product").into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A brand member sees the brand's agreements, a creator their own (from any number
    /// of brands, ended ones included: hence pages), newest first.
    pub async fn agreements(
        &self,
        who: &AccountRow,
        page: AgreementListQuery,
    ) -> Result<Vec<AgreementView>, CommerceError> {
        let limit = list_limit(page.limit, AGREEMENTS_LISTED, AGREEMENTS_LISTED)?;
        let (brand, creator) = match who.role {
            Role::Brand => (who.brand_id, None),
            Role::Creator => (None, Some(who.id)),
            _ => return Err(Refusal::Forbidden("only brands and creators have agreements").into()),
        };
        let rows = self.store.agreements_of(brand, creator, page.before, limit).await?;
        Ok(rows.iter().map(agreement_view).collect())
    }

    /// Ends an agreement: the creator can no longer line the product up or sell it.
    pub async fn end_agreement(&self, who: &AccountRow, id: AgreementId) -> Result<(), CommerceError> {
        let a = self.store.agreement(id).await?.ok_or(Refusal::NotFound("agreement"))?;
        require_member(who, a.brand_id)?;
        if !self.store.end_agreement(id, self.clock.now()).await? {
            return Err(Refusal::Conflict("the agreement has already ended").into());
        }
        // The brand may leave the disclosure of the creator's rooms.
        self.announce_room_terms(a.creator_id, a.brand_id).await;
        Ok(())
    }

    /// Starts tracking the stock of a room's lineup (and its running drop) in the
    /// inventory, so holds can be taken against it; both as just read from the database.
    pub async fn track_stock(
        &self,
        lineup: &[ProductRow],
        drop: Option<(crate::domain::DropId, i64)>,
    ) -> Result<(), CommerceError> {
        for p in lineup {
            self.inventory.track(StockKey::Product(p.id), p.stock, p.card_version).await?;
        }
        if let Some((drop, remaining)) = drop {
            self.inventory.track(StockKey::Drop(drop), remaining, UNVERSIONED).await?;
        }
        Ok(())
    }
}
