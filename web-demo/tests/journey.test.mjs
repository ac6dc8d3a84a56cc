// End to end through the three apps: the creator goes live from the studio with Chromium's
// fake camera, pins a product in one tap and starts a drop; the demo viewer watches in
// index.html (video decoding), comments, reacts (the host sees it), buys with the success
// card and sees the social proof, buys again in one tap ("Buy now") and is declined with
// the decline card, then rides out a transient payment failure with a retry on the same
// key; the brand dashboard sees the sales arrive live, its stock list follows them, and
// the studio's live numbers (the room report) move. Errors in the studio stay until
// dismissed; ending the show asks in the page. The creator ends the show and reads the
// recap; the brand reads the show's report, downloads it as CSV, and builds a campaign to
// compare its creators. A late joiner sees the show so far (units sold, the latest sales,
// the reactions). axe-core checks every page at phone and desktop size. Saves
// screenshots of each page to screenshots/.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { api, axeViolations, DEMO, DESKTOP, framesDecoded, MOBILE, poll, startLivecart, watchConsole, WEB_DEMO } from './support/livecart.mjs';

const SHOTS = path.join(WEB_DEMO, 'screenshots');
const RESULTS = path.join(WEB_DEMO, 'test-results');
const STEP_MS = 20_000;

let env;
const logs = { studio: [], viewer: [], brand: [] };

before(async () => {
  env = await startLivecart();
}, { timeout: 60_000 });

after(async () => {
  await env?.stop();
}, { timeout: 30_000 });

async function signIn(page, who) {
  const form = page.locator('form#signin-form');
  await form.getByLabel('E-mail').fill(who.email);
  await form.getByLabel('Password').fill(who.password);
  await form.getByRole('button', { name: 'Sign in' }).click();
}

/** Screenshots `page` at both sizes, with `selector` (if given) scrolled to the top (LIVECART_SCREENSHOTS=0 skips them). */
async function screenshots(page, name, selector) {
  if (process.env.LIVECART_SCREENSHOTS === '0') return;
  await mkdir(SHOTS, { recursive: true });
  for (const size of [MOBILE, DESKTOP]) {
    await page.setViewportSize(size);
    if (selector) await page.$eval(selector, (e) => e.scrollIntoView({ block: 'start' }));
    else await page.evaluate(() => window.scrollTo(0, 0));
    await sleep(300);
    await page.screenshot({ path: path.join(SHOTS, `${name}-${size.width}x${size.height}.png`) });
  }
  await page.setViewportSize(DESKTOP);
}

/** A minimal RFC 4180 reader: rows of cells (quoted cells may hold commas, quotes, line ends). */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else if (c !== '\r') cell += c;
  }
  assert.ok(!cell && !row.length, 'the CSV ends with a line end');
  return rows;
}

/** The text of a figure tile (`data-figure`) inside `scope`. */
function figure(page, scope, name) {
  return page.$eval(`${scope} [data-figure="${name}"] b`, (e) => e.textContent);
}

/** Waits for `selector` to have data-state `state`; fails early on `error`. */
async function waitState(page, selector, state, timeoutMs = STEP_MS) {
  return poll(`${selector} to be ${state}`, async () => {
    const { s, text } = await page.$eval(selector, (e) => ({ s: e.dataset.state, text: e.textContent })).catch(() => ({}));
    assert.notEqual(s, 'error', `${selector} reported: ${text}`);
    return s === state;
  }, { timeoutMs });
}

test('a guest sees the stream is not started, and is sent to sign in and back to buy', { timeout: 90_000 }, async () => {
  const { baseUrl, browser } = env;
  const rooms = await api(baseUrl, 'GET', '/api/rooms?status=live');
  const room = rooms[0];
  const product = room.lineup[1] ?? room.lineup[0];
  const context = await browser.newContext({ viewport: MOBILE });
  const page = await context.newPage();
  const log = [];
  watchConsole(page, log);
  try {
    await page.goto(new URL('/', baseUrl).href, { timeout: STEP_MS });
    const violations = await axeViolations(page, 'viewer sign-in', { restore: MOBILE });
    await page.getByLabel('Your name').fill('Guest Tester');
    await page.getByRole('button', { name: 'Continue as guest' }).click();
    await page.getByRole('link', { name: `Watch ${room.title}` }).click({ timeout: STEP_MS });
    await waitState(page, '#conn', 'ok');
    await waitState(page, '#stream-state', 'not-started');
    assert.equal(await page.$eval('#stream-state', (e) => e.textContent), 'stream not started');
    // The demo room sells under Glow Labs' paid agreements: the disclosure is a visible banner.
    assert.match(room.disclosure, /^Paid partnership with Glow Labs/);
    assert.equal(await page.$eval('#disclosure', (e) => (e.hidden ? '' : e.textContent)), room.disclosure);
    await page.getByRole('button', { name: /Cart/ }).click();
    await poll('the sign-in prompt', () => page.$eval('#buy-status', (e) => !e.hidden && /Sign in/.test(e.textContent)));
    // A guest starts a purchase from the shop drawer (the room's whole lineup)...
    await page.getByRole('button', { name: 'Shop' }).click();
    assert.equal(await page.locator('#shop-list li').count(), room.lineup.length, 'the drawer lists the lineup');
    violations.push(...await axeViolations(page, 'viewer shop drawer', { restore: MOBILE }));
    await screenshots(page, 'viewer-shop');
    await page.setViewportSize(MOBILE);
    await page.getByRole('button', { name: `Buy ${product.title}` }).click();
    await poll('the sign-in prompt', () => page.$eval('#buy-status', (e) => !e.hidden && /Sign in/.test(e.textContent)));
    await page.getByRole('button', { name: 'Sign in to buy' }).click();
    await signIn(page, DEMO.viewer);
    await poll('the way back to the room', async () => new URL(page.url()).hash === `#/room/${room.id}`);
    await waitState(page, '#conn', 'ok');
    assert.match(await page.$eval('#who', (e) => e.textContent), /Signed in as/);
    // ...and it resumes after the sign-in: the product is in the cart, the checkout open.
    await poll('the checkout to open', () => page.$eval('#cart-dialog', (e) => e.open));
    await poll('the product in the cart', () => page.$eval('#cart-lines', (e, title) => e.textContent.includes(title), product.title));
    assert.equal(await page.$eval('#cart-count', (e) => e.textContent), '1');
    violations.push(...await axeViolations(page, 'viewer checkout', { restore: MOBILE }));
    // (Emptied again: the main journey counts this account's cart from zero.)
    await page.getByRole('button', { name: `Remove ${product.title}` }).click();
    await poll('the cart to be empty', () => page.$eval('#cart-count', (e) => e.textContent === '0'));
    await page.getByRole('button', { name: 'Close cart' }).click();
    // The session is kept for the browser: the room link in a new tab is signed in.
    const tab = await context.newPage();
    watchConsole(tab, log);
    await tab.goto(new URL(`/#/room/${room.id}`, baseUrl).href, { timeout: STEP_MS });
    await waitState(tab, '#conn', 'ok');
    assert.match(await tab.$eval('#who', (e) => e.textContent), /Signed in as/);
    await tab.close();
    assert.deepEqual(violations, [], 'axe: serious or critical violations');
    assert.deepEqual(log.filter((l) => /^\[(error|pageerror)\]/.test(l)), [], 'the viewer logged errors');
  } finally {
    await context.close();
  }
});

test('a new viewer signs up, stays signed in across tabs, and signing out ends it', { timeout: 60_000 }, async () => {
  const { baseUrl, browser } = env;
  const context = await browser.newContext({ viewport: MOBILE });
  const page = await context.newPage();
  const log = [];
  watchConsole(page, log);
  try {
    await page.goto(new URL('/', baseUrl).href, { timeout: STEP_MS });
    await page.getByRole('link', { name: 'Create an account' }).click();
    const form = page.locator('form#signup-form');
    await form.getByLabel('Name others see').fill('Rin');
    await form.getByLabel('E-mail').fill(`rin-${Date.now()}@example.com`);
    await form.getByLabel(/^Password/).fill('a-long-passphrase');
    const violations = await axeViolations(page, 'viewer sign-up', { restore: MOBILE });
    await form.getByRole('button', { name: 'Create account' }).click();
    await poll('the rooms list, signed in', () => page.$eval('#who', (e) => e.textContent === 'Signed in as Rin'));
    await poll('the live rooms', () => page.$('#live-rooms li[data-room]'));
    violations.push(...await axeViolations(page, 'viewer rooms', { restore: MOBILE }));
    const tab = await context.newPage();
    await tab.goto(new URL('/', baseUrl).href, { timeout: STEP_MS });
    await poll('the new tab signed in', () => tab.$eval('#who', (e) => e.textContent === 'Signed in as Rin'));
    await tab.getByRole('button', { name: 'Sign out' }).click();
    await poll('the sign-in form', () => tab.$eval('#view-signin', (e) => !e.hidden));
    assert.equal(await tab.evaluate(() => localStorage.getItem('livecart.session')), null, 'signing out clears the stored session');
    await page.reload();
    await poll('the first tab signed out too', () => page.$eval('#view-signin', (e) => !e.hidden));
    assert.deepEqual(violations, [], 'axe: serious or critical violations');
    assert.deepEqual(log.filter((l) => /^\[(error|pageerror)\]/.test(l)), [], 'the viewer logged errors');
  } finally {
    await context.close();
  }
});

test('creator goes live, viewer buys, brand sees the sale, the recap and the reports', { timeout: 300_000 }, async () => {
  const pages = {};
  try {
    const { baseUrl, browser } = env;
    const creator = await api(baseUrl, 'POST', '/api/auth/login', { body: DEMO.creator });
    const rooms = await api(baseUrl, 'GET', '/api/rooms?status=live');
    const room = rooms.find((r) => r.host.id === creator.account.id);
    assert.ok(room, 'the demo creator hosts a live room');
    const product = room.lineup[0];

    const studio = await (await browser.newContext({ viewport: DESKTOP })).newPage();
    const viewer = await (await browser.newContext({ viewport: MOBILE })).newPage();
    const brand = await (await browser.newContext({ viewport: DESKTOP })).newPage();
    Object.assign(pages, { studio, viewer, brand });
    for (const [name, page] of Object.entries(pages)) {
      watchConsole(page, logs[name]);
      page.on('response', (response) => {
        if (response.status() >= 400) logs[name].push(`[http ${response.status()}] ${response.request().method()} ${new URL(response.url()).pathname}`);
      });
    }

    // Creator: studio, go live from the camera, pin, start a drop.
    await studio.goto(new URL('/studio.html', baseUrl).href, { timeout: STEP_MS });
    await signIn(studio, DEMO.creator);
    // A scheduled show can be rehearsed first: the studio gives the load tester's command, key included.
    const upcoming = (await api(baseUrl, 'GET', '/api/rooms?status=upcoming')).find((r) => r.host.id === creator.account.id);
    assert.ok(upcoming, 'the demo creator has a scheduled show');
    await studio.getByRole('button', { name: `Rehearse: ${upcoming.title}` }).click({ timeout: STEP_MS });
    await poll('the rehearsal command', () => studio.$eval('#rehearsal-command', (e) => / audience --rehearsal \d+ --audience-key [\w-]{32} /.test(e.value)));
    await studio.getByRole('button', { name: `Open ${room.title}` }).click({ timeout: STEP_MS });
    await waitState(studio, '#conn', 'ok');
    await studio.getByRole('button', { name: 'Go live with camera' }).click();
    await waitState(studio, '#status', 'live');
    // The show clock runs from the moment the room went live.
    await poll('the LIVE badge and the show clock', () => studio.$eval('#show-clock', (e) => !e.hidden && /^\d+:\d\d$/.test(e.querySelector('time').textContent)));
    assert.equal(await studio.$eval('#live-badge', (e) => e.hidden), false);
    // One tap pins a lineup product.
    await studio.getByRole('button', { name: `Pin ${product.title}` }).click();
    await poll('the pin to show', () => studio.$eval(`#lineup li[data-product="${product.id}"]`, (e) => e.dataset.pinned === 'true'));
    assert.equal(await studio.$eval(`#lineup li[data-product="${product.id}"] button`, (b) => b.textContent), `Unpin ${product.title}`);
    await studio.locator('#drop-form').getByLabel('Product').selectOption(String(product.id));
    await studio.locator('#drop-form').getByLabel('Units').fill('5');
    await studio.locator('#drop-form').getByLabel(/Drop price/).fill('5.00');
    await studio.locator('#drop-form').getByLabel('Duration (seconds)').fill('600');
    await studio.getByRole('button', { name: 'Start drop' }).click();
    await poll('the drop to run', () => studio.$eval('#drop-status', (e) => e.textContent.startsWith('Drop running')));
    // A refused action stays on screen (the countdown does not replace it) until dismissed.
    await studio.getByRole('button', { name: 'Start drop' }).click();
    await poll('the refusal', () => studio.$eval('#studio-error', (e) => !e.hidden && /^Start drop: /.test(e.textContent.trim())));
    await sleep(2_500);
    assert.equal(await studio.$eval('#studio-error', (e) => e.hidden), false, 'the error is still shown');
    assert.match(await studio.$eval('#drop-status', (e) => e.textContent), /^Drop running/);
    await studio.getByRole('button', { name: 'Dismiss' }).click();
    assert.equal(await studio.$eval('#studio-error', (e) => e.hidden), true);
    // The live numbers come from the room report, polled while the show is live.
    await waitState(studio, '#numbers-status', 'live');
    assert.equal(await studio.$eval('#n-buyers', (e) => e.textContent), '0');
    assert.match(await studio.$eval('#n-gmv', (e) => e.textContent), /0[.,]00/);
    assert.match(await studio.$eval('#n-commission', (e) => e.textContent), /0[.,]00/);
    // While the page is hidden the studio stops reading the report, and starts again when it shows.
    const reportReads = [];
    studio.on('request', (request) => {
      if (new URL(request.url()).pathname === `/api/rooms/${room.id}/report`) reportReads.push(Date.now());
    });
    const setHidden = (hidden) => studio.evaluate((value) => {
      if (value) Object.defineProperty(document, 'hidden', { value: true, configurable: true });
      else delete document.hidden;
      document.dispatchEvent(new Event('visibilitychange'));
    }, hidden);
    await setHidden(true);
    await waitState(studio, '#numbers-status', 'paused');
    const pausedAt = Date.now();
    await sleep(3_500);
    assert.deepEqual(reportReads.filter((at) => at > pausedAt), [], 'no report read while hidden');
    await setHidden(false);
    await waitState(studio, '#numbers-status', 'live');
    await poll('a report read once shown again', () => reportReads.some((at) => at > pausedAt));

    // Brand: dashboard following sales.
    await brand.goto(new URL('/brand.html', baseUrl).href, { timeout: STEP_MS });
    await signIn(brand, DEMO.brand);
    await waitState(brand, '#feed', 'following');
    const stockInput = brand.getByLabel(`Stock of ${product.title}`, { exact: true });
    await poll('the stock list', async () => (await stockInput.count()) === 1);
    const stockBefore = Number(await stockInput.inputValue());

    // Viewer: sign in, open the room, watch.
    await viewer.goto(new URL('/', baseUrl).href, { timeout: STEP_MS });
    await signIn(viewer, DEMO.viewer);
    await viewer.getByRole('link', { name: `Watch ${room.title}` }).click({ timeout: STEP_MS });
    await waitState(viewer, '#stream-state', 'playing', 30_000);
    const first = await framesDecoded(viewer);
    await sleep(2_000);
    const second = await framesDecoded(viewer);
    assert.ok(second > first, `framesDecoded did not increase (${first} -> ${second})`);

    // Chat reaches the host.
    await viewer.getByLabel('Comment').fill('hello from the journey test');
    await viewer.getByLabel('Comment').press('Enter');
    await poll('the comment in the viewer chat', () => viewer.$eval('#chat', (e) => e.textContent.includes('hello from the journey test')));
    await poll('the comment in the studio chat', () => studio.$eval('#chat', (e) => e.textContent.includes('hello from the journey test')));

    // Reactions come back as counts on the tick, and the host sees them.
    await viewer.getByRole('button', { name: 'Heart' }).click();
    await poll('the heart count', () => viewer.$eval('[data-count="heart"]', (e) => Number(e.textContent) >= 1));
    await poll('the heart in the studio', () => studio.$eval('#reaction-counts [data-count="heart"]', (e) => Number(e.textContent) >= 1));

    // A dropped connection resumes with since/epoch and keeps the chat.
    await viewer.evaluate(() => window.livecartViewer.room.conn.socket.close());
    await waitState(viewer, '#conn', 'reconnecting', 5_000).catch(() => {});
    await waitState(viewer, '#conn', 'ok');
    assert.equal(await viewer.evaluate(() => window.livecartViewer.room.conn.lastJoinReply), 'resumed');
    await studio.getByLabel('Message').fill('welcome back');
    await studio.getByLabel('Message').press('Enter');
    await poll('the host comment after the reconnect', () => viewer.$eval('#chat', (e) => e.textContent.includes('welcome back') && e.textContent.includes('hello from the journey test')));

    // The pinned product with its drop, then buy it.
    await poll('the drop on the pinned card', () => viewer.$('#drop-countdown'));
    assert.match(await viewer.$eval('#pinned .price', (e) => e.textContent), /5[.,]00/);
    assert.deepEqual(await viewer.$eval('#drop-info progress', (e) => [e.max, e.value]), [5, 5], 'the drop\'s units left');
    // The product's picture loads (served from web-demo/img/).
    await poll('the product image', () => viewer.$eval('#pinned img', (e) => e.complete && e.naturalWidth > 0).catch(() => false));
    // On a phone the stream fills the screen and the card floats over it, above the fold.
    const layout = await viewer.evaluate(() => {
      const video = document.getElementById('video').getBoundingClientRect();
      const buy = document.getElementById('buy-now').getBoundingClientRect();
      return { videoHeight: video.height, buyBottom: buy.bottom, buyTop: buy.top, videoTop: video.top, innerHeight };
    });
    assert.ok(layout.videoHeight > layout.innerHeight * 0.8, `the video fills the phone screen (${layout.videoHeight} of ${layout.innerHeight})`);
    assert.ok(layout.buyBottom <= layout.innerHeight && layout.buyTop > layout.videoTop, 'Buy is over the video, above the fold');
    await viewer.getByRole('button', { name: 'Add to cart' }).click();
    await poll('the cart to hold one unit', () => viewer.$eval('#cart-count', (e) => e.textContent === '1'));
    await viewer.getByRole('button', { name: /Cart/ }).click();
    await viewer.getByLabel('Card number').fill('4242 4242 4242 4242');
    await viewer.getByRole('button', { name: 'Pay now' }).click();
    await waitState(viewer, '#checkout-result', 'confirmed');
    assert.match(await viewer.$eval('#checkout-result', (e) => e.textContent), /^Order \S+ confirmed/);
    await viewer.getByRole('button', { name: 'Close cart' }).click();
    // "Added to your cart" was true for a moment only.
    await poll('the cart notice to go', () => viewer.$eval('#buy-status', (e) => e.hidden), { timeoutMs: 6_000 });
    // Social proof over the video: the sale as a toast, units sold, the stock going down.
    await poll('the sale toast', () => viewer.$eval('#toasts', (e, title) => e.textContent.includes(`just bought 1 × ${title}`), product.title));
    await poll('units sold', () => viewer.$eval('#sold-count', (e) => !e.hidden && /^1 sold/.test(e.textContent)));
    assert.deepEqual(await viewer.$eval('#drop-info progress', (e) => [e.max, e.value]), [5, 4]);
    assert.match(await viewer.$eval('#stock-left', (e) => e.textContent), /^4 left!$/);

    // The brand sees it live; the studio counts it.
    await poll('the sale on the brand feed', () => brand.$$eval('#sales li.sale', (l, title) => l.length >= 1 && l[0].textContent.includes(title), product.title));
    await poll('the studio numbers', () => studio.$eval('#n-units', (e) => e.textContent === '1'));
    await poll('the studio order count', () => studio.$eval('#n-orders', (e) => e.textContent === '1'));
    // One buyer, €5.00 at the drop price, 15% of it earned; conversion as the report has it.
    assert.equal(await studio.$eval('#n-buyers', (e) => e.textContent), '1');
    assert.match(await studio.$eval('#n-gmv', (e) => e.textContent), /5[.,]00/);
    assert.match(await studio.$eval('#n-commission', (e) => e.textContent), /0[.,]75/);
    await poll('the studio conversion to be the report\'s', async () => {
      const report = await api(baseUrl, 'GET', `/api/rooms/${room.id}/report`, { token: creator.token });
      const shown = await studio.$eval('#n-conversion .rate', (e) => ({ value: e.dataset.value, title: e.title, text: e.textContent }));
      return report.conversion_rate.value !== null && shown.value === report.conversion_rate.value
        && shown.title.endsWith(`${report.conversion_rate.numerator} ÷ ${report.conversion_rate.denominator}`) && / %$/.test(shown.text);
    });

    // The second purchase: one tap on Buy now opens the checkout with the product; a declined card.
    await viewer.getByRole('button', { name: 'Buy now' }).click();
    await poll('the checkout to open', () => viewer.$eval('#cart-dialog', (e) => e.open));
    await poll('the cart to hold one unit', () => viewer.$eval('#cart-count', (e) => e.textContent === '1'));
    await viewer.getByLabel('Card number').fill('4000000000000002');
    await viewer.getByRole('button', { name: 'Pay now' }).click();
    await waitState(viewer, '#checkout-result', 'declined');
    assert.match(await viewer.$eval('#checkout-result', (e) => e.textContent), /declined/i);

    // A transient failure, retried with the same key.
    await viewer.getByLabel('Card number').fill('4000000000000119');
    await viewer.getByRole('button', { name: 'Pay now' }).click();
    await waitState(viewer, '#checkout-result', 'unavailable');
    await viewer.getByRole('button', { name: 'Retry payment' }).click();
    await waitState(viewer, '#checkout-result', 'confirmed');
    await viewer.getByRole('button', { name: 'Close cart' }).click();
    await poll('both sales on the brand feed', () => brand.$$eval('#sales li.sale', (l) => l.length >= 2));
    await poll('the brand totals', () => brand.$eval('#t-orders', (e) => e.textContent === '2'));
    // The stock list follows the sales feed (no reload).
    await poll('the stock list to follow the sales', async () => Number(await stockInput.inputValue()) === stockBefore - 2);
    // A save from a figure that moved since is refused (servers that compare figures).
    const brandLogin = await api(baseUrl, 'POST', '/api/auth/login', { body: DEMO.brand });
    const current = await api(baseUrl, 'GET', `/api/products/${product.id}`, { token: brandLogin.token });
    let staleSaveRefused = false;
    if (typeof current.on_hand === 'number') {
      staleSaveRefused = true;
      await stockInput.fill(String(current.on_hand + 10)); // the brand starts a restock…
      await api(baseUrl, 'PUT', `/api/products/${product.id}/stock`, { token: brandLogin.token, body: { stock: current.on_hand + 1, expected: current.on_hand } }); // …someone else counts first
      await brand.getByRole('button', { name: `Save stock of ${product.title}` }).click();
      await waitState(brand, '#stock-status', 'conflict').catch(() => {});
      assert.match(await brand.$eval('#stock-status', (e) => e.textContent), /changed since you loaded it/);
      await poll('the row reloaded', async () => Number(await stockInput.inputValue()) === current.on_hand + 1);
    }

    // A late joiner (a guest on a desktop) sees the show so far from the snapshot: units
    // sold, the latest sales, the reactions; the card and the lineup.
    const late = await (await browser.newContext({ viewport: DESKTOP })).newPage();
    logs.late = [];
    watchConsole(late, logs.late);
    await late.goto(new URL(`/#/room/${room.id}`, baseUrl).href, { timeout: STEP_MS });
    await late.getByLabel('Your name').fill('Late Guest');
    await late.getByRole('button', { name: 'Continue as guest' }).click();
    await waitState(late, '#conn', 'ok');
    await poll('the featured card', () => late.$('#pinned .product-card'));
    assert.equal(await late.locator('#lineup li').count(), room.lineup.length);
    assert.match(await late.$eval('#sold-count', (e) => e.textContent), /^2 sold in this show$/);
    assert.match(await late.$eval('#ticker li', (e) => e.textContent), new RegExp(`^Sam bought 1 × ${product.title}`));
    assert.ok(Number(await late.$eval('[data-count="heart"]', (e) => e.textContent)) >= 1, 'the viewer\'s heart is in the totals');

    // Nothing is cut off on a phone: the studio's Pin buttons, the brand's Save buttons and
    // every cell of its agreements are inside the screen.
    const outside = async (page, selector) => page.$$eval(selector, (list) => list
      .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
      .map((e) => e.textContent.trim()));
    await studio.setViewportSize(MOBILE);
    await brand.setViewportSize(MOBILE);
    await sleep(300);
    assert.deepEqual(await outside(studio, '#lineup li button'), [], 'studio lineup buttons cut off');
    assert.deepEqual(await outside(brand, '#products button, #products input'), [], 'brand stock controls cut off');
    assert.deepEqual(await outside(brand, '#agreements td'), [], 'brand agreement cells cut off');
    await studio.setViewportSize(DESKTOP);
    await brand.setViewportSize(DESKTOP);

    // No serious or critical accessibility problem on any page, phone or desktop.
    const violations = [
      ...await axeViolations(viewer, 'viewer room', { restore: MOBILE }),
      ...await axeViolations(studio, 'studio', { restore: DESKTOP }),
      ...await axeViolations(brand, 'brand', { restore: DESKTOP }),
      ...await axeViolations(late, 'viewer room (guest)', { restore: DESKTOP }),
    ];
    assert.deepEqual(violations, [], 'axe: serious or critical violations');

    // Screenshots of each page at both sizes (committed; LIVECART_SCREENSHOTS=0 skips them).
    await mkdir(SHOTS, { recursive: true });
    await sleep(500);
    for (const [name, page] of process.env.LIVECART_SCREENSHOTS === '0' ? [] : Object.entries(pages)) {
      for (const size of [MOBILE, DESKTOP]) {
        await page.setViewportSize(size);
        await page.evaluate(() => window.scrollTo(0, 0));
        await sleep(300);
        await page.screenshot({ path: path.join(SHOTS, `${name}-${size.width}x${size.height}.png`) });
      }
    }

    // The creator ends the show (asked in the page, no confirm()); the viewer sees the stream end.
    studio.on('dialog', (dialog) => {
      logs.studio.push(`[error] a browser dialog: ${dialog.message()}`);
      dialog.dismiss().catch(() => {});
    });
    await studio.getByRole('button', { name: 'End the show' }).click();
    await poll('the question', () => studio.$eval('#end-dialog', (e) => e.open));
    await studio.locator('#end-dialog').getByRole('button', { name: 'End the show' }).click();
    await waitState(viewer, '#stream-state', 'ended');
    await waitState(studio, '#conn', 'ended');
    // Nothing left to do in either: the studio's controls are off, the viewer's messages gone.
    assert.deepEqual(await studio.$$eval('#cam-start, #drop-start, #comment-send', (l) => l.map((b) => b.disabled)), [true, true, true]);
    assert.equal(await studio.$eval('#live-badge', (e) => e.hidden), true);
    assert.equal(await viewer.$eval('#comment', (e) => e.disabled), true);
    assert.equal(await viewer.$eval('#buy-status', (e) => e.hidden || !e.textContent), true);

    // The studio's recap: the ended room's report.
    await waitState(studio, '#recap-card', 'final');
    await waitState(studio, '#numbers-status', 'ended');
    const final = await api(baseUrl, 'GET', `/api/rooms/${room.id}/report`, { token: creator.token });
    assert.equal(final.live, false);
    assert.deepEqual([final.orders, final.units, final.gmv.amount, final.commission.net.amount], [2, 2, 1000, 150]);
    assert.match(await figure(studio, '#recap-headline', 'gmv'), /10[.,]00/);
    assert.equal(await figure(studio, '#recap-headline', 'orders'), '2');
    assert.equal(await figure(studio, '#recap-headline', 'buyers'), '1');
    assert.match(await figure(studio, '#recap-headline', 'commission'), /1[.,]50/);
    assert.equal(await studio.$eval('#recap-headline [data-figure="conversion_rate"] .rate', (e) => e.dataset.value), final.conversion_rate.value);
    assert.equal(await studio.$eval(`#recap tr[data-product="${product.id}"] [data-figure="units"]`, (e) => e.textContent), '2');
    assert.match(await studio.$eval('#recap [data-figure="uplift"]', (e) => e.textContent), /No earlier shows/, 'the demo creator has no earlier show');
    await screenshots(studio, 'studio-recap', '#recap-card');
    const endViolations = await axeViolations(studio, 'studio recap', { restore: DESKTOP });

    // The brand reads the show's report and downloads it as CSV.
    await brand.getByRole('link', { name: 'Show reports' }).click();
    await brand.getByRole('link', { name: `Report of ${room.title}` }).click();
    await waitState(brand, '#room-report', 'ready');
    assert.match(await figure(brand, '#rr-body', 'gmv'), /10[.,]00/);
    assert.equal(await figure(brand, '#rr-body', 'orders'), '2');
    assert.equal(await figure(brand, '#rr-body', 'units'), '2');
    assert.equal(await brand.$eval(`#rr-body tr[data-product="${product.id}"] [data-figure="units"]`, (e) => e.textContent), '2');
    const [download] = await Promise.all([
      brand.waitForEvent('download', { timeout: STEP_MS }),
      brand.locator('#rr-actions').getByRole('button', { name: /^Download CSV/ }).click(),
    ]);
    assert.equal(download.suggestedFilename(), `room-${room.id}-report.csv`);
    const csvText = await readFile(await download.path(), 'utf8');
    assert.ok(csvText.includes('\r\n'), 'RFC 4180 line ends');
    const csv = parseCsv(csvText);
    assert.deepEqual(csv[0].slice(0, 6), ['row', 'id', 'name', 'tier', 'currency', 'gmv']);
    const col = (name) => csv[0].indexOf(name);
    assert.deepEqual([csv[1][col('row')], csv[1][col('currency')], csv[1][col('gmv')], csv[1][col('orders')]], ['total', 'EUR', '1000', '2']);
    const productRow = csv.find((r) => r[col('row')] === 'product' && r[col('id')] === String(product.id));
    assert.equal(productRow?.[col('units')], '2', 'a row per product');
    await waitState(brand, '#rr-status', 'ok');

    // A campaign: created with the creator's agreements, then its rooms edited in; its
    // report compares the creators (sorted by the server, filtered by tier, charted).
    await brand.getByRole('link', { name: 'Campaigns' }).click();
    await brand.getByRole('button', { name: 'New campaign' }).click();
    const editor = brand.locator('#campaign-form');
    await editor.getByLabel('Name').fill('Spring glow-up');
    await editor.getByLabel('Budget').fill('500');
    await editor.getByLabel(/Flat fee/).fill('25.00');
    for (const box of await editor.locator('#c-agreements input[type=checkbox]').all()) await box.check();
    await editor.getByRole('button', { name: 'Create campaign' }).click();
    await waitState(brand, '#campaign-view', 'ready');
    const brandToken = (await api(baseUrl, 'POST', '/api/auth/login', { body: DEMO.brand })).token;
    const campaigns = await api(baseUrl, 'GET', '/api/campaigns', { token: brandToken });
    const campaign = campaigns.find((c) => c.name === 'Spring glow-up');
    assert.ok(campaign, 'the campaign was created');
    assert.deepEqual([campaign.budget, campaign.flat_fee, campaign.room_ids.length], [{ amount: 50000, currency: 'EUR' }, { amount: 2500, currency: 'EUR' }, 0]);
    assert.equal(campaign.agreement_ids.length, 3);
    await brand.locator('#cv-actions').getByRole('button', { name: 'Edit Spring glow-up' }).click();
    await editor.getByLabel(new RegExp(`^${room.title}`)).check();
    await editor.getByRole('button', { name: 'Save changes' }).click();
    await poll('the campaign list to show its room', () => brand.$eval(`#campaigns tr[data-campaign="${campaign.id}"]`, (e) => e.children[4].textContent === '1').catch(() => false));
    await waitState(brand, '#campaign-view', 'ready');
    const creatorRow = `#creator-table tr[data-creator="${creator.account.id}"]`;
    await poll('the creator row to count the show', () => brand.$eval(`${creatorRow} [data-figure="net_gmv"]`, (e) => /10[.,]00/.test(e.textContent)).catch(() => false));
    const byConversion = await api(baseUrl, 'GET', `/api/campaigns/${campaign.id}/report?sort=conversion_rate`, { token: brandToken });
    assert.equal(byConversion.creators[0].roi.value, '-0.6226', '(1,000 − (150 + 2,500)) ÷ 2,650');
    await brand.locator('#creator-table').getByRole('button', { name: /^Conversion/ }).click();
    await poll('the table sorted by conversion', () => brand.$eval('#campaign-view', (e) => e.dataset.state === 'ready' && e.dataset.sort === 'conversion_rate'));
    assert.equal(await brand.$eval('#creator-table th[aria-sort="descending"]', (e) => e.textContent.trim()), 'Conversion ▼');
    assert.equal(await brand.$eval(`${creatorRow} [data-figure="roi"] .rate`, (e) => e.dataset.value), '-0.6226');
    assert.equal(await brand.$eval(`${creatorRow} [data-figure="conversion_rate"] .rate`, (e) => e.dataset.value), byConversion.creators[0].conversion_rate.value);
    assert.equal(await brand.locator('#cv-charts svg[role="img"]').count(), 2, 'charts of conversion and velocity');
    assert.match(await brand.$eval('#cv-charts svg desc', (e) => e.textContent), /Maya Glows: \d/);
    await brand.locator('#cv-tier').selectOption('micro');
    await poll('the micro tier (nobody)', () => brand.$eval('#cv-creators', (e) => e.textContent.includes('No micro creators')).catch(() => false));
    await brand.locator('#cv-tier').selectOption('nano');
    await poll('the nano tier', () => brand.$(creatorRow));
    await waitState(brand, '#campaign-view', 'ready');
    await screenshots(brand, 'brand-campaign', '#campaign-view');
    endViolations.push(...await axeViolations(brand, 'brand campaign', { restore: DESKTOP }));
    await brand.getByRole('link', { name: 'Show reports' }).click();
    await poll('the list of shows', () => brand.$('#report-rooms tr a'));
    endViolations.push(...await axeViolations(brand, 'brand show reports', { restore: DESKTOP }));
    endViolations.push(...await axeViolations(viewer, 'viewer, show ended', { restore: MOBILE }));
    assert.deepEqual(endViolations, [], 'axe: serious or critical violations');

    console.log('DEBUG', JSON.stringify(Object.fromEntries(Object.entries(logs).map(([k, v]) => [k, v.filter((l) => /\[(http|error)/.test(l))]))));
    const pageErrors = Object.values(logs).flat().filter((line) => line.startsWith('[pageerror]'));
    assert.deepEqual(pageErrors, [], 'the pages threw');
    // (The refused stale save above is a 409 the browser reports; nothing else may be.)
    const consoleErrors = Object.values(logs).flat().filter((line) => line.startsWith('[error]'))
      .filter((line) => !(staleSaveRefused && line.includes('status of 409 (Conflict)')));
    assert.deepEqual(consoleErrors, [], 'the pages logged errors');
  } catch (error) {
    for (const [name, lines] of Object.entries({ ...logs, server: env?.logs.server ?? [] })) {
      if (lines.length) console.error(`--- last ${name} lines ---\n${lines.slice(-30).join('\n')}`);
    }
    await mkdir(RESULTS, { recursive: true });
    for (const [name, page] of Object.entries(pages)) {
      await page.screenshot({ path: path.join(RESULTS, `journey-${name}.png`), timeout: 5_000 }).catch(() => {});
    }
    throw error;
  }
});

test('a drop features its product unpinned; one-tap buy saves the card, then pays with it', { timeout: 120_000 }, async () => {
  const { baseUrl, browser } = env;
  const { Livecart } = await import('../sdk/index.js');
  const { default: WebSocket } = await import('ws');
  const creator = await api(baseUrl, 'POST', '/api/auth/login', { body: DEMO.creator });
  // The demo's second show (the first ended in the journey above) goes live.
  const upcoming = (await api(baseUrl, 'GET', '/api/rooms?status=upcoming')).find((r) => r.host.id === creator.account.id);
  assert.ok(upcoming, 'the demo creator has a scheduled show');
  await api(baseUrl, 'POST', `/api/rooms/${upcoming.id}/live`, { token: creator.token });
  const host = new Livecart({ baseUrl, WebSocket, token: creator.token }).room(upcoming.id);
  const context = await browser.newContext({ viewport: MOBILE });
  const page = await context.newPage();
  const log = [];
  watchConsole(page, log);
  try {
    await host.connect();
    const product = upcoming.lineup[0];
    // A new viewer, signed up in the page.
    await page.goto(new URL('/#/signup', baseUrl).href, { timeout: STEP_MS });
    const form = page.locator('form#signup-form');
    await form.getByLabel('Name others see').fill('Ode');
    await form.getByLabel('E-mail').fill(`ode-${Date.now()}@example.com`);
    await form.getByLabel(/^Password/).fill('a-long-passphrase');
    await form.getByRole('button', { name: 'Create account' }).click();
    await poll('signed in', () => page.$eval('#who', (e) => e.textContent === 'Signed in as Ode'));
    await page.goto(new URL(`/#/room/${upcoming.id}`, baseUrl).href, { timeout: STEP_MS });
    await waitState(page, '#conn', 'ok');
    // Nothing pinned; the host starts a drop: the card shows the drop's product.
    assert.equal(host.room.pinned, null);
    host.startDrop({ productId: product.id, quantity: 3, price: null, durationSecs: 300 });
    await poll('the drop on the card', () => page.$('#drop-countdown'));
    assert.equal(await page.$eval('#pinned .product-title', (e) => e.textContent), product.title);

    // One-tap buy, where the server keeps a wallet for the account.
    const doc = await api(baseUrl, 'GET', '/api/openapi.json');
    if (doc?.paths?.['/api/me/wallet']) {
      await page.getByRole('button', { name: 'Buy now' }).click();
      await poll('the checkout', () => page.$eval('#cart-dialog', (e) => e.open));
      await poll('the offer to save the card', () => page.$eval('#save-wallet', (e) => !e.hidden));
      await page.getByLabel('Card number').fill('4242 4242 4242 4242');
      await page.getByLabel(/Save this card/).check();
      await page.getByLabel('Full name').fill('Ode Tester');
      await page.getByLabel('Address', { exact: true }).fill('1 Glow Street');
      await page.getByLabel('City', { exact: true }).fill('Berlin');
      await page.getByLabel('Postcode').fill('10115');
      await page.getByLabel(/^Country/).fill('DE');
      await page.getByRole('button', { name: 'Pay now' }).click();
      await waitState(page, '#checkout-result', 'confirmed');
      await page.getByRole('button', { name: 'Close cart' }).click();
      // The second purchase: Buy now, then one confirm with the saved card.
      await page.getByRole('button', { name: 'Buy now' }).click();
      await poll('the saved card', () => page.$eval('#pay-saved', (e) => !e.closest('[hidden]')).catch(() => false));
      const violations = await axeViolations(page, 'viewer one-tap checkout', { restore: MOBILE });
      assert.deepEqual(violations, [], 'axe: serious or critical violations');
      await page.getByRole('button', { name: /^Pay with card ending 4242$/ }).click();
      await waitState(page, '#checkout-result', 'confirmed');
      const session = await page.evaluate(() => JSON.parse(localStorage.getItem('livecart.session')));
      const orders = await api(baseUrl, 'GET', '/api/orders', { token: session.token });
      assert.equal(orders.filter((o) => o.status === 'paid').length, 2);
    }
    assert.deepEqual(log.filter((l) => /^\[(error|pageerror)\]/.test(l)), [], 'the viewer logged errors');
  } finally {
    host.close();
    await api(baseUrl, 'POST', `/api/rooms/${upcoming.id}/end`, { token: creator.token }).catch(() => {});
    await context.close();
  }
});
