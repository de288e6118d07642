//! One publication to one endpoint, attempt after attempt until it is
//! delivered (2xx), refused for good (410 Gone) or out of schedule
//! (dead letter). Every attempt re-resolves and re-checks the URL (a host
//! may move to a private address), signs with a fresh timestamp and the
//! same `webhook-id`, and is logged for `GET /v1/webhooks/{id}/deliveries`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::schedule::{NextStep, RetrySchedule, parse_retry_after};
use super::sender::{self, SignedHeaders};
use super::signing::SigningKeys;
use super::url_safety;

/// How attempts are made (from `[webhooks]`).
#[derive(Debug, Clone)]
pub struct Policy {
    pub schedule: RetrySchedule,
    pub timeout: Duration,
    pub allow_private: bool,
    /// Kept-alive connections, shared by every endpoint's deliveries.
    pub pool: std::sync::Arc<sender::ConnectionPool>,
}

/// One attempt as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptLog {
    pub msg_id: String,
    pub attempt: u32,
    pub at_ms: u64,
    pub status: Option<u16>,
    pub latency_ms: u64,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered {
        attempts: u32,
    },
    /// 410: the endpoint is to be disabled.
    Gone {
        attempts: u32,
    },
    /// The schedule ran out: the publication goes to the dead letters.
    DeadLetter {
        attempts: u32,
        last_error: String,
    },
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn jitter_source() -> u64 {
    let mut bytes = [0u8; 8];
    // No randomness only means no jitter.
    let _ = getrandom::getrandom(&mut bytes);
    u64::from_le_bytes(bytes)
}

/// Attempts `body` at `url` until an [`Outcome`], logging each attempt
/// through `log`. `keys` is read at each attempt, so a rotation during the
/// retries signs the later attempts with the new secret.
pub async fn deliver(
    url: &str,
    keys: impl Fn() -> SigningKeys,
    msg_id: &str,
    body: Bytes,
    policy: &Policy,
    mut log: impl FnMut(AttemptLog),
) -> Outcome {
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let at_ms = now_ms();
        let (status, retry_after, error, latency_ms) =
            match url_safety::resolve(url, policy.allow_private).await {
                Ok(target) => {
                    let timestamp_s = at_ms / 1000;
                    let headers = SignedHeaders {
                        id: msg_id.to_owned(),
                        timestamp_s,
                        signature: keys().header(msg_id, timestamp_s, &body, at_ms),
                    };
                    let a = sender::post(
                        &policy.pool,
                        &target,
                        &headers,
                        body.clone(),
                        policy.timeout,
                    )
                    .await;
                    let error = match (&a.error, a.status) {
                        (Some(e), _) => Some(e.clone()),
                        (None, Some(s)) if !a.succeeded() => Some(format!("HTTP {s}")),
                        _ => None,
                    };
                    (a.status, a.retry_after, error, a.latency.as_millis() as u64)
                }
                Err(e) => (None, None, Some(e.to_string()), 0),
            };
        log(AttemptLog {
            msg_id: msg_id.to_owned(),
            attempt,
            at_ms,
            status,
            latency_ms,
            error: error.clone(),
        });
        match status {
            Some(s) if (200..300).contains(&s) => return Outcome::Delivered { attempts: attempt },
            Some(410) => return Outcome::Gone { attempts: attempt },
            _ => {}
        }
        let asked = retry_after
            .as_deref()
            .and_then(|v| parse_retry_after(v, at_ms / 1000));
        match policy
            .schedule
            .after_failure(attempt, asked, jitter_source())
        {
            NextStep::RetryIn(delay) => tokio::time::sleep(delay).await,
            NextStep::DeadLetter => {
                return Outcome::DeadLetter {
                    attempts: attempt,
                    last_error: error.unwrap_or_default(),
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::signing::Secret;
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Answers each connection with the next reply; records each request.
    async fn receiver(replies: Vec<&'static str>) -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/in", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        tokio::spawn(async move {
            for reply in replies {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = vec![0u8; 4096];
                let n = s.read(&mut buf).await.unwrap();
                record
                    .lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
                if !reply.is_empty() {
                    s.write_all(reply.as_bytes()).await.unwrap();
                } else {
                    // Hang (elsewhere, so the next accept goes on): the
                    // attempt times out.
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        drop(s);
                    });
                }
            }
        });
        (url, seen)
    }

    fn policy(delays: Vec<u64>) -> Policy {
        Policy {
            schedule: RetrySchedule {
                delays_ms: delays,
                retry_after_cap_ms: 200,
            },
            timeout: Duration::from_millis(200),
            allow_private: true,
            pool: Default::default(),
        }
    }

    fn keys() -> SigningKeys {
        SigningKeys::new(Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap())
    }

    const E500: &str = "HTTP/1.1 500 Oops\r\ncontent-length: 0\r\n\r\n";
    const OK: &str = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";

    #[tokio::test]
    async fn retries_500_timeout_and_retry_after_then_delivers_with_one_id() {
        let busy = "HTTP/1.1 503 Busy\r\nretry-after: 0\r\ncontent-length: 0\r\n\r\n";
        let (url, seen) = receiver(vec![E500, "", busy, OK]).await;
        let mut logs = Vec::new();
        let out = deliver(
            &url,
            keys,
            "msg_a",
            Bytes::from_static(b"{}"),
            &policy(vec![10, 10, 10_000]),
            |l| logs.push(l),
        )
        .await;
        assert_eq!(out, Outcome::Delivered { attempts: 4 });
        let statuses: Vec<_> = logs.iter().map(|l| l.status).collect();
        assert_eq!(statuses, [Some(500), None, Some(503), Some(200)]);
        assert!(logs[1].error.as_deref().unwrap().contains("timed out"));
        let seen = seen.lock().unwrap();
        assert!(
            seen.iter().all(|r| r.contains("webhook-id: msg_a")),
            "{seen:?}"
        );
    }

    #[tokio::test]
    async fn gone_stops_at_once_and_exhaustion_dead_letters() {
        let (url, _) = receiver(vec!["HTTP/1.1 410 Gone\r\ncontent-length: 0\r\n\r\n"]).await;
        let out = deliver(&url, keys, "m", Bytes::new(), &policy(vec![10]), |_| {}).await;
        assert_eq!(out, Outcome::Gone { attempts: 1 });
        let (url, _) = receiver(vec![E500, E500, E500]).await;
        let out = deliver(&url, keys, "m", Bytes::new(), &policy(vec![5, 5]), |_| {}).await;
        assert_eq!(
            out,
            Outcome::DeadLetter {
                attempts: 3,
                last_error: "HTTP 500".into()
            }
        );
    }

    #[tokio::test]
    async fn a_private_url_fails_each_attempt_without_a_connection() {
        let mut p = policy(vec![]);
        p.allow_private = false;
        let mut logs = Vec::new();
        let out = deliver("http://127.0.0.1:9/", keys, "m", Bytes::new(), &p, |l| {
            logs.push(l)
        })
        .await;
        assert!(
            matches!(out, Outcome::DeadLetter { attempts: 1, .. }),
            "{out:?}"
        );
        assert!(logs[0].error.as_deref().unwrap().contains("allow_private"));
    }
}
