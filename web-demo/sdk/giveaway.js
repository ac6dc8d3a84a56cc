// Checking a giveaway's draw without trusting the server (docs/protocol.md 4.14): the
// revealed seed must hash to the commitment published when the giveaway opened, and the
// winner must be the entry the rule picks from the seed and the published entries:
//
//   digest = SHA-256(seed bytes ‖ the entries' account ids in decimal joined by ",")
//   index  = the first 8 bytes of digest, unsigned big-endian, modulo the entries
//
// WebCrypto's SHA-256 (browsers; Node 19+, or Node 18 with a `subtle` passed in).

/** @typedef {import('./types.js').GiveawayView} GiveawayView */

/**
 * What `verifyDraw` found. `verified` is true only when every check passed.
 * @typedef {object} DrawCheck
 * @property {boolean} verified
 * @property {boolean} commitmentMatches SHA-256 of the seed's bytes is the commitment
 * @property {number | null} index the winner's position by the rule (null without entries)
 * @property {number | null} expectedWinner the account id at `index` (null without entries)
 * @property {string | null} problem what failed, in words; null when verified
 */

/**
 * @param {string} hex
 * @returns {Uint8Array<ArrayBuffer> | null}
 */
function fromHex(hex) {
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) return null;
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

/** @param {ArrayBuffer} buffer */
function toHex(buffer) {
  return [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Recomputes a drawn giveaway's winner from its record (GET /api/giveaways/{id}, or any
 * object with `commitment`, `seed`, `entries` and `winner`) and says whether the server's
 * draw holds up. Never throws for a bad record: `problem` says what is wrong with it.
 * @param {Pick<GiveawayView, 'commitment' | 'seed' | 'entries' | 'winner'>} view
 * @param {{subtle?: SubtleCrypto}} [options] WebCrypto to use (default `globalThis.crypto.subtle`)
 * @returns {Promise<DrawCheck>}
 */
export async function verifyDraw(view, { subtle = globalThis.crypto?.subtle } = {}) {
  if (!subtle) throw new Error('verifyDraw needs WebCrypto (crypto.subtle)');
  /** @type {DrawCheck} */
  const check = { verified: false, commitmentMatches: false, index: null, expectedWinner: null, problem: null };
  const seed = view.seed == null ? null : fromHex(view.seed);
  if (!seed || seed.length !== 32) return { ...check, problem: view.seed == null ? 'not drawn yet: the seed is still secret' : 'the seed is not 32 bytes of hex' };
  const entries = view.entries ?? [];
  if (!entries.every((id, i) => Number.isSafeInteger(id) && id > 0 && (i === 0 || id > entries[i - 1]))) {
    return { ...check, problem: 'the entries are not account ids in ascending order' };
  }

  check.commitmentMatches = toHex(await subtle.digest('SHA-256', seed)) === String(view.commitment).toLowerCase();
  if (entries.length) {
    const joined = new TextEncoder().encode(entries.join(','));
    const input = new Uint8Array(seed.length + joined.length);
    input.set(seed);
    input.set(joined, seed.length);
    const digest = new DataView(await subtle.digest('SHA-256', input));
    check.index = Number(digest.getBigUint64(0, false) % BigInt(entries.length));
    check.expectedWinner = entries[check.index];
  }
  const winner = view.winner?.account_id ?? null;
  if (!check.commitmentMatches) check.problem = 'the seed does not hash to the commitment published at the start';
  else if (winner !== check.expectedWinner) {
    check.problem = check.expectedWinner == null ? 'a winner was named without entries'
      : `the rule picks account ${check.expectedWinner}, not ${winner ?? 'nobody'}`;
  }
  check.verified = check.problem == null;
  return check;
}
