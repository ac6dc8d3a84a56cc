//! The one definition of what travels between livecart and its clients: WebSocket
//! messages, REST bodies and route paths. The server, the integration tests and the load
//! tester all use these types, so every client speaks exactly what the server speaks.

pub mod api;
pub mod report;
pub mod routes;
pub mod ws;
