//! XEP-0030 answers that need pubsub state (XEP-0060 §5.1–§5.5): the
//! service's disco#info with its features, node disco#info with
//! `pubsub#meta-data`, and disco#items of the service (nodes) and of a node
//! (item IDs as names), both paged with XEP-0059 and cut to fit
//! `limits.max_stanza_bytes`.

use super::features::features;
use super::forms::{Field, FieldType, Form, FormKind};
use super::mam::{MAM, MAM_EXTENDED};
use super::pubsub_exec::select_page;
use super::pubsub_forms::{self, META_DATA};
use super::pubsub_handler::ProtocolCtx;
use super::pubsub_item_request::{RsmQuery, parse_rsm};
use super::stanza_size::{self, Keep};
use super::xml::BuilderExt;
use super::{IqKind, IqReply, IqRequest, errors, ns, rsm, service_info, timestamp};

const PUBSUB_RSM: &str = "http://jabber.org/protocol/pubsub#rsm";
use crate::pubsub::{Actor, NodeCursor, NodeName, NodeSummary, PubsubError, Service};
use crate::store::Store;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};

/// `None` when the request is not a disco query.
pub fn handle<S: Store>(
    service: &Service<S>,
    ctx: &ProtocolCtx,
    req: &IqRequest,
) -> Option<IqReply> {
    let p = &req.payload;
    let info = p.is("query", ns::DISCO_INFO);
    if !info && !p.is("query", ns::DISCO_ITEMS) {
        return None;
    }
    if req.kind == IqKind::Set {
        return Some(Err(errors::bad_request("disco queries are type='get'")));
    }
    let actor = Actor::Entity(req.from.to_bare());
    let node = match p.attr("node").filter(|n| !n.is_empty()).map(NodeName::new) {
        Some(Err(e)) => return Some(Err(errors::bad_request(&e.to_string()))),
        Some(Ok(node)) => Some(node),
        None => None,
    };
    let answer = match (info, node) {
        (true, None) => Ok(service_info::disco_info(&features(service.settings()))),
        (true, Some(node)) => node_info(service, &actor, &node).map_err(StanzaError::from),
        (false, None) => nodes(service, ctx, &actor, req),
        (false, Some(node)) => node_items(service, ctx, &actor, &node, req),
    };
    Some(answer.map(Some))
}

/// §5.3/§5.4: identity pubsub/leaf and the meta-data form.
fn node_info<S: Store>(s: &Service<S>, a: &Actor, node: &NodeName) -> Result<Element, PubsubError> {
    let meta = s.node_metadata(a, node)?;
    let mut form = Form::new(FormKind::Result, Some(META_DATA));
    form.fields = meta.fields.iter().map(pubsub_forms::field).collect();
    if meta.created_ms > 0 {
        let date = timestamp::xep0082(meta.created_ms);
        let date = Field::new("pubsub#creation_date", vec![date])
            .typed(FieldType::TextSingle)
            .labelled("The datetime when the node was created");
        form.fields.push(date);
    }
    let kind = if meta.is_collection {
        "collection"
    } else {
        "leaf"
    };
    let identity = Element::builder("identity", ns::DISCO_INFO)
        .a("category", "pubsub")
        .a("type", kind);
    // XEP-0059 §6: clients look for `rsm` before paging the node's items
    // or disco#items; the node pages the same way as the service.
    let features = [ns::PUBSUB, PUBSUB_RSM, ns::RSM, MAM, MAM_EXTENDED]
        .map(|f| Element::builder("feature", ns::DISCO_INFO).a("var", f));
    Ok(Element::builder("query", ns::DISCO_INFO)
        .a("node", node.as_str())
        .append(identity)
        .append_all(features)
        .append(form.to_element())
        .build())
}

/// §5.2: the nodes the requester may see, titled when they have a title,
/// in name order, paged with XEP-0059 (node names are the cursors) and cut
/// to fit the stanza limit; a `<set/>` whenever the list is not complete.
fn nodes<S: Store>(
    s: &Service<S>,
    ctx: &ProtocolCtx,
    a: &Actor,
    req: &IqRequest,
) -> Result<Element, StanzaError> {
    let rsm = rsm_of(req)?;
    let (cursor, keep) = match &rsm {
        None => (NodeCursor::First, Keep::Oldest),
        Some(r) => node_cursor(r)?,
    };
    let cap = s.settings().max_page_size;
    let max = rsm.as_ref().and_then(|r| r.max).unwrap_or(cap).min(cap);
    let page = s.discover_nodes_page(a, cursor, max);
    let names: Vec<&str> = page.nodes.iter().map(|n| n.node.as_str()).collect();
    let item = |i: usize| {
        let n = &page.nodes[i];
        let b = Element::builder("item", ns::DISCO_ITEMS)
            .a("jid", ctx.service_jid.as_str())
            .a("node", n.node.as_str());
        if n.title.is_empty() {
            b.build()
        } else {
            b.a("name", n.title.as_str()).build()
        }
    };
    let budget = stanza_size::reply_budget(s.settings().max_stanza_bytes, req);
    let page_of = Page {
        cursors: &names,
        total: page.total,
        rsm: rsm.is_some(),
    };
    Ok(query(None, page_of, budget, keep, item))
}

/// An XEP-0059 request on disco#items (node names as cursors).
fn node_cursor(r: &RsmQuery) -> Result<(NodeCursor<'_>, Keep), StanzaError> {
    match (r.index, r.after.as_deref(), r.before.as_deref()) {
        (Some(0), None, None) => Ok((NodeCursor::First, Keep::Oldest)),
        (Some(_), _, _) => Err(errors::stanza_error(
            ErrorType::Cancel,
            DefinedCondition::FeatureNotImplemented,
            "RSM <index/> other than 0 is not supported; page with <after/> or <before/>",
        )),
        (None, Some(after), _) => Ok((NodeCursor::After(after), Keep::Oldest)),
        (None, None, Some("")) => Ok((NodeCursor::Last, Keep::Newest)),
        (None, None, Some(before)) => Ok((NodeCursor::Before(before), Keep::Newest)),
        (None, None, None) => Ok((NodeCursor::First, Keep::Oldest)),
    }
}

fn rsm_of(req: &IqRequest) -> Result<Option<RsmQuery>, StanzaError> {
    req.payload
        .get_child("set", ns::RSM)
        .map(parse_rsm)
        .transpose()
}

/// A page of disco items: their cursors (node names or item IDs), how
/// many there are in all, and whether the request used RSM.
struct Page<'a> {
    cursors: &'a [&'a str],
    total: u64,
    rsm: bool,
}

/// `<query node?>` with the disco items (built by `item`) that fit
/// `budget`, keeping the `keep` end, and a `<set/>` when asked for or when
/// the list is not complete.
fn query(
    node: Option<&str>,
    page: Page<'_>,
    budget: usize,
    keep: Keep,
    item: impl Fn(usize) -> Element,
) -> Element {
    let longest = page
        .cursors
        .iter()
        .map(|c| stanza_size::escaped_len(c))
        .max();
    let reserve = node.map_or(0, stanza_size::escaped_len) + 2 * longest.unwrap_or(0);
    let budget = budget.saturating_sub(reserve);
    // A disco item is a few addresses long: one always fits.
    let (range, kept, _) = stanza_size::take_fitting(page.cursors.len(), budget, keep, item);
    let shown = &page.cursors[range];
    let mut b = Element::builder("query", ns::DISCO_ITEMS);
    if let Some(n) = node {
        b = b.a("node", n);
    }
    let mut b = b.append_all(kept);
    if page.rsm || (shown.len() as u64) < page.total {
        let first = shown.first().map(|c| (*c).to_owned());
        let last = shown.last().map(|c| (*c).to_owned());
        b = b.append(rsm::set(first, last, page.total));
    }
    b.build()
}

/// §5.5: one disco item per published item, its ID as `name`, no `node`;
/// paged like item retrieval (XEP-0059, item IDs as cursors).
fn node_items<S: Store>(
    s: &Service<S>,
    ctx: &ProtocolCtx,
    a: &Actor,
    node: &NodeName,
    req: &IqRequest,
) -> Result<Element, StanzaError> {
    if let Some(children) = s.collection_children(a, node)? {
        return Ok(collection_items(ctx, node, &children));
    }
    let rsm = rsm_of(req)?;
    let (page, keep) = select_page(s, a, node, None, rsm.as_ref())?;
    let ids: Vec<&str> = page.items.iter().map(|i| i.id.as_str()).collect();
    let item = |i: usize| {
        Element::builder("item", ns::DISCO_ITEMS)
            .a("jid", ctx.service_jid.as_str())
            .a("name", page.items[i].id.as_str())
            .build()
    };
    let budget = stanza_size::reply_budget(s.settings().max_stanza_bytes, req);
    let page_of = Page {
        cursors: &ids,
        total: page.total,
        rsm: rsm.is_some(),
    };
    Ok(query(Some(node), page_of, budget, keep, item))
}

/// XEP-0248 §3.2: disco#items of a collection lists its children (not
/// paged: a collection's children are few, unlike a leaf's items).
fn collection_items(ctx: &ProtocolCtx, node: &NodeName, children: &[NodeSummary]) -> Element {
    let items = children.iter().map(|c| {
        let b = Element::builder("item", ns::DISCO_ITEMS)
            .a("jid", ctx.service_jid.as_str())
            .a("node", c.node.as_str());
        match c.title.is_empty() {
            true => b.build(),
            false => b.a("name", c.title.as_str()).build(),
        }
    });
    Element::builder("query", ns::DISCO_ITEMS)
        .a("node", node.as_str())
        .append_all(items)
        .build()
}
