-- SQLite dialect; migrations/postgres/0020_stock_adjustment_versions.sql is the same schema: keep the two in step.
-- The product's `card_version` as the adjustment's transaction left it. Every stock
-- adjustment raises the version in the transaction that writes it, so a count of the
-- product read with its version has exactly the adjustments of that version and before:
-- the inventory compares versions, not the nodes' clocks. Rows written before this column
-- get 0; any count made after the upgrade read them already.
alter table stock_adjustments add column card_version integer not null default 0;
