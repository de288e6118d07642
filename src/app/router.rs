//! The core thread's dispatch: each job to its handler (stanzas to
//! `protocol::routing`, HTTP ingest, timers, relay and chat), then the
//! batch's commit and release. Stanza rules live in `protocol/`
//! (docs/architecture.md, "Modules").

use super::executor::{Dispatch, Job};
use super::multicast::Multicast;
use crate::chat::ChatService;
use crate::component::Inbound;
use crate::events::EventBus;
use crate::protocol::pubsub_handler::ProtocolCtx;
use crate::protocol::queue;
use crate::protocol::routing::{self, Routed};
use crate::pubsub::Service;
use crate::relay::Relay;
use crate::store::Store;
use std::time::Instant;
use tokio_xmpp::Stanza;
use tokio_xmpp::parsers::message::Message;

mod ingest;

pub(super) use ingest::IngestPolicy;

pub struct Router<S: Store> {
    service: Service<S>,
    ctx: ProtocolCtx,
    /// Pubsub notifications of this batch, counted when it is released.
    notified: u64,
    /// Whether the job being handled published (XMPP or HTTP).
    job_published: bool,
    /// When each publish of this batch that produced notifications started
    /// being handled: observed once its notifications are in the outbox
    /// (`herald_publish_to_notification_seconds`).
    notifying_publishes: Vec<Instant>,
    /// HTTP ingest: answers released after the commit, key retention.
    ingest: ingest::IngestState,
    /// MUC relay and chat commands/delivery (`with_people`); off by default.
    relay: Option<Relay>,
    chat: Option<ChatService>,
    /// Followers of the log (SSE, webhooks): each batch's history entries
    /// are handed on after its commit.
    bus: Option<EventBus>,
    /// XEP-0033 discovery, bounces and back-off (off unless configured).
    multicast: Multicast,
}

impl<S: Store> Router<S> {
    pub fn new(service: Service<S>, ctx: ProtocolCtx) -> Self {
        let multicast = Multicast::off(ctx.service_jid.clone().into());
        Self {
            multicast,
            service,
            ctx,
            notified: 0,
            job_published: false,
            notifying_publishes: Vec::new(),
            ingest: ingest::IngestState::default(),
            relay: None,
            chat: None,
            bus: None,
        }
    }

    /// Multicasts notifications when the server offers it (`[component]
    /// multicast`).
    pub fn with_multicast(mut self, multicast: Multicast) -> Self {
        self.multicast = multicast;
        self
    }

    /// Hands every committed history entry to `bus` while anyone follows
    /// it (the core keeps its journal only then: see `handle`).
    pub fn with_bus(mut self, bus: EventBus) -> Self {
        self.bus = Some(bus);
        self
    }

    /// Adds the MUC relay and chat commands, and turns on the core's
    /// published-items feed they read.
    pub fn with_people(mut self, relay: Relay, chat: ChatService) -> Self {
        self.service.enable_feed();
        self.relay = Some(relay);
        self.chat = Some(chat);
        self
    }

    /// Hands items published by this job to the relay and chat delivery;
    /// their messages leave with the batch, after the flush.
    fn deliver_published(&mut self, now: Instant, out: &mut Vec<Stanza>) {
        for p in self.service.take_published() {
            if let Some(relay) = self.relay.as_mut() {
                relay.on_published(&p, &self.service, now, out);
            }
            if let Some(chat) = self.chat.as_mut() {
                chat.deliver(&self.service, &p, now, out);
            }
        }
    }

    /// Pubsub notifications rendered from the core's outcomes: counted for
    /// `herald_notifications_total` when the batch is released (chat
    /// answers, room posts and MAM results are not notifications).
    fn notify(&mut self, rendered: Vec<Stanza>, out: &mut Vec<Stanza>) {
        self.notified += rendered.len() as u64;
        self.multicast.record(&rendered);
        out.extend(rendered);
    }

    /// A chat message that is not an approval: chat commands.
    fn route_chat(&mut self, msg: &Message, out: &mut Vec<Stanza>) {
        let Some(chat) = &self.chat else { return };
        if let Some(handled) = chat.handle_message(&mut self.service, msg) {
            out.push(handled.answer);
            self.notify(handled.notifications, out);
        }
    }

    /// Sends what routing produced: replies as they are, notifications
    /// counted; what the core published counted for `/metrics`.
    fn send(&mut self, routed: Routed, out: &mut Vec<Stanza>) {
        self.job_published |= !routed.published.is_empty();
        for p in &routed.published {
            // A publish without items (notification-only node) counts once.
            let items = p.items.len().max(1) as u64;
            crate::metrics::METRICS.add_published(crate::metrics::Source::Xmpp, items);
        }
        out.extend(routed.replies);
        self.notify(routed.notifications, out);
    }

    /// Retention: expired items and old history go, with no notification.
    fn tick(&mut self) {
        match self.service.expire(self.service.now_ms()) {
            Ok(0) => {}
            Ok(n) => tracing::debug!(removed = n, "retention"),
            Err(e) => tracing::warn!(error = %e, "retention failed"),
        }
    }
}

impl<S: Store + 'static> Dispatch for Router<S> {
    fn handle(&mut self, job: Job, out: &mut Vec<Stanza>) {
        let clock = super::clock::now();
        self.service.set_now(clock.ms);
        // No follower, no journal: nothing per publish for nobody. A
        // follower subscribes before it asks for its first log page, so
        // every entry after that page is journaled.
        if let Some(bus) = &self.bus {
            self.service.set_journal(bus.followers() > 0);
        }
        let now = clock.instant;
        let notified_before = self.notified;
        self.job_published = false;
        // Rendering asks the context, so the context follows discovery
        // and bounces before each job.
        self.ctx.multicast = self.multicast.current(now);
        let job = match job {
            Job::Xmpp(Inbound::Stanza(s)) if self.multicast.claims(&s) => {
                let resent = self.multicast.on_stanza(s, now, out);
                self.notify(resent, out);
                return;
            }
            Job::LinkUp => {
                self.multicast.link_up(out);
                Job::LinkUp
            }
            job => job,
        };
        match (job, self.relay.as_mut()) {
            (Job::Xmpp(Inbound::Stanza(s)), Some(relay)) if relay.claims(&s) => {
                relay.on_stanza(s, now, out)
            }
            (Job::LinkUp, Some(relay)) => relay.link_up(now, out),
            (job, _) => self.route(job, now, out),
        }
        self.deliver_published(now, out);
        if self.job_published && self.notified > notified_before {
            self.notifying_publishes.push(now);
        }
    }

    /// Always asks the service to flush: it knows whether the batch changed state
    /// (docs/architecture.md, "One exit").
    fn commit(&mut self) -> Result<(), String> {
        let started = std::time::Instant::now();
        if self.service.flush().map_err(|e| e.to_string())? {
            crate::metrics::METRICS.observe_flush(started.elapsed());
        }
        Ok(())
    }

    fn release(&mut self) {
        let notified = std::mem::take(&mut self.notified);
        crate::metrics::METRICS.add_notifications(notified);
        self.ingest.release();
        if let Some(bus) = &self.bus {
            bus.publish(self.service.take_journal());
        }
    }

    fn sent(&mut self) {
        for started in self.notifying_publishes.drain(..) {
            crate::metrics::METRICS.observe_publish_to_notification(started.elapsed());
        }
    }
}

impl<S: Store + 'static> Router<S> {
    fn route(&mut self, job: Job, now: Instant, out: &mut Vec<Stanza>) {
        match job {
            Job::Xmpp(Inbound::Stanza(Stanza::Iq(iq))) => {
                let routed = routing::iq(&mut self.service, &self.ctx, iq);
                self.send(routed, out);
            }
            Job::Xmpp(Inbound::Stanza(Stanza::Message(m))) => {
                match routing::approval(&mut self.service, &self.ctx, &m) {
                    Some(routed) => self.send(routed, out),
                    None => self.route_chat(&m, out),
                }
            }
            Job::Xmpp(Inbound::Stanza(Stanza::Presence(p))) => {
                let routed = routing::presence(&mut self.service, &self.ctx, p);
                self.send(routed, out);
            }
            Job::Xmpp(Inbound::Invalid(bad)) => out.extend(routing::invalid(bad)),
            Job::QueueTick => {
                let rendered = queue::tick(&mut self.service, &self.ctx);
                self.notify(rendered, out);
            }
            Job::Ingest(job) => self.route_ingest(job, out),
            Job::Renotify(items) => {
                let notes = self.service.renotify(&items);
                let max = self.service.settings().max_stanza_bytes;
                let jid = &self.ctx.service_jid;
                let rendered = crate::protocol::notify::render_all(
                    jid,
                    max,
                    self.ctx.multicast.as_ref(),
                    &notes,
                );
                tracing::info!(
                    items = items.len(),
                    notifications = rendered.len(),
                    "fan-out resumed from the last leader's recorded point"
                );
                self.notify(rendered, out);
            }
            Job::Tick => {
                if let Some(relay) = self.relay.as_mut() {
                    relay.tick(now, out);
                }
                if let Some(chat) = self.chat.as_mut() {
                    chat.tick(now, out);
                }
                self.tick();
            }
            Job::Xmpp(Inbound::LinkUp) | Job::LinkUp => {}
        }
    }
}

#[cfg(test)]
#[path = "router_tests.rs"]
mod group_commit_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::{InvalidStanza, StanzaKind};
    use crate::pubsub::ServiceSettings;
    use crate::store::MemoryStore;
    use tokio_xmpp::parsers::iq::Iq;
    use tokio_xmpp::parsers::presence::Type as PresenceType;

    fn router() -> Router<MemoryStore> {
        let settings = ServiceSettings {
            create_domains: vec!["localhost".into()],
            ..Default::default()
        };
        let service = Service::open(MemoryStore::new(), settings).unwrap();
        let ctx = ProtocolCtx {
            service_jid: "events.localhost".parse().unwrap(),
            max_payload_bytes: 1024,
            multicast: None,
        };
        Router::new(service, ctx)
    }

    fn handle(r: &mut Router<MemoryStore>, xml: &str) -> Vec<Stanza> {
        let el: tokio_xmpp::minidom::Element = xml.parse().unwrap();
        let stanza = Stanza::try_from(el).unwrap();
        let mut out = Vec::new();
        r.handle(Job::Xmpp(Inbound::Stanza(stanza)), &mut out);
        out
    }

    const NS: &str = "xmlns='jabber:component:accept'";

    #[test]
    fn iq_results_and_errors_are_never_answered() {
        let mut r = router();
        let out = handle(
            &mut r,
            &format!("<iq {NS} type='result' id='1' from='a@localhost/r' to='events.localhost'/>"),
        );
        assert!(out.is_empty());
    }

    #[test]
    fn unparsable_iq_gets_bad_request_from_the_addressee() {
        let mut r = router();
        let bad = InvalidStanza {
            kind: StanzaKind::Iq,
            from: Some("a@localhost/r".into()),
            to: Some("events.localhost".into()),
            id: Some("x1".into()),
            type_: Some("get".into()),
            reason: "missing child".into(),
        };
        let mut out = Vec::new();
        r.handle(Job::Xmpp(Inbound::Invalid(bad)), &mut out);
        let [
            Stanza::Iq(Iq::Error {
                id, error, from, ..
            }),
        ] = out.as_slice()
        else {
            panic!("{out:?}")
        };
        assert_eq!(id, "x1");
        assert_eq!(
            from.as_ref().map(|j| j.to_string()),
            Some("events.localhost".into())
        );
        assert_eq!(
            error.defined_condition,
            tokio_xmpp::parsers::stanza_error::DefinedCondition::BadRequest
        );
    }

    #[test]
    fn unparsable_presence_is_dropped_silently() {
        let mut r = router();
        let bad = InvalidStanza {
            kind: StanzaKind::Presence,
            from: Some("a@localhost/r".into()),
            to: Some("events.localhost".into()),
            id: None,
            type_: None,
            reason: "bad".into(),
        };
        let mut out = Vec::new();
        r.handle(Job::Xmpp(Inbound::Invalid(bad)), &mut out);
        assert!(out.is_empty());
    }

    fn flushes(r: &Router<MemoryStore>) -> u64 {
        r.service.store.flushes
    }

    /// Runs one batch of `stanzas` and commits it; returns the flushes the
    /// commit cost.
    fn batch(r: &mut Router<MemoryStore>, stanzas: &[String]) -> u64 {
        for s in stanzas {
            handle(r, s);
        }
        let before = flushes(r);
        r.commit().unwrap();
        flushes(r) - before
    }

    fn iq(id: &str, from: &str, type_: &str, body: &str) -> String {
        format!(
            "<iq {NS} type='{type_}' id='{id}' from='{from}' to='events.localhost'><pubsub xmlns='http://jabber.org/protocol/pubsub'>{body}</pubsub></iq>"
        )
    }

    #[test]
    fn commit_flushes_if_and_only_if_the_store_saw_a_write() {
        let mut r = router();
        let create = iq("c", "a@localhost/r", "set", "<create node='n'/>");
        assert_eq!(batch(&mut r, &[create]), 1, "a create writes");
        let ping = format!(
            "<iq {NS} type='get' id='p' from='a@localhost/r' to='events.localhost'><ping xmlns='urn:xmpp:ping'/></iq>"
        );
        let items = iq("g", "a@localhost/r", "get", "<items node='n'/>");
        assert_eq!(batch(&mut r, &[ping, items]), 0, "reads cost no flush");
        let publish = iq(
            "p1",
            "a@localhost/r",
            "set",
            "<publish node='n'><item id='i'><x xmlns='urn:t'/></item></publish>",
        );
        assert_eq!(batch(&mut r, &[publish]), 1, "a publish writes");
        // Not the owner, and a domain that may not create nodes: refused
        // before anything is written.
        let refused = [
            iq(
                "d",
                "b@elsewhere/r",
                "set",
                "<publish node='m'><item/></publish>",
            ),
            iq(
                "e",
                "b@elsewhere/r",
                "set",
                "<publish node='n'><item id='j'/></publish>",
            ),
        ];
        assert_eq!(batch(&mut r, &refused), 0, "a refusal writes nothing");
        assert_eq!(batch(&mut r, &[]), 0, "an empty batch costs nothing");
    }

    #[test]
    fn only_pubsub_notifications_are_counted_and_publishes_from_the_outcome() {
        let mut r = router();
        let create = iq("c", "a@localhost/r", "set", "<create node='n'/>");
        let sub = iq(
            "s",
            "b@localhost/r",
            "set",
            "<subscribe node='n' jid='b@localhost/r'/>",
        );
        batch(&mut r, &[create, sub]);
        r.release();
        let publish = iq(
            "p",
            "a@localhost/r",
            "set",
            "<publish node='n'><item id='i'><x xmlns='urn:t'/></item></publish>",
        );
        let out = handle(&mut r, &publish);
        assert_eq!(out.len(), 2, "the result and one notification: {out:?}");
        assert_eq!(r.notified, 1, "the IQ result is no notification");
        let subs = iq("g", "b@localhost/r", "get", "<subscriptions/>");
        handle(&mut r, &subs);
        assert_eq!(r.notified, 1, "a read notifies nobody");
        r.commit().unwrap();
        r.release();
        assert_eq!(r.notified, 0, "counted at release");
    }

    #[test]
    fn publish_latency_is_kept_for_publishes_that_notified_until_sent() {
        let mut r = router();
        let create = iq("c", "a@localhost/r", "set", "<create node='n'/>");
        let publish = |id: &str| {
            let body =
                format!("<publish node='n'><item id='{id}'><x xmlns='urn:t'/></item></publish>");
            iq(id, "a@localhost/r", "set", &body)
        };
        batch(&mut r, &[create, publish("quiet")]);
        assert!(
            r.notifying_publishes.is_empty(),
            "no subscriber, nothing to time"
        );
        let sub = iq(
            "s",
            "b@localhost/r",
            "set",
            "<subscribe node='n' jid='b@localhost/r'/>",
        );
        batch(&mut r, &[sub]);
        assert!(
            r.notifying_publishes.is_empty(),
            "a subscribe is no publish"
        );
        batch(&mut r, &[publish("loud")]);
        assert_eq!(r.notifying_publishes.len(), 1);
        r.release();
        assert_eq!(
            r.notifying_publishes.len(),
            1,
            "observed once sent, not at release"
        );
        r.sent();
        assert!(r.notifying_publishes.is_empty());
    }

    /// The id and addressee of a disco query the router sent.
    fn query(s: &Stanza) -> (String, String) {
        let Stanza::Iq(Iq::Get { id, to, .. }) = s else {
            panic!("{s:?}")
        };
        (
            id.clone(),
            to.as_ref().map(|t| t.to_string()).unwrap_or_default(),
        )
    }

    #[test]
    fn link_up_discovers_multicast_and_then_publishes_share_a_stanza() {
        let me = "events.localhost".parse().unwrap();
        let mut r = router().with_multicast(Multicast::new(true, 20, me));
        let mut out = Vec::new();
        r.handle(Job::LinkUp, &mut out);
        let (items_id, to) = query(&out[1]);
        assert_eq!(to, "localhost");
        let out = handle(
            &mut r,
            &format!(
                "<iq {NS} type='result' id='{items_id}' from='localhost' to='events.localhost'><query xmlns='http://jabber.org/protocol/disco#items'><item jid='multicast.localhost'/></query></iq>"
            ),
        );
        let (info_id, to) = query(&out[0]);
        assert_eq!(to, "multicast.localhost");
        let out = handle(
            &mut r,
            &format!(
                "<iq {NS} type='result' id='{info_id}' from='multicast.localhost' to='events.localhost'><query xmlns='http://jabber.org/protocol/disco#info'><feature var='http://jabber.org/protocol/address'/></query></iq>"
            ),
        );
        assert!(out.is_empty(), "answers to our queries are not routed");
        let create = iq("c", "a@localhost/r", "set", "<create node='n'/>");
        let sub = |who: &str| {
            let body = format!("<subscribe node='n' jid='{who}@localhost'/>");
            iq(who, &format!("{who}@localhost/r"), "set", &body)
        };
        batch(&mut r, &[create, sub("b"), sub("c")]);
        r.release();
        let publish = iq(
            "p",
            "a@localhost/r",
            "set",
            "<publish node='n'><item id='i'><x xmlns='urn:t'/></item></publish>",
        );
        let out = handle(&mut r, &publish);
        let to: Vec<String> = (out.iter())
            .filter_map(|s| match s {
                Stanza::Message(m) => m.to.as_ref().map(|t| t.to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(to, ["multicast.localhost"], "{out:?}");
        assert_eq!(r.notified, 1, "one stanza for both subscribers");
    }

    #[test]
    fn presence_subscribe_to_the_service_is_approved() {
        let mut r = router();
        let out = handle(
            &mut r,
            &format!(
                "<presence {NS} type='subscribe' from='a@localhost/r' to='events.localhost'/>"
            ),
        );
        let [Stanza::Presence(p), Stanza::Presence(available)] = out.as_slice() else {
            panic!("{out:?}")
        };
        assert_eq!(p.type_, PresenceType::Subscribed);
        assert_eq!(available.type_, PresenceType::None);
        assert_eq!(
            p.to.as_ref().map(|j| j.to_string()),
            Some("a@localhost".into())
        );
    }
}
