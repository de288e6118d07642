//! Webhook delivery's view of the core (`webhooks::port::CorePort`),
//! over the same job queue and gate as HTTP requests: reads of the log
//! and writes of endpoint records, each answered after its commit.

use std::sync::Arc;

use futures::future::BoxFuture;

use super::job::{IngestJob, JobGate, WebhookOp};
use crate::node_pattern::NodePattern;
use crate::pubsub::{LogCursor, LogPage, NodeName};
use crate::webhooks::port::{CorePort, PortError};

pub struct GatePort(pub Arc<JobGate>);

fn unavailable(e: super::error::ApiError) -> PortError {
    PortError::Unavailable(e.message)
}

impl CorePort for GatePort {
    fn page(
        &self,
        node: NodeName,
        cursor: LogCursor,
        max: usize,
    ) -> BoxFuture<'_, Result<LogPage, PortError>> {
        Box::pin(async move {
            let job = |reply| IngestJob::Log {
                node,
                cursor,
                max,
                reply,
            };
            Ok(self.0.submit(job).await.map_err(unavailable)??)
        })
    }

    fn heads(
        &self,
        patterns: Vec<NodePattern>,
    ) -> BoxFuture<'_, Result<Vec<(String, u64)>, PortError>> {
        Box::pin(async move {
            let job = |reply| IngestJob::LogHeads { patterns, reply };
            self.0.submit(job).await.map_err(unavailable)
        })
    }

    fn load(&self) -> BoxFuture<'_, Result<Vec<Vec<u8>>, PortError>> {
        Box::pin(async move {
            let job = |reply| IngestJob::Webhooks {
                op: WebhookOp::Load,
                reply,
            };
            let records = self.0.submit(job).await.map_err(unavailable)?;
            let records = records.map_err(PortError::Unavailable)?;
            Ok(records.into_iter().map(|(_, blob)| blob).collect())
        })
    }

    fn save(&self, id: String, record: Option<Vec<u8>>) -> BoxFuture<'_, Result<(), PortError>> {
        Box::pin(async move {
            let op = match record {
                Some(record) => WebhookOp::Put { id, record },
                None => WebhookOp::Delete { id },
            };
            let job = |reply| IngestJob::Webhooks { op, reply };
            let answer = self.0.submit(job).await.map_err(unavailable)?;
            answer.map(|_| ()).map_err(PortError::Unavailable)
        })
    }
}
