//! §7.1 publish.

use super::*;
use crate::pubsub::names::nn;

#[test]
fn publish_stores_the_item_and_notifies_subscribers_with_one_shared_payload() {
    let mut svc = service_with_node(&[]);
    subscribe(&mut svc, "bob@example.com");
    subscribe(&mut svc, "carol@example.com");
    let out = svc
        .publish(&ent(OWNER), &nn(NODE), vec![item("a", "<p/>")], None)
        .unwrap();
    assert_eq!(out.reply.item_ids, vec!["a"]);
    assert_eq!(out.notifications.len(), 1);
    assert_eq!(
        recipients(&out),
        vec!["bob@example.com", "carol@example.com"]
    );
    let Event::Items {
        items,
        include_payload,
        last_published,
    } = &out.notifications[0].event
    else {
        panic!("{:?}", out.notifications);
    };
    assert!(*include_payload && !*last_published);
    assert_eq!(items[0].payload.as_deref(), Some("<p/>"));
    assert_eq!(items[0].publisher, Some(bare(OWNER)));
    let page = svc.items(&ent(OWNER), &nn(NODE), None).unwrap();
    assert_eq!((ids(&page), page.total), (vec!["a"], 1));
}

#[test]
fn publish_without_an_id_generates_unique_ids() {
    let mut svc = service_with_node(&[]);
    let new = || NewItem {
        id: None,
        payload: Some("<p/>".into()),
    };
    let out = svc
        .publish(&ent(OWNER), &nn(NODE), vec![new(), new()], None)
        .unwrap();
    let generated = out.reply.item_ids;
    assert_eq!(generated.len(), 2);
    assert_ne!(generated[0], generated[1]);
    assert_eq!(svc.items(&ent(OWNER), &nn(NODE), None).unwrap().total, 2);
}

#[test]
fn publish_several_items_keeps_their_order() {
    let mut svc = service_with_node(&[]);
    publish_ids(&mut svc, &["a", "b", "c"]);
    let page = svc.items(&ent(OWNER), &nn(NODE), None).unwrap();
    assert_eq!(ids(&page), vec!["a", "b", "c"]);
}

#[test]
fn republishing_an_id_replaces_it_and_moves_it_to_newest() {
    let mut svc = service_with_node(&[]);
    publish_ids(&mut svc, &["a", "b"]);
    let _ = svc
        .publish(&ent(OWNER), &nn(NODE), vec![item("a", "<new/>")], None)
        .unwrap();
    let page = svc.items(&ent(OWNER), &nn(NODE), None).unwrap();
    assert_eq!((ids(&page), page.total), (vec!["b", "a"], 2));
    assert_eq!(page.items[1].payload.as_deref(), Some("<new/>"));
}

#[test]
fn publish_beyond_max_items_removes_the_oldest() {
    let mut svc = service_with_node(&[("pubsub#max_items", "2")]);
    publish_ids(&mut svc, &["a", "b", "c"]);
    let page = svc.items(&ent(OWNER), &nn(NODE), None).unwrap();
    assert_eq!((ids(&page), page.total), (vec!["b", "c"], 2));
}

#[test]
fn publish_to_a_non_persistent_node_stores_nothing_but_notifies() {
    let mut svc = service_with_node(&[("pubsub#persist_items", "0")]);
    subscribe(&mut svc, "bob@example.com");
    let out = svc
        .publish(&ent(OWNER), &nn(NODE), vec![item("a", "<p/>")], None)
        .unwrap();
    assert_eq!(recipients(&out), vec!["bob@example.com"]);
    assert_eq!(svc.items(&ent(OWNER), &nn(NODE), None).unwrap().total, 0);
}

#[test]
fn publish_with_deliver_payloads_off_sends_ids_only() {
    let mut svc = service_with_node(&[("pubsub#deliver_payloads", "0")]);
    subscribe(&mut svc, "bob@example.com");
    let out = svc
        .publish(&ent(OWNER), &nn(NODE), vec![item("a", "<p/>")], None)
        .unwrap();
    let Event::Items {
        include_payload, ..
    } = &out.notifications[0].event
    else {
        panic!()
    };
    assert!(!include_payload);
}

#[test]
fn publish_with_deliver_notifications_off_notifies_nobody() {
    let mut svc = service_with_node(&[("pubsub#deliver_notifications", "0")]);
    subscribe(&mut svc, "bob@example.com");
    let out = svc
        .publish(&ent(OWNER), &nn(NODE), vec![item("a", "<p/>")], None)
        .unwrap();
    assert!(out.notifications.is_empty());
}

#[test]
fn publish_skips_pending_and_non_delivering_subscriptions() {
    let mut svc = service_with_node(&[]);
    let quiet = fields(&[("pubsub#deliver", "0")]);
    let who = jid("quiet@example.com");
    let _ = svc
        .subscribe(&ent("quiet@example.com"), &nn(NODE), &who, Some(&quiet))
        .unwrap();
    let pending = SubscriptionChange {
        jid: jid("wait@example.com"),
        state: SubscriptionState::Pending,
        subid: None,
    };
    let _ = svc
        .modify_subscriptions(&ent(OWNER), &nn(NODE), &[pending])
        .unwrap();
    let out = svc
        .publish(&ent(OWNER), &nn(NODE), vec![item("a", "<p/>")], None)
        .unwrap();
    assert!(out.notifications.is_empty());
}

#[test]
fn publish_adds_subids_for_a_jid_with_several_subscriptions() {
    let mut svc = service_with_node(&[]);
    let first = subscribe(&mut svc, "bob@example.com");
    let bob = jid("bob@example.com");
    let quiet = fields(&[("pubsub#deliver", "0")]);
    let _ = svc
        .subscribe(&ent("bob@example.com"), &nn(NODE), &bob, Some(&quiet))
        .unwrap();
    let out = svc
        .publish(&ent(OWNER), &nn(NODE), vec![item("a", "<p/>")], None)
        .unwrap();
    let r = &out.notifications[0].recipients;
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].subids, vec![first.subid]);
}

#[test]
fn publish_to_a_missing_node_auto_creates_it_for_a_creator() {
    let mut svc = service();
    let opts = fields(&[("pubsub#max_items", "7")]);
    let out = svc
        .publish(
            &ent(OWNER),
            &nn("new"),
            vec![item("a", "<p/>")],
            Some(&opts),
        )
        .unwrap();
    assert_eq!(out.reply.node, "new");
    let form = svc.node_config(&ent(OWNER), &nn("new")).unwrap();
    let max = form.iter().find(|f| f.var == "pubsub#max_items").unwrap();
    assert_eq!(max.value(), Some("7"));
}

#[test]
fn publish_to_a_missing_node_without_the_right_to_create_is_not_found() {
    let mut svc = service();
    let err = svc.publish(
        &ent("eve@evil.org"),
        &nn("new"),
        vec![item("a", "<p/>")],
        None,
    );
    assert_eq!(err.unwrap_err(), PubsubError::NodeNotFound);
}

#[test]
fn publish_to_a_missing_node_with_auto_create_off_is_not_found() {
    let store = service().into_store();
    let s = ServiceSettings {
        auto_create_on_publish: false,
        ..settings()
    };
    let mut svc = Service::open(store, s).unwrap();
    let err = svc.publish(&Actor::System, &nn("new"), vec![item("a", "<p/>")], None);
    assert_eq!(err.unwrap_err(), PubsubError::NodeNotFound);
}

#[test]
fn publish_with_an_empty_node_name_requires_a_node_id() {
    // The type refuses it before the core is called (protocol answers an
    // empty node attribute with nodeid-required).
    assert!(crate::pubsub::NodeName::new("").is_err());
}

#[test]
fn publish_by_outcast_is_forbidden() {
    let mut svc = service_with_node(&[("pubsub#publish_model", "open")]);
    set_affiliation(&mut svc, "eve@example.com", Affiliation::Outcast);
    let err = svc.publish(
        &ent("eve@example.com"),
        &nn(NODE),
        vec![item("a", "<p/>")],
        None,
    );
    assert_eq!(err.unwrap_err(), PubsubError::Outcast);
}

#[test]
fn publish_by_member_under_the_publishers_model_is_forbidden() {
    let mut svc = service_with_node(&[]);
    set_affiliation(&mut svc, "mem@example.com", Affiliation::Member);
    let err = svc.publish(
        &ent("mem@example.com"),
        &nn(NODE),
        vec![item("a", "<p/>")],
        None,
    );
    assert_eq!(err.unwrap_err(), PubsubError::Forbidden);
}

#[test]
fn publish_by_publisher_and_publish_only_is_allowed() {
    let mut svc = service_with_node(&[]);
    set_affiliation(&mut svc, "pub@example.com", Affiliation::Publisher);
    set_affiliation(&mut svc, "po@example.com", Affiliation::PublishOnly);
    for who in ["pub@example.com", "po@example.com"] {
        assert!(
            svc.publish(&ent(who), &nn(NODE), vec![item(who, "<p/>")], None)
                .is_ok()
        );
    }
}

#[test]
fn publish_by_subscriber_under_the_subscribers_model_is_allowed() {
    let mut svc = service_with_node(&[("pubsub#publish_model", "subscribers")]);
    let stranger = svc.publish(
        &ent("bob@example.com"),
        &nn(NODE),
        vec![item("a", "<p/>")],
        None,
    );
    assert_eq!(stranger.unwrap_err(), PubsubError::Forbidden);
    subscribe(&mut svc, "bob@example.com");
    let ok = svc.publish(
        &ent("bob@example.com"),
        &nn(NODE),
        vec![item("a", "<p/>")],
        None,
    );
    assert!(ok.is_ok());
}

#[test]
fn publish_by_anyone_under_the_open_model_is_allowed() {
    let mut svc = service_with_node(&[("pubsub#publish_model", "open")]);
    let ok = svc.publish(
        &ent("anyone@else.org"),
        &nn(NODE),
        vec![item("a", "<p/>")],
        None,
    );
    assert!(ok.is_ok());
}

#[test]
fn publish_with_a_payload_too_big_is_refused() {
    let mut svc = service_with_node(&[]);
    let big = "x".repeat(101);
    let err = svc.publish(&ent(OWNER), &nn(NODE), vec![item("a", &big)], None);
    assert_eq!(err.unwrap_err(), PubsubError::PayloadTooBig);
}

#[test]
fn publish_without_an_item_to_a_persistent_node_requires_an_item() {
    let mut svc = service_with_node(&[]);
    let err = svc.publish(&ent(OWNER), &nn(NODE), vec![], None);
    assert_eq!(err.unwrap_err(), PubsubError::ItemRequired);
}

#[test]
fn publish_of_an_item_without_payload_to_a_payload_node_requires_a_payload() {
    let mut svc = service_with_node(&[]);
    let bare_item = NewItem {
        id: Some("a".into()),
        payload: None,
    };
    let err = svc.publish(&ent(OWNER), &nn(NODE), vec![bare_item], None);
    assert_eq!(err.unwrap_err(), PubsubError::PayloadRequired);
}

#[test]
fn publish_of_an_item_to_a_transient_notification_node_is_item_forbidden() {
    let cfg = [
        ("pubsub#persist_items", "0"),
        ("pubsub#deliver_payloads", "0"),
    ];
    let mut svc = service_with_node(&cfg);
    let err = svc.publish(&ent(OWNER), &nn(NODE), vec![item("a", "<p/>")], None);
    assert_eq!(err.unwrap_err(), PubsubError::ItemForbidden);
    assert!(svc.publish(&ent(OWNER), &nn(NODE), vec![], None).is_ok());
}

#[test]
fn publish_with_an_empty_item_id_is_a_bad_request() {
    // The type refuses it before the core is called (bad-request).
    assert!(crate::pubsub::ItemId::new("").is_err());
}

#[test]
fn publish_with_matching_publish_options_succeeds() {
    let mut svc = service_with_node(&[("pubsub#access_model", "whitelist")]);
    let opts = fields(&[
        (
            FORM_TYPE,
            "http://jabber.org/protocol/pubsub#publish-options",
        ),
        ("pubsub#access_model", "whitelist"),
        ("pubsub#persist_items", "true"),
    ]);
    let ok = svc.publish(&ent(OWNER), &nn(NODE), vec![item("a", "<p/>")], Some(&opts));
    assert!(ok.is_ok());
}

#[test]
fn publish_with_mismatched_publish_options_is_precondition_not_met() {
    let mut svc = service_with_node(&[]);
    for opt in [("pubsub#access_model", "whitelist"), ("pubsub#bogus", "1")] {
        let opts = fields(&[opt]);
        let err = svc.publish(&ent(OWNER), &nn(NODE), vec![item("a", "<p/>")], Some(&opts));
        assert_eq!(err.unwrap_err(), PubsubError::PreconditionNotMet);
    }
}

#[test]
fn publish_auto_create_with_bad_publish_options_is_not_acceptable_and_creates_nothing() {
    let mut svc = service();
    let opts = fields(&[("pubsub#max_items", "lots")]);
    let err = svc.publish(
        &ent(OWNER),
        &nn("new"),
        vec![item("a", "<p/>")],
        Some(&opts),
    );
    assert!(matches!(err, Err(PubsubError::NotAcceptable(_))));
    assert!(svc.discover_nodes(&Actor::System).is_empty());
}

#[test]
fn publish_when_the_store_fails_is_internal_and_seqs_are_never_reused() {
    let mut svc = service_with_node(&[]);
    publish_ids(&mut svc, &["a"]);
    fail_writes(&svc, true);
    let err = svc.publish(&ent(OWNER), &nn(NODE), vec![item("b", "<p/>")], None);
    assert!(matches!(err, Err(PubsubError::Internal(_))));
    fail_writes(&svc, false);
    assert_eq!(svc.items(&ent(OWNER), &nn(NODE), None).unwrap().total, 1);
    publish_ids(&mut svc, &["c"]);
    let page = svc.items(&ent(OWNER), &nn(NODE), None).unwrap();
    assert_eq!(ids(&page), vec!["a", "c"]);
    assert!(page.items[1].seq > page.items[0].seq + 1);
}
