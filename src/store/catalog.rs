use super::Store;
use super::adjustments::{self, StockAdjustment};
use super::columns::{Columns, qualified};
use super::reads::Read;
use super::shapes::{padded, placeholders};
use crate::domain::{
    AccountId, AgreementId, BasisPoints, BrandId, Currency, ImageUrl, Price, ProductDescription, ProductId,
    ProductTitle, ShareBps, Stock, UnixMs,
};
use sqlx::Row;
use sqlx::any::AnyRow;

/// Products one brand may have: its list (`GET /api/brands/{id}/products`, public, one
/// answer) and what a brand member can make the database keep stay bounded.
pub const MAX_PRODUCTS_PER_BRAND: i64 = 1_000;

#[derive(Debug, Clone)]
pub struct ProductRow {
    pub id: ProductId,
    pub brand_id: BrandId,
    pub title: String,
    pub description: String,
    pub image_url: String,
    pub price: i64,
    pub currency: Currency,
    pub stock: i64,
    /// One more with each change of what the product's card shows (an edit, a recount, a
    /// refund's restock): which of two cards is the newer, whichever node announces it.
    pub card_version: u64,
}

pub struct NewProduct {
    pub title: ProductTitle,
    pub description: ProductDescription,
    pub image_url: ImageUrl,
    pub price: Price,
    pub currency: Currency,
    pub stock: Stock,
}

#[derive(Default)]
pub struct ProductPatch {
    pub title: Option<ProductTitle>,
    pub description: Option<ProductDescription>,
    pub image_url: Option<ImageUrl>,
    pub price: Option<Price>,
}

/// What a creator earns under an agreement: basis points of what is paid, a flat amount
/// per unit, and a co-host's share of that commission.
#[derive(Debug, Clone, Copy)]
pub struct AgreementTerms {
    pub bps: BasisPoints,
    pub flat: Price,
    pub co_host_share: ShareBps,
}

#[derive(Debug, Clone)]
pub struct AgreementRow {
    pub id: AgreementId,
    pub brand_id: BrandId,
    pub creator_id: AccountId,
    pub product_id: ProductId,
    pub commission_bps: i64,
    pub commission_flat: i64,
    /// The co-host's share of each line's commission, in basis points.
    pub co_host_share_bps: i64,
    pub created_at: UnixMs,
    pub ended_at: Option<UnixMs>,
}

pub(super) const PRODUCT_COLUMNS: &str =
    "p.id, p.brand_id, p.title, p.description, p.image_url, p.price, p.currency, p.stock, p.card_version";

pub(super) fn product(row: &AnyRow) -> Result<ProductRow, sqlx::Error> {
    let currency: String = row.try_get("currency")?;
    Ok(ProductRow {
        id: ProductId::from_row(row.try_get("id")?),
        brand_id: BrandId::from_row(row.try_get("brand_id")?),
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        image_url: row.try_get("image_url")?,
        price: row.try_get("price")?,
        currency: Currency::try_from(currency).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        stock: row.try_get("stock")?,
        card_version: u64::try_from(row.try_get::<i64, _>("card_version")?).unwrap_or_default(),
    })
}

const AGREEMENT_COLUMNS: &str =
    "id, brand_id, creator_id, product_id, commission_bps, commission_flat, co_host_share_bps, created_at, ended_at";

pub(super) fn agreement(row: &AnyRow) -> Result<AgreementRow, sqlx::Error> {
    agreement_in(&Columns::own(row))
}

fn agreement_in(c: &Columns) -> Result<AgreementRow, sqlx::Error> {
    Ok(AgreementRow {
        id: AgreementId::from_row(c.get("id")?),
        brand_id: BrandId::from_row(c.get("brand_id")?),
        creator_id: AccountId::from_row(c.get("creator_id")?),
        product_id: ProductId::from_row(c.get("product_id")?),
        commission_bps: c.get("commission_bps")?,
        commission_flat: c.get("commission_flat")?,
        co_host_share_bps: c.get("co_host_share_bps")?,
        created_at: UnixMs(c.get("created_at")?),
        ended_at: c.get::<Option<i64>>("ended_at")?.map(UnixMs),
    })
}

impl Store {
    /// Creates a product; `None` when the brand already has [`MAX_PRODUCTS_PER_BRAND`]
    /// (the count and the insert are one statement).
    pub async fn create_product(
        &self,
        brand: BrandId,
        p: &NewProduct,
        now: UnixMs,
    ) -> Result<Option<ProductRow>, sqlx::Error> {
        let row = sqlx::query(
            "insert into products (brand_id, title, description, image_url, price, currency, stock, created_at) \
             select $1, $2, $3, $4, $5, $6, $7, $8 where (select count(*) from products where brand_id = $1) < $9 \
             returning id",
        )
        .bind(brand.get())
        .bind(p.title.as_str())
        .bind(p.description.as_str())
        .bind(p.image_url.as_str())
        .bind(p.price.get())
        .bind(p.currency.as_str())
        .bind(p.stock.get())
        .bind(now.0)
        .bind(MAX_PRODUCTS_PER_BRAND)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let id: i64 = row.try_get("id")?;
        Ok(Some(ProductRow {
            id: ProductId::from_row(id),
            brand_id: brand,
            title: p.title.as_str().to_owned(),
            description: p.description.as_str().to_owned(),
            image_url: p.image_url.as_str().to_owned(),
            price: p.price.get(),
            currency: p.currency,
            stock: p.stock.get(),
            card_version: 0,
        }))
    }

    pub async fn product(&self, id: ProductId) -> Result<Option<ProductRow>, sqlx::Error> {
        let sql = format!("select {PRODUCT_COLUMNS} from products p where p.id = $1");
        let row = sqlx::query(&sql).bind(id.get()).fetch_optional(&self.pool).await?;
        row.as_ref().map(product).transpose()
    }

    /// The current catalogue rows of `ids` (what checkout prices from), in id order.
    pub async fn products(&self, ids: &[ProductId]) -> Result<Vec<ProductRow>, sqlx::Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        products_read(ids).fetch_all(&self.pool).await?.iter().map(product).collect()
    }

    /// Rooms that line the product up and are scheduled or live: where a change to it
    /// must be announced.
    pub async fn rooms_lining_up(&self, product: ProductId) -> Result<Vec<crate::domain::RoomId>, sqlx::Error> {
        let rows = sqlx::query(
            "select r.id from rooms r join room_products rp on rp.room_id = r.id \
             where rp.product_id = $1 and r.status in ('scheduled', 'live') order by r.id",
        )
        .bind(product.get())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(crate::domain::RoomId::from_row(r.try_get("id")?))).collect()
    }

    pub async fn products_of_brand(&self, brand: BrandId) -> Result<Vec<ProductRow>, sqlx::Error> {
        let sql = format!("select {PRODUCT_COLUMNS} from products p where p.brand_id = $1 order by p.id");
        let rows = sqlx::query(&sql).bind(brand.get()).fetch_all(&self.pool).await?;
        rows.iter().map(product).collect()
    }

    /// Applies `patch`; the row read back may already hold a later change made meanwhile
    /// (its `card_version` says which).
    pub async fn update_product(&self, id: ProductId, patch: &ProductPatch) -> Result<Option<ProductRow>, sqlx::Error> {
        sqlx::query(
            "update products set title = coalesce($1, title), description = coalesce($2, description), \
             image_url = coalesce($3, image_url), price = coalesce($4, price), card_version = card_version + 1 \
             where id = $5",
        )
        .bind(patch.title.as_ref().map(|t| t.as_str().to_owned()))
        .bind(patch.description.as_ref().map(|d| d.as_str().to_owned()))
        .bind(patch.image_url.as_ref().map(|u| u.as_str().to_owned()))
        .bind(patch.price.map(Price::get))
        .bind(id.get())
        .execute(&self.pool)
        .await?;
        self.product(id).await
    }

    /// Sets the units on hand (a recount or a restock by the brand) if they are still
    /// `expected`; false when they are not (or the product is gone).
    /// Sets the product's stock to `stock` if it still is `expected`, and records the
    /// difference for the inventory; `None` when the stock was not `expected`.
    pub async fn set_stock(
        &self,
        id: ProductId,
        stock: Stock,
        expected: Stock,
        now: UnixMs,
    ) -> Result<Option<StockAdjustment>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let done =
            sqlx::query("update products set stock = $1, card_version = card_version + 1 where id = $2 and stock = $3")
                .bind(stock.get())
                .bind(id.get())
                .bind(expected.get())
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() != 1 {
            return Ok(None);
        }
        let adjustment = adjustments::record(&mut tx, id, stock.get() - expected.get(), now).await?;
        tx.commit().await?;
        Ok(Some(adjustment))
    }

    pub async fn create_agreement(
        &self,
        brand: BrandId,
        creator: AccountId,
        product: ProductId,
        terms: AgreementTerms,
        now: UnixMs,
    ) -> Result<AgreementRow, sqlx::Error> {
        let AgreementTerms { bps, flat, co_host_share } = terms;
        let id: i64 = sqlx::query(
            "insert into agreements (brand_id, creator_id, product_id, commission_bps, commission_flat, created_at, \
             co_host_share_bps) values ($1, $2, $3, $4, $5, $6, $7) returning id",
        )
        .bind(brand.get())
        .bind(creator.get())
        .bind(product.get())
        .bind(i64::from(bps))
        .bind(flat.get())
        .bind(now.0)
        .bind(co_host_share.get())
        .fetch_one(&self.pool)
        .await?
        .try_get("id")?;
        Ok(AgreementRow {
            id: AgreementId::from_row(id),
            brand_id: brand,
            creator_id: creator,
            product_id: product,
            commission_bps: i64::from(bps),
            commission_flat: flat.get(),
            co_host_share_bps: co_host_share.get(),
            created_at: now,
            ended_at: None,
        })
    }

    pub async fn agreement(&self, id: AgreementId) -> Result<Option<AgreementRow>, sqlx::Error> {
        let sql = format!("select {AGREEMENT_COLUMNS} from agreements where id = $1");
        let row = sqlx::query(&sql).bind(id.get()).fetch_optional(&self.pool).await?;
        row.as_ref().map(agreement).transpose()
    }

    /// Agreements of one brand or one creator, newest first: at most `limit`, and only
    /// those older than `before` when given.
    pub async fn agreements_of(
        &self,
        brand: Option<BrandId>,
        creator: Option<AccountId>,
        before: Option<AgreementId>,
        limit: u32,
    ) -> Result<Vec<AgreementRow>, sqlx::Error> {
        let sql = format!(
            "select {AGREEMENT_COLUMNS} from agreements \
             where ($1 is null or brand_id = $1) and ($2 is null or creator_id = $2) and ($3 is null or id < $3) \
             order by id desc limit $4"
        );
        let rows = sqlx::query(&sql)
            .bind(brand.map(BrandId::get))
            .bind(creator.map(AccountId::get))
            .bind(before.map(AgreementId::get))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(agreement).collect()
    }

    pub async fn active_agreement(
        &self,
        creator: AccountId,
        product: ProductId,
    ) -> Result<Option<AgreementRow>, sqlx::Error> {
        agreements_read(creator, &[product]).fetch_optional(&self.pool).await?.as_ref().map(agreement).transpose()
    }

    /// Whether the creator has an active agreement with the brand, for any product.
    pub async fn has_active_agreement(&self, creator: AccountId, brand: BrandId) -> Result<bool, sqlx::Error> {
        let row = sqlx::query(
            "select 1 as found from agreements where creator_id = $1 and brand_id = $2 and ended_at is null limit 1",
        )
        .bind(creator.get())
        .bind(brand.get())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    pub async fn end_agreement(&self, id: AgreementId, now: UnixMs) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("update agreements set ended_at = $1 where id = $2 and ended_at is null")
            .bind(now.0)
            .bind(id.get())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// The catalogue rows of `ids` (at least one), in id order.
fn products_read(ids: &[ProductId]) -> Read {
    let sql = format!(
        "select {PRODUCT_COLUMNS} from products p where p.id in ({}) order by p.id",
        placeholders(1, ids.len())
    );
    ids.iter().fold(Read::new(sql), |read, id| read.int(id.get()))
}

/// The creator's active agreements on `products` (at least one).
fn agreements_read(creator: AccountId, products: &[ProductId]) -> Read {
    let sql = format!(
        "select {AGREEMENT_COLUMNS} from agreements where creator_id = $1 and product_id in ({}) and ended_at is null",
        placeholders(2, products.len())
    );
    products.iter().fold(Read::new(sql).int(creator.get()), |read, id| read.int(id.get()))
}

/// A priced product's agreement columns, joined to its product's
/// ([`priced_products_read`]).
const JOINED_AGREEMENT: &str = "agreement_";

/// The catalogue rows of `ids` (at least one), in id order, each with the active
/// agreement on it of each of `creators` (at least one) that has one (one at most per
/// creator: a unique index), in one statement: a product appears once per creator with
/// an agreement on it, or once with none.
pub(super) fn priced_products_read(creators: &[AccountId], ids: &[ProductId]) -> Read {
    let (creators, ids) = (padded(creators.iter().copied()), padded(ids.iter().copied()));
    let agreement = qualified("a", AGREEMENT_COLUMNS, JOINED_AGREEMENT);
    let sql = format!(
        "select {PRODUCT_COLUMNS}, {agreement} from products p left join agreements a \
         on a.product_id = p.id and a.creator_id in ({}) and a.ended_at is null \
         where p.id in ({}) order by p.id",
        placeholders(1, creators.len()),
        placeholders(1 + creators.len(), ids.len())
    );
    let read = creators.iter().fold(Read::new(sql), |read, c| read.int(c.get()));
    ids.iter().fold(read, |read, id| read.int(id.get()))
}

/// A row of [`priced_products_read`].
pub(super) fn priced_product(row: &AnyRow) -> Result<(ProductRow, Option<AgreementRow>), sqlx::Error> {
    Ok((product(row)?, Columns::prefixed(row, JOINED_AGREEMENT).joined(agreement_in)?))
}
