//! Routes each inbound stanza to the protocol handler that owns it and turns
//! the answer into stanzas. Every IQ get/set gets exactly one reply; IQ
//! results and errors addressed to us are never answered (RFC 6120 §8.2.3).

use super::executor::{Dispatch, Job};
use crate::component::{Inbound, InvalidStanza, StanzaKind};
use crate::protocol::{IqKind, IqReply, IqRequest, errors, ns, service_info};
use tokio_xmpp::Stanza;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::message::{Message, MessageType};

pub struct Router {
    service_jid: Jid,
}

impl Router {
    pub fn new(service_jid: Jid) -> Self {
        Self { service_jid }
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
        let to = to.unwrap_or_else(|| self.service_jid.clone());
        let req = IqRequest {
            from,
            to,
            id,
            kind,
            payload,
        };
        let reply = self.answer(&req);
        out.push(Stanza::Iq(reply_iq(&req, reply)));
    }

    fn answer(&mut self, req: &IqRequest) -> IqReply {
        if let Some(reply) = service_info::handle(req) {
            return reply;
        }
        let is_disco_info = req.payload.is("query", ns::DISCO_INFO);
        if is_disco_info && req.kind == IqKind::Get && req.payload.attr("node").is_none() {
            return Ok(Some(service_info::disco_info(&[])));
        }
        Err(errors::service_unavailable(
            "this request is not supported by the service",
        ))
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

impl Dispatch for Router {
    fn handle(&mut self, job: Job, out: &mut Vec<Stanza>) {
        match job {
            Job::Xmpp(Inbound::Stanza(Stanza::Iq(iq))) => self.route_iq(iq, out),
            Job::Xmpp(Inbound::Stanza(_)) => {}
            Job::Xmpp(Inbound::Invalid(bad)) => self.route_invalid(bad, out),
        }
    }

    fn commit(&mut self) -> Result<(), String> {
        Ok(())
    }
}
