// Reports (docs/metrics.md) as the creator studio and the brand dashboard show them: money
// from integer minor units in its own currency, rates from their exact `value` with the
// fraction on hover, durations, the figure groups of a room report, its per-product
// table, small SVG bar charts (no chart library; each with a text alternative), and CSV
// downloads through a Blob (a plain link cannot carry the session's Authorization header).

import { h, money } from './common.js';

/** @typedef {import('../sdk/api.js').Rate} Rate */
/** @typedef {import('../sdk/api.js').Figures} Figures */
/** @typedef {import('../sdk/api.js').RoomReport} RoomReport */
/** @typedef {import('../sdk/api.js').ProductFigures} ProductFigures */
/** @typedef {import('../sdk/api.js').ReportScope} ReportScope */
/** @typedef {import('../sdk/api.js').ReportQuery} ReportQuery */

const integer = new Intl.NumberFormat();

/** A count with grouping: 12,345. */
export const count = (n) => (n == null ? '—' : integer.format(n));

/**
 * How a rate reads:
 * - percent: a share (conversion, click-through, ROI …): "7.50 %", exactly `value` × 100
 * - per_minute: orders or units per minute: "2.00 / min"
 * - per_viewer: comments and reactions per viewer: "1.50 per viewer"
 * - times: this show ÷ the usual: "1.20 ×"
 * @typedef {'percent' | 'per_minute' | 'per_viewer' | 'times'} RateKind
 */

/**
 * `value` (4 decimals) times 100 with 2 decimals, by moving the point: no float, no
 * second rounding. "0.0750" → "7.50", "-0.0001" → "-0.01".
 * @param {string} value
 */
function percentOf(value) {
  const negative = value.startsWith('-');
  const [whole, fraction = ''] = value.replace('-', '').split('.');
  const scaled = BigInt(whole + fraction.padEnd(4, '0').slice(0, 4)); // value × 10⁴
  const text = `${integer.format(scaled / 100n)}.${String(scaled % 100n).padStart(2, '0')}`;
  return negative && scaled !== 0n ? `-${text}` : text;
}

/** "2.0000" → "2.00", "0.0750" → "0.075": trailing zeros go, at least two decimals stay. */
function trimmed(value) {
  return value.replace(/(\.\d\d\d*?)0+$/, '$1');
}

/** The text of a rate; "—" when there is nothing to divide by. */
export function rateText(rate, kind = 'percent') {
  if (!rate || rate.value == null) return '—';
  switch (kind) {
    case 'percent': return `${percentOf(rate.value)} %`;
    case 'per_minute': return `${trimmed(rate.value)} / min`;
    case 'per_viewer': return `${trimmed(rate.value)} per viewer`;
    case 'times': return `${trimmed(rate.value)} ×`;
    default: return trimmed(rate.value);
  }
}

/** What the hover of a rate says: the exact fraction it is. */
export function rateTitle(rate) {
  if (!rate) return '';
  const fraction = `${count(rate.numerator)} ÷ ${count(rate.denominator)}`;
  return rate.value == null ? `no value: ${fraction} (nothing to divide by)` : `${rate.value} = ${fraction}`;
}

/** A rate as an element: the text, with the fraction as its title and data attributes. */
export function rate(value, kind = 'percent') {
  return h('span', {
    class: 'rate',
    title: rateTitle(value),
    'data-value': value?.value ?? '',
    'data-numerator': value?.numerator,
    'data-denominator': value?.denominator,
  }, rateText(value, kind));
}

/** "1 h 02 min", "3 min 05 s", "45 s" from milliseconds; "—" for null. */
export function duration(ms) {
  if (ms == null) return '—';
  const seconds = Math.floor(ms / 1000);
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  if (hours) return `${hours} h ${String(minutes).padStart(2, '0')} min`;
  if (minutes) return `${minutes} min ${String(seconds % 60).padStart(2, '0')} s`;
  return `${seconds} s`;
}

/** A figure tile like the pages' other `.stat`s; `name` is its JSON name (data-figure). */
export function tile(label, value, name, title) {
  return h('div', { class: 'stat', 'data-figure': name, title }, label, h('b', {}, value));
}

/** Commission of a scope: net (accrued − reversed), the ledger's parts on hover. */
export function commissionTitle(c) {
  return `accrued ${money(c.accrued)}, reversed ${money(c.reversed)}, settled ${money(c.settled)}, still owed ${money(c.owed)}`;
}

/**
 * The figure groups of a report scope: sales, audience, conversion and engagement,
 * velocity and drops, commission.
 * @param {Figures} f
 */
export function figureGroups(f) {
  const group = (title, ...tiles) => h('section', { class: 'figures' }, h('h4', {}, title), h('div', { class: 'stats' }, tiles));
  return [
    group('Sales',
      tile('GMV', money(f.gmv), 'gmv', 'Σ paid line totals, after promo discounts, before refunds'),
      tile('Net GMV', money(f.net_gmv), 'net_gmv', 'GMV − refunds'),
      tile('Refunded', money(f.refunded), 'refunded'),
      tile('Promo discounts', money(f.discount), 'discount'),
      tile('Orders', count(f.orders), 'orders'),
      tile('Units', count(f.units), 'units'),
      tile('Average order', money(f.aov), 'aov', 'GMV ÷ orders, rounded down'),
      tile('Buyers', count(f.buyers), 'buyers'),
      tile('New buyers', count(f.new_buyers), 'new_buyers', 'first paid order with the brand'),
      tile('Repeat buyers', rate(f.repeat_buyer_rate), 'repeat_buyer_rate', `${count(f.repeat_buyers)} bought twice or more`),
      tile('Promo redemptions', count(f.promo_redemptions), 'promo_redemptions')),
    group('Audience',
      tile('Unique viewers', count(f.unique_viewers), 'unique_viewers'),
      tile('Peak viewers', count(f.peak_viewers), 'peak_viewers'),
      tile('Average watch', duration(f.average_watch_ms), 'average_watch_ms'),
      tile('Comments', count(f.comments), 'comments'),
      tile('Reactions', count(f.reactions), 'reactions')),
    group('Conversion and engagement',
      tile('Conversion', rate(f.conversion_rate), 'conversion_rate', 'buyers ÷ unique viewers'),
      tile('Engagement', rate(f.engagement_rate, 'per_viewer'), 'engagement_rate', '(comments + reactions) ÷ unique viewers'),
      tile('Per viewer-minute', rate(f.engagement_per_viewer_minute, 'per_minute'), 'engagement_per_viewer_minute', '(comments + reactions) per minute watched'),
      tile('Pin impressions', count(f.pin_impressions), 'pin_impressions'),
      tile('Product views', count(f.product_views), 'product_views'),
      tile('Click-through', rate(f.click_through_rate), 'click_through_rate', 'product views ÷ pin impressions'),
      tile('Cart-add rate', rate(f.cart_add_rate), 'cart_add_rate', `${count(f.cart_adders)} viewers added to a cart`),
      tile('Checkout success', rate(f.checkout_success_rate), 'checkout_success_rate', `${count(f.checkouts_paid)} paid of ${count(f.checkouts_started)} started`)),
    group('Velocity and drops',
      tile('Sales velocity', rate(f.sales_velocity, 'per_minute'), 'sales_velocity', `orders per minute pinned: ${count(f.orders_while_pinned)} orders in ${duration(f.pinned_ms)} pinned`),
      tile('Pinned', duration(f.pinned_ms), 'pinned_ms'),
      tile('Drops', count(f.drops), 'drops', `${count(f.drops_sold_out)} sold out`),
      tile('Drop units', count(f.drop_units), 'drop_units'),
      tile('Drop velocity', rate(f.drop_velocity, 'per_minute'), 'drop_velocity', 'units per minute of drop'),
      tile('Sell-out time', duration(f.sell_out_ms), 'sell_out_ms', 'mean time from a drop\'s start to its last unit')),
    group('Commission',
      tile('Earned (net)', money(f.commission.net), 'commission_net', commissionTitle(f.commission)),
      tile('Accrued', money(f.commission.accrued), 'commission_accrued'),
      tile('Reversed', money(f.commission.reversed), 'commission_reversed'),
      tile('Settled', money(f.commission.settled), 'commission_settled'),
      tile('Owed', money(f.commission.owed), 'commission_owed')),
  ];
}

/** The uplift of a room or creator report, in words and figures; a note when there is none. */
export function upliftBlock(uplift) {
  if (!uplift) return h('p', { class: 'muted', 'data-figure': 'uplift' }, 'No earlier shows to compare with yet: the uplift against the usual appears from the second show.');
  const shows = uplift.baseline_rooms.length;
  return h('section', { class: 'figures', 'data-figure': 'uplift' },
    h('h4', {}, `Against the usual (the last ${shows} show${shows === 1 ? '' : 's'})`),
    h('div', { class: 'stats' },
      tile('Velocity vs usual', rate(uplift.sales_velocity, 'times'), 'uplift_sales_velocity', '1.00 × is as usual'),
      tile('Usual velocity', rate(uplift.baseline_sales_velocity, 'per_minute'), 'baseline_sales_velocity'),
      tile('Conversion vs usual', rate(uplift.conversion_rate, 'times'), 'uplift_conversion_rate', '1.00 × is as usual'),
      tile('Usual conversion', rate(uplift.baseline_conversion_rate), 'baseline_conversion_rate')));
}

/** A wrapper that lets a wide table scroll, reachable and named for keyboard users. */
export function tableWrap(label, table) {
  return h('div', { class: 'table-wrap', role: 'region', 'aria-label': label, tabindex: 0 }, table);
}

/**
 * The per-product table of a room or brand report.
 * @param {ProductFigures[]} products
 * @param {string} caption
 */
export function productTable(products, caption = 'Per product') {
  const head = ['Product', 'Units', 'Orders', 'GMV', 'Net GMV', 'Refunded', 'Buyers', 'Pin impressions', 'Views', 'Click-through', 'Cart adders', 'Pinned', 'Velocity', 'Drop units', 'Commission'];
  const rows = products.map((p) => h('tr', { 'data-product': p.product_id },
    h('th', { scope: 'row' }, p.title),
    h('td', { 'data-figure': 'units' }, count(p.units)),
    h('td', { 'data-figure': 'orders' }, count(p.orders)),
    h('td', { 'data-figure': 'gmv' }, money(p.gmv)),
    h('td', { 'data-figure': 'net_gmv' }, money(p.net_gmv)),
    h('td', {}, money(p.refunded)),
    h('td', {}, count(p.buyers)),
    h('td', {}, count(p.pin_impressions)),
    h('td', {}, count(p.product_views)),
    h('td', {}, rate(p.click_through_rate)),
    h('td', {}, count(p.cart_adders)),
    h('td', {}, duration(p.pinned_ms)),
    h('td', {}, rate(p.sales_velocity, 'per_minute')),
    h('td', {}, count(p.drop_units)),
    h('td', { title: commissionTitle(p.commission) }, money(p.commission.net))));
  if (!rows.length) rows.push(h('tr', {}, h('td', { colspan: head.length, class: 'muted' }, 'No products in this report.')));
  return tableWrap(caption, h('table', { class: 'figures-table' },
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, head.map((name) => h('th', { scope: 'col' }, name)))),
    h('tbody', {}, rows)));
}

/** The promo codes of a report (nothing when none was used). */
export function promoTable(codes, creatorName = (id) => `creator #${id}`) {
  if (!codes.length) return null;
  return tableWrap('Promo codes', h('table', {},
    h('caption', {}, 'Promo codes'),
    h('thead', {}, h('tr', {}, ['Code', 'Creator', 'Redemptions', 'GMV', 'Discount'].map((name) => h('th', { scope: 'col' }, name)))),
    h('tbody', {}, codes.map((c) => h('tr', {},
      h('th', { scope: 'row' }, c.code), h('td', {}, creatorName(c.creator_id)), h('td', {}, count(c.redemptions)),
      h('td', {}, money(c.gmv)), h('td', {}, money(c.discount)))))));
}

/** What the figures count: the period, the currency, whose products, when computed. */
export function basisLine(report) {
  const parts = [];
  parts.push(report.from || report.to
    ? `orders placed ${report.from ? `from ${new Date(report.from).toLocaleString()}` : ''} ${report.to ? `until ${new Date(report.to).toLocaleString()}` : ''}`.trim()
    : 'All time');
  parts.push(`money in ${report.currency}`);
  if (report.other_currencies?.length) parts.push(`also sold in ${report.other_currencies.join(', ')} (not counted here)`);
  if (report.brand_id != null) parts.push('your products only; audience figures are the whole room\'s');
  parts.push(`computed ${new Date(report.generated_at).toLocaleTimeString()}`);
  return h('p', { class: 'muted small' }, parts.join(' · '));
}

/**
 * A room report in full: what it counts, every figure group, the uplift, the products
 * and the promo codes.
 * @param {RoomReport} report
 */
export function roomReportView(report, { creatorName } = {}) {
  return [
    basisLine(report),
    ...figureGroups(report),
    upliftBlock(report.uplift),
    productTable(report.products, `Per product: ${report.room.title}`),
    promoTable(report.promo_codes, creatorName),
  ];
}

let chartIds = 0;

/**
 * A horizontal bar chart in inline SVG. The SVG is one image named by its title, with
 * every bar's figure in its description (and each bar's own <title> on hover); the same
 * figures are in a table next to it.
 * @param {{title: string, rows: {label: string, value: number | null, text: string}[]}} chart
 */
export function barChart({ title, rows }) {
  const id = `chart-${++chartIds}`;
  const width = 600;
  const labelWidth = 170;
  const valueWidth = 110;
  const rowHeight = 30;
  const height = Math.max(1, rows.length) * rowHeight + 8;
  const max = Math.max(0, ...rows.map((r) => r.value ?? 0));
  const ns = 'http://www.w3.org/2000/svg';
  const svg = (tag, attrs = {}, text) => {
    const element = document.createElementNS(ns, tag);
    for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, String(value));
    if (text != null) element.textContent = text;
    return element;
  };
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': `${id}-title ${id}-desc`, class: 'bar-chart', preserveAspectRatio: 'xMinYMin meet' });
  root.append(svg('title', { id: `${id}-title` }, title));
  root.append(svg('desc', { id: `${id}-desc` }, rows.length ? rows.map((r) => `${r.label}: ${r.text}`).join('; ') : 'no creators'));
  rows.forEach((r, i) => {
    const y = i * rowHeight + 4;
    const span = width - labelWidth - valueWidth;
    const barWidth = r.value && max > 0 ? Math.max(2, (r.value / max) * span) : 0;
    const g = svg('g', { 'data-label': r.label });
    g.append(svg('title', {}, `${r.label}: ${r.text}`));
    const name = r.label.length > 22 ? `${r.label.slice(0, 21)}…` : r.label;
    g.append(svg('text', { x: 0, y: y + rowHeight / 2 + 1, 'dominant-baseline': 'middle', class: 'bar-label' }, name));
    g.append(svg('rect', { x: labelWidth, y: y + 4, width: barWidth, height: rowHeight - 10, rx: 3, class: 'bar' }));
    g.append(svg('text', { x: labelWidth + barWidth + 6, y: y + rowHeight / 2 + 1, 'dominant-baseline': 'middle', class: 'bar-value' }, r.text));
    root.append(g);
  });
  return h('figure', { class: 'chart' }, h('figcaption', {}, h('strong', {}, title), h('span', { class: 'muted small' }, ' (the same figures are in the table)')), root);
}

/** A report's file name, as the server names it. */
export function csvName(scope, id) {
  return `${scope}-${id}-report.csv`;
}

/**
 * Fetches a report as CSV with the session's token and saves it through a Blob link.
 * Resolves to the CSV text.
 * @param {import('../sdk/api.js').Api} api signed in
 * @param {ReportScope} scope
 * @param {number} id
 * @param {ReportQuery} [query]
 */
export async function downloadCsv(api, scope, id, query = {}) {
  const text = await api.reportCsv(scope, id, query);
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
  const link = h('a', { href: url, download: csvName(scope, id), hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return text;
}

/** A "Download CSV" button for a report; `describe` names what it downloads for screen readers. */
export function csvButton(api, scope, id, query, describe, status) {
  const button = h('button', { type: 'button', class: 'secondary', 'aria-label': `Download CSV of ${describe}`, 'data-csv': `${scope}-${id}` }, 'Download CSV');
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await downloadCsv(api, scope, id, typeof query === 'function' ? query() : query);
      if (status) {
        status.dataset.state = 'ok';
        status.textContent = `Saved ${csvName(scope, id)}.`;
      }
    } catch (error) {
      if (status) {
        status.dataset.state = 'error';
        status.textContent = `Could not download the CSV: ${error.message}`;
      }
    } finally {
      button.disabled = false;
    }
  });
  return button;
}
