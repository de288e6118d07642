//! Standard Webhooks signatures: `whsec_` secrets and `v1,<base64>`
//! HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}`.
//!
//! Rotation keeps the previous secret until its grace period ends; while
//! both are valid, both sign, and the header carries the two signatures
//! separated by a space (receivers accept any one that verifies).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix Standard Webhooks gives secrets.
pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a new secret (the spec asks for 24 to 64).
const SECRET_BYTES: usize = 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("a webhook secret starts with \"whsec_\" followed by base64")]
    Malformed,
    #[error("a webhook secret has 24 to 64 bytes")]
    Length,
    #[error("the system random source failed: {0}")]
    Random(String),
}

/// A signing key: the raw bytes behind a `whsec_` string.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    key: Vec<u8>,
}

// Never print key material.
impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// A new random secret from the operating system's source.
    pub fn generate() -> Result<Secret, SecretError> {
        let mut key = vec![0u8; SECRET_BYTES];
        getrandom::getrandom(&mut key).map_err(|e| SecretError::Random(e.to_string()))?;
        Ok(Secret { key })
    }

    /// Reads `whsec_<base64>` (the form shown to the endpoint's owner and stored).
    pub fn parse(text: &str) -> Result<Secret, SecretError> {
        let encoded = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::Malformed)?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| SecretError::Malformed)?;
        if !(24..=64).contains(&key.len()) {
            return Err(SecretError::Length);
        }
        Ok(Secret { key })
    }

    /// The `whsec_<base64>` form.
    pub fn to_text(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.key))
    }

    /// One `v1,<base64>` signature of a delivery.
    pub fn sign(&self, msg_id: &str, timestamp_s: u64, body: &[u8]) -> String {
        // HMAC accepts keys of any length; this cannot fail.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            unreachable!("HMAC takes any key length")
        };
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp_s.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// An endpoint's signing keys: the current one and, during a rotation's
/// grace period, the previous one with the time (ms) it stops signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeys {
    pub current: Secret,
    pub previous: Option<(Secret, u64)>,
}

impl SigningKeys {
    pub fn new(current: Secret) -> SigningKeys {
        SigningKeys {
            current,
            previous: None,
        }
    }

    /// Replaces the current secret by `next`; the old one keeps signing
    /// until `now_ms + grace_ms`.
    pub fn rotate(&mut self, next: Secret, now_ms: u64, grace_ms: u64) {
        let old = std::mem::replace(&mut self.current, next);
        self.previous = Some((old, now_ms.saturating_add(grace_ms)));
    }

    /// The `webhook-signature` header value: the current key's signature,
    /// then the previous key's while its grace period lasts.
    pub fn header(&self, msg_id: &str, timestamp_s: u64, body: &[u8], now_ms: u64) -> String {
        let mut value = self.current.sign(msg_id, timestamp_s, body);
        if let Some((old, until_ms)) = &self.previous
            && now_ms < *until_ms
        {
            value.push(' ');
            value.push_str(&old.sign(msg_id, timestamp_s, body));
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The test vector of the Standard Webhooks reference libraries
    // (standard-webhooks/libraries, python/tests/test_webhooks.py and the
    // spec's "Signature scheme" example).
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TS: u64 = 1614265330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn signs_the_spec_test_vector() {
        let secret = Secret::parse(SPEC_SECRET).unwrap();
        assert_eq!(secret.sign(SPEC_ID, SPEC_TS, SPEC_BODY), SPEC_SIG);
    }

    #[test]
    fn generated_secrets_round_trip_and_differ() {
        let a = Secret::generate().unwrap();
        let b = Secret::generate().unwrap();
        assert_ne!(a, b);
        let text = a.to_text();
        assert!(text.starts_with("whsec_"));
        assert_eq!(Secret::parse(&text).unwrap(), a);
    }

    #[test]
    fn rejects_malformed_secrets() {
        assert_eq!(
            Secret::parse("MfKQ9r8GKYqrTwjU").unwrap_err(),
            SecretError::Malformed
        );
        assert_eq!(
            Secret::parse("whsec_%%%").unwrap_err(),
            SecretError::Malformed
        );
        assert_eq!(
            Secret::parse("whsec_AAAA").unwrap_err(),
            SecretError::Length
        );
    }

    #[test]
    fn both_keys_sign_during_the_grace_period_only() {
        let old = Secret::parse(SPEC_SECRET).unwrap();
        let mut keys = SigningKeys::new(old);
        let next = Secret::generate().unwrap();
        keys.rotate(next.clone(), 1_000, 500);
        let during = keys.header(SPEC_ID, SPEC_TS, SPEC_BODY, 1_499);
        let sigs: Vec<&str> = during.split(' ').collect();
        assert_eq!(
            sigs,
            [next.sign(SPEC_ID, SPEC_TS, SPEC_BODY).as_str(), SPEC_SIG]
        );
        let after = keys.header(SPEC_ID, SPEC_TS, SPEC_BODY, 1_500);
        assert_eq!(after, next.sign(SPEC_ID, SPEC_TS, SPEC_BODY));
    }
}
