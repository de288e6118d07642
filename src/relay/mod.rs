//! Relay to multi-user chat (XEP-0045): Herald joins the configured rooms
//! as an occupant (`<service>/<resource>`) and posts each new item of a
//! matching node as a groupchat message with a readable body and the item
//! alongside, within each room's rate limit. See xep-notes/xep-0045.md.
//! A room's pattern may also name a collection (XEP-0248): its leaves'
//! items are relayed when the room may read them (`room::Room::source`).

pub mod config;
mod held;
mod lineage;
mod room;
pub mod stanzas;

pub use config::RelayConfig;
pub use lineage::Lineage;

use crate::chat::{BodyRenderer, message};
use crate::pubsub::{BareJid, Published};
use room::{Pending, Room};
use std::sync::Arc;
use std::time::Instant;
use tokio_xmpp::Stanza;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::message::MessageType;

/// Every relayed room and Herald's occupant JID.
pub struct Relay {
    me: Jid,
    rooms: Vec<Room>,
    bodies: Arc<BodyRenderer>,
}

impl Relay {
    /// From the validated config; no rooms means the relay does nothing.
    pub fn new(
        config: &RelayConfig,
        service: &BareJid,
        bodies: Arc<BodyRenderer>,
    ) -> Result<Self, String> {
        let me = Jid::new(&format!("{service}/{}", config.resource))
            .map_err(|e| format!("relay.resource: {e}"))?;
        let now = Instant::now();
        let rooms = (config.rooms.iter())
            .map(|r| {
                Room::from_config(r, config, now).ok_or_else(|| format!("relay room {:?}", r.room))
            })
            .collect::<Result<_, _>>()?;
        Ok(Relay { me, rooms, bodies })
    }

    /// Whether any room is configured (then ticks are needed).
    pub fn is_active(&self) -> bool {
        !self.rooms.is_empty()
    }

    /// Presences and messages from a relayed room belong to the relay.
    pub fn claims(&self, stanza: &Stanza) -> bool {
        let from = match stanza {
            Stanza::Presence(p) => p.from.as_ref(),
            Stanza::Message(m) => m.from.as_ref(),
            Stanza::Iq(_) => None,
        };
        from.is_some_and(|f| self.room_index(&f.to_bare()).is_some())
    }

    fn room_index(&self, jid: &BareJid) -> Option<usize> {
        self.rooms.iter().position(|r| r.jid == *jid)
    }

    /// Handles a stanza [`Relay::claims`] accepted.
    pub fn on_stanza(&mut self, stanza: Stanza, now: Instant, out: &mut Vec<Stanza>) {
        let me = self.me.clone();
        match stanza {
            Stanza::Presence(p) => {
                let i = p.from.as_ref().and_then(|f| self.room_index(&f.to_bare()));
                if let Some(i) = i {
                    self.rooms[i].on_presence(&p, &me, now, out);
                }
            }
            Stanza::Message(m) if m.type_ == MessageType::Error => {
                let i = m.from.as_ref().and_then(|f| self.room_index(&f.to_bare()));
                if let Some(i) = i {
                    self.rooms[i].on_bounce(&stanzas::error_text(&m.payloads), now);
                }
            }
            // Room chatter, subjects and our own echoes: nothing to do.
            _ => {}
        }
    }

    /// Posts each item of `p` to every room whose patterns match its node
    /// or, for a room allowed to read the node, a collection above it.
    pub fn on_published(
        &mut self,
        p: &Published,
        lineage: &impl Lineage,
        now: Instant,
        out: &mut Vec<Stanza>,
    ) {
        let me = self.me.clone();
        let above = lineage.collections_above(&p.node);
        for room in &mut self.rooms {
            let Some(source) = room.source(&p.node, &above, lineage) else {
                continue;
            };
            for item in &p.items {
                let body = self.bodies.render(&p.node, item);
                let wrapped = message::item_element_via(&p.node, item, source.collection());
                let held = Pending {
                    node: p.node.clone(),
                    body,
                    wrapped,
                    published_ms: item.published_ms,
                };
                room.post(&me, held, now, out);
            }
        }
    }

    /// The component link (re)connected: (re)join every room.
    pub fn link_up(&mut self, now: Instant, out: &mut Vec<Stanza>) {
        let me = self.me.clone();
        for room in &mut self.rooms {
            room.join(&me, now, out);
        }
    }

    /// Periodic work of every room (rejoins, digests).
    pub fn tick(&mut self, now: Instant, out: &mut Vec<Stanza>) {
        let me = self.me.clone();
        for room in &mut self.rooms {
            room.tick(&me, now, out);
        }
    }
}

#[cfg(test)]
mod tests;
