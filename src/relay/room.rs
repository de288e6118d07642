//! One relayed room: joining, rejoining after a kick, a room restart or a
//! link reconnect, and posting through the room's rate limiter.

use super::config::{RelayConfig, RoomConfig};
use super::stanzas;
use crate::chat::limiter::Limiter;
use crate::chat::message::text_message;
use crate::node_pattern::NodePattern;
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

/// A message waiting for the room: (node, body, item wrapper).
type Pending = (String, String, Element);

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
            failures: 0,
        })
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
        if self.state != State::Joined {
            if self.pending.len() < self.pending_cap {
                self.pending.push_back(item);
            } else {
                self.limiter.hold(now, &item.0);
            }
            return;
        }
        self.post_digest(me, now, out);
        if self.limiter.admit(now, &item.0) {
            let (_, body, wrapped) = item;
            let to = Jid::from(self.jid.clone());
            out.push(Stanza::Message(text_message(
                me,
                to,
                MessageType::Groupchat,
                &body,
                vec![wrapped],
            )));
        }
    }

    fn drain_pending(&mut self, me: &Jid, now: Instant, out: &mut Vec<Stanza>) {
        while let Some(item) = self.pending.pop_front() {
            self.post(me, item, now, out);
        }
    }

    fn post_digest(&mut self, me: &Jid, now: Instant, out: &mut Vec<Stanza>) {
        if let Some(text) = self.limiter.roll(now) {
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
