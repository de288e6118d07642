//! Routes each inbound stanza to the protocol handler that owns it and turns
//! the answer into stanzas. Every IQ get/set gets exactly one reply; IQ
//! results and errors addressed to us are never answered (RFC 6120 §8.2.3).

use super::executor::{Dispatch, Job};
use crate::component::{Inbound, InvalidStanza, StanzaKind};
use crate::protocol::approval::handle_approval;
use crate::protocol::pubsub_handler::{ProtocolCtx, handle_pubsub};
use crate::protocol::{IqKind, IqReply, IqRequest, errors, notify};
use crate::pubsub::Service;
use crate::store::Store;
use tokio_xmpp::Stanza;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::message::{Message, MessageType};
use tokio_xmpp::parsers::presence::{Presence, Type as PresenceType};
use tokio_xmpp::parsers::stanza_error::StanzaError;

pub struct Router<S: Store> {
    service: Service<S>,
    ctx: ProtocolCtx,
    /// Something in this batch changed state: flush before releasing it.
    dirty: bool,
}

impl<S: Store> Router<S> {
    pub fn new(service: Service<S>, ctx: ProtocolCtx) -> Self {
        Self {
            service,
            ctx,
            dirty: false,
        }
    }

    fn route_iq(&mut self, iq: Iq, out: &mut Vec<Stanza>) {
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
            Iq::Result { .. } | Iq::Error { .. } => return,
        };
        // ejabberd always stamps `from`; without it there is nobody to answer.
        let Some(from) = from else { return };
        let to = to.unwrap_or_else(|| Jid::from(self.ctx.service_jid.clone()));
        let req = IqRequest {
            from,
            to,
            id,
            kind,
            payload,
        };
        let handled = handle_pubsub(&mut self.service, &self.ctx, &req);
        out.extend(handled.results);
        out.push(Stanza::Iq(reply_iq(&req, handled.reply)));
        self.dirty |= handled.needs_flush;
        out.extend(handled.notifications);
    }

    /// Owners answer subscription approval requests by message (§8.6);
    /// every other message is not for the service and is ignored.
    fn route_message(&mut self, msg: Message, out: &mut Vec<Stanza>) {
        if msg.type_ == MessageType::Error {
            return;
        }
        let Some(from) = msg.from.clone() else { return };
        let Some(handled) = handle_approval(&mut self.service, &self.ctx, &from, &msg.payloads)
        else {
            return;
        };
        self.dirty |= handled.needs_flush;
        if let Err(error) = handled.reply {
            out.push(Stanza::Message(message_error(&msg, from, error)));
        }
        out.extend(handled.notifications);
    }

    /// Presence to the service itself: a user who adds the service to its
    /// roster is approved at once, and that approval is what the
    /// `presence` access model checks (see xep-notes/xep-0060.md).
    fn route_presence(&mut self, p: Presence, out: &mut Vec<Stanza>) {
        let (Some(from), Some(to)) = (p.from.clone(), p.to.clone()) else {
            return;
        };
        if to.node().is_some() {
            return;
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
                out.push(reply(PresenceType::Subscribed));
                self.service.presence_subscribed(&bare, true)
            }
            PresenceType::Unsubscribe | PresenceType::Unsubscribed => {
                out.push(reply(PresenceType::Unsubscribed));
                self.service.presence_subscribed(&bare, false)
            }
            PresenceType::Probe => {
                out.push(reply(PresenceType::None));
                return;
            }
            PresenceType::None => self.service.presence_available(&from),
            _ => return,
        };
        match outcome {
            Ok(o) => {
                self.dirty = true;
                out.extend(notify::render_all(&self.ctx.service_jid, &o.notifications));
            }
            Err(e) => tracing::warn!(error = %e, "presence handling failed"),
        }
    }

    /// Retention: expired items and old history go, with no notification.
    fn tick(&mut self) {
        match self.service.expire(crate::protocol::timestamp::now_ms()) {
            Ok(0) => {}
            Ok(n) => {
                tracing::debug!(removed = n, "retention");
                self.dirty = true;
            }
            Err(e) => {
                tracing::warn!(error = %e, "retention failed");
                self.dirty = true;
            }
        }
    }

    fn route_invalid(&mut self, bad: InvalidStanza, out: &mut Vec<Stanza>) {
        tracing::debug!(reason = %bad.reason, from = ?bad.from, "unparsable stanza");
        let (Some(from), Some(to)) = (parse_jid(&bad.from), parse_jid(&bad.to)) else {
            return;
        };
        let error = errors::bad_request(&format!("malformed stanza: {}", bad.reason));
        let type_ = bad.type_.as_deref().unwrap_or("");
        match bad.kind {
            StanzaKind::Iq if type_ == "get" || type_ == "set" => {
                let id = bad.id.unwrap_or_default();
                let iq = Iq::from_error(id, error).with_from(to).with_to(from);
                out.push(Stanza::Iq(iq));
            }
            StanzaKind::Message if type_ != "error" => {
                let mut msg = Message::new(Some(from)).with_payload(error);
                msg.type_ = MessageType::Error;
                msg.from = Some(to);
                msg.id = bad.id.map(tokio_xmpp::parsers::message::Id);
                out.push(Stanza::Message(msg));
            }
            // Bad IQ results/errors and presences get no answer (no loops).
            _ => {}
        }
    }
}

fn parse_jid(raw: &Option<String>) -> Option<Jid> {
    raw.as_deref().and_then(|s| Jid::new(s).ok())
}

fn message_error(original: &Message, to: Jid, error: StanzaError) -> Message {
    let mut msg = Message::new(Some(to)).with_payload(error);
    msg.type_ = MessageType::Error;
    msg.from = original.to.clone();
    msg.id = original.id.clone();
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

impl<S: Store + 'static> Dispatch for Router<S> {
    fn handle(&mut self, job: Job, out: &mut Vec<Stanza>) {
        match job {
            Job::Xmpp(Inbound::Stanza(Stanza::Iq(iq))) => self.route_iq(iq, out),
            Job::Xmpp(Inbound::Stanza(Stanza::Message(m))) => self.route_message(m, out),
            Job::Xmpp(Inbound::Stanza(Stanza::Presence(p))) => self.route_presence(p, out),
            Job::Xmpp(Inbound::Invalid(bad)) => self.route_invalid(bad, out),
            Job::Tick => self.tick(),
        }
    }

    fn commit(&mut self) -> Result<(), String> {
        if std::mem::take(&mut self.dirty) {
            self.service.flush().map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}
