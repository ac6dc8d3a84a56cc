// The viewer app: sign in, sign up or watch as a guest, pick a room, watch it over WHEP
// (on a phone the stream fills the screen and chat, reactions and the featured product
// float over it), chat, react, and buy: the featured product in one tap, any product of
// the lineup from the shop drawer, and with a saved card on servers that keep one. All
// through the client library (../sdk/): the room connection resumes after a drop
// without a gap, a purchase keeps its idempotency key across retries, and the room state
// is folded from the protocol's frames there. A purchase a guest starts resumes once
// they are signed in. Before and after the show: "Remind me" follows a creator, signed-in
// viewers see their followed creators' shows and hear over a listen connection when one
// goes live, and an ended show shows a recap with the creator's next show. During the show a
// giveaway card over the video lets viewers enter, announces the winner and checks the
// draw against its commitment (docs/protocol.md 4.14). An auction card over the video
// takes bids (one tap at the least bid, or an amount and a proxy maximum), counts down by
// the room clock and offers the winner the unit (4.20–4.22); units held for the viewer (an
// auction won, a comment SOLD or BUY <keyword>, a waitlist's turn) are paid from the cart
// sheet with the same checkout pieces. Routes live in
// the fragment: #/ (rooms), #/signin, #/signup, #/room/ID.

import { api, countdown, flash, formatMoney, h, livecart, loadSession, minorDigits, money, parseMajor, register, setState, signIn, signOut } from './common.js';
import { REACTIONS, SignallingError, preferForwardableVideo, verifyDraw } from '../sdk/index.js';
import { iceConfiguration } from './ice.js';
import { MODERATION_ACTIONS, commentActions, heldItems } from './moderation.js';
import { drawIcons, icon } from './icons.js';

const $ = (id) => document.getElementById(id);
const GUEST_KEY = 'livecart.guest';
const RETURN_KEY = 'livecart.returnRoom';
// A purchase a guest started: { room, product }, resumed once they are signed in.
const PENDING_KEY = 'livecart.pendingBuy';
// A creator a signed-out viewer asked to be reminded of: { id, name }, followed once signed in.
const PENDING_FOLLOW_KEY = 'livecart.pendingFollow';
const ROOMS_POLL_MS = 10_000;

let room = null; // the open room, see openRoom()

drawIcons();

/**
 * Whether the server has a route (its OpenAPI document, asked once), so an older server
 * gets no request that fails (the browser logs those as errors).
 */
let serverPaths = null;
function serverHas(path) {
  serverPaths ??= api('GET', '/api/openapi.json').then((doc) => new Set(Object.keys(doc?.paths ?? {}))).catch(() => new Set());
  return serverPaths.then((paths) => paths.has(path));
}

// ---------- identity ----------

function guestName() {
  return localStorage.getItem(GUEST_KEY) || '';
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
  sessionStorage.removeItem(PENDING_FOLLOW_KEY);
  location.hash = '#/signin';
});

$('sign-out').addEventListener('click', async () => {
  localStorage.removeItem(GUEST_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_FOLLOW_KEY);
  wallet = null;
  followed = null;
  stopNotices();
  await signOut();
  renderWho();
  location.hash = '#/signin';
  route();
});

// Signing in or out in another tab.
window.addEventListener('storage', (event) => {
  if (event.key !== 'livecart.session' && event.key !== GUEST_KEY) return;
  const session = loadSession();
  if (room && (room.session?.token ?? null) !== (session?.token ?? null)) closeRoom();
  route();
});

$('signin-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  setState($('signin-status'), 'busy', 'Signing in…');
  try {
    await signIn($('email').value.trim(), $('password').value);
    localStorage.removeItem(GUEST_KEY);
    setState($('signin-status'), 'ok', 'Signed in.');
    $('password').value = '';
    afterIdentity();
  } catch (error) {
    setState($('signin-status'), 'error', error.code === 'bad_credentials' ? 'Wrong e-mail or password.' : error.message);
  }
});

$('signup-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  setState($('signup-status'), 'busy', 'Creating your account…');
  try {
    await register({ email: $('signup-email').value.trim(), password: $('signup-password').value, displayName: $('signup-name').value.trim() });
    localStorage.removeItem(GUEST_KEY);
    setState($('signup-status'), 'ok', 'Welcome!');
    $('signup-password').value = '';
    afterIdentity();
  } catch (error) {
    const text = { email_taken: 'An account with this e-mail exists: sign in instead.', conflict: 'An account with this e-mail exists: sign in instead.' }[error.code];
    setState($('signup-status'), 'error', text ?? error.message);
  }
});

$('guest-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const name = $('guest-name').value.trim();
  if (!name) return;
  localStorage.setItem(GUEST_KEY, name);
  afterIdentity();
});

function afterIdentity() {
  renderWho();
  followed = null;
  const back = sessionStorage.getItem(RETURN_KEY);
  sessionStorage.removeItem(RETURN_KEY);
  location.hash = back ? `#/room/${back}` : '#/';
  route();
  resumePendingFollow();
}

// ---------- routing ----------

const VIEWS = ['view-signin', 'view-signup', 'view-rooms', 'view-room'];

function show(view) {
  for (const id of VIEWS) $(id).hidden = id !== view;
  document.body.classList.toggle('in-room', view === 'view-room');
  document.documentElement.style.setProperty('--header-h', `${document.querySelector('header.top').offsetHeight}px`);
  if (view !== 'view-rooms') stopRoomsPolling();
}

function route() {
  const hash = location.hash || '#/';
  const match = hash.match(/^#\/room\/([1-9][0-9]*)$/);
  const identified = loadSession() || guestName();
  if (room && (!match || match[1] !== String(room.id))) closeRoom();
  renderWho();
  syncNotices();
  if (match) dismissAlert(Number(match[1]));
  if (hash === '#/signup' && !loadSession()) {
    const pending = sessionStorage.getItem(PENDING_KEY);
    $('signup-reason').hidden = !pending;
    $('signup-reason').textContent = 'Create an account to buy. Your purchase continues right after.';
    show('view-signup');
    return;
  }
  if (hash === '#/signin' || hash === '#/signup' || !identified) {
    if (match) sessionStorage.setItem(RETURN_KEY, match[1]);
    const reason = $('signin-reason');
    const follow = pendingFollow();
    reason.hidden = !sessionStorage.getItem(RETURN_KEY) && !follow;
    reason.textContent = follow
      ? `Sign in to be reminded when ${follow.name} goes live.`
      : sessionStorage.getItem(PENDING_KEY)
        ? 'Sign in to buy. Your purchase continues in the same room.'
        : 'Sign in to buy. You will come back to the same room.';
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
window.addEventListener('resize', () => document.documentElement.style.setProperty('--header-h', `${document.querySelector('header.top').offsetHeight}px`));

// ---------- room lists: read again every few seconds while shown ----------

let roomsTimer = null;

function stopRoomsPolling() {
  clearTimeout(roomsTimer);
  roomsTimer = null;
}

/** A room row of the lobby: title, host and time or audience, lineup, Watch / Open, and "Remind me" for scheduled shows. */
function roomItem(r, { remind }) {
  const when = r.status === 'live' ? `live · ${r.viewers} watching` : startsText(r.starts_at);
  const lineup = r.lineup?.length ? ` · ${r.lineup.map((p) => p.title).slice(0, 3).join(', ')}${r.lineup.length > 3 ? '…' : ''}` : '';
  const open = r.status === 'live' ? 'Watch' : 'Open';
  return h('li', { 'data-room': r.id },
    h('div', { class: 'what' }, h('strong', {}, r.title), h('div', { class: 'muted' }, `${r.host.display_name} · ${when}${lineup}`)),
    h('div', { class: 'actions' },
      remind && r.status !== 'live' ? followButton(r.host, 'remind') : null,
      h('a', { class: 'button', href: `#/room/${r.id}`, 'aria-label': `${open} ${r.title}`, 'data-focus': `open-${r.id}` }, open)));
}

/** Fills a lobby list, keeping the focus on the control that had it (the lists are drawn again every few seconds). */
function renderRoomList(list, rooms, empty, options) {
  const focused = list.contains(document.activeElement) ? document.activeElement.dataset.focus : null;
  list.replaceChildren(...(rooms.length ? rooms.map((r) => roomItem(r, options)) : [h('li', { class: 'muted' }, empty)]));
  if (focused) list.querySelector(`[data-focus="${focused}"]`)?.focus();
}

async function loadRooms() {
  stopRoomsPolling();
  const session = loadSession();
  try {
    const [live, upcoming, mine] = await Promise.all([
      api('GET', '/api/rooms?status=live'),
      api('GET', '/api/rooms?status=upcoming'),
      session ? loadFollowing(session) : null,
      followsSupported(), // (guests get "Remind me" too: it asks them to sign in)
    ]);
    if ($('view-rooms').hidden) return;
    renderRoomList($('live-rooms'), live, 'Nobody is live right now.', { remind: false });
    renderRoomList($('upcoming-rooms'), upcoming, 'Nothing scheduled.', { remind: true });
    $('following-card').hidden = mine == null;
    if (mine) renderRoomList($('following-rooms'), mine, 'Tap "Remind me" on a show to follow its creator: their shows come here.', { remind: true });
  } catch (error) {
    $('live-rooms').replaceChildren(h('li', { class: 'status', 'data-state': 'error' }, `Could not load rooms: ${error.message}`));
  }
  if (!$('view-rooms').hidden) roomsTimer = setTimeout(pollRooms, ROOMS_POLL_MS);
}

/** "Starts Tue 14:30", or "Starts in 5 min" when it is close. */
function startsText(at) {
  const ms = at - Date.now();
  if (ms <= 0) return 'starting soon';
  if (ms < 60 * 60_000) return `starts in ${Math.max(1, Math.round(ms / 60_000))} min`;
  return `starts ${new Date(at).toLocaleString([], { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' })}`;
}

function pollRooms() {
  if ($('view-rooms').hidden) return;
  if (document.hidden) return; // visibilitychange reads them again
  loadRooms();
}

document.addEventListener('visibilitychange', () => {
  if (!document.hidden && !$('view-rooms').hidden) loadRooms();
});

// ---------- following creators ("Remind me") and going-live alerts ----------

let followed = null; // ids of the creators the signed-in account follows; null until read
let followSupport = null; // does the server keep follows (and `listen`)? null until known
const followBusy = new Set(); // creators with a follow or unfollow under way

async function followsSupported() {
  followSupport = await serverHas('/api/me/follows');
  return followSupport;
}

/** The creator a signed-out viewer asked to be reminded of, or null. */
function pendingFollow() {
  try {
    return JSON.parse(sessionStorage.getItem(PENDING_FOLLOW_KEY) || 'null');
  } catch {
    return null;
  }
}

/** Reads whom the account follows, and their live and scheduled shows (null when not signed in or not supported). */
async function loadFollowing(session = loadSession()) {
  if (!session || !(await followsSupported())) return null;
  const lc = livecart();
  try {
    const [creators, shows] = await Promise.all([lc.api.follows(), lc.api.upcoming()]);
    followed = new Set(creators.map((c) => c.id));
    return shows;
  } catch {
    return null;
  }
}

/** Reads whom the account follows once, then draws the follow buttons again. */
async function ensureFollows() {
  if (!(await followsSupported())) return;
  if (!followed && loadSession()) {
    try {
      followed = new Set((await livecart().api.follows()).map((c) => c.id));
    } catch {
      return;
    }
  }
  redrawFollowButtons();
  renderHostFollow();
}

/**
 * A "Remind me" (`kind` 'remind', for a show to come) or "Follow" button for a creator,
 * "Following" once followed; null for the creator's own account.
 */
function followButton(host, kind) {
  if (followSupport !== true || loadSession()?.account.id === host.id) return null;
  const button = h('button', {
    type: 'button', class: 'follow secondary', 'data-host': host.id, 'data-name': host.display_name, 'data-kind': kind,
    'data-focus': `follow-${host.id}-${kind}`,
  });
  button.addEventListener('click', () => toggleFollow({ id: host.id, display_name: host.display_name }));
  drawFollowButton(button);
  return button;
}

function drawFollowButton(button) {
  const on = followed?.has(Number(button.dataset.host)) ?? false;
  const name = button.dataset.name;
  button.dataset.following = String(on);
  button.setAttribute('aria-busy', String(followBusy.has(Number(button.dataset.host))));
  const [text, rest] = on ? ['Following', ` ${name}`]
    : button.dataset.kind === 'remind' ? ['Remind me', ` when ${name} goes live`] : ['Follow', ` ${name}`];
  button.replaceChildren(icon(on ? 'check' : 'bell', { size: 16 }), text, h('span', { class: 'sr-only' }, rest));
}

function redrawFollowButtons() {
  for (const button of document.querySelectorAll('button.follow')) drawFollowButton(button);
}

/** Says how a follow went: in the room's notice line, or above the lobby's lists. */
function followNotice(state, text) {
  if (room) {
    buyNotice(state, text);
    return;
  }
  const notice = $('follow-status');
  notice.hidden = false;
  if (state === 'ok') flash(notice, state, text, 5000);
  else setState(notice, state, text);
}

async function toggleFollow(host) {
  const session = loadSession();
  if (!session) {
    // Sign in first; the follow happens right after.
    sessionStorage.setItem(PENDING_FOLLOW_KEY, JSON.stringify({ id: host.id, name: host.display_name }));
    if (room) sessionStorage.setItem(RETURN_KEY, room.id);
    location.hash = '#/signin';
    return;
  }
  if (followBusy.has(host.id)) return;
  const on = followed?.has(host.id) ?? false;
  followBusy.add(host.id);
  redrawFollowButtons();
  try {
    const lc = livecart();
    if (on) await lc.api.unfollow(host.id);
    else await lc.api.follow(host.id);
    followed ??= new Set();
    if (on) followed.delete(host.id);
    else followed.add(host.id);
    followNotice('ok', on ? `You will no longer be reminded of ${host.display_name}'s shows.`
      : `Following ${host.display_name}: you will be told when they go live.`);
  } catch (error) {
    if (error.status === 401) {
      await signOut();
      location.hash = '#/signin';
      return;
    }
    followNotice('error', `Could not ${on ? 'unfollow' : 'follow'} ${host.display_name}: ${error.message}`);
  } finally {
    followBusy.delete(host.id);
    redrawFollowButtons();
    renderGiveaway(); // following may be what a giveaway asked for
  }
  if (!$('view-rooms').hidden) loadRooms();
}

/** After signing in: the follow a signed-out viewer asked for. */
async function resumePendingFollow() {
  const pending = pendingFollow();
  sessionStorage.removeItem(PENDING_FOLLOW_KEY);
  if (!pending || !loadSession()) return;
  await ensureFollows();
  if (!followed?.has(pending.id)) await toggleFollow({ id: pending.id, display_name: pending.name });
}

// While the app is open and signed in, a listen connection: a followed creator going live
// shows an alert with a Watch button (not for the room being watched).
let notices = null; // { token, feed }
const announced = new Set(); // rooms whose going-live was shown already

async function syncNotices() {
  const token = loadSession()?.token ?? null;
  if ((notices?.token ?? null) === token) return;
  stopNotices();
  if (!token || !(await followsSupported())) return;
  if ((loadSession()?.token ?? null) !== token || notices) return; // changed while asking
  const feed = livecart().notices();
  feed.on('going_live', onGoingLive);
  // Alerts missed while away are not sent again: the lists say who is live.
  feed.on('resync', () => { if (!$('view-rooms').hidden) loadRooms(); });
  // A session that ended is not listened with again (the next sign-in starts anew).
  feed.on('session_ended', () => feed.close());
  feed.connect().catch(() => {}); // a server from before notifications: no alerts
  notices = { token, feed };
}

function stopNotices() {
  notices?.feed.close();
  notices = null;
}

const heard = []; // every going_live received, for tests and debugging

function onGoingLive(card) {
  heard.push(card.id);
  if (room && Number(room.id) === card.id) return; // already here
  if (announced.has(card.id)) return; // the room connection and the listen connection both say it
  announced.add(card.id);
  const list = $('live-alerts');
  const item = h('li', { class: 'live-alert', 'data-room': card.id },
    icon('live', { size: 22 }),
    h('p', {}, h('b', {}, card.host.display_name), ' is live: ', card.title),
    h('a', { class: 'button', href: `#/room/${card.id}` }, 'Watch', h('span', { class: 'sr-only' }, ` ${card.title}`)),
    h('button', { type: 'button', class: 'round dismiss' }, icon('close', { size: 18 }), h('span', { class: 'sr-only' }, `Dismiss: ${card.title}`)));
  item.querySelector('button.dismiss').addEventListener('click', () => item.remove());
  list.append(item);
  while (list.children.length > 3) list.firstElementChild.remove();
  if (!$('view-rooms').hidden) loadRooms();
}

/** The room is open now: its alert has done its job. */
function dismissAlert(roomId) {
  $('live-alerts').querySelector(`li[data-room="${roomId}"]`)?.remove();
}

// ---------- the room ----------

const CONNECTION_TEXT = {
  connecting: ['connecting', 'connecting…'],
  replaying: ['ok', 'connected'],
  joined: ['ok', 'connected'],
  reconnecting: ['reconnecting', 'reconnecting…'],
  closed: ['closed', 'disconnected'],
  banned: ['error', 'removed from this room'],
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
    shown: new Map(), // product id → the stock figure last drawn, to animate a drop in stock
    reactionsShown: null,
    // The giveaway card: how entering went ({ id, state, message }), the draw dismissed,
    // the Verify disclosure ({ id, open, state, view, check }).
    giveaway: { entry: null, dismissed: null, verify: null },
    // The auction card: when a late bid last extended it (for the cue), the outcome
    // dismissed, the price last announced to screen readers and when.
    auction: { extendedAt: 0, dismissed: null, announced: null, announceTimer: null },
    paying: null, // the offer the checkout sheet pays, or null for the cart
    paid: new Map(), // offer id → the order reference it was paid with
    timer: setInterval(tick, 1000),
  };
  $('chat').replaceChildren();
  $('held-panel').hidden = true;
  setState($('mod-status'), 'idle', '');
  $('removed').hidden = true;
  $('stage').hidden = false;
  $('comment-hint').textContent = '';
  $('toasts').replaceChildren();
  $('ticker').replaceChildren(h('li', { class: 'muted empty' }, 'No sales yet.'));
  $('host-follow').replaceChildren();
  $('stage-cards').prepend($('giveaway'));
  $('giveaway').hidden = true;
  setState($('giveaway-status'), 'idle', '');
  $('auction').hidden = true;
  setState($('auction-status'), 'idle', '');
  hideRecap();
  clearMessages();
  // (An ended show turned these off; this room may be live.)
  for (const control of $('comment-form').elements) control.disabled = false;
  $('comment').placeholder = 'Say something…';
  for (const button of document.querySelectorAll('button.react')) button.disabled = false;
  $('checkout-result').hidden = true;
  $('retry-pay').hidden = true;
  setStream('not-started', 'stream not started');
  conn.on('state', (state) => {
    const [key, text] = CONNECTION_TEXT[state] ?? [];
    if (key) setState($('conn'), key, text);
    // "Not connected right now" stops being true once joined again.
    if (state === 'joined' && $('comment-status').dataset.state === 'offline') setState($('comment-status'), 'idle', '');
    if (state === 'joined' && $('buy-status').dataset.state === 'offline') $('buy-status').hidden = true;
  });
  conn.on('failed', ({ error }) => setState($('conn'), 'error', error?.code === 'not_found' ? 'This room does not exist.'
    : error ? error.message : 'Could not reach the room; reload to try again.'));
  conn.on('session_ended', () => backToSignIn());
  conn.on('removed', showRemoved);
  conn.on('snapshot', applySnapshot);
  conn.on('event', applyEvent);
  conn.on('viewers', (count) => { $('viewer-count').textContent = count; });
  conn.on('reactions', onReactions);
  conn.on('cart', renderCart);
  conn.on('error', onError);
  conn.on('going_live', onGoingLive);
  conn.on('held_for_review', () => setState($('comment-status'), 'ok', 'Held for review: the host or a moderator will check it before the room sees it.'));
  for (const name of ['held', 'comment_held', 'comment_reviewed']) conn.on(name, renderHeld);
  conn.on('bid_placed', renderAuction);
  conn.on('offer', onOffer);
  conn.on('offers', renderHeldForYou);
  conn.on('comment_purchase', onCommentPurchase);
  conn.on('waitlist', () => {
    renderPinned();
    renderLineup();
  });
  conn.connect();
  ensureFollows();
}

function closeRoom() {
  if (!room) return;
  room.conn.purchase?.abandon();
  room.conn.close();
  clearInterval(room.timer);
  clearTimeout(room.hintTimer);
  clearTimeout(room.auction.announceTimer);
  stopVideo();
  for (const id of ['cart-dialog', 'shop-dialog']) if ($(id).open) $(id).close();
  room = null;
  hideRecap();
}

/** The stored session ended (signed out elsewhere, expired): sign in again and come back here. */
function backToSignIn() {
  const id = room.id;
  signOut();
  sessionStorage.setItem(RETURN_KEY, id);
  location.hash = '#/signin';
}

/** Clears the short-lived messages (a new room, the show ended). */
function clearMessages() {
  $('buy-status').hidden = true;
  setState($('buy-status'), 'idle', '');
  setState($('comment-status'), 'idle', '');
}

function applySnapshot(snap) {
  const st = room.state;
  // A giveaway open before a resync and gone now was drawn while the events were missed.
  const before = room.openGiveaway;
  room.openGiveaway = st.giveaway?.id ?? null;
  if (before != null && before !== room.openGiveaway && st.lastDraw?.giveaway_id !== before) loadMissedDraw(before);
  renderTerms(st.card.co_host, st.card.disclosure);
  document.title = `${snap.room.title} · livecart`;
  $('viewer-count').textContent = st.viewers;
  $('chat').replaceChildren();
  for (const c of st.comments) addComment(c);
  renderHeld();
  renderCommentHint();
  // A late joiner sees what sold before they came: the latest two over the video, the
  // list beside it (and in the shop drawer on a phone), the units sold, the reactions.
  renderSales();
  $('toasts').replaceChildren();
  for (const sale of st.recentSales.slice(0, 2).reverse()) toast(sale);
  renderHostFollow();
  room.reactionsShown = null;
  renderReactions();
  renderSold();
  renderPinned();
  renderLineup();
  renderCart();
  renderGiveaway();
  renderAuction();
  renderHeldForYou();
  if (st.status === 'ended') {
    stopVideo({ serverClosed: true }); // ending the room closed every media session
    setStream('ended', 'stream ended: the show is over');
    onShowEnded();
  } else if (st.streaming) {
    hideRecap();
    startVideo();
  } else {
    hideRecap();
    stopVideo();
    setStream('not-started', 'stream not started');
  }
  resumePendingPurchase();
}

function applyEvent(event, meta) {
  switch (event.kind) {
    case 'comment':
      addComment({ ...event, seq: meta.seq });
      break;
    case 'comment_deleted':
      $('chat').querySelector(`li[data-seq="${event.seq}"]`)?.remove();
      break;
    case 'banned':
      // Their comments go with them.
      for (const li of $('chat').querySelectorAll(`li[data-author-key="${CSS.escape(event.author_key)}"]`)) li.remove();
      break;
    case 'timed_out':
    case 'slow_mode':
      renderCommentHint();
      break;
    case 'drop_started':
      room.dropSoldOut = null;
      renderPinned();
      renderLineup();
      break;
    case 'pinned':
    case 'unpinned':
    case 'drop_ended':
    case 'product_updated':
      renderPinned();
      renderLineup();
      break;
    case 'sale':
      if (event.drop_left === 0) room.dropSoldOut = event.product_id;
      renderSales();
      if (!meta?.replay) toast(event);
      renderSold();
      renderPinned();
      renderLineup();
      break;
    case 'room_ended':
      stopVideo({ serverClosed: true }); // ending the room closes every media session
      setStream('ended', 'stream ended: the show is over');
      renderPinned();
      renderLineup();
      renderHeld();
      onShowEnded();
      break;
    case 'stream_started':
      stopVideo();
      startVideo();
      break;
    case 'stream_stopped': {
      setStream('ended', 'stream ended');
      // When the show ends, `stream_stopped` can come just before `room_ended`, whose
      // sessions the server has closed already: wait a moment before saying goodbye.
      const video = room.video;
      setTimeout(() => {
        if (!room || room.video !== video) return;
        stopVideo({ serverClosed: room.state.status === 'ended' });
      }, 1500);
      break;
    }
    case 'room_updated':
      renderTerms(event.co_host, event.disclosure);
      break;
    case 'room_live':
      renderHostFollow(); // "Remind me" becomes "Follow"
      break;
    case 'giveaway_started':
      room.openGiveaway = event.giveaway.id;
      setState($('giveaway-status'), 'idle', '');
      renderGiveaway();
      break;
    case 'giveaway_drawn':
      room.openGiveaway = null;
      setState($('giveaway-status'), 'idle', '');
      renderGiveaway();
      break;
    case 'auction_started':
      setState($('auction-status'), 'idle', '');
      $('auction-amount').value = '';
      $('auction-max').value = '';
      renderAuction();
      break;
    case 'auction_bid':
      if (event.extended && !meta.replay) room.auction.extendedAt = Date.now();
      renderAuction();
      break;
    case 'auction_ended':
    case 'auction_offered':
    case 'auction_settled':
      renderAuction();
      renderHeldForYou();
      break;
    case 'keywords_updated':
      renderPinned();
      renderLineup();
      break;
    default:
      break;
  }
}

/** The show is over: nothing to buy, say or react to any more. */
function onShowEnded() {
  clearMessages();
  for (const control of $('comment-form').elements) control.disabled = true;
  $('comment').placeholder = 'The show has ended';
  for (const button of document.querySelectorAll('button.react')) button.disabled = true;
  if ($('shop-dialog').open) renderShop();
  renderHostFollow();
  renderRecap();
  // The draw at the show's end is read in the recap.
  $('recap-title').after($('giveaway'));
  renderGiveaway();
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
  if (c.author_key && room.state.banned.has(c.author_key)) return;
  const li = h('li', { class: c.speaker, dataset: { seq: String(c.seq), authorKey: c.author_key ?? '' } }, h('b', {}, c.author), c.speaker === 'host' ? h('span', { class: 'tag' }, 'host') : '', ': ', c.text);
  const actions = commentActions(room.conn, c, onModerated);
  if (actions) li.append(' ', actions);
  list.append(li);
  while (list.children.length > 60) list.firstElementChild.remove();
  list.scrollTop = list.scrollHeight;
}

/** "just now", "5 min ago", "2 h ago" (the server's clock against this one's). */
function ago(at) {
  const seconds = Math.max(0, Math.round((Date.now() - at) / 1000));
  if (seconds < 60) return 'just now';
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return new Date(at).toLocaleDateString();
}

/** "Sam bought 2 × Dew Drop Serum · 12 left · 3 min ago" */
function saleItem(sale) {
  const left = sale.stock_left != null ? ` · ${sale.stock_left} left` : '';
  return h('li', {}, `${sale.buyer} bought ${sale.quantity} × ${sale.title}`,
    h('span', { class: 'muted' }, `${left} · `, h('time', { datetime: new Date(sale.at).toISOString() }, ago(sale.at))));
}

/** The show's latest sales (the snapshot's, then each sale): beside the video, and in the shop drawer. */
function renderSales() {
  const sales = room.state.recentSales.slice(0, 8);
  for (const list of [$('ticker'), $('shop-sales')]) {
    list.replaceChildren(...(sales.length ? sales.map(saleItem) : [h('li', { class: 'muted empty' }, 'No sales yet.')]));
  }
}

/** "Sam just bought 2 × Dew Drop Serum" over the video for a few seconds (three at most). */
function toast(sale) {
  const list = $('toasts');
  const recent = sale.at == null || Date.now() - sale.at < 120_000;
  const item = h('li', { class: 'toast' }, h('b', {}, sale.buyer),
    recent ? ` just bought ${sale.quantity} × ${sale.title}` : ` bought ${sale.quantity} × ${sale.title} · ${ago(sale.at)}`);
  list.append(item);
  while (list.children.length > 3) list.firstElementChild.remove();
  setTimeout(() => item.remove(), 5000);
}

/** "37 sold in this show" (the server's figure), else what this page has seen sell. */
function renderSold() {
  const st = room.state;
  const chip = $('sold-count');
  const shown = st.unitsSold ?? st.unitsSeen;
  chip.hidden = !shown;
  chip.textContent = st.unitsSold != null ? `${shown} sold in this show` : `${shown} sold since you came`;
}

/** The host's Follow / Remind me button on the room's title bar. */
function renderHostFollow() {
  const host = room?.state.card?.host;
  const button = host ? followButton(host, room.state.status === 'scheduled' ? 'remind' : 'follow') : null;
  $('host-follow').replaceChildren(...(button ? [button] : []));
}

function hideRecap() {
  $('recap').hidden = true;
  delete $('stage').dataset.ended;
}

/** An ended show: what sold, and the creator's next show with a Remind me. */
async function renderRecap() {
  const current = room;
  if (!current) return;
  const st = current.state;
  $('stage').dataset.ended = 'true';
  $('recap').hidden = false;
  const units = st.unitsSold ?? st.unitsSeen;
  $('recap-units').replaceChildren(h('b', {}, String(units)), st.unitsSold != null ? ' sold in this show' : ' sold while you watched');
  const sales = st.recentSales;
  const list = $('recap-sold');
  const title = $('recap-sold-title');
  // By product when the latest sales are all of the show's; else the latest sales themselves.
  const whole = st.unitsSold != null && sales.reduce((n, sale) => n + sale.quantity, 0) === st.unitsSold;
  title.hidden = list.hidden = !sales.length && units > 0;
  if (!sales.length) {
    title.textContent = 'What sold';
    list.replaceChildren(h('li', { class: 'muted' }, 'Nothing sold in this show.'));
  } else if (whole) {
    title.textContent = 'What sold';
    const byProduct = new Map();
    for (const sale of sales) {
      const entry = byProduct.get(sale.product_id) ?? { title: sale.title, units: 0 };
      entry.units += sale.quantity;
      byProduct.set(sale.product_id, entry);
    }
    list.replaceChildren(...[...byProduct].sort((a, b) => b[1].units - a[1].units).map(([id, entry]) => {
      const product = st.lineup.get(id);
      return h('li', { 'data-product': id }, product ? productImage(product, 40) : h('span'),
        h('span', { class: 'title' }, entry.title), h('span', { class: 'units' }, `${entry.units} sold`));
    }));
  } else {
    title.textContent = 'Latest sales';
    list.replaceChildren(...sales.slice(0, 5).map(saleItem));
  }

  const host = st.card.host;
  const next = $('recap-next');
  next.replaceChildren(h('p', { class: 'muted' }, `Looking for ${host.display_name}'s next show…`));
  let upcoming = null;
  try {
    // (A server from before the host filter lists everyone's: this creator's soonest then.)
    const filter = await followsSupported();
    const rooms = await livecart().api.rooms(filter ? { status: 'upcoming', host: host.id, limit: 1 } : { status: 'upcoming' });
    upcoming = rooms.find((r) => r.host.id === host.id && r.id !== st.card.id) ?? null;
  } catch {
    upcoming = null;
  }
  if (room !== current) return;
  const follow = followButton(host, upcoming ? 'remind' : 'follow');
  if (!upcoming) {
    next.replaceChildren(h('h4', {}, `Next from ${host.display_name}`),
      h('p', { class: 'muted' }, `Nothing scheduled yet.${follow ? ' Follow to hear when they go live.' : ''}`),
      ...(follow ? [h('div', { class: 'row' }, follow)] : []));
    return;
  }
  const open = upcoming.status === 'live' ? 'Watch' : 'Open';
  const lineup = upcoming.lineup?.length ? upcoming.lineup.map((p) => p.title).slice(0, 3).join(', ') : '';
  next.replaceChildren(
    h('h4', {}, `Next from ${host.display_name}`),
    h('div', { class: 'next-show', 'data-room': upcoming.id },
      h('strong', {}, upcoming.title),
      h('div', { class: 'muted small' }, upcoming.status === 'live' ? 'live now' : startsText(upcoming.starts_at)),
      lineup ? h('div', { class: 'muted small' }, lineup) : null),
    h('div', { class: 'row' }, follow,
      h('a', { class: 'button secondary', href: `#/room/${upcoming.id}` }, open, h('span', { class: 'sr-only' }, ` ${upcoming.title}`))));
}

function onReactions(counts) {
  renderReactions();
  // One floating icon per reaction, a handful per tick at most.
  let budget = 8;
  for (const [name, count] of Object.entries(counts ?? {})) {
    for (let i = 0; i < Math.min(count, budget); i++) floatReaction(name, i * 180);
    budget -= Math.min(count, budget);
  }
}

const REACTION_COLOURS = { heart: '#ff4d6d', fire: '#ff9f1c', clap: '#ffd166', laugh: '#fde68a', wow: '#fde68a' };

function floatReaction(name, delayMs = 0) {
  if (window.matchMedia?.('(prefers-reduced-motion: reduce)').matches) return;
  const layer = $('hearts');
  if (layer.childElementCount > 24) return;
  const svg = icon(REACTIONS.includes(name) ? name : 'heart', { size: 26 });
  svg.style.color = REACTION_COLOURS[name] ?? '#ff4d6d';
  svg.style.left = `${Math.round(Math.random() * 24)}px`;
  svg.style.setProperty('--drift', `${Math.round(Math.random() * 40 - 20)}px`);
  svg.style.animationDelay = `${delayMs}ms`;
  svg.addEventListener('animationend', () => svg.remove());
  layer.append(svg);
}

function renderReactions() {
  for (const name of REACTIONS) {
    const span = document.querySelector(`[data-count="${name}"]`);
    if (span) span.textContent = room.state.reactions[name];
  }
}

const brokenImages = new Set();

/** The product's picture, or its initial when it has none (or it did not load). */
function productImage(product, size) {
  const placeholder = () => h('div', { class: 'thumb', 'aria-hidden': 'true' }, product.title.slice(0, 1));
  if (!product.image_url || brokenImages.has(product.image_url)) return placeholder();
  const img = h('img', { src: product.image_url, alt: '', width: size, height: size, loading: 'lazy' });
  img.addEventListener('error', () => {
    brokenImages.add(product.image_url);
    img.replaceWith(placeholder());
  }, { once: true });
  return img;
}

/** What a viewer may do with a product now: { price, left, soldOut, drop, dropSoldOut }. */
function offer(product) {
  const st = room.state;
  const running = st.runningDrop(product.id);
  // A drop that sold out is over: the catalogue price and the product's stock again
  // (docs/protocol.md 4.7).
  const drop = running && running.remaining > 0 ? running : null;
  const ended = st.status === 'ended';
  return {
    drop,
    price: drop ? drop.price : product.price,
    left: drop ? Math.min(drop.remaining, product.stock) : product.stock,
    soldOut: product.stock <= 0,
    closed: ended || st.status !== 'live',
  };
}

function stockText(o) {
  if (o.soldOut) return 'Sold out';
  if (o.left <= 5) return `${o.left} left!`;
  return `${o.left} left in stock`;
}

function renderPinned() {
  if (!room) return;
  const st = room.state;
  const box = $('pinned');
  // A drop features its product, pinned or not.
  const dropped = st.drop && st.drop.ends_at > Date.now() && st.drop.remaining > 0 ? st.lineup.get(st.drop.product_id) : null;
  const product = dropped ?? st.pinnedProduct;
  if (!product) {
    box.replaceChildren(h('p', { class: 'muted' }, st.status === 'ended' ? 'This show has ended.' : 'The host has not featured a product yet.'));
    return;
  }
  const o = offer(product);
  const focused = document.activeElement?.id;
  const price = o.drop
    ? h('div', { class: 'price' }, money(o.drop.price), h('s', {}, h('span', { class: 'sr-only' }, 'was '), money(product.price)))
    : h('div', { class: 'price' }, money(product.price));
  // Animate the stock line when it went down since it was last drawn ("3 left!").
  const key = `${product.id}:${o.drop ? `d${o.drop.id}` : 's'}`;
  const before = room.shown.get(key);
  room.shown.set(key, o.left);
  const stock = h('p', { class: 'stock', id: 'stock-left', 'data-low': String(o.left <= 5) }, stockText(o));
  if (before != null && o.left < before) stock.classList.add('bump');
  const banner = o.drop
    ? h('div', { class: 'drop-banner', id: 'drop-info' },
      icon('bolt', { size: 18 }),
      h('span', {}, `Drop: ${o.drop.remaining} of ${o.drop.quantity} left${o.drop.per_buyer ? `, ${o.drop.per_buyer} per buyer` : ''}`),
      h('span', { class: 'clock' }, h('span', { class: 'sr-only' }, 'ends in '), h('span', { id: 'drop-countdown' }, countdown(o.drop.ends_at - Date.now()))),
      h('progress', { max: o.drop.quantity, value: o.drop.remaining, 'aria-label': 'Units left in the drop' }))
    : room.dropSoldOut === product.id
      ? h('div', { class: 'drop-banner', id: 'drop-info' }, icon('bolt', { size: 18 }), h('span', {}, 'The drop sold out: back to the regular price'), h('span', {}))
      : null;
  const cannot = o.soldOut || o.closed;
  const buyText = o.closed ? (st.status === 'ended' ? 'Show ended' : 'Not live yet') : o.soldOut ? 'Sold out' : 'Buy now';
  const waiting = (o.soldOut && !o.closed) || heldOffer(product) ? waitlistAction(product, 'pinned-waitlist') : null;
  box.replaceChildren(
    h('article', { class: `product-card${o.drop ? ' has-drop' : ''}`, 'aria-label': `Featured: ${product.title}` },
      banner,
      productImage(product, 60),
      h('h4', { class: 'product-title' }, product.title),
      h('div', { class: 'meta' }, price, stock),
      h('div', { class: 'buy-row' },
        waiting ?? h('button', { type: 'button', id: 'buy-now', class: 'buy', disabled: cannot, onclick: () => buyNow(product.id) }, buyText),
        h('button', { type: 'button', id: 'add-to-cart', class: 'add secondary', disabled: cannot, onclick: () => addToCart(product.id) }, 'Add to cart')),
      commentToBuyHint(product, o, st.pinned === product.id)),
  );
  if (focused === 'add-to-cart' || focused === 'buy-now' || focused === 'pinned-waitlist') $(focused)?.focus();
}

/** "Comment SOLD to buy" under the pinned product (and its keyword's BUY), while it can be bought. */
function commentToBuyHint(product, o, pinned) {
  if (o.soldOut || o.closed) return null;
  const keyword = room.state.keywordOf(product.id);
  const ways = [pinned ? 'SOLD' : null, keyword ? `BUY ${keyword}` : null].filter(Boolean);
  if (!ways.length) return null;
  return h('p', { class: 'buy-hint', id: 'buy-hint' }, 'Comment ', ...ways.flatMap((w, i) => [i ? ' or ' : '', h('kbd', {}, w)]), ' to buy');
}

/** A unit of this room's `product` held for the viewer and not paid yet (a waitlist's turn, a comment that bought), or null. */
function heldOffer(product) {
  return room.state.openOffers().find((o) => o.room_id === Number(room.id) && o.product_id === product.id && !room.paid.has(o.id)) ?? null;
}

/**
 * What a viewer can do about a sold-out product: join its waitlist, see their place (and
 * leave), or pay the unit held for them once it came back.
 */
function waitlistAction(product, id) {
  const st = room.state;
  const held = heldOffer(product);
  if (held) {
    return h('button', { type: 'button', id, class: 'buy', onclick: () => openCheckout({ offerId: held.id }) },
      `Pay ${money({ ...held.price, amount: held.price.amount * held.quantity })}`, h('span', { class: 'sr-only' }, `: ${product.title} is held for you`));
  }
  const place = st.waitlists.get(product.id);
  if (place != null) {
    return h('button', { type: 'button', id, class: 'secondary', onclick: () => waitlist(product.id, false) },
      `You're #${place} · Leave`, h('span', { class: 'sr-only' }, ` the waitlist for ${product.title}`));
  }
  return h('button', { type: 'button', id, class: 'buy', onclick: () => waitlist(product.id, true) },
    'Join waitlist', h('span', { class: 'sr-only' }, ` for ${product.title}`));
}

async function waitlist(productId, join) {
  if (!room.session) return askToSignIn();
  const r = room;
  try {
    const answer = await (join ? r.conn.joinWaitlist(productId) : r.conn.leaveWaitlist(productId));
    if (room !== r) return;
    buyNotice('ok', answer.place == null ? 'You left the waitlist.' : `You're #${answer.place} on the waitlist: a unit that comes back is held for you.`);
  } catch (error) {
    if (room !== r) return;
    if (error.code === 'unauthenticated') return askToSignIn();
    buyNotice('error', error.code === 'conflict' ? 'It is back in stock: buy it now.'
      : error.code === 'not_connected' ? 'Not connected right now; try again in a moment.' : error.message);
  }
}

/** Once a second: the drop, giveaway and auction countdowns, and a redraw when the drop's time is up. */
function tick() {
  if (!room) return;
  const closes = $('giveaway-countdown');
  if (closes && room.state.giveaway) closes.textContent = countdown(room.state.giveaway.closes_at - Date.now());
  tickAuction();
  if (room.paying != null || $('offers-section').hidden === false) renderHeldForYou();
  const counter = $('drop-countdown');
  if (!counter) return;
  const left = (room.state.drop?.ends_at ?? 0) - Date.now();
  if (left > 0) counter.textContent = countdown(left);
  else {
    renderPinned();
    renderLineup();
  }
}

/** A lineup row: picture, title, price and stock, and its Buy / Add buttons. */
function lineupItem(p) {
  const o = offer(p);
  const cannot = o.soldOut || o.closed;
  const keyword = !cannot ? room.state.keywordOf(p.id) : null;
  return h('li', { 'data-product': p.id },
    productImage(p, 48),
    h('div', {},
      h('div', { class: 'title' }, p.title, room.state.pinned === p.id ? h('span', { class: 'badge' }, 'Live') : ''),
      h('div', { class: 'muted small' }, `${money(o.price)} · ${stockText(o)}`, keyword ? [' · comment ', h('kbd', {}, `BUY ${keyword}`)] : '')),
    h('div', { class: 'actions' },
      (o.soldOut && !o.closed) || heldOffer(p) ? waitlistAction(p, null)
        : h('button', { type: 'button', disabled: cannot, 'aria-label': `Buy ${p.title}`, onclick: () => buyNow(p.id) }, 'Buy'),
      h('button', { type: 'button', class: 'secondary', disabled: cannot, 'aria-label': `Add ${p.title} to cart`, onclick: () => addToCart(p.id) }, icon('cart', { size: 18 }))));
}

function renderLineup() {
  if (!room) return;
  $('lineup').replaceChildren(...[...room.state.lineup.values()].map(lineupItem));
  if ($('shop-dialog').open) renderShop();
}

function renderShop() {
  $('shop-list').replaceChildren(...[...room.state.lineup.values()].map(lineupItem));
}

$('open-shop').addEventListener('click', () => {
  if (!room) return;
  renderShop();
  $('shop-dialog').showModal();
});
$('close-shop').addEventListener('click', () => $('shop-dialog').close());

function buyNotice(state, text) {
  const notice = $('buy-status');
  notice.hidden = false;
  if (state === 'ok') flash(notice, state, text, 3000);
  else setState(notice, state, text);
}

function askToSignIn() {
  const notice = $('buy-status');
  notice.hidden = false;
  notice.dataset.state = 'error';
  delete notice.dataset.flash;
  const go = (hash) => {
    sessionStorage.setItem(RETURN_KEY, room.id);
    location.hash = hash;
  };
  notice.replaceChildren(
    'Guests cannot buy. Sign in and you will come back to this room. ',
    h('span', { class: 'row' },
      h('button', { type: 'button', onclick: () => go('#/signin') }, 'Sign in to buy'),
      h('button', { type: 'button', class: 'secondary', onclick: () => go('#/signup') }, 'Create account')),
  );
  if ($('shop-dialog').open) $('shop-dialog').close();
}

function addToCart(productId) {
  if (!room.session) {
    sessionStorage.setItem(PENDING_KEY, JSON.stringify({ room: room.id, product: productId, open: false }));
    askToSignIn();
    return;
  }
  if (!room.conn.cartAdd(productId, 1)) {
    buyNotice('offline', 'Not connected right now; try again in a moment.');
    return;
  }
  buyNotice('ok', 'Added to your cart.');
}

/** One tap: the product in the cart and the checkout open (with the saved card, when there is one). */
function buyNow(productId) {
  if (!room.session) {
    sessionStorage.setItem(PENDING_KEY, JSON.stringify({ room: room.id, product: productId, open: true }));
    askToSignIn();
    return;
  }
  const inCart = room.state.cart?.lines.some((l) => l.product_id === productId);
  if (!inCart && !room.conn.cartAdd(productId, 1)) {
    buyNotice('offline', 'Not connected right now; try again in a moment.');
    return;
  }
  if ($('shop-dialog').open) $('shop-dialog').close();
  openCheckout();
}

/** A purchase a guest started before signing in: put the product in the cart (once). */
function resumePendingPurchase() {
  const raw = sessionStorage.getItem(PENDING_KEY);
  if (!raw || !room?.session || room.state.status !== 'live') return;
  sessionStorage.removeItem(PENDING_KEY);
  let pending;
  try {
    pending = JSON.parse(raw);
  } catch {
    return;
  }
  if (String(pending.room) !== String(room.id)) return;
  const product = room.state.lineup.get(pending.product);
  if (!product) return;
  if (pending.open) buyNow(product.id);
  else addToCart(product.id);
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
  // "Added to your cart" is stale once the cart is empty again.
  if (!lines.length && $('buy-status').dataset.state === 'ok') $('buy-status').hidden = true;
}

// ---------- one-tap buy: the account's saved card and address (servers that have them) ----------

let walletSupport = null; // a promise: does this server keep wallets (GET /api/me/wallet)?
let wallet = null; // { payment_method, shipping_address } of the signed-in account

function walletSupported() {
  walletSupport ??= serverHas('/api/me/wallet');
  return walletSupport;
}

async function loadWallet() {
  const session = loadSession();
  if (!session || !(await walletSupported())) return null;
  try {
    wallet = await api('GET', '/api/me/wallet', { token: session.token });
  } catch {
    wallet = null;
  }
  return wallet;
}

function renderWallet() {
  const box = $('saved-pay');
  const card = wallet?.payment_method;
  $('save-wallet').hidden = !walletSupport || wallet == null || Boolean(card);
  if (!card) {
    box.hidden = true;
    $('checkout-form').hidden = false;
    return;
  }
  const ship = wallet.shipping_address;
  box.hidden = false;
  box.replaceChildren(
    h('p', { class: 'saved-card' }, icon('check', { size: 18 }),
      `${card.brand.toUpperCase()} ···· ${card.last4}`, ship ? h('span', { class: 'muted small' }, ` · ships to ${ship.name}, ${ship.city}`) : ''),
    h('button', { type: 'button', id: 'pay-saved', onclick: paySaved }, `Pay with card ending ${card.last4}`),
    h('button', { type: 'button', class: 'secondary', onclick: () => {
      $('checkout-form').dataset.asked = '1';
      $('checkout-form').hidden = !$('checkout-form').hidden;
      if (!$('checkout-form').hidden) $('card').focus();
    } }, 'Use another card'),
    h('button', { type: 'button', class: 'secondary', onclick: forgetCard }, 'Forget this card'),
  );
  // With a saved card the form is the exception: shown on asking.
  if (!$('checkout-form').dataset.asked) $('checkout-form').hidden = true;
}

$('save-card').addEventListener('change', () => {
  $('address').hidden = !$('save-card').checked;
  for (const id of ['ship-name', 'ship-line1', 'ship-city', 'ship-postal', 'ship-country']) $(id).required = $('save-card').checked;
});

async function forgetCard() {
  const session = loadSession();
  if (!session) return;
  try {
    await api('DELETE', '/api/me/wallet/payment-method', { token: session.token });
  } catch (error) {
    checkoutResult('error', `Could not forget the card: ${error.message}`);
  }
  await loadWallet();
  $('checkout-form').hidden = false;
  renderWallet();
}

function paySaved() {
  if (!room?.session) return askToSignIn();
  pay({ payment: 'saved' });
}

/**
 * Pays what the sheet is paying (an offer held for the viewer, or the cart): a new
 * purchase with a new idempotency key, or the unsettled one continued with its key. No
 * automatic retry after payment_unavailable: the buyer sees it and taps Retry.
 */
function pay(options) {
  const running = room.conn.purchase;
  let purchase;
  try {
    purchase = room.paying != null
      ? room.conn.payOffer(room.paying, { ...options, retry: { unavailable: 0 } })
      : room.conn.checkout({ ...options, retry: { unavailable: 0 } });
  } catch (error) {
    checkoutResult('error', error.code ? error.message : 'Another payment is still going on: wait for it, or retry it.');
    return;
  }
  if (purchase !== running) showPurchase(purchase);
}

/** The checkout sheet: the cart, or with `offerId` an offer held for the viewer. */
function openCheckout({ offerId = null } = {}) {
  if (!room.conn.purchase) room.paying = offerId;
  renderHeldForYou();
  renderCart();
  renderWallet();
  loadWallet().then(() => { if ($('cart-dialog').open) renderWallet(); });
  const box = $('checkout-result');
  // An old outcome stays only while its purchase is unsettled.
  if (!room.conn.purchase && box.dataset.state !== 'pending') {
    box.hidden = true;
    $('retry-pay').hidden = true;
  }
  if (!$('cart-dialog').open) $('cart-dialog').showModal();
  if (!$('checkout-form').hidden && !$('card').value) $('card').focus();
  else if (room.paying != null) $('pay-saved')?.focus();
}

// ---------- held for you: offers to pay (an auction won, a comment that bought, a waitlist's turn) ----------

function payByText(offer) {
  return new Date(offer.expires_at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** The sheet's "Held for you" list, and which one it is paying (else the cart). */
function renderHeldForYou() {
  if (!room) return;
  const offers = room.state.openOffers().filter((o) => !room.paid.has(o.id));
  if (room.paying != null && !offers.some((o) => o.id === room.paying) && !room.conn.purchase) room.paying = null;
  $('offers-section').hidden = offers.length === 0;
  const focused = document.activeElement?.closest?.('#offer-list li')?.dataset.offer;
  $('offer-list').replaceChildren(...offers.map((o) => {
    const paying = room.paying === o.id;
    return h('li', { 'data-offer': o.id, 'aria-current': paying ? 'true' : null },
      h('div', {},
        h('strong', {}, o.quantity > 1 ? `${o.title} × ${o.quantity}` : o.title),
        h('div', { class: 'muted small' }, `${money({ ...o.price, amount: o.price.amount * o.quantity })} · pay by ${payByText(o)} (`,
          h('span', { class: 'clock' }, countdown(o.expires_at - Date.now())), ' left)')),
      paying ? h('span', { class: 'badge' }, 'Paying')
        : h('button', { type: 'button', 'aria-label': `Pay for ${o.title}`, onclick: () => {
          room.paying = o.id;
          openCheckout({ offerId: o.id });
        } }, 'Pay'));
  }));
  if (focused) $('offer-list').querySelector(`li[data-offer="${focused}"] button`)?.focus();
  const paying = offers.find((o) => o.id === room.paying);
  $('cart-part').hidden = Boolean(paying);
  $('paying-offer').hidden = !paying;
  $('cart-title').textContent = paying ? 'Pay for what is held for you' : 'Your cart';
  if (paying) {
    $('paying-offer').replaceChildren(
      h('p', {}, 'Paying for ', h('strong', {}, paying.quantity > 1 ? `${paying.title} × ${paying.quantity}` : paying.title), ': ',
        h('strong', { id: 'paying-total' }, money({ ...paying.price, amount: paying.price.amount * paying.quantity }))),
      h('button', { type: 'button', class: 'secondary', onclick: () => {
        room.paying = null;
        renderHeldForYou();
      } }, 'Back to your cart'));
  }
}

/** A unit is held for the viewer: say so, with the way to pay. */
function onOffer(offer) {
  renderAuction();
  renderHeldForYou();
  renderPinned();
  renderLineup();
  if (offer.room_id !== Number(room.id)) return;
  // The auction card says it for an auction won; a waitlist's turn is said here.
  if (room.state.auction?.product_id === offer.product_id) return;
  heldNotice(offer, `Back in stock and held for you: ${offer.title}`);
}

/** The answer to a comment SOLD / BUY <keyword>. */
function onCommentPurchase(answer) {
  renderHeldForYou();
  if (answer.offer) {
    heldNotice(answer.offer, `Held for you: ${answer.offer.quantity > 1 ? `${answer.offer.title} × ${answer.offer.quantity}` : answer.offer.title}`);
    return;
  }
  if (answer.code === 'unauthenticated') return askToSignIn();
  const text = {
    sold_out: 'Sold out: nothing left to hold for you.',
    not_in_lineup: 'Nothing to buy by that comment: nothing is featured, or no product has that keyword.',
    conflict: 'You already have 3 comment purchases waiting: pay or let one run out first.',
    room_not_live: 'This show is not live.',
  }[answer.code] ?? answer.message;
  buyNotice('error', text);
}

function heldNotice(offer, text) {
  const notice = $('buy-status');
  notice.hidden = false;
  notice.dataset.state = 'ok';
  delete notice.dataset.flash;
  notice.replaceChildren(`${text}, pay by ${payByText(offer)}. `,
    h('button', { type: 'button', id: 'pay-held', onclick: () => {
      notice.hidden = true;
      openCheckout({ offerId: offer.id });
    } }, `Pay ${money({ ...offer.price, amount: offer.price.amount * offer.quantity })}`));
}

$('open-cart').addEventListener('click', () => {
  if (!room?.session) {
    askToSignIn();
    return;
  }
  openCheckout();
});
$('close-cart').addEventListener('click', () => $('cart-dialog').close());
// Closed, the sheet is the cart again next time (unless an offer's payment is under way).
$('cart-dialog').addEventListener('close', () => {
  if (room && !room.conn.purchase) room.paying = null;
});

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
  offer_closed: 'This is no longer held for you: it was paid already, or its time ran out.',
  not_found: 'This is no longer held for you.',
  hold_expired: 'Your hold expired. Please check out again.',
  no_saved_payment_method: 'No card is saved on your account any more: pay with a card below.',
  cart_empty: 'Your cart is empty.',
  room_not_live: 'This show is not live, so new orders are closed.',
};

/** "Sold out: Glow Serum has 2 left" from the server's "sold out: Glow Serum has 2 left". */
function soldOutText(message) {
  const rest = String(message ?? '').replace(/^\s*sold out\s*[:\-–]?\s*/i, '');
  return rest ? `Sold out: ${rest}` : 'Sold out.';
}

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
        if (error.code === 'no_saved_payment_method') {
          wallet = { payment_method: null, shipping_address: wallet?.shipping_address ?? null };
          renderWallet();
          $('checkout-form').hidden = false;
        }
        // The server's sold_out message already says "sold out: …": no second prefix.
        const text = FAILURE_TEXT[error.code] ?? (error.code === 'sold_out' ? soldOutText(error.message) : error.message);
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
  purchase.on('confirmed', (order) => onOrderConfirmed(order, purchase));
}

$('checkout-form').addEventListener('submit', (event) => {
  event.preventDefault();
  if (!room?.session) return askToSignIn();
  const card = $('card').value.replace(/\s+/g, '');
  if (!/^[0-9]{12,19}$/.test(card)) {
    checkoutResult('error', 'Enter a card number of 12 to 19 digits.');
    return;
  }
  const save = !$('save-wallet').hidden && $('save-card').checked;
  const shipping = save ? {
    name: $('ship-name').value.trim(), line1: $('ship-line1').value.trim(), city: $('ship-city').value.trim(),
    postal_code: $('ship-postal').value.trim(), country: $('ship-country').value.trim().toUpperCase(),
  } : null;
  pay(save ? { card, save, shipping } : { card });
});

$('retry-pay').addEventListener('click', () => {
  const purchase = room?.conn.purchase;
  if (!purchase) return;
  // Same idempotency key: the held order is charged, never a second order.
  const card = $('card').value.replace(/\s+/g, '');
  purchase.retry(/^[0-9]{12,19}$/.test(card) ? { card } : {});
});

function onOrderConfirmed(order, purchase) {
  if (purchase.offerId != null && room) {
    room.paid.set(purchase.offerId, order.reference ?? `#${order.id}`);
    renderHeldForYou();
    renderAuction();
    renderPinned();
    renderLineup();
  }
  renderCart();
  // A card saved with this order makes the next purchase one tap.
  if ($('save-card').checked) loadWallet();
  // Newer servers give orders a reference that is not a bare counter; show it when there.
  const ref = order.reference ?? `#${order.id}`;
  checkoutResult('confirmed', `Order ${ref} confirmed: ${money(order.subtotal)} paid. Thank you!`);
}

function onError(error) {
  if (error.request === 'checkout' || error.request === 'pay_offer') return; // the purchase shows it
  // Their callers show these.
  if (['enter_giveaway', 'bid', 'join_waitlist', 'leave_waitlist'].includes(error.request)) return;
  if (error.code === 'unauthenticated' && error.request !== 'join') return askToSignIn();
  if (error.request === 'comment') {
    if (error.code === 'rate_limited') flash($('comment-status'), 'error', 'Slow down a little: too many comments.', 5000);
    else if (error.code === 'slow_mode') flash($('comment-status'), 'error', `Slow mode is on: ${error.message}`, 6000);
    else if (error.code === 'timed_out') setState($('comment-status'), 'error', `You are timed out: ${error.message}`);
    else if (error.code === 'blocked_word') setState($('comment-status'), 'error', `Not posted: ${error.message}. Please say it another way.`);
    else setState($('comment-status'), 'error', error.message);
    return;
  }
  if (error.request === 'join' && error.code === 'unauthenticated') {
    backToSignIn(); // the stored session expired
    return;
  }
  if (error.request?.startsWith('cart')) buyNotice('error', error.message);
  if (error.request && error.request in MODERATION_ACTIONS) setState($('mod-status'), 'error', `${MODERATION_ACTIONS[error.request]}: ${error.message}`);
}

// ---------- giveaways ----------

/** Who may enter, in words. */
function entryRuleText(entry) {
  const host = room.state.card?.host.display_name ?? 'the host';
  return { signed_in: 'Open to everyone signed in', followers: `For ${host}'s followers`, buyers: 'For buyers in this show' }[entry] ?? entry;
}

/** The giveaway card: the open giveaway and how to enter it, or the last draw's winner and its check. */
function renderGiveaway() {
  if (!room) return;
  const st = room.state;
  const card = $('giveaway');
  const open = st.giveaway;
  const draw = st.lastDraw;
  const focused = card.contains(document.activeElement) ? document.activeElement.dataset.focus : null;
  if (open) {
    card.hidden = false;
    card.dataset.state = 'open';
    $('giveaway-body').replaceChildren(
      h('p', { class: 'prize' }, open.prize),
      h('p', { class: 'muted small' }, `${entryRuleText(open.entry)} · `,
        open.closes_at > Date.now() ? ['ends in ', h('time', { id: 'giveaway-countdown' }, countdown(open.closes_at - Date.now()))] : 'entries closed'),
      giveawayAction(open));
  } else if (draw && room.giveaway.dismissed !== draw.giveaway_id) {
    card.hidden = false;
    card.dataset.state = 'drawn';
    $('giveaway-body').replaceChildren(...drawResult(draw));
  } else {
    card.hidden = true;
    card.dataset.state = 'none';
    $('giveaway-body').replaceChildren();
  }
  if (focused) card.querySelector(`[data-focus="${focused}"]`)?.focus();
}

/** What the viewer can do about the open giveaway: enter, sign in, follow first, or nothing (entered, the host). */
function giveawayAction(open) {
  const st = room.state;
  const entry = room.giveaway.entry?.id === open.id ? room.giveaway.entry : null;
  if (st.you?.is_host) return h('p', { class: 'muted small' }, 'Your giveaway: the winner is drawn when entries close.');
  if (st.entered?.id === open.id) {
    const n = st.entered.entries;
    return h('p', { class: 'entered', id: 'giveaway-entered' }, icon('check', { size: 18 }), `You're in! ${n} ${n === 1 ? 'entry' : 'entries'} so far`);
  }
  if (!room.session) {
    return h('button', { type: 'button', id: 'giveaway-enter', 'data-focus': 'enter', onclick: () => {
      sessionStorage.setItem(RETURN_KEY, room.id);
      location.hash = '#/signin';
    } }, 'Sign in to enter');
  }
  const enter = h('button', { type: 'button', id: 'giveaway-enter', 'data-focus': 'enter', disabled: entry?.state === 'busy' || st.status !== 'live',
    onclick: () => enterGiveaway(open.id) }, entry?.state === 'busy' ? 'Entering…' : 'Enter giveaway');
  const host = st.card.host;
  // Not eligible: say what would admit them, with the way to do it right there (once
  // following, Enter is worth another tap).
  if (entry?.state !== 'not_eligible' || (open.entry === 'followers' && followed?.has(host.id))) return enter;
  const follow = open.entry === 'followers' ? followButton(host, 'follow') : null;
  const why = open.entry === 'followers' ? `Follow ${host.display_name} to enter`
    : open.entry === 'buyers' ? 'Buy something in this show to enter' : entry.message;
  return h('div', { class: 'stack' }, h('p', { class: 'status', 'data-state': 'error', id: 'giveaway-why' }, why), h('div', { class: 'row' }, follow, enter));
}

async function enterGiveaway(id) {
  const r = room;
  r.giveaway.entry = { id, state: 'busy', message: '' };
  renderGiveaway();
  try {
    await r.conn.enterGiveaway(id);
    if (room !== r) return;
    r.giveaway.entry = { id, state: 'entered', message: '' };
    setState($('giveaway-status'), 'ok', 'You are entered. Good luck!');
  } catch (error) {
    if (room !== r) return;
    if (error.code === 'unauthenticated') {
      r.giveaway.entry = null;
      sessionStorage.setItem(RETURN_KEY, r.id);
      location.hash = '#/signin';
      return;
    }
    r.giveaway.entry = { id, state: error.code === 'not_eligible' ? 'not_eligible' : 'error', message: error.message };
    const text = error.code === 'not_eligible' ? ''
      : error.code === 'giveaway_closed' ? 'Entries have closed.'
        : error.code === 'not_connected' ? 'Not connected right now; try again in a moment.' : error.message;
    setState($('giveaway-status'), text ? 'error' : 'idle', text);
  }
  renderGiveaway();
}

/** The winner announcement and the Verify disclosure. */
function drawResult(draw) {
  const me = room.state.you?.account_id;
  const prize = draw.giveaway?.prize ?? room.giveaway.verify?.view?.prize ?? 'the giveaway';
  const entries = `${draw.entries} ${draw.entries === 1 ? 'entry' : 'entries'}`;
  const headline = !draw.winner ? h('p', { class: 'prize', id: 'giveaway-winner' }, `Nobody entered the giveaway for ${prize}.`)
    : draw.winner.account_id === me ? h('p', { class: 'won', id: 'giveaway-winner', 'data-you': 'true' }, `You won! ${prize} is yours.`)
      : h('p', { class: 'prize', id: 'giveaway-winner' }, `${draw.winner.display_name} won ${prize}`);
  const verify = room.giveaway.verify?.id === draw.giveaway_id ? room.giveaway.verify : { id: draw.giveaway_id, open: false, state: 'idle' };
  room.giveaway.verify = verify;
  const details = h('details', { id: 'giveaway-verify', open: verify.open },
    h('summary', { 'data-focus': 'verify' }, 'Verify the draw'),
    verifyBody(verify));
  details.addEventListener('toggle', () => {
    verify.open = details.open;
    if (details.open && verify.state === 'idle') checkDraw(verify);
  });
  const dismiss = h('button', { type: 'button', class: 'secondary', 'data-focus': 'dismiss', onclick: () => {
    room.giveaway.dismissed = draw.giveaway_id;
    renderGiveaway();
  } }, 'Dismiss', h('span', { class: 'sr-only' }, ' the giveaway result'));
  const parts = [headline, h('p', { class: 'muted small' }, `Drawn from ${entries}.`), details];
  // (In the recap of an ended show it stays.)
  if (room.state.status !== 'ended') parts.push(h('div', { class: 'row' }, dismiss));
  return parts;
}

function verifyBody(verify) {
  if (verify.state === 'idle' || verify.state === 'loading') return h('p', { class: 'muted small' }, 'Checking…');
  if (verify.state === 'error') return h('p', { class: 'status', 'data-state': 'error' }, `Could not read the draw: ${verify.error}`);
  const { view, check } = verify;
  return h('div', {},
    h('dl', {},
      h('dt', {}, 'Commitment'), h('dd', {}, view.commitment),
      h('dt', {}, 'Seed'), h('dd', {}, view.seed ?? '—'),
      h('dt', {}, 'Entries'), h('dd', {}, String(view.entries?.length ?? 0)),
      check.index != null ? [h('dt', {}, 'Winning index'), h('dd', {}, String(check.index))] : null),
    check.verified
      ? h('p', { class: 'verdict', 'data-state': 'verified', id: 'giveaway-verdict' }, icon('check', { size: 18 }), 'Verified: the seed matches the commitment and picks this winner.')
      : h('p', { class: 'verdict', 'data-state': 'failed', id: 'giveaway-verdict' }, icon('close', { size: 18 }), `Does not check out: ${check.problem}`),
    h('p', { class: 'muted small' }, 'SHA-256 of the seed must equal the commitment published when the giveaway opened; the winner is entry number (first 8 bytes of SHA-256(seed ‖ entries)) mod the number of entries.'));
}

/** Reads the draw's record (GET /api/giveaways/{id}) and recomputes it here. */
async function checkDraw(verify) {
  const r = room;
  verify.state = 'loading';
  try {
    verify.view = await livecart().api.giveaway(verify.id);
    verify.check = await verifyDraw(verify.view);
    verify.state = 'done';
  } catch (error) {
    verify.state = 'error';
    verify.error = error.message;
  }
  if (room === r) renderGiveaway();
}

/** A draw made while this page was not following the room: its record stands in for the event. */
async function loadMissedDraw(id) {
  const r = room;
  try {
    const view = await livecart().api.giveaway(id);
    if (room !== r || view.status !== 'drawn' || r.state.lastDraw?.giveaway_id === id) return;
    const { commitment, closes_at, entry, prize } = view;
    r.state.lastDraw = {
      giveaway_id: id, seed: view.seed ?? '', entries: view.entries?.length ?? 0, winner: view.winner,
      giveaway: { id, prize, entry, commitment, closes_at }, seq: 0,
    };
    renderGiveaway();
  } catch {
    // The card stays as it was; the next draw replaces it.
  }
}

// ---------- auctions (docs/protocol.md 4.20 to 4.22) ----------

/** "14:03:27": when the winner must pay by. */
function clockTime(at) {
  return new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** The open offer of the running auction's unit, when it is held for this viewer. */
function myAuctionOffer(a) {
  const me = room.state.you?.account_id;
  if (!a?.offer || me == null || a.offer.buyer.account_id !== me) return null;
  return room.state.openOffers().find((o) => o.room_id === Number(room.id) && o.product_id === a.product_id
    && o.quantity === 1 && o.price.amount === a.offer.price.amount) ?? null;
}

/** The auction card: the running auction and how to bid, the winner's pay prompt, or the last outcome. */
function renderAuction() {
  if (!room) return;
  const st = room.state;
  const card = $('auction');
  const a = st.auction;
  const last = st.lastAuction;
  const focused = card.contains(document.activeElement) ? document.activeElement.id || document.activeElement.dataset.focus : null;
  if (!a && (!last || room.auction.dismissed === last.auction_id)) {
    card.hidden = true;
    card.dataset.state = 'none';
    $('auction-body').replaceChildren();
    $('auction-bidding').hidden = true;
    return;
  }
  card.hidden = false;
  const product = st.lineup.get(a?.product_id ?? last.product_id);
  const me = st.you?.account_id ?? null;
  if (!a) {
    card.dataset.state = 'settled';
    $('auction-bidding').hidden = true;
    const title = last.title ?? product?.title ?? 'The auction';
    const line = last.outcome === 'unsold' ? h('p', { class: 'prize', id: 'auction-result' }, `${title}: no sale this time.`)
      : last.buyer.account_id === me ? h('p', { class: 'won', id: 'auction-result', 'data-you': 'true' }, `You won ${title} for ${money(last.price)}.`)
        : h('p', { class: 'prize', id: 'auction-result' }, `${last.buyer.display_name} won ${title} for ${money(last.price)}`);
    const paidRef = [...room.paid.values()].at(-1);
    $('auction-body').replaceChildren(line,
      last.outcome === 'sold' && last.buyer.account_id === me && paidRef ? h('p', { class: 'entered', id: 'auction-paid' }, icon('check', { size: 18 }), `Paid: order ${paidRef}`) : null,
      st.status !== 'ended' ? h('div', { class: 'row' }, h('button', { type: 'button', class: 'secondary', 'data-focus': 'dismiss', onclick: () => {
        room.auction.dismissed = last.auction_id;
        renderAuction();
      } }, 'Dismiss', h('span', { class: 'sr-only' }, ' the auction result'))) : null);
    if (focused) card.querySelector(`[data-focus="${focused}"]`)?.focus();
    return;
  }
  const over = st.biddingOver();
  card.dataset.state = a.phase === 'awarded' ? 'awarded' : over ? 'ended' : 'open';
  const leads = a.leader && a.leader.account_id === me;
  const head = h('div', { class: 'auction-head' },
    product ? productImage(product, 44) : null,
    h('div', {},
      h('p', { class: 'prize', id: 'auction-title' }, a.title),
      h('p', { class: 'auction-price' },
        h('span', { class: 'sr-only' }, a.price ? 'Current bid ' : 'Starting bid '),
        h('strong', { id: 'auction-price' }, money(a.price ?? a.starting_price)),
        ' ', h('span', { class: 'muted small', id: 'auction-bids' }, a.bids ? `${a.bids} ${a.bids === 1 ? 'bid' : 'bids'}` : 'no bids yet'))));
  const parts = [head];
  if (!over) {
    const left = a.ends_at - Date.now();
    const extended = Date.now() - room.auction.extendedAt < 4000;
    parts.push(h('p', { class: 'auction-clock', 'data-extended': String(extended), 'data-late': String(left <= 10_000) },
      icon('clock', { size: 16 }), h('span', { class: 'sr-only' }, 'ends in '),
      h('time', { id: 'auction-countdown' }, countdown(left)),
      extended ? h('span', { class: 'extended', id: 'auction-extended' }, `Extended: +${a.extend_secs}s`) : '',
      a.sudden_death ? h('span', { class: 'badge' }, 'Sudden death') : ''));
    const mine = st.myBid;
    // (A bidder's own standing says whether they lead.)
    if (a.leader && !mine) parts.push(h('p', { class: 'small', id: 'auction-leader' }, leads ? 'You lead' : `${a.leader.display_name} leads`));
    if (left <= 15_000) parts.push(h('p', { class: 'muted small', id: 'auction-delay' }, 'The video runs a few seconds behind: bid by this clock.'));
    if (mine && !st.you?.is_host) {
      parts.push(mine.leading
        ? h('p', { class: 'entered', id: 'auction-you', 'data-leading': 'true' }, icon('check', { size: 18 }), `You're winning · your max ${money(mine.max)}`)
        : h('p', { class: 'outbid', id: 'auction-you', 'data-leading': 'false' }, `Outbid · your max was ${money(mine.max)}`));
    }
  } else if (a.phase === 'awarded') {
    const mine = myAuctionOffer(a);
    const paidRef = mine ? room.paid.get(mine.id) : null;
    if (a.offer.buyer.account_id === me) {
      parts.push(h('p', { class: 'won', id: 'auction-result', 'data-you': 'true' },
        `You won — pay by ${clockTime(a.offer.pay_by)}`));
      parts.push(h('p', {}, a.offer.round > 1 ? 'The winner did not pay: it is yours at ' : 'Your price: ', h('strong', {}, money(a.offer.price))));
      if (paidRef) parts.push(h('p', { class: 'entered', id: 'auction-paid' }, icon('check', { size: 18 }), `Paid: order ${paidRef}`));
      else {
        parts.push(h('button', { type: 'button', id: 'auction-pay', class: 'buy', disabled: !mine,
          onclick: () => openCheckout({ offerId: mine.id }) }, mine ? `Pay ${money(a.offer.price)}` : 'Getting your offer…'));
      }
    } else {
      parts.push(h('p', { class: 'prize', id: 'auction-result' }, `${a.offer.buyer.display_name} won at ${money(a.offer.price)}`));
      parts.push(h('p', { class: 'muted small' }, a.offer.round > 1 ? `Passed to the next bidder (round ${a.offer.round}): paying until ${clockTime(a.offer.pay_by)}.`
        : `Paying until ${clockTime(a.offer.pay_by)}; if they do not, the next bidder gets it.`));
    }
  } else {
    const ended = st.auctionEnded;
    parts.push(h('p', { class: 'prize', id: 'auction-result' }, !ended ? 'Bidding closed: waiting for the result…'
      : !ended.winner ? 'Bidding closed: no bids.'
        : ended.winner.account_id === me ? `You won at ${money(ended.price)}!` : `${ended.winner.display_name} won at ${money(ended.price)}`));
  }
  $('auction-body').replaceChildren(...parts);
  renderBidding(a, over, leads);
  announcePrice(a, over);
  if (focused) (document.getElementById(focused) ?? card.querySelector(`[data-focus="${focused}"]`))?.focus();
}

/** The bid button and the custom bid form (kept between redraws, so what is typed stays). */
function renderBidding(a, over, leads) {
  const st = room.state;
  const box = $('auction-bidding');
  box.hidden = over || st.you?.is_host || st.status !== 'live';
  if (box.hidden) return;
  for (const span of box.querySelectorAll('.auction-currency')) span.textContent = a.min_bid.currency;
  const button = $('auction-bid');
  if (!room.session) {
    button.textContent = 'Sign in to bid';
    button.dataset.action = 'sign-in';
    $('auction-custom').hidden = true;
    return;
  }
  $('auction-custom').hidden = false;
  button.dataset.action = leads ? 'raise' : 'bid';
  // The leader's own bid only raises their maximum: the custom form says how much.
  button.textContent = leads ? 'Raise your max' : `Bid ${money(a.min_bid)}`;
  const digits = minorDigits(a.min_bid.currency);
  $('auction-amount').placeholder = `${(a.min_bid.amount / 10 ** digits).toFixed(digits)} or more`;
}

$('auction-bid').addEventListener('click', () => {
  const a = room?.state.auction;
  if (!a) return;
  const action = $('auction-bid').dataset.action;
  if (action === 'sign-in') {
    sessionStorage.setItem(RETURN_KEY, room.id);
    location.hash = '#/signin';
    return;
  }
  if (action === 'raise') {
    $('auction-custom').open = true;
    $('auction-max').focus();
    return;
  }
  placeBid(a, a.min_bid.amount, null);
});

$('auction-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const a = room?.state.auction;
  if (!a) return;
  const currency = a.min_bid.currency;
  const amount = parseMajor($('auction-amount').value, currency);
  const maxText = $('auction-max').value.trim();
  const max = maxText ? parseMajor(maxText, currency) : null;
  if (amount == null || (maxText && max == null)) {
    setState($('auction-status'), 'error', 'Enter amounts like 12.50');
    return;
  }
  if (max != null && max < amount) {
    setState($('auction-status'), 'error', 'Your max bid must be at least your bid.');
    return;
  }
  placeBid(a, amount, max);
});

async function placeBid(a, amount, max) {
  const r = room;
  setState($('auction-status'), 'busy', 'Bidding…');
  try {
    const placed = await r.conn.bid(a.id, amount, { max });
    if (room !== r) return;
    $('auction-amount').value = '';
    $('auction-max').value = '';
    setState($('auction-status'), 'ok', placed.leading ? `Bid placed: you're winning at ${money(placed.price)}.` : `Bid placed, but another bidder's max is higher: ${money(placed.price)} now.`);
  } catch (error) {
    if (room !== r) return;
    if (error.code === 'unauthenticated') {
      sessionStorage.setItem(RETURN_KEY, r.id);
      location.hash = '#/signin';
      return;
    }
    const text = {
      bid_too_low: `Too low: ${error.message}`,
      auction_closed: 'Bidding has closed.',
      not_connected: 'Not connected right now; try again in a moment.',
    }[error.code] ?? error.message;
    setState($('auction-status'), 'error', text);
  }
  renderAuction();
}

/**
 * Tells screen readers the price as it moves, at most every 4 seconds (the last change
 * then), not at every bid of a busy auction; and the result once.
 */
function announcePrice(a, over) {
  const st = room.state;
  const me = st.you?.account_id;
  const text = over
    ? (st.auctionEnded?.winner ? `Bidding closed: ${st.auctionEnded.winner.account_id === me ? 'you' : st.auctionEnded.winner.display_name} won at ${money(st.auctionEnded.price)}` : 'Bidding closed')
    : a.price ? `${money(a.price)}, ${a.leader.account_id === me ? 'you lead' : `${a.leader.display_name} leads`}` : null;
  const state = room.auction;
  if (!text || text === state.announced) return;
  state.announced = text;
  if (state.announceTimer) return;
  const say = () => {
    state.announceTimer = null;
    $('auction-live').textContent = state.announced;
    state.announcedAt = Date.now();
  };
  const wait = 4000 - (Date.now() - (state.announcedAt ?? 0));
  if (wait <= 0 || over) say();
  else state.announceTimer = setTimeout(() => room?.auction === state && say(), wait);
}

/** Once a second: the countdown, and a redraw when the time is up or the extension cue is over. */
function tickAuction() {
  const a = room.state.auction;
  if (!a || room.state.biddingOver()) {
    if (a && $('auction').dataset.state === 'open') renderAuction();
    if ($('auction-pay')?.disabled) renderAuction(); // its `offer` may have come
    return;
  }
  const left = a.ends_at - Date.now();
  const cueOver = $('auction-extended') && Date.now() - room.auction.extendedAt >= 4000;
  const late = (left <= 15_000) !== Boolean($('auction-delay'));
  if (cueOver || late) renderAuction();
  else $('auction-countdown').textContent = countdown(left);
}

// ---------- chat and reactions ----------

/** The account key moderation knows this viewer by (guests' keys are not told to them). */
function myKey() {
  const id = room?.state.you?.account_id;
  return id == null ? null : `a${id}`;
}

/** Under the comment box: slow mode, and a timeout of this viewer while it runs. */
function renderCommentHint() {
  if (!room) return;
  const st = room.state;
  const key = myKey();
  const until = key ? st.timeouts.get(key) : undefined;
  const parts = [];
  if (until && until > Date.now()) {
    parts.push(`You are timed out until ${new Date(until).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}.`);
    clearTimeout(room.hintTimer);
    room.hintTimer = setTimeout(renderCommentHint, until - Date.now() + 500);
  }
  const exempt = st.you?.is_host || st.you?.is_moderator;
  if (st.slowModeSecs > 0 && !exempt) parts.push(`Slow mode: one comment every ${st.slowModeSecs} s.`);
  $('comment-hint').textContent = parts.join(' ');
}

/** A moderator's action was sent (its refusal, if any, comes as an error frame). */
function onModerated(request, sent, about) {
  if (!sent) setState($('mod-status'), 'error', `${MODERATION_ACTIONS[request]}: not connected right now; try again in a moment.`);
  else if (request === 'timeout') setState($('mod-status'), 'ok', `${about.author} cannot comment for 5 minutes.`);
  else setState($('mod-status'), 'idle', '');
}

/** For the host and moderators: the comments held for review, with Approve and Reject. */
function renderHeld() {
  if (!room) return;
  $('held-panel').hidden = !room.state.canModerate;
  if (room.state.canModerate) $('held').replaceChildren(...heldItems(room.conn, onModerated));
}

/** Banned (close 4003, or a join refused with `banned`): the room is closed to this viewer. */
function showRemoved(info) {
  if (!room) return;
  room.conn.purchase?.abandon();
  stopVideo();
  for (const id of ['cart-dialog', 'shop-dialog']) if ($(id).open) $(id).close();
  $('stage').hidden = true;
  $('removed-text').textContent = info.scope === 'creator'
    ? "The host or a moderator removed you from this creator's rooms, so you can no longer watch or chat in them."
    : 'The host or a moderator removed you from this room, so you can no longer watch or chat here.';
  $('removed').hidden = false;
  $('removed').querySelector('a')?.focus();
}

$('comment-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $('comment');
  const text = input.value.trim();
  if (!text || !room) return;
  if (room.conn.comment(text)) {
    input.value = '';
    setState($('comment-status'), 'ok', '');
  } else {
    setState($('comment-status'), 'offline', 'Not connected right now; try again in a moment.');
  }
});

for (const button of document.querySelectorAll('button.react')) {
  button.addEventListener('click', () => {
    if (room?.conn.react(button.dataset.reaction)) floatReaction(button.dataset.reaction);
  });
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
  const button = $('unmute');
  button.setAttribute('aria-pressed', String(!player.muted));
  button.replaceChildren(icon(player.muted ? 'soundOff' : 'soundOn'), h('span', { class: 'sr-only' }, 'Sound'));
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
      // The media fails first when the show ends; its `room_ended` may be a moment behind.
      // A session the server closed needs no DELETE.
      setTimeout(() => {
        if (room?.video !== video) return;
        const ended = room.state.status === 'ended';
        stopVideo({ serverClosed: ended });
        if (!ended) setTimeout(() => room && room.state.status !== 'ended' && startVideo(), 1500);
      }, 1000);
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
window.livecartViewer = { get room() { return room; }, get notices() { return notices?.feed ?? null; }, heard, formatMoney };

route();
