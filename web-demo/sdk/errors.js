// One error class for what livecart refuses, over HTTP or over the WebSocket: `code` is
// the stable machine-readable code of docs/protocol.md section 7.

/** @typedef {import('./types.js').ErrorCode} ErrorCode */
/** @typedef {import('./types.js').ClientMessageType} ClientMessageType */

export class LivecartError extends Error {
  /**
   * @param {ErrorCode | string | undefined} code livecart's code; undefined when the
   *   answer carried none (a proxy's error page, a network failure)
   * @param {string} [message]
   * @param {{status?: number, request?: ClientMessageType}} [details] the HTTP status, or
   *   the WebSocket request that failed
   */
  constructor(code, message, { status, request } = {}) {
    super(message || (status ? `request failed with HTTP ${status}` : `livecart refused: ${code}`));
    this.name = 'LivecartError';
    /** @type {ErrorCode | string | undefined} */
    this.code = code;
    /** @type {number | undefined} */
    this.status = status;
    /** @type {ClientMessageType | undefined} */
    this.request = request;
  }
}

/** An error answer of the REST API (an HTTP status and livecart's code). */
export class ApiError extends LivecartError {
  /**
   * @param {number} status
   * @param {ErrorCode | string | undefined} code
   * @param {string} [message]
   */
  constructor(status, code, message) {
    super(code, message, { status });
    this.name = 'ApiError';
  }
}

/** An error answer of a WHIP or WHEP endpoint. */
export class SignallingError extends ApiError {
  /**
   * @param {number} status
   * @param {ErrorCode | string | undefined} code
   * @param {string} [message]
   */
  constructor(status, code, message) {
    super(status, code, message);
    this.name = 'SignallingError';
  }
}

/**
 * Reads livecart's `{"error":{"code","message"}}` body from a failed response.
 * @template {ApiError} E
 * @param {Response} response
 * @param {new (status: number, code: string | undefined, message?: string) => E} Kind
 * @returns {Promise<E>}
 */
export async function errorFromResponse(response, Kind) {
  let code;
  let message;
  try {
    const body = JSON.parse(await response.text());
    code = body?.error?.code;
    message = body?.error?.message;
  } catch {
    // Not livecart's JSON error body: the status has to do.
  }
  return new Kind(response.status, code, message);
}
