//! Herald: a durable XEP-0060 publish-subscribe service running as an XMPP
//! external component (XEP-0114). See docs/architecture.md for the module contracts.

// StanzaError is xmpp-parsers' type and large; boxing every error reply
// would only move the allocation.
#![allow(clippy::result_large_err)]

pub mod app;
pub mod chat;
pub mod component;
pub mod config;
pub mod events;
pub mod ingest;
pub mod limits;
pub mod metrics;
pub mod node_pattern;
pub mod operations;
pub mod protocol;
pub mod pubsub;
pub mod relay;
pub mod store;
pub mod webhooks;
