-- SQLite dialect; migrations/postgres/0016_moderation_review.sql is the same schema: keep the two in step.
-- Moderation, continued (docs/protocol.md, 4.23, 4.24, 5.17 and 9.8): what a blocked word
-- does to a comment (`refuse` it, or `hold` it for review), a creator's blocked words for
-- all their rooms, and the comments held for review until the host or a moderator
-- approves or rejects them (or the room ends).
alter table chat_rules add column blocked_action text not null default 'refuse'
    check (blocked_action in ('refuse', 'hold'));
create table creator_chat_rules (
    creator_id integer primary key references accounts (id),
    -- One blocked word or phrase per line, lower case.
    blocked_words text not null default '',
    blocked_action text not null default 'refuse' check (blocked_action in ('refuse', 'hold'))
);
create table held_comments (
    id integer primary key,
    room_id integer not null references rooms (id),
    author text not null,
    -- As `author_key` in comments: `a{account}` or `g{guest connection}`.
    author_key text not null,
    speaker text not null check (speaker in ('viewer', 'guest')),
    text text not null,
    -- The blocked word or phrase that held it.
    word text not null,
    held_at integer not null
);
create index held_comments_by_room on held_comments (room_id, id);
