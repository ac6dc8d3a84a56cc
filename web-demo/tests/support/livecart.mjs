// Shared start-up for the browser and client-library tests: the livecart server on a free
// loopback port with a throwaway SQLite database and the demo data, and Chromium with a
// fake camera. Same settings as tests/video.test.mjs. Not a test file itself (it has no
// `.test.` in its name).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const WEB_DEMO = fileURLToPath(new URL('../..', import.meta.url));
export const REPO_ROOT = path.dirname(path.resolve(WEB_DEMO));
export const LIVECART_BIN = process.env.LIVECART_BIN || path.join(REPO_ROOT, 'target', 'debug', 'livecart');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
  '--allow-loopback-in-peer-connection',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const DEMO = {
  creator: { email: 'maya@demo.livecart', password: 'demo-creator-pass' },
  brand: { email: 'brand@demo.livecart', password: 'demo-brand-pass' },
  viewer: { email: 'viewer@demo.livecart', password: 'demo-viewer-pass' },
};

/** Keeps the last lines of a named source, for failure reports. */
export function remember(list, line) {
  list.push(line);
  if (list.length > 200) list.shift();
}

/**
 * Starts the livecart server alone, on a free loopback port (or `bind`), with a SQLite
 * database in `dir` (a fresh temp dir unless given: a restart passes the first run's, and
 * the demo data seeds once) and the demo data. `env` adds or overrides settings (e.g.
 * LIVECART_HISTORY). Resolves to { baseUrl, addr, dir, logs, stop({ keepDir }) };
 * `logs.server` collects the server's output. `stop()` sends SIGTERM (rooms close with
 * 1012), then SIGKILL after 5 s.
 */
export async function startServer({ env: extra = {}, bind = '127.0.0.1:0', dir, serverStartMs = 20_000, logs = { server: [] } } = {}) {
  assert.ok(existsSync(LIVECART_BIN), `${LIVECART_BIN} is missing: run \`cargo build\` first, or set LIVECART_BIN`);
  const tempDir = dir ?? await mkdtemp(path.join(tmpdir(), 'livecart-web-'));
  const env = {
    ...process.env,
    LIVECART_BIND: bind,
    LIVECART_METRICS_BIND: '127.0.0.1:0',
    LIVECART_ICE_IP: '127.0.0.1',
    DATABASE_URL: `sqlite://${path.join(tempDir, 't.db')}?mode=rwc`,
    LIVECART_SEED_DEMO: 'true',
    LIVECART_LOG_JSON: 'true',
    LIVECART_WEB_DEMO: WEB_DEMO,
    LIVECART_ARGON2_KIB: '64',
    ...extra,
  };
  delete env.REDIS_URL;
  // ICE servers only when the test asks for them (tests/relay.test.mjs), never inherited.
  for (const name of ['LIVECART_ICE_SERVERS', 'LIVECART_TURN_SECRET']) if (!(name in extra)) delete env[name];
  const server = spawn(LIVECART_BIN, ['serve'], { cwd: tempDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  createInterface({ input: server.stderr }).on('line', (line) => remember(logs.server, line));
  const lines = createInterface({ input: server.stdout });

  async function stopServer() {
    if (server.exitCode !== null || server.signalCode !== null) return;
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    const grace = new AbortController();
    const timedOut = await Promise.race([exited.then(() => false), sleep(5_000, true, { signal: grace.signal }).catch(() => false)]);
    grace.abort();
    if (timedOut) {
      server.kill('SIGKILL');
      await exited;
    }
  }

  const stop = async ({ keepDir = false } = {}) => {
    await stopServer();
    if (!keepDir && !dir) await rm(tempDir, { recursive: true, force: true });
  };

  try {
    const addr = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`no "livecart listening" line within ${serverStartMs} ms`)), serverStartMs);
      function fail(error) {
        clearTimeout(timer);
        reject(error);
      }
      server.once('error', fail);
      server.once('exit', (code, signal) => fail(new Error(`livecart exited early (code ${code}, signal ${signal})`)));
      lines.on('line', (line) => {
        remember(logs.server, line);
        let record;
        try {
          record = JSON.parse(line);
        } catch {
          return;
        }
        if (record?.fields?.message === 'livecart listening' && record.fields.addr) {
          clearTimeout(timer);
          resolve(record.fields.addr);
        }
      });
    });
    return { baseUrl: `http://${addr}`, addr, dir: tempDir, logs, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Starts livecart and Chromium. Resolves to { baseUrl, browser, logs, stop() }.
 * `logs.server` collects the server's output; `env` adds server settings.
 */
export async function startLivecart({ serverStartMs = 20_000, env = {} } = {}) {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium, or set CHROMIUM_PATH`);
  const server = await startServer({ serverStartMs, env });
  let browser;
  const stop = async () => {
    await browser?.close().catch(() => {});
    await server.stop();
  };
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
    return { baseUrl: server.baseUrl, browser, logs: server.logs, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Calls `check` until it returns a truthy value, which it returns; fails after `timeoutMs`. */
export async function poll(what, check, { timeoutMs = 20_000, intervalMs = 200 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const last = await check();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** JSON request to the server; fails the test on a non-2xx answer. */
export async function api(baseUrl, method, route, { body, token } = {}) {
  const headers = {};
  if (body) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(new URL(route, baseUrl), {
    method,
    headers,
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${route} answered ${response.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

/** framesDecoded of the page's exposed `window.livecartPeer` (0 when none). */
export function framesDecoded(page) {
  return page.evaluate(async () => {
    const pc = window.livecartPeer;
    if (!pc) return 0;
    const report = await pc.getStats();
    const inbound = [...report.values()].find((s) => s.type === 'inbound-rtp' && s.kind === 'video');
    return inbound?.framesDecoded ?? 0;
  });
}

/** The two sizes every page is tried at. */
export const MOBILE = { width: 390, height: 844 };
export const DESKTOP = { width: 1440, height: 900 };

/**
 * A page in a browser context of its own (its own storage, so its own session), with its
 * console watched: { page, log, close() }.
 */
export async function openPage(browser, viewport) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const log = [];
  watchConsole(page, log);
  return { page, log, close: () => context.close() };
}

/** The console errors and uncaught page errors among what `watchConsole` kept. */
export const errorsIn = (log) => log.filter((l) => /^\[(error|pageerror)\]/.test(l));

/** Forwards a page's console and errors into `list`. */
export function watchConsole(page, list) {
  page.on('console', (message) => remember(list, `[${message.type()}] ${message.text()}`));
  page.on('pageerror', (error) => remember(list, `[pageerror] ${error.message}`));
}

const AXE = path.join(WEB_DEMO, 'node_modules', 'axe-core', 'axe.min.js');
const PHONE_AND_DESKTOP = [MOBILE, DESKTOP];

/**
 * Runs axe-core (the npm package pinned in package-lock.json, injected into the page) on
 * `page` at phone and desktop sizes, and resolves to its serious and critical violations
 * as lines "label@390: rule-id (targets)". Leaves the page at `restore` size.
 */
export async function axeViolations(page, label, { sizes = PHONE_AND_DESKTOP, restore } = {}) {
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.addScriptTag({ path: AXE });
  const found = [];
  for (const size of sizes) {
    await page.setViewportSize(size);
    await sleep(250);
    const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
    for (const v of result.violations) {
      if (v.impact !== 'serious' && v.impact !== 'critical') continue;
      found.push(`${label}@${size.width}: ${v.id} (${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')})`);
    }
  }
  if (restore) await page.setViewportSize(restore);
  return found;
}

/** Where the browser tests save their screenshots (README.md shows them). */
export const SHOTS = path.join(WEB_DEMO, 'screenshots');

/**
 * Saves `name-390x844.png` and `name-1440x900.png` of the page (not when
 * LIVECART_SCREENSHOTS=0), with the element `show` (a selector) scrolled into view at
 * each size when given; leaves the page at desktop size.
 */
export async function screenshots(page, name, { show } = {}) {
  if (process.env.LIVECART_SCREENSHOTS === '0') return;
  await mkdir(SHOTS, { recursive: true });
  for (const size of PHONE_AND_DESKTOP) {
    await page.setViewportSize(size);
    if (show) await page.locator(show).evaluate((e) => e.scrollIntoView());
    await sleep(300);
    await page.screenshot({ path: path.join(SHOTS, `${name}-${size.width}x${size.height}.png`) });
  }
}

/** Fills the viewer app's sign-up form (the page shows it) and waits to be signed in. */
export async function fillSignUp(page, name) {
  const form = page.locator('form#signup-form');
  await form.getByLabel('Name others see').fill(name);
  await form.getByLabel('E-mail').fill(`${name.toLowerCase()}-${randomUUID()}@example.com`);
  await form.getByLabel(/^Password/).fill('a-long-passphrase');
  await form.getByRole('button', { name: 'Create account' }).click();
  await poll('signed in', () => page.$eval('#who', (e, n) => e.textContent === `Signed in as ${n}`, name));
}

/** An element's text with white space collapsed. */
export const textOf = (page, selector) => page.$eval(selector, (e) => e.textContent.replace(/\s+/g, ' ').trim());

/** Waits until the element's `data-state` is `state`; fails at once when it says `error`. */
export async function waitState(page, selector, state, { timeoutMs = 20_000 } = {}) {
  return poll(`${selector} to be ${state}`, async () => {
    const { s, text: t } = await page.$eval(selector, (e) => ({ s: e.dataset.state, text: e.textContent })).catch(() => ({}));
    assert.notEqual(s, 'error', `${selector} reported: ${t}`);
    return s === state;
  }, { timeoutMs });
}

/** Signs the demo creator in to the studio at `baseUrl` and opens the room titled `title`. */
export async function openStudio(page, baseUrl, title, { timeoutMs = 20_000 } = {}) {
  await page.goto(new URL('/studio.html', baseUrl).href, { timeout: timeoutMs });
  const form = page.locator('form#signin-form');
  await form.getByLabel('E-mail').fill(DEMO.creator.email);
  await form.getByLabel('Password').fill(DEMO.creator.password);
  await form.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: `Open ${title}` }).click({ timeout: timeoutMs });
  await waitState(page, '#conn', 'ok', { timeoutMs });
}
