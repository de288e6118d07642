//! One delivery attempt: a POST to the pinned address of a checked URL.
//!
//! Built on hyper's client connection (already in the tree for the server)
//! rather than reqwest: the connection goes to the address `url_safety`
//! checked, never to a fresh DNS answer, no redirect is followed, and the
//! whole attempt (connect, send, response head) has one deadline.

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

/// POSTs `body` to `target` with the signed headers, within `timeout`.
pub async fn post(
    target: &Target,
    headers: &SignedHeaders,
    body: Bytes,
    timeout: Duration,
) -> Attempt {
    let started = Instant::now();
    let result = tokio::time::timeout(timeout, exchange(target, headers, body)).await;
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

async fn exchange(
    target: &Target,
    headers: &SignedHeaders,
    body: Bytes,
) -> Result<(u16, Option<String>), String> {
    let stream = tokio::net::TcpStream::connect(target.addr)
        .await
        .map_err(|e| format!("connect to {}: {e}", target.addr))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    // The connection task ends when the exchange is done or dropped.
    tokio::spawn(connection);
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
    // Drain a bounded amount so the receiver sees a clean exchange.
    let mut body = response.into_body();
    let mut read = 0usize;
    while read < MAX_RESPONSE_BODY {
        match body.frame().await {
            Some(Ok(frame)) => read += frame.data_ref().map_or(0, |d| d.len()),
            _ => break,
        }
    }
    Ok((status, retry_after))
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
        let attempt = post(&target, &headers(), Bytes::new(), Duration::from_secs(5)).await;
        assert_eq!(attempt.status, Some(503));
        assert_eq!(attempt.retry_after.as_deref(), Some("7"));
        let (target, _) = serve_once(
            "HTTP/1.1 302 Found\r\nlocation: http://10.0.0.1/\r\ncontent-length: 0\r\n\r\n",
        )
        .await;
        let attempt = post(&target, &headers(), Bytes::new(), Duration::from_secs(5)).await;
        assert_eq!(attempt.status, Some(302));
        assert!(!attempt.succeeded());
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
