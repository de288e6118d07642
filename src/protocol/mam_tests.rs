//! XEP-0313 on nodes (XEP-0442) through `handle_pubsub` on a MemoryStore:
//! query shapes in, result messages and `<fin/>` out.

use crate::protocol::pubsub_handler::{Handled, ProtocolCtx, handle_pubsub};
use crate::protocol::{IqKind, IqRequest, ns};
use crate::pubsub::{Service, ServiceSettings};
use crate::store::MemoryStore;
use tokio_xmpp::Stanza;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::message::Message;
use tokio_xmpp::parsers::stanza_error::DefinedCondition;

const OWNER: &str = "hamlet@denmark.lit/elsinore";
const READER: &str = "francisco@denmark.lit/barracks";
const MAM: &str = "urn:xmpp:mam:2";
const FORWARD: &str = "urn:xmpp:forward:0";

/// The service, its context, and whether the last request's flush
/// reached the store (it changed state).
struct T(Service<MemoryStore>, ProtocolCtx, bool);

fn setup(f: impl FnOnce(&mut ServiceSettings)) -> T {
    let mut settings = ServiceSettings {
        create_domains: vec!["denmark.lit".into()],
        ..ServiceSettings::default()
    };
    f(&mut settings);
    let ctx = ProtocolCtx {
        service_jid: "pubsub.shakespeare.lit".parse().unwrap(),
        max_payload_bytes: 1000,
        multicast: None,
    };
    let mut t = T(
        Service::open(MemoryStore::new(), settings).unwrap(),
        ctx,
        false,
    );
    t.0.set_now(crate::pubsub::tests::NOW_MS);
    t.ps(OWNER, "<create node='n'/>").reply.unwrap();
    t
}

impl T {
    fn iq(&mut self, from: &str, kind: IqKind, payload: &str) -> Handled {
        let req = IqRequest {
            from: from.parse().unwrap(),
            to: "pubsub.shakespeare.lit".parse().unwrap(),
            id: "q1".into(),
            kind,
            payload: payload.parse().unwrap(),
        };
        let h = handle_pubsub(&mut self.0, &self.1, &req);
        self.2 = self.0.flush().unwrap();
        h
    }

    fn ps(&mut self, from: &str, body: &str) -> Handled {
        let xml = format!("<pubsub xmlns='{}'>{body}</pubsub>", ns::PUBSUB);
        self.iq(from, IqKind::Set, &xml)
    }

    fn publish(&mut self, id: &str) -> Handled {
        let body =
            format!("<publish node='n'><item id='{id}'><p xmlns='urn:x'>{id}</p></item></publish>");
        let h = self.ps(OWNER, &body);
        assert!(h.reply.is_ok(), "{:?}", h.reply);
        h
    }

    fn retract(&mut self, id: &str) -> Handled {
        let h = self.ps(
            OWNER,
            &format!("<retract node='n' notify='1'><item id='{id}'/></retract>"),
        );
        assert!(h.reply.is_ok(), "{:?}", h.reply);
        h
    }

    /// A MAM query with `inner` (form, RSM set, flip-page) on node `n`.
    fn mam(&mut self, inner: &str) -> Handled {
        let xml = format!("<query xmlns='{MAM}' queryid='f27' node='n'>{inner}</query>");
        self.iq(READER, IqKind::Set, &xml)
    }
}

fn form(fields: &[(&str, &str)]) -> String {
    let f: String = fields
        .iter()
        .map(|(v, x)| format!("<field var='{v}'><value>{x}</value></field>"))
        .collect();
    format!(
        "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>{MAM}</value></field>{f}</x>"
    )
}

fn rsm(body: &str) -> String {
    format!("<set xmlns='{}'>{body}</set>", ns::RSM)
}

/// (archive ID, "item:ID" or "retract:ID") of each result message.
fn results(h: &Handled) -> Vec<(String, String)> {
    h.results
        .iter()
        .map(|s| {
            let Stanza::Message(m) = s else {
                panic!("not a message")
            };
            let r = m.payloads[0].clone();
            assert!(r.is("result", MAM));
            assert_eq!(r.attr("queryid"), Some("f27"));
            let fwd = r.get_child("forwarded", FORWARD).unwrap();
            assert!(fwd.get_child("delay", "urn:xmpp:delay").is_some());
            let msg = fwd.get_child("message", "jabber:client").unwrap();
            let event = msg.get_child("event", ns::PUBSUB_EVENT).unwrap();
            let items = event.get_child("items", ns::PUBSUB_EVENT).unwrap();
            assert_eq!(items.attr("node"), Some("n"));
            let child = items.children().next().unwrap();
            let what = format!("{}:{}", child.name(), child.attr("id").unwrap());
            (r.attr("id").unwrap().to_owned(), what)
        })
        .collect()
}

fn fin(h: &Handled) -> Element {
    let el = h.reply.clone().unwrap().unwrap();
    assert!(el.is("fin", MAM));
    el
}

fn rsm_text(fin: &Element, name: &str) -> Option<String> {
    let set = fin.get_child("set", ns::RSM)?;
    set.get_child(name, ns::RSM).map(Element::text)
}

fn stanza_id(h: &Handled) -> String {
    let Stanza::Message(m) = &h.notifications[0] else {
        panic!()
    };
    let sid = m
        .payloads
        .iter()
        .find(|p| p.is("stanza-id", "urn:xmpp:sid:0"));
    let sid = sid.expect("stanza-id");
    assert_eq!(sid.attr("by"), Some("pubsub.shakespeare.lit"));
    sid.attr("id").unwrap().to_owned()
}

fn what(rs: &[(String, String)]) -> Vec<&str> {
    rs.iter().map(|(_, w)| w.as_str()).collect()
}

/// i1, i2, i3 published, i1 re-published, i2 retracted; READER subscribed.
fn history() -> (T, Vec<String>) {
    let mut t = setup(|_| {});
    t.ps(READER, "<subscribe node='n' jid='francisco@denmark.lit'/>")
        .reply
        .unwrap();
    let mut sids = Vec::new();
    for id in ["i1", "i2", "i3", "i1"] {
        let h = t.publish(id);
        sids.push(stanza_id(&h));
    }
    let h = t.retract("i2");
    sids.push(stanza_id(&h));
    (t, sids)
}

#[test]
fn whole_history_in_order_with_replaced_and_retracted_entries() {
    let (mut t, sids) = history();
    let h = t.mam("");
    let rs = results(&h);
    assert_eq!(
        what(&rs),
        ["item:i1", "item:i2", "item:i3", "item:i1", "retract:i2"]
    );
    let ids: Vec<String> = rs.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(ids, sids, "notifications carry the archive IDs");
    let f = fin(&h);
    assert_eq!(f.attr("complete"), Some("true"));
    assert_eq!(rsm_text(&f, "first"), Some(ids[0].clone()));
    assert_eq!(rsm_text(&f, "last"), Some(ids[4].clone()));
    assert_eq!(rsm_text(&f, "count").as_deref(), Some("5"));
    assert!(!t.2, "a query writes nothing");
}

#[test]
fn resume_after_an_archive_id_in_pages() {
    let (mut t, sids) = history();
    let h = t.mam(&rsm(&format!("<max>2</max><after>{}</after>", sids[0])));
    assert_eq!(what(&results(&h)), ["item:i2", "item:i3"]);
    assert_eq!(fin(&h).attr("complete"), None, "more to come");
    let last = rsm_text(&fin(&h), "last").unwrap();
    let h = t.mam(&rsm(&format!("<max>2</max><after>{last}</after>")));
    assert_eq!(what(&results(&h)), ["item:i1", "retract:i2"]);
    let h = t.mam(&rsm(&format!("<max>2</max><after>{}</after>", sids[4])));
    assert!(results(&h).is_empty());
    assert_eq!(fin(&h).attr("complete"), Some("true"));
    // The same through the #extended form field.
    let h = t.mam(&form(&[("after-id", &sids[2])]));
    assert_eq!(what(&results(&h)), ["item:i1", "retract:i2"]);
}

#[test]
fn last_page_before_and_flip_page() {
    let (mut t, sids) = history();
    let h = t.mam(&rsm("<max>2</max><before/>"));
    assert_eq!(what(&results(&h)), ["item:i1", "retract:i2"]);
    assert_eq!(fin(&h).attr("complete"), None);
    let h = t.mam(&rsm(&format!("<max>2</max><before>{}</before>", sids[2])));
    assert_eq!(what(&results(&h)), ["item:i1", "item:i2"]);
    assert_eq!(fin(&h).attr("complete"), Some("true"), "reached the start");
    let h = t.mam(&format!("{}<flip-page/>", rsm("<max>2</max><before/>")));
    assert_eq!(what(&results(&h)), ["retract:i2", "item:i1"]);
    assert_eq!(rsm_text(&fin(&h), "first"), Some(sids[3].clone()));
    let h = t.mam(&form(&[("before-id", &sids[1]), ("after-id", &sids[0])]));
    assert!(results(&h).is_empty());
    let h = t.mam(&format!(
        "<x xmlns='jabber:x:data' type='submit'><field var='ids'><value>{}</value><value>{}</value></field></x>",
        sids[4], sids[1]
    ));
    assert_eq!(what(&results(&h)), ["item:i2", "retract:i2"]);
}

#[test]
fn time_filters_select_by_publication_time() {
    let (mut t, _) = history();
    let h = t.mam(&form(&[
        ("start", "2000-01-01T00:00:00Z"),
        ("end", "2999-01-01T00:00:00Z"),
    ]));
    assert_eq!(results(&h).len(), 5);
    assert_eq!(rsm_text(&fin(&h), "count"), None, "no count when filtered");
    let h = t.mam(&form(&[("start", "2999-01-01T00:00:00Z")]));
    assert!(results(&h).is_empty());
    let h = t.mam(&form(&[("end", "2000-01-01T00:00:00Z")]));
    assert!(results(&h).is_empty());
    let h = t.mam(&form(&[("start", "yesterday")]));
    let e = h.reply.unwrap_err();
    assert_eq!(e.defined_condition, DefinedCondition::BadRequest);
}

#[test]
fn vanished_cursor_is_item_not_found() {
    let mut t = setup(|s| s.retention.history_max_entries = 3);
    let mut sids = Vec::new();
    for id in ["a", "b", "c", "d"] {
        t.publish(id);
        let h = t.mam(&rsm("<max>1</max><before/>"));
        sids.push(results(&h)[0].0.clone());
    }
    for q in [
        rsm(&format!("<after>{}</after>", sids[0])),
        form(&[("after-id", &sids[0])]),
        rsm("<after>9-9</after>"),
        rsm("<before>garbage</before>"),
    ] {
        let e = t.mam(&q).reply.unwrap_err();
        assert_eq!(e.defined_condition, DefinedCondition::ItemNotFound, "{q}");
    }
    let h = t.mam(&rsm(&format!("<after>{}</after>", sids[1])));
    assert_eq!(what(&results(&h)), ["item:c", "item:d"]);
    assert_eq!(rsm_text(&fin(&h), "count").as_deref(), None);
    assert_eq!(rsm_text(&fin(&t.mam("")), "count").as_deref(), Some("3"));
}

#[test]
fn bad_queries_get_errors() {
    let mut t = setup(|_| {});
    let cases = [
        (
            format!("<query xmlns='{MAM}'/>"),
            DefinedCondition::BadRequest,
        ),
        (
            format!("<query xmlns='{MAM}' node='missing'/>"),
            DefinedCondition::ItemNotFound,
        ),
        (
            format!(
                "<query xmlns='{MAM}' node='n'>{}</query>",
                form(&[("with", "a@b")])
            ),
            DefinedCondition::FeatureNotImplemented,
        ),
        (
            format!(
                "<query xmlns='{MAM}' node='n'>{}</query>",
                rsm("<index>3</index>")
            ),
            DefinedCondition::FeatureNotImplemented,
        ),
    ];
    for (xml, want) in cases {
        let e = t.iq(READER, IqKind::Set, &xml).reply.unwrap_err();
        assert_eq!(e.defined_condition, want, "{xml}");
    }
}

#[test]
fn form_fields_and_disco_features() {
    let mut t = setup(|_| {});
    let h = t.iq(
        READER,
        IqKind::Get,
        &format!("<query xmlns='{MAM}' node='n'/>"),
    );
    let q = h.reply.unwrap().unwrap();
    let x = q.get_child("x", "jabber:x:data").unwrap();
    let vars: Vec<_> = x.children().filter_map(|f| f.attr("var")).collect();
    assert!(
        vars.contains(&"after-id") && vars.contains(&"start"),
        "{vars:?}"
    );
    for node in ["", " node='n'"] {
        let xml = format!("<query xmlns='{}'{node}/>", ns::DISCO_INFO);
        let info = t.iq(READER, IqKind::Get, &xml).reply.unwrap().unwrap();
        let vars: Vec<_> = info.children().filter_map(|f| f.attr("var")).collect();
        assert!(vars.contains(&MAM), "{node}: {vars:?}");
        assert!(vars.contains(&"urn:xmpp:mam:2#extended"), "{node}");
    }
}

#[test]
fn notifications_carry_no_stanza_id_without_history() {
    let mut t = setup(|s| s.retention.history_max_entries = 0);
    t.ps(READER, "<subscribe node='n' jid='francisco@denmark.lit'/>")
        .reply
        .unwrap();
    let h = t.publish("x");
    let Stanza::Message(m) = &h.notifications[0] else {
        panic!()
    };
    let m: &Message = m;
    assert!(!m.payloads.iter().any(|p| p.name() == "stanza-id"));
    assert!(results(&t.mam("")).is_empty());
}
