//! What an operator sees of the service (the JSON console API and the
//! `herald nodes` / `herald node` commands): every node's counts, and one
//! node in full. Read-only; access is the caller's (an `admin` token
//! limited by its node patterns).

use super::error::PubsubResult;
use super::form::FormField;
use super::names::NodeName;
use super::service::Service;
use super::types::{Actor, Subscription};
use crate::store::Store;

/// One node at a glance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeOverview {
    pub node: String,
    pub title: String,
    pub items: u64,
    /// Entries in its history (publications and retractions).
    pub history: u64,
    /// Subscriptions in any state.
    pub subscriptions: usize,
    /// The newest seq (grows with every publication and retraction).
    pub high_seq: u64,
}

/// One node in full.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeDetail {
    pub overview: NodeOverview,
    pub subscriptions: Vec<Subscription>,
    pub config: Vec<FormField>,
    /// When its newest item was published (ms since the Unix epoch).
    pub last_publish_ms: Option<u64>,
}

impl<S: Store> Service<S> {
    /// Nodes `keep` accepts, in name order, after `after`, at most `max`.
    pub fn node_overviews(
        &self,
        keep: impl Fn(&str) -> bool,
        after: Option<&str>,
        max: usize,
    ) -> Vec<NodeOverview> {
        let from = after.map_or(std::ops::Bound::Unbounded, |a| {
            std::ops::Bound::Excluded(a.to_owned())
        });
        (self.nodes.range((from, std::ops::Bound::Unbounded)))
            .filter(|(name, _)| keep(name))
            .take(max)
            .filter_map(|(name, _)| self.overview(name))
            .collect()
    }

    fn overview(&self, name: &str) -> Option<NodeOverview> {
        let n = self.nodes.get(name)?;
        Some(NodeOverview {
            node: name.to_owned(),
            title: n.meta.config.title.clone(),
            items: n.count,
            history: n.history,
            subscriptions: n.meta.subscriptions.len(),
            high_seq: n.high_seq,
        })
    }

    /// One node: counts, subscriptions, configuration, last publication.
    pub fn node_detail(&self, node: &NodeName) -> PubsubResult<NodeDetail> {
        let n = self.node(node)?;
        let overview = self
            .overview(node)
            .ok_or(super::PubsubError::NodeNotFound)?;
        let newest = self.store.items_before(n.id, u64::MAX, 1)?;
        Ok(NodeDetail {
            overview,
            subscriptions: self.node_subscriptions(&Actor::System, node)?,
            config: self.node_config(&Actor::System, node)?,
            last_publish_ms: newest.first().map(|i| i.published_ms),
        })
    }
}
