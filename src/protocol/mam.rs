//! XEP-0313 Message Archive Management on pubsub nodes (XEP-0442): a
//! `<query xmlns='urn:xmpp:mam:2' node='…'>` IQ to the service. A `get`
//! returns the supported form fields (§5.1.1 of XEP-0313 v1.1, "Retrieving
//! form fields"); a `set` runs a query, whose results are sent as
//! `<message/>`s before the IQ result that carries `<fin/>`.
//! See `xep-notes/xep-0313.md`.

#![allow(clippy::result_large_err)] // see pubsub_request.rs

use super::forms::{Field, FieldType, Form, FormKind, ReceivedForm};
use super::mam_render::{fin, result_messages};
use super::pubsub_handler::{Handled, ProtocolCtx};
use super::pubsub_item_request::{RsmQuery, parse_rsm};
use super::request_util::{opt_attr, submitted_form};
use super::{IqKind, IqRequest, errors, ns, timestamp};
use crate::pubsub::{Actor, HistoryQuery, NodeName, Service};
use crate::store::Store;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};

pub const MAM: &str = "urn:xmpp:mam:2";
/// `before-id`, `after-id`, `ids` and `<flip-page/>`.
pub const MAM_EXTENDED: &str = "urn:xmpp:mam:2#extended";

/// A parsed query: the core's part and what only protocol needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MamQuery {
    pub node: NodeName,
    pub queryid: Option<String>,
    pub query: HistoryQuery,
    pub flip: bool,
}

/// Answers a MAM IQ; `None` when the payload is not a MAM query.
pub fn handle<S: Store>(
    service: &Service<S>,
    ctx: &ProtocolCtx,
    req: &IqRequest,
) -> Option<Handled> {
    if !req.payload.is("query", MAM) {
        return None;
    }
    if req.kind == IqKind::Get {
        return Some(Handled::read(Ok(Some(form_fields()))));
    }
    let q = match parse(&req.payload) {
        Ok(q) => q,
        Err(e) => return Some(Handled::read(Err(e))),
    };
    let actor = Actor::Entity(req.from.to_bare());
    let page = match service.history(&actor, &q.node, &q.query) {
        Ok(p) => p,
        Err(e) => return Some(Handled::read(Err(e.into()))),
    };
    let mut handled = Handled::read(Ok(Some(fin(&page))));
    handled.results = result_messages(ctx, req, &q, &page);
    Some(handled)
}

/// Parses a `set` query: `node` (required), `queryid`, an optional
/// `urn:xmpp:mam:2` form, an optional RSM `<set/>` and `<flip-page/>`.
pub fn parse(query: &Element) -> Result<MamQuery, StanzaError> {
    let node = opt_attr(query, "node").ok_or_else(|| {
        errors::bad_request("this service archives pubsub nodes: the query needs a 'node'")
    })?;
    let node = NodeName::new(node).map_err(|e| errors::bad_request(&e.to_string()))?;
    let mut q = HistoryQuery::default();
    if let Some(form) = submitted_form(query, MAM, false)? {
        apply_form(&mut q, &form)?;
    }
    if let Some(set) = query.get_child("set", ns::RSM) {
        apply_rsm(&mut q, parse_rsm(set)?)?;
    }
    Ok(MamQuery {
        node,
        queryid: opt_attr(query, "queryid"),
        query: q,
        flip: query.get_child("flip-page", MAM).is_some(),
    })
}

fn apply_form(q: &mut HistoryQuery, form: &ReceivedForm) -> Result<(), StanzaError> {
    for (var, values) in &form.fields {
        let Some(value) = values.first().filter(|v| !v.is_empty()) else {
            continue;
        };
        match var.as_str() {
            "FORM_TYPE" => {}
            "start" => q.start_ms = Some(datetime(var, value)?),
            "end" => q.end_ms = Some(datetime(var, value)?),
            "after-id" => q.after.push(value.clone()),
            "before-id" => q.before.push(value.clone()),
            "ids" => q
                .ids
                .extend(values.iter().filter(|v| !v.is_empty()).cloned()),
            "with" => {
                return Err(not_implemented(
                    "the 'with' filter has no meaning for a node",
                ));
            }
            other => return Err(not_implemented(&format!("unknown field '{other}'"))),
        }
    }
    Ok(())
}

fn apply_rsm(q: &mut HistoryQuery, rsm: RsmQuery) -> Result<(), StanzaError> {
    if rsm.index.is_some() {
        return Err(not_implemented(
            "RSM <index/> is not supported; page with <after/> or <before/>",
        ));
    }
    q.max = rsm.max;
    q.after.extend(rsm.after);
    if let Some(before) = rsm.before {
        q.from_end = true;
        if !before.is_empty() {
            q.before.push(before);
        }
    }
    Ok(())
}

fn datetime(var: &str, value: &str) -> Result<u64, StanzaError> {
    timestamp::parse_xep0082(value)
        .ok_or_else(|| errors::bad_request(&format!("'{var}' must be a XEP-0082 DateTime")))
}

fn not_implemented(text: &str) -> StanzaError {
    errors::stanza_error(
        ErrorType::Cancel,
        DefinedCondition::FeatureNotImplemented,
        text,
    )
}

/// The query form with every field Herald understands.
fn form_fields() -> Element {
    let mut form = Form::new(FormKind::Form, Some(MAM));
    let field = |var: &str, t: FieldType| Field::new(var, Vec::new()).typed(t);
    form.fields = vec![
        field("start", FieldType::TextSingle),
        field("end", FieldType::TextSingle),
        field("after-id", FieldType::TextSingle),
        field("before-id", FieldType::TextSingle),
        field("ids", FieldType::TextMulti),
    ];
    Element::builder("query", MAM)
        .append(form.to_element())
        .build()
}

#[cfg(test)]
#[path = "mam_tests.rs"]
mod tests;
