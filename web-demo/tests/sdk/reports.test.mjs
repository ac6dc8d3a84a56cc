// The client library's report and campaign helpers against the real server: a room report
// as JSON and as CSV text, who may read it, and a brand's campaign created, changed and
// reported with its `sort` and `tier`.

import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, reportPath } from '../../sdk/index.js';
import { DEMO, client, demoClient, newViewer, withDemoServer } from './helpers.mjs';

let server;
let demo;
withDemoServer((started, room) => {
  server = started;
  demo = room;
});

test('report paths carry only the query fields given', () => {
  assert.equal(reportPath('room', 7), '/api/rooms/7/report');
  assert.equal(reportPath('campaign', 3, { sort: 'roi', tier: undefined, from: 0 }), '/api/campaigns/3/report?sort=roi&from=0');
  assert.equal(reportPath('brand', 1, { format: 'csv', currency: 'EUR' }), '/api/brands/1/report?format=csv&currency=EUR');
});

test('a room report reads as JSON and as CSV, for its host and its brand only', { timeout: 30_000 }, async () => {
  const creator = await demoClient(server.baseUrl, DEMO.creator);
  const report = await creator.api.roomReport(demo.id);
  assert.equal(report.room.id, demo.id);
  assert.equal(report.live, true);
  assert.equal(report.brand_id, null, 'the host sees the whole room');
  assert.deepEqual(Object.keys(report.gmv).sort(), ['amount', 'currency']);
  assert.deepEqual(Object.keys(report.conversion_rate).sort(), ['denominator', 'numerator', 'value']);
  assert.equal(report.products.length, demo.lineup.length);

  const csv = await creator.api.reportCsv('room', demo.id);
  const [header, totals] = csv.split('\r\n');
  assert.deepEqual(header.split(',').slice(0, 6), ['row', 'id', 'name', 'tier', 'currency', 'gmv']);
  assert.match(totals, /^total,/);

  const brand = await demoClient(server.baseUrl, DEMO.brand);
  const cut = await brand.api.roomReport(demo.id);
  assert.equal(cut.brand_id, (await brand.api.me()).brand_id, 'a brand sees its own products');

  const viewer = await newViewer(server.baseUrl);
  await assert.rejects(viewer.api.roomReport(demo.id), (error) => error instanceof ApiError && error.status === 403);
  await assert.rejects(viewer.api.reportCsv('room', demo.id), (error) => error instanceof ApiError && error.status === 403);
});

test('a brand creates, changes and reports a campaign', { timeout: 30_000 }, async () => {
  const brand = await demoClient(server.baseUrl, DEMO.brand);
  const agreements = await brand.api.request('GET', '/api/agreements');
  const created = await brand.api.createCampaign({
    name: 'SDK campaign',
    budget: { amount: 10_000, currency: 'EUR' },
    agreement_ids: agreements.map((a) => a.id),
  });
  assert.deepEqual([created.name, created.flat_fee, created.room_ids], ['SDK campaign', { amount: 0, currency: 'EUR' }, []]);
  assert.ok((await brand.api.campaigns()).some((c) => c.id === created.id));

  const changed = await brand.api.updateCampaign(created.id, { room_ids: [demo.id], flat_fee: { amount: 500, currency: 'EUR' } });
  assert.deepEqual([changed.room_ids, changed.flat_fee.amount, changed.name], [[demo.id], 500, 'SDK campaign']);
  assert.deepEqual(await brand.api.campaign(created.id), changed);

  const report = await brand.api.campaignReport(created.id, { sort: 'roi', tier: 'nano' });
  assert.equal(report.sort, 'roi');
  assert.equal(report.tier, 'nano');
  assert.ok(report.creators.every((row) => row.creator.tier === 'nano'));
  const csv = await brand.api.reportCsv('campaign', created.id, { sort: 'aov' });
  assert.ok(csv.split('\r\n')[0].split(',').includes('roi'));

  await assert.rejects(brand.api.createCampaign({ name: '', budget: { amount: 1, currency: 'EUR' } }), (error) => error.code === 'invalid_input');
});

test('agreements() reads every page, newest first, for the brand and for the creator', { timeout: 60_000 }, async () => {
  const register = async (role, extra) => {
    const lc = client(server.baseUrl);
    const session = await lc.api.request('POST', '/api/auth/register', {
      body: { email: `sdk-${randomUUID()}@test.livecart`, password: 'sdk-test-password', display_name: `A ${role}`, role, ...extra },
      token: null,
    });
    lc.token = session.token;
    return { lc, account: session.account };
  };
  const brand = await register('brand', { brand_name: `Pages ${randomUUID().slice(0, 8)}` });
  const creator = await register('creator');
  const made = [];
  for (let i = 0; i < 101; i++) {
    const product = await brand.lc.api.request('POST', `/api/brands/${brand.account.brand_id}/products`, {
      body: { title: `Page item ${i}`, price: 100, currency: 'EUR', stock: 1 },
    });
    const agreement = await brand.lc.api.request('POST', '/api/agreements', {
      body: { creator_id: creator.account.id, product_id: product.id, commission_bps: 1000 },
    });
    made.push(agreement.id);
  }
  const newestFirst = made.reverse();
  assert.deepEqual((await brand.lc.api.agreements()).map((a) => a.id), newestFirst);
  assert.deepEqual((await creator.lc.api.agreements()).map((a) => a.id), newestFirst);
  const firstPage = await brand.lc.api.request('GET', '/api/agreements');
  assert.equal(firstPage.length, 100, 'one answer holds at most 100');
});
