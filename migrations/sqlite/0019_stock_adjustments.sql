-- SQLite dialect; migrations/postgres/0019_stock_adjustments.sql is the same schema: keep the two in step.
-- A change the database made to a product's stock that the inventory (Redis, or the node's
-- memory) must make too: a refund's units back on sale, a brand's restock or recount. It is
-- written in the transaction that changes the stock, and `applied_at` is set once the
-- inventory has it: by the call that made the change or, should that call not get there
-- (a node stopped, Redis did not answer), by the sweeper.
create table stock_adjustments (
    id integer primary key,
    product_id integer not null references products (id),
    units integer not null,
    created_at integer not null,
    applied_at integer
);
create index stock_adjustments_waiting on stock_adjustments (created_at) where applied_at is null;
