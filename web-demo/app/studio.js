// Creator studio: sign in, pick one of your rooms, go live from the camera over WHIP (or
// show the WHIP URL and token for OBS), pin products, start drops, chat, watch the numbers
// and end the show.

import { RoomSocket, api, bindRoleSignIn, countdown, formatMoney, h, loadSession, money, parseMajor, setState, signOut } from './common.js';
import { SignallingError, endSession, negotiate, preferForwardableVideo, showStatus, whipUrl } from '../live/whip.js';

const $ = (id) => document.getElementById(id);
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
  $('room-title').textContent = r.title;
  room = { id: r.id, lineup: new Map(), pinned: null, drop: null, sold: new Map(), units: 0, revenue: new Map(), orders: 0, seenSeq: 0, timer: null };
  $('chat').replaceChildren();
  $('whip-url').value = new URL(whipUrl(r.id), location.href).href;
  $('whip-token').value = s.token;
  room.socket = new RoomSocket({
    roomId: r.id,
    token: s.token,
    onMessage,
    onState: (state) => setState($('conn'), state === 'open' ? 'ok' : state, state === 'open' ? 'connected' : `${state}…`),
  });
  room.socket.connect();
  room.timer = setInterval(renderDrop, 1000);
  refreshOrders();
}

async function leaveRoom() {
  if (broadcast) await stopCamera();
  if (!room) return;
  room.socket.close();
  clearInterval(room.timer);
  room = null;
}

$('back').addEventListener('click', async () => {
  await leaveRoom();
  start();
});

function onMessage(msg) {
  if (!room) return;
  if (msg.type === 'snapshot') {
    room.lineup = new Map(msg.lineup.map((p) => [p.id, { ...p }]));
    room.pinned = msg.pinned;
    room.drop = msg.drop;
    room.status = msg.room.status;
    $('n-viewers').textContent = msg.viewers;
    $('chat').replaceChildren();
    msg.comments.forEach(addComment);
    if (!msg.you.is_host) setState($('conn'), 'error', 'You are not the host of this room.');
    renderLineup();
    renderDropForm();
  } else if (msg.type === 'viewers') {
    $('n-viewers').textContent = msg.count;
  } else if (msg.type === 'event') {
    const e = msg.event;
    switch (e.kind) {
      case 'comment': addComment(e); break;
      case 'pinned': room.lineup.set(e.product.id, { ...e.product }); room.pinned = e.product.id; renderLineup(); break;
      case 'unpinned': room.pinned = null; renderLineup(); break;
      case 'drop_started': room.drop = e.drop; setState($('drop-status'), 'ok', `Drop running: ${e.drop.quantity} units at ${money(e.drop.price)}`); renderDrop(); break;
      case 'drop_ended': room.drop = null; setState($('drop-status'), 'ok', `Drop ended: ${e.sold} sold.`); break;
      case 'sale': onSale(e); break;
      case 'room_ended':
        room.status = 'ended'; room.pinned = null; room.drop = null; renderLineup();
        setState($('conn'), 'ended', 'show ended');
        $('end-room').disabled = true;
        if (broadcast) stopCamera();
        break;
      default: break;
    }
  } else if (msg.type === 'error') {
    const target = msg.request === 'start_drop' ? $('drop-status') : $('conn');
    setState(target, 'error', `${msg.request ?? 'error'}: ${msg.message}`);
  }
}

function onSale(e) {
  const product = room.lineup.get(e.product_id);
  if (product) product.stock = e.stock_left;
  if (e.drop_left != null && room.drop) room.drop.remaining = e.drop_left;
  room.sold.set(e.product_id, (room.sold.get(e.product_id) || 0) + e.quantity);
  room.units += e.quantity;
  // The line's price: the drop price when the line was part of the drop, else the catalogue.
  const price = e.drop_left != null && room.drop?.product_id === e.product_id ? room.drop.price : product?.price;
  if (price) room.revenue.set(price.currency, (room.revenue.get(price.currency) || 0) + price.amount * e.quantity);
  renderNumbers();
  renderLineup();
  clearTimeout(room.ordersTimer);
  room.ordersTimer = setTimeout(refreshOrders, 400);
}

/** Orders (sale events carry no order id) and exact revenue, from the creator's attributed orders. */
async function refreshOrders() {
  const s = session();
  if (!room || !s) return;
  try {
    const data = await api('GET', `/api/creators/${s.account.id}/orders`, { token: s.token });
    const paid = data.orders.filter((o) => o.room_id === room.id && o.status === 'paid');
    room.orders = paid.length;
    room.paidRevenue = new Map();
    for (const o of paid) room.paidRevenue.set(o.subtotal.currency, (room.paidRevenue.get(o.subtotal.currency) || 0) + o.subtotal.amount);
    renderNumbers();
  } catch {
    // Keep the event-based figures.
  }
}

function renderNumbers() {
  $('n-orders').textContent = room.orders;
  $('n-units').textContent = room.units;
  const revenue = room.paidRevenue?.size ? room.paidRevenue : room.revenue;
  $('n-revenue').textContent = revenue.size ? [...revenue].map(([c, a]) => formatMoney(a, c)).join(' + ') : '—';
}

function addComment(c) {
  const list = $('chat');
  list.append(h('li', {}, h('b', {}, c.author), c.speaker === 'host' ? ' (you)' : '', ': ', c.text));
  list.scrollTop = list.scrollHeight;
}

function renderLineup() {
  const body = $('lineup');
  body.replaceChildren();
  for (const p of room.lineup.values()) {
    const pinned = room.pinned === p.id;
    body.append(
      h('tr', { 'data-product': p.id },
        h('th', { scope: 'row' }, p.title),
        h('td', {}, money(p.price)),
        h('td', { class: 'stock' }, p.stock),
        h('td', {}, room.sold.get(p.id) || 0),
        h('td', {}, h('button', { type: 'button', class: pinned ? '' : 'secondary', 'aria-pressed': String(pinned), 'aria-label': `Pin ${p.title}`,
          disabled: room.status !== 'live', onclick: () => room.socket.send({ type: 'pin', product_id: p.id }) }, pinned ? 'Pinned' : 'Pin'))),
    );
  }
  $('unpin').disabled = room.pinned == null;
}

function renderDropForm() {
  const select = $('drop-product');
  const before = select.value;
  select.replaceChildren(...[...room.lineup.values()].map((p) => h('option', { value: p.id }, `${p.title} (${p.stock} in stock)`)));
  if (before) select.value = before;
  const p = room.lineup.get(Number(select.value));
  if (p) $('drop-currency').textContent = p.price.currency;
}

function renderDrop() {
  if (!room?.drop) return;
  const d = room.drop;
  const left = d.ends_at - Date.now();
  if (left > 0) setState($('drop-status'), 'ok', `Drop running: ${d.remaining} of ${d.quantity} left at ${money(d.price)} · ends in ${countdown(left)}`);
}

$('drop-product').addEventListener('change', () => {
  const p = room?.lineup.get(Number($('drop-product').value));
  if (p) $('drop-currency').textContent = p.price.currency;
});

$('unpin').addEventListener('click', () => room?.socket.send({ type: 'unpin' }));

$('drop-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const product = room?.lineup.get(Number($('drop-product').value));
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
  const message = {
    type: 'start_drop',
    product_id: product.id,
    quantity: Number($('drop-quantity').value),
    price,
    duration_secs: Number($('drop-duration').value),
  };
  if (!room.socket.send(message)) setState($('drop-status'), 'error', 'Not connected; try again.');
  else setState($('drop-status'), 'busy', 'Starting the drop…');
});

$('comment-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const text = $('comment').value.trim();
  if (text && room?.socket.send({ type: 'comment', text })) $('comment').value = '';
});

$('end-room').addEventListener('click', async () => {
  if (!room || !confirm('End the show for everyone? It cannot go live again.')) return;
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
  const s = session();
  const aborter = new AbortController();
  const b = { pc: null, stream: null, location: null, aborter, token: s.token };
  broadcast = b;
  $('cam-start').disabled = true;
  $('cam-stop').disabled = false;
  try {
    showStatus($('status'), 'starting', 'asking for your camera');
    b.stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
    $('preview').srcObject = b.stream;
    const pc = new RTCPeerConnection();
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
    b.location = await negotiate(pc, whipUrl(room.id), { token: s.token, signal: aborter.signal });
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
  if (b.location) await endSession(b.location, { token: b.token }).catch(() => {});
}

$('cam-start').addEventListener('click', startCamera);
$('cam-stop').addEventListener('click', stopCamera);
window.addEventListener('pagehide', () => {
  if (broadcast?.location) endSession(broadcast.location, { token: broadcast.token, keepalive: true }).catch(() => {});
});

start();
