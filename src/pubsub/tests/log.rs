//! The history as a log (`log.rs`): the journal of a job's entries and
//! pages after a cursor, with trimmed cursors reported, not skipped.

use super::*;
use crate::pubsub::log::{LogCursor, LogEvent, LogKind};
use crate::pubsub::names::{iid, nn};

fn show(events: &[LogEvent]) -> Vec<String> {
    let one = |e: &LogEvent| match &e.kind {
        LogKind::Item { id, .. } => format!("+{id}@{}", e.seq),
        LogKind::Retract { id } => format!("-{id}@{}", e.seq),
    };
    events.iter().map(one).collect()
}

fn page(svc: &Svc, cursor: LogCursor) -> crate::pubsub::LogPage {
    svc.log_page(&nn(NODE), &cursor, 100).unwrap()
}

#[test]
fn the_journal_holds_every_entry_of_the_job_once_and_only_when_enabled() {
    let mut svc = service_with_node(&[]);
    publish_ids(&mut svc, &["a"]);
    assert!(svc.take_journal().is_empty(), "off by default");
    svc.set_journal(true);
    publish_ids(&mut svc, &["b", "c"]);
    let _ = svc
        .retract(&ent(OWNER), &nn(NODE), &iid("b"), None)
        .unwrap();
    let journal = svc.take_journal();
    assert_eq!(show(&journal), ["+b@2", "+c@3", "-b@4"]);
    assert!(svc.take_journal().is_empty(), "taken once");
    // The journal and the history name the same entries the same way.
    let from_store = page(&svc, LogCursor::Seq(1)).events;
    assert_eq!(journal, from_store);
    let LogKind::Item { payload, .. } = &journal[0].kind else {
        panic!()
    };
    assert_eq!(payload.as_deref(), Some("<p>b</p>"));
    svc.set_journal(false);
    publish_ids(&mut svc, &["d"]);
    assert!(svc.take_journal().is_empty(), "off again");
}

#[test]
fn a_failed_write_journals_nothing() {
    let mut svc = service_with_node(&[]);
    svc.set_journal(true);
    fail_writes(&svc, true);
    let items = vec![item("x", "<p/>")];
    assert!(svc.publish(&ent(OWNER), &nn(NODE), items, None).is_err());
    assert!(svc.take_journal().is_empty());
}

#[test]
fn pages_start_after_any_kind_of_cursor() {
    let mut svc = service_with_node(&[]);
    publish_ids(&mut svc, &["a", "b", "c"]);
    let all = page(&svc, LogCursor::Seq(0));
    assert_eq!(show(&all.events), ["+a@1", "+b@2", "+c@3"]);
    assert!(all.complete && !all.trimmed);
    assert_eq!(all.high_seq, 3);
    let by_id = page(&svc, LogCursor::ArchiveId(all.events[0].archive_id.clone()));
    assert_eq!(show(&by_id.events), ["+b@2", "+c@3"]);
    let by_item = page(&svc, LogCursor::Item("b".into()));
    assert_eq!(show(&by_item.events), ["+c@3"]);
    let now = page(&svc, LogCursor::Now);
    assert!(now.events.is_empty() && now.complete);
    assert_eq!(now.after, 3);
    let since = page(&svc, LogCursor::Since(NOW_MS));
    assert_eq!(since.events.len(), 3);
    let later = page(&svc, LogCursor::Since(NOW_MS + 1));
    assert!(later.events.is_empty());
    // A page is bounded and says whether more follow.
    let first = svc.log_page(&nn(NODE), &LogCursor::Seq(0), 2).unwrap();
    assert_eq!(first.events.len(), 2);
    assert!(!first.complete);
}

#[test]
fn unknown_cursors_are_errors_not_the_start() {
    let mut svc = service_with_node(&[]);
    publish_ids(&mut svc, &["a"]);
    let bad = |c: LogCursor| svc.log_page(&nn(NODE), &c, 10).unwrap_err();
    assert_eq!(
        bad(LogCursor::ArchiveId("nope".into())),
        PubsubError::ItemNotFound
    );
    assert_eq!(bad(LogCursor::Item("zz".into())), PubsubError::ItemNotFound);
    let missing = svc.log_page(&nn("other"), &LogCursor::Seq(0), 10);
    assert_eq!(missing.unwrap_err(), PubsubError::NodeNotFound);
}

#[test]
fn a_cursor_older_than_the_history_is_reported_trimmed() {
    let mut svc = service();
    let mut s = settings();
    s.retention.history_max_entries = 2;
    svc.settings = s;
    let _ = svc.create_node(&ent(OWNER), Some(&nn(NODE)), None).unwrap();
    publish_ids(&mut svc, &["a", "b", "c", "d"]);
    svc.expire(NOW_MS).unwrap();
    let p = page(&svc, LogCursor::Seq(1));
    assert!(p.trimmed, "entries 2 and 3 are gone");
    assert_eq!(show(&p.events), ["+c@3", "+d@4"]);
    assert_eq!(p.after, 2);
    let fine = page(&svc, LogCursor::Seq(2));
    assert!(!fine.trimmed, "nothing lost after 2");
    let caught_up = page(&svc, LogCursor::Seq(4));
    assert!(!caught_up.trimmed && caught_up.events.is_empty());
}

#[test]
fn heads_name_matching_nodes_with_their_newest_seq() {
    let mut svc = service_with_node(&[]);
    publish_ids(&mut svc, &["a", "b"]);
    let heads = svc.log_heads(|n| n == NODE);
    assert_eq!(heads, vec![(NODE.to_owned(), 2)]);
    assert!(svc.log_heads(|_| false).is_empty());
}
