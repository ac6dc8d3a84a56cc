// The show around the show, through the client library against the real server: a late
// joiner's snapshot carries what sold and how the room reacted; following a creator
// ("Remind me") with the REST helpers; and the `listen` connection that hears a followed
// creator go live (as room connections of the same account do).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, LivecartError } from '../../sdk/index.js';
import { client, closeAll, DEMO, demoClient, newLiveRoom, newViewer, next, until, withDemoServer } from './helpers.mjs';

let server;
let demo;
withDemoServer((started, room) => {
  server = started;
  demo = room;
});

/** A room of the demo creator scheduled an hour from now: { room, creator, creatorId }. */
async function scheduledRoom(title) {
  const creator = await demoClient(server.baseUrl, DEMO.creator);
  const creatorId = (await creator.api.me()).id;
  const room = await creator.api.request('POST', '/api/rooms', {
    body: { title, starts_at: Date.now() + 3_600_000, product_ids: demo.lineup.map((p) => p.id) },
  });
  return { room, creator, creatorId };
}

test('a late joiner\'s snapshot carries the show so far: recent sales newest first, units sold, reactions', async () => {
  const { room } = await newLiveRoom(server.baseUrl, 'Show so far');
  const product = room.lineup[0];
  const buyer = await newViewer(server.baseUrl, 'Sam');
  const first = buyer.room(room.id);
  try {
    await first.connect();
    const before = Date.now();
    for (const quantity of [2, 1]) {
      assert.ok(first.cartAdd(product.id, quantity));
      await next(first, 'cart', (cart) => cart.lines.length === 1);
      await first.checkout({ card: '4242 4242 4242 4242' }).result;
    }
    assert.ok(first.react('heart'));
    assert.ok(first.react('fire'));
    await until('the reaction tick', () => first.room.reactions.heart >= 1 && first.room.reactions.fire >= 1);

    const late = client(server.baseUrl).room(room.id, { guestName: 'Late' });
    try {
      const snapshot = await late.connect();
      assert.equal(snapshot.type, 'snapshot');
      assert.equal(snapshot.units_sold, 3);
      assert.deepEqual(snapshot.recent_sales.map((s) => [s.buyer, s.product_id, s.title, s.quantity]),
        [['Sam', product.id, product.title, 1], ['Sam', product.id, product.title, 2]], 'newest first');
      for (const sale of snapshot.recent_sales) assert.ok(sale.at >= before - 1_000 && sale.at <= Date.now() + 1_000, `at ${sale.at} is when it was paid`);
      assert.ok(snapshot.recent_sales[0].at >= snapshot.recent_sales[1].at);
      assert.deepEqual(snapshot.reaction_totals, { heart: 1, fire: 1 });
      // The library's room state starts from them.
      assert.equal(late.room.unitsSold, 3);
      assert.deepEqual(late.room.recentSales.map((s) => s.quantity), [1, 2]);
      assert.equal(late.room.reactions.heart, 1);
      // A sale while the late joiner watches: `at` on the event, counted on top.
      const seen = next(late, 'sale');
      assert.ok(first.cartAdd(product.id, 1));
      await next(first, 'cart', (cart) => cart.lines.length === 1);
      await first.checkout({ card: '4242 4242 4242 4242' }).result;
      const [sale, meta] = await seen;
      assert.ok(Number.isInteger(sale.at) && sale.at >= snapshot.recent_sales[0].at);
      assert.equal(late.room.unitsSold, 4);
      assert.equal(late.room.recentSales[0].seq, meta.seq);
    } finally {
      late.close();
    }
  } finally {
    first.close();
  }
});

test('following a creator: idempotent, counted in followers, listed with their shows; unfollowing undoes it', async () => {
  const { room, creator, creatorId } = await scheduledRoom('Follow me');
  const viewer = await newViewer(server.baseUrl, 'Fan');
  const followers = async () => (await viewer.api.room(room.id)).host.followers;
  const before = await followers();
  assert.deepEqual(await viewer.api.follows(), []);
  assert.deepEqual(await viewer.api.upcoming(), []);

  await viewer.api.follow(creatorId);
  await viewer.api.follow(creatorId);
  assert.equal(await followers(), before + 1, 'following twice counts once');
  const follows = await viewer.api.follows();
  assert.deepEqual(follows.map((c) => [c.id, c.display_name]), [[creatorId, 'Maya Glows']]);
  assert.equal(follows[0].followers, before + 1);
  const upcoming = await viewer.api.upcoming();
  assert.ok(upcoming.some((r) => r.id === room.id), 'the new show is in the follower\'s list');
  assert.ok(upcoming.every((r) => r.host.id === creatorId && r.status !== 'ended'));
  const live = upcoming.findIndex((r) => r.status === 'live');
  const scheduled = upcoming.findIndex((r) => r.status === 'scheduled');
  assert.ok(live === -1 || live < scheduled, 'live rooms first');
  const starts = upcoming.filter((r) => r.status === 'scheduled').map((r) => r.starts_at);
  assert.deepEqual(starts, [...starts].sort((a, b) => a - b), 'then by start time');

  // One creator's next show: the `host` filter.
  const nextShow = await viewer.api.rooms({ status: 'upcoming', host: creatorId, limit: 1 });
  assert.equal(nextShow.length, 1);
  assert.equal(nextShow[0].host.id, creatorId);
  assert.deepEqual(await viewer.api.rooms({ status: 'upcoming', host: 999_999 }), []);

  await viewer.api.unfollow(creatorId);
  await viewer.api.unfollow(creatorId);
  assert.equal(await followers(), before);
  assert.deepEqual(await viewer.api.follows(), []);
  assert.deepEqual(await viewer.api.upcoming(), []);

  // Nobody follows themselves, or a creator who does not exist.
  await assert.rejects(creator.api.follow(creatorId), (e) => e instanceof ApiError && e.status === 400 && e.code === 'invalid_input');
  await assert.rejects(viewer.api.follow(999_999), (e) => e instanceof ApiError && e.status === 404 && e.code === 'not_found');
  await assert.rejects(client(server.baseUrl).api.follows(), (e) => e instanceof ApiError && e.status === 401);
});

test('a follower hears the creator go live on a listen connection and in a room, once each; others do not', async () => {
  const a = await scheduledRoom('Going live A');
  const b = await scheduledRoom('Going live B');
  const fan = await newViewer(server.baseUrl, 'Fan');
  const other = await newViewer(server.baseUrl, 'Other');
  await fan.api.follow(a.creatorId);
  const notices = fan.notices();
  const otherNotices = other.notices();
  const inRoom = fan.room(demo.id);
  try {
    const states = [];
    notices.on('state', (s) => states.push(s));
    const listening = await notices.connect();
    assert.equal(listening.account_id, (await fan.api.me()).id);
    assert.deepEqual(states, ['connecting', 'joined']);
    await otherNotices.connect();
    await inRoom.connect();
    const announced = [];
    notices.on('going_live', (card) => announced.push(card.id));
    const heard = next(notices, 'going_live');
    const heardInRoom = next(inRoom, 'going_live');
    const otherHeard = next(otherNotices, 'going_live');

    await a.creator.api.goLive(a.room.id);
    const [card] = await heard;
    assert.equal(card.id, a.room.id);
    assert.equal(card.status, 'live');
    assert.equal(card.title, 'Going live A');
    assert.equal(card.host.id, a.creatorId);
    assert.equal((await heardInRoom)[0].id, a.room.id);

    // The other viewer follows only now: the first going_live they hear is B's, not A's.
    await other.api.follow(b.creatorId);
    await b.creator.api.goLive(b.room.id);
    assert.equal((await otherHeard)[0].id, b.room.id);
    await until('B on the fan\'s connection', () => announced.includes(b.room.id));
    assert.deepEqual(announced, [a.room.id, b.room.id], 'each room once');

    // Ending the session closes the connection with 4001: no reconnect.
    const ended = next(notices, 'session_ended');
    await fan.api.logout();
    assert.equal((await ended)[0].code, 4001);
    assert.equal(notices.state, 'session_ended');
  } finally {
    closeAll(notices, otherNotices, inRoom);
    await a.creator.api.endRoom(a.room.id).catch(() => {});
    await b.creator.api.endRoom(b.room.id).catch(() => {});
  }
});

test('listen is refused without a valid session', async () => {
  const notices = client(server.baseUrl).notices({ token: 'not-a-session-token' });
  try {
    await assert.rejects(notices.connect(), (e) => e instanceof LivecartError && e.code === 'unauthenticated');
    assert.equal(notices.state, 'failed');
  } finally {
    notices.close();
  }
  assert.throws(() => client(server.baseUrl).notices(), TypeError, 'no token, no notices');
});
