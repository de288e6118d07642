//! A node's history read as an event log, for the consumers that follow
//! it by cursor rather than by subscription: the SSE stream and webhook
//! delivery (docs/architecture.md, "The log, three ways out").
//!
//! Two halves. The journal: every history entry written by a job (a
//! publication or a retraction, XMPP, HTTP or chat alike), taken by the
//! caller after the batch's flush and handed to live followers. The page:
//! the entries after a cursor, read from the store, so a follower that
//! was away (or is behind) catches up from the same history MAM serves.
//! Both carry the same [`LogEvent`], whose `archive_id` is the stanza-id
//! of the XMPP notification and a MAM cursor.

use std::sync::Arc;

use jid::BareJid;

use super::error::{PubsubError, PubsubResult};
use super::names::NodeName;
use super::service::Service;
use super::types::Item;
use crate::store::{ArchiveEntry, NodeId, Store};

/// One entry of a node's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    pub node: String,
    /// The node's internal id: a node deleted and made again under the
    /// same name has a new one (and its seqs start over).
    pub node_id: NodeId,
    /// Position in the node's history (grows by one per entry).
    pub seq: u64,
    /// The entry's archive ID (XEP-0359 stanza-id, XEP-0313 cursor).
    pub archive_id: String,
    pub at_ms: u64,
    pub kind: LogKind,
    /// In a collection's log (XEP-0248): the leaf the event happened on
    /// (`node` is then the collection, `seq` and `archive_id` its own).
    pub leaf: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogKind {
    Item {
        id: String,
        publisher: Option<BareJid>,
        /// The serialized XML payload, if any.
        payload: Option<Arc<str>>,
    },
    Retract {
        id: String,
    },
}

impl LogKind {
    pub fn item_id(&self) -> &str {
        match self {
            LogKind::Item { id, .. } | LogKind::Retract { id } => id,
        }
    }
}

/// Where a reader starts: it gets the entries *after* this point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogCursor {
    /// After entry `seq` (0: from the first entry).
    Seq(u64),
    /// After the entry with this archive ID (SSE `Last-Event-ID`).
    ArchiveId(String),
    /// After the newest publication of this item.
    Item(String),
    /// The entries at or after this time (ms since the Unix epoch).
    Since(u64),
    /// Nothing that exists yet: only what comes next.
    Now,
}

/// A page of entries, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPage {
    /// See [`LogEvent::node_id`].
    pub node_id: NodeId,
    pub events: Vec<LogEvent>,
    /// The seq the page starts after: the resolved cursor. For a cursor
    /// older than the history, the seq before the oldest entry kept.
    pub after: u64,
    /// The node's newest seq when the page was read.
    pub high_seq: u64,
    /// No entry after the page (the reader is caught up).
    pub complete: bool,
    /// The cursor was older than the history: entries after it were
    /// trimmed (retention, `history_max_entries`) and the reader lost
    /// them. The page then starts at the oldest entry kept.
    pub trimmed: bool,
}

impl<S: Store> Service<S> {
    /// Records history entries for [`Service::take_journal`] from now on
    /// (`true`), or stops and drops what is recorded (`false`).
    pub fn set_journal(&mut self, on: bool) {
        match on {
            true => drop(self.journal.get_or_insert_with(Vec::new)),
            false => self.journal = None,
        }
    }

    /// Every history entry written since the last call (empty when the
    /// journal is off). Hand them on only after the flush succeeded.
    pub fn take_journal(&mut self) -> Vec<LogEvent> {
        self.journal
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    pub(crate) fn journal_items(&mut self, node: &str, node_id: NodeId, items: &[Item]) {
        if let Some(journal) = self.journal.as_mut() {
            let key = &self.settings.archive_key;
            journal.extend(items.iter().map(|i| LogEvent {
                node: node.to_owned(),
                node_id,
                seq: i.seq,
                archive_id: key.encode(node_id, i.seq),
                at_ms: i.published_ms,
                kind: LogKind::Item {
                    id: i.id.clone(),
                    publisher: i.publisher.clone(),
                    payload: i.payload.clone(),
                },
                leaf: None,
            }));
        }
    }

    pub(crate) fn journal_retract(
        &mut self,
        node: &str,
        node_id: NodeId,
        seq: u64,
        at_ms: u64,
        id: &str,
    ) {
        if let Some(journal) = self.journal.as_mut() {
            journal.push(LogEvent {
                node: node.to_owned(),
                node_id,
                seq,
                archive_id: self.settings.archive_key.encode(node_id, seq),
                at_ms,
                kind: LogKind::Retract { id: id.to_owned() },
                leaf: None,
            });
        }
    }

    /// Up to `max` entries of `node`'s history after `cursor`. Access is
    /// the caller's (HTTP checks the token's node patterns).
    ///
    /// Errors: `NodeNotFound`; `ItemNotFound` for an archive ID that is
    /// not one of this node's, or an item the node does not hold;
    /// A collection's page holds its leaves' events (`LogEvent::leaf`),
    /// every leaf's: the caller filters them by its own access rule.
    pub fn log_page(
        &self,
        node: &NodeName,
        cursor: &LogCursor,
        max: usize,
    ) -> PubsubResult<LogPage> {
        let n = self.node(node)?;
        let (id, high_seq) = (n.id, n.high_seq);
        let wanted = match cursor {
            LogCursor::Seq(seq) => *seq,
            LogCursor::ArchiveId(archive_id) => (self.settings.archive_key)
                .seq_of(id, archive_id)
                .ok_or(PubsubError::ItemNotFound)?,
            LogCursor::Item(item) => self
                .store
                .item_seq(id, item)?
                .ok_or(PubsubError::ItemNotFound)?,
            LogCursor::Since(ms) => self.first_seq_at(id, high_seq, *ms)?.saturating_sub(1),
            LogCursor::Now => high_seq,
        }
        .min(high_seq);
        let max = max.clamp(1, self.settings.max_page_size.max(1));
        if n.meta.config.is_collection() {
            return self.collection_log_page(node, id, high_seq, wanted, max);
        }
        let mut entries = self.store.archive_after(id, wanted, max + 1)?;
        let complete = entries.len() <= max;
        entries.truncate(max);
        // Entries after the cursor that the history no longer holds: the
        // reader lost them and must be told (SSE `reset`). A seq handed
        // out by a write that failed also reads as trimmed: a false alarm
        // is better than a silent loss.
        let (trimmed, after) =
            resolved_start(wanted, high_seq, entries.first().map(ArchiveEntry::seq));
        let key = &self.settings.archive_key;
        Ok(LogPage {
            node_id: id,
            trimmed,
            events: (entries.into_iter())
                .filter_map(|e| to_event(key, node, id, e))
                .collect(),
            after,
            high_seq,
            complete,
        })
    }

    /// Node names the `matches` filter keeps, with their newest seq (what
    /// a webhook endpoint follows).
    pub fn log_heads(&self, matches: impl Fn(&str) -> bool) -> Vec<(String, u64)> {
        (self.nodes.iter())
            .filter(|(name, _)| matches(name))
            .map(|(name, n)| (name.clone(), n.high_seq))
            .collect()
    }
}

/// Whether entries after `wanted` were trimmed, given the seq of the
/// oldest entry after it (`oldest`), and the seq a page then starts after.
pub(super) fn resolved_start(wanted: u64, high_seq: u64, oldest: Option<u64>) -> (bool, u64) {
    let trimmed = wanted < high_seq && oldest.is_none_or(|first| first > wanted + 1);
    let after = match (trimmed, oldest) {
        (true, Some(first)) => first - 1,
        (true, None) => high_seq,
        (false, _) => wanted,
    };
    (trimmed, after)
}

/// `None` for a link: a collection's page resolves them first.
fn to_event(key: &super::ArchiveKey, node: &str, id: NodeId, e: ArchiveEntry) -> Option<LogEvent> {
    let (seq, at_ms) = (e.seq(), e.at_ms());
    let kind = match e {
        ArchiveEntry::Publish(item) => {
            let item = super::ops_publish::from_stored(item);
            LogKind::Item {
                id: item.id,
                publisher: item.publisher,
                payload: item.payload,
            }
        }
        ArchiveEntry::Retract { id, .. } => LogKind::Retract { id },
        ArchiveEntry::Link { .. } => return None,
    };
    Some(LogEvent {
        node: node.to_owned(),
        node_id: id,
        seq,
        archive_id: key.encode(id, seq),
        at_ms,
        kind,
        leaf: None,
    })
}
