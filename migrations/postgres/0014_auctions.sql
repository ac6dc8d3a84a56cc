-- PostgreSQL dialect of migrations/sqlite/0014_auctions.sql: keep the two in step.
-- Auctions (docs/protocol.md, 4.20 to 4.22) and offers: a unit held for one buyer at a set
-- price until a deadline, which is how an auction's winner (or, when they do not pay, the
-- next bidder) buys what they won.
create table auctions (
    id bigint generated always as identity primary key,
    room_id bigint not null references rooms (id),
    product_id bigint not null references products (id),
    starting_price bigint not null check (starting_price >= 0),
    -- The increments table as JSON: [{"from":0,"step":100}, …].
    increments text not null,
    extend_secs bigint not null check (extend_secs between 0 and 60),
    sudden_death bigint not null check (sudden_death in (0, 1)),
    -- open: taking bids; awarded: bidding over, a buyer is offered the unit; then sold or
    -- unsold (nobody bid, nobody paid, or no unit was left to hold).
    status text not null check (status in ('open', 'awarded', 'sold', 'unsold')),
    started_at bigint not null,
    ends_at bigint not null,
    closed_at bigint,
    bids bigint not null default 0,
    leader_id bigint references accounts (id),
    price bigint,
    -- Who did not pay in time, in the order they were passed over: account ids joined by ",".
    lapsed text not null default '',
    offer_id bigint,
    -- Awarded with no offer since then (closed, or a bidder passed over): the node that
    -- did that makes the next offer; others step in only if it has not after a while.
    awaiting_offer_since bigint,
    order_id bigint references orders (id)
);
-- One running auction per room (open, or awarded and waiting for payment).
create unique index one_auction_per_room on auctions (room_id) where status in ('open', 'awarded');
create index auctions_by_status_and_end on auctions (status, ends_at);

-- Every accepted bid, in the order the database took them: `id` is the bid order.
create table auction_bids (
    id bigint generated always as identity primary key,
    auction_id bigint not null references auctions (id),
    account_id bigint not null references accounts (id),
    amount bigint not null check (amount >= 0),
    max_amount bigint not null check (max_amount >= amount),
    placed_at bigint not null
);
create index auction_bids_by_auction on auction_bids (auction_id, id);

create table offers (
    id bigint generated always as identity primary key,
    room_id bigint not null references rooms (id),
    buyer_id bigint not null references accounts (id),
    product_id bigint not null references products (id),
    -- The drop whose units (and price) it holds, if any.
    drop_id bigint references drops (id),
    quantity bigint not null check (quantity > 0),
    unit_price bigint not null check (unit_price >= 0),
    currency text not null,
    -- What made the offer: an auction or a waitlist entry (`source_id` its id), or a
    -- comment-to-buy keyword (`source_id` the room).
    source text not null check (source in ('auction', 'waitlist', 'comment')),
    source_id bigint not null,
    hold_id text not null unique,
    expires_at bigint not null,
    -- open until paid (an order took it) or lapsed (its time ran out unpaid).
    status text not null check (status in ('open', 'paid', 'lapsed')),
    created_at bigint not null,
    order_id bigint references orders (id)
);
-- A buyer is offered an auction's or a waitlist entry's unit once, whichever node makes
-- the offer.
create unique index one_offer_per_buyer on offers (source, source_id, buyer_id) where source in ('auction', 'waitlist');
create index offers_by_buyer on offers (buyer_id, status);
create index offers_open_by_expiry on offers (status, expires_at);
-- An offer's fate is read from the orders that used its hold.
create index orders_by_hold on orders (hold_id);
