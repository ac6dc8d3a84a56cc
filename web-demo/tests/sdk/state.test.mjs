// RoomState folding the show so far without a server: the snapshot's recent sales, units
// sold and reaction totals, and the frames that follow it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RoomState } from '../../sdk/index.js';

const EUR = (amount) => ({ amount, currency: 'EUR' });

/** A snapshot of a live room with one product and the show so far. */
function snapshot(overrides = {}) {
  return {
    type: 'snapshot',
    room: {
      id: 7, title: 'Spring glow edit', status: 'live', starts_at: 1, co_host: null, disclosure: null,
      host: { id: 3, display_name: 'Maya', followers: 10, tier: 'nano' },
    },
    lineup: [{ id: 5, brand_id: 2, title: 'Dew Drop Serum', image_url: '', price: EUR(2900), stock: 40 }],
    pinned: 5,
    drop: null,
    comments: [],
    viewers: 3,
    streaming: false,
    cart: null,
    you: { display_name: 'Late', account_id: null, role: null, is_host: false },
    recent_sales: [
      { buyer: 'Sam', product_id: 5, title: 'Dew Drop Serum', quantity: 2, at: 2_000 },
      { buyer: 'Ana', product_id: 5, title: 'Dew Drop Serum', quantity: 1, at: 1_000 },
    ],
    units_sold: 37,
    reaction_totals: { heart: 12, fire: 3 },
    seq: 40,
    epoch: 'e1',
    reset: false,
    ...overrides,
  };
}

/** A `sale` event. */
function sale(buyer, quantity, extra = {}) {
  return { kind: 'sale', buyer, product_id: 5, title: 'Dew Drop Serum', quantity, stock_left: 30, at: 3_000, ...extra };
}

test('a late joiner starts from the show so far: recent sales newest first, units sold, reaction totals', () => {
  const state = new RoomState();
  state.applySnapshot(snapshot());
  assert.deepEqual(state.recentSales.map((s) => [s.buyer, s.quantity, s.at]), [['Sam', 2, 2_000], ['Ana', 1, 1_000]]);
  assert.equal(state.unitsSold, 37);
  assert.equal(state.unitsSeen, 0);
  assert.deepEqual(state.reactions, { heart: 12, fire: 3, clap: 0, laugh: 0, wow: 0 });
});

test('sales after the snapshot go on top of its list and add to units sold', () => {
  const state = new RoomState();
  state.applySnapshot(snapshot());
  state.applyEvent(sale('Rin', 3), 41);
  assert.equal(state.unitsSold, 40);
  assert.equal(state.unitsSeen, 3);
  assert.deepEqual(state.recentSales.map((s) => s.buyer), ['Rin', 'Sam', 'Ana']);
  assert.deepEqual(state.recentSales[0], { buyer: 'Rin', product_id: 5, title: 'Dew Drop Serum', quantity: 3, stock_left: 30, at: 3_000, seq: 41 });
  assert.equal(state.lineup.get(5).stock, 30);
});

test('the recent sales keep the newest maxSales', () => {
  const state = new RoomState({ maxSales: 3 });
  state.applySnapshot(snapshot());
  state.applyEvent(sale('Rin', 1), 41);
  state.applyEvent(sale('Ode', 1), 42);
  assert.deepEqual(state.recentSales.map((s) => s.buyer), ['Ode', 'Rin', 'Sam']);
});

test('reaction ticks add to the snapshot\'s totals', () => {
  const state = new RoomState();
  state.applySnapshot(snapshot());
  state.applyMessage({ type: 'reactions', counts: { heart: 2, wow: 1 } });
  assert.deepEqual(state.reactions, { heart: 14, fire: 3, clap: 0, laugh: 0, wow: 1 });
});

test('a reset snapshot replaces the show so far, and what was seen since the last one', () => {
  const state = new RoomState();
  state.applySnapshot(snapshot());
  state.applyEvent(sale('Rin', 3), 41);
  state.applyMessage({ type: 'reactions', counts: { heart: 5 } });
  state.applySnapshot(snapshot({
    recent_sales: [{ buyer: 'Rin', product_id: 5, title: 'Dew Drop Serum', quantity: 3, at: 3_000 }],
    units_sold: 40,
    reaction_totals: { heart: 17 },
    seq: 60,
    reset: true,
  }));
  assert.equal(state.unitsSold, 40, 'not 43: the snapshot counts Rin\'s sale already');
  assert.equal(state.unitsSeen, 0);
  assert.deepEqual(state.recentSales.map((s) => s.buyer), ['Rin']);
  assert.deepEqual(state.reactions, { heart: 17, fire: 0, clap: 0, laugh: 0, wow: 0 });
});

test('a snapshot from a server without the show so far starts empty, and units sold unknown', () => {
  const state = new RoomState();
  const old = snapshot();
  delete old.recent_sales;
  delete old.units_sold;
  delete old.reaction_totals;
  state.applySnapshot(old);
  assert.deepEqual(state.recentSales, []);
  assert.equal(state.unitsSold, null);
  state.applyEvent(sale('Rin', 2), 41);
  assert.equal(state.unitsSold, null);
  assert.equal(state.unitsSeen, 2);
  assert.deepEqual(state.reactions, { heart: 0, fire: 0, clap: 0, laugh: 0, wow: 0 });
});

test('a drop that sells out ends at once: no running drop, the catalogue price again', () => {
  const state = new RoomState();
  state.applySnapshot(snapshot({ drop: { id: 9, product_id: 5, quantity: 2, remaining: 2, price: EUR(500), ends_at: Date.now() + 60_000 } }));
  assert.ok(state.runningDrop(5));
  state.applyEvent(sale('Rin', 1, { drop_left: 1 }), 41);
  assert.equal(state.runningDrop(5)?.remaining, 1);
  state.applyEvent(sale('Ode', 1, { drop_left: 0 }), 42);
  assert.equal(state.runningDrop(5), null);
  assert.equal(state.drop, null);
});
