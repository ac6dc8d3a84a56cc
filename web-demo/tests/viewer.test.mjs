// The viewer app around the show, in Chromium against the real server: a late joiner sees
// what sold, the units sold and the reactions; "Remind me" follows a creator, the lobby
// lists the followed creators' shows, and a going-live alert with a Watch button comes
// when one goes live (not for the room being watched); an ended show shows a recap with
// the creator's next show, whose Remind me sends a guest to sign in and follows after; a
// drop that sells out in the browser gives the card its regular price back. No console
// errors; axe-core at phone and desktop size. Saves the lobby and recap screenshots.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { Livecart } from '../sdk/index.js';
import { api, axeViolations, DEMO, DESKTOP, errorsIn, fillSignUp, MOBILE, openPage, poll, startLivecart, WEB_DEMO } from './support/livecart.mjs';

const SHOTS = path.join(WEB_DEMO, 'screenshots');
const STEP_MS = 20_000;
const CARD_OK = '4242 4242 4242 4242';

let env;
let creator; // the demo creator's session
let lineup; // the demo lineup (product cards)

before(async () => {
  env = await startLivecart();
  creator = await api(env.baseUrl, 'POST', '/api/auth/login', { body: DEMO.creator });
  const live = await api(env.baseUrl, 'GET', '/api/rooms?status=live');
  lineup = live.find((r) => r.host.id === creator.account.id).lineup;
}, { timeout: 60_000 });

after(async () => {
  await env?.stop();
}, { timeout: 30_000 });

/** A room of the demo creator with the demo lineup, `live` or scheduled `inMs` from now. */
async function newRoom(title, { live = false, inMs = 3_600_000 } = {}) {
  const room = await api(env.baseUrl, 'POST', '/api/rooms', {
    token: creator.token,
    body: { title, starts_at: Date.now() + inMs, product_ids: lineup.map((p) => p.id) },
  });
  if (live) await api(env.baseUrl, 'POST', `/api/rooms/${room.id}/live`, { token: creator.token });
  return api(env.baseUrl, 'GET', `/api/rooms/${room.id}`);
}

/** A new viewer account, signed in, as a client library user in Node. */
async function newBuyer(name) {
  const session = await api(env.baseUrl, 'POST', '/api/auth/register', {
    body: { email: `buyer-${randomUUID()}@test.livecart`, password: 'a-long-passphrase', display_name: name, role: 'viewer' },
  });
  return new Livecart({ baseUrl: env.baseUrl, WebSocket, token: session.token });
}

/** `buyer` pays for `quantity` of `productId` in its joined `conn`. */
async function buy(conn, productId, quantity) {
  const carted = conn.once('cart', { filter: (cart) => cart.lines.some((l) => l.product_id === productId), signal: AbortSignal.timeout(STEP_MS) });
  assert.ok(conn.cartAdd(productId, quantity));
  await carted;
  return conn.checkout({ card: CARD_OK }).result;
}

async function joinAsGuest(page, roomId, name) {
  await page.goto(new URL(`/#/room/${roomId}`, env.baseUrl).href, { timeout: STEP_MS });
  await page.getByLabel('Your name').fill(name);
  await page.getByRole('button', { name: 'Continue as guest' }).click();
  await waitState(page, '#conn', 'ok');
}

async function signUp(page, name) {
  await page.goto(new URL('/#/signup', env.baseUrl).href, { timeout: STEP_MS });
  await fillSignUp(page, name);
}

/** Waits for `selector` to have data-state `state`; fails early on `error`. */
async function waitState(page, selector, state) {
  return poll(`${selector} to be ${state}`, async () => {
    const { s, text } = await page.$eval(selector, (e) => ({ s: e.dataset.state, text: e.textContent })).catch(() => ({}));
    assert.notEqual(s, 'error', `${selector} reported: ${text}`);
    return s === state;
  }, { timeoutMs: STEP_MS });
}

const text = (page, selector) => page.$eval(selector, (e) => e.textContent.replace(/\s+/g, ' ').trim());

/** Screenshots `page` at both sizes (LIVECART_SCREENSHOTS=0 skips them). */
async function screenshots(page, name) {
  if (process.env.LIVECART_SCREENSHOTS === '0') return;
  await mkdir(SHOTS, { recursive: true });
  for (const size of [MOBILE, DESKTOP]) {
    await page.setViewportSize(size);
    await page.evaluate(() => window.scrollTo(0, 0));
    await sleep(300);
    await page.screenshot({ path: path.join(SHOTS, `${name}-${size.width}x${size.height}.png`) });
  }
}

test('a late joiner sees the units sold, what sold and the reactions of the show so far', { timeout: 90_000 }, async () => {
  const room = await newRoom('Late joiner show', { live: true });
  const [product] = room.lineup;
  const sam = await newBuyer('Sam');
  const conn = sam.room(room.id);
  const { page, log, close } = await openPage(env.browser, MOBILE);
  try {
    await conn.connect();
    await buy(conn, product.id, 2);
    assert.ok(conn.react('heart'));
    await poll('the reaction tick', () => conn.room.reactions.heart >= 1);

    await joinAsGuest(page, room.id, 'Late Guest');
    await poll('units sold', async () => (await text(page, '#sold-count')) === '2 sold in this show');
    assert.equal(await page.$eval('#sold-count', (e) => e.hidden), false);
    assert.equal(await text(page, '[data-count="heart"]'), '1', 'the show\'s hearts so far');
    // On a phone the list of what sold is in the shop drawer.
    await page.getByRole('button', { name: 'Shop' }).click();
    await poll('the sale in the drawer', async () => (await text(page, '#shop-sales li')).startsWith(`Sam bought 2 × ${product.title}`));
    const violations = await axeViolations(page, 'late joiner, shop drawer', { restore: MOBILE });
    await page.getByRole('button', { name: 'Close shop' }).click();
    // On a desktop it is beside the video.
    await page.setViewportSize(DESKTOP);
    assert.match(await text(page, '#ticker li'), new RegExp(`^Sam bought 2 × ${product.title}`));
    violations.push(...await axeViolations(page, 'late joiner', { restore: MOBILE }));

    // A sale while watching counts on top, and shows as a toast over the video.
    await buy(conn, product.id, 1);
    await poll('the new sale counted', async () => (await text(page, '#sold-count')) === '3 sold in this show');
    await poll('the toast', async () => (await text(page, '#toasts')).includes(`Sam just bought 1 × ${product.title}`));
    assert.deepEqual(violations, [], 'axe: serious or critical violations');
    assert.deepEqual(errorsIn(log), [], 'the viewer logged errors');
  } finally {
    conn.close();
    await close();
    await api(env.baseUrl, 'POST', `/api/rooms/${room.id}/end`, { token: creator.token }).catch(() => {});
  }
});

test('"Remind me" follows the creator; the follower is told when they go live, with a Watch button', { timeout: 120_000 }, async () => {
  const soon = await newRoom('Glow at noon', { inMs: 3_600_000 });
  const later = await newRoom('Glow at night', { inMs: 7_200_000 });
  const { page, log, close } = await openPage(env.browser, MOBILE);
  try {
    await signUp(page, 'Ines');
    const row = page.locator(`#upcoming-rooms li[data-room="${soon.id}"]`);
    await row.getByRole('button', { name: 'Remind me when Maya Glows goes live' }).click();
    await poll('the button to say Following', async () => (await row.locator('button.follow').getAttribute('data-following')) === 'true');
    assert.equal(await text(page, `#upcoming-rooms li[data-room="${soon.id}"] button.follow`), 'Following Maya Glows');
    // Every show of that creator says so; the followed creators' shows are listed.
    assert.deepEqual(await page.$$eval(`#upcoming-rooms button.follow[data-host="${creator.account.id}"]`, (l) => [...new Set(l.map((b) => b.dataset.following))]), ['true']);
    await poll('the followed shows', () => page.$eval('#following-card', (e) => !e.hidden));
    await poll('both shows in the list', () => page.$$eval('#following-rooms li[data-room]', (l, ids) => ids.every((id) => l.some((li) => li.dataset.room === String(id))), [soon.id, later.id]));
    const violations = await axeViolations(page, 'viewer rooms, following', { restore: MOBILE });

    // In the later show's page (scheduled): the host's button says Following. It goes
    // live while watched: no alert for the room one is in.
    await page.goto(new URL(`/#/room/${later.id}`, env.baseUrl).href, { timeout: STEP_MS });
    await waitState(page, '#conn', 'ok');
    await poll('the listen connection', () => page.evaluate(() => window.livecartViewer.notices?.state === 'joined'));
    await poll('Following on the host card', async () => (await text(page, '#host-follow')) === 'Following Maya Glows');
    await api(env.baseUrl, 'POST', `/api/rooms/${later.id}/live`, { token: creator.token });
    await poll('the going_live of this room', () => page.evaluate((id) => window.livecartViewer.heard.includes(id), later.id));
    await poll('the room live', () => page.evaluate(() => window.livecartViewer.room.state.status === 'live'));
    assert.equal(await page.locator('#live-alerts li').count(), 0, 'no alert for the room being watched');

    // Back in the lobby, the other show goes live: an alert with Watch.
    await page.getByRole('link', { name: 'All rooms' }).click();
    await poll('the lobby', () => page.$eval('#view-rooms', (e) => !e.hidden));
    await api(env.baseUrl, 'POST', `/api/rooms/${soon.id}/live`, { token: creator.token });
    const alert = page.locator(`#live-alerts li[data-room="${soon.id}"]`);
    await alert.waitFor({ timeout: STEP_MS });
    assert.equal(await text(page, `#live-alerts li[data-room="${soon.id}"] p`), 'Maya Glows is live: Glow at noon');
    assert.equal(await page.locator('#live-alerts li').count(), 1);
    await poll('the show in the live list', () => page.$(`#live-rooms li[data-room="${soon.id}"]`));
    violations.push(...await axeViolations(page, 'going-live alert', { restore: MOBILE }));
    await screenshots(page, 'viewer-rooms');
    await page.setViewportSize(MOBILE);
    await alert.getByRole('link', { name: 'Watch Glow at noon' }).click();
    await poll('the room', async () => new URL(page.url()).hash === `#/room/${soon.id}`);
    await waitState(page, '#conn', 'ok');
    assert.equal(await page.locator('#live-alerts li').count(), 0, 'the alert went with the tap');

    // Tapping Following stops following.
    await page.locator('#host-follow button.follow').click();
    await poll('Follow again', async () => (await text(page, '#host-follow')) === 'Follow Maya Glows');
    const token = await page.evaluate(() => JSON.parse(localStorage.getItem('livecart.session')).token);
    assert.deepEqual(await api(env.baseUrl, 'GET', '/api/me/follows', { token }), []);
    assert.deepEqual(violations, [], 'axe: serious or critical violations');
    assert.deepEqual(errorsIn(log), [], 'the viewer logged errors');
  } finally {
    await close();
    for (const r of [soon, later]) await api(env.baseUrl, 'POST', `/api/rooms/${r.id}/end`, { token: creator.token }).catch(() => {});
  }
});

test('an ended show shows a recap: units sold, what sold, and the next show with Remind me', { timeout: 120_000 }, async () => {
  const room = await newRoom('Recap show', { live: true });
  const [first, second] = room.lineup;
  const sam = await newBuyer('Sam');
  const conn = sam.room(room.id);
  const { page, log, close } = await openPage(env.browser, DESKTOP);
  try {
    await conn.connect();
    await buy(conn, first.id, 2);
    await buy(conn, second.id, 1);
    await joinAsGuest(page, room.id, 'Guest');
    await poll('the sales so far', async () => (await text(page, '#sold-count')) === '3 sold in this show');
    await api(env.baseUrl, 'POST', `/api/rooms/${room.id}/end`, { token: creator.token });

    await poll('the recap', () => page.$eval('#recap', (e) => !e.hidden));
    assert.equal(await text(page, '#recap-units'), '3 sold in this show');
    assert.equal(await text(page, `#recap-sold li[data-product="${first.id}"] .units`), '2 sold');
    assert.equal(await text(page, `#recap-sold li[data-product="${second.id}"] .units`), '1 sold');
    const [next] = await api(env.baseUrl, 'GET', `/api/rooms?status=upcoming&host=${creator.account.id}&limit=1`);
    assert.ok(next, 'the demo creator has a show to come');
    await poll('the next show', () => page.$(`#recap-next .next-show[data-room="${next.id}"]`));
    assert.match(await text(page, '#recap-next .next-show'), new RegExp(`^${next.title}`));
    assert.equal(await page.$eval('#buy-now', (e) => e.disabled).catch(() => true), true, 'nothing to buy');
    const violations = await axeViolations(page, 'viewer recap', { restore: DESKTOP });
    await screenshots(page, 'viewer-recap');

    // A guest's Remind me: sign in, come back to the recap, following.
    await page.setViewportSize(MOBILE);
    await page.locator('#recap-next').getByRole('button', { name: 'Remind me when Maya Glows goes live' }).click();
    await poll('the sign-in form', () => page.$eval('#view-signin', (e) => !e.hidden));
    assert.equal(await text(page, '#signin-reason'), 'Sign in to be reminded when Maya Glows goes live.');
    const form = page.locator('form#signin-form');
    await form.getByLabel('E-mail').fill(DEMO.viewer.email);
    await form.getByLabel('Password').fill(DEMO.viewer.password);
    await form.getByRole('button', { name: 'Sign in' }).click();
    await poll('back in the room', async () => new URL(page.url()).hash === `#/room/${room.id}`);
    await poll('following, on the recap', async () => (await page.$eval('#recap-next button.follow', (b) => b.dataset.following).catch(() => null)) === 'true');
    const viewer = await api(env.baseUrl, 'POST', '/api/auth/login', { body: DEMO.viewer });
    const follows = await api(env.baseUrl, 'GET', '/api/me/follows', { token: viewer.token });
    assert.deepEqual(follows.map((c) => c.id), [creator.account.id]);
    await api(env.baseUrl, 'DELETE', `/api/me/follows/${creator.account.id}`, { token: viewer.token });
    violations.push(...await axeViolations(page, 'viewer recap, signed in', { restore: MOBILE }));
    assert.deepEqual(violations, [], 'axe: serious or critical violations');
    assert.deepEqual(errorsIn(log), [], 'the viewer logged errors');
  } finally {
    conn.close();
    await close();
  }
});

test('a drop that sells out in the browser shows the regular price again and no drop clock', { timeout: 120_000 }, async () => {
  const room = await newRoom('Drop show', { live: true });
  const product = room.lineup[0];
  const host = new Livecart({ baseUrl: env.baseUrl, WebSocket, token: creator.token }).room(room.id);
  const { page, log, close } = await openPage(env.browser, MOBILE);
  try {
    await host.connect();
    assert.ok(host.pin(product.id));
    await signUp(page, 'Dara');
    await page.goto(new URL(`/#/room/${room.id}`, env.baseUrl).href, { timeout: STEP_MS });
    await waitState(page, '#conn', 'ok');
    const regular = await page.evaluate((p) => window.livecartViewer.formatMoney(p.price.amount, p.price.currency), product);
    const dropPrice = await page.evaluate((p) => window.livecartViewer.formatMoney(200, p.price.currency), product);
    assert.ok(host.startDrop({ productId: product.id, quantity: 1, price: 200, durationSecs: 600 }));
    await poll('the drop on the card', () => page.$('#drop-countdown'));
    assert.equal((await text(page, '#pinned .price')).startsWith(dropPrice), true);

    await page.getByRole('button', { name: 'Buy now' }).click();
    await poll('the checkout', () => page.$eval('#cart-dialog', (e) => e.open));
    await page.getByLabel('Card number').fill(CARD_OK);
    await page.getByRole('button', { name: 'Pay now' }).click();
    await waitState(page, '#checkout-result', 'confirmed');
    await page.getByRole('button', { name: 'Close cart' }).click();

    // The drop is over: the regular price, the product's stock, no clock, still for sale.
    await poll('the drop to end on the card', async () => (await page.$('#drop-countdown')) === null);
    assert.equal(await text(page, '#pinned .price'), regular);
    assert.equal(await page.$('#pinned .price s'), null, 'no struck-through price');
    assert.equal(await text(page, '#drop-info'), 'The drop sold out: back to the regular price');
    assert.equal(await page.$('#drop-info progress'), null);
    const stock = await page.evaluate((id) => window.livecartViewer.room.state.lineup.get(id).stock, product.id);
    assert.ok(stock > 0);
    assert.match(await text(page, '#stock-left'), new RegExp(`^${stock} left`));
    assert.equal(await page.$eval('#buy-now', (e) => e.disabled), false);
    assert.equal(await text(page, '#buy-now'), 'Buy now');
    assert.ok((await text(page, `#lineup li[data-product="${product.id}"] .small`)).startsWith(`${regular} · `), 'the lineup agrees');
    const violations = await axeViolations(page, 'viewer, drop sold out', { restore: MOBILE });
    assert.deepEqual(violations, [], 'axe: serious or critical violations');
    assert.deepEqual(errorsIn(log), [], 'the viewer logged errors');
  } finally {
    host.close();
    await close();
    await api(env.baseUrl, 'POST', `/api/rooms/${room.id}/end`, { token: creator.token }).catch(() => {});
  }
});
