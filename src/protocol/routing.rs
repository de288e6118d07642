//! Stanza routing: each inbound stanza to the protocol handler that owns
//! it, and the answer as stanzas. Every IQ get/set gets exactly one reply;
//! IQ results and errors addressed to us are never answered (RFC 6120
//! §8.2.3). The router in `app/` only batches, commits and releases what
//! comes back (docs/architecture.md, "Modules").

use super::approval::handle_approval;
use super::pubsub_handler::{ProtocolCtx, handle_pubsub};
use super::{IqKind, IqReply, IqRequest, errors, notify};
use crate::component::{InvalidStanza, StanzaKind};
use crate::pubsub::{Published, Service};
use crate::store::Store;
use tokio_xmpp::Stanza;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::message::{Message, MessageType};
use tokio_xmpp::parsers::presence::{Presence, Type as PresenceType};
use tokio_xmpp::parsers::stanza_error::StanzaError;

/// What one stanza produced, in sending order: `replies` first (IQ
/// replies with their MAM results, presence answers, error bounces), then
/// the pubsub `notifications` rendered from the core's outcome.
#[derive(Debug, Default)]
pub struct Routed {
    pub replies: Vec<Stanza>,
    pub notifications: Vec<Stanza>,
    /// What the core published (metrics).
    pub published: Vec<Published>,
}

/// An IQ to the service: its one reply (none for results and errors).
pub fn iq<S: Store>(service: &mut Service<S>, ctx: &ProtocolCtx, iq: Iq) -> Routed {
    let (from, to, id, kind, payload) = match iq {
        Iq::Get {
            from,
            to,
            id,
            payload,
        } => (from, to, id, IqKind::Get, payload),
        Iq::Set {
            from,
            to,
            id,
            payload,
        } => (from, to, id, IqKind::Set, payload),
        Iq::Result { .. } | Iq::Error { .. } => return Routed::default(),
    };
    // ejabberd always stamps `from`; without it there is nobody to answer.
    let Some(from) = from else {
        return Routed::default();
    };
    let to = to.unwrap_or_else(|| Jid::from(ctx.service_jid.clone()));
    let req = IqRequest {
        from,
        to,
        id,
        kind,
        payload,
    };
    let handled = handle_pubsub(service, ctx, &req);
    let mut replies = handled.results;
    replies.push(Stanza::Iq(reply_iq(&req, handled.reply)));
    Routed {
        replies,
        notifications: handled.notifications,
        published: handled.published,
    }
}

/// Owners answer subscription approval requests by message (§8.6).
/// `None`: the message is no approval (chat commands may want it).
pub fn approval<S: Store>(
    service: &mut Service<S>,
    ctx: &ProtocolCtx,
    msg: &Message,
) -> Option<Routed> {
    if msg.type_ == MessageType::Error {
        return Some(Routed::default());
    }
    let Some(from) = msg.from.clone() else {
        return Some(Routed::default());
    };
    let handled = handle_approval(service, ctx, &from, &msg.payloads)?;
    let mut replies = Vec::new();
    if let Err(error) = handled.reply {
        let error = message_error(msg.to.clone(), msg.id.clone(), from, error);
        replies.push(Stanza::Message(error));
    }
    Some(Routed {
        replies,
        notifications: handled.notifications,
        published: handled.published,
    })
}

/// Presence to the service itself: a user who adds the service to its
/// roster is approved at once (so its presence reaches the consumer
/// groups). That approval grants no node access: the `presence` access
/// model means a presence subscription to the node's owner (see
/// xep-notes/xep-0060.md, "Presence access model").
pub fn presence<S: Store>(service: &mut Service<S>, ctx: &ProtocolCtx, p: Presence) -> Routed {
    let mut routed = Routed::default();
    let out = &mut routed.replies;
    let (Some(from), Some(to)) = (p.from.clone(), p.to.clone()) else {
        return routed;
    };
    if to.node().is_some() {
        return routed;
    }
    let bare = from.to_bare();
    let reply = |type_| {
        let mut r = Presence::new(type_);
        r.from = Some(to.clone());
        r.to = Some(Jid::from(bare.clone()));
        Stanza::Presence(r)
    };
    let outcome = match p.type_ {
        PresenceType::Subscribe => {
            out.extend(super::service_presence::approve_subscription(&to, &bare));
            return routed;
        }
        PresenceType::Unsubscribe | PresenceType::Unsubscribed => {
            out.push(reply(PresenceType::Unsubscribed));
            return routed;
        }
        PresenceType::Probe => {
            out.push(reply(PresenceType::None));
            return routed;
        }
        PresenceType::None => service.presence(&from, true),
        PresenceType::Unavailable => service.presence(&from, false),
        _ => return routed,
    };
    let max = service.settings().max_stanza_bytes;
    routed.notifications = notify::render_all(
        &ctx.service_jid,
        max,
        ctx.multicast.as_ref(),
        &outcome.notifications,
    );
    routed
}

/// A stanza the link could not parse: `bad-request` to IQ get/set and to
/// messages, from the addressee; nothing else is answered (no loops).
pub fn invalid(bad: InvalidStanza) -> Option<Stanza> {
    tracing::debug!(reason = %bad.reason, from = ?bad.from, "unparsable stanza");
    let (Some(from), Some(to)) = (parse_jid(&bad.from), parse_jid(&bad.to)) else {
        return None;
    };
    let error = errors::bad_request(&format!("malformed stanza: {}", bad.reason));
    let type_ = bad.type_.as_deref().unwrap_or("");
    match bad.kind {
        StanzaKind::Iq if type_ == "get" || type_ == "set" => {
            let id = bad.id.unwrap_or_default();
            let iq = Iq::from_error(id, error).with_from(to).with_to(from);
            Some(Stanza::Iq(iq))
        }
        StanzaKind::Message if type_ != "error" => {
            let id = bad.id.map(tokio_xmpp::parsers::message::Id);
            Some(Stanza::Message(message_error(Some(to), id, from, error)))
        }
        // Bad IQ results/errors and presences get no answer (no loops).
        _ => None,
    }
}

fn parse_jid(raw: &Option<String>) -> Option<Jid> {
    raw.as_deref().and_then(|s| Jid::new(s).ok())
}

/// A `type='error'` message bouncing a message from `to` back to it.
fn message_error(
    from: Option<Jid>,
    id: Option<tokio_xmpp::parsers::message::Id>,
    to: Jid,
    error: StanzaError,
) -> Message {
    let mut msg = Message::new(Some(to)).with_payload(error);
    msg.type_ = MessageType::Error;
    msg.from = from;
    msg.id = id;
    msg
}

/// Builds the result or error IQ answering `req`.
pub fn reply_iq(req: &IqRequest, reply: IqReply) -> Iq {
    let iq = match reply {
        Ok(payload) => Iq::Result {
            from: None,
            to: None,
            id: req.id.clone(),
            payload,
        },
        Err(error) => Iq::from_error(req.id.clone(), error),
    };
    iq.with_from(req.to.clone()).with_to(req.from.clone())
}
