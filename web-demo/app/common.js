// Shared helpers of the viewer app, the creator studio and the brand dashboard:
// the session kept in sessionStorage, JSON calls to the REST API, money formatting, and a
// room WebSocket that resumes with `since`/`epoch` after a drop (docs/protocol.md §2).

const SESSION_KEY = 'livecart.session';

/** The signed-in session `{ token, account }`, or null. */
export function loadSession() {
  try {
    const value = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
    return value && typeof value.token === 'string' ? value : null;
  } catch {
    return null;
  }
}

export function saveSession(session) {
  if (session) sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  else sessionStorage.removeItem(SESSION_KEY);
}

/** An error answer from the REST API, with livecart's error code. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || `request failed with HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** Calls the REST API; resolves to the parsed JSON body (or null for an empty body). */
export async function api(method, route, { token, body } = {}) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(route, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, data?.error?.code, data?.error?.message);
  return data;
}

/** Signs in and stores the session. */
export async function signIn(email, password) {
  const session = await api('POST', '/api/auth/login', { body: { email, password } });
  saveSession({ token: session.token, account: session.account });
  return loadSession();
}

/** Ends the session on the server (best effort) and forgets it here. */
export async function signOut() {
  const session = loadSession();
  saveSession(null);
  if (session) await api('POST', '/api/auth/logout', { token: session.token }).catch(() => {});
}

const formatters = new Map();
function formatterFor(currency) {
  if (!formatters.has(currency)) {
    formatters.set(currency, new Intl.NumberFormat(undefined, { style: 'currency', currency }));
  }
  return formatters.get(currency);
}

/** Digits after the decimal point in `currency` (2 for EUR, 0 for JPY). */
export function minorDigits(currency) {
  return formatterFor(currency).resolvedOptions().maximumFractionDigits;
}

/** Formats integer minor units, e.g. (2900, 'EUR') → "€29.00". */
export function formatMoney(amount, currency) {
  if (amount == null || !currency) return '';
  return formatterFor(currency).format(amount / 10 ** minorDigits(currency));
}

/** Formats a Money object `{amount, currency}`. */
export const money = (value) => (value ? formatMoney(value.amount, value.currency) : '');

/** Parses a price typed in major units ("5", "5.5", "5,50") into integer minor units, or null. */
export function parseMajor(text, currency) {
  const clean = String(text).trim().replace(',', '.');
  if (!/^\d+(\.\d+)?$/.test(clean)) return null;
  const digits = minorDigits(currency);
  const [whole, fraction = ''] = clean.split('.');
  if (fraction.length > digits) return null;
  return Number(whole) * 10 ** digits + Number(fraction.padEnd(digits, '0') || 0);
}

/** A random idempotency key (printable ASCII, no spaces), also outside secure contexts. */
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Creates an element: h('p', {class: 'x'}, 'text', child). */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** "3:07" from milliseconds. */
export function countdown(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const minutes = Math.floor(total / 60);
  return `${minutes}:${String(total % 60).padStart(2, '0')}`;
}

export function wsUrl() {
  const url = new URL('/ws', window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

/**
 * A room connection that keeps the last `seq` and `epoch` and, after any unexpected
 * disconnect (including close 1012), reconnects after a short randomised delay with
 * `since` and `epoch`. A seq gap also forces a reconnect. `onMessage(msg)` gets every frame;
 * `onState(state)` gets 'connecting' | 'open' | 'reconnecting' | 'closed'.
 */
export class RoomSocket {
  constructor({ roomId, token, guestName, onMessage, onState }) {
    Object.assign(this, { roomId, token, guestName, onMessage, onState });
    this.epoch = null;
    this.seq = null;
    this.ws = null;
    this.closed = false;
    this.attempt = 0;
    this.joined = false;
  }

  connect() {
    this.onState?.(this.attempt ? 'reconnecting' : 'connecting');
    const ws = new WebSocket(wsUrl());
    this.ws = ws;
    this.joined = false;
    ws.addEventListener('open', () => {
      const join = { type: 'join', room_id: Number(this.roomId) };
      if (this.token) join.token = this.token;
      else join.guest_name = this.guestName;
      if (this.epoch != null && this.seq != null) Object.assign(join, { since: this.seq, epoch: this.epoch });
      ws.send(JSON.stringify(join));
    });
    ws.addEventListener('message', (event) => {
      if (ws !== this.ws) return;
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        return;
      }
      if (msg.type === 'snapshot' || msg.type === 'resumed') {
        this.epoch = msg.epoch;
        this.seq = msg.seq;
        if (msg.type === 'resumed') this.seq = msg.since;
        this.joined = true;
        this.attempt = 0;
        this.lastJoinReply = msg.type; // for tests and debugging
        this.onState?.('open');
      } else if (msg.type === 'event') {
        if (this.seq != null && msg.seq !== this.seq + 1) {
          // A gap: never draw a room with a hole in it; resume from what we have.
          ws.close();
          return;
        }
        this.seq = msg.seq;
      } else if (msg.type === 'error' && msg.request === 'join') {
        this.onMessage?.(msg);
        this.closed = true;
        ws.close();
        this.onState?.('closed');
        return;
      }
      this.onMessage?.(msg);
    });
    ws.addEventListener('close', () => {
      if (ws !== this.ws || this.closed) return;
      this.attempt += 1;
      this.onState?.('reconnecting');
      const delay = Math.min(8000, 400 * 2 ** Math.min(this.attempt - 1, 4)) * (0.5 + Math.random());
      this.timer = setTimeout(() => this.connect(), delay);
    });
  }

  /** Sends a client message; false when the socket is not joined right now. */
  send(message) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN || !this.joined) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.ws?.close();
  }
}

/** Marks a status element with a state for scripts and a text for people. */
export function setState(element, state, text) {
  element.dataset.state = state;
  element.textContent = text ?? state;
}

/**
 * Wires the page's sign-in form (#signin-form, #email, #password, #signin-status) to
 * accept only accounts of `role` ('creator', 'brand'), then calls `onSignedIn`.
 */
export function bindRoleSignIn(role, onSignedIn) {
  const el = (id) => document.getElementById(id);
  el('signin-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const s = await signIn(el('email').value.trim(), el('password').value);
      if (s.account.role !== role) {
        await signOut();
        setState(el('signin-status'), 'error', `This account is not a ${role} account.`);
        return;
      }
      el('password').value = '';
      onSignedIn();
    } catch (error) {
      setState(el('signin-status'), 'error', error.code === 'bad_credentials' ? 'Wrong e-mail or password.' : error.message);
    }
  });
}
