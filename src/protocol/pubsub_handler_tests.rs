//! End-to-end protocol tests on a `MemoryStore`: request XML from the
//! XEP-0060 (1.25) examples in, reply and notification shapes out.

use super::*;
use crate::protocol::forms::{self, FormKind};
use crate::protocol::{IqKind, ns};
use crate::pubsub::ServiceSettings;
use crate::store::MemoryStore;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::message::Message;
use tokio_xmpp::parsers::stanza_error::DefinedCondition;

const HAMLET: &str = "hamlet@denmark.lit/elsinore";
const FRANCISCO: &str = "francisco@denmark.lit/barracks";
const BERNARDO: &str = "bernardo@denmark.lit/orchard";
const POLONIUS: &str = "polonius@denmark.lit/arras";

struct T {
    svc: Service<MemoryStore>,
    ctx: ProtocolCtx,
    /// The last request changed state: the flush after it reached the store.
    flushed: bool,
}

fn setup() -> T {
    setup_with(|_| {})
}

fn setup_with(f: impl FnOnce(&mut ServiceSettings)) -> T {
    let mut settings = ServiceSettings {
        create_domains: vec!["denmark.lit".into()],
        ..ServiceSettings::default()
    };
    f(&mut settings);
    let ctx = ProtocolCtx {
        service_jid: "pubsub.shakespeare.lit".parse().unwrap(),
        max_payload_bytes: settings.max_payload_bytes,
        multicast: None,
    };
    let mut svc = Service::open(MemoryStore::new(), settings).unwrap();
    svc.set_now(crate::pubsub::tests::NOW_MS);
    T {
        svc,
        ctx,
        flushed: false,
    }
}

impl T {
    /// Sends `<iq type=kind from=from>` with `payload` as its child.
    fn iq(&mut self, from: &str, kind: &str, payload: &str) -> Handled {
        let req = IqRequest {
            from: from.parse().unwrap(),
            to: "pubsub.shakespeare.lit".parse().unwrap(),
            id: "t1".into(),
            kind: if kind == "get" {
                IqKind::Get
            } else {
                IqKind::Set
            },
            payload: payload.parse().expect("test payload parses"),
        };
        let h = handle_pubsub(&mut self.svc, &self.ctx, &req);
        self.flushed = self.svc.flush().unwrap();
        h
    }

    fn ps(&mut self, from: &str, kind: &str, body: &str) -> Handled {
        self.iq(
            from,
            kind,
            &format!("<pubsub xmlns='{}'>{body}</pubsub>", ns::PUBSUB),
        )
    }

    fn owner(&mut self, from: &str, kind: &str, body: &str) -> Handled {
        self.iq(
            from,
            kind,
            &format!("<pubsub xmlns='{}'>{body}</pubsub>", ns::PUBSUB_OWNER),
        )
    }

    /// A successful request's reply payload (`None` = empty result).
    fn ok(&mut self, from: &str, kind: &str, body: &str, owner: bool) -> Option<Element> {
        let h = if owner {
            self.owner(from, kind, body)
        } else {
            self.ps(from, kind, body)
        };
        h.reply.unwrap_or_else(|e| panic!("{body}: {e:?}"))
    }

    fn create(&mut self, node: &str, config: &[(&str, &str)]) {
        let fields: String = config
            .iter()
            .map(|(v, x)| format!("<field var='{v}'><value>{x}</value></field>"))
            .collect();
        let body = format!(
            "<create node='{node}'/><configure><x xmlns='jabber:x:data' type='submit'>{fields}</x></configure>"
        );
        self.ok(HAMLET, "set", &body, false);
    }

    fn subscribe(&mut self, from: &str, node: &str) -> Handled {
        let bare = from.split('/').next().unwrap();
        self.ps(
            from,
            "set",
            &format!("<subscribe node='{node}' jid='{bare}'/>"),
        )
    }

    fn publish(&mut self, node: &str, id: &str) -> Handled {
        self.ps(
            HAMLET,
            "set",
            &format!("<publish node='{node}'><item id='{id}'><entry xmlns='http://www.w3.org/2005/Atom'><title>{id}</title></entry></item></publish>"),
        )
    }
}

fn messages(h: &Handled) -> Vec<&Message> {
    h.notifications
        .iter()
        .map(|s| match s {
            Stanza::Message(m) => m,
            other => panic!("not a message: {other:?}"),
        })
        .collect()
}

fn to_of(m: &Message) -> String {
    m.to.as_ref().unwrap().to_string()
}

/// Condition and pubsub#errors condition of an error reply.
fn error(h: &Handled) -> (DefinedCondition, Option<String>) {
    let e = h.reply.as_ref().expect_err("an error reply");
    (
        e.defined_condition.clone(),
        e.other.as_ref().map(|o| o.name().to_owned()),
    )
}

fn child<'a>(el: &'a Element, name: &str) -> &'a Element {
    el.children()
        .find(|c| c.name() == name)
        .unwrap_or_else(|| panic!("no <{name}/> in {el:?}"))
}

fn ids(items: &Element) -> Vec<String> {
    items
        .children()
        .filter_map(|i| i.attr("id").map(str::to_owned))
        .collect()
}

#[test]
fn example_8_service_disco_info_lists_pubsub_features() {
    let mut t = setup();
    let h = t.iq(
        FRANCISCO,
        "get",
        "<query xmlns='http://jabber.org/protocol/disco#info'/>",
    );
    let q = h.reply.unwrap().unwrap();
    let identity = child(&q, "identity");
    assert_eq!(
        (identity.attr("category"), identity.attr("type")),
        (Some("pubsub"), Some("service"))
    );
    let vars: Vec<_> = q.children().filter_map(|c| c.attr("var")).collect();
    for f in [
        "http://jabber.org/protocol/pubsub",
        "http://jabber.org/protocol/pubsub#publish",
        ns::PING,
    ] {
        assert!(vars.contains(&f), "{f}");
    }
    assert!(vars.contains(&crate::protocol::features::AUTO_CREATE));
    assert!(!t.flushed);
}

#[test]
fn ping_is_answered_and_unknown_queries_get_service_unavailable() {
    let mut t = setup();
    assert_eq!(
        t.iq(FRANCISCO, "get", "<ping xmlns='urn:xmpp:ping'/>")
            .reply,
        Ok(None)
    );
    let h = t.iq(FRANCISCO, "get", "<query xmlns='jabber:iq:roster'/>");
    assert_eq!(error(&h).0, DefinedCondition::ServiceUnavailable);
}

#[test]
fn example_127_create_then_131_conflict_and_133_instant_node() {
    let mut t = setup();
    let r = t
        .ok(HAMLET, "set", "<create node='princely_musings'/>", false)
        .unwrap();
    assert_eq!(child(&r, "create").attr("node"), Some("princely_musings"));
    let h = t.ps(HAMLET, "set", "<create node='princely_musings'/>");
    assert_eq!(error(&h), (DefinedCondition::Conflict, None));
    let r = t.ok(HAMLET, "set", "<create/>", false).unwrap();
    let generated = child(&r, "create").attr("node").unwrap();
    assert!(!generated.is_empty() && generated != "princely_musings");
}

#[test]
fn example_130_entity_not_allowed_to_create_nodes() {
    let mut t = setup();
    let h = t.ps("bard@shakespeare.lit/globe", "set", "<create node='n'/>");
    assert_eq!(error(&h), (DefinedCondition::Forbidden, None));
}

#[test]
fn example_139_create_and_configure_then_141_configure_form() {
    let mut t = setup();
    t.create(
        "princely_musings",
        &[
            ("pubsub#title", "Princely Musings (Atom)"),
            ("pubsub#max_items", "10"),
        ],
    );
    let r = t
        .ok(HAMLET, "get", "<configure node='princely_musings'/>", true)
        .unwrap();
    assert_eq!(r.ns(), ns::PUBSUB_OWNER);
    let configure = child(&r, "configure");
    assert_eq!(configure.attr("node"), Some("princely_musings"));
    let form = forms::parse_form(child(configure, "x")).unwrap();
    assert_eq!(form.kind, FormKind::Form);
    assert_eq!(
        form.form_type.as_deref(),
        Some(super::super::pubsub_forms::NODE_CONFIG)
    );
    assert_eq!(
        form.values("pubsub#title").unwrap(),
        ["Princely Musings (Atom)"]
    );
    assert_eq!(form.values("pubsub#max_items").unwrap(), ["10"]);
}

#[test]
fn create_with_unknown_config_field_is_not_acceptable() {
    let mut t = setup();
    let h = t.ps(
        HAMLET,
        "set",
        "<create node='n'/><configure><x xmlns='jabber:x:data' type='submit'><field var='pubsub#bogus'><value>1</value></field></x></configure>",
    );
    assert_eq!(error(&h).0, DefinedCondition::NotAcceptable);
}

#[test]
fn examples_32_100_102_subscribe_publish_notify() {
    let mut t = setup();
    t.create("princely_musings", &[]);
    let h = t.subscribe(FRANCISCO, "princely_musings");
    let r = h.reply.unwrap().unwrap();
    let sub = child(&r, "subscription");
    assert_eq!(sub.attr("jid"), Some("francisco@denmark.lit"));
    assert_eq!(sub.attr("subscription"), Some("subscribed"));
    assert!(sub.attr("subid").is_some());
    let h = t.publish("princely_musings", "bnd81g37d61f49fgn581");
    assert!(t.flushed);
    let r = h.reply.as_ref().unwrap().as_ref().unwrap();
    let publish = child(r, "publish");
    assert_eq!(publish.attr("node"), Some("princely_musings"));
    assert_eq!(ids(publish), ["bnd81g37d61f49fgn581"]);
    let ms = messages(&h);
    assert_eq!(ms.len(), 1);
    assert_eq!(to_of(ms[0]), "francisco@denmark.lit");
    let event = child(&ms[0].payloads[0], "items");
    let item = child(event, "item");
    assert_eq!(item.attr("id"), Some("bnd81g37d61f49fgn581"));
    assert_eq!(item.attr("publisher"), Some("hamlet@denmark.lit"));
    assert!(child(item, "entry").is("entry", "http://www.w3.org/2005/Atom"));
}

#[test]
fn example_1_publish_without_id_gets_a_generated_id() {
    let mut t = setup();
    t.create("n", &[]);
    let r = t
        .ok(
            HAMLET,
            "set",
            "<publish node='n'><item><p xmlns='urn:x'/></item></publish>",
            false,
        )
        .unwrap();
    let id = ids(child(&r, "publish")).pop().unwrap();
    assert!(!id.is_empty());
}

#[test]
fn example_109_publish_to_missing_node_without_auto_create() {
    let mut t = setup_with(|s| s.auto_create_on_publish = false);
    let h = t.publish("nowhere", "i");
    assert_eq!(error(&h), (DefinedCondition::ItemNotFound, None));
    let h = t.iq(
        FRANCISCO,
        "get",
        "<query xmlns='http://jabber.org/protocol/disco#info'/>",
    );
    let q = h.reply.unwrap().unwrap();
    assert!(
        !q.children()
            .any(|c| c.attr("var") == Some(crate::protocol::features::AUTO_CREATE))
    );
}

#[test]
fn auto_create_on_publish_creates_the_node() {
    let mut t = setup();
    assert!(t.publish("fresh", "i1").reply.is_ok());
    let r = t
        .ok(FRANCISCO, "get", "<items node='fresh'/>", false)
        .unwrap();
    assert_eq!(ids(child(&r, "items")), ["i1"]);
}

#[test]
fn example_111_payload_too_big() {
    let mut t = setup_with(|s| s.max_payload_bytes = 64);
    t.create("n", &[]);
    let big = "x".repeat(100);
    let h = t.ps(
        HAMLET,
        "set",
        &format!("<publish node='n'><item><p xmlns='urn:x'>{big}</p></item></publish>"),
    );
    assert_eq!(
        error(&h),
        (
            DefinedCondition::NotAcceptable,
            Some("payload-too-big".into())
        )
    );
}

#[test]
fn example_107_publish_without_privileges_is_forbidden() {
    let mut t = setup();
    t.create("n", &[]);
    let h = t.ps(
        FRANCISCO,
        "set",
        "<publish node='n'><item id='x'/></publish>",
    );
    assert_eq!(error(&h), (DefinedCondition::Forbidden, None));
}

fn with_items(t: &mut T, n: usize) {
    t.create("princely_musings", &[]);
    for i in 1..=n {
        t.publish("princely_musings", &format!("i{i}"));
    }
}

#[test]
fn examples_78_84_82_items_all_newest_and_by_id() {
    let mut t = setup();
    with_items(&mut t, 4);
    let r = t
        .ok(FRANCISCO, "get", "<items node='princely_musings'/>", false)
        .unwrap();
    let items = child(&r, "items");
    assert_eq!(ids(items), ["i1", "i2", "i3", "i4"]);
    assert!(child(child(items, "item"), "entry").is("entry", "http://www.w3.org/2005/Atom"));
    let r = t
        .ok(
            FRANCISCO,
            "get",
            "<items node='princely_musings' max_items='2'/>",
            false,
        )
        .unwrap();
    assert_eq!(ids(child(&r, "items")), ["i3", "i4"]);
    let r = t
        .ok(
            FRANCISCO,
            "get",
            "<items node='princely_musings'><item id='i1'/><item id='i4'/></items>",
            false,
        )
        .unwrap();
    assert_eq!(ids(child(&r, "items")), ["i1", "i4"]);
    assert!(r.get_child("set", ns::RSM).is_none());
}

#[test]
fn example_98_items_of_missing_node() {
    let mut t = setup();
    let h = t.ps(FRANCISCO, "get", "<items node='nope'/>");
    assert_eq!(error(&h), (DefinedCondition::ItemNotFound, None));
}

fn rsm(body: &str) -> String {
    format!(
        "<items node='princely_musings'/><set xmlns='http://jabber.org/protocol/rsm'>{body}</set>"
    )
}

/// stanza.js `getItems({max: 3})` sends `max_items` and a `<set/>`: still
/// the newest N (XEP-0060 §6.5.7), with the RSM reply.
#[test]
fn max_items_with_rsm_set_is_still_the_newest() {
    let mut t = setup();
    with_items(&mut t, 5);
    let body = "<items node='princely_musings' max_items='3'/>\
                <set xmlns='http://jabber.org/protocol/rsm'><max>3</max></set>";
    let r = t.ok(FRANCISCO, "get", body, false).unwrap();
    assert_eq!(ids(child(&r, "items")), ["i3", "i4", "i5"]);
    let set = r.get_child("set", ns::RSM).unwrap();
    assert_eq!(set.get_child("last", ns::RSM).unwrap().text(), "i5");
    assert_eq!(set.get_child("count", ns::RSM).unwrap().text(), "5");
    let body = "<items node='princely_musings' max_items='2'/>\
                <set xmlns='http://jabber.org/protocol/rsm'/>";
    let r = t.ok(FRANCISCO, "get", body, false).unwrap();
    assert_eq!(ids(child(&r, "items")), ["i4", "i5"]);
}

#[test]
fn rsm_pages_after_and_before_an_item_id_with_count() {
    let mut t = setup();
    with_items(&mut t, 5);
    let r = t
        .ok(
            FRANCISCO,
            "get",
            &rsm("<max>2</max><after>i2</after>"),
            false,
        )
        .unwrap();
    assert_eq!(ids(child(&r, "items")), ["i3", "i4"]);
    let set = r.get_child("set", ns::RSM).unwrap();
    assert_eq!(set.get_child("first", ns::RSM).unwrap().text(), "i3");
    assert_eq!(set.get_child("last", ns::RSM).unwrap().text(), "i4");
    assert_eq!(set.get_child("count", ns::RSM).unwrap().text(), "5");
    let r = t
        .ok(
            FRANCISCO,
            "get",
            &rsm("<max>2</max><before>i3</before>"),
            false,
        )
        .unwrap();
    assert_eq!(ids(child(&r, "items")), ["i1", "i2"]);
    let r = t
        .ok(FRANCISCO, "get", &rsm("<max>2</max><before/>"), false)
        .unwrap();
    assert_eq!(ids(child(&r, "items")), ["i4", "i5"]);
    let r = t
        .ok(
            FRANCISCO,
            "get",
            &rsm("<max>10</max><after>i5</after>"),
            false,
        )
        .unwrap();
    assert!(ids(child(&r, "items")).is_empty());
    let set = r.get_child("set", ns::RSM).unwrap();
    assert!(set.get_child("first", ns::RSM).is_none());
}

/// Regression: a `<set>` with only `<max/>` returned the *newest* page, so
/// a client paging on with `<after/>` its last item got an empty page and
/// never saw the older items (found by the kill test in
/// tests/integration/test_durability.py).
#[test]
fn rsm_without_cursor_is_the_first_page_and_paging_on_visits_every_item() {
    let mut t = setup();
    with_items(&mut t, 5);
    let r = t.ok(FRANCISCO, "get", &rsm("<max>2</max>"), false).unwrap();
    assert_eq!(ids(child(&r, "items")), ["i1", "i2"]);
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let cursor = after
            .as_ref()
            .map_or(String::new(), |a| format!("<after>{a}</after>"));
        let r = t
            .ok(
                FRANCISCO,
                "get",
                &rsm(&format!("<max>2</max>{cursor}")),
                false,
            )
            .unwrap();
        let page = ids(child(&r, "items"));
        if page.is_empty() {
            break;
        }
        seen.extend(page);
        let set = r.get_child("set", ns::RSM).unwrap();
        after = Some(set.get_child("last", ns::RSM).unwrap().text());
    }
    assert_eq!(seen, ["i1", "i2", "i3", "i4", "i5"]);
}

#[test]
fn rsm_index_zero_is_the_first_page_and_republish_moves_to_newest() {
    let mut t = setup();
    with_items(&mut t, 4);
    t.publish("princely_musings", "i2");
    let h = t.ps(
        HAMLET,
        "set",
        "<retract node='princely_musings'><item id='i3'/></retract>",
    );
    assert_eq!(h.reply, Ok(None));
    let r = t
        .ok(
            FRANCISCO,
            "get",
            &rsm("<max>2</max><index>0</index>"),
            false,
        )
        .unwrap();
    assert_eq!(ids(child(&r, "items")), ["i1", "i4"]);
    let set = r.get_child("set", ns::RSM).unwrap();
    assert_eq!(set.get_child("count", ns::RSM).unwrap().text(), "3");
    let r = t
        .ok(FRANCISCO, "get", &rsm("<after>i4</after>"), false)
        .unwrap();
    assert_eq!(ids(child(&r, "items")), ["i2"], "re-published is newest");
    let h = t.ps(FRANCISCO, "get", &rsm("<after>i3</after>"));
    assert_eq!(
        error(&h).0,
        DefinedCondition::ItemNotFound,
        "retracted cursor"
    );
}

#[test]
fn rsm_unknown_cursor_is_item_not_found_and_index_is_unsupported() {
    let mut t = setup();
    with_items(&mut t, 2);
    let h = t.ps(FRANCISCO, "get", &rsm("<after>gone</after>"));
    assert_eq!(error(&h), (DefinedCondition::ItemNotFound, None));
    let h = t.ps(FRANCISCO, "get", &rsm("<index>1</index>"));
    assert_eq!(error(&h).0, DefinedCondition::FeatureNotImplemented);
}

#[test]
fn examples_117_119_retract_with_notify_and_122_missing_item() {
    let mut t = setup();
    with_items(&mut t, 1);
    t.subscribe(FRANCISCO, "princely_musings");
    let h = t.ps(
        HAMLET,
        "set",
        "<retract node='princely_musings' notify='true'><item id='i1'/></retract>",
    );
    assert_eq!(h.reply, Ok(None));
    let ms = messages(&h);
    assert_eq!(ms.len(), 1);
    let retract = child(child(&ms[0].payloads[0], "items"), "retract");
    assert_eq!(retract.attr("id"), Some("i1"));
    let h = t.ps(
        HAMLET,
        "set",
        "<retract node='princely_musings'><item id='i1'/></retract>",
    );
    assert_eq!(error(&h), (DefinedCondition::ItemNotFound, None));
}

#[test]
fn examples_51_52_unsubscribe_and_54_not_subscribed() {
    let mut t = setup();
    t.create("n", &[]);
    t.subscribe(FRANCISCO, "n");
    let h = t.ps(
        FRANCISCO,
        "set",
        "<unsubscribe node='n' jid='francisco@denmark.lit'/>",
    );
    assert_eq!(h.reply, Ok(None));
    let h = t.ps(
        FRANCISCO,
        "set",
        "<unsubscribe node='n' jid='francisco@denmark.lit'/>",
    );
    assert_eq!(
        error(&h),
        (
            DefinedCondition::UnexpectedRequest,
            Some("not-subscribed".into())
        )
    );
}

/// Example 65 (options, type `modify`) vs Example 55 (unsubscribe,
/// type `cancel`): same conditions, different error types.
#[test]
fn example_65_options_of_non_subscriber_is_modify_and_55_unsubscribe_cancel() {
    use tokio_xmpp::parsers::stanza_error::ErrorType;
    let mut t = setup();
    t.create("n", &[]);
    let type_of = |h: &Handled| h.reply.as_ref().unwrap_err().type_.clone();
    let get = "<options node='n' jid='francisco@denmark.lit'/>";
    let set = "<options node='n' jid='francisco@denmark.lit'><x xmlns='jabber:x:data' type='submit'><field var='pubsub#deliver'><value>0</value></field></x></options>";
    for (kind, body) in [("get", get), ("set", set)] {
        let h = t.ps(FRANCISCO, kind, body);
        assert_eq!(
            error(&h),
            (
                DefinedCondition::UnexpectedRequest,
                Some("not-subscribed".into())
            )
        );
        assert_eq!(type_of(&h), ErrorType::Modify, "options {kind}");
    }
    let h = t.ps(
        FRANCISCO,
        "set",
        "<unsubscribe node='n' jid='francisco@denmark.lit'/>",
    );
    assert_eq!(type_of(&h), ErrorType::Cancel);
}

#[test]
fn example_34_subscribing_another_entity_is_invalid_jid() {
    let mut t = setup();
    t.create("n", &[]);
    let h = t.ps(
        FRANCISCO,
        "set",
        "<subscribe node='n' jid='bernardo@denmark.lit'/>",
    );
    assert_eq!(
        error(&h),
        (DefinedCondition::BadRequest, Some("invalid-jid".into()))
    );
}

#[test]
fn examples_59_60_68_70_subscription_options() {
    let mut t = setup();
    t.create("n", &[]);
    t.subscribe(FRANCISCO, "n");
    let r = t
        .ok(
            FRANCISCO,
            "get",
            "<options node='n' jid='francisco@denmark.lit'/>",
            false,
        )
        .unwrap();
    let options = child(&r, "options");
    assert_eq!(options.attr("jid"), Some("francisco@denmark.lit"));
    let form = forms::parse_form(child(options, "x")).unwrap();
    assert_eq!(form.kind, FormKind::Form);
    assert_eq!(form.values("pubsub#deliver").unwrap(), ["1"]);
    let submit = |v: &str, var: &str| {
        format!(
            "<options node='n' jid='francisco@denmark.lit'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#subscribe_options</value></field><field var='{var}'><value>{v}</value></field></x></options>"
        )
    };
    assert_eq!(
        t.ps(FRANCISCO, "set", &submit("0", "pubsub#deliver")).reply,
        Ok(None)
    );
    let h = t.ps(FRANCISCO, "set", &submit("1", "pubsub#digest"));
    assert_eq!(
        error(&h),
        (DefinedCondition::BadRequest, Some("invalid-options".into()))
    );
}

#[test]
fn examples_71_72_subscribe_with_options_returns_the_options() {
    let mut t = setup();
    t.create("n", &[]);
    let r = t
        .ok(FRANCISCO, "set", "<subscribe node='n' jid='francisco@denmark.lit'/><options><x xmlns='jabber:x:data' type='submit'><field var='pubsub#deliver'><value>1</value></field></x></options>", false)
        .unwrap();
    let form = forms::parse_form(child(child(&r, "options"), "x")).unwrap();
    assert_eq!(form.kind, FormKind::Result);
}

#[test]
fn examples_73_75_default_subscription_options() {
    let mut t = setup();
    t.create("princely_musings", &[]);
    let r = t
        .ok(
            FRANCISCO,
            "get",
            "<default node='princely_musings'/>",
            false,
        )
        .unwrap();
    let default = child(&r, "default");
    assert_eq!(default.attr("node"), Some("princely_musings"));
    assert_eq!(
        forms::parse_form(child(default, "x")).unwrap().kind,
        FormKind::Result
    );
    let h = t.ps(FRANCISCO, "get", "<default node='missing'/>");
    assert_eq!(error(&h).0, DefinedCondition::ItemNotFound);
}

#[test]
fn examples_20_21_26_27_own_subscriptions_and_affiliations() {
    let mut t = setup();
    t.create("node1", &[]);
    t.create("node2", &[]);
    t.subscribe(FRANCISCO, "node1");
    t.subscribe(FRANCISCO, "node2");
    let r = t.ok(FRANCISCO, "get", "<subscriptions/>", false).unwrap();
    let subs = child(&r, "subscriptions");
    let nodes: Vec<_> = subs.children().filter_map(|s| s.attr("node")).collect();
    assert_eq!(nodes, ["node1", "node2"]);
    let r = t
        .ok(FRANCISCO, "get", "<subscriptions node='node2'/>", false)
        .unwrap();
    assert_eq!(child(&r, "subscriptions").children().count(), 1);
    let r = t.ok(HAMLET, "get", "<affiliations/>", false).unwrap();
    let affs = child(&r, "affiliations");
    let a = child(affs, "affiliation");
    assert_eq!(
        (a.attr("node"), a.attr("affiliation")),
        (Some("node1"), Some("owner"))
    );
    let r = t.ok(FRANCISCO, "get", "<affiliations/>", false).unwrap();
    assert_eq!(
        child(&r, "affiliations").children().count(),
        0,
        "Example 28"
    );
}

#[test]
fn examples_148_149_configure_submit_cancel_and_144_forbidden() {
    let mut t = setup();
    t.create("n", &[]);
    let submit = "<configure node='n'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#node_config</value></field><field var='pubsub#title'><value>New title</value></field></x></configure>";
    assert_eq!(t.owner(HAMLET, "set", submit).reply, Ok(None));
    let cancel = "<configure node='n'><x xmlns='jabber:x:data' type='cancel'/></configure>";
    let h = t.owner(HAMLET, "set", cancel);
    assert_eq!(h.reply, Ok(None));
    let r = t.ok(HAMLET, "get", "<configure node='n'/>", true).unwrap();
    let form = forms::parse_form(child(child(&r, "configure"), "x")).unwrap();
    assert_eq!(form.values("pubsub#title").unwrap(), ["New title"]);
    assert_eq!(
        error(&t.owner(FRANCISCO, "set", submit)),
        (DefinedCondition::Forbidden, None)
    );
    assert_eq!(
        error(&t.owner(FRANCISCO, "set", cancel)),
        (DefinedCondition::Forbidden, None)
    );
}

#[test]
fn examples_154_155_default_node_configuration() {
    let mut t = setup();
    let r = t.ok(HAMLET, "get", "<default/>", true).unwrap();
    let form = forms::parse_form(child(child(&r, "default"), "x")).unwrap();
    assert_eq!(form.kind, FormKind::Form);
    assert!(form.values("pubsub#access_model").is_some());
    // XEP-0248 §5.1: a collection's defaults say so and list children.
    let r = t
        .ok(HAMLET, "get", "<default type='collection'/>", true)
        .unwrap();
    let form = forms::parse_form(child(child(&r, "default"), "x")).unwrap();
    assert_eq!(
        form.values("pubsub#node_type"),
        Some(&["collection".to_owned()][..])
    );
    assert!(form.values("pubsub#children").is_some());
    let h = t.owner(HAMLET, "get", "<default type='tree'/>");
    assert_eq!(error(&h), (DefinedCondition::BadRequest, None));
}

#[test]
fn examples_159_161_delete_with_redirect_notifies_and_163_missing() {
    let mut t = setup();
    t.create("princely_musings", &[]);
    t.subscribe(FRANCISCO, "princely_musings");
    let h = t.owner(
        HAMLET,
        "set",
        "<delete node='princely_musings'><redirect uri='xmpp:hamlet@denmark.lit?;node=blog'/></delete>",
    );
    assert_eq!(h.reply, Ok(None));
    let ms = messages(&h);
    let delete = child(&ms[0].payloads[0], "delete");
    assert_eq!(
        child(delete, "redirect").attr("uri"),
        Some("xmpp:hamlet@denmark.lit?;node=blog")
    );
    let h = t.owner(HAMLET, "set", "<delete node='princely_musings'/>");
    assert_eq!(error(&h), (DefinedCondition::ItemNotFound, None));
}

#[test]
fn examples_164_166_purge_notifies_and_168_forbidden() {
    let mut t = setup();
    with_items(&mut t, 3);
    t.subscribe(FRANCISCO, "princely_musings");
    let h = t.owner(HAMLET, "set", "<purge node='princely_musings'/>");
    assert_eq!(h.reply, Ok(None));
    assert!(
        messages(&h)[0].payloads[0]
            .get_child("purge", ns::PUBSUB_EVENT)
            .is_some()
    );
    let r = t
        .ok(FRANCISCO, "get", "<items node='princely_musings'/>", false)
        .unwrap();
    assert!(ids(child(&r, "items")).is_empty());
    let h = t.owner(FRANCISCO, "set", "<purge node='princely_musings'/>");
    assert_eq!(error(&h), (DefinedCondition::Forbidden, None));
}

#[test]
fn examples_185_186_190_197_owner_manages_subscriptions() {
    let mut t = setup();
    t.create("princely_musings", &[]);
    t.subscribe(FRANCISCO, "princely_musings");
    let r = t
        .ok(
            HAMLET,
            "get",
            "<subscriptions node='princely_musings'/>",
            true,
        )
        .unwrap();
    let subs = child(&r, "subscriptions");
    let s = child(subs, "subscription");
    assert_eq!(
        (s.attr("jid"), s.attr("subscription")),
        (Some("francisco@denmark.lit"), Some("subscribed"))
    );
    let h = t.owner(
        HAMLET,
        "set",
        "<subscriptions node='princely_musings'><subscription jid='bard@shakespeare.lit' subscription='subscribed'/></subscriptions>",
    );
    assert_eq!(h.reply, Ok(None));
    let ms = messages(&h);
    let note = child(&ms[0].payloads[0], "subscription");
    assert_eq!(to_of(ms[0]), "bard@shakespeare.lit");
    assert_eq!(note.attr("subscription"), Some("subscribed"));
    let h = t.owner(FRANCISCO, "get", "<subscriptions node='princely_musings'/>");
    assert_eq!(error(&h), (DefinedCondition::Forbidden, None));
}

#[test]
fn examples_198_199_203_210_owner_manages_affiliations() {
    let mut t = setup();
    t.create("princely_musings", &[]);
    let set = |jid: &str, aff: &str| {
        format!(
            "<affiliations node='princely_musings'><affiliation jid='{jid}' affiliation='{aff}'/></affiliations>"
        )
    };
    assert_eq!(
        t.owner(HAMLET, "set", &set("bard@shakespeare.lit", "publisher"))
            .reply,
        Ok(None)
    );
    let r = t
        .ok(
            HAMLET,
            "get",
            "<affiliations node='princely_musings'/>",
            true,
        )
        .unwrap();
    let listed: Vec<_> = child(&r, "affiliations")
        .children()
        .map(|a| {
            (
                a.attr("jid").unwrap().to_owned(),
                a.attr("affiliation").unwrap().to_owned(),
            )
        })
        .collect();
    assert!(listed.contains(&("bard@shakespeare.lit".into(), "publisher".into())));
    assert!(listed.contains(&("hamlet@denmark.lit".into(), "owner".into())));
    let h = t.owner(HAMLET, "set", &set("hamlet@denmark.lit", "none"));
    assert_eq!(
        error(&h).0,
        DefinedCondition::NotAcceptable,
        "last owner (Example 210)"
    );
}

#[test]
fn example_41_outcast_may_not_subscribe() {
    let mut t = setup();
    t.create("n", &[]);
    let ban = "<affiliations node='n'><affiliation jid='polonius@denmark.lit' affiliation='outcast'/></affiliations>";
    t.owner(HAMLET, "set", ban);
    let h = t.subscribe(POLONIUS, "n");
    assert_eq!(error(&h), (DefinedCondition::Forbidden, None));
}

#[test]
fn example_37_whitelist_node_refuses_strangers() {
    let mut t = setup();
    t.create("n", &[("pubsub#access_model", "whitelist")]);
    let h = t.subscribe(BERNARDO, "n");
    assert_eq!(
        error(&h),
        (DefinedCondition::NotAllowed, Some("closed-node".into()))
    );
}

#[test]
fn examples_46_171_authorize_node_pends_and_asks_the_owner() {
    let mut t = setup();
    t.create("n", &[("pubsub#access_model", "authorize")]);
    let h = t.subscribe(BERNARDO, "n");
    let r = h.reply.as_ref().unwrap().as_ref().unwrap();
    assert_eq!(
        child(r, "subscription").attr("subscription"),
        Some("pending")
    );
    let ms = messages(&h);
    assert_eq!(to_of(ms[0]), "hamlet@denmark.lit");
    let x = ms[0]
        .payloads
        .iter()
        .find(|p| p.is("x", ns::DATA_FORMS))
        .unwrap();
    let form = forms::parse_form(x).unwrap();
    assert_eq!(
        form.values("pubsub#subscriber_jid").unwrap(),
        ["bernardo@denmark.lit"]
    );
}

#[test]
fn examples_10_18_19_disco_of_nodes_metadata_and_items() {
    let mut t = setup();
    t.create(
        "princely_musings",
        &[("pubsub#title", "Princely Musings (Atom)")],
    );
    t.publish("princely_musings", "i1");
    let h = t.iq(
        FRANCISCO,
        "get",
        "<query xmlns='http://jabber.org/protocol/disco#items'/>",
    );
    let q = h.reply.unwrap().unwrap();
    let item = child(&q, "item");
    assert_eq!(item.attr("jid"), Some("pubsub.shakespeare.lit"));
    assert_eq!(item.attr("node"), Some("princely_musings"));
    assert_eq!(item.attr("name"), Some("Princely Musings (Atom)"));
    let h = t.iq(
        FRANCISCO,
        "get",
        "<query xmlns='http://jabber.org/protocol/disco#info' node='princely_musings'/>",
    );
    let q = h.reply.unwrap().unwrap();
    assert_eq!(q.attr("node"), Some("princely_musings"));
    assert_eq!(child(&q, "identity").attr("type"), Some("leaf"));
    let vars: Vec<_> = q.children().filter_map(|c| c.attr("var")).collect();
    assert!(vars.contains(&"http://jabber.org/protocol/rsm"), "{vars:?}");
    let form = forms::parse_form(child(&q, "x")).unwrap();
    assert_eq!(
        form.form_type.as_deref(),
        Some("http://jabber.org/protocol/pubsub#meta-data")
    );
    assert!(form.values("pubsub#creation_date").is_some());
    let h = t.iq(
        FRANCISCO,
        "get",
        "<query xmlns='http://jabber.org/protocol/disco#items' node='princely_musings'/>",
    );
    let q = h.reply.unwrap().unwrap();
    let item = child(&q, "item");
    assert_eq!(item.attr("name"), Some("i1"));
    assert_eq!(item.attr("node"), None);
    let h = t.iq(
        FRANCISCO,
        "get",
        "<query xmlns='http://jabber.org/protocol/disco#info' node='nope'/>",
    );
    assert_eq!(error(&h).0, DefinedCondition::ItemNotFound);
}

#[test]
fn malformed_requests_get_errors_and_reads_need_no_flush() {
    let mut t = setup();
    let h = t.ps(FRANCISCO, "set", "<publish/>");
    assert_eq!(
        error(&h),
        (DefinedCondition::BadRequest, Some("nodeid-required".into()))
    );
    assert!(!t.flushed);
    let h = t.ps(FRANCISCO, "set", "<create node='a'/><create node='b'/>");
    assert_eq!(error(&h).0, DefinedCondition::BadRequest);
    let h = t.ps(FRANCISCO, "get", "<subscriptions/>");
    assert!(h.reply.is_ok() && !t.flushed);
}

#[test]
fn odd_requests_never_panic_and_always_get_a_reply() {
    let mut t = setup();
    t.create("n", &[]);
    let ps = "http://jabber.org/protocol/pubsub";
    let owner = "http://jabber.org/protocol/pubsub#owner";
    let bodies = [
        format!("<pubsub xmlns='{ps}'/>"),
        format!("<pubsub xmlns='{ps}'><items node=''/></pubsub>"),
        format!("<pubsub xmlns='{ps}'><items node='n' max_items='99999999999999999999999'/></pubsub>"),
        format!("<pubsub xmlns='{ps}'><publish node='n'><item id='a'><x xmlns='urn:a'><deep><deeper/></deep></x></item></publish></pubsub>"),
        format!("<pubsub xmlns='{ps}'><publish node='n'><foo/></publish></pubsub>"),
        format!("<pubsub xmlns='{ps}'><subscribe node='n' jid=''/></pubsub>"),
        format!("<pubsub xmlns='{ps}'><options node='n' jid='francisco@denmark.lit'><x xmlns='jabber:x:data'/></options></pubsub>"),
        format!("<pubsub xmlns='{ps}'><create node='n'/><configure><x xmlns='jabber:x:data' type='form'/></configure></pubsub>"),
        format!("<pubsub xmlns='{owner}'><configure node='n'><x xmlns='jabber:x:data' type='result'/></configure></pubsub>"),
        format!("<pubsub xmlns='{owner}'><subscriptions node='n'><subscription/></subscriptions></pubsub>"),
        format!("<pubsub xmlns='{owner}'><affiliations node='missing'><affiliation jid='a@b' affiliation='member'/></affiliations></pubsub>"),
        "<query xmlns='http://jabber.org/protocol/disco#items' node=''/>".to_owned(),
        "<unknown xmlns='urn:nothing'><pubsub xmlns='http://jabber.org/protocol/pubsub'/></unknown>".to_owned(),
    ];
    for body in &bodies {
        for kind in ["get", "set"] {
            let h = t.iq(FRANCISCO, kind, body);
            if let Err(e) = &h.reply {
                assert!(!e.texts.is_empty(), "{body}: errors explain themselves");
            }
        }
    }
}

// --- issue 16 #3: replies cut to limits.max_stanza_bytes ----------------

/// An RSM `<set/>`: first, last, count.
type RsmSet = (Option<String>, Option<String>, String);

fn set_of(el: &Element) -> Option<RsmSet> {
    let set = el.get_child("set", ns::RSM)?;
    let text = |n: &str| set.get_child(n, ns::RSM).map(Element::text);
    Some((
        text("first"),
        text("last"),
        text("count").unwrap_or_default(),
    ))
}

#[test]
fn items_too_big_for_one_stanza_are_cut_with_a_set_to_page_on() {
    let mut t = setup_with(|s| {
        s.max_stanza_bytes = 40_000;
        s.max_payload_bytes = 20_000;
    });
    t.create("big", &[]);
    let payload = format!("<x xmlns='urn:x'>{}</x>", "a".repeat(9_000));
    for i in 0..10 {
        t.ok(
            HAMLET,
            "set",
            &format!("<publish node='big'><item id='i{i}'>{payload}</item></publish>"),
            false,
        );
    }
    // No RSM: the newest that fit, and a <set/> (§6.5.4).
    let reply = t
        .ok(FRANCISCO, "get", "<items node='big'/>", false)
        .unwrap();
    assert!(super::stanza_size::xml_len(&reply) <= 40_000);
    let ids: Vec<&str> = (reply.get_child("items", ns::PUBSUB).unwrap().children())
        .filter_map(|i| i.attr("id"))
        .collect();
    assert!(!ids.is_empty() && ids.len() < 10, "{ids:?}");
    assert_eq!(ids.last(), Some(&"i9"));
    let (first, last, count) = set_of(&reply).expect("a set when cut");
    assert_eq!(first.as_deref(), ids.first().copied());
    assert_eq!(last.as_deref(), Some("i9"));
    assert_eq!(count, "10");
    // RSM forwards: the oldest that fit.
    let body = format!(
        "<items node='big'/><set xmlns='{}'><max>10</max></set>",
        ns::RSM
    );
    let reply = t.ok(FRANCISCO, "get", &body, false).unwrap();
    let (first, _, _) = set_of(&reply).unwrap();
    assert_eq!(first.as_deref(), Some("i0"));
}

fn disco_items(t: &mut T, set: &str) -> (Vec<String>, Option<RsmSet>) {
    let q = format!("<query xmlns='{}'>{set}</query>", ns::DISCO_ITEMS);
    let reply = t.iq(FRANCISCO, "get", &q).reply.unwrap().unwrap();
    let nodes = (reply.children())
        .filter_map(|i| i.attr("node").map(str::to_owned))
        .collect();
    (nodes, set_of(&reply))
}

#[test]
fn disco_items_of_the_service_page_with_rsm_by_node_name() {
    let mut t = setup_with(|s| s.max_page_size = 3);
    for n in ["a", "b", "c", "d", "e"] {
        t.create(n, &[]);
    }
    let rsm = |inner: &str| format!("<set xmlns='{}'>{inner}</set>", ns::RSM);
    // Without RSM: a capped page says there is more.
    let (nodes, set) = disco_items(&mut t, "");
    assert_eq!(nodes, ["a", "b", "c"]);
    assert_eq!(set, Some((Some("a".into()), Some("c".into()), "5".into())));
    let (nodes, _) = disco_items(&mut t, &rsm("<max>2</max><after>b</after>"));
    assert_eq!(nodes, ["c", "d"]);
    // A cursor that names no node still says where to go on.
    let (nodes, _) = disco_items(&mut t, &rsm("<max>2</max><after>bb</after>"));
    assert_eq!(nodes, ["c", "d"]);
    let (nodes, _) = disco_items(&mut t, &rsm("<max>2</max><before>c</before>"));
    assert_eq!(nodes, ["a", "b"]);
    let (nodes, _) = disco_items(&mut t, &rsm("<max>2</max><before/>"));
    assert_eq!(nodes, ["d", "e"]);
    let (nodes, set) = disco_items(&mut t, &rsm("<max>0</max>"));
    assert!(nodes.is_empty());
    assert_eq!(set, Some((None, None, "5".into())));
    let (nodes, set) = disco_items(&mut t, &rsm("<after>e</after>"));
    assert!(nodes.is_empty() && set.is_some());
}

#[test]
fn rsm_is_advertised_for_disco_items() {
    let q = format!("<query xmlns='{}'/>", ns::DISCO_INFO);
    let reply = setup().iq(FRANCISCO, "get", &q).reply.unwrap().unwrap();
    assert!(
        reply
            .children()
            .any(|f| f.attr("var") == Some("http://jabber.org/protocol/rsm"))
    );
}
