//! The service's standing for `/metrics`, read at scrape time: items per
//! node, dead letters, and what each consumer group owes (items not yet
//! settled, and those a member holds right now).

use crate::store::Store;

use super::super::reserved::dead_letter_parent;
use super::super::service::Service;
use super::deliver::members_by_group;
use super::state::Group;

/// One snapshot, taken in one visit to the core.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceStats {
    /// Items stored per node.
    pub node_items: Vec<(String, u64)>,
    /// Items in the `<node>/dead-letter` nodes.
    pub dead_letters: u64,
    pub groups: Vec<GroupStats>,
    /// Bytes the store takes on local disk (`None`: not known).
    pub store_bytes: Option<u64>,
}

/// One consumer group's standing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupStats {
    pub node: String,
    pub group: String,
    /// Items the group has not settled: held, waiting to go out again, or
    /// never handed out (newer than the group's position). Items retracted
    /// before the group reached them count until it passes them.
    pub backlog: u64,
    /// Items a member holds now (handed out, neither acked nor expired).
    pub held: u64,
    /// Items never handed out (newer than the group's position).
    pub lag: u64,
    /// Items taken back (nack, timeout, member gone), waiting to go out again.
    pub waiting: u64,
    /// Items handed out again since the start (memory only).
    pub redeliveries: u64,
    /// Active subscriptions of the group, in subscription order.
    pub members: Vec<GroupMember>,
}

/// One member of a consumer group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    pub jid: String,
    pub subid: String,
    /// Items it may hold at once.
    pub credit: u32,
    /// Items it holds now.
    pub held: u32,
    /// Whether presence says it is reachable (unknown counts as yes).
    pub available: bool,
}

impl<S: Store> Service<S> {
    pub fn stats(&self) -> ServiceStats {
        let node_items = self.node_item_counts();
        let dead = node_items
            .iter()
            .filter(|(name, _)| dead_letter_parent(name).is_some());
        ServiceStats {
            dead_letters: dead.map(|(_, n)| n).sum(),
            groups: self.group_stats(),
            node_items,
            store_bytes: self.store.size_on_disk(),
        }
    }

    /// Every consumer group of every existing node.
    fn group_stats(&self) -> Vec<GroupStats> {
        let mut out = Vec::new();
        for (name, queues) in &self.queues.nodes {
            let Some(node) = self.nodes.get(name).filter(|n| n.id == queues.id) else {
                continue; // state of a deleted node, dropped at the next pump
            };
            let mut members = members_by_group(&node.meta);
            for (group, state) in &queues.groups {
                let mut stats = stats_of(name, group, state, node.high_seq);
                let listed = members.remove(group).unwrap_or_default();
                stats.members = (listed.into_iter())
                    .map(|m| GroupMember {
                        held: state.held_by(&m.subid),
                        available: self.queues.presence.is_available(&m.jid),
                        jid: m.jid.to_string(),
                        subid: m.subid,
                        credit: m.credit,
                    })
                    .collect();
                out.push(stats);
            }
        }
        out
    }
}

fn stats_of(node: &str, group: &str, state: &Group, high_seq: u64) -> GroupStats {
    let unsent = high_seq.saturating_sub(state.position);
    let held = state.entries.values().filter(|e| e.holder.is_some());
    let held = held.count() as u64;
    GroupStats {
        node: node.to_owned(),
        group: group.to_owned(),
        backlog: unsent + state.entries.len() as u64,
        held,
        lag: unsent,
        waiting: state.entries.len() as u64 - held,
        redeliveries: state.redeliveries,
        members: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::state::{Entry, Holder};
    use super::*;

    fn entry(held: bool) -> Entry {
        Entry {
            item_id: "i".into(),
            holder: held.then(|| Holder {
                jid: "bob@localhost/w".parse().unwrap(),
                subid: "s".into(),
            }),
            due_ms: 0,
            deliveries: 1,
        }
    }

    #[test]
    fn backlog_counts_unsent_held_and_waiting_items() {
        let mut group = Group::new(7);
        group.entries.insert(6, entry(true));
        group.entries.insert(7, entry(false));
        let stats = stats_of("jobs", "workers", &group, 10);
        assert_eq!((stats.backlog, stats.held), (3 + 2, 1));
        assert_eq!((stats.lag, stats.waiting), (3, 1));
        let caught_up = stats_of("jobs", "workers", &Group::new(10), 10);
        assert_eq!((caught_up.backlog, caught_up.held), (0, 0));
    }
}
