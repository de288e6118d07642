//! Presence access model (owner-approved) and on_sub_and_presence.

use super::*;
use crate::pubsub::names::nn;

const BOB: &str = "bob@example.com";

#[test]
fn an_approved_presence_node_subscription_survives_a_restart() {
    let mut svc = service_with_node(&[("pubsub#access_model", "presence")]);
    let sub = subscribe(&mut svc, BOB);
    assert_eq!(sub.state, SubscriptionState::Pending);
    let _ = svc
        .approve_subscription(&ent(OWNER), &nn(NODE), &sub.jid, None, true)
        .unwrap();
    let svc = reopen(svc);
    assert!(svc.items(&ent(BOB), &nn(NODE), None).is_ok());
}

#[test]
fn a_stranger_cannot_read_a_presence_node() {
    let svc = service_with_node(&[("pubsub#access_model", "presence")]);
    let denied = svc.items(&ent(BOB), &nn(NODE), None);
    assert_eq!(denied.unwrap_err(), PubsubError::NotAuthorized);
}

#[test]
fn available_presence_delivers_the_last_item_of_on_sub_and_presence_nodes() {
    let cfg = [("pubsub#send_last_published_item", "on_sub_and_presence")];
    let mut svc = service_with_node(&cfg);
    subscribe(&mut svc, BOB);
    publish_ids(&mut svc, &["a", "b"]);
    let out = svc
        .presence_available(&jid("bob@example.com/laptop"))
        .unwrap();
    assert_eq!(recipients(&out), vec![BOB]);
    let Event::Items {
        items,
        last_published,
        ..
    } = &out.notifications[0].event
    else {
        panic!()
    };
    assert!(*last_published);
    assert_eq!(items[0].id, "b");
}

#[test]
fn available_presence_on_on_sub_nodes_delivers_nothing() {
    let mut svc = service_with_node(&[("pubsub#send_last_published_item", "on_sub")]);
    subscribe(&mut svc, BOB);
    publish_ids(&mut svc, &["a"]);
    let out = svc
        .presence_available(&jid("bob@example.com/laptop"))
        .unwrap();
    assert!(out.notifications.is_empty());
}
