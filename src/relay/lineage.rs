//! What the relay asks the core about a node an item was published to:
//! the collections above it and whether a room may read it. A trait, so
//! the relay stays off the store and its tests can describe a graph.

use crate::pubsub::{BareJid, Service};
use crate::store::Store;

pub trait Lineage {
    /// Every collection above `leaf`, at any depth.
    fn collections_above(&self, leaf: &str) -> Vec<String>;
    /// Whether `reader` may read `leaf`'s items (XEP-0060 §6.5.7 rules).
    fn may_read(&self, leaf: &str, reader: &BareJid) -> bool;
}

impl<S: Store> Lineage for Service<S> {
    fn collections_above(&self, leaf: &str) -> Vec<String> {
        Service::collections_above(self, leaf)
    }

    fn may_read(&self, leaf: &str, reader: &BareJid) -> bool {
        Service::may_read(self, leaf, reader)
    }
}
