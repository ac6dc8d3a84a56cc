//! Reports as CSV (RFC 4180: comma-separated, CRLF line ends, a header row): the totals
//! first, then one row per product, room, creator or tier. Money is in minor units, in the
//! `currency` column; a rate is its rounded value (empty when it has none). A figure that
//! does not apply to a row (the audience of a product) is empty.
//!
//! Written by hand rather than with the `csv` crate: the cells are numbers and a few
//! names, and the one thing a library would add, quoting, is a few lines here, next to the
//! one thing it would not do: a name that starts like a formula (`=`, `+`, `-`, `@`) is
//! prefixed with `'`, so a spreadsheet shows it instead of running it.

use crate::domain::Currency;
use crate::wire::report::{
    BrandReport, CampaignReport, CostFigures, CreatorReport, Figures, ProductFigures, Rate, RoomReport,
};
use std::collections::HashMap;

/// The columns after `row`, `id`, `name`, `tier` and `currency`, in order.
const FIGURES: &[&str] = &[
    "gmv",
    "net_gmv",
    "refunded",
    "discount",
    "orders",
    "units",
    "aov",
    "buyers",
    "new_buyers",
    "repeat_buyers",
    "repeat_buyer_rate",
    "promo_redemptions",
    "unique_viewers",
    "peak_viewers",
    "watch_ms",
    "average_watch_ms",
    "comments",
    "reactions",
    "conversion_rate",
    "engagement_rate",
    "engagement_per_viewer_minute",
    "pin_impressions",
    "product_views",
    "click_through_rate",
    "cart_adders",
    "cart_add_rate",
    "checkouts_started",
    "checkouts_paid",
    "checkout_success_rate",
    "pinned_ms",
    "orders_while_pinned",
    "sales_velocity",
    "drops",
    "drop_units",
    "drop_ms",
    "drop_velocity",
    "drops_sold_out",
    "sell_out_ms",
    "commission_accrued",
    "commission_reversed",
    "commission_settled",
    "commission_owed",
    "commission_net",
];

const COST: &[&str] = &["flat_fees", "cost", "roi", "cost_per_new_buyer"];

type Cells = HashMap<&'static str, String>;

fn rate(r: &Rate) -> String {
    r.value.clone().unwrap_or_default()
}

fn figure_cells(f: &Figures) -> Cells {
    let c = &f.commission;
    HashMap::from([
        ("gmv", f.gmv.amount.to_string()),
        ("net_gmv", f.net_gmv.amount.to_string()),
        ("refunded", f.refunded.amount.to_string()),
        ("discount", f.discount.amount.to_string()),
        ("orders", f.orders.to_string()),
        ("units", f.units.to_string()),
        ("aov", f.aov.amount.to_string()),
        ("buyers", f.buyers.to_string()),
        ("new_buyers", f.new_buyers.to_string()),
        ("repeat_buyers", f.repeat_buyers.to_string()),
        ("repeat_buyer_rate", rate(&f.repeat_buyer_rate)),
        ("promo_redemptions", f.promo_redemptions.to_string()),
        ("unique_viewers", f.unique_viewers.to_string()),
        ("peak_viewers", f.peak_viewers.to_string()),
        ("watch_ms", f.watch_ms.to_string()),
        ("average_watch_ms", f.average_watch_ms.to_string()),
        ("comments", f.comments.to_string()),
        ("reactions", f.reactions.to_string()),
        ("conversion_rate", rate(&f.conversion_rate)),
        ("engagement_rate", rate(&f.engagement_rate)),
        ("engagement_per_viewer_minute", rate(&f.engagement_per_viewer_minute)),
        ("pin_impressions", f.pin_impressions.to_string()),
        ("product_views", f.product_views.to_string()),
        ("click_through_rate", rate(&f.click_through_rate)),
        ("cart_adders", f.cart_adders.to_string()),
        ("cart_add_rate", rate(&f.cart_add_rate)),
        ("checkouts_started", f.checkouts_started.to_string()),
        ("checkouts_paid", f.checkouts_paid.to_string()),
        ("checkout_success_rate", rate(&f.checkout_success_rate)),
        ("pinned_ms", f.pinned_ms.to_string()),
        ("orders_while_pinned", f.orders_while_pinned.to_string()),
        ("sales_velocity", rate(&f.sales_velocity)),
        ("drops", f.drops.to_string()),
        ("drop_units", f.drop_units.to_string()),
        ("drop_ms", f.drop_ms.to_string()),
        ("drop_velocity", rate(&f.drop_velocity)),
        ("drops_sold_out", f.drops_sold_out.to_string()),
        ("sell_out_ms", f.sell_out_ms.map(|v| v.to_string()).unwrap_or_default()),
        ("commission_accrued", c.accrued.amount.to_string()),
        ("commission_reversed", c.reversed.amount.to_string()),
        ("commission_settled", c.settled.amount.to_string()),
        ("commission_owed", c.owed.amount.to_string()),
        ("commission_net", c.net.amount.to_string()),
    ])
}

fn product_cells(p: &ProductFigures) -> Cells {
    let c = &p.commission;
    HashMap::from([
        ("gmv", p.gmv.amount.to_string()),
        ("net_gmv", p.net_gmv.amount.to_string()),
        ("refunded", p.refunded.amount.to_string()),
        ("discount", p.discount.amount.to_string()),
        ("orders", p.orders.to_string()),
        ("units", p.units.to_string()),
        ("aov", p.aov.amount.to_string()),
        ("buyers", p.buyers.to_string()),
        ("pin_impressions", p.pin_impressions.to_string()),
        ("product_views", p.product_views.to_string()),
        ("click_through_rate", rate(&p.click_through_rate)),
        ("cart_adders", p.cart_adders.to_string()),
        ("pinned_ms", p.pinned_ms.to_string()),
        ("orders_while_pinned", p.orders_while_pinned.to_string()),
        ("sales_velocity", rate(&p.sales_velocity)),
        ("drop_units", p.drop_units.to_string()),
        ("drop_velocity", rate(&p.drop_velocity)),
        ("commission_accrued", c.accrued.amount.to_string()),
        ("commission_reversed", c.reversed.amount.to_string()),
        ("commission_settled", c.settled.amount.to_string()),
        ("commission_owed", c.owed.amount.to_string()),
        ("commission_net", c.net.amount.to_string()),
    ])
}

fn cost_cells(c: &CostFigures, cells: &mut Cells) {
    cells.insert("flat_fees", c.flat_fees.amount.to_string());
    cells.insert("cost", c.cost.amount.to_string());
    cells.insert("roi", rate(&c.roi));
    cells.insert("cost_per_new_buyer", c.cost_per_new_buyer.map(|m| m.amount.to_string()).unwrap_or_default());
}

/// One cell of text: quoted when it holds a separator, a quote or a line end; a leading
/// formula character is defused with `'`.
pub fn text_cell(raw: &str) -> String {
    let defused = match raw.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{raw}"),
        _ => raw.to_owned(),
    };
    if defused.contains([',', '"', '\r', '\n']) { format!("\"{}\"", defused.replace('"', "\"\"")) } else { defused }
}

/// A table being written: its header, then rows.
struct Table {
    out: String,
    columns: Vec<&'static str>,
    currency: Currency,
}

impl Table {
    fn new(cost: bool, currency: Currency) -> Table {
        let mut columns = vec!["row", "id", "name", "tier", "currency"];
        columns.extend_from_slice(FIGURES);
        if cost {
            columns.extend_from_slice(COST);
        }
        let mut out = columns.join(",");
        out.push_str("\r\n");
        Table { out, columns, currency }
    }

    fn row(&mut self, kind: &str, id: Option<i64>, name: &str, tier: Option<&str>, mut cells: Cells) {
        cells.insert("row", kind.to_owned());
        cells.insert("id", id.map(|i| i.to_string()).unwrap_or_default());
        cells.insert("name", text_cell(name));
        cells.insert("tier", tier.unwrap_or_default().to_owned());
        cells.insert("currency", self.currency.to_string());
        let line: Vec<String> = self.columns.iter().map(|c| cells.remove(c).unwrap_or_default()).collect();
        self.out.push_str(&line.join(","));
        self.out.push_str("\r\n");
    }
}

pub fn room(r: &RoomReport) -> String {
    let mut t = Table::new(false, r.basis.currency);
    t.row("total", Some(r.room.id.get()), &r.room.title, None, figure_cells(&r.figures));
    for p in &r.products {
        t.row("product", Some(p.product_id.get()), &p.title, None, product_cells(p));
    }
    t.out
}

pub fn creator(r: &CreatorReport) -> String {
    let mut t = Table::new(false, r.basis.currency);
    let tier = Some(r.creator.tier.as_str());
    t.row("total", Some(r.creator.id.get()), &r.creator.display_name, tier, figure_cells(&r.figures));
    for room in &r.rooms {
        t.row("room", Some(room.room.id.get()), &room.room.title, None, figure_cells(&room.figures));
    }
    t.out
}

pub fn brand(r: &BrandReport) -> String {
    let mut t = Table::new(false, r.basis.currency);
    t.row("total", Some(r.brand.id.get()), &r.brand.name, None, figure_cells(&r.figures));
    for p in &r.products {
        t.row("product", Some(p.product_id.get()), &p.title, None, product_cells(p));
    }
    t.out
}

pub fn campaign(r: &CampaignReport) -> String {
    let mut t = Table::new(true, r.basis.currency);
    let mut cells = figure_cells(&r.figures);
    cost_cells(&r.cost, &mut cells);
    t.row("total", Some(r.campaign.id.get()), &r.campaign.name, None, cells);
    for c in &r.creators {
        let mut cells = figure_cells(&c.figures);
        cost_cells(&c.cost, &mut cells);
        t.row("creator", Some(c.creator.id.get()), &c.creator.display_name, Some(c.creator.tier.as_str()), cells);
    }
    for tier in &r.tiers {
        let mut cells = figure_cells(&tier.figures);
        cost_cells(&tier.cost, &mut cells);
        t.row("tier", None, tier.tier.as_str(), Some(tier.tier.as_str()), cells);
    }
    t.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_quoted_when_it_must_be_and_formulas_are_defused() {
        assert_eq!(text_cell("Glow Labs"), "Glow Labs");
        assert_eq!(text_cell("Serum, 30 ml"), "\"Serum, 30 ml\"");
        assert_eq!(text_cell("The \"best\" balm"), "\"The \"\"best\"\" balm\"");
        assert_eq!(text_cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(text_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(text_cell("-5"), "'-5");
        assert_eq!(text_cell("@me"), "'@me");
    }

    #[test]
    fn every_figure_and_product_cell_has_a_column() {
        let f = crate::analytics::report::figures(&Default::default(), Currency::try_from("EUR").unwrap());
        for name in figure_cells(&f).keys() {
            assert!(FIGURES.contains(name), "{name} has no column");
        }
        assert_eq!(figure_cells(&f).len(), FIGURES.len());
        let p = crate::analytics::report::product_figures(
            crate::domain::ProductId::try_from(1).unwrap(),
            String::new(),
            &Default::default(),
            Currency::try_from("EUR").unwrap(),
        );
        for name in product_cells(&p).keys() {
            assert!(FIGURES.contains(name), "{name} has no column");
        }
    }
}
