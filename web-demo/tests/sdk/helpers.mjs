// Shared by the client library's tests: the real livecart server (tests/support), accounts,
// waiting for events with a bound, and a WebSocket relay that can lose a frame or cut the
// line, for what a real network does and a server never does on purpose. Not a test file.

import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket, { WebSocketServer } from 'ws';
import { Livecart } from '../../sdk/index.js';
import { DEMO, startServer } from '../support/livecart.mjs';

export { DEMO, WebSocket, sleep };

/** Server settings for these tests: a short history (so a reset is cheap to cause), no comment rate limit worth the name, quick ticks. */
export const SDK_SERVER_ENV = {
  LIVECART_HISTORY: '16',
  LIVECART_COMMENT_BURST: '1000',
  LIVECART_TICK_MS: '250',
};

/** Starts the server for a test file: { baseUrl, stop, logs, … } (see tests/support). */
export function startSdkServer(options = {}) {
  return startServer({ ...options, env: { ...SDK_SERVER_ENV, ...options.env } });
}

/**
 * One server with the demo data for the whole test file: started before its tests, stopped
 * after them. `ready(server, demoRoom)` receives the server and the demo room once started.
 */
export function withDemoServer(ready) {
  let server;
  before(async () => {
    server = await startSdkServer();
    ready(server, await demoRoom(server.baseUrl));
  }, { timeout: 60_000 });
  after(async () => {
    await server?.stop();
  }, { timeout: 30_000 });
}

/** A client of `baseUrl` with Node's WebSocket from the `ws` package. */
export function client(baseUrl, options = {}) {
  return new Livecart({ baseUrl, WebSocket, ...options });
}

/** A client signed in as one of the demo accounts. */
export async function demoClient(baseUrl, who) {
  const lc = client(baseUrl);
  await lc.login(who.email, who.password);
  return lc;
}

/** A client signed in as a new viewer account of its own (a cart and keys nobody else shares). */
export async function newViewer(baseUrl, name = 'Tester') {
  const lc = client(baseUrl);
  const email = `sdk-${randomUUID()}@test.livecart`;
  const session = await lc.api.request('POST', '/api/auth/register', {
    body: { email, password: 'sdk-test-password', display_name: name, role: 'viewer' },
    token: null,
  });
  lc.token = session.token;
  return lc;
}

/** The demo's live room (hosted by the demo creator). */
export async function demoRoom(baseUrl) {
  const rooms = await client(baseUrl).api.rooms({ status: 'live' });
  const room = rooms.find((r) => r.host.display_name === 'Maya Glows') ?? rooms[0];
  assert.ok(room, 'the demo seeds a live room');
  return room;
}

/** A new live room of the demo creator with the demo lineup: { room, creator } (creator is a signed-in client). */
export async function newLiveRoom(baseUrl, title = 'SDK test room') {
  const creator = await demoClient(baseUrl, DEMO.creator);
  const demo = await demoRoom(baseUrl);
  const room = await creator.api.request('POST', '/api/rooms', {
    body: { title, starts_at: Date.now() + 60_000, product_ids: demo.lineup.map((p) => p.id) },
  });
  await creator.api.goLive(room.id);
  return { room: await creator.api.room(room.id), creator };
}

/**
 * Resolves with the arguments of the next `type` event of `emitter` that passes `filter`;
 * fails after `timeoutMs`.
 */
export async function next(emitter, type, filter = () => true, timeoutMs = 10_000) {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    return await emitter.once(type, { filter, signal });
  } catch (error) {
    if (signal.aborted) throw new Error(`no "${type}" event within ${timeoutMs} ms`);
    throw error;
  }
}

/** Calls `check` until it returns a truthy value, which it returns; fails after `timeoutMs`. */
export async function until(what, check, { timeoutMs = 10_000, intervalMs = 50 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Records a connection's room events as { seq, replay, event } in arrival order. */
export function recordEvents(room) {
  const seen = [];
  room.on('event', (event, meta) => seen.push({ ...meta, event }));
  return seen;
}

/** The texts of the comment events recorded. */
export const commentTexts = (seen) => seen.filter((e) => e.event.kind === 'comment').map((e) => e.event.text);

/**
 * A WebSocket relay in front of the server's /ws: each client connection gets its own
 * upstream connection, and every frame passes through unchanged unless `dropFromServer`
 * (called with the parsed server frame) says to lose it. `cutAll()` closes every relayed
 * connection abruptly (no close frame), as a network failure does. Resolves to
 * { url, connections, cutAll(), close() }.
 */
export async function relay(baseUrl, { dropFromServer = () => false } = {}) {
  const upstreamUrl = new URL('/ws', baseUrl).href.replace(/^http/, 'ws');
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => server.once('listening', resolve));
  const pairs = new Set();
  let connections = 0;
  server.on('connection', (downstream) => {
    connections += 1;
    const upstream = new WebSocket(upstreamUrl);
    const pending = [];
    const pair = { downstream, upstream };
    pairs.add(pair);
    upstream.on('open', () => pending.splice(0).forEach((m) => upstream.send(m)));
    downstream.on('message', (data, binary) => {
      const frame = binary ? data : data.toString();
      if (upstream.readyState === WebSocket.OPEN) upstream.send(frame);
      else pending.push(frame);
    });
    upstream.on('message', (data) => {
      const text = data.toString();
      let parsed = null;
      try {
        parsed = JSON.parse(text);
      } catch {
        // Relay it as it is.
      }
      if (parsed && dropFromServer(parsed)) return;
      if (downstream.readyState === WebSocket.OPEN) downstream.send(text);
    });
    const end = (from, to) => (code) => {
      pairs.delete(pair);
      if (to.readyState === WebSocket.OPEN) {
        if (code >= 1000 && code < 5000 && code !== 1005 && code !== 1006) to.close(code);
        else to.terminate();
      }
    };
    upstream.on('close', end(upstream, downstream));
    downstream.on('close', end(downstream, upstream));
    upstream.on('error', () => downstream.terminate());
    downstream.on('error', () => upstream.terminate());
  });
  const { port } = server.address();
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    get connections() {
      return connections;
    },
    cutAll() {
      for (const { downstream, upstream } of pairs) {
        downstream.terminate();
        upstream.terminate();
      }
      pairs.clear();
    },
    close() {
      this.cutAll();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Closes connections (rooms, feeds) whatever happened, for `finally` blocks. */
export function closeAll(...connections) {
  for (const c of connections) c?.close();
}
