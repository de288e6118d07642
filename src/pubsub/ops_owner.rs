//! Owner use cases (XEP-0060 §8.1–8.5): create, configure, default
//! configuration, delete, purge.

use super::error::{PubsubError, PubsubResult};
use super::form::{FieldType, FieldValues, FormField};
use super::names::NodeName;
use super::node::{Node, NodeMeta, encode_meta};
use super::node_config::{NodeConfig, NodeType};
use super::notify::{Event, to_subscribers};
use super::ops_collections::CHILDREN_FIELD;
use super::revoke::revoke;
use super::service::Service;
use super::types::{Actor, Affiliation, Outcome};
use crate::store::Store;

/// Purges and deletes of nodes this large run in steps and report each
/// to [`Service::progress`] (the operations board): they take seconds.
const LARGE_NODE_ITEMS: u64 = 10_000;
/// Items one step removes: small enough that progress moves every few
/// milliseconds, large enough that a step's batch write is amortized.
const STEP_ITEMS: usize = 2_000;

impl<S: Store> Service<S> {
    /// §8.1 Create a node: named (`Some(name)`) or instant (`None`: the
    /// service picks a unique name), with an optional configuration form
    /// (§8.1.3). The creating entity becomes owner. Reply: the node name.
    ///
    /// Errors: `Forbidden` (may not create nodes), `NodeIdRequired` (empty
    /// name), `BadRequest` (name with NUL), `NodeExists`, `Forbidden` /
    /// `Outcast` (a reserved `<node>/dead-letter` name the actor does not
    /// own, see `reserved.rs`), `NotAcceptable` /
    /// `UnsupportedFeature` (bad configuration), `MaxNodesExceeded`,
    /// `Internal`.
    pub fn create_node(
        &mut self,
        actor: &Actor,
        node: Option<&NodeName>,
        config: Option<&[FieldValues]>,
    ) -> PubsubResult<Outcome<String>> {
        if !self.may_create(actor) {
            return Err(PubsubError::Forbidden);
        }
        let name = match node.map(NodeName::as_str) {
            Some("") => return Err(PubsubError::NodeIdRequired),
            Some(n) if n.contains('\0') => {
                return Err(PubsubError::BadRequest("node name contains NUL".into()));
            }
            Some(n) if self.nodes.contains_key(n) => return Err(PubsubError::NodeExists),
            Some(n) => {
                self.check_reserved_create(actor, n)?;
                n.to_owned()
            }
            None => self.fresh_node_name(),
        };
        let defaults = NodeConfig::with_defaults(self.settings.default_max_items);
        let (children, fields) = split_children(config.unwrap_or(&[]));
        let config = defaults.with_fields(&fields, self.settings.max_items_cap)?;
        check_children_allowed(&config, children.as_deref())?;
        self.check_parents(actor, &name, &[], &config.collections)?;
        let parents = config.collections.clone();
        self.insert_node(actor, &name, config)?;
        // XEP-0248 §3.3.2: a node created inside collections is announced
        // to their nodes subscribers.
        let mut notifications = self.association_notices(&name, &parents, &[]);
        if let Some(children) = children {
            notifications.extend(self.set_children(actor, &name, &children)?);
        }
        Ok(Outcome {
            reply: name,
            notifications,
            published: Vec::new(),
        })
    }

    fn fresh_node_name(&mut self) -> String {
        loop {
            let name = self.fresh_id();
            if !self.nodes.contains_key(&name) {
                return name;
            }
        }
    }

    /// Persists a new node (service record first, so its id is never
    /// reused), then adds it to memory. The entity actor becomes owner.
    /// Reserved dead-letter nodes do not count against `max_nodes`.
    pub(crate) fn insert_node(
        &mut self,
        actor: &Actor,
        name: &str,
        config: NodeConfig,
    ) -> PubsubResult<()> {
        let limited = self
            .settings
            .max_nodes
            .filter(|_| self.counts_against_max_nodes(name));
        if limited.is_some_and(|max| self.counted_nodes() >= max) {
            return Err(PubsubError::MaxNodesExceeded);
        }
        let id = self.next_node_id;
        let mut meta = NodeMeta::new(config, self.now_ms());
        if let Actor::Entity(jid) = actor {
            meta.affiliations.insert(jid.clone(), Affiliation::Owner);
        }
        let blob = encode_meta(id, &meta)?;
        self.save_service_record(id + 1)?;
        self.store.put_node_meta(name, &blob)?;
        self.next_node_id = id + 1;
        self.nodes
            .insert(name.to_owned(), Node::new(id, meta, 0, 0, 0));
        Ok(())
    }

    /// §8.2.1 Request the configuration form of a node.
    ///
    /// Errors: `NodeIdRequired`, `NodeNotFound`, `Forbidden` (not owner),
    /// `Outcast`.
    pub fn node_config(&self, actor: &Actor, node: &NodeName) -> PubsubResult<Vec<FormField>> {
        let n = self.node(node)?;
        self.access().require_owner(&n.meta, actor)?;
        let mut fields = n.meta.config.to_fields(self.settings.max_payload_bytes);
        if n.meta.config.is_collection() {
            fields.push(FormField::new(
                CHILDREN_FIELD,
                FieldType::TextMulti,
                "The child nodes (leaf or collection) associated with a collection",
                self.children_of(node),
            ));
        }
        Ok(fields)
    }

    /// §8.2.5 Submit a node configuration. Lowering `pubsub#max_items`
    /// removes the oldest items beyond it (if that removal fails, the new
    /// configuration is already stored and `Internal` is returned).
    /// Notifies subscribers (§8.2.5.1)
    /// when `pubsub#notify_config`, with the form if `deliver_payloads`.
    /// A more restrictive access model ends (or sends back to pending) the
    /// subscriptions of entities that lost access, telling each (`revoke.rs`).
    ///
    /// Errors: `NodeIdRequired`, `NodeNotFound`, `Forbidden`, `Outcast`,
    /// `NotAcceptable` (unknown field or bad value, named in the text),
    /// `UnsupportedFeature("access-roster")`, `Internal`.
    pub(super) fn configure_unpumped(
        &mut self,
        actor: &Actor,
        node: &NodeName,
        fields: &[FieldValues],
    ) -> PubsubResult<Outcome<()>> {
        let n = self.node(node)?;
        self.access().require_owner(&n.meta, actor)?;
        let cap = self.settings.max_items_cap;
        let (children, fields) = split_children(fields);
        let config = n.meta.config.with_fields(&fields, cap)?;
        check_children_allowed(&config, children.as_deref())?;
        // XEP-0248 §5.2.4 would purge a leaf that becomes a collection;
        // Herald refuses instead of dropping items silently.
        if config.is_collection() && !n.meta.config.is_collection() && n.count > 0 {
            return Err(PubsubError::InvalidCollection(
                "a leaf holding items cannot become a collection (purge it first)",
            ));
        }
        let had = n.meta.config.collections.clone();
        self.check_parents(actor, node, &had, &config.collections)?;
        let current = self.children_of(node);
        let children_change = children.filter(|c| {
            let mut wanted = c.clone();
            wanted.sort();
            wanted.dedup();
            wanted != current
        });
        if config == n.meta.config && children_change.is_none() {
            return Ok(Outcome::reply(()));
        }
        let mut notifications = Vec::new();
        if let Some(wanted) = &children_change {
            notifications.extend(self.set_children(actor, node, wanted)?);
        }
        let n = self.node(node)?;
        if config == n.meta.config {
            return Ok(Outcome {
                reply: (),
                notifications,
                published: Vec::new(),
            });
        }
        let added: Vec<String> = (config.collections.iter())
            .filter(|c| !had.contains(c))
            .cloned()
            .collect();
        let removed: Vec<String> = (had.iter())
            .filter(|c| !config.collections.contains(c))
            .cloned()
            .collect();
        let (id, count) = (n.id, n.count);
        let mut meta = n.meta.clone();
        meta.config = config;
        let revoked = revoke(&self.access(), &n.meta, &mut meta);
        self.commit_meta(node, meta)?;
        self.recheck_expiry(node);
        let limit = self.nodes[node.as_str()].meta.config.max_items.limit(cap);
        if count > limit {
            self.trim(node, id, (count - limit) as usize)?;
        }
        let meta = &self.nodes[node.as_str()].meta;
        let form = meta.config.deliver_payloads;
        let fields = form.then(|| meta.config.to_fields(self.settings.max_payload_bytes));
        let event = Event::Configuration { fields };
        let notice = meta
            .config
            .notify_config
            .then(|| to_subscribers(node, meta, event));
        notifications.extend(notice.flatten());
        notifications.extend(self.revocation_notices(node, &revoked)?);
        notifications.extend(self.association_notices(node, &added, &removed));
        Ok(Outcome {
            reply: (),
            notifications,
            published: Vec::new(),
        })
    }

    /// Removes the `n` oldest items of a node and updates its count.
    pub(crate) fn trim(&mut self, name: &str, id: u64, n: usize) -> PubsubResult<()> {
        let removed = self.store.remove_oldest(id, n);
        let node = self.nodes.get_mut(name).ok_or(PubsubError::NodeNotFound)?;
        match removed {
            Ok(ids) => {
                node.count = node.count.saturating_sub(ids.len() as u64);
                Ok(())
            }
            Err(e) => {
                node.count = self.store.count_items(id).unwrap_or(node.count);
                Err(e.into())
            }
        }
    }

    /// §8.3 The default node configuration form. No errors.
    pub fn default_config(&self) -> Vec<FormField> {
        self.default_config_of(NodeType::Leaf)
    }

    /// §8.3 with XEP-0248: the default configuration of a leaf or of a
    /// collection (which also shows `pubsub#children`, empty).
    pub fn default_config_of(&self, node_type: NodeType) -> Vec<FormField> {
        let mut config = NodeConfig::with_defaults(self.settings.default_max_items);
        config.node_type = node_type;
        let mut fields = config.to_fields(self.settings.max_payload_bytes);
        if config.is_collection() {
            fields.push(FormField::new(
                CHILDREN_FIELD,
                FieldType::TextMulti,
                "The child nodes (leaf or collection) associated with a collection",
                Vec::new(),
            ));
        }
        fields
    }

    /// §8.4 Delete a node and all its items, with an optional redirect URI
    /// for subscribers, who are notified when `pubsub#notify_delete`.
    ///
    /// Errors: `NodeIdRequired`, `NodeNotFound`, `Forbidden`, `Outcast`,
    /// `Internal`.
    pub(super) fn delete_node_unpumped(
        &mut self,
        actor: &Actor,
        node: &NodeName,
        redirect: Option<&str>,
    ) -> PubsubResult<Outcome<()>> {
        let n = self.node(node)?;
        self.access().require_owner(&n.meta, actor)?;
        let redirect = redirect.map(str::to_owned);
        let notice = (n.meta.config.notify_delete)
            .then(|| to_subscribers(node, &n.meta, Event::Delete { redirect }))
            .flatten();
        let (id, held) = (n.id, n.count);
        self.remove_in_steps("delete", node, id, held, |s| {
            s.delete_node(node, id).map(|()| 0)
        })?;
        self.nodes.remove(node.as_str());
        self.detach_children(node)?;
        Ok(Outcome {
            reply: (),
            notifications: notice.into_iter().collect(),
            published: Vec::new(),
        })
    }

    /// §8.5 Purge all items of a node. Subscribers get one `<purge/>`
    /// notification when `pubsub#notify_retract`.
    ///
    /// Errors: `NodeIdRequired`, `NodeNotFound`, `Forbidden`, `Outcast`,
    /// `Internal`.
    pub(super) fn purge_unpumped(
        &mut self,
        actor: &Actor,
        node: &NodeName,
    ) -> PubsubResult<Outcome<()>> {
        let n = self.node(node)?;
        self.access().require_owner(&n.meta, actor)?;
        let (id, held) = (n.id, n.count);
        self.persist_high_water(node)?;
        self.remove_in_steps("purge", node, id, held, |s| s.purge(id))?;
        let n = self
            .nodes
            .get_mut(node.as_str())
            .ok_or(PubsubError::NodeNotFound)?;
        n.count = 0;
        let notice = (n.meta.config.notify_retract)
            .then(|| to_subscribers(node, &n.meta, Event::Purge))
            .flatten();
        Ok(Outcome {
            reply: (),
            notifications: notice.into_iter().collect(),
            published: Vec::new(),
        })
    }

    /// Removes the items of node `id` (holding `held`), then runs `last`
    /// (the purge or delete proper, which removes what is left). A large
    /// node goes in steps reported to the progress board; a small one in
    /// one call. Returns the items removed.
    fn remove_in_steps(
        &mut self,
        kind: &'static str,
        node: &NodeName,
        id: crate::store::NodeId,
        held: u64,
        last: impl FnOnce(&mut super::tracked::Tracked<S>) -> crate::store::StoreResult<u64>,
    ) -> PubsubResult<u64> {
        if held < LARGE_NODE_ITEMS {
            return Ok(last(&mut self.store)?);
        }
        let mut step = self.progress.begin(kind, node.as_str(), held);
        let mut removed = 0;
        let result = loop {
            match self.store.purge_step(id, STEP_ITEMS) {
                Ok(0) => break last(&mut self.store).map(|rest| removed + rest),
                Ok(k) => {
                    removed += k;
                    step.advance(removed);
                }
                Err(e) => break Err(e),
            }
        };
        step.end(result.as_ref().copied().map_err(|e| e.to_string()));
        Ok(result?)
    }

    /// Before removing the newest items: persist the seq high-water so
    /// seqs never go backwards after a restart.
    pub(crate) fn persist_high_water(&mut self, name: &str) -> PubsubResult<()> {
        let n = self.node(name)?;
        if n.high_seq <= n.meta.high_water {
            return Ok(());
        }
        let mut meta = n.meta.clone();
        meta.high_water = n.high_seq;
        self.commit_meta(name, meta)
    }
}

/// Splits `pubsub#children` (applied to the children, not this node's
/// configuration) off a submitted form; empty values mean "none".
fn split_children(fields: &[FieldValues]) -> (Option<Vec<String>>, Vec<FieldValues>) {
    let mut children = None;
    let mut rest = Vec::with_capacity(fields.len());
    for (var, values) in fields {
        if var == CHILDREN_FIELD {
            let named = values.iter().filter(|v| !v.is_empty()).cloned();
            children = Some(named.collect());
        } else {
            rest.push((var.clone(), values.clone()));
        }
    }
    (children, rest)
}

/// XEP-0248 §5.2.4.1: a leaf never has children.
fn check_children_allowed(config: &NodeConfig, children: Option<&[String]>) -> PubsubResult<()> {
    match children {
        Some(c) if !c.is_empty() && !config.is_collection() => Err(PubsubError::InvalidCollection(
            "a leaf node cannot have children",
        )),
        _ => Ok(()),
    }
}
