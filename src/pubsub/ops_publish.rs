//! Publisher use cases (XEP-0060 §7): publish and retract.

use super::names::{ItemId, NodeName};
use std::sync::Arc;

use super::collection_log::{CollectionSeqs, Links};
use super::error::{PubsubError, PubsubResult};
use super::feed::Published;
use super::form::FieldValues;
use super::log::LogKind;
use super::node_config::NodeConfig;
use super::notify::{Event, template, to_subscribers_from};
use super::service::Service;
use super::types::{Actor, Item, NewItem, Outcome, PublishReply};
use crate::store::{ArchiveEntry, IdempotencyRecord, Store, StoredItem};

impl<S: Store> Service<S> {
    /// §7.1 Publish one or several items (IDs generated when absent). A
    /// missing node is auto-created (§7.1.4) when the settings allow it and
    /// the actor may create nodes, configured by the publish-options. For
    /// an existing node every publish-options field must equal the node's
    /// configuration (§7.1.5). Re-publishing an ID replaces the item and
    /// makes it the newest; items beyond `pubsub#max_items` are removed
    /// oldest first; with `persist_items` off nothing is stored.
    ///
    /// Errors: `NodeIdRequired`, `NodeNotFound`, `Forbidden`, `Outcast`,
    /// `PreconditionNotMet`, `ItemRequired`, `PayloadRequired`,
    /// `ItemForbidden`, `PayloadTooBig`, `BadRequest` (empty item ID),
    /// `NotAcceptable` (auto-create with bad publish-options),
    /// `MaxNodesExceeded`, `Internal`.
    pub(super) fn publish_unpumped(
        &mut self,
        actor: &Actor,
        node: &NodeName,
        items: Vec<NewItem>,
        publish_options: Option<&[FieldValues]>,
    ) -> PubsubResult<Outcome<PublishReply>> {
        self.publish_recorded(actor, node, items, publish_options, |_| None)
            .map(|(outcome, _)| outcome)
    }

    /// [`Service::publish`], also storing the idempotency record that
    /// `record` builds from the published items in the same atomic write.
    /// Returns the published items too (with their seqs).
    pub(crate) fn publish_recorded(
        &mut self,
        actor: &Actor,
        node: &str,
        items: Vec<NewItem>,
        publish_options: Option<&[FieldValues]>,
        record: impl FnOnce(&[Item]) -> Option<IdempotencyRecord>,
    ) -> PubsubResult<(Outcome<PublishReply>, Vec<Item>)> {
        let options = publish_options.unwrap_or(&[]);
        let create = self.publish_target(actor, node, options)?;
        let config = match &create {
            Some(config) => config,
            None => &self.node(node)?.meta.config,
        };
        // XEP-0248 §2.1: a collection holds nodes, never items.
        if config.is_collection() {
            return Err(PubsubError::UnsupportedFeature("publish"));
        }
        self.check_items(config, &items)?;
        if let Some(config) = create {
            self.insert_node(actor, node, config)?;
        }
        let published = self.build_items(actor, node, items)?;
        let record = record(&published);
        let n = self.node(node)?;
        let mut links = Vec::new();
        if n.meta.config.persist_items {
            links = self.store_items(node, &published, record.as_ref())?;
        } else if let Some(r) = &record {
            self.store.put_items_keyed(&[], Some(r))?;
        }
        self.record_published(node, &published);
        let n = self.node(node)?;
        let event = Event::Items {
            items: published.clone(),
            include_payload: n.meta.config.deliver_payloads,
            last_published: false,
        };
        let archived = self.settings.retention.archiving() && n.meta.config.persist_items;
        let key = &self.settings.archive_key;
        let mut template = template(node, &n.meta.config, event);
        if archived {
            template.archive_id = published.last().map(|i| key.encode(n.id, i.seq));
            if published.len() > 1 {
                let ids = published.iter().map(|i| key.encode(n.id, i.seq));
                template.item_archive_ids = ids.collect();
            }
        }
        // The collections' copies first: the leaf's own subscribers then
        // take the template itself, so its payload is not cloned for them.
        let via_collections = self.via_collections(node, &template, &links);
        let mut notices: Vec<_> = to_subscribers_from(&n.meta, template).into_iter().collect();
        notices.extend(via_collections);
        let item_ids = published.iter().map(|i| i.id.clone()).collect();
        let outcome = Outcome {
            reply: PublishReply {
                node: node.to_owned(),
                item_ids,
            },
            notifications: notices,
            published: vec![Published {
                node: node.to_owned(),
                items: published.clone(),
            }],
        };
        Ok((outcome, published))
    }

    /// Checks access to an existing node, or decides to auto-create it:
    /// `Some(config)` means "create with this configuration first".
    fn publish_target(
        &self,
        actor: &Actor,
        node: &str,
        options: &[FieldValues],
    ) -> PubsubResult<Option<NodeConfig>> {
        let cap = self.settings.max_items_cap;
        match self.node(node) {
            Ok(n) => {
                self.access().check_publish(&n.meta, actor)?;
                let met = options
                    .iter()
                    .all(|(v, vals)| n.meta.config.matches_field(v, vals, cap));
                match met {
                    true => Ok(None),
                    false => Err(PubsubError::PreconditionNotMet),
                }
            }
            Err(PubsubError::NodeNotFound)
                if self.settings.auto_create_on_publish && self.may_create(actor) =>
            {
                self.check_reserved_create(actor, node)?;
                let defaults = NodeConfig::with_defaults(self.settings.default_max_items);
                let config = defaults.with_fields(options, cap)?;
                self.check_parents(actor, node, &[], &config.collections)?;
                Ok(Some(config))
            }
            Err(e) => Err(e),
        }
    }

    /// §7.1.3.4–7.1.3.6: the request must match the node's event type.
    fn check_items(&self, config: &NodeConfig, items: &[NewItem]) -> PubsubResult<()> {
        let (persistent, payloads) = (config.persist_items, config.deliver_payloads);
        if items.is_empty() && (persistent || payloads) {
            return Err(PubsubError::ItemRequired);
        }
        if !items.is_empty() && !persistent && !payloads {
            return Err(PubsubError::ItemForbidden);
        }
        for item in items {
            if item.id.as_deref() == Some("") {
                return Err(PubsubError::BadRequest("empty item ID".into()));
            }
            match &item.payload {
                None if payloads => return Err(PubsubError::PayloadRequired),
                Some(p) if p.len() > self.settings.max_payload_bytes => {
                    return Err(PubsubError::PayloadTooBig);
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Gives each new item its ID and the next seqs (not yet stored).
    fn build_items(
        &mut self,
        actor: &Actor,
        node: &str,
        items: Vec<NewItem>,
    ) -> PubsubResult<Vec<Item>> {
        let n = self.node(node)?;
        let (id, persistent, mut seq) = (n.id, n.meta.config.persist_items, n.high_seq);
        let published_ms = self.now_ms();
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let item_id = match item.id {
                Some(given) => given.into_string(),
                None => self.unused_item_id(id, persistent)?,
            };
            if persistent {
                seq += 1;
            }
            out.push(Item {
                id: item_id,
                seq: if persistent { seq } else { 0 },
                publisher: actor.bare().cloned(),
                published_ms,
                payload: item.payload.map(Arc::from),
            });
        }
        Ok(out)
    }

    /// A generated item ID no stored item has (guards against clock steps).
    fn unused_item_id(&mut self, node: u64, persistent: bool) -> PubsubResult<String> {
        loop {
            let id = self.fresh_id();
            if !persistent || self.store.item_seq(node, &id)?.is_none() {
                return Ok(id);
            }
        }
    }

    /// Stores the items (with their history entries and the collections'
    /// links when archiving, and `record`) in one atomic write, then trims
    /// to `max_items`. On a store failure nothing of the group is written,
    /// the in-memory count is re-read from the store, and the seq
    /// high-water still moves past every seq tried, so no seq is ever
    /// handed out twice. Returns the seqs each collection gave the items.
    fn store_items(
        &mut self,
        name: &str,
        items: &[Item],
        record: Option<&IdempotencyRecord>,
    ) -> PubsubResult<CollectionSeqs> {
        let n = self.node(name)?;
        let (id, count) = (n.id, n.count);
        let limit = n.meta.config.max_items.limit(self.settings.max_items_cap);
        let top = items.last().map_or(n.high_seq, |i| i.seq);
        let group: Vec<_> = items.iter().map(|i| (id, to_stored(i))).collect();
        let archiving = self.settings.retention.archiving();
        let links = match archiving {
            true => {
                let events: Vec<_> = items.iter().map(|i| (i.seq, i.published_ms)).collect();
                self.plan_links(name, &events)
            }
            false => Links::default(),
        };
        let written = self
            .store
            .put_group(&group, archiving, &links.writes, record);
        let n = self.nodes.get_mut(name).ok_or(PubsubError::NodeNotFound)?;
        n.high_seq = n.high_seq.max(top);
        let replaced = match written {
            Ok(r) => r,
            Err(e) => {
                n.count = self.store.count_items(id).unwrap_or(n.count);
                return Err(e.into());
            }
        };
        let count = count + replaced.iter().filter(|r| r.is_none()).count() as u64;
        n.count = count;
        let at_ms = items.last().map_or(0, |i| i.published_ms);
        let entries = if archiving { items.len() as u64 } else { 0 };
        self.after_append(name, at_ms, entries)?;
        self.links_written(&links, at_ms)?;
        if archiving {
            self.journal_items(name, id, items);
            // Built only for live followers: the journal is off without them.
            if !links.seqs.is_empty() && self.journal.is_some() {
                let events: Vec<_> = items
                    .iter()
                    .map(|i| (i.published_ms, log_kind(i)))
                    .collect();
                self.journal_links(&links, name, &events);
            }
        }
        if count > limit {
            self.trim(name, id, (count - limit) as usize)?;
        }
        Ok(links.seqs)
    }

    /// §7.2 Retract (delete) one item. `notify`: the request's `notify`
    /// attribute; `None` follows `pubsub#notify_retract`.
    ///
    /// Errors: `NodeIdRequired`, `NodeNotFound`, `Forbidden` (not owner or
    /// publisher), `Outcast`, `ItemRequired` (empty ID), `ItemNotFound`,
    /// `UnsupportedFeature("persistent-items")` (node keeps no items),
    /// `Internal`.
    pub(super) fn retract_unpumped(
        &mut self,
        actor: &Actor,
        node: &NodeName,
        item_id: &ItemId,
        notify: Option<bool>,
    ) -> PubsubResult<Outcome<()>> {
        let n = self.node(node)?;
        self.access().check_retract(&n.meta, actor)?;
        if item_id.is_empty() {
            return Err(PubsubError::ItemRequired);
        }
        if !n.meta.config.persist_items && n.count == 0 {
            return Err(PubsubError::UnsupportedFeature("persistent-items"));
        }
        let id = n.id;
        let seq = self
            .store
            .item_seq(id, item_id)?
            .ok_or(PubsubError::ItemNotFound)?;
        if seq >= n.high_seq {
            self.persist_high_water(node)?;
        }
        let (archive_seq, links) = self.remove_archived(node, item_id)?;
        let n = self.node(node)?;
        let event = Event::Retract {
            item_ids: vec![item_id.to_string()],
        };
        let mut template = template(node, &n.meta.config, event);
        template.archive_id = archive_seq.map(|s| self.settings.archive_key.encode(n.id, s));
        let mut notices = Vec::new();
        if notify.unwrap_or(n.meta.config.notify_retract) {
            let via_collections = self.via_collections(node, &template, &links);
            notices.extend(to_subscribers_from(&n.meta, template));
            notices.extend(via_collections);
        }
        Ok(Outcome {
            reply: (),
            notifications: notices,
            published: Vec::new(),
        })
    }
}

impl<S: Store> Service<S> {
    /// Removes a stored item; when archiving, the removal is written with
    /// a history entry of its own (next seq), and the collections' links
    /// to it, in the same atomic write. Returns that entry's seq and the
    /// seqs the collections gave it.
    fn remove_archived(
        &mut self,
        node: &str,
        item_id: &str,
    ) -> PubsubResult<(Option<u64>, CollectionSeqs)> {
        let n = self.node(node)?;
        let (id, seq) = (n.id, n.high_seq + 1);
        let at_ms = self.now_ms();
        let mut links = Links::default();
        let removed = match self.settings.retention.archiving() {
            true => {
                let entry = ArchiveEntry::Retract {
                    seq,
                    id: item_id.to_owned(),
                    at_ms,
                };
                let n = self.node_mut(node)?;
                n.high_seq = seq;
                links = self.plan_links(node, &[(seq, at_ms)]);
                self.store
                    .retract_archived(id, item_id, &entry, &links.writes)?
                    .map(|_| Some(seq))
            }
            false => self.store.remove_item(id, item_id)?.map(|_| None),
        };
        let Some(archive_seq) = removed else {
            return Err(PubsubError::ItemNotFound);
        };
        let n = self.node_mut(node)?;
        n.count = n.count.saturating_sub(1);
        let entries = u64::from(archive_seq.is_some());
        self.after_append(node, at_ms, entries)?;
        self.links_written(&links, at_ms)?;
        if let Some(seq) = archive_seq {
            self.journal_retract(node, id, seq, at_ms, item_id);
            let retract = LogKind::Retract {
                id: item_id.to_owned(),
            };
            self.journal_links(&links, node, &[(at_ms, retract)]);
        }
        Ok((archive_seq, links.seqs))
    }
}

fn log_kind(item: &Item) -> LogKind {
    LogKind::Item {
        id: item.id.clone(),
        publisher: item.publisher.clone(),
        payload: item.payload.clone(),
    }
}

fn to_stored(item: &Item) -> StoredItem {
    StoredItem {
        id: item.id.clone(),
        seq: item.seq,
        publisher: item.publisher.as_ref().map(|j| j.to_string()),
        published_ms: item.published_ms,
        payload: item.payload.as_deref().map(str::to_owned),
    }
}

/// An item as handed out, from its stored form.
pub(crate) fn from_stored(item: StoredItem) -> Item {
    Item {
        publisher: item.publisher.and_then(|p| p.parse().ok()),
        payload: item.payload.map(Arc::from),
        id: item.id,
        seq: item.seq,
        published_ms: item.published_ms,
    }
}
