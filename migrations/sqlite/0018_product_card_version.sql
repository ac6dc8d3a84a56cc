-- SQLite dialect; migrations/postgres/0018_product_card_version.sql is the same schema: keep the two in step.
-- A product's card changes (an edit, a recount, a refund's restock) counted one by one, so
-- that rooms take the cards in the order the database took the changes, whichever node
-- announces them first (docs/protocol.md, `product_updated`).
alter table products add column card_version integer not null default 0;
