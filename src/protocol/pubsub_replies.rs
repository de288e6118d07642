//! Core values rendered as the `<pubsub/>` children of IQ results
//! (XEP-0060 §5.6, §5.7, §6.1.2, §6.3.2, §6.5, §7.1.2, §8.1, §8.8.1, §8.9.1).

use super::forms::FormKind;
use super::notify::stored_payload;
use super::ns;
use super::pubsub_forms::{self, SUBSCRIBE_OPTIONS};
use super::rsm;
use super::stanza_size::{self, Keep, escaped_len};
use super::xml::BuilderExt;
use crate::pubsub::{
    Affiliation, BareJid, FormField, Item, ItemsPage, Subscription, SubscriptionState,
};
use tokio_xmpp::minidom::{Element, ElementBuilder};

/// `<pubsub xmlns='…'>` around one child.
pub fn pubsub(xmlns: &str, child: ElementBuilder) -> Element {
    Element::builder("pubsub", xmlns).append(child).build()
}

fn with_node(b: ElementBuilder, node: Option<&str>) -> ElementBuilder {
    match node {
        Some(n) => b.a("node", n),
        None => b,
    }
}

/// `<subscription node jid subid subscription/>` (pubsub namespace).
pub fn subscription(s: &Subscription) -> Element {
    Element::builder("subscription", ns::PUBSUB)
        .a("node", s.node.as_str())
        .a("jid", s.jid.as_str())
        .a("subid", s.subid.as_str())
        .a("subscription", s.state.as_str())
        .build()
}

/// §6.1.2 / §6.3.7: the subscription, and its options when they were
/// submitted with the request (Example 72).
pub fn subscribed(s: &Subscription, with_options: bool) -> Element {
    let mut b = Element::builder("pubsub", ns::PUBSUB).append(subscription(s));
    if with_options {
        let x = pubsub_forms::render(FormKind::Result, SUBSCRIBE_OPTIONS, &s.options.to_fields());
        b = b.append(Element::builder("options", ns::PUBSUB).append(x));
    }
    b.build()
}

/// §5.6: the requester's subscriptions.
pub fn subscriptions(node: Option<&str>, subs: &[Subscription]) -> Element {
    let b = with_node(Element::builder("subscriptions", ns::PUBSUB), node);
    pubsub(ns::PUBSUB, b.append_all(subs.iter().map(subscription)))
}

/// §5.7: the requester's affiliations.
pub fn affiliations(node: Option<&str>, affs: &[(String, Affiliation)]) -> Element {
    let items = affs.iter().map(|(n, a)| {
        Element::builder("affiliation", ns::PUBSUB)
            .a("node", n.as_str())
            .a("affiliation", a.as_str())
    });
    let b = with_node(Element::builder("affiliations", ns::PUBSUB), node);
    pubsub(ns::PUBSUB, b.append_all(items))
}

/// `<options node jid [subid]>` with a form (§6.3.2) or `<default>` (§6.4).
pub fn options_form(
    name: &str,
    node: Option<&str>,
    jid: Option<&str>,
    subid: Option<&str>,
    kind: FormKind,
    fields: &[FormField],
) -> Element {
    let mut b = with_node(Element::builder(name, ns::PUBSUB), node);
    if let Some(j) = jid {
        b = b.a("jid", j);
    }
    if let Some(s) = subid {
        b = b.a("subid", s);
    }
    let x = pubsub_forms::render(kind, SUBSCRIBE_OPTIONS, fields);
    pubsub(ns::PUBSUB, b.append(x))
}

/// How a page of items must be cut to fit its stanza: the bytes left for
/// the items (the caller has taken the addresses and IQ id off) and which
/// end to keep.
#[derive(Debug, Clone, Copy)]
pub struct Fit {
    pub budget: usize,
    pub keep: Keep,
}

/// §6.5: `<items node>` with payloads, plus an XEP-0059 `<set/>` when paged
/// or when the page had to be cut to fit `fit` (§6.5.4: the service
/// returns some items and notes the truncation with RSM, so the client
/// pages on from `<first/>` or `<last/>`). An item too big for any stanza
/// is listed by ID only.
pub fn items(node: &str, page: &ItemsPage, rsm: bool, fit: Fit) -> Element {
    let ids = page.items.iter().map(|i| escaped_len(&i.id)).max();
    let reserve = escaped_len(node) + 2 * ids.unwrap_or(0);
    let budget = fit.budget.saturating_sub(reserve);
    let (range, mut kept, over) = stanza_size::take_fitting_bounded(
        page.items.len(),
        budget,
        fit.keep,
        |i| item_el(page, i, true),
        |i| item_size_bound(&page.items[i]).saturating_add(via_size(page, i)),
    );
    if over {
        let item = &page.items[range.start];
        tracing::warn!(
            node,
            item = item.id.as_str(),
            "item too big for any stanza; sent by ID only"
        );
        kept = vec![item_el(page, range.start, false)];
    }
    let shown = range.len();
    let rsm_set = (rsm || shown < page.items.len()).then(|| rsm_set(page, range));
    let items = Element::builder("items", ns::PUBSUB)
        .a("node", node)
        .append_all(kept);
    let b = Element::builder("pubsub", ns::PUBSUB).append(items);
    b.append_all(rsm_set).build()
}

/// The bytes a collection page adds to item `i`: its `node` attribute.
fn via_size(page: &ItemsPage, i: usize) -> usize {
    page.via.get(i).map_or(0, |v| 8 + escaped_len(&v.leaf))
}

/// An upper bound of `item_el(item, true)`'s serialized size: the wrapper
/// with every character of the ID, publisher and stored payload escaped
/// as the longest entity (re-serializing a stored payload can escape what
/// its text left bare).
fn item_size_bound(item: &Item) -> usize {
    const ITEM_WRAPPER: usize = 96; // <item xmlns='...pubsub' id='' publisher=''></item>
    let publisher = item
        .publisher
        .as_ref()
        .map_or(0, |p| escaped_len(p.as_str()));
    let payload = item.payload.as_deref().map_or(0, escaped_len);
    ITEM_WRAPPER
        .saturating_add(escaped_len(&item.id))
        .saturating_add(publisher)
        .saturating_add(payload)
}

/// `<item id [publisher]>` with its stored payload when `payload`; in a
/// collection's page (XEP-0248 §4.2) also `node`, the leaf it is in (an
/// attribute XEP-0060 does not define: the XEP gives no form for it).
fn item_el(page: &ItemsPage, i: usize, payload: bool) -> Element {
    let item = &page.items[i];
    let mut b = Element::builder("item", ns::PUBSUB).a("id", item.id.as_str());
    if let Some(via) = page.via.get(i) {
        b = b.a("node", via.leaf.as_str());
    }
    if let Some(p) = &item.publisher {
        b = b.a("publisher", p.as_str());
    }
    let payload = (item.payload.as_deref())
        .filter(|_| payload)
        .and_then(|x| stored_payload(&item.id, x));
    b.append_all(payload).build()
}

/// XEP-0059 §2: `<first/>`, `<last/>` and `<count/>` of the items shown
/// (`range`). The cursors are item IDs, or in a collection's page the
/// collection's archive IDs (what `<after/>`/`<before/>` take there).
fn rsm_set(page: &ItemsPage, range: std::ops::Range<usize>) -> Element {
    let cursor = |i: usize| match page.via.get(i) {
        Some(via) => via.archive_id.clone(),
        None => page.items[i].id.clone(),
    };
    let (first, last) = match range.is_empty() {
        true => (None, None),
        false => (Some(cursor(range.start)), Some(cursor(range.end - 1))),
    };
    rsm::set(first, last, page.total)
}

/// §7.1.2: the published items' IDs.
pub fn published(node: &str, ids: &[String]) -> Element {
    let items = ids
        .iter()
        .map(|id| Element::builder("item", ns::PUBSUB).a("id", id.as_str()));
    let publish = Element::builder("publish", ns::PUBSUB)
        .a("node", node)
        .append_all(items);
    pubsub(ns::PUBSUB, publish)
}

/// §8.1.2: the created node's name (always given, instant or not).
pub fn created(node: &str) -> Element {
    pubsub(
        ns::PUBSUB,
        Element::builder("create", ns::PUBSUB).a("node", node),
    )
}

/// §8.2.1 (`configure`) and §8.3 (`default`): a node_config form.
pub fn node_config(name: &str, node: Option<&str>, fields: &[FormField]) -> Element {
    let x = pubsub_forms::render(FormKind::Form, pubsub_forms::NODE_CONFIG, fields);
    let b = with_node(Element::builder(name, ns::PUBSUB_OWNER), node);
    pubsub(ns::PUBSUB_OWNER, b.append(x))
}

/// §8.8.1: subscribed and unconfigured subscriptions only (MUST NOT list
/// `none`, SHOULD NOT list `pending`).
pub fn owner_subscriptions(node: &str, subs: &[Subscription]) -> Element {
    let listed = subs
        .iter()
        .filter(|s| {
            !matches!(
                s.state,
                SubscriptionState::None | SubscriptionState::Pending
            )
        })
        .map(|s| {
            Element::builder("subscription", ns::PUBSUB_OWNER)
                .a("jid", s.jid.as_str())
                .a("subscription", s.state.as_str())
                .a("subid", s.subid.as_str())
        });
    let b = Element::builder("subscriptions", ns::PUBSUB_OWNER).a("node", node);
    pubsub(ns::PUBSUB_OWNER, b.append_all(listed))
}

/// §8.9.1: every affiliation but `none`.
pub fn owner_affiliations(node: &str, affs: &[(BareJid, Affiliation)]) -> Element {
    let listed = affs
        .iter()
        .filter(|(_, a)| *a != Affiliation::None)
        .map(|(j, a)| {
            Element::builder("affiliation", ns::PUBSUB_OWNER)
                .a("jid", j.as_str())
                .a("affiliation", a.as_str())
        });
    let b = Element::builder("affiliations", ns::PUBSUB_OWNER).a("node", node);
    pubsub(ns::PUBSUB_OWNER, b.append_all(listed))
}
