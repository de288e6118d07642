//! Every name the JetStream store uses on the cluster: streams, subjects,
//! KV buckets and keys (the JetStream counterpart of `keys.rs`).
//!
//! - stream `{prefix}_P{n}`, subjects `{prefix}.p{n}.>`, one per partition;
//!   a node lives in partition `mix(node) mod partitions`;
//! - `{prefix}.p{n}.i.{node}.{sha256(id)}`: the item (one message per
//!   subject, so re-publishing replaces it and moves it to newest);
//! - `{prefix}.p{n}.a.{node}.{seq}`: one history (archive) entry;
//! - KV buckets `{prefix}_nodes` (hex(name) -> metadata),
//!   `{prefix}_queues` (`{node}.{hex(queue key)}` -> record) and
//!   `{prefix}_idem` (hex(key) -> created_ms | answer).
//!
//! Item IDs and node names are arbitrary strings, so they never appear in
//! a subject or key as they are: hashing keeps subjects short and valid.

use crate::store::NodeId;
use crate::store::queue::{self as qkeys, QueueKey};
use crate::store::{StoreError, StoreResult};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub struct Names {
    pub prefix: String,
    pub partitions: u32,
}

impl Names {
    /// Partition of a node: a mixed hash, as node ids are sequential.
    pub fn partition(&self, node: NodeId) -> u32 {
        // splitmix64 finalizer: spreads consecutive ids evenly.
        let mut z = node.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z % u64::from(self.partitions)) as u32
    }

    pub fn stream(&self, partition: u32) -> String {
        format!("{}_P{partition}", self.prefix)
    }

    pub fn stream_subjects(&self, partition: u32) -> String {
        format!("{}.p{partition}.>", self.prefix)
    }

    fn base(&self, node: NodeId) -> String {
        format!("{}.p{}", self.prefix, self.partition(node))
    }

    pub fn item(&self, node: NodeId, id: &str) -> String {
        let hash = Sha256::digest(id.as_bytes());
        format!("{}.i.{node}.{}", self.base(node), hex(&hash))
    }

    /// Every item of the node.
    pub fn items(&self, node: NodeId) -> String {
        format!("{}.i.{node}.*", self.base(node))
    }

    pub fn archive(&self, node: NodeId, seq: u64) -> String {
        format!("{}.a.{node}.{seq}", self.base(node))
    }

    /// Every history entry of the node.
    pub fn archives(&self, node: NodeId) -> String {
        format!("{}.a.{node}.*", self.base(node))
    }

    pub fn nodes_bucket(&self) -> String {
        format!("{}_nodes", self.prefix)
    }

    pub fn queues_bucket(&self) -> String {
        format!("{}_queues", self.prefix)
    }

    pub fn idem_bucket(&self) -> String {
        format!("{}_idem", self.prefix)
    }

    pub fn webhooks_bucket(&self) -> String {
        format!("{}_webhooks", self.prefix)
    }
}

/// The subject a KV bucket stores `key` under.
pub fn kv_subject(bucket: &str, key: &str) -> String {
    format!("$KV.{bucket}.{key}")
}

/// The KV stream behind a bucket.
pub fn kv_stream(bucket: &str) -> String {
    format!("KV_{bucket}")
}

pub fn name_key(name: &str) -> String {
    hex(name.as_bytes())
}

pub fn name_from_key(key: &str) -> StoreResult<String> {
    String::from_utf8(unhex(key)?).map_err(|_| corrupt("node name is not UTF-8"))
}

/// `{node}.{hex(encoded key)}`: a node's records share a subject prefix,
/// so dropping a node is one purge.
pub fn queue_key(k: &QueueKey) -> StoreResult<String> {
    let bytes =
        qkeys::encode_key(k).ok_or_else(|| StoreError::Io("queue group name too long".into()))?;
    Ok(format!("{}.{}", k.node, hex(&bytes)))
}

pub fn queue_node_filter(bucket: &str, node: NodeId) -> String {
    format!("$KV.{bucket}.{node}.>")
}

pub fn queue_from_key(key: &str) -> StoreResult<QueueKey> {
    let (_, encoded) = key
        .split_once('.')
        .ok_or_else(|| corrupt("queue key without node"))?;
    qkeys::decode_key(&unhex(encoded)?)
}

pub fn idem_key(key: &str) -> String {
    hex(key.as_bytes())
}

pub fn idem_from_key(key: &str) -> StoreResult<String> {
    String::from_utf8(unhex(key)?).map_err(|_| corrupt("idempotency key is not UTF-8"))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn unhex(s: &str) -> StoreResult<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return Err(corrupt("odd hex key"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| corrupt("bad hex key"))
        })
        .collect()
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_tokens_and_round_trip() {
        let n = Names {
            prefix: "h".into(),
            partitions: 16,
        };
        let subject = n.item(7, "a.b *>\u{e9}");
        assert!(subject.starts_with(&format!("h.p{}.i.7.", n.partition(7))));
        assert!(!subject[5..].contains(['*', '>', ' ']));
        assert_eq!(name_from_key(&name_key("b/feed é")).unwrap(), "b/feed é");
        let q = QueueKey {
            node: 3,
            group: "g.x".into(),
            seq: Some(9),
        };
        let key = queue_key(&q).unwrap();
        assert!(key.starts_with("3."));
        assert_eq!(queue_from_key(&key).unwrap(), q);
        assert!(unhex("0").is_err() && unhex("zz").is_err());
        let spread: std::collections::HashSet<u32> = (1..=64).map(|i| n.partition(i)).collect();
        assert!(spread.len() > 8, "consecutive nodes spread: {spread:?}");
    }
}
