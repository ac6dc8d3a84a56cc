//! Buying inside the stream: carts, stock holds, payment, attribution and commission.

pub mod cart;
pub mod catalog;
pub mod checkout;
pub mod commission;
pub mod holds;
pub mod inventory;
pub mod orders;
pub mod payments;
pub mod pricing;
pub mod sweeper;

pub use holds::StockKey;
