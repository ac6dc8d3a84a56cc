// End to end: a creator publishes Chromium's fake camera over WHIP from live/publish.html,
// a viewer watches it over WHEP in live/watch.html, and the viewer's decoder must keep
// producing frames.
//
// Needs the server already built (`cargo build`, or LIVECART_BIN=path) and Chromium at
// /usr/bin/chromium (or CHROMIUM_PATH=path). Everything runs on 127.0.0.1.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEMO, WEB_DEMO, remember, startLivecart } from './support/livecart.mjs';

const RESULTS = path.join(WEB_DEMO, 'test-results');

const CREATOR = DEMO.creator;

const STEP_MS = 20_000;
const SAMPLE_GAP_MS = 2_000;

/** Lines the server and pages printed, shown when a step fails. */
const logs = { server: [], publisher: [], viewer: [] };

let env;
let browser;
let baseUrl;

async function api(method, route, body) {
  const response = await fetch(new URL(route, baseUrl), {
    method,
    headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${route} answered ${response.status}: ${text}`);
  return JSON.parse(text);
}

/** Calls `check` until it returns a truthy value, which it returns; fails after `timeoutMs`. */
async function poll(what, check, { timeoutMs = STEP_MS, intervalMs = 200 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await check();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** The page's status element as { state, text }. */
function readStatus(page) {
  return page.evaluate(() => {
    const element = document.getElementById('status');
    return { state: element.dataset.state, text: element.textContent };
  });
}

/** Waits until the page's status is `wanted`; fails at once if it shows an error. */
async function waitForStatus(page, wanted) {
  return poll(`status "${wanted}"`, async () => {
    const status = await readStatus(page);
    assert.notEqual(status.state, 'error', `page reported: ${status.text}`);
    return status.state === wanted && status;
  });
}

/** Stats of the page's exposed peer connection, reduced to what the test looks at. */
function peerStats(page) {
  return page.evaluate(async () => {
    const pc = window.livecartPeer;
    if (!pc) return null;
    const report = await pc.getStats();
    const all = [...report.values()];
    const byId = new Map(all.map((s) => [s.id, s]));
    const rtp = (type, kind) => all.find((s) => s.type === type && s.kind === kind) ?? null;
    const inbound = rtp('inbound-rtp', 'video');
    const outboundVideo = rtp('outbound-rtp', 'video');
    const outboundAudio = rtp('outbound-rtp', 'audio');
    const transport = all.find((s) => s.type === 'transport');
    const pair = transport?.selectedCandidatePairId ? byId.get(transport.selectedCandidatePairId) : null;
    return {
      framesDecoded: inbound?.framesDecoded ?? 0,
      inboundCodec: inbound?.codecId ? byId.get(inbound.codecId)?.mimeType : null,
      videoFramesSent: outboundVideo?.framesSent ?? 0,
      outboundCodec: outboundVideo?.codecId ? byId.get(outboundVideo.codecId)?.mimeType : null,
      audioPacketsSent: outboundAudio?.packetsSent ?? 0,
      localAddress: pair ? byId.get(pair.localCandidateId)?.address : null,
      remoteAddress: pair ? byId.get(pair.remoteCandidateId)?.address : null,
    };
  });
}

function watchConsole(page, list) {
  page.on('console', (message) => remember(list, `[${message.type()}] ${message.text()}`));
  page.on('pageerror', (error) => remember(list, `[pageerror] ${error.message}`));
}

/** Prints what the server and pages logged, and saves screenshots to test-results/. */
async function reportFailure(pages) {
  for (const [name, lines] of Object.entries(logs)) {
    if (lines.length) console.error(`--- last ${name} lines ---\n${lines.slice(-40).join('\n')}`);
  }
  await mkdir(RESULTS, { recursive: true });
  for (const [name, page] of Object.entries(pages)) {
    const file = path.join(RESULTS, `video-${name}.png`);
    const saved = await page?.screenshot({ path: file, timeout: 5_000 }).then(() => true, () => false);
    if (saved) console.error(`screenshot: ${file}`);
  }
}

before(async () => {
  env = await startLivecart();
  ({ baseUrl, browser } = env);
  logs.server = env.logs.server;
}, { timeout: 60_000 });

after(async () => {
  await env?.stop();
}, { timeout: 30_000 });

test('a viewer decodes the video a creator publishes', { timeout: 120_000 }, async () => {
  const pages = {};
  try {
    const { token, account } = await api('POST', '/api/auth/login', CREATOR);
    const rooms = await api('GET', '/api/rooms?status=live');
    const room = rooms.find((r) => r.host?.id === account.id);
    assert.ok(room, `no live room hosted by ${CREATOR.email}`);

    const publisherContext = await browser.newContext();
    const viewerContext = await browser.newContext();
    const publisher = await publisherContext.newPage();
    const viewer = await viewerContext.newPage();
    Object.assign(pages, { publisher, viewer });
    watchConsole(publisher, logs.publisher);
    watchConsole(viewer, logs.viewer);

    const publishUrl = new URL('/live/publish.html', baseUrl);
    publishUrl.hash = new URLSearchParams({ room: String(room.id), token }).toString();
    await publisher.goto(publishUrl.href, { waitUntil: 'domcontentloaded', timeout: STEP_MS });
    await waitForStatus(publisher, 'live');

    // The server announces the stream on its first track, which may be the audio one: wait
    // until both are flowing, so the viewer is offered the video as well.
    const sent = await poll('the publisher to send audio and video', async () => {
      const stats = await peerStats(publisher);
      return stats && stats.videoFramesSent > 0 && stats.audioPacketsSent > 0 && stats;
    });
    await sleep(250); // for the server to take in the packets it was just sent

    const watchUrl = new URL('/live/watch.html', baseUrl);
    watchUrl.hash = new URLSearchParams({ room: String(room.id) }).toString();
    await viewer.goto(watchUrl.href, { waitUntil: 'domcontentloaded', timeout: STEP_MS });
    await poll('the viewer video to play', () =>
      viewer.evaluate(() => {
        const video = document.getElementById('video');
        return video.readyState >= 2 && !video.paused && video.videoWidth > 0 && video.currentTime > 0;
      }),
    );
    await waitForStatus(viewer, 'playing');

    const first = await peerStats(viewer);
    await sleep(SAMPLE_GAP_MS);
    const second = await peerStats(viewer);
    console.log(
      `publisher sends ${sent.outboundCodec}; viewer decodes ${second.inboundCodec}: ` +
        `framesDecoded ${first.framesDecoded} -> ${second.framesDecoded} over ${SAMPLE_GAP_MS} ms; ` +
        `viewer pair ${second.localAddress} -> ${second.remoteAddress}`,
    );
    assert.ok(
      second.framesDecoded > first.framesDecoded,
      `framesDecoded did not increase (${first.framesDecoded} -> ${second.framesDecoded})`,
    );
    assert.equal(second.remoteAddress, '127.0.0.1', 'the viewer should reach the server on loopback');

    // Stopping deletes the WHIP session on the server.
    await publisher.getByRole('button', { name: 'Stop' }).click({ timeout: STEP_MS });
    await waitForStatus(publisher, 'stopped');

    await publisherContext.close();
    await viewerContext.close();
  } catch (error) {
    await reportFailure(pages);
    throw error;
  }
});
