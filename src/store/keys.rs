//! On-disk byte layout of the sled store: keys and item values.
//!
//! All items of all nodes share one tree so that replacing an item (new seq
//! entry, index update, old seq entry removed) is one atomic `apply_batch`.
//! A prefix byte tells the two key kinds apart:
//!
//! - `S | node(8) | seq(8)` -> encoded item (id, publisher, time, payload)
//! - `I | node(8) | item id` -> seq(8)
//! - `K | idempotency key` -> created_ms(8) | opaque answer
//! - `T | created_ms(8) | idempotency key` -> empty (retention order)
//! - `A | node(8) | seq(8)` -> archive entry (XEP-0313 node history): a
//!   publication (`P` + item value) or a retraction (`R` + time + id)
//!
//! Integers are big-endian so byte order is numeric order, which makes a
//! node's items a contiguous, seq-ordered range.

use super::{ArchiveEntry, NodeId, StoreError, StoreResult, StoredItem};

const SEQ_TAG: u8 = b'S';
const ID_TAG: u8 = b'I';
const IDEM_TAG: u8 = b'K';
const IDEM_TIME_TAG: u8 = b'T';
const ARCHIVE_TAG: u8 = b'A';

/// Length of a seq key: tag + node + seq.
pub const SEQ_KEY_LEN: usize = 17;

/// `S | node | seq`: where an item's value lives.
pub fn seq_key(node: NodeId, seq: u64) -> [u8; SEQ_KEY_LEN] {
    tagged_key(SEQ_TAG, node, seq)
}

/// `A | node | seq`: one entry of the node's history (archive ID `seq`).
pub fn archive_key(node: NodeId, seq: u64) -> [u8; SEQ_KEY_LEN] {
    tagged_key(ARCHIVE_TAG, node, seq)
}

fn tagged_key(tag: u8, node: NodeId, seq: u64) -> [u8; SEQ_KEY_LEN] {
    let mut key = [0u8; SEQ_KEY_LEN];
    key[0] = tag;
    key[1..9].copy_from_slice(&node.to_be_bytes());
    key[9..].copy_from_slice(&seq.to_be_bytes());
    key
}

/// `I | node | id`: maps an item ID to its current seq.
pub fn id_key(node: NodeId, id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(9 + id.len());
    key.extend_from_slice(&id_prefix(node));
    key.extend_from_slice(id.as_bytes());
    key
}

/// Prefix shared by every `I` key of `node` (for purge sweeps).
pub fn id_prefix(node: NodeId) -> [u8; 9] {
    let mut p = [0u8; 9];
    p[0] = ID_TAG;
    p[1..].copy_from_slice(&node.to_be_bytes());
    p
}

/// `K | key`: an idempotency record.
pub fn idem_key(key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + key.len());
    k.push(IDEM_TAG);
    k.extend_from_slice(key.as_bytes());
    k
}

/// `T | created_ms | key`: the retention index of an idempotency record.
pub fn idem_time_key(created_ms: u64, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(9 + key.len());
    k.push(IDEM_TIME_TAG);
    k.extend_from_slice(&created_ms.to_be_bytes());
    k.extend_from_slice(key.as_bytes());
    k
}

/// Prefix of every retention index key (oldest first).
pub const IDEM_TIME_PREFIX: [u8; 1] = [IDEM_TIME_TAG];

/// `(created_ms, key)` from a retention index key.
pub fn parse_idem_time_key(k: &[u8]) -> StoreResult<(u64, String)> {
    if k.len() < 9 || k[0] != IDEM_TIME_TAG {
        return Err(corrupt("malformed idempotency index key"));
    }
    let key = String::from_utf8(k[9..].to_vec()).map_err(|_| corrupt("key is not UTF-8"))?;
    Ok((u64_from(&k[1..9]), key))
}

/// The value under a `K` key: creation time, then the opaque answer.
pub fn encode_idem(created_ms: u64, value: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + value.len());
    v.extend_from_slice(&created_ms.to_be_bytes());
    v.extend_from_slice(value);
    v
}

pub fn decode_idem(bytes: &[u8]) -> StoreResult<(u64, Vec<u8>)> {
    if bytes.len() < 8 {
        return Err(corrupt("idempotency record too short"));
    }
    Ok((u64_from(&bytes[..8]), bytes[8..].to_vec()))
}

/// The seq in a seq key of `node`; `Corrupt` if the key is not one.
pub fn parse_seq_key(node: NodeId, key: &[u8]) -> StoreResult<u64> {
    parse_tagged(SEQ_TAG, node, key).ok_or_else(|| corrupt("malformed seq key"))
}

/// The seq in an archive key of `node`; `Corrupt` if the key is not one.
pub fn parse_archive_key(node: NodeId, key: &[u8]) -> StoreResult<u64> {
    parse_tagged(ARCHIVE_TAG, node, key).ok_or_else(|| corrupt("malformed archive key"))
}

fn parse_tagged(tag: u8, node: NodeId, key: &[u8]) -> Option<u64> {
    let ok = key.len() == SEQ_KEY_LEN && key[0] == tag && key[1..9] == node.to_be_bytes();
    ok.then(|| u64_from(&key[9..]))
}

/// The value stored under an `I` key.
pub fn encode_seq(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

pub fn decode_seq(bytes: &[u8]) -> StoreResult<u64> {
    if bytes.len() != 8 {
        return Err(corrupt("seq value is not 8 bytes"));
    }
    Ok(u64_from(bytes))
}

fn u64_from(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(bytes);
    u64::from_be_bytes(b)
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

// Item values, version 1:
//   version(1) | flags(1) | published_ms(varint) | id(str)
//   [publisher(str) if flags & HAS_PUBLISHER] [payload(str) if flags & HAS_PAYLOAD]
// where str = len(varint) | UTF-8 bytes. The seq is in the key, not here.
// Bump VALUE_VERSION and keep decoding old versions when this changes.
const VALUE_VERSION: u8 = 1;
const HAS_PUBLISHER: u8 = 1;
const HAS_PAYLOAD: u8 = 2;

pub fn encode_item(item: &StoredItem) -> Vec<u8> {
    let opt_len = |s: &Option<String>| s.as_ref().map_or(0, |s| s.len() + 5);
    let cap = 12 + item.id.len() + 5 + opt_len(&item.publisher) + opt_len(&item.payload);
    let mut out = Vec::with_capacity(cap);
    let mut flags = 0;
    if item.publisher.is_some() {
        flags |= HAS_PUBLISHER;
    }
    if item.payload.is_some() {
        flags |= HAS_PAYLOAD;
    }
    out.push(VALUE_VERSION);
    out.push(flags);
    put_varint(&mut out, item.published_ms);
    put_str(&mut out, &item.id);
    if let Some(p) = &item.publisher {
        put_str(&mut out, p);
    }
    if let Some(p) = &item.payload {
        put_str(&mut out, p);
    }
    out
}

/// Decodes a value written by [`encode_item`]; `seq` comes from its key.
pub fn decode_item(seq: u64, bytes: &[u8]) -> StoreResult<StoredItem> {
    let mut r = Reader(bytes);
    let version = r.byte()?;
    if version != VALUE_VERSION {
        return Err(StoreError::Corrupt(format!(
            "unknown item version {version}"
        )));
    }
    let flags = r.byte()?;
    if flags & !(HAS_PUBLISHER | HAS_PAYLOAD) != 0 {
        return Err(corrupt("unknown item flags"));
    }
    let published_ms = r.varint()?;
    let id = r.string()?;
    let publisher = (flags & HAS_PUBLISHER != 0)
        .then(|| r.string())
        .transpose()?;
    let payload = (flags & HAS_PAYLOAD != 0).then(|| r.string()).transpose()?;
    if !r.0.is_empty() {
        return Err(corrupt("trailing bytes after item"));
    }
    Ok(StoredItem {
        id,
        seq,
        publisher,
        published_ms,
        payload,
    })
}

/// The item ID alone, without copying publisher or payload (purge, trim).
pub fn decode_item_id(bytes: &[u8]) -> StoreResult<String> {
    decode_item_head(bytes).map(|(_, id)| id)
}

/// Publication time and item ID, without copying publisher or payload.
pub fn decode_item_head(bytes: &[u8]) -> StoreResult<(u64, String)> {
    let mut r = Reader(bytes);
    if r.byte()? != VALUE_VERSION {
        return Err(corrupt("unknown item version"));
    }
    r.byte()?;
    let ms = r.varint()?;
    Ok((ms, r.string()?))
}

// Archive values: `P` + an item value (as above), or
//   `R` | version(1) | at_ms(varint) | id(str)   for a retraction, or
//   `L` | version(1) | at_ms(varint) | leaf(varint) | leaf_seq(varint)
//   for a collection's link to a leaf's entry.
const ARCHIVE_PUBLISH: u8 = b'P';
const ARCHIVE_RETRACT: u8 = b'R';
const ARCHIVE_LINK: u8 = b'L';

pub fn encode_archive(entry: &ArchiveEntry) -> Vec<u8> {
    match entry {
        ArchiveEntry::Publish(item) => encode_archived_item(item),
        ArchiveEntry::Retract { id, at_ms, .. } => {
            let mut out = vec![ARCHIVE_RETRACT, VALUE_VERSION];
            put_varint(&mut out, *at_ms);
            put_str(&mut out, id);
            out
        }
        ArchiveEntry::Link {
            leaf,
            leaf_seq,
            at_ms,
            ..
        } => {
            let mut out = vec![ARCHIVE_LINK, VALUE_VERSION];
            put_varint(&mut out, *at_ms);
            put_varint(&mut out, *leaf);
            put_varint(&mut out, *leaf_seq);
            out
        }
    }
}

/// The archive value of a publication (no copy of the item needed).
pub fn encode_archived_item(item: &StoredItem) -> Vec<u8> {
    let item = encode_item(item);
    let mut out = Vec::with_capacity(item.len() + 1);
    out.push(ARCHIVE_PUBLISH);
    out.extend_from_slice(&item);
    out
}

/// The time of an archive value, without decoding its payload.
pub fn decode_archive_time(bytes: &[u8]) -> StoreResult<u64> {
    match bytes.split_first() {
        Some((&ARCHIVE_PUBLISH, rest)) => decode_item_head(rest).map(|(ms, _)| ms),
        Some((&ARCHIVE_RETRACT | &ARCHIVE_LINK, rest)) => {
            let mut r = Reader(rest);
            r.byte()?;
            r.varint()
        }
        _ => Err(corrupt("unknown archive entry kind")),
    }
}

/// Decodes a value written by [`encode_archive`]; `seq` comes from its key.
pub fn decode_archive(seq: u64, bytes: &[u8]) -> StoreResult<ArchiveEntry> {
    match bytes.split_first() {
        Some((&ARCHIVE_PUBLISH, rest)) => decode_item(seq, rest).map(ArchiveEntry::Publish),
        Some((&ARCHIVE_RETRACT, rest)) => {
            let mut r = Reader(rest);
            if r.byte()? != VALUE_VERSION {
                return Err(corrupt("unknown archive version"));
            }
            let at_ms = r.varint()?;
            let id = r.string()?;
            if !r.0.is_empty() {
                return Err(corrupt("trailing bytes after archive entry"));
            }
            Ok(ArchiveEntry::Retract { seq, id, at_ms })
        }
        Some((&ARCHIVE_LINK, rest)) => {
            let mut r = Reader(rest);
            if r.byte()? != VALUE_VERSION {
                return Err(corrupt("unknown archive version"));
            }
            let (at_ms, leaf, leaf_seq) = (r.varint()?, r.varint()?, r.varint()?);
            if !r.0.is_empty() {
                return Err(corrupt("trailing bytes after archive entry"));
            }
            Ok(ArchiveEntry::Link {
                seq,
                leaf,
                leaf_seq,
                at_ms,
            })
        }
        _ => Err(corrupt("unknown archive entry kind")),
    }
}

/// LEB128: lengths and times are small, so this beats fixed 8 bytes.
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Cursor over a value; every read checks bounds so bad data is `Corrupt`.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> StoreResult<u8> {
        let (&b, rest) = self
            .0
            .split_first()
            .ok_or_else(|| corrupt("truncated item"))?;
        self.0 = rest;
        Ok(b)
    }

    fn varint(&mut self) -> StoreResult<u64> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            let part = u64::from(b & 0x7f);
            if shift == 63 && part > 1 {
                return Err(corrupt("varint overflows u64"));
            }
            v |= part << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(corrupt("varint too long"))
    }

    fn string(&mut self) -> StoreResult<String> {
        let len = usize::try_from(self.varint()?).map_err(|_| corrupt("length too big"))?;
        if len > self.0.len() {
            return Err(corrupt("truncated string"));
        }
        let (s, rest) = self.0.split_at(len);
        self.0 = rest;
        String::from_utf8(s.to_vec()).map_err(|_| corrupt("string is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, publisher: Option<&str>, payload: Option<&str>) -> StoredItem {
        StoredItem {
            id: id.to_owned(),
            seq: 42,
            publisher: publisher.map(str::to_owned),
            published_ms: 1_700_000_000_123,
            payload: payload.map(str::to_owned),
        }
    }

    #[test]
    fn seq_key_round_trip() {
        for (node, seq) in [(0, 0), (1, 255), (7, 256), (u64::MAX, u64::MAX)] {
            assert_eq!(parse_seq_key(node, &seq_key(node, seq)).unwrap(), seq);
        }
    }

    #[test]
    fn seq_key_rejects_other_node_and_kind() {
        assert!(parse_seq_key(2, &seq_key(1, 5)).is_err());
        assert!(parse_seq_key(1, &id_key(1, "abcdefgh")).is_err());
        assert!(parse_seq_key(1, &seq_key(1, 5)[..16]).is_err());
    }

    #[test]
    fn seq_keys_sort_numerically() {
        let seqs = [0u64, 1, 255, 256, 65_535, 65_536, 1 << 32, u64::MAX];
        for w in seqs.windows(2) {
            assert!(seq_key(3, w[0]) < seq_key(3, w[1]), "{w:?}");
        }
        // Node is more significant than seq: nodes never interleave.
        assert!(seq_key(1, u64::MAX) < seq_key(2, 0));
        assert!(seq_key(255, u64::MAX) < seq_key(256, 0));
    }

    #[test]
    fn key_kinds_do_not_overlap() {
        // Every I key sorts before every S key, so an S range never sees one.
        assert!(id_key(u64::MAX, "zzz").as_slice() < seq_key(0, 0).as_slice());
        assert!(id_key(1, "x").starts_with(&id_prefix(1)));
        assert!(!id_key(1, "x").starts_with(&id_prefix(2)));
    }

    #[test]
    fn archive_keys_are_their_own_kind() {
        assert_eq!(parse_archive_key(4, &archive_key(4, 9)).unwrap(), 9);
        assert!(parse_archive_key(4, &seq_key(4, 9)).is_err());
        assert!(parse_seq_key(4, &archive_key(4, 9)).is_err());
        // A < I < S: an archive range never sees item keys.
        assert!(archive_key(u64::MAX, u64::MAX).as_slice() < id_key(0, "").as_slice());
        assert!(archive_key(1, u64::MAX) < archive_key(2, 0));
    }

    #[test]
    fn archive_value_round_trip() {
        let entries = [
            ArchiveEntry::Publish(item("a", Some("alice@example.com"), Some("<x/>"))),
            ArchiveEntry::Retract {
                seq: 42,
                id: "gone".into(),
                at_ms: 1_700_000_000_999,
            },
            ArchiveEntry::Link {
                seq: 42,
                leaf: 300,
                leaf_seq: 70_000,
                at_ms: 1_700_000_000_123,
            },
        ];
        for e in entries {
            let bytes = encode_archive(&e);
            assert_eq!(decode_archive(42, &bytes).unwrap(), e);
            assert_eq!(decode_archive_time(&bytes).unwrap(), e.at_ms());
        }
        for bad in [
            &b""[..],
            &b"X"[..],
            &b"R"[..],
            &b"R\x01\x05"[..],
            &b"L\x01\x05\x01"[..],
        ] {
            assert!(decode_archive(1, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn seq_value_round_trip() {
        assert_eq!(decode_seq(&encode_seq(70_000)).unwrap(), 70_000);
        assert!(matches!(decode_seq(&[1, 2]), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn item_round_trip_all_shapes() {
        let shapes = [
            item("a", Some("alice@example.com"), Some("<entry/>")),
            item("b", None, Some("<x>é</x>")),
            item("c", Some("bob@example.com"), None),
            item("", None, None),
        ];
        for it in shapes {
            let bytes = encode_item(&it);
            assert_eq!(bytes[0], VALUE_VERSION);
            assert_eq!(decode_item(42, &bytes).unwrap(), it);
            assert_eq!(decode_item_id(&bytes).unwrap(), it.id);
        }
    }

    #[test]
    fn varint_edges_round_trip() {
        for v in [0, 127, 128, 16_383, 16_384, u64::MAX - 1, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(Reader(&out).varint().unwrap(), v);
        }
    }

    #[test]
    fn bad_values_are_corrupt() {
        let good = encode_item(&item("id", Some("p"), Some("payload")));
        let mut bad_version = good.clone();
        bad_version[0] = 9;
        let mut bad_flags = good.clone();
        bad_flags[1] = 0x80;
        let mut trailing = good.clone();
        trailing.push(0);
        let overlong = [
            1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
        ];
        let bad_utf8 = [1, 0, 0, 1, 0xff];
        let cases: Vec<&[u8]> = vec![
            &[],
            &good[..good.len() - 1],
            &bad_version,
            &bad_flags,
            &trailing,
            &overlong,
            &bad_utf8,
        ];
        for bytes in cases {
            let r = decode_item(1, bytes);
            assert!(matches!(r, Err(StoreError::Corrupt(_))), "{bytes:?}: {r:?}");
        }
    }
}
