//! One relayed room: joining, rejoining after a kick, a room restart or a
//! link reconnect, and posting through the room's rate limiter.

use super::config::{RelayConfig, RoomConfig};
use super::held::Missed;
use super::lineage::Lineage;
use super::stanzas;
use crate::chat::limiter::Limiter;
use crate::chat::message::text_message;
use crate::node_pattern::{self, NodePattern};
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use tokio_xmpp::Stanza;
use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::message::MessageType;
use tokio_xmpp::parsers::presence::{Presence, Type as PresenceType};

/// A join that gets no answer in this time is sent again.
const JOIN_TIMEOUT: Duration = Duration::from_secs(20);
const RETRY_MIN: Duration = Duration::from_secs(2);
const RETRY_MAX: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Not in the room; join again at this time.
    Out {
        retry_at: Instant,
    },
    Joining {
        since: Instant,
    },
    Joined,
}

/// Why a room gets an item: a pattern matched the node itself, or a
/// collection above it (XEP-0248).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Node,
    Collection(String),
}

impl Source {
    /// The collection that brought the item, for the wrapper.
    pub fn collection(&self) -> Option<&str> {
        match self {
            Source::Node => None,
            Source::Collection(c) => Some(c),
        }
    }
}

/// A message for the room, held while Herald is out of it.
pub struct Pending {
    pub node: String,
    pub body: String,
    /// The item in Herald's wrapper (`chat::message::item_element`).
    pub wrapped: Element,
    /// When the item was published: the `<delay/>` of a late post.
    pub published_ms: u64,
}

pub struct Room {
    pub jid: BareJid,
    pub nodes: Vec<NodePattern>,
    nick: String,
    password: Option<String>,
    pub state: State,
    limiter: Limiter,
    /// Items published while Herald was out of the room (bounded).
    pending: VecDeque<Pending>,
    pending_cap: usize,
    /// What did not fit in `pending`, for the digest when back.
    missed: Missed,
    failures: u32,
}

impl Room {
    /// A room from its validated config entry. It counts as joining until
    /// the link's first `LinkUp` sends the join (or the join timeout does).
    pub fn from_config(c: &RoomConfig, relay: &RelayConfig, now: Instant) -> Option<Self> {
        let rate = c.max_per_minute.unwrap_or(relay.max_per_minute);
        Some(Room {
            jid: BareJid::new(&c.room).ok()?,
            nodes: NodePattern::parse_all(&c.nodes),
            nick: c.nick.clone(),
            password: c.password.clone(),
            state: State::Joining { since: now },
            limiter: Limiter::new(rate, Duration::from_secs(relay.window_secs)),
            pending: VecDeque::new(),
            pending_cap: rate as usize,
            missed: Missed::default(),
            failures: 0,
        })
    }

    /// Whether the room gets items of `leaf` (`above`: the collections
    /// above it, nearest first). A pattern matching the leaf relays it as
    /// before: the operator named it. A pattern matching only a collection
    /// above relays it if the room's bare JID may read the leaf, the rule
    /// a collection subscriber gets (open leaves, or leaves where an owner
    /// made the room a member): a room's occupants are not known, so a
    /// closed leaf does not leak into a room through a family name.
    pub fn source(&self, leaf: &str, above: &[String], lineage: &impl Lineage) -> Option<Source> {
        if node_pattern::matches_any(&self.nodes, leaf) {
            return Some(Source::Node);
        }
        let collection = above
            .iter()
            .find(|c| node_pattern::matches_any(&self.nodes, c))?;
        (lineage.may_read(leaf, &self.jid)).then(|| Source::Collection(collection.clone()))
    }

    /// Sends the enter-room presence (also when already in: harmless, and
    /// after a link reconnect the room may have forgotten us).
    pub fn join(&mut self, me: &Jid, now: Instant, out: &mut Vec<Stanza>) {
        if let Some(p) = stanzas::join(me, &self.jid, &self.nick, self.password.as_deref()) {
            out.push(Stanza::Presence(p));
        }
        self.state = State::Joining { since: now };
    }

    /// Presence from the room: ours (resource = our nick) changes state;
    /// other occupants' are ignored.
    pub fn on_presence(&mut self, p: &Presence, me: &Jid, now: Instant, out: &mut Vec<Stanza>) {
        let ours = p
            .from
            .as_ref()
            .and_then(|f| f.resource())
            .is_some_and(|r| r.as_str() == self.nick);
        if !ours {
            return;
        }
        match p.type_ {
            PresenceType::None if self.state != State::Joined => {
                tracing::info!(room = %self.jid, nick = %self.nick, "joined room");
                self.state = State::Joined;
                self.failures = 0;
                self.drain_pending(me, now, out);
            }
            PresenceType::Unavailable => {
                let codes = stanzas::status_codes(p);
                if codes.contains(&303) {
                    return; // nick change; Herald never changes its nick
                }
                tracing::warn!(room = %self.jid, reason = stanzas::leave_reason(&codes), "out of the room; rejoining");
                self.retry_later(now);
            }
            PresenceType::Error => {
                self.failures = self.failures.saturating_add(1);
                let why = stanzas::error_text(&p.payloads);
                tracing::warn!(room = %self.jid, error = %why, "cannot join room; will retry");
                self.retry_later(now);
            }
            _ => {}
        }
    }

    /// A groupchat message of ours bounced: we are no longer an occupant.
    pub fn on_bounce(&mut self, why: &str, now: Instant) {
        if self.state == State::Joined {
            tracing::warn!(room = %self.jid, error = %why, "message to room bounced; rejoining");
            self.retry_later(now);
        }
    }

    fn retry_later(&mut self, now: Instant) {
        let factor = 1u32 << self.failures.min(5);
        let delay = (RETRY_MIN * factor).min(RETRY_MAX);
        self.state = State::Out {
            retry_at: now + delay,
        };
    }

    /// Posts (or holds back) one item's message.
    pub fn post(&mut self, me: &Jid, item: Pending, now: Instant, out: &mut Vec<Stanza>) {
        self.post_as(me, item, false, now, out);
    }

    /// `late`: the item waited for Herald to be back in the room, so the
    /// post carries a XEP-0203 `<delay/>` with its publication time and
    /// an old event does not read as new.
    fn post_as(
        &mut self,
        me: &Jid,
        item: Pending,
        late: bool,
        now: Instant,
        out: &mut Vec<Stanza>,
    ) {
        if self.state != State::Joined {
            if self.pending.len() < self.pending_cap {
                self.pending.push_back(item);
            } else {
                self.missed.record(&item.node, item.published_ms);
            }
            return;
        }
        self.post_digest(me, now, out);
        if self.limiter.admit(now, &item.node) {
            let mut extra = vec![item.wrapped];
            if late {
                extra.push(stanzas::delay(me, item.published_ms));
            }
            let to = Jid::from(self.jid.clone());
            out.push(Stanza::Message(text_message(
                me,
                to,
                MessageType::Groupchat,
                &item.body,
                extra,
            )));
        }
    }

    fn drain_pending(&mut self, me: &Jid, now: Instant, out: &mut Vec<Stanza>) {
        if let Some(text) = self.missed.take_digest(me.to_bare().as_str()) {
            let to = Jid::from(self.jid.clone());
            let m = text_message(me, to, MessageType::Groupchat, &text, vec![]);
            out.push(Stanza::Message(m));
        }
        while let Some(item) = self.pending.pop_front() {
            self.post_as(me, item, true, now, out);
        }
    }

    fn post_digest(&mut self, me: &Jid, now: Instant, out: &mut Vec<Stanza>) {
        if let Some(text) = self.limiter.roll(now, me.to_bare().as_str()) {
            let to = Jid::from(self.jid.clone());
            out.push(Stanza::Message(text_message(
                me,
                to,
                MessageType::Groupchat,
                &text,
                vec![],
            )));
        }
    }

    /// Periodic work: retry joins, repeat unanswered joins, send digests.
    pub fn tick(&mut self, me: &Jid, now: Instant, out: &mut Vec<Stanza>) {
        match self.state {
            State::Out { retry_at } if now >= retry_at => self.join(me, now, out),
            State::Joining { since } if now.duration_since(since) >= JOIN_TIMEOUT => {
                tracing::warn!(room = %self.jid, "no answer to join; trying again");
                self.join(me, now, out);
            }
            State::Joined => self.post_digest(me, now, out),
            _ => {}
        }
    }
}
