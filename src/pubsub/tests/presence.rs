//! Presence shared with the service (presence access model, on_sub_and_presence).

use super::*;

const BOB: &str = "bob@example.com";

#[test]
fn presence_subscription_survives_a_restart() {
    let mut svc = service_with_node(&[("pubsub#access_model", "presence")]);
    let _ = svc.presence_subscribed(&bare(BOB), true).unwrap();
    let svc = reopen(svc);
    assert!(svc.items(&ent(BOB), NODE, None).is_ok());
}

#[test]
fn ending_presence_cancels_subscriptions_to_presence_nodes() {
    let mut svc = service_with_node(&[("pubsub#access_model", "presence")]);
    let _ = svc.presence_subscribed(&bare(BOB), true).unwrap();
    subscribe(&mut svc, BOB);
    let out = svc.presence_subscribed(&bare(BOB), false).unwrap();
    assert_eq!(recipients(&out), vec![BOB]);
    assert!(svc.subscriptions(&ent(BOB), None).unwrap().is_empty());
    let err = svc.items(&ent(BOB), NODE, None);
    assert_eq!(err.unwrap_err(), PubsubError::NotAuthorized);
}

#[test]
fn ending_presence_keeps_subscriptions_of_members() {
    let mut svc = service_with_node(&[("pubsub#access_model", "presence")]);
    set_affiliation(&mut svc, BOB, Affiliation::Member);
    subscribe(&mut svc, BOB);
    let _ = svc.presence_subscribed(&bare(BOB), true).unwrap();
    let _ = svc.presence_subscribed(&bare(BOB), false).unwrap();
    assert_eq!(svc.subscriptions(&ent(BOB), None).unwrap().len(), 1);
}

#[test]
fn presence_subscribed_when_the_store_fails_changes_nothing() {
    let mut svc = service_with_node(&[("pubsub#access_model", "presence")]);
    fail_writes(&svc, true);
    let err = svc.presence_subscribed(&bare(BOB), true);
    assert!(matches!(err, Err(PubsubError::Internal(_))));
    fail_writes(&svc, false);
    let denied = svc.items(&ent(BOB), NODE, None);
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
