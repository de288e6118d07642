//! Parser tests built from the XEP-0060 (version 1.25) examples; the
//! example number is in each test's name or comment.

use super::*;
use crate::protocol::forms::FormKind;
use tokio_xmpp::parsers::stanza_error::{DefinedCondition, ErrorType};

/// An `<iq/>` as written in the XEP, turned into an [`IqRequest`].
fn iq(xml: &str) -> IqRequest {
    let xml = xml.replacen("<iq", "<iq xmlns='jabber:component:accept'", 1);
    let el: Element = xml.parse().expect("test XML parses");
    IqRequest {
        from: el
            .attr("from")
            .unwrap_or("francisco@denmark.lit/barracks")
            .parse()
            .unwrap(),
        to: "pubsub.shakespeare.lit".parse().unwrap(),
        id: el.attr("id").unwrap_or("x").to_owned(),
        kind: if el.attr("type") == Some("get") {
            IqKind::Get
        } else {
            IqKind::Set
        },
        payload: el.children().next().expect("iq has a child").clone(),
    }
}

fn ok(xml: &str) -> PubsubRequest {
    parse(&iq(xml)).expect("a pubsub payload").expect("parses")
}

fn err(xml: &str) -> StanzaError {
    parse(&iq(xml))
        .expect("a pubsub payload")
        .expect_err("is refused")
}

/// Asserts condition and `pubsub#errors` application condition.
fn assert_error(e: &StanzaError, cond: DefinedCondition, app: Option<&str>) {
    assert_eq!(e.defined_condition, cond, "{e:?}");
    assert_eq!(e.other.as_ref().map(|o| o.name()), app, "{e:?}");
    if let Some(o) = &e.other {
        assert_eq!(o.ns(), ns::PUBSUB_ERRORS);
    }
}

fn set(body: &str) -> String {
    format!(
        "<iq type='set' from='francisco@denmark.lit/barracks' id='s1'><pubsub xmlns='http://jabber.org/protocol/pubsub'>{body}</pubsub></iq>"
    )
}

fn get(body: &str) -> String {
    set(body).replace("type='set'", "type='get'")
}

fn owner(kind: &str, body: &str) -> String {
    format!(
        "<iq type='{kind}' from='hamlet@denmark.lit/elsinore' id='o1'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>{body}</pubsub></iq>"
    )
}

fn jid(s: &str) -> Jid {
    s.parse().unwrap()
}

#[test]
fn not_pubsub_is_not_ours() {
    let r = iq("<iq type='get' id='1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
    assert!(parse(&r).is_none());
}

#[test]
fn example_20_and_24_entity_subscriptions() {
    let r = ok(&get("<subscriptions/>"));
    assert_eq!(r, PubsubRequest::Subscriptions { node: None });
    let r = ok(&get("<subscriptions node='princely_musings'/>"));
    assert_eq!(
        r,
        PubsubRequest::Subscriptions {
            node: Some("princely_musings".into())
        }
    );
}

#[test]
fn example_26_and_30_entity_affiliations() {
    assert_eq!(
        ok(&get("<affiliations/>")),
        PubsubRequest::Affiliations { node: None }
    );
    assert_eq!(
        ok(&get("<affiliations node='node6'/>")),
        PubsubRequest::Affiliations {
            node: Some("node6".into())
        }
    );
}

#[test]
fn example_32_subscribe() {
    let r = ok("<iq type='set' from='francisco@denmark.lit/barracks' to='pubsub.shakespeare.lit' id='sub1'>
      <pubsub xmlns='http://jabber.org/protocol/pubsub'>
        <subscribe node='princely_musings' jid='francisco@denmark.lit'/>
      </pubsub>
    </iq>");
    assert_eq!(
        r,
        PubsubRequest::Subscribe {
            node: "princely_musings".into(),
            jid: jid("francisco@denmark.lit"),
            options: None
        }
    );
}

#[test]
fn subscribe_with_full_jid_of_sender_keeps_the_resource() {
    let r = ok(&set(
        "<subscribe node='n' jid='francisco@denmark.lit/barracks'/>",
    ));
    let PubsubRequest::Subscribe { jid: j, .. } = r else {
        panic!("{r:?}")
    };
    assert_eq!(j, jid("francisco@denmark.lit/barracks"));
}

#[test]
fn example_34_subscribe_for_another_bare_jid_is_left_to_the_core() {
    // The core answers invalid-jid unless the requester owns the node
    // (see pubsub_handler tests); the parser keeps the JID as given.
    let r = ok(&set(
        "<subscribe node='princely_musings' jid='bernardo@denmark.lit'/>",
    ));
    let PubsubRequest::Subscribe { jid: j, .. } = r else {
        panic!("{r:?}")
    };
    assert_eq!(j, jid("bernardo@denmark.lit"));
}

#[test]
fn subscribe_without_jid_uses_sender_bare_jid_as_in_uri_example() {
    // §16.6 "Pubsub Subscribe Action: Resulting Stanza" has no jid.
    let r = ok(&set("<subscribe node='princely_musings'/>"));
    let PubsubRequest::Subscribe { jid: j, .. } = r else {
        panic!("{r:?}")
    };
    assert_eq!(j, jid("francisco@denmark.lit"));
}

#[test]
fn subscribe_without_node_is_nodeid_required() {
    let e = err(&set("<subscribe jid='francisco@denmark.lit'/>"));
    assert_error(&e, DefinedCondition::BadRequest, Some("nodeid-required"));
}

#[test]
fn invalid_jid_attribute_is_invalid_jid() {
    let e = err(&set("<subscribe node='n' jid='@@'/>"));
    assert_error(&e, DefinedCondition::BadRequest, Some("invalid-jid"));
    let e = err(&set("<unsubscribe node='n' jid='a@b@c'/>"));
    assert_error(&e, DefinedCondition::BadRequest, Some("invalid-jid"));
}

#[test]
fn example_51_unsubscribe_with_and_without_subid() {
    let r = ok(&set(
        "<unsubscribe node='princely_musings' jid='francisco@denmark.lit'/>",
    ));
    assert_eq!(
        r,
        PubsubRequest::Unsubscribe {
            node: "princely_musings".into(),
            jid: jid("francisco@denmark.lit"),
            subid: None
        }
    );
    let r = ok(&set(
        "<unsubscribe node='n' jid='francisco@denmark.lit' subid='123-abc'/>",
    ));
    let PubsubRequest::Unsubscribe { subid, .. } = r else {
        panic!("{r:?}")
    };
    assert_eq!(subid.as_deref(), Some("123-abc"));
}

#[test]
fn example_59_options_get_and_example_63_jid_required() {
    let r = ok(&get(
        "<options node='princely_musings' jid='francisco@denmark.lit'/>",
    ));
    assert_eq!(
        r,
        PubsubRequest::Options {
            node: "princely_musings".into(),
            jid: jid("francisco@denmark.lit"),
            subid: None,
            form: None
        }
    );
    let e = err(&get("<options node='princely_musings'/>"));
    assert_error(&e, DefinedCondition::BadRequest, Some("jid-required"));
}

const OPTIONS_FORM: &str = "<x xmlns='jabber:x:data' type='submit'>
    <field var='FORM_TYPE' type='hidden'>
      <value>http://jabber.org/protocol/pubsub#subscribe_options</value>
    </field>
    <field var='pubsub#deliver'><value>1</value></field>
    <field var='pubsub#digest'><value>0</value></field>
    <field var='pubsub#include_body'><value>false</value></field>
    <field var='pubsub#show-values'>
      <value>chat</value><value>online</value><value>away</value>
    </field>
  </x>";

#[test]
fn example_68_options_set() {
    let body = format!(
        "<options node='princely_musings' jid='francisco@denmark.lit'>{OPTIONS_FORM}</options>"
    );
    let PubsubRequest::Options { form, .. } = ok(&set(&body)) else {
        panic!()
    };
    let form = form.unwrap();
    assert_eq!(form.values("pubsub#deliver").unwrap(), ["1"]);
    assert_eq!(form.values("pubsub#show-values").unwrap().len(), 3);
}

#[test]
fn options_set_without_form_is_bad_request() {
    let e = err(&set("<options node='n' jid='francisco@denmark.lit'/>"));
    assert_error(&e, DefinedCondition::BadRequest, None);
}

#[test]
fn example_71_subscribe_and_configure() {
    let body = format!(
        "<subscribe node='princely_musings' jid='francisco@denmark.lit'/><options>{OPTIONS_FORM}</options>"
    );
    let PubsubRequest::Subscribe { options, .. } = ok(&set(&body)) else {
        panic!()
    };
    assert_eq!(options.unwrap().values("pubsub#digest").unwrap(), ["0"]);
}

#[test]
fn options_after_subscribe_with_node_or_jid_is_bad_request() {
    // §6.3.7: the <options/> element MUST NOT possess 'node' or 'jid'.
    let body = format!(
        "<subscribe node='n' jid='francisco@denmark.lit'/><options node='n'>{OPTIONS_FORM}</options>"
    );
    assert_error(&err(&set(&body)), DefinedCondition::BadRequest, None);
}

#[test]
fn example_73_and_74_default_subscription_options() {
    assert_eq!(
        ok(&get("<default node='princely_musings'/>")),
        PubsubRequest::SubscribeDefault {
            node: Some("princely_musings".into())
        }
    );
    assert_eq!(
        ok(&get("<default/>")),
        PubsubRequest::SubscribeDefault { node: None }
    );
}

#[test]
fn example_78_all_items() {
    let r = ok(&get("<items node='princely_musings'/>"));
    assert_eq!(
        r,
        PubsubRequest::Items(ItemsQuery {
            node: "princely_musings".into(),
            max_items: None,
            item_ids: Vec::new(),
            subid: None,
            rsm: None,
        })
    );
}

#[test]
fn example_82_and_87_specific_items() {
    let r = ok(&get("<items node='princely_musings'>
        <item id='368866411b877c30064a5f62b917cffe'/>
        <item id='4e30f35051b7b8b42abe083742187228'/>
      </items>"));
    let PubsubRequest::Items(q) = r else { panic!() };
    assert_eq!(
        q.item_ids,
        [
            "368866411b877c30064a5f62b917cffe",
            "4e30f35051b7b8b42abe083742187228"
        ]
    );
    let PubsubRequest::Items(q) = ok(&get(
        "<items node='princely_musings'><item id='ae890ac52d0df67ed7cfdf51b644e901'/></items>",
    )) else {
        panic!()
    };
    assert_eq!(q.item_ids.len(), 1);
}

#[test]
fn example_84_max_items_and_bad_values() {
    let PubsubRequest::Items(q) = ok(&get("<items node='princely_musings' max_items='2'/>")) else {
        panic!()
    };
    assert_eq!(q.max_items, Some(2));
    for bad in ["0", "-1", "two"] {
        let e = err(&get(&format!("<items node='n' max_items='{bad}'/>")));
        assert_error(&e, DefinedCondition::BadRequest, None);
    }
}

#[test]
fn items_with_subid_and_rsm_set_inside_pubsub() {
    let r = ok(&get(
        "<items node='n' subid='004-yyy'/>
        <set xmlns='http://jabber.org/protocol/rsm'><max>10</max><after>item-7</after></set>",
    ));
    let PubsubRequest::Items(q) = r else { panic!() };
    assert_eq!(q.subid.as_deref(), Some("004-yyy"));
    let rsm = q.rsm.unwrap();
    assert_eq!(rsm.max, Some(10));
    assert_eq!(rsm.after.as_deref(), Some("item-7"));
    assert_eq!(rsm.before, None);
}

#[test]
fn rsm_before_empty_index_and_errors() {
    let rsm = |inner: &str| {
        get(&format!(
            "<items node='n'/><set xmlns='http://jabber.org/protocol/rsm'>{inner}</set>"
        ))
    };
    let PubsubRequest::Items(q) = ok(&rsm("<max>5</max><before/>")) else {
        panic!()
    };
    assert_eq!(q.rsm.unwrap().before.as_deref(), Some(""));
    let PubsubRequest::Items(q) = ok(&rsm("<index>3</index>")) else {
        panic!()
    };
    assert_eq!(q.rsm.unwrap().index, Some(3));
    for bad in [
        "<max>x</max>",
        "<after>a</after><before>b</before>",
        "<after/>",
    ] {
        assert_error(&err(&rsm(bad)), DefinedCondition::BadRequest, None);
    }
    // An RSM <set/> with anything but <items/> is refused.
    let e = err(&get(
        "<subscriptions/><set xmlns='http://jabber.org/protocol/rsm'><max>1</max></set>",
    ));
    assert_error(&e, DefinedCondition::BadRequest, None);
}

#[test]
fn items_without_node_and_item_without_id() {
    assert_error(
        &err(&get("<items/>")),
        DefinedCondition::BadRequest,
        Some("nodeid-required"),
    );
    assert_error(
        &err(&get("<items node='n'><item/></items>")),
        DefinedCondition::BadRequest,
        None,
    );
}

#[test]
fn example_100_publish_with_item_id_and_atom_payload() {
    let r = ok("<iq type='set' from='hamlet@denmark.lit/blogbot' to='pubsub.shakespeare.lit' id='publish1'>
      <pubsub xmlns='http://jabber.org/protocol/pubsub'>
        <publish node='princely_musings'>
          <item id='bnd81g37d61f49fgn581'>
            <entry xmlns='http://www.w3.org/2005/Atom'>
              <title>Soliloquy</title>
              <summary>To be, or not to be: that is the question</summary>
              <link rel='alternate' type='text/html' href='http://denmark.lit/2003/12/13/atom03'/>
              <id>tag:denmark.lit,2003:entry-32397</id>
              <published>2003-12-13T18:30:02Z</published>
              <updated>2003-12-13T18:30:02Z</updated>
            </entry>
          </item>
        </publish>
      </pubsub>
    </iq>");
    let PubsubRequest::Publish {
        node,
        items,
        options,
    } = r
    else {
        panic!()
    };
    assert_eq!(node, "princely_musings");
    assert!(options.is_none());
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].id.as_deref(), Some("bnd81g37d61f49fgn581"));
    let payload = items[0].payload.as_ref().unwrap();
    assert!(payload.is("entry", "http://www.w3.org/2005/Atom"));
}

#[test]
fn example_1_publish_without_item_id_and_example_227_without_payload() {
    let PubsubRequest::Publish { items, .. } = ok(&set(
        "<publish node='princely_musings'><item><entry xmlns='http://www.w3.org/2005/Atom'/></item></publish>",
    )) else {
        panic!()
    };
    assert_eq!(items[0].id, None);
    let PubsubRequest::Publish { items, .. } = ok(&set(
        "<publish node='elsinore-doorbell'><item id='current'/></publish>",
    )) else {
        panic!()
    };
    assert_eq!(items[0].payload, None);
    // A transient notification-only publish carries no item at all.
    let PubsubRequest::Publish { items, .. } = ok(&set("<publish node='elsinore/doorbell'/>"))
    else {
        panic!()
    };
    assert!(items.is_empty());
}

#[test]
fn publish_several_items_keeps_order() {
    let PubsubRequest::Publish { items, .. } = ok(&set(
        "<publish node='n'><item id='a'><p xmlns='urn:x'/></item><item><p xmlns='urn:x'/></item><item id='c'/></publish>",
    )) else {
        panic!()
    };
    let ids: Vec<_> = items.iter().map(|i| i.id.as_deref()).collect();
    assert_eq!(ids, [Some("a"), None, Some("c")]);
}

#[test]
fn example_112_item_with_two_payloads_or_text_is_invalid_payload() {
    let e = err(&set(
        "<publish node='n'><item><a xmlns='urn:x'/><b xmlns='urn:x'/></item></publish>",
    ));
    assert_eq!(e.type_, ErrorType::Modify);
    assert_error(&e, DefinedCondition::BadRequest, Some("invalid-payload"));
    let e = err(&set("<publish node='n'><item>plain text</item></publish>"));
    assert_error(&e, DefinedCondition::BadRequest, Some("invalid-payload"));
}

#[test]
fn publish_without_node_is_nodeid_required() {
    let e = err(&set("<publish><item/></publish>"));
    assert_error(&e, DefinedCondition::BadRequest, Some("nodeid-required"));
}

#[test]
fn example_116_publish_options() {
    let r = ok(&set("<publish node='princely_musings'><item id='ae890ac52d0df67ed7cfdf51b644e901'><entry xmlns='http://www.w3.org/2005/Atom'/></item></publish>
        <publish-options>
          <x xmlns='jabber:x:data' type='submit'>
            <field var='FORM_TYPE' type='hidden'>
              <value>http://jabber.org/protocol/pubsub#publish-options</value>
            </field>
            <field var='pubsub#access_model'><value>presence</value></field>
          </x>
        </publish-options>"));
    let PubsubRequest::Publish { options, .. } = r else {
        panic!()
    };
    assert_eq!(
        options.unwrap().values("pubsub#access_model").unwrap(),
        ["presence"]
    );
}

#[test]
fn publish_options_of_wrong_form_type_is_bad_request() {
    let e = err(&set(
        "<publish node='n'/><publish-options><x xmlns='jabber:x:data' type='submit'>
        <field var='FORM_TYPE'><value>urn:wrong</value></field></x></publish-options>",
    ));
    assert_error(&e, DefinedCondition::BadRequest, None);
}

#[test]
fn example_117_retract_and_notify_attribute() {
    let r = ok(&set(
        "<retract node='princely_musings'><item id='ae890ac52d0df67ed7cfdf51b644e901'/></retract>",
    ));
    assert_eq!(
        r,
        PubsubRequest::Retract {
            node: "princely_musings".into(),
            id: "ae890ac52d0df67ed7cfdf51b644e901".into(),
            notify: None
        }
    );
    for (v, want) in [("true", true), ("1", true), ("false", false), ("0", false)] {
        let body = format!("<retract node='n' notify='{v}'><item id='i'/></retract>");
        let PubsubRequest::Retract { notify, .. } = ok(&set(&body)) else {
            panic!()
        };
        assert_eq!(notify, Some(want), "notify='{v}'");
    }
    let e = err(&set(
        "<retract node='n' notify='yes'><item id='i'/></retract>",
    ));
    assert_error(&e, DefinedCondition::BadRequest, None);
    let e = err(&set(
        "<retract node='n'><item id='a'/><item id='b'/></retract>",
    ));
    assert_error(&e, DefinedCondition::BadRequest, None);
}

#[test]
fn example_123_and_124_retract_errors() {
    let e = err(&set("<retract><item id='i'/></retract>"));
    assert_error(&e, DefinedCondition::BadRequest, Some("nodeid-required"));
    let e = err(&set("<retract node='n'/>"));
    assert_error(&e, DefinedCondition::BadRequest, Some("item-required"));
    let e = err(&set("<retract node='n'><item/></retract>"));
    assert_error(&e, DefinedCondition::BadRequest, Some("item-required"));
}

#[test]
fn example_127_create_and_example_133_instant_node() {
    assert_eq!(
        ok(&set("<create node='princely_musings'/>")),
        PubsubRequest::Create {
            node: Some("princely_musings".into()),
            config: None
        }
    );
    assert_eq!(
        ok(&set("<create/>")),
        PubsubRequest::Create {
            node: None,
            config: None
        }
    );
}

#[test]
fn example_139_create_and_configure() {
    let r = ok(&set("<create node='princely_musings'/>
        <configure>
          <x xmlns='jabber:x:data' type='submit'>
            <field var='FORM_TYPE' type='hidden'>
              <value>http://jabber.org/protocol/pubsub#node_config</value>
            </field>
            <field var='pubsub#title'><value>Princely Musings (Atom)</value></field>
            <field var='pubsub#max_items'><value>10</value></field>
            <field var='pubsub#access_model'><value>open</value></field>
          </x>
        </configure>"));
    let PubsubRequest::Create { node, config } = r else {
        panic!()
    };
    assert_eq!(node.as_deref(), Some("princely_musings"));
    assert_eq!(config.unwrap().values("pubsub#max_items").unwrap(), ["10"]);
    // An empty <configure/> (sent by some clients) means default config.
    let PubsubRequest::Create { config, .. } = ok(&set("<create node='n'/><configure/>")) else {
        panic!()
    };
    assert!(config.is_none());
}

#[test]
fn configure_with_node_after_create_or_alone_is_bad_request() {
    let e = err(&set("<create node='n'/><configure node='n'/>"));
    assert_error(&e, DefinedCondition::BadRequest, None);
    let e = err(&set("<configure node='n'/>"));
    assert_error(&e, DefinedCondition::BadRequest, None);
}

#[test]
fn more_than_one_action_no_action_unknown_action() {
    let e = err(&set("<create node='a'/><create node='b'/>"));
    assert_error(&e, DefinedCondition::BadRequest, None);
    let e = err(&set("<subscribe node='a'/><publish node='a'/>"));
    assert_error(&e, DefinedCondition::BadRequest, None);
    assert_error(&err(&set("")), DefinedCondition::BadRequest, None);
    let e = err(&set("<frobnicate node='a'/>"));
    assert_error(&e, DefinedCondition::FeatureNotImplemented, None);
    let e = err(&set("<create node='a'/><foo xmlns='urn:other'/>"));
    assert_error(&e, DefinedCondition::BadRequest, None);
}

#[test]
fn wrong_iq_type_is_bad_request() {
    assert_error(
        &err(&get("<publish node='n'/>")),
        DefinedCondition::BadRequest,
        None,
    );
    assert_error(
        &err(&set("<items node='n'/>")),
        DefinedCondition::BadRequest,
        None,
    );
    assert_error(
        &err(&owner("get", "<purge node='n'/>")),
        DefinedCondition::BadRequest,
        None,
    );
}

#[test]
fn example_141_configure_get_and_example_145_nodeid_required() {
    assert_eq!(
        ok(&owner("get", "<configure node='princely_musings'/>")),
        PubsubRequest::ConfigureGet {
            node: "princely_musings".into()
        }
    );
    let e = err(&owner("get", "<configure/>"));
    assert_error(&e, DefinedCondition::BadRequest, Some("nodeid-required"));
}

#[test]
fn example_148_configure_submit_and_example_149_cancel() {
    let r = ok(&owner(
        "set",
        "<configure node='princely_musings'><x xmlns='jabber:x:data' type='submit'>
          <field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#node_config</value></field>
          <field var='pubsub#deliver_payloads'><value>1</value></field>
          <field var='pubsub#access_model'><value>roster</value></field>
        </x></configure>",
    ));
    let PubsubRequest::ConfigureSet { node, form } = r else {
        panic!()
    };
    assert_eq!(node, "princely_musings");
    assert_eq!(form.kind, FormKind::Submit);
    assert_eq!(form.values("pubsub#access_model").unwrap(), ["roster"]);
    let r = ok(&owner(
        "set",
        "<configure node='princely_musings'><x xmlns='jabber:x:data' type='cancel'/></configure>",
    ));
    let PubsubRequest::ConfigureSet { form, .. } = r else {
        panic!()
    };
    assert_eq!(form.kind, FormKind::Cancel);
    let e = err(&owner("set", "<configure node='n'/>"));
    assert_error(&e, DefinedCondition::BadRequest, None);
}

#[test]
fn example_154_default_node_configuration() {
    assert_eq!(
        ok(&owner("get", "<default/>")),
        PubsubRequest::NodeDefault {
            node: None,
            node_type: None
        }
    );
    assert_eq!(
        ok(&owner("get", "<default type='leaf'/>")),
        PubsubRequest::NodeDefault {
            node: None,
            node_type: Some("leaf".into())
        }
    );
}

#[test]
fn example_158_and_159_delete_with_redirect() {
    assert_eq!(
        ok(&owner("set", "<delete node='princely_musings'/>")),
        PubsubRequest::Delete {
            node: "princely_musings".into(),
            redirect: None
        }
    );
    assert_eq!(
        ok(&owner(
            "set",
            "<delete node='princely_musings'><redirect uri='xmpp:hamlet@denmark.lit?;node=blog'/></delete>"
        )),
        PubsubRequest::Delete {
            node: "princely_musings".into(),
            redirect: Some("xmpp:hamlet@denmark.lit?;node=blog".into())
        }
    );
    let e = err(&owner("set", "<delete node='n'><redirect/></delete>"));
    assert_error(&e, DefinedCondition::BadRequest, None);
    let e = err(&owner("set", "<delete/>"));
    assert_error(&e, DefinedCondition::BadRequest, Some("nodeid-required"));
}

#[test]
fn example_164_purge() {
    assert_eq!(
        ok(&owner("set", "<purge node='princely_musings'/>")),
        PubsubRequest::Purge {
            node: "princely_musings".into()
        }
    );
}

#[test]
fn example_185_190_195_owner_subscriptions() {
    assert_eq!(
        ok(&owner("get", "<subscriptions node='princely_musings'/>")),
        PubsubRequest::OwnerSubscriptionsGet {
            node: "princely_musings".into()
        }
    );
    let r = ok(&owner(
        "set",
        "<subscriptions node='princely_musings'>
          <subscription jid='polonius@denmark.lit' subscription='none'/>
          <subscription jid='bard@shakespeare.lit' subscription='subscribed'/>
          <subscription jid='horatio@denmark.lit'/>
          <subscription jid='bernardo@denmark.lit' subscription='none' subid='123-abc'/>
        </subscriptions>",
    ));
    let PubsubRequest::OwnerSubscriptionsSet { node, changes } = r else {
        panic!()
    };
    assert_eq!(node, "princely_musings");
    assert_eq!(changes.len(), 3, "entry without 'subscription' is a no-op");
    assert_eq!(changes[1].jid, jid("bard@shakespeare.lit"));
    assert_eq!(changes[1].subscription, "subscribed");
    assert_eq!(changes[2].subid.as_deref(), Some("123-abc"));
    let e = err(&owner(
        "set",
        "<subscriptions node='n'><subscription jid='a@b' subscription='maybe'/></subscriptions>",
    ));
    assert_error(&e, DefinedCondition::BadRequest, None);
    let e = err(&owner("get", "<subscriptions/>"));
    assert_error(&e, DefinedCondition::BadRequest, Some("nodeid-required"));
}

#[test]
fn example_198_203_209_owner_affiliations() {
    assert_eq!(
        ok(&owner("get", "<affiliations node='princely_musings'/>")),
        PubsubRequest::OwnerAffiliationsGet {
            node: "princely_musings".into()
        }
    );
    let r = ok(&owner(
        "set",
        "<affiliations node='princely_musings'>
          <affiliation jid='hamlet@denmark.lit' affiliation='none'/>
          <affiliation jid='polonius@denmark.lit/arras' affiliation='none'/>
          <affiliation jid='bard@shakespeare.lit' affiliation='publisher'/>
        </affiliations>",
    ));
    let PubsubRequest::OwnerAffiliationsSet { changes, .. } = r else {
        panic!()
    };
    assert_eq!(changes.len(), 3);
    assert_eq!(
        changes[1].jid.as_str(),
        "polonius@denmark.lit",
        "full JID reduced to bare"
    );
    assert_eq!(changes[2].affiliation, "publisher");
}

#[test]
fn owner_affiliations_errors() {
    // §8.9.2.4: the same entity twice is a bad request.
    let e = err(&owner(
        "set",
        "<affiliations node='n'><affiliation jid='a@b' affiliation='member'/><affiliation jid='a@b/r' affiliation='owner'/></affiliations>",
    ));
    assert_error(&e, DefinedCondition::BadRequest, None);
    let e = err(&owner(
        "set",
        "<affiliations node='n'><affiliation jid='a@b' affiliation='king'/></affiliations>",
    ));
    assert_error(&e, DefinedCondition::BadRequest, None);
    let e = err(&owner(
        "set",
        "<affiliations node='n'><affiliation jid='@' affiliation='member'/></affiliations>",
    ));
    assert_error(&e, DefinedCondition::BadRequest, Some("invalid-jid"));
    let e = err(&owner(
        "set",
        "<affiliations node='n'><affiliation affiliation='member'/></affiliations>",
    ));
    assert_error(&e, DefinedCondition::BadRequest, Some("jid-required"));
}

#[test]
fn owner_namespace_action_checks() {
    let e = err(&owner("set", "<purge node='a'/><delete node='a'/>"));
    assert_error(&e, DefinedCondition::BadRequest, None);
    assert_error(&err(&owner("set", "")), DefinedCondition::BadRequest, None);
    let e = err(&owner("set", "<publish node='a'/>"));
    assert_error(&e, DefinedCondition::FeatureNotImplemented, None);
}

// ---- Limits on what enters (issue 16, issue 11) ----------------------------

fn error_text(e: &StanzaError) -> String {
    e.texts.values().cloned().collect::<Vec<_>>().join(" ")
}

#[test]
fn node_names_over_the_core_limit_are_bad_requests_everywhere() {
    let long = "n".repeat(crate::pubsub::names::MAX_NAME_BYTES + 1);
    let requests = [
        get(&format!("<items node='{long}'/>")),
        set(&format!("<publish node='{long}'/>")),
        set(&format!(
            "<subscribe node='{long}' jid='francisco@denmark.lit'/>"
        )),
        set(&format!("<create node='{long}'/>")),
        get(&format!("<subscriptions node='{long}'/>")),
        owner("set", &format!("<delete node='{long}'/>")),
        owner("get", &format!("<configure node='{long}'/>")),
    ];
    for xml in requests {
        let e = err(&xml);
        assert_error(&e, DefinedCondition::BadRequest, None);
        assert!(error_text(&e).contains("256"), "{e:?}");
    }
    let ok_node = "n".repeat(crate::pubsub::names::MAX_NAME_BYTES);
    assert!(matches!(
        ok(&get(&format!("<items node='{ok_node}'/>"))),
        PubsubRequest::Items(_)
    ));
}

#[test]
fn item_ids_over_the_core_limit_are_bad_requests() {
    let long = "i".repeat(300);
    for xml in [
        set(&format!(
            "<publish node='n'><item id='{long}'><x xmlns='u'/></item></publish>"
        )),
        set(&format!("<retract node='n'><item id='{long}'/></retract>")),
        get(&format!("<items node='n'><item id='{long}'/></items>")),
    ] {
        let e = err(&xml);
        assert_error(&e, DefinedCondition::BadRequest, None);
        assert!(error_text(&e).contains("item ID"), "{e:?}");
    }
}

#[test]
fn a_payload_deeper_than_the_limit_is_an_invalid_payload() {
    let depth = crate::protocol::xml::payload_limits().max_depth + 1;
    let payload = format!(
        "<x xmlns='urn:deep'>{}{}</x>",
        "<x>".repeat(depth - 1),
        "</x>".repeat(depth - 1)
    );
    let e = err(&set(&format!(
        "<publish node='n'><item>{payload}</item></publish>"
    )));
    assert_error(&e, DefinedCondition::BadRequest, Some("invalid-payload"));
    assert!(error_text(&e).contains("limits.max_payload_depth"), "{e:?}");
    let fits = format!(
        "<x xmlns='urn:deep'>{}{}</x>",
        "<x>".repeat(depth - 2),
        "</x>".repeat(depth - 2)
    );
    assert!(matches!(
        ok(&set(&format!(
            "<publish node='n'><item>{fits}</item></publish>"
        ))),
        PubsubRequest::Publish { .. }
    ));
}
