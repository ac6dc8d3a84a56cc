//! The queries behind the reports (docs/metrics.md). Everything a report counts is
//! aggregated here, in SQL, per group (the whole scope, or per product, room, creator or
//! tier): a report never loads orders or events one by one, so its memory does not grow
//! with the shop. What the figures mean (rates, averages, uplift, cost) is worked out from
//! these sums by `analytics::report`, in plain functions.
//!
//! Every query starts from the rooms of its scope and reaches their lines, refunds,
//! commission entries, drops and events through indexes (migrations `0007_reports`).
//!
//! Rehearsals (docs/protocol.md, 9.10) count nowhere: no scope holds a rehearsal room,
//! so none of its events, drops or pins count, and no rehearsal order counts in any room.

use super::Store;
use crate::domain::{AccountId, BrandId, CampaignId, Currency, ProductId, RoomId, Tier, UnixMs};
use crate::wire::ws::RoomStatus;
use sqlx::Row;
use sqlx::any::AnyRow;
use std::collections::BTreeMap;

/// The rooms a report looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomSet {
    One(RoomId),
    /// The rooms a creator hosted or co-hosted.
    CreatorOf(AccountId),
    /// The rooms that lined up one of a brand's products.
    LiningUp(BrandId),
    Campaign(CampaignId),
    List(Vec<RoomId>),
}

/// What a report counts: which rooms' events, which order lines, which commission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportScope {
    pub rooms: RoomSet,
    /// Only this brand's lines and products, in the rooms that lined them up.
    pub brand: Option<BrandId>,
    /// Only lines of the campaign's agreements: the agreement's product, sold in a room
    /// hosted by the agreement's creator.
    pub campaign: Option<CampaignId>,
    /// Only this creator's commission entries (their share of the lines).
    pub commission_of: Option<AccountId>,
    /// Only these products (the rows of a breakdown).
    pub products: Option<Vec<ProductId>>,
    /// Orders placed and events recorded in `[from, to)`.
    pub from: UnixMs,
    pub to: UnixMs,
    /// Where a pin or drop still running ends.
    pub now: UnixMs,
    pub currency: Currency,
}

/// How a report's figures are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// One group, key 0.
    Total,
    Product,
    Room,
    /// By the host of the room.
    Creator,
    /// By the host's tier: the key is the index in [`Tier::ALL`].
    Tier,
}

/// The sums and distinct counts one group of a report is made of.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aggregates {
    pub gmv: i64,
    pub refunded: i64,
    pub discount: i64,
    pub units: i64,
    pub orders: i64,
    pub buyers: i64,
    pub repeat_buyers: i64,
    pub new_buyers: i64,
    pub promo_orders: i64,
    pub accrued: i64,
    pub reversed: i64,
    pub settled: i64,
    pub unique_viewers: i64,
    pub peak_viewers: i64,
    pub watch_ms: i64,
    pub comments: i64,
    pub reactions: i64,
    pub checkouts_started: i64,
    pub checkouts_paid: i64,
    pub pin_impressions: i64,
    pub product_views: i64,
    pub cart_adders: i64,
    pub pinned_ms: i64,
    pub orders_while_pinned: i64,
    pub drops: i64,
    pub drop_units: i64,
    pub drop_ms: i64,
    pub drops_sold_out: i64,
    /// Σ over sold-out drops of milliseconds from start to the last unit.
    pub sell_out_ms_total: i64,
}

/// A room as a report names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRoom {
    pub id: RoomId,
    pub title: String,
    pub status: RoomStatus,
    pub host: AccountId,
    pub co_host: Option<AccountId>,
    pub live_at: Option<UnixMs>,
    pub ended_at: Option<UnixMs>,
}

/// Paid orders in scope with one promo code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeUses {
    pub code_id: i64,
    pub code: String,
    pub creator: AccountId,
    pub redemptions: i64,
    pub gmv: i64,
    pub discount: i64,
}

/// A creator of a campaign's agreements, with their rooms in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignCreator {
    pub id: AccountId,
    pub display_name: String,
    pub followers: i64,
    /// Their rooms of the campaign that went live in the period.
    pub rooms_live: i64,
}

/// Bound parameters of a query being built: each fragment asks for its own `$n`.
#[derive(Default)]
struct Sql {
    args: Vec<Arg>,
}

enum Arg {
    Int(i64),
    Text(String),
}

impl Sql {
    fn int(&mut self, v: i64) -> String {
        self.args.push(Arg::Int(v));
        format!("${}", self.args.len())
    }

    fn text(&mut self, v: &str) -> String {
        self.args.push(Arg::Text(v.to_owned()));
        format!("${}", self.args.len())
    }

    /// A parenthesised list for `in`; `(null)` (which matches nothing) when empty.
    fn ints(&mut self, vs: impl IntoIterator<Item = i64>) -> String {
        let params: Vec<String> = vs.into_iter().map(|v| self.int(v)).collect();
        if params.is_empty() { "(null)".to_owned() } else { format!("({})", params.join(", ")) }
    }

    async fn fetch(self, store: &Store, sql: &str) -> Result<Vec<AnyRow>, sqlx::Error> {
        let mut query = sqlx::query(sql);
        for arg in self.args {
            query = match arg {
                Arg::Int(v) => query.bind(v),
                Arg::Text(v) => query.bind(v),
            };
        }
        query.fetch_all(&store.pool).await
    }
}

/// The smaller of two SQL expressions (portable: SQLite has no `least`).
fn least(a: &str, b: &str) -> String {
    format!("(case when {a} < {b} then {a} else {b} end)")
}

fn greatest(a: &str, b: &str) -> String {
    format!("(case when {a} > {b} then {a} else {b} end)")
}

/// The host's tier as its index in [`Tier::ALL`], from the host's account `h`.
fn tier_key() -> String {
    let mut arms = String::from("case");
    for (i, floor) in Tier::FLOORS.iter().enumerate().skip(1) {
        arms.push_str(&format!(" when h.follower_count < {floor} then {}", i - 1));
    }
    arms.push_str(&format!(" else {} end", Tier::ALL.len() - 1));
    arms
}

impl ReportScope {
    /// The rooms whose events count, on `r`: never a rehearsal.
    fn rooms(&self, q: &mut Sql) -> String {
        let set = match &self.rooms {
            RoomSet::One(id) => format!("r.id = {}", q.int(id.get())),
            RoomSet::CreatorOf(c) => {
                let c = q.int(c.get());
                format!("(r.creator_id = {c} or r.co_host_id = {c})")
            }
            RoomSet::LiningUp(b) => lining_up(q, *b),
            RoomSet::Campaign(k) => {
                format!("r.id in (select cr.room_id from campaign_rooms cr where cr.campaign_id = {})", q.int(k.get()))
            }
            RoomSet::List(ids) => format!("r.id in {}", q.ints(ids.iter().map(|r| r.get()))),
        };
        let set = format!("r.rehearsal_of is null and {set}");
        match self.brand {
            Some(b) => format!("{set} and {}", lining_up(q, b)),
            None => set,
        }
    }

    /// The products whose events and rows count, on the product id `col` (and the room `r`).
    fn products(&self, q: &mut Sql, col: &str) -> String {
        let mut conds = vec!["1 = 1".to_owned()];
        if let Some(b) = self.brand {
            conds.push(format!("{col} in (select bp.id from products bp where bp.brand_id = {})", q.int(b.get())));
        }
        if let Some(k) = self.campaign {
            conds.push(format!(
                "exists (select 1 from campaign_agreements ca join agreements a on a.id = ca.agreement_id \
                 where ca.campaign_id = {} and a.creator_id = r.creator_id and a.product_id = {col})",
                q.int(k.get())
            ));
        }
        if let Some(only) = &self.products {
            conds.push(format!("{col} in {}", q.ints(only.iter().map(|p| p.get()))));
        }
        conds.join(" and ")
    }

    /// The paid order lines that count, on `o` (orders), `l` (lines) and `r` (rooms).
    fn lines(&self, q: &mut Sql, currency: bool) -> String {
        let mut conds = vec![
            "o.paid_at is not null".to_owned(),
            "o.rehearsal = 0".to_owned(),
            format!("o.created_at >= {}", q.int(self.from.0)),
            format!("o.created_at < {}", q.int(self.to.0)),
            self.rooms(q),
            self.products(q, "l.product_id"),
        ];
        if currency {
            conds.push(format!("o.currency = {}", q.text(self.currency.as_str())));
        }
        if let Some(b) = self.brand {
            conds.push(format!("l.brand_id = {}", q.int(b.get())));
        }
        conds.join(" and ")
    }

    /// Events of the scope's rooms in the period, on `e`.
    fn events(&self, q: &mut Sql, kinds: &[&str]) -> String {
        let kinds: Vec<String> = kinds.iter().map(|k| format!("'{k}'")).collect();
        format!(
            "{} and e.kind in ({}) and e.at >= {} and e.at < {}",
            self.rooms(q),
            kinds.join(", "),
            q.int(self.from.0),
            q.int(self.to.0)
        )
    }

    /// The lines in scope as the common table `sl`, each with its group key `k`.
    fn sales_lines(&self, q: &mut Sql, group: GroupBy) -> String {
        let key = key(group, "l.product_id", "o.room_id");
        format!(
            "sl as (select o.id as order_id, o.buyer_id, o.room_id, o.created_at, o.promo_code_id, l.product_id, \
             l.brand_id, l.quantity, l.line_total, \
             case when l.list_price > l.unit_price then (l.list_price - l.unit_price) * l.quantity else 0 end \
               as discount, \
             coalesce((select sum(rl.amount) from refund_lines rl join payments p on p.id = rl.payment_id \
               where rl.order_id = l.order_id and rl.product_id = l.product_id and p.status = 'refunded'), 0) \
               as refunded, \
             {key} as k \
             from orders o join order_lines l on l.order_id = o.id join rooms r on r.id = o.room_id \
             join accounts h on h.id = r.creator_id where {})",
            self.lines(q, true)
        )
    }

    /// Pins of products in scope as the common tables `pe`, `pins`: each with its group
    /// key `k`, its room, and its start `s` and end `t` clipped to the period. A pin ends
    /// at the room's next pin or unpin, when the room ended, or now.
    fn pins(&self, q: &mut Sql, group: GroupBy) -> String {
        let rooms = self.rooms(q);
        let products = self.products(q, "pe.product_id");
        let key = key(group, "pe.product_id", "pe.room_id");
        let (from, to, now) = (q.int(self.from.0), q.int(self.to.0), q.int(self.now.0));
        let next = format!("coalesce(pe.next_at, {now})");
        let ended = format!("coalesce(r.ended_at, {now})");
        let end = least(&least(&next, &ended), &least(&now, &to));
        format!(
            "pe as (select e.room_id, e.product_id, e.kind, e.at, \
               lead(e.at) over (partition by e.room_id order by e.at, e.id) as next_at \
             from analytics_events e join rooms r on r.id = e.room_id \
             where {rooms} and e.kind in ('pin_started', 'pin_ended')), \
             pins as (select pe.room_id, {key} as k, {} as s, {end} as t \
             from pe join rooms r on r.id = pe.room_id join accounts h on h.id = r.creator_id \
             where pe.kind = 'pin_started' and {products})",
            greatest("pe.at", &from)
        )
    }
}

fn lining_up(q: &mut Sql, brand: BrandId) -> String {
    format!(
        "r.id in (select rp.room_id from room_products rp join products bp on bp.id = rp.product_id \
         where bp.brand_id = {})",
        q.int(brand.get())
    )
}

/// The group key of a row: `product` and `room` name the row's columns; the host is `r`
/// and the host's account `h`.
fn key(group: GroupBy, product: &str, room: &str) -> String {
    match group {
        GroupBy::Total => "0".to_owned(),
        GroupBy::Product => product.to_owned(),
        GroupBy::Room => room.to_owned(),
        GroupBy::Creator => "r.creator_id".to_owned(),
        GroupBy::Tier => tier_key(),
    }
}

fn int(row: &AnyRow, column: &str) -> Result<i64, sqlx::Error> {
    Ok(row.try_get::<Option<i64>, _>(column)?.unwrap_or(0))
}

/// Folds query rows into the groups, by their key `k` (rows without one are skipped).
fn fold(
    groups: &mut BTreeMap<i64, Aggregates>,
    rows: &[AnyRow],
    mut set: impl FnMut(&mut Aggregates, &AnyRow) -> Result<(), sqlx::Error>,
) -> Result<(), sqlx::Error> {
    for row in rows {
        let Some(k) = row.try_get::<Option<i64>, _>("k")? else { continue };
        set(groups.entry(k).or_default(), row)?;
    }
    Ok(())
}

fn room_status(raw: &str) -> Result<RoomStatus, sqlx::Error> {
    match raw {
        "scheduled" => Ok(RoomStatus::Scheduled),
        "live" => Ok(RoomStatus::Live),
        "ended" => Ok(RoomStatus::Ended),
        other => Err(sqlx::Error::Decode(format!("room status {other:?}").into())),
    }
}

fn report_room(row: &AnyRow) -> Result<ReportRoom, sqlx::Error> {
    Ok(ReportRoom {
        id: RoomId::from_row(row.try_get("id")?),
        title: row.try_get("title")?,
        status: room_status(&row.try_get::<String, _>("status")?)?,
        host: AccountId::from_row(row.try_get("creator_id")?),
        co_host: row.try_get::<Option<i64>, _>("co_host_id")?.map(AccountId::from_row),
        live_at: row.try_get::<Option<i64>, _>("live_at")?.map(UnixMs),
        ended_at: row.try_get::<Option<i64>, _>("ended_at")?.map(UnixMs),
    })
}

const ROOM_COLUMNS: &str = "r.id, r.title, r.status, r.creator_id, r.co_host_id, r.live_at, r.ended_at";

fn currency(raw: String) -> Result<Currency, sqlx::Error> {
    Currency::try_from(raw).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

impl Store {
    /// Everything a report counts, per group of `group` (key 0 for [`GroupBy::Total`]).
    /// Groups with nothing at all in them are absent.
    pub async fn report_aggregates(
        &self,
        scope: &ReportScope,
        group: GroupBy,
    ) -> Result<BTreeMap<i64, Aggregates>, sqlx::Error> {
        let mut groups = BTreeMap::new();
        self.sales(scope, group, &mut groups).await?;
        self.commission(scope, group, &mut groups).await?;
        if group != GroupBy::Product {
            self.audience(scope, group, &mut groups).await?;
        }
        self.product_events(scope, group, &mut groups).await?;
        self.pinned(scope, group, &mut groups).await?;
        self.drops(scope, group, &mut groups).await?;
        Ok(groups)
    }

    async fn sales(
        &self,
        scope: &ReportScope,
        group: GroupBy,
        groups: &mut BTreeMap<i64, Aggregates>,
    ) -> Result<(), sqlx::Error> {
        let mut q = Sql::default();
        let sl = scope.sales_lines(&mut q, group);
        let sql = format!(
            "with {sl} select k, cast(coalesce(sum(line_total), 0) as bigint) as gmv, \
             cast(coalesce(sum(refunded), 0) as bigint) as refunded, \
             cast(coalesce(sum(discount), 0) as bigint) as discount, \
             cast(coalesce(sum(quantity), 0) as bigint) as units, \
             count(distinct order_id) as orders, count(distinct buyer_id) as buyers, \
             count(distinct case when promo_code_id is not null then order_id end) as promo_orders \
             from sl group by k"
        );
        let rows = q.fetch(self, &sql).await?;
        fold(groups, &rows, |a, r| {
            a.gmv = int(r, "gmv")?;
            a.refunded = int(r, "refunded")?;
            a.discount = int(r, "discount")?;
            a.units = int(r, "units")?;
            a.orders = int(r, "orders")?;
            a.buyers = int(r, "buyers")?;
            a.promo_orders = int(r, "promo_orders")?;
            Ok(())
        })?;

        let mut q = Sql::default();
        let sl = scope.sales_lines(&mut q, group);
        let sql = format!(
            "with {sl} select k, count(*) as repeat_buyers from (select k, buyer_id from sl group by k, buyer_id \
             having count(distinct order_id) >= 2) x group by k"
        );
        let rows = q.fetch(self, &sql).await?;
        fold(groups, &rows, |a, r| {
            a.repeat_buyers = int(r, "repeat_buyers")?;
            Ok(())
        })?;

        // New: no paid order with a brand of their lines in scope (in any room, any
        // currency) placed before their first order in scope.
        let mut q = Sql::default();
        let sl = scope.sales_lines(&mut q, group);
        let sql = format!(
            "with {sl}, firsts as (select k, buyer_id, min(created_at) as first_at from sl group by k, buyer_id) \
             select f.k, count(*) as new_buyers from firsts f where not exists (select 1 from orders o2 \
             join order_lines l2 on l2.order_id = o2.id where o2.buyer_id = f.buyer_id and o2.paid_at is not null \
             and o2.rehearsal = 0 \
             and o2.created_at < f.first_at and l2.brand_id in (select s.brand_id from sl s \
             where s.buyer_id = f.buyer_id and s.k = f.k)) group by f.k"
        );
        let rows = q.fetch(self, &sql).await?;
        fold(groups, &rows, |a, r| {
            a.new_buyers = int(r, "new_buyers")?;
            Ok(())
        })
    }

    async fn commission(
        &self,
        scope: &ReportScope,
        group: GroupBy,
        groups: &mut BTreeMap<i64, Aggregates>,
    ) -> Result<(), sqlx::Error> {
        let mut q = Sql::default();
        let sl = scope.sales_lines(&mut q, group);
        let only = match scope.commission_of {
            Some(c) => format!(" and c.creator_id = {}", q.int(c.get())),
            None => String::new(),
        };
        let sum = |kind: &str| {
            format!("cast(coalesce(sum(case when c.kind = '{kind}' then c.amount else 0 end), 0) as bigint) as {kind}")
        };
        let sql = format!(
            "with {sl} select sl.k as k, {}, {}, {} from sl join commission_entries c \
             on c.order_id = sl.order_id and c.product_id = sl.product_id{only} group by sl.k",
            sum("accrued"),
            sum("reversed"),
            sum("settled")
        );
        let rows = q.fetch(self, &sql).await?;
        fold(groups, &rows, |a, r| {
            a.accrued = int(r, "accrued")?;
            a.reversed = int(r, "reversed")?;
            a.settled = int(r, "settled")?;
            Ok(())
        })
    }

    async fn audience(
        &self,
        scope: &ReportScope,
        group: GroupBy,
        groups: &mut BTreeMap<i64, Aggregates>,
    ) -> Result<(), sqlx::Error> {
        let mut q = Sql::default();
        let key = key(group, "e.product_id", "e.room_id");
        let kinds = ["joined", "left", "viewers", "commented", "reacted", "checkout_started", "checkout_paid"];
        let filter = scope.events(&mut q, &kinds);
        let count = |kind: &str, what: &str| {
            format!("cast(coalesce(sum(case when e.kind = '{kind}' then {what} else 0 end), 0) as bigint)")
        };
        let sql = format!(
            "select {key} as k, count(distinct case when e.kind = 'joined' then e.viewer end) as unique_viewers, \
             coalesce(max(case when e.kind = 'viewers' then e.value end), 0) as peak_viewers, \
             {} as watch_ms, {} as comments, {} as reactions, {} as started, {} as paid \
             from analytics_events e join rooms r on r.id = e.room_id join accounts h on h.id = r.creator_id \
             where {filter} group by k",
            count("left", "e.value"),
            count("commented", "1"),
            count("reacted", "e.value"),
            count("checkout_started", "1"),
            count("checkout_paid", "1"),
        );
        let rows = q.fetch(self, &sql).await?;
        fold(groups, &rows, |a, r| {
            a.unique_viewers = int(r, "unique_viewers")?;
            a.peak_viewers = int(r, "peak_viewers")?;
            a.watch_ms = int(r, "watch_ms")?;
            a.comments = int(r, "comments")?;
            a.reactions = int(r, "reactions")?;
            a.checkouts_started = int(r, "started")?;
            a.checkouts_paid = int(r, "paid")?;
            Ok(())
        })
    }

    async fn product_events(
        &self,
        scope: &ReportScope,
        group: GroupBy,
        groups: &mut BTreeMap<i64, Aggregates>,
    ) -> Result<(), sqlx::Error> {
        let mut q = Sql::default();
        let key = key(group, "e.product_id", "e.room_id");
        let filter = scope.events(&mut q, &["pin_started", "product_viewed", "cart_added"]);
        let products = scope.products(&mut q, "e.product_id");
        let sql = format!(
            "select {key} as k, \
             cast(coalesce(sum(case when e.kind = 'pin_started' then e.value else 0 end), 0) as bigint) \
               as impressions, \
             cast(coalesce(sum(case when e.kind = 'product_viewed' then 1 else 0 end), 0) as bigint) as views, \
             count(distinct case when e.kind = 'cart_added' then e.viewer end) as adders \
             from analytics_events e join rooms r on r.id = e.room_id join accounts h on h.id = r.creator_id \
             where {filter} and e.product_id is not null and {products} group by k"
        );
        let rows = q.fetch(self, &sql).await?;
        fold(groups, &rows, |a, r| {
            a.pin_impressions = int(r, "impressions")?;
            a.product_views = int(r, "views")?;
            a.cart_adders = int(r, "adders")?;
            Ok(())
        })
    }

    async fn pinned(
        &self,
        scope: &ReportScope,
        group: GroupBy,
        groups: &mut BTreeMap<i64, Aggregates>,
    ) -> Result<(), sqlx::Error> {
        let mut q = Sql::default();
        let pins = scope.pins(&mut q, group);
        let sql = format!(
            "with {pins} select k, cast(coalesce(sum(t - s), 0) as bigint) as pinned_ms from pins \
             where t > s group by k"
        );
        let rows = q.fetch(self, &sql).await?;
        fold(groups, &rows, |a, r| {
            a.pinned_ms = int(r, "pinned_ms")?;
            Ok(())
        })?;

        // For a product, its own orders while it was pinned; otherwise any order in scope.
        let mut q = Sql::default();
        let pins = scope.pins(&mut q, group);
        let sl = scope.sales_lines(&mut q, GroupBy::Total);
        let same_product = if group == GroupBy::Product { " and sl.product_id = p.k" } else { "" };
        let sql = format!(
            "with {pins}, {sl} select p.k as k, count(distinct sl.order_id) as orders from pins p join sl \
             on sl.room_id = p.room_id and sl.created_at >= p.s and sl.created_at < p.t{same_product} \
             where p.t > p.s group by p.k"
        );
        let rows = q.fetch(self, &sql).await?;
        fold(groups, &rows, |a, r| {
            a.orders_while_pinned = int(r, "orders")?;
            Ok(())
        })
    }

    async fn drops(
        &self,
        scope: &ReportScope,
        group: GroupBy,
        groups: &mut BTreeMap<i64, Aggregates>,
    ) -> Result<(), sqlx::Error> {
        let mut q = Sql::default();
        let key = key(group, "d.product_id", "d.room_id");
        let rooms = scope.rooms(&mut q);
        let products = scope.products(&mut q, "d.product_id");
        let (from, to, now) = (q.int(scope.from.0), q.int(scope.to.0), q.int(scope.now.0));
        let sold = "from order_lines dl join orders do2 on do2.id = dl.order_id \
                    where dl.drop_id = d.id and do2.paid_at is not null";
        let sold_out = "remaining = 0 and last_sale is not null";
        // Until sold out (the order that took the last unit), or until it ended: its
        // scheduled end, the end of its room, or now.
        let stopped = least(&least("ends_at", "coalesce(room_ended, ends_at)"), &now);
        let run_end = format!("(case when {sold_out} then last_sale else {stopped} end)");
        let sql = format!(
            "with dd as (select {key} as k, d.remaining, d.starts_at, d.ends_at, r.ended_at as room_ended, \
             (select max(do2.created_at) {sold}) as last_sale, \
             (select coalesce(sum(dl.quantity), 0) {sold}) as sold \
             from drops d join rooms r on r.id = d.room_id join accounts h on h.id = r.creator_id \
             where {rooms} and {products} and d.starts_at >= {from} and d.starts_at < {to}) \
             select k, count(*) as drops, cast(coalesce(sum(sold), 0) as bigint) as units, \
             cast(coalesce(sum(case when {run_end} > starts_at then {run_end} - starts_at else 0 end), 0) as bigint) \
               as run_ms, \
             cast(coalesce(sum(case when {sold_out} then 1 else 0 end), 0) as bigint) as sold_out, \
             cast(coalesce(sum(case when {sold_out} then last_sale - starts_at else 0 end), 0) as bigint) \
               as sell_out_total \
             from dd group by k"
        );
        let rows = q.fetch(self, &sql).await?;
        fold(groups, &rows, |a, r| {
            a.drops = int(r, "drops")?;
            a.drop_units = int(r, "units")?;
            a.drop_ms = int(r, "run_ms")?;
            a.drops_sold_out = int(r, "sold_out")?;
            a.sell_out_ms_total = int(r, "sell_out_total")?;
            Ok(())
        })
    }

    /// Paid orders in scope per promo code (at most 500 codes).
    pub async fn report_promo_codes(&self, scope: &ReportScope) -> Result<Vec<CodeUses>, sqlx::Error> {
        let mut q = Sql::default();
        let sl = scope.sales_lines(&mut q, GroupBy::Total);
        let sql = format!(
            "with {sl} select pc.id, pc.code, pc.creator_id, count(distinct sl.order_id) as redemptions, \
             cast(coalesce(sum(sl.line_total), 0) as bigint) as gmv, \
             cast(coalesce(sum(sl.discount), 0) as bigint) as discount \
             from sl join promo_codes pc on pc.id = sl.promo_code_id \
             group by pc.id, pc.code, pc.creator_id order by pc.id limit 500"
        );
        let rows = q.fetch(self, &sql).await?;
        rows.iter()
            .map(|r| {
                Ok(CodeUses {
                    code_id: r.try_get("id")?,
                    code: r.try_get("code")?,
                    creator: AccountId::from_row(r.try_get("creator_id")?),
                    redemptions: int(r, "redemptions")?,
                    gmv: int(r, "gmv")?,
                    discount: int(r, "discount")?,
                })
            })
            .collect()
    }

    /// The currencies of the paid orders in scope (whatever the scope's currency), most
    /// orders first.
    pub async fn report_currencies(&self, scope: &ReportScope) -> Result<Vec<Currency>, sqlx::Error> {
        let mut q = Sql::default();
        let lines = scope.lines(&mut q, false);
        let sql = format!(
            "select o.currency, count(distinct o.id) as orders from orders o join order_lines l on l.order_id = o.id \
             join rooms r on r.id = o.room_id where {lines} group by o.currency order by orders desc, o.currency \
             limit 20"
        );
        let rows = q.fetch(self, &sql).await?;
        rows.iter().map(|r| currency(r.try_get("currency")?)).collect()
    }

    /// The room as a report names it; `None` for a rehearsal, which has no report.
    pub async fn report_room(&self, id: RoomId) -> Result<Option<ReportRoom>, sqlx::Error> {
        let sql = format!("select {ROOM_COLUMNS} from rooms r where r.id = $1 and r.rehearsal_of is null");
        let row = sqlx::query(&sql).bind(id.get()).fetch_optional(&self.pool).await?;
        row.as_ref().map(report_room).transpose()
    }

    /// The rooms of the scope that were live in its period, newest first.
    pub async fn report_rooms(&self, scope: &ReportScope, limit: usize) -> Result<Vec<ReportRoom>, sqlx::Error> {
        let mut q = Sql::default();
        let rooms = scope.rooms(&mut q);
        let (from, to) = (q.int(scope.from.0), q.int(scope.to.0));
        let sql = format!(
            "select {ROOM_COLUMNS} from rooms r where {rooms} and r.live_at is not null and r.live_at < {to} \
             and (r.ended_at is null or r.ended_at >= {from}) order by r.live_at desc, r.id desc limit {limit}"
        );
        let rows = q.fetch(self, &sql).await?;
        rows.iter().map(report_room).collect()
    }

    /// A creator's last `limit` rooms (hosted or co-hosted) that ended by `before`, newest
    /// first, `except` one: the baseline of their uplift.
    pub async fn rooms_ended_before(
        &self,
        creator: AccountId,
        before: UnixMs,
        except: Option<RoomId>,
        limit: usize,
    ) -> Result<Vec<RoomId>, sqlx::Error> {
        let sql = format!(
            "select r.id from rooms r where (r.creator_id = $1 or r.co_host_id = $1) and r.status = 'ended' \
             and r.rehearsal_of is null and r.ended_at <= $2 and r.id <> $3 \
             order by r.ended_at desc, r.id desc limit {limit}"
        );
        let rows = sqlx::query(&sql)
            .bind(creator.get())
            .bind(before.0)
            .bind(except.map_or(0, RoomId::get))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(RoomId::from_row(r.try_get("id")?))).collect()
    }

    /// The products of `brand` (all brands when `None`) among `of`, or all of the brand's
    /// when `of` is `None`, with their titles, by id (at most `limit`).
    pub async fn report_products(
        &self,
        brand: Option<BrandId>,
        of: Option<&[ProductId]>,
        limit: usize,
    ) -> Result<Vec<(ProductId, String)>, sqlx::Error> {
        let mut q = Sql::default();
        let mut conds = vec!["1 = 1".to_owned()];
        if let Some(b) = brand {
            conds.push(format!("p.brand_id = {}", q.int(b.get())));
        }
        if let Some(of) = of {
            conds.push(format!("p.id in {}", q.ints(of.iter().map(|p| p.get()))));
        }
        let sql =
            format!("select p.id, p.title from products p where {} order by p.id limit {limit}", conds.join(" and "));
        let rows = q.fetch(self, &sql).await?;
        rows.iter().map(|r| Ok((ProductId::from_row(r.try_get("id")?), r.try_get("title")?))).collect()
    }

    /// The room's lineup, in lineup order.
    pub async fn report_lineup(&self, room: RoomId) -> Result<Vec<ProductId>, sqlx::Error> {
        let rows = sqlx::query("select product_id from room_products where room_id = $1 order by position")
            .bind(room.get())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(ProductId::from_row(r.try_get("product_id")?))).collect()
    }

    pub async fn brand_name(&self, brand: BrandId) -> Result<Option<String>, sqlx::Error> {
        let row =
            sqlx::query("select name from brands where id = $1").bind(brand.get()).fetch_optional(&self.pool).await?;
        row.map(|r| r.try_get("name")).transpose()
    }

    /// Whether the room lines up one of the brand's products.
    pub async fn room_lines_up_brand(&self, room: RoomId, brand: BrandId) -> Result<bool, sqlx::Error> {
        let row = sqlx::query(
            "select count(*) as n from room_products rp join products p on p.id = rp.product_id \
             where rp.room_id = $1 and p.brand_id = $2",
        )
        .bind(room.get())
        .bind(brand.get())
        .fetch_one(&self.pool)
        .await?;
        Ok(int(&row, "n")? > 0)
    }

    /// The creators of a campaign's agreements, with their rooms of the campaign that
    /// went live in `[from, to)`, by id.
    pub async fn campaign_creators(
        &self,
        campaign: CampaignId,
        from: UnixMs,
        to: UnixMs,
    ) -> Result<Vec<CampaignCreator>, sqlx::Error> {
        let rows = sqlx::query(
            "select c.id, c.display_name, c.follower_count, \
             (select count(*) from campaign_rooms cr join rooms r on r.id = cr.room_id where cr.campaign_id = $1 \
              and r.creator_id = c.id and r.rehearsal_of is null and r.live_at is not null and r.live_at >= $2 \
              and r.live_at < $3) as rooms_live \
             from accounts c where c.id in (select a.creator_id from campaign_agreements ca \
             join agreements a on a.id = ca.agreement_id where ca.campaign_id = $1) order by c.id",
        )
        .bind(campaign.get())
        .bind(from.0)
        .bind(to.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CampaignCreator {
                    id: AccountId::from_row(r.try_get("id")?),
                    display_name: r.try_get("display_name")?,
                    followers: r.try_get("follower_count")?,
                    rooms_live: int(r, "rooms_live")?,
                })
            })
            .collect()
    }
}
