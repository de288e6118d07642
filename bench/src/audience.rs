//! Audience workload: a node with `audience` subscribed bare JIDs, set in
//! batches by the owner (XEP-0060 §8.8.2 `<subscriptions>` set, several
//! IQs pipelined), of which `subscribers` are online c2s clients that
//! subscribed themselves. Publishes one at a time and times each from the
//! publish to the last online subscriber's notification.

use crate::client::{Client, Error};
use crate::publish::{PUBSUB, Setup, create_node, expect_result, publish_body};
use crate::raw::bench_item;
use crate::stats::Samples;
use crate::xml;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::{Duration, Instant};

const OWNER: &str = "http://jabber.org/protocol/pubsub#owner";
/// Subscriptions per owner IQ, and owner IQs outstanding at once.
const BATCH: usize = 1000;
const PIPELINE: usize = 4;

pub async fn run(setup: &Setup, audience: usize, node: Option<&str>) -> Result<Value, Error> {
    let node = node.map_or_else(|| format!("audience-{}", setup.run_id), str::to_owned);
    let mut owner = Client::connect(&setup.c2s, &setup.domain, "bench-pub", "pass").await?;
    create_node(&mut owner, &setup.service, &node, None).await?;
    let t = Instant::now();
    let offline = audience.saturating_sub(setup.subscribers);
    let jids: Vec<String> = (0..offline)
        .map(|i| format!("aud{i}@{}", setup.domain))
        .collect();
    subscribe_all(&mut owner, &setup.service, &node, &jids).await?;
    let subscribe_secs = t.elapsed().as_secs_f64();
    let mut online = Vec::new();
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
        online.push(s);
    }
    let (mut last_ms, mut rtt) = (Samples::default(), Samples::default());
    let mut lost = 0usize;
    let start = Instant::now();
    for seq in 0..setup.items {
        let sent = Instant::now();
        let body = publish_body(&node, seq, 0, setup.payload_bytes);
        let r = (owner.iq_within(&setup.service, "set", &body, Duration::from_secs(600))).await;
        let r = r.map_err(|e| format!("publish {seq}: {e}"))?;
        expect_result(&r, "publish")?;
        rtt.push(sent.elapsed());
        let mut last = sent;
        for s in online.iter_mut() {
            match wait_item(s, seq).await {
                Some(at) => last = last.max(at),
                None => lost += 1,
            }
        }
        last_ms.push(last.duration_since(sent));
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(json!({
        "node": node, "audience": offline + setup.subscribers, "online": setup.subscribers,
        "offline_jids": "never registered: the server bounces their notifications",
        "subscribe_seconds": subscribe_secs,
        "subscriptions_per_s": offline as f64 / subscribe_secs.max(1e-9),
        "publishes": setup.items,
        "publishes_per_s": setup.items as f64 / secs.max(1e-9),
        "publish_rtt_ms": {"p50": rtt.quantile_ms(0.5), "p99": rtt.quantile_ms(0.99)},
        "last_notification_ms": {"p50": last_ms.quantile_ms(0.5), "p99": last_ms.quantile_ms(0.99),
                                 "max": last_ms.quantile_ms(1.0)},
        "lost": lost,
    }))
}

/// Owner subscription management in batches of [`BATCH`], [`PIPELINE`]
/// IQs in flight.
pub async fn subscribe_all(
    c: &mut Client,
    service: &str,
    node: &str,
    jids: &[String],
) -> Result<(), Error> {
    let mut pending = HashSet::new();
    let mut batches = jids.chunks(BATCH);
    let mut done = false;
    loop {
        while !done && pending.len() < PIPELINE {
            let Some(batch) = batches.next() else {
                done = true;
                break;
            };
            let subs: String = batch
                .iter()
                .map(|j| format!("<subscription jid='{j}' subscription='subscribed'/>"))
                .collect();
            let id = c.id();
            c.send(&format!(
                "<iq type='set' to='{service}' id='{id}'><pubsub xmlns='{OWNER}'><subscriptions node='{node}'>{subs}</subscriptions></pubsub></iq>"
            ))
            .await?;
            pending.insert(id);
        }
        if pending.is_empty() {
            return Ok(());
        }
        let s = match tokio::time::timeout(Duration::from_secs(300), c.inbox.recv()).await {
            Ok(Some((_, s))) => s,
            _ => return Err("owner subscriptions set: no answer in 300 s".into()),
        };
        if !s.starts_with("<iq") {
            continue;
        }
        if let Some(id) = xml::attr(&s, "id").filter(|id| pending.contains(*id)) {
            let id = id.to_owned();
            expect_result(&s, "owner subscriptions set")?;
            pending.remove(&id);
        }
    }
}

/// Arrival time of item `seq` at this client (None after 300 s).
async fn wait_item(c: &mut Client, seq: usize) -> Option<Instant> {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        let (at, s) = tokio::time::timeout(left, c.inbox.recv()).await.ok()??;
        if bench_item(&s).is_some_and(|(n, _)| n == seq) {
            return Some(at);
        }
    }
}
