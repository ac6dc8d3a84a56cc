//! Integration tests: the real server on 127.0.0.1:0 with a fresh database per test,
//! driven over HTTP and WebSocket exactly as clients drive it.

mod backend_relay;
mod helpers;
mod node_log;
mod nodes;

mod accounts;
mod attribution;
mod auctions;
mod authz;
mod checkout;
mod cluster;
mod contract;
mod drop_limits;
mod follows;
mod fuzz;
mod giveaways;
mod history;
mod limits;
mod media;
mod moderation;
mod money;
mod operations;
mod protocol;
mod rehearsal;
mod relay;
mod report_show;
mod reports;
mod rooms;
mod stripe;
mod waitlists;
mod wallet;
