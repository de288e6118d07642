//! A node's publication history (XEP-0313 MAM on pubsub nodes, XEP-0442):
//! every publication (replaced and retracted ones included) and every
//! retraction, each with its own archive ID, in event order.
//!
//! An archive ID is (node id, seq) made opaque (`archive_ids.rs`): unique
//! across the service (XEP-0359 stanza-id scope) and never reused, since
//! seqs only grow and node ids are never given out twice. Pages are read by seq range, so a page costs
//! the same whatever the history's length; time bounds are found by binary
//! search over seqs (times grow with seqs, see `xep-notes/xep-0313.md`).

use super::archive_ids::ArchiveKey;
use super::error::{PubsubError, PubsubResult};
use super::names::NodeName;
use super::ops_publish::from_stored;
use super::service::Service;
use super::types::{Actor, HistoryEntry, HistoryEvent, HistoryPage, HistoryQuery};
use crate::store::{ArchiveEntry, NodeId, Store};

/// Exclusive seq bounds of a query: entries with `lower < seq < upper`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bounds {
    pub lower: u64,
    pub upper: u64,
}

impl<S: Store> Service<S> {
    /// XEP-0313 §4 query of a node's history (XEP-0442). Forward from the
    /// lower bound, or with `from_end` (RSM `<before/>`) the newest
    /// entries below the upper bound; oldest first either way.
    ///
    /// Errors: those of items retrieval (§6.5 access), and `ItemNotFound`
    /// when an ID cursor (`after`/`before`, RSM or form) is not in the
    /// history (trimmed, expired, or never there): resync.
    pub fn history(
        &self,
        actor: &Actor,
        node: &NodeName,
        q: &HistoryQuery,
    ) -> PubsubResult<HistoryPage> {
        let n = self.node(node)?;
        self.access().check_read(&n.meta, actor)?;
        let id = n.id;
        if n.meta.config.is_collection() {
            return self.collection_history(actor, id, n.high_seq, q);
        }
        if !q.ids.is_empty() {
            return self.history_by_ids(id, &q.ids);
        }
        let bounds = self.bounds(id, n.high_seq, q)?;
        let max = q.max.unwrap_or(usize::MAX).min(self.settings.max_page_size);
        let (entries, complete) = self.history_page(id, bounds, max, q.from_end)?;
        let unfiltered = q.after.is_empty() && q.before.is_empty();
        let unfiltered = unfiltered && q.start_ms.is_none() && q.end_ms.is_none();
        Ok(HistoryPage {
            entries: (entries.into_iter())
                .filter_map(|e| to_entry(&self.settings.archive_key, id, e))
                .collect(),
            complete,
            total: unfiltered.then_some(n.history),
        })
    }

    pub(super) fn bounds(
        &self,
        id: NodeId,
        high_seq: u64,
        q: &HistoryQuery,
    ) -> PubsubResult<Bounds> {
        let mut b = Bounds {
            lower: 0,
            upper: u64::MAX,
        };
        for after in &q.after {
            b.lower = b.lower.max(self.history_cursor(id, after)?);
        }
        for before in &q.before {
            b.upper = b.upper.min(self.history_cursor(id, before)?);
        }
        if let Some(start) = q.start_ms {
            let first = self.first_seq_at(id, high_seq, start)?;
            b.lower = b.lower.max(first.saturating_sub(1));
        }
        if let Some(end) = q.end_ms {
            b.upper = b
                .upper
                .min(self.first_seq_at(id, high_seq, end.saturating_add(1))?);
        }
        Ok(b)
    }

    /// The seq of an archive ID that is still in the history.
    pub(super) fn history_cursor(&self, id: NodeId, archive_id: &str) -> PubsubResult<u64> {
        let key = &self.settings.archive_key;
        let seq = key
            .seq_of(id, archive_id)
            .ok_or(PubsubError::ItemNotFound)?;
        match self.store.archive_contains(id, seq)? {
            true => Ok(seq),
            false => Err(PubsubError::ItemNotFound),
        }
    }

    /// The smallest seq `s` such that every entry at or after `s` is at or
    /// after `ms` (binary search: about log2(high_seq) one-entry reads).
    pub(super) fn first_seq_at(&self, id: NodeId, high_seq: u64, ms: u64) -> PubsubResult<u64> {
        let (mut lo, mut hi) = (1u64, high_seq.saturating_add(1));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let next = self.store.archive_after(id, mid - 1, 1)?;
            match next.first() {
                Some(e) if e.at_ms() < ms => lo = e.seq() + 1,
                _ => hi = mid,
            }
        }
        Ok(lo)
    }

    /// One page within `b`, and whether it reaches the end of the results
    /// in its direction (XEP-0313 `complete`).
    fn history_page(
        &self,
        id: NodeId,
        b: Bounds,
        max: usize,
        from_end: bool,
    ) -> PubsubResult<(Vec<ArchiveEntry>, bool)> {
        let want = max.saturating_add(1);
        let mut entries = match from_end {
            false => self.store.archive_after(id, b.lower, want)?,
            true => self.store.archive_before(id, b.upper, want)?,
        };
        entries.retain(|e| e.seq() > b.lower && e.seq() < b.upper);
        let complete = entries.len() <= max;
        if !complete {
            match from_end {
                false => entries.truncate(max),
                true => drop(entries.drain(..entries.len() - max)),
            }
        }
        Ok((entries, complete))
    }

    /// XEP-0313 `ids` (the #extended feature): the named entries that
    /// still exist, in history order.
    fn history_by_ids(&self, id: NodeId, ids: &[String]) -> PubsubResult<HistoryPage> {
        let mut seqs: Vec<u64> = (ids.iter().take(self.settings.max_page_size))
            .filter_map(|a| self.settings.archive_key.seq_of(id, a))
            .collect();
        seqs.sort_unstable();
        seqs.dedup();
        let mut entries = Vec::new();
        for seq in seqs {
            let found = self.store.archive_after(id, seq - 1, 1)?;
            entries.extend(found.into_iter().filter(|e| e.seq() == seq));
        }
        Ok(HistoryPage {
            entries: (entries.into_iter())
                .filter_map(|e| to_entry(&self.settings.archive_key, id, e))
                .collect(),
            complete: true,
            total: None,
        })
    }
}

fn to_entry(key: &ArchiveKey, node: NodeId, e: ArchiveEntry) -> Option<HistoryEntry> {
    let (seq, at_ms) = (e.seq(), e.at_ms());
    Some(HistoryEntry {
        archive_id: key.encode(node, seq),
        leaf: None,
        at_ms,
        event: event_of(e)?,
    })
}

/// The event a leaf's entry stands for; `None` for a link (only in a
/// collection's history, which resolves links to their leaf's entry).
pub(super) fn event_of(e: ArchiveEntry) -> Option<HistoryEvent> {
    match e {
        ArchiveEntry::Publish(item) => Some(HistoryEvent::Published(from_stored(item))),
        ArchiveEntry::Retract { id, .. } => Some(HistoryEvent::Retracted(id)),
        ArchiveEntry::Link { .. } => None,
    }
}
