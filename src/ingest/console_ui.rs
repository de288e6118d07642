//! The operator's web console: one static page at `/ui` (HTML, CSS and
//! JavaScript inline, no external requests). It needs no token to load;
//! every data call it makes sends the operator's bearer token to the JSON
//! API (`console_api.rs`, `/v1/webhooks`, the SSE tail).

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::Ingest;

const PAGE: &str = include_str!("ui/console.html");

/// Only this origin, inline script and style (the page is one file).
const CSP: &str = "default-src 'self'; script-src 'unsafe-inline' 'self'; \
                   style-src 'unsafe-inline' 'self'; connect-src 'self'; img-src 'self' data:";

pub fn routes() -> Router<Arc<Ingest>> {
    Router::new()
        .route("/ui", get(page))
        .route("/ui/", get(page))
}

async fn page() -> Response {
    let mut resp = PAGE.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}
