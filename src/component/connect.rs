//! Opening a XEP-0114 stream and completing the handshake. Built on
//! tokio-xmpp's `initiate_stream` rather than its `Component`, whose stream
//! ends on any read error (docs/architecture.md, "The component link"): we
//! need every error kind.

use super::{ComponentStream, LinkSettings};
use futures::{SinkExt, StreamExt};
use std::borrow::Cow;
use std::io;
use std::time::Duration;
use tokio::io::BufStream;
use tokio::net::TcpStream;
use tokio_xmpp::parsers::component::Handshake;
use tokio_xmpp::parsers::ns;
use tokio_xmpp::parsers::stream_error::DefinedCondition;
use tokio_xmpp::xmlstream::{
    FallibleStreamElement, ReadError, StreamHeader, Timeouts, XmppStreamElement, initiate_stream,
};

/// Why a connection attempt failed: worth retrying, or not.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The server refused our secret: retrying cannot help.
    #[error(
        "ejabberd rejected the component handshake for {jid}: {detail} (check component.secret / HERALD_COMPONENT_SECRET and the ejabberd_service listener's password)"
    )]
    Rejected { jid: String, detail: String },
    /// Network or server trouble: try again later.
    #[error("cannot connect to {addr}: {detail}")]
    Unreachable { addr: String, detail: String },
}

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects, opens the stream and authenticates.
pub async fn connect(settings: &LinkSettings) -> Result<ComponentStream, ConnectError> {
    let addr = format!("{}:{}", settings.host, settings.port);
    let unreachable = |detail: String| ConnectError::Unreachable {
        addr: addr.clone(),
        detail,
    };
    let attempt = async {
        let tcp = TcpStream::connect(&addr)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        detect_dead_peer(&tcp, settings.keepalive);
        let header = StreamHeader {
            to: Some(Cow::Borrowed(settings.jid.as_str())),
            from: None,
            id: None,
        };
        let mut pending = initiate_stream(
            BufStream::new(tcp),
            ns::COMPONENT,
            header,
            timeouts(settings),
        )
        .await
        .map_err(|e| unreachable(format!("stream open failed: {e}")))?;
        let stream_id = pending
            .take_header()
            .id
            .map(Cow::into_owned)
            .ok_or_else(|| unreachable("server sent no stream id".into()))?;
        let mut stream = pending.skip_features::<FallibleStreamElement>();
        handshake(&mut stream, settings, stream_id).await?;
        Ok(stream)
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, attempt)
        .await
        .map_err(|_| unreachable("handshake timed out".into()))?
}

/// Soft timeout = keepalive interval: at that point we ping; the hard
/// timeout follows if even the ping gets no traffic back.
pub fn timeouts(settings: &LinkSettings) -> Timeouts {
    let response_timeout = if settings.expect_ping_replies {
        settings.keepalive.max(Duration::from_secs(10))
    } else {
        Duration::from_secs(24 * 3600)
    };
    Timeouts {
        read_timeout: settings.keepalive,
        response_timeout,
    }
}

/// TCP keepalive probes find a vanished peer on an idle link, and a user
/// timeout fails writes that stay unacknowledged, so a dead ejabberd is
/// noticed even when no ping answer is expected on this link.
fn detect_dead_peer(tcp: &TcpStream, keepalive: Duration) {
    let sock = socket2::SockRef::from(tcp);
    let probes = socket2::TcpKeepalive::new()
        .with_time(keepalive)
        .with_interval(Duration::from_secs(5))
        .with_retries(3);
    if let Err(e) = sock.set_tcp_keepalive(&probes) {
        tracing::debug!(error = %e, "cannot enable TCP keepalive");
    }
    if let Err(e) = sock.set_tcp_user_timeout(Some(keepalive.max(Duration::from_secs(10)) * 2)) {
        tracing::debug!(error = %e, "cannot set TCP user timeout");
    }
}

async fn handshake(
    stream: &mut ComponentStream,
    settings: &LinkSettings,
    stream_id: String,
) -> Result<(), ConnectError> {
    let rejected = |detail: String| ConnectError::Rejected {
        jid: settings.jid.clone(),
        detail,
    };
    let unreachable = |detail: String| ConnectError::Unreachable {
        addr: format!("{}:{}", settings.host, settings.port),
        detail,
    };
    let nonza = Handshake::from_stream_id_and_password(stream_id, &settings.secret);
    stream
        .send(&XmppStreamElement::ComponentHandshake(nonza))
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    loop {
        match stream.next().await {
            Some(Ok(FallibleStreamElement::Ok(XmppStreamElement::ComponentHandshake(_)))) => {
                return Ok(());
            }
            Some(Ok(FallibleStreamElement::Ok(XmppStreamElement::StreamError(e)))) => {
                return Err(match e.0.condition {
                    DefinedCondition::NotAuthorized => rejected(e.to_string()),
                    _ => unreachable(e.to_string()),
                });
            }
            Some(Ok(other)) => return Err(rejected(format!("unexpected reply {other:?}"))),
            Some(Err(ReadError::SoftTimeout)) => continue,
            Some(Err(ReadError::StreamFooterReceived)) | None => {
                return Err(unreachable(
                    "server closed the stream during handshake".into(),
                ));
            }
            Some(Err(e)) => return Err(unreachable(io::Error::other(e.to_string()).to_string())),
        }
    }
}
