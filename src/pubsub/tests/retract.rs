//! §7.2 retract.

use super::*;
use crate::pubsub::names::iid;
use crate::pubsub::names::nn;

#[test]
fn retract_removes_the_item_and_notifies_when_notify_retract_is_on() {
    let mut svc = service_with_node(&[]);
    publish_ids(&mut svc, &["a", "b"]);
    subscribe(&mut svc, "bob@example.com");
    let out = svc
        .retract(&ent(OWNER), &nn(NODE), &iid("a"), None)
        .unwrap();
    let item_ids = vec!["a".to_owned()];
    assert_eq!(out.notifications[0].event, Event::Retract { item_ids });
    let page = svc.items(&ent(OWNER), &nn(NODE), None).unwrap();
    assert_eq!((ids(&page), page.total), (vec!["b"], 1));
}

#[test]
fn retract_follows_the_notify_flag_over_the_config() {
    let mut svc = service_with_node(&[("pubsub#notify_retract", "0")]);
    publish_ids(&mut svc, &["a", "b"]);
    subscribe(&mut svc, "bob@example.com");
    let quiet = svc
        .retract(&ent(OWNER), &nn(NODE), &iid("a"), None)
        .unwrap();
    assert!(quiet.notifications.is_empty());
    let loud = svc
        .retract(&ent(OWNER), &nn(NODE), &iid("b"), Some(true))
        .unwrap();
    assert_eq!(recipients(&loud), vec!["bob@example.com"]);
}

#[test]
fn retract_with_notify_false_notifies_nobody() {
    let mut svc = service_with_node(&[]);
    publish_ids(&mut svc, &["a"]);
    subscribe(&mut svc, "bob@example.com");
    let out = svc
        .retract(&ent(OWNER), &nn(NODE), &iid("a"), Some(false))
        .unwrap();
    assert!(out.notifications.is_empty());
}

#[test]
fn retract_by_publisher_of_any_item_is_allowed() {
    let mut svc = service_with_node(&[]);
    publish_ids(&mut svc, &["a"]);
    set_affiliation(&mut svc, "pub@example.com", Affiliation::Publisher);
    assert!(
        svc.retract(&ent("pub@example.com"), &nn(NODE), &iid("a"), None)
            .is_ok()
    );
}

#[test]
fn retract_by_publish_only_is_forbidden() {
    let mut svc = service_with_node(&[]);
    set_affiliation(&mut svc, "po@example.com", Affiliation::PublishOnly);
    let _ = svc
        .publish(
            &ent("po@example.com"),
            &nn(NODE),
            vec![item("a", "<p/>")],
            None,
        )
        .unwrap();
    let err = svc.retract(&ent("po@example.com"), &nn(NODE), &iid("a"), None);
    assert_eq!(err.unwrap_err(), PubsubError::Forbidden);
}

#[test]
fn retract_by_outcast_is_refused() {
    let mut svc = service_with_node(&[]);
    publish_ids(&mut svc, &["a"]);
    set_affiliation(&mut svc, "eve@example.com", Affiliation::Outcast);
    let err = svc.retract(&ent("eve@example.com"), &nn(NODE), &iid("a"), None);
    assert_eq!(err.unwrap_err(), PubsubError::Outcast);
}

#[test]
fn retract_of_a_missing_item_is_item_not_found() {
    let mut svc = service_with_node(&[]);
    let err = svc.retract(&ent(OWNER), &nn(NODE), &iid("nope"), None);
    assert_eq!(err.unwrap_err(), PubsubError::ItemNotFound);
}

#[test]
fn retract_without_an_item_id_requires_an_item() {
    // The type refuses it before the core is called (protocol answers an
    // empty id with item-required).
    assert!(crate::pubsub::ItemId::new("").is_err());
}

#[test]
fn retract_on_a_missing_node_is_not_found() {
    let mut svc = service();
    let err = svc.retract(&ent(OWNER), &nn("nope"), &iid("a"), None);
    assert_eq!(err.unwrap_err(), PubsubError::NodeNotFound);
}

#[test]
fn retract_on_a_node_without_persistent_items_is_unsupported() {
    let mut svc = service_with_node(&[("pubsub#persist_items", "0")]);
    let err = svc.retract(&ent(OWNER), &nn(NODE), &iid("a"), None);
    assert_eq!(
        err.unwrap_err(),
        PubsubError::UnsupportedFeature("persistent-items")
    );
}

#[test]
fn retract_when_the_store_fails_keeps_the_item() {
    let mut svc = service_with_node(&[]);
    publish_ids(&mut svc, &["a", "b"]);
    fail_writes(&svc, true);
    let err = svc.retract(&ent(OWNER), &nn(NODE), &iid("a"), None);
    assert!(matches!(err, Err(PubsubError::Internal(_))));
    fail_writes(&svc, false);
    assert_eq!(svc.items(&ent(OWNER), &nn(NODE), None).unwrap().total, 2);
}
