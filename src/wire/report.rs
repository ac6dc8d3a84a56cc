//! Reports and campaigns as clients see them (docs/metrics.md is the contract: what every
//! figure means). Money is integer minor units with its currency; every rate is an exact
//! fraction with a fixed-precision rendering, never a float.

use crate::domain::{
    AccountId, AgreementId, BrandId, CampaignId, CampaignName, Currency, Money, ProductId, RoomId, Tier, UnixMs,
};
use crate::wire::ws::RoomStatus;
use serde::{Deserialize, Serialize};

/// An exact fraction. `value` is `numerator ÷ denominator` rounded to four decimals
/// (halves away from zero), or `null` when the denominator is 0. Add and compare the
/// numerators and denominators, not the values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rate {
    pub numerator: i64,
    pub denominator: i64,
    #[schema(example = "0.0750")]
    pub value: Option<String>,
}

impl Rate {
    /// Decimals of [`Rate::value`].
    pub const DECIMALS: u32 = 4;

    pub fn new(numerator: i64, denominator: i64) -> Rate {
        Rate { numerator, denominator, value: render(i128::from(numerator), i128::from(denominator)) }
    }
}

/// `n ÷ d` rounded to [`Rate::DECIMALS`] decimals, halves away from zero.
fn render(n: i128, d: i128) -> Option<String> {
    if d == 0 {
        return None;
    }
    let scale = 10i128.pow(Rate::DECIMALS);
    let negative = (n < 0) != (d < 0);
    let (n, d) = (n.unsigned_abs(), d.unsigned_abs());
    let scaled = n * scale as u128;
    let mut q = scaled / d;
    if (scaled % d) * 2 >= d {
        q += 1;
    }
    let sign = if negative && q > 0 { "-" } else { "" };
    let scale = scale as u128;
    Some(format!("{sign}{}.{:0width$}", q / scale, q % scale, width = Rate::DECIMALS as usize))
}

/// The creators' commission on the lines in scope, from the commission ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CommissionFigures {
    /// Accrued when the orders were paid.
    pub accrued: Money,
    /// Given back by refunds.
    pub reversed: Money,
    /// Paid out once the return window passed.
    pub settled: Money,
    /// accrued − reversed − settled: still to pay (negative when a refund came after the
    /// line had settled).
    pub owed: Money,
    /// accrued − reversed: what the sales finally earn.
    pub net: Money,
}

/// Every figure of a scope (docs/metrics.md). Rates carry the counts they are made of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Figures {
    /// Σ line totals of paid orders (after promo discounts, before refunds).
    pub gmv: Money,
    /// `gmv` − `refunded`.
    pub net_gmv: Money,
    pub refunded: Money,
    /// What promo codes took off those lines.
    pub discount: Money,
    pub orders: i64,
    pub units: i64,
    /// `gmv` ÷ `orders`, rounded down.
    pub aov: Money,
    pub buyers: i64,
    pub new_buyers: i64,
    /// Buyers with two or more paid orders in scope.
    pub repeat_buyers: i64,
    /// `repeat_buyers` ÷ `buyers`.
    pub repeat_buyer_rate: Rate,
    /// Paid orders in scope that used a promo code.
    pub promo_redemptions: i64,
    pub unique_viewers: i64,
    pub peak_viewers: i64,
    pub watch_ms: i64,
    /// `watch_ms` ÷ `unique_viewers`, rounded down.
    pub average_watch_ms: i64,
    pub comments: i64,
    pub reactions: i64,
    /// `buyers` ÷ `unique_viewers`.
    pub conversion_rate: Rate,
    /// (`comments` + `reactions`) ÷ `unique_viewers`.
    pub engagement_rate: Rate,
    /// (`comments` + `reactions`) × 60,000 ÷ `watch_ms`.
    pub engagement_per_viewer_minute: Rate,
    pub pin_impressions: i64,
    pub product_views: i64,
    /// `product_views` ÷ `pin_impressions`.
    pub click_through_rate: Rate,
    /// Distinct viewers who added a product in scope to a cart.
    pub cart_adders: i64,
    /// `cart_adders` ÷ `unique_viewers`.
    pub cart_add_rate: Rate,
    pub checkouts_started: i64,
    pub checkouts_paid: i64,
    /// `checkouts_paid` ÷ `checkouts_started`.
    pub checkout_success_rate: Rate,
    /// Milliseconds a product in scope was pinned.
    pub pinned_ms: i64,
    /// Paid orders placed while a product in scope was pinned in their room.
    pub orders_while_pinned: i64,
    /// Orders per minute pinned: `orders_while_pinned` × 60,000 ÷ `pinned_ms`.
    pub sales_velocity: Rate,
    pub drops: i64,
    /// Units sold through those drops.
    pub drop_units: i64,
    /// Milliseconds those drops ran (until sold out, or until they ended).
    pub drop_ms: i64,
    /// Units per minute of drop: `drop_units` × 60,000 ÷ `drop_ms`.
    pub drop_velocity: Rate,
    pub drops_sold_out: i64,
    /// Mean milliseconds from a sold-out drop's start to its last unit; null without one.
    pub sell_out_ms: Option<i64>,
    pub commission: CommissionFigures,
}

/// The product figures of one product: its sales, pins, views and cart adds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProductFigures {
    pub product_id: ProductId,
    pub title: String,
    pub gmv: Money,
    pub net_gmv: Money,
    pub refunded: Money,
    pub discount: Money,
    pub orders: i64,
    pub units: i64,
    pub aov: Money,
    pub buyers: i64,
    pub pin_impressions: i64,
    pub product_views: i64,
    pub click_through_rate: Rate,
    pub cart_adders: i64,
    pub pinned_ms: i64,
    /// Paid orders in scope placed while this product was pinned.
    pub orders_while_pinned: i64,
    pub sales_velocity: Rate,
    pub drop_units: i64,
    pub drop_velocity: Rate,
    pub commission: CommissionFigures,
}

/// Paid orders in scope that used one promo code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PromoFigures {
    pub code_id: i64,
    pub code: String,
    /// The creator the brand issued the code to.
    pub creator_id: AccountId,
    pub redemptions: i64,
    /// Σ line totals in scope of those orders.
    pub gmv: Money,
    pub discount: Money,
}

/// This scope's `sales_velocity` and `conversion_rate` against the creator's trailing
/// baseline: the same figures over their previous ended rooms (at most 5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Uplift {
    /// The rooms of the baseline, newest first.
    pub baseline_rooms: Vec<RoomId>,
    pub baseline_sales_velocity: Rate,
    pub baseline_conversion_rate: Rate,
    /// This ÷ baseline (`1.2000` = 20% better than usual).
    pub sales_velocity: Rate,
    pub conversion_rate: Rate,
}

/// When and in what currency a report counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReportBasis {
    /// Start of the period (inclusive), Unix ms; null for the beginning.
    pub from: Option<UnixMs>,
    /// End of the period (exclusive), Unix ms; null for now.
    pub to: Option<UnixMs>,
    /// The one currency the money figures count.
    pub currency: Currency,
    /// Other currencies with paid orders in scope (ask again with `?currency=`).
    pub other_currencies: Vec<Currency>,
    /// When the report was computed. Event figures (viewers, pins, views, comments…)
    /// reach the log up to about a second late; orders and money are exact.
    pub generated_at: UnixMs,
    /// Set when the figures are cut down to one brand's products (a brand reading a room
    /// or creator report).
    pub brand_id: Option<BrandId>,
}

/// A creator with their reach bracket (docs/metrics.md, "Creator tiers").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatorSummary {
    pub id: AccountId,
    pub display_name: String,
    pub followers: i64,
    pub tier: Tier,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RoomSummary {
    pub id: RoomId,
    pub title: String,
    pub status: RoomStatus,
    pub host_id: AccountId,
    pub co_host_id: Option<AccountId>,
    pub live_at: Option<UnixMs>,
    pub ended_at: Option<UnixMs>,
}

/// `GET /api/rooms/{room_id}/report`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RoomReport {
    pub room: RoomSummary,
    /// The room is live: the figures are the show so far.
    pub live: bool,
    #[serde(flatten)]
    pub basis: ReportBasis,
    #[serde(flatten)]
    pub figures: Figures,
    /// Null when the host has no earlier ended room.
    pub uplift: Option<Uplift>,
    pub promo_codes: Vec<PromoFigures>,
    /// The room's lineup (a brand's products only, for a brand).
    pub products: Vec<ProductFigures>,
}

/// One room of a creator report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RoomRow {
    pub room: RoomSummary,
    #[serde(flatten)]
    pub figures: Figures,
}

/// `GET /api/creators/{creator_id}/report`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatorReport {
    pub creator: CreatorSummary,
    #[serde(flatten)]
    pub basis: ReportBasis,
    #[serde(flatten)]
    pub figures: Figures,
    /// Null when the creator has no ended room before the period's first room.
    pub uplift: Option<Uplift>,
    pub promo_codes: Vec<PromoFigures>,
    /// Rooms the creator hosted or co-hosted that were live in the period, newest first
    /// (at most [`CreatorReport::MAX_ROOMS`]).
    pub rooms: Vec<RoomRow>,
}

impl CreatorReport {
    pub const MAX_ROOMS: usize = 200;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BrandSummary {
    pub id: BrandId,
    pub name: String,
}

/// `GET /api/brands/{brand_id}/report`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BrandReport {
    pub brand: BrandSummary,
    #[serde(flatten)]
    pub basis: ReportBasis,
    #[serde(flatten)]
    pub figures: Figures,
    pub promo_codes: Vec<PromoFigures>,
    /// The brand's products (at most [`BrandReport::MAX_PRODUCTS`], by id).
    pub products: Vec<ProductFigures>,
}

impl BrandReport {
    pub const MAX_PRODUCTS: usize = 500;
}

/// What a campaign cost the brand, and what it returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CostFigures {
    /// The campaign's flat fee × creators who hosted a room of it that went live.
    pub flat_fees: Money,
    /// Net commission (accrued − reversed) + `flat_fees`.
    pub cost: Money,
    /// (`net_gmv` − `cost`) ÷ `cost`.
    pub roi: Rate,
    /// `cost` ÷ `new_buyers`, rounded down; null without new buyers.
    pub cost_per_new_buyer: Option<Money>,
}

/// One creator of a campaign report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatorRow {
    pub creator: CreatorSummary,
    /// The creator's rooms in the campaign that went live in the period.
    pub rooms: i64,
    #[serde(flatten)]
    pub figures: Figures,
    #[serde(flatten)]
    pub cost: CostFigures,
}

/// The creators of one tier in a campaign report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TierRow {
    pub tier: Tier,
    pub creators: i64,
    #[serde(flatten)]
    pub figures: Figures,
    #[serde(flatten)]
    pub cost: CostFigures,
}

/// How the creator rows of a campaign report are ordered (highest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CreatorSort {
    NetGmv,
    ConversionRate,
    Aov,
    SalesVelocity,
    Roi,
}

/// `GET /api/campaigns/{campaign_id}/report`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CampaignReport {
    pub campaign: CampaignView,
    #[serde(flatten)]
    pub basis: ReportBasis,
    #[serde(flatten)]
    pub figures: Figures,
    #[serde(flatten)]
    pub cost: CostFigures,
    /// `budget` − `cost` (in the campaign's currency; the budget otherwise).
    pub budget_left: Money,
    pub promo_codes: Vec<PromoFigures>,
    pub sort: CreatorSort,
    /// The tier the rows are filtered to, if any (the totals are the whole campaign's).
    pub tier: Option<Tier>,
    /// One row per creator of the campaign's agreements, ordered by `sort`.
    pub creators: Vec<CreatorRow>,
    /// One row per tier with creators in the campaign.
    pub tiers: Vec<TierRow>,
}

/// The period, currency and format of a report: `?from=&to=&currency=&format=`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// Start of the period, Unix ms, inclusive.
    #[serde(default)]
    pub from: Option<i64>,
    /// End of the period, Unix ms, exclusive.
    #[serde(default)]
    pub to: Option<i64>,
    /// The currency to count (by default the one most paid orders in scope are in).
    #[serde(default)]
    #[param(value_type = Option<String>)]
    pub currency: Option<Currency>,
    #[serde(default)]
    pub format: Option<ReportFormat>,
}

/// As [`ReportQuery`], with the campaign report's `sort` and `tier`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CampaignReportQuery {
    #[serde(default)]
    pub from: Option<i64>,
    #[serde(default)]
    pub to: Option<i64>,
    #[serde(default)]
    #[param(value_type = Option<String>)]
    pub currency: Option<Currency>,
    #[serde(default)]
    pub format: Option<ReportFormat>,
    /// Orders the creator rows (highest first); `net_gmv` by default.
    #[serde(default)]
    pub sort: Option<CreatorSort>,
    /// Keeps the creator and tier rows of one tier.
    #[serde(default)]
    pub tier: Option<Tier>,
}

impl CampaignReportQuery {
    pub fn basis(&self) -> ReportQuery {
        ReportQuery { from: self.from, to: self.to, currency: self.currency, format: self.format }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    #[default]
    Json,
    /// `text/csv`: a header row, the totals, then one row per product, room, creator or
    /// tier.
    Csv,
}

/// A brand's campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CampaignView {
    pub id: CampaignId,
    pub brand_id: BrandId,
    pub name: String,
    pub budget: Money,
    /// Paid to each creator who hosts a room of the campaign that goes live.
    pub flat_fee: Money,
    pub agreement_ids: Vec<AgreementId>,
    pub room_ids: Vec<RoomId>,
    pub created_at: UnixMs,
}

/// `POST /api/campaigns`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCampaignRequest {
    #[schema(value_type = String)]
    pub name: CampaignName,
    /// At most [`NewCampaignRequest::MAX_AMOUNT`] minor units.
    pub budget: Money,
    /// In the budget's currency; none by default.
    #[serde(default)]
    pub flat_fee: Option<Money>,
    /// The brand's own agreements (at most [`NewCampaignRequest::MAX_AGREEMENTS`]).
    #[serde(default)]
    pub agreement_ids: Vec<AgreementId>,
    /// Rooms hosted by creators of those agreements (at most
    /// [`NewCampaignRequest::MAX_ROOMS`]).
    #[serde(default)]
    pub room_ids: Vec<RoomId>,
}

impl NewCampaignRequest {
    pub const MAX_AGREEMENTS: usize = 100;
    pub const MAX_ROOMS: usize = 200;
    pub const MAX_AMOUNT: i64 = 1_000_000_000_000;
}

/// `PATCH /api/campaigns/{campaign_id}`: what is given replaces what was (the lists
/// whole).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignPatchRequest {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub name: Option<CampaignName>,
    #[serde(default)]
    pub budget: Option<Money>,
    #[serde(default)]
    pub flat_fee: Option<Money>,
    #[serde(default)]
    pub agreement_ids: Option<Vec<AgreementId>>,
    #[serde(default)]
    pub room_ids: Option<Vec<RoomId>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_half_away_from_zero_to_four_decimals() {
        assert_eq!(Rate::new(3, 40).value.as_deref(), Some("0.0750"));
        assert_eq!(Rate::new(1, 3).value.as_deref(), Some("0.3333"));
        assert_eq!(Rate::new(2, 3).value.as_deref(), Some("0.6667"));
        assert_eq!(Rate::new(1, 20_000).value.as_deref(), Some("0.0001"));
        assert_eq!(Rate::new(1, 20_001).value.as_deref(), Some("0.0000"));
        assert_eq!(Rate::new(-1, 20_000).value.as_deref(), Some("-0.0001"));
        assert_eq!(Rate::new(-1, 20_001).value.as_deref(), Some("0.0000"));
        assert_eq!(Rate::new(7, 1).value.as_deref(), Some("7.0000"));
        assert_eq!(Rate::new(i64::MAX, 1).value.as_deref(), Some("9223372036854775807.0000"));
        assert_eq!(Rate::new(5, 0).value, None);
    }
}
