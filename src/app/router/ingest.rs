//! HTTP ingest jobs on the core thread. Answers wait in `deferred` until
//! the batch's commit succeeded (`release`); if the commit fails the
//! executor stops, the senders drop, and HTTP answers 503.

use super::Router;
use crate::ingest::{ConsoleAnswer, ConsoleQuery, IngestJob, WebhookOp};
use crate::metrics::{METRICS, Source};
use crate::protocol::notify;
use crate::store::Store;
use tokio_xmpp::Stanza;

/// Retention of idempotency keys (`http.idempotency_*`).
#[derive(Debug, Clone, Copy)]
pub struct IngestPolicy {
    pub retention_ms: u64,
    pub max_keys: usize,
}

/// The `[http]` defaults, defined once in `config.rs`.
impl Default for IngestPolicy {
    fn default() -> Self {
        crate::app::settings::ingest_policy(&crate::config::HttpConfig::default())
    }
}

/// Keyed publishes between two prunes of old idempotency keys.
const PRUNE_EVERY: u64 = 1024;

type Deferred = Box<dyn FnOnce() + Send>;

#[derive(Default)]
pub(super) struct IngestState {
    policy: IngestPolicy,
    deferred: Vec<Deferred>,
    keyed_since_prune: u64,
}

impl IngestState {
    pub(super) fn release(&mut self) {
        for answer in self.deferred.drain(..) {
            answer();
        }
    }
}

impl<S: Store> Router<S> {
    /// Sets how long and how many idempotency keys are kept.
    pub fn with_ingest_policy(mut self, policy: IngestPolicy) -> Self {
        self.ingest.policy = policy;
        self
    }

    pub(super) fn route_ingest(&mut self, job: IngestJob, out: &mut Vec<Stanza>) {
        match job {
            IngestJob::Publish { request, reply } => {
                let keyed = request.idempotency.is_some();
                let max = self.service.settings().max_stanza_bytes;
                let answer = self.service.ingest(request).map(|outcome| {
                    let jid = &self.ctx.service_jid;
                    let rendered = notify::render_all(
                        jid,
                        max,
                        self.ctx.multicast.as_ref(),
                        &outcome.notifications,
                    );
                    self.notify(rendered, out);
                    // Only what was stored anew: no replay, no unchanged item.
                    self.job_published |= !outcome.published.is_empty();
                    let fresh: usize = outcome.published.iter().map(|p| p.items.len()).sum();
                    METRICS.add_published(Source::Http, fresh as u64);
                    outcome.reply
                });
                if keyed {
                    self.maybe_prune();
                }
                self.ingest.deferred.push(Box::new(move || {
                    let _ = reply.send(answer);
                }));
            }
            IngestJob::Stats { reply } => {
                let _ = reply.send(self.service.stats());
            }
            IngestJob::Log {
                node,
                cursor,
                max,
                reply,
            } => {
                let page = self.service.log_page(&node, &cursor, max);
                self.ingest.deferred.push(Box::new(move || {
                    let _ = reply.send(page);
                }));
            }
            IngestJob::LogHeads { patterns, reply } => {
                let heads =
                    (self.service).log_heads(|node| patterns.iter().any(|p| p.matches(node)));
                self.ingest.deferred.push(Box::new(move || {
                    let _ = reply.send(heads);
                }));
            }
            IngestJob::Console { query, reply } => {
                let answer = match query {
                    ConsoleQuery::Nodes {
                        patterns,
                        after,
                        max,
                    } => ConsoleAnswer::Nodes(self.service.node_overviews(
                        |node| patterns.iter().any(|p| p.matches(node)),
                        after.as_deref(),
                        max,
                    )),
                    ConsoleQuery::Node(node) => {
                        ConsoleAnswer::Node(Box::new(self.service.node_detail(&node)))
                    }
                    ConsoleQuery::DeadLetters(node) => {
                        ConsoleAnswer::DeadLetters(self.service.dead_letters(&node))
                    }
                };
                let _ = reply.send(answer);
            }
            IngestJob::ResendDeadLetter { node, item, reply } => {
                let max = self.service.settings().max_stanza_bytes;
                let answer = self
                    .service
                    .resend_dead_letter(&node, &item)
                    .map(|outcome| {
                        let jid = &self.ctx.service_jid;
                        let rendered = notify::render_all(
                            jid,
                            max,
                            self.ctx.multicast.as_ref(),
                            &outcome.notifications,
                        );
                        self.notify(rendered, out);
                    });
                self.ingest.deferred.push(Box::new(move || {
                    let _ = reply.send(answer);
                }));
            }
            IngestJob::Probe { reply } => {
                self.service.require_flush();
                self.ingest.deferred.push(Box::new(move || {
                    let _ = reply.send(());
                }));
            }
            IngestJob::Webhooks { op, reply } => {
                let answer = match op {
                    WebhookOp::Load => self.service.webhook_records(),
                    WebhookOp::Put { id, record } => self
                        .service
                        .put_webhook_record(&id, &record)
                        .map(|()| Vec::new()),
                    WebhookOp::Delete { id } => {
                        self.service.delete_webhook_record(&id).map(|()| Vec::new())
                    }
                };
                let answer = answer.map_err(|e| e.to_string());
                self.ingest.deferred.push(Box::new(move || {
                    let _ = reply.send(answer);
                }));
            }
        }
    }

    fn maybe_prune(&mut self) {
        self.ingest.keyed_since_prune += 1;
        if self.ingest.keyed_since_prune < PRUNE_EVERY {
            return;
        }
        self.ingest.keyed_since_prune = 0;
        let p = self.ingest.policy;
        let now = self.service.now_ms();
        match self
            .service
            .prune_idempotency(now, p.retention_ms, p.max_keys)
        {
            Ok(n) if n > 0 => tracing::debug!(removed = n, "idempotency keys pruned"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning idempotency keys failed"),
        }
    }
}
