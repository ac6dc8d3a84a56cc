// Publishes the camera and microphone to a room over WHIP.
//
// The page reads `#room=ID&token=TOKEN` and starts at once when both are there; otherwise
// the form asks for them. The token stays in the fragment (never sent in a request line)
// and goes to the server only in the Authorization header. The live peer connection is
// `window.livecartPeer`, for tests and debugging.

import { iceConfiguration } from '../app/ice.js';
import { SignallingError, isRoomId, pageParams, preferForwardableVideo, publish, showStatus } from './whip.js';

const form = document.getElementById('publish-form');
const roomInput = document.getElementById('room');
const tokenInput = document.getElementById('token');
const startButton = document.getElementById('start');
const stopButton = document.getElementById('stop');
const status = document.getElementById('status');
const preview = document.getElementById('preview');

/** The running broadcast: { pc, stream, session, aborter }, or null. */
let current = null;

function describe(error) {
  if (error instanceof SignallingError) {
    if (error.status === 401) return 'your session has expired: sign in again';
    if (error.status === 403) return 'only the room’s host can go live in it';
    return error.message;
  }
  if (error?.name === 'NotAllowedError') return 'camera or microphone permission was refused';
  if (error?.name === 'NotFoundError') return 'no camera or microphone was found';
  return error?.message || String(error);
}

function setRunning(running) {
  startButton.disabled = running;
  stopButton.disabled = !running;
  roomInput.disabled = running;
  tokenInput.disabled = running;
}

function watchConnection(broadcast) {
  const { pc } = broadcast;
  const update = () => {
    if (current !== broadcast) return;
    switch (pc.connectionState) {
      case 'connected':
        showStatus(status, 'live');
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
  };
  pc.addEventListener('connectionstatechange', update);
  return update;
}

async function start(room, token) {
  const aborter = new AbortController();
  const broadcast = { pc: null, stream: null, session: null, aborter };
  current = broadcast;
  setRunning(true);
  try {
    showStatus(status, 'starting', 'asking for your camera and microphone');
    broadcast.stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
    aborter.signal.throwIfAborted();
    preview.srcObject = broadcast.stream;

    const pc = new RTCPeerConnection(await iceConfiguration({ token }));
    broadcast.pc = pc;
    window.livecartPeer = pc;
    for (const track of broadcast.stream.getTracks()) {
      const transceiver = pc.addTransceiver(track, { direction: 'sendonly', streams: [broadcast.stream] });
      if (track.kind === 'video') preferForwardableVideo(transceiver, RTCRtpSender.getCapabilities?.('video'));
    }
    const update = watchConnection(broadcast);

    showStatus(status, 'connecting');
    const session = await publish(pc, { roomId: room, token, signal: aborter.signal });
    if (aborter.signal.aborted) {
      await session.stop().catch(() => {});
      return;
    }
    broadcast.session = session;
    update();
  } catch (error) {
    if (aborter.signal.aborted) return;
    showStatus(status, 'error', describe(error));
    await teardown(broadcast);
    setRunning(false);
  }
}

/** Closes the connection and camera, and ends the session on the server. */
async function teardown(broadcast, { keepalive = false } = {}) {
  broadcast.aborter.abort();
  broadcast.pc?.close();
  broadcast.stream?.getTracks().forEach((track) => track.stop());
  if (current === broadcast) {
    current = null;
    preview.srcObject = null;
  }
  await broadcast.session?.stop({ keepalive });
}

async function stop() {
  const broadcast = current;
  if (!broadcast) return;
  stopButton.disabled = true;
  try {
    await teardown(broadcast);
    showStatus(status, 'stopped');
  } catch (error) {
    showStatus(status, 'error', `the stream may still be running: ${describe(error)}`);
  }
  setRunning(false);
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const room = roomInput.value.trim();
  if (!isRoomId(room)) {
    showStatus(status, 'error', 'enter a room number');
    return;
  }
  start(room, tokenInput.value.trim());
});

stopButton.addEventListener('click', stop);

window.addEventListener('pagehide', () => {
  if (current) teardown(current, { keepalive: true }).catch(() => {});
});

const params = pageParams();
roomInput.value = params.room;
tokenInput.value = params.token;
if (params.token) {
  // Keep the token out of the history and of any link copied from the address bar.
  const rest = new URLSearchParams(window.location.hash.replace(/^#/, ''));
  rest.delete('token');
  const hash = rest.toString();
  history.replaceState(history.state, '', `${window.location.pathname}${window.location.search}${hash ? `#${hash}` : ''}`);
}
if (isRoomId(params.room) && params.token) {
  start(params.room, params.token);
}
