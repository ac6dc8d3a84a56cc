-- SQLite dialect; migrations/postgres/0006_attribution.sql is the same schema: keep the two in step.
-- Attribution beyond the host: promo codes a brand issues to a creator, co-hosts and the
-- share of commission each creator of a room earns, and campaigns that group a brand's
-- agreements and rooms under a budget.

-- A code a brand gives a creator to share with their audience. `percent_off` takes a
-- share off each unit's price; `amount_off` takes a fixed amount off each unit (never
-- below zero), in the product's currency. Uses are counted when an order is placed and
-- given back when it is cancelled, so `uses` never passes `max_uses`.
create table promo_codes (
    id integer primary key,
    -- Stored upper-case; buyers may type it in any case.
    code text not null unique,
    brand_id integer not null references brands (id),
    creator_id integer not null references accounts (id),
    percent_off integer check (percent_off between 1 and 100),
    amount_off integer check (amount_off > 0),
    currency text check (length(currency) = 3),
    max_uses integer check (max_uses > 0),
    uses integer not null default 0 check (uses >= 0),
    expires_at integer,
    revoked_at integer,
    created_at integer not null,
    check ((percent_off is null) <> (amount_off is null)),
    check ((amount_off is null) = (currency is null)),
    check (max_uses is null or uses <= max_uses)
);
create index promo_codes_by_brand on promo_codes (brand_id);
create index promo_codes_by_creator on promo_codes (creator_id);
-- The products a code applies to (all of them must be the brand's).
create table promo_code_products (
    promo_code_id integer not null references promo_codes (id),
    product_id integer not null references products (id),
    primary key (promo_code_id, product_id)
);

alter table orders add column promo_code_id integer references promo_codes (id);
-- Σ over lines of (list_price − unit_price) × quantity.
alter table orders add column discount integer not null default 0 check (discount >= 0);
-- The unit price before any promo code; unit_price is what the buyer pays per unit.
alter table order_lines add column list_price integer not null default 0 check (list_price >= 0);
update order_lines set list_price = unit_price;
-- The co-host's share of this line's commission, in basis points (0 when the room had no
-- co-host): the host's agreement's `co_host_share_bps` when the order was placed.
alter table order_lines add column co_host_share_bps integer not null default 0
    check (co_host_share_bps between 0 and 10000);

-- A room's co-host, chosen by its host. Orders in the room stay attributed to the host;
-- the commission of each line is split by the host's agreement for the product.
alter table rooms add column co_host_id integer references accounts (id);
-- The co-host's share of a line's commission, in basis points (split rule `cohost-v1`).
alter table agreements add column co_host_share_bps integer not null default 5000
    check (co_host_share_bps between 0 and 10000);

-- Each creator's share of an order's commission, and the rule that split it.
create table order_shares (
    order_id integer not null references orders (id),
    creator_id integer not null references accounts (id),
    role text not null check (role in ('host', 'co_host')),
    -- Basis points of each line's commission.
    share_bps integer not null check (share_bps between 0 and 10000),
    commission_amount integer not null check (commission_amount >= 0),
    rule_version text not null,
    primary key (order_id, creator_id)
);
create index order_shares_by_creator on order_shares (creator_id);
-- Orders placed before co-hosts existed: all of their commission is the host's.
insert into order_shares (order_id, creator_id, role, share_bps, commission_amount, rule_version)
    select id, creator_id, 'host', 10000, commission_total, 'cohost-v1' from orders;

-- A brand's campaign: agreements and rooms under one budget, with an optional flat fee
-- paid to each creator who hosts a room in it.
create table campaigns (
    id integer primary key,
    brand_id integer not null references brands (id),
    name text not null,
    budget integer not null check (budget >= 0),
    flat_fee integer not null default 0 check (flat_fee >= 0),
    currency text not null check (length(currency) = 3),
    created_at integer not null
);
create index campaigns_by_brand on campaigns (brand_id);
create table campaign_agreements (
    campaign_id integer not null references campaigns (id),
    agreement_id integer not null references agreements (id),
    primary key (campaign_id, agreement_id)
);
create table campaign_rooms (
    campaign_id integer not null references campaigns (id),
    room_id integer not null references rooms (id),
    primary key (campaign_id, room_id)
);
create index campaign_rooms_by_room on campaign_rooms (room_id);
