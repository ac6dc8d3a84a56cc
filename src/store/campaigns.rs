//! Campaigns: a brand's agreements and rooms grouped under a budget.

use super::Store;
use crate::domain::{AgreementId, BrandId, CampaignId, Currency, RoomId, UnixMs};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignRow {
    pub id: CampaignId,
    pub brand_id: BrandId,
    pub name: String,
    pub budget: i64,
    pub flat_fee: i64,
    pub currency: Currency,
    pub created_at: UnixMs,
    pub agreements: Vec<AgreementId>,
    pub rooms: Vec<RoomId>,
}

/// A campaign's fields as they are to be written.
pub struct CampaignFields<'a> {
    pub name: &'a str,
    pub budget: i64,
    pub flat_fee: i64,
    pub currency: Currency,
    pub agreements: &'a [AgreementId],
    pub rooms: &'a [RoomId],
}

/// Campaigns one brand may have: enough for years of shows, and a bound on what a brand
/// can make the server hold.
pub const MAX_CAMPAIGNS_PER_BRAND: i64 = 500;

const COLUMNS: &str = "id, brand_id, name, budget, flat_fee, currency, created_at";

fn campaign(row: &AnyRow) -> Result<CampaignRow, sqlx::Error> {
    let currency: String = row.try_get("currency")?;
    Ok(CampaignRow {
        id: CampaignId::from_row(row.try_get("id")?),
        brand_id: BrandId::from_row(row.try_get("brand_id")?),
        name: row.try_get("name")?,
        budget: row.try_get("budget")?,
        flat_fee: row.try_get("flat_fee")?,
        currency: Currency::try_from(currency).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        created_at: UnixMs(row.try_get("created_at")?),
        agreements: Vec::new(),
        rooms: Vec::new(),
    })
}

async fn write_members(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: i64,
    agreements: &[AgreementId],
    rooms: &[RoomId],
) -> Result<(), sqlx::Error> {
    sqlx::query("delete from campaign_agreements where campaign_id = $1").bind(id).execute(&mut **tx).await?;
    sqlx::query("delete from campaign_rooms where campaign_id = $1").bind(id).execute(&mut **tx).await?;
    for a in agreements {
        sqlx::query("insert into campaign_agreements (campaign_id, agreement_id) values ($1, $2)")
            .bind(id)
            .bind(a.get())
            .execute(&mut **tx)
            .await?;
    }
    for r in rooms {
        sqlx::query("insert into campaign_rooms (campaign_id, room_id) values ($1, $2)")
            .bind(id)
            .bind(r.get())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

impl Store {
    /// Creates a campaign with its agreements and rooms; `None` when the brand already
    /// has [`MAX_CAMPAIGNS_PER_BRAND`] (the count and the insert are one statement).
    pub async fn create_campaign(
        &self,
        brand: BrandId,
        c: &CampaignFields<'_>,
        now: UnixMs,
    ) -> Result<Option<CampaignRow>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "insert into campaigns (brand_id, name, budget, flat_fee, currency, created_at) \
             select $1, $2, $3, $4, $5, $6 where (select count(*) from campaigns where brand_id = $1) < $7 \
             returning id",
        )
        .bind(brand.get())
        .bind(c.name)
        .bind(c.budget)
        .bind(c.flat_fee)
        .bind(c.currency.as_str())
        .bind(now.0)
        .bind(MAX_CAMPAIGNS_PER_BRAND)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let id: i64 = row.try_get("id")?;
        write_members(&mut tx, id, c.agreements, c.rooms).await?;
        tx.commit().await?;
        self.campaign(CampaignId::from_row(id)).await
    }

    /// Replaces a campaign's fields and members; false when it does not exist.
    pub async fn update_campaign(&self, id: CampaignId, c: &CampaignFields<'_>) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let done =
            sqlx::query("update campaigns set name = $1, budget = $2, flat_fee = $3, currency = $4 where id = $5")
                .bind(c.name)
                .bind(c.budget)
                .bind(c.flat_fee)
                .bind(c.currency.as_str())
                .bind(id.get())
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        write_members(&mut tx, id.get(), c.agreements, c.rooms).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn campaign(&self, id: CampaignId) -> Result<Option<CampaignRow>, sqlx::Error> {
        let sql = format!("select {COLUMNS} from campaigns where id = $1");
        let Some(row) = sqlx::query(&sql).bind(id.get()).fetch_optional(&self.pool).await? else { return Ok(None) };
        let mut c = campaign(&row)?;
        self.fill_members(std::slice::from_mut(&mut c)).await?;
        Ok(Some(c))
    }

    /// A brand's campaigns (every brand's when `None`), newest first, at most `limit`.
    pub async fn campaigns(&self, brand: Option<BrandId>, limit: i64) -> Result<Vec<CampaignRow>, sqlx::Error> {
        let sql =
            format!("select {COLUMNS} from campaigns where ($1 is null or brand_id = $1) order by id desc limit $2");
        let rows = sqlx::query(&sql).bind(brand.map(BrandId::get)).bind(limit).fetch_all(&self.pool).await?;
        let mut campaigns = rows.iter().map(campaign).collect::<Result<Vec<_>, _>>()?;
        self.fill_members(&mut campaigns).await?;
        Ok(campaigns)
    }

    /// Reads the members of `campaigns`: two queries, whatever their number.
    async fn fill_members(&self, campaigns: &mut [CampaignRow]) -> Result<(), sqlx::Error> {
        if campaigns.is_empty() {
            return Ok(());
        }
        let params: Vec<String> = (1..=campaigns.len()).map(|i| format!("${i}")).collect();
        let params = params.join(", ");
        for (table, column) in [("campaign_agreements", "agreement_id"), ("campaign_rooms", "room_id")] {
            let sql = format!(
                "select campaign_id, {column} as member from {table} where campaign_id in ({params}) \
                 order by campaign_id, {column}"
            );
            let mut query = sqlx::query(&sql);
            for c in campaigns.iter() {
                query = query.bind(c.id.get());
            }
            for row in query.fetch_all(&self.pool).await? {
                let id: i64 = row.try_get("campaign_id")?;
                let member: i64 = row.try_get("member")?;
                let Some(c) = campaigns.iter_mut().find(|c| c.id.get() == id) else { continue };
                match column {
                    "agreement_id" => c.agreements.push(AgreementId::from_row(member)),
                    _ => c.rooms.push(RoomId::from_row(member)),
                }
            }
        }
        Ok(())
    }
}
