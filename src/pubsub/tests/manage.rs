//! §8.6 approval, §8.7 pending, §8.8 subscriptions, §8.9 affiliations.

use super::*;
use crate::pubsub::names::nn;

const BOB: &str = "bob@example.com";

fn pending_bob() -> (Svc, String) {
    let mut svc = service_with_node(&[("pubsub#access_model", "authorize")]);
    let out = svc
        .subscribe(&ent(BOB), &nn(NODE), &jid(BOB), None)
        .unwrap();
    (svc, out.reply.subid)
}

// ---- §8.6 approve ----

#[test]
fn approving_a_pending_subscription_subscribes_and_tells_the_subscriber() {
    let (mut svc, subid) = pending_bob();
    let out = svc
        .approve_subscription(&ent(OWNER), &nn(NODE), &jid(BOB), Some(&subid), true)
        .unwrap();
    let expected = Event::Subscription {
        jid: jid(BOB),
        subid: subid.clone(),
        state: SubscriptionState::Subscribed,
    };
    assert_eq!(out.notifications[0].event, expected);
    let subs = svc.subscriptions(&ent(BOB), Some(&nn(NODE))).unwrap();
    assert_eq!(subs[0].state, SubscriptionState::Subscribed);
}

#[test]
fn denying_a_pending_subscription_removes_it_and_tells_the_subscriber() {
    let (mut svc, subid) = pending_bob();
    let out = svc
        .approve_subscription(&ent(OWNER), &nn(NODE), &jid(BOB), None, false)
        .unwrap();
    let Event::Subscription { state, .. } = &out.notifications[0].event else {
        panic!()
    };
    assert_eq!(*state, SubscriptionState::None);
    assert!(svc.subscriptions(&ent(BOB), None).unwrap().is_empty());
    let _ = subid;
}

#[test]
fn approving_by_a_non_owner_is_forbidden() {
    let (mut svc, _) = pending_bob();
    let err = svc.approve_subscription(&ent(BOB), &nn(NODE), &jid(BOB), None, true);
    assert_eq!(err.unwrap_err(), PubsubError::Forbidden);
}

#[test]
fn approving_without_a_request_is_not_subscribed() {
    let mut svc = service_with_node(&[]);
    let err = svc.approve_subscription(&ent(OWNER), &nn(NODE), &jid(BOB), None, true);
    assert_eq!(err.unwrap_err(), PubsubError::NotSubscribed);
}

#[test]
fn approving_with_a_wrong_subid_is_invalid_subid() {
    let (mut svc, _) = pending_bob();
    let err = svc.approve_subscription(&ent(OWNER), &nn(NODE), &jid(BOB), Some("x"), true);
    assert_eq!(err.unwrap_err(), PubsubError::InvalidSubid);
}

#[test]
fn approval_requests_go_to_admins_when_the_node_has_no_owner() {
    let mut svc = service();
    let f = fields(&[("pubsub#access_model", "authorize")]);
    let _ = svc
        .create_node(&Actor::System, Some(&nn(NODE)), Some(&f))
        .unwrap();
    let out = svc
        .subscribe(&ent(BOB), &nn(NODE), &jid(BOB), None)
        .unwrap();
    assert_eq!(recipients(&out), vec![ADMIN]);
}

// ---- §8.7 pending ----

#[test]
fn pending_nodes_and_subscriptions_are_listed_for_the_owner() {
    let (svc, subid) = pending_bob();
    assert_eq!(svc.pending_nodes(&ent(OWNER)), vec![NODE.to_owned()]);
    assert!(svc.pending_nodes(&ent(BOB)).is_empty());
    let out = svc.pending_subscriptions(&ent(OWNER), &nn(NODE)).unwrap();
    assert_eq!(out.reply[0].subid, subid);
    assert_eq!(recipients(&out), vec![OWNER]);
}

#[test]
fn pending_subscriptions_by_a_non_owner_is_forbidden() {
    let (svc, _) = pending_bob();
    let err = svc.pending_subscriptions(&ent(BOB), &nn(NODE));
    assert_eq!(err.unwrap_err(), PubsubError::Forbidden);
}

// ---- §8.8 subscriptions ----

#[test]
fn node_subscriptions_lists_every_subscription_for_the_owner() {
    let mut svc = service_with_node(&[]);
    subscribe(&mut svc, BOB);
    let subs = svc.node_subscriptions(&ent(OWNER), &nn(NODE)).unwrap();
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].jid, jid(BOB));
}

#[test]
fn node_subscriptions_by_a_non_owner_is_forbidden() {
    let svc = service_with_node(&[]);
    let err = svc.node_subscriptions(&ent(BOB), &nn(NODE));
    assert_eq!(err.unwrap_err(), PubsubError::Forbidden);
    assert_eq!(
        svc.node_subscriptions(&ent(OWNER), &nn("nope"))
            .unwrap_err(),
        PubsubError::NodeNotFound
    );
}

fn change(who: &str, state: SubscriptionState) -> SubscriptionChange {
    SubscriptionChange {
        jid: jid(who),
        state,
        subid: None,
    }
}

#[test]
fn modify_subscriptions_creates_and_removes_and_notifies() {
    let mut svc = service_with_node(&[]);
    let add = [change(BOB, SubscriptionState::Subscribed)];
    let out = svc
        .modify_subscriptions(&ent(OWNER), &nn(NODE), &add)
        .unwrap();
    assert_eq!(recipients(&out), vec![BOB]);
    assert_eq!(svc.subscriptions(&ent(BOB), None).unwrap().len(), 1);
    let remove = [change(BOB, SubscriptionState::None)];
    let out = svc
        .modify_subscriptions(&ent(OWNER), &nn(NODE), &remove)
        .unwrap();
    let Event::Subscription { state, .. } = &out.notifications[0].event else {
        panic!()
    };
    assert_eq!(*state, SubscriptionState::None);
    assert!(svc.subscriptions(&ent(BOB), None).unwrap().is_empty());
}

#[test]
fn modify_subscriptions_new_subscriber_gets_the_last_item_on_sub_nodes() {
    let mut svc = service_with_node(&[("pubsub#send_last_published_item", "on_sub")]);
    publish_ids(&mut svc, &["a", "b"]);
    let add = [change(BOB, SubscriptionState::Subscribed)];
    let out = svc
        .modify_subscriptions(&ent(OWNER), &nn(NODE), &add)
        .unwrap();
    assert_eq!(out.notifications.len(), 2);
    assert!(matches!(
        out.notifications[0].event,
        Event::Subscription { .. }
    ));
    let Event::Items {
        items,
        last_published,
        ..
    } = &out.notifications[1].event
    else {
        panic!(
            "expected the last item, got {:?}",
            out.notifications[1].event
        )
    };
    assert!(*last_published);
    assert_eq!(items[0].id, "b");
    assert_eq!(out.notifications[1].recipients[0].jid, jid(BOB));
    // Re-stating an existing subscription does not resend the item.
    let out = svc
        .modify_subscriptions(&ent(OWNER), &nn(NODE), &add)
        .unwrap();
    assert_eq!(out.notifications.len(), 1);
}

#[test]
fn modify_subscriptions_pending_to_subscribed_gets_the_last_item() {
    let cfg = [
        ("pubsub#access_model", "authorize"),
        ("pubsub#send_last_published_item", "on_sub"),
    ];
    let mut svc = service_with_node(&cfg);
    publish_ids(&mut svc, &["a"]);
    let _ = svc
        .subscribe(&ent(BOB), &nn(NODE), &jid(BOB), None)
        .unwrap();
    let pending = [change(BOB, SubscriptionState::Pending)];
    let out = svc
        .modify_subscriptions(&ent(OWNER), &nn(NODE), &pending)
        .unwrap();
    assert_eq!(out.notifications.len(), 1);
    let add = [change(BOB, SubscriptionState::Subscribed)];
    let out = svc
        .modify_subscriptions(&ent(OWNER), &nn(NODE), &add)
        .unwrap();
    assert_eq!(out.notifications.len(), 2);
}

#[test]
fn modify_subscriptions_never_sends_no_last_item() {
    let mut svc = service_with_node(&[]);
    publish_ids(&mut svc, &["a"]);
    let add = [change(BOB, SubscriptionState::Subscribed)];
    let out = svc
        .modify_subscriptions(&ent(OWNER), &nn(NODE), &add)
        .unwrap();
    assert_eq!(out.notifications.len(), 1);
}

#[test]
fn modify_subscriptions_to_none_without_subid_removes_all_of_the_jid() {
    let mut svc = service_with_node(&[]);
    subscribe(&mut svc, BOB);
    let quiet = fields(&[("pubsub#deliver", "0")]);
    let _ = svc
        .subscribe(&ent(BOB), &nn(NODE), &jid(BOB), Some(&quiet))
        .unwrap();
    let remove = [change(BOB, SubscriptionState::None)];
    let out = svc
        .modify_subscriptions(&ent(OWNER), &nn(NODE), &remove)
        .unwrap();
    assert_eq!(out.notifications.len(), 2);
    assert!(svc.subscriptions(&ent(BOB), None).unwrap().is_empty());
}

#[test]
fn modify_subscriptions_to_unconfigured_is_not_acceptable() {
    let mut svc = service_with_node(&[]);
    let bad = [change(BOB, SubscriptionState::Unconfigured)];
    let err = svc.modify_subscriptions(&ent(OWNER), &nn(NODE), &bad);
    assert!(matches!(err, Err(PubsubError::NotAcceptable(_))));
}

#[test]
fn modify_subscriptions_for_an_outcast_is_refused() {
    let mut svc = service_with_node(&[]);
    set_affiliation(&mut svc, BOB, Affiliation::Outcast);
    let add = [change(BOB, SubscriptionState::Subscribed)];
    let err = svc.modify_subscriptions(&ent(OWNER), &nn(NODE), &add);
    assert_eq!(err.unwrap_err(), PubsubError::Outcast);
}

#[test]
fn modify_subscriptions_by_a_non_owner_is_forbidden() {
    let mut svc = service_with_node(&[]);
    let add = [change(BOB, SubscriptionState::Subscribed)];
    let err = svc.modify_subscriptions(&ent(BOB), &nn(NODE), &add);
    assert_eq!(err.unwrap_err(), PubsubError::Forbidden);
}

#[test]
fn modify_subscriptions_when_the_store_fails_changes_nothing() {
    let mut svc = service_with_node(&[]);
    fail_writes(&svc, true);
    let add = [change(BOB, SubscriptionState::Subscribed)];
    let err = svc.modify_subscriptions(&ent(OWNER), &nn(NODE), &add);
    assert!(matches!(err, Err(PubsubError::Internal(_))));
    assert!(
        svc.node_subscriptions(&ent(OWNER), &nn(NODE))
            .unwrap()
            .is_empty()
    );
}

// ---- §8.9 affiliations ----

#[test]
fn node_affiliations_lists_explicit_affiliations_for_the_owner() {
    let mut svc = service_with_node(&[]);
    set_affiliation(&mut svc, BOB, Affiliation::Publisher);
    let mut affs = svc.node_affiliations(&ent(OWNER), &nn(NODE)).unwrap();
    affs.sort_by_key(|(j, _)| j.to_string());
    let expected = vec![
        (bare(BOB), Affiliation::Publisher),
        (bare(OWNER), Affiliation::Owner),
    ];
    assert_eq!(affs, expected);
    let err = svc.node_affiliations(&ent(BOB), &nn(NODE));
    assert_eq!(err.unwrap_err(), PubsubError::Forbidden);
}

#[test]
fn modify_affiliations_notifies_the_affected_entity() {
    let mut svc = service_with_node(&[]);
    let out = svc
        .modify_affiliations(&ent(OWNER), &nn(NODE), &[(bare(BOB), Affiliation::Member)])
        .unwrap();
    let expected = Event::Affiliation {
        jid: bare(BOB),
        affiliation: Affiliation::Member,
    };
    assert_eq!(out.notifications[0].event, expected);
    assert_eq!(recipients(&out), vec![BOB]);
}

#[test]
fn making_an_entity_outcast_removes_its_subscriptions() {
    let mut svc = service_with_node(&[]);
    let _ = svc
        .subscribe(&ent(BOB), &nn(NODE), &jid("bob@example.com/a"), None)
        .unwrap();
    subscribe(&mut svc, BOB);
    set_affiliation(&mut svc, BOB, Affiliation::Outcast);
    assert!(
        svc.node_subscriptions(&ent(OWNER), &nn(NODE))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn setting_affiliation_none_removes_it() {
    let mut svc = service_with_node(&[]);
    set_affiliation(&mut svc, BOB, Affiliation::Publisher);
    set_affiliation(&mut svc, BOB, Affiliation::None);
    assert!(svc.affiliations(&ent(BOB), None).unwrap().is_empty());
}

#[test]
fn removing_the_last_owner_is_refused() {
    let mut svc = service_with_node(&[]);
    let err = svc.modify_affiliations(&ent(OWNER), &nn(NODE), &[(bare(OWNER), Affiliation::None)]);
    assert_eq!(err.unwrap_err(), PubsubError::LastOwner);
    set_affiliation(&mut svc, BOB, Affiliation::Owner);
    let ok = svc.modify_affiliations(&ent(OWNER), &nn(NODE), &[(bare(OWNER), Affiliation::None)]);
    assert!(ok.is_ok());
}

#[test]
fn the_system_may_remove_the_last_owner() {
    let mut svc = service_with_node(&[]);
    let change = [(bare(OWNER), Affiliation::None)];
    assert!(
        svc.modify_affiliations(&Actor::System, &nn(NODE), &change)
            .is_ok()
    );
}

#[test]
fn modify_affiliations_by_a_non_owner_is_forbidden() {
    let mut svc = service_with_node(&[]);
    let err = svc.modify_affiliations(&ent(BOB), &nn(NODE), &[(bare(BOB), Affiliation::Owner)]);
    assert_eq!(err.unwrap_err(), PubsubError::Forbidden);
}

#[test]
fn admins_are_owners_of_every_node() {
    let mut svc = service_with_node(&[]);
    let change = [(bare(BOB), Affiliation::Publisher)];
    assert!(
        svc.modify_affiliations(&ent(ADMIN), &nn(NODE), &change)
            .is_ok()
    );
    assert!(svc.purge(&ent(ADMIN), &nn(NODE)).is_ok());
}

#[test]
fn modify_affiliations_when_the_store_fails_changes_nothing() {
    let mut svc = service_with_node(&[]);
    fail_writes(&svc, true);
    let err = svc.modify_affiliations(&ent(OWNER), &nn(NODE), &[(bare(BOB), Affiliation::Owner)]);
    assert!(matches!(err, Err(PubsubError::Internal(_))));
    assert_eq!(
        svc.node_affiliations(&ent(OWNER), &nn(NODE)).unwrap().len(),
        1
    );
}
