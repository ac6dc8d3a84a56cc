-- SQLite dialect; migrations/postgres/0012_drop_limits.sql is the same schema: keep the two in step.
-- Per-buyer limits on drops (docs/protocol.md, 4.7): at most `per_buyer` units of a drop
-- per account, over all its placed and paid orders, on every node.
alter table drops add column per_buyer integer check (per_buyer is null or per_buyer > 0);

-- Units of a drop each buyer has in placed or paid orders: taken with the order in its
-- transaction (a conditional upsert, so two checkouts on two nodes cannot both pass the
-- limit), given back when a placed order is cancelled.
create table drop_buyers (
    drop_id integer not null references drops (id),
    buyer_id integer not null references accounts (id),
    units integer not null check (units >= 0),
    primary key (drop_id, buyer_id)
);
