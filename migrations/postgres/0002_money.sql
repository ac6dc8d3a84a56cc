-- PostgreSQL dialect of migrations/sqlite/0002_money.sql: keep the two in step.
-- Money you can trust: the payment ledger (every charge and refund, recorded before the
-- provider is called and after it answers), refunds per line, the append-only commission
-- ledger, the test-card provider's own books, webhook deduplication, and the room facts
-- that must be decided by the database (one live drop per room, whether a room has ever
-- streamed).

-- One charge per order (all its attempts share one provider idempotency key) and one
-- row per refund. Charges go pending → succeeded | failed; refunds pending → refunded |
-- refund_failed.
create table payments (
    id bigint generated always as identity primary key,
    order_id bigint not null references orders (id),
    kind text not null check (kind in ('charge', 'refund')),
    amount bigint not null check (amount >= 0),
    currency text not null check (length(currency) = 3),
    provider text not null,
    provider_key text not null unique,
    provider_ref text,
    status text not null,
    attempts bigint not null default 1,
    failure text,
    -- A refund: the key its requester gave, so a retried request refunds once.
    request_key text,
    created_at bigint not null,
    updated_at bigint not null,
    check ((kind = 'charge' and status in ('pending', 'succeeded', 'failed'))
        or (kind = 'refund' and status in ('pending', 'refunded', 'refund_failed')))
);
create unique index one_charge_per_order on payments (order_id) where kind = 'charge';
create unique index one_refund_per_request on payments (order_id, request_key) where kind = 'refund';
create index payments_by_order on payments (order_id);
create index payments_pending on payments (status, updated_at);

create table refund_lines (
    payment_id bigint not null references payments (id),
    order_id bigint not null references orders (id),
    product_id bigint not null references products (id),
    quantity bigint not null check (quantity > 0),
    amount bigint not null check (amount >= 0),
    primary key (payment_id, product_id)
);

-- Units refunded, and units in refunds still under way: together never more than bought.
alter table order_lines add column refunded_quantity bigint not null default 0 check (refunded_quantity >= 0);
alter table order_lines add column refund_held bigint not null default 0 check (refund_held >= 0);
alter table order_lines add constraint refunds_within_quantity check (refunded_quantity + refund_held <= quantity);
alter table orders add column paid_at bigint;

-- Append-only: accrued when an order is paid, reversed (in part or whole) by refunds,
-- settled once the return window has passed. What a creator is owed is their sum.
create table commission_entries (
    id bigint generated always as identity primary key,
    order_id bigint not null references orders (id),
    product_id bigint not null references products (id),
    creator_id bigint not null references accounts (id),
    brand_id bigint not null references brands (id),
    kind text not null check (kind in ('accrued', 'reversed', 'settled')),
    amount bigint not null check (amount >= 0),
    currency text not null check (length(currency) = 3),
    settles_at bigint,
    created_at bigint not null
);
create unique index one_accrual_per_line on commission_entries (order_id, product_id, creator_id) where kind = 'accrued';
create unique index one_settlement_per_line on commission_entries (order_id, product_id, creator_id) where kind = 'settled';
create index commission_by_creator on commission_entries (creator_id, kind);
create index commission_due on commission_entries (kind, settles_at);

-- The built-in test-card provider keeps its own books, as a card processor does, so a
-- checkout that lost the provider's answer can ask what happened.
create table test_card_charges (
    reference text primary key,
    amount bigint not null check (amount >= 0),
    currency text not null,
    card_last4 text not null,
    status text not null check (status in ('approved', 'declined', 'unanswered')),
    reason text,
    refunded bigint not null default 0,
    created_at bigint not null,
    check (refunded between 0 and amount)
);
create table test_card_refunds (
    key text primary key,
    reference text not null references test_card_charges (reference),
    amount bigint not null check (amount >= 0),
    created_at bigint not null
);

-- Provider webhooks already handled, by event id.
create table webhook_events (
    id text primary key,
    kind text not null,
    received_at bigint not null
);

-- At most one live drop per room: the database decides, whichever node asks.
update drops set status = 'ended'
    where status = 'live' and id not in (select max(id) from drops where status = 'live' group by room_id);
create unique index one_live_drop_per_room on drops (room_id) where status = 'live';

-- When the room's stream first went on air, so a room loaded again later still knows a
-- new stream is a resumption.
alter table rooms add column streamed_at bigint;
