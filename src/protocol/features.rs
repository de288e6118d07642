//! The XEP-0060 §10 features Herald advertises in the service's disco#info.
//! Only what works end to end; see `xep-notes/xep-0060.md` for what is
//! left out and why.

use crate::pubsub::ServiceSettings;

/// Features that are always on (the base namespace included).
pub const FEATURES: &[&str] = &[
    "http://jabber.org/protocol/pubsub",
    // Access models: `access-open` is the default; the others are
    // advertised as supported values of pubsub#access_model, as deployed
    // services (ejabberd, Prosody) do. `access-roster` is refused.
    "http://jabber.org/protocol/pubsub#access-authorize",
    "http://jabber.org/protocol/pubsub#access-open",
    "http://jabber.org/protocol/pubsub#access-presence",
    "http://jabber.org/protocol/pubsub#access-whitelist",
    // XEP-0248 §3.1; a node may belong to several collections.
    "http://jabber.org/protocol/pubsub#collections",
    "http://jabber.org/protocol/pubsub#config-node",
    "http://jabber.org/protocol/pubsub#config-node-max",
    "http://jabber.org/protocol/pubsub#create-and-configure",
    "http://jabber.org/protocol/pubsub#create-nodes",
    "http://jabber.org/protocol/pubsub#delete-items",
    "http://jabber.org/protocol/pubsub#delete-nodes",
    "http://jabber.org/protocol/pubsub#instant-nodes",
    "http://jabber.org/protocol/pubsub#item-ids",
    "http://jabber.org/protocol/pubsub#manage-subscriptions",
    "http://jabber.org/protocol/pubsub#member-affiliation",
    "http://jabber.org/protocol/pubsub#meta-data",
    "http://jabber.org/protocol/pubsub#modify-affiliations",
    "http://jabber.org/protocol/pubsub#multi-collections",
    "http://jabber.org/protocol/pubsub#multi-items",
    "http://jabber.org/protocol/pubsub#multi-subscribe",
    "http://jabber.org/protocol/pubsub#outcast-affiliation",
    "http://jabber.org/protocol/pubsub#persistent-items",
    "http://jabber.org/protocol/pubsub#publish",
    "http://jabber.org/protocol/pubsub#publish-only-affiliation",
    "http://jabber.org/protocol/pubsub#publish-options",
    "http://jabber.org/protocol/pubsub#publisher-affiliation",
    "http://jabber.org/protocol/pubsub#purge-nodes",
    "http://jabber.org/protocol/pubsub#retract-items",
    "http://jabber.org/protocol/pubsub#retrieve-affiliations",
    "http://jabber.org/protocol/pubsub#retrieve-default",
    "http://jabber.org/protocol/pubsub#retrieve-default-sub",
    "http://jabber.org/protocol/pubsub#retrieve-items",
    "http://jabber.org/protocol/pubsub#retrieve-subscriptions",
    "http://jabber.org/protocol/pubsub#rsm",
    "http://jabber.org/protocol/pubsub#subscribe",
    "http://jabber.org/protocol/pubsub#subscription-notifications",
    "http://jabber.org/protocol/pubsub#subscription-options",
    // XEP-0059 §8: result set paging of disco#items (service and nodes)
    // as well as of items (`pubsub#rsm` above).
    "http://jabber.org/protocol/rsm",
    // XEP-0254 queueing, with named consumer groups (xep-notes/xep-0254.md).
    crate::pubsub::queue::QUEUE_NS,
    // XEP-0313 on nodes (XEP-0442), with before-id/after-id/ids/flip-page.
    "urn:xmpp:mam:2",
    "urn:xmpp:mam:2#extended",
    // XEP-0359 §6: notifications of archiving nodes carry opaque stanza-ids
    // (xep-notes/xep-0359.md).
    "urn:xmpp:sid:0",
];

/// §7.1.4, advertised only when the settings enable it.
pub const AUTO_CREATE: &str = "http://jabber.org/protocol/pubsub#auto-create";

/// The features of a service with these settings.
pub fn features(settings: &ServiceSettings) -> Vec<&'static str> {
    let mut out = FEATURES.to_vec();
    if settings.auto_create_on_publish {
        out.push(AUTO_CREATE);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_create_follows_the_settings() {
        let mut s = ServiceSettings {
            auto_create_on_publish: true,
            ..ServiceSettings::default()
        };
        assert!(features(&s).contains(&AUTO_CREATE));
        s.auto_create_on_publish = false;
        assert!(!features(&s).contains(&AUTO_CREATE));
    }

    #[test]
    fn collections_are_advertised() {
        for f in ["collections", "multi-collections"] {
            let var = format!("http://jabber.org/protocol/pubsub#{f}");
            assert!(FEATURES.contains(&var.as_str()), "{f}");
        }
    }

    #[test]
    fn unsupported_features_are_not_advertised() {
        for f in [
            "access-roster",
            "get-pending",
            "last-published",
            "leased-subscription",
            "presence-notifications",
            "presence-subscribe",
            "auto-subscribe",
            "filtered-notifications",
            "publish-node-full",
        ] {
            let var = format!("http://jabber.org/protocol/pubsub#{f}");
            assert!(
                !FEATURES.contains(&var.as_str()),
                "{f} must not be advertised"
            );
        }
    }
}
