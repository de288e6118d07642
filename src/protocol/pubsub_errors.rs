//! The one mapping from core [`PubsubError`]s to stanza errors: defined
//! condition, error type, `pubsub#errors` application condition and an
//! English text. The match is exhaustive on purpose: a new core error
//! does not compile until it has its XEP-0060 rendering here.

use super::errors::{stanza_error, unsupported_feature, with_pubsub_condition};
use crate::pubsub::PubsubError;
use tokio_xmpp::parsers::stanza_error::{DefinedCondition as C, ErrorType as T, StanzaError};

/// Renders `e` as XEP-0060 prescribes (section numbers in the core's docs).
pub fn to_stanza_error(e: &PubsubError) -> StanzaError {
    use PubsubError as E;
    let (type_, condition, app): (T, C, Option<&str>) = match e {
        E::NodeNotFound | E::ItemNotFound => (T::Cancel, C::ItemNotFound, None),
        E::NodeIdRequired => (T::Modify, C::BadRequest, Some("nodeid-required")),
        E::NodeExists => (T::Cancel, C::Conflict, None),
        E::Forbidden | E::ForbiddenBecause(_) | E::Outcast => (T::Auth, C::Forbidden, None),
        E::NotAuthorized => (
            T::Auth,
            C::NotAuthorized,
            Some("presence-subscription-required"),
        ),
        E::NotInRosterGroup => (T::Auth, C::NotAuthorized, Some("not-in-roster-group")),
        E::ClosedNode => (T::Cancel, C::NotAllowed, Some("closed-node")),
        E::PendingSubscription => (T::Auth, C::NotAuthorized, Some("pending-subscription")),
        E::SubscriptionRequired => (T::Auth, C::NotAuthorized, Some("not-subscribed")),
        E::NotSubscribed => (T::Cancel, C::UnexpectedRequest, Some("not-subscribed")),
        E::SubidRequired => (T::Modify, C::BadRequest, Some("subid-required")),
        E::InvalidSubid => (T::Modify, C::NotAcceptable, Some("invalid-subid")),
        E::InvalidJid => (T::Modify, C::BadRequest, Some("invalid-jid")),
        E::ConfigurationRequired => (T::Modify, C::NotAcceptable, Some("configuration-required")),
        E::InvalidOptions(_) => (T::Modify, C::BadRequest, Some("invalid-options")),
        E::InvalidCollection(_) => (T::Cancel, C::NotAllowed, Some("invalid-options")),
        E::ItemRequired => (T::Modify, C::BadRequest, Some("item-required")),
        E::ItemForbidden => (T::Modify, C::BadRequest, Some("item-forbidden")),
        E::PayloadRequired => (T::Modify, C::BadRequest, Some("payload-required")),
        E::PayloadTooBig => (T::Modify, C::NotAcceptable, Some("payload-too-big")),
        E::InvalidPayload => (T::Modify, C::BadRequest, Some("invalid-payload")),
        E::MaxNodesExceeded => (T::Cancel, C::NotAllowed, Some("max-nodes-exceeded")),
        E::PreconditionNotMet => (T::Cancel, C::Conflict, Some("precondition-not-met")),
        E::UnsupportedFeature(feature) => return unsupported_feature(feature),
        E::NotAcceptable(_) | E::LastOwner => (T::Modify, C::NotAcceptable, None),
        E::BadRequest(_) => (T::Modify, C::BadRequest, None),
        E::Internal(detail) => {
            // The detail (a store error) is for the operator, not the client.
            tracing::error!(error = %detail, "pubsub request failed inside the service");
            return super::errors::internal_server_error();
        }
    };
    let error = stanza_error(type_, condition, &e.to_string());
    match app {
        Some(app) => with_pubsub_condition(error, app),
        None => error,
    }
}

impl From<PubsubError> for StanzaError {
    fn from(e: PubsubError) -> Self {
        to_stanza_error(&e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ns;
    use PubsubError as E;

    /// (type, condition, app condition) of the rendering of `e`.
    fn shape(e: PubsubError) -> (T, C, Option<String>) {
        let s = to_stanza_error(&e);
        if let Some(o) = &s.other {
            assert_eq!(o.ns(), ns::PUBSUB_ERRORS);
        }
        assert!(!s.texts.is_empty(), "{e:?} has a text");
        (
            s.type_,
            s.defined_condition,
            s.other.map(|o| o.name().to_owned()),
        )
    }

    fn check(e: PubsubError, type_: T, cond: C, app: Option<&str>) {
        let label = format!("{e:?}");
        assert_eq!(
            shape(e),
            (type_, cond, app.map(str::to_owned)),
            "rendering of {label}"
        );
    }

    #[test]
    fn node_not_found() {
        check(E::NodeNotFound, T::Cancel, C::ItemNotFound, None);
    }
    #[test]
    fn nodeid_required() {
        check(
            E::NodeIdRequired,
            T::Modify,
            C::BadRequest,
            Some("nodeid-required"),
        );
    }
    #[test]
    fn node_exists() {
        check(E::NodeExists, T::Cancel, C::Conflict, None);
    }
    #[test]
    fn forbidden() {
        check(E::Forbidden, T::Auth, C::Forbidden, None);
    }
    #[test]
    fn forbidden_with_a_reason_says_it() {
        check(E::ForbiddenBecause("why"), T::Auth, C::Forbidden, None);
        let s = to_stanza_error(&E::ForbiddenBecause("only subscribers"));
        assert!(s.texts.values().any(|t| t == "only subscribers"));
    }
    #[test]
    fn outcast() {
        check(E::Outcast, T::Auth, C::Forbidden, None);
    }
    #[test]
    fn not_authorized_presence() {
        check(
            E::NotAuthorized,
            T::Auth,
            C::NotAuthorized,
            Some("presence-subscription-required"),
        );
    }
    #[test]
    fn not_in_roster_group() {
        check(
            E::NotInRosterGroup,
            T::Auth,
            C::NotAuthorized,
            Some("not-in-roster-group"),
        );
    }
    #[test]
    fn closed_node() {
        check(E::ClosedNode, T::Cancel, C::NotAllowed, Some("closed-node"));
    }
    #[test]
    fn pending_subscription() {
        check(
            E::PendingSubscription,
            T::Auth,
            C::NotAuthorized,
            Some("pending-subscription"),
        );
    }
    #[test]
    fn subscription_required() {
        check(
            E::SubscriptionRequired,
            T::Auth,
            C::NotAuthorized,
            Some("not-subscribed"),
        );
    }
    #[test]
    fn not_subscribed() {
        check(
            E::NotSubscribed,
            T::Cancel,
            C::UnexpectedRequest,
            Some("not-subscribed"),
        );
    }
    #[test]
    fn subid_required() {
        check(
            E::SubidRequired,
            T::Modify,
            C::BadRequest,
            Some("subid-required"),
        );
    }
    #[test]
    fn invalid_subid() {
        check(
            E::InvalidSubid,
            T::Modify,
            C::NotAcceptable,
            Some("invalid-subid"),
        );
    }
    #[test]
    fn invalid_jid() {
        check(E::InvalidJid, T::Modify, C::BadRequest, Some("invalid-jid"));
    }
    #[test]
    fn configuration_required() {
        check(
            E::ConfigurationRequired,
            T::Modify,
            C::NotAcceptable,
            Some("configuration-required"),
        );
    }
    #[test]
    fn invalid_options() {
        check(
            E::InvalidOptions("x".into()),
            T::Modify,
            C::BadRequest,
            Some("invalid-options"),
        );
    }
    #[test]
    fn item_required() {
        check(
            E::ItemRequired,
            T::Modify,
            C::BadRequest,
            Some("item-required"),
        );
    }
    #[test]
    fn item_forbidden() {
        check(
            E::ItemForbidden,
            T::Modify,
            C::BadRequest,
            Some("item-forbidden"),
        );
    }
    #[test]
    fn payload_required() {
        check(
            E::PayloadRequired,
            T::Modify,
            C::BadRequest,
            Some("payload-required"),
        );
    }
    #[test]
    fn payload_too_big() {
        check(
            E::PayloadTooBig,
            T::Modify,
            C::NotAcceptable,
            Some("payload-too-big"),
        );
    }
    #[test]
    fn invalid_payload() {
        check(
            E::InvalidPayload,
            T::Modify,
            C::BadRequest,
            Some("invalid-payload"),
        );
    }
    #[test]
    fn item_not_found() {
        check(E::ItemNotFound, T::Cancel, C::ItemNotFound, None);
    }
    #[test]
    fn max_nodes_exceeded() {
        check(
            E::MaxNodesExceeded,
            T::Cancel,
            C::NotAllowed,
            Some("max-nodes-exceeded"),
        );
    }
    #[test]
    fn precondition_not_met() {
        check(
            E::PreconditionNotMet,
            T::Cancel,
            C::Conflict,
            Some("precondition-not-met"),
        );
    }
    #[test]
    fn unsupported_feature_names_the_feature() {
        let s = to_stanza_error(&E::UnsupportedFeature("access-roster"));
        assert_eq!(s.type_, T::Cancel);
        assert_eq!(s.defined_condition, C::FeatureNotImplemented);
        let other = s.other.unwrap();
        assert!(other.is("unsupported", ns::PUBSUB_ERRORS));
        assert_eq!(other.attr("feature"), Some("access-roster"));
    }
    #[test]
    fn not_acceptable_keeps_the_field_in_the_text() {
        let s = to_stanza_error(&E::NotAcceptable("pubsub#max_items".into()));
        assert_eq!(s.type_, T::Modify);
        assert_eq!(s.defined_condition, C::NotAcceptable);
        assert!(s.other.is_none());
        assert!(s.texts.values().any(|t| t.contains("pubsub#max_items")));
    }
    #[test]
    fn last_owner() {
        check(E::LastOwner, T::Modify, C::NotAcceptable, None);
    }
    #[test]
    fn bad_request() {
        check(E::BadRequest("x".into()), T::Modify, C::BadRequest, None);
    }
    #[test]
    fn internal_hides_the_detail() {
        let s = to_stanza_error(&E::Internal("sled: disk on fire".into()));
        assert_eq!(s.type_, T::Wait);
        assert_eq!(s.defined_condition, C::InternalServerError);
        assert!(s.texts.values().all(|t| !t.contains("sled")));
    }
}
