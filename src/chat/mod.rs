//! Events for people in plain chat clients: readable bodies for items,
//! chat commands (`help`, `list`, `subscribe`, `unsubscribe`, `last`) and
//! delivery of items to `herald#chat` subscribers as chat messages.
//! Knows the core and stanzas; never sockets.

mod answer;
pub mod body;
pub mod command;
pub mod config;
pub mod limiter;
pub mod message;
pub mod ordered_json;
pub mod payload;
pub mod template;

pub use body::BodyRenderer;
pub use config::ChatConfig;

use crate::protocol::notify;
use crate::pubsub::{BareJid, Published, Service};
use crate::store::Store;
use limiter::Limiter;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_xmpp::Stanza;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::message::{Message, MessageType};

/// What a chat command produced: the readable answer, then the pubsub
/// notifications the core returned (e.g. approval requests to owners).
pub struct ChatHandled {
    pub answer: Stanza,
    pub notifications: Vec<Stanza>,
}

/// Chat commands and chat delivery.
pub struct ChatService {
    commands: bool,
    bodies: Arc<BodyRenderer>,
    service_jid: BareJid,
    /// Rate limit per chat subscriber: messages per window.
    rate: (u32, Duration),
    /// Subscribers with an open window; idle ones are forgotten on tick.
    limits: HashMap<Jid, Limiter>,
}

impl ChatService {
    pub fn new(config: &ChatConfig, bodies: Arc<BodyRenderer>, service_jid: BareJid) -> Self {
        ChatService {
            commands: config.commands,
            bodies,
            service_jid,
            rate: (
                config.max_per_minute,
                Duration::from_secs(config.window_secs),
            ),
            limits: HashMap::new(),
        }
    }

    /// Answers a chat or normal message with a body sent to the service's
    /// own JID; `None` for anything else (never answers errors, groupchat
    /// or headlines, so no loops with other automata).
    pub fn handle_message<S: Store>(
        &self,
        service: &mut Service<S>,
        msg: &Message,
    ) -> Option<ChatHandled> {
        let from = msg.from.as_ref()?;
        let to_service = msg
            .to
            .as_ref()
            .is_some_and(|t| t.to_bare() == self.service_jid);
        let typed = matches!(msg.type_, MessageType::Chat | MessageType::Normal);
        let body = message::body_text(msg)?;
        if !self.commands || !to_service || !typed || from.domain() == self.service_jid.domain() {
            return None;
        }
        let answer = match command::parse(body) {
            Ok(cmd) => answer::execute(service, &self.bodies, &from.to_bare(), cmd),
            Err(text) => answer::Answer {
                text,
                ..Default::default()
            },
        };
        let me = Jid::from(self.service_jid.clone());
        let reply =
            message::text_message(&me, from.clone(), MessageType::Chat, &answer.text, vec![]);
        let max = service.settings().max_stanza_bytes;
        Some(ChatHandled {
            answer: Stanza::Message(reply),
            notifications: notify::render_all(&self.service_jid, max, None, &answer.notifications),
        })
    }

    /// One chat message per item to every `herald#chat` subscriber of the
    /// node or of a collection above it (XEP-0248, once per JID), within
    /// each subscriber's rate; what does not fit goes into a digest. The
    /// body and the wrapper name the node the item was published to.
    pub fn deliver<S: Store>(
        &mut self,
        service: &Service<S>,
        published: &Published,
        now: Instant,
        out: &mut Vec<Stanza>,
    ) {
        let node = published.node.as_str();
        let mut subscribers: Vec<(Jid, Option<String>)> = (service.chat_subscribers(node))
            .into_iter()
            .map(|j| (j, None))
            .collect();
        for (jid, collection) in service.chat_collection_subscribers(node) {
            if !subscribers.iter().any(|(j, _)| *j == jid) {
                subscribers.push((jid, Some(collection)));
            }
        }
        if subscribers.is_empty() {
            return;
        }
        for item in &published.items {
            let body = self.bodies.render(node, item);
            for (to, collection) in &subscribers {
                self.roll(to, now, out);
                let (max, window) = self.rate;
                let limiter = self.limits.entry(to.clone()).or_insert_with(|| {
                    Limiter::with_reason(max, window, "to keep this chat readable")
                });
                if limiter.admit(now, node) {
                    let wrapped = message::item_element_via(node, item, collection.as_deref());
                    out.push(self.chat(to.clone(), &body, vec![wrapped]));
                }
            }
        }
    }

    /// Sends the digests of windows that ended and forgets idle subscribers.
    pub fn tick(&mut self, now: Instant, out: &mut Vec<Stanza>) {
        let due: Vec<Jid> = self.limits.keys().cloned().collect();
        for to in due {
            self.roll(&to, now, out);
        }
        self.limits.retain(|_, l| !l.is_idle());
    }

    fn roll(&mut self, to: &Jid, now: Instant, out: &mut Vec<Stanza>) {
        let service = self.service_jid.to_string();
        let digest = (self.limits.get_mut(to)).and_then(|l| l.roll(now, &service));
        if let Some(text) = digest {
            out.push(self.chat(to.clone(), &text, vec![]));
        }
    }

    fn chat(&self, to: Jid, body: &str, payloads: Vec<tokio_xmpp::minidom::Element>) -> Stanza {
        let me = Jid::from(self.service_jid.clone());
        Stanza::Message(message::text_message(
            &me,
            to,
            MessageType::Chat,
            body,
            payloads,
        ))
    }
}

#[cfg(test)]
mod tests;
