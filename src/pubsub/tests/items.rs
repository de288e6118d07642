//! §6.5 retrieve items, and ID-cursor paging.

use super::*;
use crate::pubsub::names::iid;
use crate::pubsub::names::nn;

fn five_items() -> Svc {
    let mut svc = service_with_node(&[]);
    publish_ids(&mut svc, &["a", "b", "c", "d", "e", "f", "g"]);
    svc
}

#[test]
fn items_returns_the_newest_page_oldest_first_with_the_total() {
    let svc = five_items();
    let page = svc.items(&ent("bob@example.com"), &nn(NODE), None).unwrap();
    assert_eq!(ids(&page), vec!["c", "d", "e", "f", "g"]);
    assert_eq!(page.total, 7);
}

#[test]
fn items_with_max_items_returns_the_n_newest() {
    let svc = five_items();
    let page = svc
        .items(&ent("bob@example.com"), &nn(NODE), Some(2))
        .unwrap();
    assert_eq!(ids(&page), vec!["f", "g"]);
    let capped = svc
        .items(&ent("bob@example.com"), &nn(NODE), Some(50))
        .unwrap();
    assert_eq!(capped.items.len(), 5);
}

#[test]
fn items_by_id_returns_found_items_in_publication_order() {
    let svc = five_items();
    let wanted = vec![iid("d"), iid("nope"), iid("b")];
    let page = svc.items_by_id(&Actor::System, &nn(NODE), &wanted).unwrap();
    assert_eq!(ids(&page), vec!["b", "d"]);
}

#[test]
fn items_by_id_when_none_exists_is_item_not_found() {
    let svc = five_items();
    let err = svc.items_by_id(&Actor::System, &nn(NODE), &[iid("nope")]);
    assert_eq!(err.unwrap_err(), PubsubError::ItemNotFound);
}

#[test]
fn items_after_an_id_returns_the_following_items() {
    let svc = five_items();
    let page = svc
        .items_after(&Actor::System, &nn(NODE), &iid("b"), 3)
        .unwrap();
    assert_eq!((ids(&page), page.total), (vec!["c", "d", "e"], 7));
    let last = svc
        .items_after(&Actor::System, &nn(NODE), &iid("g"), 3)
        .unwrap();
    assert!(last.items.is_empty());
}

#[test]
fn items_after_a_republished_id_follows_its_new_position() {
    let mut svc = five_items();
    publish_ids(&mut svc, &["b"]);
    let page = svc
        .items_after(&Actor::System, &nn(NODE), &iid("f"), 5)
        .unwrap();
    assert_eq!(ids(&page), vec!["g", "b"]);
}

#[test]
fn items_after_a_vanished_cursor_is_item_not_found() {
    let mut svc = five_items();
    let _ = svc
        .retract(&ent(OWNER), &nn(NODE), &iid("b"), None)
        .unwrap();
    let err = svc.items_after(&Actor::System, &nn(NODE), &iid("b"), 3);
    assert_eq!(err.unwrap_err(), PubsubError::ItemNotFound);
}

#[test]
fn items_before_an_id_returns_the_preceding_items() {
    let svc = five_items();
    let page = svc
        .items_before(&Actor::System, &nn(NODE), &iid("e"), 2)
        .unwrap();
    assert_eq!(ids(&page), vec!["c", "d"]);
    let err = svc.items_before(&Actor::System, &nn(NODE), &iid("zz"), 2);
    assert_eq!(err.unwrap_err(), PubsubError::ItemNotFound);
}

#[test]
fn items_of_a_missing_node_are_not_found() {
    let svc = service();
    let err = svc.items(&Actor::System, &nn("nope"), None);
    assert_eq!(err.unwrap_err(), PubsubError::NodeNotFound);
}

#[test]
fn items_by_outcast_are_refused_and_by_publish_only_forbidden() {
    let mut svc = five_items();
    set_affiliation(&mut svc, "eve@example.com", Affiliation::Outcast);
    set_affiliation(&mut svc, "po@example.com", Affiliation::PublishOnly);
    let eve = svc.items(&ent("eve@example.com"), &nn(NODE), None);
    assert_eq!(eve.unwrap_err(), PubsubError::Outcast);
    let po = svc.items(&ent("po@example.com"), &nn(NODE), None);
    assert_eq!(po.unwrap_err(), PubsubError::Forbidden);
}

#[test]
fn items_of_a_presence_node_need_an_approved_subscription() {
    let mut svc = service_with_node(&[("pubsub#access_model", "presence")]);
    let err = svc.items(&ent("bob@example.com"), &nn(NODE), None);
    assert_eq!(err.unwrap_err(), PubsubError::NotAuthorized);
    let sub = subscribe(&mut svc, "bob@example.com");
    let pending = svc.items(&ent("bob@example.com"), &nn(NODE), None);
    assert_eq!(pending.unwrap_err(), PubsubError::NotAuthorized);
    let _ = svc
        .approve_subscription(&ent(OWNER), &nn(NODE), &sub.jid, None, true)
        .unwrap();
    assert!(svc.items(&ent("bob@example.com"), &nn(NODE), None).is_ok());
}

#[test]
fn items_of_a_whitelist_node_need_membership() {
    let mut svc = service_with_node(&[("pubsub#access_model", "whitelist")]);
    let err = svc.items(&ent("bob@example.com"), &nn(NODE), None);
    assert_eq!(err.unwrap_err(), PubsubError::ClosedNode);
    set_affiliation(&mut svc, "bob@example.com", Affiliation::Member);
    assert!(svc.items(&ent("bob@example.com"), &nn(NODE), None).is_ok());
}

#[test]
fn items_of_an_authorize_node_need_an_approved_subscription() {
    let mut svc = service_with_node(&[("pubsub#access_model", "authorize")]);
    let bob = jid("bob@example.com");
    let sub = svc
        .subscribe(&ent("bob@example.com"), &nn(NODE), &bob, None)
        .unwrap();
    let err = svc.items(&ent("bob@example.com"), &nn(NODE), None);
    assert_eq!(err.unwrap_err(), PubsubError::SubscriptionRequired);
    let subid = Some(sub.reply.subid.as_str());
    let _ = svc
        .approve_subscription(&ent(OWNER), &nn(NODE), &bob, subid, true)
        .unwrap();
    assert!(svc.items(&ent("bob@example.com"), &nn(NODE), None).is_ok());
}
