//! The audience simulator behind `livecart-loadtest`, as a library so its own tests can
//! run each scenario against a server started in-process.
//!
//! - `client`: room connections and REST calls, in livecart's own wire types; `chat`:
//!   one chat connection to livecart or to the Socket.IO peer, for side-by-side runs.
//! - `scenario`: chat-storm, raid, drop, checkout-rate (beside its naive PostgreSQL
//!   baseline), scale; `video` (WebRTC viewers).
//! - `measure`: HDR latency histograms; `server`: the server process's CPU and memory,
//!   the client's own and the machine's.
//! - `minimal`: the minimal broadcast server chat-storm compares livecart with.

pub mod chat;
pub mod client;
pub mod measure;
pub mod minimal;
pub mod report;
pub mod scenario;
pub mod server;
pub mod video;
