//! Service-level answers that need no pubsub state: XEP-0030 disco#info and
//! disco#items of the service itself, XEP-0199 ping, XEP-0092 version.

use super::xml::BuilderExt;
use super::{IqKind, IqReply, IqRequest, errors, ns};
use tokio_xmpp::minidom::Element;

/// Features the service implements, advertised in disco#info. Only list what
/// really works: clients decide what to send from this.
pub const BASE_FEATURES: &[&str] = &[ns::DISCO_INFO, ns::DISCO_ITEMS, ns::PING, ns::VERSION];

/// Answers ping and version; `None` when the request is not one of ours.
pub fn handle(req: &IqRequest) -> Option<IqReply> {
    let xmlns = req.payload.ns();
    match (req.kind, req.payload.name(), xmlns.as_str()) {
        (IqKind::Get, "ping", ns::PING) => Some(Ok(None)),
        (IqKind::Get, "query", ns::VERSION) => Some(Ok(Some(version()))),
        (IqKind::Set, "ping", ns::PING) | (IqKind::Set, "query", ns::VERSION) => Some(Err(
            errors::bad_request("this query is only defined for type='get'"),
        )),
        _ => None,
    }
}

/// disco#info of the service (no node): identity pubsub/service.
pub fn disco_info(features: &[&str]) -> Element {
    let identity = Element::builder("identity", ns::DISCO_INFO)
        .a("category", "pubsub")
        .a("type", "service")
        .a("name", "Herald event service");
    let mut sorted: Vec<&str> = BASE_FEATURES.iter().chain(features).copied().collect();
    sorted.sort_unstable();
    sorted.dedup();
    Element::builder("query", ns::DISCO_INFO)
        .append(identity)
        .append_all(
            sorted
                .into_iter()
                .map(|f| Element::builder("feature", ns::DISCO_INFO).a("var", f)),
        )
        .build()
}

fn version() -> Element {
    Element::builder("query", ns::VERSION)
        .append(Element::builder("name", ns::VERSION).append("Herald"))
        .append(Element::builder("version", ns::VERSION).append(env!("CARGO_PKG_VERSION")))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::IqKind;

    fn req(kind: IqKind, xml: &str) -> IqRequest {
        IqRequest {
            from: "alice@localhost/r".parse().unwrap(),
            to: "events.localhost".parse().unwrap(),
            id: "1".into(),
            kind,
            payload: xml.parse().unwrap(),
        }
    }

    #[test]
    fn ping_gets_an_empty_result() {
        let reply = handle(&req(IqKind::Get, "<ping xmlns='urn:xmpp:ping'/>"));
        assert_eq!(reply, Some(Ok(None)));
    }

    #[test]
    fn version_names_herald() {
        let reply = handle(&req(IqKind::Get, "<query xmlns='jabber:iq:version'/>"));
        let el = reply.unwrap().unwrap().unwrap();
        assert_eq!(el.get_child("name", ns::VERSION).unwrap().text(), "Herald");
    }

    #[test]
    fn unknown_namespace_is_not_ours() {
        assert!(handle(&req(IqKind::Get, "<query xmlns='urn:example:nope'/>")).is_none());
    }

    #[test]
    fn disco_info_has_pubsub_service_identity_and_sorted_features() {
        let el = disco_info(&["http://jabber.org/protocol/pubsub"]);
        let id = el.get_child("identity", ns::DISCO_INFO).unwrap();
        assert_eq!(id.attr("category"), Some("pubsub"));
        assert_eq!(id.attr("type"), Some("service"));
        let vars: Vec<_> = el.children().filter_map(|c| c.attr("var")).collect();
        assert!(vars.contains(&ns::PING));
        assert!(vars.windows(2).all(|w| w[0] < w[1]));
    }
}
