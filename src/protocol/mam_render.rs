//! XEP-0313 results for node history: one `<message><result/></message>`
//! per entry, each forwarding (XEP-0297) the event notification as it was
//! sent, with a XEP-0203 delay; then `<fin/>` with the RSM summary.

use super::mam::{MAM, MamQuery};
use super::notify::stored_payload;
use super::pubsub_handler::ProtocolCtx;
use super::xml::BuilderExt;
use super::{IqRequest, ns, timestamp};
use crate::pubsub::{HistoryEntry, HistoryEvent, HistoryPage, Item};
use tokio_xmpp::Stanza;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::message::{Message, MessageType};
use tokio_xmpp::parsers::ns::{DELAY, FORWARD};

/// The namespace of the forwarded message (a client stanza).
const JABBER_CLIENT: &str = "jabber:client";

/// One result message per entry, in page order (newest first with
/// `<flip-page/>`).
pub fn result_messages(
    ctx: &ProtocolCtx,
    req: &IqRequest,
    q: &MamQuery,
    page: &HistoryPage,
) -> Vec<Stanza> {
    let service = Jid::from(ctx.service_jid.clone());
    let mut out: Vec<Stanza> = (page.entries.iter())
        .map(|e| {
            let mut m = Message::new(Some(req.from.clone()));
            m.type_ = MessageType::Normal;
            m.from = Some(service.clone());
            m.payloads = vec![result(ctx, req, q, e)];
            Stanza::Message(m)
        })
        .collect();
    if q.flip {
        out.reverse();
    }
    out
}

/// `<result queryid id><forwarded><delay/><message><event/></message>`.
fn result(ctx: &ProtocolCtx, req: &IqRequest, q: &MamQuery, e: &HistoryEntry) -> Element {
    let delay = Element::builder("delay", DELAY).a("stamp", timestamp::xep0082(e.at_ms));
    let message = Element::builder("message", JABBER_CLIENT)
        .a("from", ctx.service_jid.as_str())
        .a("to", req.from.to_bare().as_str())
        .a("type", "headline")
        .append(event(&q.node, e));
    let forwarded = Element::builder("forwarded", FORWARD)
        .append(delay)
        .append(message);
    let mut r = Element::builder("result", MAM).a("id", e.archive_id.as_str());
    if let Some(qid) = &q.queryid {
        r = r.a("queryid", qid.as_str());
    }
    r.append(forwarded).build()
}

/// The `pubsub#event` the entry stands for: `<items node>` with one
/// `<item/>` (payload included) or one `<retract/>`.
fn event(node: &str, e: &HistoryEntry) -> Element {
    let child = match &e.event {
        HistoryEvent::Published(item) => item_el(item),
        HistoryEvent::Retracted(id) => {
            Element::builder("retract", ns::PUBSUB_EVENT).a("id", id.as_str())
        }
    };
    // A collection's entry names its leaf, as a notification through the
    // collection does (XEP-0248 §3.3.1).
    let items = Element::builder("items", ns::PUBSUB_EVENT)
        .a("node", e.leaf.as_deref().unwrap_or(node))
        .append(child);
    Element::builder("event", ns::PUBSUB_EVENT)
        .append(items)
        .build()
}

fn item_el(item: &Item) -> tokio_xmpp::minidom::ElementBuilder {
    let mut b = Element::builder("item", ns::PUBSUB_EVENT).a("id", item.id.as_str());
    if let Some(p) = &item.publisher {
        b = b.a("publisher", p.as_str());
    }
    let payload = (item.payload.as_deref()).and_then(|x| stored_payload(&item.id, x));
    b.append_all(payload)
}

/// `<fin complete?>` with `<set>`: `<first/>`/`<last/>` (oldest and
/// newest archive IDs of the page, whatever order it was sent in) and
/// `<count/>` for unfiltered queries.
pub fn fin(page: &HistoryPage) -> Element {
    let text = |name: &str, v: &str| Element::builder(name, ns::RSM).append(v);
    let mut set = Element::builder("set", ns::RSM);
    if let (Some(first), Some(last)) = (page.entries.first(), page.entries.last()) {
        set = set
            .append(text("first", &first.archive_id))
            .append(text("last", &last.archive_id));
    }
    if let Some(total) = page.total {
        set = set.append(text("count", &total.to_string()));
    }
    let mut f = Element::builder("fin", MAM);
    if page.complete {
        f = f.a("complete", "true");
    }
    f.append(set).build()
}
