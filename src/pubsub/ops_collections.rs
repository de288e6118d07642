//! XEP-0248 collection use cases on the service: checking associations,
//! children, and routing leaf events to collection subscribers. The graph
//! itself is resolved by the pure `collections` module.

use jid::Jid;

use super::collections::{ancestors, within, would_cycle};
use super::error::{PubsubError, PubsubResult};
use super::names::NodeName;
use super::node::NodeSub;
use super::notify::{Event, Notification, subscriber_recipients};
use super::service::Service;
use super::types::{Actor, NodeSummary};
use crate::store::Store;

/// The configuration field that sets a collection's children: not part of
/// [`super::NodeConfig`] (children are derived from their parents), so it
/// is split off before the form is applied.
pub(crate) const CHILDREN_FIELD: &str = "pubsub#children";

impl<S: Store> Service<S> {
    /// The parents (`pubsub#collection`) of a node, as the pure module's
    /// graph lookup.
    pub(crate) fn parents_of(&self, name: &str) -> Option<&[String]> {
        self.nodes
            .get(name)
            .map(|n| n.meta.config.collections.as_slice())
    }

    /// The nodes directly inside a collection, in name order.
    pub(crate) fn children_of(&self, collection: &str) -> Vec<String> {
        let inside = (self.nodes.iter())
            .filter(|(_, n)| n.meta.config.collections.iter().any(|c| c == collection));
        inside.map(|(name, _)| name.clone()).collect()
    }

    /// Checks that `node` may get the parents `wanted` (XEP-0248 §5.2):
    /// each added parent exists, is a collection the actor owns, and
    /// does not lie below `node`.
    pub(crate) fn check_parents(
        &self,
        actor: &Actor,
        node: &str,
        had: &[String],
        wanted: &[String],
    ) -> PubsubResult<()> {
        let added: Vec<String> = wanted
            .iter()
            .filter(|p| !had.contains(p))
            .cloned()
            .collect();
        for parent in &added {
            let p = self.node(parent)?;
            if !p.meta.config.is_collection() {
                return Err(PubsubError::InvalidCollection(
                    "a leaf node cannot have children",
                ));
            }
            self.access().require_owner(&p.meta, actor)?;
        }
        if would_cycle(node, &added, |n| self.parents_of(n)) {
            return Err(PubsubError::InvalidCollection(
                "the association would make a cycle",
            ));
        }
        Ok(())
    }

    /// Sets a collection's children (`pubsub#children`) by changing each
    /// affected child's parents; the actor must own the children added.
    /// Each child is committed on its own: a store failure midway leaves
    /// the earlier ones changed (and says so with `Internal`).
    pub(crate) fn set_children(
        &mut self,
        actor: &Actor,
        collection: &str,
        wanted: &[String],
    ) -> PubsubResult<Vec<Notification>> {
        let current = self.children_of(collection);
        let added: Vec<String> = (wanted.iter())
            .filter(|c| !c.is_empty() && !current.contains(c))
            .cloned()
            .collect();
        let removed: Vec<String> = (current.iter())
            .filter(|c| !wanted.contains(c))
            .cloned()
            .collect();
        let parent = [collection.to_owned()];
        for child in &added {
            let c = self.node(child)?;
            self.access().require_owner(&c.meta, actor)?;
            if would_cycle(child, &parent, |n| self.parents_of(n)) {
                return Err(PubsubError::InvalidCollection(
                    "the association would make a cycle",
                ));
            }
        }
        let mut notes = Vec::new();
        for child in &added {
            let mut meta = self.node(child)?.meta.clone();
            meta.config.collections.push(collection.to_owned());
            self.commit_meta(child, meta)?;
            notes.extend(self.association_notices(child, &parent, &[]));
        }
        for child in &removed {
            let mut meta = self.node(child)?.meta.clone();
            meta.config.collections.retain(|c| c != collection);
            self.commit_meta(child, meta)?;
            notes.extend(self.association_notices(child, &[], &parent));
        }
        Ok(notes)
    }

    /// After a collection is deleted its children leave it, so that a new
    /// node of the same name does not silently inherit them.
    pub(crate) fn detach_children(&mut self, collection: &str) -> PubsubResult<()> {
        for child in self.children_of(collection) {
            let mut meta = self.node(&child)?.meta.clone();
            meta.config.collections.retain(|c| c != collection);
            self.commit_meta(&child, meta)?;
        }
        Ok(())
    }

    /// XEP-0248 §3.2 disco#items of a node: `Some(children)` the actor may
    /// see when the node is a collection, `None` for a leaf.
    ///
    /// Errors: `NodeIdRequired`, `NodeNotFound`.
    pub fn collection_children(
        &self,
        actor: &Actor,
        node: &NodeName,
    ) -> PubsubResult<Option<Vec<NodeSummary>>> {
        if !self.node(node)?.meta.config.is_collection() {
            return Ok(None);
        }
        let access = self.access();
        let mut out = Vec::new();
        for child in self.children_of(node) {
            let n = self.node(&child)?;
            if access.may_see(&n.meta, actor) {
                out.push(NodeSummary {
                    node: child.clone(),
                    title: n.meta.config.title.clone(),
                });
            }
        }
        Ok(Some(out))
    }

    /// A leaf's item event (`template`, recipients ignored) as delivered
    /// through each collection above the leaf (§3.3.1): to the items
    /// subscriptions whose depth reaches the leaf and whose subscriber may
    /// read the leaf (its access model decides, not the collection's).
    /// `links`: the seqs each collection's history gave the event, whose
    /// archive IDs become the copies' stanza-ids (a consumer's catch-up
    /// cursor on that collection).
    pub(crate) fn via_collections(
        &self,
        leaf: &str,
        template: &Notification,
        links: &[(String, Vec<u64>)],
    ) -> Vec<Notification> {
        let Ok(l) = self.node(leaf) else {
            return Vec::new();
        };
        if !l.meta.config.deliver_notifications {
            return Vec::new();
        }
        let access = self.access();
        let readable =
            |s: &NodeSub| (access.check_read(&l.meta, &Actor::Entity(s.jid.to_bare()))).is_ok();
        let mut out = Vec::new();
        for (collection, depth) in ancestors(leaf, |n| self.parents_of(n)) {
            let Ok(c) = self.node(&collection) else {
                continue;
            };
            let subs: Vec<NodeSub> = (c.meta.subscriptions.iter())
                .filter(|s| s.options.subscription_type.wants_items())
                .filter(|s| within(depth, s.options.subscription_depth))
                .filter(|s| readable(s))
                .cloned()
                .collect();
            let recipients = subscriber_recipients(&subs);
            if recipients.is_empty() {
                continue;
            }
            let mut note = template.clone();
            note.recipients = recipients;
            let seqs = links.iter().find(|(c, _)| *c == collection);
            let (ids, key) = (seqs.map(|(_, s)| s.as_slice()), &self.settings.archive_key);
            note.archive_id = ids.and_then(|s| s.last()).map(|&s| key.encode(c.id, s));
            note.item_archive_ids = match ids {
                Some(s) if s.len() > 1 => s.iter().map(|&s| key.encode(c.id, s)).collect(),
                _ => Vec::new(),
            };
            note.collection = Some(collection);
            out.push(note);
        }
        out
    }

    /// Notices of `child` joining (`added`) or leaving (`removed`)
    /// collections (§3.3.2), to the nodes subscriptions of each of those
    /// collections and of the collections above them, depth permitting.
    pub(crate) fn association_notices(
        &self,
        child: &str,
        added: &[String],
        removed: &[String],
    ) -> Vec<Notification> {
        let mut out = Vec::new();
        let changes = (added.iter().map(|c| (c, true))).chain(removed.iter().map(|c| (c, false)));
        for (collection, joined) in changes {
            let event = match joined {
                true => Event::Associate {
                    child: child.to_owned(),
                },
                false => Event::Dissociate {
                    child: child.to_owned(),
                },
            };
            let mut above: Vec<(String, u32)> = vec![(collection.clone(), 1)];
            above.extend(
                ancestors(collection, |n| self.parents_of(n))
                    .into_iter()
                    .map(|(c, d)| (c, d + 1)),
            );
            for (via, depth) in above {
                out.extend(self.nodes_notice(collection, &via, depth, child, event.clone()));
            }
        }
        out
    }

    fn nodes_notice(
        &self,
        collection: &str,
        via: &str,
        depth: u32,
        child: &str,
        event: Event,
    ) -> Option<Notification> {
        let c = self.node(via).ok()?;
        let visible = |s: &NodeSub| {
            let jid = Actor::Entity(Jid::to_bare(&s.jid));
            self.node(child)
                .map(|n| self.access().may_see(&n.meta, &jid))
                .unwrap_or(true)
        };
        let subs: Vec<NodeSub> = (c.meta.subscriptions.iter())
            .filter(|s| s.options.subscription_type.wants_nodes())
            .filter(|s| within(depth, s.options.subscription_depth))
            .filter(|s| visible(s))
            .cloned()
            .collect();
        let recipients = subscriber_recipients(&subs);
        if recipients.is_empty() || !c.meta.config.deliver_notifications {
            return None;
        }
        Some(Notification {
            node: collection.to_owned(),
            message_type: c.meta.config.notification_type,
            event,
            recipients,
            archive_id: None,
            item_archive_ids: Vec::new(),
            collection: (via != collection).then(|| via.to_owned()),
        })
    }
}
