//! Fixtures other modules' tests share (the relay's and chat's tests run
//! against the real core on a memory store).

use crate::pubsub::names::nn;
use crate::pubsub::{Actor, Service, ServiceSettings};
use crate::store::MemoryStore;

/// Owner of every node [`collection_tree`] creates.
pub const TREE_OWNER: &str = "owner@example.com";

pub fn form(fields: &[(&str, &str)]) -> Vec<(String, Vec<String>)> {
    (fields.iter())
        .map(|(k, v)| (k.to_string(), vec![v.to_string()]))
        .collect()
}

/// family ⊃ created, family ⊃ eu ⊃ deep, family ⊃ secret (whitelist),
/// and lone outside every collection; the feed is on.
pub fn collection_tree() -> Service<MemoryStore> {
    let settings = ServiceSettings {
        create_domains: vec!["example.com".into()],
        ..ServiceSettings::default()
    };
    let mut svc = Service::open(MemoryStore::new(), settings).unwrap();
    svc.enable_feed();
    let owner = Actor::Entity(TREE_OWNER.parse().unwrap());
    let mut create = |name: &str, fields: &[(&str, &str)]| {
        let _ = svc
            .create_node(&owner, Some(&nn(name)), Some(&form(fields)))
            .unwrap();
    };
    let collection = ("pubsub#node_type", "collection");
    create("family", &[collection]);
    create("eu", &[collection, ("pubsub#collection", "family")]);
    create("created", &[("pubsub#collection", "family")]);
    create("deep", &[("pubsub#collection", "eu")]);
    create(
        "secret",
        &[
            ("pubsub#collection", "family"),
            ("pubsub#access_model", "whitelist"),
        ],
    );
    create("lone", &[]);
    svc
}
