// livecart's client library: plain ES modules for browsers and Node (18+; before 22 pass
// a WebSocket constructor, e.g. the `ws` package's). See README.md in this folder, and
// docs/protocol.md for the protocol it speaks.

export { Livecart } from './client.js';
export { RoomConnection } from './room.js';
export { RoomState, REACTIONS } from './state.js';
export { Purchase, newIdempotencyKey } from './checkout.js';
export { SalesFeed } from './sales.js';
export { verifyDraw } from './giveaway.js';
export { Notices } from './notices.js';
export { Api, reportPath } from './api.js';
export { LivecartError, ApiError, SignallingError } from './errors.js';
export {
  MediaSession, completeOffer, iceGatheringComplete, preferForwardableVideo, publish, sendOffer, watch, whepUrl, whipUrl,
} from './media.js';
export { CLOSE_RESTARTING, CLOSE_SESSION_ENDED, DEFAULT_RECONNECT, backoffDelay, wsUrlFor } from './link.js';
