//! XEP-0254 queueing on the wire: the `<unlock/>` and `<ack/>` requests
//! and the periodic tick (deadlines). Core logic is in `pubsub::queue`;
//! a member's `<retract/>` as ack, and the deliveries after writes and
//! presence, are the core's own (`Service::retract_as`, docs/architecture.md,
//! "One exit").
//!
//! ```xml
//! <iq type='set' to='events.example.com' id='u1'>
//!   <pubsub xmlns='http://jabber.org/protocol/pubsub'>
//!     <unlock xmlns='urn:xmpp:pubsub:queueing:0' node='jobs'><item id='i1'/></unlock>
//!   </pubsub>
//! </iq>
//! ```
//!
//! `<ack/>` has the same shape, takes several `<item/>`s (all or none) and
//! sends no notice. Both are accepted in `get` and `set` IQs: XEP-0254's
//! examples use `get`.

#![allow(clippy::result_large_err)] // see pubsub_request.rs

use super::pubsub_handler::{Handled, ProtocolCtx};
use super::request_util::{children_named, node, opt_item_id};
use super::{IqRequest, errors, notify, ns};
use crate::pubsub::queue::QUEUE_NS;
use crate::pubsub::{ItemId, NodeName, Notification, QueueError, Service, Settle};
use crate::store::Store;
use tokio_xmpp::Stanza;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};

/// Answers `<pubsub><unlock|ack xmlns=queueing/></pubsub>`; `None` for
/// anything else.
pub fn handle_queue_iq<S: Store>(
    service: &mut Service<S>,
    ctx: &ProtocolCtx,
    req: &IqRequest,
) -> Option<Handled> {
    if !req.payload.is("pubsub", ns::PUBSUB) {
        return None;
    }
    let action = req.payload.children().find(|c| c.ns() == QUEUE_NS)?;
    let how = match action.name() {
        "unlock" => Settle::Unlock,
        "ack" => Settle::Ack,
        other => return Some(failed(errors::unsupported_action(other))),
    };
    let (node, ids) = match parse_items(action) {
        Ok(parsed) => parsed,
        Err(e) => return Some(failed(e)),
    };
    Some(settle(service, ctx, &req.from, &node, &ids, how))
}

/// The periodic tick: ack deadlines and due redeliveries.
pub fn tick<S: Store>(service: &mut Service<S>, ctx: &ProtocolCtx) -> Vec<Stanza> {
    let now = service.now_ms();
    let max = service.settings().max_stanza_bytes;
    render(ctx, max, service.queue_tick(now), "queue tick")
}

fn render(
    ctx: &ProtocolCtx,
    max_stanza_bytes: usize,
    result: Result<Vec<Notification>, crate::pubsub::PubsubError>,
    what: &str,
) -> Vec<Stanza> {
    match result {
        Ok(notes) => notify::render_all(
            &ctx.service_jid,
            max_stanza_bytes,
            ctx.multicast.as_ref(),
            &notes,
        ),
        Err(e) => {
            tracing::warn!(error = %e, "{what} failed");
            Vec::new()
        }
    }
}

fn settle<S: Store>(
    service: &mut Service<S>,
    ctx: &ProtocolCtx,
    from: &Jid,
    node: &NodeName,
    ids: &[ItemId],
    how: Settle,
) -> Handled {
    let now = service.now_ms();
    let max = service.settings().max_stanza_bytes;
    match service.queue_settle(from, node, ids, how, now) {
        Ok(o) => done(ctx, max, o.notifications),
        Err(e) => failed(to_stanza_error(&e)),
    }
}

fn parse_items(action: &Element) -> Result<(NodeName, Vec<ItemId>), StanzaError> {
    let node = node(action)?;
    let mut ids = Vec::new();
    for item in children_named(action, "item") {
        ids.extend(opt_item_id(item)?);
    }
    if ids.is_empty() {
        return Err(errors::item_required());
    }
    Ok((node, ids))
}

fn done(ctx: &ProtocolCtx, max_stanza_bytes: usize, notes: Vec<Notification>) -> Handled {
    Handled {
        results: Vec::new(),
        reply: Ok(None),
        notifications: notify::render_all(
            &ctx.service_jid,
            max_stanza_bytes,
            ctx.multicast.as_ref(),
            &notes,
        ),
        published: Vec::new(),
    }
}

fn failed(error: StanzaError) -> Handled {
    Handled::read(Err(error))
}

/// XEP-0254 §2.3/§2.4 conditions.
pub fn to_stanza_error(e: &QueueError) -> StanzaError {
    use DefinedCondition as C;
    use ErrorType as T;
    match e {
        QueueError::Pubsub(p) => p.clone().into(),
        QueueError::NotMember => errors::stanza_error(
            T::Auth,
            C::Forbidden,
            "not a consumer-group member of this node",
        ),
        QueueError::LockedByOther => errors::stanza_error(
            T::Cancel,
            C::Conflict,
            "the item is locked by another subscriber",
        ),
        QueueError::NotLocked => errors::stanza_error(
            T::Wait,
            C::UnexpectedRequest,
            "the item is no longer locked by this subscriber",
        ),
    }
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
