//! Retention: `pubsub#item_expire` and the history (XEP-0313 archive)
//! limits, enforced by [`Service::expire`], which the executor calls once
//! a second. Each node keeps in memory the earliest time anything of it
//! can expire, so a tick touches only nodes that are due, and removal
//! starts at the oldest entry (publication order), never scanning a node.

use super::error::{PubsubError, PubsubResult};
use super::service::Service;
use crate::store::Store;

/// Service-wide history limits (config `[retention]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionSettings {
    /// Most history entries kept per node; 0 turns the history off.
    pub history_max_entries: u64,
    /// History entries older than this are dropped (`None`: kept until
    /// the count limit pushes them out).
    pub history_max_age_secs: Option<u64>,
    /// Most items or entries one node loses per tick (bounds a tick).
    pub sweep_batch: usize,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings {
            history_max_entries: 100_000,
            history_max_age_secs: Some(7 * 24 * 3600),
            sweep_batch: 10_000,
        }
    }
}

impl RetentionSettings {
    /// Whether publications and retractions are archived at all.
    pub fn archiving(&self) -> bool {
        self.history_max_entries > 0
    }
}

impl<S: Store> Service<S> {
    /// Removes expired items (`pubsub#item_expire`, measured from
    /// publication) and history beyond its age limit, for every node that
    /// is due at `now_ms`. Returns how many items and entries went. No
    /// notifications: expiry is silent (XEP-0060 defines none for it).
    pub fn expire(&mut self, now_ms: u64) -> PubsubResult<u64> {
        let due: Vec<String> = (self.nodes.iter())
            .filter(|(_, n)| n.expiry_due_ms <= now_ms || n.history_due_ms <= now_ms)
            .map(|(name, _)| name.clone())
            .collect();
        let mut removed = 0;
        for name in due {
            removed += self.expire_items(&name, now_ms)?;
            removed += self.expire_history(&name, now_ms)?;
        }
        Ok(removed)
    }

    fn expire_items(&mut self, name: &str, now: u64) -> PubsubResult<u64> {
        let n = self.node(name)?;
        let (id, due) = (n.id, n.expiry_due_ms);
        let Some(ttl) = n.meta.config.item_expire.map(|s| s.saturating_mul(1000)) else {
            self.node_mut(name)?.expiry_due_ms = u64::MAX;
            return Ok(0);
        };
        if due > now {
            return Ok(0);
        }
        self.persist_high_water(name)?;
        let batch = self.settings.retention.sweep_batch;
        let gone = self
            .store
            .remove_expired(id, now.saturating_sub(ttl), batch)?;
        let next = match gone.len() >= batch {
            true => now,
            false => (self.store.items_after(id, 0, 1)?.first())
                .map_or(u64::MAX, |i| i.published_ms.saturating_add(ttl)),
        };
        let n = self.node_mut(name)?;
        n.count = n.count.saturating_sub(gone.len() as u64);
        n.expiry_due_ms = next;
        Ok(gone.len() as u64)
    }

    fn expire_history(&mut self, name: &str, now: u64) -> PubsubResult<u64> {
        let n = self.node(name)?;
        let (id, due) = (n.id, n.history_due_ms);
        let age = self.settings.retention.history_max_age_secs;
        let Some(ttl) = age.map(|s| s.saturating_mul(1000)) else {
            self.node_mut(name)?.history_due_ms = u64::MAX;
            return Ok(0);
        };
        if due > now {
            return Ok(0);
        }
        self.persist_high_water(name)?;
        let batch = self.settings.retention.sweep_batch;
        let gone = self
            .store
            .trim_archive(id, batch, now.saturating_sub(ttl))?;
        let next = match gone >= batch as u64 {
            true => now,
            false => (self.store.archive_after(id, 0, 1)?.first())
                .map_or(u64::MAX, |e| e.at_ms().saturating_add(ttl)),
        };
        let n = self.node_mut(name)?;
        n.history = n.history.saturating_sub(gone);
        n.history_due_ms = next;
        Ok(gone)
    }

    /// After new items or history entries at `at_ms`: when they can
    /// expire at the earliest, and the history's count limit applied.
    pub(crate) fn after_append(
        &mut self,
        name: &str,
        at_ms: u64,
        entries: u64,
    ) -> PubsubResult<()> {
        let retention = self.settings.retention.clone();
        let n = self.node_mut(name)?;
        if let Some(ttl) = n.meta.config.item_expire {
            n.expiry_due_ms = n
                .expiry_due_ms
                .min(at_ms.saturating_add(ttl.saturating_mul(1000)));
        }
        if let Some(age) = retention.history_max_age_secs {
            n.history_due_ms = n
                .history_due_ms
                .min(at_ms.saturating_add(age.saturating_mul(1000)));
        }
        n.history += entries;
        let excess = n.history.saturating_sub(retention.history_max_entries);
        if excess > 0 {
            let id = n.id;
            let gone = self.store.trim_archive(id, excess as usize, u64::MAX)?;
            let n = self.node_mut(name)?;
            n.history = n.history.saturating_sub(gone);
        }
        Ok(())
    }

    /// The configuration changed: look at expiry again at the next tick.
    pub(crate) fn recheck_expiry(&mut self, name: &str) {
        if let Some(n) = self.nodes.get_mut(name) {
            n.expiry_due_ms = 0;
        }
    }

    pub(crate) fn node_mut(&mut self, name: &str) -> PubsubResult<&mut super::node::Node> {
        self.nodes.get_mut(name).ok_or(PubsubError::NodeNotFound)
    }
}
