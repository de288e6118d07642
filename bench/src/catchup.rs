//! Catch-up workload: N items are published while the subscriber is away;
//! it then pages through them, `page` items per request (XEP-0059 RSM,
//! following each reply's `<last/>` cursor).

use crate::client::{Client, Error};
use crate::publish::{PUBSUB, Setup, create_node, expect_result, publish_body};
use crate::xml;
use serde_json::{Value, json};
use std::time::Instant;

const RSM: &str = "http://jabber.org/protocol/rsm";

pub async fn run(setup: &Setup, page: usize) -> Result<Value, Error> {
    let node = format!("catchup-{}", setup.run_id);
    let mut publisher = Client::connect(&setup.c2s, &setup.domain, "bench-pub", "pass").await?;
    create_node(&mut publisher, &setup.service, &node, Some(setup.items)).await?;
    let start = Instant::now();
    for seq in 0..setup.items {
        let body = publish_body(&node, seq, 0, setup.payload_bytes);
        let r = publisher.iq(&setup.service, "set", &body).await?;
        expect_result(&r, "publish")?;
    }
    let publish_secs = start.elapsed().as_secs_f64();
    let mut reader = Client::connect(&setup.c2s, &setup.domain, "bench-sub0", "pass").await?;
    let start = Instant::now();
    let (fetched, pages) = fetch_all(&mut reader, &setup.service, &node, page, setup.items).await?;
    let secs = start.elapsed().as_secs_f64();
    Ok(json!({
        "node": node, "items": setup.items, "page": page, "pages": pages,
        "fetched": fetched, "seconds": secs, "items_per_s": fetched as f64 / secs.max(1e-9),
        "publish_seconds_one_at_a_time": publish_secs,
    }))
}

async fn fetch_all(
    c: &mut Client,
    service: &str,
    node: &str,
    page: usize,
    want: usize,
) -> Result<(usize, usize), Error> {
    let (mut fetched, mut pages, mut after) = (0usize, 0usize, None::<String>);
    while fetched < want {
        let cursor = after.as_deref().map_or(String::new(), |a| {
            format!("<after>{}</after>", xml::escape(a))
        });
        let q = format!(
            "<pubsub xmlns='{PUBSUB}'><items node='{node}'/><set xmlns='{RSM}'><max>{page}</max>{cursor}</set></pubsub>"
        );
        let r = c.iq(service, "get", &q).await?;
        expect_result(&r, "items page")?;
        let n = r.matches("<item ").count();
        pages += 1;
        fetched += n;
        let last = xml::element(&r, "last")
            .and_then(|l| l.split('>').nth(1))
            .and_then(|l| l.split('<').next());
        match last {
            Some(l) if n > 0 => after = Some(unescape(l)),
            _ => break,
        }
    }
    Ok((fetched, pages))
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&apos;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}
