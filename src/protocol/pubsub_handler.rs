//! The entry point from the component: one IQ in, its reply and the
//! notifications it causes out. Parses with `pubsub_request`, calls the
//! core use case, renders with `pubsub_replies` and `notify`.
//!
//! Contract with the caller (docs/architecture.md, "Durable before
//! acknowledged"): call `Service::flush` (once per batch; it does nothing
//! when nothing was written) before sending the reply or any notification.

use super::pubsub_exec::execute;
use super::pubsub_request;
use super::{IqReply, IqRequest, disco, errors, mam, notify, queue, service_info, stanza_size};
use crate::pubsub::{BareJid, Published, Service};
use crate::store::Store;
use tokio_xmpp::Stanza;

/// What the protocol layer needs to know about its deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolCtx {
    /// The component's domain: `from` of notifications, `jid` of disco items.
    pub service_jid: BareJid,
    /// Largest serialized payload accepted (XEP-0060 §7.1.3.5).
    pub max_payload_bytes: usize,
    /// The server's XEP-0033 multicast service while Herald may use it
    /// (set by `app::multicast` before each job; `None`: one message per
    /// recipient).
    pub multicast: Option<super::multicast::Fanout>,
}

/// The answer to one IQ.
#[derive(Debug)]
pub struct Handled {
    /// Stanzas to send *before* the reply (XEP-0313 result messages).
    pub results: Vec<Stanza>,
    pub reply: IqReply,
    /// `<message/>`s to send after the reply (and after the flush).
    pub notifications: Vec<Stanza>,
    /// What the request published, as the core returned it (metrics).
    pub published: Vec<Published>,
}

impl Handled {
    pub(crate) fn read(reply: IqReply) -> Self {
        Handled {
            results: Vec::new(),
            reply,
            notifications: Vec::new(),
            published: Vec::new(),
        }
    }
}

/// Answers any IQ addressed to the service: ping and version, disco#info
/// and disco#items (service and nodes), XEP-0313 queries of node history,
/// and every XEP-0060 request.
/// Anything else gets `service-unavailable` (RFC 6120 §8.4). Never panics.
pub fn handle_pubsub<S: Store>(
    service: &mut Service<S>,
    ctx: &ProtocolCtx,
    req: &IqRequest,
) -> Handled {
    if let Some(r) = service_info::handle(req) {
        return Handled::read(r);
    }
    if let Some(r) = disco::handle(service, ctx, req) {
        return Handled::read(r);
    }
    if let Some(h) = mam::handle(service, ctx, req) {
        return h;
    }
    if let Some(handled) = queue::handle_queue_iq(service, ctx, req) {
        return handled;
    }
    let request = match pubsub_request::parse(req) {
        None => {
            return Handled::read(Err(errors::service_unavailable(
                "this service does not answer that query",
            )));
        }
        Some(Err(e)) => return Handled::read(Err(e)),
        Some(Ok(r)) => r,
    };
    let max = service.settings().max_stanza_bytes;
    let budget = stanza_size::reply_budget(max, req);
    match execute(service, ctx, &req.from, request, budget) {
        Ok(o) => {
            let notifications = notify::render_all(
                &ctx.service_jid,
                max,
                ctx.multicast.as_ref(),
                &o.notifications,
            );
            Handled {
                results: Vec::new(),
                reply: Ok(o.reply),
                notifications,
                published: o.published,
            }
        }
        Err(e) => Handled::read(Err(e)),
    }
}

#[cfg(test)]
#[path = "pubsub_handler_tests.rs"]
mod tests;
