//! The link side of XEP-0033 multicast: finds the server's multicast
//! service after each connect (§2: disco#items on the server domain, then
//! disco#info for the `address` feature), tells rendering whether to use
//! it, and resends per recipient a multicast stanza the service bounced.
//!
//! An adapter concern: the pubsub core never hears of it; rendering only
//! sees `ProtocolCtx::multicast` (`protocol::multicast::Fanout`).

use crate::metrics::METRICS;
use crate::protocol::message_id;
use crate::protocol::multicast::{self, ADDRESS, Fanout};
use crate::protocol::ns::{DISCO_INFO, DISCO_ITEMS};
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};
use tokio_xmpp::Stanza;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::message::{Id, Message, MessageType};

/// IDs of our disco queries start so: their answers are ours, not routing's.
const ID_PREFIX: &str = "herald-mc-";

/// After a bounce, this long without multicast: a service that refused
/// once (limits, access rules) would likely refuse the next stanza too.
const PAUSE_AFTER_BOUNCE: Duration = Duration::from_secs(300);

/// Multicast stanzas kept for a resend if they bounce. ejabberd answers
/// at once or never, so a short memory suffices; older bounces are lost
/// (logged), as are their recipients' copies.
const KEPT: usize = 256;

pub struct Multicast {
    /// `[component] multicast`: false never discovers, never multicasts.
    enabled: bool,
    batch: usize,
    /// The component's JID (`from` of our queries).
    me: Jid,
    /// The server domain whose services are discovered.
    server: Option<Jid>,
    /// The service in use, once disco#info confirmed its feature.
    service: Option<Jid>,
    /// disco#info queries sent, by ID, to the item they asked.
    asking: HashMap<String, Jid>,
    /// ID of the disco#items query on the server, until it is answered.
    listing: Option<String>,
    /// Whether this link's discovery has ended (and was logged).
    settled: bool,
    paused_until: Option<Instant>,
    sent: VecDeque<(String, Message)>,
    queries: u64,
}

impl Multicast {
    /// Discovery on the domain the component is a subdomain of
    /// (`events.example.com` → `example.com`); a single-label JID has none.
    pub fn new(enabled: bool, batch: usize, me: Jid) -> Self {
        let server = me
            .domain()
            .as_str()
            .split_once('.')
            .and_then(|(_, parent)| Jid::new(parent).ok());
        Self {
            enabled: enabled && server.is_some(),
            batch,
            me,
            server,
            service: None,
            asking: HashMap::new(),
            listing: None,
            settled: false,
            paused_until: None,
            sent: VecDeque::new(),
            queries: 0,
        }
    }

    /// Never multicasts (tests, and `multicast = false`).
    pub fn off(me: Jid) -> Self {
        Self::new(false, 2, me)
    }

    /// What rendering may use now: the service unless none was found or
    /// a bounce paused it.
    pub fn current(&self, now: Instant) -> Option<Fanout> {
        let paused = self.paused_until.is_some_and(|t| now < t);
        match (&self.service, paused) {
            (Some(service), false) => Some(Fanout {
                service: service.clone(),
                batch: self.batch,
            }),
            _ => None,
        }
    }

    /// A (re)connected link may lead to another server: forget the
    /// service and ask again (§2). Until the answer, one message each.
    pub fn link_up(&mut self, out: &mut Vec<Stanza>) {
        let Some(server) = self.server.clone().filter(|_| self.enabled) else {
            return;
        };
        self.service = None;
        self.asking.clear();
        self.settled = false;
        // §2: the server itself may be the service; else one of its items.
        let info = self.info_query(server.clone());
        out.push(info);
        let query = self.query(server, Element::builder("query", DISCO_ITEMS).build());
        if let Stanza::Iq(Iq::Get { id, .. }) = &query {
            self.listing = Some(id.clone());
        }
        out.push(query);
    }

    /// Once every query of this link's discovery is answered without a
    /// service, says so once: operators see why nothing is multicast.
    fn settle(&mut self) {
        let done = self.listing.is_none() && self.asking.is_empty();
        if done && self.service.is_none() && !self.settled {
            self.settled = true;
            tracing::info!("no XEP-0033 multicast service: one message per recipient");
        }
    }

    /// Whether discovery ended without finding a service.
    #[cfg(test)]
    pub fn found_none(&self) -> bool {
        self.settled && self.service.is_none()
    }

    fn query(&mut self, to: Jid, payload: Element) -> Stanza {
        self.queries += 1;
        Stanza::Iq(Iq::Get {
            from: Some(self.me.clone()),
            to: Some(to),
            id: format!("{ID_PREFIX}{}", self.queries),
            payload,
        })
    }

    /// Answers to our disco queries, and bounces from the service.
    pub fn claims(&self, stanza: &Stanza) -> bool {
        match stanza {
            Stanza::Iq(Iq::Result { id, .. } | Iq::Error { id, .. }) => {
                self.enabled && id.starts_with(ID_PREFIX)
            }
            Stanza::Message(m) => {
                let from = m.from.as_ref().map(|f| f.to_bare());
                m.type_ == MessageType::Error
                    && from.is_some()
                    && from == self.service.as_ref().map(|s| s.to_bare())
            }
            _ => false,
        }
    }

    /// Handles a stanza [`Multicast::claims`] accepted; appends queries to
    /// `out` and returns the notifications resent after a bounce.
    pub fn on_stanza(
        &mut self,
        stanza: Stanza,
        now: Instant,
        out: &mut Vec<Stanza>,
    ) -> Vec<Stanza> {
        match stanza {
            Stanza::Iq(Iq::Result { id, payload, .. }) => {
                self.on_result(&id, payload, out);
                self.settle();
                Vec::new()
            }
            Stanza::Iq(Iq::Error { id, .. }) => {
                // An item that cannot answer is simply not the service;
                // a server that cannot list its items has none we can see.
                self.asking.remove(&id);
                if self.listing.as_deref() == Some(id.as_str()) {
                    self.listing = None;
                }
                tracing::debug!(id, "multicast discovery query refused");
                self.settle();
                Vec::new()
            }
            Stanza::Message(m) => self.on_bounce(&m, now),
            _ => Vec::new(),
        }
    }

    fn on_result(&mut self, id: &str, payload: Option<Element>, out: &mut Vec<Stanza>) {
        let Some(payload) = payload else { return };
        if let Some(jid) = self.asking.remove(id) {
            let offers = (payload.children())
                .any(|f| f.is("feature", DISCO_INFO) && f.attr("var") == Some(ADDRESS));
            if offers && payload.is("query", DISCO_INFO) && self.service.is_none() {
                tracing::info!(service = %jid, "XEP-0033 multicast service found");
                self.service = Some(jid);
            }
            return;
        }
        if self.listing.as_deref() != Some(id) || !payload.is("query", DISCO_ITEMS) {
            return;
        }
        self.listing = None;
        let items: Vec<Jid> = (payload.children())
            .filter(|i| i.is("item", DISCO_ITEMS) && i.attr("node").is_none())
            .filter_map(|i| i.attr("jid").and_then(|j| Jid::new(j).ok()))
            .filter(|j| j.node().is_none() && j.to_bare() != self.me.to_bare())
            .collect();
        for jid in items {
            let q = self.info_query(jid);
            out.push(q);
        }
    }

    /// A disco#info query to `jid`, remembered so its answer is read as
    /// "does `jid` offer the address feature".
    fn info_query(&mut self, jid: Jid) -> Stanza {
        let q = self.query(jid.clone(), Element::builder("query", DISCO_INFO).build());
        if let Stanza::Iq(Iq::Get { id, .. }) = &q {
            self.asking.insert(id.clone(), jid);
        }
        q
    }

    /// Keeps the multicast stanzas among `rendered` for a resend, and
    /// counts them.
    pub fn record(&mut self, rendered: &[Stanza]) {
        let Some(service) = &self.service else { return };
        for s in rendered {
            let Stanza::Message(m) = s else { continue };
            if m.to.as_ref() != Some(service) {
                continue;
            }
            let recipients = (m.payloads.iter())
                .find(|p| p.is("addresses", ADDRESS))
                .map_or(0, |a| a.children().count());
            METRICS.add_multicast(recipients as u64);
            let Some(Id(id)) = &m.id else { continue };
            if self.sent.len() == KEPT {
                self.sent.pop_front();
            }
            self.sent.push_back((id.clone(), m.clone()));
        }
    }

    /// The service refused a stanza (§2 leaves delivery to it; a refusal
    /// reaches nobody): one message per bcc recipient, and a pause.
    fn on_bounce(&mut self, bounce: &Message, now: Instant) -> Vec<Stanza> {
        self.paused_until = Some(now + PAUSE_AFTER_BOUNCE);
        METRICS.add_multicast_bounce();
        let id = bounce.id.as_ref().map(|Id(id)| id.as_str());
        let kept = id.and_then(|id| self.sent.iter().position(|(k, _)| k == id));
        let Some((_, original)) = kept.and_then(|i| self.sent.remove(i)) else {
            tracing::warn!(
                id,
                "multicast bounce of a stanza no longer kept: its recipients miss it"
            );
            return Vec::new();
        };
        tracing::warn!(
            id,
            pause_secs = PAUSE_AFTER_BOUNCE.as_secs(),
            "multicast stanza bounced: resent per recipient, multicast paused"
        );
        unicast(&original)
    }
}

/// One message per bcc recipient of `m`, addresses stripped, as the
/// service would have delivered them.
fn unicast(m: &Message) -> Vec<Stanza> {
    let recipients = (m.payloads.iter())
        .find(|p| p.is("addresses", ADDRESS))
        .map(multicast::bcc_recipients)
        .unwrap_or_default();
    recipients
        .into_iter()
        .map(|to| {
            let mut one = m.clone();
            one.to = Some(to);
            one.id = Some(Id(message_id::next()));
            one.payloads.retain(|p| !p.is("addresses", ADDRESS));
            Stanza::Message(one)
        })
        .collect()
}

#[cfg(test)]
#[path = "multicast_tests.rs"]
mod tests;
