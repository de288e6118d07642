//! Settling held items: ack (retract or ack IQ), unlock (nack), ack
//! deadlines, and members that went unavailable.

use crate::pubsub::names::{ItemId, NodeName};
use jid::Jid;

use super::deliver::{NodeCtx, take_back};
use super::state::NodeQueues;
use super::{QueueError, Work};
use crate::pubsub::notify::Event;
use crate::pubsub::service::Service;
use crate::pubsub::types::{Actor, Outcome};
use crate::store::Store;

/// How a member settles items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// XEP-0254 §2.3 retract: ack, and a `<retract/>` notice to the member.
    Retract,
    /// The ack IQ: ack only.
    Ack,
    /// XEP-0254 §2.4: give the item back (counts as a failed delivery),
    /// with an `<unlock/>` notice to the member.
    Unlock,
}

/// (group, seq) of entries held by the requester.
type Held = Vec<(String, u64)>;

impl<S: Store> Service<S> {
    /// A member (`from`, full or bare JID) settles `item_ids` it holds on
    /// `node`, all or none. Acked items leave the member's group only; the
    /// node keeps them for other groups and plain subscribers. Freed
    /// credit is filled at once.
    ///
    /// Errors: `Pubsub(NodeNotFound)`, `NotMember` (no group subscription
    /// of `from` here), `LockedByOther`, `NotLocked`,
    /// `Pubsub(ItemNotFound)` (no such item at all), `Pubsub(Internal)`.
    pub fn queue_settle(
        &mut self,
        from: &Jid,
        node: &NodeName,
        item_ids: &[ItemId],
        how: Settle,
        now: u64,
    ) -> Result<Outcome<()>, QueueError> {
        let ctx = self
            .node_ctx(node)
            .ok_or(QueueError::Pubsub(crate::pubsub::PubsubError::NodeNotFound))?;
        let mine = self.member_subs(node, from);
        if mine.is_empty() {
            return Err(QueueError::NotMember);
        }
        let mut nq = self.queues.take(node, ctx.id);
        let held = self.locate_all(&ctx, &nq, &mine, item_ids);
        let result = held.map(|held| self.apply(&ctx, &mut nq, held, how, now));
        self.queues.nodes.insert(node.to_string(), nq);
        let mut work = result?;
        if how == Settle::Retract {
            let event = Event::Retract {
                item_ids: item_ids.iter().map(ItemId::to_string).collect(),
            };
            work.notes.push(ctx.note(from, None, event));
        }
        self.pump_into(node, now, &mut work)?;
        let notifications = self.finish(work, now)?;
        Ok(Outcome {
            reply: (),
            notifications,
            published: Vec::new(),
        })
    }

    /// §7.2 retract by `from` (full or bare JID): a group member's retract
    /// of an item it holds is its ack, for its group only (XEP-0254 §2.3);
    /// otherwise a plain retract by the sender's bare JID (no member, or a
    /// publisher retracting an item it does not hold). Either way the
    /// node's groups deliver what they can.
    ///
    /// Errors: those of [`Service::queue_settle`] for a member that may
    /// not retract as publisher, else those of [`Service::retract`].
    pub fn retract_as(
        &mut self,
        from: &Jid,
        node: &NodeName,
        item_id: &ItemId,
        notify: Option<bool>,
    ) -> Result<Outcome<()>, QueueError> {
        let ids = [item_id.clone()];
        let actor = Actor::Entity(from.to_bare());
        match self.queue_settle(from, node, &ids, Settle::Retract, self.now_ms()) {
            Ok(o) => Ok(o),
            Err(QueueError::NotMember) => Ok(self.retract(&actor, node, item_id, notify)?),
            Err(_) if self.may_retract(&actor, node) => {
                Ok(self.retract(&actor, node, item_id, notify)?)
            }
            Err(e) => Err(e),
        }
    }

    /// Whether `actor` may retract items of `node` as publisher or owner
    /// (then a retract of an item it does not hold is a plain retract).
    pub fn may_retract(&self, actor: &Actor, node: &NodeName) -> bool {
        let Ok(n) = self.node(node) else {
            return false;
        };
        self.access().check_retract(&n.meta, actor).is_ok()
    }

    /// (group, SubID) of `from`'s group subscriptions to the node.
    fn member_subs(&self, node: &str, from: &Jid) -> Vec<(String, String)> {
        let Some(n) = self.nodes.get(node) else {
            return Vec::new();
        };
        let bare = Jid::from(from.to_bare());
        let subs = n.meta.subscriptions.iter();
        subs.filter(|s| s.options.is_queue_member() && (s.jid == *from || s.jid == bare))
            .map(|s| (s.options.group_name().to_owned(), s.subid.clone()))
            .collect()
    }

    fn locate_all(
        &self,
        ctx: &NodeCtx,
        nq: &NodeQueues,
        mine: &[(String, String)],
        item_ids: &[ItemId],
    ) -> Result<Held, QueueError> {
        let mut held = Vec::new();
        for id in item_ids {
            match locate(nq, mine, id) {
                Ok(found) => held.extend(found),
                Err(QueueError::NotLocked) if self.store.item_seq(ctx.id, id)?.is_none() => {
                    return Err(crate::pubsub::PubsubError::ItemNotFound.into());
                }
                Err(e) => return Err(e),
            }
        }
        Ok(held)
    }

    fn apply(
        &mut self,
        ctx: &NodeCtx,
        nq: &mut NodeQueues,
        held: Held,
        how: Settle,
        now: u64,
    ) -> Work {
        let mut work = Work::default();
        for (name, seq) in held {
            let Some(group) = nq.groups.get_mut(&name) else {
                continue;
            };
            if how != Settle::Unlock {
                group.entries.remove(&seq);
                self.queues.log.entry(ctx.id, &name, seq, None);
                continue;
            }
            if let Some(e) = group.entries.get(&seq) {
                let (Some(h), id) = (&e.holder, e.item_id.clone()) else {
                    continue;
                };
                let notice = Event::Unlock { item_ids: vec![id] };
                work.notes.push(ctx.note(&h.jid, None, notice));
            }
            let key = (ctx.name.as_str(), name.as_str());
            take_back(
                &mut self.queues,
                ctx.id,
                key,
                group,
                seq,
                (now, true),
                &mut work,
            );
        }
        work
    }

    /// Held items past their deadline go back, with an unlock notice.
    pub(super) fn expire_node(&mut self, name: &str, now: u64, work: &mut Work) {
        let Some(ctx) = self.node_ctx(name) else {
            return;
        };
        let Some(mut nq) = self.queues.nodes.remove(name) else {
            return;
        };
        for (gname, group) in nq.groups.iter_mut() {
            let late: Vec<(u64, Jid, String)> = (group.entries.iter())
                .filter_map(|(seq, e)| {
                    let h = e.holder.as_ref().filter(|_| e.due_ms <= now)?;
                    Some((*seq, h.jid.clone(), e.item_id.clone()))
                })
                .collect();
            for (seq, jid, id) in late {
                let notice = Event::Unlock { item_ids: vec![id] };
                work.notes.push(ctx.note(&jid, None, notice));
                let key = (name, gname.as_str());
                take_back(&mut self.queues, nq.id, key, group, seq, (now, true), work);
            }
        }
        self.queues.nodes.insert(name.to_owned(), nq);
    }

    /// Items held by members that are now unavailable go back at once.
    pub(super) fn release_unavailable(&mut self, name: &str, now: u64, work: &mut Work) {
        let Some(mut nq) = self.queues.nodes.remove(name) else {
            return;
        };
        for (gname, group) in nq.groups.iter_mut() {
            let presence = &self.queues.presence;
            let gone: Vec<u64> = (group.entries.iter())
                .filter(|(_, e)| {
                    (e.holder.as_ref()).is_some_and(|h| !presence.is_available(&h.jid))
                })
                .map(|(seq, _)| *seq)
                .collect();
            for seq in gone {
                let key = (name, gname.as_str());
                take_back(&mut self.queues, nq.id, key, group, seq, (now, false), work);
            }
        }
        self.queues.nodes.insert(name.to_owned(), nq);
    }
}

/// Entries with item `id` held by one of `mine` ((group, SubID) pairs).
fn locate(nq: &NodeQueues, mine: &[(String, String)], id: &str) -> Result<Held, QueueError> {
    let mut found = Vec::new();
    let mut other = false;
    for (name, subid) in mine {
        let Some(group) = nq.groups.get(name) else {
            continue;
        };
        for (seq, e) in group.entries.iter().filter(|(_, e)| e.item_id == id) {
            match &e.holder {
                Some(h) if h.subid == *subid => found.push((name.clone(), *seq)),
                Some(_) => other = true,
                None => {}
            }
        }
    }
    match (found.is_empty(), other) {
        (false, _) => Ok(found),
        (true, true) => Err(QueueError::LockedByOther),
        (true, false) => Err(QueueError::NotLocked),
    }
}
