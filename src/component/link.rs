//! The supervising loop: connect, run one session until it ends, wait the
//! backoff delay, connect again. Only a rejected secret or shutdown ends it.

use super::connect::{ConnectError, connect};
use super::owned::OwnedStream;
use super::{Backoff, ComponentStream, Inbound, InvalidStanza, LinkSettings, StanzaKind};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio_xmpp::Stanza;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::ping::Ping;
use tokio_xmpp::xmlstream::{
    FallibleStreamElement, ReadError, StreamElementError, XmppStreamElement,
};

/// Observable health of all component links, for readiness and metrics.
#[derive(Debug, Default)]
pub struct LinkState {
    /// Links currently connected.
    pub up: AtomicUsize,
    /// Successful handshakes since start, over all links.
    pub connects: AtomicU64,
    /// Configured number of links (their first connects are not reconnects).
    pub links: AtomicUsize,
}

impl LinkState {
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::SeqCst) > 0
    }

    pub fn reconnects(&self) -> u64 {
        let links = self.links.load(Ordering::Relaxed).max(1) as u64;
        self.connects.load(Ordering::Relaxed).saturating_sub(links)
    }
}

type Sink = SplitSink<OwnedStream, XmppStreamElement>;

/// Channels the link is wired to. The outbox outlives every session:
/// stanzas queued while ejabberd is away go out after the reconnect.
pub struct LinkChannels<J> {
    pub inbound: mpsc::Sender<J>,
    pub outbox_tx: mpsc::Sender<Stanza>,
    pub outbox_rx: mpsc::Receiver<Stanza>,
}

/// Runs until `shutdown` turns true (Ok) or ejabberd rejects our secret.
pub async fn run_link<J: From<Inbound> + Send + 'static>(
    settings: LinkSettings,
    mut channels: LinkChannels<J>,
    state: Arc<LinkState>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), ConnectError> {
    let mut backoff = Backoff::default();
    while !*shutdown.borrow() {
        let stream = tokio::select! {
            r = connect(&settings) => r,
            _ = shutdown.changed() => break,
        };
        match stream {
            Ok(stream) => {
                tracing::info!(jid = %settings.jid, "component link up");
                state.up.fetch_add(1, Ordering::SeqCst);
                state.connects.fetch_add(1, Ordering::Relaxed);
                if channels.inbound.send(Inbound::LinkUp.into()).await.is_err() {
                    break;
                }
                let started = Instant::now();
                let rx = channels.outbox_rx;
                let (end, rx) = session(
                    stream,
                    &settings,
                    &channels.inbound,
                    &channels.outbox_tx,
                    rx,
                    shutdown.clone(),
                )
                .await;
                channels.outbox_rx = rx;
                state.up.fetch_sub(1, Ordering::SeqCst);
                backoff.connection_lasted(started.elapsed());
                tracing::warn!(reason = %end, "component link down");
            }
            Err(e @ ConnectError::Rejected { .. }) => return Err(e),
            Err(e) => tracing::warn!(error = %e, "component connect failed"),
        }
        if *shutdown.borrow() {
            break;
        }
        let delay = backoff.next_delay();
        tracing::info!(delay_s = delay.as_secs(), "reconnecting after delay");
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.changed() => break,
        }
    }
    Ok(())
}

/// One connected session: a writer task draining the outbox and this
/// reader loop. Returns why it ended and hands the outbox back.
async fn session<J: From<Inbound> + Send + 'static>(
    stream: ComponentStream,
    settings: &LinkSettings,
    inbound: &mpsc::Sender<J>,
    outbox_tx: &mpsc::Sender<Stanza>,
    outbox_rx: mpsc::Receiver<Stanza>,
    mut shutdown: watch::Receiver<bool>,
) -> (String, mpsc::Receiver<Stanza>) {
    let (sink, mut source) = OwnedStream(stream).split();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut writer = tokio::spawn(write_loop(sink, outbox_rx, stop_rx));
    let end = tokio::select! {
        end = read_loop(&mut source, settings, inbound, outbox_tx) => end,
        _ = shutdown.changed() => "shutting down".to_owned(),
        _ = &mut writer => "writer stopped".to_owned(),
    };
    let _ = stop_tx.send(true);
    match writer.await {
        Ok((rx, write_end)) => (write_end.unwrap_or(end), rx),
        // The writer cannot panic in practice; without its receiver the
        // link cannot continue, so make that loud.
        Err(e) => panic!("component writer task failed: {e}"),
    }
}

async fn read_loop<J: From<Inbound> + Send + 'static>(
    source: &mut SplitStream<OwnedStream>,
    settings: &LinkSettings,
    inbound: &mpsc::Sender<J>,
    outbox_tx: &mpsc::Sender<Stanza>,
) -> String {
    let mut pings = 0u64;
    loop {
        let item = match source.next().await {
            None => return "stream closed".into(),
            Some(item) => item,
        };
        let to_router = match item {
            Ok(FallibleStreamElement::Ok(XmppStreamElement::Stanza(stanza))) => {
                Inbound::Stanza(stanza)
            }
            Ok(FallibleStreamElement::Err(StreamElementError::InvalidStanza {
                name,
                header,
                error,
                ..
            })) => Inbound::Invalid(InvalidStanza {
                kind: StanzaKind::from_name(&name.to_string()),
                from: header.from,
                to: header.to,
                id: header.id,
                type_: header.type_,
                reason: error.to_string(),
            }),
            Ok(FallibleStreamElement::Ok(XmppStreamElement::StreamError(e))) => {
                return format!("stream error from server: {e}");
            }
            Ok(other) => {
                tracing::debug!(?other, "ignoring unexpected stream element");
                continue;
            }
            Err(ReadError::SoftTimeout) => {
                pings += 1;
                // A ping to ourselves travels through ejabberd and back, so
                // both directions of the link carry traffic.
                let ping = Iq::from_get(format!("keepalive-{pings}"), Ping)
                    .with_from(settings.jid.parse().unwrap_or_else(|_| unreachable_jid()))
                    .with_to(settings.jid.parse().unwrap_or_else(|_| unreachable_jid()));
                if outbox_tx.try_send(Stanza::Iq(ping)).is_err() {
                    tracing::debug!("outbox full: skipping keepalive ping");
                }
                continue;
            }
            Err(ReadError::ParseError(e)) => {
                tracing::warn!(error = %e, "unparsable element from server, ignored");
                continue;
            }
            Err(ReadError::HardError(e)) => return format!("read error: {e}"),
            Err(ReadError::StreamFooterReceived) => return "server closed the stream".into(),
        };
        if inbound.send(to_router.into()).await.is_err() {
            return "router stopped".into();
        }
    }
}

/// The config validated the JID, so this never runs; it only avoids an unwrap.
fn unreachable_jid() -> tokio_xmpp::jid::Jid {
    tokio_xmpp::jid::Jid::new("invalid.invalid").unwrap_or_else(|_| std::process::abort())
}

/// Drains the outbox into the socket, flushing once per burst. Returns the
/// receiver (and a reason if writing failed) so the next session reuses it.
async fn write_loop(
    mut sink: Sink,
    mut outbox: mpsc::Receiver<Stanza>,
    mut stop: watch::Receiver<bool>,
) -> (mpsc::Receiver<Stanza>, Option<String>) {
    loop {
        let first = tokio::select! {
            s = outbox.recv() => s,
            _ = stop.changed() => break,
        };
        let Some(first) = first else { break };
        if let Err(e) = write_burst(&mut sink, first, &mut outbox).await {
            return (outbox, Some(format!("write error: {e}")));
        }
    }
    // Close our side politely; ejabberd then drops the session at once.
    let _ = tokio::time::timeout(Duration::from_secs(2), sink.close()).await;
    (outbox, None)
}

const MAX_BURST: usize = 256;

async fn write_burst(
    sink: &mut Sink,
    first: Stanza,
    outbox: &mut mpsc::Receiver<Stanza>,
) -> Result<(), std::io::Error> {
    sink.feed(XmppStreamElement::Stanza(first)).await?;
    for _ in 1..MAX_BURST {
        match outbox.try_recv() {
            Ok(next) => sink.feed(XmppStreamElement::Stanza(next)).await?,
            Err(_) => break,
        }
    }
    sink.flush().await
}
