//! The publication log as the HTTP bridges see it: one JSON body per
//! history entry (`body`), the same for webhook deliveries and SSE
//! events, and the post-commit bus that hands each batch's entries to
//! every live follower at once (`bus`). Catch-up reads go through the
//! core (`pubsub::log`).

pub mod body;
pub mod bus;

pub use bus::{BusEvent, EventBus};
