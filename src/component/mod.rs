//! The XEP-0114 link to ejabberd: connect, handshake, keepalive, reconnect
//! with backoff, a reader loop and one writer behind a bounded outbox that
//! keeps what it wrote until ejabberd confirms it (at-least-once).
//! It knows stanzas, not pubsub: everything read goes to `inbound`.

mod admission;
mod backoff;
mod confirm;
mod connect;
mod link;
mod owned;
mod tracker;

pub use admission::{Admission, AdmissionSettings};
pub use backoff::Backoff;
pub use confirm::ConfirmSettings;
pub use connect::ConnectError;
pub use link::{LinkChannels, LinkState, run_link};
pub use tracker::Trackers;

use std::time::Duration;
use tokio::io::BufStream;
use tokio::net::TcpStream;
use tokio_xmpp::Stanza;
use tokio_xmpp::xmlstream::{FallibleStreamElement, XmlStream};

type ComponentStream = XmlStream<BufStream<TcpStream>, FallibleStreamElement>;

#[derive(Clone)]
pub struct LinkSettings {
    /// Our domain, e.g. `events.localhost`.
    pub jid: String,
    pub host: String,
    pub port: u16,
    pub secret: String,
    /// Silence after which we ping through ejabberd to keep the link alive.
    pub keepalive: Duration,
    /// Whether a keepalive ping's answer is sure to come back on the same
    /// link, so that silence after it means the link is dead. With several
    /// links it may come back on another; TCP keepalive then detects a dead
    /// peer instead.
    pub expect_ping_replies: bool,
    /// At-least-once: window, probe spacing and dead-link timeout.
    pub confirm: ConfirmSettings,
}

/// The secret never appears in `Debug` output (logs, panics).
impl std::fmt::Debug for LinkSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkSettings")
            .field("jid", &self.jid)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("secret", &"<redacted>")
            .field("keepalive", &self.keepalive)
            .field("expect_ping_replies", &self.expect_ping_replies)
            .field("confirm", &self.confirm)
            .finish()
    }
}

/// What the link hands to the rest of Herald.
// Stanza, the common case, is the large variant: boxing it would cost an
// allocation per stanza to save space on the rare invalid one.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Inbound {
    Stanza(Stanza),
    /// A stanza that failed to parse: the raw header lets the router reply
    /// with an error instead of dropping it silently.
    Invalid(InvalidStanza),
    /// The link (re)connected and completed its handshake: whatever
    /// ejabberd held for us (MUC occupancy) may be gone.
    LinkUp,
}

#[derive(Debug)]
pub struct InvalidStanza {
    pub kind: StanzaKind,
    pub from: Option<String>,
    pub to: Option<String>,
    pub id: Option<String>,
    pub type_: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StanzaKind {
    Iq,
    Message,
    Presence,
}

impl StanzaKind {
    /// From the element name tokio-xmpp reports for a stanza it could not parse.
    fn from_name(name: &str) -> Self {
        match name {
            "iq" => StanzaKind::Iq,
            "message" => StanzaKind::Message,
            _ => StanzaKind::Presence,
        }
    }
}
