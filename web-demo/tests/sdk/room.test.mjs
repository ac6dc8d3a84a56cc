// The client library's room connection against the real server: joining as a guest and
// with an account, chat, resuming after a lost connection with every event exactly once,
// reset snapshots, gap detection, the end of a session (4001), refused joins, and the
// host's actions. Run: `cargo build`, then `node --test tests/sdk/` (in web-demo/).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LivecartError } from '../../sdk/index.js';
import { client, closeAll, commentTexts, DEMO, demoClient, newLiveRoom, newViewer, next, recordEvents, relay, sleep, until, withDemoServer } from './helpers.mjs';

let server;
let demo;
withDemoServer((started, room) => {
  server = started;
  demo = room;
});

/** Posts comments from `talker` one by one; resolves once `witness` has seen each. */
async function say(talker, witness, texts) {
  for (const text of texts) {
    const seen = next(witness, 'comment', (c) => c.text === text);
    assert.ok(talker.comment(text), `sent "${text}"`);
    await seen;
  }
}

test('a guest joins with a name and gets the room in a snapshot', async () => {
  const room = client(server.baseUrl).room(demo.id, { guestName: 'Guest SDK' });
  try {
    const states = [];
    room.on('state', (s) => states.push(s));
    const reply = await room.connect();
    assert.equal(reply.type, 'snapshot');
    assert.equal(reply.reset, false);
    assert.deepEqual(states, ['connecting', 'joined']);
    assert.equal(room.lastSeq, reply.seq);
    assert.equal(room.epoch, reply.epoch);
    assert.equal(room.room.you.display_name, 'Guest SDK');
    assert.equal(room.room.you.account_id, null);
    assert.equal(room.room.cart, null, 'guests have no cart');
    assert.equal(room.room.status, 'live');
    assert.equal(room.room.lineup.size, demo.lineup.length);
  } finally {
    room.close();
  }
  assert.equal(room.state, 'closed');
});

test('an account joins with its token, and its cart comes with the snapshot', async () => {
  const lc = await demoClient(server.baseUrl, DEMO.viewer);
  const room = lc.room(demo.id);
  try {
    const reply = await room.connect();
    assert.equal(reply.type, 'snapshot');
    assert.equal(reply.you.display_name, 'Sam');
    assert.equal(reply.you.role, 'viewer');
    assert.ok(Number.isInteger(reply.you.account_id));
    assert.ok(reply.cart && Array.isArray(reply.cart.lines));
  } finally {
    room.close();
  }
});

test('a comment goes round: the sender and another viewer get the same event', async () => {
  const guest = client(server.baseUrl).room(demo.id, { guestName: 'Chatty' });
  const viewer = (await newViewer(server.baseUrl, 'Reader')).room(demo.id);
  try {
    await Promise.all([guest.connect(), viewer.connect()]);
    const atViewer = next(viewer, 'comment', (c) => c.text === 'hello from the sdk');
    const atGuest = next(guest, 'comment', (c) => c.text === 'hello from the sdk');
    assert.equal(guest.comment('  hello from the sdk  '), true);
    const [[comment, meta], [own, ownMeta]] = await Promise.all([atViewer, atGuest]);
    assert.equal(comment.author, 'Chatty');
    assert.equal(comment.speaker, 'guest');
    assert.equal(meta.seq, ownMeta.seq);
    assert.equal(meta.replay, false);
    assert.deepEqual(own, comment);
    assert.equal(viewer.room.comments.at(-1).text, 'hello from the sdk');
  } finally {
    closeAll(guest, viewer);
  }
});

test('after a lost connection it resumes with since: the events in between arrive exactly once', async () => {
  const lc = client(server.baseUrl);
  const watcher = lc.room(demo.id, { guestName: 'Watcher', reconnect: { initialDelayMs: 1500, jitter: 0 } });
  const talker = lc.room(demo.id, { guestName: 'Talker' });
  try {
    const seen = recordEvents(watcher);
    await Promise.all([watcher.connect(), talker.connect()]);
    const texts = [];
    const post = async (list) => {
      texts.push(...list);
      await say(talker, talker, list);
    };
    await post(['before 1', 'before 2']);
    await until('the watcher to see the first comments', () => commentTexts(seen).length === 2);
    const lastBefore = watcher.lastSeq;

    let seqAtResumed = null;
    watcher.on('resumed', () => {
      seqAtResumed = watcher.lastSeq;
    });
    const reconnecting = next(watcher, 'reconnecting');
    const resumed = next(watcher, 'resumed', () => true, 15_000);
    const caughtUp = next(watcher, 'caught_up', () => true, 15_000);
    watcher.socket.terminate(); // the network drops: no close frame
    const [info] = await reconnecting;
    assert.equal(info.code, 1006);
    assert.equal(watcher.state, 'reconnecting');
    await post(['while away 1', 'while away 2', 'while away 3']);

    const [reply] = await resumed;
    assert.equal(reply.since, lastBefore);
    assert.equal(reply.seq, lastBefore + 3);
    assert.equal(seqAtResumed, lastBefore, 'the last seq seen stays at since until the replay');
    await caughtUp;
    assert.equal(watcher.state, 'joined');
    await post(['after 1', 'after 2']);
    await until('the watcher to see every comment', () => commentTexts(seen).length === texts.length);
    await sleep(300); // nothing more, nothing twice

    assert.deepEqual(commentTexts(seen), texts);
    const seqs = seen.map((e) => e.seq);
    assert.deepEqual(seqs, seqs.map((_, i) => seqs[0] + i), 'seqs go up by one, none missing, none twice');
    assert.deepEqual(seen.filter((e) => e.replay).map((e) => e.event.text), ['while away 1', 'while away 2', 'while away 3']);
    assert.equal(watcher.lastJoinReply, 'resumed');
    assert.equal(watcher.gaps, 0);
    assert.equal(watcher.link.connections, 2);
  } finally {
    closeAll(watcher, talker);
  }
});

test('a resume the server cannot honour starts again from a reset snapshot', async () => {
  const lc = client(server.baseUrl);
  const stale = lc.room(demo.id, { guestName: 'Stale', since: 3, epoch: 'an-epoch-long-gone' });
  try {
    const reply = await stale.connect();
    assert.equal(reply.type, 'snapshot');
    assert.equal(reply.reset, true);
    assert.equal(stale.epoch, reply.epoch);
    assert.equal(stale.lastSeq, reply.seq);
  } finally {
    stale.close();
  }

  // Away for longer than the history (16 events here): what was missed is gone.
  const watcher = lc.room(demo.id, { guestName: 'Away', reconnect: { initialDelayMs: 1500, jitter: 0 } });
  const talker = lc.room(demo.id, { guestName: 'Talker' });
  try {
    const seen = recordEvents(watcher);
    const snapshots = [];
    watcher.on('snapshot', (s) => snapshots.push(s));
    await Promise.all([watcher.connect(), talker.connect()]);
    await say(talker, watcher, ['before the gap']);
    const fresh = next(watcher, 'snapshot', (s) => s.reset, 15_000);
    watcher.socket.terminate();
    const missed = Array.from({ length: 20 }, (_, i) => `missed ${i + 1}`);
    await say(talker, talker, missed);
    const [snapshot] = await fresh;
    assert.equal(snapshots.length, 2);
    assert.equal(watcher.lastJoinReply, 'snapshot');
    assert.equal(watcher.lastSeq, snapshot.seq);
    assert.equal(watcher.room.comments.at(-1).text, 'missed 20', 'the room is rebuilt from the snapshot');
    await say(talker, watcher, ['after the reset']);
    assert.deepEqual(commentTexts(seen), ['before the gap', 'after the reset'], 'missed events are never replayed after a reset');
    assert.equal(seen.at(-1).seq, snapshot.seq + 1);
    assert.equal(watcher.gaps, 0);
  } finally {
    closeAll(watcher, talker);
  }
});

test('a sequence gap is detected, and a resync brings the missing event exactly once', async () => {
  let dropped = 0;
  const line = await relay(server.baseUrl, {
    dropFromServer: (frame) => {
      const lose = frame.type === 'event' && frame.event.text === 'lost in transit' && dropped === 0;
      if (lose) dropped += 1;
      return lose;
    },
  });
  const lc = client(server.baseUrl);
  const watcher = lc.room(demo.id, { guestName: 'Gappy', url: line.url });
  const talker = lc.room(demo.id, { guestName: 'Talker' });
  try {
    const seen = recordEvents(watcher);
    const gaps = [];
    watcher.on('gap', (g) => gaps.push(g));
    await Promise.all([watcher.connect(), talker.connect()]);
    const start = watcher.lastSeq;
    const resumed = next(watcher, 'resumed');
    await say(talker, talker, ['first', 'lost in transit', 'third']);
    await resumed;
    await until('all three comments', () => commentTexts(seen).length === 3);
    assert.deepEqual(gaps, [{ expected: start + 2, received: start + 3, action: 'resync' }]);
    assert.equal(dropped, 1);
    assert.deepEqual(commentTexts(seen), ['first', 'lost in transit', 'third']);
    assert.deepEqual(seen.map((e) => e.seq), [start + 1, start + 2, start + 3]);
    assert.equal(line.connections, 2, 'one resync connection');
  } finally {
    closeAll(watcher, talker);
    await line.close();
  }
});

test('with onGap "report" a gap is reported and the connection carries on', async () => {
  let dropped = 0;
  const line = await relay(server.baseUrl, {
    dropFromServer: (frame) => {
      const lose = frame.type === 'event' && frame.event.text === 'gone' && dropped === 0;
      if (lose) dropped += 1;
      return lose;
    },
  });
  const lc = client(server.baseUrl);
  const watcher = lc.room(demo.id, { guestName: 'Reporter', url: line.url, onGap: 'report' });
  const talker = lc.room(demo.id, { guestName: 'Talker' });
  try {
    const seen = recordEvents(watcher);
    await Promise.all([watcher.connect(), talker.connect()]);
    const start = watcher.lastSeq;
    const gap = next(watcher, 'gap');
    await say(talker, talker, ['one', 'gone', 'three']);
    const [info] = await gap;
    assert.deepEqual(info, { expected: start + 2, received: start + 3, action: 'report' });
    await until('the third comment', () => commentTexts(seen).includes('three'));
    assert.deepEqual(commentTexts(seen), ['one', 'three']);
    assert.equal(watcher.lastSeq, start + 3);
    assert.equal(line.connections, 1);
  } finally {
    closeAll(watcher, talker);
    await line.close();
  }
});

test('a session that ends (close 4001) is not reconnected; resume with a new token picks up where it was', async () => {
  const lc = await demoClient(server.baseUrl, DEMO.viewer);
  const room = lc.room(demo.id, { reconnect: { initialDelayMs: 100 } });
  const talker = client(server.baseUrl).room(demo.id, { guestName: 'Talker' });
  try {
    await Promise.all([room.connect(), talker.connect()]);
    const ended = next(room, 'session_ended');
    await lc.api.request('POST', '/api/auth/logout'); // the session's sockets close with 4001
    const [info] = await ended;
    assert.equal(info.code, 4001);
    assert.match(info.reason, /sign in again/);
    assert.equal(room.state, 'session_ended');
    await say(talker, talker, ['said while signed out']);
    await sleep(800);
    assert.equal(room.link.connections, 1, 'no reconnect with a dead token');

    const again = await lc.login(DEMO.viewer.email, DEMO.viewer.password);
    const seen = recordEvents(room);
    const reply = await room.resume({ token: again.token });
    assert.equal(reply.type, 'resumed');
    await until('the comment said while signed out', () => commentTexts(seen).includes('said while signed out'));
    assert.equal(seen[0].replay, true);
  } finally {
    closeAll(room, talker);
  }
});

test('a refused join fails at once: no reconnect', async () => {
  const room = client(server.baseUrl).room(987654, { guestName: 'Lost' });
  const errors = [];
  room.on('error', (e) => errors.push(e.code));
  await assert.rejects(room.connect(), (error) => error instanceof LivecartError && error.code === 'not_found');
  assert.equal(room.state, 'failed');
  assert.deepEqual(errors, ['not_found']);
  await sleep(600);
  assert.equal(room.link.connections, 1);
  room.close();

  // A guest name over 40 characters is refused while decoding (no `request`): still a refused join.
  const long = client(server.baseUrl).room(demo.id, { guestName: 'x'.repeat(41) });
  await assert.rejects(long.connect(), (error) => error.code === 'invalid_input');
  assert.equal(long.state, 'failed');
  long.close();
});

test('the host pins, starts a drop, unpins and ends the room; viewers see each, and view_product answers', async () => {
  const { room: card, creator } = await newLiveRoom(server.baseUrl, 'Host actions');
  const [first, second] = card.lineup;
  const host = creator.room(card.id);
  const viewerClient = await newViewer(server.baseUrl, 'Fan');
  const viewer = viewerClient.room(card.id);
  try {
    const [hostSnap] = await Promise.all([host.connect(), viewer.connect()]);
    assert.equal(hostSnap.you.is_host, true);

    const pinned = next(viewer, 'pinned');
    assert.ok(host.pin(first.id));
    const [pin] = await pinned;
    assert.equal(pin.product.id, first.id);
    assert.equal(viewer.room.pinnedProduct.id, first.id);

    const forbidden = next(viewer, 'error', (e) => e.request === 'pin');
    viewer.pin(second.id);
    assert.equal((await forbidden)[0].code, 'forbidden');

    const started = next(viewer, 'drop_started');
    host.startDrop({ productId: first.id, quantity: 3, price: 500, durationSecs: 60 });
    const [drop] = await started;
    assert.deepEqual({ product: drop.drop.product_id, quantity: drop.drop.quantity, price: drop.drop.price.amount }, { product: first.id, quantity: 3, price: 500 });
    assert.equal(viewer.room.runningDrop(first.id)?.id, drop.drop.id);

    const product = await viewer.viewProduct(second.id);
    assert.equal(product.id, second.id);
    assert.ok(product.description.length > 0);
    await assert.rejects(viewer.viewProduct(999_999), (e) => e.code === 'not_in_lineup' && e.request === 'view_product');

    const unpinned = next(viewer, 'unpinned');
    host.unpin();
    await unpinned;
    assert.equal(viewer.room.pinned, null);

    const dropEnded = next(viewer, 'drop_ended');
    const roomEnded = next(viewer, 'room_ended');
    host.endRoom();
    await Promise.all([dropEnded, roomEnded]);
    assert.equal(viewer.room.status, 'ended');
    assert.equal(viewer.room.drop, null);
  } finally {
    closeAll(host, viewer);
  }
});
