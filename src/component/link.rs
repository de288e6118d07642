//! The supervising loop: connect, run one session until it ends, wait the
//! backoff delay, connect again. Only a rejected secret or shutdown ends it.
//! Each session writes the previous one's unconfirmed stanzas first
//! (at-least-once, see `confirm.rs`).

use super::admission::{Admission, Verdict};
use super::confirm::ProbeId;
use super::connect::{ConnectError, connect};
use super::owned::OwnedStream;
use super::tracker::Trackers;
use super::{Backoff, ComponentStream, Inbound, InvalidStanza, LinkSettings, StanzaKind};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio_xmpp::Stanza;
use tokio_xmpp::jid::Jid;
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
    /// Bit `i` set while link `i` is connected (at most 16 links).
    pub up_mask: AtomicU64,
}

impl LinkState {
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::SeqCst) > 0
    }

    /// Whether each configured link is connected, by index.
    pub fn links_up(&self) -> Vec<bool> {
        let mask = self.up_mask.load(Ordering::SeqCst);
        (0..self.links.load(Ordering::Relaxed))
            .map(|i| i < 64 && mask & (1 << i) != 0)
            .collect()
    }

    pub fn reconnects(&self) -> u64 {
        let links = self.links.load(Ordering::Relaxed).max(1) as u64;
        self.connects.load(Ordering::Relaxed).saturating_sub(links)
    }
}

/// Link `index`'s bit in [`LinkState::up_mask`].
fn link_bit(index: usize) -> u64 {
    1u64.checked_shl(index as u32).unwrap_or(0)
}

type Sink = SplitSink<OwnedStream, XmppStreamElement>;

/// Channels the link is wired to. The outbox outlives every session:
/// stanzas queued while ejabberd is away go out after the reconnect.
pub struct LinkChannels<J> {
    pub inbound: mpsc::Sender<J>,
    /// For answers the link gives itself (admission refusals).
    pub outbox_tx: mpsc::Sender<Stanza>,
    pub outbox_rx: mpsc::Receiver<Stanza>,
    /// This link's index into `trackers`.
    pub index: usize,
    /// Confirmation windows of all links (answers may arrive on any).
    pub trackers: Arc<Trackers>,
    /// Per-sender fairness, shared by all links.
    pub admission: Arc<Admission>,
}

/// What one session leaves for the next: the outbox, and the stanzas
/// still to write first (the unconfirmed tail of the dead connection).
struct Carry {
    outbox: mpsc::Receiver<Stanza>,
    pending: VecDeque<Stanza>,
}

/// Runs until `shutdown` turns true (Ok) or ejabberd rejects our secret.
pub async fn run_link<J: From<Inbound> + Send + 'static>(
    settings: LinkSettings,
    channels: LinkChannels<J>,
    state: Arc<LinkState>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), ConnectError> {
    let LinkChannels {
        inbound,
        outbox_tx,
        outbox_rx,
        index,
        trackers,
        admission,
    } = channels;
    let mut carry = Carry {
        outbox: outbox_rx,
        pending: VecDeque::new(),
    };
    let mut backoff = Backoff::default();
    while !*shutdown.borrow() {
        let stream = tokio::select! {
            r = connect(&settings) => r,
            _ = shutdown.changed() => break,
        };
        match stream {
            Ok(stream) => {
                tracing::info!(jid = %settings.jid, link = index, "component link up");
                state.up.fetch_add(1, Ordering::SeqCst);
                state.up_mask.fetch_or(link_bit(index), Ordering::SeqCst);
                state.connects.fetch_add(1, Ordering::Relaxed);
                if inbound.send(Inbound::LinkUp.into()).await.is_err() {
                    break;
                }
                trackers.link(index).lock().start_connection();
                let link = Link {
                    settings: &settings,
                    index,
                    trackers: &trackers,
                    admission: &admission,
                    outbox_tx: &outbox_tx,
                };
                let (end, next) = link
                    .session(stream, &inbound, carry, shutdown.clone())
                    .await;
                state.up.fetch_sub(1, Ordering::SeqCst);
                state.up_mask.fetch_and(!link_bit(index), Ordering::SeqCst);
                let (resend, confirmed) = {
                    let mut window = trackers.link(index).lock();
                    (window.end_connection(), window.confirmed())
                };
                if confirmed {
                    backoff.confirmed();
                }
                tracing::warn!(reason = %end, link = index, "component link down");
                if !resend.is_empty() {
                    tracing::info!(
                        stanzas = resend.len(),
                        link = index,
                        "unconfirmed stanzas will be written again after the reconnect"
                    );
                }
                let mut pending: VecDeque<Stanza> = resend.into();
                pending.extend(next.pending);
                carry = Carry {
                    outbox: next.outbox,
                    pending,
                };
            }
            Err(e @ ConnectError::Rejected { .. }) => return Err(e),
            Err(e) => tracing::warn!(error = %e, link = index, "component connect failed"),
        }
        if *shutdown.borrow() {
            break;
        }
        let delay = backoff.next_delay();
        tracing::info!(
            delay_ms = delay.as_millis() as u64,
            "reconnecting after delay"
        );
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.changed() => break,
        }
    }
    Ok(())
}

/// One link's identity, borrowed by its sessions.
struct Link<'a> {
    settings: &'a LinkSettings,
    index: usize,
    trackers: &'a Arc<Trackers>,
    admission: &'a Admission,
    outbox_tx: &'a mpsc::Sender<Stanza>,
}

impl Link<'_> {
    /// One connected session: a writer task draining the outbox and this
    /// reader loop. Returns why it ended and what the next session needs.
    async fn session<J: From<Inbound> + Send + 'static>(
        &self,
        stream: ComponentStream,
        inbound: &mpsc::Sender<J>,
        carry: Carry,
        mut shutdown: watch::Receiver<bool>,
    ) -> (String, Carry) {
        let (sink, mut source) = OwnedStream(stream).split();
        let (stop_tx, stop_rx) = watch::channel(false);
        let writer = Writer {
            sink,
            jid: own_jid(&self.settings.jid),
            index: self.index,
            trackers: self.trackers.clone(),
        };
        let mut writer = tokio::spawn(writer.run(carry, stop_rx));
        let (end, finished) = tokio::select! {
            end = self.read_loop(&mut source, inbound) => (end, None),
            _ = shutdown.changed() => ("shutting down".to_owned(), None),
            done = &mut writer => ("writer stopped".to_owned(), Some(done)),
        };
        let _ = stop_tx.send(true);
        let done = match finished {
            Some(done) => done,
            None => writer.await,
        };
        match done {
            Ok((carry, write_end)) => (write_end.unwrap_or(end), carry),
            // The writer cannot panic in practice; without its receiver the
            // link cannot continue, so make that loud.
            Err(e) => panic!("component writer task failed: {e}"),
        }
    }

    async fn read_loop<J: From<Inbound> + Send + 'static>(
        &self,
        source: &mut SplitStream<OwnedStream>,
        inbound: &mpsc::Sender<J>,
    ) -> String {
        loop {
            let item = match source.next().await {
                None => return "stream closed".into(),
                Some(item) => item,
            };
            let to_router = match item {
                Ok(FallibleStreamElement::Ok(XmppStreamElement::Stanza(stanza))) => {
                    if let Some(probe) = self.own_probe(&stanza) {
                        self.trackers.answer(probe);
                        continue;
                    }
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
                    // Quiet link: a probe travels through ejabberd and back,
                    // so both directions carry traffic and a dead
                    // connection shows within the confirmation timeout.
                    let tracker = self.trackers.link(self.index);
                    tracker.lock().want_probe();
                    tracker.changed.notify_one();
                    continue;
                }
                Err(ReadError::ParseError(e)) => {
                    tracing::warn!(error = %e, "unparsable element from server, ignored");
                    continue;
                }
                Err(ReadError::HardError(e)) => return format!("read error: {e}"),
                Err(ReadError::StreamFooterReceived) => {
                    return "server closed the stream".into();
                }
            };
            match self.admission.check(&to_router) {
                Verdict::Admit => {}
                Verdict::Refuse(answer) => {
                    // A full outbox means we are busy: the flooder's
                    // answer is the one to skip.
                    let _ = self.outbox_tx.try_send(*answer);
                    continue;
                }
                Verdict::Drop => continue,
            }
            if inbound.send(to_router.into()).await.is_err() {
                return "router stopped".into();
            }
        }
    }

    /// One of our confirmation probes (or ejabberd's error for one): an
    /// IQ from our own domain with a probe id. Clients cannot forge it:
    /// ejabberd stamps their `from`.
    fn own_probe(&self, stanza: &Stanza) -> Option<ProbeId> {
        let Stanza::Iq(iq) = stanza else { return None };
        let ours = iq
            .from()
            .is_some_and(|from| from.as_str() == self.settings.jid);
        if !ours {
            return None;
        }
        ProbeId::parse(iq.id())
    }
}

/// The config validated the JID, so the fallback never runs; it only
/// avoids an unwrap.
fn own_jid(jid: &str) -> Jid {
    jid.parse()
        .unwrap_or_else(|_| Jid::new("invalid.invalid").unwrap_or_else(|_| std::process::abort()))
}

const MAX_BURST: usize = 256;

/// Writes the link's stanzas, records each in the confirmation window and
/// writes probes; ends when stopped, on a write error or when a probe
/// stays unanswered too long.
struct Writer {
    sink: Sink,
    jid: Jid,
    index: usize,
    trackers: Arc<Trackers>,
}

impl Writer {
    async fn run(
        mut self,
        mut carry: Carry,
        mut stop: watch::Receiver<bool>,
    ) -> (Carry, Option<String>) {
        let trackers = self.trackers.clone();
        let tracker = trackers.link(self.index);
        loop {
            let (due, dead_at, full) = {
                let window = tracker.lock();
                (window.probe_due(), window.dead_at(), window.is_full())
            };
            let now = Instant::now();
            if dead_at.is_some_and(|at| at <= now) {
                // No polite close: the peer is not reading.
                return (carry, Some("confirmation probe unanswered".into()));
            }
            if due.is_some_and(|at| at <= now) {
                if let Err(e) = self.probe().await.and(self.sink.flush().await) {
                    return (carry, Some(format!("write error: {e}")));
                }
                continue;
            }
            let wake = [due, dead_at].into_iter().flatten().min();
            let sleep = tokio::time::sleep_until(wake.unwrap_or(now).into());
            tokio::select! {
                biased;
                _ = stop.changed() => break,
                _ = tracker.changed.notified() => continue,
                _ = sleep, if wake.is_some() => continue,
                first = next_stanza(&mut carry), if !full => {
                    let Some(first) = first else { break };
                    if let Err(e) = self.write_burst(first, &mut carry).await {
                        return (carry, Some(format!("write error: {e}")));
                    }
                }
            }
        }
        // Close our side politely; ejabberd then drops the session at once.
        let _ = tokio::time::timeout(Duration::from_secs(2), self.sink.close()).await;
        (carry, None)
    }

    /// Feeds a burst, keeping a copy of each stanza until it is confirmed,
    /// then a probe if one is due, and flushes once.
    async fn write_burst(&mut self, first: Stanza, carry: &mut Carry) -> std::io::Result<()> {
        let tracker = self.trackers.link(self.index);
        let mut next = Some(first);
        let mut written = 0;
        while let Some(stanza) = next.take() {
            let full = {
                let mut window = tracker.lock();
                window.written(copy(&stanza));
                window.is_full()
            };
            self.sink.feed(XmppStreamElement::Stanza(stanza)).await?;
            written += 1;
            if full || written == MAX_BURST {
                break;
            }
            next = carry
                .pending
                .pop_front()
                .or_else(|| carry.outbox.try_recv().ok());
        }
        let due = tracker.lock().probe_due();
        if due.is_some_and(|at| at <= Instant::now()) {
            self.probe().await?;
        }
        self.sink.flush().await
    }

    async fn probe(&mut self) -> std::io::Result<()> {
        let id = self.trackers.link(self.index).lock().probe(Instant::now());
        let ping = Iq::from_get(id.to_id(), Ping)
            .with_from(self.jid.clone())
            .with_to(self.jid.clone());
        self.sink
            .feed(XmppStreamElement::Stanza(Stanza::Iq(ping)))
            .await
    }
}

/// The next stanza to write: the previous connection's unconfirmed tail
/// first, then the outbox.
async fn next_stanza(carry: &mut Carry) -> Option<Stanza> {
    if let Some(stanza) = carry.pending.pop_front() {
        return Some(stanza);
    }
    carry.outbox.recv().await
}

/// `Stanza` is not `Clone`; its variants are.
fn copy(stanza: &Stanza) -> Stanza {
    match stanza {
        Stanza::Iq(iq) => Stanza::Iq(iq.clone()),
        Stanza::Message(m) => Stanza::Message(m.clone()),
        Stanza::Presence(p) => Stanza::Presence(p.clone()),
    }
}
