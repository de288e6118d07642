//! Bearer tokens: constant-time lookup, node name patterns, create right.
//! Token values never leave this module (only their names are logged).

use axum::http::{HeaderMap, StatusCode, header};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use crate::config::{TokenConfig, TokenScope};
use crate::node_pattern::{self, NodePattern};
use crate::pubsub::NodeName;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A configured token, kept only as a SHA-256 digest.
pub struct Token {
    pub name: String,
    digest: [u8; 32],
    patterns: Vec<NodePattern>,
    pub create: bool,
    scopes: Vec<TokenScope>,
    /// Its request rate limit (`None`: unlimited).
    bucket: Option<Mutex<Bucket>>,
}

/// A token bucket: `rate` requests a second on average, `burst` at once.
/// Hand-written (xep-notes/decisions.md): a few lines of arithmetic, where
/// a rate-limit crate would bring its own clock and keyed stores.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(rate: u32, burst: u32, now: Instant) -> Self {
        Bucket {
            rate: f64::from(rate),
            burst: f64::from(burst),
            tokens: f64::from(burst),
            at: now,
        }
    }

    /// Takes one request's token, or says how long until one is there.
    fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token").field("name", &self.name).finish()
    }
}

pub struct Tokens(Vec<Token>);

impl Tokens {
    /// From `http.tokens` (validated: every token has a value).
    pub fn from_config(tokens: &BTreeMap<String, TokenConfig>) -> Self {
        let list = tokens
            .iter()
            .filter_map(|(name, t)| {
                let bucket = (t.rate_per_sec > 0)
                    .then(|| Mutex::new(Bucket::new(t.rate_per_sec, t.burst, Instant::now())));
                Some(Token {
                    name: name.clone(),
                    digest: digest(t.token.as_deref()?),
                    patterns: NodePattern::parse_all(&t.nodes),
                    create: t.create,
                    scopes: t.scopes.clone(),
                    bucket,
                })
            })
            .collect();
        Tokens(list)
    }

    /// The token presented, within its rate, allowed `scope` on `node`
    /// (a checked name): what every request about one node starts with.
    pub fn authorize_node(
        &self,
        headers: &HeaderMap,
        scope: TokenScope,
        node: &str,
    ) -> Result<(&Token, NodeName), ApiError> {
        let token = self.authenticate(headers)?;
        token.check_rate()?;
        let name = super::body::node_name(node)?;
        token.check_node(scope, &name)?;
        Ok((token, name))
    }

    /// The token presented in `Authorization: Bearer ...`: 401 if absent
    /// or unknown. Every configured token is compared, in constant time
    /// per token, whatever matches.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<&Token, ApiError> {
        let unauthorized =
            |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", m.to_owned());
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(unauthorized("missing Authorization: Bearer <token>"));
        };
        let presented = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(|| unauthorized("the Authorization header must be: Bearer <token>"))?;
        let presented = digest(presented);
        let mut found = None;
        for token in &self.0 {
            if bool::from(token.digest.ct_eq(&presented)) {
                found = Some(token);
            }
        }
        found.ok_or_else(|| unauthorized("unknown token"))
    }
}

impl Token {
    /// 429 when the token is over its `rate_per_sec`/`burst`, with the
    /// seconds until its next request would pass.
    pub fn check_rate(&self) -> Result<(), ApiError> {
        let Some(bucket) = &self.bucket else {
            return Ok(());
        };
        let Ok(mut b) = bucket.lock() else {
            return Ok(());
        };
        b.take(Instant::now()).map_err(|wait| {
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            ApiError::rate_limited(
                format!(
                    "token {:?} is over its rate limit (http.tokens.{}.rate_per_sec); retry in {secs} s",
                    self.name, self.name
                ),
                secs,
            )
        })
    }

    /// Whether the token holds `scope` (on the nodes its patterns match).
    pub fn has_scope(&self, scope: TokenScope) -> bool {
        self.scopes.contains(&scope)
    }

    /// 403 unless the token holds `scope`, for requests not about one node
    /// (listing webhooks, the console).
    pub fn require_scope(&self, scope: TokenScope) -> Result<(), ApiError> {
        if self.has_scope(scope) {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "token {:?} lacks the scope {:?} (http.tokens.{}.scopes)",
                self.name,
                scope.as_str(),
                self.name
            ),
        ))
    }

    /// The token's node patterns.
    pub fn patterns(&self) -> &[NodePattern] {
        &self.patterns
    }

    /// Whether one of the token's patterns matches `node`.
    pub fn may_touch(&self, node: &str) -> bool {
        node_pattern::matches_any(&self.patterns, node)
    }

    /// 403 unless the token holds `scope` and one of its patterns matches
    /// `node`.
    pub fn check_node(&self, scope: TokenScope, node: &str) -> Result<(), ApiError> {
        self.require_scope(scope)?;
        if self.may_touch(node) {
            return Ok(());
        }
        let verb = match scope {
            TokenScope::Publish => "publish to",
            TokenScope::Read => "read",
            TokenScope::Webhooks => "send webhooks of",
            TokenScope::Admin => "administer",
        };
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("token {:?} may not {verb} node {node:?}", self.name),
        ))
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn tokens() -> Tokens {
        let mut map = BTreeMap::new();
        for (name, value, nodes, create, scopes) in [
            (
                "api",
                "api-token-0123456789",
                vec!["apps", "billing.*"],
                false,
                vec![TokenScope::Publish],
            ),
            (
                "ops",
                "ops-token-0123456789",
                vec!["*"],
                true,
                vec![TokenScope::Read, TokenScope::Admin],
            ),
        ] {
            map.insert(
                name.to_owned(),
                TokenConfig {
                    token: Some(value.to_owned()),
                    token_env: None,
                    nodes: nodes.into_iter().map(str::to_owned).collect(),
                    create,
                    rate_per_sec: 0,
                    burst: 0,
                    scopes,
                },
            );
        }
        Tokens::from_config(&map)
    }

    fn bearer(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn the_right_token_is_found_and_others_refused() {
        let t = tokens();
        let ok = t
            .authenticate(&bearer("Bearer ops-token-0123456789"))
            .unwrap();
        assert_eq!(ok.name, "ops");
        assert!(ok.create);
        let wrong = t.authenticate(&bearer("Bearer nope")).unwrap_err();
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        let basic = t.authenticate(&bearer("Basic abc")).unwrap_err();
        assert_eq!(basic.status, StatusCode::UNAUTHORIZED);
        let none = t.authenticate(&HeaderMap::new()).unwrap_err();
        assert!(none.message.contains("Bearer"));
    }

    #[test]
    fn nodes_outside_the_patterns_are_forbidden() {
        let t = tokens();
        let api = t
            .authenticate(&bearer("Bearer api-token-0123456789"))
            .unwrap();
        assert!(api.check_node(TokenScope::Publish, "billing.eu").is_ok());
        let err = api.check_node(TokenScope::Publish, "secrets").unwrap_err();
        assert_eq!(err.status, StatusCode::FORBIDDEN);
        assert!(!err.message.contains("api-token"), "{}", err.message);
    }

    #[test]
    fn a_scope_the_token_lacks_is_forbidden_on_every_node() {
        let t = tokens();
        let api = t
            .authenticate(&bearer("Bearer api-token-0123456789"))
            .unwrap();
        let err = api.check_node(TokenScope::Read, "apps").unwrap_err();
        assert_eq!(err.status, StatusCode::FORBIDDEN);
        assert!(err.message.contains("\"read\""), "{}", err.message);
        let ops = t
            .authenticate(&bearer("Bearer ops-token-0123456789"))
            .unwrap();
        assert!(ops.check_node(TokenScope::Read, "anything").is_ok());
        assert!(ops.require_scope(TokenScope::Admin).is_ok());
        assert!(ops.check_node(TokenScope::Publish, "apps").is_err());
    }

    #[test]
    fn the_bucket_allows_a_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(10, 3, t0);
        for _ in 0..3 {
            assert!(b.take(t0).is_ok());
        }
        let wait = b.take(t0).unwrap_err();
        assert!(
            wait <= Duration::from_millis(100) && wait > Duration::ZERO,
            "{wait:?}"
        );
        assert!(b.take(t0 + Duration::from_millis(100)).is_ok());
        assert!(b.take(t0 + Duration::from_millis(100)).is_err());
        // Idle time refills up to the burst, not beyond.
        let later = t0 + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(b.take(later).is_ok());
        }
        assert!(b.take(later).is_err());
    }
}
