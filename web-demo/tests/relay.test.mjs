// Video through a TURN relay in Chromium: Debian's coturn on loopback, livecart handing out
// time-limited TURN credentials (GET /api/ice), a creator publishing the fake camera from
// live/publish.html, and a viewer in the viewer app (index.html) whose browser may use its
// relay and nothing else (iceTransportPolicy "relay", as for a phone behind carrier NAT).
// The viewer must decode frames, and its selected candidate pair must be the relay.
//
// The relay policy is the only thing the test adds to the page (an init script wraps
// RTCPeerConnection); the ICE servers are the ones the app asked the server for, so
// without them the viewer has no candidate at all and the test fails.
//
// coturn: LIVECART_TEST_COTURN (the `turnserver` program; .ci/coturn installs it, .ci/test
// sets it), else `turnserver` on the PATH. Without either the test is skipped loudly,
// unless CI is set: then it fails. Everything runs on 127.0.0.1.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, DEMO, api, poll, remember, startServer, watchConsole } from './support/livecart.mjs';

const STEP_MS = 20_000;
const SECRET = 'livecart-browser-turn-secret';
const logs = { server: [], coturn: [], publisher: [], viewer: [] };

/** The turnserver program, or null when there is none and this is not CI. */
function coturnProgram() {
  if (process.env.LIVECART_TEST_COTURN) return process.env.LIVECART_TEST_COTURN;
  const found = (process.env.PATH ?? '').split(path.delimiter).map((dir) => path.join(dir, 'turnserver')).find((p) => existsSync(p));
  if (found) return found;
  if (process.env.CI) throw new Error('CI must run the TURN relay test: install coturn (`bash .ci/coturn`) and set LIVECART_TEST_COTURN');
  return null;
}

const program = coturnProgram();
if (!program) {
  console.error('\n==== SKIPPED: the browser TURN relay test needs coturn (LIVECART_TEST_COTURN, or turnserver on the PATH; `bash .ci/coturn`) ====\n');
}

/** A port free on 127.0.0.1 (TCP; coturn takes UDP and TCP on it). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function startCoturn() {
  const dir = await mkdtemp(path.join(tmpdir(), 'livecart-coturn-'));
  const port = await freePort();
  const child = spawn(program, [
    '-n', '-v', '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1', `--listening-port=${port}`,
    '--no-tls', '--no-dtls', '--no-cli', '--no-rfc5780', '--no-software-attribute', '--fingerprint',
    '--use-auth-secret', `--static-auth-secret=${SECRET}`, '--realm=livecart.test',
    // livecart's media address is on 127.0.0.1 too.
    '--allow-loopback-peers',
    '--log-file=stdout', '--simple-log', `--pidfile=${path.join(dir, 'turnserver.pid')}`, `--db=${path.join(dir, 'turndb')}`,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => chunk.split('\n').filter(Boolean).forEach((line) => remember(logs.coturn, line)));
  }
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(3_000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await poll('coturn to listen', () => new Promise((resolve) => {
      assert.equal(child.exitCode, null, `coturn exited:\n${logs.coturn.join('\n')}`);
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => { socket.destroy(); resolve(true); });
      socket.once('error', () => resolve(false));
    }), { timeoutMs: STEP_MS, intervalMs: 100 });
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `turn:127.0.0.1:${port}`, stop };
}

let coturn;
let server;
let browser;

before(async () => {
  if (!program) return;
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium, or set CHROMIUM_PATH`);
  coturn = await startCoturn();
  server = await startServer({ env: { LIVECART_ICE_SERVERS: coturn.url, LIVECART_TURN_SECRET: SECRET }, logs });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
}, { timeout: 60_000 });

after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
  await coturn?.stop();
}, { timeout: 30_000 });

/** The viewer's stats: frames decoded, packets received, and the selected pair's candidate types. */
function relayStats(page) {
  return page.evaluate(async () => {
    const pc = window.livecartPeer;
    if (!pc) return null;
    const all = [...(await pc.getStats()).values()];
    const byId = new Map(all.map((s) => [s.id, s]));
    const inbound = all.find((s) => s.type === 'inbound-rtp' && s.kind === 'video');
    const transport = all.find((s) => s.type === 'transport');
    const pair = transport?.selectedCandidatePairId ? byId.get(transport.selectedCandidatePairId) : null;
    const local = pair ? byId.get(pair.localCandidateId) : null;
    const remote = pair ? byId.get(pair.remoteCandidateId) : null;
    return {
      policy: pc.getConfiguration().iceTransportPolicy,
      iceServers: pc.getConfiguration().iceServers?.length ?? 0,
      framesDecoded: inbound?.framesDecoded ?? 0,
      packetsReceived: inbound?.packetsReceived ?? 0,
      local: local ? `${local.candidateType} ${local.address}:${local.port} (${local.relayProtocol ?? '-'})` : null,
      localType: local?.candidateType ?? null,
      remote: remote ? `${remote.candidateType} ${remote.address}:${remote.port}` : null,
    };
  });
}

test('a viewer whose browser may only use the TURN relay watches the stream through it', { timeout: 120_000, skip: !program }, async () => {
  const pages = {};
  try {
    const { baseUrl } = server;
    const { token, account } = await api(baseUrl, 'POST', '/api/auth/login', { body: DEMO.creator });
    const rooms = await api(baseUrl, 'GET', '/api/rooms?status=live');
    const room = rooms.find((r) => r.host?.id === account.id);
    assert.ok(room, `no live room hosted by ${DEMO.creator.email}`);

    const publisher = await (await browser.newContext()).newPage();
    watchConsole(publisher, logs.publisher);
    pages.publisher = publisher;
    const publishUrl = new URL('/live/publish.html', baseUrl);
    publishUrl.hash = new URLSearchParams({ room: String(room.id), token }).toString();
    await publisher.goto(publishUrl.href, { waitUntil: 'domcontentloaded', timeout: STEP_MS });
    await poll('the publisher to be live', () => publisher.$eval('#status', (e) => e.dataset.state === 'live'));

    const viewerContext = await browser.newContext();
    await viewerContext.addInitScript(() => {
      const Native = window.RTCPeerConnection;
      window.RTCPeerConnection = class extends Native {
        constructor(configuration = {}) {
          super({ ...configuration, iceTransportPolicy: 'relay' });
        }
      };
    });
    const viewer = await viewerContext.newPage();
    watchConsole(viewer, logs.viewer);
    pages.viewer = viewer;
    await viewer.goto(new URL('/', baseUrl).href, { timeout: STEP_MS });
    await viewer.getByLabel('Your name').fill('Relay Viewer');
    await viewer.getByRole('button', { name: 'Continue as guest' }).click();
    await viewer.getByRole('link', { name: `Watch ${room.title}` }).click({ timeout: STEP_MS });

    const first = await poll('relayed video to be decoded', async () => {
      const stats = await relayStats(viewer);
      return stats && stats.framesDecoded > 0 && stats.localType && stats;
    }, { timeoutMs: 40_000 });
    await sleep(2_000);
    const second = await relayStats(viewer);
    console.log(`viewer (policy ${second.policy}, ${second.iceServers} ICE server entries from /api/ice): ` +
      `${second.local} -> ${second.remote}; packets ${second.packetsReceived}; framesDecoded ${first.framesDecoded} -> ${second.framesDecoded}`);
    assert.equal(second.policy, 'relay');
    assert.equal(second.localType, 'relay', `the selected pair goes through the relay: ${second.local} -> ${second.remote}`);
    assert.ok(second.packetsReceived > 0, 'packets arrived');
    assert.ok(second.framesDecoded > first.framesDecoded, `framesDecoded rises (${first.framesDecoded} -> ${second.framesDecoded})`);
    assert.ok(logs.coturn.some((l) => l.includes('ALLOCATE processed, success')), 'coturn allocated the relay');
    await viewerContext.close();
  } catch (error) {
    for (const [name, lines] of Object.entries(logs)) {
      if (lines.length) console.error(`--- last ${name} lines ---\n${lines.slice(-40).join('\n')}`);
    }
    throw error;
  }
});
