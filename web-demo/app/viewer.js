// The viewer app: sign in or watch as a guest, pick a room, watch it over WHEP, chat,
// react, and buy the pinned product, all through the client library (../sdk/): the room
// connection resumes after a drop without a gap, a purchase keeps its idempotency key
// across retries, and the room state is folded from the protocol's frames there.
// Routes live in the fragment: #/ (rooms), #/signin, #/room/ID.

import { api, countdown, formatMoney, h, livecart, loadSession, money, setState, signIn, signOut } from './common.js';
import { REACTIONS, SignallingError, preferForwardableVideo } from '../sdk/index.js';
import { iceConfiguration } from './ice.js';

const $ = (id) => document.getElementById(id);
const GUEST_KEY = 'livecart.guest';
const RETURN_KEY = 'livecart.returnRoom';

let room = null; // the open room, see openRoom()

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

const CONNECTION_TEXT = {
  connecting: ['connecting', 'connecting…'],
  replaying: ['ok', 'connected'],
  joined: ['ok', 'connected'],
  reconnecting: ['reconnecting', 'reconnecting…'],
  closed: ['closed', 'disconnected'],
};

function openRoom(id) {
  const session = loadSession();
  const conn = livecart().room(Number(id), session ? {} : { guestName: guestName() });
  room = {
    id,
    session,
    conn,
    state: conn.room, // the library's RoomState: lineup, pinned, drop, cart, reactions, …
    video: null,
    timer: setInterval(tick, 1000),
  };
  $('chat').replaceChildren();
  $('ticker').replaceChildren(h('li', { class: 'muted empty' }, 'No sales yet.'));
  $('buy-status').hidden = true;
  $('checkout-result').hidden = true;
  $('retry-pay').hidden = true;
  setStream('not-started', 'stream not started');
  conn.on('state', (state) => {
    const [key, text] = CONNECTION_TEXT[state] ?? [];
    if (key) setState($('conn'), key, text);
  });
  conn.on('failed', ({ error }) => setState($('conn'), 'error', error?.code === 'not_found' ? 'This room does not exist.'
    : error ? error.message : 'Could not reach the room; reload to try again.'));
  conn.on('session_ended', () => backToSignIn());
  conn.on('snapshot', applySnapshot);
  conn.on('event', applyEvent);
  conn.on('viewers', (count) => { $('viewer-count').textContent = count; });
  conn.on('reactions', renderReactions);
  conn.on('cart', renderCart);
  conn.on('error', onError);
  conn.connect();
}

function closeRoom() {
  if (!room) return;
  room.conn.purchase?.abandon();
  room.conn.close();
  clearInterval(room.timer);
  stopVideo();
  room = null;
}

/** The stored session ended (signed out elsewhere, expired): sign in again and come back here. */
function backToSignIn() {
  const id = room.id;
  signOut();
  sessionStorage.setItem(RETURN_KEY, id);
  location.hash = '#/signin';
}

function applySnapshot(snap) {
  const st = room.state;
  renderTerms(st.card.co_host, st.card.disclosure);
  document.title = `${snap.room.title} · livecart`;
  $('viewer-count').textContent = st.viewers;
  $('chat').replaceChildren();
  for (const c of st.comments) addComment(c);
  renderPinned();
  renderLineup();
  renderCart();
  if (st.status === 'ended') {
    stopVideo();
    setStream('ended', 'stream ended: the show is over');
  } else if (st.streaming) {
    startVideo();
  } else {
    stopVideo();
    setStream('not-started', 'stream not started');
  }
}

function applyEvent(event) {
  switch (event.kind) {
    case 'comment':
      addComment(event);
      break;
    case 'pinned':
    case 'unpinned':
    case 'drop_started':
    case 'drop_ended':
    case 'product_updated':
      renderPinned();
      renderLineup();
      break;
    case 'sale':
      addSale(event);
      renderPinned();
      renderLineup();
      break;
    case 'room_ended':
      stopVideo({ serverClosed: true }); // ending the room closes every media session
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
  const { title, host } = room.state.card;
  const hosts = coHost ? `${host.display_name} & ${coHost.display_name}` : host.display_name;
  $('room-title').textContent = `${title} · ${hosts}`;
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
    if (span) span.textContent = room.state.reactions[name];
  }
}

function renderPinned() {
  if (!room) return;
  const st = room.state;
  const box = $('pinned');
  const product = st.pinnedProduct;
  if (!product) {
    box.replaceChildren(h('p', { class: 'muted' }, st.status === 'ended' ? 'This show has ended.' : 'The host has not featured a product yet.'));
    return;
  }
  const drop = st.runningDrop(product.id);
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
        h('button', { type: 'button', id: 'add-to-cart', disabled: soldOut || st.status === 'ended', onclick: () => addToCart(product.id) },
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
  const left = (room.state.drop?.ends_at ?? 0) - Date.now();
  if (left > 0) counter.textContent = countdown(left);
  else renderPinned();
}

function renderLineup() {
  const list = $('lineup');
  list.replaceChildren();
  for (const p of room.state.lineup.values()) {
    list.append(h('li', {}, h('span', {}, p.title, room.state.pinned === p.id ? ' ★' : ''), h('span', { class: 'muted' }, `${money(p.price)} · ${p.stock} left`)));
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
  if (!room.conn.cartAdd(productId, 1)) {
    buyNotice('error', 'Not connected right now; try again in a moment.');
    return;
  }
  buyNotice('ok', 'Added to your cart.');
}

// ---------- cart and checkout ----------

function renderCart() {
  const cart = room?.state.cart;
  const lines = cart?.lines ?? [];
  $('cart-count').textContent = lines.reduce((n, l) => n + l.quantity, 0);
  const list = $('cart-lines');
  list.replaceChildren();
  if (!lines.length) list.append(h('li', { class: 'muted' }, room?.session ? 'Your cart is empty.' : 'Sign in to buy.'));
  for (const line of lines) {
    const qty = h('input', { type: 'number', min: 1, max: 99, value: line.quantity, 'aria-label': `Quantity of ${line.title}` });
    qty.addEventListener('change', () => {
      const q = Number(qty.value);
      if (Number.isInteger(q) && q >= 1 && q <= 99) room.conn.cartSet(line.product_id, q);
    });
    list.append(
      h('li', {},
        h('div', {}, h('strong', {}, line.title), h('div', { class: 'muted' }, `${money(line.unit_price)} each · ${money(line.line_total)}`)),
        qty,
        h('button', { type: 'button', class: 'secondary', 'aria-label': `Remove ${line.title}`, onclick: () => room.conn.cartRemove(line.product_id) }, 'Remove')),
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

const FAILURE_TEXT = {
  payment_declined: 'Payment declined: your card was refused. Nothing was charged and your cart is kept. Try another card.',
  sold_out: null, // the server's message says what is left
  hold_expired: 'Your hold expired. Please check out again.',
  cart_empty: 'Your cart is empty.',
  room_not_live: 'This show is not live, so new orders are closed.',
};

/** Shows a purchase's progress: the library keeps its key and retries; this draws it. */
function showPurchase(purchase) {
  const draw = (state, error) => {
    if (room?.conn.purchase !== purchase && state !== 'confirmed' && state !== 'failed') return;
    switch (state) {
      case 'sending':
        checkoutResult('pending', 'Paying…');
        break;
      case 'waiting':
        checkoutResult('pending', 'Waiting for the connection to come back…');
        break;
      case 'retrying':
        checkoutResult('pending', 'Still paying…');
        break;
      case 'unavailable':
        checkoutResult('unavailable', error?.code === 'payment_unavailable'
          ? 'The payment provider is unavailable right now. Your items are held for a short while: retry the payment.'
          : 'The payment is taking long; retry to learn how it ended.');
        break;
      case 'failed': {
        const text = FAILURE_TEXT[error.code] ?? (error.code === 'sold_out' ? `Sold out: ${error.message}` : error.message);
        const kind = { payment_declined: 'declined', sold_out: 'sold_out' }[error.code] ?? 'error';
        checkoutResult(kind, text);
        break;
      }
      default:
        break;
    }
  };
  purchase.on('state', draw);
  draw(purchase.state, purchase.error);
  purchase.on('confirmed', onOrderConfirmed);
}

$('checkout-form').addEventListener('submit', (event) => {
  event.preventDefault();
  if (!room?.session) return askToSignIn();
  const card = $('card').value.replace(/\s+/g, '');
  if (!/^[0-9]{12,19}$/.test(card)) {
    checkoutResult('error', 'Enter a card number of 12 to 19 digits.');
    return;
  }
  // A new purchase (new idempotency key), or the unsettled one continued with its key.
  const running = room.conn.purchase;
  // No automatic retry after payment_unavailable: the buyer sees it and taps Retry.
  const purchase = room.conn.checkout({ card, retry: { unavailable: 0 } });
  if (purchase !== running) showPurchase(purchase);
});

$('retry-pay').addEventListener('click', () => {
  const purchase = room?.conn.purchase;
  if (!purchase) return;
  // Same idempotency key: the held order is charged, never a second order.
  const card = $('card').value.replace(/\s+/g, '');
  purchase.retry(/^[0-9]{12,19}$/.test(card) ? { card } : {});
});

function onOrderConfirmed(order) {
  renderCart();
  checkoutResult('confirmed', `Order #${order.id} confirmed: ${money(order.subtotal)} paid. Thank you!`);
}

function onError(error) {
  if (error.request === 'checkout') return; // the purchase shows it
  if (error.code === 'unauthenticated' && error.request !== 'join') return askToSignIn();
  if (error.request === 'comment') {
    setState($('comment-status'), 'error', error.code === 'rate_limited' ? 'Slow down a little: too many comments.' : error.message);
    return;
  }
  if (error.request === 'join' && error.code === 'unauthenticated') {
    backToSignIn(); // the stored session expired
    return;
  }
  if (error.request?.startsWith('cart')) buyNotice('error', error.message);
}

// ---------- chat and reactions ----------

$('comment-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $('comment');
  const text = input.value.trim();
  if (!text || !room) return;
  if (room.conn.comment(text)) {
    input.value = '';
    setState($('comment-status'), 'ok', '');
  } else {
    setState($('comment-status'), 'error', 'Not connected right now; try again in a moment.');
  }
});

for (const button of document.querySelectorAll('button.react')) {
  button.addEventListener('click', () => room?.conn.react(button.dataset.reaction));
}

// ---------- video (WHEP) ----------

function setStream(state, text) {
  setState($('stream-state'), state, text);
}

const player = $('video');
player.addEventListener('playing', () => {
  if (room?.video) setStream('playing', 'LIVE');
});

$('unmute').addEventListener('click', () => {
  player.muted = !player.muted;
  $('unmute').setAttribute('aria-pressed', String(!player.muted));
  $('unmute').textContent = player.muted ? '🔇 Sound off' : '🔊 Sound on';
  player.play().catch(() => {});
});

async function startVideo() {
  if (!room || room.video) return;
  // STUN/TURN for this connection (TURN credentials expire): asked before each one.
  const ice = await iceConfiguration({ token: loadSession()?.token });
  if (!room || room.video) return;
  const aborter = new AbortController();
  const pc = new RTCPeerConnection(ice);
  const video = { pc, aborter, session: null };
  room.video = video;
  window.livecartPeer = pc;
  const transceiver = pc.addTransceiver('video', { direction: 'recvonly' });
  preferForwardableVideo(transceiver, RTCRtpReceiver.getCapabilities?.('video'));
  pc.addTransceiver('audio', { direction: 'recvonly' });
  const stream = new MediaStream();
  pc.addEventListener('track', (event) => {
    stream.addTrack(event.track);
    if (room?.video === video && player.srcObject !== stream) player.srcObject = stream;
    player.play().catch(() => {});
  });
  pc.addEventListener('connectionstatechange', () => {
    if (room?.video !== video) return;
    if (pc.connectionState === 'disconnected') setStream('reconnecting', 'reconnecting…');
    if (pc.connectionState === 'connected' && !player.paused) setStream('playing', 'LIVE');
    if (pc.connectionState === 'failed') {
      setStream('reconnecting', 'reconnecting…');
      stopVideo();
      setTimeout(() => room && room.state.status !== 'ended' && startVideo(), 1500);
    }
  });
  setStream('connecting', 'connecting to the stream…');
  try {
    const session = await livecart().watch(pc, Number(room.id), {
      signal: aborter.signal,
      retryMs: 1500,
      onWaiting: () => setStream('not-started', 'stream not started'),
    });
    if (aborter.signal.aborted) {
      session.stop({ keepalive: true }).catch(() => {});
      return;
    }
    video.session = session;
  } catch (error) {
    if (aborter.signal.aborted) return;
    stopVideo();
    if (error instanceof SignallingError && error.code === 'room_not_live') setStream('ended', 'stream ended');
    else setStream('reconnecting', `reconnecting… (${error.message})`);
    setTimeout(() => room && room.state.status !== 'ended' && !room.video && startVideo(), 3000);
  }
}

/** Closes the player's connection; `serverClosed` when the server ended the session (no DELETE then). */
function stopVideo({ serverClosed = false } = {}) {
  const video = room?.video;
  if (!video) return;
  room.video = null;
  video.aborter.abort();
  video.pc.close();
  player.srcObject = null;
  if (serverClosed) video.session?.forget();
  video.session?.stop({ keepalive: true }).catch(() => {});
}

window.addEventListener('pagehide', () => {
  room?.video?.session?.stop({ keepalive: true }).catch(() => {});
});

// Exposed for tests and debugging.
window.livecartViewer = { get room() { return room; }, formatMoney };

route();
