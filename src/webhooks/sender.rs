//! One delivery attempt: a POST to the pinned address of a checked URL.
//!
//! Built on hyper's client connection (already in the tree for the server)
//! rather than reqwest: the connection goes to the address `url_safety`
//! checked, never to a fresh DNS answer, no redirect is followed, and the
//! whole attempt (connect, send, response head) has one deadline.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::http::{Request, header};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

use super::url_safety::Target;

/// The signed headers of one delivery (Standard Webhooks names).
#[derive(Debug, Clone)]
pub struct SignedHeaders {
    pub id: String,
    pub timestamp_s: u64,
    pub signature: String,
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The HTTP status, `None` when no response arrived.
    pub status: Option<u16>,
    /// The response's `Retry-After` header, unparsed.
    pub retry_after: Option<String>,
    /// Why no response arrived (connect refused, timeout, bad response).
    pub error: Option<String>,
    pub latency: Duration,
}

impl Attempt {
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Largest response body read (and then dropped): enough to reuse nothing,
/// but a receiver cannot make Herald buffer without bound.
const MAX_RESPONSE_BODY: usize = 64 * 1024;

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// Idle kept-alive connections, by the pinned address they go to: a
/// delivery reuses one instead of a TCP handshake per attempt. Only the
/// address checked for this attempt is ever looked up, so reuse never
/// bypasses the private-address check.
#[derive(Default)]
pub struct ConnectionPool {
    idle: std::sync::Mutex<std::collections::HashMap<SocketAddr, Vec<Sender>>>,
}

/// Idle connections kept per address.
const IDLE_PER_ADDRESS: usize = 16;

impl std::fmt::Debug for ConnectionPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConnectionPool")
    }
}

impl ConnectionPool {
    fn take(&self, addr: SocketAddr) -> Option<Sender> {
        let mut idle = self.idle.lock().ok()?;
        let list = idle.get_mut(&addr)?;
        while let Some(sender) = list.pop() {
            if !sender.is_closed() && sender.is_ready() {
                return Some(sender);
            }
        }
        None
    }

    fn keep(&self, addr: SocketAddr, sender: Option<Sender>) {
        let Some(sender) = sender.filter(|s| !s.is_closed()) else {
            return;
        };
        if let Ok(mut idle) = self.idle.lock() {
            let list = idle.entry(addr).or_default();
            if list.len() < IDLE_PER_ADDRESS {
                list.push(sender);
            }
        }
    }
}

/// POSTs `body` to `target` with the signed headers, within `timeout`.
pub async fn post(
    pool: &ConnectionPool,
    target: &Target,
    headers: &SignedHeaders,
    body: Bytes,
    timeout: Duration,
) -> Attempt {
    let started = Instant::now();
    let result = tokio::time::timeout(timeout, exchange(pool, target, headers, body)).await;
    let latency = started.elapsed();
    match result {
        Ok(Ok((status, retry_after))) => Attempt {
            status: Some(status),
            retry_after,
            error: None,
            latency,
        },
        Ok(Err(error)) => Attempt {
            status: None,
            retry_after: None,
            error: Some(error),
            latency,
        },
        Err(_) => Attempt {
            status: None,
            retry_after: None,
            error: Some(format!("timed out after {} ms", timeout.as_millis())),
            latency,
        },
    }
}

async fn connect(target: &Target) -> Result<Sender, String> {
    let stream = tokio::net::TcpStream::connect(target.addr)
        .await
        .map_err(|e| format!("connect to {}: {e}", target.addr))?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    // The connection task ends when its sender is dropped or it closes.
    tokio::spawn(connection);
    Ok(sender)
}

async fn exchange(
    pool: &ConnectionPool,
    target: &Target,
    headers: &SignedHeaders,
    body: Bytes,
) -> Result<(u16, Option<String>), String> {
    // A kept-alive connection the receiver closed while idle fails before
    // any answer: that attempt is made again at once on a new connection
    // (at worst a duplicate, which `webhook-id` lets receivers drop).
    if let Some(sender) = pool.take(target.addr) {
        match exchange_on(sender, target, headers, body.clone()).await {
            Ok((answer, reusable)) => {
                pool.keep(target.addr, reusable);
                return Ok(answer);
            }
            Err(e) => {
                tracing::debug!(error = %e, "kept-alive webhook connection failed; reconnecting")
            }
        }
    }
    let sender = connect(target).await?;
    let (answer, reusable) = exchange_on(sender, target, headers, body).await?;
    pool.keep(target.addr, reusable);
    Ok(answer)
}

type Answer = (u16, Option<String>);

/// One request on `sender`; the sender comes back for reuse when the
/// response was read to its end (hyper closes it if the receiver asked).
async fn exchange_on(
    mut sender: Sender,
    target: &Target,
    headers: &SignedHeaders,
    body: Bytes,
) -> Result<(Answer, Option<Sender>), String> {
    let request = Request::post(target.path_and_query.as_str())
        .header(header::HOST, target.authority.as_str())
        .header(header::CONTENT_TYPE, "application/json")
        .header(
            header::USER_AGENT,
            concat!("Herald/", env!("CARGO_PKG_VERSION")),
        )
        .header("webhook-id", headers.id.as_str())
        .header("webhook-timestamp", headers.timestamp_s.to_string())
        .header("webhook-signature", headers.signature.as_str())
        .body(Full::new(body))
        .map_err(|e| format!("request: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("send: {e}"))?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // Drain a bounded amount so the receiver sees a clean exchange; a
    // body cut short or too long leaves the connection unusable.
    let mut body = response.into_body();
    let mut read = 0usize;
    let clean = loop {
        if read >= MAX_RESPONSE_BODY {
            break false;
        }
        match body.frame().await {
            Some(Ok(frame)) => read += frame.data_ref().map_or(0, |d| d.len()),
            Some(Err(_)) => break false,
            None => break true,
        }
    };
    Ok(((status, retry_after), clean.then_some(sender)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn headers() -> SignedHeaders {
        SignedHeaders {
            id: "msg_1".into(),
            timestamp_s: 1,
            signature: "v1,x".into(),
        }
    }

    /// A one-shot HTTP server that answers `reply` and returns what it read.
    async fn serve_once(reply: &'static str) -> (Target, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap();
            s.write_all(reply.as_bytes()).await.unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        let target = Target {
            addr,
            authority: format!("hooks.example:{}", addr.port()),
            path_and_query: "/in?x=1".into(),
        };
        (target, task)
    }

    #[tokio::test]
    async fn posts_signed_headers_to_the_pinned_address() {
        let (target, seen) =
            serve_once("HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n").await;
        let attempt = post(
            &ConnectionPool::default(),
            &target,
            &headers(),
            Bytes::from_static(b"{}"),
            Duration::from_secs(5),
        )
        .await;
        assert!(attempt.succeeded(), "{attempt:?}");
        let request = seen.await.unwrap().to_ascii_lowercase();
        assert!(request.starts_with("post /in?x=1 http/1.1"), "{request}");
        assert!(request.contains("host: hooks.example:"), "{request}");
        assert!(request.contains("webhook-id: msg_1"), "{request}");
        assert!(request.contains("webhook-signature: v1,x"), "{request}");
    }

    #[tokio::test]
    async fn reports_retry_after_and_does_not_follow_redirects() {
        let (target, _) =
            serve_once("HTTP/1.1 503 Busy\r\nretry-after: 7\r\ncontent-length: 0\r\n\r\n").await;
        let attempt = post(
            &ConnectionPool::default(),
            &target,
            &headers(),
            Bytes::new(),
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(attempt.status, Some(503));
        assert_eq!(attempt.retry_after.as_deref(), Some("7"));
        let (target, _) = serve_once(
            "HTTP/1.1 302 Found\r\nlocation: http://10.0.0.1/\r\ncontent-length: 0\r\n\r\n",
        )
        .await;
        let attempt = post(
            &ConnectionPool::default(),
            &target,
            &headers(),
            Bytes::new(),
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(attempt.status, Some(302));
        assert!(!attempt.succeeded());
    }

    #[tokio::test]
    async fn a_kept_alive_connection_is_reused_and_a_closed_one_replaced() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepts = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = accepts.clone();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                let n = counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    // The first connection answers two requests then closes;
                    // later ones answer one at a time, kept alive.
                    for served in 0.. {
                        if s.read(&mut buf).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let ok = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                        s.write_all(ok.as_bytes()).await.unwrap();
                        if n == 0 && served == 1 {
                            return;
                        }
                    }
                });
            }
        });
        let target = Target {
            addr,
            authority: "x".into(),
            path_and_query: "/".into(),
        };
        let pool = ConnectionPool::default();
        for _ in 0..2 {
            let a = post(
                &pool,
                &target,
                &headers(),
                Bytes::new(),
                Duration::from_secs(5),
            )
            .await;
            assert!(a.succeeded(), "{a:?}");
        }
        assert_eq!(
            accepts.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "one connection"
        );
        // The receiver closed it: the next attempt still succeeds.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let a = post(
            &pool,
            &target,
            &headers(),
            Bytes::new(),
            Duration::from_secs(5),
        )
        .await;
        assert!(a.succeeded(), "{a:?}");
        assert_eq!(accepts.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = Target {
            addr: listener.local_addr().unwrap(),
            authority: "x".into(),
            path_and_query: "/".into(),
        };
        let attempt = post(
            &ConnectionPool::default(),
            &target,
            &headers(),
            Bytes::new(),
            Duration::from_millis(100),
        )
        .await;
        assert_eq!(attempt.status, None);
        assert!(attempt.error.unwrap().contains("timed out"));
        drop(listener);
    }
}
