//! Consumer-group tests on the in-memory store, with an explicit clock.

use super::*;
use crate::pubsub::names::iid;
use crate::pubsub::names::nn;
use crate::pubsub::tests::{
    NODE, OWNER, Svc, TestStore, ent, fields, item, jid, publish_ids, settings,
};
use crate::pubsub::{Affiliation, Event, NewItem, ServiceSettings};
use crate::store::MemoryStore;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

pub(super) const T0: u64 = 1_000_000;

fn qsettings() -> QueueSettings {
    QueueSettings {
        ack_timeout_ms: 1_000,
        max_deliveries: 3,
        backoff_base_ms: 100,
        backoff_max_ms: 1_000,
    }
}

fn svc_settings() -> ServiceSettings {
    ServiceSettings {
        max_payload_bytes: 4096,
        ..settings()
    }
}

/// The core writes no XML (`protocol/dead_letter.rs` renders the real
/// payload and tests its bytes): here each field shows as `name=value`.
fn test_render(d: &DeadLetterRecord<'_>) -> String {
    format!(
        "deliveries={} group={} node={} item={} payload={}",
        d.deliveries,
        d.group,
        d.node,
        d.item_id,
        d.payload.unwrap_or("")
    )
}

fn open(store: TestStore) -> Svc {
    let mut svc = Service::open(store, svc_settings()).unwrap();
    svc.set_queue_settings(qsettings());
    svc.set_now(T0);
    svc.set_dead_letter_renderer(test_render);
    svc
}

pub(super) fn queue_service() -> Svc {
    let store = TestStore {
        inner: MemoryStore::new(),
        fail: Arc::new(AtomicBool::new(false)),
    };
    let mut svc = open(store);
    let config = fields(&[("pubsub#max_items", "100")]);
    let _ = svc
        .create_node(&ent(OWNER), Some(&nn(NODE)), Some(&config))
        .unwrap();
    svc
}

fn reopen(mut svc: Svc) -> Svc {
    svc.flush().unwrap();
    open(svc.into_store())
}

fn bare_of(full: &str) -> &str {
    full.split('/').next().unwrap()
}

/// Subscribes `who` (full JID) to NODE in `group` with `credit` at T0;
/// returns what the subscribe delivered (and a later pump, which must
/// find nothing left).
pub(super) fn join(svc: &mut Svc, who: &str, group: &str, credit: u32) -> Vec<Notification> {
    join_with(
        svc,
        who,
        &[
            ("pubsub#queue_group", group),
            ("pubsub#queue_requests", &credit.to_string()),
        ],
    )
}

pub(super) fn join_with(svc: &mut Svc, who: &str, options: &[(&str, &str)]) -> Vec<Notification> {
    let f = fields(options);
    svc.set_now(T0);
    let mut notes = svc
        .subscribe(&ent(bare_of(who)), &nn(NODE), &jid(who), Some(&f))
        .unwrap()
        .notifications;
    notes.extend(svc.queue_pump(NODE, T0).unwrap());
    notes
}

/// Publishes and pumps, returning every notification.
pub(super) fn publish(svc: &mut Svc, ids: &[&str], now: u64) -> Vec<Notification> {
    let items: Vec<NewItem> = ids
        .iter()
        .map(|i| item(i, &format!("<p>{i}</p>")))
        .collect();
    svc.set_now(now);
    let mut notes = svc
        .publish(&ent(OWNER), &nn(NODE), items, None)
        .unwrap()
        .notifications;
    notes.extend(svc.queue_pump(NODE, now).unwrap());
    notes
}

/// (recipient, item ID) of every item notification on `node`.
pub(super) fn items_to(notes: &[Notification], node: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for n in notes.iter().filter(|n| n.node == node) {
        if let Event::Items { items, .. } = &n.event {
            for r in &n.recipients {
                out.extend(items.iter().map(|i| (r.jid.to_string(), i.id.clone())));
            }
        }
    }
    out
}

fn unlocks(notes: &[Notification]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for n in notes {
        if let Event::Unlock { item_ids } = &n.event {
            out.extend(
                item_ids
                    .iter()
                    .map(|i| (n.recipients[0].jid.to_string(), i.clone())),
            );
        }
    }
    out
}

pub(super) fn settle(
    svc: &mut Svc,
    who: &str,
    id: &str,
    how: Settle,
    now: u64,
) -> Result<Vec<Notification>, QueueError> {
    let ids = [iid(id)];
    svc.set_now(now);
    svc.queue_settle(&jid(who), &nn(NODE), &ids, how, now)
        .map(|o| o.notifications)
}

pub(super) const A: &str = "a@example.com/1";
pub(super) const B: &str = "b@example.com/1";
const C: &str = "c@example.com/1";

#[test]
fn each_item_goes_to_exactly_one_member() {
    let mut svc = queue_service();
    for m in [A, B, C] {
        join(&mut svc, m, "g", 1);
    }
    let got = items_to(&publish(&mut svc, &["1", "2", "3", "4"], T0), NODE);
    let mut ids: Vec<&str> = got.iter().map(|(_, i)| i.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["1", "2", "3"], "credit 1 each: the fourth waits");
    let mut who: Vec<&str> = got.iter().map(|(j, _)| j.as_str()).collect();
    who.sort();
    assert_eq!(who, [A, B, C]);
}

#[test]
fn credit_bounds_what_a_member_holds_and_ack_frees_it() {
    let mut svc = queue_service();
    join(&mut svc, A, "g", 2);
    let got = items_to(&publish(&mut svc, &["1", "2", "3", "4"], T0), NODE);
    assert_eq!(got.len(), 2);
    let notes = settle(&mut svc, A, "1", Settle::Ack, T0).unwrap();
    assert_eq!(items_to(&notes, NODE), [(A.to_owned(), "3".to_owned())]);
    assert!(
        settle(&mut svc, A, "1", Settle::Ack, T0).is_err(),
        "acked once only"
    );
}

#[test]
fn plain_subscribers_get_every_item_and_each_group_gets_it_once() {
    let mut svc = queue_service();
    let _ = svc
        .subscribe(
            &ent("plain@example.com"),
            &nn(NODE),
            &jid("plain@example.com"),
            None,
        )
        .unwrap();
    join(&mut svc, A, "g1", 5);
    join(&mut svc, B, "g1", 5);
    join(&mut svc, C, "g2", 5);
    let notes = publish(&mut svc, &["1", "2"], T0);
    let got = items_to(&notes, NODE);
    let count = |who: &str| got.iter().filter(|(j, _)| j == who).count();
    assert_eq!(count("plain@example.com"), 2);
    assert_eq!(count(A) + count(B), 2, "group g1 gets each item once");
    assert_eq!(count(C), 2, "group g2 gets each item once");
}

#[test]
fn retract_acks_for_the_members_group_only_and_keeps_the_item() {
    let mut svc = queue_service();
    join(&mut svc, A, "g1", 5);
    join(&mut svc, B, "g2", 5);
    publish(&mut svc, &["1"], T0);
    let notes = settle(&mut svc, A, "1", Settle::Retract, T0).unwrap();
    assert!(matches!(&notes[0].event, Event::Retract { item_ids } if item_ids == &["1"]));
    assert_eq!(
        notes[0].recipients[0].jid.to_string(),
        A,
        "only the member is told"
    );
    let page = svc
        .items_by_id(&ent(OWNER), &nn(NODE), &[iid("1")])
        .unwrap();
    assert_eq!(page.items.len(), 1, "the node keeps the item");
    assert!(
        settle(&mut svc, B, "1", Settle::Retract, T0).is_ok(),
        "g2 still holds it"
    );
}

#[test]
fn settle_errors_follow_xep_0254() {
    let mut svc = queue_service();
    join(&mut svc, A, "g", 1);
    join(&mut svc, B, "g", 1);
    let got = items_to(&publish(&mut svc, &["1", "2"], T0), NODE);
    let (holder, other) = if got[0].0 == A { (A, B) } else { (B, A) };
    let first = got[0].1.clone();
    assert_eq!(
        settle(&mut svc, other, &first, Settle::Ack, T0),
        Err(QueueError::LockedByOther)
    );
    assert_eq!(
        settle(&mut svc, C, &first, Settle::Ack, T0),
        Err(QueueError::NotMember)
    );
    let missing = settle(&mut svc, holder, "nope", Settle::Ack, T0);
    assert_eq!(missing, Err(QueueError::Pubsub(PubsubError::ItemNotFound)));
    settle(&mut svc, holder, &first, Settle::Ack, T0).unwrap();
    let again = settle(&mut svc, holder, &first, Settle::Unlock, T0);
    assert_eq!(again, Err(QueueError::NotLocked), "no longer locked");
}

#[test]
fn unlock_gives_the_item_back_after_a_backoff() {
    let mut svc = queue_service();
    join(&mut svc, A, "g", 1);
    publish(&mut svc, &["1"], T0);
    let notes = settle(&mut svc, A, "1", Settle::Unlock, T0).unwrap();
    assert_eq!(unlocks(&notes), [(A.to_owned(), "1".to_owned())]);
    assert!(items_to(&notes, NODE).is_empty(), "not before the backoff");
    assert!(items_to(&svc.queue_tick(T0 + 99).unwrap(), NODE).is_empty());
    let again = items_to(&svc.queue_tick(T0 + 100).unwrap(), NODE);
    assert_eq!(again, [(A.to_owned(), "1".to_owned())]);
}

#[test]
fn timeouts_redeliver_with_exponential_backoff_then_dead_letter() {
    let mut svc = queue_service();
    join(&mut svc, A, "g", 1);
    publish(&mut svc, &["1"], T0);
    // Delivery 1 times out at T0+1000, waits 100 ms.
    let t1 = T0 + 1_000;
    let notes = svc.queue_tick(t1).unwrap();
    assert_eq!(unlocks(&notes), [(A.to_owned(), "1".to_owned())]);
    assert!(items_to(&svc.queue_tick(t1 + 99).unwrap(), NODE).is_empty());
    assert_eq!(items_to(&svc.queue_tick(t1 + 100).unwrap(), NODE).len(), 1);
    // Delivery 2 times out 1000 ms later, waits 200 ms.
    let t2 = t1 + 100 + 1_000;
    svc.queue_tick(t2).unwrap();
    assert!(items_to(&svc.queue_tick(t2 + 199).unwrap(), NODE).is_empty());
    assert_eq!(items_to(&svc.queue_tick(t2 + 200).unwrap(), NODE).len(), 1);
    // Delivery 3 (the maximum) times out: dead letter.
    let t3 = t2 + 200 + 1_000;
    svc.queue_tick(t3).unwrap();
    let dead = format!("{NODE}/dead-letter");
    let page = svc.items(&ent(OWNER), &nn(&dead), None).unwrap();
    assert_eq!(page.items.len(), 1);
    let payload = page.items[0].payload.as_deref().unwrap();
    assert_eq!(
        payload,
        format!("deliveries=3 group=g node={NODE} item=1 payload=<p>1</p>"),
        "the record the renderer got: delivery count, group, origin, original payload"
    );
    assert!(
        items_to(&svc.queue_tick(t3 + 10_000).unwrap(), NODE).is_empty(),
        "gone from the group"
    );
}

#[test]
fn nack_past_the_limit_dead_letters_and_owners_carry_over() {
    let mut svc = queue_service();
    join(&mut svc, A, "g", 1);
    publish(&mut svc, &["1"], T0);
    let mut now = T0;
    for _ in 0..3 {
        settle(&mut svc, A, "1", Settle::Unlock, now).unwrap();
        now += 1_000;
        svc.queue_tick(now).unwrap();
    }
    let dead = format!("{NODE}/dead-letter");
    let page = svc.items(&ent(OWNER), &nn(&dead), None).unwrap();
    assert_eq!(page.items.len(), 1, "moved after the third failed delivery");
    let affs = svc.node_affiliations(&ent(OWNER), &nn(&dead)).unwrap();
    assert!(
        !affs.is_empty(),
        "the owner of the node owns its dead letters"
    );
}

#[test]
fn unavailable_and_unsubscribed_members_give_their_items_back_at_once() {
    let mut svc = queue_service();
    join(&mut svc, A, "g", 2);
    publish(&mut svc, &["1", "2"], T0);
    join(&mut svc, B, "g", 2);
    let notes = svc.queue_presence(&jid(A), false, T0).unwrap();
    let got = items_to(&notes, NODE);
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|(j, _)| j == B));
    let _ = svc
        .unsubscribe(&ent(bare_of(B)), &nn(NODE), &jid(B), None)
        .unwrap();
    let back = items_to(&svc.queue_pump(NODE, T0).unwrap(), NODE);
    assert!(back.is_empty(), "A is unavailable");
    let back = items_to(&svc.queue_presence(&jid(A), true, T0).unwrap(), NODE);
    assert_eq!(back.len(), 2, "{back:?}");
    assert!(back.iter().all(|(j, _)| j == A));
}

#[test]
fn restart_keeps_positions_and_redelivers_what_was_in_flight() {
    let mut svc = queue_service();
    join(&mut svc, A, "g", 2);
    publish(&mut svc, &["1", "2", "3"], T0);
    settle(&mut svc, A, "1", Settle::Ack, T0).unwrap(); // "3" goes out
    let mut svc = reopen(svc);
    let got = items_to(&svc.queue_tick(T0 + 1).unwrap(), NODE);
    let mut ids: Vec<&str> = got.iter().map(|(_, i)| i.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["2", "3"], "in flight again; acked 1 never again");
    let more = items_to(&publish(&mut svc, &["4"], T0 + 2), NODE);
    assert!(more.is_empty(), "credit is full");
    settle(&mut svc, A, "2", Settle::Ack, T0 + 3).unwrap();
    let mut svc = reopen(svc);
    let after = items_to(&svc.queue_tick(T0 + 4).unwrap(), NODE);
    let mut ids: Vec<&str> = after.iter().map(|(_, i)| i.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["3", "4"]);
}

#[test]
fn a_late_group_starts_newest_oldest_or_after_an_item() {
    let mut svc = queue_service();
    publish_ids(&mut svc, &["1", "2", "3"]);
    let newest = items_to(&join(&mut svc, A, "new", 5), NODE);
    assert!(newest.is_empty());
    let oldest = join_with(
        &mut svc,
        B,
        &[
            ("pubsub#queue_group", "old"),
            ("pubsub#queue_requests", "5"),
            ("pubsub#queue_start", "oldest"),
        ],
    );
    assert_eq!(items_to(&oldest, NODE).len(), 3);
    let after = join_with(
        &mut svc,
        C,
        &[
            ("pubsub#queue_group", "mid"),
            ("pubsub#queue_requests", "5"),
            ("pubsub#queue_after", "2"),
        ],
    );
    assert_eq!(items_to(&after, NODE), [(C.to_owned(), "3".to_owned())]);
}

#[test]
fn queue_requests_alone_joins_the_default_group() {
    let mut svc = queue_service();
    join_with(&mut svc, A, &[("pubsub#queue_requests", "1")]);
    join_with(&mut svc, B, &[("pubsub#queue_requests", "1")]);
    let got = items_to(&publish(&mut svc, &["1", "2"], T0), NODE);
    assert_eq!(got.len(), 2);
    assert_ne!(got[0].0, got[1].0, "one item each");
}

#[test]
fn bad_queue_options_are_refused() {
    let mut svc = queue_service();
    for bad in [
        ("pubsub#queue_requests", "0"),
        ("pubsub#queue_requests", "x"),
        ("pubsub#queue_start", "middle"),
    ] {
        let f = fields(&[bad]);
        let r = svc.subscribe(&ent(bare_of(A)), &nn(NODE), &jid(A), Some(&f));
        assert!(matches!(r, Err(PubsubError::InvalidOptions(_))), "{bad:?}");
    }
}

const MALLORY: &str = "mallory@example.com";

/// Delivers item "1" to A and fails it `max_deliveries` times.
fn fail_for_good(svc: &mut Svc) -> u64 {
    join(svc, A, "g", 1);
    publish(svc, &["1"], T0);
    let mut now = T0;
    for _ in 0..3 {
        let _ = settle(svc, A, "1", Settle::Unlock, now);
        now += 1_000;
        svc.queue_tick(now).unwrap();
    }
    now
}

#[test]
fn nobody_but_the_owners_may_create_a_dead_letter_node() {
    let mut svc = queue_service();
    let dead = format!("{NODE}/dead-letter");
    let open = fields(&[("pubsub#access_model", "open")]);
    let err = svc.create_node(&ent(MALLORY), Some(&nn(&dead)), Some(&open));
    assert_eq!(err.unwrap_err(), PubsubError::Forbidden);
    let auto = svc.publish(&ent(MALLORY), &nn(&dead), vec![item("x", "<p/>")], None);
    assert!(auto.is_err(), "no auto-create of a reserved name either");
    let orphan = svc.create_node(&ent(MALLORY), Some(&nn("nothing-yet/dead-letter")), None);
    assert_eq!(orphan.unwrap_err(), PubsubError::Forbidden);
    assert!(svc.create_node(&ent(OWNER), Some(&nn(&dead)), None).is_ok());
}

#[test]
fn a_dead_letter_node_herald_creates_is_closed_to_strangers() {
    let mut svc = queue_service();
    fail_for_good(&mut svc);
    let dead = format!("{NODE}/dead-letter");
    assert_eq!(
        svc.items(&ent(OWNER), &nn(&dead), None)
            .unwrap()
            .items
            .len(),
        1
    );
    let denied = svc.items(&ent(MALLORY), &nn(&dead), None).unwrap_err();
    assert_eq!(denied, PubsubError::ClosedNode);
    let sub = svc.subscribe(&ent(MALLORY), &nn(&dead), &jid(MALLORY), None);
    assert_eq!(sub.unwrap_err(), PubsubError::ClosedNode);
}

#[test]
fn dead_letters_never_go_into_a_squatted_node_and_stay_pending() {
    let mut svc = queue_service();
    let dead = format!("{NODE}/dead-letter");
    // A node made before names were reserved, owned by someone else.
    let config = crate::pubsub::NodeConfig::with_defaults(10);
    svc.insert_node(&ent(MALLORY), &dead, config).unwrap();
    let now = fail_for_good(&mut svc);
    let page = svc.items(&ent(MALLORY), &nn(&dead), None).unwrap();
    assert!(page.items.is_empty(), "the squatter got nothing");
    // Not dropped: the group keeps delivering it, a backoff apart.
    let mut later = svc.queue_tick(now + 60_000).unwrap();
    later.extend(svc.queue_tick(now + 120_000).unwrap());
    assert_eq!(items_to(&later, NODE), [(A.to_owned(), "1".to_owned())]);
    let svc = reopen(svc);
    assert!(
        svc.items(&ent(MALLORY), &nn(&dead), None)
            .unwrap()
            .items
            .is_empty()
    );
}

#[test]
fn without_a_renderer_a_failed_item_stays_in_its_group() {
    let mut svc = queue_service();
    svc.queues.render_dead_letter = None;
    let now = fail_for_good(&mut svc);
    let dead = format!("{NODE}/dead-letter");
    assert_eq!(
        svc.items(&ent(OWNER), &nn(&dead), None).unwrap_err(),
        PubsubError::NodeNotFound
    );
    let mut later = svc.queue_tick(now + 60_000).unwrap();
    later.extend(svc.queue_tick(now + 120_000).unwrap());
    assert_eq!(items_to(&later, NODE), [(A.to_owned(), "1".to_owned())]);
}

#[test]
fn at_max_nodes_a_failed_item_still_reaches_the_dead_letter_node() {
    let store = TestStore {
        inner: MemoryStore::new(),
        fail: Arc::new(AtomicBool::new(false)),
    };
    let settings = ServiceSettings {
        max_nodes: Some(1),
        ..svc_settings()
    };
    let mut svc = Service::open(store, settings).unwrap();
    svc.set_queue_settings(qsettings());
    svc.set_dead_letter_renderer(test_render);
    let config = fields(&[("pubsub#max_items", "100")]);
    let _ = svc
        .create_node(&ent(OWNER), Some(&nn(NODE)), Some(&config))
        .unwrap();
    fail_for_good(&mut svc);
    let dead = format!("{NODE}/dead-letter");
    assert_eq!(
        svc.items(&ent(OWNER), &nn(&dead), None)
            .unwrap()
            .items
            .len(),
        1
    );
    let other = svc.create_node(&ent(OWNER), Some(&nn("other")), None);
    assert_eq!(other.unwrap_err(), PubsubError::MaxNodesExceeded);
}

#[test]
fn a_revoked_member_gives_its_items_back_to_the_group() {
    let mut svc = queue_service();
    join(&mut svc, A, "g", 1);
    publish(&mut svc, &["1"], T0);
    crate::pubsub::tests::set_affiliation(&mut svc, "b@example.com", Affiliation::Member);
    join(&mut svc, B, "g", 1);
    let out = svc
        .configure(
            &ent(OWNER),
            &nn(NODE),
            &fields(&[("pubsub#access_model", "whitelist")]),
        )
        .unwrap();
    assert!(out.notifications.iter().any(|n| matches!(
        n.event,
        Event::Subscription {
            state: crate::pubsub::SubscriptionState::None,
            ..
        }
    )));
    let mut notes = out.notifications;
    notes.extend(svc.queue_pump(NODE, T0).unwrap());
    let back = items_to(&notes, NODE);
    assert_eq!(back, [(B.to_owned(), "1".to_owned())]);
    let later = items_to(&publish(&mut svc, &["2"], T0), NODE);
    assert!(later.iter().all(|(j, _)| j == B), "{later:?}");
}

#[test]
fn a_resent_dead_letter_goes_back_to_the_group_and_leaves_the_dead_letters() {
    let mut svc = queue_service();
    fail_for_good(&mut svc);
    let node = nn(NODE);
    assert_eq!(svc.dead_letters(&node).unwrap().items.len(), 1);
    let out = svc
        .resend_dead_letter(&node, &crate::pubsub::names::iid("1"))
        .unwrap();
    assert_eq!(
        items_to(&out.notifications, NODE),
        [(A.to_owned(), "1".to_owned())],
        "handed to the group afresh"
    );
    assert!(svc.dead_letters(&node).unwrap().items.is_empty());
    let again = svc.resend_dead_letter(&node, &crate::pubsub::names::iid("1"));
    assert_eq!(
        again.unwrap_err(),
        PubsubError::ItemNotFound,
        "no dead letter left"
    );
    let none = svc.dead_letters(&nn("nowhere"));
    assert_eq!(none.unwrap_err(), PubsubError::NodeNotFound);
}
