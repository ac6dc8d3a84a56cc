// The STUN and TURN servers for a WHIP or WHEP peer connection: GET /api/ice
// (docs/protocol.md, section 8). TURN comes with credentials that expire, made by the
// server for this page (never a password written into it), so a viewer or creator behind
// carrier NAT reaches the node through the relay. Asked again for every new connection,
// as the credentials only start relays for a while.

/**
 * The `RTCPeerConnection` configuration: `{ iceServers }`, or `{}` when the server could
 * not be asked (a direct path, where there is one, still works).
 * @param {{ token?: string | null, baseUrl?: string }} [options] `token`: the signed-in
 *   session's, so the TURN username names the account
 * @returns {Promise<RTCConfiguration>}
 */
export async function iceConfiguration({ token = null, baseUrl } = {}) {
  try {
    const headers = token ? { Authorization: `Bearer ${token}` } : {};
    const url = new URL('/api/ice', baseUrl ?? window.location.href);
    const response = await fetch(url, { headers, cache: 'no-store', signal: AbortSignal.timeout(5_000) });
    if (!response.ok) throw new Error(`GET /api/ice answered ${response.status}`);
    const { ice_servers: iceServers } = await response.json();
    return Array.isArray(iceServers) ? { iceServers } : {};
  } catch (error) {
    console.warn('no STUN/TURN servers for this connection (direct only):', error);
    return {};
  }
}
