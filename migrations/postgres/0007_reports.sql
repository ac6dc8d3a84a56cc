-- PostgreSQL dialect of migrations/sqlite/0007_reports.sql: keep the two in step.
-- Indexes the reports (src/store/reports.rs) read by: every report query starts from the
-- rooms of its scope and reaches lines, refunds, commission and drops through these.

-- A creator's rooms (hosted, or co-hosted), newest ended first: the creator report and
-- the uplift baseline (the previous ended rooms).
create index rooms_by_host on rooms (creator_id, ended_at);
create index rooms_by_co_host on rooms (co_host_id);
-- Rooms that line up a brand's products: the brand report's rooms.
create index room_products_by_product on room_products (product_id);
-- What was refunded of one order line (refunds with their lines).
create index refund_lines_by_line on refund_lines (order_id, product_id);
-- The commission ledger of one order line, whatever the kind.
create index commission_by_line on commission_entries (order_id, product_id);
-- Units sold through a drop.
create index order_lines_by_drop on order_lines (drop_id);
