// The connection underneath a room and a sales feed: opens the WebSocket (the only place
// the web demo does), sends the first frame its owner gives, and after any unexpected
// disconnect opens a new one after a bounded, jittered back-off (docs/protocol.md §2):
//
// - close 4001 (session ended): no reconnect; the owner may start again with a new token;
// - close 4003 (banned from the room): no reconnect, ever, with the same identity;
// - close 1012 (server restarting): reconnect at a random point of a short window, so a
//   room's viewers do not all come back at the same instant;
// - anything else (network failure, write timeout, oversized frame, a join that never got
//   an answer): reconnect with exponential back-off and jitter, at most `maxAttempts`
//   times in a row; a connection that stayed joined for `stableMs` starts the count again.
//
// The owner decides what a frame means: it calls `joined()` when the join is answered and
// `refused()` when it is not.

export const CLOSE_SESSION_ENDED = 4001;
export const CLOSE_BANNED = 4003;
export const CLOSE_RESTARTING = 1012;
const OPEN = 1;

/**
 * @typedef {object} ReconnectOptions
 * @property {boolean} [enabled] reconnect at all (default true)
 * @property {number} [initialDelayMs] first back-off delay (default 500)
 * @property {number} [maxDelayMs] longest back-off delay (default 15000)
 * @property {number} [factor] growth per attempt (default 2)
 * @property {number} [jitter] share of each delay that is random, 0–1 (default 0.5)
 * @property {number} [maxAttempts] failed attempts in a row before giving up (default 12)
 * @property {number} [restartSpreadMs] after close 1012, the first attempt comes at a random
 *   point of this window (default 2000)
 * @property {number} [stableMs] a connection joined this long resets the attempt count
 *   (default 5000)
 */

/* A connection is opened, and its first frame sent, once per attempt; `joinTimeoutMs`
   bounds the time from opening to the answer to that frame. */

/** @type {Required<ReconnectOptions>} */
export const DEFAULT_RECONNECT = {
  enabled: true,
  initialDelayMs: 500,
  maxDelayMs: 15_000,
  factor: 2,
  jitter: 0.5,
  maxAttempts: 12,
  restartSpreadMs: 2_000,
  stableMs: 5_000,
};

/**
 * `idle` before `start()`; `connecting` for the first connection; `joined` once the first
 * frame was answered; `reconnecting` while waiting for or opening a new connection;
 * `session_ended` after close 4001; `banned` after close 4003; `failed` when a join was
 * refused or the attempts ran out; `closed` after `stop()`.
 * @typedef {'idle' | 'connecting' | 'joined' | 'reconnecting' | 'session_ended' | 'banned' | 'failed' | 'closed'} LinkState
 */

/**
 * @typedef {object} CloseInfo
 * @property {number} code the WebSocket close code (1006 when the connection just dropped)
 * @property {string} reason
 */

/**
 * @typedef {object} ReconnectInfo
 * @property {number} attempt 1 for the first attempt after a loss
 * @property {number} delayMs
 * @property {number} code close code of the connection that was lost
 * @property {string} reason
 */

/**
 * @typedef {object} LinkHooks
 * @property {() => object} join the first frame of each connection
 * @property {(message: any) => void} message every parsed frame the server sends
 * @property {(state: LinkState) => void} state
 * @property {(info: CloseInfo & {wasJoined: boolean}) => void} lost a joined or joining connection is gone
 * @property {(info: ReconnectInfo) => void} reconnecting
 * @property {(info: CloseInfo) => void} sessionEnded
 * @property {(info: CloseInfo) => void} [banned] close 4003 (room connections only)
 * @property {(info: {reason: 'refused' | 'gave_up', error?: Error, close?: CloseInfo}) => void} failed
 */

/** A WebSocket constructor as browsers and the `ws` package provide it. */
/** @typedef {new (url: string) => WebSocket} WebSocketConstructor */

/**
 * The `/ws` address of a server, from its HTTP base address.
 * @param {string | URL} baseUrl
 */
export function wsUrlFor(baseUrl) {
  const url = new URL('/ws', baseUrl);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  return url.href;
}

/** The page's own address in a browser, else undefined. */
export function defaultBaseUrl() {
  return /** @type {any} */ (globalThis).location?.href;
}

/**
 * The link of a client: to its `url`, or to the `/ws` of its `baseUrl` (in a browser, the
 * page's own address when neither is given), with its WebSocket, reconnect policy and join
 * timeout.
 * @param {{url?: string, baseUrl?: string | URL, WebSocket?: WebSocketConstructor, reconnect?: ReconnectOptions, joinTimeoutMs?: number}} options
 * @param {LinkHooks} hooks
 */
export function linkFor(options, hooks) {
  const baseUrl = options.baseUrl ?? defaultBaseUrl();
  const url = options.url ?? (baseUrl ? wsUrlFor(baseUrl) : undefined);
  if (!url) throw new TypeError('give baseUrl (or url): there is no page address to start from');
  const { WebSocket, reconnect, joinTimeoutMs } = options;
  return new Link({ url, WebSocket, reconnect, joinTimeoutMs, hooks });
}

/**
 * @param {WebSocketConstructor | undefined} given
 * @returns {WebSocketConstructor}
 */
export function webSocketConstructor(given) {
  const constructor = given ?? /** @type {any} */ (globalThis).WebSocket;
  if (!constructor) throw new TypeError('no WebSocket here: pass one (in Node before 22, the `ws` package) as options.WebSocket');
  return constructor;
}

/**
 * The delay before attempt `attempt` (1-based).
 * @param {number} attempt
 * @param {Required<ReconnectOptions>} policy
 * @param {() => number} [random]
 */
export function backoffDelay(attempt, policy, random = Math.random) {
  const full = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** Math.max(0, attempt - 1));
  return Math.round(full * (1 - policy.jitter * random()));
}

export class Link {
  /** @type {WebSocket | null} */
  #ws = null;
  /** @type {LinkState} */
  #state = 'idle';
  #attempt = 0;
  #joinedAt = 0;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #timer;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #joinTimer;

  /**
   * @param {{url: string, WebSocket?: WebSocketConstructor, reconnect?: ReconnectOptions, joinTimeoutMs?: number, hooks: LinkHooks}} options
   */
  constructor({ url, WebSocket, reconnect, joinTimeoutMs = 15_000, hooks }) {
    this.url = url;
    this.WebSocket = webSocketConstructor(WebSocket);
    /** @type {Required<ReconnectOptions>} */
    this.policy = { ...DEFAULT_RECONNECT, ...reconnect };
    this.joinTimeoutMs = joinTimeoutMs;
    this.hooks = hooks;
    /** Connections opened so far. */
    this.connections = 0;
  }

  get state() {
    return this.#state;
  }

  /** The WebSocket in use (for tests and debugging), or null. */
  get socket() {
    return this.#ws;
  }

  /** Opens the first connection; after `session_ended`, `banned`, `failed` or `closed`, starts again. */
  start() {
    if (this.#state === 'connecting' || this.#state === 'joined' || this.#state === 'reconnecting') return;
    this.#attempt = 0;
    this.#open('connecting');
  }

  /** Closes for good (until `start()`): no reconnect. */
  stop() {
    clearTimeout(this.#timer);
    this.#drop(1000, 'closed by the client');
    this.#set('closed');
  }

  /** Drops the connection and joins again at once (a resync). */
  restart(reason = 'resync') {
    if (this.#state === 'closed' || this.#state === 'session_ended' || this.#state === 'banned' || this.#state === 'failed') return;
    clearTimeout(this.#timer);
    this.#drop(1000, reason);
    this.#schedule({ code: 1000, reason }, true);
  }

  /** While waiting to reconnect, tries now (e.g. when the browser comes back online). */
  reconnectNow() {
    if (this.#state !== 'reconnecting' || this.#ws) return;
    clearTimeout(this.#timer);
    this.#open('reconnecting');
  }

  /** The owner saw the answer to its first frame. */
  joined() {
    clearTimeout(this.#joinTimer);
    this.#joinedAt = Date.now();
    this.#set('joined');
  }

  /**
   * The owner's first frame was refused: try again later when `retryable`, else give up.
   * @param {Error} error
   * @param {boolean} retryable
   */
  refused(error, retryable) {
    this.#drop(1000, 'join refused');
    if (retryable) this.#schedule({ code: 1000, reason: error.message });
    else {
      this.#set('failed');
      this.hooks.failed({ reason: 'refused', error });
    }
  }

  /**
   * Sends a message on a joined connection; false when there is none right now.
   * @param {object} message
   */
  send(message) {
    const ws = this.#ws;
    if (this.#state !== 'joined' || !ws || ws.readyState !== OPEN) return false;
    ws.send(JSON.stringify(message));
    return true;
  }

  /** @param {LinkState} state */
  #set(state) {
    if (this.#state === state) return;
    this.#state = state;
    this.hooks.state(state);
  }

  /** @param {'connecting' | 'reconnecting'} state */
  #open(state) {
    this.#set(state);
    this.connections += 1;
    /** @type {WebSocket} */
    let ws;
    try {
      ws = new this.WebSocket(this.url);
    } catch (error) {
      this.#lost({ code: 1006, reason: String(error) });
      return;
    }
    this.#ws = ws;
    // From opening to the join's answer: a handshake that hangs counts as much as a join
    // nobody answers.
    this.#joinTimer = setTimeout(() => {
      if (ws !== this.#ws) return;
      this.#drop(1000, 'no answer to join', false);
      this.#lost({ code: 1006, reason: 'no answer to join' });
    }, this.joinTimeoutMs);
    ws.addEventListener('open', () => {
      if (ws !== this.#ws) return;
      ws.send(JSON.stringify(this.hooks.join()));
    });
    ws.addEventListener('message', (event) => {
      if (ws !== this.#ws || typeof event.data !== 'string') return;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return; // the server sends JSON text frames only
      }
      this.hooks.message(message);
    });
    // Without a listener, some implementations report the error as unhandled; the close
    // event that follows is what counts.
    ws.addEventListener('error', () => {});
    ws.addEventListener('close', (event) => {
      if (ws !== this.#ws) return;
      this.#ws = null;
      this.#lost({ code: event.code, reason: event.reason });
    });
  }

  /**
   * Lets go of the current connection without reacting to its close.
   * @param {number} code
   * @param {string} reason
   * @param {boolean} [notify] tell the owner the connection is lost
   */
  #drop(code, reason, notify = true) {
    clearTimeout(this.#joinTimer);
    const ws = this.#ws;
    if (!ws) return;
    this.#ws = null;
    if (notify) this.hooks.lost({ code, reason, wasJoined: this.#state === 'joined' });
    try {
      ws.close(code, reason);
    } catch {
      // Already closing.
    }
  }

  /** @param {CloseInfo} close */
  #lost(close) {
    clearTimeout(this.#joinTimer);
    if (this.#state === 'closed') return;
    this.hooks.lost({ ...close, wasJoined: this.#state === 'joined' });
    if (close.code === CLOSE_SESSION_ENDED) {
      this.#set('session_ended');
      this.hooks.sessionEnded(close);
      return;
    }
    if (close.code === CLOSE_BANNED) {
      this.#set('banned');
      this.hooks.banned?.(close);
      return;
    }
    this.#schedule(close);
  }

  /**
   * @param {CloseInfo} close
   * @param {boolean} [immediate]
   */
  #schedule(close, immediate = false) {
    if (this.#joinedAt && Date.now() - this.#joinedAt >= this.policy.stableMs) this.#attempt = 0;
    this.#joinedAt = 0;
    this.#attempt += 1;
    if (!this.policy.enabled || this.#attempt > this.policy.maxAttempts) {
      this.#set('failed');
      this.hooks.failed({ reason: 'gave_up', close });
      return;
    }
    let delayMs = backoffDelay(this.#attempt, this.policy);
    if (immediate && this.#attempt === 1) delayMs = 0;
    if (close.code === CLOSE_RESTARTING && this.#attempt === 1) delayMs = Math.round(Math.random() * this.policy.restartSpreadMs);
    this.#set('reconnecting');
    this.hooks.reconnecting({ attempt: this.#attempt, delayMs, code: close.code, reason: close.reason });
    this.#timer = setTimeout(() => this.#open('reconnecting'), delayMs);
  }
}
