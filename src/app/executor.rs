//! The core thread: owns the pubsub state, handles inbound work in batches
//! and makes each batch durable with one flush before anything it produced
//! leaves (group commit: concurrent publishes share a flush).

use super::outboxes::Outboxes;
use crate::component::Inbound;
use tokio::sync::mpsc;
use tokio_xmpp::Stanza;

/// Work for the core thread.
// Inbound stanzas, the common case, are the large variant (see Inbound);
// boxing them to shrink the rare jobs would cost an allocation per stanza.
#[allow(clippy::large_enum_variant)]
pub enum Job {
    Xmpp(Inbound),
    /// From HTTP: answered through its oneshot only after the commit.
    Ingest(crate::ingest::IngestJob),
    /// The component link completed a handshake (first or after a reconnect).
    LinkUp,
    /// Once a second: retention (`pubsub#item_expire`, history limits) and
    /// relay work (MUC rejoins, flood-control digests).
    Tick,
    /// Every `queue.tick_ms`: consumer-group ack deadlines and redeliveries.
    QueueTick,
    /// Taking over from another instance (`[cluster]`): notify these
    /// stored items (node, item as stored) again; the old leader may not
    /// have.
    Renotify(Vec<(crate::store::NodeId, crate::store::StoredItem)>),
}

impl Job {
    /// A job whose output leaves at once, without waiting for the jobs
    /// queued behind it: a takeover's notifications are of items already
    /// durable, and the publishes other instances kept while no leader
    /// served (hundreds, each a store round trip) must not hold them back.
    fn batches_alone(&self) -> bool {
        matches!(self, Job::Renotify(_))
    }
}

impl From<crate::ingest::IngestJob> for Job {
    fn from(job: crate::ingest::IngestJob) -> Self {
        Job::Ingest(job)
    }
}

impl From<Inbound> for Job {
    fn from(inbound: Inbound) -> Self {
        match inbound {
            Inbound::LinkUp => Job::LinkUp,
            other => Job::Xmpp(other),
        }
    }
}

/// What the executor drives; the router implements it.
pub trait Dispatch: Send + 'static {
    /// Handles one job, appending stanzas to send once the batch is durable.
    fn handle(&mut self, job: Job, out: &mut Vec<Stanza>);
    /// Makes the batch durable. An error here means acknowledged state may
    /// not be on disk: the executor stops so Herald restarts from disk.
    fn commit(&mut self) -> Result<(), String>;
    /// Called after a successful commit: completes the batch's deferred
    /// replies (HTTP answers), before its stanzas go to the outbox.
    fn release(&mut self) {}
    /// Called once the batch's stanzas were all handed to the outbox.
    fn sent(&mut self) {}
}

/// Jobs taken into one batch at most: bounds reply latency under load.
const MAX_BATCH: usize = 512;

/// Runs until every job sender is dropped or a commit fails.
pub fn run_executor<D: Dispatch>(
    mut dispatch: D,
    mut jobs: mpsc::Receiver<Job>,
    outbox: Outboxes,
) -> Result<(), String> {
    let mut out = Vec::new();
    while let Some(first) = jobs.blocking_recv() {
        let alone = first.batches_alone();
        dispatch.handle(first, &mut out);
        for _ in 1..if alone { 1 } else { MAX_BATCH } {
            match jobs.try_recv() {
                Ok(job) => dispatch.handle(job, &mut out),
                Err(_) => break,
            }
        }
        dispatch.commit()?;
        dispatch.release();
        for stanza in out.drain(..) {
            // Blocks when the outbox is full: backpressure to the clients.
            if outbox.blocking_send(stanza).is_err() {
                return Ok(());
            }
        }
        dispatch.sent();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Group commit with a stand-in dispatch whose commit is slow (like an
    //! fsync): concurrent jobs pile up during a commit and share the next.
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;
    use tokio_xmpp::minidom::Element;
    use tokio_xmpp::parsers::iq::Iq;

    /// Answers every IQ with a result carrying its id; counts commits and
    /// publishes how many jobs the finished commits cover.
    struct SlowCommit {
        handled: usize,
        commits: Arc<AtomicUsize>,
        durable_jobs: Arc<AtomicUsize>,
    }

    impl Dispatch for SlowCommit {
        fn handle(&mut self, job: Job, out: &mut Vec<Stanza>) {
            let Job::Xmpp(Inbound::Stanza(Stanza::Iq(Iq::Get { id, .. }))) = job else {
                assert!(matches!(job, Job::Renotify(_)), "unexpected job");
                self.handled += 1;
                return;
            };
            self.handled += 1;
            out.push(Stanza::Iq(Iq::Result {
                from: None,
                to: None,
                id,
                payload: None,
            }));
        }

        fn commit(&mut self) -> Result<(), String> {
            std::thread::sleep(Duration::from_millis(2));
            self.commits.fetch_add(1, Ordering::SeqCst);
            self.durable_jobs.store(self.handled, Ordering::SeqCst);
            Ok(())
        }
    }

    fn job(k: usize) -> Job {
        Job::Xmpp(Inbound::Stanza(Stanza::Iq(Iq::Get {
            from: None,
            to: None,
            id: format!("j{k}"),
            payload: Element::builder("ping", "urn:xmpp:ping").build(),
        })))
    }

    #[test]
    fn concurrent_jobs_share_commits_and_replies_wait_for_theirs() {
        const JOBS: usize = 2000;
        let commits = Arc::new(AtomicUsize::new(0));
        let durable = Arc::new(AtomicUsize::new(0));
        let (jobs_tx, jobs_rx) = mpsc::channel(64);
        let (out_tx, mut out_rxs) = Outboxes::new(1, 64);
        let mut out_rx = out_rxs.remove(0);
        let dispatch = SlowCommit {
            handled: 0,
            commits: commits.clone(),
            durable_jobs: durable.clone(),
        };
        let core = std::thread::spawn(move || run_executor(dispatch, jobs_rx, out_tx));
        let producer = std::thread::spawn(move || {
            for k in 0..JOBS {
                jobs_tx.blocking_send(job(k)).unwrap();
            }
        });
        let mut replies = 0;
        while let Some(Stanza::Iq(Iq::Result { id, .. })) = out_rx.blocking_recv() {
            let k: usize = id[1..].parse().unwrap();
            // Job k is durable once a finished commit covers k+1 jobs.
            assert!(
                durable.load(Ordering::SeqCst) > k,
                "reply {id} released before the commit of its batch"
            );
            assert_eq!(k, replies, "replies keep the job order");
            replies += 1;
        }
        producer.join().unwrap();
        core.join().unwrap().unwrap();
        assert_eq!(replies, JOBS);
        let commits = commits.load(Ordering::SeqCst);
        // One commit per job would be 2000; a 2 ms commit lets the
        // producer fill the 64-slot queue, so batches are near 64.
        assert!(commits * 10 < JOBS, "{commits} commits for {JOBS} jobs");
    }

    #[test]
    fn a_takeovers_notifications_leave_before_the_jobs_queued_behind_them() {
        let commits = Arc::new(AtomicUsize::new(0));
        let (jobs_tx, jobs_rx) = mpsc::channel(8);
        jobs_tx.try_send(Job::Renotify(Vec::new())).unwrap();
        for k in 0..3 {
            jobs_tx.try_send(job(k)).unwrap();
        }
        drop(jobs_tx);
        let (out_tx, _out_rxs) = Outboxes::new(1, 64);
        let dispatch = SlowCommit {
            handled: 0,
            commits: commits.clone(),
            durable_jobs: Arc::new(AtomicUsize::new(0)),
        };
        run_executor(dispatch, jobs_rx, out_tx).unwrap();
        // The renotify commits (and releases) alone; the rest share one.
        assert_eq!(commits.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_failed_commit_releases_nothing_of_its_batch() {
        struct Failing;
        impl Dispatch for Failing {
            fn handle(&mut self, _job: Job, out: &mut Vec<Stanza>) {
                out.push(Stanza::Iq(Iq::Result {
                    from: None,
                    to: None,
                    id: "x".into(),
                    payload: None,
                }));
            }
            fn commit(&mut self) -> Result<(), String> {
                Err("disk full".into())
            }
        }
        let (jobs_tx, jobs_rx) = mpsc::channel(8);
        let (out_tx, mut out_rxs) = Outboxes::new(1, 8);
        let mut out_rx = out_rxs.remove(0);
        for k in 0..3 {
            jobs_tx.try_send(job(k)).unwrap();
        }
        drop(jobs_tx);
        assert_eq!(
            run_executor(Failing, jobs_rx, out_tx),
            Err("disk full".into())
        );
        assert!(out_rx.try_recv().is_err(), "a reply left without a commit");
    }
}
