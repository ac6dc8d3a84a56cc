-- The reconciler looks at recently cancelled orders (money that must go back) and at
-- refunds still waiting for the provider, every tick: both by status and time.
create index orders_by_status_and_update on orders (status, updated_at);
create index refunds_waiting on payments (kind, status, updated_at);
