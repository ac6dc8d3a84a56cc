//! The scripted show: a creator's earlier show (the baseline), then a co-hosted show with
//! viewers (some guests, spread over nodes when the shared services are configured),
//! pins, product views, comments, reactions, cart adds, purchases with and without a promo
//! code, a declined card, a drop that sells out, a repeat purchase and a refund. Then
//! every figure of every report (room, both creators, brand, campaign, and their rows)
//! must equal a naive recomputation written here, from the orders and refunds and from
//! this test's own record of what its clients did and when.
//!
//! Time is a manual clock shared by every node (nodes run in this process, on one
//! database and, scaled out, one Redis), so every timestamp the reports count is one this
//! test chose. The clock moves only once what came before is on record (the event in the
//! log, the order paid), and by less than the presence expiry of viewer counts, so a
//! jump never makes a node's viewers look gone. Event figures reach the log up to about
//! a second late: reports are polled until they match, within a bound.

use crate::helpers::{Backing, Client, TEST_REDIS, WAIT, Ws, test_config};
use crate::reports::{checkout, fill_cart};
use livecart::commerce::payments::TestCards;
use livecart::domain::{AccountId, BrandId, Clock, ProductId, Role, RoomId, Tier};
use livecart::state::AppState;
use livecart::store::Store;
use livecart::wire::api::{Product, RoomView, SessionResponse};
use livecart::wire::report::{
    BrandReport, CampaignReport, CampaignView, CreatorReport, Figures, ProductFigures, Rate, RoomReport,
};
use livecart::wire::routes::{self, path};
use livecart::wire::ws::{ClientMsg, OrderView, ServerMsg};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

// ---------------------------------------------------------------------------------------
// Nodes on one clock
// ---------------------------------------------------------------------------------------

/// Nodes in this process sharing the test's database, Redis (three nodes when Redis is
/// configured, else one) and manual clock.
struct Nodes {
    clients: Vec<Client>,
    states: Vec<AppState>,
    backing: Backing,
    clock: Clock,
    db: sqlx::AnyPool,
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for s in &self.states {
            s.shutdown.cancel();
        }
        self.backing.clean_up();
    }
}

impl Nodes {
    async fn start(clock: Clock) -> Nodes {
        let backing = Backing::new().await;
        let n = if std::env::var(TEST_REDIS).is_ok() { 3 } else { 1 };
        let (mut clients, mut states) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let mut config = test_config();
            backing.configure(&mut config);
            config.validate().expect("valid test config");
            let store = Store::connect(&config.database_url, config.db_connections).await.expect("database");
            let state = AppState::from_config(config, store, clock.clone()).await.expect("backends");
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            clients.push(Client::new(listener.local_addr().expect("addr")));
            tokio::spawn(livecart::run(listener, state.clone()));
            states.push(state);
        }
        sqlx::any::install_default_drivers();
        let db = sqlx::AnyPool::connect(&backing.database_url).await.expect("a database connection");
        Nodes { clients, states, backing, clock, db }
    }

    fn node(&self, i: usize) -> &Client {
        &self.clients[i % self.clients.len()]
    }

    fn now(&self) -> i64 {
        self.clock.now().0
    }

    /// Moves the clock on by `ms` (always less than the viewer-count expiry, 3 s).
    fn advance(&self, ms: u64) {
        assert!(ms < 3_000);
        self.clock.advance(Duration::from_millis(ms));
    }

    async fn admin(&self) -> SessionResponse {
        let state = &self.states[0];
        let account = state
            .store
            .create_account("show-admin@test.livecart", "-", "Admin", Role::Admin, None, self.clock.now())
            .await
            .expect("admin account");
        let session = state.accounts.open_session(account).await.expect("admin session");
        let a = &session.account;
        let account = livecart::wire::api::AccountView {
            id: a.id,
            email: a.email.clone(),
            display_name: a.display_name.clone(),
            role: a.role,
            brand_id: a.brand_id,
            followers: a.follower_count,
            tier: None,
        };
        SessionResponse { token: session.token, account }
    }

    /// Waits until the log holds `n` events of `kind` for `room`.
    async fn events(&self, room: RoomId, kind: &str, n: i64) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (count,): (i64,) =
                sqlx::query_as("select count(*) from analytics_events where room_id = $1 and kind = $2")
                    .bind(room.get())
                    .bind(kind)
                    .fetch_one(&self.db)
                    .await
                    .expect("count events");
            if count >= n {
                assert_eq!(count, n, "{kind} events of room {room}");
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "only {count} of {n} {kind} events of room {room} logged");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

// ---------------------------------------------------------------------------------------
// What the test's clients did
// ---------------------------------------------------------------------------------------

/// A viewer's connection (the host's do not count as visits).
struct Visit {
    room: RoomId,
    key: String,
    joined: i64,
    left: Option<i64>,
}

struct Pin {
    room: RoomId,
    product: ProductId,
    start: i64,
    end: Option<i64>,
    impressions: i64,
}

struct DropRec {
    room: RoomId,
    product: ProductId,
    start: i64,
}

#[derive(Clone, Copy)]
struct Terms {
    bps: i64,
    flat: i64,
    co_host_share: i64,
}

#[derive(Default)]
struct Record {
    visits: Vec<Visit>,
    /// Per room, the most connections (the host's included) present at once.
    peaks: BTreeMap<RoomId, i64>,
    pins: Vec<Pin>,
    views: Vec<(RoomId, String, ProductId)>,
    comments: Vec<RoomId>,
    reactions: Vec<(RoomId, i64)>,
    cart_adds: Vec<(RoomId, String, ProductId)>,
    /// Checkouts that got past validation, and whether they were paid.
    checkouts: Vec<(RoomId, bool)>,
    /// Paid orders as their buyers were told.
    orders: Vec<OrderView>,
    /// Refunded units: (order, product, units).
    refunds: Vec<(i64, ProductId, i64)>,
    drops: Vec<DropRec>,
    /// (room) → (host, co-host, ended at).
    rooms: BTreeMap<RoomId, (AccountId, Option<AccountId>, Option<i64>)>,
    terms: BTreeMap<(AccountId, ProductId), Terms>,
    brands: BTreeMap<ProductId, BrandId>,
}

/// Which part of the record a report counts (docs/metrics.md, "Scopes").
#[derive(Clone, Default)]
struct Scope {
    rooms: BTreeSet<RoomId>,
    brand: Option<BrandId>,
    /// Only these products.
    products: Option<BTreeSet<ProductId>>,
    /// Only lines of these (host, product) agreements.
    agreements: Option<BTreeSet<(AccountId, ProductId)>>,
    /// Only this creator's share of the commission.
    commission_of: Option<AccountId>,
}

/// What the rule `cohost-v1` gives a line: commission of `kept` units, split.
fn earned(unit_price: i64, kept: i64, t: Terms) -> (i64, i64) {
    let total = (unit_price * kept * t.bps / 10_000 + t.flat * kept).min(unit_price * kept);
    let co = total * t.co_host_share / 10_000;
    (total - co, co)
}

/// `n ÷ d` rounded half away from zero to four decimals, as the reports render it.
fn value(n: i128, d: i128) -> Option<String> {
    if d == 0 {
        return None;
    }
    let negative = (n < 0) != (d < 0);
    let (n, d) = (n.abs(), d.abs());
    let q = (n * 10_000 * 2 + d) / (2 * d);
    Some(format!("{}{}.{:04}", if negative && q > 0 { "-" } else { "" }, q / 10_000, q % 10_000))
}

impl Record {
    fn host_of(&self, room: RoomId) -> AccountId {
        self.rooms[&room].0
    }

    fn product_counts(&self, s: &Scope, room: RoomId, product: ProductId) -> bool {
        s.rooms.contains(&room)
            && s.brand.is_none_or(|b| self.brands[&product] == b)
            && s.products.as_ref().is_none_or(|p| p.contains(&product))
            && s.agreements.as_ref().is_none_or(|a| a.contains(&(self.host_of(room), product)))
    }

    /// Every figure of `s`, by name, as docs/metrics.md defines them.
    fn naive(&self, s: &Scope) -> BTreeMap<&'static str, i64> {
        let mut f = BTreeMap::new();
        let (mut gmv, mut refunded, mut discount, mut units) = (0, 0, 0, 0);
        let (mut accrued, mut reversed) = (0, 0);
        let mut orders = BTreeSet::new();
        let mut promo = BTreeSet::new();
        let mut per_buyer: BTreeMap<AccountId, (BTreeSet<i64>, i64)> = BTreeMap::new();
        for o in &self.orders {
            for l in &o.lines {
                if !self.product_counts(s, o.room_id, l.product_id) {
                    continue;
                }
                gmv += l.line_total;
                discount += (l.list_price - l.unit_price) * l.quantity;
                units += l.quantity;
                orders.insert(o.id.get());
                if o.promo_code_id.is_some() {
                    promo.insert(o.id.get());
                }
                let buyer = per_buyer.entry(o.buyer_id).or_insert((BTreeSet::new(), i64::MAX));
                buyer.0.insert(o.id.get());
                buyer.1 = buyer.1.min(o.created_at.0);
                let back: i64 = self
                    .refunds
                    .iter()
                    .filter(|(order, product, _)| *order == o.id.get() && *product == l.product_id)
                    .map(|(_, _, u)| u)
                    .sum();
                refunded += back * l.unit_price;
                let (_, co_host, _) = self.rooms[&o.room_id];
                let mut t = self.terms[&(o.creator_id, l.product_id)];
                if co_host.is_none() {
                    t.co_host_share = 0;
                }
                let before = earned(l.unit_price, l.quantity, t);
                let after = earned(l.unit_price, l.quantity - back, t);
                let (a, r) = match s.commission_of {
                    None => (before.0 + before.1, before.0 + before.1 - after.0 - after.1),
                    Some(c) if c == o.creator_id => (before.0, before.0 - after.0),
                    Some(c) if Some(c) == co_host => (before.1, before.1 - after.1),
                    Some(_) => (0, 0),
                };
                assert_eq!(before.0 + before.1, l.commission, "the order's line commission is the rule's");
                accrued += a;
                reversed += r;
            }
        }
        // New: no earlier paid order (anywhere) with the brands of their lines in scope;
        // the show has one brand.
        let new_buyers = per_buyer
            .iter()
            .filter(|(buyer, (_, first))| !self.orders.iter().any(|o| o.buyer_id == **buyer && o.created_at.0 < *first))
            .count() as i64;
        let buyers = per_buyer.len() as i64;
        let repeat = per_buyer.values().filter(|(o, _)| o.len() >= 2).count() as i64;
        let n_orders = orders.len() as i64;

        let visits: Vec<&Visit> = self.visits.iter().filter(|v| s.rooms.contains(&v.room)).collect();
        let unique: BTreeSet<&str> = visits.iter().map(|v| v.key.as_str()).collect();
        let uv = unique.len() as i64;
        let watch: i64 = visits.iter().filter_map(|v| v.left.map(|l| l - v.joined)).sum();
        let peak = s.rooms.iter().filter_map(|r| self.peaks.get(r)).copied().max().unwrap_or(0);
        let comments = self.comments.iter().filter(|r| s.rooms.contains(r)).count() as i64;
        let reactions: i64 = self.reactions.iter().filter(|(r, _)| s.rooms.contains(r)).map(|(_, n)| n).sum();
        let pins: Vec<&Pin> = self.pins.iter().filter(|p| self.product_counts(s, p.room, p.product)).collect();
        let impressions: i64 = pins.iter().map(|p| p.impressions).sum();
        let views = self.views.iter().filter(|(r, _, p)| self.product_counts(s, *r, *p)).count() as i64;
        let adders: BTreeSet<&str> = self
            .cart_adds
            .iter()
            .filter(|(r, _, p)| self.product_counts(s, *r, *p))
            .map(|(_, k, _)| k.as_str())
            .collect();
        let started = self.checkouts.iter().filter(|(r, _)| s.rooms.contains(r)).count() as i64;
        let paid = self.checkouts.iter().filter(|(r, p)| s.rooms.contains(r) && *p).count() as i64;
        let pin_end = |p: &Pin| p.end.or(self.rooms[&p.room].2).expect("every pin of the show has ended");
        let pinned: i64 = pins.iter().map(|p| pin_end(p) - p.start).sum();
        let while_pinned = self
            .orders
            .iter()
            .filter(|o| orders.contains(&o.id.get()))
            .filter(|o| {
                pins.iter().any(|p| p.room == o.room_id && p.start <= o.created_at.0 && o.created_at.0 < pin_end(p))
            })
            .count() as i64;
        let drops: Vec<&DropRec> = self.drops.iter().filter(|d| self.product_counts(s, d.room, d.product)).collect();
        let (mut drop_units, mut drop_ms, mut sold_out, mut sell_out_total) = (0, 0, 0, 0);
        for d in &drops {
            let sales: Vec<&OrderView> = self
                .orders
                .iter()
                .filter(|o| {
                    o.room_id == d.room && o.lines.iter().any(|l| l.product_id == d.product && l.drop_id.is_some())
                })
                .collect();
            drop_units +=
                sales.iter().flat_map(|o| &o.lines).filter(|l| l.drop_id.is_some()).map(|l| l.quantity).sum::<i64>();
            // The show's drop sells out: it ran until its last unit was sold.
            let last = sales.iter().map(|o| o.created_at.0).max().expect("the drop sold");
            drop_ms += last - d.start;
            sold_out += 1;
            sell_out_total += last - d.start;
        }

        let engaged = comments + reactions;
        for (k, v) in [
            ("gmv", gmv),
            ("net_gmv", gmv - refunded),
            ("refunded", refunded),
            ("discount", discount),
            ("orders", n_orders),
            ("units", units),
            ("aov", if n_orders == 0 { 0 } else { gmv / n_orders }),
            ("buyers", buyers),
            ("new_buyers", new_buyers),
            ("repeat_buyers", repeat),
            ("repeat_buyer_rate.n", repeat),
            ("repeat_buyer_rate.d", buyers),
            ("promo_redemptions", promo.len() as i64),
            ("unique_viewers", uv),
            ("peak_viewers", peak),
            ("watch_ms", watch),
            ("average_watch_ms", if uv == 0 { 0 } else { watch / uv }),
            ("comments", comments),
            ("reactions", reactions),
            ("conversion_rate.n", buyers),
            ("conversion_rate.d", uv),
            ("engagement_rate.n", engaged),
            ("engagement_rate.d", uv),
            ("engagement_per_viewer_minute.n", engaged * 60_000),
            ("engagement_per_viewer_minute.d", watch),
            ("pin_impressions", impressions),
            ("product_views", views),
            ("click_through_rate.n", views),
            ("click_through_rate.d", impressions),
            ("cart_adders", adders.len() as i64),
            ("cart_add_rate.n", adders.len() as i64),
            ("cart_add_rate.d", uv),
            ("checkouts_started", started),
            ("checkouts_paid", paid),
            ("checkout_success_rate.n", paid),
            ("checkout_success_rate.d", started),
            ("pinned_ms", pinned),
            ("orders_while_pinned", while_pinned),
            ("sales_velocity.n", while_pinned * 60_000),
            ("sales_velocity.d", pinned),
            ("drops", drops.len() as i64),
            ("drop_units", drop_units),
            ("drop_ms", drop_ms),
            ("drop_velocity.n", drop_units * 60_000),
            ("drop_velocity.d", drop_ms),
            ("drops_sold_out", sold_out),
            ("sell_out_ms", if sold_out == 0 { -1 } else { sell_out_total / sold_out }),
            ("commission.accrued", accrued),
            ("commission.reversed", reversed),
            // The return window (14 days) never passes in the show.
            ("commission.settled", 0),
            ("commission.owed", accrued - reversed),
            ("commission.net", accrued - reversed),
        ] {
            f.insert(k, v);
        }
        f
    }
}

/// A report's figures by the names of [`Record::naive`]; every rate's value checked
/// against its fraction on the way.
fn figures(f: &Figures) -> BTreeMap<&'static str, i64> {
    let mut m = BTreeMap::new();
    let mut rate = |name_n: &'static str, name_d: &'static str, r: &Rate| {
        assert_eq!(r.value, value(r.numerator.into(), r.denominator.into()), "{name_n}: {r:?}");
        m.insert(name_n, r.numerator);
        m.insert(name_d, r.denominator);
    };
    rate("repeat_buyer_rate.n", "repeat_buyer_rate.d", &f.repeat_buyer_rate);
    rate("conversion_rate.n", "conversion_rate.d", &f.conversion_rate);
    rate("engagement_rate.n", "engagement_rate.d", &f.engagement_rate);
    rate("engagement_per_viewer_minute.n", "engagement_per_viewer_minute.d", &f.engagement_per_viewer_minute);
    rate("click_through_rate.n", "click_through_rate.d", &f.click_through_rate);
    rate("cart_add_rate.n", "cart_add_rate.d", &f.cart_add_rate);
    rate("checkout_success_rate.n", "checkout_success_rate.d", &f.checkout_success_rate);
    rate("sales_velocity.n", "sales_velocity.d", &f.sales_velocity);
    rate("drop_velocity.n", "drop_velocity.d", &f.drop_velocity);
    let c = &f.commission;
    for (k, v) in [
        ("gmv", f.gmv.amount),
        ("net_gmv", f.net_gmv.amount),
        ("refunded", f.refunded.amount),
        ("discount", f.discount.amount),
        ("orders", f.orders),
        ("units", f.units),
        ("aov", f.aov.amount),
        ("buyers", f.buyers),
        ("new_buyers", f.new_buyers),
        ("repeat_buyers", f.repeat_buyers),
        ("promo_redemptions", f.promo_redemptions),
        ("unique_viewers", f.unique_viewers),
        ("peak_viewers", f.peak_viewers),
        ("watch_ms", f.watch_ms),
        ("average_watch_ms", f.average_watch_ms),
        ("comments", f.comments),
        ("reactions", f.reactions),
        ("pin_impressions", f.pin_impressions),
        ("product_views", f.product_views),
        ("cart_adders", f.cart_adders),
        ("checkouts_started", f.checkouts_started),
        ("checkouts_paid", f.checkouts_paid),
        ("pinned_ms", f.pinned_ms),
        ("orders_while_pinned", f.orders_while_pinned),
        ("drops", f.drops),
        ("drop_units", f.drop_units),
        ("drop_ms", f.drop_ms),
        ("drops_sold_out", f.drops_sold_out),
        ("sell_out_ms", f.sell_out_ms.unwrap_or(-1)),
        ("commission.accrued", c.accrued.amount),
        ("commission.reversed", c.reversed.amount),
        ("commission.settled", c.settled.amount),
        ("commission.owed", c.owed.amount),
        ("commission.net", c.net.amount),
    ] {
        m.insert(k, v);
    }
    m
}

/// The product figures of a product row, by the same names.
fn product_figures(p: &ProductFigures) -> BTreeMap<&'static str, i64> {
    let c = &p.commission;
    BTreeMap::from([
        ("gmv", p.gmv.amount),
        ("net_gmv", p.net_gmv.amount),
        ("refunded", p.refunded.amount),
        ("discount", p.discount.amount),
        ("orders", p.orders),
        ("units", p.units),
        ("aov", p.aov.amount),
        ("buyers", p.buyers),
        ("pin_impressions", p.pin_impressions),
        ("product_views", p.product_views),
        ("click_through_rate.n", p.click_through_rate.numerator),
        ("click_through_rate.d", p.click_through_rate.denominator),
        ("cart_adders", p.cart_adders),
        ("pinned_ms", p.pinned_ms),
        ("orders_while_pinned", p.orders_while_pinned),
        ("sales_velocity.n", p.sales_velocity.numerator),
        ("sales_velocity.d", p.sales_velocity.denominator),
        ("drop_units", p.drop_units),
        ("drop_velocity.n", p.drop_velocity.numerator),
        ("drop_velocity.d", p.drop_velocity.denominator),
        ("commission.accrued", c.accrued.amount),
        ("commission.reversed", c.reversed.amount),
        ("commission.settled", c.settled.amount),
        ("commission.owed", c.owed.amount),
    ])
}

/// The names where `got` and `want` differ, with both values.
fn diff(what: &str, got: &BTreeMap<&'static str, i64>, want: &BTreeMap<&'static str, i64>) -> Vec<String> {
    want.iter()
        .filter(|(k, v)| got.get(*k) != Some(v))
        .map(|(k, v)| format!("{what}: {k} is {:?}, expected {v}", got.get(k)))
        .collect()
}

// ---------------------------------------------------------------------------------------
// The show
// ---------------------------------------------------------------------------------------

/// A connection of the show, and who it is.
struct Conn {
    ws: Ws,
    key: String,
}

struct Show {
    nodes: Nodes,
    record: Record,
    next_guest: usize,
}

impl Show {
    /// `who` (a session, or a guest) joins `room` through node `node`; recorded as a visit
    /// unless it is the host.
    async fn join(&mut self, room: RoomId, node: usize, who: Option<&SessionResponse>, host: bool) -> Conn {
        let (ws, _) = self.nodes.node(node).viewer(room, who.map(|s| s.token.as_str())).await;
        let key = match who {
            Some(s) => format!("a{}", s.account.id),
            None => {
                self.next_guest += 1;
                format!("guest-{}", self.next_guest)
            }
        };
        if !host {
            self.record.visits.push(Visit { room, key: key.clone(), joined: self.nodes.now(), left: None });
        }
        Conn { ws, key }
    }

    /// Closes the viewers' connections now, then waits for their leaving on record.
    async fn leave(&mut self, room: RoomId, conns: Vec<Conn>) {
        let now = self.nodes.now();
        for c in conns {
            if let Some(v) =
                self.record.visits.iter_mut().find(|v| v.room == room && v.key == c.key && v.left.is_none())
            {
                v.left = Some(now);
            }
            c.ws.close().await;
        }
        let left = self.record.visits.iter().filter(|v| v.room == room && v.left.is_some()).count() as i64;
        self.nodes.events(room, "left", left).await;
    }

    /// Waits until the host's connection is told the room has `count` viewers.
    async fn viewers(&mut self, host: &mut Conn, room: RoomId, count: u64) {
        host.ws
            .recv_until(|m| match m {
                ServerMsg::Viewers { count: c } if c == count => Some(()),
                _ => None,
            })
            .await;
        let peak = self.record.peaks.entry(room).or_default();
        *peak = (*peak).max(count as i64);
    }

    async fn pin(&mut self, host: &mut Conn, room: RoomId, product: ProductId, viewers: i64) {
        host.ws.send(&ClientMsg::Pin { product_id: product }).await;
        host.ws
            .recv_until(|m| {
                matches!(m, ServerMsg::Event { event: livecart::wire::ws::RoomEvent::Pinned { .. }, .. }).then_some(())
            })
            .await;
        let now = self.nodes.now();
        let ended = self.record.pins.iter().filter(|p| p.room == room && p.end.is_none()).count() as i64;
        for p in self.record.pins.iter_mut().filter(|p| p.room == room && p.end.is_none()) {
            p.end = Some(now);
        }
        self.record.pins.push(Pin { room, product, start: now, end: None, impressions: viewers });
        let started = self.record.pins.iter().filter(|p| p.room == room).count() as i64;
        let ends = self.record.pins.iter().filter(|p| p.room == room && p.end.is_some()).count() as i64;
        self.nodes.events(room, "pin_started", started).await;
        if ended > 0 {
            self.nodes.events(room, "pin_ended", ends).await;
        }
    }

    async fn unpin(&mut self, host: &mut Conn, room: RoomId) {
        host.ws.send(&ClientMsg::Unpin {}).await;
        host.ws
            .recv_until(|m| {
                matches!(m, ServerMsg::Event { event: livecart::wire::ws::RoomEvent::Unpinned { .. }, .. })
                    .then_some(())
            })
            .await;
        let now = self.nodes.now();
        for p in self.record.pins.iter_mut().filter(|p| p.room == room && p.end.is_none()) {
            p.end = Some(now);
        }
        let ends = self.record.pins.iter().filter(|p| p.room == room && p.end.is_some()).count() as i64;
        self.nodes.events(room, "pin_ended", ends).await;
    }

    async fn view(&mut self, c: &mut Conn, room: RoomId, product: ProductId) {
        c.ws.send(&ClientMsg::ViewProduct { product_id: product }).await;
        c.ws.recv_until(|m| match m {
            ServerMsg::Product { product: p } if p.card.id == product => Some(()),
            ServerMsg::Error { code, request: Some(r), .. } if r == "view_product" => panic!("view_product: {code}"),
            _ => None,
        })
        .await;
        self.record.views.push((room, c.key.clone(), product));
    }

    async fn comment(&mut self, c: &mut Conn, room: RoomId, text: &str) {
        c.ws.send(&ClientMsg::Comment { text: text.try_into().unwrap() }).await;
        c.ws.recv_until(|m| match m {
            ServerMsg::Event { event: livecart::wire::ws::RoomEvent::Comment(_), .. } => Some(()),
            ServerMsg::Error { code, request: Some(r), .. } if r == "comment" => panic!("comment: {code}"),
            _ => None,
        })
        .await;
        self.record.comments.push(room);
    }

    async fn react(&mut self, c: &mut Conn, room: RoomId, n: i64) {
        for _ in 0..n {
            c.ws.send(&ClientMsg::React { reaction: livecart::domain::Reaction::Heart }).await;
        }
        self.record.reactions.push((room, n));
    }

    async fn add(&mut self, c: &mut Conn, room: RoomId, lines: &[(ProductId, i64)]) {
        fill_cart(&mut c.ws, lines).await;
        for (p, _) in lines {
            self.record.cart_adds.push((room, c.key.clone(), *p));
        }
    }

    /// Checks out the cart of `c`: recorded as a started checkout, and the order when paid.
    async fn checkout(
        &mut self,
        c: &mut Conn,
        room: RoomId,
        key: &str,
        card: &str,
        promo: Option<&str>,
    ) -> Result<OrderView, String> {
        c.ws.send(&checkout(key, card, promo)).await;
        let outcome = c.ws.checkout_outcome().await;
        self.record.checkouts.push((room, outcome.is_ok()));
        if let Ok(order) = &outcome {
            self.record.orders.push(order.clone());
        }
        outcome
    }
}

/// Polls `check` (which answers the mismatches) until it finds none, or fails with the
/// last ones after [`WAIT`]: event figures reach the log about a second late.
async fn settles<F: AsyncFnMut() -> Vec<String>>(mut check: F) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let wrong = check().await;
        if wrong.is_empty() {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "the reports never matched the show:\n{}", wrong.join("\n"));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn get_report<T: serde::de::DeserializeOwned>(
    client: &Client,
    route: &str,
    id: i64,
    token: &str,
    query: &str,
) -> T {
    let url = format!("{}{query}", path(route, &[id]));
    let (status, body) = client.send(reqwest::Method::GET, &url, Some(token), None).await;
    assert_eq!(status, 200, "GET {url}: {body}");
    serde_json::from_value(body).unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

#[tokio::test]
async fn every_report_of_a_scripted_show_equals_a_naive_recount() {
    let start = Clock::system().now();
    let clock = Clock::manual(start);
    let nodes = Nodes::start(clock).await;
    let mut show = Show { nodes, record: Record::default(), next_guest: 0 };
    let api = show.nodes.node(0).clone();
    let admin = show.nodes.admin().await;

    // The cast: a brand, a nano host and a mid-tier co-host, six buyers.
    let brand = api.register(Role::Brand, "Show team", Some("Show Glow")).await;
    let brand_id = brand.account.brand_id.unwrap();
    let host = api.register(Role::Creator, "Maya", None).await;
    let co_host = api.register(Role::Creator, "Noor", None).await;
    for (who, followers) in [(&host, 8_200), (&co_host, 120_000)] {
        let (s, body) = api
            .send(
                reqwest::Method::PUT,
                &path(routes::CREATOR, &[who.account.id.get()]),
                Some(&admin.token),
                Some(&json!({"followers": followers})),
            )
            .await;
        assert_eq!(s, 204, "{body}");
    }
    let mut buyers = Vec::new();
    for i in 0..6 {
        buyers.push(api.register(Role::Viewer, &format!("Buyer {i}"), None).await);
    }
    let mut products = Vec::new();
    for (title, price) in [("Serum", 2_000), ("Balm", 1_500), ("Mask", 1_000)] {
        let req = json!({"title": title, "price": price, "currency": "EUR", "stock": 100});
        let p: Product = api.post(&path(routes::BRAND_PRODUCTS, &[brand_id.get()]), Some(&brand.token), &req).await;
        show.record.brands.insert(p.card.id, brand_id);
        products.push(p.card.id);
    }
    let (serum, balm, mask) = (products[0], products[1], products[2]);
    let mut agreements = BTreeMap::new();
    for (product, bps, flat) in [(serum, 1_000, 0), (balm, 1_500, 20), (mask, 1_000, 0)] {
        let req = json!({"creator_id": host.account.id, "product_id": product, "commission_bps": bps, "commission_flat": flat, "co_host_share_bps": 4_000});
        let a: Value = api.post(routes::AGREEMENTS, Some(&brand.token), &req).await;
        agreements.insert(product, a["id"].as_i64().unwrap());
        show.record.terms.insert((host.account.id, product), Terms { bps, flat, co_host_share: 4_000 });
    }
    let promo = json!({"code": "GLOW10", "creator_id": host.account.id, "percent_off": 10, "product_ids": [serum]});
    let (s, body) = api.send(reqwest::Method::POST, routes::PROMO_CODES, Some(&brand.token), Some(&promo)).await;
    assert_eq!(s, 201, "promo code: {body}");

    // The earlier show: the baseline of the next one's uplift.
    let baseline: RoomView = api
        .post(routes::ROOMS, Some(&host.token), &json!({"title": "Earlier", "starts_at": 0, "product_ids": [serum]}))
        .await;
    let r0 = baseline.id;
    let _: RoomView = api.post(&path(routes::ROOM_GO_LIVE, &[r0.get()]), Some(&host.token), &()).await;
    show.record.rooms.insert(r0, (host.account.id, None, None));
    let mut h0 = show.join(r0, 0, Some(&host), true).await;
    let mut early = Vec::new();
    for (i, who) in [Some(&buyers[0]), Some(&buyers[1]), None].into_iter().enumerate() {
        early.push(show.join(r0, i + 1, who, false).await);
    }
    // The host is not counted: three viewers.
    show.nodes.events(r0, "joined", 3).await;
    show.viewers(&mut h0, r0, 3).await;
    show.nodes.advance(100);
    show.pin(&mut h0, r0, serum, 3).await;
    show.nodes.advance(200);
    show.add(&mut early[0], r0, &[(serum, 1)]).await;
    show.checkout(&mut early[0], r0, "show-0", TestCards::SUCCEEDS, None).await.expect("paid");
    show.nodes.advance(300);
    show.unpin(&mut h0, r0).await;
    show.nodes.advance(100);
    show.leave(r0, early).await;
    h0.ws.close().await;
    let _: RoomView = api.post(&path(routes::ROOM_END, &[r0.get()]), Some(&host.token), &()).await;
    show.record.rooms.get_mut(&r0).unwrap().2 = Some(show.nodes.now());
    show.nodes.advance(1_000);

    // The show, co-hosted; viewers over every node.
    let room: RoomView = api
        .post(
            routes::ROOMS,
            Some(&host.token),
            &json!({"title": "Glow live", "starts_at": 0, "product_ids": [serum, balm, mask]}),
        )
        .await;
    let r1 = room.id;
    let (s, body) = api
        .send(
            reqwest::Method::PUT,
            &path(routes::ROOM_CO_HOST, &[r1.get()]),
            Some(&host.token),
            Some(&json!({"creator_id": co_host.account.id})),
        )
        .await;
    assert_eq!(s, 200, "co-host: {body}");
    let _: RoomView = api.post(&path(routes::ROOM_GO_LIVE, &[r1.get()]), Some(&host.token), &()).await;
    show.record.rooms.insert(r1, (host.account.id, Some(co_host.account.id), None));
    let campaign: CampaignView = api
        .post(
            routes::CAMPAIGNS,
            Some(&brand.token),
            &json!({"name": "Glow live", "budget": {"amount": 50_000, "currency": "EUR"}, "flat_fee": {"amount": 2_500, "currency": "EUR"},
                    "agreement_ids": [agreements[&serum], agreements[&balm]], "room_ids": [r1]}),
        )
        .await;

    let mut h1 = show.join(r1, 0, Some(&host), true).await;
    let mut c = vec![show.join(r1, 1, Some(&co_host), false).await];
    for (i, b) in buyers.iter().enumerate() {
        c.push(show.join(r1, i + 2, Some(b), false).await);
    }
    for i in 0..3 {
        c.push(show.join(r1, i, None, false).await);
    }
    // c[0] co-host, c[1..=6] buyers 0..5, c[7..=9] guests.
    show.nodes.events(r1, "joined", 10).await;
    show.viewers(&mut h1, r1, 10).await;

    show.nodes.advance(100);
    show.pin(&mut h1, r1, serum, 10).await;
    for i in [1, 2, 3, 7] {
        show.view(&mut c[i], r1, serum).await;
    }
    show.comment(&mut c[1], r1, "love this").await;
    show.comment(&mut c[8], r1, "wow").await;
    show.react(&mut c[3], r1, 3).await;
    show.react(&mut c[9], r1, 2).await;
    show.add(&mut c[1], r1, &[(serum, 2)]).await;
    show.add(&mut c[2], r1, &[(serum, 1)]).await;

    show.nodes.advance(100);
    let with_code =
        show.checkout(&mut c[1], r1, "show-1", TestCards::SUCCEEDS, Some("glow10")).await.expect("paid with the code");
    assert_eq!(with_code.promo_code.as_deref(), Some("GLOW10"));
    assert_eq!(
        show.checkout(&mut c[2], r1, "show-2", TestCards::DECLINES, None).await.unwrap_err(),
        "payment_declined"
    );
    show.add(&mut c[3], r1, &[(balm, 1), (serum, 1)]).await;
    let to_refund = show.checkout(&mut c[3], r1, "show-3", TestCards::SUCCEEDS, None).await.expect("paid");

    show.nodes.advance(200);
    show.pin(&mut h1, r1, balm, 10).await;
    show.view(&mut c[4], r1, balm).await;
    show.add(&mut c[4], r1, &[(balm, 2)]).await;
    show.checkout(&mut c[4], r1, "show-4", TestCards::SUCCEEDS, None).await.expect("paid");

    show.nodes.advance(100);
    show.unpin(&mut h1, r1).await;
    h1.ws
        .send(&ClientMsg::StartDrop {
            product_id: mask,
            quantity: 3,
            price: Some(900),
            duration_secs: 300,
            per_buyer: None,
        })
        .await;
    h1.ws
        .recv_until(|m| {
            matches!(m, ServerMsg::Event { event: livecart::wire::ws::RoomEvent::DropStarted { .. }, .. }).then_some(())
        })
        .await;
    show.record.drops.push(DropRec { room: r1, product: mask, start: show.nodes.now() });
    // The drop features its product: it pinned the mask.
    show.record.pins.push(Pin { room: r1, product: mask, start: show.nodes.now(), end: None, impressions: 10 });
    let started = show.record.pins.iter().filter(|p| p.room == r1).count() as i64;
    show.nodes.events(r1, "pin_started", started).await;

    show.nodes.advance(150);
    show.add(&mut c[5], r1, &[(mask, 2)]).await;
    show.checkout(&mut c[5], r1, "show-5", TestCards::SUCCEEDS, None).await.expect("paid");
    show.nodes.advance(250);
    show.add(&mut c[6], r1, &[(mask, 1)]).await;
    let last = show.checkout(&mut c[6], r1, "show-6", TestCards::SUCCEEDS, None).await.expect("the last unit");
    assert!(last.lines[0].drop_id.is_some(), "sold through the drop");
    show.unpin(&mut h1, r1).await;

    show.nodes.advance(100);
    show.add(&mut c[1], r1, &[(balm, 1)]).await;
    show.checkout(&mut c[1], r1, "show-7", TestCards::SUCCEEDS, None).await.expect("a repeat purchase");
    let refunded: Value = api
        .post(
            &path(routes::ORDER_REFUNDS, &[to_refund.id.get()]),
            Some(&brand.token),
            &json!({"idempotency_key": "show-refund", "lines": [{"product_id": serum, "quantity": 1}]}),
        )
        .await;
    assert_eq!(refunded["status"], "refunded");
    show.record.refunds.push((to_refund.id.get(), serum, 1));

    show.nodes.advance(300);
    show.leave(r1, c).await;
    h1.ws.close().await;
    let _: RoomView = api.post(&path(routes::ROOM_END, &[r1.get()]), Some(&host.token), &()).await;
    show.record.rooms.get_mut(&r1).unwrap().2 = Some(show.nodes.now());
    show.nodes.events(r1, "checkout_paid", 6).await;

    // The reports, against the record.
    let record = &show.record;
    let rooms = |rs: &[RoomId]| rs.iter().copied().collect::<BTreeSet<_>>();
    let room_scope = |r: RoomId| Scope { rooms: rooms(&[r]), ..Scope::default() };
    let both = rooms(&[r0, r1]);
    let campaign_scope = Scope {
        rooms: rooms(&[r1]),
        brand: Some(brand_id),
        agreements: Some([serum, balm].iter().map(|p| (host.account.id, *p)).collect()),
        ..Scope::default()
    };
    let flat_fee = 2_500;
    let product_scope = |s: &Scope, p: ProductId| Scope { products: Some([p].into()), ..s.clone() };

    settles(async || {
        let mut wrong = Vec::new();
        // The show's room, as its host, co-host, brand and an admin see it.
        for who in [&host, &co_host, &brand, &admin] {
            let r: RoomReport = get_report(&api, routes::ROOM_REPORT, r1.get(), &who.token, "").await;
            let scope = Scope { brand: (who.account.role == Role::Brand).then_some(brand_id), ..room_scope(r1) };
            wrong.extend(diff(
                &format!("room report as {}", who.account.display_name),
                &figures(&r.figures),
                &record.naive(&scope),
            ));
            assert!(!r.live, "the show has ended");
            for p in &r.products {
                let want = record.naive(&product_scope(&scope, p.product_id));
                let want = product_figures(p).keys().map(|k| (*k, want[k])).collect();
                wrong.extend(diff(&format!("room report, product {}", p.title), &product_figures(p), &want));
            }
            assert_eq!(r.products.iter().map(|p| p.product_id).collect::<Vec<_>>(), [serum, balm, mask]);
            let codes: Vec<_> = r
                .promo_codes
                .iter()
                .map(|c| (c.code.as_str(), c.creator_id, c.redemptions, c.gmv.amount, c.discount.amount))
                .collect();
            let line = &with_code.lines[0];
            assert_eq!(
                codes,
                [("GLOW10", host.account.id, 1, line.line_total, (line.list_price - line.unit_price) * line.quantity)]
            );
            // Uplift against the earlier show.
            let u = r.uplift.clone().expect("the earlier show is the baseline");
            assert_eq!(u.baseline_rooms, [r0]);
            let (this, base) = (record.naive(&scope), record.naive(&Scope { brand: scope.brand, ..room_scope(r0) }));
            for (name, got) in [("sales_velocity", &u.sales_velocity), ("conversion_rate", &u.conversion_rate)] {
                let term =
                    |m: &BTreeMap<&'static str, i64>, part: &str| i128::from(m[format!("{name}.{part}").as_str()]);
                let (a, b, c, d) = (term(&this, "n"), term(&this, "d"), term(&base, "n"), term(&base, "d"));
                if got.value != value(a * d, b * c) {
                    wrong.push(format!("uplift {name}: {got:?}, expected {:?}", value(a * d, b * c)));
                }
            }
        }
        // The creators: all their rooms' sales, their own share of the commission.
        for (who, rooms_of) in [(&host, both.clone()), (&co_host, rooms(&[r1]))] {
            let r: CreatorReport = get_report(&api, routes::CREATOR_REPORT, who.account.id.get(), &who.token, "").await;
            let scope = Scope { rooms: rooms_of.clone(), commission_of: Some(who.account.id), ..Scope::default() };
            wrong.extend(diff(
                &format!("creator report of {}", who.account.display_name),
                &figures(&r.figures),
                &record.naive(&scope),
            ));
            assert_eq!(r.rooms.iter().map(|row| row.room.id).collect::<BTreeSet<_>>(), rooms_of);
            for row in &r.rooms {
                let scope =
                    Scope { rooms: rooms(&[row.room.id]), commission_of: Some(who.account.id), ..Scope::default() };
                wrong.extend(diff(
                    &format!("{}'s room {}", who.account.display_name, row.room.id),
                    &figures(&row.figures),
                    &record.naive(&scope),
                ));
            }
            assert_eq!(r.uplift, None, "no earlier room before the period's first");
        }
        let co_tier: CreatorReport =
            get_report(&api, routes::CREATOR_REPORT, co_host.account.id.get(), &admin.token, "").await;
        assert_eq!(co_tier.creator.tier, Tier::Mid);
        // The brand: both shows.
        let b: BrandReport = get_report(&api, routes::BRAND_REPORT, brand_id.get(), &brand.token, "").await;
        let scope = Scope { rooms: both.clone(), brand: Some(brand_id), ..Scope::default() };
        wrong.extend(diff("brand report", &figures(&b.figures), &record.naive(&scope)));
        for p in &b.products {
            let want = record.naive(&product_scope(&scope, p.product_id));
            let want = product_figures(p).keys().map(|k| (*k, want[k])).collect();
            wrong.extend(diff(&format!("brand report, product {}", p.title), &product_figures(p), &want));
        }
        // The campaign: the serum and balm agreements in the show; the host's flat fee.
        let k: CampaignReport = get_report(&api, routes::CAMPAIGN_REPORT, campaign.id.get(), &brand.token, "").await;
        let want = record.naive(&campaign_scope);
        wrong.extend(diff("campaign report", &figures(&k.figures), &want));
        let cost = want["commission.net"] + flat_fee;
        let new_buyers = want["new_buyers"];
        let expected = (
            flat_fee,
            cost,
            value((want["net_gmv"] - cost).into(), cost.into()),
            (new_buyers > 0).then(|| cost / new_buyers),
        );
        let got = (
            k.cost.flat_fees.amount,
            k.cost.cost.amount,
            k.cost.roi.value.clone(),
            k.cost.cost_per_new_buyer.map(|m| m.amount),
        );
        if got != expected {
            wrong.push(format!("campaign cost {got:?}, expected {expected:?}"));
        }
        assert_eq!(k.budget_left.amount, 50_000 - k.cost.cost.amount);
        assert_eq!(k.creators.len(), 1, "one creator has agreements in the campaign");
        wrong.extend(diff("campaign, host row", &figures(&k.creators[0].figures), &want));
        assert_eq!((k.creators[0].creator.tier, k.creators[0].cost.cost.amount), (Tier::Nano, k.cost.cost.amount));
        assert_eq!(k.tiers.iter().map(|t| (t.tier, t.creators)).collect::<Vec<_>>(), [(Tier::Nano, 1)]);
        wrong.extend(diff("campaign, nano tier", &figures(&k.tiers[0].figures), &want));
        wrong
    })
    .await;

    // What the ledgers hold agrees too: the creators' earnings are their reports' commission.
    for who in [&host, &co_host] {
        let earnings: Vec<livecart::wire::api::CommissionBalance> =
            api.get(&path(routes::CREATOR_EARNINGS, &[who.account.id.get()]), Some(&who.token)).await;
        let r: CreatorReport = get_report(&api, routes::CREATOR_REPORT, who.account.id.get(), &who.token, "").await;
        assert_eq!(
            (earnings[0].accrued, earnings[0].reversed),
            (r.figures.commission.accrued, r.figures.commission.reversed)
        );
    }
}
