//! Herald: a durable XEP-0060 publish-subscribe service running as an XMPP
//! external component (XEP-0114). See DESIGN.md for the module contracts.

pub mod config;
pub mod protocol;
pub mod pubsub;
pub mod store;
