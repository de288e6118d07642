//! Opaque archive IDs: the XEP-0359 stanza-ids of notifications and the
//! XEP-0313 cursors of a node's history (`xep-notes/xep-0359.md`).
//!
//! An ID is the pair (node id, seq) under a keyed permutation: a 4-round
//! Feistel network over the two 64-bit halves with SHA-256 of the key as
//! round function, written as 32 hex digits. It reveals neither the seq
//! (so not the archive's size) nor the next ID, yet decodes back to the
//! seq without any lookup, so a page still costs one key-range read. The
//! key is derived from a secret that survives restarts (the component
//! secret, `app/settings.rs`), so an ID keeps its meaning across restarts
//! (`xep-notes/decisions.md`, "Opaque stanza-ids").

use crate::store::NodeId;
use sha2::{Digest, Sha256};

const ROUNDS: u8 = 4;

/// The secret key of the permutation.
#[derive(Clone, PartialEq, Eq)]
pub struct ArchiveKey([u8; 32]);

impl std::fmt::Debug for ArchiveKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ArchiveKey(<redacted>)")
    }
}

impl Default for ArchiveKey {
    /// A fixed key for tests; the service's settings derive the real one.
    fn default() -> Self {
        ArchiveKey::derive(b"")
    }
}

impl ArchiveKey {
    /// The key derived from `secret` (domain-separated, so the secret
    /// itself is never used as is).
    pub fn derive(secret: &[u8]) -> Self {
        let mut h = Sha256::new();
        h.update(b"herald archive-id v1\0");
        h.update(secret);
        ArchiveKey(h.finalize().into())
    }

    /// The archive ID of entry `seq` of node `node`.
    pub fn encode(&self, node: NodeId, seq: u64) -> String {
        let (mut l, mut r) = (node, seq);
        for round in 0..ROUNDS {
            (l, r) = (r, l ^ self.f(round, r));
        }
        format!("{l:016x}{r:016x}")
    }

    /// The seq of an archive ID of `node`; `None` for anything else (an ID
    /// of another node, a made-up string).
    pub fn seq_of(&self, node: NodeId, id: &str) -> Option<u64> {
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut l = u64::from_str_radix(&id[..16], 16).ok()?;
        let mut r = u64::from_str_radix(&id[16..], 16).ok()?;
        for round in (0..ROUNDS).rev() {
            (l, r) = (r ^ self.f(round, l), l);
        }
        (l == node && r > 0).then_some(r)
    }

    fn f(&self, round: u8, half: u64) -> u64 {
        let mut h = Sha256::new();
        h.update(self.0);
        h.update([round]);
        h.update(half.to_be_bytes());
        let d = h.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&d[..8]);
        u64::from_be_bytes(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_belong_to_one_node() {
        let k = ArchiveKey::derive(b"secret");
        for (node, seq) in [(1, 1), (3, 17), (u64::MAX, u64::MAX)] {
            let id = k.encode(node, seq);
            assert_eq!(id.len(), 32);
            assert_eq!(k.seq_of(node, &id), Some(seq), "{id}");
            assert_eq!(k.seq_of(node ^ 1, &id), None, "other node");
        }
        assert_eq!(k.seq_of(3, &k.encode(3, 0)), None, "seqs start at 1");
        for bad in ["", "3-17", "zz", &"g".repeat(32), &"+".repeat(32)] {
            assert_eq!(k.seq_of(3, bad), None, "{bad}");
        }
    }

    #[test]
    fn ids_reveal_neither_the_seq_nor_the_next_id() {
        let k = ArchiveKey::derive(b"secret");
        let (a, b) = (k.encode(2, 1), k.encode(2, 2));
        assert!(!a.contains("0000000000000001") && !b.contains("0000000000000002"));
        // Neighbouring seqs share no visible structure: about half the
        // bits differ.
        let x = u128::from_str_radix(&a, 16).unwrap() ^ u128::from_str_radix(&b, 16).unwrap();
        assert!((40..=88).contains(&x.count_ones()), "{a} {b}");
        // Another key, other IDs for the same entries.
        assert_ne!(ArchiveKey::derive(b"other").encode(2, 1), a);
    }
}
