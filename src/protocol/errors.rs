//! Building stanza errors (RFC 6120 §8.3), including the XEP-0060
//! `pubsub#errors` application conditions.

use super::ns;
use super::xml::BuilderExt;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};

/// A stanza error with a human-readable text in English.
pub fn stanza_error(type_: ErrorType, condition: DefinedCondition, text: &str) -> StanzaError {
    StanzaError::new(type_, condition, "en", text)
}

/// Adds a `pubsub#errors` application condition such as `<closed-node/>`.
pub fn with_pubsub_condition(mut error: StanzaError, condition: &str) -> StanzaError {
    error.other = Some(Element::builder(condition, ns::PUBSUB_ERRORS).build());
    error
}

/// `<unsupported xmlns='…pubsub#errors' feature='…'/>` (XEP-0060 §7.1.3.x).
pub fn unsupported_feature(feature: &str) -> StanzaError {
    let mut error = stanza_error(
        ErrorType::Cancel,
        DefinedCondition::FeatureNotImplemented,
        &format!("pubsub feature '{feature}' is not supported"),
    );
    error.other = Some(
        Element::builder("unsupported", ns::PUBSUB_ERRORS)
            .a("feature", feature)
            .build(),
    );
    error
}

pub fn bad_request(text: &str) -> StanzaError {
    stanza_error(ErrorType::Modify, DefinedCondition::BadRequest, text)
}

pub fn service_unavailable(text: &str) -> StanzaError {
    stanza_error(
        ErrorType::Cancel,
        DefinedCondition::ServiceUnavailable,
        text,
    )
}

pub fn internal_server_error() -> StanzaError {
    stanza_error(
        ErrorType::Wait,
        DefinedCondition::InternalServerError,
        "the service could not complete the request; try again",
    )
}

/// `<bad-request/>` + a `pubsub#errors` condition.
fn bad_request_with(condition: &str, text: &str) -> StanzaError {
    with_pubsub_condition(bad_request(text), condition)
}

/// §7.2.3.3 and friends: `<bad-request/>` + `<nodeid-required/>`.
pub fn nodeid_required() -> StanzaError {
    bad_request_with("nodeid-required", "this request needs a 'node' attribute")
}

/// §6.1.3.1: `<bad-request/>` + `<invalid-jid/>`.
pub fn invalid_jid(text: &str) -> StanzaError {
    bad_request_with("invalid-jid", text)
}

/// §6.3.4.3: `<bad-request/>` + `<jid-required/>`.
pub fn jid_required() -> StanzaError {
    bad_request_with("jid-required", "this request needs a 'jid' attribute")
}

/// §7.1.3.6: `<bad-request/>` + `<invalid-payload/>`.
pub fn invalid_payload(text: &str) -> StanzaError {
    bad_request_with("invalid-payload", text)
}

/// §7.2.3.4: `<bad-request/>` + `<item-required/>`.
pub fn item_required() -> StanzaError {
    bad_request_with("item-required", "an <item/> with an 'id' is required")
}

/// An element in a pubsub namespace that names no action we know.
pub fn unsupported_action(name: &str) -> StanzaError {
    stanza_error(
        ErrorType::Cancel,
        DefinedCondition::FeatureNotImplemented,
        &format!("<{name}/> is not a supported pubsub action"),
    )
}
