//! Who among the group members is reachable, from presence sent to the
//! service (directed presence, or a presence subscription with it).
//! Memory only: after a restart every member counts as available until
//! it says otherwise (the ack timeout covers the ones that are gone).

use jid::{BareJid, Jid};
use std::collections::{HashMap, HashSet};

#[derive(Debug, Default)]
pub(crate) struct PresenceBook {
    /// Available resources of every bare JID we have heard from.
    online: HashMap<BareJid, HashSet<String>>,
    /// Full JIDs of members that went unavailable.
    gone: HashSet<Jid>,
}

impl PresenceBook {
    pub fn available(&mut self, jid: &Jid) {
        let resources = self.online.entry(jid.to_bare()).or_default();
        if let Some(r) = jid.resource() {
            resources.insert(r.as_str().to_owned());
        }
        self.gone.remove(jid);
    }

    /// `member`: remember the full JID as gone (only for group members,
    /// so the set stays bounded by the subscriptions).
    pub fn unavailable(&mut self, jid: &Jid, member: bool) {
        let resources = self.online.entry(jid.to_bare()).or_default();
        match jid.resource() {
            Some(r) => {
                resources.remove(r.as_str());
            }
            None => resources.clear(),
        }
        if member && jid.resource().is_some() {
            self.gone.insert(jid.clone());
        }
    }

    /// A full JID is available unless it went unavailable; a bare JID
    /// unless we know all its resources are gone.
    pub fn is_available(&self, jid: &Jid) -> bool {
        match jid.resource() {
            Some(_) => !self.gone.contains(jid),
            None => (self.online.get(&jid.to_bare())).is_none_or(|r| !r.is_empty()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jid(s: &str) -> Jid {
        Jid::new(s).unwrap()
    }

    #[test]
    fn unknown_jids_count_as_available() {
        let book = PresenceBook::default();
        assert!(book.is_available(&jid("a@x/r")));
        assert!(book.is_available(&jid("a@x")));
    }

    #[test]
    fn full_and_bare_jids_follow_their_resources() {
        let mut book = PresenceBook::default();
        book.available(&jid("a@x/1"));
        book.available(&jid("a@x/2"));
        book.unavailable(&jid("a@x/1"), true);
        assert!(!book.is_available(&jid("a@x/1")));
        assert!(book.is_available(&jid("a@x/2")));
        assert!(book.is_available(&jid("a@x")), "one resource left");
        book.unavailable(&jid("a@x/2"), false);
        assert!(!book.is_available(&jid("a@x")));
        book.available(&jid("a@x/1"));
        assert!(book.is_available(&jid("a@x/1")));
        assert!(book.is_available(&jid("a@x")));
    }
}
