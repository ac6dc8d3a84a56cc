-- PostgreSQL dialect of migrations/sqlite/0003_durable_carts.sql: keep the two in step.
-- A signed-in buyer's cart in a room, kept durably: scaled out, Redis serves carts fast,
-- and this copy (written after every change, newest version wins) brings them back when
-- Redis loses them.
create table carts (
    room_id bigint not null references rooms (id),
    buyer_id bigint not null references accounts (id),
    -- product id → quantity, as a JSON object: {"5":2,"7":1}
    lines text not null,
    version bigint not null,
    updated_at bigint not null,
    primary key (room_id, buyer_id)
);
