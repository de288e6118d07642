//! HTTP on a cluster instance: the leader serves the endpoints itself; a
//! follower passes each request on to the leader (streams included) and
//! answers only `/healthz` and `/readyz` on its own.

use super::lease::Holder;
use crate::component::LinkState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use serde_json::json;
use std::sync::{Arc, RwLock};
use tokio::sync::watch;
use tower_service::Service;

/// Set on a request one instance passes to another: a follower that
/// receives one (its view of the lease is stale) does not pass it on again.
const FORWARDED: &str = "herald-forwarded-by";

pub struct Switch {
    /// The endpoints, once this instance leads.
    pub real: RwLock<Option<axum::Router>>,
    /// The serving leader, when it is another instance.
    pub leader: watch::Receiver<Option<Holder>>,
    pub instance: String,
    pub link: Arc<LinkState>,
    /// Whether JetStream can take writes (probed in the background).
    pub store: crate::app::nats_health::NatsHealth,
}

pub fn router(switch: Arc<Switch>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(switch)
}

async fn handle(State(sw): State<Arc<Switch>>, req: Request) -> Response {
    // Leader or follower, nothing gets stored while JetStream cannot
    // write: /readyz says so (and why) before anything else.
    let store_down = (req.uri().path() == "/readyz")
        .then(|| sw.store.problem())
        .flatten();
    if let Some(reason) = store_down {
        let mut resp = unavailable("store_unavailable", &reason);
        tag(&sw, &mut resp);
        return resp;
    }
    let real = sw.real.read().ok().and_then(|r| r.clone());
    let mut resp = match real {
        Some(mut router) => match router.call(req).await {
            Ok(resp) => resp,
            Err(never) => match never {},
        },
        None => follow(&sw, req).await,
    };
    tag(&sw, &mut resp);
    resp
}

fn tag(sw: &Switch, resp: &mut Response) {
    let role = if sw.real.read().is_ok_and(|r| r.is_some()) {
        "leader"
    } else {
        "follower"
    };
    let h = resp.headers_mut();
    h.insert("herald-role", HeaderValue::from_static(role));
    if let Ok(v) = HeaderValue::from_str(&sw.instance) {
        h.insert("herald-instance", v);
    }
}

async fn follow(sw: &Switch, req: Request) -> Response {
    let leader = sw.leader.borrow().clone();
    match req.uri().path() {
        "/healthz" => return json_response(StatusCode::OK, json!({ "status": "ok" })),
        "/readyz" => return follower_ready(sw, leader.as_ref()),
        _ => {}
    }
    let base = leader.as_ref().and_then(|l| l.http.clone());
    match base {
        Some(base) if !req.headers().contains_key(FORWARDED) => {
            proxy(req, &base, &sw.instance).await
        }
        _ => unavailable(
            "no_leader",
            "no Herald instance serves as leader yet; retry shortly",
        ),
    }
}

/// A follower is ready when its links are up and a leader serves: what
/// reaches it then gets handled.
fn follower_ready(sw: &Switch, leader: Option<&Holder>) -> Response {
    if !sw.link.is_up() {
        return unavailable("not_ready", "the component link to ejabberd is down");
    }
    match leader {
        Some(l) => json_response(
            StatusCode::OK,
            json!({ "status": "ready", "role": "follower", "leader": l.instance }),
        ),
        None => unavailable(
            "no_leader",
            "no instance holds the lease (a takeover is under way)",
        ),
    }
}

async fn proxy(req: Request, base: &str, instance: &str) -> Response {
    let authority = base.trim_start_matches("http://").trim_end_matches('/');
    let stream = match tokio::net::TcpStream::connect(authority).await {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(error = %e, leader = base, "leader unreachable");
            return unavailable(
                "leader_unreachable",
                "the leader does not answer; retry shortly",
            );
        }
    };
    let _ = stream.set_nodelay(true);
    let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
    else {
        return unavailable(
            "leader_unreachable",
            "the leader does not answer; retry shortly",
        );
    };
    tokio::spawn(conn);
    let (mut parts, body) = req.into_parts();
    parts.uri = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()
        .unwrap_or_default();
    if let Ok(v) = HeaderValue::from_str(instance) {
        parts.headers.insert(FORWARDED, v);
    }
    if let Ok(v) = HeaderValue::from_str(authority) {
        parts.headers.insert(header::HOST, v);
    }
    match sender.send_request(Request::from_parts(parts, body)).await {
        Ok(resp) => resp.map(Body::new),
        Err(e) => {
            tracing::debug!(error = %e, "forwarded request failed");
            unavailable(
                "leader_unreachable",
                "the leader dropped the request; retry",
            )
        }
    }
}

fn unavailable(code: &str, message: &str) -> Response {
    let mut resp = json_response(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({ "error": code, "message": message }),
    );
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    resp
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}
