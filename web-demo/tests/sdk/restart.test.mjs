// The server restarts under a joined viewer: it closes the room with 1012, the library
// reconnects with since/epoch once the server is back (same address, same database), and
// since the embedded server's room history lived in memory, the answer is a snapshot with
// `reset: true` and a new epoch, from which the room is rebuilt.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { client, commentTexts, demoRoom, next, recordEvents, startSdkServer } from './helpers.mjs';

test('close 1012 (server restarting): reconnect, and take the reset snapshot of the new epoch', { timeout: 90_000 }, async () => {
  let server = await startSdkServer();
  const { addr, dir } = server;
  const lc = client(server.baseUrl);
  const demo = await demoRoom(server.baseUrl);
  const watcher = lc.room(demo.id, { guestName: 'Night owl', reconnect: { initialDelayMs: 200, maxDelayMs: 1000, maxAttempts: 60 } });
  try {
    const seen = recordEvents(watcher);
    const first = await watcher.connect();
    const said = next(watcher, 'comment');
    watcher.comment('before the restart');
    await said;

    const reconnecting = next(watcher, 'reconnecting');
    const fresh = next(watcher, 'snapshot', (s) => s.reset, 60_000);
    await server.stop({ keepDir: true });
    const [info] = await reconnecting;
    assert.equal(info.code, 1012);
    assert.equal(info.attempt, 1);
    assert.ok(info.delayMs <= 2000, 'the first attempt comes within the restart window');

    server = await startSdkServer({ bind: addr, dir });
    const [snapshot] = await fresh;
    assert.notEqual(snapshot.epoch, first.epoch);
    assert.equal(watcher.epoch, snapshot.epoch);
    assert.equal(watcher.lastSeq, snapshot.seq);
    assert.equal(watcher.state, 'joined');
    assert.equal(watcher.room.status, 'live');

    const after = next(watcher, 'comment');
    watcher.comment('after the restart');
    const [, meta] = await after;
    assert.equal(meta.seq, snapshot.seq + 1);
    assert.deepEqual(commentTexts(seen), ['before the restart', 'after the restart']);
    assert.equal(watcher.gaps, 0);
  } finally {
    watcher.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
