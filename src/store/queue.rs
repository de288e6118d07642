//! Consumer-group state records (see `pubsub::queue`): keys, writes, and
//! their byte layout in the sled `queues` tree. Values are opaque blobs
//! serialized by the core.
//!
//! Key layout (big-endian integers, so a node's records are one range):
//!
//! - `node(8) | group_len(2) | group | P`          -> group position
//! - `node(8) | group_len(2) | group | E | seq(8)` -> one queue entry
//!
//! Kept apart from `keys.rs` and the `items` tree: queue writes never need
//! to be atomic with item writes (both become durable in the same flush),
//! and a separate tree keeps item range scans free of queue keys.

use super::{NodeId, StoreError, StoreResult};

const POSITION_TAG: u8 = b'P';
const ENTRY_TAG: u8 = b'E';

/// Which queue record: a group's position (`seq: None`) or one entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QueueKey {
    pub node: NodeId,
    pub group: String,
    pub seq: Option<u64>,
}

/// One change to queue state, applied in order by
/// [`super::Store::write_queue_state`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueWrite {
    Put(QueueKey, Vec<u8>),
    Remove(QueueKey),
    /// Every record of the node (node deleted or recreated).
    DropNode(NodeId),
}

/// Encodes a key; `None` if the group name is longer than 65535 bytes.
pub fn encode_key(key: &QueueKey) -> Option<Vec<u8>> {
    let len = u16::try_from(key.group.len()).ok()?;
    let mut out = Vec::with_capacity(8 + 2 + key.group.len() + 9);
    out.extend_from_slice(&key.node.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(key.group.as_bytes());
    match key.seq {
        None => out.push(POSITION_TAG),
        Some(seq) => {
            out.push(ENTRY_TAG);
            out.extend_from_slice(&seq.to_be_bytes());
        }
    }
    Some(out)
}

/// Prefix of every record of `node`.
pub fn node_prefix(node: NodeId) -> [u8; 8] {
    node.to_be_bytes()
}

/// Decodes a key written by [`encode_key`].
pub fn decode_key(bytes: &[u8]) -> StoreResult<QueueKey> {
    let corrupt = |why: &str| StoreError::Corrupt(format!("queue key: {why}"));
    if bytes.len() < 11 {
        return Err(corrupt("too short"));
    }
    let node = u64::from_be_bytes(bytes[..8].try_into().map_err(|_| corrupt("node"))?);
    let len = usize::from(u16::from_be_bytes([bytes[8], bytes[9]]));
    let rest = &bytes[10..];
    if rest.len() < len + 1 {
        return Err(corrupt("truncated group"));
    }
    let group = String::from_utf8(rest[..len].to_vec()).map_err(|_| corrupt("group"))?;
    let seq = match (rest[len], &rest[len + 1..]) {
        (POSITION_TAG, []) => None,
        (ENTRY_TAG, s) if s.len() == 8 => Some(u64::from_be_bytes(
            s.try_into().map_err(|_| corrupt("seq"))?,
        )),
        _ => return Err(corrupt("unknown kind")),
    };
    Ok(QueueKey { node, group, seq })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(node: NodeId, group: &str, seq: Option<u64>) -> QueueKey {
        QueueKey {
            node,
            group: group.into(),
            seq,
        }
    }

    #[test]
    fn keys_round_trip() {
        for k in [
            key(1, "", None),
            key(7, "workers", Some(0)),
            key(u64::MAX, "é", Some(u64::MAX)),
        ] {
            let bytes = encode_key(&k).unwrap();
            assert!(bytes.starts_with(&node_prefix(k.node)));
            assert_eq!(decode_key(&bytes).unwrap(), k);
        }
    }

    #[test]
    fn entries_of_a_group_sort_by_seq_and_nodes_do_not_mix() {
        let a = encode_key(&key(1, "g", Some(255))).unwrap();
        let b = encode_key(&key(1, "g", Some(256))).unwrap();
        assert!(a < b);
        assert!(
            !encode_key(&key(2, "g", None))
                .unwrap()
                .starts_with(&node_prefix(1))
        );
    }

    #[test]
    fn bad_keys_are_corrupt() {
        for bad in [
            &b""[..],
            &[0; 10][..],
            &[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, b'X'][..],
        ] {
            assert!(decode_key(bad).is_err(), "{bad:?}");
        }
        assert!(encode_key(&key(1, &"x".repeat(70_000), None)).is_none());
    }
}
