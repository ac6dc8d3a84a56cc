// The client library's cart, checkout and sales feed against the real server, with the
// built-in test cards (README, "Test cards"): one idempotency key per purchase, reused by
// every retry until the purchase ends, whether the provider was unavailable or the
// connection was lost while the payment ran.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LivecartError } from '../../sdk/index.js';
import { closeAll, DEMO, demoClient, newViewer, next, until, withDemoServer } from './helpers.mjs';

const CARD = {
  ok: '4242 4242 4242 4242',
  declined: '4000000000000002',
  unavailableOnce: '4000000000000119',
  answerLost: '4000000000000077',
  slow: '4000000000004954',
};

let server;
let demo;
withDemoServer((started, room) => {
  server = started;
  demo = room;
});

/** A new viewer joined to the demo room with one unit of `product` in the cart. */
async function shopper(name, product = demo.lineup[1], options = {}) {
  const lc = await newViewer(server.baseUrl, name);
  const room = lc.room(demo.id, options);
  await room.connect();
  const cart = next(room, 'cart');
  assert.ok(room.cartAdd(product.id, 1));
  await cart;
  const keys = [];
  room.on('sent', (m) => {
    if (m.type === 'checkout') keys.push(m.idempotency_key);
  });
  return { lc, room, keys };
}

/** The buyer's orders made with `key`, from the REST API. */
async function ordersWithKey(lc, key) {
  return (await lc.api.orders()).filter((o) => o.idempotency_key === key);
}

test('cart helpers change the cart and each change is answered with the whole cart', async () => {
  const lc = await newViewer(server.baseUrl, 'Cart');
  const room = lc.room(demo.id);
  const [a, b] = demo.lineup;
  try {
    await room.connect();
    let reply = next(room, 'cart');
    room.cartAdd(a.id, 2);
    assert.deepEqual((await reply)[0].lines.map((l) => [l.product_id, l.quantity]), [[a.id, 2]]);
    reply = next(room, 'cart');
    room.cartAdd(b.id);
    await reply;
    reply = next(room, 'cart');
    room.cartSet(a.id, 1);
    await reply;
    assert.deepEqual(room.room.cart.lines.map((l) => [l.product_id, l.quantity]), [[a.id, 1], [b.id, 1]]);
    reply = next(room, 'cart');
    room.cartRemove(a.id);
    await reply;
    assert.deepEqual(room.room.cart.lines.map((l) => l.product_id), [b.id]);
    const refused = next(room, 'error', (e) => e.request === 'cart_add');
    room.cartAdd(999_999, 1);
    assert.equal((await refused)[0].code, 'not_in_lineup');
    assert.throws(() => room.checkout({ card: '4242' }), (e) => e instanceof LivecartError && e.code === 'invalid_input');
    assert.throws(() => room.checkout({ card: CARD.ok, promoCode: 'x' }), (e) => e.code === 'invalid_input');
    assert.equal(room.purchase, null);
  } finally {
    room.close();
  }
});

test('a checkout is paid under the purchase key, and empties the cart', async () => {
  const { lc, room, keys } = await shopper('Payer');
  try {
    const sale = next(room, 'sale', (s) => s.buyer === 'Payer');
    const purchase = room.checkout({ card: CARD.ok });
    const order = await purchase.result;
    assert.equal(order.status, 'paid');
    assert.equal(order.idempotency_key, purchase.key);
    assert.deepEqual(keys, [purchase.key]);
    assert.equal(purchase.state, 'confirmed');
    assert.deepEqual(room.room.cart.lines, []);
    await sale;
    assert.equal((await ordersWithKey(lc, purchase.key)).length, 1);
  } finally {
    room.close();
  }
});

test('after payment_unavailable, retry() charges the same order with the same key', async () => {
  const { lc, room, keys } = await shopper('Patient');
  try {
    const purchase = room.checkout({ card: CARD.unavailableOnce, retry: { unavailable: 0 } });
    const [state, error] = await next(purchase, 'state', (s) => s === 'unavailable');
    assert.equal(state, 'unavailable');
    assert.equal(error.code, 'payment_unavailable');
    purchase.retry();
    const order = await purchase.result;
    assert.equal(order.idempotency_key, purchase.key);
    assert.equal(purchase.attempts, 2);
    assert.deepEqual(keys, [purchase.key, purchase.key]);
    const orders = await ordersWithKey(lc, purchase.key);
    assert.equal(orders.length, 1, 'one order, however many attempts');
    assert.equal(orders[0].status, 'paid');
  } finally {
    room.close();
  }
});

test('checkout() while a purchase is unsettled continues it: same key, the new card', async () => {
  const { room, keys } = await shopper('Switcher');
  try {
    const first = room.checkout({ card: CARD.unavailableOnce, retry: { unavailable: 0 } });
    await next(first, 'state', (s) => s === 'unavailable');
    const again = room.checkout({ card: CARD.ok });
    assert.equal(again, first);
    await first.result;
    assert.deepEqual(keys, [first.key, first.key]);
    assert.throws(() => first.retry(), /confirmed/);
  } finally {
    room.close();
  }
});

test('automatic retries find a charge whose answer was lost', async () => {
  const { lc, room, keys } = await shopper('Lucky');
  try {
    const purchase = room.checkout({ card: CARD.answerLost, retry: { delayMs: 200 } }); // default: a few automatic retries
    const states = [];
    purchase.on('state', (s) => states.push(s));
    const order = await purchase.result;
    assert.equal(order.status, 'paid');
    assert.ok(states.includes('retrying'), `states: ${states}`);
    assert.ok(!states.includes('unavailable'));
    assert.ok(keys.length >= 2 && keys.every((k) => k === purchase.key));
    assert.equal((await ordersWithKey(lc, purchase.key)).length, 1);
  } finally {
    room.close();
  }
});

test('a connection lost while the payment runs: the attempt is sent again with the same key after the resume', async () => {
  const { lc, room, keys } = await shopper('Tunnel', demo.lineup[1], { reconnect: { initialDelayMs: 200, jitter: 0 } });
  try {
    const purchase = room.checkout({ card: CARD.slow, retry: { delayMs: 300 } });
    const states = [];
    purchase.on('state', (s) => states.push(s));
    await until('the first attempt to be on its way', () => keys.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 150)); // the server has it; the card answers after 2 s
    room.socket.terminate();
    const order = await purchase.result;
    assert.equal(order.idempotency_key, purchase.key);
    assert.deepEqual(states.slice(0, 3), ['sending', 'waiting', 'sending'], `states: ${states}`);
    assert.equal(states.at(-1), 'confirmed');
    assert.ok(!states.includes('unavailable'));
    assert.ok(keys.length >= 2, 'sent again after the reconnect');
    assert.ok(keys.every((k) => k === purchase.key), 'every attempt with the one key');
    assert.equal(room.link.connections, 2);
    const orders = await ordersWithKey(lc, purchase.key);
    assert.equal(orders.length, 1);
    assert.equal(orders[0].status, 'paid');
  } finally {
    room.close();
  }
});

test('a declined card ends the purchase; the next purchase has a new key', async () => {
  const { room, keys } = await shopper('Declined');
  try {
    const purchase = room.checkout({ card: CARD.declined });
    await assert.rejects(purchase.result, (e) => e instanceof LivecartError && e.code === 'payment_declined');
    assert.equal(purchase.state, 'failed');
    assert.equal(room.purchase, null);
    assert.equal(room.room.cart.lines.length, 1, 'the cart is kept');
    const next = room.checkout({ card: CARD.ok });
    assert.notEqual(next.key, purchase.key);
    await next.result;
    assert.deepEqual(keys, [purchase.key, next.key]);
  } finally {
    room.close();
  }
});

test('a promo code is sent with the checkout and the order shows what it took off', async () => {
  const brand = await demoClient(server.baseUrl, DEMO.brand);
  const product = demo.lineup[0];
  await brand.api.request('POST', '/api/promo-codes', {
    body: { code: 'sdk-ten', creator_id: demo.host.id, percent_off: 10, product_ids: [product.id] },
  });
  const { room, keys } = await shopper('Saver', product);
  try {
    const refused = room.checkout({ card: CARD.ok, promoCode: 'NO-SUCH-CODE' });
    await assert.rejects(refused.result, (e) => e.code === 'promo_code_invalid');
    const purchase = room.checkout({ card: CARD.ok, promoCode: 'sdk-ten' });
    const order = await purchase.result;
    assert.equal(order.promo_code, 'SDK-TEN');
    assert.ok(order.discount.amount > 0);
    assert.ok(order.lines[0].unit_price < order.lines[0].list_price);
    assert.equal(keys.length, 2);
  } finally {
    room.close();
  }
});

test('the brand sales feed gets each sale, and asks for a resync after a reconnect', async () => {
  const brand = await demoClient(server.baseUrl, DEMO.brand);
  const feed = brand.salesFeed({ reconnect: { initialDelayMs: 200, jitter: 0 } });
  const { room } = await shopper('Feeder');
  try {
    const { brand_id: brandId } = await feed.connect();
    assert.equal(feed.state, 'joined');
    assert.equal(brandId, (await brand.api.me()).brand_id);
    let sale = next(feed, 'sale', (s) => s.creator_name === 'Maya Glows');
    const order = await room.checkout({ card: CARD.ok }).result;
    const [line] = await sale;
    assert.equal(line.order_id, order.id);
    assert.equal(line.room_id, demo.id);
    assert.equal(line.quantity, 1);
    assert.deepEqual(line.amount, { amount: order.lines[0].line_total, currency: order.subtotal.currency });

    const resync = next(feed, 'resync');
    feed.socket.terminate();
    assert.deepEqual((await resync)[0], { reason: 'reconnected' });
    const missed = await brand.api.brandOrders(brandId);
    assert.ok(missed.some((o) => o.id === order.id), 'what the feed may have missed is over HTTP');

    const cart = next(room, 'cart');
    room.cartAdd(demo.lineup[1].id, 1);
    await cart;
    sale = next(feed, 'sale');
    const second = await room.checkout({ card: CARD.ok }).result;
    assert.equal((await sale)[0].order_id, second.id);
  } finally {
    closeAll(feed, room);
  }
});
