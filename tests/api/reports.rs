//! Reports and campaigns against the real server: figures read back from the ledgers,
//! who may read what (a brand only its own lines), CSV, periods, campaigns with their
//! cost, ROI, sorting and tiers. The scripted show with viewers, pins and drops is
//! `report_show.rs`.

use crate::helpers::{TestApp, Ws};
use livecart::commerce::payments::TestCards;
use livecart::domain::{AccountId, BrandId, ProductId, Role, RoomId, UnixMs};
use livecart::wire::api::{CommissionBalance, Product, RefundView, RoomView, SessionResponse};
use livecart::wire::report::{
    BrandReport, CampaignReport, CampaignView, CreatorReport, CreatorSort, Figures, RoomReport,
};
use livecart::wire::routes::{self, path};
use livecart::wire::ws::{ClientMsg, OrderView, ServerMsg};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------
// A shop to report on
// ---------------------------------------------------------------------------------------

/// A brand member and its brand.
pub struct Brand {
    pub session: SessionResponse,
    pub id: BrandId,
}

impl Brand {
    pub fn token(&self) -> &str {
        &self.session.token
    }
}

pub async fn brand(app: &TestApp, name: &str) -> Brand {
    let session = app.register(Role::Brand, &format!("{name} team"), Some(name)).await;
    let id = session.account.brand_id.expect("brand id");
    Brand { session, id }
}

pub async fn creator(app: &TestApp, name: &str) -> SessionResponse {
    app.register(Role::Creator, name, None).await
}

pub async fn product(app: &TestApp, brand: &Brand, title: &str, price: i64, stock: i64) -> ProductId {
    let req = json!({"title": title, "price": price, "currency": "EUR", "stock": stock});
    let p: Product = app.post(&path(routes::BRAND_PRODUCTS, &[brand.id.get()]), Some(brand.token()), &req).await;
    p.card.id
}

/// An agreement of `bps` basis points and `flat` per unit; its id.
pub async fn agree(app: &TestApp, brand: &Brand, creator: AccountId, product: ProductId, bps: i64, flat: i64) -> i64 {
    let req = json!({"creator_id": creator, "product_id": product, "commission_bps": bps, "commission_flat": flat});
    let agreement: Value = app.post(routes::AGREEMENTS, Some(brand.token()), &req).await;
    agreement["id"].as_i64().expect("agreement id")
}

pub async fn scheduled_room(app: &TestApp, host: &SessionResponse, lineup: &[ProductId]) -> RoomId {
    let req = json!({"title": "Report show", "starts_at": 0, "product_ids": lineup});
    let room: RoomView = app.post(routes::ROOMS, Some(&host.token), &req).await;
    room.id
}

pub async fn live_room(app: &TestApp, host: &SessionResponse, lineup: &[ProductId]) -> RoomId {
    let room = scheduled_room(app, host, lineup).await;
    let _: RoomView = app.post(&path(routes::ROOM_GO_LIVE, &[room.get()]), Some(&host.token), &()).await;
    room
}

pub async fn end_room(app: &TestApp, host: &SessionResponse, room: RoomId) {
    let _: RoomView = app.post(&path(routes::ROOM_END, &[room.get()]), Some(&host.token), &()).await;
}

pub async fn set_followers(app: &TestApp, admin: &SessionResponse, creator: AccountId, followers: i64) {
    let (status, body) = app
        .send(
            reqwest::Method::PUT,
            &path(routes::CREATOR, &[creator.get()]),
            Some(&admin.token),
            Some(&json!({"followers": followers})),
        )
        .await;
    assert_eq!(status, 204, "set followers: {body}");
}

/// Adds `lines` to the cart of `ws` (joined to a room, signed in).
pub async fn fill_cart(ws: &mut Ws, lines: &[(ProductId, i64)]) {
    for (product_id, quantity) in lines {
        ws.send(&ClientMsg::CartAdd { product_id: *product_id, quantity: *quantity }).await;
        ws.recv_until(|m| match m {
            ServerMsg::Cart { .. } => Some(()),
            ServerMsg::Error { code, request: Some(r), .. } if r == "cart_add" => panic!("cart_add failed: {code}"),
            _ => None,
        })
        .await;
    }
}

pub fn checkout(key: &str, card: &str, promo_code: Option<&str>) -> ClientMsg {
    ClientMsg::Checkout {
        idempotency_key: key.to_owned().try_into().unwrap(),
        card: Some(card.to_owned().try_into().unwrap()),
        payment: None,
        save: None,
        shipping: None,
        promo_code: promo_code.map(|c| c.to_owned().try_into().expect("a promo code")),
    }
}

/// `buyer` joins `room`, fills the cart with `lines` and checks out: the order, or the
/// error code.
pub async fn buy(
    app: &TestApp,
    room: RoomId,
    buyer: &SessionResponse,
    lines: &[(ProductId, i64)],
    key: &str,
    card: &str,
) -> Result<OrderView, String> {
    let (mut ws, _) = app.viewer(room, Some(&buyer.token)).await;
    fill_cart(&mut ws, lines).await;
    ws.send(&checkout(key, card, None)).await;
    let outcome = ws.checkout_outcome().await;
    ws.close().await;
    outcome
}

pub async fn refund(app: &TestApp, brand: &Brand, order: &OrderView, product: ProductId, quantity: i64) -> RefundView {
    let req = json!({"idempotency_key": format!("refund-{}-{product}-{quantity}", order.id), "lines": [{"product_id": product, "quantity": quantity}]});
    app.post(&path(routes::ORDER_REFUNDS, &[order.id.get()]), Some(brand.token()), &req).await
}

/// A GET with a query string: status and body text.
pub async fn get_raw(app: &TestApp, route: &str, token: Option<&str>) -> (u16, String, String) {
    let mut req = reqwest::Client::new().get(app.url(route));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.expect("http request");
    let status = resp.status().as_u16();
    let content_type = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    (status, content_type, resp.text().await.expect("body"))
}

/// A report (`route` filled with `id`, then `query`), which must be 200.
pub async fn report<T: DeserializeOwned>(app: &TestApp, route: &str, id: i64, token: &str, query: &str) -> T {
    let url = format!("{}{query}", path(route, &[id]));
    let (status, _, body) = get_raw(app, &url, Some(token)).await;
    assert_eq!(status, 200, "GET {url}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: {e}: {body}"))
}

async fn status(app: &TestApp, route: &str, id: i64, token: Option<&str>) -> u16 {
    get_raw(app, &path(route, &[id]), token).await.0
}

/// A minimal RFC 4180 reader: rows of cells (quoted cells may hold commas, quotes, lines).
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut cell, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    assert!(cell.is_empty() && row.is_empty(), "the CSV ends with a line end");
    rows
}

fn money(f: &Figures) -> (i64, i64, i64) {
    (f.gmv.amount, f.net_gmv.amount, f.refunded.amount)
}

/// The figures read from the order and commission ledgers, exact at once (the event
/// figures may still be on their way to the log).
pub fn ledger(f: &Figures) -> Vec<i64> {
    let c = &f.commission;
    vec![
        f.gmv.amount,
        f.net_gmv.amount,
        f.refunded.amount,
        f.discount.amount,
        f.orders,
        f.units,
        f.aov.amount,
        f.buyers,
        f.new_buyers,
        f.repeat_buyers,
        f.promo_redemptions,
        c.accrued.amount,
        c.reversed.amount,
        c.settled.amount,
        c.owed.amount,
    ]
}

// ---------------------------------------------------------------------------------------
// Sales, refunds and commission
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_room_report_counts_sales_refunds_and_commission_from_the_ledgers() {
    let app = TestApp::spawn().await;
    let glow = brand(&app, "Report Glow").await;
    let host = creator(&app, "Host").await;
    let serum = product(&app, &glow, "Serum", 1_000, 50).await;
    let balm = product(&app, &glow, "Balm", 2_500, 50).await;
    agree(&app, &glow, host.account.id, serum, 1_000, 0).await;
    agree(&app, &glow, host.account.id, balm, 1_000, 50).await;
    let room = live_room(&app, &host, &[serum, balm]).await;
    let ana = app.register(Role::Viewer, "Ana", None).await;
    let ben = app.register(Role::Viewer, "Ben", None).await;
    let cat = app.register(Role::Viewer, "Cat", None).await;

    let first = buy(&app, room, &ana, &[(serum, 2), (balm, 1)], "r-1", TestCards::SUCCEEDS).await.unwrap();
    buy(&app, room, &ben, &[(balm, 1)], "r-2", TestCards::SUCCEEDS).await.unwrap();
    buy(&app, room, &ana, &[(serum, 1)], "r-3", TestCards::SUCCEEDS).await.unwrap();
    assert_eq!(buy(&app, room, &cat, &[(serum, 4)], "r-4", TestCards::DECLINES).await.unwrap_err(), "payment_declined");
    refund(&app, &glow, &first, serum, 1).await;

    let r: RoomReport = report(&app, routes::ROOM_REPORT, room.get(), &host.token, "").await;
    assert!(r.live);
    assert_eq!(r.basis.currency.as_str(), "EUR");
    assert_eq!(r.basis.brand_id, None);
    assert_eq!(money(&r.figures), (8_000, 7_000, 1_000));
    assert_eq!((r.figures.orders, r.figures.units, r.figures.aov.amount), (3, 5, 2_666));
    assert_eq!((r.figures.buyers, r.figures.repeat_buyers, r.figures.new_buyers), (2, 1, 2));
    assert_eq!(r.figures.repeat_buyer_rate.value.as_deref(), Some("0.5000"));
    // 10% of 2,000 + 10% of 2,500 and 50 flat + the same again + 10% of 1,000; the refund
    // of one of two units of the first line reverses what it earned.
    let c = &r.figures.commission;
    assert_eq!((c.accrued.amount, c.reversed.amount, c.settled.amount, c.owed.amount), (900, 100, 0, 800));
    let products: Vec<_> =
        r.products.iter().map(|p| (p.product_id, p.gmv.amount, p.units, p.orders, p.refunded.amount)).collect();
    assert_eq!(products, [(serum, 3_000, 3, 2, 1_000), (balm, 5_000, 2, 2, 0)]);
    assert_eq!(r.uplift, None, "the host has no earlier room");

    // The ledger says the same: the creator's earnings and the payments.
    let earnings: Vec<CommissionBalance> =
        app.get(&path(routes::CREATOR_EARNINGS, &[host.account.id.get()]), Some(&host.token)).await;
    assert_eq!(earnings[0].accrued, c.accrued);
    assert_eq!(earnings[0].reversed, c.reversed);
    let creator_report: CreatorReport =
        report(&app, routes::CREATOR_REPORT, host.account.id.get(), &host.token, "").await;
    assert_eq!(ledger(&creator_report.figures), ledger(&r.figures), "one room: the creator's figures are the room's");
    assert_eq!(creator_report.rooms.len(), 1);
    assert_eq!(ledger(&creator_report.rooms[0].figures), ledger(&r.figures));

    // A second show is compared with the first.
    end_room(&app, &host, room).await;
    let second = live_room(&app, &host, &[serum]).await;
    buy(&app, second, &ben, &[(serum, 1)], "r-5", TestCards::SUCCEEDS).await.unwrap();
    let r2: RoomReport = report(&app, routes::ROOM_REPORT, second.get(), &host.token, "").await;
    let uplift = r2.uplift.expect("the first show is the baseline");
    assert_eq!(uplift.baseline_rooms, [room]);
    assert_eq!((r2.figures.buyers, r2.figures.new_buyers), (1, 0), "Ben bought from the brand before");
}

// ---------------------------------------------------------------------------------------
// Who sees what
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn brands_see_only_their_lines_creators_their_own_and_others_are_refused() {
    let app = TestApp::spawn().await;
    let a = brand(&app, "Report Brand A").await;
    let b = brand(&app, "Report Brand B").await;
    let c = brand(&app, "Report Brand C").await;
    let host = creator(&app, "Host").await;
    let other_creator = creator(&app, "Other").await;
    let co_host = creator(&app, "Co-host").await;
    let viewer = app.register(Role::Viewer, "Buyer", None).await;
    let second = app.register(Role::Viewer, "Second", None).await;
    let admin = app.admin("Admin").await;
    let pa = product(&app, &a, "Cream", 1_000, 20).await;
    let pb = product(&app, &b, "Mask", 3_000, 20).await;
    let pc = product(&app, &c, "Oil", 500, 20).await;
    agree(&app, &a, host.account.id, pa, 1_000, 0).await;
    agree(&app, &b, host.account.id, pb, 2_000, 0).await;
    agree(&app, &c, other_creator.account.id, pc, 1_000, 0).await;
    let room = live_room(&app, &host, &[pa, pb]).await;
    buy(&app, room, &viewer, &[(pa, 1), (pb, 2)], "w-1", TestCards::SUCCEEDS).await.unwrap();
    buy(&app, room, &second, &[(pb, 1)], "w-2", TestCards::SUCCEEDS).await.unwrap();

    let whole: RoomReport = report(&app, routes::ROOM_REPORT, room.get(), &host.token, "").await;
    assert_eq!((whole.figures.gmv.amount, whole.figures.orders), (10_000, 2));
    let of_a: RoomReport = report(&app, routes::ROOM_REPORT, room.get(), a.token(), "").await;
    assert_eq!(of_a.basis.brand_id, Some(a.id));
    assert_eq!((of_a.figures.gmv.amount, of_a.figures.orders, of_a.figures.units), (1_000, 1, 1));
    assert_eq!(of_a.figures.commission.accrued.amount, 100);
    assert_eq!(of_a.products.iter().map(|p| p.product_id).collect::<Vec<_>>(), [pa]);
    let of_b: RoomReport = report(&app, routes::ROOM_REPORT, room.get(), b.token(), "").await;
    assert_eq!((of_b.figures.gmv.amount, of_b.figures.orders, of_b.figures.buyers), (9_000, 2, 2));
    assert_eq!(of_b.figures.commission.accrued.amount, 1_800);
    assert_eq!(of_b.products.iter().map(|p| p.product_id).collect::<Vec<_>>(), [pb]);
    assert_eq!(
        of_a.figures.commission.accrued.amount + of_b.figures.commission.accrued.amount,
        whole.figures.commission.accrued.amount
    );
    let admin_view: RoomReport = report(&app, routes::ROOM_REPORT, room.get(), &admin.token, "").await;
    assert_eq!(ledger(&admin_view.figures), ledger(&whole.figures));

    // Room: the host, the co-host, its brands (cut down), admins.
    let room_id = room.get();
    assert_eq!(status(&app, routes::ROOM_REPORT, room_id, None).await, 401);
    assert_eq!(status(&app, routes::ROOM_REPORT, room_id, Some(&viewer.token)).await, 403);
    assert_eq!(status(&app, routes::ROOM_REPORT, room_id, Some(&other_creator.token)).await, 403);
    assert_eq!(status(&app, routes::ROOM_REPORT, room_id, Some(c.token())).await, 403, "brand C sells nothing here");
    assert_eq!(status(&app, routes::ROOM_REPORT, room_id, Some(&co_host.token)).await, 403, "not co-host yet");
    assert_eq!(status(&app, routes::ROOM_REPORT, 999_999, Some(&admin.token)).await, 404);
    let co_host_url = path(routes::ROOM_CO_HOST, &[room.get()]);
    let body = json!({"creator_id": co_host.account.id});
    let (s, body) = app.send(reqwest::Method::PUT, &co_host_url, Some(&host.token), Some(&body)).await;
    assert_eq!(s, 200, "co-host: {body}");
    let co: RoomReport = report(&app, routes::ROOM_REPORT, room_id, &co_host.token, "").await;
    assert_eq!(co.figures.gmv, whole.figures.gmv);

    // Creator: themself, brands (cut down), admins.
    let host_id = host.account.id.get();
    let creator_a: CreatorReport = report(&app, routes::CREATOR_REPORT, host_id, a.token(), "").await;
    assert_eq!((creator_a.basis.brand_id, creator_a.figures.gmv.amount), (Some(a.id), 1_000));
    let creator_c: CreatorReport = report(&app, routes::CREATOR_REPORT, host_id, c.token(), "").await;
    assert_eq!((creator_c.figures.gmv.amount, creator_c.rooms.len()), (0, 0), "no room of the host lines up C");
    assert_eq!(status(&app, routes::CREATOR_REPORT, host_id, None).await, 401);
    assert_eq!(status(&app, routes::CREATOR_REPORT, host_id, Some(&viewer.token)).await, 403);
    assert_eq!(status(&app, routes::CREATOR_REPORT, host_id, Some(&other_creator.token)).await, 403);
    assert_eq!(status(&app, routes::CREATOR_REPORT, host_id, Some(&admin.token)).await, 200);
    assert_eq!(status(&app, routes::CREATOR_REPORT, viewer.account.id.get(), Some(&admin.token)).await, 404);

    // Brand: its members, admins.
    let brand_a: BrandReport = report(&app, routes::BRAND_REPORT, a.id.get(), a.token(), "").await;
    assert_eq!((brand_a.figures.gmv.amount, brand_a.brand.id), (1_000, a.id));
    assert_eq!(status(&app, routes::BRAND_REPORT, a.id.get(), Some(b.token())).await, 403);
    assert_eq!(status(&app, routes::BRAND_REPORT, a.id.get(), Some(&host.token)).await, 403);
    assert_eq!(status(&app, routes::BRAND_REPORT, a.id.get(), Some(&admin.token)).await, 200);
    assert_eq!(status(&app, routes::BRAND_REPORT, a.id.get(), None).await, 401);
    assert_eq!(status(&app, routes::BRAND_REPORT, 999_999, Some(&admin.token)).await, 404);
}

// ---------------------------------------------------------------------------------------
// CSV and periods
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn csv_has_a_header_the_totals_and_a_row_per_product() {
    let app = TestApp::spawn().await;
    let glow = brand(&app, "Report CSV").await;
    let host = creator(&app, "Host").await;
    // Names that need quoting, and one a spreadsheet would run.
    let serum = product(&app, &glow, "Serum, 30 \"ml\"", 1_200, 10).await;
    let balm = product(&app, &glow, "=Balm", 800, 10).await;
    agree(&app, &glow, host.account.id, serum, 1_000, 0).await;
    agree(&app, &glow, host.account.id, balm, 1_000, 0).await;
    let room = live_room(&app, &host, &[serum, balm]).await;
    let buyer = app.register(Role::Viewer, "Buyer", None).await;
    buy(&app, room, &buyer, &[(serum, 2), (balm, 1)], "csv-1", TestCards::SUCCEEDS).await.unwrap();

    let url = format!("{}?format=csv", path(routes::ROOM_REPORT, &[room.get()]));
    let (status, content_type, body) = get_raw(&app, &url, Some(&host.token)).await;
    assert_eq!(status, 200, "{body}");
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    assert!(body.contains("\r\n"), "RFC 4180 line ends");
    let rows = parse_csv(&body);
    let header = &rows[0];
    assert_eq!(&header[..6], ["row", "id", "name", "tier", "currency", "gmv"]);
    assert_eq!(rows.len(), 4, "header, totals, two products: {body}");
    assert!(rows.iter().all(|r| r.len() == header.len()), "every row has every column");
    let col = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"));
    let json: RoomReport = report(&app, routes::ROOM_REPORT, room.get(), &host.token, "").await;
    assert_eq!(rows[1][col("row")], "total");
    assert_eq!(rows[1][col("gmv")], json.figures.gmv.amount.to_string());
    assert_eq!(rows[1][col("orders")], "1");
    assert_eq!(rows[1][col("currency")], "EUR");
    assert_eq!(rows[1][col("commission_accrued")], json.figures.commission.accrued.amount.to_string());
    assert_eq!((rows[2][col("row")].as_str(), rows[2][col("name")].as_str()), ("product", "Serum, 30 \"ml\""));
    assert_eq!(rows[2][col("gmv")], "2400");
    assert_eq!(rows[2][col("unique_viewers")], "", "a product row has no audience");
    assert_eq!(rows[3][col("name")], "'=Balm", "a formula is defused");

    // Every report has a CSV form; the campaign's carries its cost.
    for route in [routes::CREATOR_REPORT, routes::BRAND_REPORT] {
        let id = if route == routes::BRAND_REPORT { glow.id.get() } else { host.account.id.get() };
        let token = if route == routes::BRAND_REPORT { glow.token() } else { host.token.as_str() };
        let (status, content_type, body) =
            get_raw(&app, &format!("{}?format=csv", path(route, &[id])), Some(token)).await;
        assert_eq!((status, content_type.starts_with("text/csv")), (200, true), "{route}: {body}");
        assert!(parse_csv(&body).len() >= 2);
    }
    let campaign =
        new_campaign(&app, &glow, json!({"name": "CSV", "budget": {"amount": 10_000, "currency": "EUR"}})).await;
    let (status, _, body) = get_raw(
        &app,
        &format!("{}?format=csv", path(routes::CAMPAIGN_REPORT, &[campaign.id.get()])),
        Some(glow.token()),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let rows = parse_csv(&body);
    assert!(rows[0].iter().any(|c| c == "roi") && rows[0].iter().any(|c| c == "cost"));
}

#[tokio::test]
async fn from_and_to_count_the_orders_placed_between_them() {
    let app = TestApp::spawn().await;
    let glow = brand(&app, "Report Period").await;
    let host = creator(&app, "Host").await;
    let serum = product(&app, &glow, "Serum", 1_000, 10).await;
    agree(&app, &glow, host.account.id, serum, 1_000, 0).await;
    let room = live_room(&app, &host, &[serum]).await;
    let buyer = app.register(Role::Viewer, "Buyer", None).await;
    let first = buy(&app, room, &buyer, &[(serum, 1)], "p-1", TestCards::SUCCEEDS).await.unwrap();
    let mut second = buy(&app, room, &buyer, &[(serum, 2)], "p-2", TestCards::SUCCEEDS).await.unwrap();
    while second.created_at == first.created_at {
        // Two orders in one millisecond: place another, a moment later.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        second =
            buy(&app, room, &buyer, &[(serum, 2)], &format!("p-{}", rand_key()), TestCards::SUCCEEDS).await.unwrap();
    }
    let split = second.created_at.0;
    let orders = |q: String| {
        let app = &app;
        let token = host.token.clone();
        async move {
            let r: RoomReport = report(app, routes::ROOM_REPORT, room.get(), &token, &q).await;
            (r.figures.orders, r.figures.units, r.basis.from, r.basis.to)
        }
    };
    let all = orders(String::new()).await;
    assert!(all.0 >= 2);
    assert_eq!(orders(format!("?to={split}")).await, (all.0 - 1, all.1 - 2, None, Some(UnixMs(split))));
    assert_eq!(orders(format!("?from={split}")).await.0, 1);
    assert_eq!(orders(format!("?from={split}&to={}", split + 1)).await.0, 1);
    assert_eq!(orders(format!("?to={}", first.created_at.0)).await.0, 0);

    let room_url = path(routes::ROOM_REPORT, &[room.get()]);
    for bad in ["?from=10&to=10", "?from=-1", "?to=abc", "?bogus=1", "?currency=eur", "?format=xml", "?sort=aov"] {
        let (status, _, body) = get_raw(&app, &format!("{room_url}{bad}"), Some(&host.token)).await;
        assert_eq!(status, 400, "{bad}: {body}");
        let error: Value = serde_json::from_str(&body).expect("our error body");
        assert_eq!(error["error"]["code"], "invalid_input", "{bad}");
    }
    let usd: RoomReport = report(&app, routes::ROOM_REPORT, room.get(), &host.token, "?currency=USD").await;
    assert_eq!((usd.basis.currency.as_str(), usd.figures.orders), ("USD", 0));
    assert_eq!(usd.basis.other_currencies.iter().map(|c| c.as_str()).collect::<Vec<_>>(), ["EUR"]);
}

fn rand_key() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

// ---------------------------------------------------------------------------------------
// Campaigns
// ---------------------------------------------------------------------------------------

async fn new_campaign(app: &TestApp, brand: &Brand, body: Value) -> CampaignView {
    app.post(routes::CAMPAIGNS, Some(brand.token()), &body).await
}

async fn send(app: &TestApp, method: reqwest::Method, route: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let (status, body) = app.send(method, route, Some(token), body.as_ref()).await;
    (status.as_u16(), body)
}

#[tokio::test]
async fn a_brand_creates_lists_reads_and_changes_its_campaigns() {
    let app = TestApp::spawn().await;
    let glow = brand(&app, "Campaign Glow").await;
    let rival = brand(&app, "Campaign Rival").await;
    let maya = creator(&app, "Maya").await;
    let noor = creator(&app, "Noor").await;
    let serum = product(&app, &glow, "Serum", 1_000, 10).await;
    let oil = product(&app, &rival, "Oil", 1_000, 10).await;
    let maya_serum = agree(&app, &glow, maya.account.id, serum, 1_000, 0).await;
    let noor_serum = agree(&app, &glow, noor.account.id, serum, 1_000, 0).await;
    let rival_deal = agree(&app, &rival, maya.account.id, oil, 1_000, 0).await;
    let maya_room = scheduled_room(&app, &maya, &[serum]).await;
    let noor_room = scheduled_room(&app, &noor, &[serum]).await;

    let body = json!({
        "name": "Spring glow",
        "budget": {"amount": 50_000, "currency": "EUR"},
        "flat_fee": {"amount": 1_500, "currency": "EUR"},
        "agreement_ids": [maya_serum, maya_serum],
        "room_ids": [maya_room],
    });
    let created = new_campaign(&app, &glow, body).await;
    assert_eq!(
        (created.name.as_str(), created.brand_id, created.budget.amount, created.flat_fee.amount),
        ("Spring glow", glow.id, 50_000, 1_500)
    );
    assert_eq!(
        created.agreement_ids.iter().map(|a| a.get()).collect::<Vec<_>>(),
        [maya_serum],
        "duplicates count once"
    );
    assert_eq!(created.room_ids, [maya_room]);
    let url = path(routes::CAMPAIGN, &[created.id.get()]);

    let listed: Vec<CampaignView> = app.get(routes::CAMPAIGNS, Some(glow.token())).await;
    assert_eq!(listed, std::slice::from_ref(&created));
    let theirs: Vec<CampaignView> = app.get(routes::CAMPAIGNS, Some(rival.token())).await;
    assert!(theirs.is_empty());
    let read: CampaignView = app.get(&url, Some(glow.token())).await;
    assert_eq!(read, created);

    // Changes: whole lists; a room needs its host's agreement in the campaign.
    let patch = json!({"agreement_ids": [maya_serum, noor_serum], "room_ids": [maya_room, noor_room], "name": "Spring glow II"});
    let (s, changed) = send(&app, reqwest::Method::PATCH, &url, glow.token(), Some(patch)).await;
    assert_eq!(s, 200, "{changed}");
    let changed: CampaignView = serde_json::from_value(changed).unwrap();
    assert_eq!((changed.name.as_str(), changed.room_ids.len(), changed.agreement_ids.len()), ("Spring glow II", 2, 2));
    let (s, body) =
        send(&app, reqwest::Method::PATCH, &url, glow.token(), Some(json!({"agreement_ids": [maya_serum]}))).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (400, Some("invalid_input")),
        "Noor's room would lose its agreement: {body}"
    );
    let unchanged: CampaignView = app.get(&url, Some(glow.token())).await;
    assert_eq!(unchanged, changed, "a refused change changes nothing");

    // Refused: another brand's agreement, a room of a creator not in it, mixed currencies,
    // too many agreements, unknown fields; wrong roles.
    let refused = [
        json!({"name": "X", "budget": {"amount": 1, "currency": "EUR"}, "agreement_ids": [rival_deal]}),
        json!({"name": "X", "budget": {"amount": 1, "currency": "EUR"}, "agreement_ids": [maya_serum], "room_ids": [noor_room]}),
        json!({"name": "X", "budget": {"amount": 1, "currency": "EUR"}, "flat_fee": {"amount": 1, "currency": "USD"}}),
        json!({"name": "X", "budget": {"amount": -1, "currency": "EUR"}}),
        json!({"name": "", "budget": {"amount": 1, "currency": "EUR"}}),
        json!({"name": "X", "budget": {"amount": 1, "currency": "EUR"}, "agreement_ids": (1..=101).collect::<Vec<i64>>()}),
        json!({"name": "X", "budget": {"amount": 1, "currency": "EUR"}, "owner": 1}),
    ];
    for body in refused {
        let (s, answer) = send(&app, reqwest::Method::POST, routes::CAMPAIGNS, glow.token(), Some(body.clone())).await;
        assert_eq!((s, answer["error"]["code"].as_str()), (400, Some("invalid_input")), "{body}: {answer}");
    }
    let listed: Vec<CampaignView> = app.get(routes::CAMPAIGNS, Some(glow.token())).await;
    assert_eq!(listed.len(), 1, "nothing refused was written");
    let body = json!({"name": "X", "budget": {"amount": 1, "currency": "EUR"}});
    assert_eq!(send(&app, reqwest::Method::POST, routes::CAMPAIGNS, &maya.token, Some(body)).await.0, 403);
    assert_eq!(send(&app, reqwest::Method::GET, &url, rival.token(), None).await.0, 404);
    assert_eq!(send(&app, reqwest::Method::GET, &url, &maya.token, None).await.0, 404);
    assert_eq!(send(&app, reqwest::Method::PATCH, &url, rival.token(), Some(json!({"name": "Mine"}))).await.0, 404);
    assert_eq!(send(&app, reqwest::Method::GET, &path(routes::CAMPAIGN, &[999_999]), glow.token(), None).await.0, 404);
    let admin = app.admin("Admin").await;
    assert_eq!(send(&app, reqwest::Method::GET, &url, &admin.token, None).await.0, 200);
    let all: Vec<CampaignView> = app.get(routes::CAMPAIGNS, Some(&admin.token)).await;
    assert_eq!(all.len(), 1);
    assert_eq!(send(&app, reqwest::Method::GET, routes::CAMPAIGNS, &maya.token, None).await.0, 403);
}

#[tokio::test]
async fn a_campaign_report_compares_its_creators_with_cost_and_roi() {
    let app = TestApp::spawn().await;
    let admin = app.admin("Admin").await;
    let glow = brand(&app, "Campaign Report").await;
    let serum = product(&app, &glow, "Serum", 2_000, 100).await;
    let nano = creator(&app, "Nano").await;
    let micro = creator(&app, "Micro").await;
    let mid = creator(&app, "Mid").await;
    set_followers(&app, &admin, nano.account.id, 5_000).await;
    set_followers(&app, &admin, micro.account.id, 50_000).await;
    set_followers(&app, &admin, mid.account.id, 150_000).await;
    let deals = [
        agree(&app, &glow, nano.account.id, serum, 1_000, 0).await,
        agree(&app, &glow, micro.account.id, serum, 2_000, 0).await,
        agree(&app, &glow, mid.account.id, serum, 1_000, 0).await,
    ];
    let nano_room = live_room(&app, &nano, &[serum]).await;
    let nano_other = live_room(&app, &nano, &[serum]).await;
    let micro_room = live_room(&app, &micro, &[serum]).await;
    let mid_room = scheduled_room(&app, &mid, &[serum]).await;
    let campaign = new_campaign(
        &app,
        &glow,
        json!({"name": "Side by side", "budget": {"amount": 100_000, "currency": "EUR"},
               "flat_fee": {"amount": 500, "currency": "EUR"}, "agreement_ids": deals,
               "room_ids": [nano_room, micro_room, mid_room]}),
    )
    .await;

    let ana = app.register(Role::Viewer, "Ana", None).await;
    let ben = app.register(Role::Viewer, "Ben", None).await;
    let cy = app.register(Role::Viewer, "Cy", None).await;
    // Ben bought from the brand before, in a room outside the campaign: not a new buyer.
    buy(&app, nano_other, &ben, &[(serum, 1)], "c-0", TestCards::SUCCEEDS).await.unwrap();
    let big = buy(&app, nano_room, &ana, &[(serum, 3)], "c-1", TestCards::SUCCEEDS).await.unwrap();
    buy(&app, nano_room, &ben, &[(serum, 1)], "c-2", TestCards::SUCCEEDS).await.unwrap();
    buy(&app, micro_room, &cy, &[(serum, 3)], "c-3", TestCards::SUCCEEDS).await.unwrap();
    refund(&app, &glow, &big, serum, 1).await;

    let id = campaign.id.get();
    let r: CampaignReport = report(&app, routes::CAMPAIGN_REPORT, id, glow.token(), "").await;
    assert_eq!(r.basis.currency.as_str(), "EUR");
    assert_eq!(money(&r.figures), (14_000, 12_000, 2_000));
    assert_eq!((r.figures.orders, r.figures.buyers, r.figures.new_buyers), (3, 3, 2));
    // Commission 600 + 200 + 1,200, less 200 reversed; two creators went live: 1,000 in fees.
    assert_eq!(r.figures.commission.net.amount, 1_800);
    assert_eq!((r.cost.flat_fees.amount, r.cost.cost.amount), (1_000, 2_800));
    assert_eq!(r.cost.roi, livecart::wire::report::Rate::new(9_200, 2_800));
    assert_eq!(r.cost.roi.value.as_deref(), Some("3.2857"));
    assert_eq!(r.cost.cost_per_new_buyer.map(|m| m.amount), Some(1_400));
    assert_eq!(r.budget_left.amount, 97_200);
    assert_eq!(r.sort, CreatorSort::NetGmv);

    let row = |r: &CampaignReport, who: &SessionResponse| {
        r.creators.iter().find(|c| c.creator.id == who.account.id).cloned().expect("a row per creator")
    };
    let n = row(&r, &nano);
    assert_eq!(
        (n.rooms, n.figures.gmv.amount, n.figures.net_gmv.amount, n.figures.aov.amount),
        (1, 8_000, 6_000, 4_000)
    );
    assert_eq!((n.figures.buyers, n.figures.new_buyers, n.cost.cost.amount), (2, 1, 1_100));
    assert_eq!(n.cost.roi.value.as_deref(), Some("4.4545"));
    assert_eq!(n.creator.tier, livecart::domain::Tier::Nano);
    let m = row(&r, &micro);
    assert_eq!((m.figures.gmv.amount, m.figures.aov.amount, m.cost.cost.amount), (6_000, 6_000, 1_700));
    assert_eq!(m.creator.tier, livecart::domain::Tier::Micro);
    let d = row(&r, &mid);
    assert_eq!((d.rooms, d.figures.gmv.amount, d.cost.flat_fees.amount, d.cost.roi.value.clone()), (0, 0, 0, None));
    assert_eq!(d.creator.tier, livecart::domain::Tier::Mid);
    let costs: i64 = r.creators.iter().map(|c| c.cost.cost.amount).sum();
    assert_eq!(costs, r.cost.cost.amount, "the rows' costs add up to the campaign's");

    let order = |r: &CampaignReport| r.creators.iter().map(|c| c.creator.id).collect::<Vec<_>>();
    let (nano_id, micro_id, mid_id) = (nano.account.id, micro.account.id, mid.account.id);
    assert_eq!(order(&r), [nano_id, micro_id, mid_id], "net GMV ties go by id");
    let by_aov: CampaignReport = report(&app, routes::CAMPAIGN_REPORT, id, glow.token(), "?sort=aov").await;
    assert_eq!(order(&by_aov), [micro_id, nano_id, mid_id]);
    let by_roi: CampaignReport = report(&app, routes::CAMPAIGN_REPORT, id, glow.token(), "?sort=roi").await;
    assert_eq!(order(&by_roi), [nano_id, micro_id, mid_id], "no ROI goes last");
    for sort in ["conversion_rate", "sales_velocity"] {
        let sorted: CampaignReport =
            report(&app, routes::CAMPAIGN_REPORT, id, glow.token(), &format!("?sort={sort}")).await;
        assert_eq!(sorted.creators.len(), 3, "{sort}");
    }

    let tiers: Vec<_> =
        r.tiers.iter().map(|t| (t.tier, t.creators, t.figures.gmv.amount, t.cost.cost.amount)).collect();
    use livecart::domain::Tier;
    assert_eq!(tiers, [(Tier::Nano, 1, 8_000, 1_100), (Tier::Micro, 1, 6_000, 1_700), (Tier::Mid, 1, 0, 0)]);
    let micro_only: CampaignReport = report(&app, routes::CAMPAIGN_REPORT, id, glow.token(), "?tier=micro").await;
    assert_eq!(order(&micro_only), [micro_id]);
    assert_eq!(micro_only.tiers.iter().map(|t| t.tier).collect::<Vec<_>>(), [Tier::Micro]);
    assert_eq!((micro_only.tier, micro_only.figures.gmv.amount), (Some(Tier::Micro), 14_000), "totals stay whole");

    // A period before the sales: nothing sold, no fees (no room went live in it).
    let early: CampaignReport = report(&app, routes::CAMPAIGN_REPORT, id, glow.token(), "?to=1").await;
    assert_eq!((early.figures.orders, early.cost.cost.amount, early.cost.roi.value.clone()), (0, 0, None));
    // A campaign counts in its own currency unless asked for another.
    let in_usd = new_campaign(
        &app,
        &glow,
        json!({"name": "In dollars", "budget": {"amount": 100_000, "currency": "USD"}, "flat_fee": {"amount": 500, "currency": "USD"},
               "agreement_ids": deals, "room_ids": [nano_room, micro_room]}),
    )
    .await;
    let usd: CampaignReport = report(&app, routes::CAMPAIGN_REPORT, in_usd.id.get(), glow.token(), "").await;
    assert_eq!((usd.basis.currency.as_str(), usd.figures.orders, usd.cost.flat_fees.amount), ("USD", 0, 1_000));
    assert_eq!(usd.basis.other_currencies.iter().map(|c| c.as_str()).collect::<Vec<_>>(), ["EUR"]);
    let eur: CampaignReport =
        report(&app, routes::CAMPAIGN_REPORT, in_usd.id.get(), glow.token(), "?currency=EUR").await;
    assert_eq!(
        (eur.figures.orders, eur.cost.flat_fees.amount, eur.budget_left.amount),
        (3, 0, 100_000),
        "no fees in another currency"
    );

    // Only the brand and admins; the campaign's own creators neither.
    let campaign_url = path(routes::CAMPAIGN_REPORT, &[id]);
    for (token, expected) in [(nano.token.as_str(), 404), (admin.token.as_str(), 200)] {
        assert_eq!(get_raw(&app, &campaign_url, Some(token)).await.0, expected);
    }
    assert_eq!(get_raw(&app, &format!("{campaign_url}?sort=fastest"), Some(glow.token())).await.0, 400);
    assert_eq!(get_raw(&app, &format!("{campaign_url}?tier=giga"), Some(glow.token())).await.0, 400);
}
