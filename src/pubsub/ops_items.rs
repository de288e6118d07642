//! Item retrieval (XEP-0060 §6.5) and the ID-cursor paging that XEP-0059
//! RSM and XEP-0313 MAM on nodes are built on. Pages are oldest first, in
//! publication order, with the node's total item count.

use super::error::{PubsubError, PubsubResult};
use super::names::{ItemId, NodeName};
use super::ops_publish::from_stored;
use super::service::Service;
use super::types::{Actor, ItemsPage};
use crate::store::{NodeId, Store, StoredItem};

impl<S: Store> Service<S> {
    /// §6.5.2 / §6.5.7 Retrieve items: the `max_items` newest (§6.5.7), or
    /// with `None` the newest up to the page limit (§6.5.2; the page is
    /// always capped at the service's max page size).
    ///
    /// Errors (all retrievals): `NodeIdRequired`, `NodeNotFound`, `Outcast`,
    /// `Forbidden` (publish-only), `NotAuthorized` (presence model:
    /// presence-subscription-required), `SubscriptionRequired` (authorize
    /// model), `ClosedNode` (whitelist model), `Internal`.
    pub fn items(
        &self,
        actor: &Actor,
        node: &NodeName,
        max_items: Option<usize>,
    ) -> PubsubResult<ItemsPage> {
        let max = self.page_size(max_items);
        if let Some(c) = self.readable_collection(actor, node)? {
            return self.collection_items(actor, c, None, None, max, true);
        }
        let (id, total) = self.readable(actor, node)?;
        let items = self.store.items_before(id, u64::MAX, max)?;
        Ok(page(items, total))
    }

    /// §6.5.8 Retrieve specific items by ID, in publication order. IDs that
    /// do not exist are skipped; if none exists: `ItemNotFound`.
    pub fn items_by_id(
        &self,
        actor: &Actor,
        node: &NodeName,
        ids: &[ItemId],
    ) -> PubsubResult<ItemsPage> {
        let (id, total) = self.readable(actor, node)?;
        let mut found = Vec::new();
        for item_id in ids.iter().take(self.settings.max_page_size) {
            if let Some(item) = self.store.get_item(id, item_id)? {
                found.push(item);
            }
        }
        if found.is_empty() && !ids.is_empty() {
            return Err(PubsubError::ItemNotFound);
        }
        found.sort_by_key(|i| i.seq);
        found.dedup_by_key(|i| i.seq);
        Ok(page(found, total))
    }

    /// Up to `max` items published after item `item_id` (RSM `<after/>`),
    /// oldest first. `ItemNotFound` when the cursor item no longer exists:
    /// the client lost history and must resync.
    pub fn items_after(
        &self,
        actor: &Actor,
        node: &NodeName,
        item_id: &ItemId,
        max: usize,
    ) -> PubsubResult<ItemsPage> {
        let max = self.page_size(Some(max));
        if let Some(c) = self.readable_collection(actor, node)? {
            return self.collection_items(actor, c, Some(item_id), None, max, false);
        }
        let (id, total) = self.readable(actor, node)?;
        let seq = self.cursor(id, item_id)?;
        let items = self.store.items_after(id, seq, max)?;
        Ok(page(items, total))
    }

    /// The first page: up to `max` of the oldest items, oldest first (an
    /// RSM request with no cursor or `<index>0</index>`, XEP-0059 §2.1). Paging on from its last
    /// item with `items_after` walks the whole node.
    pub fn items_first(
        &self,
        actor: &Actor,
        node: &NodeName,
        max: usize,
    ) -> PubsubResult<ItemsPage> {
        if let Some(c) = self.readable_collection(actor, node)? {
            let max = self.page_size(Some(max));
            return self.collection_items(actor, c, None, None, max, false);
        }
        let (id, total) = self.readable(actor, node)?;
        // Seqs start at 1, so "after 0" is the start of the log.
        let items = self.store.items_after(id, 0, self.page_size(Some(max)))?;
        Ok(page(items, total))
    }

    /// Up to `max` items published just before item `item_id` (RSM
    /// `<before/>`), oldest first. `ItemNotFound` for a vanished cursor.
    pub fn items_before(
        &self,
        actor: &Actor,
        node: &NodeName,
        item_id: &ItemId,
        max: usize,
    ) -> PubsubResult<ItemsPage> {
        if let Some(c) = self.readable_collection(actor, node)? {
            let max = self.page_size(Some(max));
            return self.collection_items(actor, c, None, Some(item_id), max, true);
        }
        let (id, total) = self.readable(actor, node)?;
        let seq = self.cursor(id, item_id)?;
        let items = self
            .store
            .items_before(id, seq, self.page_size(Some(max)))?;
        Ok(page(items, total))
    }

    /// The node's store id and item count, if the actor may read it.
    fn readable(&self, actor: &Actor, node: &str) -> PubsubResult<(NodeId, u64)> {
        let n = self.node(node)?;
        self.access().check_read(&n.meta, actor)?;
        refuse_collection(&n.meta.config)?;
        Ok((n.id, n.count))
    }

    fn cursor(&self, id: NodeId, item_id: &str) -> PubsubResult<u64> {
        self.store
            .item_seq(id, item_id)?
            .ok_or(PubsubError::ItemNotFound)
    }

    fn page_size(&self, requested: Option<usize>) -> usize {
        let max = self.settings.max_page_size;
        requested.map_or(max, |r| r.min(max))
    }
}

fn page(items: Vec<StoredItem>, total: u64) -> ItemsPage {
    ItemsPage {
        items: items.into_iter().map(from_stored).collect(),
        total,
        via: Vec::new(),
    }
}

/// XEP-0248 §4.2 lets a service refuse item retrieval on a collection
/// with `<feature-not-implemented/>`: Herald pages a collection's items by
/// its history (`collection_log.rs`), but refuses what needs item IDs
/// (§6.5.8 by ID): an ID alone does not say which leaf it is in.
pub(crate) fn refuse_collection(config: &super::node_config::NodeConfig) -> PubsubResult<()> {
    match config.is_collection() {
        true => Err(PubsubError::UnsupportedFeature("retrieve-items")),
        false => Ok(()),
    }
}
