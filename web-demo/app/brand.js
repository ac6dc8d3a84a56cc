// Brand dashboard: products and stock, agreements, the live sales feed (`follow_sales`)
// and Chart.js charts of revenue and orders per minute and per creator, updated live.
// History comes from GET /api/brands/{id}/orders; the feed adds each `brand_sale`.

import { api, bindRoleSignIn, formatMoney, h, loadSession, money, setState, signOut, wsUrl } from './common.js';

const $ = (id) => document.getElementById(id);
const Chart = window.Chart;
const WINDOW_MIN = 30;

let feed = null;
let stopped = false;
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
  stopped = true;
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
  setupCharts();
  connectFeed();
  await Promise.all([loadProducts(), loadAgreements(), loadOrders()]);
}

// ---------- products and stock ----------

async function loadProducts() {
  const s = session();
  const body = $('products');
  try {
    const products = await api('GET', `/api/brands/${s.account.brand_id}/products`, { token: s.token });
    body.replaceChildren();
    for (const p of products) {
      const input = h('input', { type: 'number', min: 0, value: p.stock, 'aria-label': `Stock of ${p.title}`, style: 'width:6rem' });
      const save = h('button', { type: 'button', class: 'secondary', 'aria-label': `Save stock of ${p.title}` }, 'Save');
      save.addEventListener('click', async () => {
        const stock = Number(input.value);
        if (!Number.isInteger(stock) || stock < 0) {
          setState($('stock-status'), 'error', 'Stock must be a whole number of 0 or more.');
          return;
        }
        try {
          const updated = await api('PUT', `/api/products/${p.id}/stock`, { token: s.token, body: { stock } });
          input.value = updated?.stock ?? stock;
          setState($('stock-status'), 'ok', `Stock of ${p.title} saved.`);
        } catch (error) {
          setState($('stock-status'), 'error', `Could not save: ${error.message}`);
        }
      });
      body.append(h('tr', { 'data-product': p.id }, h('th', { scope: 'row' }, p.title), h('td', {}, money(p.price)), h('td', {}, h('div', { class: 'row', style: 'flex-wrap:nowrap' }, input, save))));
    }
  } catch (error) {
    body.replaceChildren(h('tr', {}, h('td', { colspan: 3, class: 'status', 'data-state': 'error' }, error.message)));
  }
}

// ---------- agreements ----------

async function loadAgreements() {
  const s = session();
  const body = $('agreements');
  try {
    const [agreements, creators, products] = await Promise.all([
      api('GET', '/api/agreements', { token: s.token }),
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
        h('td', {}, creatorNames.get(a.creator_id) ?? `#${a.creator_id}`),
        h('td', {}, product?.title ?? `#${a.product_id}`),
        h('td', {}, `${(a.commission_bps / 100).toFixed(2)} %${flat}`),
        h('td', {}, new Date(a.created_at).toLocaleDateString()),
        h('td', {}, a.ended_at ? `ended ${new Date(a.ended_at).toLocaleDateString()}` : 'active')));
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
  const s = session();
  if (!s || stopped) return;
  setState($('feed'), 'connecting', 'connecting…');
  const ws = new WebSocket(wsUrl());
  feed = ws;
  ws.addEventListener('open', () => ws.send(JSON.stringify({ type: 'follow_sales', token: s.token })));
  ws.addEventListener('message', (event) => {
    const msg = JSON.parse(event.data);
    if (msg.type === 'following_sales') {
      setState($('feed'), 'following', 'live');
      ws.reconnects = 0;
    } else if (msg.type === 'brand_sale') {
      addLine(msg, true);
      updateCharts();
    } else if (msg.type === 'error' && msg.code === 'conflict') {
      loadOrders(); // the feed fell behind: fill the gap over HTTP
    } else if (msg.type === 'error') {
      setState($('feed'), 'error', msg.message);
    }
  });
  ws.addEventListener('close', () => {
    if (feed !== ws || stopped) return;
    setState($('feed'), 'reconnecting', 'reconnecting…');
    // The feed has no resume: reconnect, then read the orders missed meanwhile over HTTP.
    setTimeout(() => {
      connectFeed();
      loadOrders();
    }, 1000 + Math.random() * 1500);
  });
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

// For tests and debugging.
window.livecartBrand = { lines, get charts() { return charts; } };

start();
