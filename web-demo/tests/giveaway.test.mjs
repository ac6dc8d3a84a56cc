// A giveaway through the apps, in Chromium against the real server: the host starts one in
// the studio for their followers; one viewer is told to follow first and does so from the
// giveaway card, another starts as a guest and signs up from its "Sign in to enter"; both
// enter; the host ends the show, which draws at once; every page shows the winner, the
// winner's says "You won!", and Verify recomputes the draw in the browser and shows it
// verified. No console errors; axe-core at phone and desktop size. Saves the giveaway
// screenshots. Timings are never asserted: ending the show is what closes the entries.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, axeViolations, DEMO, DESKTOP, errorsIn, fillSignUp, MOBILE, openPage, poll, screenshots, startLivecart, textOf as text, waitState } from './support/livecart.mjs';

const STEP_MS = 20_000;
const PRIZE = 'A signed Glow Serum';

let env;
let creator;

before(async () => {
  env = await startLivecart();
  creator = await api(env.baseUrl, 'POST', '/api/auth/login', { body: DEMO.creator });
}, { timeout: 60_000 });

after(async () => {
  await env?.stop();
}, { timeout: 30_000 });

test('a giveaway: started in the studio, entered by two viewers, drawn when the show ends, verified by each', { timeout: 180_000 }, async () => {
  const demo = (await api(env.baseUrl, 'GET', '/api/rooms?status=live')).find((r) => r.host.id === creator.account.id);
  const created = await api(env.baseUrl, 'POST', '/api/rooms', {
    token: creator.token,
    body: { title: 'Giveaway show', starts_at: Date.now() + 60_000, product_ids: demo.lineup.map((p) => p.id) },
  });
  await api(env.baseUrl, 'POST', `/api/rooms/${created.id}/live`, { token: creator.token });
  const roomUrl = new URL(`/#/room/${created.id}`, env.baseUrl).href;
  const studio = await openPage(env.browser, DESKTOP);
  const sam = await openPage(env.browser, MOBILE);
  const ana = await openPage(env.browser, DESKTOP);
  const violations = [];
  try {
    // The host starts a giveaway for their followers.
    const s = studio.page;
    await s.goto(new URL('/studio.html', env.baseUrl).href, { timeout: STEP_MS });
    const form = s.locator('form#signin-form');
    await form.getByLabel('E-mail').fill(DEMO.creator.email);
    await form.getByLabel('Password').fill(DEMO.creator.password);
    await form.getByRole('button', { name: 'Sign in' }).click();
    await s.getByRole('button', { name: 'Open Giveaway show' }).click({ timeout: STEP_MS });
    await waitState(s, '#conn', 'ok');
    await s.getByLabel('Prize').fill(PRIZE);
    await s.getByLabel('Who may enter').selectOption('followers');
    await s.getByLabel('Entries close after (seconds)').fill('600');
    await s.getByRole('button', { name: 'Start giveaway' }).click();
    await poll('the open giveaway in the studio', () => s.$eval('#giveaway-now', (e) => e.dataset.state === 'open' && !e.hidden));
    assert.match(await s.$eval('#giveaway-now', (e) => e.innerText), new RegExp(`^${PRIZE} · open to your followers\\s+Entries close in \\d+:\\d\\d`));
    assert.equal(await s.$eval('#giveaway-form', (e) => e.hidden), true, 'one giveaway at a time');
    violations.push(...await axeViolations(s, 'studio, giveaway open', { restore: DESKTOP }));

    // Sam, signed in, is not a follower: told to follow, follows from the card, enters.
    const p1 = sam.page;
    await p1.goto(new URL('/#/signup', env.baseUrl).href, { timeout: STEP_MS });
    await fillSignUp(p1, 'Sam');
    await p1.goto(roomUrl, { timeout: STEP_MS });
    await waitState(p1, '#conn', 'ok');
    await poll('the giveaway card', () => p1.$eval('#giveaway', (e) => !e.hidden && e.dataset.state === 'open'));
    assert.equal(await text(p1, '#giveaway .prize'), PRIZE);
    assert.match(await text(p1, '#giveaway-body'), /For Maya Glows's followers · ends in \d+:\d\d/);
    await p1.getByRole('button', { name: 'Enter giveaway' }).click();
    await poll('the reason', async () => (await text(p1, '#giveaway-why').catch(() => '')) === 'Follow Maya Glows to enter');
    violations.push(...await axeViolations(p1, 'viewer, not eligible', { restore: MOBILE }));
    await p1.locator('#giveaway').getByRole('button', { name: 'Follow Maya Glows' }).click();
    await poll('Enter again, once following', async () => (await p1.$('#giveaway-why')) === null);
    await p1.getByRole('button', { name: 'Enter giveaway' }).click();
    await poll('entered', async () => /^You're in! 1 entry so far$/.test(await text(p1, '#giveaway-entered').catch(() => '')));

    // Ana comes as a guest: "Sign in to enter", creates an account, comes back, follows, enters.
    const p2 = ana.page;
    await p2.goto(roomUrl, { timeout: STEP_MS });
    await p2.getByLabel('Your name').fill('Ana guest');
    await p2.getByRole('button', { name: 'Continue as guest' }).click();
    await waitState(p2, '#conn', 'ok');
    await p2.getByRole('button', { name: 'Sign in to enter' }).click();
    await poll('the sign-in view', () => p2.$eval('#view-signin', (e) => !e.hidden));
    await p2.getByRole('link', { name: 'Create an account' }).click();
    await poll('the sign-up view', () => p2.$eval('#view-signup', (e) => !e.hidden));
    await fillSignUp(p2, 'Ana');
    await poll('back in the room', async () => new URL(p2.url()).hash === `#/room/${created.id}`);
    await waitState(p2, '#conn', 'ok');
    await p2.locator('#host-follow').getByRole('button', { name: 'Follow Maya Glows' }).click();
    await poll('following', async () => (await text(p2, '#host-follow')) === 'Following Maya Glows');
    await p2.getByRole('button', { name: 'Enter giveaway' }).click();
    await poll('entered', async () => /^You're in! 2 entries so far$/.test(await text(p2, '#giveaway-entered').catch(() => '')));
    violations.push(...await axeViolations(p2, 'viewer, entered', { restore: DESKTOP }));
    await screenshots(p2, 'viewer-giveaway-open');
    await p2.setViewportSize(DESKTOP);

    // The host ends the show: the giveaway is drawn at once.
    await s.locator('#end-room').click();
    await s.locator('#end-dialog').getByRole('button', { name: 'End the show' }).click();
    const id = await p1.evaluate(() => window.livecartViewer.room.state.entered.id);
    const record = await poll('the draw', async () => {
      const view = await api(env.baseUrl, 'GET', `/api/giveaways/${id}`);
      return view.status === 'drawn' ? view : null;
    });
    assert.equal(record.entries.length, 2);
    const winnerName = record.winner.display_name;
    const [winner, loser] = winnerName === 'Sam' ? [p1, p2] : [p2, p1];
    assert.ok(['Sam', 'Ana'].includes(winnerName));

    await poll('the winner in the studio', async () => (await text(s, '#giveaway-now').catch(() => '')) === `${winnerName} won ${PRIZE} (2 entries).`);
    await poll('"You won!" for the winner', async () => (await text(winner, '#giveaway-winner').catch(() => '')) === `You won! ${PRIZE} is yours.`);
    await poll('the winner for the others', async () => (await text(loser, '#giveaway-winner').catch(() => '')) === `${winnerName} won ${PRIZE}`);
    for (const page of [winner, loser]) {
      await poll('the recap', () => page.$eval('#recap', (e) => !e.hidden));
      assert.equal(await page.$eval('#giveaway', (e) => e.closest('#recap') !== null && !e.hidden), true, 'the result is in the recap');
      await page.getByText('Verify the draw').click();
      await poll('verified', () => page.$eval('#giveaway-verdict', (e) => e.dataset.state === 'verified').catch(() => false));
      const shown = await page.$$eval('#giveaway-verify dd', (l) => l.map((e) => e.textContent));
      assert.deepEqual(shown.slice(0, 3), [record.commitment, record.seed, '2']);
    }
    violations.push(...await axeViolations(winner, 'viewer, won and verified', { restore: MOBILE }));
    violations.push(...await axeViolations(loser, 'viewer, drawn and verified', { restore: DESKTOP }));
    violations.push(...await axeViolations(s, 'studio, drawn', { restore: DESKTOP }));
    await screenshots(winner, 'viewer-giveaway');

    assert.deepEqual(violations, [], 'axe: serious or critical violations');
    for (const [name, { log }] of Object.entries({ studio, sam, ana })) assert.deepEqual(errorsIn(log), [], `the ${name} page logged errors`);
  } finally {
    await Promise.all([studio, sam, ana].map((p) => p.close()));
    await api(env.baseUrl, 'POST', `/api/rooms/${created.id}/end`, { token: creator.token }).catch(() => {});
  }
});
