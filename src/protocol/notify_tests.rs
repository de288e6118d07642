//! Notification rendering, checked against the XEP-0060 examples named in
//! each test.

use super::*;
use crate::pubsub::{Affiliation, FieldType as CoreType, FormField, SubscriptionState};
use std::sync::Arc;

fn service() -> BareJid {
    "pubsub.shakespeare.lit".parse().unwrap()
}

fn to(jid: &str) -> Recipient {
    Recipient {
        jid: jid.parse().unwrap(),
        subids: vec![],
    }
}

fn item(id: &str, payload: Option<&str>) -> Item {
    Item {
        id: id.into(),
        seq: 1,
        publisher: None,
        published_ms: 1_071_359_917_000,
        payload: payload.map(Arc::from),
    }
}

fn note(event: Event, recipients: Vec<Recipient>) -> Notification {
    Notification {
        node: "princely_musings".into(),
        message_type: NotificationType::Headline,
        event,
        recipients,
        archive_id: None,
        item_archive_ids: Vec::new(),
        collection: None,
    }
}

fn messages(n: &Notification) -> Vec<Message> {
    render(&service(), crate::config::DEFAULT_MAX_STANZA_BYTES, None, n)
        .into_iter()
        .map(|s| match s {
            Stanza::Message(m) => m,
            other => panic!("not a message: {other:?}"),
        })
        .collect()
}

/// The single child of the `<event/>` payload.
fn event_child(m: &Message) -> &Element {
    let event = m.payloads.iter().find(|p| p.is("event", ns::PUBSUB_EVENT));
    event
        .expect("an event")
        .children()
        .next()
        .expect("event child")
}

const ENTRY: &str = "<entry xmlns='http://www.w3.org/2005/Atom'><title>Soliloquy</title></entry>";

#[test]
fn example_102_notification_with_payload_to_each_subscriber() {
    let n = note(
        Event::Items {
            items: vec![item("ae890ac52d0df67ed7cfdf51b644e901", Some(ENTRY))],
            include_payload: true,
            last_published: false,
        },
        vec![to("francisco@denmark.lit"), to("bernardo@denmark.lit")],
    );
    let ms = messages(&n);
    assert_eq!(ms.len(), 2);
    assert_eq!(ms[0].to, Some("francisco@denmark.lit".parse().unwrap()));
    assert_eq!(ms[1].to, Some("bernardo@denmark.lit".parse().unwrap()));
    for m in &ms {
        assert_eq!(m.from, Some("pubsub.shakespeare.lit".parse().unwrap()));
        assert_eq!(m.type_, MessageType::Headline);
        assert_eq!(m.payloads.len(), 1, "no SHIM, no delay");
        let items = event_child(m);
        assert!(items.is("items", ns::PUBSUB_EVENT));
        assert_eq!(items.attr("node"), Some("princely_musings"));
        let it = items.children().next().unwrap();
        assert_eq!(it.attr("id"), Some("ae890ac52d0df67ed7cfdf51b644e901"));
        assert_eq!(it.attr("publisher"), None);
        let entry = it.children().next().unwrap();
        assert!(entry.is("entry", "http://www.w3.org/2005/Atom"));
        assert_eq!(
            entry
                .get_child("title", "http://www.w3.org/2005/Atom")
                .unwrap()
                .text(),
            "Soliloquy"
        );
    }
    assert_ne!(ms[0].id, ms[1].id, "§12.4 unique message ids");
}

#[test]
fn example_103_notification_without_payload() {
    let n = note(
        Event::Items {
            items: vec![item("ae890ac52d0df67ed7cfdf51b644e901", Some(ENTRY))],
            include_payload: false,
            last_published: false,
        },
        vec![to("francisco@denmark.lit")],
    );
    let m = &messages(&n)[0];
    let it = event_child(m).children().next().unwrap();
    assert_eq!(it.attr("id"), Some("ae890ac52d0df67ed7cfdf51b644e901"));
    assert_eq!(it.children().count(), 0);
}

#[test]
fn example_3_transient_notification_has_empty_items() {
    let mut n = note(
        Event::Items {
            items: vec![],
            include_payload: true,
            last_published: false,
        },
        vec![to("francisco@denmark.lit")],
    );
    n.node = "elsinore/doorbell".into();
    let items = event_child(&messages(&n)[0]).clone();
    assert_eq!(items.attr("node"), Some("elsinore/doorbell"));
    assert_eq!(items.children().count(), 0);
}

#[test]
fn example_104_publisher_attribute() {
    let mut it = item("ae890ac52d0df67ed7cfdf51b644e901", None);
    it.publisher = Some("hamlet@denmark.lit".parse().unwrap());
    let n = note(
        Event::Items {
            items: vec![it],
            include_payload: true,
            last_published: false,
        },
        vec![to("francisco@denmark.lit")],
    );
    let it = event_child(&messages(&n)[0])
        .children()
        .next()
        .unwrap()
        .clone();
    assert_eq!(it.attr("publisher"), Some("hamlet@denmark.lit"));
}

#[test]
fn example_106_shim_subid_headers_last_child() {
    let mut r = to("francisco@denmark.lit");
    r.subids = vec!["123-abc".into(), "004-yyy".into()];
    let n = note(
        Event::Items {
            items: vec![item("ae890ac52d0df67ed7cfdf51b644e901", None)],
            include_payload: false,
            last_published: false,
        },
        vec![r, to("bernardo@denmark.lit")],
    );
    let ms = messages(&n);
    let headers = ms[0].payloads.last().unwrap();
    assert!(headers.is("headers", ns::SHIM));
    let values: Vec<_> = (headers.children())
        .map(|h| (h.attr("name").unwrap().to_owned(), h.text()))
        .collect();
    assert_eq!(
        values,
        [
            ("SubID".into(), "123-abc".into()),
            ("SubID".into(), "004-yyy".into())
        ]
    );
    assert_eq!(ms[1].payloads.len(), 1, "single subscription: no headers");
}

/// `(name, value)` of every SHIM header of a message.
fn headers_of(m: &Message) -> Vec<(String, String)> {
    let all = m.payloads.iter().filter(|p| p.is("headers", ns::SHIM));
    all.flat_map(|h| h.children())
        .map(|h| (h.attr("name").unwrap_or("").to_owned(), h.text()))
        .collect()
}

#[test]
fn xep_0248_via_a_collection_names_the_leaf_and_adds_a_collection_header() {
    let mut r = to("francisco@denmark.lit");
    r.subids = vec!["s1".into(), "s2".into()];
    let mut n = note(
        Event::Items {
            items: vec![item("i1", None)],
            include_payload: false,
            last_published: false,
        },
        vec![to("bernardo@denmark.lit"), r],
    );
    n.collection = Some("blogs".into());
    let ms = messages(&n);
    let items = event_child(&ms[0]);
    assert!(items.is("items", ns::PUBSUB_EVENT));
    assert_eq!(items.attr("node"), Some("princely_musings"));
    let collection = ("Collection".to_owned(), "blogs".to_owned());
    assert_eq!(headers_of(&ms[0]), vec![collection.clone()]);
    // SubIDs and the Collection header share one <headers/>.
    let own: Vec<_> = ms[1]
        .payloads
        .iter()
        .filter(|p| p.is("headers", ns::SHIM))
        .collect();
    assert_eq!(own.len(), 1);
    assert_eq!(
        headers_of(&ms[1]),
        vec![
            ("SubID".to_owned(), "s1".to_owned()),
            ("SubID".to_owned(), "s2".to_owned()),
            collection
        ]
    );
}

#[test]
fn xep_0248_association_event() {
    let mut n = note(
        Event::Associate {
            child: "tennis".into(),
        },
        vec![to("francisco@denmark.lit")],
    );
    n.node = "sports".into();
    let ms = messages(&n);
    let c = event_child(&ms[0]);
    assert!(c.is("collection", ns::PUBSUB_EVENT));
    assert_eq!(c.attr("node"), Some("sports"));
    let associate = c.get_child("associate", ns::PUBSUB_EVENT).unwrap();
    assert_eq!(associate.attr("node"), Some("tennis"));
}

#[test]
fn example_50_last_published_item_carries_a_delay() {
    let n = note(
        Event::Items {
            items: vec![item("ae890ac52d0df67ed7cfdf51b644e901", Some(ENTRY))],
            include_payload: true,
            last_published: true,
        },
        vec![to("francisco@denmark.lit")],
    );
    let m = &messages(&n)[0];
    let delay = m.payloads.iter().find(|p| p.is("delay", DELAY)).unwrap();
    assert_eq!(delay.attr("stamp"), Some("2003-12-13T23:58:37.000Z"));
}

#[test]
fn corrupt_stored_payload_is_left_out() {
    let n = note(
        Event::Items {
            items: vec![item("i1", Some("<not xml"))],
            include_payload: true,
            last_published: false,
        },
        vec![to("francisco@denmark.lit")],
    );
    let it = event_child(&messages(&n)[0])
        .children()
        .next()
        .unwrap()
        .clone();
    assert_eq!(it.attr("id"), Some("i1"));
    assert_eq!(it.children().count(), 0);
}

#[test]
fn example_119_and_120_retract_with_shim() {
    let mut r = to("bernardo@denmark.lit");
    r.subids = vec!["123-abc".into(), "004-yyy".into()];
    let n = note(
        Event::Retract {
            item_ids: vec!["ae890ac52d0df67ed7cfdf51b644e901".into()],
        },
        vec![to("francisco@denmark.lit"), r],
    );
    let ms = messages(&n);
    let items = event_child(&ms[0]);
    let retract = items.get_child("retract", ns::PUBSUB_EVENT).unwrap();
    assert_eq!(retract.attr("id"), Some("ae890ac52d0df67ed7cfdf51b644e901"));
    assert!(ms[1].payloads.last().unwrap().is("headers", ns::SHIM));
}

#[test]
fn example_161_delete_with_redirect_has_no_shim() {
    let mut r = to("francisco@denmark.lit");
    r.subids = vec!["a".into(), "b".into()];
    let n = note(
        Event::Delete {
            redirect: Some("xmpp:hamlet@denmark.lit?;node=blog".into()),
        },
        vec![r],
    );
    let m = &messages(&n)[0];
    assert_eq!(m.payloads.len(), 1, "§12.16: no SHIM for delete");
    let delete = event_child(m);
    assert!(delete.is("delete", ns::PUBSUB_EVENT));
    assert_eq!(delete.attr("node"), Some("princely_musings"));
    let redirect = delete.get_child("redirect", ns::PUBSUB_EVENT).unwrap();
    assert_eq!(
        redirect.attr("uri"),
        Some("xmpp:hamlet@denmark.lit?;node=blog")
    );
}

#[test]
fn example_166_purge() {
    let n = note(Event::Purge, vec![to("francisco@denmark.lit")]);
    let purge = event_child(&messages(&n)[0]).clone();
    assert!(purge.is("purge", ns::PUBSUB_EVENT));
    assert_eq!(purge.attr("node"), Some("princely_musings"));
}

#[test]
fn example_152_and_153_configuration_with_and_without_form() {
    let n = note(
        Event::Configuration { fields: None },
        vec![to("francisco@denmark.lit")],
    );
    let c = event_child(&messages(&n)[0]).clone();
    assert!(c.is("configuration", ns::PUBSUB_EVENT));
    assert_eq!(c.children().count(), 0);
    let title = FormField {
        var: "pubsub#title".into(),
        field_type: CoreType::TextSingle,
        label: "A friendly name for the node".into(),
        values: vec!["Princely Musings (Atom)".into()],
        options: vec![],
    };
    let n = note(
        Event::Configuration {
            fields: Some(vec![title]),
        },
        vec![to("francisco@denmark.lit")],
    );
    let c = event_child(&messages(&n)[0]).clone();
    let form = super::super::forms::parse_form(c.get_child("x", ns::DATA_FORMS).unwrap()).unwrap();
    assert_eq!(form.kind, FormKind::Result);
    assert_eq!(form.form_type.as_deref(), Some(NODE_CONFIG));
    assert_eq!(
        form.values("pubsub#title").unwrap(),
        ["Princely Musings (Atom)"]
    );
}

#[test]
fn example_173_and_197_subscription_state_notification() {
    let n = note(
        Event::Subscription {
            jid: "horatio@denmark.lit".parse().unwrap(),
            subid: "123-abc".into(),
            state: SubscriptionState::Subscribed,
        },
        vec![to("horatio@denmark.lit")],
    );
    let s = event_child(&messages(&n)[0]).clone();
    assert!(s.is("subscription", ns::PUBSUB_EVENT));
    assert_eq!(s.attr("node"), Some("princely_musings"));
    assert_eq!(s.attr("jid"), Some("horatio@denmark.lit"));
    assert_eq!(s.attr("subid"), Some("123-abc"));
    assert_eq!(s.attr("subscription"), Some("subscribed"));
}

#[test]
fn example_171_approval_request_to_owner_is_a_normal_form_message() {
    let mut n = note(
        Event::ApprovalRequest {
            jid: "horatio@denmark.lit".parse().unwrap(),
            subid: "123-abc".into(),
        },
        vec![to("hamlet@denmark.lit")],
    );
    n.message_type = NotificationType::Normal;
    let m = &messages(&n)[0];
    assert_eq!(m.type_, MessageType::Normal);
    let x = m
        .payloads
        .iter()
        .find(|p| p.is("x", ns::DATA_FORMS))
        .unwrap();
    let form = super::super::forms::parse_form(x).unwrap();
    assert_eq!(form.kind, FormKind::Form);
    assert_eq!(form.form_type.as_deref(), Some(SUBSCRIBE_AUTHORIZATION));
    assert_eq!(form.values("pubsub#node").unwrap(), ["princely_musings"]);
    assert_eq!(
        form.values("pubsub#subscriber_jid").unwrap(),
        ["horatio@denmark.lit"]
    );
    assert_eq!(form.values("pubsub#subid").unwrap(), ["123-abc"]);
    assert_eq!(form.values("pubsub#allow").unwrap(), ["false"]);
    let allow = (x.children())
        .find(|f| f.attr("var") == Some("pubsub#allow"))
        .unwrap();
    assert_eq!(allow.attr("type"), Some("boolean"));
}

#[test]
fn example_211_affiliation_change_notification() {
    let n = note(
        Event::Affiliation {
            jid: "polonius@denmark.lit".parse().unwrap(),
            affiliation: Affiliation::None,
        },
        vec![to("polonius@denmark.lit")],
    );
    let m = &messages(&n)[0];
    let pubsub = &m.payloads[0];
    assert!(pubsub.is("pubsub", ns::PUBSUB));
    let affs = pubsub.get_child("affiliations", ns::PUBSUB).unwrap();
    assert_eq!(affs.attr("node"), Some("princely_musings"));
    let a = affs.get_child("affiliation", ns::PUBSUB).unwrap();
    assert_eq!(a.attr("jid"), Some("polonius@denmark.lit"));
    assert_eq!(a.attr("affiliation"), Some("none"));
}

#[test]
fn notification_type_normal_sets_message_type() {
    let mut n = note(Event::Purge, vec![to("francisco@denmark.lit/barracks")]);
    n.message_type = NotificationType::Normal;
    let m = &messages(&n)[0];
    assert_eq!(m.type_, MessageType::Normal);
    assert_eq!(
        m.to,
        Some("francisco@denmark.lit/barracks".parse().unwrap())
    );
}

#[test]
fn render_all_flattens_outcome_notifications() {
    let a = note(Event::Purge, vec![to("a@x"), to("b@x")]);
    let b = note(Event::Purge, vec![to("c@x")]);
    assert_eq!(
        render_all(
            &service(),
            crate::config::DEFAULT_MAX_STANZA_BYTES,
            None,
            &[a, b]
        )
        .len(),
        3
    );
}

/// Items with a payload of about `bytes` bytes, seqs 1..=n.
fn big_items(n: usize, bytes: usize) -> Vec<Item> {
    (1..=n)
        .map(|i| Item {
            seq: i as u64,
            ..item(
                &format!("i{i}"),
                Some(&format!("<x xmlns='urn:x'>{}</x>", "a".repeat(bytes))),
            )
        })
        .collect()
}

fn stanza_len(m: &Message) -> usize {
    super::stanza_size::xml_len(&Element::from(m.clone()))
}

fn item_ids_and_payloads(ms: &[Message]) -> Vec<(String, bool)> {
    ms.iter()
        .flat_map(|m| event_child(m).children())
        .map(|i| {
            (
                i.attr("id").unwrap_or_default().to_owned(),
                i.children().count() == 1,
            )
        })
        .collect()
}

#[test]
fn a_batch_too_big_for_one_stanza_is_split_in_order_under_the_limit() {
    let max = 100_000;
    let mut n = note(
        Event::Items {
            items: big_items(10, 30_000),
            include_payload: true,
            last_published: false,
        },
        vec![to("francisco@denmark.lit")],
    );
    n.archive_id = Some("7-10".into());
    // The core's IDs are opaque (`pubsub::archive_ids`); readable stand-ins
    // show which one each part carries.
    n.item_archive_ids = (1..=10).map(|i| format!("7-{i}")).collect();
    let ms: Vec<Message> = render(&service(), max, None, &n)
        .into_iter()
        .map(|s| match s {
            Stanza::Message(m) => m,
            other => panic!("not a message: {other:?}"),
        })
        .collect();
    assert!(ms.len() >= 4, "{} messages", ms.len());
    for m in &ms {
        assert!(stanza_len(m) <= max, "{} bytes", stanza_len(m));
    }
    let got = item_ids_and_payloads(&ms);
    let want: Vec<(String, bool)> = (1..=10).map(|i| (format!("i{i}"), true)).collect();
    assert_eq!(got, want, "every item once, in order, with its payload");
    // Each part's stanza-id is its own last item's archive ID.
    let sid = |m: &Message| {
        let s = m.payloads.iter().find(|p| p.is("stanza-id", SID)).unwrap();
        s.attr("id").unwrap().to_owned()
    };
    let last_of = |m: &Message| {
        let last = event_child(m)
            .children()
            .last()
            .unwrap()
            .attr("id")
            .unwrap();
        format!("7-{}", &last[1..])
    };
    for m in &ms {
        assert_eq!(sid(m), last_of(m));
    }
    assert_eq!(sid(ms.last().unwrap()), "7-10");
}

#[test]
fn an_item_that_cannot_fit_any_stanza_is_announced_by_id_only() {
    let max = 20_000;
    let mut items = big_items(3, 1_000);
    items[1] = big_items(2, 50_000)
        .pop()
        .map(|i| Item {
            id: "huge".into(),
            ..i
        })
        .unwrap();
    let n = note(
        Event::Items {
            items,
            include_payload: true,
            last_published: false,
        },
        vec![to("francisco@denmark.lit")],
    );
    let ms: Vec<Message> = render(&service(), max, None, &n)
        .into_iter()
        .filter_map(|s| match s {
            Stanza::Message(m) => Some(m),
            _ => None,
        })
        .collect();
    for m in &ms {
        assert!(stanza_len(m) <= max);
    }
    let got = item_ids_and_payloads(&ms);
    assert_eq!(
        got,
        vec![
            ("i1".into(), true),
            ("huge".into(), false),
            ("i3".into(), true)
        ]
    );
}

#[test]
fn a_batch_that_fits_is_one_message_as_before() {
    let n = note(
        Event::Items {
            items: big_items(3, 100),
            include_payload: true,
            last_published: false,
        },
        vec![to("francisco@denmark.lit")],
    );
    let ms = messages(&n);
    assert_eq!(ms.len(), 1);
    assert_eq!(event_child(&ms[0]).children().count(), 3);
}
