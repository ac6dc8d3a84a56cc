// Moderation controls shared by the creator studio and the viewer app, for the host and
// the room's moderators: the actions on a comment (delete, time out, ban: docs/protocol.md
// 4.16 to 4.18) and the comments held for review (approve, reject: 4.23, 4.24, 5.17).
// Each control sends through the room connection (../sdk/) and tells `done` what it sent.

import { h } from './common.js';

/** How long "Time out" keeps an author from commenting. */
const TIMEOUT_SECS = 300;

/** How an error names the moderation request that failed. */
export const MODERATION_ACTIONS = {
  delete_comment: 'Delete comment', timeout: 'Time out', ban: 'Ban', slow_mode: 'Slow mode',
  approve_comment: 'Approve comment', reject_comment: 'Reject comment',
};

/**
 * @typedef {'delete_comment' | 'timeout' | 'ban' | 'approve_comment' | 'reject_comment'} ModerationRequest
 * @typedef {(request: ModerationRequest, sent: boolean, about: {author: string}) => void} Done
 */

/**
 * The buttons acting on comment `c`, or null when this connection may not act on it: it
 * does not moderate, or the comment is the host's, its own, or a banned author's.
 * @param {import('../sdk/room.js').RoomConnection} conn
 * @param {import('../sdk/types.js').SequencedComment} c
 * @param {Done} done
 */
export function commentActions(conn, c, done) {
  const st = conn.room;
  const own = st.you?.account_id != null && c.author_key === `a${st.you.account_id}`;
  if (!st.canModerate || c.speaker === 'host' || own || c.seq == null || st.banned.has(c.author_key)) return null;
  const button = (request, label, text, style, send) =>
    h('button', { type: 'button', class: style, 'data-mod': request, 'aria-label': label, onclick: () => done(request, send(), c) }, text);
  return h('span', { class: 'mod-actions', role: 'group', 'aria-label': `Moderate ${c.author}'s comment` },
    button('delete_comment', `Delete ${c.author}'s comment`, 'Delete', 'secondary', () => conn.deleteComment(c.seq)),
    button('timeout', `Time out 5 min: ${c.author}`, 'Time out 5 min', 'secondary', () => conn.timeout(c.seq, TIMEOUT_SECS)),
    button('ban', `Ban ${c.author} from this room`, 'Ban', 'danger', () => conn.ban(c.seq, 'room')));
}

/**
 * The comments held for review in the room, oldest first, each with Approve and Reject;
 * one "nothing held" line when there are none.
 * @param {import('../sdk/room.js').RoomConnection} conn
 * @param {Done} done
 */
export function heldItems(conn, done) {
  const held = [...conn.room.held.values()];
  if (!held.length) return [h('li', { class: 'muted empty' }, 'Nothing held for review.')];
  return held.map((c) => h('li', { dataset: { held: String(c.id) } },
    h('span', { class: 'text' }, h('b', {}, c.author), ': ', c.text, ' ', h('span', { class: 'muted small' }, `(held for “${c.word}”)`)),
    h('span', { class: 'mod-actions', role: 'group', 'aria-label': `Review ${c.author}'s held comment` },
      h('button', { type: 'button', class: 'secondary', 'aria-label': `Approve ${c.author}'s comment: ${c.text}`,
        onclick: () => done('approve_comment', conn.approveComment(c.id), c) }, 'Approve'),
      h('button', { type: 'button', class: 'danger', 'aria-label': `Reject ${c.author}'s comment: ${c.text}`,
        onclick: () => done('reject_comment', conn.rejectComment(c.id), c) }, 'Reject'))));
}
