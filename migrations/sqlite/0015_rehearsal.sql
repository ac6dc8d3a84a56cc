-- SQLite dialect; migrations/postgres/0015_rehearsal.sql is the same schema: keep the two in step.
-- Rehearsals (docs/protocol.md, section 9.10): a host's private, live copy of a scheduled
-- room (`rehearsal_of` names it), filled by simulated viewers let in with the audience
-- key (kept only as its SHA-256, like session tokens). Its orders carry `rehearsal` = 1:
-- they never take real stock and no report, payout or sales feed counts them.
alter table rooms add column rehearsal_of integer references rooms (id);
alter table rooms add column audience_key_hash text;
-- At most one open rehearsal per room, whichever node opens it.
create unique index one_open_rehearsal on rooms (rehearsal_of) where rehearsal_of is not null and status <> 'ended';
alter table orders add column rehearsal integer not null default 0 check (rehearsal in (0, 1));
