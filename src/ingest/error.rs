//! Every refusal as an HTTP status with a JSON body
//! `{"error": "<code>", "message": "<human text>"}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::pubsub::{IngestError, PubsubError};

/// Seconds a client should wait before retrying a 503.
pub const RETRY_AFTER_SECS: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable machine-readable code, e.g. `payload_too_large`.
    pub code: &'static str,
    pub message: String,
    /// `Retry-After` seconds for a 429.
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after_secs: None,
        }
    }

    /// 429: over the token's rate limit.
    pub fn rate_limited(message: impl Into<String>, retry_after_secs: u64) -> Self {
        ApiError {
            retry_after_secs: Some(retry_after_secs),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
        }
    }

    /// 408: the body did not arrive within `http.body_read_timeout_secs`.
    pub fn body_timeout(secs: u64) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the request body did not arrive within {secs} s (http.body_read_timeout_secs)"
            ),
        )
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// The response, after one info line naming the node and the refusal
    /// (`what`: e.g. "ingest refused").
    pub fn logged(self, node: &str, what: &str) -> Response {
        tracing::info!(
            node,
            status = self.status.as_u16(),
            error = self.code,
            "{what}"
        );
        self.into_response()
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        let pubsub = match e {
            IngestError::KeyReused => {
                return ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "idempotency_key_reused",
                    e.to_string(),
                );
            }
            IngestError::Pubsub(p) => p,
        };
        use PubsubError as P;
        let (status, code, message) = match &pubsub {
            P::NodeNotFound => (
                StatusCode::NOT_FOUND,
                "node_not_found",
                "no such node, and this token may not create nodes".to_owned(),
            ),
            P::PayloadTooBig => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the item payload exceeds limits.max_payload_bytes".to_owned(),
            ),
            P::BadRequest(m) | P::NotAcceptable(m) => {
                (StatusCode::BAD_REQUEST, "bad_request", m.clone())
            }
            P::ItemRequired | P::NodeIdRequired => {
                (StatusCode::BAD_REQUEST, "bad_request", pubsub.to_string())
            }
            P::MaxNodesExceeded => (
                StatusCode::INSUFFICIENT_STORAGE,
                "max_nodes_reached",
                "the service holds limits.max_nodes nodes: this node cannot be created \
                 (publishing to existing nodes still works)"
                    .to_owned(),
            ),
            P::Internal(m) => {
                tracing::error!(error = %m, "ingest failed in the core");
                return ApiError::unavailable("storage failed; nothing was written, retry later");
            }
            _ => (StatusCode::CONFLICT, "node_refused", pubsub.to_string()),
        };
        ApiError::new(status, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.code, "message": self.message });
        let mut resp = (self.status, super::routes::json_body(&body)).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"herald\""),
            );
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_create_refused_by_max_nodes_names_the_limit() {
        let e = ApiError::from(IngestError::Pubsub(PubsubError::MaxNodesExceeded));
        assert_eq!(e.status, StatusCode::INSUFFICIENT_STORAGE);
        assert_eq!(e.code, "max_nodes_reached");
        assert!(e.message.contains("limits.max_nodes"), "{}", e.message);
    }
}
