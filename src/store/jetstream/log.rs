//! Reading a node's ordered log out of a partition stream: lookups by
//! subject, and pages by the core's seq found with a binary search over
//! stream sequences. All reads go to the stream leader (not direct gets,
//! which a lagging follower may answer), so they see every acknowledged
//! write.

use super::retry::{ATTEMPT, HEAVY_ATTEMPT, retrying};
use crate::store::{StoreError, StoreResult};
use async_nats::jetstream::message::StreamMessage;
use async_nats::jetstream::stream::{self, LastRawMessageErrorKind};
use bytes::Bytes;

/// One message of the log: its stream sequence, the core's seq (the
/// first 8 bytes of the body) and the rest of the body.
pub struct Entry {
    pub sseq: u64,
    pub seq: u64,
    body: Bytes,
}

impl Entry {
    fn new(sseq: u64, body: Bytes) -> StoreResult<Self> {
        let head: [u8; 8] = body
            .get(..8)
            .and_then(|h| h.try_into().ok())
            .ok_or_else(|| StoreError::Corrupt(format!("message {sseq} has no seq")))?;
        Ok(Self {
            sseq,
            seq: u64::from_be_bytes(head),
            body,
        })
    }

    /// The body after the seq (a `keys.rs` value).
    pub fn rest(&self) -> &[u8] {
        &self.body[8..]
    }
}

/// The message, or `None` where the server has none.
fn found(
    r: Result<StreamMessage, stream::LastRawMessageError>,
) -> Result<Option<StreamMessage>, stream::LastRawMessageError> {
    match r {
        Ok(m) => Ok(Some(m)),
        Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn entry(m: Option<StreamMessage>) -> StoreResult<Option<Entry>> {
    m.map(|m| Entry::new(m.sequence, m.payload)).transpose()
}

/// The message of `subject`, if any.
pub async fn last(s: &stream::Stream, subject: &str) -> StoreResult<Option<Entry>> {
    let got = retrying("read", ATTEMPT, || async {
        found(s.get_last_raw_message_by_subject(subject).await)
    });
    entry(got.await?)
}

/// The first message matching `filter` at stream sequence `from` or later.
pub async fn next(s: &stream::Stream, filter: &str, from: u64) -> StoreResult<Option<Entry>> {
    let from = from.max(1);
    let got = retrying("read", ATTEMPT, || async {
        found(s.get_first_raw_message_by_subject(filter, from).await)
    });
    entry(got.await?)
}

/// The subjects matching `filter` that hold a message (one stream-info
/// request per 100,000 subjects, no message bodies): counting a node's
/// items this way costs a request, not a read per item, which keeps a
/// takeover's load short (docs/architecture.md, "Several instances").
pub async fn subjects(s: &stream::Stream, filter: &str) -> StoreResult<Vec<String>> {
    use futures::TryStreamExt;
    retrying("stream info", HEAVY_ATTEMPT, || async {
        let listing = s.info_with_subjects(filter).await?;
        listing
            .try_filter_map(|(subject, count)| async move { Ok((count > 0).then_some(subject)) })
            .try_collect::<Vec<String>>()
            .await
    })
    .await
}

/// The stream sequence from which reading `filter` forward yields exactly
/// the entries with seq > `after` (entries of one node are in seq order).
async fn start_after(s: &stream::Stream, filter: &str, after: u64) -> StoreResult<u64> {
    if after == 0 {
        return Ok(1);
    }
    let info = retrying("stream info", ATTEMPT, || s.get_info()).await?;
    let (mut lo, mut hi) = (
        info.state.first_sequence.max(1),
        info.state.last_sequence + 1,
    );
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match next(s, filter, mid).await? {
            // Everything up to this entry is at or before `after`.
            Some(e) if e.seq <= after => lo = e.sseq + 1,
            _ => hi = mid,
        }
    }
    Ok(lo.min(hi))
}

/// Up to `max` entries with seq > `after`, oldest first.
pub async fn after(
    s: &stream::Stream,
    filter: &str,
    after: u64,
    max: usize,
) -> StoreResult<Vec<Entry>> {
    let mut out = Vec::new();
    if max == 0 || after == u64::MAX {
        return Ok(out);
    }
    let mut from = start_after(s, filter, after).await?;
    while out.len() < max {
        let Some(e) = next(s, filter, from).await? else {
            break;
        };
        from = e.sseq + 1;
        out.push(e);
    }
    Ok(out)
}

/// Up to `max` entries with seq < `before`, the newest of them, oldest
/// first: read forward from windows growing backwards from the end.
pub async fn before(
    s: &stream::Stream,
    filter: &str,
    before: u64,
    max: usize,
) -> StoreResult<Vec<Entry>> {
    if max == 0 || before == 0 {
        return Ok(Vec::new());
    }
    let end = start_after(s, filter, before - 1).await?;
    let mut width = (max as u64).saturating_mul(2).max(64);
    loop {
        let from = end.saturating_sub(width).max(1);
        let mut got = Vec::new();
        let mut at = from;
        while let Some(e) = next(s, filter, at).await? {
            if e.sseq >= end {
                break;
            }
            at = e.sseq + 1;
            got.push(e);
        }
        if got.len() >= max || from == 1 {
            let skip = got.len().saturating_sub(max);
            return Ok(got.split_off(skip));
        }
        width = width.saturating_mul(4);
    }
}
