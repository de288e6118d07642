//! Handing fan-out from one leader to the next. The leader records, per
//! partition stream, the sequence up to which it has had writes
//! acknowledged, a few seconds behind (by then their notifications have
//! left the outbox). A new leader notifies again every item stored after
//! the recorded point: at-least-once, a notification may repeat after a
//! failover, never go missing.

use crate::store::{NodeId, PartitionLog, StoredItem};
use async_nats::jetstream::kv;
use std::collections::VecDeque;
use std::time::Duration;

const KEY: &str = "marks";
/// How far behind the acknowledged writes the recorded point stays, in
/// recording periods: a batch's notifications go out within milliseconds
/// of its acknowledgement; the outbox is bounded.
const LAG: usize = 2;
const PERIOD: Duration = Duration::from_secs(1);

pub struct Marks {
    kv: kv::Store,
}

impl Marks {
    pub fn new(kv: kv::Store) -> Self {
        Self { kv }
    }

    async fn load(&self) -> Result<Option<Vec<u64>>, String> {
        let entry = self.kv.entry(KEY).await.map_err(|e| e.to_string())?;
        Ok(entry
            .filter(|e| e.operation == kv::Operation::Put)
            .and_then(|e| serde_json::from_slice(&e.value).ok()))
    }

    async fn save(&self, marks: &[u64]) -> Result<(), String> {
        let value = serde_json::to_vec(marks).map_err(|e| e.to_string())?;
        self.kv
            .put(KEY, value.into())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// What a new leader must notify again, and the point it starts
/// recording from (the partitions' heads now). Call before this instance
/// writes anything.
pub async fn takeover(
    log: &PartitionLog,
    marks: &Marks,
) -> Result<(Vec<(NodeId, StoredItem)>, Vec<u64>), String> {
    let heads = log.heads().await.map_err(|e| e.to_string())?;
    let Some(recorded) = marks.load().await? else {
        // The first leader of this cluster: nothing was stored before.
        marks.save(&heads).await?;
        return Ok((Vec::new(), heads));
    };
    let mut items = Vec::new();
    for (p, head) in heads.iter().enumerate() {
        // A partition count changed since: nothing recorded to go by.
        let after = recorded.get(p).copied().unwrap_or(*head);
        let found = log
            .items_between(p as u32, after, *head)
            .await
            .map_err(|e| e.to_string())?;
        items.extend(found.into_iter().map(|i| (i.node, i.item)));
    }
    Ok((items, heads))
}

/// Records the acknowledged point every second, [`LAG`] periods behind,
/// for as long as this instance leads (the process ends otherwise).
pub async fn record(log: PartitionLog, marks: Marks, base: Vec<u64>) {
    let mut seen: VecDeque<Vec<u64>> = VecDeque::new();
    let mut saved = base.clone();
    let mut every = tokio::time::interval(PERIOD);
    loop {
        every.tick().await;
        let now: Vec<u64> = log
            .acked()
            .iter()
            .zip(&base)
            .map(|(a, b)| (*a).max(*b))
            .collect();
        seen.push_back(now);
        if seen.len() <= LAG {
            continue;
        }
        let Some(point) = seen.pop_front() else {
            continue;
        };
        if point != saved {
            match marks.save(&point).await {
                Ok(()) => saved = point,
                Err(e) => tracing::warn!(error = %e, "fan-out point not recorded; retrying"),
            }
        }
    }
}
