//! Message IDs for everything Herald sends (RFC 6120 §8.1.3 recommends
//! one; XEP-0060 §12.4 for notifications): a per-process prefix and a
//! counter, unique without any state to keep.

use super::timestamp;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// A fresh ID, unique across this process and its restarts (the prefix
/// is the start time in milliseconds).
pub fn next() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static PREFIX: OnceLock<String> = OnceLock::new();
    let prefix = PREFIX.get_or_init(|| format!("h{:x}", timestamp::now_ms()));
    format!("{prefix}-{}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_differ() {
        assert_ne!(super::next(), super::next());
    }
}
