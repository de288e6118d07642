//! Resending a dead letter (the operator's "try again"): the original
//! item is published again to its node, as the system, so it is newest
//! and its consumer groups hand it out afresh, and the dead letter is
//! retracted. The original's payload is taken from the node, where a
//! dead-lettered item stays; if it has gone (trimmed by `max_items`,
//! expired) the resend is refused rather than guessed from the rendered
//! dead letter.

use super::DEAD_LETTER_SUFFIX;
use crate::pubsub::error::{PubsubError, PubsubResult};
use crate::pubsub::names::{ItemId, NodeName};
use crate::pubsub::service::Service;
use crate::pubsub::types::{Actor, ItemsPage, NewItem, Outcome};
use crate::store::Store;

impl<S: Store> Service<S> {
    /// The dead letters of `node`, newest last (at most a page).
    pub fn dead_letters(&self, node: &NodeName) -> PubsubResult<ItemsPage> {
        self.node(node)?;
        let target = NodeName::trusted(format!("{node}{DEAD_LETTER_SUFFIX}"));
        match self.items(&Actor::System, &target, None) {
            Err(PubsubError::NodeNotFound) => Ok(ItemsPage::default()),
            other => other,
        }
    }

    /// Publishes `item` of `node` again and retracts its dead letter.
    ///
    /// Errors: `NodeNotFound`; `ItemNotFound` when there is no such dead
    /// letter, or the original item is no longer in the node.
    pub(crate) fn resend_dead_letter_unpumped(
        &mut self,
        node: &NodeName,
        item: &ItemId,
    ) -> PubsubResult<Outcome<()>> {
        let n = self.node(node)?;
        let node_id = n.id;
        let target = NodeName::trusted(format!("{node}{DEAD_LETTER_SUFFIX}"));
        let dead_id = self.node(&target)?.id;
        if self.store.item_seq(dead_id, item)?.is_none() {
            return Err(PubsubError::ItemNotFound);
        }
        let original = (self.store.get_item(node_id, item)?).ok_or(PubsubError::ItemNotFound)?;
        let again = NewItem {
            id: Some(item.clone()),
            payload: original.payload,
        };
        let mut outcome = self.publish_unpumped(&Actor::System, node, vec![again], None)?;
        let retracted = self.retract_unpumped(&Actor::System, &target, item, Some(false))?;
        outcome.notifications.extend(retracted.notifications);
        tracing::info!(
            node = node.as_str(),
            item = item.as_str(),
            "dead letter resent"
        );
        Ok(Outcome {
            reply: (),
            notifications: outcome.notifications,
            published: outcome.published,
        })
    }
}
