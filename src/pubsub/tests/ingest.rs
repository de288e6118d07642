//! HTTP ingest in the core: idempotent PUT by item ID, idempotency keys,
//! all-or-nothing batches.

use super::*;
use crate::pubsub::names::nn;

const KEY_RETENTION: u64 = 1000;

fn one(id: Option<&str>, payload: &str) -> IngestItem {
    IngestItem {
        id: id.map(ItemId::from),
        payload: payload.to_owned(),
    }
}

fn req(items: Vec<IngestItem>) -> IngestRequest {
    IngestRequest {
        node: NODE.into(),
        items,
        may_create: false,
        idempotency: None,
    }
}

fn keyed(items: Vec<IngestItem>, key: &str, now_ms: u64) -> IngestRequest {
    IngestRequest {
        idempotency: Some(IdempotencyKey {
            key: key.to_owned(),
            now_ms,
            retention_ms: KEY_RETENTION,
        }),
        ..req(items)
    }
}

fn count(svc: &Svc) -> u64 {
    svc.items(&ent(OWNER), &nn(NODE), None).unwrap().total
}

#[test]
fn same_id_same_body_is_unchanged_and_notifies_nobody() {
    let mut svc = service_with_node(&[]);
    subscribe(&mut svc, "sub@example.com");
    let first = svc.ingest(req(vec![one(Some("a"), "<p>1</p>")])).unwrap();
    assert_eq!(first.reply.items[0].status, ItemStatus::Created);
    assert_eq!(recipients(&first), ["sub@example.com"]);
    let again = svc.ingest(req(vec![one(Some("a"), "<p>1</p>")])).unwrap();
    assert_eq!(again.reply.items[0].status, ItemStatus::Unchanged);
    assert_eq!(again.reply.items[0].seq, first.reply.items[0].seq);
    assert!(again.notifications.is_empty());
    assert_eq!(count(&svc), 1);
}

#[test]
fn same_id_other_body_replaces_with_a_new_seq_and_notifies() {
    let mut svc = service_with_node(&[]);
    subscribe(&mut svc, "sub@example.com");
    let first = svc.ingest(req(vec![one(Some("a"), "<p>1</p>")])).unwrap();
    let _ = svc.ingest(req(vec![one(Some("b"), "<p>b</p>")])).unwrap();
    let second = svc.ingest(req(vec![one(Some("a"), "<p>2</p>")])).unwrap();
    let item = &second.reply.items[0];
    assert_eq!(item.status, ItemStatus::Replaced);
    assert!(item.seq > first.reply.items[0].seq + 1);
    assert_eq!(recipients(&second), ["sub@example.com"]);
    let page = svc.items(&ent(OWNER), &nn(NODE), None).unwrap();
    assert_eq!(ids(&page), ["b", "a"]);
}

#[test]
fn unknown_node_needs_the_create_right() {
    let mut svc = service();
    let err = svc.ingest(req(vec![one(None, "<p/>")])).unwrap_err();
    assert!(matches!(
        err,
        IngestError::Pubsub(PubsubError::NodeNotFound)
    ));
    assert!(svc.node_item_counts().is_empty());
    let ok = svc
        .ingest(IngestRequest {
            may_create: true,
            ..req(vec![one(None, "<p/>")])
        })
        .unwrap();
    assert_eq!(ok.reply.items[0].seq, 1);
    assert_eq!(svc.node_item_counts(), [(NODE.to_owned(), 1)]);
}

#[test]
fn a_retried_key_returns_the_stored_answer_without_writing() {
    let mut svc = service_with_node(&[]);
    subscribe(&mut svc, "sub@example.com");
    let first = svc.ingest(keyed(vec![one(None, "<p/>")], "k", 10)).unwrap();
    assert_eq!(recipients(&first), ["sub@example.com"]);
    let again = svc.ingest(keyed(vec![one(None, "<p/>")], "k", 20)).unwrap();
    assert!(again.reply.replayed);
    assert_eq!(again.reply.items, first.reply.items);
    assert!(again.notifications.is_empty());
    assert_eq!(count(&svc), 1);
}

#[test]
fn a_key_reused_for_another_request_is_refused() {
    let mut svc = service_with_node(&[]);
    let _ = svc.ingest(keyed(vec![one(None, "<p/>")], "k", 10)).unwrap();
    let err = svc
        .ingest(keyed(vec![one(None, "<q/>")], "k", 20))
        .unwrap_err();
    assert!(matches!(err, IngestError::KeyReused));
    assert_eq!(count(&svc), 1);
}

#[test]
fn an_expired_key_runs_the_request_again() {
    let mut svc = service_with_node(&[]);
    let _ = svc.ingest(keyed(vec![one(None, "<p/>")], "k", 10)).unwrap();
    let later = 10 + KEY_RETENTION;
    let again = svc
        .ingest(keyed(vec![one(None, "<p/>")], "k", later))
        .unwrap();
    assert!(!again.reply.replayed);
    assert_eq!(count(&svc), 2);
}

#[test]
fn a_batch_is_all_or_nothing() {
    let mut svc = service_with_node(&[]);
    let too_big = "x".repeat(200);
    let items = vec![one(Some("a"), "<p/>"), one(Some("b"), &too_big)];
    let err = svc.ingest(req(items)).unwrap_err();
    assert!(matches!(
        err,
        IngestError::Pubsub(PubsubError::PayloadTooBig)
    ));
    assert_eq!(count(&svc), 0);
    let dup = vec![one(Some("a"), "<p/>"), one(Some("a"), "<q/>")];
    let err = svc.ingest(req(dup)).unwrap_err();
    assert!(matches!(
        err,
        IngestError::Pubsub(PubsubError::BadRequest(_))
    ));
    assert_eq!(count(&svc), 0);
}

#[test]
fn a_store_failure_writes_neither_items_nor_key() {
    let mut svc = service_with_node(&[]);
    fail_writes(&svc, true);
    let items = vec![one(Some("a"), "<p/>"), one(Some("b"), "<p/>")];
    assert!(svc.ingest(keyed(items.clone(), "k", 10)).is_err());
    fail_writes(&svc, false);
    assert_eq!(count(&svc), 0);
    let retry = svc.ingest(keyed(items, "k", 20)).unwrap();
    assert!(!retry.reply.replayed);
    assert_eq!(retry.reply.items.len(), 2);
    assert_eq!(count(&svc), 2);
}

#[test]
fn a_batch_mixes_unchanged_created_and_replaced_in_request_order() {
    let mut svc = service_with_node(&[]);
    let _ = svc
        .ingest(req(vec![one(Some("a"), "<a/>"), one(Some("b"), "<b/>")]))
        .unwrap();
    let items = vec![
        one(Some("a"), "<a/>"),
        one(None, "<n/>"),
        one(Some("b"), "<b2/>"),
    ];
    let out = svc.ingest(req(items)).unwrap().reply;
    let statuses: Vec<_> = out.items.iter().map(|i| i.status).collect();
    use ItemStatus::*;
    assert_eq!(statuses, [Unchanged, Created, Replaced]);
    assert_eq!(out.items[0].id, "a");
    assert_eq!(out.items[2].id, "b");
    assert!(out.items[2].seq > out.items[1].seq);
}

#[test]
fn pruning_forgets_old_keys() {
    let mut svc = service_with_node(&[]);
    let _ = svc.ingest(keyed(vec![one(None, "<p/>")], "k", 10)).unwrap();
    assert_eq!(
        svc.prune_idempotency(10 + KEY_RETENTION + 1, KEY_RETENTION, 100)
            .unwrap(),
        1
    );
    let again = svc.ingest(keyed(vec![one(None, "<q/>")], "k", 20)).unwrap();
    assert!(!again.reply.replayed);
}
