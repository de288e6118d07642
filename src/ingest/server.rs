//! The HTTP/1 server under the axum router, hardened against clients that
//! hold connections open: hyper's header-read timeout (slowloris), an idle
//! timeout on the socket (no byte moving, `tokio-io-timeout`), and a cap on
//! open connections that evicts the longest-held connection without a
//! request in flight, so descriptors are never exhausted and a new client
//! is always served (xep-notes/decisions.md, "HTTP connection limits").

use axum::Router;
use http_body_util::BodyExt;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio_io_timeout::TimeoutStream;

/// Connection limits and timeouts (`[http]` in the config).
#[derive(Debug, Clone)]
pub struct ServerLimits {
    /// From waiting for a request until its headers are complete.
    pub header_read_timeout: Duration,
    /// No byte read or written for this long closes the connection.
    pub idle_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
}

/// Descriptors kept free for everything that is not an HTTP connection
/// (the store's files, component links, the listener, logs).
const RESERVED_FDS: usize = 128;

impl ServerLimits {
    /// `max_connections`, lowered if the process's descriptor limit
    /// (`RLIMIT_NOFILE`) would not leave room for the rest of Herald.
    pub fn effective_max(&self) -> usize {
        match open_files_limit() {
            Some(limit) if limit.saturating_sub(RESERVED_FDS) < self.max_connections => {
                let max = limit.saturating_sub(RESERVED_FDS).max(1);
                tracing::warn!(
                    configured = self.max_connections,
                    open_files_limit = limit,
                    using = max,
                    "http.max_connections lowered to fit the descriptor limit"
                );
                max
            }
            _ => self.max_connections,
        }
    }
}

/// The soft `RLIMIT_NOFILE`, from `/proc/self/limits` (Linux).
fn open_files_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The open connections, oldest first, and whether each has a request in
/// flight.
struct Slots {
    max: usize,
    open: Mutex<BTreeMap<u64, Slot>>,
}

struct Slot {
    busy: Arc<AtomicUsize>,
    evict: Arc<Notify>,
}

impl Slots {
    /// Room for one more connection: free, or made by evicting the oldest
    /// connection with no request in flight. `None`: every slot is busy.
    fn admit(&self, id: u64) -> Option<(Arc<AtomicUsize>, Arc<Notify>)> {
        let mut open = self.open.lock().ok()?;
        if open.len() >= self.max {
            let idle = (open.iter())
                .find(|(_, s)| s.busy.load(Ordering::Acquire) == 0)
                .map(|(k, _)| *k)?;
            if let Some(old) = open.remove(&idle) {
                old.evict.notify_one();
            }
        }
        let slot = Slot {
            busy: Arc::new(AtomicUsize::new(0)),
            evict: Arc::new(Notify::new()),
        };
        let handles = (slot.busy.clone(), slot.evict.clone());
        open.insert(id, slot);
        Some(handles)
    }

    fn release(&self, id: u64) {
        if let Ok(mut open) = self.open.lock() {
            open.remove(&id);
        }
    }
}

/// Counts a request in flight on its connection while alive.
struct Busy(Arc<AtomicUsize>);

impl Busy {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        Busy(count.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Accepts and serves connections until `stop` completes, then lets open
/// connections finish their requests (graceful shutdown).
pub async fn run(
    listener: TcpListener,
    app: Router,
    limits: ServerLimits,
    stop: impl std::future::Future<Output = ()>,
) {
    let slots = Arc::new(Slots {
        max: limits.effective_max(),
        open: Mutex::new(BTreeMap::new()),
    });
    let graceful = GracefulShutdown::new();
    let mut next_id = 0u64;
    tokio::pin!(stop);
    loop {
        let stream = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning; the
                    // cap keeps this rare.
                    tracing::warn!(error = %e, "HTTP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        next_id += 1;
        let id = next_id;
        let Some((busy, evict)) = slots.admit(id) else {
            refuse(stream);
            continue;
        };
        let task = Connection {
            id,
            busy,
            evict,
            slots: slots.clone(),
            watcher: graceful.watcher(),
        };
        tokio::spawn(task.serve(stream, app.clone(), limits.clone()));
    }
    drop(listener);
    graceful.shutdown().await;
}

/// One accepted connection and its slot.
struct Connection {
    id: u64,
    busy: Arc<AtomicUsize>,
    evict: Arc<Notify>,
    slots: Arc<Slots>,
    watcher: hyper_util::server::graceful::Watcher,
}

impl Connection {
    /// Serves HTTP/1 with the timeouts applied until the client leaves, a
    /// timeout fires, or the slot is evicted.
    async fn serve(self, stream: TcpStream, app: Router, limits: ServerLimits) {
        let _ = stream.set_nodelay(true);
        // Only writes time out: a client that stops reading its response
        // is cut. Reads need no timer of their own: hyper's header-read
        // timeout ends idle and slow requests, the body-read timeout slow
        // bodies, and a stream (SSE) may rightly read nothing for hours.
        let mut io = TimeoutStream::new(stream);
        io.set_write_timeout(Some(limits.idle_timeout));
        let io = TokioIo::new(Box::pin(io));
        let inner = TowerToHyperService::new(app);
        let busy = self.busy.clone();
        let service = hyper::service::service_fn(move |req| {
            let busy = Busy::new(&busy);
            let answer = hyper::service::Service::call(&inner, req);
            async move {
                // Busy until the body is sent, not just its head: a stream
                // in progress is a request in flight, never evicted.
                let r = answer.await;
                r.map(|resp| {
                    resp.map(|body| {
                        axum::body::Body::new(body.map_frame(move |f| {
                            let _ = &busy;
                            f
                        }))
                    })
                })
            }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .keep_alive(true);
        let conn = builder.serve_connection(io, service);
        tokio::select! {
            _ = self.watcher.watch(conn) => {}
            // Dropping the connection closes its socket now.
            _ = self.evict.notified() => tracing::debug!("idle HTTP connection evicted"),
        }
        self.slots.release(self.id);
    }
}

/// Every slot has a request in flight: answer 503 right away (best effort,
/// never waiting on the client) and close.
fn refuse(stream: TcpStream) {
    let body =
        "{\"error\":\"unavailable\",\"message\":\"too many HTTP connections; retry later\"}\n";
    let reply = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.try_write(reply.as_bytes());
    // debug, not warn: a flood of connections must not become a flood of logs.
    tracing::debug!("HTTP connection refused: every connection has a request in flight");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(max: usize) -> Slots {
        Slots {
            max,
            open: Mutex::new(BTreeMap::new()),
        }
    }

    #[test]
    fn a_full_house_evicts_the_oldest_idle_connection() {
        let s = slots(2);
        let (busy1, evict1) = s.admit(1).unwrap();
        let (_busy2, evict2) = s.admit(2).unwrap();
        let _guard = Busy::new(&busy1);
        // 1 is busy: 2, the oldest idle one, goes.
        assert!(s.admit(3).is_some());
        let open: Vec<u64> = s.open.lock().unwrap().keys().copied().collect();
        assert_eq!(open, vec![1, 3]);
        drop(evict1);
        // The evicted connection's task is woken (the permit is kept).
        let woken = evict2.notified();
        futures::pin_mut!(woken);
        assert!(futures::FutureExt::now_or_never(woken).is_some());
    }

    #[test]
    fn when_every_connection_is_busy_the_new_one_is_refused() {
        let s = slots(1);
        let (busy, _) = s.admit(1).unwrap();
        let _guard = Busy::new(&busy);
        assert!(s.admit(2).is_none());
        drop(_guard);
        assert!(s.admit(2).is_some());
    }

    #[test]
    fn the_descriptor_limit_is_read() {
        assert!(open_files_limit().is_some_and(|n| n > 0));
    }
}
