-- PostgreSQL dialect of migrations/sqlite/0013_moderation.sql: keep the two in step.
-- Moderation (docs/protocol.md, section 9.8): the moderators a host appoints (for one room,
-- or with `room_id` null for all of the creator's rooms), the bans in force (one room, or
-- with `room_id` null all of the creator's rooms), the timeouts in force, and each room's
-- slow mode and blocked words. A banned or timed-out `who` is `a{account id}` for an
-- account, `g{connection}` for one guest connection, `n{lower-case name}` for a guest name.
create table moderators (
    creator_id bigint not null references accounts (id),
    room_id bigint references rooms (id),
    account_id bigint not null references accounts (id),
    appointed_at bigint not null,
    check (account_id <> creator_id)
);
create unique index moderators_once on moderators (creator_id, account_id, coalesce(room_id, 0));
create index moderators_by_account on moderators (account_id);
create table bans (
    id bigint generated always as identity primary key,
    creator_id bigint not null references accounts (id),
    room_id bigint references rooms (id),
    who text not null,
    banned_by bigint not null references accounts (id),
    banned_at bigint not null
);
create unique index bans_once on bans (creator_id, who, coalesce(room_id, 0));
create table timeouts (
    room_id bigint not null references rooms (id),
    who text not null,
    until bigint not null,
    primary key (room_id, who)
);
create table chat_rules (
    room_id bigint primary key references rooms (id),
    slow_mode_secs bigint not null default 0 check (slow_mode_secs >= 0),
    -- One blocked word or phrase per line, lower case.
    blocked_words text not null default ''
);
