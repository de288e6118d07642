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

pub use crate::limits::ENVELOPE_BYTES;

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

/// Builds elements `0..n` one by one from the kept end with `make`, while
/// their sizes add up to at most `budget` (so a page of many elements is
/// never built whole only to be cut). Returns the indexes taken, the
/// elements in index order, and whether the only element taken is itself
/// over `budget` (at least one is always taken, so that the client can
/// page on; the caller sends that one without its payload).
pub fn take_fitting(
    n: usize,
    budget: usize,
    keep: Keep,
    make: impl FnMut(usize) -> Element,
) -> (Range<usize>, Vec<Element>, bool) {
    take_fitting_bounded(n, budget, keep, make, |_| usize::MAX)
}

/// [`take_fitting`] with a cheap upper bound of each element's size:
/// while the bounds still fit the budget, an element is counted at its
/// bound and not serialized to be measured (a page of small items, the
/// common case, costs no extra serialization); near the budget it is
/// measured exactly. Bounds only ever overcount, so nothing sent exceeds
/// the budget.
pub fn take_fitting_bounded(
    n: usize,
    budget: usize,
    keep: Keep,
    mut make: impl FnMut(usize) -> Element,
    bound: impl Fn(usize) -> usize,
) -> (Range<usize>, Vec<Element>, bool) {
    let order: Box<dyn Iterator<Item = usize>> = match keep {
        Keep::Oldest => Box::new(0..n),
        Keep::Newest => Box::new((0..n).rev()),
    };
    let mut used = 0usize;
    let mut taken = Vec::new();
    for i in order {
        let el = make(i);
        let cheap = used.saturating_add(bound(i));
        let total = if cheap <= budget {
            cheap
        } else {
            used.saturating_add(xml_len(&el))
        };
        if !taken.is_empty() && total > budget {
            break;
        }
        used = total;
        taken.push(el);
    }
    let over = taken.len() == 1 && used > budget;
    let range = match keep {
        Keep::Oldest => 0..taken.len(),
        Keep::Newest => {
            taken.reverse();
            n - taken.len()..n
        }
    };
    (range, taken, over)
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

    use crate::protocol::xml::BuilderExt;

    fn el(i: usize, bytes: usize) -> Element {
        Element::builder("i", "u")
            .a("n", i.to_string())
            .append("a".repeat(bytes))
            .build()
    }

    #[test]
    fn bounds_that_fit_skip_measuring_and_bounds_that_do_not_are_measured() {
        let one = xml_len(&el(0, 10));
        // Exact bounds: the same cut as measuring.
        let (r, _, _) = take_fitting_bounded(10, 2 * one + 1, Keep::Oldest, |i| el(i, 10), |_| one);
        assert_eq!(r, 0..2);
        // Bounds far too large for the budget: every element is measured,
        // so the cut is still exact.
        let (r, _, _) =
            take_fitting_bounded(10, 2 * one + 1, Keep::Oldest, |i| el(i, 10), |_| usize::MAX);
        assert_eq!(r, 0..2);
        // Overcounting bounds cut early, never late.
        let (r, _, _) =
            take_fitting_bounded(10, 3 * one, Keep::Oldest, |i| el(i, 10), |_| one + one / 2);
        assert_eq!(r, 0..2);
    }

    #[test]
    fn take_fitting_keeps_the_asked_end_and_builds_no_more_than_needed() {
        let one = xml_len(&el(0, 10));
        let mut built = 0;
        let (r, els, over) = take_fitting(10, 2 * one + 1, Keep::Oldest, |i| {
            built += 1;
            el(i, 10)
        });
        assert_eq!((r, els.len(), over), (0..2, 2, false));
        assert_eq!(built, 3, "stops at the first that does not fit");
        let (r, els, _) = take_fitting(10, 2 * one + 1, Keep::Newest, |i| el(i, 10));
        assert_eq!(r, 8..10);
        assert_eq!(els[0].attr("n"), Some("8"), "index order");
        let (r, _, over) = take_fitting(10, 3, Keep::Newest, |i| el(i, 10));
        assert_eq!((r, over), (9..10, true), "one is always taken");
        let (r, els, over) = take_fitting(0, 3, Keep::Oldest, |i| el(i, 10));
        assert_eq!((r, els.len(), over), (0..0, 0, false));
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
