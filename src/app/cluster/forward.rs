//! Stanzas between instances. ejabberd hands each stanza for the domain
//! to any of its connections; only the leader runs the core. A follower
//! forwards what its links receive to the leader over NATS request/reply
//! (the leader acknowledges once the stanza is queued for its core), and
//! keeps what no leader took, to send again once one serves: while a new
//! leader loads, stanzas wait instead of vanishing. A stanza whose
//! acknowledgement was lost may be handled twice; publishes by item ID
//! are idempotent, so a retry is safe.

use crate::app::Job;
use crate::component::Inbound;
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_xmpp::Stanza;
use tokio_xmpp::minidom::Element;

/// Where a link's inbound work goes now.
#[derive(Clone)]
pub enum Target {
    /// No leader serves: keep stanzas.
    Nobody,
    /// Another instance leads: forward.
    Forward,
    /// This instance leads: straight into its core.
    Core(mpsc::Sender<Job>),
}

/// Forwarded stanzas not yet taken by a leader are kept this long.
const KEEP_FOR: Duration = Duration::from_secs(60);
/// Most stanzas kept while no leader serves.
const KEEP_MAX: usize = 20_000;
/// Forwards in flight at once.
const IN_FLIGHT: usize = 1024;
/// How long a leader has to queue a forwarded stanza.
const ACK_TIMEOUT: Duration = Duration::from_secs(5);

pub fn encode(stanza: Stanza) -> Bytes {
    Bytes::from(String::from(&Element::from(stanza)))
}

pub fn decode(bytes: &[u8]) -> Option<Stanza> {
    let text = std::str::from_utf8(bytes).ok()?;
    let el: Element = text.parse().ok()?;
    Stanza::try_from(el).ok()
}

/// Routes the links' inbound work to `target` until the links end.
/// Unparseable stanzas are answered here, from this instance's outbox.
pub async fn dispatch(
    mut inbound: mpsc::Receiver<Job>,
    mut target: watch::Receiver<Target>,
    client: async_nats::Client,
    subject: String,
    answer_locally: mpsc::Sender<Stanza>,
) {
    let (failed_tx, mut failed_rx) = mpsc::channel::<Bytes>(IN_FLIGHT);
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut kept: VecDeque<(Instant, Bytes)> = VecDeque::new();
    let mut retry = tokio::time::interval(Duration::from_millis(250));
    let forward = |bytes: Bytes| {
        let (client, subject, failed) = (client.clone(), subject.clone(), failed_tx.clone());
        let slots = slots.clone();
        async move {
            let Ok(permit) = slots.acquire_owned().await else {
                return;
            };
            tokio::spawn(async move {
                let reply =
                    tokio::time::timeout(ACK_TIMEOUT, client.request(subject, bytes.clone())).await;
                if !matches!(reply, Ok(Ok(_))) {
                    let _ = failed.send(bytes).await;
                }
                drop(permit);
            });
        }
    };
    loop {
        tokio::select! {
            job = inbound.recv() => {
                let Some(job) = job else { break };
                let current = target.borrow().clone();
                match (job, current) {
                    (job, Target::Core(core)) => {
                        let sent = core.send(job).await;
                        if sent.is_err() {
                            break;
                        }
                    }
                    (Job::Xmpp(Inbound::Stanza(s)), Target::Forward) => forward(encode(s)).await,
                    (Job::Xmpp(Inbound::Stanza(s)), Target::Nobody) => {
                        keep(&mut kept, encode(s));
                    }
                    (Job::Xmpp(Inbound::Invalid(bad)), _) => {
                        if let Some(s) = crate::protocol::routing::invalid(bad) {
                            let _ = answer_locally.send(s).await;
                        }
                    }
                    // Link-up (relay rejoins) and timers concern a core only.
                    _ => {}
                }
            }
            Some(bytes) = failed_rx.recv() => keep(&mut kept, bytes),
            _ = retry.tick(), if !kept.is_empty() => {
                let current = target.borrow().clone();
                drain_kept(&mut kept, current, &forward).await;
            }
            changed = target.changed() => {
                if changed.is_err() {
                    break;
                }
                let current = target.borrow().clone();
                drain_kept(&mut kept, current, &forward).await;
            }
        }
    }
}

fn keep(kept: &mut VecDeque<(Instant, Bytes)>, bytes: Bytes) {
    let now = Instant::now();
    while kept
        .front()
        .is_some_and(|(at, _)| now.duration_since(*at) > KEEP_FOR)
        || kept.len() >= KEEP_MAX
    {
        kept.pop_front();
        tracing::warn!("a stanza waited too long for a leader; dropped");
    }
    kept.push_back((now, bytes));
}

async fn drain_kept<F, Fut>(kept: &mut VecDeque<(Instant, Bytes)>, target: Target, forward: &F)
where
    F: Fn(Bytes) -> Fut,
    Fut: Future<Output = ()>,
{
    match target {
        Target::Nobody => {}
        Target::Forward => {
            for (_, bytes) in kept.drain(..) {
                forward(bytes).await;
            }
        }
        Target::Core(core) => {
            for (_, bytes) in kept.drain(..) {
                if let Some(s) = decode(&bytes)
                    && core.send(Job::Xmpp(Inbound::Stanza(s))).await.is_err()
                {
                    return;
                }
            }
        }
    }
}

/// The leader's side: forwarded stanzas into the core, each acknowledged
/// once queued. Ends when the subscription or the core ends.
pub async fn intake(
    mut sub: async_nats::Subscriber,
    client: async_nats::Client,
    core: mpsc::Sender<Job>,
) {
    use futures::StreamExt;
    while let Some(msg) = sub.next().await {
        match decode(&msg.payload) {
            Some(s) => {
                if core.send(Job::Xmpp(Inbound::Stanza(s))).await.is_err() {
                    return;
                }
            }
            None => tracing::warn!("a forwarded stanza did not parse; dropped"),
        }
        if let Some(reply) = msg.reply {
            let _ = client.publish(reply, Bytes::new()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stanza_survives_the_trip() {
        let xml = "<iq xmlns='jabber:component:accept' type='get' id='a1' from='u@localhost/r' \
                   to='events.localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>";
        let el: Element = xml.parse().unwrap();
        let stanza = Stanza::try_from(el.clone()).unwrap();
        let back = decode(&encode(stanza)).unwrap();
        assert_eq!(Element::from(back), el);
        assert!(decode(b"<iq").is_none());
    }
}
