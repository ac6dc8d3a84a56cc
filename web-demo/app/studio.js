// Creator studio: sign in, pick one of your rooms, go live from the camera over WHIP (or
// show the WHIP URL and token for OBS), pin products, start drops, chat, watch the live
// numbers and end the show, then read its recap. The room connection, host actions, WHIP
// and the room report go through the client library (../sdk/).
//
// Live numbers: the viewer count comes with the room's `viewers` frames; everything else
// is the room's report (GET /api/rooms/{id}/report, docs/metrics.md), read every few
// seconds while the show is live and the page is visible, and at once after a sale. When
// the show ends the same report is the recap.

import { api, bindRoleSignIn, countdown, h, livecart, loadSession, money, parseMajor, setState, signOut } from './common.js';
import { basisLine, commissionTitle, count, csvButton, figureGroups, productTable, rate, tile, upliftBlock } from './report.js';
import { SignallingError, preferForwardableVideo, whipUrl } from '../sdk/index.js';
import { showStatus } from '../live/whip.js';
import { iceConfiguration } from './ice.js';

const $ = (id) => document.getElementById(id);
const POLL_MS = 3000;
let room = null;
let broadcast = null;

function session() {
  const s = loadSession();
  return s && s.account.role === 'creator' ? s : null;
}

function show(view) {
  for (const id of ['view-signin', 'view-rooms', 'view-room']) $(id).hidden = id !== view;
}

function renderWho() {
  const s = session();
  $('who').textContent = s ? `${s.account.display_name} (creator)` : '';
  $('sign-out').hidden = !s;
}

bindRoleSignIn('creator', () => start());

$('sign-out').addEventListener('click', async () => {
  await leaveRoom();
  await signOut();
  start();
});

async function start() {
  renderWho();
  const s = session();
  if (!s) {
    show('view-signin');
    return;
  }
  show('view-rooms');
  const list = $('rooms');
  list.replaceChildren(h('li', { class: 'muted' }, 'Loading…'));
  try {
    const groups = await Promise.all(['live', 'upcoming', 'ended'].map((status) => api('GET', `/api/rooms?status=${status}`)));
    const mine = groups.flat().filter((r) => r.host.id === s.account.id);
    list.replaceChildren();
    if (!mine.length) list.append(h('li', { class: 'muted' }, 'You have no rooms yet.'));
    for (const r of mine) {
      const actions = [];
      if (r.status === 'scheduled') {
        actions.push(h('button', { type: 'button', class: 'secondary', onclick: () => goLive(r) }, `Go live: ${r.title}`));
      }
      if (r.status !== 'ended') actions.push(h('button', { type: 'button', onclick: () => openRoom(r) }, `Open ${r.title}`));
      else actions.push(h('button', { type: 'button', class: 'secondary', onclick: () => openRecap(r) }, `Recap: ${r.title}`));
      list.append(
        h('li', { class: 'row', style: 'justify-content:space-between;align-items:center;border-bottom:1px solid var(--line);padding-bottom:0.5rem' },
          h('div', {}, h('strong', {}, r.title), h('div', { class: 'muted' }, `${r.status} · ${new Date(r.starts_at).toLocaleString()} · ${r.lineup.length} products`)),
          h('div', { class: 'row' }, actions)),
      );
    }
  } catch (error) {
    list.replaceChildren(h('li', { class: 'status', 'data-state': 'error' }, error.message));
  }
}

async function goLive(r) {
  try {
    await api('POST', `/api/rooms/${r.id}/live`, { token: session().token });
    openRoom({ ...r, status: 'live' });
  } catch (error) {
    alert(`Could not go live: ${error.message}`);
  }
}

function openRoom(r) {
  const s = session();
  show('view-room');
  setRoomMode('live');
  $('room-title').textContent = r.title;
  $('end-room').disabled = false;
  const lc = livecart();
  const conn = lc.room(r.id);
  room = { id: r.id, title: r.title, lc, conn, state: conn.room, sold: new Map(), report: null, timer: null, numbers: idleNumbers() };
  resetNumbers();
  $('chat').replaceChildren();
  $('whip-url').value = whipUrl(r.id);
  $('whip-token').value = s.token;
  conn.on('state', (state) => {
    if (state === 'joined' || state === 'replaying') setState($('conn'), 'ok', 'connected');
    else if (state !== 'failed' && state !== 'session_ended') setState($('conn'), state, `${state}…`);
  });
  conn.on('failed', ({ error }) => setState($('conn'), 'error', error ? `join: ${error.message}` : 'disconnected: reload to try again'));
  conn.on('session_ended', () => setState($('conn'), 'error', 'Your session ended: sign in again.'));
  conn.on('snapshot', onSnapshot);
  conn.on('event', onEvent);
  conn.on('viewers', (count) => { $('n-viewers').textContent = count; });
  conn.on('error', (error) => {
    if (error.request === 'join') return; // `failed` says it
    const target = error.request === 'start_drop' ? $('drop-status') : $('conn');
    setState(target, 'error', `${error.request ?? 'error'}: ${error.message}`);
  });
  conn.connect();
  room.timer = setInterval(renderDrop, 1000);
}

/** An ended room: its recap alone (no connection, nothing to broadcast or sell). */
function openRecap(r) {
  show('view-room');
  setRoomMode('recap');
  $('room-title').textContent = r.title;
  room = { id: r.id, title: r.title, lc: livecart(), conn: null, state: null, sold: new Map(), report: null, timer: null, numbers: idleNumbers() };
  showRecap();
}

/**
 * Which cards the room view shows: `live` everything; `ended` (the show just ended here)
 * the recap, lineup and chat; `recap` (an ended room opened from the list) the recap.
 */
function setRoomMode(mode) {
  $('view-room').dataset.mode = mode;
  for (const card of document.querySelectorAll('#view-room [data-live-only]')) card.hidden = mode !== 'live';
  for (const card of document.querySelectorAll('#view-room [data-connected-only]')) card.hidden = mode === 'recap';
  $('recap-card').hidden = mode === 'live';
  $('end-room').hidden = mode === 'recap';
  $('conn').hidden = mode === 'recap';
  for (const control of $('comment-form').elements) control.disabled = mode !== 'live';
}

async function leaveRoom() {
  if (broadcast) await stopCamera();
  if (!room) return;
  stopNumbers();
  room.conn?.close();
  clearInterval(room.timer);
  clearTimeout(room.recapTimer);
  room = null;
}

$('back').addEventListener('click', async () => {
  await leaveRoom();
  start();
});

function onSnapshot(snap) {
  const st = room.state;
  $('n-viewers').textContent = st.viewers;
  $('chat').replaceChildren();
  st.comments.forEach(addComment);
  if (!snap.you.is_host) setState($('conn'), 'error', 'You are not the host of this room.');
  renderLineup();
  renderDropForm();
  if (st.status === 'live') startNumbers();
  else if (st.status === 'ended') onShowEnded();
  else setState($('numbers-status'), 'idle', 'The numbers start when the show goes live.');
}

function onEvent(e) {
  switch (e.kind) {
    case 'comment': addComment(e); break;
    case 'pinned': case 'unpinned': case 'product_updated': renderLineup(); break;
    case 'drop_started': setState($('drop-status'), 'ok', `Drop running: ${e.drop.quantity} units at ${money(e.drop.price)}`); renderDrop(); break;
    case 'drop_ended': setState($('drop-status'), 'ok', `Drop ended: ${e.sold} sold.`); break;
    case 'sale': onSale(e); break;
    case 'room_live': renderLineup(); startNumbers(); break;
    case 'room_ended':
      renderLineup();
      setState($('conn'), 'ended', 'show ended');
      $('end-room').disabled = true;
      if (broadcast) {
        broadcast.session?.forget(); // ending the room closed every media session
        stopCamera();
      }
      onShowEnded();
      break;
    default: break;
  }
}

function onSale(e) {
  // The library's room state has already taken the sale's stock figures; the money is
  // the report's (the order is paid by the time its sale is announced).
  room.sold.set(e.product_id, (room.sold.get(e.product_id) || 0) + e.quantity);
  renderLineup();
  refreshNumbersSoon();
}

// ---------- live numbers: the room report, polled while live and visible ----------

function idleNumbers() {
  return { polling: false, inflight: false, again: false, timer: null, aborter: null };
}

function resetNumbers() {
  for (const id of ['n-unique', 'n-buyers', 'n-orders', 'n-units']) $(id).textContent = '0';
  for (const id of ['n-conversion', 'n-gmv', 'n-commission']) {
    $(id).textContent = '—';
    $(id).removeAttribute('title');
  }
  $('n-viewers').textContent = '0';
  setState($('numbers-status'), 'idle', '');
}

function startNumbers() {
  if (!room || room.numbers.polling) return;
  room.numbers.polling = true;
  pollNumbers();
}

/** Stops polling (the show ended, the page hid, the creator left the room). */
function stopNumbers() {
  if (!room) return;
  const n = room.numbers;
  n.polling = false;
  clearTimeout(n.timer);
  n.aborter?.abort();
}

/** After a sale: read the report shortly rather than at the next tick. */
function refreshNumbersSoon() {
  if (!room?.numbers.polling) return;
  clearTimeout(room.numbers.timer);
  room.numbers.timer = setTimeout(pollNumbers, 300);
}

async function pollNumbers() {
  const r = room;
  if (!r) return;
  const n = r.numbers;
  if (!n.polling) return;
  clearTimeout(n.timer);
  if (document.hidden) {
    setState($('numbers-status'), 'paused', 'Paused while this page is hidden.');
    return; // visibilitychange starts it again
  }
  if (n.inflight) {
    n.again = true;
    return;
  }
  n.inflight = true;
  n.aborter = new AbortController();
  try {
    const report = await r.lc.api.roomReport(r.id, {}, { signal: n.aborter.signal });
    const commission = await commissionEarned(r, report);
    if (room !== r) return;
    r.report = report;
    renderNumbers(report, commission);
    renderLineup();
    setState($('numbers-status'), 'live', `Updated ${new Date(report.generated_at).toLocaleTimeString()}; every ${POLL_MS / 1000} s while live.`);
    if (!report.live) onShowEnded();
  } catch (error) {
    if (room === r && n.polling && error?.name !== 'AbortError') setState($('numbers-status'), 'error', `Could not read the numbers: ${error.message}`);
  } finally {
    n.inflight = false;
    n.aborter = null;
    if (room === r && n.polling) n.timer = setTimeout(pollNumbers, n.again ? 0 : POLL_MS);
    n.again = false;
  }
}

/**
 * The creator's own commission on the room: the room report's whole commission, or, in
 * a co-hosted room (where it counts both creators' parts), their share from their own
 * creator report's row for the room.
 */
async function commissionEarned(r, report) {
  if (report.room.co_host_id == null) return report.commission;
  const me = session()?.account.id;
  const mine = await r.lc.api.creatorReport(me, report.room.live_at ? { from: report.room.live_at } : {}).catch(() => null);
  return mine?.rooms.find((row) => row.room.id === r.id)?.commission ?? report.commission;
}

function renderNumbers(report, commission) {
  $('n-unique').textContent = count(report.unique_viewers);
  $('n-buyers').textContent = count(report.buyers);
  $('n-conversion').replaceChildren(rate(report.conversion_rate));
  $('n-orders').textContent = count(report.orders);
  $('n-units').textContent = count(report.units);
  $('n-gmv').textContent = money(report.gmv);
  $('n-commission').textContent = money(commission.net);
  $('n-commission').title = commissionTitle(commission);
}

document.addEventListener('visibilitychange', () => {
  if (!document.hidden && room?.numbers.polling) pollNumbers();
  else if (document.hidden && room?.numbers.polling) {
    clearTimeout(room.numbers.timer);
    setState($('numbers-status'), 'paused', 'Paused while this page is hidden.');
  }
});

// ---------- the recap: the room's report once the show has ended ----------

function onShowEnded() {
  if (!room || room.ended) return;
  room.ended = true;
  stopNumbers();
  setState($('numbers-status'), 'ended', 'The show has ended: see the recap.');
  setRoomMode('ended');
  showRecap();
}

/**
 * Reads the ended room's report and draws the recap; once more a moment later, when the
 * last events of the show have reached the log (they lag by about a second).
 */
async function showRecap() {
  const r = room;
  if (!r) return;
  const card = $('recap-card');
  card.dataset.state = 'loading';
  $('recap').replaceChildren(h('p', { class: 'muted' }, 'Reading the report…'));
  const read = async () => {
    const report = await r.lc.api.roomReport(r.id);
    const commission = await commissionEarned(r, report);
    if (room !== r) return null;
    r.report = report;
    renderRecap(report, commission);
    return report;
  };
  try {
    await read();
    if (room !== r) return;
    card.dataset.state = 'ready';
    r.recapTimer = setTimeout(() => read().then((report) => {
      if (report && room === r) card.dataset.state = 'final';
    }).catch(() => {}), 1500);
  } catch (error) {
    if (room === r) {
      card.dataset.state = 'error';
      $('recap').replaceChildren(h('p', { class: 'status', 'data-state': 'error' }, `Could not read the recap: ${error.message}`));
    }
  }
}

function renderRecap(report, commission) {
  const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const headline = h('div', { class: 'stats', id: 'recap-headline' },
    tile('GMV', money(report.gmv), 'gmv'),
    tile('Orders', count(report.orders), 'orders'),
    tile('Units', count(report.units), 'units'),
    tile('Buyers', count(report.buyers), 'buyers'),
    tile('Unique viewers', count(report.unique_viewers), 'unique_viewers'),
    tile('Peak viewers', count(report.peak_viewers), 'peak_viewers'),
    tile('Conversion', rate(report.conversion_rate), 'conversion_rate', 'buyers ÷ unique viewers'),
    tile('Average order', money(report.aov), 'aov'),
    tile('Sales velocity', rate(report.sales_velocity, 'per_minute'), 'sales_velocity', 'orders per minute pinned'),
    tile('Your commission', money(commission.net), 'commission', commissionTitle(commission)));
  const ended = report.room.ended_at ? `Ended ${new Date(report.room.ended_at).toLocaleString()}` : 'Live';
  $('recap').replaceChildren(
    h('p', {}, ended, report.room.live_at && report.room.ended_at ? ` after ${showLength(report.room.ended_at - report.room.live_at)}.` : '.'),
    headline,
    upliftBlock(report.uplift),
    productTable(report.products, 'What sold, per product'),
    h('details', {}, h('summary', {}, 'Every figure of the report'), basisLine(report), ...figureGroups(report)),
    h('div', { class: 'row', style: 'align-items:center;margin-top:0.75rem' }, csvButton(room.lc.api, 'room', report.room.id, {}, `the report of ${report.room.title}`, status), status),
  );
}

function showLength(ms) {
  const minutes = Math.round(ms / 60_000);
  return minutes < 1 ? 'less than a minute' : minutes < 120 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function addComment(c) {
  const list = $('chat');
  list.append(h('li', {}, h('b', {}, c.author), c.speaker === 'host' ? ' (you)' : '', ': ', c.text));
  list.scrollTop = list.scrollHeight;
}

/** Units sold of a product: the report's (exact, the whole show) once read, else the sales seen here. */
function soldOf(productId) {
  const fromReport = room.report?.products.find((p) => p.product_id === productId);
  return fromReport ? fromReport.units : room.sold.get(productId) || 0;
}

function renderLineup() {
  if (!room?.state) return;
  const body = $('lineup');
  body.replaceChildren();
  const st = room.state;
  for (const p of st.lineup.values()) {
    const pinned = st.pinned === p.id;
    body.append(
      h('tr', { 'data-product': p.id },
        h('th', { scope: 'row' }, p.title),
        h('td', {}, money(p.price)),
        h('td', { class: 'stock' }, p.stock),
        h('td', {}, soldOf(p.id)),
        h('td', {}, h('button', { type: 'button', class: pinned ? '' : 'secondary', 'aria-pressed': String(pinned), 'aria-label': `Pin ${p.title}`,
          disabled: st.status !== 'live', onclick: () => room.conn.pin(p.id) }, pinned ? 'Pinned' : 'Pin'))),
    );
  }
  $('unpin').disabled = st.pinned == null || st.status !== 'live';
}

function renderDropForm() {
  const select = $('drop-product');
  const before = select.value;
  select.replaceChildren(...[...room.state.lineup.values()].map((p) => h('option', { value: p.id }, `${p.title} (${p.stock} in stock)`)));
  if (before) select.value = before;
  const p = room.state.lineup.get(Number(select.value));
  if (p) $('drop-currency').textContent = p.price.currency;
}

function renderDrop() {
  const d = room?.state.drop;
  if (!d) return;
  const left = d.ends_at - Date.now();
  if (left > 0) setState($('drop-status'), 'ok', `Drop running: ${d.remaining} of ${d.quantity} left at ${money(d.price)} · ends in ${countdown(left)}`);
}

$('drop-product').addEventListener('change', () => {
  const p = room?.state.lineup.get(Number($('drop-product').value));
  if (p) $('drop-currency').textContent = p.price.currency;
});

$('unpin').addEventListener('click', () => room?.conn.unpin());

$('drop-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const product = room?.state.lineup.get(Number($('drop-product').value));
  if (!product) return;
  const priceText = $('drop-price').value.trim();
  let price = null;
  if (priceText) {
    price = parseMajor(priceText, product.price.currency);
    if (price == null) {
      setState($('drop-status'), 'error', 'Enter the price like 5.00');
      return;
    }
  }
  const drop = { productId: product.id, quantity: Number($('drop-quantity').value), price, durationSecs: Number($('drop-duration').value) };
  if (!room.conn.startDrop(drop)) setState($('drop-status'), 'error', 'Not connected; try again.');
  else setState($('drop-status'), 'busy', 'Starting the drop…');
});

$('comment-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const text = $('comment').value.trim();
  if (text && room?.conn.comment(text)) $('comment').value = '';
});

$('end-room').addEventListener('click', async () => {
  if (!room || !confirm('End the show for everyone? It cannot go live again.')) return;
  if (room.conn.endRoom()) return; // `room_ended` follows, or an error naming end_room
  try {
    await api('POST', `/api/rooms/${room.id}/end`, { token: session().token });
  } catch (error) {
    setState($('conn'), 'error', `Could not end the show: ${error.message}`);
  }
});

$('show-token').addEventListener('click', () => {
  const input = $('whip-token');
  const showing = input.type === 'text';
  input.type = showing ? 'password' : 'text';
  $('show-token').setAttribute('aria-pressed', String(!showing));
  $('show-token').textContent = showing ? 'Show token' : 'Hide token';
});
$('copy-token').addEventListener('click', () => navigator.clipboard?.writeText($('whip-token').value).catch(() => {}));

// ---------- camera over WHIP ----------

async function startCamera() {
  if (!room || broadcast) return;
  const aborter = new AbortController();
  const b = { pc: null, stream: null, session: null, aborter };
  broadcast = b;
  $('cam-start').disabled = true;
  $('cam-stop').disabled = false;
  try {
    showStatus($('status'), 'starting', 'asking for your camera');
    b.stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
    $('preview').srcObject = b.stream;
    const pc = new RTCPeerConnection(await iceConfiguration({ token: loadSession()?.token }));
    b.pc = pc;
    window.livecartPeer = pc;
    for (const track of b.stream.getTracks()) {
      const t = pc.addTransceiver(track, { direction: 'sendonly', streams: [b.stream] });
      if (track.kind === 'video') preferForwardableVideo(t, RTCRtpSender.getCapabilities?.('video'));
    }
    const update = () => {
      if (broadcast !== b) return;
      if (pc.connectionState === 'connected') showStatus($('status'), 'live');
      if (pc.connectionState === 'disconnected') showStatus($('status'), 'reconnecting');
      if (pc.connectionState === 'failed') showStatus($('status'), 'error', 'the connection failed');
    };
    pc.addEventListener('connectionstatechange', update);
    showStatus($('status'), 'connecting');
    const published = await livecart().publish(pc, room.id, { signal: aborter.signal });
    if (aborter.signal.aborted) {
      await published.stop().catch(() => {});
      return;
    }
    b.session = published;
    update();
  } catch (error) {
    if (aborter.signal.aborted) return;
    let text = error?.message || String(error);
    if (error instanceof SignallingError && error.status === 409) text = 'the room is not live';
    if (error?.name === 'NotAllowedError') text = 'camera permission was refused';
    await stopCamera();
    showStatus($('status'), 'error', text);
  }
}

async function stopCamera() {
  const b = broadcast;
  if (!b) return;
  broadcast = null;
  b.aborter.abort();
  b.pc?.close();
  b.stream?.getTracks().forEach((t) => t.stop());
  $('preview').srcObject = null;
  $('cam-start').disabled = false;
  $('cam-stop').disabled = true;
  showStatus($('status'), 'stopped');
  await b.session?.stop().catch(() => {});
}

$('cam-start').addEventListener('click', startCamera);
$('cam-stop').addEventListener('click', stopCamera);
window.addEventListener('pagehide', () => {
  broadcast?.session?.stop({ keepalive: true }).catch(() => {});
});

start();
