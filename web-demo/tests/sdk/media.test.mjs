// The client library's WHIP/WHEP helpers against the real server, over HTTP with a
// hand-written SDP offer (Node has no RTCPeerConnection; media itself is covered by the
// browser tests, whose pages publish and watch through these helpers): who may publish,
// waiting for a stream that has not started, session URLs, and a stop that sends one
// DELETE however often it is called.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MediaSession, SignallingError, sendOffer, whepUrl, whipUrl } from '../../sdk/index.js';
import { DEMO, demoClient, newViewer, withDemoServer } from './helpers.mjs';

let server;
let demo;
withDemoServer((started, room) => {
  server = started;
  demo = room;
});

/** A minimal offer of one VP8 video track, as a browser would send it (ICE and DTLS values are placeholders). */
function offer(direction) {
  const fingerprint = Array.from({ length: 32 }, (_, i) => (i * 7 + 11).toString(16).padStart(2, '0').toUpperCase()).join(':');
  return [
    'v=0', 'o=- 4611731400430051336 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0', 'a=msid-semantic: WMS sdk',
    'm=video 9 UDP/TLS/RTP/SAVPF 96', 'c=IN IP4 0.0.0.0', 'a=rtcp:9 IN IP4 0.0.0.0',
    'a=ice-ufrag:sdkT', 'a=ice-pwd:sdktestpasswordsdktest00', `a=fingerprint:sha-256 ${fingerprint}`, 'a=setup:actpass',
    'a=mid:0', `a=${direction}`, 'a=msid:sdk video', 'a=rtcp-mux', 'a=rtpmap:96 VP8/90000', 'a=rtcp-fb:96 nack',
    'a=rtcp-fb:96 nack pli', 'a=ssrc:1111 cname:sdk', 'a=ssrc:1111 msid:sdk video', '',
  ].join('\r\n');
}

/** fetch that records each request as "METHOD path". */
function countingFetch() {
  const requests = [];
  const fetcher = (url, init = {}) => {
    requests.push(`${init.method ?? 'GET'} ${new URL(url).pathname}`);
    return fetch(url, init);
  };
  return { fetch: fetcher, requests };
}

test('endpoints are the room\'s WHIP and WHEP URLs on the server', () => {
  assert.equal(whipUrl(7, 'http://127.0.0.1:8080/'), 'http://127.0.0.1:8080/api/rooms/7/whip');
  assert.equal(whepUrl(7, 'https://shop.example/live/'), 'https://shop.example/api/rooms/7/whep');
});

test('watching before the host streams: 409 not_streaming, or wait for the stream until aborted', async () => {
  await assert.rejects(
    sendOffer({ kind: 'whep', roomId: demo.id, sdp: offer('recvonly'), baseUrl: server.baseUrl }),
    (e) => e instanceof SignallingError && e.status === 409 && e.code === 'not_streaming',
  );
  const waits = [];
  const aborter = new AbortController();
  const watching = sendOffer({
    kind: 'whep', roomId: demo.id, sdp: offer('recvonly'), baseUrl: server.baseUrl, retryWhileNotStreaming: true, retryMs: 100,
    signal: aborter.signal,
    onWaiting: (e) => {
      waits.push(e.code);
      if (waits.length === 3) aborter.abort(new Error('stopped waiting'));
    },
  });
  await assert.rejects(watching, /stopped waiting/);
  assert.deepEqual(waits, ['not_streaming', 'not_streaming', 'not_streaming']);
});

test('only the host publishes: no token is 401, another account 403', async () => {
  const viewer = await newViewer(server.baseUrl, 'Pretender');
  await assert.rejects(
    sendOffer({ kind: 'whip', roomId: demo.id, sdp: offer('sendonly'), baseUrl: server.baseUrl }),
    (e) => e.status === 401 && e.code === 'unauthenticated',
  );
  await assert.rejects(
    sendOffer({ kind: 'whip', roomId: demo.id, sdp: offer('sendonly'), baseUrl: server.baseUrl, token: viewer.token }),
    (e) => e.status === 403 && e.code === 'forbidden',
  );
});

test('a published session has a Location; stop() sends one DELETE however often it is called', async () => {
  const creator = await demoClient(server.baseUrl, DEMO.creator);
  const { fetch: counted, requests } = countingFetch();
  const publishOffer = () => sendOffer({ kind: 'whip', roomId: demo.id, sdp: offer('sendonly'), baseUrl: server.baseUrl, token: creator.token, fetch: counted });

  const first = await publishOffer();
  assert.match(first.answer, /^v=0/);
  assert.ok(first.session instanceof MediaSession);
  assert.match(first.session.location, new RegExp(`^${server.baseUrl}/api/rooms/${demo.id}/whip/[^/]+$`));

  // A new publish replaces the first; stopping the replaced one is still fine (404 or 204).
  const second = await publishOffer();
  assert.notEqual(second.session.location, first.session.location);
  await first.session.stop();
  await Promise.all([second.session.stop(), second.session.stop()]);
  await second.session.stop();
  assert.equal(second.session.stopped, true);
  const deletes = requests.filter((r) => r.startsWith('DELETE'));
  assert.deepEqual(deletes, [`DELETE ${new URL(first.session.location).pathname}`, `DELETE ${new URL(second.session.location).pathname}`]);

  // A session known to be closed by the server is forgotten without a request.
  const third = await publishOffer();
  third.session.forget();
  await third.session.stop();
  assert.equal(requests.filter((r) => r.startsWith('DELETE')).length, 2);
  // (The server's session of `third` goes when the next publish replaces it.)
  const fourth = await publishOffer();
  await fourth.session.stop();
});
