//! XEP-0254 on the wire, on a `MemoryStore`: requests shaped like the
//! XEP's examples in, replies and notices out.

use super::*;
use crate::protocol::IqKind;
use crate::protocol::pubsub_handler::handle_pubsub;
use crate::pubsub::ServiceSettings;
use crate::store::MemoryStore;

const SVC: &str = "workflows.shakespeare.lit";
const BEE1: &str = "workerbee237@shakespeare.lit/foo";
const BEE2: &str = "workerbee238@shakespeare.lit/foo";
const ENGINE: &str = "engine@shakespeare.lit/e";
const NODE: &str = "a290fjsl29j19kjb";

struct T {
    svc: Service<MemoryStore>,
    ctx: ProtocolCtx,
    /// The last request changed state: the flush after it reached the store.
    flushed: bool,
}

fn setup() -> T {
    let settings = ServiceSettings {
        create_domains: vec!["shakespeare.lit".into()],
        ..ServiceSettings::default()
    };
    let ctx = ProtocolCtx {
        service_jid: SVC.parse().unwrap(),
        max_payload_bytes: settings.max_payload_bytes,
        multicast: None,
    };
    let mut t = T {
        svc: Service::open(MemoryStore::new(), settings).unwrap(),
        ctx,
        flushed: false,
    };
    t.ok(ENGINE, "set", &format!("<create node='{NODE}'/>"));
    t
}

impl T {
    fn ps(&mut self, from: &str, kind: &str, body: &str) -> Handled {
        let req = IqRequest {
            from: from.parse().unwrap(),
            to: SVC.parse().unwrap(),
            id: "q1".into(),
            kind: if kind == "get" {
                IqKind::Get
            } else {
                IqKind::Set
            },
            payload: format!("<pubsub xmlns='{}'>{body}</pubsub>", ns::PUBSUB)
                .parse()
                .unwrap(),
        };
        let h = handle_pubsub(&mut self.svc, &self.ctx, &req);
        self.flushed = self.svc.flush().unwrap();
        h
    }

    fn ok(&mut self, from: &str, kind: &str, body: &str) -> Handled {
        let h = self.ps(from, kind, body);
        assert!(h.reply.is_ok(), "{body}: {:?}", h.reply);
        h
    }

    /// XEP-0254 Example 2: subscribe with `pubsub#queue_requests` (without
    /// the example's `jid`/`node` on `<options/>`: XEP-0060 §6.3.7 forbids
    /// them and Herald refuses them).
    fn join(&mut self, who: &str, requests: u32) -> Handled {
        self.ok(
            who,
            "set",
            &format!(
                "<subscribe jid='{who}' node='{NODE}'/><options>\
             <x xmlns='jabber:x:data' type='submit'>\
             <field var='FORM_TYPE' type='hidden'>\
             <value>http://jabber.org/protocol/pubsub#subscribe_options</value></field>\
             <field var='pubsub#queue_requests'><value>{requests}</value></field></x></options>"
            ),
        )
    }

    fn publish(&mut self, id: &str) -> Handled {
        self.ok(
            ENGINE,
            "set",
            &format!(
                "<publish node='{NODE}'><item id='{id}'>\
             <example xmlns='urn:xmpp:example'>payload</example></item></publish>"
            ),
        )
    }
}

fn to_of(s: &Stanza) -> String {
    match s {
        Stanza::Message(m) => m.to.as_ref().map(|j| j.to_string()).unwrap_or_default(),
        _ => String::new(),
    }
}

fn xml(s: &Stanza) -> String {
    match s {
        Stanza::Message(m) => String::from(&Element::from(m.clone())),
        _ => String::new(),
    }
}

fn condition(h: &Handled) -> DefinedCondition {
    h.reply.as_ref().unwrap_err().defined_condition.clone()
}

#[test]
fn each_item_goes_to_one_member_and_unlock_gives_it_back() {
    let mut t = setup();
    t.join(BEE1, 1);
    t.join(BEE2, 1);
    let first = t.publish("ae890ac52d0df67ed7cfdf51b644e901");
    assert_eq!(first.notifications.len(), 1, "one subscriber gets it");
    let holder = to_of(&first.notifications[0]);
    assert!(xml(&first.notifications[0]).contains("payload"));
    // XEP-0254 Example 8 (type='get' as in the XEP).
    let h = t.ok(&holder, "get", &format!(
        "<unlock xmlns='{QUEUE_NS}' node='{NODE}'><item id='ae890ac52d0df67ed7cfdf51b644e901'/></unlock>"
    ));
    assert!(t.flushed);
    let notice = xml(&h.notifications[0]);
    assert!(
        notice.contains(&format!(
            "<unlock xmlns='{QUEUE_NS}' id='ae890ac52d0df67ed7cfdf51b644e901'"
        )),
        "{notice}"
    );
    assert_eq!(
        to_of(&h.notifications[0]),
        holder,
        "only the holder is told"
    );
}

#[test]
fn a_members_retract_is_its_ack_and_keeps_the_item() {
    let mut t = setup();
    t.join(BEE1, 5);
    t.publish("i1");
    let h = t.ok(
        BEE1,
        "set",
        &format!("<retract node='{NODE}'><item id='i1'/></retract>"),
    );
    assert_eq!(h.notifications.len(), 1);
    assert_eq!(to_of(&h.notifications[0]), BEE1);
    assert!(xml(&h.notifications[0]).contains("<retract id='i1'"));
    let items = t.ok(ENGINE, "get", &format!("<items node='{NODE}'/>"));
    let el = items.reply.unwrap().unwrap();
    assert_eq!(
        String::from(&el).matches("<item ").count(),
        1,
        "the node keeps it"
    );
    let again = t.ps(
        BEE1,
        "set",
        &format!("<retract node='{NODE}'><item id='i1'/></retract>"),
    );
    assert_eq!(condition(&again), DefinedCondition::UnexpectedRequest);
}

#[test]
fn ack_errors_follow_xep_0254() {
    let mut t = setup();
    t.join(BEE1, 1);
    t.join(BEE2, 1);
    let h = t.publish("i1");
    let holder = to_of(&h.notifications[0]);
    let other = if holder == BEE1 { BEE2 } else { BEE1 };
    let ack = |id: &str| format!("<ack xmlns='{QUEUE_NS}' node='{NODE}'><item id='{id}'/></ack>");
    assert_eq!(
        condition(&t.ps(other, "set", &ack("i1"))),
        DefinedCondition::Conflict
    );
    assert_eq!(
        condition(&t.ps(other, "set", &ack("nope"))),
        DefinedCondition::ItemNotFound
    );
    let stranger = "rosencrantz@shakespeare.lit/x";
    assert_eq!(
        condition(&t.ps(stranger, "set", &ack("i1"))),
        DefinedCondition::Forbidden
    );
    let empty = t.ps(
        holder.as_str(),
        "set",
        &format!("<ack xmlns='{QUEUE_NS}' node='{NODE}'/>"),
    );
    assert_eq!(condition(&empty), DefinedCondition::BadRequest);
    let done = t.ok(&holder, "set", &ack("i1"));
    assert!(done.notifications.is_empty(), "the ack IQ sends no notice");
}

#[test]
fn plain_subscribers_still_get_every_item() {
    let mut t = setup();
    t.join(BEE1, 1);
    t.ok(
        "plain@shakespeare.lit/p",
        "set",
        &format!("<subscribe node='{NODE}' jid='plain@shakespeare.lit'/>"),
    );
    let h = t.publish("i1");
    let mut to: Vec<String> = h.notifications.iter().map(to_of).collect();
    to.sort();
    assert_eq!(to, ["plain@shakespeare.lit".to_owned(), BEE1.to_owned()]);
}
