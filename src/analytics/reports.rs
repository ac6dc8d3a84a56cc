//! The reports service: who may read which report, what its scope is, and the report
//! assembled from the store's aggregates by [`super::report`]'s functions.
//!
//! Who sees what (docs/metrics.md, "Who sees what"): an admin every report; a creator the
//! reports of their own rooms (hosted or co-hosted) and their own creator report; a brand
//! member its brand's report, its campaigns' reports, and the room and creator reports cut
//! down to the brand's products (only for rooms that line one of them up). Anyone else is
//! refused (`forbidden`); a campaign that is not the caller's is `not_found`, as orders are.

use super::ReportError;
use super::report::{self, figures};
use crate::domain::{AccountId, BrandId, CampaignId, Clock, Currency, Money, Refusal, Role, RoomId, Tier, UnixMs};
use crate::store::{AccountRow, Aggregates, GroupBy, ReportRoom, ReportScope, RoomSet, Store};
use crate::wire::report::{
    BrandReport, BrandSummary, CampaignReport, CampaignReportQuery, CreatorReport, CreatorRow, CreatorSort,
    CreatorSummary, ReportBasis, ReportQuery, RoomReport, RoomRow, RoomSummary, TierRow, Uplift,
};
use crate::wire::ws::RoomStatus;
use std::collections::BTreeMap;

type Result<T> = std::result::Result<T, ReportError>;

/// The rooms of a creator's trailing baseline.
pub const BASELINE_ROOMS: usize = 5;

/// Reports; cheap to clone.
#[derive(Clone)]
pub struct Reports {
    store: Store,
    clock: Clock,
}

/// How much of a scope the caller sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    All,
    /// Only this brand's products.
    Brand(BrandId),
}

impl Access {
    fn brand(self) -> Option<BrandId> {
        match self {
            Access::All => None,
            Access::Brand(b) => Some(b),
        }
    }
}

fn brand_member(who: &AccountRow) -> Option<BrandId> {
    if who.role == Role::Brand { who.brand_id } else { None }
}

fn summary(r: &ReportRoom) -> RoomSummary {
    RoomSummary {
        id: r.id,
        title: r.title.clone(),
        status: r.status,
        host_id: r.host,
        co_host_id: r.co_host,
        live_at: r.live_at,
        ended_at: r.ended_at,
    }
}

fn creator_summary(a: &AccountRow) -> CreatorSummary {
    CreatorSummary {
        id: a.id,
        display_name: a.display_name.clone(),
        followers: a.follower_count,
        tier: Tier::for_followers(a.follower_count),
    }
}

/// The group `key` of `groups`, or nothing counted.
fn take(groups: &mut BTreeMap<i64, Aggregates>, key: i64) -> Aggregates {
    groups.remove(&key).unwrap_or_default()
}

/// The EUR fallback of a scope without paid orders.
fn eur() -> Currency {
    Currency::try_from("EUR").unwrap_or_else(|_| unreachable!("EUR is a currency"))
}

impl Reports {
    pub fn new(store: Store, clock: Clock) -> Reports {
        Reports { store, clock }
    }

    /// The scope for `rooms` in the asked period and currency, and the basis that says so.
    async fn scope(
        &self,
        rooms: RoomSet,
        access: Access,
        q: &ReportQuery,
        fallback: Currency,
    ) -> Result<(ReportScope, ReportBasis)> {
        let now = self.clock.now();
        let (from, to) = report::period(q.from, q.to, now)?;
        let mut scope = ReportScope {
            rooms,
            brand: access.brand(),
            campaign: None,
            commission_of: None,
            products: None,
            from,
            to,
            now,
            currency: fallback,
        };
        let used = self.store.report_currencies(&scope).await?;
        scope.currency = report::currency(q.currency, &used, fallback);
        let basis = ReportBasis {
            from: q.from.map(UnixMs),
            to: q.to.map(UnixMs),
            currency: scope.currency,
            other_currencies: used.into_iter().filter(|c| *c != scope.currency).collect(),
            generated_at: now,
            brand_id: access.brand(),
        };
        Ok((scope, basis))
    }

    /// The total of a scope.
    async fn total(&self, scope: &ReportScope) -> Result<Aggregates> {
        Ok(take(&mut self.store.report_aggregates(scope, GroupBy::Total).await?, 0))
    }

    /// The uplift of `this` (a scope whose rooms start at `since`) against `creator`'s
    /// last ended rooms before `since`, counted with the same restrictions and currency.
    async fn uplift(
        &self,
        creator: AccountId,
        since: UnixMs,
        except: Option<RoomId>,
        scope: &ReportScope,
        this: &Aggregates,
    ) -> Result<Option<Uplift>> {
        let rooms = self.store.rooms_ended_before(creator, since, except, BASELINE_ROOMS).await?;
        if rooms.is_empty() {
            return Ok(None);
        }
        let baseline = ReportScope {
            rooms: RoomSet::List(rooms.clone()),
            from: UnixMs(0),
            to: UnixMs(report::MAX_TIME),
            ..scope.clone()
        };
        let base = self.total(&baseline).await?;
        Ok(Some(report::uplift(this, &base, rooms)))
    }

    /// A room's report: to the admin, its host and co-host whole; to a brand whose
    /// products it lines up, cut down to them.
    pub async fn room(&self, who: &AccountRow, id: RoomId, q: &ReportQuery) -> Result<RoomReport> {
        let room = self.store.report_room(id).await?.ok_or(Refusal::NotFound("room"))?;
        let access = if who.role == Role::Admin || room.host == who.id || room.co_host == Some(who.id) {
            Access::All
        } else {
            match brand_member(who) {
                Some(b) if self.store.room_lines_up_brand(id, b).await? => Access::Brand(b),
                _ => {
                    return Err(Refusal::Forbidden(
                        "a room's report is its host's, its co-host's, and its brands' (their products only)",
                    )
                    .into());
                }
            }
        };
        let (scope, basis) = self.scope(RoomSet::One(id), access, q, eur()).await?;
        let this = self.total(&scope).await?;
        let since = room.live_at.unwrap_or(self.clock.now());
        let uplift = self.uplift(room.host, since, Some(id), &scope, &this).await?;
        let lineup = self.store.report_lineup(id).await?;
        let products = self.products(&scope, Some(&lineup)).await?;
        let promo_codes = report::promo_figures(self.store.report_promo_codes(&scope).await?, scope.currency);
        Ok(RoomReport {
            live: room.status == RoomStatus::Live,
            room: summary(&room),
            basis,
            figures: figures(&this, scope.currency),
            uplift,
            promo_codes,
            products,
        })
    }

    /// The product rows of a scope: the products `of` (all of the scope brand's when
    /// `None`), cut down to the scope's brand, in the order given.
    async fn products(
        &self,
        scope: &ReportScope,
        of: Option<&[crate::domain::ProductId]>,
    ) -> Result<Vec<crate::wire::report::ProductFigures>> {
        let mut named = self.store.report_products(scope.brand, of, BrandReport::MAX_PRODUCTS).await?;
        if let Some(of) = of {
            named.sort_by_key(|(id, _)| of.iter().position(|o| o == id));
        }
        let rows = ReportScope { products: Some(named.iter().map(|(id, _)| *id).collect()), ..scope.clone() };
        let mut groups = self.store.report_aggregates(&rows, GroupBy::Product).await?;
        Ok(named
            .into_iter()
            .map(|(id, title)| report::product_figures(id, title, &take(&mut groups, id.get()), scope.currency))
            .collect())
    }

    /// A creator's report: to the admin and the creator whole; to a brand cut down to the
    /// brand's products (and the rooms that line them up).
    pub async fn creator(&self, who: &AccountRow, id: AccountId, q: &ReportQuery) -> Result<CreatorReport> {
        let creator = self.store.account(id).await?.filter(|a| a.role == Role::Creator);
        let creator = creator.ok_or(Refusal::NotFound("creator"))?;
        let access = if who.role == Role::Admin || who.id == id {
            Access::All
        } else if let Some(b) = brand_member(who) {
            Access::Brand(b)
        } else {
            return Err(
                Refusal::Forbidden("a creator's report is theirs, and their brands' (their products only)").into()
            );
        };
        let (mut scope, basis) = self.scope(RoomSet::CreatorOf(id), access, q, eur()).await?;
        scope.commission_of = Some(id);
        let this = self.total(&scope).await?;
        let rooms = self.store.report_rooms(&scope, CreatorReport::MAX_ROOMS).await?;
        let first_live = rooms.iter().filter_map(|r| r.live_at).min();
        let uplift = match first_live {
            Some(since) => self.uplift(id, since, None, &scope, &this).await?,
            None => None,
        };
        let listed = ReportScope { rooms: RoomSet::List(rooms.iter().map(|r| r.id).collect()), ..scope.clone() };
        let mut groups = self.store.report_aggregates(&listed, GroupBy::Room).await?;
        let rooms = rooms
            .iter()
            .map(|r| RoomRow { room: summary(r), figures: figures(&take(&mut groups, r.id.get()), scope.currency) })
            .collect();
        let promo_codes = report::promo_figures(self.store.report_promo_codes(&scope).await?, scope.currency);
        Ok(CreatorReport {
            creator: creator_summary(&creator),
            basis,
            figures: figures(&this, scope.currency),
            uplift,
            promo_codes,
            rooms,
        })
    }

    /// A brand's report, to its members and admins.
    pub async fn brand(&self, who: &AccountRow, id: BrandId, q: &ReportQuery) -> Result<BrandReport> {
        let name = self.store.brand_name(id).await?.ok_or(Refusal::NotFound("brand"))?;
        if who.role != Role::Admin && brand_member(who) != Some(id) {
            return Err(Refusal::Forbidden("only members of this brand can see its report").into());
        }
        let (scope, basis) = self.scope(RoomSet::LiningUp(id), Access::Brand(id), q, eur()).await?;
        let this = self.total(&scope).await?;
        let products = self.products(&scope, None).await?;
        let promo_codes = report::promo_figures(self.store.report_promo_codes(&scope).await?, scope.currency);
        Ok(BrandReport {
            brand: BrandSummary { id, name },
            basis,
            figures: figures(&this, scope.currency),
            promo_codes,
            products,
        })
    }

    /// A campaign's report, to its brand's members and admins: the totals, cost and ROI,
    /// and its creators side by side.
    pub async fn campaign(&self, who: &AccountRow, id: CampaignId, q: &CampaignReportQuery) -> Result<CampaignReport> {
        let campaign = self.store.campaign(id).await?.ok_or(Refusal::NotFound("campaign"))?;
        if who.role != Role::Admin && brand_member(who) != Some(campaign.brand_id) {
            return Err(Refusal::NotFound("campaign").into());
        }
        let access = Access::Brand(campaign.brand_id);
        // A campaign counts in its own currency unless asked for another.
        let basis_query = ReportQuery { currency: q.currency.or(Some(campaign.currency)), ..q.basis() };
        let (mut scope, basis) = self.scope(RoomSet::Campaign(id), access, &basis_query, campaign.currency).await?;
        scope.campaign = Some(id);
        // Flat fees are in the campaign's currency: a report in another counts none.
        let fee = if scope.currency == campaign.currency { campaign.flat_fee } else { 0 };
        let creators = self.store.campaign_creators(id, scope.from, scope.to).await?;
        let fee_of = |rooms_live: i64| if rooms_live > 0 { fee } else { 0 };

        let this = self.total(&scope).await?;
        let flat_fees: i64 = creators.iter().map(|c| fee_of(c.rooms_live)).sum();
        let cost = report::cost(&this, flat_fees, scope.currency);

        let mut by_creator = self.store.report_aggregates(&scope, GroupBy::Creator).await?;
        let mut rows: Vec<CreatorRow> = creators
            .iter()
            .map(|c| {
                let a = take(&mut by_creator, c.id.get());
                CreatorRow {
                    creator: CreatorSummary {
                        id: c.id,
                        display_name: c.display_name.clone(),
                        followers: c.followers,
                        tier: Tier::for_followers(c.followers),
                    },
                    rooms: c.rooms_live,
                    figures: figures(&a, scope.currency),
                    cost: report::cost(&a, fee_of(c.rooms_live), scope.currency),
                }
            })
            .collect();
        let sort = q.sort.unwrap_or(CreatorSort::NetGmv);
        report::sort_creators(&mut rows, sort);

        let mut by_tier = self.store.report_aggregates(&scope, GroupBy::Tier).await?;
        let mut tiers = Vec::new();
        for (i, tier) in Tier::ALL.into_iter().enumerate() {
            let members: Vec<_> = creators.iter().filter(|c| Tier::for_followers(c.followers) == tier).collect();
            if members.is_empty() {
                continue;
            }
            let a = take(&mut by_tier, i as i64);
            let fees = members.iter().map(|c| fee_of(c.rooms_live)).sum();
            tiers.push(TierRow {
                tier,
                creators: members.len() as i64,
                figures: figures(&a, scope.currency),
                cost: report::cost(&a, fees, scope.currency),
            });
        }
        if let Some(tier) = q.tier {
            rows.retain(|r| r.creator.tier == tier);
            tiers.retain(|t| t.tier == tier);
        }
        let budget_left = match scope.currency == campaign.currency {
            true => campaign.budget - cost.cost.amount,
            false => campaign.budget,
        };
        let promo_codes = report::promo_figures(self.store.report_promo_codes(&scope).await?, scope.currency);
        Ok(CampaignReport {
            budget_left: Money::new(budget_left, campaign.currency),
            campaign: super::campaigns::view(&campaign),
            basis,
            figures: figures(&this, scope.currency),
            cost,
            promo_codes,
            sort,
            tier: q.tier,
            creators: rows,
            tiers,
        })
    }
}

#[cfg(test)]
mod tests {
    //! The reports against the ledger they are read from: random orders (some never paid,
    //! some in another currency), random refunds (partial, failed, pending) and co-host
    //! splits are written, in the shapes the ledger tables have, into a real SQLite
    //! database; every report's net GMV and commission must equal the ledger, to the
    //! minor unit, and the breakdowns must add up to the totals.

    use super::*;
    use crate::store::AccountRow;
    use proptest::prelude::*;
    use sqlx::AnyPool;

    #[derive(Debug, Clone)]
    struct Line {
        product: usize,
        quantity: i64,
        unit_price: i64,
        bps: i64,
        flat: i64,
        /// Units refunded, each refund with what became of it.
        refunds: Vec<(i64, RefundEnd)>,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum RefundEnd {
        Refunded,
        Failed,
        Pending,
    }

    #[derive(Debug, Clone)]
    struct Order {
        room: usize,
        buyer: usize,
        paid: bool,
        usd: bool,
        settled: bool,
        lines: Vec<Line>,
    }

    fn line() -> impl Strategy<Value = Line> {
        let refund_end = prop_oneof![
            4 => Just(RefundEnd::Refunded),
            1 => Just(RefundEnd::Failed),
            1 => Just(RefundEnd::Pending),
        ];
        (
            0..PRODUCTS,
            1i64..=6,
            0i64..=5_000,
            0i64..=3_000,
            0i64..=200,
            proptest::collection::vec((1i64..=3, refund_end), 0..3),
        )
            .prop_map(|(product, quantity, unit_price, bps, flat, refunds)| Line {
                product,
                quantity,
                unit_price,
                bps,
                flat,
                refunds,
            })
    }

    fn order() -> impl Strategy<Value = Order> {
        (
            0..2usize,
            0..3usize,
            proptest::bool::weighted(0.85),
            proptest::bool::weighted(0.15),
            any::<bool>(),
            proptest::collection::vec(line(), 1..=3),
        )
            .prop_map(|(room, buyer, paid, usd, settled, mut lines)| {
                // One line per product in an order.
                lines.sort_by_key(|l| l.product);
                lines.dedup_by_key(|l| l.product);
                Order { room, buyer, paid, usd, settled, lines }
            })
    }

    const PRODUCTS: usize = 3;
    /// Products 0 and 1 are brand 1's, product 2 brand 2's.
    fn brand_of(product: usize) -> i64 {
        if product < 2 { 1 } else { 2 }
    }
    const HOST: i64 = 1;
    const CO_HOST: i64 = 2;
    const ADMIN: i64 = 6;

    fn commission(line_total: i64, quantity: i64, bps: i64, flat: i64) -> i64 {
        (line_total * bps / 10_000 + flat * quantity).min(line_total)
    }

    /// What (host, co-host) earn when `kept` units of `l` stay sold, with the co-host's
    /// share in basis points.
    fn split(l: &Line, kept: i64, share: i64) -> (i64, i64) {
        let total = commission(l.unit_price * kept, kept, l.bps, l.flat);
        let co = total * share / 10_000;
        (total - co, co)
    }

    /// What the ledger says, summed as it is written: per (room, brand, creator) and kind.
    #[derive(Debug, Default, Clone, PartialEq, Eq)]
    struct Truth {
        charged: i64,
        refunded: i64,
        accrued: i64,
        reversed: i64,
        settled: i64,
    }

    struct Db {
        pool: AnyPool,
        truth: BTreeMap<(usize, i64, i64), Truth>,
    }

    async fn exec(pool: &AnyPool, sql: &str, args: &[i64]) {
        let mut q = sqlx::query(sql);
        for a in args {
            q = q.bind(*a);
        }
        q.execute(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    async fn seed(pool: &AnyPool) {
        exec(pool, "insert into brands (id, name, created_at) values (1, 'A', 0), (2, 'B', 0)", &[]).await;
        for (id, role, brand) in [
            (HOST, "creator", None),
            (CO_HOST, "creator", None),
            (3, "viewer", None),
            (4, "viewer", None),
            (5, "viewer", None),
            (ADMIN, "admin", None::<i64>),
        ] {
            let sql = "insert into accounts (id, email, password_hash, display_name, role, brand_id, created_at) \
                       values ($1, 'a' || $1, '', 'x', $2, $3, 0)";
            sqlx::query(sql).bind(id).bind(role).bind(brand).execute(pool).await.unwrap();
        }
        for p in 0..PRODUCTS as i64 {
            exec(pool, "insert into products (id, brand_id, title, price, currency, stock, created_at) values ($1, $2, 'p', 100, 'EUR', 0, 0)", &[p + 1, brand_of(p as usize)]).await;
        }
        exec(pool, "insert into rooms (id, creator_id, title, status, starts_at, live_at, created_at, co_host_id) values (1, $1, 'co-hosted', 'live', 0, 1, 0, $2)", &[HOST, CO_HOST]).await;
        exec(pool, "insert into rooms (id, creator_id, title, status, starts_at, live_at, created_at) values (2, $1, 'alone', 'live', 0, 1, 0)", &[HOST]).await;
        for room in [1, 2] {
            for p in 0..PRODUCTS as i64 {
                exec(
                    pool,
                    "insert into room_products (room_id, product_id, position) values ($1, $2, $2)",
                    &[room, p + 1],
                )
                .await;
            }
        }
    }

    impl Db {
        fn truth(&mut self, room: usize, product: usize, creator: i64) -> &mut Truth {
            self.truth.entry((room, brand_of(product), creator)).or_default()
        }

        async fn entry(&mut self, order: i64, o: &Order, product: usize, creator: i64, kind: &str, amount: i64) {
            let sql = "insert into commission_entries (order_id, product_id, creator_id, brand_id, kind, amount, currency, created_at) \
                       values ($1, $2, $3, $4, $5, $6, $7, 0)";
            let currency = if o.usd { "USD" } else { "EUR" };
            sqlx::query(sql)
                .bind(order)
                .bind(product as i64 + 1)
                .bind(creator)
                .bind(brand_of(product))
                .bind(kind)
                .bind(amount)
                .bind(currency)
                .execute(&self.pool)
                .await
                .unwrap();
            if o.usd {
                return;
            }
            let t = self.truth(o.room, product, creator);
            match kind {
                "accrued" => t.accrued += amount,
                "reversed" => t.reversed += amount,
                _ => t.settled += amount,
            }
        }

        /// Writes one order and everything that happened to it, as checkout, refunds and
        /// settlement would have.
        async fn write(&mut self, n: i64, o: &Order, share: i64) {
            let currency = if o.usd { "USD" } else { "EUR" };
            let room = o.room as i64 + 1;
            let subtotal: i64 = o.lines.iter().map(|l| l.unit_price * l.quantity).sum();
            let status = if o.paid { "paid" } else { "cancelled" };
            let sql = "insert into orders (id, buyer_id, room_id, creator_id, currency, subtotal, commission_total, status, \
                       idempotency_key, request_hash, hold_id, hold_expires_at, created_at, updated_at, paid_at) \
                       values ($1, $2, $3, $4, $5, $6, 0, $7, 'k' || $1, '', '', 0, $8, $8, $9)";
            sqlx::query(sql)
                .bind(n)
                .bind(o.buyer as i64 + 3)
                .bind(room)
                .bind(HOST)
                .bind(currency)
                .bind(subtotal)
                .bind(status)
                .bind(100 + n)
                .bind(o.paid.then_some(100 + n))
                .execute(&self.pool)
                .await
                .unwrap();
            let co_share = if o.room == 0 { share } else { 0 };
            if o.paid {
                let sql = "insert into payments (order_id, kind, amount, currency, provider, provider_key, status, \
                           created_at, updated_at) values ($1, 'charge', $2, $3, 't', 'c' || $1, 'succeeded', 0, 0)";
                sqlx::query(sql).bind(n).bind(subtotal).bind(currency).execute(&self.pool).await.unwrap();
            }
            for l in &o.lines {
                let total = l.unit_price * l.quantity;
                let sql = "insert into order_lines (order_id, product_id, brand_id, title, quantity, unit_price, line_total, \
                           commission_bps, commission_flat, commission_amount, list_price) values ($1, $2, $3, 't', $4, $5, $6, $7, $8, $9, $5)";
                exec(
                    &self.pool,
                    sql,
                    &[
                        n,
                        l.product as i64 + 1,
                        brand_of(l.product),
                        l.quantity,
                        l.unit_price,
                        total,
                        l.bps,
                        l.flat,
                        commission(total, l.quantity, l.bps, l.flat),
                    ],
                )
                .await;
                if !o.paid {
                    continue;
                }
                if !o.usd {
                    // Each line's charge, split by brand and creator-independent: the host's row.
                    self.truth(o.room, l.product, HOST).charged += total;
                }
                let (host, co) = split(l, l.quantity, co_share);
                self.entry(n, o, l.product, HOST, "accrued", host).await;
                if o.room == 0 {
                    self.entry(n, o, l.product, CO_HOST, "accrued", co).await;
                }
                let mut kept = l.quantity;
                for (i, (units, end)) in l.refunds.iter().enumerate() {
                    let units = (*units).min(kept);
                    if units == 0 {
                        continue;
                    }
                    let status = match end {
                        RefundEnd::Refunded => "refunded",
                        RefundEnd::Failed => "refund_failed",
                        RefundEnd::Pending => "pending",
                    };
                    let sql = "insert into payments (order_id, kind, amount, currency, provider, provider_key, status, request_key, created_at, updated_at) \
                               values ($1, 'refund', $2, $3, 't', $4, $5, $4, 0, 0) returning id";
                    let key = format!("r{n}-{}-{i}", l.product);
                    let row = sqlx::query(sql)
                        .bind(n)
                        .bind(l.unit_price * units)
                        .bind(currency)
                        .bind(&key)
                        .bind(status)
                        .fetch_one(&self.pool)
                        .await
                        .unwrap();
                    let payment: i64 = sqlx::Row::try_get(&row, "id").unwrap();
                    exec(&self.pool, "insert into refund_lines (payment_id, order_id, product_id, quantity, amount) values ($1, $2, $3, $4, $5)",
                        &[payment, n, l.product as i64 + 1, units, l.unit_price * units]).await;
                    if *end != RefundEnd::Refunded {
                        continue;
                    }
                    exec(&self.pool, "update order_lines set refunded_quantity = refunded_quantity + $1 where order_id = $2 and product_id = $3",
                        &[units, n, l.product as i64 + 1]).await;
                    let before = split(l, kept, co_share);
                    kept -= units;
                    let after = split(l, kept, co_share);
                    self.entry(n, o, l.product, HOST, "reversed", before.0 - after.0).await;
                    if o.room == 0 {
                        self.entry(n, o, l.product, CO_HOST, "reversed", before.1 - after.1).await;
                    }
                    if !o.usd {
                        self.truth(o.room, l.product, HOST).refunded += l.unit_price * units;
                    }
                }
                if o.settled {
                    let (host, co) = split(l, kept, co_share);
                    self.entry(n, o, l.product, HOST, "settled", host).await;
                    if o.room == 0 {
                        self.entry(n, o, l.product, CO_HOST, "settled", co).await;
                    }
                }
            }
        }

        /// The ledger summed over what `keep` keeps, by (room, brand, creator).
        fn sum(&self, keep: impl Fn(usize, i64, i64) -> bool) -> Truth {
            let mut t = Truth::default();
            for ((room, brand, creator), v) in &self.truth {
                if keep(*room, *brand, *creator) {
                    t.charged += v.charged;
                    t.refunded += v.refunded;
                    t.accrued += v.accrued;
                    t.reversed += v.reversed;
                    t.settled += v.settled;
                }
            }
            t
        }
    }

    fn as_truth(f: &crate::wire::report::Figures) -> Truth {
        Truth {
            charged: f.gmv.amount,
            refunded: f.gmv.amount - f.net_gmv.amount,
            accrued: f.commission.accrued.amount,
            reversed: f.commission.reversed.amount,
            settled: f.commission.settled.amount,
        }
    }

    fn account(id: i64, role: Role, brand: Option<i64>) -> AccountRow {
        AccountRow {
            id: AccountId::from_row(id),
            email: String::new(),
            display_name: String::new(),
            role,
            brand_id: brand.map(BrandId::from_row),
            follower_count: 0,
        }
    }

    fn cases() -> u32 {
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(24)
    }

    proptest! {
        // A failure prints its shrunk input; nothing is written into the tree.
        #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn net_gmv_and_commission_equal_the_ledger(
            orders in proptest::collection::vec(order(), 1..10),
            share in 0i64..=10_000,
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("ledger.db").display());
                let store = Store::connect(&url, 2).await.unwrap();
                let pool = AnyPool::connect(&url).await.unwrap();
                seed(&pool).await;
                let mut db = Db { pool, truth: BTreeMap::new() };
                for (n, o) in orders.iter().enumerate() {
                    db.write(n as i64 + 1, o, share).await;
                }
                let reports = Reports::new(store, Clock::system());
                let admin = account(ADMIN, Role::Admin, None);
                let eur = ReportQuery { currency: Some(eur()), ..ReportQuery::default() };

                // Rooms: every creator's entries; both brands.
                let mut rooms_total = Truth::default();
                for room in [0usize, 1] {
                    let r = reports.room(&admin, RoomId::from_row(room as i64 + 1), &eur).await.unwrap();
                    let whole = as_truth(&r.figures);
                    assert_eq!(whole, db.sum(|rm, _, _| rm == room), "room {room}");
                    // The product rows add up to the room.
                    let mut by_product = Truth::default();
                    for p in &r.products {
                        by_product.charged += p.gmv.amount;
                        by_product.refunded += p.refunded.amount;
                        by_product.accrued += p.commission.accrued.amount;
                        by_product.reversed += p.commission.reversed.amount;
                        by_product.settled += p.commission.settled.amount;
                    }
                    assert_eq!(by_product, whole, "room {room}: products");
                    // Each brand sees its own lines; the two make the whole.
                    let mut by_brand = Truth::default();
                    for brand in [1i64, 2] {
                        let member = account(10 + brand, Role::Brand, Some(brand));
                        let b = as_truth(&reports.room(&member, RoomId::from_row(room as i64 + 1), &eur).await.unwrap().figures);
                        assert_eq!(b, db.sum(|rm, br, _| rm == room && br == brand), "room {room}, brand {brand}");
                        by_brand.charged += b.charged;
                        by_brand.refunded += b.refunded;
                        by_brand.accrued += b.accrued;
                        by_brand.reversed += b.reversed;
                        by_brand.settled += b.settled;
                    }
                    assert_eq!(by_brand, whole, "room {room}: brands");
                    rooms_total.charged += whole.charged;
                    rooms_total.refunded += whole.refunded;
                    rooms_total.accrued += whole.accrued;
                    rooms_total.reversed += whole.reversed;
                    rooms_total.settled += whole.settled;
                }

                // Creators: all the sales of the rooms they (co-)hosted, their own commission.
                let host = reports.creator(&admin, AccountId::from_row(HOST), &eur).await.unwrap();
                let h = as_truth(&host.figures);
                let host_ledger = db.sum(|_, _, c| c == HOST);
                assert_eq!((h.accrued, h.reversed, h.settled), (host_ledger.accrued, host_ledger.reversed, host_ledger.settled));
                assert_eq!((h.charged, h.refunded), (rooms_total.charged, rooms_total.refunded));
                let co = reports.creator(&admin, AccountId::from_row(CO_HOST), &eur).await.unwrap();
                let c = as_truth(&co.figures);
                let co_ledger = db.sum(|_, _, cr| cr == CO_HOST);
                let room0 = db.sum(|rm, _, _| rm == 0);
                assert_eq!((c.accrued, c.reversed, c.settled), (co_ledger.accrued, co_ledger.reversed, co_ledger.settled));
                assert_eq!((c.charged, c.refunded), (room0.charged, room0.refunded));
                assert_eq!(h.accrued + c.accrued, rooms_total.accrued, "the shares add up to the commission");
                assert_eq!(h.reversed + c.reversed, rooms_total.reversed);

                // Brands: their lines everywhere.
                for brand in [1i64, 2] {
                    let member = account(10 + brand, Role::Brand, Some(brand));
                    let b = reports.brand(&member, BrandId::from_row(brand), &eur).await.unwrap();
                    assert_eq!(as_truth(&b.figures), db.sum(|_, br, _| br == brand), "brand {brand}");
                    let owed = b.figures.commission.owed.amount;
                    let t = db.sum(|_, br, _| br == brand);
                    assert_eq!(owed, t.accrued - t.reversed - t.settled);
                }
            });
        }
    }
}
