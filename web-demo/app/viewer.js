// The viewer app: sign in or watch as a guest, pick a room, watch it over WHEP, chat,
// react, and buy the pinned product through the room WebSocket (docs/protocol.md).
// Routes live in the fragment: #/ (rooms), #/signin, #/room/ID.

import { RoomSocket, api, countdown, formatMoney, h, loadSession, money, newKey, setState, signIn, signOut } from './common.js';
import { SignallingError, endSession, negotiate, preferForwardableVideo, whepUrl } from '../live/whip.js';

const $ = (id) => document.getElementById(id);
const GUEST_KEY = 'livecart.guest';
const RETURN_KEY = 'livecart.returnRoom';
const REACTIONS = ['heart', 'fire', 'clap', 'laugh', 'wow'];

let room = null; // the open room's state, see openRoom()

// ---------- identity ----------

function guestName() {
  return sessionStorage.getItem(GUEST_KEY) || '';
}

function renderWho() {
  const session = loadSession();
  const guest = guestName();
  $('who').textContent = session ? `Signed in as ${session.account.display_name}` : guest ? `Guest: ${guest}` : '';
  $('sign-out').hidden = !session && !guest;
  $('sign-in-link').hidden = Boolean(session);
}

$('sign-in-link').addEventListener('click', () => {
  if (room) sessionStorage.setItem(RETURN_KEY, room.id);
  location.hash = '#/signin';
});

$('sign-out').addEventListener('click', async () => {
  sessionStorage.removeItem(GUEST_KEY);
  await signOut();
  renderWho();
  location.hash = '#/signin';
  route();
});

$('signin-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  setState($('signin-status'), 'busy', 'Signing in…');
  try {
    await signIn($('email').value.trim(), $('password').value);
    sessionStorage.removeItem(GUEST_KEY);
    setState($('signin-status'), 'ok', 'Signed in.');
    $('password').value = '';
    afterIdentity();
  } catch (error) {
    setState($('signin-status'), 'error', error.code === 'bad_credentials' ? 'Wrong e-mail or password.' : error.message);
  }
});

$('guest-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const name = $('guest-name').value.trim();
  if (!name) return;
  sessionStorage.setItem(GUEST_KEY, name);
  afterIdentity();
});

function afterIdentity() {
  renderWho();
  const back = sessionStorage.getItem(RETURN_KEY);
  sessionStorage.removeItem(RETURN_KEY);
  location.hash = back ? `#/room/${back}` : '#/';
  route();
}

// ---------- routing ----------

function show(view) {
  for (const id of ['view-signin', 'view-rooms', 'view-room']) $(id).hidden = id !== view;
}

function route() {
  const hash = location.hash || '#/';
  const match = hash.match(/^#\/room\/([1-9][0-9]*)$/);
  const identified = loadSession() || guestName();
  if (room && (!match || match[1] !== String(room.id))) closeRoom();
  renderWho();
  if (hash === '#/signin' || !identified) {
    if (match) sessionStorage.setItem(RETURN_KEY, match[1]);
    const reason = $('signin-reason');
    reason.hidden = !sessionStorage.getItem(RETURN_KEY);
    reason.textContent = 'Sign in to buy. You will come back to the same room.';
    show('view-signin');
    return;
  }
  if (match) {
    show('view-room');
    if (!room) openRoom(match[1]);
    return;
  }
  show('view-rooms');
  loadRooms();
}

window.addEventListener('hashchange', route);

// ---------- room lists ----------

async function loadRooms() {
  const render = (list, rooms, empty) => {
    list.replaceChildren();
    if (!rooms.length) list.append(h('li', { class: 'muted' }, empty));
    for (const r of rooms) {
      const when = r.status === 'live' ? `${r.viewers} watching` : new Date(r.starts_at).toLocaleString();
      list.append(
        h('li', {},
          h('div', {}, h('strong', {}, r.title), h('div', { class: 'muted' }, `${r.host.display_name} · ${when}`)),
          h('a', { class: 'button', href: `#/room/${r.id}`, 'aria-label': `${r.status === 'live' ? 'Watch' : 'Open'} ${r.title}` },
            r.status === 'live' ? 'Watch' : 'Open')),
      );
    }
  };
  try {
    const [live, upcoming] = await Promise.all([api('GET', '/api/rooms?status=live'), api('GET', '/api/rooms?status=upcoming')]);
    render($('live-rooms'), live, 'Nobody is live right now.');
    render($('upcoming-rooms'), upcoming, 'Nothing scheduled.');
  } catch (error) {
    $('live-rooms').replaceChildren(h('li', { class: 'status', 'data-state': 'error' }, `Could not load rooms: ${error.message}`));
  }
}

// ---------- the room ----------

function openRoom(id) {
  const session = loadSession();
  room = {
    id,
    session,
    lineup: new Map(),
    pinned: null,
    drop: null,
    cart: null,
    status: null,
    streaming: false,
    reactions: Object.fromEntries(REACTIONS.map((r) => [r, 0])),
    video: null,
    checkout: null, // { key, card, inFlight }
    timer: setInterval(tick, 1000),
  };
  $('chat').replaceChildren();
  $('ticker').replaceChildren(h('li', { class: 'muted empty' }, 'No sales yet.'));
  $('buy-status').hidden = true;
  $('checkout-result').hidden = true;
  $('retry-pay').hidden = true;
  setStream('not-started', 'stream not started');
  room.socket = new RoomSocket({
    roomId: id,
    token: session?.token,
    guestName: session ? null : guestName(),
    onMessage: onMessage,
    onState: (state) => {
      const text = { connecting: 'connecting…', open: 'connected', reconnecting: 'reconnecting…', closed: 'disconnected' }[state];
      setState($('conn'), state === 'open' ? 'ok' : state === 'reconnecting' ? 'reconnecting' : state, text);
    },
  });
  room.socket.connect();
}

function closeRoom() {
  if (!room) return;
  room.socket.close();
  clearInterval(room.timer);
  stopVideo();
  room = null;
}

function onMessage(msg) {
  if (!room) return;
  switch (msg.type) {
    case 'snapshot':
      applySnapshot(msg);
      break;
    case 'resumed':
      if (room.checkout?.inFlight) sendCheckout(); // the reply may have been lost with the connection
      break;
    case 'event':
      applyEvent(msg.event);
      break;
    case 'viewers':
      $('viewer-count').textContent = msg.count;
      break;
    case 'reactions':
      for (const [name, count] of Object.entries(msg.counts)) room.reactions[name] = (room.reactions[name] || 0) + count;
      renderReactions();
      break;
    case 'cart':
      room.cart = msg.cart;
      renderCart();
      break;
    case 'order_confirmed':
      onOrderConfirmed(msg.order);
      break;
    case 'error':
      onError(msg);
      break;
    default:
      break;
  }
}

function applySnapshot(snap) {
  room.lineup = new Map(snap.lineup.map((p) => [p.id, { ...p }]));
  room.pinned = snap.pinned;
  room.drop = snap.drop;
  room.cart = snap.cart;
  room.you = snap.you;
  room.status = snap.room.status;
  room.host = snap.room.host;
  room.title = snap.room.title;
  renderTerms(snap.room.co_host, snap.room.disclosure);
  document.title = `${snap.room.title} · livecart`;
  $('viewer-count').textContent = snap.viewers;
  $('chat').replaceChildren();
  for (const c of snap.comments) addComment(c);
  renderPinned();
  renderLineup();
  renderCart();
  if (room.status === 'ended') {
    stopVideo();
    setStream('ended', 'stream ended: the show is over');
  } else if (snap.streaming) {
    startVideo();
  } else {
    stopVideo();
    setStream('not-started', 'stream not started');
  }
  if (room.checkout?.inFlight) sendCheckout();
}

function applyEvent(event) {
  switch (event.kind) {
    case 'comment':
      addComment(event);
      break;
    case 'pinned':
      room.lineup.set(event.product.id, { ...event.product });
      room.pinned = event.product.id;
      renderPinned();
      renderLineup();
      break;
    case 'unpinned':
      room.pinned = null;
      renderPinned();
      break;
    case 'drop_started':
      room.drop = event.drop;
      renderPinned();
      break;
    case 'drop_ended':
      if (room.drop?.id === event.drop_id) room.drop = null;
      renderPinned();
      break;
    case 'sale': {
      const product = room.lineup.get(event.product_id);
      if (product) product.stock = event.stock_left;
      if (event.drop_left != null && room.drop?.product_id === event.product_id) room.drop.remaining = event.drop_left;
      addSale(event);
      renderPinned();
      renderLineup();
      break;
    }
    case 'room_live':
      room.status = 'live';
      break;
    case 'room_ended':
      room.status = 'ended';
      room.pinned = null;
      room.drop = null;
      stopVideo();
      setStream('ended', 'stream ended: the show is over');
      renderPinned();
      break;
    case 'stream_started':
      stopVideo();
      startVideo();
      break;
    case 'stream_stopped':
      stopVideo();
      setStream('ended', 'stream ended');
      break;
    case 'room_updated':
      renderTerms(event.co_host, event.disclosure);
      break;
    default:
      break;
  }
}

// Who presents the show, and the sponsorship disclosure advertising rules require every
// viewer to see (docs/protocol.md, section 9.3).
function renderTerms(coHost, disclosure) {
  const hosts = coHost ? `${room.host.display_name} & ${coHost.display_name}` : room.host.display_name;
  $('room-title').textContent = `${room.title} · ${hosts}`;
  const banner = $('disclosure');
  banner.textContent = disclosure || '';
  banner.hidden = !disclosure;
}

function addComment(c) {
  const list = $('chat');
  list.append(h('li', { class: c.speaker }, h('b', {}, c.author), c.speaker === 'host' ? ' (host)' : '', ': ', c.text));
  while (list.children.length > 60) list.firstElementChild.remove();
  list.scrollTop = list.scrollHeight;
}

function addSale(sale) {
  const list = $('ticker');
  list.querySelector('.empty')?.remove();
  list.prepend(h('li', {}, `🛍 ${sale.buyer} bought ${sale.quantity} × ${sale.title}`, h('span', { class: 'muted' }, ` · ${sale.stock_left} left`)));
  while (list.children.length > 6) list.lastElementChild.remove();
}

function renderReactions() {
  for (const name of REACTIONS) {
    const span = document.querySelector(`[data-count="${name}"]`);
    if (span) span.textContent = room.reactions[name];
  }
}

function runningDrop(productId) {
  const d = room.drop;
  return d && d.product_id === productId && d.ends_at > Date.now() ? d : null;
}

function renderPinned() {
  if (!room) return;
  const box = $('pinned');
  const product = room.pinned != null ? room.lineup.get(room.pinned) : null;
  if (!product) {
    box.replaceChildren(h('p', { class: 'muted' }, room.status === 'ended' ? 'This show has ended.' : 'The host has not featured a product yet.'));
    return;
  }
  const drop = runningDrop(product.id);
  const price = drop
    ? h('div', { class: 'price' }, money(drop.price), h('s', {}, money(product.price)))
    : h('div', { class: 'price' }, money(product.price));
  const placeholder = () => h('div', { class: 'thumb', 'aria-hidden': 'true' }, product.title.slice(0, 1));
  let img = placeholder();
  if (product.image_url && !brokenImages.has(product.image_url)) {
    img = h('img', { src: product.image_url, alt: '', width: 88, height: 88 });
    img.addEventListener('error', () => {
      brokenImages.add(product.image_url);
      img.replaceWith(placeholder());
    }, { once: true });
  }
  const hadFocus = document.activeElement?.id === 'add-to-cart';
  const soldOut = product.stock <= 0 || (drop && drop.remaining <= 0);
  box.replaceChildren(
    h('article', { class: 'product', 'aria-label': `Featured: ${product.title}` },
      img,
      h('div', {},
        h('h4', { class: 'product-title' }, product.title),
        product.description ? h('p', { class: 'muted' }, product.description) : null,
        price,
        h('p', { class: 'stock', id: 'stock-left' }, product.stock > 0 ? `${product.stock} left in stock` : 'Sold out'),
        drop ? h('p', { class: 'drop', id: 'drop-info' }, `⚡ Drop: ${drop.remaining} of ${drop.quantity} left · ends in `,
          h('span', { id: 'drop-countdown' }, countdown(drop.ends_at - Date.now()))) : null,
        h('button', { type: 'button', id: 'add-to-cart', disabled: soldOut || room.status === 'ended', onclick: () => addToCart(product.id) },
          soldOut ? 'Sold out' : 'Add to cart'),
      )),
  );
  if (hadFocus) $('add-to-cart')?.focus();
}

const brokenImages = new Set();

/** Once a second: the drop countdown, and a redraw when the drop's time is up. */
function tick() {
  if (!room) return;
  const counter = $('drop-countdown');
  if (!counter) return;
  const left = (room.drop?.ends_at ?? 0) - Date.now();
  if (left > 0) counter.textContent = countdown(left);
  else renderPinned();
}

function renderLineup() {
  const list = $('lineup');
  list.replaceChildren();
  for (const p of room.lineup.values()) {
    list.append(h('li', {}, h('span', {}, p.title, room.pinned === p.id ? ' ★' : ''), h('span', { class: 'muted' }, `${money(p.price)} · ${p.stock} left`)));
  }
}

function buyNotice(state, text) {
  const notice = $('buy-status');
  notice.hidden = false;
  setState(notice, state, text);
}

function askToSignIn() {
  const notice = $('buy-status');
  notice.hidden = false;
  notice.dataset.state = 'error';
  notice.replaceChildren(
    'Guests cannot buy. Sign in and you will come back to this room. ',
    h('button', { type: 'button', onclick: () => { sessionStorage.setItem(RETURN_KEY, room.id); location.hash = '#/signin'; } }, 'Sign in to buy'),
  );
}

function addToCart(productId) {
  if (!room.session) {
    askToSignIn();
    return;
  }
  if (!room.socket.send({ type: 'cart_add', product_id: productId, quantity: 1 })) {
    buyNotice('error', 'Not connected right now; try again in a moment.');
    return;
  }
  buyNotice('ok', 'Added to your cart.');
}

// ---------- cart and checkout ----------

function renderCart() {
  const cart = room?.cart;
  const lines = cart?.lines ?? [];
  $('cart-count').textContent = lines.reduce((n, l) => n + l.quantity, 0);
  const list = $('cart-lines');
  list.replaceChildren();
  if (!lines.length) list.append(h('li', { class: 'muted' }, room?.session ? 'Your cart is empty.' : 'Sign in to buy.'));
  for (const line of lines) {
    const qty = h('input', { type: 'number', min: 1, max: 99, value: line.quantity, 'aria-label': `Quantity of ${line.title}` });
    qty.addEventListener('change', () => {
      const q = Number(qty.value);
      if (Number.isInteger(q) && q >= 1 && q <= 99) room.socket.send({ type: 'cart_set', product_id: line.product_id, quantity: q });
    });
    list.append(
      h('li', {},
        h('div', {}, h('strong', {}, line.title), h('div', { class: 'muted' }, `${money(line.unit_price)} each · ${money(line.line_total)}`)),
        qty,
        h('button', { type: 'button', class: 'secondary', 'aria-label': `Remove ${line.title}`, onclick: () => room.socket.send({ type: 'cart_remove', product_id: line.product_id }) }, 'Remove')),
    );
  }
  $('cart-total').textContent = cart?.total ? money(cart.total) : '—';
}

$('open-cart').addEventListener('click', () => {
  if (!room?.session) {
    askToSignIn();
    return;
  }
  renderCart();
  $('cart-dialog').showModal();
});
$('close-cart').addEventListener('click', () => $('cart-dialog').close());

function checkoutResult(state, text) {
  const box = $('checkout-result');
  box.hidden = false;
  setState(box, state, text);
  $('retry-pay').hidden = state !== 'unavailable';
  $('pay').disabled = state === 'pending';
}

function sendCheckout() {
  const c = room.checkout;
  c.inFlight = true;
  if (!room.socket.send({ type: 'checkout', idempotency_key: c.key, card: c.card })) {
    checkoutResult('pending', 'Waiting for the connection to come back…');
    return;
  }
  checkoutResult('pending', 'Paying…');
}

$('checkout-form').addEventListener('submit', (event) => {
  event.preventDefault();
  if (!room?.session) return askToSignIn();
  const card = $('card').value.replace(/\s+/g, '');
  if (!/^[0-9]{12,19}$/.test(card)) {
    checkoutResult('error', 'Enter a card number of 12 to 19 digits.');
    return;
  }
  room.checkout = { key: newKey(), card, inFlight: false };
  sendCheckout();
});

$('retry-pay').addEventListener('click', () => {
  if (!room?.checkout) return;
  // Same idempotency key: the held order is charged again, never a second order.
  const card = $('card').value.replace(/\s+/g, '');
  if (/^[0-9]{12,19}$/.test(card)) room.checkout.card = card;
  sendCheckout();
});

function onOrderConfirmed(order) {
  if (room.checkout?.key === order.idempotency_key) room.checkout = null;
  room.cart = { lines: [], total: null };
  renderCart();
  checkoutResult('confirmed', `Order #${order.id} confirmed: ${money(order.subtotal)} paid. Thank you!`);
}

function onError(msg) {
  if (msg.request === 'checkout') {
    const keep = msg.code === 'payment_unavailable' || msg.code === 'checkout_in_progress';
    if (room.checkout) room.checkout.inFlight = false;
    if (!keep) room.checkout = null;
    const text = {
      payment_declined: 'Payment declined: your card was refused. Nothing was charged and your cart is kept. Try another card.',
      payment_unavailable: 'The payment provider is unavailable right now. Your items are held for a short while: retry the payment.',
      sold_out: `Sold out: ${msg.message}`,
      hold_expired: 'Your hold expired. Please check out again.',
      cart_empty: 'Your cart is empty.',
      room_not_live: 'This show is not live, so new orders are closed.',
      checkout_in_progress: 'A payment is already running; wait for its result.',
    }[msg.code] ?? msg.message;
    const state = { payment_declined: 'declined', payment_unavailable: 'unavailable', sold_out: 'sold_out' }[msg.code] ?? 'error';
    checkoutResult(state, text);
    return;
  }
  if (msg.code === 'unauthenticated' && msg.request !== 'join') return askToSignIn();
  if (msg.request === 'comment') {
    setState($('comment-status'), 'error', msg.code === 'rate_limited' ? 'Slow down a little: too many comments.' : msg.message);
    return;
  }
  if (msg.request === 'join') {
    if (msg.code === 'unauthenticated') {
      // The stored session expired: sign in again and come back here.
      signOut();
      sessionStorage.setItem(RETURN_KEY, room.id);
      location.hash = '#/signin';
      return;
    }
    setState($('conn'), 'error', msg.code === 'not_found' ? 'This room does not exist.' : msg.message);
    return;
  }
  if (msg.request?.startsWith('cart')) buyNotice('error', msg.message);
}

// ---------- chat and reactions ----------

$('comment-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $('comment');
  const text = input.value.trim();
  if (!text || !room) return;
  if (room.socket.send({ type: 'comment', text })) {
    input.value = '';
    setState($('comment-status'), 'ok', '');
  } else {
    setState($('comment-status'), 'error', 'Not connected right now; try again in a moment.');
  }
});

for (const button of document.querySelectorAll('button.react')) {
  button.addEventListener('click', () => room?.socket.send({ type: 'react', reaction: button.dataset.reaction }));
}

// ---------- video (WHEP) ----------

function setStream(state, text) {
  setState($('stream-state'), state, text);
}

const video = $('video');
video.addEventListener('playing', () => {
  if (room?.video) setStream('playing', 'LIVE');
});

$('unmute').addEventListener('click', () => {
  video.muted = !video.muted;
  $('unmute').setAttribute('aria-pressed', String(!video.muted));
  $('unmute').textContent = video.muted ? '🔇 Sound off' : '🔊 Sound on';
  video.play().catch(() => {});
});

async function startVideo() {
  if (!room || room.video) return;
  const aborter = new AbortController();
  const pc = new RTCPeerConnection();
  const session = { pc, aborter, location: null };
  room.video = session;
  window.livecartPeer = pc;
  const transceiver = pc.addTransceiver('video', { direction: 'recvonly' });
  preferForwardableVideo(transceiver, RTCRtpReceiver.getCapabilities?.('video'));
  pc.addTransceiver('audio', { direction: 'recvonly' });
  const stream = new MediaStream();
  pc.addEventListener('track', (event) => {
    stream.addTrack(event.track);
    if (room?.video === session && video.srcObject !== stream) video.srcObject = stream;
    video.play().catch(() => {});
  });
  pc.addEventListener('connectionstatechange', () => {
    if (room?.video !== session) return;
    if (pc.connectionState === 'disconnected') setStream('reconnecting', 'reconnecting…');
    if (pc.connectionState === 'connected' && !video.paused) setStream('playing', 'LIVE');
    if (pc.connectionState === 'failed') {
      setStream('reconnecting', 'reconnecting…');
      stopVideo();
      setTimeout(() => room && room.status !== 'ended' && startVideo(), 1500);
    }
  });
  setStream('connecting', 'connecting to the stream…');
  try {
    session.location = await negotiate(pc, whepUrl(room.id), {
      signal: aborter.signal,
      retryMs: 1500,
      retryWhile: (e) => e.status === 409 && e.code === 'not_streaming',
      onRetry: () => setStream('not-started', 'stream not started'),
    });
  } catch (error) {
    if (aborter.signal.aborted) return;
    stopVideo();
    if (error instanceof SignallingError && error.code === 'room_not_live') setStream('ended', 'stream ended');
    else setStream('reconnecting', `reconnecting… (${error.message})`);
    setTimeout(() => room && room.status !== 'ended' && !room.video && startVideo(), 3000);
  }
}

function stopVideo() {
  const session = room?.video;
  if (!session) return;
  room.video = null;
  session.aborter.abort();
  session.pc.close();
  video.srcObject = null;
  if (session.location) endSession(session.location, { keepalive: true }).catch(() => {});
}

window.addEventListener('pagehide', () => {
  if (room?.video?.location) endSession(room.video.location, { keepalive: true }).catch(() => {});
});

// Exposed for tests and debugging.
window.livecartViewer = { get room() { return room; }, formatMoney };

route();
