//! The real router over a `MemoryStore`: publishes queued together are
//! made durable by one flush, and nothing of a batch leaves before it.

use super::*;
use crate::app::executor::run_executor;
use crate::app::outboxes::Outboxes;
use crate::pubsub::ServiceSettings;
use crate::store::MemoryStore;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio_xmpp::parsers::iq::Iq;

const NODE: &str = "events";

/// After each commit: (store flushes so far, items in NODE).
type CommitLog = Vec<(u64, u64)>;
/// A released stanza and the flush count when it left the executor.
type Released = Vec<(Stanza, u64)>;

/// Records a [`CommitLog`] entry after each commit.
struct Probe {
    router: Router<MemoryStore>,
    log: Arc<Mutex<CommitLog>>,
}

impl Dispatch for Probe {
    fn handle(&mut self, job: Job, out: &mut Vec<Stanza>) {
        self.router.handle(job, out);
    }
    fn commit(&mut self) -> Result<(), String> {
        self.router.commit()?;
        let svc = &self.router.service;
        let items = svc.nodes.get(NODE).map_or(0, |n| n.count);
        self.log.lock().unwrap().push((svc.store.flushes, items));
        Ok(())
    }
}

fn iq(from: &str, id: String, set: bool, body: &str) -> Job {
    let payload = format!("<pubsub xmlns='http://jabber.org/protocol/pubsub'>{body}</pubsub>")
        .parse()
        .unwrap();
    let (from, to) = (
        Some(from.parse().unwrap()),
        Some("events.localhost".parse().unwrap()),
    );
    let iq = if set {
        Iq::Set {
            from,
            to,
            id,
            payload,
        }
    } else {
        Iq::Get {
            from,
            to,
            id,
            payload,
        }
    };
    Job::Xmpp(Inbound::Stanza(Stanza::Iq(iq)))
}

fn publish(k: usize) -> Job {
    let item = format!("<item id='i{k}'><entry xmlns='urn:test'>{k}</entry></item>");
    let body = format!("<publish node='{NODE}'>{item}</publish>");
    iq("alice@localhost/a", format!("p{k}"), true, &body)
}

/// Queues `jobs` before the executor starts, runs it to the end, and
/// returns the commit log and every stanza released, each paired with
/// the flush count seen when it left.
fn run_queued(jobs: Vec<Job>) -> (CommitLog, Released) {
    let settings = ServiceSettings {
        create_domains: vec!["localhost".into()],
        default_max_items: 10_000,
        ..ServiceSettings::default()
    };
    let ctx = ProtocolCtx {
        service_jid: "events.localhost".parse().unwrap(),
        max_payload_bytes: settings.max_payload_bytes,
        multicast: None,
    };
    let service = Service::open(MemoryStore::new(), settings).unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let probe = Probe {
        router: Router::new(service, ctx),
        log: log.clone(),
    };
    let (jobs_tx, jobs_rx) = mpsc::channel(jobs.len().max(1));
    for job in jobs {
        jobs_tx.try_send(job).ok().unwrap();
    }
    drop(jobs_tx);
    let (out_tx, mut out_rxs) = Outboxes::new(1, 16);
    let mut out_rx = out_rxs.remove(0);
    let core = std::thread::spawn(move || run_executor(probe, jobs_rx, out_tx));
    let mut released = Vec::new();
    while let Some(stanza) = out_rx.blocking_recv() {
        let flushes = log.lock().unwrap().last().map_or(0, |l| l.0);
        released.push((stanza, flushes));
    }
    core.join().unwrap().unwrap();
    let log = log.lock().unwrap().clone();
    (log, released)
}

fn setup_jobs() -> Vec<Job> {
    vec![
        iq(
            "alice@localhost/a",
            "create".into(),
            true,
            &format!("<create node='{NODE}'/>"),
        ),
        iq(
            "bob@localhost/b",
            "sub".into(),
            true,
            &format!("<subscribe node='{NODE}' jid='bob@localhost'/>"),
        ),
    ]
}

fn result_ids(released: &Released) -> Vec<String> {
    released
        .iter()
        .filter_map(|(s, _)| match s {
            Stanza::Iq(Iq::Result { id, .. }) => Some(id.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn two_hundred_queued_publishes_share_one_flush() {
    let mut jobs = setup_jobs();
    jobs.extend((0..200).map(publish));
    let (log, released) = run_queued(jobs);
    // One batch (MAX_BATCH is 512): one flush made all 200 durable.
    assert_eq!(log, vec![(1, 200)]);
    let results = result_ids(&released);
    assert_eq!(results.len(), 202, "every IQ answered");
    assert!(
        results[2..]
            .iter()
            .enumerate()
            .all(|(k, id)| *id == format!("p{k}"))
    );
    let notifications = released
        .iter()
        .filter(|(s, _)| matches!(s, Stanza::Message(_)))
        .count();
    assert_eq!(notifications, 200, "bob is told of every item");
    assert!(
        released.iter().all(|(_, flushes)| *flushes == 1),
        "a reply or notification left before the flush of its batch"
    );
}

#[test]
fn batches_are_capped_and_each_is_flushed_before_its_replies_leave() {
    let mut jobs = setup_jobs();
    jobs.extend((0..1100).map(publish));
    let (log, released) = run_queued(jobs);
    // 1102 jobs in batches of at most 512: three flushes, not 1100.
    assert_eq!(log, vec![(1, 510), (2, 1022), (3, 1100)]);
    for (stanza, flushes) in &released {
        if let Stanza::Iq(Iq::Result { id, .. }) = stanza
            && let Some(k) = id.strip_prefix('p')
        {
            let k: u64 = k.parse().unwrap();
            let batch_flush = if k < 510 {
                1
            } else if k < 1022 {
                2
            } else {
                3
            };
            assert!(
                *flushes >= batch_flush,
                "reply p{k} left after flush {flushes}"
            );
        }
    }
    assert_eq!(result_ids(&released).len(), 1102);
}

#[test]
fn read_only_batches_do_not_flush() {
    let mut jobs = setup_jobs();
    jobs.push(publish(0));
    let (log, _) = run_queued(jobs);
    assert_eq!(log, vec![(1, 1)]);
    let mut jobs = setup_jobs();
    jobs.extend((0..50).map(|k| {
        iq(
            "bob@localhost/b",
            format!("g{k}"),
            false,
            &format!("<items node='{NODE}'/>"),
        )
    }));
    let (log, released) = run_queued(jobs);
    // create + subscribe change state; the 50 reads add no flush.
    assert_eq!(log, vec![(1, 0)]);
    assert_eq!(result_ids(&released).len(), 52);
}
