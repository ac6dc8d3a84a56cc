// Giveaways in the client library: verifyDraw recomputes a draw by docs/protocol.md 4.14
// (checked against SHA-256 computed here with node:crypto, not with the library's code),
// RoomState folds the open giveaway and the last draw, and against the real server a host
// opens a giveaway, viewers enter, the show ends, and the draw verifies.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { RoomState, verifyDraw } from '../../sdk/index.js';
import { client, closeAll, newLiveRoom, newViewer, next, until, withDemoServer } from './helpers.mjs';

const sha256 = (...parts) => createHash('sha256').update(Buffer.concat(parts.map((p) => Buffer.from(p)))).digest();

/** The known vector: seed bytes 0, 1, …, 31 and entries 3, 5, 12. */
const SEED = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const ENTRIES = [3, 5, 12];
// Independently of the library: the first 8 bytes of SHA-256(seed ‖ "3,5,12"), big-endian, mod 3.
const EXPECTED_INDEX = Number(sha256(SEED, '3,5,12').readBigUInt64BE(0) % 3n);

function record(overrides = {}) {
  return {
    commitment: sha256(SEED).toString('hex'),
    seed: SEED.toString('hex'),
    entries: ENTRIES,
    winner: { account_id: ENTRIES[EXPECTED_INDEX], display_name: 'Sam' },
    ...overrides,
  };
}

test('verifyDraw confirms a draw made by the documented rule', async () => {
  const check = await verifyDraw(record());
  assert.deepEqual(check, { verified: true, commitmentMatches: true, index: EXPECTED_INDEX, expectedWinner: ENTRIES[EXPECTED_INDEX], problem: null });
  // An upper-case commitment is the same hash.
  assert.equal((await verifyDraw(record({ commitment: sha256(SEED).toString('hex').toUpperCase() }))).verified, true);
});

test('verifyDraw refuses a seed that is not the committed one, another winner, and a malformed record', async () => {
  const other = Buffer.alloc(32, 7);
  const wrongSeed = await verifyDraw(record({ seed: other.toString('hex') }));
  assert.equal(wrongSeed.verified, false);
  assert.equal(wrongSeed.commitmentMatches, false);
  assert.match(wrongSeed.problem, /commitment/);

  const loser = ENTRIES.find((_, i) => i !== EXPECTED_INDEX);
  const wrongWinner = await verifyDraw(record({ winner: { account_id: loser, display_name: 'Ana' } }));
  assert.equal(wrongWinner.verified, false);
  assert.equal(wrongWinner.commitmentMatches, true);
  assert.equal(wrongWinner.expectedWinner, ENTRIES[EXPECTED_INDEX]);

  assert.equal((await verifyDraw(record({ entries: [12, 5, 3] }))).verified, false, 'entries must be ascending');
  assert.equal((await verifyDraw(record({ seed: 'abc' }))).verified, false);
  assert.match((await verifyDraw(record({ seed: null, entries: null, winner: null }))).problem, /not drawn/);
  // No entries, no winner: that draw holds.
  assert.equal((await verifyDraw(record({ entries: [], winner: null }))).verified, true);
  assert.equal((await verifyDraw(record({ entries: [], winner: { account_id: 3, display_name: 'x' } }))).verified, false);
});

test('RoomState keeps the open giveaway and the last draw, with the card it closed', () => {
  const card = { id: 4, prize: 'A signed Glow Serum', entry: 'followers', commitment: 'ab'.repeat(32), closes_at: 2_000 };
  const state = new RoomState();
  state.applySnapshot({
    type: 'snapshot', room: { id: 7, title: 't', status: 'live', starts_at: 1, co_host: null, disclosure: null, host: { id: 3, display_name: 'Maya', followers: 1, tier: 'nano' } },
    lineup: [], pinned: null, drop: null, giveaway: card, comments: [], viewers: 1, streaming: false, cart: null,
    you: { display_name: 'Sam', account_id: 12, role: 'viewer', is_host: false },
    recent_sales: [], units_sold: 0, reaction_totals: {}, seq: 10, epoch: 'e', reset: false,
  });
  assert.deepEqual(state.giveaway, card);
  state.applyMessage({ type: 'giveaway_entered', giveaway_id: 4, entries: 2 });
  assert.deepEqual(state.entered, { id: 4, entries: 2 });
  const winner = { account_id: 12, display_name: 'Sam' };
  state.applyEvent({ kind: 'giveaway_drawn', giveaway_id: 4, seed: 'cd'.repeat(32), entries: 2, winner }, 11);
  assert.equal(state.giveaway, null);
  assert.deepEqual(state.lastDraw, { giveaway_id: 4, seed: 'cd'.repeat(32), entries: 2, winner, giveaway: card, seq: 11 });
  state.applyEvent({ kind: 'giveaway_started', giveaway: { ...card, id: 5 } }, 12);
  assert.equal(state.giveaway.id, 5);
  assert.equal(state.lastDraw.giveaway_id, 4, 'the last draw stays until the next');
});

let baseUrl;
withDemoServer((server) => {
  baseUrl = server.baseUrl;
});

test('a host opens a giveaway, viewers enter, the show ends and anyone can verify the draw', { timeout: 60_000 }, async () => {
  const { room, creator } = await newLiveRoom(baseUrl, 'SDK giveaway');
  const sam = await newViewer(baseUrl, 'Sam');
  const ana = await newViewer(baseUrl, 'Ana');
  const guest = client(baseUrl).room(room.id, { guestName: 'Guest' });
  const host = creator.room(room.id);
  const rooms = [sam.room(room.id), ana.room(room.id)];
  try {
    await Promise.all([host, guest, ...rooms].map((r) => r.connect()));
    const card = await host.startGiveaway({ prize: 'A signed Glow Serum', entry: 'signed_in', durationSecs: 600 });
    assert.equal(card.prize, 'A signed Glow Serum');
    assert.match(card.commitment, /^[0-9a-f]{64}$/);
    await assert.rejects(host.startGiveaway({ prize: 'Another', entry: 'signed_in', durationSecs: 60 }), { code: 'giveaway_running' });
    await assert.rejects(host.enterGiveaway(card.id), { code: 'not_eligible' });

    await until('every viewer to see the giveaway', () => [guest, ...rooms].every((r) => r.room.giveaway?.id === card.id));
    await assert.rejects(guest.enterGiveaway(card.id), { code: 'unauthenticated' });
    const first = await rooms[0].enterGiveaway(card.id);
    assert.deepEqual(first, { type: 'giveaway_entered', giveaway_id: card.id, entries: 1 });
    assert.equal((await rooms[1].enterGiveaway(card.id)).entries, 2);
    assert.equal((await rooms[0].enterGiveaway(card.id)).entries, 2, 'entering again changes nothing');
    assert.deepEqual(rooms[0].room.entered, { id: card.id, entries: 2 });

    const drawn = next(rooms[1], 'giveaway_drawn');
    assert.ok(host.endRoom());
    const [event] = await drawn;
    assert.equal(event.entries, 2);
    assert.ok(['Sam', 'Ana'].includes(event.winner.display_name));
    assert.equal(rooms[1].room.giveaway, null);
    assert.equal(rooms[1].room.lastDraw.giveaway.prize, 'A signed Glow Serum');

    const view = await ana.api.giveaway(card.id);
    assert.equal(view.status, 'drawn');
    assert.equal(view.seed, event.seed);
    const check = await verifyDraw(view);
    assert.equal(check.verified, true, check.problem);
    assert.equal(check.expectedWinner, event.winner.account_id);
    await assert.rejects(rooms[0].enterGiveaway(card.id), { code: 'giveaway_closed' });
  } finally {
    closeAll(host, guest, ...rooms);
  }
});
