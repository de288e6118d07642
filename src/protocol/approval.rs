//! XEP-0060 §8.6: an owner answers a subscription approval request by
//! sending back the `pubsub#subscribe_authorization` form in a
//! `<message/>` (submit with `pubsub#allow`, or cancel to leave the
//! request pending).

#![allow(clippy::result_large_err)] // see pubsub_request.rs

use super::forms::{self, FormKind, ReceivedForm};
use super::pubsub_forms::SUBSCRIBE_AUTHORIZATION;
use super::pubsub_handler::{Handled, ProtocolCtx};
use super::{errors, notify};
use crate::pubsub::{Actor, NodeName, Service};
use crate::store::Store;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::stanza_error::StanzaError;

/// Handles the payloads of a `<message/>` from `from`. `None` when they
/// hold no subscribe_authorization form (the message is not for us).
/// `reply` is `Ok(None)` on success; an `Err` is for a message error back
/// to the owner. Flush before sending notifications, as for IQs.
pub fn handle_approval<S: Store>(
    service: &mut Service<S>,
    ctx: &ProtocolCtx,
    from: &Jid,
    payloads: &[Element],
) -> Option<Handled> {
    let form = payloads
        .iter()
        .filter_map(|p| forms::parse_form(p).ok())
        .find(|f| f.form_type.as_deref() == Some(SUBSCRIBE_AUTHORIZATION))?;
    let done = |reply, notifications| Handled {
        results: Vec::new(),
        reply,
        notifications,
        published: Vec::new(),
    };
    if form.kind == FormKind::Cancel {
        return Some(done(Ok(None), vec![]));
    }
    let answer = match decision(&form) {
        Ok(d) => d,
        Err(e) => return Some(done(Err(e), vec![])),
    };
    let actor = Actor::Entity(from.to_bare());
    let (node, jid, subid, allow) = answer;
    let max = service.settings().max_stanza_bytes;
    Some(
        match service.approve_subscription(&actor, &node, &jid, subid.as_deref(), allow) {
            Ok(o) => done(
                Ok(None),
                notify::render_all(
                    &ctx.service_jid,
                    max,
                    ctx.multicast.as_ref(),
                    &o.notifications,
                ),
            ),
            Err(e) => done(Err(e.into()), vec![]),
        },
    )
}

type Decision = (NodeName, Jid, Option<String>, bool);

/// Node, subscriber, SubID and `pubsub#allow` of a submitted form.
fn decision(form: &ReceivedForm) -> Result<Decision, StanzaError> {
    let one = |var: &str| {
        form.values(var)
            .and_then(|v| v.first())
            .filter(|v| !v.is_empty())
            .cloned()
    };
    let missing = |var: &str| errors::bad_request(&format!("the form lacks {var}"));
    let node = one("pubsub#node").ok_or_else(|| missing("pubsub#node"))?;
    let node = NodeName::new(node).map_err(|e| errors::bad_request(&e.to_string()))?;
    let jid = one("pubsub#subscriber_jid").ok_or_else(|| missing("pubsub#subscriber_jid"))?;
    let jid = Jid::new(&jid).map_err(|_| errors::invalid_jid("bad pubsub#subscriber_jid"))?;
    let allow = one("pubsub#allow")
        .and_then(|v| forms::parse_bool(&v))
        .ok_or_else(|| errors::bad_request("pubsub#allow must be a boolean"))?;
    Ok((node, jid, one("pubsub#subid"), allow))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::pubsub_handler::handle_pubsub;
    use crate::protocol::{IqKind, IqRequest, ns};
    use crate::pubsub::ServiceSettings;
    use crate::store::MemoryStore;
    use tokio_xmpp::Stanza;
    use tokio_xmpp::parsers::stanza_error::DefinedCondition;

    fn setup() -> (Service<MemoryStore>, ProtocolCtx) {
        let settings = ServiceSettings {
            create_domains: vec!["denmark.lit".into()],
            ..ServiceSettings::default()
        };
        let mut svc = Service::open(MemoryStore::new(), settings).unwrap();
        let ctx = ProtocolCtx {
            service_jid: "pubsub.shakespeare.lit".parse().unwrap(),
            max_payload_bytes: 1 << 16,
            multicast: None,
        };
        let iq = |from: &str, payload: &str| IqRequest {
            from: from.parse().unwrap(),
            to: "pubsub.shakespeare.lit".parse().unwrap(),
            id: "1".into(),
            kind: IqKind::Set,
            payload: payload.parse().unwrap(),
        };
        let create = "<pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='princely_musings'/><configure><x xmlns='jabber:x:data' type='submit'><field var='pubsub#access_model'><value>authorize</value></field></x></configure></pubsub>";
        let sub = "<pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='princely_musings' jid='horatio@denmark.lit'/></pubsub>";
        for (from, p) in [
            ("hamlet@denmark.lit/elsinore", create),
            ("horatio@denmark.lit/r", sub),
        ] {
            assert!(handle_pubsub(&mut svc, &ctx, &iq(from, p)).reply.is_ok());
        }
        svc.flush().unwrap();
        (svc, ctx)
    }

    /// Example 172 (allow) / 174 (deny) as sent by the owner.
    fn answer(allow: &str) -> Element {
        format!(
            "<x xmlns='jabber:x:data' type='submit'>
              <field var='FORM_TYPE' type='hidden'><value>{SUBSCRIBE_AUTHORIZATION}</value></field>
              <field var='pubsub#node'><value>princely_musings</value></field>
              <field var='pubsub#subscriber_jid'><value>horatio@denmark.lit</value></field>
              <field var='pubsub#allow'><value>{allow}</value></field>
            </x>"
        )
        .parse()
        .unwrap()
    }

    fn state_sent(h: &Handled) -> String {
        let Stanza::Message(m) = &h.notifications[0] else {
            panic!()
        };
        let event = m.payloads[0]
            .get_child("subscription", ns::PUBSUB_EVENT)
            .unwrap();
        event.attr("subscription").unwrap().to_owned()
    }

    #[test]
    fn examples_172_173_owner_approves() {
        let (mut svc, ctx) = setup();
        let owner: Jid = "hamlet@denmark.lit/elsinore".parse().unwrap();
        let h = handle_approval(&mut svc, &ctx, &owner, &[answer("true")]).unwrap();
        assert_eq!(h.reply, Ok(None));
        assert!(svc.unflushed());
        assert_eq!(state_sent(&h), "subscribed");
    }

    #[test]
    fn examples_174_175_owner_denies() {
        let (mut svc, ctx) = setup();
        let owner: Jid = "hamlet@denmark.lit/elsinore".parse().unwrap();
        let h = handle_approval(&mut svc, &ctx, &owner, &[answer("0")]).unwrap();
        assert_eq!(state_sent(&h), "none");
    }

    #[test]
    fn example_176_cancel_keeps_the_request_pending() {
        let (mut svc, ctx) = setup();
        let owner: Jid = "hamlet@denmark.lit/elsinore".parse().unwrap();
        let cancel: Element = format!(
            "<x xmlns='jabber:x:data' type='cancel'><field var='FORM_TYPE' type='hidden'><value>{SUBSCRIBE_AUTHORIZATION}</value></field></x>"
        )
        .parse()
        .unwrap();
        let h = handle_approval(&mut svc, &ctx, &owner, &[cancel]).unwrap();
        assert_eq!(h.reply, Ok(None));
        assert!(h.notifications.is_empty() && !svc.unflushed());
    }

    #[test]
    fn non_owner_answer_is_forbidden_and_other_messages_are_not_ours() {
        let (mut svc, ctx) = setup();
        let stranger: Jid = "bernardo@denmark.lit/x".parse().unwrap();
        let h = handle_approval(&mut svc, &ctx, &stranger, &[answer("1")]).unwrap();
        assert_eq!(
            h.reply.unwrap_err().defined_condition,
            DefinedCondition::Forbidden
        );
        let body: Element = "<body xmlns='jabber:component:accept'>hi</body>"
            .parse()
            .unwrap();
        assert!(handle_approval(&mut svc, &ctx, &stranger, &[body]).is_none());
    }

    #[test]
    fn incomplete_form_is_bad_request() {
        let (mut svc, ctx) = setup();
        let owner: Jid = "hamlet@denmark.lit/elsinore".parse().unwrap();
        let x: Element = format!(
            "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>{SUBSCRIBE_AUTHORIZATION}</value></field><field var='pubsub#allow'><value>1</value></field></x>"
        )
        .parse()
        .unwrap();
        let h = handle_approval(&mut svc, &ctx, &owner, &[x]).unwrap();
        assert_eq!(
            h.reply.unwrap_err().defined_condition,
            DefinedCondition::BadRequest
        );
    }
}
