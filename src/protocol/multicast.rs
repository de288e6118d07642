//! XEP-0033 Extended Stanza Addressing, as a sender: one `<message/>` to
//! the server's multicast service carries the shared notification and a
//! `bcc` address per recipient (§4.6); the service delivers a copy to
//! each with `to` rewritten and the addresses stripped (§2, §4).
//!
//! Pure: which recipients may share a stanza, how they are cut into
//! batches, and the address element. The link-facing state (discovery,
//! bounces, back-off) lives in `app::multicast`; the core never sees any
//! of it.

use super::stanza_size;
use super::xml::BuilderExt;
use std::ops::Range;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;

/// XEP-0033 namespace: `<addresses/>` and the disco#info feature (§2).
pub const ADDRESS: &str = "http://jabber.org/protocol/address";

/// Bytes one `<address type='bcc' jid='…'/>` takes besides its JID.
const ADDRESS_OVERHEAD: usize = 32;

/// Bytes of `<addresses xmlns='…'></addresses>` itself.
const ADDRESSES_OVERHEAD: usize = 64;

/// Where and how to multicast, when the server offers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fanout {
    /// The multicast service, e.g. `multicast.example.com`.
    pub service: Jid,
    /// Most recipients in one multicast stanza (ejabberd refuses more
    /// than its `limits` allow, default 20 for a non-local sender).
    pub batch: usize,
}

/// Splits recipients with identical content into batches for multicast:
/// each range has at most `batch` addresses whose `<address/>` elements
/// fit `budget` bytes. A range of one is better sent directly (the
/// multicast envelope buys nothing), so callers treat it so.
pub fn batches(jids: &[&Jid], batch: usize, budget: usize) -> Vec<Range<usize>> {
    let sizes: Vec<usize> = jids.iter().map(|j| address_len(j)).collect();
    let budget = budget.saturating_sub(ADDRESSES_OVERHEAD);
    let mut out = Vec::new();
    for run in stanza_size::chunks(&sizes, budget) {
        // chunks() bounds bytes; the count bound cuts each run again.
        let mut start = run.start;
        while start < run.end {
            let end = run.end.min(start + batch.max(1));
            out.push(start..end);
            start = end;
        }
    }
    out
}

fn address_len(jid: &Jid) -> usize {
    stanza_size::escaped_len(jid.as_str()) + ADDRESS_OVERHEAD
}

/// `<addresses>` with one `bcc` per recipient: bcc, not `to`, so no
/// recipient learns who else got the notification (§4.6).
pub fn addresses(jids: &[&Jid]) -> Element {
    let each = jids.iter().map(|j| {
        Element::builder("address", ADDRESS)
            .a("type", "bcc")
            .a("jid", j.as_str())
            .build()
    });
    Element::builder("addresses", ADDRESS)
        .append_all(each)
        .build()
}

/// The `bcc` recipients of a multicast stanza we sent: what a bounce is
/// resent to, one message each. Unreadable addresses are skipped.
pub fn bcc_recipients(addresses: &Element) -> Vec<Jid> {
    (addresses.children())
        .filter(|a| a.is("address", ADDRESS) && a.attr("type") == Some("bcc"))
        .filter_map(|a| a.attr("jid").and_then(|j| Jid::new(j).ok()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jids(n: usize) -> Vec<Jid> {
        (0..n)
            .map(|i| Jid::new(&format!("user{i}@localhost")).unwrap())
            .collect()
    }

    #[test]
    fn batches_are_cut_by_count() {
        let owned = jids(5);
        let refs: Vec<&Jid> = owned.iter().collect();
        assert_eq!(batches(&refs, 2, 100_000), vec![0..2, 2..4, 4..5]);
        assert_eq!(batches(&refs, 20, 100_000), vec![0..5]);
        // A zero batch size is treated as one, never an endless loop.
        assert_eq!(batches(&refs, 0, 100_000).len(), 5);
        assert!(batches(&[], 20, 100_000).is_empty());
    }

    #[test]
    fn batches_are_cut_by_bytes_too() {
        let owned = jids(4);
        let refs: Vec<&Jid> = owned.iter().collect();
        let one = address_len(refs[0]);
        let ranges = batches(&refs, 20, ADDRESSES_OVERHEAD + 2 * one);
        assert_eq!(ranges, vec![0..2, 2..4]);
        // No room at all: one address per stanza (sent directly).
        assert_eq!(batches(&refs, 20, 0).len(), 4);
    }

    #[test]
    fn addresses_round_trip_to_their_recipients() {
        let owned = jids(3);
        let refs: Vec<&Jid> = owned.iter().collect();
        let el = addresses(&refs);
        assert!(el.is("addresses", ADDRESS));
        assert!(el.children().all(|a| a.attr("type") == Some("bcc")));
        assert_eq!(bcc_recipients(&el), owned);
    }

    #[test]
    fn foreign_or_broken_addresses_are_skipped() {
        let el: Element = format!(
            "<addresses xmlns='{ADDRESS}'><address type='to' jid='a@x'/>\
             <address type='bcc' jid='@@'/><address type='bcc'/>\
             <address type='bcc' jid='b@x'/></addresses>"
        )
        .parse()
        .unwrap();
        assert_eq!(bcc_recipients(&el), vec![Jid::new("b@x").unwrap()]);
    }
}
