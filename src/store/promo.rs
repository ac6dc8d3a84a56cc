//! Promo codes: what a brand issued to a creator, and the count of their uses, which
//! orders take (when placed) and give back (when cancelled) with conditional updates so
//! `uses` never passes `max_uses`, whichever node checks out.

use super::{Store, StoreError, is_unique_violation};
use crate::domain::{AccountId, BrandId, Currency, OrderId, ProductId, PromoCodeId, UnixMs};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromoRow {
    pub id: PromoCodeId,
    /// Upper-case.
    pub code: String,
    pub brand_id: BrandId,
    pub creator_id: AccountId,
    pub percent_off: Option<i64>,
    /// Per unit, in `currency`.
    pub amount_off: Option<i64>,
    pub currency: Option<Currency>,
    pub max_uses: Option<i64>,
    /// Orders placed or paid with the code (cancelled ones gave theirs back).
    pub uses: i64,
    /// Paid orders that used it (refunded ones included).
    pub redemptions: i64,
    pub expires_at: Option<UnixMs>,
    pub revoked_at: Option<UnixMs>,
    pub created_at: UnixMs,
    pub products: Vec<ProductId>,
}

/// A code about to be issued.
pub struct NewPromo<'a> {
    pub code: &'a str,
    pub brand: BrandId,
    pub creator: AccountId,
    pub percent_off: Option<i64>,
    pub amount_off: Option<i64>,
    pub currency: Option<Currency>,
    pub max_uses: Option<i64>,
    pub expires_at: Option<UnixMs>,
    pub products: &'a [ProductId],
}

pub enum PromoCreated {
    Created(PromoRow),
    /// Another code (of any brand) already has this text.
    Taken,
    /// The brand already holds as many unrevoked, unexpired codes as it may.
    TooMany,
}

/// Which codes a listing shows.
#[derive(Debug, Clone, Copy)]
pub enum PromoScope {
    Brand(BrandId),
    Creator(AccountId),
    All,
}

const PROMO_COLUMNS: &str = "c.id, c.code, c.brand_id, c.creator_id, c.percent_off, c.amount_off, c.currency, \
     c.max_uses, c.uses, c.expires_at, c.revoked_at, c.created_at, \
     (select count(*) from orders o where o.promo_code_id = c.id and o.status in ('paid', 'refunded')) as redemptions";

fn promo(row: &AnyRow) -> Result<PromoRow, StoreError> {
    let currency = match row.try_get::<Option<String>, _>("currency")? {
        Some(raw) => Some(Currency::try_from(raw).map_err(|e| sqlx::Error::Decode(Box::new(e)))?),
        None => None,
    };
    Ok(PromoRow {
        id: PromoCodeId::from_row(row.try_get("id")?),
        code: row.try_get("code")?,
        brand_id: BrandId::from_row(row.try_get("brand_id")?),
        creator_id: AccountId::from_row(row.try_get("creator_id")?),
        percent_off: row.try_get("percent_off")?,
        amount_off: row.try_get("amount_off")?,
        currency,
        max_uses: row.try_get("max_uses")?,
        uses: row.try_get("uses")?,
        redemptions: row.try_get("redemptions")?,
        expires_at: row.try_get::<Option<i64>, _>("expires_at")?.map(UnixMs),
        revoked_at: row.try_get::<Option<i64>, _>("revoked_at")?.map(UnixMs),
        created_at: UnixMs(row.try_get("created_at")?),
        products: Vec::new(),
    })
}

impl Store {
    /// Issues a code with its products, unless its text is taken or the brand already
    /// holds `cap` codes that are neither revoked nor expired at `now`.
    pub async fn create_promo_code(&self, p: &NewPromo<'_>, cap: i64, now: UnixMs) -> Result<PromoCreated, StoreError> {
        let mut tx = self.pool.begin().await?;
        // One statement counts and inserts, so the count is the writer's own.
        let inserted = sqlx::query(
            "insert into promo_codes (code, brand_id, creator_id, percent_off, amount_off, currency, max_uses, \
             uses, expires_at, created_at) \
             select cast($1 as text), cast($2 as bigint), cast($3 as bigint), cast($4 as bigint), \
             cast($5 as bigint), cast($6 as text), cast($7 as bigint), 0, cast($8 as bigint), cast($9 as bigint) \
             where (select count(*) from promo_codes where brand_id = $2 and revoked_at is null \
             and (expires_at is null or expires_at > $9)) < cast($10 as bigint) returning id",
        )
        .bind(p.code)
        .bind(p.brand.get())
        .bind(p.creator.get())
        .bind(p.percent_off)
        .bind(p.amount_off)
        .bind(p.currency.map(|c| c.as_str().to_owned()))
        .bind(p.max_uses)
        .bind(p.expires_at.map(|t| t.0))
        .bind(now.0)
        .bind(cap)
        .fetch_optional(&mut *tx)
        .await;
        let id: i64 = match inserted {
            Ok(Some(row)) => row.try_get("id")?,
            Ok(None) => return Ok(PromoCreated::TooMany),
            Err(e) if is_unique_violation(&e) => return Ok(PromoCreated::Taken),
            Err(e) => return Err(e),
        };
        for product in p.products {
            sqlx::query("insert into promo_code_products (promo_code_id, product_id) values ($1, $2)")
                .bind(id)
                .bind(product.get())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        let created = self.promo_code(PromoCodeId::from_row(id)).await?.ok_or(sqlx::Error::RowNotFound)?;
        Ok(PromoCreated::Created(created))
    }

    async fn with_products(&self, mut codes: Vec<PromoRow>) -> Result<Vec<PromoRow>, StoreError> {
        if codes.is_empty() {
            return Ok(codes);
        }
        let params: Vec<String> = (1..=codes.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "select promo_code_id, product_id from promo_code_products where promo_code_id in ({}) \
             order by promo_code_id, product_id",
            params.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for c in &codes {
            query = query.bind(c.id.get());
        }
        for row in query.fetch_all(&self.pool).await? {
            let code = PromoCodeId::from_row(row.try_get("promo_code_id")?);
            let product = ProductId::from_row(row.try_get("product_id")?);
            if let Some(c) = codes.iter_mut().find(|c| c.id == code) {
                c.products.push(product);
            }
        }
        Ok(codes)
    }

    pub async fn promo_code(&self, id: PromoCodeId) -> Result<Option<PromoRow>, StoreError> {
        let sql = format!("select {PROMO_COLUMNS} from promo_codes c where c.id = $1");
        let row = sqlx::query(&sql).bind(id.get()).fetch_optional(&self.pool).await?;
        let Some(row) = row else { return Ok(None) };
        Ok(self.with_products(vec![promo(&row)?]).await?.pop())
    }

    /// The code with this (upper-case) text, revoked or not.
    pub async fn promo_code_named(&self, code: &str) -> Result<Option<PromoRow>, StoreError> {
        let sql = format!("select {PROMO_COLUMNS} from promo_codes c where c.code = $1");
        let row = sqlx::query(&sql).bind(code).fetch_optional(&self.pool).await?;
        let Some(row) = row else { return Ok(None) };
        Ok(self.with_products(vec![promo(&row)?]).await?.pop())
    }

    /// At most `limit` codes of the scope: those neither revoked nor expired at `now`
    /// first, then the rest, newest first in each group.
    pub async fn promo_codes(&self, scope: PromoScope, now: UnixMs, limit: i64) -> Result<Vec<PromoRow>, StoreError> {
        let (filter, id) = match scope {
            PromoScope::Brand(b) => ("c.brand_id = $1", b.get()),
            PromoScope::Creator(c) => ("c.creator_id = $1", c.get()),
            PromoScope::All => ("$1 = $1", 0),
        };
        let sql = format!(
            "select {PROMO_COLUMNS} from promo_codes c where {filter} order by \
             case when c.revoked_at is null and (c.expires_at is null or c.expires_at > $2) then 0 else 1 end, \
             c.id desc limit $3"
        );
        let rows = sqlx::query(&sql).bind(id).bind(now.0).bind(limit).fetch_all(&self.pool).await?;
        let codes = rows.iter().map(promo).collect::<Result<Vec<_>, _>>()?;
        self.with_products(codes).await
    }

    /// Revokes a code; false when it already was.
    pub async fn revoke_promo_code(&self, id: PromoCodeId, now: UnixMs) -> Result<bool, StoreError> {
        let done = sqlx::query("update promo_codes set revoked_at = $1 where id = $2 and revoked_at is null")
            .bind(now.0)
            .bind(id.get())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// Takes one use of a code inside the transaction that places `order`: only while it is
/// not revoked, not expired and has uses left. False when it could not be taken.
pub(super) async fn take_use(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    code: PromoCodeId,
    now: UnixMs,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "update promo_codes set uses = uses + 1 where id = $1 and revoked_at is null \
         and (expires_at is null or expires_at > $2) and (max_uses is null or uses < max_uses)",
    )
    .bind(code.get())
    .bind(now.0)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives back the use an order took, inside the transaction that cancels it.
pub(super) async fn give_back_use(tx: &mut sqlx::Transaction<'_, sqlx::Any>, order: OrderId) -> Result<(), StoreError> {
    sqlx::query(
        "update promo_codes set uses = uses - 1 where uses > 0 \
         and id = (select promo_code_id from orders where id = $1)",
    )
    .bind(order.get())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
