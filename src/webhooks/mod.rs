//! Signed webhook delivery (Standard Webhooks 1.0) from the publication log.
//!
//! The parts that do not depend on the event bus: secrets and signatures
//! (`signing`), the retry schedule (`schedule`) and the refusal of private
//! addresses with a pinned connection (`url_safety`).

pub mod attempts;
pub mod endpoint;
pub mod schedule;
pub mod sender;
pub mod signing;
pub mod url_safety;
