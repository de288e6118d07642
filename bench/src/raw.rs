//! Raw routing limit: a bare XEP-0114 component connection sends
//! pre-rendered pubsub-event notifications to K online c2s subscribers and
//! nothing else, once one stanza per recipient and once through XEP-0033
//! multicast (bcc batches). No pubsub logic at all: what the receivers
//! count per second is what ejabberd itself can route to them.

use crate::client::{Client, Error};
use crate::stats::Samples;
use crate::xml;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;

pub struct RawSetup {
    pub c2s: String,
    pub domain: String,
    pub component_addr: String,
    pub component_jid: String,
    pub secret: String,
    pub multicast_jid: String,
    pub multicast_batch: usize,
    pub items: usize,
    pub subscribers: usize,
    pub payload_bytes: usize,
}

pub async fn run(setup: &RawSetup) -> Result<Value, Error> {
    let mut subs = Vec::new();
    for i in 0..setup.subscribers {
        subs.push(
            Client::connect(&setup.c2s, &setup.domain, &format!("bench-sub{i}"), "pass").await?,
        );
    }
    let jids: Vec<String> = subs
        .iter()
        .map(|s| s.jid.split('/').next().unwrap_or_default().to_owned())
        .collect();
    let mut per = send_and_count(setup, &mut subs, &jids, 0, Mode::PerRecipient).await?;
    let mut multi = send_and_count(setup, &mut subs, &jids, setup.items, Mode::Multicast).await?;
    let best = per.notifications_per_s.max(multi.notifications_per_s);
    Ok(json!({
        "subscribers": setup.subscribers, "items": setup.items,
        "component": setup.component_jid,
        "per_recipient": per.json(),
        "multicast": multi.json(),
        "multicast_batch": setup.multicast_batch,
        "best_notifications_per_s": best,
    }))
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    PerRecipient,
    Multicast,
}

struct Outcome {
    stanzas_sent: usize,
    delivered: usize,
    duplicates: usize,
    send_secs: f64,
    notifications_per_s: f64,
    e2e: Samples,
}

impl Outcome {
    fn json(&mut self) -> Value {
        json!({
            "stanzas_sent": self.stanzas_sent, "delivered": self.delivered,
            "duplicates": self.duplicates, "send_seconds": self.send_secs,
            "notifications_per_s": self.notifications_per_s,
            "end_to_end_ms": {"p50": self.e2e.quantile_ms(0.5), "p99": self.e2e.quantile_ms(0.99)},
        })
    }
}

/// Items `first..first+items` (distinct sequence numbers per mode, so a
/// late stanza of one mode never counts in the other).
async fn send_and_count(
    setup: &RawSetup,
    subs: &mut Vec<Client>,
    jids: &[String],
    first: usize,
    mode: Mode,
) -> Result<Outcome, Error> {
    let mut conn =
        Component::connect(&setup.component_addr, &setup.component_jid, &setup.secret).await?;
    let start = Instant::now();
    let counters: Vec<_> = std::mem::take(subs)
        .into_iter()
        .map(|c| tokio::spawn(count(c, start, first, setup.items)))
        .collect();
    let mut stanzas = 0usize;
    let from = &setup.component_jid;
    for seq in first..first + setup.items {
        let t = start.elapsed().as_nanos();
        let head = format!("<e xmlns='urn:herald:bench' s='{seq}' t='{t}'>");
        let pad = "x".repeat(setup.payload_bytes.saturating_sub(head.len() + 4));
        let event = format!(
            "<event xmlns='http://jabber.org/protocol/pubsub#event'><items node='raw'><item id='i{seq}'>{head}{pad}</e></item></items></event>"
        );
        match mode {
            Mode::PerRecipient => {
                for jid in jids {
                    conn.queue(&format!(
                        "<message from='{from}' to='{jid}' type='headline' id='r{seq}'>{event}</message>"
                    ))
                    .await?;
                    stanzas += 1;
                }
            }
            Mode::Multicast => {
                for batch in jids.chunks(setup.multicast_batch.max(1)) {
                    let bcc: String = batch
                        .iter()
                        .map(|j| format!("<address type='bcc' jid='{j}'/>"))
                        .collect();
                    conn.queue(&format!(
                        "<message from='{from}' to='{}' type='headline' id='m{seq}'><addresses xmlns='http://jabber.org/protocol/address'>{bcc}</addresses>{event}</message>",
                        setup.multicast_jid
                    ))
                    .await?;
                    stanzas += 1;
                }
            }
        }
        conn.flush().await?;
    }
    let send_secs = start.elapsed().as_secs_f64();
    let (mut delivered, mut duplicates, mut last, mut e2e) = (0, 0, start, Samples::default());
    for c in counters {
        let (client, r) = c.await??;
        delivered += r.unique;
        duplicates += r.duplicates;
        last = last.max(r.last_arrival);
        e2e.extend(r.e2e);
        subs.push(client);
    }
    let secs = last.duration_since(start).as_secs_f64().max(1e-9);
    conn.close().await;
    Ok(Outcome {
        stanzas_sent: stanzas,
        delivered,
        duplicates,
        send_secs,
        notifications_per_s: delivered as f64 / secs,
        e2e,
    })
}

pub struct Received {
    pub unique: usize,
    pub duplicates: usize,
    pub last_arrival: Instant,
    pub e2e: Samples,
}

/// Counts bench items `first..first+n` arriving at one client; gives the
/// client back. Stops when all arrived or after 5 s of silence.
async fn count(
    mut c: Client,
    start: Instant,
    first: usize,
    n: usize,
) -> Result<(Client, Received), Error> {
    let mut seen = vec![false; n];
    let mut r = Received {
        unique: 0,
        duplicates: 0,
        last_arrival: start,
        e2e: Samples::default(),
    };
    while r.unique < n {
        let (at, s) = match tokio::time::timeout(Duration::from_secs(5), c.inbox.recv()).await {
            Ok(Some(x)) => x,
            _ => break,
        };
        let Some((seq, t)) = bench_item(&s) else {
            continue;
        };
        let Some(flag) = seq.checked_sub(first).and_then(|i| seen.get_mut(i)) else {
            continue;
        };
        if *flag {
            r.duplicates += 1;
            continue;
        }
        *flag = true;
        r.unique += 1;
        r.last_arrival = at;
        r.e2e.push(
            at.duration_since(start)
                .saturating_sub(Duration::from_nanos(t)),
        );
    }
    Ok((c, r))
}

/// (sequence number, send time in ns since the run's start) of a bench
/// notification message.
pub fn bench_item(s: &str) -> Option<(usize, u64)> {
    if !s.starts_with("<message") {
        return None;
    }
    let e = xml::element(s, "e")?;
    let seq = xml::attr(e, "s")?.parse().ok()?;
    let t = xml::attr(e, "t")?.parse().ok()?;
    Some((seq, t))
}

/// A bare XEP-0114 component connection (jabber:component:accept).
struct Component {
    writer: BufWriter<tokio::net::tcp::OwnedWriteHalf>,
    drain: tokio::task::JoinHandle<()>,
}

impl Component {
    /// XEP-0114 §3: stream header, then `<handshake>` with the lowercase
    /// hex SHA-1 of the server's stream id followed by the secret.
    async fn connect(addr: &str, jid: &str, secret: &str) -> Result<Component, Error> {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let (mut read, write) = tcp.into_split();
        let mut writer = BufWriter::new(write);
        writer
            .write_all(format!("<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='{jid}'>").as_bytes())
            .await?;
        writer.flush().await?;
        let mut got = Vec::new();
        let mut buf = vec![0u8; 4096];
        let id = loop {
            let n = timed_read(&mut read, &mut buf).await?;
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got);
            if let Some(at) = text.find("<stream:stream")
                && let Some(end) = text[at..].find('>')
            {
                let header = &text[at..at + end];
                break xml::attr(header, "id")
                    .ok_or_else(|| format!("no stream id in {header}"))?
                    .to_owned();
            }
        };
        let digest = hex(&sha1(format!("{id}{secret}").as_bytes()));
        writer
            .write_all(format!("<handshake>{digest}</handshake>").as_bytes())
            .await?;
        writer.flush().await?;
        got.clear();
        loop {
            let n = timed_read(&mut read, &mut buf).await?;
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got);
            if text.contains("<handshake/>") || text.contains("<handshake></handshake>") {
                break;
            }
            if text.contains("<stream:error") {
                return Err(format!("component handshake refused: {text}").into());
            }
        }
        // Whatever comes back (error bounces) is read and dropped, so the
        // server never blocks writing to us.
        let drain = tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n) = read.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
        });
        Ok(Component { writer, drain })
    }

    async fn queue(&mut self, data: &str) -> Result<(), Error> {
        self.writer.write_all(data.as_bytes()).await?;
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), Error> {
        self.writer.flush().await?;
        Ok(())
    }

    async fn close(mut self) {
        let _ = self.writer.write_all(b"</stream:stream>").await;
        let _ = self.writer.flush().await;
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut self.drain).await;
        self.drain.abort();
    }
}

async fn timed_read(
    read: &mut tokio::net::tcp::OwnedReadHalf,
    buf: &mut [u8],
) -> Result<usize, Error> {
    match tokio::time::timeout(Duration::from_secs(10), read.read(buf)).await {
        Ok(Ok(0)) => Err("component stream closed during the handshake".into()),
        Ok(Ok(n)) => Ok(n),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err("component handshake timed out".into()),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-1 (FIPS 180-4), only for the XEP-0114 handshake.
fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A827999),
                20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 20];
    for (i, x) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&x.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn sha1_matches_fips_vectors() {
        assert_eq!(
            super::hex(&super::sha1(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            super::hex(&super::sha1(b"")),
            "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
        let long = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        assert_eq!(
            super::hex(&super::sha1(long)),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
    }
}
