// Creator studio: sign in, pick one of your rooms, go live from the camera over WHIP (or
// show the WHIP URL and token for OBS), pin products, start drops, giveaways and auctions, set the
// comment-to-buy keywords, chat, watch the live
// numbers and end the show, then read its recap; moderate: act on comments, review held
// ones, appoint moderators, lift bans and set blocked words (this room's and all rooms').
// A scheduled room can be rehearsed first (docs/protocol.md 9.10): a private live copy,
// filled by the load tester with its key. The room connection, host actions, WHIP,
// moderation and the room report go through the client library (../sdk/).
//
// Live numbers: the viewer count comes with the room's `viewers` frames; everything else
// is the room's report (GET /api/rooms/{id}/report, docs/metrics.md), read every few
// seconds while the show is live and the page is visible, and at once after a sale. When
// the show ends the same report is the recap.

import { api, bindRoleSignIn, countdown, h, livecart, loadSession, money, parseMajor, setState, signOut } from './common.js';
import { REACTIONS } from '../sdk/index.js';
import { icon } from './icons.js';
import { basisLine, commissionTitle, count, csvButton, figureGroups, productTable, rate, tile, upliftBlock } from './report.js';
import { SignallingError, preferForwardableVideo, whipUrl } from '../sdk/index.js';
import { showStatus } from '../live/whip.js';
import { iceConfiguration } from './ice.js';
import { MODERATION_ACTIONS, commentActions, heldItems } from './moderation.js';

const $ = (id) => document.getElementById(id);
const POLL_MS = 3000;
const ROOMS_POLL_MS = 10_000;
let roomsTimer = null;
let room = null;
let broadcast = null;

// ---------- errors: shown until dismissed or superseded by the host's next action ----------

function showError(text) {
  $('studio-error-text').textContent = text;
  $('studio-error').hidden = false;
}

/** A new action supersedes the last error. */
function clearError() {
  $('studio-error').hidden = true;
  $('studio-error-text').textContent = '';
}

$('studio-error-close').addEventListener('click', clearError);

function session() {
  const s = loadSession();
  return s && s.account.role === 'creator' ? s : null;
}

function show(view) {
  for (const id of ['view-signin', 'view-rooms', 'view-room']) $(id).hidden = id !== view;
  if (view !== 'view-rooms') $('rehearsal-card').hidden = true;
  if (view !== 'view-rooms') clearTimeout(roomsTimer);
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
  $('rooms-error').hidden = true;
  const list = $('rooms');
  list.replaceChildren(h('li', { class: 'muted' }, 'Loading…'));
  await loadRooms();
}

/** The creator's rooms; read again every few seconds while the list shows (and the page does). */
async function loadRooms() {
  clearTimeout(roomsTimer);
  const s = session();
  const list = $('rooms');
  if (!s || $('view-rooms').hidden) return;
  try {
    const groups = await Promise.all(['live', 'upcoming', 'ended'].map((status) => api('GET', `/api/rooms?status=${status}`)));
    if ($('view-rooms').hidden) return;
    const mine = groups.flat().filter((r) => r.host.id === s.account.id);
    const focused = document.activeElement?.closest?.('#rooms') ? document.activeElement.textContent : null;
    list.replaceChildren();
    if (!mine.length) list.append(h('li', { class: 'muted' }, 'You have no rooms yet.'));
    for (const r of mine) {
      const actions = [];
      if (r.status === 'scheduled') {
        actions.push(h('button', { type: 'button', class: 'secondary', onclick: () => goLive(r) }, `Go live: ${r.title}`));
        actions.push(h('button', { type: 'button', class: 'secondary', onclick: () => rehearse(r) }, `Rehearse: ${r.title}`));
      }
      if (r.status !== 'ended') actions.push(h('button', { type: 'button', onclick: () => openRoom(r) }, `Open ${r.title}`));
      else actions.push(h('button', { type: 'button', class: 'secondary', onclick: () => openRecap(r) }, `Recap: ${r.title}`));
      list.append(
        h('li', { class: 'row', 'data-room': r.id, style: 'justify-content:space-between;align-items:center;border-bottom:1px solid var(--line);padding-bottom:0.5rem' },
          h('div', {}, h('strong', {}, r.title), h('div', { class: 'muted' }, `${r.status} · ${new Date(r.starts_at).toLocaleString()} · ${r.lineup.length} products`)),
          h('div', { class: 'row' }, actions)),
      );
    }
    if (focused) [...list.querySelectorAll('button')].find((b) => b.textContent === focused)?.focus();
  } catch (error) {
    list.replaceChildren(h('li', { class: 'status', 'data-state': 'error' }, error.message));
  }
  if (!$('view-rooms').hidden) roomsTimer = setTimeout(() => { if (!document.hidden) loadRooms(); }, ROOMS_POLL_MS);
}

async function goLive(r) {
  $('rooms-error').hidden = true;
  try {
    await api('POST', `/api/rooms/${r.id}/live`, { token: session().token });
    openRoom({ ...r, status: 'live', live_at: Date.now() });
  } catch (error) {
    $('rooms-error').textContent = `Could not go live: ${error.message}`;
    $('rooms-error').hidden = false;
  }
}

/**
 * Opens a rehearsal of the scheduled room `r` (or the open one, with a new audience key)
 * and shows how to fill it: the load tester's command with the key.
 */
async function rehearse(r) {
  $('rooms-error').hidden = true;
  try {
    const { room: rehearsal, audience_key: key } = await api('POST', `/api/rooms/${r.id}/rehearsal`, { token: session().token });
    $('rehearsal-show').textContent = r.title;
    $('rehearsal-command').value =
      `livecart-loadtest --url ${location.origin} audience --rehearsal ${rehearsal.id} --audience-key ${key} --viewers 50 --seconds 300`;
    $('rehearsal-open').onclick = () => openRoom(rehearsal);
    $('rehearsal-card').hidden = false;
    $('rehearsal-command').focus();
  } catch (error) {
    $('rooms-error').textContent = `Could not open a rehearsal: ${error.message}`;
    $('rooms-error').hidden = false;
  }
}

$('rehearsal-copy').addEventListener('click', () => navigator.clipboard?.writeText($('rehearsal-command').value).catch(() => {}));

function openRoom(r) {
  const s = session();
  show('view-room');
  setRoomMode('live');
  $('room-title').textContent = r.title;
  $('end-room').disabled = false;
  const lc = livecart();
  const conn = lc.room(r.id);
  room = { id: r.id, title: r.title, lc, conn, state: conn.room, sold: new Map(), report: null, timer: null, numbers: idleNumbers(), liveAt: r.live_at ?? null, rehearsal: r.rehearsal_of != null };
  resetNumbers();
  clearError();
  for (const id of ['cam-start', 'drop-start', 'comment-send']) $(id).disabled = false;
  $('cam-stop').disabled = true;
  renderReactionCounts();
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
  for (const name of ['held', 'comment_held', 'comment_reviewed']) conn.on(name, renderHeld);
  renderHeld();
  loadModeration(r.id);
  conn.on('viewers', (count) => { $('n-viewers').textContent = count; });
  conn.on('error', (error) => {
    if (error.request === 'join') return; // `failed` says it
    // "Starting the drop…" is over; a running drop's countdown comes back by itself.
    if (error.request === 'start_drop') setState($('drop-status'), 'idle', '');
    showError(`${ACTION_NAMES[error.request] ?? 'Error'}: ${error.message}`);
  });
  conn.on('reactions', onReactions);
  conn.connect();
  room.timer = setInterval(() => {
    renderDrop();
    renderClock();
    renderGiveaway();
    renderAuction();
  }, 1000);
}

/** How an error names the action that failed. */
const ACTION_NAMES = {
  start_drop: 'Start drop', start_giveaway: 'Start giveaway', start_auction: 'Start auction', pin: 'Pin', unpin: 'Unpin', comment: 'Message', end_room: 'End the show', react: 'Reaction',
  ...MODERATION_ACTIONS,
};

// ---------- the LIVE badge, the show clock and the viewers' reactions ----------

function renderClock() {
  const live = room?.state?.status === 'live';
  $('live-badge').hidden = !live;
  $('show-clock').hidden = !live || room.liveAt == null;
  if (live && room.liveAt != null) {
    const seconds = Math.max(0, Math.floor((Date.now() - room.liveAt) / 1000));
    const hours = Math.floor(seconds / 3600);
    const text = hours ? `${hours}:${countdown(((seconds % 3600) * 1000)).padStart(5, '0')}` : countdown(seconds * 1000);
    $('show-time').textContent = text;
    $('show-time').setAttribute('datetime', `PT${seconds}S`);
  }
}

function renderReactionCounts() {
  const totals = room?.state?.reactions ?? {};
  $('reaction-counts').replaceChildren(...REACTIONS.map((name) => h('li', { 'data-reaction': name },
    icon(name, { size: 18 }), h('span', { class: 'sr-only' }, name), h('span', { 'data-count': name }, totals[name] ?? 0))));
}

function onReactions(counts) {
  renderReactionCounts();
  if (window.matchMedia?.('(prefers-reduced-motion: reduce)').matches) return;
  let budget = 8;
  for (const [name, count] of Object.entries(counts ?? {})) {
    for (let i = 0; i < Math.min(count, budget); i++) {
      const svg = icon(REACTIONS.includes(name) ? name : 'heart', { size: 24 });
      svg.style.color = { heart: '#ff4d6d', fire: '#ff9f1c', clap: '#ffd166' }[name] ?? '#fde68a';
      svg.style.left = `${Math.round(Math.random() * 20)}px`;
      svg.style.setProperty('--drift', `${Math.round(Math.random() * 30 - 15)}px`);
      svg.style.animationDelay = `${i * 180}ms`;
      svg.addEventListener('animationend', () => svg.remove());
      if ($('hearts').childElementCount < 24) $('hearts').append(svg);
    }
    budget -= Math.min(count, budget);
  }
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
  if (mode !== 'live') for (const id of ['cam-start', 'cam-stop', 'drop-start']) $(id).disabled = true;
  for (const control of $('drop-form').elements) control.disabled = mode !== 'live';
  for (const control of $('giveaway-form').elements) control.disabled = mode !== 'live';
  for (const control of $('auction-form').elements) control.disabled = mode !== 'live';
  for (const control of $('keywords-form').elements) control.disabled = mode !== 'live';
  for (const control of $('blocked-form').elements) control.disabled = mode !== 'live';
  $('slow-mode').disabled = mode !== 'live';
  $('live-badge').hidden = mode !== 'live' || room?.state?.status !== 'live';
  if (mode !== 'live') $('show-clock').hidden = true;
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
  renderSlowMode();
  if (!snap.you.is_host) setState($('conn'), 'error', 'You are not the host of this room.');
  renderLineup();
  renderDropForm();
  renderClock();
  renderReactionCounts();
  renderGiveaway();
  renderAuctionForm();
  renderAuction();
  renderKeywords();
  if (st.status === 'live') startNumbers();
  else if (st.status === 'ended') onShowEnded();
  else setState($('numbers-status'), 'idle', 'The numbers start when the show goes live.');
}

function onEvent(e, meta) {
  switch (e.kind) {
    case 'comment': addComment({ ...e, seq: meta.seq }); break;
    case 'comment_deleted': $('chat').querySelector(`li[data-seq="${e.seq}"]`)?.remove(); break;
    case 'timed_out': addNote(`${e.author} was timed out until ${new Date(e.until).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}.`); break;
    case 'banned':
      addNote(`${e.author} was removed from ${e.scope === 'creator' ? 'all your rooms' : 'this room'}.`);
      for (const li of $('chat').querySelectorAll(`li[data-author-key="${CSS.escape(e.author_key)}"]`)) li.querySelector('.mod-actions')?.remove();
      loadBans(room.id);
      break;
    case 'slow_mode': renderSlowMode(); addNote(e.secs ? `Slow mode on: one comment per ${e.secs} s.` : 'Slow mode off.'); break;
    case 'pinned': case 'unpinned': renderLineup(); break;
    case 'product_updated': renderLineup(); renderDropForm(); renderAuctionForm(); break;
    case 'drop_started': setState($('drop-status'), 'ok', `Drop running: ${e.drop.quantity} units at ${money(e.drop.price)}`); renderDrop(); renderLineup(); break;
    case 'drop_ended': setState($('drop-status'), 'ok', `Drop ended: ${e.sold} sold.`); renderLineup(); break;
    case 'sale': onSale(e); break;
    case 'giveaway_started': case 'giveaway_drawn': renderGiveaway(); break;
    case 'auction_bid':
      if (e.extended) room.auctionExtendedAt = Date.now();
      renderAuction();
      break;
    case 'auction_started': case 'auction_ended': case 'auction_offered': case 'auction_settled': renderAuction(); break;
    case 'keywords_updated': renderKeywords(); break;
    case 'room_live':
      if (room.liveAt == null) room.liveAt = Date.now();
      renderLineup();
      renderClock();
      startNumbers();
      break;
    case 'room_ended':
      renderLineup();
      renderHeld();
      setState($('conn'), 'ended', 'show ended');
      $('end-room').disabled = true;
      renderClock();
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
  renderDropForm();
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
  if (room.rehearsal) {
    setState($('numbers-status'), 'idle', 'A rehearsal counts in no report: its sales show in the chat and the lineup only.');
    return;
  }
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
    if (r.liveAt == null && report.room.live_at) r.liveAt = report.room.live_at;
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
  if (!document.hidden && !$('view-rooms').hidden) loadRooms();
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
  if (r.rehearsal) {
    card.dataset.state = 'final';
    $('recap').replaceChildren(h('p', { class: 'muted' }, 'The rehearsal has ended. It has no report: nothing it sold was real.'));
    return;
  }
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
  const who = c.speaker === 'host' ? `${c.author} (you)` : c.author;
  const li = h('li', { dataset: { seq: String(c.seq), authorKey: c.author_key ?? '' } },
    h('span', { class: 'text' }, h('b', {}, who), ': ', c.text));
  const actions = room?.conn && commentActions(room.conn, c, onModerated);
  if (actions) li.append(actions);
  list.append(li);
  list.scrollTop = list.scrollHeight;
}

/** A line in the chat about what moderation did (not a comment: nothing to act on). */
function addNote(text) {
  const list = $('chat');
  list.append(h('li', { class: 'note' }, text));
  list.scrollTop = list.scrollHeight;
}

/** What a moderation button sent: its refusal, if any, comes as an error frame. */
function onModerated(request, sent, about) {
  clearError();
  if (!sent) showError(`${ACTION_NAMES[request]}: not connected; try again in a moment.`);
  else if (request === 'timeout') setState($('mod-status'), 'ok', `${about.author} cannot comment for 5 minutes.`);
}

/** The comments held for review (read on joining, then kept by the library). */
function renderHeld() {
  if (!room?.conn) return;
  $('held').replaceChildren(...heldItems(room.conn, onModerated));
}

/** The slow-mode select shows the room's setting (adding an option for a value set elsewhere). */
function renderSlowMode() {
  const select = $('slow-mode');
  const secs = String(room?.state.slowModeSecs ?? 0);
  if (![...select.options].some((o) => o.value === secs)) select.append(h('option', { value: secs }, `${secs} s`));
  select.value = secs;
}

$('slow-mode').addEventListener('change', () => {
  if (!room) return;
  clearError();
  const secs = Number($('slow-mode').value);
  if (room.conn.slowMode(secs)) setState($('mod-status'), 'ok', secs ? `Slow mode: one comment per ${secs} s.` : 'Slow mode off.');
  else { showError('Slow mode: not connected; try again in a moment.'); renderSlowMode(); }
});

// ---------- moderators, bans and blocked words (REST, docs/protocol.md 9.8) ----------

/** Where a list applies: this room, or all the signed-in creator's rooms. */
const scopeOf = (which) => (which === 'room' ? { roomId: room.id } : { creatorId: session().account.id });

/** Reads the room's moderation settings; each part says for itself when it cannot. */
function loadModeration(roomId) {
  loadModerators(roomId);
  loadBans(roomId);
  loadBlockedWords(roomId, 'room');
  loadBlockedWords(roomId, 'creator');
}

/** The room's moderators: those of this room and those of all the creator's rooms. */
async function loadModerators(roomId) {
  try {
    const mods = await room.lc.api.moderators({ roomId });
    if (room?.id !== roomId) return;
    $('mods').replaceChildren(...(mods.length ? mods.map(moderatorItem) : [h('li', { class: 'muted empty' }, 'No moderators yet.')]));
  } catch (error) {
    if (room?.id === roomId) setState($('mods-status'), 'error', `Could not load moderators: ${error.message}`);
  }
}

function moderatorItem(m) {
  const where = m.room_id == null ? 'all your rooms' : 'this room';
  return h('li', { class: 'row', dataset: { account: String(m.account_id) } },
    h('span', {}, h('b', {}, m.display_name), ` · ${where}`),
    h('button', { type: 'button', class: 'secondary', 'aria-label': `Remove ${m.display_name} as moderator of ${where}`,
      onclick: () => dismissModerator(m, where) }, 'Remove'));
}

async function dismissModerator(m, where) {
  const roomId = room.id;
  setState($('mods-status'), 'busy', 'Removing…');
  try {
    await room.lc.api.dismissModerator(scopeOf(m.room_id == null ? 'creator' : 'room'), m.account_id);
    if (room?.id !== roomId) return;
    setState($('mods-status'), 'ok', `${m.display_name} no longer moderates ${where}.`);
    loadModerators(roomId);
  } catch (error) {
    if (room?.id === roomId) setState($('mods-status'), 'error', `Not removed: ${error.message}`);
  }
}

$('mod-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  if (!room) return;
  const roomId = room.id;
  const text = $('mod-who').value.trim();
  const scope = $('mod-scope').value;
  const who = /^[0-9]+$/.test(text) ? { accountId: Number(text) } : { email: text };
  setState($('mods-status'), 'busy', 'Appointing…');
  try {
    const appointed = await room.lc.api.appointModerator(scopeOf(scope), who);
    if (room?.id !== roomId) return;
    $('mod-who').value = '';
    const name = appointed?.display_name ?? `Account ${text}`;
    setState($('mods-status'), 'ok', `${name} now moderates ${scope === 'room' ? 'this room' : 'all your rooms'}.`);
    loadModerators(roomId);
  } catch (error) {
    const why = error.code === 'not_found' ? 'no account has that e-mail address or id' : error.message;
    if (room?.id === roomId) setState($('mods-status'), 'error', `Not appointed: ${why}`);
  }
});

/** Whom a ban holds, in words: an account, a guest's name, or one guest connection. */
function banned(who) {
  if (who.startsWith('a')) return `account ${who.slice(1)}`;
  if (who.startsWith('n')) return `guest name “${who.slice(1)}”`;
  return 'a guest connection';
}

/** The bans in force in the creator's rooms, newest first. */
async function loadBans(roomId) {
  try {
    const bans = await room.lc.api.bans(session().account.id);
    if (room?.id !== roomId) return;
    $('bans').replaceChildren(...(bans.length ? bans.map(banItem) : [h('li', { class: 'muted empty' }, 'Nobody is banned.')]));
  } catch (error) {
    if (room?.id === roomId) setState($('bans-status'), 'error', `Could not load bans: ${error.message}`);
  }
}

function banItem(b) {
  const who = banned(b.who);
  const where = b.room_id == null ? 'all your rooms' : b.room_id === room.id ? 'this room' : `room ${b.room_id}`;
  return h('li', { class: 'row', dataset: { ban: String(b.id) } },
    h('span', {}, `${who} · ${where} · `, h('time', { datetime: new Date(b.banned_at).toISOString() }, new Date(b.banned_at).toLocaleString())),
    h('button', { type: 'button', class: 'secondary', 'aria-label': `Lift the ban on ${who} from ${where}`, onclick: () => liftBan(b, who) }, 'Lift'));
}

async function liftBan(b, who) {
  const roomId = room.id;
  setState($('bans-status'), 'busy', 'Lifting…');
  try {
    await room.lc.api.liftBan(session().account.id, b.id);
    if (room?.id !== roomId) return;
    setState($('bans-status'), 'ok', `Ban on ${who} lifted.`);
    loadBans(roomId);
  } catch (error) {
    if (room?.id === roomId) setState($('bans-status'), 'error', `Not lifted: ${error.message}`);
  }
}

/** The form of each list of blocked words: this room's, and all the creator's rooms'. */
const BLOCKED_FORMS = {
  room: { form: 'blocked-form', words: 'blocked-words', action: 'blocked-action', status: 'blocked-status' },
  creator: { form: 'creator-blocked-form', words: 'creator-blocked-words', action: 'creator-blocked-action', status: 'creator-blocked-status' },
};

function showBlocked(which, list) {
  const ids = BLOCKED_FORMS[which];
  $(ids.words).value = list.words.join(', ');
  $(ids.action).value = list.action ?? 'refuse';
}

async function loadBlockedWords(roomId, which) {
  const ids = BLOCKED_FORMS[which];
  showBlocked(which, { words: [], action: 'refuse' });
  setState($(ids.status), 'idle', '');
  try {
    const list = await room.lc.api.blockedWords(scopeOf(which));
    if (room?.id === roomId) showBlocked(which, list);
  } catch (error) {
    if (room?.id === roomId) setState($(ids.status), 'error', `Could not load blocked words: ${error.message}`);
  }
}

for (const [which, ids] of Object.entries(BLOCKED_FORMS)) {
  $(ids.form).addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!room) return;
    const roomId = room.id;
    const words = $(ids.words).value.split(',').map((w) => w.trim()).filter(Boolean);
    setState($(ids.status), 'busy', 'Saving…');
    try {
      const kept = await room.lc.api.setBlockedWords(scopeOf(which), { words, action: $(ids.action).value });
      if (room?.id !== roomId) return;
      showBlocked(which, kept);
      const does = kept.action === 'hold' ? 'held for review' : 'refused';
      setState($(ids.status), 'ok', kept.words.length ? `Saved: ${kept.words.length} blocked, ${does}.` : 'No blocked words.');
    } catch (error) {
      if (room?.id === roomId) setState($(ids.status), 'error', `Not saved: ${error.message}`);
    }
  });
}

/** Units sold of a product: the report's (exact, the whole show) once read, else the sales seen here. */
function soldOf(productId) {
  const fromReport = room.report?.products.find((p) => p.product_id === productId);
  return fromReport ? fromReport.units : room.sold.get(productId) || 0;
}

/** The lineup: one row per product, pinned (or unpinned) in one tap, phone or desktop. */
function renderLineup() {
  if (!room?.state) return;
  const list = $('lineup');
  const st = room.state;
  const focusedId = document.activeElement?.closest?.('#lineup li')?.dataset.product;
  list.replaceChildren();
  for (const p of st.lineup.values()) {
    const pinned = st.pinned === p.id;
    const drop = st.runningDrop(p.id);
    const button = h('button', { type: 'button', class: pinned ? 'secondary' : '', disabled: st.status !== 'live',
      onclick: () => {
        clearError();
        if (pinned) room.conn.unpin();
        else room.conn.pin(p.id);
      } }, pinned ? 'Unpin' : 'Pin', h('span', { class: 'sr-only' }, ` ${p.title}`));
    list.append(
      h('li', { 'data-product': p.id, 'data-pinned': String(pinned) },
        h('div', {},
          h('div', { class: 'title' }, p.title, pinned ? h('span', { class: 'badge' }, 'Pinned') : '', drop ? h('span', { class: 'badge' }, 'Drop') : ''),
          h('div', { class: 'figures' },
            h('span', {}, money(p.price)),
            h('span', {}, 'Stock left ', h('b', { class: 'stock' }, p.stock)),
            h('span', {}, 'Sold ', h('b', { class: 'sold' }, soldOf(p.id))))),
        button),
    );
  }
  if (focusedId) list.querySelector(`li[data-product="${focusedId}"] button`)?.focus();
  $('unpin').disabled = st.pinned == null || st.status !== 'live';
}

/** Fills a form's product menu with the lineup and its stock, and shows the chosen product's currency. */
function renderProductMenu(selectId, currencyId) {
  const select = $(selectId);
  const before = select.value;
  const products = [...room.state.lineup.values()];
  const label = (p) => `${p.title} (${p.stock} in stock)`;
  // Same products: only the stock figures change (an open menu stays open).
  if (select.options.length === products.length && products.every((p, i) => select.options[i].value === String(p.id))) {
    products.forEach((p, i) => { select.options[i].textContent = label(p); });
  } else {
    select.replaceChildren(...products.map((p) => h('option', { value: p.id }, label(p))));
    if (before) select.value = before;
  }
  const p = room.state.lineup.get(Number(select.value));
  if (p) $(currencyId).textContent = p.price.currency;
}

function renderDropForm() {
  renderProductMenu('drop-product', 'drop-currency');
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

$('unpin').addEventListener('click', () => {
  clearError();
  room?.conn.unpin();
});

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
  clearError();
  const perBuyer = $('drop-per-buyer').value.trim() ? Number($('drop-per-buyer').value) : null;
  const drop = {
    productId: product.id,
    quantity: Number($('drop-quantity').value),
    price,
    durationSecs: Number($('drop-duration').value),
    perBuyer,
  };
  if (!room.conn.startDrop(drop)) showError('Start drop: not connected; try again in a moment.');
  else setState($('drop-status'), 'busy', 'Starting the drop…');
});

// ---------- giveaways: one open at a time; the server draws when entries close ----------

const ENTRY_RULES = { signed_in: 'anyone signed in', followers: 'your followers', buyers: 'buyers in this show' };

/** The open giveaway with its countdown, or the last draw's winner; the form while none is open. */
function renderGiveaway() {
  const st = room?.state;
  if (!st) return;
  const box = $('giveaway-now');
  const open = st.giveaway;
  const draw = st.lastDraw;
  $('giveaway-form').hidden = Boolean(open);
  if (open) {
    const left = open.closes_at - Date.now();
    box.hidden = false;
    box.dataset.state = 'open';
    box.replaceChildren(
      h('p', {}, h('strong', {}, open.prize), ` · open to ${ENTRY_RULES[open.entry] ?? open.entry}`),
      h('p', {}, left > 0 ? ['Entries close in ', h('time', { id: 'giveaway-countdown' }, countdown(left))] : 'Entries closed: drawing the winner…'),
      h('p', { class: 'muted small' }, 'Entries are counted and revealed with the draw.'));
    return;
  }
  if (!draw) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  const prize = draw.giveaway?.prize ?? 'the giveaway';
  box.hidden = false;
  box.dataset.state = 'drawn';
  const entries = `${draw.entries} ${draw.entries === 1 ? 'entry' : 'entries'}`;
  box.replaceChildren(draw.winner
    ? h('p', { id: 'giveaway-winner' }, h('strong', {}, draw.winner.display_name), ` won ${prize} (${entries}).`)
    : h('p', { id: 'giveaway-winner' }, `Nobody entered, so nobody won ${prize}.`));
}

$('giveaway-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  if (!room?.conn) return;
  const prize = $('giveaway-prize').value.trim();
  if (!prize) return;
  clearError();
  const r = room;
  setState($('giveaway-status'), 'busy', 'Starting the giveaway…');
  try {
    await r.conn.startGiveaway({ prize, entry: $('giveaway-entry').value, durationSecs: Number($('giveaway-duration').value) });
    if (room !== r) return;
    $('giveaway-prize').value = '';
    setState($('giveaway-status'), 'idle', '');
  } catch (error) {
    if (room !== r) return;
    setState($('giveaway-status'), 'idle', '');
    // Refusals are shown by the connection's error listener; a send that never left, here.
    if (error.code === 'not_connected') showError('Start giveaway: not connected; try again in a moment.');
  }
});

// ---------- auctions: one at a time, until sold or unsold (docs/protocol.md 4.20) ----------

function renderAuctionForm() {
  renderProductMenu('auction-product', 'auction-currency');
}

$('auction-product').addEventListener('change', () => renderAuctionForm());
$('auction-sudden').addEventListener('change', () => { $('auction-extend').disabled = $('auction-sudden').checked; });

/**
 * "0=0.50, 20=1" in major units → [{from: 0, step: 50}, {from: 2000, step: 100}]; null for
 * an empty field (the server's table); a string saying what is wrong.
 */
function parseSteps(text, currency) {
  if (!text.trim()) return null;
  const rows = [];
  for (const part of text.split(/[,;\n]+/).map((p) => p.trim()).filter(Boolean)) {
    const [from, step] = part.split('=').map((x) => parseMajor(x ?? '', currency));
    if (from == null || step == null || step <= 0) return `"${part}": write price=step, like 20=1.00`;
    rows.push({ from, step });
  }
  if (rows[0].from !== 0) return 'The first step starts at price 0.';
  if (rows.some((r, i) => i && r.from <= rows[i - 1].from)) return 'List the prices in ascending order.';
  if (rows.length > 20) return 'At most 20 steps.';
  return rows;
}

/** The running auction (price, leader, bids, clock) or its outcome; the form while none runs. */
function renderAuction() {
  const st = room?.state;
  if (!st) return;
  const box = $('auction-now');
  const a = st.auction;
  $('auction-form').hidden = Boolean(a);
  if (!a) {
    const last = st.lastAuction;
    box.hidden = !last;
    box.dataset.state = last ? 'settled' : 'none';
    if (!last) return box.replaceChildren();
    const title = last.title ?? 'The auction';
    return box.replaceChildren(h('p', { id: 'auction-outcome' }, last.outcome === 'sold'
      ? [h('strong', {}, 'Sold: '), `${title} to ${last.buyer.display_name} for ${money(last.price)}.`]
      : [h('strong', {}, 'Unsold: '), `${title}${st.auctionEnded?.winner ? ': nobody paid in time.' : ': no bids, or nobody paid in time.'}`]));
  }
  box.hidden = false;
  const left = a.ends_at - Date.now();
  const over = st.biddingOver();
  box.dataset.state = a.phase === 'awarded' ? 'awarded' : over ? 'ended' : 'open';
  const extended = Date.now() - (room.auctionExtendedAt ?? 0) < 5000;
  const lines = [
    h('p', {}, h('strong', {}, a.title), a.sudden_death ? ' · sudden death' : ` · late bids extend it by ${a.extend_secs} s`),
    h('p', { class: 'auction-figures' },
      h('span', {}, a.price ? 'Price ' : 'Starting at ', h('b', { id: 'auction-price' }, money(a.price ?? a.starting_price))),
      h('span', {}, 'Leader ', h('b', { id: 'auction-leader' }, a.leader?.display_name ?? '—')),
      h('span', {}, 'Bids ', h('b', { id: 'auction-bids' }, a.bids))),
  ];
  if (!over) {
    lines.push(h('p', {}, 'Bidding ends in ', h('time', { id: 'auction-countdown' }, countdown(left)),
      extended ? h('span', { class: 'badge', id: 'auction-extended' }, 'Extended by a late bid') : ''));
  } else if (a.phase === 'awarded') {
    lines.push(h('p', { id: 'auction-offered' }, a.offer.round > 1 ? `Passed to the next bidder (round ${a.offer.round}): ` : 'Won: ',
      h('strong', {}, a.offer.buyer.display_name), ` at ${money(a.offer.price)}, paying until ${new Date(a.offer.pay_by).toLocaleTimeString()}.`));
  } else {
    const ended = st.auctionEnded;
    lines.push(h('p', { id: 'auction-offered' }, !ended ? 'Bidding closed: settling…'
      : ended.winner ? [h('strong', {}, ended.winner.display_name), ` won at ${money(ended.price)}.`] : 'Bidding closed with no bids.'));
  }
  box.replaceChildren(...lines);
}

$('auction-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const product = room?.state.lineup.get(Number($('auction-product').value));
  if (!product) return;
  const currency = product.price.currency;
  const startingPrice = parseMajor($('auction-start').value, currency);
  if (startingPrice == null) return setState($('auction-status'), 'error', 'Enter the starting price like 10.00');
  const increments = parseSteps($('auction-steps').value, currency);
  if (typeof increments === 'string') return setState($('auction-status'), 'error', increments);
  clearError();
  const r = room;
  setState($('auction-status'), 'busy', 'Starting the auction…');
  try {
    await r.conn.startAuction({
      productId: product.id,
      startingPrice,
      durationSecs: Number($('auction-duration').value),
      increments,
      extendSecs: $('auction-sudden').checked ? null : Number($('auction-extend').value),
      suddenDeath: $('auction-sudden').checked,
    });
    if (room !== r) return;
    setState($('auction-status'), 'idle', '');
  } catch (error) {
    if (room !== r) return;
    setState($('auction-status'), 'idle', '');
    // Refusals are shown by the connection's error listener; a send that never left, here.
    if (error.code === 'not_connected') showError('Start auction: not connected; try again in a moment.');
  }
});

// ---------- comment-to-buy keywords (docs/protocol.md 9.11) ----------

function renderKeywords() {
  const st = room?.state;
  if (!st) return;
  const list = $('keywords');
  // Typing is not undone by a redraw: a row keeps its input while its product stays.
  const typed = new Map([...list.querySelectorAll('input')].map((i) => [i.dataset.product, i.value]));
  const dirty = list.dataset.dirty === 'true';
  list.replaceChildren(...[...st.lineup.values()].map((p) => h('li', {},
    h('label', {}, `${p.title} `, h('input', {
      'data-product': p.id, maxlength: 20, autocomplete: 'off', pattern: '[A-Za-z0-9]{2,20}', placeholder: 'e.g. SERUM',
      value: dirty ? typed.get(String(p.id)) ?? '' : st.keywordOf(p.id) ?? '',
    })))));
}

$('keywords').addEventListener('input', () => { $('keywords').dataset.dirty = 'true'; });

$('keywords-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  if (!room?.conn) return;
  const keywords = [...$('keywords').querySelectorAll('input')]
    .filter((i) => i.value.trim())
    .map((i) => ({ product_id: Number(i.dataset.product), keyword: i.value.trim() }));
  setState($('keywords-status'), 'busy', 'Saving…');
  try {
    await room.lc.api.setKeywords(room.id, keywords);
    $('keywords').dataset.dirty = 'false';
    setState($('keywords-status'), 'ok', 'Saved.');
  } catch (error) {
    setState($('keywords-status'), 'error', error.message);
  }
});

$('comment-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const text = $('comment').value.trim();
  if (!text || !room) return;
  clearError();
  if (room.conn.comment(text)) $('comment').value = '';
  else showError('Message: not connected; try again in a moment.');
});

// Ending the show asks first, in the page (no `confirm()`).
$('end-room').addEventListener('click', () => {
  if (room) $('end-dialog').showModal();
});
$('end-cancel').addEventListener('click', () => $('end-dialog').close());
$('end-confirm').addEventListener('click', async () => {
  $('end-dialog').close();
  if (!room) return;
  clearError();
  if (room.conn.endRoom()) return; // `room_ended` follows, or an error naming end_room
  try {
    await api('POST', `/api/rooms/${room.id}/end`, { token: session().token });
  } catch (error) {
    showError(`End the show: ${error.message}`);
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
  clearError();
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
  $('cam-start').disabled = room?.state?.status === 'ended' || !room?.conn;
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
