//! What livecart's integration tests and its load tester share that the server itself
//! never runs: clients that speak to the server the way outside software does. Kept in
//! its own crate so the server binary does not compile it.
//!
//! - [`media`]: a synthetic WHIP publisher (as OBS or a browser publishes) and a
//!   receive-only WHEP viewer that counts what arrives.

pub mod media;
