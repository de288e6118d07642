//! Presence the service sends about itself to a user who adds it to the
//! roster (RFC 6121 §3.1.5): the approval, then the service's current
//! (available) presence, so the contact does not show offline until the
//! client's next probe.

use tokio_xmpp::Stanza;
use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::parsers::presence::{Presence, Type as PresenceType};

/// A presence of `type_` from the service to `user`'s bare JID.
pub fn presence(service: &Jid, user: &BareJid, type_: PresenceType) -> Stanza {
    let mut p = Presence::new(type_);
    p.from = Some(service.clone());
    p.to = Some(Jid::from(user.clone()));
    Stanza::Presence(p)
}

/// The answer to `<presence type='subscribe'/>`: `subscribed`, then an
/// available presence (RFC 6121 §3.1.5: "the contact SHOULD send its
/// current presence" after approving).
pub fn approve_subscription(service: &Jid, user: &BareJid) -> [Stanza; 2] {
    [
        presence(service, user, PresenceType::Subscribed),
        presence(service, user, PresenceType::None),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approval_is_followed_by_available_presence() {
        let service: Jid = "events.localhost".parse().unwrap();
        let user: BareJid = "a@localhost".parse().unwrap();
        let [Stanza::Presence(s), Stanza::Presence(p)] = approve_subscription(&service, &user)
        else {
            panic!("two presences expected")
        };
        assert_eq!(s.type_, PresenceType::Subscribed);
        assert_eq!(p.type_, PresenceType::None);
        assert_eq!(p.from, Some(service));
        assert_eq!(p.to, Some(Jid::from(user)));
    }
}
