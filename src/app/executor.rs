//! The core thread: owns the pubsub state, handles inbound work in batches
//! and makes each batch durable with one flush before anything it produced
//! leaves (group commit: concurrent publishes share a flush).

use crate::component::Inbound;
use tokio::sync::mpsc;
use tokio_xmpp::Stanza;

/// Work for the core thread.
// Jobs move through a channel once; boxing the stanza would only add an
// allocation per stanza.
#[allow(clippy::large_enum_variant)]
pub enum Job {
    Xmpp(Inbound),
    /// Once a second: retention (`pubsub#item_expire`, history limits).
    Tick,
}

impl From<Inbound> for Job {
    fn from(inbound: Inbound) -> Self {
        Job::Xmpp(inbound)
    }
}

/// What the executor drives; the router implements it.
pub trait Dispatch: Send + 'static {
    /// Handles one job, appending stanzas to send once the batch is durable.
    fn handle(&mut self, job: Job, out: &mut Vec<Stanza>);
    /// Makes the batch durable. An error here means acknowledged state may
    /// not be on disk: the executor stops so Herald restarts from disk.
    fn commit(&mut self) -> Result<(), String>;
}

/// Jobs taken into one batch at most: bounds reply latency under load.
const MAX_BATCH: usize = 512;

/// Runs until every job sender is dropped or a commit fails.
pub fn run_executor<D: Dispatch>(
    mut dispatch: D,
    mut jobs: mpsc::Receiver<Job>,
    outbox: mpsc::Sender<Stanza>,
) -> Result<(), String> {
    let mut out = Vec::new();
    while let Some(first) = jobs.blocking_recv() {
        dispatch.handle(first, &mut out);
        for _ in 1..MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => dispatch.handle(job, &mut out),
                Err(_) => break,
            }
        }
        dispatch.commit()?;
        for stanza in out.drain(..) {
            // Blocks when the outbox is full: backpressure to the clients.
            if outbox.blocking_send(stanza).is_err() {
                return Ok(());
            }
        }
    }
    Ok(())
}
