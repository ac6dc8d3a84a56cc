-- SQLite dialect; migrations/postgres/0004_analytics.sql is the same schema: keep the two in step.
-- The analytics event log: what happened in rooms, written in batches off the hot path
-- by every node, and read by the reports. No foreign keys: an event must never fail to
-- be written because of the order rows arrive in, and the log outlives what it names.
create table analytics_events (
    id integer primary key,
    at integer not null,
    kind text not null,
    room_id integer,
    -- Who: 'a{account id}' for an account, 'g{random}' for one guest connection.
    viewer text,
    account_id integer,
    product_id integer,
    order_id integer,
    quantity integer,
    amount integer,
    currency text,
    -- What the kind counts: viewers present (pin_started, viewers), milliseconds watched
    -- (left), reactions (reacted), the drop's id (drop_started, drop_sold_out), the promo
    -- code's id (promo_redeemed).
    value integer
);
create index analytics_by_room on analytics_events (room_id, kind, at);
create index analytics_by_kind on analytics_events (kind, at);
