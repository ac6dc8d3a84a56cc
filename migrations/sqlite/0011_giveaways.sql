-- SQLite dialect; migrations/postgres/0011_giveaways.sql is the same schema: keep the two in step.
-- Provably fair giveaways (docs/protocol.md, section 4.14). The seed is secret until the
-- draw: only its SHA-256 (`commitment`) is shown while entries are open.
create table giveaways (
    id integer primary key,
    room_id integer not null references rooms (id),
    prize text not null check (length(prize) between 1 and 480),
    entry_rule text not null check (entry_rule in ('signed_in', 'followers', 'buyers')),
    seed text not null check (length(seed) = 64),
    commitment text not null check (length(commitment) = 64),
    status text not null check (status in ('open', 'drawn')),
    started_at integer not null,
    closes_at integer not null,
    drawn_at integer,
    winner_id integer references accounts (id),
    -- The entries the draw was made from, frozen with it: account ids ascending, joined by ",".
    entry_list text
);
-- One open giveaway per room, whichever node starts it.
create unique index one_open_giveaway_per_room on giveaways (room_id) where status = 'open';
create index giveaways_by_status_and_close on giveaways (status, closes_at);

-- One entry per account: the primary key is the judge, on every node.
create table giveaway_entries (
    giveaway_id integer not null references giveaways (id),
    account_id integer not null references accounts (id),
    entered_at integer not null,
    primary key (giveaway_id, account_id)
);
