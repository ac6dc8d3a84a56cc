// End to end through the three apps: the creator goes live from the studio with Chromium's
// fake camera, pins a product and starts a drop; the demo viewer watches in index.html
// (video decoding), comments, buys with the success card, is declined with the decline
// card, then rides out a transient payment failure with a retry on the same key; the brand
// dashboard sees the sales arrive live and the studio's live numbers (the room report)
// move. The creator ends the show and reads the recap; the brand reads the show's report,
// downloads it as CSV, and builds a campaign to compare its creators. Saves screenshots of
// each page to screenshots/.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEMO, WEB_DEMO, api, framesDecoded, poll, startLivecart, watchConsole } from './support/livecart.mjs';

const SHOTS = path.join(WEB_DEMO, 'screenshots');
const RESULTS = path.join(WEB_DEMO, 'test-results');
const STEP_MS = 20_000;
const MOBILE = { width: 390, height: 844 };
const DESKTOP = { width: 1440, height: 900 };

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

test('a guest sees the stream is not started, and is sent to sign in and back to buy', { timeout: 60_000 }, async () => {
  const { baseUrl, browser } = env;
  const rooms = await api(baseUrl, 'GET', '/api/rooms?status=live');
  const room = rooms[0];
  const context = await browser.newContext({ viewport: MOBILE });
  const page = await context.newPage();
  try {
    await page.goto(new URL('/', baseUrl).href, { timeout: STEP_MS });
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
    await page.getByRole('button', { name: 'Sign in to buy' }).click();
    await signIn(page, DEMO.viewer);
    await poll('the way back to the room', async () => new URL(page.url()).hash === `#/room/${room.id}`);
    await waitState(page, '#conn', 'ok');
    assert.match(await page.$eval('#who', (e) => e.textContent), /Signed in as/);
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
    await studio.getByRole('button', { name: `Open ${room.title}` }).click({ timeout: STEP_MS });
    await waitState(studio, '#conn', 'ok');
    await studio.getByRole('button', { name: 'Go live with camera' }).click();
    await waitState(studio, '#status', 'live');
    await studio.getByRole('button', { name: `Pin ${product.title}` }).click();
    await poll('the pin to show', () => studio.$eval(`tr[data-product="${product.id}"] button`, (b) => b.getAttribute('aria-pressed') === 'true'));
    await studio.getByLabel('Product').selectOption(String(product.id));
    await studio.getByLabel('Units').fill('5');
    await studio.getByLabel(/Drop price/).fill('5.00');
    await studio.getByLabel('Duration (seconds)').fill('600');
    await studio.getByRole('button', { name: 'Start drop' }).click();
    await poll('the drop to run', () => studio.$eval('#drop-status', (e) => e.textContent.startsWith('Drop running')));
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

    // Reactions come back as counts on the tick.
    await viewer.getByRole('button', { name: 'Heart' }).click();
    await poll('the heart count', () => viewer.$eval('[data-count="heart"]', (e) => Number(e.textContent) >= 1));

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
    await viewer.getByRole('button', { name: 'Add to cart' }).click();
    await poll('the cart to hold one unit', () => viewer.$eval('#cart-count', (e) => e.textContent === '1'));
    await viewer.getByRole('button', { name: /Cart/ }).click();
    await viewer.getByLabel('Card number').fill('4242 4242 4242 4242');
    await viewer.getByRole('button', { name: 'Pay now' }).click();
    await waitState(viewer, '#checkout-result', 'confirmed');
    await viewer.getByRole('button', { name: 'Close cart' }).click();

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

    // A declined card.
    await viewer.getByRole('button', { name: 'Add to cart' }).click();
    await poll('the cart to hold one unit', () => viewer.$eval('#cart-count', (e) => e.textContent === '1'));
    await viewer.getByRole('button', { name: /Cart/ }).click();
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

    // The creator ends the show; the viewer sees the stream end.
    studio.once('dialog', (dialog) => dialog.accept());
    await studio.getByRole('button', { name: 'End the show' }).click();
    await waitState(viewer, '#stream-state', 'ended');
    await waitState(studio, '#conn', 'ended');

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

    console.log('DEBUG', JSON.stringify(Object.fromEntries(Object.entries(logs).map(([k, v]) => [k, v.filter((l) => /\[(http|error)/.test(l))]))));
    const pageErrors = Object.values(logs).flat().filter((line) => line.startsWith('[pageerror]'));
    assert.deepEqual(pageErrors, [], 'the pages threw');
    const consoleErrors = Object.values(logs).flat().filter((line) => line.startsWith('[error]'));
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
