//! Access revocation (issue 16 item 8): entities that lose access lose
//! their subscriptions, are told so (XEP-0060 §12 "Notification of
//! Subscription State Changes"), and get no further payloads.

use super::*;
use crate::pubsub::names::nn;

const BOB: &str = "bob@example.com";
const CAROL: &str = "carol@example.com";

/// (recipient, state) of every subscription-state notice in `notes`.
fn state_notices(notes: &[Notification]) -> Vec<(String, SubscriptionState)> {
    let mut out = Vec::new();
    for n in notes {
        if let Event::Subscription { state, .. } = &n.event {
            out.extend(n.recipients.iter().map(|r| (r.jid.to_string(), *state)));
        }
    }
    out
}

/// Who gets the payload of a fresh publication on NODE.
fn item_recipients(svc: &mut Svc, id: &str) -> Vec<String> {
    let out = svc
        .publish(&ent(OWNER), &nn(NODE), vec![item(id, "<p/>")], None)
        .unwrap();
    recipients(&out)
}

#[test]
fn switching_to_whitelist_ends_subscriptions_of_entities_not_on_the_list() {
    let mut svc = service_with_node(&[]);
    subscribe(&mut svc, BOB);
    set_affiliation(&mut svc, CAROL, Affiliation::Member);
    subscribe(&mut svc, CAROL);
    assert_eq!(item_recipients(&mut svc, "1"), [BOB, CAROL]);
    let out = svc
        .configure(
            &ent(OWNER),
            &nn(NODE),
            &fields(&[("pubsub#access_model", "whitelist")]),
        )
        .unwrap();
    assert_eq!(
        state_notices(&out.notifications),
        [(BOB.to_owned(), SubscriptionState::None)]
    );
    assert!(
        svc.subscriptions(&ent(BOB), Some(&nn(NODE)))
            .unwrap()
            .is_empty()
    );
    assert_eq!(item_recipients(&mut svc, "2"), [CAROL]);
    let svc = reopen(svc);
    assert!(
        svc.subscriptions(&ent(BOB), Some(&nn(NODE)))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_member_set_to_none_on_a_whitelist_node_loses_the_subscription() {
    let mut svc = service_with_node(&[("pubsub#access_model", "whitelist")]);
    set_affiliation(&mut svc, BOB, Affiliation::Member);
    subscribe(&mut svc, BOB);
    assert_eq!(item_recipients(&mut svc, "1"), [BOB]);
    let out = svc
        .modify_affiliations(&ent(OWNER), &nn(NODE), &[(bare(BOB), Affiliation::None)])
        .unwrap();
    let notices = state_notices(&out.notifications);
    assert_eq!(notices, [(BOB.to_owned(), SubscriptionState::None)]);
    assert!(item_recipients(&mut svc, "2").is_empty());
    let denied = svc.items(&ent(BOB), &nn(NODE), None).unwrap_err();
    assert_eq!(denied, PubsubError::ClosedNode);
}

#[test]
fn an_outcast_is_told_its_subscription_ended() {
    let mut svc = service_with_node(&[]);
    subscribe(&mut svc, BOB);
    let out = svc
        .modify_affiliations(&ent(OWNER), &nn(NODE), &[(bare(BOB), Affiliation::Outcast)])
        .unwrap();
    let notices = state_notices(&out.notifications);
    assert_eq!(notices, [(BOB.to_owned(), SubscriptionState::None)]);
    assert!(item_recipients(&mut svc, "1").is_empty());
}

#[test]
fn switching_to_authorize_puts_unapproved_subscriptions_back_to_pending() {
    let mut svc = service_with_node(&[]);
    subscribe(&mut svc, BOB);
    let out = svc
        .configure(
            &ent(OWNER),
            &nn(NODE),
            &fields(&[("pubsub#access_model", "authorize")]),
        )
        .unwrap();
    let notices = state_notices(&out.notifications);
    assert_eq!(notices, [(BOB.to_owned(), SubscriptionState::Pending)]);
    let asks = out.notifications.iter().filter(|n| {
        matches!(n.event, Event::ApprovalRequest { .. })
            && n.recipients.iter().any(|r| r.jid.to_string() == OWNER)
    });
    assert_eq!(asks.count(), 1, "the owner is asked to approve");
    assert!(item_recipients(&mut svc, "1").is_empty());
    let subs = svc.subscriptions(&ent(BOB), Some(&nn(NODE))).unwrap();
    let _ = svc
        .approve_subscription(&ent(OWNER), &nn(NODE), &subs[0].jid, None, true)
        .unwrap();
    assert_eq!(item_recipients(&mut svc, "2"), [BOB]);
}

#[test]
fn switching_to_presence_ends_subscriptions_of_strangers() {
    let mut svc = service_with_node(&[]);
    subscribe(&mut svc, BOB);
    let out = svc
        .configure(
            &ent(OWNER),
            &nn(NODE),
            &fields(&[("pubsub#access_model", "presence")]),
        )
        .unwrap();
    let notices = state_notices(&out.notifications);
    assert!(
        notices.contains(&(BOB.to_owned(), SubscriptionState::None))
            || notices.contains(&(BOB.to_owned(), SubscriptionState::Pending)),
        "{notices:?}"
    );
    assert!(item_recipients(&mut svc, "1").is_empty());
}

#[test]
fn a_publisher_demoted_to_publish_only_loses_its_subscription() {
    let mut svc = service_with_node(&[("pubsub#access_model", "whitelist")]);
    set_affiliation(&mut svc, BOB, Affiliation::Publisher);
    subscribe(&mut svc, BOB);
    set_affiliation(&mut svc, BOB, Affiliation::PublishOnly);
    assert!(item_recipients(&mut svc, "1").is_empty());
}

#[test]
fn changes_that_restrict_nothing_keep_every_subscription() {
    let mut svc = service_with_node(&[("pubsub#access_model", "whitelist")]);
    // An owner subscribed a stranger on its behalf: the owner's choice.
    let change = SubscriptionChange {
        jid: jid(BOB),
        subid: None,
        state: SubscriptionState::Subscribed,
    };
    let _ = svc
        .modify_subscriptions(&ent(OWNER), &nn(NODE), &[change])
        .unwrap();
    let out = svc
        .configure(
            &ent(OWNER),
            &nn(NODE),
            &fields(&[("pubsub#title", "renamed")]),
        )
        .unwrap();
    assert!(state_notices(&out.notifications).is_empty());
    set_affiliation(&mut svc, CAROL, Affiliation::Member);
    assert_eq!(item_recipients(&mut svc, "1"), [BOB]);
}

#[test]
fn whitelist_nodes_stay_hidden_from_strangers_in_discovery() {
    let mut svc = service_with_node(&[]);
    subscribe(&mut svc, BOB);
    let _ = svc
        .configure(
            &ent(OWNER),
            &nn(NODE),
            &fields(&[("pubsub#access_model", "whitelist")]),
        )
        .unwrap();
    assert!(svc.discover_nodes(&ent(BOB)).is_empty());
}
