//! §6.1 subscribe, §6.2 unsubscribe, §6.3/6.4 subscription options.

use super::*;
use crate::pubsub::names::nn;

const BOB: &str = "bob@example.com";

// ---- §6.1 subscribe ----

#[test]
fn subscribe_to_an_open_node_is_subscribed_with_a_subid() {
    let mut svc = service_with_node(&[]);
    let sub = subscribe(&mut svc, BOB);
    assert_eq!(sub.state, SubscriptionState::Subscribed);
    assert!(!sub.subid.is_empty());
    assert!(sub.options.deliver);
}

#[test]
fn subscribe_with_a_full_jid_keeps_the_resource() {
    let mut svc = service_with_node(&[]);
    let full = jid("bob@example.com/phone");
    let sub = svc
        .subscribe(&ent(BOB), &nn(NODE), &full, None)
        .unwrap()
        .reply;
    assert_eq!(sub.jid, full);
    let out = svc
        .publish(&ent(OWNER), &nn(NODE), vec![item("a", "<p/>")], None)
        .unwrap();
    assert_eq!(recipients(&out), vec!["bob@example.com/phone"]);
}

#[test]
fn subscribe_for_another_bare_jid_is_invalid_jid() {
    let mut svc = service_with_node(&[]);
    let err = svc.subscribe(&ent(BOB), &nn(NODE), &jid("carol@example.com"), None);
    assert_eq!(err.unwrap_err(), PubsubError::InvalidJid);
}

#[test]
fn owner_may_subscribe_another_jid_even_to_a_whitelist_node() {
    let mut svc = service_with_node(&[("pubsub#access_model", "whitelist")]);
    let out = svc
        .subscribe(&ent(OWNER), &nn(NODE), &jid(BOB), None)
        .unwrap();
    assert_eq!(out.reply.state, SubscriptionState::Subscribed);
}

#[test]
fn subscribe_to_a_missing_node_is_not_found() {
    let mut svc = service();
    let err = svc.subscribe(&ent(BOB), &nn("nope"), &jid(BOB), None);
    assert_eq!(err.unwrap_err(), PubsubError::NodeNotFound);
}

#[test]
fn subscribe_to_a_presence_node_waits_for_an_owner_to_approve() {
    // Herald cannot see the owner's roster: an owner decides instead.
    let mut svc = service_with_node(&[("pubsub#access_model", "presence")]);
    let out = svc
        .subscribe(&ent(BOB), &nn(NODE), &jid(BOB), None)
        .unwrap();
    assert_eq!(out.reply.state, SubscriptionState::Pending);
    assert_eq!(recipients(&out), vec![OWNER]);
    assert!(matches!(
        out.notifications[0].event,
        Event::ApprovalRequest { .. }
    ));
    let _ = svc
        .approve_subscription(&ent(OWNER), &nn(NODE), &jid(BOB), None, true)
        .unwrap();
    let subs = svc.subscriptions(&ent(BOB), Some(&nn(NODE))).unwrap();
    assert_eq!(subs[0].state, SubscriptionState::Subscribed);
}

#[test]
fn members_of_a_presence_node_subscribe_without_approval() {
    let mut svc = service_with_node(&[("pubsub#access_model", "presence")]);
    set_affiliation(&mut svc, BOB, Affiliation::Member);
    assert_eq!(
        subscribe(&mut svc, BOB).state,
        SubscriptionState::Subscribed
    );
}

#[test]
fn subscribe_to_an_authorize_node_is_pending_and_asks_the_owners() {
    let mut svc = service_with_node(&[("pubsub#access_model", "authorize")]);
    let out = svc
        .subscribe(&ent(BOB), &nn(NODE), &jid(BOB), None)
        .unwrap();
    assert_eq!(out.reply.state, SubscriptionState::Pending);
    let n = &out.notifications[0];
    assert_eq!(recipients(&out), vec![OWNER]);
    assert_eq!(n.message_type, NotificationType::Normal);
    let expected = Event::ApprovalRequest {
        jid: jid(BOB),
        subid: out.reply.subid.clone(),
    };
    assert_eq!(n.event, expected);
}

#[test]
fn subscribe_again_while_pending_is_pending_subscription() {
    let mut svc = service_with_node(&[("pubsub#access_model", "authorize")]);
    let _ = svc
        .subscribe(&ent(BOB), &nn(NODE), &jid(BOB), None)
        .unwrap();
    let err = svc.subscribe(&ent(BOB), &nn(NODE), &jid(BOB), None);
    assert_eq!(err.unwrap_err(), PubsubError::PendingSubscription);
}

#[test]
fn subscribe_to_a_whitelist_node_by_a_stranger_is_closed_node() {
    let mut svc = service_with_node(&[("pubsub#access_model", "whitelist")]);
    let err = svc.subscribe(&ent(BOB), &nn(NODE), &jid(BOB), None);
    assert_eq!(err.unwrap_err(), PubsubError::ClosedNode);
    set_affiliation(&mut svc, BOB, Affiliation::Member);
    assert_eq!(
        subscribe(&mut svc, BOB).state,
        SubscriptionState::Subscribed
    );
}

#[test]
fn subscribe_by_outcast_is_refused() {
    let mut svc = service_with_node(&[]);
    set_affiliation(&mut svc, BOB, Affiliation::Outcast);
    let err = svc.subscribe(&ent(BOB), &nn(NODE), &jid(BOB), None);
    assert_eq!(err.unwrap_err(), PubsubError::Outcast);
}

#[test]
fn subscribe_by_publish_only_is_forbidden() {
    let mut svc = service_with_node(&[]);
    set_affiliation(&mut svc, BOB, Affiliation::PublishOnly);
    let err = svc.subscribe(&ent(BOB), &nn(NODE), &jid(BOB), None);
    assert_eq!(err.unwrap_err(), PubsubError::Forbidden);
}

#[test]
fn subscribe_with_invalid_options_is_invalid_options() {
    let mut svc = service_with_node(&[]);
    let bad = fields(&[("pubsub#digest", "1")]);
    let err = svc.subscribe(&ent(BOB), &nn(NODE), &jid(BOB), Some(&bad));
    assert!(matches!(err, Err(PubsubError::InvalidOptions(_))));
}

#[test]
fn identical_subscribe_returns_the_same_subscription_and_other_options_add_one() {
    let mut svc = service_with_node(&[]);
    let first = subscribe(&mut svc, BOB);
    assert_eq!(subscribe(&mut svc, BOB).subid, first.subid);
    let quiet = fields(&[("pubsub#deliver", "0")]);
    let second = svc
        .subscribe(&ent(BOB), &nn(NODE), &jid(BOB), Some(&quiet))
        .unwrap();
    assert_ne!(second.reply.subid, first.subid);
    assert_eq!(
        svc.subscriptions(&ent(BOB), Some(&nn(NODE))).unwrap().len(),
        2
    );
}

#[test]
fn subscribe_with_send_last_on_sub_delivers_the_last_item() {
    let mut svc = service_with_node(&[("pubsub#send_last_published_item", "on_sub")]);
    publish_ids(&mut svc, &["a", "b"]);
    let out = svc
        .subscribe(&ent(BOB), &nn(NODE), &jid(BOB), None)
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
fn subscribe_with_send_last_never_delivers_nothing() {
    let mut svc = service_with_node(&[]);
    publish_ids(&mut svc, &["a"]);
    let out = svc
        .subscribe(&ent(BOB), &nn(NODE), &jid(BOB), None)
        .unwrap();
    assert!(out.notifications.is_empty());
}

#[test]
fn subscribe_when_the_store_fails_adds_no_subscription() {
    let mut svc = service_with_node(&[]);
    fail_writes(&svc, true);
    let err = svc.subscribe(&ent(BOB), &nn(NODE), &jid(BOB), None);
    assert!(matches!(err, Err(PubsubError::Internal(_))));
    assert!(svc.subscriptions(&ent(BOB), None).unwrap().is_empty());
}

// ---- §6.2 unsubscribe ----

#[test]
fn unsubscribe_removes_the_subscription() {
    let mut svc = service_with_node(&[]);
    subscribe(&mut svc, BOB);
    let _ = svc
        .unsubscribe(&ent(BOB), &nn(NODE), &jid(BOB), None)
        .unwrap();
    assert!(svc.subscriptions(&ent(BOB), None).unwrap().is_empty());
}

#[test]
fn unsubscribe_when_not_subscribed_is_not_subscribed() {
    let mut svc = service_with_node(&[]);
    let err = svc.unsubscribe(&ent(BOB), &nn(NODE), &jid(BOB), None);
    assert_eq!(err.unwrap_err(), PubsubError::NotSubscribed);
}

#[test]
fn unsubscribe_without_subid_from_several_subscriptions_requires_a_subid() {
    let mut svc = service_with_node(&[]);
    let first = subscribe(&mut svc, BOB);
    let quiet = fields(&[("pubsub#deliver", "0")]);
    let _ = svc
        .subscribe(&ent(BOB), &nn(NODE), &jid(BOB), Some(&quiet))
        .unwrap();
    let err = svc.unsubscribe(&ent(BOB), &nn(NODE), &jid(BOB), None);
    assert_eq!(err.unwrap_err(), PubsubError::SubidRequired);
    let _ = svc
        .unsubscribe(&ent(BOB), &nn(NODE), &jid(BOB), Some(&first.subid))
        .unwrap();
    let left = svc.subscriptions(&ent(BOB), None).unwrap();
    assert_eq!(left.len(), 1);
    assert_ne!(left[0].subid, first.subid);
}

#[test]
fn unsubscribe_with_a_wrong_subid_is_invalid_subid() {
    let mut svc = service_with_node(&[]);
    subscribe(&mut svc, BOB);
    let err = svc.unsubscribe(&ent(BOB), &nn(NODE), &jid(BOB), Some("bogus"));
    assert_eq!(err.unwrap_err(), PubsubError::InvalidSubid);
}

#[test]
fn unsubscribe_of_someone_else_is_forbidden() {
    let mut svc = service_with_node(&[]);
    subscribe(&mut svc, BOB);
    let err = svc.unsubscribe(&ent("carol@example.com"), &nn(NODE), &jid(BOB), None);
    assert_eq!(err.unwrap_err(), PubsubError::Forbidden);
}

#[test]
fn unsubscribe_from_a_missing_node_is_not_found() {
    let mut svc = service();
    let err = svc.unsubscribe(&ent(BOB), &nn("nope"), &jid(BOB), None);
    assert_eq!(err.unwrap_err(), PubsubError::NodeNotFound);
}

#[test]
fn unsubscribe_when_the_store_fails_keeps_the_subscription() {
    let mut svc = service_with_node(&[]);
    subscribe(&mut svc, BOB);
    fail_writes(&svc, true);
    let err = svc.unsubscribe(&ent(BOB), &nn(NODE), &jid(BOB), None);
    assert!(matches!(err, Err(PubsubError::Internal(_))));
    assert_eq!(svc.subscriptions(&ent(BOB), None).unwrap().len(), 1);
}

// ---- §6.3 / §6.4 options ----

#[test]
fn subscription_options_returns_the_current_options() {
    let mut svc = service_with_node(&[]);
    subscribe(&mut svc, BOB);
    let opts = svc
        .subscription_options(&ent(BOB), &nn(NODE), &jid(BOB), None)
        .unwrap();
    assert_eq!(opts, svc.default_subscription_options());
    assert_eq!(opts.to_fields()[0].var, "pubsub#deliver");
}

#[test]
fn subscription_options_errors_follow_unsubscribe_rules() {
    let mut svc = service_with_node(&[]);
    let none = svc.subscription_options(&ent(BOB), &nn(NODE), &jid(BOB), None);
    assert_eq!(none.unwrap_err(), PubsubError::NotSubscribed);
    subscribe(&mut svc, BOB);
    let other = svc.subscription_options(&ent("carol@example.com"), &nn(NODE), &jid(BOB), None);
    assert_eq!(other.unwrap_err(), PubsubError::Forbidden);
    let bad = svc.subscription_options(&ent(BOB), &nn(NODE), &jid(BOB), Some("x"));
    assert_eq!(bad.unwrap_err(), PubsubError::InvalidSubid);
}

#[test]
fn set_subscription_options_deliver_off_stops_notifications() {
    let mut svc = service_with_node(&[]);
    subscribe(&mut svc, BOB);
    let off = fields(&[(FORM_TYPE, "x"), ("pubsub#deliver", "false")]);
    let _ = svc
        .set_subscription_options(&ent(BOB), &nn(NODE), &jid(BOB), None, &off)
        .unwrap();
    let out = svc
        .publish(&ent(OWNER), &nn(NODE), vec![item("a", "<p/>")], None)
        .unwrap();
    assert!(out.notifications.is_empty());
}

#[test]
fn set_subscription_options_with_a_bad_value_is_invalid_options() {
    let mut svc = service_with_node(&[]);
    subscribe(&mut svc, BOB);
    let bad = fields(&[("pubsub#deliver", "perhaps")]);
    let err = svc.set_subscription_options(&ent(BOB), &nn(NODE), &jid(BOB), None, &bad);
    assert!(matches!(err, Err(PubsubError::InvalidOptions(_))));
}

#[test]
fn set_subscription_options_without_subid_on_several_requires_a_subid() {
    let mut svc = service_with_node(&[]);
    subscribe(&mut svc, BOB);
    let quiet = fields(&[("pubsub#deliver", "0")]);
    let _ = svc
        .subscribe(&ent(BOB), &nn(NODE), &jid(BOB), Some(&quiet))
        .unwrap();
    let err = svc.set_subscription_options(&ent(BOB), &nn(NODE), &jid(BOB), None, &quiet);
    assert_eq!(err.unwrap_err(), PubsubError::SubidRequired);
}
