//! The few MUC stanzas the relay sends and reads (XEP-0045 §7.2.1 enter
//! a room, §7.2.6 password, §7.2.15 history, §7.4 groupchat message,
//! §9.2 / §10.9 / §7.14 unavailable with status codes).

use crate::protocol::xml::BuilderExt;
use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::presence::{Presence, Type as PresenceType};

pub const MUC: &str = "http://jabber.org/protocol/muc";
pub const MUC_USER: &str = "http://jabber.org/protocol/muc#user";

/// Enter-room presence to `room/nick`, asking for no history (§7.2.15:
/// people already saw it, and replaying it to Herald is useless).
pub fn join(me: &Jid, room: &BareJid, nick: &str, password: Option<&str>) -> Option<Presence> {
    let to = Jid::new(&format!("{room}/{nick}")).ok()?;
    let mut x =
        Element::builder("x", MUC).append(Element::builder("history", MUC).a("maxstanzas", "0"));
    if let Some(p) = password {
        x = x.append(Element::builder("password", MUC).append(p));
    }
    let mut presence = Presence::new(PresenceType::None).with_payloads(vec![x.build()]);
    presence.from = Some(me.clone());
    presence.to = Some(to);
    Some(presence)
}

/// XEP-0203 `<delay/>` for a post made after the event (`from`: Herald).
pub fn delay(me: &Jid, published_ms: u64) -> Element {
    Element::builder("delay", "urn:xmpp:delay")
        .a("from", me.to_bare().as_str())
        .a("stamp", crate::protocol::timestamp::xep0082(published_ms))
        .build()
}

/// The muc#user status codes of a presence (110 self, 307 kicked, …).
pub fn status_codes(p: &Presence) -> Vec<u16> {
    let x = p.payloads.iter().find(|e| e.is("x", MUC_USER));
    x.map(|x| {
        (x.children())
            .filter(|c| c.is("status", MUC_USER))
            .filter_map(|c| c.attr("code")?.parse().ok())
            .collect()
    })
    .unwrap_or_default()
}

/// Why Herald left the room, for the log.
pub fn leave_reason(codes: &[u16]) -> &'static str {
    match codes {
        c if c.contains(&307) => "kicked",
        c if c.contains(&301) => "banned",
        c if c.contains(&321) || c.contains(&322) => "removed (affiliation or members-only)",
        c if c.contains(&332) => "room service shutting down",
        _ => "left or room closed",
    }
}

/// The `<text/>` or condition of an error payload, for the log.
pub fn error_text(payloads: &[Element]) -> String {
    let Some(error) = payloads.iter().find(|e| e.name() == "error") else {
        return "unknown error".into();
    };
    let text = error
        .children()
        .find(|c| c.name() == "text")
        .map(|t| t.text());
    let condition = error
        .children()
        .find(|c| c.name() != "text")
        .map(|c| c.name().to_owned());
    match (condition, text) {
        (Some(c), Some(t)) => format!("{c}: {t}"),
        (Some(c), None) => c,
        (None, t) => t.unwrap_or_else(|| "unknown error".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_presence_asks_for_no_history_and_carries_the_password() {
        let me: Jid = "events.localhost/relay".parse().unwrap();
        let room: BareJid = "ops@conference.localhost".parse().unwrap();
        let p = join(&me, &room, "herald", Some("s3cret")).unwrap();
        assert_eq!(p.to.unwrap().to_string(), "ops@conference.localhost/herald");
        let x = &p.payloads[0];
        assert!(x.is("x", MUC));
        assert_eq!(
            x.get_child("history", MUC).unwrap().attr("maxstanzas"),
            Some("0")
        );
        assert_eq!(x.get_child("password", MUC).unwrap().text(), "s3cret");
    }

    #[test]
    fn status_codes_and_reasons() {
        let x: Element = "<x xmlns='http://jabber.org/protocol/muc#user'><item role='none'/><status code='307'/><status code='110'/></x>".parse().unwrap();
        let p = Presence::new(PresenceType::Unavailable).with_payloads(vec![x]);
        let codes = status_codes(&p);
        assert_eq!(codes, [307, 110]);
        assert_eq!(leave_reason(&codes), "kicked");
    }
}
