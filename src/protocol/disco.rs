//! XEP-0030 answers that need pubsub state (XEP-0060 §5.1–§5.5): the
//! service's disco#info with its features, node disco#info with
//! `pubsub#meta-data`, and disco#items of the service (nodes) and of a node
//! (item IDs as names).

use super::features::features;
use super::forms::{Field, FieldType, Form, FormKind};
use super::mam::{MAM, MAM_EXTENDED};
use super::pubsub_forms::{self, META_DATA};
use super::pubsub_handler::ProtocolCtx;
use super::xml::BuilderExt;
use super::{IqKind, IqReply, IqRequest, errors, ns, service_info, timestamp};
use crate::pubsub::{Actor, PubsubError, Service};
use crate::store::Store;
use tokio_xmpp::minidom::Element;

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
    let node = p.attr("node").filter(|n| !n.is_empty());
    let answer = match (info, node) {
        (true, None) => Ok(service_info::disco_info(&features(service.settings()))),
        (true, Some(node)) => node_info(service, &actor, node),
        (false, None) => Ok(nodes(service, ctx, &actor)),
        (false, Some(node)) => node_items(service, ctx, &actor, node),
    };
    Some(answer.map(Some).map_err(|e| e.into()))
}

/// §5.3/§5.4: identity pubsub/leaf and the meta-data form.
fn node_info<S: Store>(s: &Service<S>, a: &Actor, node: &str) -> Result<Element, PubsubError> {
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
    let identity = Element::builder("identity", ns::DISCO_INFO)
        .a("category", "pubsub")
        .a("type", "leaf");
    let features = [ns::PUBSUB, MAM, MAM_EXTENDED]
        .map(|f| Element::builder("feature", ns::DISCO_INFO).a("var", f));
    Ok(Element::builder("query", ns::DISCO_INFO)
        .a("node", node)
        .append(identity)
        .append_all(features)
        .append(form.to_element())
        .build())
}

/// §5.2: the nodes the requester may see, titled when they have a title.
fn nodes<S: Store>(s: &Service<S>, ctx: &ProtocolCtx, a: &Actor) -> Element {
    let items = s.discover_nodes(a).into_iter().map(|n| {
        let b = Element::builder("item", ns::DISCO_ITEMS)
            .a("jid", ctx.service_jid.as_str())
            .a("node", n.node.as_str());
        if n.title.is_empty() {
            b
        } else {
            b.a("name", n.title.as_str())
        }
    });
    Element::builder("query", ns::DISCO_ITEMS)
        .append_all(items)
        .build()
}

/// §5.5: one disco item per published item, its ID as `name`, no `node`.
fn node_items<S: Store>(
    s: &Service<S>,
    ctx: &ProtocolCtx,
    a: &Actor,
    node: &str,
) -> Result<Element, PubsubError> {
    let page = s.items(a, node, None)?;
    let items = page.items.iter().map(|i| {
        Element::builder("item", ns::DISCO_ITEMS)
            .a("jid", ctx.service_jid.as_str())
            .a("name", i.id.as_str())
    });
    Ok(Element::builder("query", ns::DISCO_ITEMS)
        .a("node", node)
        .append_all(items)
        .build())
}
