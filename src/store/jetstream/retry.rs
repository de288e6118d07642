//! How long the store waits on NATS, and when it asks again. Every
//! timeout of the JetStream store is here.
//!
//! A stream whose leader died answers nothing until its followers elect a
//! new one (4-9 s on nats-server 2.9, not configurable), then at once. A
//! request sent before that moment is never answered: the store only
//! learns it by its attempt timing out. So attempts are short and asked
//! again until [`RETRY_FOR`] runs out: once the stream leads again, what
//! Herald still waits is at most one attempt and one back-off, not one
//! long request timeout (issue 12: acks came back up to 5.2 s after the
//! new leader with one 3 s wait per request).

use crate::store::{StoreError, StoreResult};
use std::time::{Duration, Instant};

/// One attempt of a small request (a read by subject, stream info, a KV
/// get) or one wait for a publish's ack. A stream with a leader answers
/// these in milliseconds, even loaded (acks are awaited in send order,
/// so the later ones of a batch are there when asked for); an attempt
/// that runs out is sent again, which is safe: reads have no effect, and
/// every write is recognised when it lands twice (`Nats-Msg-Id`, or a KV
/// write by revision read back; see `settle` and `put_meta`).
pub const ATTEMPT: Duration = Duration::from_millis(500);

/// One attempt of a request whose work grows with the data (purges,
/// subject listings, stream and bucket creation), and the NATS client's
/// own request timeout. Long, so a large purge is not cut short and
/// retried: its answer counts what it removed, and a retry of a purge
/// that landed would count nothing.
pub const HEAVY_ATTEMPT: Duration = Duration::from_secs(3);

/// How long a request that got no answer is asked again, and a publish
/// whose ack was lost resent (same `Nats-Msg-Id`, so a copy already
/// stored is not stored twice: inside the server's 2-minute duplicate
/// window). Longer than any election; past it the write fails and the
/// core stops (docs/architecture.md, "Durable before acknowledged").
pub const RETRY_FOR: Duration = Duration::from_secs(60);

/// How long connecting to one NATS server may take before the client
/// tries the next of `servers`.
pub const CONNECT: Duration = Duration::from_secs(5);

/// How long a takeover's read of a partition's items (an ordered
/// consumer, `fanout.rs`) waits for the next message before it takes the
/// stream as read to its end.
pub const CONSUMER_IDLE: Duration = Duration::from_secs(5);

/// Waits after a refusal that came at once ("no responders" while the
/// stream has no leader, 503 "cluster not available"): short, so the
/// first attempt after the election goes out soon; doubling, so many
/// pending requests do not hammer the surviving servers meanwhile.
const BACKOFF_FIRST: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_millis(250);

/// The pacing of one operation's attempts.
#[derive(Debug)]
pub struct Retry {
    deadline: Instant,
    /// The bound of one attempt: an attempt that took it timed out.
    attempt: Duration,
    backoff: Duration,
}

impl Retry {
    pub fn starting(now: Instant, attempt: Duration) -> Self {
        Self {
            deadline: now + RETRY_FOR,
            attempt,
            backoff: BACKOFF_FIRST,
        }
    }

    /// After an attempt begun at `started` failed at `now`: how long to
    /// wait before the next one, `None` once past the deadline. An attempt
    /// that ran out its time goes again at once (it has waited already);
    /// one refused early waits a back-off.
    pub fn after_failure(&mut self, started: Instant, now: Instant) -> Option<Duration> {
        if now >= self.deadline {
            return None;
        }
        if now.duration_since(started) >= self.attempt {
            return Some(Duration::ZERO);
        }
        let wait = self.backoff;
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
        Some(wait)
    }

    /// Waits as [`Self::after_failure`] says, or gives up with `err`.
    pub async fn pause(&mut self, started: Instant, what: &str, err: &str) -> StoreResult<()> {
        match self.after_failure(started, Instant::now()) {
            Some(wait) => {
                tokio::time::sleep(wait).await;
                Ok(())
            }
            None => Err(StoreError::Io(format!("jetstream {what} (retried): {err}"))),
        }
    }
}

/// Runs `op`, each attempt bounded by `attempt`, again while it fails,
/// for up to [`RETRY_FOR`]. `op` must be safe to repeat.
pub async fn retrying<T, E, F>(
    what: &str,
    attempt: Duration,
    mut op: impl FnMut() -> F,
) -> StoreResult<T>
where
    E: std::fmt::Display,
    F: Future<Output = Result<T, E>>,
{
    let mut retry = Retry::starting(Instant::now(), attempt);
    let mut failures = 0u32;
    loop {
        let started = Instant::now();
        let err = match tokio::time::timeout(attempt, op()).await {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer in {} ms", attempt.as_millis()),
        };
        // Once per operation: an election retries every few hundred ms.
        if failures == 0 {
            tracing::warn!(error = %err, "JetStream {what} failed; retrying");
        }
        failures += 1;
        retry.pause(started, what, &err).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timed_out_attempt_goes_again_at_once() {
        let t0 = Instant::now();
        let mut r = Retry::starting(t0, ATTEMPT);
        assert_eq!(r.after_failure(t0, t0 + ATTEMPT), Some(Duration::ZERO));
        assert_eq!(
            r.after_failure(t0 + ATTEMPT, t0 + ATTEMPT * 3),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn an_early_refusal_backs_off_doubling_up_to_the_cap() {
        let t0 = Instant::now();
        let mut r = Retry::starting(t0, ATTEMPT);
        let waits: Vec<_> = (0..5)
            .map(|_| r.after_failure(t0, t0).expect("before the deadline"))
            .collect();
        let ms = |n| Duration::from_millis(n);
        assert_eq!(waits, vec![ms(50), ms(100), ms(200), ms(250), ms(250)]);
        // Never longer than one attempt: a refusal retried soon after the
        // election adds no more than a timed-out attempt would.
        assert!(BACKOFF_MAX <= ATTEMPT);
    }

    #[test]
    fn gives_up_at_the_deadline() {
        let t0 = Instant::now();
        let mut r = Retry::starting(t0, ATTEMPT);
        assert!(r.after_failure(t0, t0 + RETRY_FOR - ATTEMPT).is_some());
        assert_eq!(r.after_failure(t0, t0 + RETRY_FOR), None);
    }

    #[test]
    fn attempts_fit_the_duplicate_window_and_the_client_timeout() {
        // Resends carry the first send's Nats-Msg-Id: all of them must
        // fall inside nats-server's default 2-minute duplicate window.
        assert!(RETRY_FOR < Duration::from_secs(120));
        assert!(ATTEMPT < HEAVY_ATTEMPT);
    }

    #[test]
    fn retrying_bounds_each_attempt_and_returns_the_first_success() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        let attempt = Duration::from_millis(40);
        let mut calls = 0;
        let started = Instant::now();
        let got: StoreResult<u32> = rt.block_on(retrying("read", attempt, || {
            calls += 1;
            let n = calls;
            async move {
                if n < 3 {
                    // Never answered: the request went to a dead leader.
                    std::future::pending::<()>().await;
                }
                Ok::<_, String>(n)
            }
        }));
        assert_eq!(got.ok(), Some(3));
        let took = started.elapsed();
        // Two attempts ran out and went again at once (no back-off).
        assert!(took >= attempt * 2, "{took:?}");
        assert!(took < attempt * 2 + BACKOFF_FIRST, "{took:?}");
    }

    #[test]
    fn retrying_backs_off_after_a_refusal() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        let mut calls = 0;
        let started = Instant::now();
        let got: StoreResult<u32> = rt.block_on(retrying("read", ATTEMPT, || {
            calls += 1;
            let n = calls;
            async move {
                match n {
                    1 => Err("no responders"),
                    _ => Ok(n),
                }
            }
        }));
        assert_eq!(got.ok(), Some(2));
        let took = started.elapsed();
        assert!(took >= BACKOFF_FIRST && took < ATTEMPT, "{took:?}");
    }
}
