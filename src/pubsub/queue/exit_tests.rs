//! "One exit": every write use case returns its node's consumer-group
//! deliveries in its own outcome (docs/architecture.md, "One exit"). Each
//! test makes an item deliverable only through that use case, reads the
//! delivery from the outcome, and checks that a pump afterwards finds
//! nothing left (so the delivery did not wait for a caller's pump).

use super::tests::{A, B, T0, items_to, join, join_with, publish, queue_service};
use super::*;
use crate::pubsub::names::{iid, nn};
use crate::pubsub::tests::{NODE, OWNER, Svc, bare, ent, fields, jid};
use crate::pubsub::{
    Actor, Affiliation, IngestItem, IngestRequest, SubscriptionChange, SubscriptionState,
};

/// The outcome's deliveries; a later pump must have nothing to add.
fn delivered(svc: &mut Svc, notes: &[Notification]) -> Vec<(String, String)> {
    let late = svc.queue_pump(NODE, T0).unwrap();
    assert!(
        items_to(&late, NODE).is_empty(),
        "left for a pump: {late:?}"
    );
    items_to(notes, NODE)
}

fn one(who: &str, id: &str) -> Vec<(String, String)> {
    vec![(who.to_owned(), id.to_owned())]
}

/// A holds item "1" with credit 1; B is a member of the same group with
/// credit 1 and nothing to do.
fn a_holds_one_b_idle() -> Svc {
    let mut svc = queue_service();
    join(&mut svc, A, "g", 1);
    publish(&mut svc, &["1"], T0);
    join(&mut svc, B, "g", 1);
    svc
}

#[test]
fn publish_delivers_in_its_outcome() {
    let mut svc = queue_service();
    join(&mut svc, A, "g", 1);
    let items = vec![crate::pubsub::tests::item("1", "<p/>")];
    let o = svc.publish(&ent(OWNER), &nn(NODE), items, None).unwrap();
    assert_eq!(delivered(&mut svc, &o.notifications), one(A, "1"));
}

#[test]
fn ingest_delivers_in_its_outcome() {
    let mut svc = queue_service();
    join(&mut svc, A, "g", 1);
    let req = IngestRequest {
        node: nn(NODE),
        items: vec![IngestItem {
            id: Some("1".into()),
            payload: "<p/>".into(),
        }],
        may_create: false,
        idempotency: None,
    };
    let o = svc.ingest(req).unwrap();
    assert_eq!(delivered(&mut svc, &o.notifications), one(A, "1"));
}

#[test]
fn a_members_retract_is_its_ack_and_frees_credit_in_its_outcome() {
    let mut svc = queue_service();
    join(&mut svc, A, "g", 1);
    publish(&mut svc, &["1", "2"], T0);
    let o = svc.retract_as(&jid(A), &nn(NODE), &iid("1"), None).unwrap();
    assert_eq!(delivered(&mut svc, &o.notifications), one(A, "2"));
    let page = svc.items(&Actor::System, &nn(NODE), None).unwrap();
    assert_eq!(page.items.len(), 2, "the ack leaves the item in the node");
}

#[test]
fn a_retract_by_a_non_member_is_a_plain_retract() {
    let mut svc = queue_service();
    join(&mut svc, A, "g", 1);
    publish(&mut svc, &["1", "2"], T0);
    // The owner is no member: its retract removes the item from the node.
    let owner = jid(&format!("{OWNER}/r"));
    let o = svc.retract_as(&owner, &nn(NODE), &iid("2"), None).unwrap();
    assert!(delivered(&mut svc, &o.notifications).is_empty());
    let page = svc.items(&Actor::System, &nn(NODE), None).unwrap();
    assert_eq!(page.items.len(), 1);
}

#[test]
fn subscribe_delivers_in_its_outcome() {
    let mut svc = queue_service();
    join(&mut svc, A, "g", 1);
    publish(&mut svc, &["1", "2"], T0);
    let f = fields(&[("pubsub#queue_group", "g"), ("pubsub#queue_requests", "1")]);
    let o = svc
        .subscribe(&ent("b@example.com"), &nn(NODE), &jid(B), Some(&f))
        .unwrap();
    assert_eq!(delivered(&mut svc, &o.notifications), one(B, "2"));
}

#[test]
fn unsubscribe_delivers_in_its_outcome() {
    let mut svc = a_holds_one_b_idle();
    let o = svc
        .unsubscribe(&ent("a@example.com"), &nn(NODE), &jid(A), None)
        .unwrap();
    assert_eq!(delivered(&mut svc, &o.notifications), one(B, "1"));
}

#[test]
fn options_deliver_in_their_outcome() {
    let mut svc = queue_service();
    join(&mut svc, A, "g", 1);
    publish(&mut svc, &["1", "2"], T0);
    let f = fields(&[("pubsub#queue_group", "g"), ("pubsub#queue_requests", "2")]);
    let o = svc
        .set_subscription_options(&ent("a@example.com"), &nn(NODE), &jid(A), None, &f)
        .unwrap();
    assert_eq!(delivered(&mut svc, &o.notifications), one(A, "2"));
}

#[test]
fn configure_delivers_in_its_outcome() {
    let mut svc = queue_service();
    join(&mut svc, A, "g", 1);
    publish(&mut svc, &["1"], T0);
    let _ = svc
        .modify_affiliations(
            &ent(OWNER),
            &nn(NODE),
            &[(bare("b@example.com"), Affiliation::Member)],
        )
        .unwrap();
    join(&mut svc, B, "g", 1);
    let f = fields(&[("pubsub#access_model", "whitelist")]);
    let o = svc.configure(&ent(OWNER), &nn(NODE), &f).unwrap();
    assert_eq!(delivered(&mut svc, &o.notifications), one(B, "1"));
}

#[test]
fn approval_delivers_in_its_outcome() {
    let mut svc = queue_service();
    join(&mut svc, A, "g", 1);
    publish(&mut svc, &["1", "2"], T0);
    let f = fields(&[("pubsub#access_model", "authorize")]);
    let _ = svc.configure(&ent(OWNER), &nn(NODE), &f).unwrap();
    let pending = join_with(
        &mut svc,
        B,
        &[("pubsub#queue_group", "g"), ("pubsub#queue_requests", "1")],
    );
    assert!(items_to(&pending, NODE).is_empty(), "pending gets nothing");
    // Authorize sent A back to pending too: both items wait for B.
    let o = svc
        .approve_subscription(&ent(OWNER), &nn(NODE), &jid(B), None, true)
        .unwrap();
    assert_eq!(delivered(&mut svc, &o.notifications), one(B, "1"));
}

#[test]
fn owner_subscription_changes_deliver_in_their_outcome() {
    let mut svc = a_holds_one_b_idle();
    let change = SubscriptionChange {
        jid: jid(A),
        state: SubscriptionState::None,
        subid: None,
    };
    let o = svc
        .modify_subscriptions(&ent(OWNER), &nn(NODE), &[change])
        .unwrap();
    assert_eq!(delivered(&mut svc, &o.notifications), one(B, "1"));
}

#[test]
fn affiliation_changes_deliver_in_their_outcome() {
    let mut svc = a_holds_one_b_idle();
    let o = svc
        .modify_affiliations(
            &ent(OWNER),
            &nn(NODE),
            &[(bare("a@example.com"), Affiliation::Outcast)],
        )
        .unwrap();
    assert_eq!(delivered(&mut svc, &o.notifications), one(B, "1"));
}

#[test]
fn unavailable_presence_delivers_in_its_outcome() {
    let mut svc = a_holds_one_b_idle();
    let o = svc.presence(&jid(A), false);
    assert_eq!(delivered(&mut svc, &o.notifications), one(B, "1"));
}

#[test]
fn purge_and_delete_leave_nothing_for_a_later_pump() {
    // Neither makes an item deliverable; their outcomes are still
    // complete: nothing is left for a caller's pump.
    let mut svc = queue_service();
    join(&mut svc, A, "g", 1);
    publish(&mut svc, &["1", "2"], T0);
    let o = svc.purge(&ent(OWNER), &nn(NODE)).unwrap();
    assert!(delivered(&mut svc, &o.notifications).is_empty());
    let o = svc.delete_node(&ent(OWNER), &nn(NODE), None).unwrap();
    assert!(delivered(&mut svc, &o.notifications).is_empty());
}
