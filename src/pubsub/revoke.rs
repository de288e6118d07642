//! Access revocation (issue 16): when an owner restricts a node (access
//! model, affiliations), subscriptions of entities that lost access end.
//!
//! For each subscription, compare what a fresh subscription of its bare
//! JID would get before and after the change ([`Access::subscribe_state`]):
//!
//! - refused after (and not before, or outcast now): removed, state `none`;
//! - `pending` after, `subscribed` before, and subscribed: back to
//!   `pending`, and the owners are asked to approve (e.g. open → authorize);
//! - else kept: a subscription an owner made on someone's behalf without
//!   access stays the owner's choice until access is taken away again.
//!
//! The subscriber is told its new state (XEP-0060 §12 "Notification of
//! Subscription State Changes", `<subscription subscription='none'/>`).
//! Consumer-group members lose their membership with the subscription;
//! the next queue pump gives their held items back to the group.

use super::access::Access;
use super::error::{PubsubError, PubsubResult};
use super::node::{NodeMeta, NodeSub};
use super::notify::Notification;
use super::ops_manage::state_notice;
use super::service::Service;
use super::types::SubscriptionState;
use crate::store::Store;

/// Applies revocation to `after` (the node's metadata with the owner's
/// change), given the metadata `before` it. Returns the subscriptions
/// that changed, in their new state (`none`: removed).
pub(crate) fn revoke(access: &Access<'_>, before: &NodeMeta, after: &mut NodeMeta) -> Vec<NodeSub> {
    let mut changed = Vec::new();
    let mut kept = Vec::with_capacity(after.subscriptions.len());
    for mut sub in std::mem::take(&mut after.subscriptions) {
        let bare = sub.jid.to_bare();
        let was = access.subscribe_state(before, &bare, false);
        let now = access.subscribe_state(after, &bare, false);
        match (was, now) {
            (_, Err(PubsubError::Outcast)) | (Ok(_), Err(_)) => {
                sub.state = SubscriptionState::None;
                changed.push(sub);
            }
            (Ok(SubscriptionState::Subscribed), Ok(SubscriptionState::Pending))
                if sub.state == SubscriptionState::Subscribed =>
            {
                sub.state = SubscriptionState::Pending;
                changed.push(sub.clone());
                kept.push(sub);
            }
            _ => kept.push(sub),
        }
    }
    after.subscriptions = kept;
    changed
}

impl<S: Store> Service<S> {
    /// Notices for subscriptions [`revoke`] changed on node `name` (after
    /// the change was committed): each subscriber is told its state, the
    /// owners get an approval request for each one back to pending.
    pub(crate) fn revocation_notices(
        &self,
        name: &str,
        changed: &[NodeSub],
    ) -> PubsubResult<Vec<Notification>> {
        let meta = &self.node(name)?.meta;
        let mut out = Vec::new();
        for sub in changed {
            out.extend(state_notice(name, meta, sub));
            if sub.state == SubscriptionState::Pending {
                out.extend(self.approval_request(name, meta, sub));
            }
        }
        Ok(out)
    }
}
