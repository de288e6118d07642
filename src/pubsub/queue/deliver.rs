//! Handing items to members: group creation at the chosen start, giving
//! back entries of members that left, and filling every member's credit
//! from waiting entries first, then from the node's newer items.

use jid::Jid;
use std::collections::BTreeMap;

use super::state::{Entry, Group, Holder, NodeQueues};
use super::{DeadLetter, Work};
use crate::pubsub::error::PubsubError;
use crate::pubsub::node::NodeMeta;
use crate::pubsub::node_config::NotificationType;
use crate::pubsub::notify::{Event, Notification, Recipient};
use crate::pubsub::ops_publish::from_stored;
use crate::pubsub::service::Service;
use crate::pubsub::sub_options::QueueStart;
use crate::pubsub::types::Item;
use crate::store::{NodeId, Store};

/// A group member as the pump sees it.
#[derive(Debug, Clone)]
pub(super) struct Member {
    pub jid: Jid,
    pub subid: String,
    pub credit: u32,
    /// The JID holds several subscriptions to the node: SHIM SubID needed.
    pub several: bool,
    pub start: Option<QueueStart>,
}

/// Active members of the node's groups, by group name, in subscription order.
pub(super) fn members_by_group(meta: &NodeMeta) -> BTreeMap<String, Vec<Member>> {
    let mut out: BTreeMap<String, Vec<Member>> = BTreeMap::new();
    let subs = meta.subscriptions.iter();
    for s in subs.filter(|s| s.is_active() && s.options.is_queue_member()) {
        let several = meta.subscriptions.iter().filter(|o| o.jid == s.jid).count() > 1;
        out.entry(s.options.group_name().to_owned())
            .or_default()
            .push(Member {
                jid: s.jid.clone(),
                subid: s.subid.clone(),
                credit: s.options.credit(),
                several,
                start: s.options.queue_start.clone(),
            });
    }
    out
}

/// What a node's deliveries look like.
pub(super) struct NodeCtx {
    pub name: String,
    pub id: NodeId,
    pub high_seq: u64,
    pub message_type: NotificationType,
    pub include_payload: bool,
}

impl NodeCtx {
    /// A notification of `event` to one member.
    pub fn note(&self, jid: &Jid, subid: Option<&str>, event: Event) -> Notification {
        let mut to = Recipient::plain(jid.clone());
        to.subids.extend(subid.map(str::to_owned));
        Notification {
            node: self.name.clone(),
            message_type: self.message_type,
            event,
            recipients: vec![to],
            archive_id: None,
            collection: None,
            item_archive_ids: Vec::new(),
        }
    }
}

/// Takes an entry back from its holder: dead-lettered when it has had
/// `max_deliveries`, else waiting (after a backoff when `failed`).
pub(super) fn take_back(
    q: &mut super::Queues,
    nq_id: NodeId,
    (node, group_name): (&str, &str),
    group: &mut Group,
    seq: u64,
    (now, failed): (u64, bool),
    work: &mut Work,
) {
    let Some(entry) = group.entries.get_mut(&seq) else {
        return;
    };
    entry.holder = None;
    if entry.deliveries >= q.settings.max_deliveries {
        let deliveries = entry.deliveries;
        group.entries.remove(&seq);
        q.log.entry(nq_id, group_name, seq, None);
        work.dead.push(DeadLetter {
            node: node.to_owned(),
            group: group_name.to_owned(),
            seq,
            deliveries,
        });
        return;
    }
    entry.due_ms = match failed {
        true => now + q.settings.backoff(entry.deliveries),
        false => now,
    };
    q.log.entry(nq_id, group_name, seq, Some(entry));
}

/// Picks the next member with free credit, round robin.
fn pick(next: &mut usize, free: &mut [u32]) -> Option<usize> {
    let n = free.len();
    for k in 0..n {
        let i = (*next + k) % n;
        if free[i] > 0 {
            free[i] -= 1;
            *next = (i + 1) % n;
            return Some(i);
        }
    }
    None
}

impl<S: Store> Service<S> {
    /// Delivers what the node's groups can take now: creates groups for
    /// new members, gives back items of members that left, fills credit.
    /// Call after any change to the node (publish, subscribe, options).
    ///
    /// Errors: `Internal` (store).
    pub fn queue_pump(&mut self, name: &str, now: u64) -> Result<Vec<Notification>, PubsubError> {
        let mut work = Work::default();
        self.pump_into(name, now, &mut work)?;
        self.finish(work, now)
    }

    pub(super) fn node_ctx(&self, name: &str) -> Option<NodeCtx> {
        let node = self.nodes.get(name)?;
        Some(NodeCtx {
            name: name.to_owned(),
            id: node.id,
            high_seq: node.high_seq,
            message_type: node.meta.config.notification_type,
            include_payload: node.meta.config.deliver_payloads,
        })
    }

    pub(super) fn pump_into(
        &mut self,
        name: &str,
        now: u64,
        work: &mut Work,
    ) -> Result<(), PubsubError> {
        let Some(node) = self.nodes.get(name) else {
            if let Some(old) = self.queues.nodes.remove(name) {
                self.queues.log.drop_node(old.id);
            }
            return Ok(());
        };
        let members = members_by_group(&node.meta);
        let persistent = node.meta.config.persist_items;
        if !persistent || (members.is_empty() && !self.queues.nodes.contains_key(name)) {
            return Ok(());
        }
        let Some(ctx) = self.node_ctx(name) else {
            return Ok(());
        };
        let mut nq = self.queues.take(name, ctx.id);
        let result = self.pump_groups(&ctx, &mut nq, &members, now, work);
        self.queues.nodes.insert(name.to_owned(), nq);
        result
    }

    fn pump_groups(
        &mut self,
        ctx: &NodeCtx,
        nq: &mut NodeQueues,
        members: &BTreeMap<String, Vec<Member>>,
        now: u64,
        work: &mut Work,
    ) -> Result<(), PubsubError> {
        for (name, ms) in members {
            if !nq.groups.contains_key(name) {
                let position = self.start_position(ctx, ms)?;
                nq.groups.insert(name.clone(), Group::new(position));
                self.queues.log.position(ctx.id, name, position);
            }
        }
        for (name, group) in nq.groups.iter_mut() {
            let ms = members.get(name).map_or(&[][..], Vec::as_slice);
            self.release_orphans(ctx, name, group, ms, now, work);
            self.fill_group(ctx, name, group, ms, now, work)?;
        }
        Ok(())
    }

    /// Where a new group starts: the first member's `queue_start` decides.
    fn start_position(&self, ctx: &NodeCtx, ms: &[Member]) -> Result<u64, PubsubError> {
        Ok(match ms.iter().find_map(|m| m.start.clone()) {
            None | Some(QueueStart::Newest) => ctx.high_seq,
            Some(QueueStart::Oldest) => 0,
            // An unknown ID starts from the oldest item: duplicates, no loss.
            Some(QueueStart::After(id)) => self.store.item_seq(ctx.id, &id)?.unwrap_or(0),
        })
    }

    /// Entries held by subscriptions that are no longer members go back.
    fn release_orphans(
        &mut self,
        ctx: &NodeCtx,
        name: &str,
        group: &mut Group,
        ms: &[Member],
        now: u64,
        work: &mut Work,
    ) {
        let orphans: Vec<u64> = (group.entries.iter())
            .filter(|(_, e)| {
                e.holder
                    .as_ref()
                    .is_some_and(|h| !ms.iter().any(|m| m.subid == h.subid))
            })
            .map(|(seq, _)| *seq)
            .collect();
        for seq in orphans {
            let key = (ctx.name.as_str(), name);
            take_back(
                &mut self.queues,
                ctx.id,
                key,
                group,
                seq,
                (now, false),
                work,
            );
        }
    }

    /// Fills every available member's free credit: waiting entries that
    /// are due first (oldest first), then items after the position.
    fn fill_group(
        &mut self,
        ctx: &NodeCtx,
        name: &str,
        group: &mut Group,
        ms: &[Member],
        now: u64,
        work: &mut Work,
    ) -> Result<(), PubsubError> {
        let presence = &self.queues.presence;
        let mut free: Vec<u32> = (ms.iter())
            .map(|m| match presence.is_available(&m.jid) {
                true => m.credit.saturating_sub(group.held_by(&m.subid)),
                false => 0,
            })
            .collect();
        let budget: u32 = free.iter().sum();
        if budget == 0 {
            return Ok(());
        }
        let due: Vec<u64> = (group.entries.iter())
            .filter(|(_, e)| e.holder.is_none() && e.due_ms <= now)
            .map(|(seq, _)| *seq)
            .take(budget as usize)
            .collect();
        for seq in due {
            let Some(item) = self.item_at(ctx.id, seq)? else {
                group.entries.remove(&seq);
                self.queues.log.entry(ctx.id, name, seq, None);
                continue;
            };
            let Some(i) = pick(&mut group.next_member, &mut free) else {
                return Ok(());
            };
            self.hand_out(ctx, name, group, (seq, item), &ms[i], now, work);
        }
        self.fill_new(ctx, name, group, ms, &mut free, now, work)
    }

    /// Items after the group's position, as far as credit goes.
    #[allow(clippy::too_many_arguments)]
    fn fill_new(
        &mut self,
        ctx: &NodeCtx,
        name: &str,
        group: &mut Group,
        ms: &[Member],
        free: &mut [u32],
        now: u64,
        work: &mut Work,
    ) -> Result<(), PubsubError> {
        let budget: u32 = free.iter().sum();
        if budget == 0 || group.position >= ctx.high_seq {
            return Ok(());
        }
        let before = group.position;
        let items = self
            .store
            .items_after(ctx.id, group.position, budget as usize)?;
        for stored in items {
            let Some(i) = pick(&mut group.next_member, free) else {
                break;
            };
            let seq = stored.seq;
            group.position = seq;
            let entry = Entry {
                item_id: stored.id.clone(),
                holder: None,
                due_ms: now,
                deliveries: 0,
            };
            group.entries.insert(seq, entry);
            let item = from_stored(stored);
            self.hand_out(ctx, name, group, (seq, item), &ms[i], now, work);
        }
        if group.position != before {
            self.queues.log.position(ctx.id, name, group.position);
        }
        Ok(())
    }

    /// The item with exactly this seq (`None` if retracted or replaced).
    pub(super) fn item_at(&self, node: NodeId, seq: u64) -> Result<Option<Item>, PubsubError> {
        let next = self.store.items_after(node, seq.saturating_sub(1), 1)?;
        Ok(next.into_iter().find(|i| i.seq == seq).map(from_stored))
    }

    #[allow(clippy::too_many_arguments)]
    fn hand_out(
        &mut self,
        ctx: &NodeCtx,
        name: &str,
        group: &mut Group,
        (seq, item): (u64, Item),
        member: &Member,
        now: u64,
        work: &mut Work,
    ) {
        let Some(entry) = group.entries.get_mut(&seq) else {
            return;
        };
        entry.holder = Some(Holder {
            jid: member.jid.clone(),
            subid: member.subid.clone(),
        });
        entry.deliveries += 1;
        entry.due_ms = now + self.queues.settings.ack_timeout_ms;
        let again = entry.deliveries > 1;
        self.queues.log.entry(ctx.id, name, seq, Some(entry));
        group.redeliveries += u64::from(again);
        let event = Event::Items {
            items: vec![item],
            include_payload: ctx.include_payload,
            last_published: false,
        };
        let subid = member.several.then_some(member.subid.as_str());
        work.notes.push(ctx.note(&member.jid, subid, event));
    }
}
