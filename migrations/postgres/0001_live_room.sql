-- PostgreSQL dialect of migrations/sqlite/0001_live_room.sql: keep the two in step.
-- The live room: accounts, brands and their products, commission agreements, rooms,
-- drops and attributed orders. Money is integer minor units plus an ISO currency code.
-- Times are Unix milliseconds.

create table brands (
    id bigint generated always as identity primary key,
    name text not null unique,
    created_at bigint not null
);

create table accounts (
    id bigint generated always as identity primary key,
    email text not null unique,
    password_hash text not null,
    display_name text not null,
    role text not null check (role in ('viewer', 'creator', 'brand', 'admin')),
    brand_id bigint references brands (id),
    follower_count bigint not null default 0 check (follower_count >= 0),
    created_at bigint not null,
    check ((role = 'brand') = (brand_id is not null))
);

create table sessions (
    token_hash text primary key,
    account_id bigint not null references accounts (id),
    created_at bigint not null,
    expires_at bigint not null,
    revoked_at bigint
);
create index sessions_by_account on sessions (account_id);

create table products (
    id bigint generated always as identity primary key,
    brand_id bigint not null references brands (id),
    title text not null,
    description text not null default '',
    image_url text not null default '',
    price bigint not null check (price >= 0),
    currency text not null check (length(currency) = 3),
    stock bigint not null check (stock >= 0),
    created_at bigint not null
);
create index products_by_brand on products (brand_id);

create table agreements (
    id bigint generated always as identity primary key,
    brand_id bigint not null references brands (id),
    creator_id bigint not null references accounts (id),
    product_id bigint not null references products (id),
    commission_bps bigint not null check (commission_bps between 0 and 10000),
    commission_flat bigint not null check (commission_flat >= 0),
    created_at bigint not null,
    ended_at bigint
);
create unique index one_active_agreement_per_creator_product
    on agreements (creator_id, product_id) where ended_at is null;

create table rooms (
    id bigint generated always as identity primary key,
    creator_id bigint not null references accounts (id),
    title text not null,
    status text not null check (status in ('scheduled', 'live', 'ended')),
    starts_at bigint not null,
    live_at bigint,
    ended_at bigint,
    created_at bigint not null
);
create index rooms_by_status on rooms (status, starts_at);

create table room_products (
    room_id bigint not null references rooms (id),
    product_id bigint not null references products (id),
    position bigint not null,
    primary key (room_id, product_id)
);

create table drops (
    id bigint generated always as identity primary key,
    room_id bigint not null references rooms (id),
    product_id bigint not null references products (id),
    quantity bigint not null check (quantity > 0),
    remaining bigint not null check (remaining >= 0 and remaining <= quantity),
    price bigint check (price >= 0),
    starts_at bigint not null,
    ends_at bigint not null,
    status text not null check (status in ('live', 'ended'))
);
create index drops_by_room on drops (room_id, status);

create table orders (
    id bigint generated always as identity primary key,
    buyer_id bigint not null references accounts (id),
    room_id bigint not null references rooms (id),
    creator_id bigint not null references accounts (id),
    currency text not null check (length(currency) = 3),
    subtotal bigint not null check (subtotal >= 0),
    commission_total bigint not null check (commission_total >= 0),
    status text not null check (status in ('placed', 'paid', 'cancelled', 'refunded')),
    idempotency_key text not null,
    request_hash text not null,
    hold_id text not null,
    hold_expires_at bigint not null,
    payment_attempts bigint not null default 0,
    failure_code text,
    created_at bigint not null,
    updated_at bigint not null,
    unique (buyer_id, idempotency_key)
);
create index orders_by_creator on orders (creator_id, created_at);
create index orders_by_room on orders (room_id);
create index orders_placed_by_expiry on orders (status, hold_expires_at);

create table order_lines (
    order_id bigint not null references orders (id),
    product_id bigint not null references products (id),
    brand_id bigint not null references brands (id),
    drop_id bigint references drops (id),
    title text not null,
    quantity bigint not null check (quantity > 0),
    unit_price bigint not null check (unit_price >= 0),
    line_total bigint not null check (line_total >= 0),
    commission_bps bigint not null check (commission_bps between 0 and 10000),
    commission_flat bigint not null check (commission_flat >= 0),
    commission_amount bigint not null check (commission_amount >= 0),
    primary key (order_id, product_id)
);
create index order_lines_by_brand on order_lines (brand_id);
