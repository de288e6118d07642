//! A collection's own history (XEP-0248 catch-up, issue 17): every event
//! of a leaf below a collection (any depth) also gets an entry in the
//! collection's history, numbered by the collection's own seq, written in
//! the same atomic write as the leaf's entry. That seq orders the events
//! of all the leaves, so one cursor, the entry's archive ID (collection
//! id, collection seq), means the same whichever leaf an entry came from.
//! The entry is a link to the leaf's entry ([`ArchiveEntry::Link`]), not
//! a copy; reading resolves it, skipping leaves the reader may not read
//! and leaves that are gone (`xep-notes/decisions.md`, "One history per
//! collection").

use std::collections::HashMap;

use super::collections::ancestors;
use super::error::PubsubResult;
use super::log::{LogEvent, LogKind, LogPage, resolved_start};
use super::ops_history::{Bounds, event_of};
use super::service::Service;
use super::types::{
    Actor, HistoryEntry, HistoryEvent, HistoryPage, HistoryQuery, ItemVia, ItemsPage,
};
use crate::store::{ArchiveEntry, NodeId, Store};

/// Per collection above a leaf: its name and the seqs its history gave
/// the leaf's events, in their order.
pub(crate) type CollectionSeqs = Vec<(String, Vec<u64>)>;

/// The collections' entries for some events of one leaf, before they are
/// written: the store writes, and per collection the seqs it gave (in the
/// order of the leaf's events).
#[derive(Debug, Default)]
pub(crate) struct Links {
    pub writes: Vec<(NodeId, ArchiveEntry)>,
    pub seqs: CollectionSeqs,
}

/// A collection entry resolved to the leaf entry it links to.
struct Resolved {
    seq: u64,
    leaf: String,
    leaf_id: NodeId,
    entry: ArchiveEntry,
}

/// How far a walk of a collection's history goes, and what it keeps.
struct Walk {
    bounds: Bounds,
    /// Stop once this many entries are kept.
    want: usize,
    /// Newest first (RSM `<before/>`), else oldest first.
    from_end: bool,
    /// Only publications whose item is still current (items retrieval).
    current_only: bool,
}

impl<S: Store> Service<S> {
    /// Links for `events` (leaf seq, time) of `leaf` in every collection
    /// above it. The seqs are taken now: a failed write still moves each
    /// collection's high-water past them, so none is given twice. Empty,
    /// without a graph walk, for a node in no collection.
    pub(crate) fn plan_links(&mut self, leaf: &str, events: &[(u64, u64)]) -> Links {
        let mut links = Links::default();
        let Some(l) = self.nodes.get(leaf) else {
            return links;
        };
        if l.meta.config.collections.is_empty() || events.is_empty() {
            return links;
        }
        let leaf_id = l.id;
        let above: Vec<String> = ancestors(leaf, |n| self.parents_of(n))
            .into_keys()
            .collect();
        for collection in above {
            let Some(c) = self.nodes.get_mut(&collection) else {
                continue;
            };
            let mut seqs = Vec::with_capacity(events.len());
            for &(leaf_seq, at_ms) in events {
                c.high_seq += 1;
                seqs.push(c.high_seq);
                let link = ArchiveEntry::Link {
                    seq: c.high_seq,
                    leaf: leaf_id,
                    leaf_seq,
                    at_ms,
                };
                links.writes.push((c.id, link));
            }
            links.seqs.push((collection, seqs));
        }
        links
    }

    /// After the links were written: counted in each collection's
    /// history, whose retention limits then apply.
    pub(crate) fn links_written(&mut self, links: &Links, at_ms: u64) -> PubsubResult<()> {
        for (collection, seqs) in &links.seqs {
            self.after_append(collection, at_ms, seqs.len() as u64)?;
        }
        Ok(())
    }

    /// Records the links of `events` (the leaf's, in the links' order) for
    /// [`Service::take_journal`]: live SSE and webhook followers of a
    /// collection see the event under the collection's seq.
    pub(crate) fn journal_links(&mut self, links: &Links, leaf: &str, events: &[(u64, LogKind)]) {
        if self.journal.is_none() || links.seqs.is_empty() {
            return;
        }
        let key = self.settings.archive_key.clone();
        let mut out = Vec::new();
        for (collection, seqs) in &links.seqs {
            let Some(c) = self.nodes.get(collection) else {
                continue;
            };
            for (&seq, (at_ms, kind)) in seqs.iter().zip(events) {
                out.push(LogEvent {
                    node: collection.clone(),
                    node_id: c.id,
                    seq,
                    archive_id: key.encode(c.id, seq),
                    at_ms: *at_ms,
                    kind: kind.clone(),
                    leaf: Some(leaf.to_owned()),
                });
            }
        }
        if let Some(journal) = self.journal.as_mut() {
            journal.extend(out);
        }
    }

    /// A page of a collection's log after seq `wanted` (see
    /// [`Service::log_page`]): its leaves' events, every leaf's (the
    /// caller applies its access rule), links to entries that are gone
    /// skipped. A page that is not `complete` is full, so its last event
    /// moves the reader on.
    pub(super) fn collection_log_page(
        &self,
        node: &str,
        id: NodeId,
        high_seq: u64,
        wanted: u64,
        max: usize,
    ) -> PubsubResult<LogPage> {
        let oldest = self.store.archive_after(id, wanted, 1)?;
        let (trimmed, after) = resolved_start(wanted, high_seq, oldest.first().map(|e| e.seq()));
        let walk = Walk {
            bounds: Bounds {
                lower: after,
                upper: u64::MAX,
            },
            want: max.saturating_add(1),
            from_end: false,
            current_only: false,
        };
        let (entries, complete) = self.walk_page(&Actor::System, id, walk, max)?;
        let key = &self.settings.archive_key;
        let events = entries.into_iter().filter_map(|r| {
            let at_ms = r.entry.at_ms();
            let kind = match event_of(r.entry)? {
                HistoryEvent::Published(item) => LogKind::Item {
                    id: item.id,
                    publisher: item.publisher,
                    payload: item.payload,
                },
                HistoryEvent::Retracted(id) => LogKind::Retract { id },
            };
            Some(LogEvent {
                node: node.to_owned(),
                node_id: id,
                seq: r.seq,
                archive_id: key.encode(id, r.seq),
                at_ms,
                kind,
                leaf: Some(r.leaf),
            })
        });
        Ok(LogPage {
            node_id: id,
            events: events.collect(),
            after,
            high_seq,
            complete,
            trimmed,
        })
    }

    /// XEP-0313 query of a collection's history: the events of the leaves
    /// the actor may read, in the collection's order. Cursors are the
    /// collection's archive IDs. No `<count/>`: entries of leaves the actor
    /// may not read are not counted either.
    pub(super) fn collection_history(
        &self,
        actor: &Actor,
        id: NodeId,
        high_seq: u64,
        q: &HistoryQuery,
    ) -> PubsubResult<HistoryPage> {
        if !q.ids.is_empty() {
            let names = self.names_by_id();
            let mut readable = HashMap::new();
            let mut entries = Vec::new();
            let key = &self.settings.archive_key;
            let mut seqs: Vec<u64> = (q.ids.iter().take(self.settings.max_page_size))
                .filter_map(|a| key.seq_of(id, a))
                .collect();
            seqs.sort_unstable();
            seqs.dedup();
            for seq in seqs {
                let found = self.store.archive_after(id, seq - 1, 1)?;
                for link in found.into_iter().filter(|e| e.seq() == seq) {
                    entries.extend(self.resolve(actor, &names, &mut readable, link)?);
                }
            }
            return Ok(self.history_page_of(id, entries, true));
        }
        let max = q.max.unwrap_or(usize::MAX).min(self.settings.max_page_size);
        let walk = Walk {
            bounds: self.bounds(id, high_seq, q)?,
            want: max.saturating_add(1),
            from_end: q.from_end,
            current_only: false,
        };
        let (entries, complete) = self.walk_page(actor, id, walk, max)?;
        Ok(self.history_page_of(id, entries, complete))
    }

    /// XEP-0248 §4.2 items of a collection: the current items of the
    /// leaves the actor may read, in the order of their publication in the
    /// collection's history (a republished item sits at its latest
    /// publication; retracted ones are gone). `after`/`before`: collection
    /// archive IDs (RSM cursors); `from_end`: the newest page.
    pub(super) fn collection_items(
        &self,
        actor: &Actor,
        id: NodeId,
        after: Option<&str>,
        before: Option<&str>,
        max: usize,
        from_end: bool,
    ) -> PubsubResult<ItemsPage> {
        let mut bounds = Bounds {
            lower: 0,
            upper: u64::MAX,
        };
        if let Some(a) = after {
            bounds.lower = self.history_cursor(id, a)?;
        }
        if let Some(b) = before {
            bounds.upper = self.history_cursor(id, b)?;
        }
        let walk = Walk {
            bounds,
            want: max,
            from_end,
            current_only: true,
        };
        let (entries, _) = self.walk_page(actor, id, walk, max)?;
        let key = &self.settings.archive_key;
        let mut page = ItemsPage {
            total: self.readable_items_below(actor, id),
            ..ItemsPage::default()
        };
        for r in entries {
            if let Some(HistoryEvent::Published(item)) = event_of(r.entry) {
                page.items.push(item);
                page.via.push(ItemVia {
                    leaf: r.leaf,
                    archive_id: key.encode(id, r.seq),
                });
            }
        }
        Ok(page)
    }

    /// Walks the collection's history within the bounds, in the walk's
    /// direction, until `want` entries are kept or the history ends.
    /// Returns at most `max` of them, oldest first, and whether none was
    /// left over (XEP-0313 `complete`). Reads chunks of links, so a page
    /// that skips unreadable leaves costs more reads, never a scan of
    /// more than it walks.
    fn walk_page(
        &self,
        actor: &Actor,
        id: NodeId,
        walk: Walk,
        max: usize,
    ) -> PubsubResult<(Vec<Resolved>, bool)> {
        let names = self.names_by_id();
        let mut readable = HashMap::new();
        let Bounds {
            mut lower,
            mut upper,
        } = walk.bounds;
        let chunk = walk.want.clamp(1, 256);
        let mut kept = Vec::new();
        'walk: while kept.len() < walk.want && lower.saturating_add(1) < upper {
            let mut raw = match walk.from_end {
                false => self.store.archive_after(id, lower, chunk)?,
                true => self.store.archive_before(id, upper, chunk)?,
            };
            if raw.is_empty() {
                break;
            }
            if walk.from_end {
                raw.reverse();
            }
            for link in raw {
                let seq = link.seq();
                if seq <= lower || seq >= upper {
                    break 'walk;
                }
                match walk.from_end {
                    false => lower = seq,
                    true => upper = seq,
                }
                let Some(r) = self.resolve(actor, &names, &mut readable, link)? else {
                    continue;
                };
                if walk.current_only && !self.is_current(&r)? {
                    continue;
                }
                kept.push(r);
                if kept.len() >= walk.want {
                    break 'walk;
                }
            }
        }
        let complete = kept.len() <= max;
        kept.truncate(max);
        if walk.from_end {
            kept.reverse();
        }
        Ok((kept, complete))
    }

    /// The leaf entry a link points at, if the leaf still exists, the
    /// actor may read it (`readable` caches that per leaf) and the entry is
    /// still in its history.
    fn resolve(
        &self,
        actor: &Actor,
        names: &HashMap<NodeId, &str>,
        readable: &mut HashMap<NodeId, bool>,
        link: ArchiveEntry,
    ) -> PubsubResult<Option<Resolved>> {
        let ArchiveEntry::Link {
            seq,
            leaf,
            leaf_seq,
            ..
        } = link
        else {
            return Ok(None);
        };
        let Some(&name) = names.get(&leaf) else {
            return Ok(None);
        };
        let may = match readable.get(&leaf) {
            Some(&may) => may,
            None => {
                let meta = &self.node(name)?.meta;
                let may = self.access().check_read(meta, actor).is_ok();
                readable.insert(leaf, may);
                may
            }
        };
        if !may {
            return Ok(None);
        }
        let found = self
            .store
            .archive_after(leaf, leaf_seq.saturating_sub(1), 1)?;
        Ok(found
            .into_iter()
            .find(|e| e.seq() == leaf_seq)
            .map(|entry| Resolved {
                seq,
                leaf: name.to_owned(),
                leaf_id: leaf,
                entry,
            }))
    }

    /// Whether a resolved publication is its item's current version.
    fn is_current(&self, r: &Resolved) -> PubsubResult<bool> {
        let ArchiveEntry::Publish(item) = &r.entry else {
            return Ok(false);
        };
        Ok(self.store.item_seq(r.leaf_id, &item.id)? == Some(item.seq))
    }

    fn history_page_of(&self, id: NodeId, entries: Vec<Resolved>, complete: bool) -> HistoryPage {
        let key = &self.settings.archive_key;
        let entries = entries.into_iter().filter_map(|r| {
            let (seq, at_ms) = (r.seq, r.entry.at_ms());
            Some(HistoryEntry {
                archive_id: key.encode(id, seq),
                leaf: Some(r.leaf),
                at_ms,
                event: event_of(r.entry)?,
            })
        });
        HistoryPage {
            entries: entries.collect(),
            complete,
            total: None,
        }
    }

    /// Node names by store id (links name their leaf by id).
    fn names_by_id(&self) -> HashMap<NodeId, &str> {
        (self.nodes.iter())
            .map(|(name, n)| (n.id, name.as_str()))
            .collect()
    }

    /// Items held now by the leaves below collection `id` that the actor
    /// may read (the `<count/>` of an items page; items published before
    /// a leaf joined are counted, though the collection's history does not
    /// list them).
    fn readable_items_below(&self, actor: &Actor, id: NodeId) -> u64 {
        let names = self.names_by_id();
        let Some(&collection) = names.get(&id) else {
            return 0;
        };
        let access = self.access();
        (self.nodes.iter())
            .filter(|(_, n)| !n.meta.config.is_collection())
            .filter(|(name, _)| ancestors(name, |x| self.parents_of(x)).contains_key(collection))
            .filter(|(_, n)| access.check_read(&n.meta, actor).is_ok())
            .map(|(_, n)| n.count)
            .sum()
    }

    /// The store id of `node` if it is a collection the actor may read;
    /// `None` for a leaf (read by the leaf's own paths).
    pub(super) fn readable_collection(
        &self,
        actor: &Actor,
        node: &str,
    ) -> PubsubResult<Option<NodeId>> {
        let n = self.node(node)?;
        if !n.meta.config.is_collection() {
            return Ok(None);
        }
        self.access().check_read(&n.meta, actor)?;
        Ok(Some(n.id))
    }
}
