// Brand dashboard, in three panels (#sales, #campaigns, #reports):
// - Live sales: products and stock, agreements, the live sales feed (`follow_sales`,
//   through the client library's SalesFeed) and Chart.js charts of revenue and orders per
//   minute and per creator, updated live. History comes from GET /api/brands/{id}/orders;
//   the feed adds each `brand_sale`, and says when to read the history again (after a
//   reconnect, or when it fell behind).
// - Campaigns: list, create and edit (name, budget, flat fee, agreements, rooms); a
//   campaign's report with its creators side by side (sorted by the server's `sort`,
//   filtered by `tier`), SVG charts of conversion and sales velocity per creator, its tiers.
// - Show reports: the post-live report of every show lining up the brand's products.
// Reports are docs/metrics.md's; every one downloads as CSV.

import { api, bindRoleSignIn, formatMoney, h, livecart, loadSession, minorDigits, money, parseMajor, setState, signOut } from './common.js';
import { barChart, count, csvButton, rate, rateText, roomReportView, tableWrap, tile } from './report.js';

const $ = (id) => document.getElementById(id);
const Chart = window.Chart;
const WINDOW_MIN = 30;

let feed = null;
/** The signed-in client (REST calls with the session's token). */
let client = null;
// Sale lines keyed by `${order_id}:${product_id}`, so a line from HTTP and the feed counts once.
const lines = new Map();
const creatorNames = new Map();
let charts = null;

function session() {
  const s = loadSession();
  return s && s.account.role === 'brand' && s.account.brand_id ? s : null;
}

bindRoleSignIn('brand', () => start());

$('sign-out').addEventListener('click', async () => {
  feed?.close();
  await signOut();
  location.reload();
});

async function start() {
  const s = session();
  $('who').textContent = s ? `${s.account.display_name} (brand)` : '';
  $('sign-out').hidden = !s;
  $('view-signin').hidden = Boolean(s);
  $('view-dash').hidden = !s;
  if (!s) return;
  client = livecart();
  setupCharts();
  connectFeed();
  route();
  await Promise.all([loadProducts(), loadAgreements(), loadOrders()]);
}

// ---------- products and stock ----------

// Each product's row keeps the figure the brand last saw (`seen`: the server's `on_hand`
// when it sends one, else `stock`). A save sends it as `expected`, so a figure that moved
// since (a sale, another tab) is refused with 409 `conflict` instead of overwritten.
const stockRows = new Map(); // product id → { product, seen, input, row }
let stockTimer = null;

const onHand = (p) => (typeof p.on_hand === 'number' ? p.on_hand : p.stock);

async function loadProducts() {
  const s = session();
  const list = $('products');
  try {
    const products = await api('GET', `/api/brands/${s.account.brand_id}/products`, { token: s.token });
    const ids = new Set(products.map((p) => p.id));
    for (const id of [...stockRows.keys()]) if (!ids.has(id)) { stockRows.get(id).row.remove(); stockRows.delete(id); }
    list.querySelector('.error')?.remove();
    for (const p of products) {
      const known = stockRows.get(p.id);
      if (known) refreshRow(known, p);
      else list.append(stockRow(p));
    }
  } catch (error) {
    if (!stockRows.size) list.replaceChildren(h('li', { class: 'status error', 'data-state': 'error' }, error.message));
    else setState($('stock-status'), 'error', `Could not refresh the stock: ${error.message}`);
  }
}

/** A fresh figure for a row: shown at once unless the brand is editing it. */
function refreshRow(entry, product) {
  const fresh = onHand(product);
  entry.product = product;
  const editing = entry.input.value !== String(entry.seen);
  if (!editing) {
    entry.seen = fresh;
    entry.input.value = String(fresh);
    entry.now.hidden = true;
  } else if (fresh !== entry.seen) {
    entry.now.hidden = false;
    entry.now.textContent = `Now ${fresh} on hand (changed since you loaded it).`;
  }
}

function stockRow(p) {
  const input = h('input', { type: 'number', min: 0, value: onHand(p), 'aria-label': `Stock of ${p.title}`, inputmode: 'numeric' });
  const save = h('button', { type: 'button', class: 'secondary', 'aria-label': `Save stock of ${p.title}` }, 'Save');
  const now = h('p', { class: 'now', hidden: true, role: 'note' });
  const row = h('li', { 'data-product': p.id },
    h('div', { class: 'what' }, h('strong', {}, p.title), h('div', { class: 'muted small' }, money(p.price))),
    h('div', { class: 'edit' }, input, save),
    now);
  const entry = { product: p, seen: onHand(p), input, row, now };
  stockRows.set(p.id, entry);
  save.addEventListener('click', () => saveStock(entry));
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') saveStock(entry);
  });
  return row;
}

async function saveStock(entry) {
  const s = session();
  const p = entry.product;
  const stock = Number(entry.input.value);
  if (!Number.isInteger(stock) || stock < 0) {
    setState($('stock-status'), 'error', 'Stock must be a whole number of 0 or more.');
    return;
  }
  // Servers that compare figures send `on_hand` with each product; older ones do not.
  const body = typeof p.on_hand === 'number' ? { stock, expected: entry.seen } : { stock };
  try {
    const updated = await api('PUT', `/api/products/${p.id}/stock`, { token: s.token, body });
    entry.seen = updated ? onHand(updated) : stock;
    if (updated) entry.product = updated;
    entry.input.value = String(entry.seen);
    entry.now.hidden = true;
    entry.row.dataset.state = 'saved';
    setState($('stock-status'), 'ok', `Stock of ${p.title} saved.`);
  } catch (error) {
    if (error.status === 409 || error.code === 'conflict') {
      entry.row.dataset.state = 'conflict';
      setState($('stock-status'), 'conflict', `Stock of ${p.title} changed since you loaded it: the row shows the current figure. Check it and save again.`);
      entry.input.value = String(entry.seen); // not editing any more: the reload shows the fresh figure
      await loadProducts();
      entry.input.focus();
    } else {
      setState($('stock-status'), 'error', `Could not save: ${error.message}`);
    }
  }
}

/** After sales: read the stock again, once for a burst of them. */
function refreshStockSoon() {
  clearTimeout(stockTimer);
  stockTimer = setTimeout(loadProducts, 400);
}

// ---------- agreements ----------

async function loadAgreements() {
  const s = session();
  const body = $('agreements');
  try {
    const [agreements, creators, products] = await Promise.all([
      client.api.agreements(),
      api('GET', '/api/creators').catch(() => []),
      api('GET', `/api/brands/${s.account.brand_id}/products`, { token: s.token }).catch(() => []),
    ]);
    for (const c of creators) creatorNames.set(c.id, c.display_name);
    const titles = new Map(products.map((p) => [p.id, p]));
    body.replaceChildren();
    if (!agreements.length) body.append(h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No agreements yet.')));
    for (const a of agreements) {
      const product = titles.get(a.product_id);
      const flat = a.commission_flat ? ` + ${product ? formatMoney(a.commission_flat, product.price.currency) : a.commission_flat} per unit` : '';
      body.append(h('tr', {},
        h('td', { 'data-label': 'Creator' }, creatorNames.get(a.creator_id) ?? `#${a.creator_id}`),
        h('td', { 'data-label': 'Product' }, product?.title ?? `#${a.product_id}`),
        h('td', { 'data-label': 'Commission' }, `${(a.commission_bps / 100).toFixed(2)} %${flat}`),
        h('td', { 'data-label': 'Since' }, new Date(a.created_at).toLocaleDateString()),
        h('td', { 'data-label': 'Status' }, a.ended_at ? `ended ${new Date(a.ended_at).toLocaleDateString()}` : 'active')));
    }
    updateCharts();
  } catch (error) {
    body.replaceChildren(h('tr', {}, h('td', { colspan: 5, class: 'status', 'data-state': 'error' }, error.message)));
  }
}

// ---------- sales: history, live feed, charts ----------

async function loadOrders() {
  const s = session();
  try {
    const orders = await api('GET', `/api/brands/${s.account.brand_id}/orders`, { token: s.token });
    for (const o of orders) {
      if (o.status !== 'paid') continue;
      for (const l of o.lines) {
        if (l.brand_id !== s.account.brand_id) continue;
        addLine({
          order_id: o.id, room_id: o.room_id, creator_id: o.creator_id, product_id: l.product_id, title: l.title, quantity: l.quantity,
          amount: { amount: l.line_total, currency: o.subtotal.currency }, commission: { amount: l.commission, currency: o.subtotal.currency }, at: o.created_at,
        }, false);
      }
    }
    updateCharts();
  } catch (error) {
    setState($('feed'), 'error', `could not load orders: ${error.message}`);
  }
}

function addLine(sale, live) {
  const key = `${sale.order_id}:${sale.product_id}`;
  if (lines.has(key)) return;
  lines.set(key, sale);
  if (sale.creator_name) creatorNames.set(sale.creator_id, sale.creator_name);
  if (live) {
    const list = $('sales');
    list.querySelector('.empty')?.remove();
    list.prepend(h('li', { class: 'sale', style: 'padding:0.35rem 0;border-bottom:1px solid var(--line)' },
      h('strong', {}, `${sale.quantity} × ${sale.title}`), ` · ${money(sale.amount)} · via ${sale.creator_name} · order #${sale.order_id}`,
      h('span', { class: 'muted' }, ` · ${new Date(sale.at).toLocaleTimeString()}`)));
    while (list.children.length > 50) list.lastElementChild.remove();
  }
}

function connectFeed() {
  if (!session() || feed) return;
  feed = livecart().salesFeed();
  const text = { connecting: 'connecting…', joined: 'live', reconnecting: 'reconnecting…', closed: 'closed' };
  feed.on('state', (state) => {
    if (state in text) setState($('feed'), state === 'joined' ? 'following' : state, text[state]);
  });
  feed.on('sale', (sale) => {
    addLine(sale, true);
    updateCharts();
    refreshStockSoon();
  });
  // The feed has no resume: what it missed (while reconnecting, or when it fell behind)
  // is read over HTTP.
  feed.on('resync', () => {
    loadOrders();
    refreshStockSoon();
  });
  feed.on('error', (error) => setState($('feed'), 'error', error.message));
  feed.on('failed', ({ error }) => setState($('feed'), 'error', error ? error.message : 'the feed could not reconnect; reload'));
  feed.on('session_ended', () => setState($('feed'), 'error', 'your session ended: sign in again'));
  feed.connect();
}

function setupCharts() {
  if (charts || !Chart) return;
  Chart.defaults.color = '#1b1a1f';
  Chart.defaults.font.family = 'system-ui, sans-serif';
  Chart.defaults.animation = false;
  const common = { responsive: true, maintainAspectRatio: false, interaction: { mode: 'index', intersect: false } };
  charts = {
    minute: new Chart($('chart-minute'), {
      data: { labels: [], datasets: [
        { type: 'bar', label: 'Revenue', data: [], yAxisID: 'y', backgroundColor: '#7c3aed' },
        { type: 'line', label: 'Orders', data: [], yAxisID: 'y1', borderColor: '#b45309', backgroundColor: '#b45309', tension: 0.2 },
      ] },
      options: { ...common, scales: { y: { beginAtZero: true, title: { display: true, text: 'Revenue' } }, y1: { beginAtZero: true, position: 'right', grid: { drawOnChartArea: false }, ticks: { precision: 0 }, title: { display: true, text: 'Orders' } } } },
    }),
    creator: new Chart($('chart-creator'), {
      type: 'bar',
      data: { labels: [], datasets: [
        { label: 'Revenue', data: [], yAxisID: 'y', backgroundColor: '#7c3aed' },
        { label: 'Orders', data: [], yAxisID: 'y1', backgroundColor: '#b45309' },
      ] },
      options: { ...common, scales: { y: { beginAtZero: true, title: { display: true, text: 'Revenue' } }, y1: { beginAtZero: true, position: 'right', grid: { drawOnChartArea: false }, ticks: { precision: 0 }, title: { display: true, text: 'Orders' } } } },
    }),
  };
  setInterval(updateCharts, 30_000); // roll the per-minute window forward
}

/** Recomputes totals and both charts from every sale line seen. */
function updateCharts() {
  const all = [...lines.values()];
  const currency = all[0]?.amount.currency;
  const major = (amount) => (currency ? amount / 10 ** new Intl.NumberFormat(undefined, { style: 'currency', currency }).resolvedOptions().maximumFractionDigits : amount);
  const same = all.filter((l) => l.amount.currency === currency);
  const orders = new Set(same.map((l) => l.order_id));
  $('t-orders').textContent = orders.size;
  $('t-units').textContent = same.reduce((n, l) => n + l.quantity, 0);
  $('t-revenue').textContent = currency ? formatMoney(same.reduce((n, l) => n + l.amount.amount, 0), currency) : '—';
  $('t-commission').textContent = currency ? formatMoney(same.reduce((n, l) => n + l.commission.amount, 0), currency) : '—';
  if (!charts) return;

  const now = Math.floor(Date.now() / 60_000);
  const labels = [];
  const revenue = new Array(WINDOW_MIN).fill(0);
  const orderSets = Array.from({ length: WINDOW_MIN }, () => new Set());
  for (let i = 0; i < WINDOW_MIN; i++) labels.push(new Date((now - WINDOW_MIN + 1 + i) * 60_000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
  for (const l of same) {
    const index = Math.floor(l.at / 60_000) - (now - WINDOW_MIN + 1);
    if (index < 0 || index >= WINDOW_MIN) continue;
    revenue[index] += l.amount.amount;
    orderSets[index].add(l.order_id);
  }
  charts.minute.data.labels = labels;
  charts.minute.data.datasets[0].data = revenue.map(major);
  charts.minute.data.datasets[0].label = `Revenue (${currency ?? '—'})`;
  charts.minute.data.datasets[1].data = orderSets.map((set) => set.size);
  charts.minute.update();

  const byCreator = new Map();
  for (const l of same) {
    const entry = byCreator.get(l.creator_id) ?? { revenue: 0, orders: new Set() };
    entry.revenue += l.amount.amount;
    entry.orders.add(l.order_id);
    byCreator.set(l.creator_id, entry);
  }
  charts.creator.data.labels = [...byCreator.keys()].map((id) => creatorNames.get(id) ?? `creator #${id}`);
  charts.creator.data.datasets[0].data = [...byCreator.values()].map((e) => major(e.revenue));
  charts.creator.data.datasets[0].label = `Revenue (${currency ?? '—'})`;
  charts.creator.data.datasets[1].data = [...byCreator.values()].map((e) => e.orders.size);
  charts.creator.update();
}

// ---------- panels ----------

const PANELS = ['sales', 'campaigns', 'reports'];

/** Shows the panel the address names: #sales, #campaigns, #campaigns/7, #reports, #reports/3. */
function route() {
  if (!session()) return;
  const [name, id] = location.hash.replace(/^#\/?/, '').split('/');
  const panel = PANELS.includes(name) ? name : 'sales';
  for (const element of document.querySelectorAll('#view-dash > [data-panel]')) element.hidden = element.dataset.panel !== panel;
  for (const link of document.querySelectorAll('nav.tabs a')) {
    if (link.dataset.panel === panel) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const reportId = Number(id) || null;
  if (panel === 'campaigns') showCampaigns(reportId);
  if (panel === 'reports') showReports(reportId);
}

window.addEventListener('hashchange', route);

/** The brand's agreements, products, creators and rooms: what campaigns and reports name. */
let shop = null;

async function loadShop() {
  const s = session();
  const [agreements, products, creators, rooms] = await Promise.all([
    client.api.agreements(),
    client.api.request('GET', `/api/brands/${s.account.brand_id}/products`),
    client.api.request('GET', '/api/creators').catch(() => []),
    brandRooms(s.account.brand_id),
  ]);
  for (const c of creators) creatorNames.set(c.id, c.display_name);
  shop = { agreements, products: new Map(products.map((p) => [p.id, p])), creators: new Map(creators.map((c) => [c.id, c])), rooms };
  return shop;
}

/** Shows (live, upcoming and the last ended) that line up one of the brand's products: live first, then newest. */
async function brandRooms(brandId) {
  const lists = await Promise.all(['live', 'upcoming', 'ended'].map((status) => client.api.rooms({ status, limit: 100 })));
  const rooms = new Map();
  for (const r of lists.flat()) if (r.lineup.some((p) => p.brand_id === brandId)) rooms.set(r.id, r);
  const rank = { live: 0, scheduled: 1, ended: 2 };
  return [...rooms.values()].sort((a, b) => rank[a.status] - rank[b.status] || (b.live_at ?? b.starts_at) - (a.live_at ?? a.starts_at));
}

const plural = (n, word) => `${count(n)} ${word}${n === 1 ? '' : 's'}`;
const creatorName = (id) => creatorNames.get(id) ?? `creator #${id}`;
const when = (ms) => (ms ? new Date(ms).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' }) : '—');

/** Minor units as the major-unit text a money field takes ("1500.00"), without a float. */
function majorText(m) {
  const digits = minorDigits(m.currency);
  const text = String(Math.abs(m.amount)).padStart(digits + 1, '0');
  const whole = digits ? `${text.slice(0, -digits)}.${text.slice(-digits)}` : text;
  return m.amount < 0 ? `-${whole}` : whole;
}

// ---------- campaigns ----------

/** The campaigns listed, by id. */
let campaigns = new Map();
/** The campaign being edited, or null for a new one. */
let editing = null;
let openCampaignId = null;
const campaignQuery = { sort: 'net_gmv', tier: '' };

async function showCampaigns(id) {
  await loadCampaigns();
  if (id) openCampaign(id);
  else {
    openCampaignId = null;
    $('campaign-view').hidden = true;
  }
}

async function loadCampaigns() {
  const body = $('campaigns');
  try {
    const [list] = await Promise.all([client.api.campaigns(), loadShop()]);
    campaigns = new Map(list.map((c) => [c.id, c]));
    body.replaceChildren();
    if (!list.length) body.append(h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No campaigns yet: create one to compare your creators side by side.')));
    for (const c of list) {
      const creators = new Set(shop.agreements.filter((a) => c.agreement_ids.includes(a.id)).map((a) => creatorName(a.creator_id)));
      body.append(h('tr', { 'data-campaign': c.id },
        h('th', { scope: 'row' }, c.name),
        h('td', {}, money(c.budget)),
        h('td', {}, c.flat_fee.amount ? money(c.flat_fee) : '—'),
        h('td', {}, `${c.agreement_ids.length}${creators.size ? ` (${[...creators].join(', ')})` : ''}`),
        h('td', {}, count(c.room_ids.length)),
        h('td', {}, new Date(c.created_at).toLocaleDateString()),
        h('td', {}, h('div', { class: 'row', style: 'flex-wrap:nowrap' },
          h('a', { class: 'button', href: `#campaigns/${c.id}`, 'aria-label': `Report of ${c.name}` }, 'Report'),
          h('button', { type: 'button', class: 'secondary', 'aria-label': `Edit ${c.name}`, onclick: () => editCampaign(c) }, 'Edit')))));
    }
  } catch (error) {
    body.replaceChildren(h('tr', {}, h('td', { colspan: 7, class: 'status', 'data-state': 'error' }, `Could not read the campaigns: ${error.message}`)));
  }
}

$('new-campaign').addEventListener('click', () => editCampaign(null));
$('c-cancel').addEventListener('click', () => {
  editing = null;
  $('campaign-editor').hidden = true;
  $('new-campaign').focus();
});

/** Opens the form on a campaign (null: a new one), its lists ticked. */
async function editCampaign(c) {
  if (!shop) await loadShop();
  editing = c;
  $('campaign-editor').hidden = false;
  $('editor-title').textContent = c ? `Edit ${c.name}` : 'New campaign';
  $('c-save').textContent = c ? 'Save changes' : 'Create campaign';
  const currencies = new Set([...shop.products.values()].map((p) => p.price.currency));
  if (c) currencies.add(c.budget.currency);
  if (!currencies.size) currencies.add('EUR');
  $('c-currency').replaceChildren(...[...currencies].map((code) => h('option', { value: code }, code)));
  $('c-currency').value = c?.budget.currency ?? [...currencies][0];
  $('c-name').value = c?.name ?? '';
  $('c-budget').value = c ? majorText(c.budget) : '';
  $('c-flat-fee').value = c?.flat_fee.amount ? majorText(c.flat_fee) : '';
  renderAgreementChoices(new Set(c?.agreement_ids ?? []));
  renderRoomChoices(new Set(c?.room_ids ?? []));
  setState($('c-status'), 'idle', '');
  $('campaign-editor').scrollIntoView({ block: 'start' });
  $('c-name').focus({ preventScroll: true });
}

const ticked = (box) => [...$(box).querySelectorAll('input[type=checkbox]:checked')].map((input) => Number(input.value));

function renderAgreementChoices(chosen) {
  const box = $('c-agreements');
  box.replaceChildren();
  if (!shop.agreements.length) box.append(h('p', { class: 'muted' }, 'No agreements yet: agree a commission with a creator first.'));
  for (const a of shop.agreements) {
    const product = shop.products.get(a.product_id);
    const input = h('input', { type: 'checkbox', value: a.id, checked: chosen.has(a.id) });
    input.addEventListener('change', () => renderRoomChoices(new Set(ticked('c-rooms'))));
    const flat = a.commission_flat && product ? ` + ${formatMoney(a.commission_flat, product.price.currency)} per unit` : '';
    box.append(h('label', { class: 'check' }, input,
      `${creatorName(a.creator_id)} · ${product?.title ?? `product #${a.product_id}`} · ${(a.commission_bps / 100).toFixed(2)} %${flat}${a.ended_at ? ' (ended)' : ''}`));
  }
}

/** Rooms hosted by the creators of the ticked agreements (a campaign may hold no other). */
function renderRoomChoices(chosen) {
  const agreementIds = new Set(ticked('c-agreements'));
  const hosts = new Set(shop.agreements.filter((a) => agreementIds.has(a.id)).map((a) => a.creator_id));
  const box = $('c-rooms');
  box.replaceChildren();
  const rooms = shop.rooms.filter((r) => hosts.has(r.host.id));
  const known = new Set(rooms.map((r) => r.id));
  for (const id of chosen) if (!known.has(id)) rooms.push({ id, title: `Room #${id}`, host: { display_name: '' }, status: '', live_at: null, starts_at: null });
  if (!rooms.length) box.append(h('p', { class: 'muted' }, hosts.size ? 'These creators have no show lining up your products yet.' : 'Choose agreements first: their creators\' shows appear here.'));
  for (const r of rooms) {
    const input = h('input', { type: 'checkbox', value: r.id, checked: chosen.has(r.id) });
    const status = r.status === 'scheduled' ? `upcoming ${when(r.starts_at)}` : r.status === 'live' ? 'live now' : r.status ? `ended · went live ${when(r.live_at)}` : '';
    box.append(h('label', { class: 'check' }, input, [r.title, r.host.display_name, status].filter(Boolean).join(' · ')));
  }
}

$('campaign-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const currency = $('c-currency').value;
  const budget = parseMajor($('c-budget').value, currency);
  if (budget == null) {
    setState($('c-status'), 'error', `Enter the budget in ${currency}, like 500.00`);
    $('c-budget').focus();
    return;
  }
  const feeText = $('c-flat-fee').value.trim();
  const fee = feeText ? parseMajor(feeText, currency) : 0;
  if (fee == null) {
    setState($('c-status'), 'error', `Enter the flat fee in ${currency}, like 50.00, or leave it empty`);
    $('c-flat-fee').focus();
    return;
  }
  const draft = { name: $('c-name').value.trim(), budget: { amount: budget, currency }, agreement_ids: ticked('c-agreements'), room_ids: ticked('c-rooms') };
  if (feeText || editing) draft.flat_fee = { amount: fee, currency };
  setState($('c-status'), 'busy', 'Saving…');
  try {
    const saved = editing ? await client.api.updateCampaign(editing.id, draft) : await client.api.createCampaign(draft);
    editing = null;
    $('campaign-editor').hidden = true;
    setState($('campaigns-status'), 'ok', `Saved ${saved.name}.`);
    if (location.hash === `#campaigns/${saved.id}`) route();
    else location.hash = `#campaigns/${saved.id}`;
  } catch (error) {
    setState($('c-status'), 'error', `Could not save: ${error.message}`);
  }
});

const campaignReportQuery = () => ({ sort: campaignQuery.sort, tier: campaignQuery.tier || undefined });

async function openCampaign(id, { focusSort } = {}) {
  if (openCampaignId !== id) {
    campaignQuery.sort = 'net_gmv';
    campaignQuery.tier = '';
    $('cv-tier').value = '';
  }
  openCampaignId = id;
  const view = $('campaign-view');
  view.hidden = false;
  view.dataset.state = 'loading';
  setState($('cv-status'), 'busy', 'Reading the report…');
  try {
    const report = await client.api.campaignReport(id, campaignReportQuery());
    if (openCampaignId !== id) return;
    renderCampaign(report);
    view.dataset.state = 'ready';
    view.dataset.sort = report.sort;
    setState($('cv-status'), 'ok', '');
    if (focusSort) $('cv-creators').querySelector(`button[data-sort="${focusSort}"]`)?.focus();
  } catch (error) {
    if (openCampaignId !== id) return;
    view.dataset.state = 'error';
    setState($('cv-status'), 'error', `Could not read the report: ${error.message}`);
  }
}

$('cv-tier').addEventListener('change', () => {
  campaignQuery.tier = $('cv-tier').value;
  if (openCampaignId) openCampaign(openCampaignId);
});

/** The creator comparison's columns; `sort` names the server's sort key of a sortable one. */
const CREATOR_COLUMNS = [
  { label: 'Tier', cell: (c) => c.creator.tier },
  { label: 'Rooms live', cell: (c) => count(c.rooms) },
  { label: 'Net GMV', sort: 'net_gmv', cell: (c) => money(c.net_gmv) },
  { label: 'Orders', cell: (c) => count(c.orders) },
  { label: 'Buyers', cell: (c) => count(c.buyers) },
  { label: 'Unique viewers', cell: (c) => count(c.unique_viewers) },
  { label: 'Conversion', sort: 'conversion_rate', cell: (c) => rate(c.conversion_rate) },
  { label: 'Average order', sort: 'aov', cell: (c) => money(c.aov) },
  { label: 'Sales velocity', sort: 'sales_velocity', cell: (c) => rate(c.sales_velocity, 'per_minute') },
  { label: 'Commission', cell: (c) => money(c.commission.net) },
  { label: 'Flat fees', cell: (c) => money(c.flat_fees) },
  { label: 'Cost', cell: (c) => money(c.cost) },
  { label: 'ROI', sort: 'roi', cell: (c) => rate(c.roi) },
  { label: 'Cost per new buyer', cell: (c) => (c.cost_per_new_buyer ? money(c.cost_per_new_buyer) : '—') },
];

function renderCampaign(r) {
  const c = r.campaign;
  $('cv-title').textContent = c.name;
  $('cv-actions').replaceChildren(
    h('button', { type: 'button', class: 'secondary', 'aria-label': `Edit ${c.name}`, onclick: () => editCampaign(campaigns.get(c.id) ?? c) }, 'Edit'),
    h('button', { type: 'button', class: 'secondary', 'aria-label': `Refresh the report of ${c.name}`, onclick: () => openCampaign(c.id) }, 'Refresh'),
    csvButton(client.api, 'campaign', c.id, campaignReportQuery, `the report of ${c.name}`, $('cv-status')));
  $('cv-summary').replaceChildren(
    h('p', { class: 'muted small' }, `Budget ${money(c.budget)}${c.flat_fee.amount ? `, ${money(c.flat_fee)} per creator who goes live` : ''} · ${plural(c.agreement_ids.length, 'agreement')} · ${plural(c.room_ids.length, 'room')} · money in ${r.currency}${r.other_currencies.length ? ` (also sold in ${r.other_currencies.join(', ')})` : ''} · computed ${new Date(r.generated_at).toLocaleTimeString()}`),
    h('div', { class: 'stats' },
      tile('GMV', money(r.gmv), 'gmv'),
      tile('Net GMV', money(r.net_gmv), 'net_gmv'),
      tile('Orders', count(r.orders), 'orders'),
      tile('Buyers', count(r.buyers), 'buyers'),
      tile('New buyers', count(r.new_buyers), 'new_buyers'),
      tile('Conversion', rate(r.conversion_rate), 'conversion_rate', 'buyers ÷ unique viewers'),
      tile('Average order', money(r.aov), 'aov'),
      tile('Sales velocity', rate(r.sales_velocity, 'per_minute'), 'sales_velocity', 'orders per minute pinned'),
      tile('Commission', money(r.commission.net), 'commission_net', 'accrued − reversed'),
      tile('Flat fees', money(r.flat_fees), 'flat_fees'),
      tile('Cost', money(r.cost), 'cost', 'commission + flat fees'),
      tile('ROI', rate(r.roi), 'roi', '(net GMV − cost) ÷ cost'),
      tile('Budget left', money(r.budget_left), 'budget_left'),
      tile('Cost per new buyer', r.cost_per_new_buyer ? money(r.cost_per_new_buyer) : '—', 'cost_per_new_buyer')));

  const sortHeader = (column) => {
    const active = r.sort === column.sort;
    return h('th', { scope: 'col', 'aria-sort': active ? 'descending' : 'none' },
      h('button', { type: 'button', class: 'sort', 'data-sort': column.sort, 'data-active': String(active),
        onclick: () => {
          campaignQuery.sort = column.sort;
          openCampaign(c.id, { focusSort: column.sort });
        } }, column.label, h('span', { 'aria-hidden': 'true' }, active ? ' ▼' : ' ↕')));
  };
  const tierNote = r.tier ? ` (${r.tier} creators only)` : '';
  const rows = r.creators.map((row) => h('tr', { 'data-creator': row.creator.id },
    h('th', { scope: 'row' }, row.creator.display_name),
    CREATOR_COLUMNS.map((column) => h('td', { 'data-figure': column.sort }, column.cell(row)))));
  if (!rows.length) rows.push(h('tr', {}, h('td', { colspan: CREATOR_COLUMNS.length + 1, class: 'muted' }, r.tier ? `No ${r.tier} creators in this campaign.` : 'No creators in this campaign: add agreements to it.')));
  $('cv-creators').replaceChildren(tableWrap(`Creators of ${c.name}`, h('table', { id: 'creator-table' },
    h('caption', {}, `Creators of ${c.name}${tierNote}, by ${CREATOR_COLUMNS.find((col) => col.sort === r.sort)?.label ?? r.sort}, highest first`),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Creator'), CREATOR_COLUMNS.map((column) => (column.sort ? sortHeader(column) : h('th', { scope: 'col' }, column.label))))),
    h('tbody', {}, rows))));

  const chartRows = (pick, kind) => r.creators.map((row) => {
    const value = pick(row);
    return { label: row.creator.display_name, value: value.value == null ? null : Number(value.value), text: rateText(value, kind) };
  });
  $('cv-charts').replaceChildren(
    barChart({ title: `Conversion per creator${tierNote} (buyers ÷ unique viewers)`, rows: chartRows((row) => row.conversion_rate, 'percent') }),
    barChart({ title: `Sales velocity per creator${tierNote} (orders per minute pinned)`, rows: chartRows((row) => row.sales_velocity, 'per_minute') }));

  const tierRows = r.tiers.map((t) => h('tr', { 'data-tier': t.tier },
    h('th', { scope: 'row' }, t.tier), h('td', {}, count(t.creators)), h('td', {}, money(t.net_gmv)), h('td', {}, count(t.orders)),
    h('td', {}, count(t.buyers)), h('td', {}, rate(t.conversion_rate)), h('td', {}, money(t.aov)), h('td', {}, rate(t.sales_velocity, 'per_minute')),
    h('td', {}, money(t.cost)), h('td', {}, rate(t.roi))));
  if (!tierRows.length) tierRows.push(h('tr', {}, h('td', { colspan: 10, class: 'muted' }, 'No creators.')));
  $('cv-tiers').replaceChildren(tableWrap(`Tiers of ${c.name}`, h('table', {},
    h('caption', { class: 'sr-only' }, `Tiers of ${c.name}`),
    h('thead', {}, h('tr', {}, ['Tier', 'Creators', 'Net GMV', 'Orders', 'Buyers', 'Conversion', 'Average order', 'Sales velocity', 'Cost', 'ROI'].map((name) => h('th', { scope: 'col' }, name)))),
    h('tbody', {}, tierRows))));
}

// ---------- show reports ----------

let openReportId = null;

async function showReports(id) {
  await loadReportRooms();
  if (id) openRoomReport(id);
  else {
    openReportId = null;
    $('room-report').hidden = true;
  }
}

async function loadReportRooms() {
  const body = $('report-rooms');
  try {
    await loadShop();
    const rooms = shop.rooms.filter((r) => r.status !== 'scheduled');
    body.replaceChildren();
    if (!rooms.length) body.append(h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No show has lined up your products yet.')));
    for (const r of rooms) {
      body.append(h('tr', { 'data-room': r.id },
        h('th', { scope: 'row' }, r.title),
        h('td', {}, r.host.display_name, r.co_host ? ` with ${r.co_host.display_name}` : ''),
        h('td', {}, r.status === 'live' ? 'live' : 'ended'),
        h('td', {}, when(r.live_at)),
        h('td', {}, when(r.ended_at)),
        h('td', {}, h('a', { class: 'button secondary', href: `#reports/${r.id}`, 'aria-label': `Report of ${r.title}` }, 'Report'))));
    }
  } catch (error) {
    body.replaceChildren(h('tr', {}, h('td', { colspan: 6, class: 'status', 'data-state': 'error' }, `Could not read the shows: ${error.message}`)));
  }
}

async function openRoomReport(id) {
  openReportId = id;
  const section = $('room-report');
  section.hidden = false;
  section.dataset.state = 'loading';
  section.dataset.room = id;
  setState($('rr-status'), 'busy', 'Reading the report…');
  try {
    const report = await client.api.roomReport(id);
    if (openReportId !== id) return;
    const title = report.room.title;
    $('rr-title').textContent = report.live ? `${title} (live: the show so far)` : title;
    $('rr-actions').replaceChildren(
      h('button', { type: 'button', class: 'secondary', 'aria-label': `Refresh the report of ${title}`, onclick: () => openRoomReport(id) }, 'Refresh'),
      csvButton(client.api, 'room', id, {}, `the report of ${title}`, $('rr-status')));
    $('rr-body').replaceChildren(...roomReportView(report, { creatorName }).filter(Boolean));
    section.dataset.state = 'ready';
    setState($('rr-status'), 'ok', '');
  } catch (error) {
    if (openReportId !== id) return;
    section.dataset.state = 'error';
    setState($('rr-status'), 'error', `Could not read the report: ${error.message}`);
  }
}

// For tests and debugging.
window.livecartBrand = { lines, get charts() { return charts; } };

start();
