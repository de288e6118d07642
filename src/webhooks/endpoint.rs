//! A webhook endpoint as stored: its definition, signing secrets, per-node
//! cursors and health. One record per endpoint (`Store::put_webhook`); a
//! cursor advance rewrites the record, which is small.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::signing::{Secret, SecretError, SigningKeys};
use super::url_safety::{self, UrlError};
use crate::node_pattern::NodePattern;
use crate::store::StoreError;

/// Longest description kept.
pub const MAX_DESCRIPTION: usize = 1_024;
/// Most node patterns per endpoint.
pub const MAX_PATTERNS: usize = 64;
/// Longest URL accepted.
pub const MAX_URL: usize = 2_048;

/// The body of `POST /v1/webhooks`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpoint {
    pub url: String,
    pub nodes: Vec<String>,
    #[serde(default)]
    pub description: String,
    /// One delivery in flight at a time, in log order.
    #[serde(default)]
    pub strict_order: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DefinitionError {
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error("url is longer than {MAX_URL} characters")]
    UrlLength,
    #[error("nodes must name 1 to {MAX_PATTERNS} node patterns")]
    NodeCount,
    #[error("nodes: {0}")]
    Pattern(String),
    #[error("description is longer than {MAX_DESCRIPTION} characters")]
    Description,
}

impl CreateEndpoint {
    /// Checks the definition's form (the URL is resolved again at each
    /// connection; here only its shape is checked).
    pub fn validate(&self) -> Result<(), DefinitionError> {
        if self.url.len() > MAX_URL {
            return Err(DefinitionError::UrlLength);
        }
        url_safety::parse(&self.url)?;
        if self.nodes.is_empty() || self.nodes.len() > MAX_PATTERNS {
            return Err(DefinitionError::NodeCount);
        }
        for pattern in &self.nodes {
            NodePattern::parse(pattern).map_err(DefinitionError::Pattern)?;
        }
        if self.description.chars().count() > MAX_DESCRIPTION {
            return Err(DefinitionError::Description);
        }
        Ok(())
    }
}

/// Whether Herald delivers to the endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum EndpointStatus {
    Active,
    /// Stopped by Herald (410 Gone, or failing for too long) or its owner.
    Disabled {
        reason: String,
        at_ms: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointRecord {
    pub id: String,
    pub url: String,
    pub nodes: Vec<String>,
    pub description: String,
    pub strict_order: bool,
    /// The token (by name) that created it; only its holder manages it.
    pub owner: String,
    pub created_ms: u64,
    /// `whsec_...`, and during a rotation the previous one with its end.
    pub secret: String,
    pub previous_secret: Option<(String, u64)>,
    /// Per node: the highest seq delivered with a 2xx (in order) or
    /// skipped; delivery resumes after it.
    pub cursors: BTreeMap<String, u64>,
    pub status: EndpointStatus,
    /// Since when every attempt failed (`None` after any success).
    pub failing_since_ms: Option<u64>,
    /// Publications whose schedule ran out, oldest first (at most
    /// [`MAX_DEAD_LETTERS`]); `replay` resends them.
    #[serde(default)]
    pub dead_letters: Vec<DeadLetter>,
}

/// Dead letters kept per endpoint; older ones are dropped (and logged).
pub const MAX_DEAD_LETTERS: usize = 1_000;

/// A publication that exhausted its retry schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub node: String,
    pub seq: u64,
    /// Its `webhook-id` (the entry's stanza-id).
    pub webhook_id: String,
    pub at_ms: u64,
    pub attempts: u32,
    pub error: String,
}

impl EndpointRecord {
    /// A new active endpoint with a fresh id and secret.
    pub fn create(
        def: CreateEndpoint,
        owner: &str,
        now_ms: u64,
    ) -> Result<EndpointRecord, SecretError> {
        let secret = Secret::generate()?;
        Ok(EndpointRecord {
            id: new_id()?,
            url: def.url,
            nodes: def.nodes,
            description: def.description,
            strict_order: def.strict_order,
            owner: owner.to_owned(),
            created_ms: now_ms,
            secret: secret.to_text(),
            previous_secret: None,
            cursors: BTreeMap::new(),
            status: EndpointStatus::Active,
            failing_since_ms: None,
            dead_letters: Vec::new(),
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        // A struct of strings, numbers and maps with string keys always
        // serializes.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<EndpointRecord, StoreError> {
        serde_json::from_slice(bytes)
            .map_err(|e| StoreError::Corrupt(format!("webhook endpoint record: {e}")))
    }

    pub fn keys(&self) -> Result<SigningKeys, SecretError> {
        let mut keys = SigningKeys::new(Secret::parse(&self.secret)?);
        if let Some((old, until_ms)) = &self.previous_secret {
            keys.previous = Some((Secret::parse(old)?, *until_ms));
        }
        Ok(keys)
    }

    /// Replaces the secret; the old one signs until `now + grace`.
    /// Returns the new secret's text (shown once).
    pub fn rotate_secret(&mut self, now_ms: u64, grace_ms: u64) -> Result<String, SecretError> {
        let next = Secret::generate()?.to_text();
        self.rotate_secret_to(next.clone(), now_ms, grace_ms);
        Ok(next)
    }

    /// Replaces the secret with `next` (made by [`Secret::generate`]).
    pub fn rotate_secret_to(&mut self, next: String, now_ms: u64, grace_ms: u64) {
        let old = std::mem::replace(&mut self.secret, next);
        self.previous_secret = Some((old, now_ms.saturating_add(grace_ms)));
    }

    /// Moves `node`'s cursor forward to `seq` (never back: a late success
    /// of an earlier delivery must not cause redelivery of later ones).
    pub fn advance(&mut self, node: &str, seq: u64) {
        let cursor = self.cursors.entry(node.to_owned()).or_insert(0);
        *cursor = (*cursor).max(seq);
    }

    /// Sets `node`'s cursor to `seq` exactly (replay from a point).
    pub fn rewind(&mut self, node: &str, seq: u64) {
        self.cursors.insert(node.to_owned(), seq);
    }

    pub fn record_success(&mut self) {
        self.failing_since_ms = None;
    }

    /// Notes a failure; answers whether the endpoint has now failed for
    /// `disable_after_ms` without a success and was disabled.
    pub fn record_failure(&mut self, now_ms: u64, disable_after_ms: u64) -> bool {
        let since = *self.failing_since_ms.get_or_insert(now_ms);
        if now_ms.saturating_sub(since) >= disable_after_ms {
            self.disable("failing continuously", now_ms);
            return true;
        }
        false
    }

    pub fn disable(&mut self, reason: &str, now_ms: u64) {
        self.status = EndpointStatus::Disabled {
            reason: reason.to_owned(),
            at_ms: now_ms,
        };
    }

    /// Keeps `letter` for a replay (replacing an older one of the same
    /// entry), dropping the oldest beyond [`MAX_DEAD_LETTERS`].
    pub fn add_dead_letter(&mut self, letter: DeadLetter) {
        self.dead_letters
            .retain(|d| !(d.node == letter.node && d.seq == letter.seq));
        self.dead_letters.push(letter);
        if self.dead_letters.len() > MAX_DEAD_LETTERS {
            let dropped = self.dead_letters.remove(0);
            tracing::warn!(endpoint = %self.id, node = %dropped.node, seq = dropped.seq, "oldest webhook dead letter dropped");
        }
    }

    pub fn is_active(&self) -> bool {
        self.status == EndpointStatus::Active
    }

    /// Whether the endpoint receives `node`'s events.
    pub fn wants(&self, node: &str) -> bool {
        NodePattern::parse_all(&self.nodes)
            .iter()
            .any(|p| p.matches(node))
    }

    /// What `GET /v1/webhooks/{id}` shows: everything but the secrets.
    pub fn public_view(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "url": self.url,
            "nodes": self.nodes,
            "description": self.description,
            "strict_order": self.strict_order,
            "created_ms": self.created_ms,
            "status": self.status,
            "failing_since_ms": self.failing_since_ms,
            "cursors": self.cursors,
            "dead_letters": self.dead_letters,
            "rotation_ends_ms": self.previous_secret.as_ref().map(|(_, until)| until),
        })
    }
}

/// `wh_` and 16 random bytes in hex.
fn new_id() -> Result<String, SecretError> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).map_err(|e| SecretError::Random(e.to_string()))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("wh_{hex}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def() -> CreateEndpoint {
        CreateEndpoint {
            url: "http://hooks.example/in".into(),
            nodes: vec!["apps".into(), "billing.*".into()],
            description: "billing bridge".into(),
            strict_order: false,
        }
    }

    #[test]
    fn validates_definitions() {
        assert!(def().validate().is_ok());
        let mut d = def();
        d.nodes.clear();
        assert_eq!(d.validate().unwrap_err(), DefinitionError::NodeCount);
        let mut d = def();
        d.url = "https://hooks.example/in".into();
        assert_eq!(
            d.validate().unwrap_err(),
            DefinitionError::Url(UrlError::Scheme)
        );
        let mut d = def();
        d.description = "x".repeat(MAX_DESCRIPTION + 1);
        assert_eq!(d.validate().unwrap_err(), DefinitionError::Description);
        let unknown =
            serde_json::from_str::<CreateEndpoint>(r#"{"url":"http://a/","nodes":["a"],"x":1}"#);
        assert!(unknown.is_err());
    }

    #[test]
    fn record_round_trips_and_hides_secrets() {
        let mut r = EndpointRecord::create(def(), "platform", 5).unwrap();
        assert!(r.id.starts_with("wh_") && r.id.len() == 35);
        r.advance("apps", 3);
        let back = EndpointRecord::decode(&r.encode()).unwrap();
        assert_eq!(back, r);
        let view = r.public_view().to_string();
        assert!(!view.contains(&r.secret), "{view}");
        assert!(view.contains("\"state\":\"active\""), "{view}");
        assert!(EndpointRecord::decode(b"{").is_err());
    }

    #[test]
    fn cursors_only_move_forward_except_on_rewind() {
        let mut r = EndpointRecord::create(def(), "p", 0).unwrap();
        r.advance("apps", 5);
        r.advance("apps", 3);
        assert_eq!(r.cursors["apps"], 5);
        r.rewind("apps", 1);
        assert_eq!(r.cursors["apps"], 1);
    }

    #[test]
    fn rotation_keeps_the_old_secret_signing_for_the_grace() {
        let mut r = EndpointRecord::create(def(), "p", 0).unwrap();
        let old = r.secret.clone();
        let new = r.rotate_secret(1_000, 500).unwrap();
        assert_ne!(old, new);
        let keys = r.keys().unwrap();
        let header = keys.header("msg_1", 1, b"{}", 1_200);
        let old_sig = Secret::parse(&old).unwrap().sign("msg_1", 1, b"{}");
        assert!(header.ends_with(&old_sig), "{header}");
        assert_eq!(keys.header("msg_1", 1, b"{}", 1_500).split(' ').count(), 1);
    }

    #[test]
    fn continuous_failure_disables_and_success_resets() {
        let mut r = EndpointRecord::create(def(), "p", 0).unwrap();
        assert!(!r.record_failure(100, 1_000));
        r.record_success();
        assert!(!r.record_failure(2_000, 1_000));
        assert!(!r.record_failure(2_999, 1_000));
        assert!(r.record_failure(3_000, 1_000));
        assert!(!r.is_active());
    }

    #[test]
    fn matches_nodes_and_keeps_one_dead_letter_per_entry() {
        let mut r = EndpointRecord::create(def(), "p", 0).unwrap();
        assert!(r.wants("apps") && r.wants("billing.eu") && !r.wants("other"));
        let letter = |seq, error: &str| DeadLetter {
            node: "apps".into(),
            seq,
            webhook_id: format!("id{seq}"),
            at_ms: 0,
            attempts: 3,
            error: error.into(),
        };
        r.add_dead_letter(letter(1, "HTTP 500"));
        r.add_dead_letter(letter(1, "HTTP 502"));
        assert_eq!(r.dead_letters, [letter(1, "HTTP 502")]);
        for seq in 2..=(MAX_DEAD_LETTERS as u64 + 1) {
            r.add_dead_letter(letter(seq, "x"));
        }
        assert_eq!(r.dead_letters.len(), MAX_DEAD_LETTERS);
        assert_eq!(r.dead_letters[0].seq, 2, "the oldest went");
    }
}
