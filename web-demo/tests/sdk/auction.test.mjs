// Auctions, offers, comment-to-buy and waitlists in the client library: RoomState folds
// the auction events, the caller's own bids, offers, keywords and waitlist places by
// docs/protocol.md 4.20 to 4.26 and 5.15 to 5.19 (no server); against the real server a
// host starts an auction, two viewers bid (one with a proxy maximum), the winner pays the
// offer; a comment SOLD holds a unit that is paid the same way; a viewer waits for a
// sold-out product and is offered the unit that comes back.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RoomState } from '../../sdk/index.js';
import { DEMO, client, closeAll, demoClient, newLiveRoom, newViewer, next, until, withDemoServer } from './helpers.mjs';

const EUR = (amount) => ({ amount, currency: 'EUR' });
const SAM = { account_id: 12, display_name: 'Sam' };
const ANA = { account_id: 13, display_name: 'Ana' };

function snapshot(overrides = {}) {
  return {
    type: 'snapshot',
    room: { id: 7, title: 't', status: 'live', starts_at: 1, co_host: null, disclosure: null, host: { id: 3, display_name: 'Maya', followers: 1, tier: 'nano' } },
    lineup: [{ id: 5, brand_id: 2, title: 'Glow Serum', image_url: '', price: EUR(2900), stock: 0 }],
    pinned: 5, drop: null, giveaway: null, auction: null, keywords: [{ product_id: 5, keyword: 'SERUM' }],
    comments: [], viewers: 1, streaming: false, cart: { lines: [{ product_id: 5 }], total: null },
    you: { display_name: 'Sam', account_id: 12, role: 'viewer', is_host: false, is_moderator: false },
    recent_sales: [], units_sold: 0, reaction_totals: {}, seq: 30, epoch: 'e', reset: false,
    ...overrides,
  };
}

const CARD = {
  id: 11, product_id: 5, title: 'Glow Serum', phase: 'open', starting_price: EUR(1000), increments: [{ from: 0, step: 100 }],
  extend_secs: 10, sudden_death: false, ends_at: 5_000, bids: 0, price: null, leader: null, min_bid: EUR(1000), offer: null,
};

test('RoomState folds an auction from its start to its settlement, and the caller\'s own standing', () => {
  const state = new RoomState();
  state.applySnapshot(snapshot());
  assert.equal(state.auction, null);
  assert.equal(state.keywordOf(5), 'SERUM');
  state.applyEvent({ kind: 'auction_started', auction: CARD }, 31);
  assert.deepEqual(state.auction, CARD);
  assert.equal(state.biddingOver(1_000), false);

  state.applyEvent({ kind: 'auction_bid', auction_id: 11, price: EUR(1000), leader: SAM, bids: 1, ends_at: 5_000, extended: false, min_bid: EUR(1100) }, 32);
  state.applyMessage({ type: 'bid_placed', auction_id: 11, leading: true, price: EUR(1000), max: EUR(5000) });
  assert.deepEqual(state.myBid, { auction_id: 11, leading: true, price: EUR(1000), max: EUR(5000) });
  // Ana's bid beats Sam's maximum and extends the end: Sam is outbid, his maximum kept.
  state.applyEvent({ kind: 'auction_bid', auction_id: 11, price: EUR(5100), leader: ANA, bids: 3, ends_at: 9_000, extended: true, min_bid: EUR(5200) }, 33);
  assert.equal(state.auction.ends_at, 9_000);
  assert.deepEqual(state.auction.leader, ANA);
  assert.equal(state.auction.bids, 3);
  assert.deepEqual(state.auction.min_bid, EUR(5200));
  assert.deepEqual(state.myBid, { auction_id: 11, leading: false, price: EUR(5100), max: EUR(5000) });
  // A bid of another auction changes nothing.
  state.applyEvent({ kind: 'auction_bid', auction_id: 99, price: EUR(1), leader: SAM, bids: 9, ends_at: 1, extended: false, min_bid: EUR(2) }, 34);
  assert.equal(state.auction.bids, 3);

  state.applyEvent({ kind: 'auction_ended', auction_id: 11, winner: ANA, price: EUR(5100) }, 35);
  assert.equal(state.biddingOver(1_000), true, 'no bid after auction_ended, whatever the clock says');
  assert.deepEqual(state.auctionEnded, { auction_id: 11, winner: ANA, price: EUR(5100) });
  state.applyEvent({ kind: 'auction_offered', auction_id: 11, buyer: ANA, price: EUR(5100), pay_by: 20_000, round: 1 }, 36);
  assert.equal(state.auction.phase, 'awarded');
  assert.deepEqual(state.auction.offer, { buyer: ANA, price: EUR(5100), pay_by: 20_000, round: 1 });
  // Ana does not pay: the unit passes to Sam at the price the book without her gives.
  state.applyEvent({ kind: 'auction_offered', auction_id: 11, buyer: SAM, price: EUR(1000), pay_by: 40_000, round: 2 }, 37);
  assert.deepEqual(state.auction.offer, { buyer: SAM, price: EUR(1000), pay_by: 40_000, round: 2 });
  state.applyMessage({ type: 'offer', offer: { id: 21, room_id: 7, product_id: 5, title: 'Glow Serum', quantity: 1, price: EUR(1000), expires_at: 40_000 } });
  assert.deepEqual(state.openOffers(30_000).map((o) => o.id), [21]);
  assert.deepEqual(state.openOffers(40_000), [], 'an offer past its expires_at is not open');

  state.applyEvent({ kind: 'auction_settled', auction_id: 11, outcome: 'sold', buyer: SAM, price: EUR(1000) }, 38);
  assert.equal(state.auction, null);
  assert.equal(state.myBid, null);
  assert.deepEqual(state.lastAuction, { auction_id: 11, outcome: 'sold', buyer: SAM, price: EUR(1000), product_id: 5, title: 'Glow Serum', seq: 38 });
  state.offerPaid(21);
  assert.equal(state.offers.size, 0);

  // A reset snapshot keeps the last outcome; a snapshot's running auction replaces the card.
  state.applySnapshot(snapshot({ auction: { ...CARD, id: 12, bids: 2, leader: SAM, phase: 'open' } }));
  assert.equal(state.auction.id, 12);
  assert.equal(state.lastAuction.auction_id, 11);
});

test('RoomState keeps keywords, comment purchases, offers read over REST and waitlist places', () => {
  const state = new RoomState();
  state.applySnapshot(snapshot());
  state.applyEvent({ kind: 'keywords_updated', keywords: [{ product_id: 5, keyword: 'GLOW' }] }, 31);
  assert.equal(state.keywordOf(5), 'GLOW');
  assert.equal(state.keywordOf(6), null);

  const held = { id: 22, room_id: 7, product_id: 5, title: 'Glow Serum', quantity: 2, price: EUR(2900), expires_at: 9_000 };
  state.applyMessage({ type: 'comment_purchase', product_id: 5, quantity: 2, offer: held, code: null, message: null });
  assert.deepEqual(state.lastCommentPurchase, { product_id: 5, quantity: 2, offer: held, code: null, message: null });
  assert.deepEqual(state.openOffers(1_000), [held]);
  state.applyMessage({ type: 'comment_purchase', product_id: null, quantity: 1, offer: null, code: 'not_in_lineup', message: 'nothing' });
  assert.equal(state.lastCommentPurchase.code, 'not_in_lineup');
  assert.equal(state.offers.size, 1);

  // The REST list replaces what is known; a frame after it adds to it.
  state.setOffers([{ ...held, id: 23, expires_at: 5_000 }]);
  state.applyMessage({ type: 'offer', offer: { ...held, id: 24, expires_at: 8_000 } });
  assert.deepEqual(state.openOffers(1_000).map((o) => o.id), [23, 24]);

  state.applyMessage({ type: 'waitlist', product_id: 5, place: 3 });
  assert.equal(state.waitlists.get(5), 3);
  // Offered a unit: the entry leaves the line.
  state.applyMessage({ type: 'offer', offer: { ...held, id: 25, quantity: 1 } });
  assert.equal(state.waitlists.has(5), false);
  state.applyMessage({ type: 'waitlist', product_id: 5, place: 1 });
  state.applyMessage({ type: 'waitlist', product_id: 5, place: null });
  assert.equal(state.waitlists.has(5), false);
  // Paying an offer is not a cart checkout: the connection calls offerPaid, the cart stays.
  assert.equal(state.cart.lines.length, 1);
});

let baseUrl;
withDemoServer((server) => {
  baseUrl = server.baseUrl;
});

test('an auction against the server: proxy bids, an outbid rebid, the winner pays the offer', { timeout: 90_000 }, async () => {
  const { room, creator } = await newLiveRoom(baseUrl, 'SDK auction');
  const sam = await newViewer(baseUrl, 'Sam');
  const ana = await newViewer(baseUrl, 'Ana');
  const host = creator.room(room.id);
  const guest = client(baseUrl).room(room.id, { guestName: 'Guest' });
  const [samRoom, anaRoom] = [sam.room(room.id), ana.room(room.id)];
  const product = room.lineup[0];
  try {
    await Promise.all([host, guest, samRoom, anaRoom].map((r) => r.connect()));
    const card = await host.startAuction({ productId: product.id, startingPrice: 1000, durationSecs: 10, extendSecs: 1 });
    assert.equal(card.phase, 'open');
    assert.deepEqual(card.min_bid, { amount: 1000, currency: product.price.currency });
    await assert.rejects(host.startAuction({ productId: product.id, startingPrice: 1000, durationSecs: 10 }), { code: 'auction_running' });
    await assert.rejects(host.bid(card.id, 1000), { code: 'not_eligible' });
    await until('everyone to see the auction', () => [guest, samRoom, anaRoom].every((r) => r.room.auction?.id === card.id));
    await assert.rejects(guest.bid(card.id, 1000), { code: 'unauthenticated' });

    // Sam bids the start with a proxy maximum; Ana's bid is beaten by it at once.
    const first = await samRoom.bid(card.id, 1000, { max: 3000 });
    assert.equal(first.leading, true);
    assert.equal(first.max.amount, 3000);
    await assert.rejects(anaRoom.bid(card.id, 1000), { code: 'bid_too_low' });
    const beaten = await anaRoom.bid(card.id, anaRoom.room.auction.min_bid.amount);
    assert.equal(beaten.leading, false);
    assert.equal(anaRoom.room.myBid.leading, false);
    // Ana goes above Sam's maximum: Sam's state says he is outbid.
    const over = await anaRoom.bid(card.id, 3500);
    assert.equal(over.leading, true);
    await until('Sam to see he is outbid', () => samRoom.room.myBid?.leading === false && samRoom.room.auction.leader?.display_name === 'Ana');
    assert.equal(samRoom.room.myBid.max.amount, 3000, 'his maximum, as only he was told');

    // Bidding ends; Ana is offered the unit and pays it.
    const [offer] = await next(anaRoom, 'offer', () => true, 30_000);
    assert.equal(offer.product_id, product.id);
    assert.equal(offer.quantity, 1);
    await until('the awarded card', () => samRoom.room.auction?.phase === 'awarded');
    assert.equal(samRoom.room.auction.offer.buyer.display_name, 'Ana');
    assert.deepEqual((await ana.api.offers()).map((o) => o.id), [offer.id]);
    assert.throws(() => anaRoom.payOffer(offer.id, { card: '12' }), { code: 'invalid_input' });
    await assert.rejects(samRoom.payOffer(offer.id, { card: '4242424242424242' }).result, { code: 'not_found' });
    const settled = next(samRoom, 'auction_settled');
    const purchase = anaRoom.payOffer(offer.id, { card: '4242 4242 4242 4242' });
    const order = await purchase.result;
    assert.equal(order.status, 'paid');
    assert.equal(order.subtotal.amount, offer.price.amount);
    assert.equal(anaRoom.room.offers.has(offer.id), false);
    const [outcome] = await settled;
    assert.equal(outcome.outcome, 'sold');
    assert.equal(samRoom.room.auction, null);
    assert.equal(samRoom.room.lastAuction.buyer.display_name, 'Ana');
    assert.deepEqual(await ana.api.offers(), []);
  } finally {
    closeAll(host, guest, samRoom, anaRoom);
  }
});

test('comment-to-buy holds a unit that is paid as an offer; a waitlist is offered the unit that comes back', { timeout: 60_000 }, async () => {
  const { room, creator } = await newLiveRoom(baseUrl, 'SDK comment-to-buy');
  const sam = await newViewer(baseUrl, 'Sam');
  const ana = await newViewer(baseUrl, 'Ana');
  const brand = await demoClient(baseUrl, DEMO.brand);
  const host = creator.room(room.id);
  const [samRoom, anaRoom] = [sam.room(room.id), ana.room(room.id)];
  const [pinned, keyed, scarce] = room.lineup;
  try {
    await Promise.all([host, samRoom, anaRoom].map((r) => r.connect()));
    assert.deepEqual(await creator.api.setKeywords(room.id, [{ product_id: keyed.id, keyword: 'glow' }]), [{ product_id: keyed.id, keyword: 'GLOW' }]);
    await until('the keyword', () => samRoom.room.keywordOf(keyed.id) === 'GLOW');
    assert.ok(host.pin(pinned.id));
    await until('the pin', () => samRoom.room.pinned === pinned.id);

    assert.ok(samRoom.comment('sold'));
    const [answer] = await next(samRoom, 'comment_purchase');
    assert.equal(answer.product_id, pinned.id);
    assert.equal(answer.offer.quantity, 1);
    assert.ok(samRoom.comment('BUY 2 glow'));
    const [second] = await next(samRoom, 'comment_purchase');
    assert.equal(second.offer.product_id, keyed.id);
    assert.equal(second.offer.quantity, 2);
    assert.deepEqual(samRoom.room.openOffers().map((o) => o.id).sort(), [answer.offer.id, second.offer.id].sort());
    const order = await samRoom.payOffer(answer.offer.id, { card: '4242424242424242' }).result;
    assert.equal(order.lines[0].product_id, pinned.id);
    assert.deepEqual(samRoom.room.openOffers().map((o) => o.id), [second.offer.id]);

    // The scarce product sells out (the brand counts none on hand); Ana waits for it.
    await assert.rejects(anaRoom.joinWaitlist(scarce.id), { code: 'conflict' });
    const onHand = (await brand.api.request('GET', `/api/products/${scarce.id}`)).on_hand;
    await brand.api.request('PUT', `/api/products/${scarce.id}/stock`, { body: { stock: 0, expected: onHand } });
    await until('sold out', () => anaRoom.room.lineup.get(scarce.id)?.stock === 0);
    assert.equal((await anaRoom.joinWaitlist(scarce.id)).place, 1);
    assert.equal(anaRoom.room.waitlists.get(scarce.id), 1);
    const offered = next(anaRoom, 'offer', (o) => o.product_id === scarce.id, 20_000);
    await brand.api.request('PUT', `/api/products/${scarce.id}/stock`, { body: { stock: 1, expected: 0 } });
    const [offer] = await offered;
    assert.equal(offer.quantity, 1);
    assert.equal(anaRoom.room.waitlists.has(scarce.id), false);
    assert.equal((await anaRoom.payOffer(offer.id, { card: '4242424242424242' }).result).status, 'paid');
  } finally {
    closeAll(host, samRoom, anaRoom);
  }
});
