//! Stanzas to typed requests and back. Nothing here touches sockets: the
//! component hands in parsed stanzas and sends out what comes back.

pub mod approval;
pub mod dead_letter;
pub mod disco;
pub mod errors;
pub mod features;
pub mod forms;
pub mod mam;
pub mod mam_render;
pub mod message_id;
pub mod multicast;
pub mod notify;
pub mod pubsub_errors;
pub mod pubsub_exec;
pub mod pubsub_forms;
pub mod pubsub_handler;
pub mod pubsub_item_request;
pub mod pubsub_owner_request;
pub mod pubsub_replies;
pub mod pubsub_request;
pub mod queue;
pub mod request_util;
pub mod routing;
pub mod rsm;
pub mod service_info;
pub mod service_presence;
pub mod stanza_size;
pub mod timestamp;
pub mod xml;

use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::stanza_error::StanzaError;

/// Namespaces we build by hand (xmpp-parsers has no typed support for them).
pub mod ns {
    pub use tokio_xmpp::parsers::ns::{
        DATA_FORMS, DISCO_INFO, DISCO_ITEMS, PING, PUBSUB, PUBSUB_ERRORS, PUBSUB_EVENT,
        PUBSUB_OWNER, RSM, VERSION, XMPP_STANZAS,
    };
    pub const SHIM: &str = "http://jabber.org/protocol/shim";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IqKind {
    Get,
    Set,
}

/// An IQ get or set addressed to the service, with its single child.
#[derive(Debug, Clone)]
pub struct IqRequest {
    pub from: Jid,
    pub to: Jid,
    pub id: String,
    pub kind: IqKind,
    pub payload: Element,
}

/// The answer to an IQ: a result (with optional child) or a stanza error.
pub type IqReply = Result<Option<Element>, StanzaError>;
