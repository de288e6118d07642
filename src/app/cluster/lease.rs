//! The leader lease: one KV entry whose bucket expires entries after the
//! lease TTL. Whoever creates the entry leads; the leader renews it by
//! revision, so a lease taken over by another instance cannot be renewed
//! by mistake. A leader that could not renew for 3/4 of the TTL steps down
//! before anyone else may take the lease.

use async_nats::jetstream::kv;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

const KEY: &str = "leader";

/// Bounds one renewal attempt: a request sent to a lease bucket whose
/// NATS leader died is never answered, and the next attempt, sent once
/// the bucket leads again, is what renews (issue 12).
const RENEW_ATTEMPT: Duration = Duration::from_secs(1);
/// Wait before the next attempt after a failed renewal: short, so the
/// lease is renewed soon after a NATS election ends instead of up to a
/// period later, when the 3/4 TTL may have run out.
const RENEW_RETRY: Duration = Duration::from_millis(250);

/// How long a leader last renewed `since` ago waits before renewing again:
/// a period (TTL/4) after a renewal; soon after a failed one (the last
/// success is then a period old or more); never past the 3/4 TTL at which
/// it must step down.
fn renewal_wait(ttl: Duration, since: Duration) -> Duration {
    let period = ttl / 4;
    let left = (ttl * 3 / 4).saturating_sub(since);
    let wait = if since >= period {
        RENEW_RETRY
    } else {
        period - since
    };
    wait.min(left)
}

/// What the lease entry says about its holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub instance: String,
    /// Where the holder takes forwarded HTTP requests (`None`: no HTTP).
    pub http: Option<String>,
    /// `false` while the holder is still loading: nothing is forwarded to
    /// it before it serves.
    pub serving: bool,
}

pub struct Lease {
    kv: kv::Store,
    ttl: Duration,
}

/// A held lease: its revision and when it was last renewed.
pub struct Held {
    revision: u64,
    renewed: Instant,
    pub holder: Holder,
}

#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("the lease was taken by another instance")]
    Lost,
    #[error("the lease could not be renewed for {0:?}")]
    Expired(Duration),
}

impl Lease {
    pub fn new(kv: kv::Store, ttl: Duration) -> Self {
        Self { kv, ttl }
    }

    /// How often a leader renews.
    pub fn period(&self) -> Duration {
        self.ttl / 4
    }

    /// How long a leader waits before renewing `held` again.
    pub fn next_renewal(&self, held: &Held) -> Duration {
        renewal_wait(self.ttl, held.renewed.elapsed())
    }

    /// How often a follower looks: often, as the time from an expiry to
    /// its takeover adds to the failover (one KV read per look).
    pub fn look_period(&self) -> Duration {
        (self.ttl / 20).clamp(Duration::from_millis(50), self.period())
    }

    /// The current holder, if any (`Err`: the cluster did not answer).
    pub async fn holder(&self) -> Result<Option<Holder>, String> {
        let entry = self.kv.entry(KEY).await.map_err(|e| e.to_string())?;
        Ok(entry
            .filter(|e| e.operation == kv::Operation::Put)
            .and_then(|e| serde_json::from_slice(&e.value).ok()))
    }

    /// Takes the lease if nobody holds it.
    pub async fn try_take(&self, holder: Holder) -> Option<Held> {
        let value = serde_json::to_vec(&holder).ok()?;
        let sent = Instant::now();
        match self.kv.create(KEY, value.into()).await {
            Ok(revision) => Some(Held {
                revision,
                renewed: sent,
                holder,
            }),
            Err(_) => None,
        }
    }

    /// Renews `held` (with its holder as it is now). Fails for good when
    /// another instance holds the lease, or when renewals have failed for
    /// 3/4 of the TTL: by then the entry may be about to expire.
    pub async fn renew(&self, held: &mut Held) -> Result<(), LeaseError> {
        let value = serde_json::to_vec(&held.holder).unwrap_or_default();
        // The entry's age counts from when the server stored it, after
        // this moment: timing from here never overestimates what is left.
        let sent = Instant::now();
        // No attempt may outlast the 3/4 TTL this leader may run unrenewed.
        let left = (self.ttl * 3 / 4).saturating_sub(held.renewed.elapsed());
        let attempt = tokio::time::timeout(
            self.period().min(left).min(RENEW_ATTEMPT),
            self.kv.update(KEY, value.into(), held.revision),
        )
        .await;
        match attempt {
            Ok(Ok(revision)) => {
                held.revision = revision;
                held.renewed = sent;
                return Ok(());
            }
            Ok(Err(e)) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                // Our own update may have landed with its ack lost: it is
                // ours if the entry says so.
                if let Ok(Some(entry)) = self.kv.entry(KEY).await
                    && entry.operation == kv::Operation::Put
                    && serde_json::from_slice::<Holder>(&entry.value).ok().as_ref()
                        == Some(&held.holder)
                {
                    held.revision = entry.revision;
                    held.renewed = sent;
                    return Ok(());
                }
                return Err(LeaseError::Lost);
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "lease renewal failed"),
            Err(_) => tracing::warn!("lease renewal timed out"),
        }
        let since = held.renewed.elapsed();
        if since >= self.ttl * 3 / 4 {
            return Err(LeaseError::Expired(since));
        }
        Ok(())
    }

    /// Gives the lease up (shutdown): a follower takes over at once
    /// instead of after the TTL.
    pub async fn release(&self, held: &Held) {
        if let Err(e) = self
            .kv
            .purge_expect_revision(KEY, Some(held.revision))
            .await
        {
            tracing::warn!(error = %e, "lease not released; it expires by itself");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renews_every_period_and_retries_a_failed_renewal_soon() {
        let ttl = Duration::from_secs(10);
        let ms = Duration::from_millis;
        // Just renewed: a period (2.5 s) later.
        assert_eq!(renewal_wait(ttl, ms(0)), ms(2500));
        assert_eq!(renewal_wait(ttl, ms(100)), ms(2400));
        // The renewal due at 2.5 s failed: again in 250 ms, not 2.5 s.
        assert_eq!(renewal_wait(ttl, ms(2500)), RENEW_RETRY);
        assert_eq!(renewal_wait(ttl, ms(7000)), RENEW_RETRY);
        // Never past the 3/4 TTL (7.5 s) a leader may run unrenewed.
        assert_eq!(renewal_wait(ttl, ms(7400)), ms(100));
        assert_eq!(renewal_wait(ttl, ms(7600)), ms(0));
    }
}
