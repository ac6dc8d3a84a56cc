-- PostgreSQL dialect of migrations/sqlite/0009_wallet.sql: keep the two in step.
-- One-tap buy (docs/protocol.md, section 4.11; GET /api/me/wallet): an account keeps at
-- most one saved payment method and one shipping address, and every order keeps the
-- address it was placed with.

-- The account's saved payment method: the provider's reference to it (Stripe: a
-- PaymentMethod `pm_…` attached to the Customer `customer_ref`; the test cards: a token of
-- their own books), never a card number. One per account: saving another replaces it.
create table saved_payment_methods (
    account_id bigint primary key references accounts (id),
    provider text not null,
    method_ref text not null,
    customer_ref text,
    brand text not null,
    last4 text not null check (length(last4) = 4),
    saved_at bigint not null
);

-- The provider's customer for an account (Stripe: `cus_…`), made the first time a
-- method is saved and kept, so that every method saved later hangs on the same customer.
create table payment_customers (
    account_id bigint not null references accounts (id),
    provider text not null,
    customer_ref text not null,
    created_at bigint not null,
    primary key (account_id, provider)
);

-- The account's shipping address. One per account: saving another replaces it. The
-- lengths are the edge's bounds (domain::ShippingAddress), kept here as the last guard.
create table shipping_addresses (
    account_id bigint primary key references accounts (id),
    name text not null check (length(name) between 1 and 80),
    line1 text not null check (length(line1) between 1 and 120),
    line2 text not null check (length(line2) <= 120),
    city text not null check (length(city) between 1 and 80),
    region text not null check (length(region) <= 80),
    postal_code text not null check (length(postal_code) between 1 and 16),
    country text not null check (length(country) = 2),
    saved_at bigint not null
);

-- Where an order ships: a copy of the address at checkout, written with the order.
create table order_shipping (
    order_id bigint primary key references orders (id),
    name text not null,
    line1 text not null,
    line2 text not null,
    city text not null,
    region text not null,
    postal_code text not null,
    country text not null
);

-- The test-card provider's vault: a saved test card by token, as a processor keeps it.
-- livecart's own tables hold only the token and the last four digits.
create table test_card_methods (
    token text primary key,
    account_id bigint not null references accounts (id),
    number text not null,
    created_at bigint not null
);
create index test_card_methods_by_account on test_card_methods (account_id);
