//! Entity use cases (XEP-0060 §5): discover nodes, node meta-data, own
//! subscriptions and affiliations.

use super::error::PubsubResult;
use super::form::{FieldType, FormField};
use super::names::NodeName;
use super::node::NodeMeta;
use super::node_config::{access_str, max_items_str, publish_model_str};
use super::service::Service;
use super::types::{
    Actor, Affiliation, NodeMetadata, NodeSummary, Subscription, SubscriptionState,
};
use crate::store::Store;
use std::ops::Bound;

/// Where a page of [`Service::discover_nodes_page`] starts. Node names are
/// the XEP-0059 cursors: nodes are listed in name order, so a cursor that
/// names a deleted node still says where to go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeCursor<'a> {
    First,
    After(&'a str),
    Before(&'a str),
    Last,
}

/// Up to a page of visible nodes in name order, and how many are visible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodesPage {
    pub nodes: Vec<NodeSummary>,
    pub total: u64,
}

impl<S: Store> Service<S> {
    /// §5.2 with XEP-0059 paging: up to `max` visible nodes from `cursor`
    /// (visibility as in [`Service::discover_nodes`]).
    pub fn discover_nodes_page(
        &self,
        actor: &Actor,
        cursor: NodeCursor<'_>,
        max: usize,
    ) -> NodesPage {
        let access = self.access();
        let visible = |n: &&super::node::Node| access.may_see(&n.meta, actor);
        let total = self.nodes.values().filter(visible).count() as u64;
        let range = match cursor {
            NodeCursor::First | NodeCursor::Last => self
                .nodes
                .range::<str, _>((Bound::Unbounded, Bound::Unbounded)),
            NodeCursor::After(a) => self
                .nodes
                .range::<str, _>((Bound::Excluded(a), Bound::Unbounded)),
            NodeCursor::Before(b) => self
                .nodes
                .range::<str, _>((Bound::Unbounded, Bound::Excluded(b))),
        };
        let summary = |(name, n): (&String, &super::node::Node)| NodeSummary {
            node: name.clone(),
            title: n.meta.config.title.clone(),
        };
        let page: Vec<NodeSummary> = match cursor {
            NodeCursor::First | NodeCursor::After(_) => (range.filter(|(_, n)| visible(n)))
                .take(max)
                .map(summary)
                .collect(),
            NodeCursor::Before(_) | NodeCursor::Last => {
                let mut back: Vec<NodeSummary> = (range.rev().filter(|(_, n)| visible(n)))
                    .take(max)
                    .map(summary)
                    .collect();
                back.reverse();
                back
            }
        };
        NodesPage { nodes: page, total }
    }

    /// §5.2 Discover nodes (disco#items at the service), sorted by name.
    /// Hidden: nodes where the actor is an outcast, and whitelist nodes the
    /// actor is neither affiliated with (member or above) nor subscribed to.
    pub fn discover_nodes(&self, actor: &Actor) -> Vec<NodeSummary> {
        let access = self.access();
        let visible = (self.nodes.iter()).filter(|(_, n)| access.may_see(&n.meta, actor));
        visible
            .map(|(name, n)| NodeSummary {
                node: name.clone(),
                title: n.meta.config.title.clone(),
            })
            .collect()
    }

    /// §5.4 Node meta-data (disco#info on a node): `pubsub#meta-data`
    /// fields (title, type, owners, publishers, access and publish models,
    /// max_items, persist_items, num_subscribers). Protocol adds the
    /// FORM_TYPE and `pubsub#creation_date` from `created_ms`.
    ///
    /// Errors: `NodeIdRequired`, `NodeNotFound`, `Outcast`.
    pub fn node_metadata(&self, actor: &Actor, node: &NodeName) -> PubsubResult<NodeMetadata> {
        let n = self.node(node)?;
        if self.access().affiliation(&n.meta, actor) == Affiliation::Outcast {
            return Err(super::PubsubError::Outcast);
        }
        Ok(NodeMetadata {
            is_collection: n.meta.config.is_collection(),
            fields: metadata_fields(&n.meta),
            created_ms: n.meta.created_ms,
        })
    }

    /// §5.6 The actor's subscriptions (every JID with its bare JID), on all
    /// nodes or on one. The system holds none.
    ///
    /// Errors: `NodeNotFound` (with a node), `NodeIdRequired` (empty node).
    pub fn subscriptions(
        &self,
        actor: &Actor,
        node: Option<&NodeName>,
    ) -> PubsubResult<Vec<Subscription>> {
        let Some(me) = actor.bare() else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (name, n) in self.selected(node.map(NodeName::as_str))? {
            out.extend(n.meta.subs_of_bare(me).map(|s| s.to_public(name)));
        }
        Ok(out)
    }

    /// §5.7 The actor's explicit affiliations, on all nodes or on one
    /// (admins' implicit ownership is not listed). The system holds none.
    ///
    /// Errors: `NodeNotFound` (with a node), `NodeIdRequired` (empty node).
    pub fn affiliations(
        &self,
        actor: &Actor,
        node: Option<&NodeName>,
    ) -> PubsubResult<Vec<(String, Affiliation)>> {
        let Some(me) = actor.bare() else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (name, n) in self.selected(node.map(NodeName::as_str))? {
            if let Some(a) = n.meta.affiliations.get(me) {
                out.push((name.to_owned(), *a));
            }
        }
        Ok(out)
    }

    /// All nodes, or the one named (which must exist).
    fn selected<'a>(
        &'a self,
        node: Option<&'a str>,
    ) -> PubsubResult<Vec<(&'a str, &'a super::node::Node)>> {
        match node {
            Some(name) => Ok(vec![(name, self.node(name)?)]),
            None => Ok(self.nodes.iter().map(|(k, n)| (k.as_str(), n)).collect()),
        }
    }
}

fn metadata_fields(meta: &NodeMeta) -> Vec<FormField> {
    let c = &meta.config;
    let subscribers = (meta.subscriptions.iter())
        .filter(|s| s.state == SubscriptionState::Subscribed)
        .count();
    let mut fields = vec![
        FormField::text("pubsub#title", "A short name for the node", &c.title),
        FormField::text("pubsub#type", "Payload type", &c.payload_type),
    ];
    fields.extend(affiliation_fields(meta));
    let text = FormField::text;
    fields.extend([
        text(
            "pubsub#access_model",
            "Access model",
            access_str(c.access_model).into(),
        ),
        text(
            "pubsub#publish_model",
            "Publish model",
            publish_model_str(c.publish_model).into(),
        ),
        text(
            "pubsub#max_items",
            "Max items kept",
            max_items_str(c.max_items),
        ),
        FormField::boolean(
            "pubsub#persist_items",
            "Items are persisted",
            c.persist_items,
        ),
        text(
            "pubsub#num_subscribers",
            "Number of subscribers",
            subscribers.to_string(),
        ),
    ]);
    fields
}

/// `pubsub#owner` and `pubsub#publisher` (explicit affiliations only).
fn affiliation_fields(meta: &NodeMeta) -> [FormField; 2] {
    let jids = |a| {
        meta.with_affiliation(a)
            .iter()
            .map(|j| j.to_string())
            .collect()
    };
    let multi = FieldType::JidMulti;
    [
        FormField::new(
            "pubsub#owner",
            multi,
            "Node owners",
            jids(Affiliation::Owner),
        ),
        FormField::new(
            "pubsub#publisher",
            multi,
            "Publishers",
            jids(Affiliation::Publisher),
        ),
    ]
}
