//! Core [`Notification`]s rendered into `<message/>` stanzas from the
//! service to each recipient (XEP-0060 §7.1.2, §7.2.2, §8.2.5, §8.4.2,
//! §8.5.2, §8.6, §8.8.4, §8.9.4, §12.16 SHIM SubIDs).
//!
//! Cost: the event element (with its parsed payloads) is built once per
//! notification; each recipient's message gets a deep clone of it, because
//! a typed `Message` owns its payload `Element`s. That is one tree copy
//! per recipient, never a re-parse of the stored payload string.

use super::forms::{Field, FieldType, Form, FormKind};
use super::multicast::{self, Fanout};
use super::pubsub_forms::{self, NODE_CONFIG, SUBSCRIBE_AUTHORIZATION};
use super::xml::BuilderExt;
use super::{message_id, ns, stanza_size, timestamp};
use crate::pubsub::{Event, Item, Notification, NotificationType, Recipient};
use tokio_xmpp::Stanza;
use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::message::{Id, Message, MessageType};
use tokio_xmpp::parsers::ns::{DELAY, SID};

/// Renders one notification into one message per recipient, or, for
/// items too many to fit one stanza of `max_stanza_bytes`, into several
/// messages per recipient, in order, each under the limit. An item that
/// cannot fit a stanza alone is announced by ID only (the client fetches
/// it by ID, XEP-0060 §6.5.6).
///
/// With a `fanout` (XEP-0033), recipients whose message would be identical
/// share multicast stanzas; split notifications and recipients with SHIM
/// headers get their own messages, as without it.
pub fn render(
    service: &BareJid,
    max_stanza_bytes: usize,
    fanout: Option<&Fanout>,
    n: &Notification,
) -> Vec<Stanza> {
    if let Event::Items {
        items,
        include_payload: true,
        last_published,
    } = &n.event
    {
        let budget = max_stanza_bytes.saturating_sub(envelope(service, n));
        let els: Vec<Element> = items.iter().map(|i| item_el(i, true)).collect();
        let sizes: Vec<usize> = els.iter().map(stanza_size::xml_len).collect();
        let used = sizes.iter().sum::<usize>();
        if used > budget {
            return split(service, n, items, els, &sizes, budget, *last_published);
        }
        // It fits: the same message as ever, from the items parsed once.
        let mut out = vec![event(
            Element::builder("items", ns::PUBSUB_EVENT)
                .a("node", n.node.as_str())
                .append_all(els)
                .build(),
        )];
        if let (true, Some(last)) = (*last_published, items.last()) {
            out.push(delay(last.published_ms));
        }
        let shared = fanout.map(|f| (f, budget - used));
        return messages(service, n, out, shared);
    }
    let payloads = payloads(n);
    let shared = fanout.map(|f| {
        let used: usize = payloads.iter().map(stanza_size::xml_len).sum();
        let budget = max_stanza_bytes.saturating_sub(envelope(service, n));
        (f, budget.saturating_sub(used))
    });
    messages(service, n, payloads, shared)
}

/// The notification's messages, one chunk of items after another.
fn split(
    service: &BareJid,
    n: &Notification,
    items: &[Item],
    els: Vec<Element>,
    sizes: &[usize],
    budget: usize,
    last_published: bool,
) -> Vec<Stanza> {
    let node = n.node.as_str();
    let chunks = stanza_size::chunks(sizes, budget);
    let last_chunk = chunks.len().saturating_sub(1);
    let mut els = els.into_iter();
    let mut out = Vec::new();
    for (k, range) in chunks.into_iter().enumerate() {
        let mut part: Vec<Element> = els.by_ref().take(range.len()).collect();
        if range.len() == 1 && sizes[range.start] > budget {
            let item = &items[range.start];
            tracing::warn!(
                node,
                item = item.id.as_str(),
                "item too big for any stanza; announced by ID only"
            );
            part = vec![item_el(item, false)];
        }
        let end = range.end;
        let chunk_items = &items[range];
        let items_el = Element::builder("items", ns::PUBSUB_EVENT)
            .a("node", node)
            .append_all(part)
            .build();
        let mut payloads = vec![event(items_el)];
        if let (true, true, Some(last)) = (last_published, k == last_chunk, chunk_items.last()) {
            payloads.push(delay(last.published_ms));
        }
        // Each part carries the archive ID of its own last item, so a
        // client that resumes from it misses none of the later parts.
        let archive_id = match &n.archive_id {
            Some(id) if k == last_chunk => Some(id.clone()),
            Some(_) => end
                .checked_sub(1)
                .and_then(|i| n.item_archive_ids.get(i).cloned()),
            None => None,
        };
        if let Some(id) = &archive_id {
            payloads.push(stanza_id(service, id));
        }
        // Parts of a split notification go one by one: each is already
        // near the stanza limit, leaving no room for addresses.
        out.extend(messages(service, n, payloads, None));
    }
    out
}

/// Bytes a notification's messages take besides its items: the fixed
/// envelope, the service and node names, the stanza-id, and the longest
/// recipient address with its SHIM headers.
fn envelope(service: &BareJid, n: &Notification) -> usize {
    use stanza_size::escaped_len;
    let recipient = (n.recipients.iter())
        .map(|r| {
            let headers: usize = r.subids.iter().map(|s| escaped_len(s) + 64).sum();
            escaped_len(r.jid.as_str()) + headers
        })
        .max()
        .unwrap_or(0);
    let archive = n.archive_id.as_deref().map_or(0, escaped_len);
    stanza_size::BASE_ENVELOPE_BYTES
        + 2 * escaped_len(service.as_str())
        + escaped_len(&n.node)
        + archive
        + recipient
}

/// One message per recipient with these children, or, with `shared`
/// (the multicast service and the bytes left for addresses), one per
/// batch of recipients whose messages would be identical.
fn messages(
    service: &BareJid,
    n: &Notification,
    payloads: Vec<Element>,
    shared: Option<(&Fanout, usize)>,
) -> Vec<Stanza> {
    let type_ = match n.message_type {
        NotificationType::Headline => MessageType::Headline,
        NotificationType::Normal => MessageType::Normal,
    };
    let from = Jid::from(service.clone());
    let mut payloads = payloads;
    if let (Some(id), false) = (&n.archive_id, has_stanza_id(&payloads)) {
        payloads.push(stanza_id(service, id));
    }
    // The Collection header is the same for every recipient, so it rides
    // in the shared payloads; recipients with SubIDs get one combined
    // `<headers/>` of their own instead.
    let collection = n.collection.as_deref();
    let own_payloads = payloads.clone();
    if let Some(c) = collection {
        payloads.push(shim_headers(&[], Some(c)));
    }
    let shim = matches!(n.event, Event::Items { .. } | Event::Retract { .. });
    let message = |to: &Jid| {
        let mut m = Message::new_with_type(type_.clone(), Some(to.clone()));
        m.from = Some(from.clone());
        m.id = Some(Id(message_id::next()));
        m.payloads = payloads.clone();
        m
    };
    // SubID headers differ per recipient: those never share a stanza.
    let own_headers = |r: &Recipient| shim && !r.subids.is_empty();
    let mut out = Vec::with_capacity(n.recipients.len());
    let alike: Vec<&Jid> = match shared {
        Some(_) => (n.recipients.iter())
            .filter(|r| !own_headers(r))
            .map(|r| &r.jid)
            .collect(),
        None => Vec::new(),
    };
    if let Some((fanout, budget)) = shared {
        for range in multicast::batches(&alike, fanout.batch, budget) {
            let batch = &alike[range];
            match batch {
                [one] => out.push(Stanza::Message(message(one))),
                _ => {
                    let mut m = message(&fanout.service);
                    m.payloads.push(multicast::addresses(batch));
                    out.push(Stanza::Message(m));
                }
            }
        }
    }
    for r in &n.recipients {
        if shared.is_some() && !own_headers(r) {
            continue; // sent above
        }
        let mut m = message(&r.jid);
        if own_headers(r) {
            m.payloads = own_payloads.clone();
            m.payloads.push(shim_headers(&r.subids, collection));
        }
        out.push(Stanza::Message(m));
    }
    out
}

fn has_stanza_id(payloads: &[Element]) -> bool {
    payloads.iter().any(|p| p.is("stanza-id", SID))
}

/// Renders every notification of an outcome, through `fanout` if given.
pub fn render_all(
    service: &BareJid,
    max_stanza_bytes: usize,
    fanout: Option<&Fanout>,
    ns: &[Notification],
) -> Vec<Stanza> {
    ns.iter()
        .flat_map(|n| render(service, max_stanza_bytes, fanout, n))
        .collect()
}

/// The message children shared by all recipients of `n`.
fn payloads(n: &Notification) -> Vec<Element> {
    let node = n.node.as_str();
    match &n.event {
        Event::Items {
            items,
            include_payload,
            last_published,
        } => {
            let mut out = vec![event(items_el(node, items, *include_payload))];
            if let (true, Some(last)) = (*last_published, items.last()) {
                out.push(delay(last.published_ms));
            }
            out
        }
        Event::Retract { item_ids } => {
            let retracts = item_ids
                .iter()
                .map(|id| Element::builder("retract", ns::PUBSUB_EVENT).a("id", id.as_str()));
            vec![event(
                Element::builder("items", ns::PUBSUB_EVENT)
                    .a("node", node)
                    .append_all(retracts)
                    .build(),
            )]
        }
        Event::Unlock { item_ids } => {
            let unlocks = item_ids.iter().map(|id| {
                Element::builder("unlock", crate::pubsub::queue::QUEUE_NS).a("id", id.as_str())
            });
            vec![event(
                Element::builder("items", ns::PUBSUB_EVENT)
                    .a("node", node)
                    .append_all(unlocks)
                    .build(),
            )]
        }
        Event::Purge => vec![event(
            Element::builder("purge", ns::PUBSUB_EVENT)
                .a("node", node)
                .build(),
        )],
        Event::Delete { redirect } => {
            let mut d = Element::builder("delete", ns::PUBSUB_EVENT).a("node", node);
            if let Some(uri) = redirect {
                d = d.append(Element::builder("redirect", ns::PUBSUB_EVENT).a("uri", uri.as_str()));
            }
            vec![event(d.build())]
        }
        Event::Configuration { fields } => {
            let mut c = Element::builder("configuration", ns::PUBSUB_EVENT).a("node", node);
            if let Some(fields) = fields {
                c = c.append(pubsub_forms::render(FormKind::Result, NODE_CONFIG, fields));
            }
            vec![event(c.build())]
        }
        Event::Subscription { jid, subid, state } => vec![event(
            Element::builder("subscription", ns::PUBSUB_EVENT)
                .a("node", node)
                .a("jid", jid.as_str())
                .a("subid", subid.as_str())
                .a("subscription", state.as_str())
                .build(),
        )],
        Event::Affiliation { jid, affiliation } => {
            // §8.9.4 Example 211: a <pubsub/> (not an event) in a message.
            let a = Element::builder("affiliation", ns::PUBSUB)
                .a("jid", jid.as_str())
                .a("affiliation", affiliation.as_str());
            let affs = Element::builder("affiliations", ns::PUBSUB)
                .a("node", node)
                .append(a);
            vec![Element::builder("pubsub", ns::PUBSUB).append(affs).build()]
        }
        Event::ApprovalRequest { jid, subid } => vec![approval_form(node, jid, subid)],
        Event::Associate { child } => vec![event(association(node, "associate", child))],
        Event::Dissociate { child } => vec![event(association(node, "dissociate", child))],
    }
}

fn event(child: Element) -> Element {
    Element::builder("event", ns::PUBSUB_EVENT)
        .append(child)
        .build()
}

/// `<items node=…>` with one `<item/>` per item; payloads only if asked.
fn items_el(node: &str, items: &[Item], include_payload: bool) -> Element {
    Element::builder("items", ns::PUBSUB_EVENT)
        .a("node", node)
        .append_all(items.iter().map(|i| item_el(i, include_payload)))
        .build()
}

/// `<item id [publisher]>`, with its payload when asked and stored.
fn item_el(item: &Item, include_payload: bool) -> Element {
    let mut b = Element::builder("item", ns::PUBSUB_EVENT).a("id", item.id.as_str());
    if let Some(p) = &item.publisher {
        b = b.a("publisher", p.as_str());
    }
    match (include_payload, &item.payload) {
        (true, Some(xml)) => b.append_all(stored_payload(&item.id, xml)).build(),
        _ => b.build(),
    }
}

/// A stored payload parsed back into an element. The core stores what
/// protocol serialized, so failure means corrupt data (or an item nested
/// too deep, stored before depth was checked): logged and left out rather
/// than sending broken XML or recursing into it.
pub fn stored_payload(item_id: &str, xml: &str) -> Option<Element> {
    match super::xml::parse_stored(xml) {
        Ok(el) => Some(el),
        Err(e) => {
            tracing::warn!(item = item_id, error = %e, "stored payload unreadable or nested too deep; item sent without it");
            None
        }
    }
}

/// XEP-0203 delay for the last published item sent on subscribe (§6.1.7).
fn delay(published_ms: u64) -> Element {
    Element::builder("delay", DELAY)
        .a("stamp", timestamp::xep0082(published_ms))
        .build()
}

/// XEP-0359 `<stanza-id by id/>`: the event's archive ID, from which a
/// client can resume with a XEP-0313 query (`after-id`).
fn stanza_id(service: &BareJid, id: &str) -> Element {
    Element::builder("stanza-id", SID)
        .a("by", service.as_str())
        .a("id", id)
        .build()
}

/// XEP-0248 §3.3.2: `<collection node><associate|dissociate node/>`.
fn association(collection: &str, what: &str, child: &str) -> Element {
    Element::builder("collection", ns::PUBSUB_EVENT)
        .a("node", collection)
        .append(Element::builder(what, ns::PUBSUB_EVENT).a("node", child))
        .build()
}

/// §12.16: one SHIM `SubID` header per subscription that matched, and
/// XEP-0248 §3.3.1's `Collection` header for an event delivered through
/// a collection.
fn shim_headers(subids: &[String], collection: Option<&str>) -> Element {
    let header = |name: &str, value: &str| {
        Element::builder("header", ns::SHIM)
            .a("name", name)
            .append(value)
    };
    let subids = subids.iter().map(|s| header("SubID", s));
    Element::builder("headers", ns::SHIM)
        .append_all(subids)
        .append_all(collection.map(|c| header("Collection", c)))
        .build()
}

/// §8.6.1 Example 171: the subscribe_authorization form sent to owners.
fn approval_form(node: &str, jid: &Jid, subid: &str) -> Element {
    let mut form = Form::new(FormKind::Form, Some(SUBSCRIBE_AUTHORIZATION));
    form.title = Some("PubSub subscriber request".into());
    form.instructions = Some(
        "To approve this entity's subscription request, click the OK button. \
         To deny the request, click the cancel button."
            .into(),
    );
    form.fields = vec![
        Field::new("pubsub#subid", vec![subid.to_owned()]).typed(FieldType::Hidden),
        Field::new("pubsub#node", vec![node.to_owned()])
            .typed(FieldType::TextSingle)
            .labelled("Node ID"),
        Field::new("pubsub#subscriber_jid", vec![jid.to_string()])
            .typed(FieldType::JidSingle)
            .labelled("Subscriber Address"),
        Field::new("pubsub#allow", vec!["false".to_owned()])
            .typed(FieldType::Boolean)
            .labelled("Allow this JID to subscribe to this pubsub node?"),
    ];
    form.to_element()
}

#[cfg(test)]
#[path = "notify_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "notify_multicast_tests.rs"]
mod multicast_tests;
