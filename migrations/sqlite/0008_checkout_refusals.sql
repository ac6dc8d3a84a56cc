-- SQLite dialect; migrations/postgres/0008_checkout_refusals.sql is the same schema: keep the two in step.
-- A checkout refused at the stock hold (`sold_out`) wrote no order, but it spends its
-- idempotency key: a retry with the key answers `sold_out` again instead of buying later
-- at another price (docs/protocol.md, section 4.11). What the key was used for is kept so
-- that the key reused for another purchase gets `idempotency_mismatch`.
create table checkout_refusals (
    buyer_id integer not null references accounts (id),
    idempotency_key text not null,
    room_id integer not null references rooms (id),
    request_hash text not null,
    promo_code text,
    code text not null check (code in ('sold_out')),
    title text not null,
    available integer not null,
    created_at integer not null,
    primary key (buyer_id, idempotency_key)
);
