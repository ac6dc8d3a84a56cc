// Shared helpers of the viewer app, the creator studio and the brand dashboard: the
// session kept in localStorage (a room link opened in a new tab stays signed in; signing
// out in one tab signs out every tab), JSON calls to the REST API, money formatting and small
// DOM helpers. Everything that talks to the server goes through the client library in
// ../sdk/ (the room and sales WebSockets, checkout, WHIP/WHEP, REST).

import { Api, ApiError, Livecart } from '../sdk/index.js';

export { ApiError };

const SESSION_KEY = 'livecart.session';

/** The signed-in session `{ token, account }`, or null. */
export function loadSession() {
  try {
    const value = JSON.parse(localStorage.getItem(SESSION_KEY) || 'null');
    return value && typeof value.token === 'string' ? value : null;
  } catch {
    return null;
  }
}

export function saveSession(session) {
  if (session) localStorage.setItem(SESSION_KEY, JSON.stringify(session));
  else localStorage.removeItem(SESSION_KEY);
  sessionStorage.removeItem(SESSION_KEY); // where older versions of the pages kept it
}

const rest = new Api();

/** Calls the REST API; resolves to the parsed JSON body (or null for an empty body). */
export function api(method, route, { token, body } = {}) {
  return rest.request(method, route, { token: token ?? null, body });
}

/** A client of the server that served the page, signed in with the stored session if any. */
export function livecart() {
  return new Livecart({ token: loadSession()?.token ?? null });
}

/** Signs in and stores the session. */
export async function signIn(email, password) {
  const session = await api('POST', '/api/auth/login', { body: { email, password } });
  saveSession({ token: session.token, account: session.account });
  return loadSession();
}

/** Creates a viewer account and stores its session (POST /api/auth/register). */
export async function register({ email, password, displayName }) {
  const session = await api('POST', '/api/auth/register', { body: { email, password, display_name: displayName, role: 'viewer' } });
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

/**
 * Shows `text` in a status element for `ms`, then clears it (unless something newer was
 * written there since). For messages that stop being true on their own ("Added to your cart").
 */
export function flash(element, state, text, ms = 4000) {
  setState(element, state, text);
  const stamp = String(Date.now() + Math.random());
  element.dataset.flash = stamp;
  setTimeout(() => {
    if (element.dataset.flash !== stamp) return;
    delete element.dataset.flash;
    setState(element, 'idle', '');
    if (element.classList.contains('notice')) element.hidden = true;
  }, ms);
}
