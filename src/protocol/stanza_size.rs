//! Serialized sizes, so that nothing Herald sends is larger than
//! `limits.max_stanza_bytes`: ejabberd closes the whole component stream
//! (policy-violation) on one stanza over its `max_stanza_size`, for every
//! user of the service (xep-notes/decisions.md, "Output size limit").
//!
//! Sizes are measured, not guessed: an element is serialized into a byte
//! counter. An element measured on its own also writes its `xmlns`, which
//! inside its parent is usually left out, so the count errs on the large
//! side.

use std::ops::Range;
use tokio_xmpp::minidom::Element;

/// Bytes kept for what surrounds the items in a stanza: the `<iq/>` or
/// `<message/>` start and end tags with their fixed attributes, the
/// `<pubsub><items>`, `<event><items>` or `<query>` wrappers, the RSM
/// `<set/>` around its IDs and count, a XEP-0203 delay. Variable parts
/// (addresses, IDs, node names, SHIM headers) are added by the caller.
pub const BASE_ENVELOPE_BYTES: usize = 1024;

/// What config validation keeps between `max_payload_bytes` and
/// `max_stanza_bytes`, so that one item of the largest allowed payload
/// always fits a stanza of its own with the longest addresses (RFC 7622:
/// 3071 bytes a JID) and a few SHIM headers.
pub const ENVELOPE_BYTES: usize = 16 * 1024;

/// Bytes `el` takes when serialized (`usize::MAX` if it cannot be).
pub fn xml_len(el: &Element) -> usize {
    let mut counter = Counter(0);
    match el.write_to(&mut counter) {
        Ok(()) => counter.0,
        Err(_) => usize::MAX,
    }
}

/// An upper bound for `s` written as an attribute value or text: every
/// byte escaped as the longest entity (`&quot;`).
pub fn escaped_len(s: &str) -> usize {
    s.len().saturating_mul(6)
}

/// Bytes the items of a reply to `req` may take: the stanza limit less
/// the reply's envelope (its addresses and IQ id echo the request's).
pub fn reply_budget(max_stanza_bytes: usize, req: &super::IqRequest) -> usize {
    let addresses =
        escaped_len(&req.id) + escaped_len(req.from.as_str()) + escaped_len(req.to.as_str());
    max_stanza_bytes.saturating_sub(BASE_ENVELOPE_BYTES + addresses)
}

struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 = self.0.saturating_add(buf.len());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Which end of a page survives when it must be cut short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The first elements (paging forwards: the client goes on `<after/>`
    /// the last one it got).
    Oldest,
    /// The last elements (the newest items, or paging backwards: the
    /// client goes on `<before/>` the first one it got).
    Newest,
}

/// The contiguous run of elements of these sizes, from the kept end, whose
/// sizes add up to at most `budget`. Empty when not even the first fits.
pub fn fit(sizes: &[usize], budget: usize, keep: Keep) -> Range<usize> {
    let mut used = 0usize;
    let mut taken = 0;
    let ordered: Box<dyn Iterator<Item = &usize>> = match keep {
        Keep::Oldest => Box::new(sizes.iter()),
        Keep::Newest => Box::new(sizes.iter().rev()),
    };
    for &s in ordered {
        match used.checked_add(s) {
            Some(total) if total <= budget => used = total,
            _ => break,
        }
        taken += 1;
    }
    match keep {
        Keep::Oldest => 0..taken,
        Keep::Newest => sizes.len() - taken..sizes.len(),
    }
}

/// Splits elements of these sizes, in order, into consecutive runs of at
/// most `budget` bytes each. An element larger than `budget` gets a run
/// of its own (the caller sends it without its payload).
pub fn chunks(sizes: &[usize], budget: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut used = 0usize;
    for (i, &s) in sizes.iter().enumerate() {
        if i > start && used.saturating_add(s) > budget {
            out.push(start..i);
            start = i;
            used = 0;
        }
        used = used.saturating_add(s);
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_len_is_the_serialized_length() {
        let el: Element = "<a xmlns='urn:x' b='&quot;'>text &amp; more<c/></a>"
            .parse()
            .unwrap();
        let mut buf = Vec::new();
        el.write_to(&mut buf).unwrap();
        assert_eq!(xml_len(&el), buf.len());
    }

    #[test]
    fn fit_keeps_the_asked_end() {
        let sizes = [4, 4, 4, 4];
        assert_eq!(fit(&sizes, 9, Keep::Oldest), 0..2);
        assert_eq!(fit(&sizes, 9, Keep::Newest), 2..4);
        assert_eq!(fit(&sizes, 100, Keep::Newest), 0..4);
        assert_eq!(fit(&sizes, 3, Keep::Oldest), 0..0);
        assert_eq!(fit(&sizes, 3, Keep::Newest), 4..4);
        assert_eq!(fit(&[], 3, Keep::Newest), 0..0);
    }

    #[test]
    fn chunks_keep_order_and_isolate_what_cannot_fit() {
        assert_eq!(chunks(&[3, 3, 3, 3, 3], 7), vec![0..2, 2..4, 4..5]);
        assert_eq!(chunks(&[3, 20, 3], 7), vec![0..1, 1..2, 2..3]);
        assert_eq!(chunks(&[20], 7), vec![0..1]);
        assert_eq!(chunks(&[1, 1], 7), vec![0..2]);
        assert!(chunks(&[], 7).is_empty());
    }
}
