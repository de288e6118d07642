//! Publish workload: one publisher keeping `inflight` publishes
//! outstanding, K subscribers counting what arrives.

use crate::client::{Client, Error};
use crate::stats::Samples;
use crate::xml;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub const PUBSUB: &str = "http://jabber.org/protocol/pubsub";

pub struct Setup {
    pub c2s: String,
    pub domain: String,
    pub service: String,
    pub items: usize,
    pub inflight: usize,
    pub subscribers: usize,
    pub payload_bytes: usize,
    pub run_id: String,
}

pub async fn create_node(
    c: &mut Client,
    service: &str,
    node: &str,
    max_items: Option<usize>,
) -> Result<(), Error> {
    let config = max_items.map_or(String::new(), |n| format!(
        "<configure><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>{PUBSUB}#node_config</value></field><field var='pubsub#max_items'><value>{n}</value></field></x></configure>"));
    let r = c
        .iq(
            service,
            "set",
            &format!("<pubsub xmlns='{PUBSUB}'><create node='{node}'/>{config}</pubsub>"),
        )
        .await?;
    expect_result(&r, "create node")
}

pub fn expect_result(reply: &str, what: &str) -> Result<(), Error> {
    if xml::attr(reply, "type") == Some("result") {
        Ok(())
    } else {
        Err(format!("{what} failed: {reply}").into())
    }
}

/// The `<publish>` IQ body for item `seq`, padded to `payload_bytes`.
pub fn publish_body(node: &str, seq: usize, sent_ns: u128, payload_bytes: usize) -> String {
    let head = format!("<e xmlns='urn:herald:bench' s='{seq}' t='{sent_ns}'>");
    let pad = payload_bytes.saturating_sub(head.len() + 4);
    format!(
        "<pubsub xmlns='{PUBSUB}'><publish node='{node}'><item id='i{seq}'>{head}{}</e></item></publish></pubsub>",
        "x".repeat(pad)
    )
}

pub async fn run(setup: &Setup) -> Result<Value, Error> {
    let node = format!("bench-{}-{}", setup.run_id, setup.subscribers);
    let mut publisher = Client::connect(&setup.c2s, &setup.domain, "bench-pub", "pass").await?;
    create_node(&mut publisher, &setup.service, &node, None).await?;
    let mut subs = Vec::new();
    for i in 0..setup.subscribers {
        let mut s =
            Client::connect(&setup.c2s, &setup.domain, &format!("bench-sub{i}"), "pass").await?;
        let bare = s.jid.split('/').next().unwrap_or_default().to_owned();
        let r = s
            .iq(
                &setup.service,
                "set",
                &format!(
                    "<pubsub xmlns='{PUBSUB}'><subscribe node='{node}' jid='{bare}'/></pubsub>"
                ),
            )
            .await?;
        expect_result(&r, "subscribe")?;
        subs.push(s);
    }
    let start = Instant::now();
    let expected = setup.items;
    let counters: Vec<_> = subs
        .into_iter()
        .map(|s| tokio::spawn(count_notifications(s, start, expected)))
        .collect();
    let (acked, rtt, published_at) = publish_all(&mut publisher, setup, &node, start).await?;
    let publish_secs = published_at.duration_since(start).as_secs_f64();
    let mut e2e = Samples::default();
    let (mut delivered, mut dups, mut last_arrival) = (0usize, 0usize, start);
    for c in counters {
        let r = c.await??;
        delivered += r.unique;
        dups += r.duplicates;
        last_arrival = last_arrival.max(r.last_arrival);
        e2e.extend(r.e2e);
    }
    let mut rtt = rtt;
    let notify_secs = last_arrival.duration_since(start).as_secs_f64().max(1e-9);
    Ok(json!({
        "node": node, "subscribers": setup.subscribers, "items": setup.items, "inflight": setup.inflight,
        "acked": acked,
        "items_per_s": acked as f64 / publish_secs.max(1e-9),
        "notifications_per_s": delivered as f64 / notify_secs,
        "publish_rtt_ms": {"p50": rtt.quantile_ms(0.5), "p99": rtt.quantile_ms(0.99)},
        "end_to_end_ms": {"p50": e2e.quantile_ms(0.5), "p99": e2e.quantile_ms(0.99)},
        "delivered": delivered,
        "lost": (setup.items * setup.subscribers).saturating_sub(delivered),
        "duplicates": dups,
    }))
}

/// Keeps `inflight` publishes outstanding until all are acknowledged.
async fn publish_all(
    c: &mut Client,
    setup: &Setup,
    node: &str,
    start: Instant,
) -> Result<(usize, Samples, Instant), Error> {
    let mut pending: HashMap<String, Instant> = HashMap::new();
    let (mut next, mut acked, mut rtt) = (0usize, 0usize, Samples::default());
    let mut last = start;
    while acked < setup.items {
        while next < setup.items && pending.len() < setup.inflight {
            let id = c.id();
            let sent = Instant::now();
            let body = publish_body(
                node,
                next,
                sent.duration_since(start).as_nanos(),
                setup.payload_bytes,
            );
            c.queue(&format!(
                "<iq type='set' to='{}' id='{id}'>{body}</iq>",
                setup.service
            ))
            .await?;
            pending.insert(id, sent);
            next += 1;
        }
        c.flush().await?;
        let (at, s) = match tokio::time::timeout(Duration::from_secs(30), c.inbox.recv()).await {
            Ok(Some(x)) => x,
            _ => return Err(format!("publisher stalled after {acked} acks").into()),
        };
        if !s.starts_with("<iq") {
            continue;
        }
        let Some(sent) = xml::attr(&s, "id").and_then(|id| pending.remove(id)) else {
            continue;
        };
        if xml::attr(&s, "type") != Some("result") {
            return Err(format!("publish failed: {s}").into());
        }
        rtt.push(at.duration_since(sent));
        acked += 1;
        last = at;
    }
    Ok((acked, rtt, last))
}

struct Received {
    unique: usize,
    duplicates: usize,
    last_arrival: Instant,
    e2e: Samples,
}

/// Counts distinct items per subscriber; stops when all arrived or after
/// 5 s of silence (what is missing then counts as lost).
async fn count_notifications(
    mut c: Client,
    start: Instant,
    expected: usize,
) -> Result<Received, Error> {
    let mut seen = vec![false; expected];
    let mut r = Received {
        unique: 0,
        duplicates: 0,
        last_arrival: start,
        e2e: Samples::default(),
    };
    while r.unique < expected {
        let (at, s) = match tokio::time::timeout(Duration::from_secs(5), c.inbox.recv()).await {
            Ok(Some(x)) => x,
            _ => break,
        };
        if !s.starts_with("<message") {
            continue;
        }
        let Some(e) = xml::element(&s, "e") else {
            continue;
        };
        let (Some(seq), Some(t)) = (xml::attr(e, "s"), xml::attr(e, "t")) else {
            continue;
        };
        let (Ok(seq), Ok(t)) = (seq.parse::<usize>(), t.parse::<u64>()) else {
            continue;
        };
        match seen.get_mut(seq) {
            Some(flag) if !*flag => {
                *flag = true;
                r.unique += 1;
                r.last_arrival = at;
                r.e2e.push(
                    at.duration_since(start)
                        .saturating_sub(Duration::from_nanos(t)),
                );
            }
            Some(_) => r.duplicates += 1,
            None => {}
        }
    }
    Ok(r)
}
