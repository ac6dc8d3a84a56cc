-- PostgreSQL dialect of migrations/sqlite/0017_waitlists.sql: keep the two in step.
-- Waitlists of sold-out products and comment-to-buy keywords (docs/protocol.md, 4.25 to
-- 4.26 and 9.10).

-- Who waits for a unit of a product in a room, in the order they joined (`id`). An entry
-- waits until a unit is offered to it (then it is done, paid or not) or its account leaves.
create table waitlist (
    id bigint generated always as identity primary key,
    room_id bigint not null references rooms (id),
    product_id bigint not null references products (id),
    account_id bigint not null references accounts (id),
    joined_at bigint not null,
    status text not null check (status in ('waiting', 'offered', 'left')),
    offer_id bigint references offers (id)
);
-- One waiting entry per account and product in a room, whichever node takes it.
create unique index one_waiting_entry on waitlist (room_id, product_id, account_id) where status = 'waiting';
create index waitlist_queue on waitlist (status, room_id, product_id, id);

-- A lined-up product's comment-to-buy keyword in a room: one per product, each keyword
-- once per room (upper case).
create table room_keywords (
    room_id bigint not null references rooms (id),
    product_id bigint not null references products (id),
    keyword text not null check (length(keyword) between 2 and 20),
    primary key (room_id, product_id),
    unique (room_id, keyword)
);
