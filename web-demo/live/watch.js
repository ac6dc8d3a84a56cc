// Watches a room's live stream over WHEP.
//
// The room comes from `#room=ID` (or `?room=ID`); the page starts at once when it is given.
// While the host is not streaming yet the server answers 409 `not_streaming`, and the page
// asks again every second. The live peer connection is `window.livecartPeer`, for tests
// and debugging.

import { iceConfiguration } from '../app/ice.js';
import { SignallingError, isRoomId, pageParams, preferForwardableVideo, showStatus, watch } from './whip.js';

const RETRY_MS = 1000;

const form = document.getElementById('watch-form');
const roomInput = document.getElementById('room');
const startButton = document.getElementById('start');
const stopButton = document.getElementById('stop');
const status = document.getElementById('status');
const video = document.getElementById('video');

/** The running viewing session: { pc, session, aborter }, or null. */
let current = null;

function describe(error) {
  if (error instanceof SignallingError && error.code === 'room_not_live') return 'this room is not live';
  return error?.message || String(error);
}

function setRunning(running) {
  startButton.disabled = running;
  stopButton.disabled = !running;
  roomInput.disabled = running;
}

function onConnectionChange(session) {
  if (current !== session) return;
  switch (session.pc.connectionState) {
    case 'connected':
      if (video.paused) showStatus(status, 'connected', 'waiting for video');
      break;
    case 'disconnected':
      showStatus(status, 'reconnecting', 'the connection to the server dropped');
      break;
    case 'failed':
      showStatus(status, 'error', 'the connection to the server failed');
      break;
    default:
      break;
  }
}

async function start(room) {
  const aborter = new AbortController();
  const pc = new RTCPeerConnection(await iceConfiguration());
  const session = { pc, session: null, aborter };
  current = session;
  window.livecartPeer = pc;
  setRunning(true);

  const videoTransceiver = pc.addTransceiver('video', { direction: 'recvonly' });
  preferForwardableVideo(videoTransceiver, RTCRtpReceiver.getCapabilities?.('video'));
  pc.addTransceiver('audio', { direction: 'recvonly' });

  // Attached on the first track: an empty stream on a <video> would hold up the page's
  // load event until media arrives.
  const stream = new MediaStream();
  pc.addEventListener('track', (event) => {
    stream.addTrack(event.track);
    if (current === session && video.srcObject !== stream) video.srcObject = stream;
    // Muted autoplay is allowed without a gesture; play() covers browsers that wait for it.
    video.play().catch(() => {});
  });
  pc.addEventListener('connectionstatechange', () => onConnectionChange(session));

  try {
    showStatus(status, 'connecting');
    const media = await watch(pc, {
      roomId: room,
      signal: aborter.signal,
      retryMs: RETRY_MS,
      onWaiting: () => showStatus(status, 'waiting', 'the host has not started streaming yet'),
    });
    if (aborter.signal.aborted) {
      await media.stop().catch(() => {});
      return;
    }
    session.session = media;
    onConnectionChange(session);
  } catch (error) {
    if (aborter.signal.aborted) return;
    showStatus(status, 'error', describe(error));
    await teardown(session);
    setRunning(false);
  }
}

async function teardown(session, { keepalive = false } = {}) {
  session.aborter.abort();
  session.pc.close();
  if (current === session) {
    current = null;
    video.srcObject = null;
  }
  await session.session?.stop({ keepalive });
}

async function stop() {
  const session = current;
  if (!session) return;
  stopButton.disabled = true;
  try {
    await teardown(session);
    showStatus(status, 'stopped');
  } catch (error) {
    showStatus(status, 'error', describe(error));
  }
  setRunning(false);
}

video.addEventListener('playing', () => {
  if (current) showStatus(status, 'playing');
});

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const room = roomInput.value.trim();
  if (!isRoomId(room)) {
    showStatus(status, 'error', 'enter a room number');
    return;
  }
  start(room);
});

stopButton.addEventListener('click', stop);

window.addEventListener('pagehide', () => {
  if (current) teardown(current, { keepalive: true }).catch(() => {});
});

const { room } = pageParams();
roomInput.value = room;
if (isRoomId(room)) start(room);
