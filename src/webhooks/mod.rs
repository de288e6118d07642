//! Signed webhook delivery (Standard Webhooks 1.0) from the publication log.
//!
//! | file | what |
//! |---|---|
//! | `engine.rs` | owns the endpoint records; one worker per active endpoint |
//! | `worker.rs` | one endpoint: cursors, in-flight cap, strict order |
//! | `attempts.rs` | one delivery, attempt after attempt |
//! | `sender.rs` | one attempt: a POST to a pinned address |
//! | `endpoint.rs` | the stored record: definition, secrets, cursors, dead letters |
//! | `signing.rs`, `schedule.rs`, `url_safety.rs` | signatures, retry delays, private-address refusal |
//! | `port.rs` | what delivery needs from the core, as a trait |

pub mod attempts;
pub mod endpoint;
pub mod engine;
pub mod port;
pub mod schedule;
pub mod sender;
pub mod signing;
pub mod url_safety;
pub mod worker;
