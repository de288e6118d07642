//! Relay scenarios without a network: stanzas in, stanzas out, a fake clock.

use super::config::{RelayConfig, RoomConfig};
use super::*;
use crate::pubsub::Item;
use std::time::Duration;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::message::Message;
use tokio_xmpp::parsers::presence::{Presence, Type as PresenceType};

const ROOM: &str = "ops@conference.localhost";

/// A graph without collections: every node stands alone.
struct NoCollections;

impl Lineage for NoCollections {
    fn collections_above(&self, _: &str) -> Vec<String> {
        Vec::new()
    }
    fn may_read(&self, _: &str, _: &BareJid) -> bool {
        true
    }
}

fn relay(rate: u32) -> Relay {
    let config = RelayConfig {
        max_per_minute: rate,
        rooms: vec![RoomConfig {
            nodes: vec!["apps*".into()],
            room: ROOM.into(),
            nick: "herald".into(),
            password: None,
            max_per_minute: None,
        }],
        ..RelayConfig::default()
    };
    let service: BareJid = "events.localhost".parse().unwrap();
    Relay::new(&config, &service, Arc::new(BodyRenderer::default())).unwrap()
}

fn presence(type_: PresenceType, status: Option<&str>) -> Stanza {
    let mut p = Presence::new(type_);
    p.from = Some(format!("{ROOM}/herald").parse().unwrap());
    if let Some(code) = status {
        let x: Element = format!(
            "<x xmlns='{}'><status code='{code}'/></x>",
            stanzas::MUC_USER
        )
        .parse()
        .unwrap();
        p.payloads.push(x);
    }
    Stanza::Presence(p)
}

fn published(node: &str, n: usize) -> Published {
    let items = (0..n)
        .map(|i| Item {
            id: format!("i{i}"),
            seq: i as u64,
            publisher: None,
            published_ms: 0,
            payload: Some(Arc::from("<app xmlns='urn:x' name='shiny'/>")),
        })
        .collect();
    Published {
        node: node.into(),
        items,
    }
}

fn bodies(out: &[Stanza]) -> Vec<String> {
    out.iter()
        .filter_map(|s| match s {
            Stanza::Message(m) if m.type_ == MessageType::Groupchat => {
                message::body_text(m).map(str::to_owned)
            }
            _ => None,
        })
        .collect()
}

fn joins(out: &[Stanza]) -> usize {
    let is_join = |s: &&Stanza| matches!(s, Stanza::Presence(p) if p.type_ == PresenceType::None);
    out.iter().filter(is_join).count()
}

fn joined(r: &mut Relay, now: Instant) {
    let mut out = Vec::new();
    r.link_up(now, &mut out);
    assert_eq!(joins(&out), 1);
    r.on_stanza(presence(PresenceType::None, Some("110")), now, &mut out);
}

#[test]
fn items_of_matching_nodes_become_readable_groupchat_messages() {
    let (mut r, t0) = (relay(10), Instant::now());
    joined(&mut r, t0);
    let mut out = Vec::new();
    r.on_published(&published("apps-eu", 1), &NoCollections, t0, &mut out);
    r.on_published(&published("domains", 1), &NoCollections, t0, &mut out);
    assert_eq!(bodies(&out), ["[apps-eu] app name=shiny"]);
    let Stanza::Message(m) = &out[0] else {
        panic!()
    };
    assert_eq!(m.to.as_ref().unwrap().to_string(), ROOM);
    assert!(m.payloads[0].is("item", message::ITEM_NS));
}

#[test]
fn a_burst_yields_the_rate_then_one_digest_at_the_window_end() {
    let (mut r, t0) = (relay(10), Instant::now());
    joined(&mut r, t0);
    let mut out = Vec::new();
    r.on_published(&published("apps", 1000), &NoCollections, t0, &mut out);
    assert_eq!(bodies(&out).len(), 10);
    out.clear();
    r.tick(t0 + Duration::from_secs(30), &mut out);
    assert!(out.is_empty());
    r.tick(t0 + Duration::from_secs(60), &mut out);
    let digest = bodies(&out);
    assert_eq!(digest.len(), 1);
    assert!(
        digest[0].starts_with("990 more events on apps in the last minute"),
        "{digest:?}"
    );
}

#[test]
fn a_kick_leads_to_a_rejoin_after_a_delay() {
    let (mut r, t0) = (relay(10), Instant::now());
    joined(&mut r, t0);
    let mut out = Vec::new();
    r.on_stanza(
        presence(PresenceType::Unavailable, Some("307")),
        t0,
        &mut out,
    );
    r.tick(t0 + Duration::from_secs(1), &mut out);
    assert_eq!(joins(&out), 0);
    r.tick(t0 + Duration::from_secs(3), &mut out);
    assert_eq!(joins(&out), 1);
}

#[test]
fn join_errors_back_off() {
    let (mut r, t0) = (relay(10), Instant::now());
    let mut out = Vec::new();
    r.link_up(t0, &mut out);
    r.on_stanza(presence(PresenceType::Error, None), t0, &mut out);
    out.clear();
    r.tick(t0 + Duration::from_secs(3), &mut out);
    assert_eq!(joins(&out), 0, "second attempt waits longer than the first");
    r.tick(t0 + Duration::from_secs(4), &mut out);
    assert_eq!(joins(&out), 1);
}

#[test]
fn items_wait_while_out_of_the_room_and_go_out_on_join() {
    let (mut r, t0) = (relay(2), Instant::now());
    let mut out = Vec::new();
    r.on_published(&published("apps", 5), &NoCollections, t0, &mut out);
    assert!(out.is_empty());
    r.link_up(t0, &mut out);
    out.clear();
    r.on_stanza(presence(PresenceType::None, Some("110")), t0, &mut out);
    // What did not fit the holding queue first, as a digest with times and
    // how to see it; then the held items, each with its XEP-0203 delay.
    let got = bodies(&out);
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(
        got[0].starts_with("While I was out of the room: 3 events on apps (at 1970-01-01T00:00:00"),
        "{got:?}"
    );
    assert!(
        got[0].contains("\"last apps\" to events.localhost"),
        "{got:?}"
    );
    let delays: Vec<_> = (out.iter())
        .filter_map(|s| match s {
            Stanza::Message(m) => m.payloads.iter().find(|p| p.is("delay", "urn:xmpp:delay")),
            _ => None,
        })
        .collect();
    assert_eq!(delays.len(), 2, "each held item carries a delay");
    assert_eq!(delays[0].attr("stamp"), Some("1970-01-01T00:00:00.000Z"));
    let mut out = Vec::new();
    r.on_stanza(presence(PresenceType::None, Some("110")), t0, &mut out);
    r.tick(t0 + Duration::from_secs(60), &mut out);
    assert!(bodies(&out).is_empty(), "already joined: no re-drain");
}

#[test]
fn a_live_post_has_no_delay() {
    let (mut r, t0) = (relay(10), Instant::now());
    joined(&mut r, t0);
    let mut out = Vec::new();
    r.on_published(&published("apps", 1), &NoCollections, t0, &mut out);
    let Stanza::Message(m) = &out[0] else {
        panic!()
    };
    assert!(!m.payloads.iter().any(|p| p.is("delay", "urn:xmpp:delay")));
}

#[test]
fn a_bounced_message_means_out_of_the_room() {
    let (mut r, t0) = (relay(10), Instant::now());
    joined(&mut r, t0);
    let mut m = Message::new(None);
    m.type_ = MessageType::Error;
    m.from = Some(ROOM.parse().unwrap());
    let mut out = Vec::new();
    let stanza = Stanza::Message(m);
    assert!(r.claims(&stanza));
    r.on_stanza(stanza, t0, &mut out);
    r.tick(t0 + Duration::from_secs(2), &mut out);
    assert_eq!(joins(&out), 1);
}

/// Rooms following collections, against the real core (memory store).
mod collections {
    use super::*;
    use crate::pubsub::names::nn;
    use crate::pubsub::tests::fixtures::form;
    use crate::pubsub::{Actor, Affiliation, NewItem, Service};
    use crate::store::MemoryStore;

    const OWNER: &str = "owner@example.com";
    const CLOSED_ROOM: &str = "closed@conference.localhost";

    type Svc = Service<MemoryStore>;

    fn owner() -> Actor {
        Actor::Entity(OWNER.parse().unwrap())
    }

    fn tree() -> Svc {
        crate::pubsub::tests::fixtures::collection_tree()
    }

    /// ROOM follows the collection `family`, CLOSED_ROOM the leaf `secret`
    /// by name.
    fn relay_both() -> Relay {
        let room = |jid: &str, node: &str| RoomConfig {
            nodes: vec![node.into()],
            room: jid.into(),
            nick: "herald".into(),
            password: None,
            max_per_minute: None,
        };
        let config = RelayConfig {
            rooms: vec![room(ROOM, "family"), room(CLOSED_ROOM, "secret")],
            ..RelayConfig::default()
        };
        let service: BareJid = "events.localhost".parse().unwrap();
        let mut r = Relay::new(&config, &service, Arc::new(BodyRenderer::default())).unwrap();
        let (mut out, now) = (Vec::new(), Instant::now());
        r.link_up(now, &mut out);
        for jid in [ROOM, CLOSED_ROOM] {
            let mut p = Presence::new(PresenceType::None);
            p.from = Some(format!("{jid}/herald").parse().unwrap());
            r.on_stanza(Stanza::Presence(p), now, &mut out);
        }
        r
    }

    /// Publishes one item to each leaf and returns (room, body, wrapper
    /// node, wrapper collection) of every post.
    fn publish(svc: &mut Svc, r: &mut Relay, leaves: &[&str]) -> Vec<[String; 4]> {
        for leaf in leaves {
            let item = NewItem {
                id: Some(format!("{leaf}-1").as_str().into()),
                payload: Some("<app xmlns='urn:x' name='shiny'/>".into()),
            };
            let _ = svc.publish(&owner(), &nn(leaf), vec![item], None).unwrap();
        }
        let mut out = Vec::new();
        for p in svc.take_published() {
            r.on_published(&p, &*svc, Instant::now(), &mut out);
        }
        crate::chat::message::summaries(&out)
    }

    fn post(room: &str, leaf: &str, collection: &str) -> [String; 4] {
        [
            room.into(),
            format!("[{leaf}] app name=shiny"),
            leaf.into(),
            collection.into(),
        ]
    }

    #[test]
    fn a_room_following_a_collection_gets_every_leaf_below_named_by_the_leaf() {
        let (mut svc, mut r) = (tree(), relay_both());
        let got = publish(&mut svc, &mut r, &["created", "deep", "lone"]);
        assert_eq!(
            got,
            [
                post(ROOM, "created", "family"),
                post(ROOM, "deep", "family")
            ]
        );
    }

    #[test]
    fn a_leaf_moved_out_of_the_collection_is_no_longer_relayed() {
        let (mut svc, mut r) = (tree(), relay_both());
        let out_of_family = form(&[("pubsub#collection", "")]);
        let _ = svc
            .configure(&owner(), &nn("deep"), &out_of_family)
            .unwrap();
        let got = publish(&mut svc, &mut r, &["deep", "created"]);
        assert_eq!(got, [post(ROOM, "created", "family")]);
    }

    /// Through a collection the room reads as its bare JID: a whitelist
    /// leaf reaches it once an owner makes the room a member; a room that
    /// names the leaf itself gets it regardless (the operator chose it).
    #[test]
    fn a_closed_leaf_reaches_a_collection_room_only_once_the_room_may_read_it() {
        let (mut svc, mut r) = (tree(), relay_both());
        let got = publish(&mut svc, &mut r, &["secret"]);
        assert_eq!(got, [post(CLOSED_ROOM, "secret", "-")]);
        let member = [(ROOM.parse().unwrap(), Affiliation::Member)];
        let _ = svc
            .modify_affiliations(&owner(), &nn("secret"), &member)
            .unwrap();
        let got = publish(&mut svc, &mut r, &["secret"]);
        assert_eq!(
            got,
            [
                post(ROOM, "secret", "family"),
                post(CLOSED_ROOM, "secret", "-")
            ]
        );
    }

    #[test]
    fn a_pattern_matches_collection_names_too() {
        let svc = tree();
        let room = Room::from_config(
            &RoomConfig {
                nodes: vec!["fam*".into()],
                room: ROOM.into(),
                nick: "herald".into(),
                password: None,
                max_per_minute: None,
            },
            &RelayConfig::default(),
            Instant::now(),
        )
        .unwrap();
        let above = svc.collections_above("deep");
        assert_eq!(above, ["eu", "family"], "nearest first");
        assert_eq!(
            room.source("deep", &above, &svc),
            Some(room::Source::Collection("family".into()))
        );
        assert_eq!(
            room.source("family-notes", &[], &svc),
            Some(room::Source::Node)
        );
        assert_eq!(room.source("lone", &[], &svc), None);
    }
}
