//! A raw c2s client: plain TCP on loopback, SASL PLAIN, resource binding.
//! A reader task splits the stream into stanzas and stamps their arrival.

use crate::xml::{self, Splitter};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

pub struct Client {
    pub jid: String,
    writer: BufWriter<OwnedWriteHalf>,
    pub inbox: mpsc::UnboundedReceiver<(Instant, String)>,
    next_id: u64,
}

impl Client {
    /// Registers (XEP-0077, "conflict" means it exists) then logs in.
    pub async fn connect(
        addr: &str,
        domain: &str,
        user: &str,
        password: &str,
    ) -> Result<Client, Error> {
        register(addr, domain, user, password).await?;
        let mut c = open(addr, domain).await?;
        c.features().await?;
        let plain = base64(format!("\0{user}\0{password}").as_bytes());
        c.send(&format!(
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{plain}</auth>"
        ))
        .await?;
        let answer = c.recv().await?;
        if !answer.starts_with("<success") {
            return Err(format!("login of {user} failed: {answer}").into());
        }
        c.send(&header(domain)).await?;
        c.features().await?;
        c.send("<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>bench</resource></bind></iq>").await?;
        let bound = c.recv().await?;
        let jid = xml::element(&bound, "jid")
            .and_then(|j| j.split('>').nth(1))
            .and_then(|j| j.split('<').next());
        c.jid = jid.unwrap_or_default().to_owned();
        c.send("<presence/>").await?;
        Ok(c)
    }

    pub async fn send(&mut self, data: &str) -> Result<(), Error> {
        self.writer.write_all(data.as_bytes()).await?;
        self.writer.flush().await?;
        Ok(())
    }

    /// Queues without flushing: call `flush` after a burst.
    pub async fn queue(&mut self, data: &str) -> Result<(), Error> {
        self.writer.write_all(data.as_bytes()).await?;
        Ok(())
    }

    pub async fn flush(&mut self) -> Result<(), Error> {
        self.writer.flush().await?;
        Ok(())
    }

    pub async fn recv(&mut self) -> Result<String, Error> {
        match tokio::time::timeout(std::time::Duration::from_secs(30), self.inbox.recv()).await {
            Ok(Some((_, s))) => Ok(s),
            Ok(None) => Err("stream closed".into()),
            Err(_) => Err("timed out waiting for a stanza".into()),
        }
    }

    pub fn id(&mut self) -> String {
        self.next_id += 1;
        format!("b{}", self.next_id)
    }

    /// Sends an IQ and waits for its answer, dropping other stanzas.
    pub async fn iq(&mut self, to: &str, type_: &str, body: &str) -> Result<String, Error> {
        self.iq_within(to, type_, body, std::time::Duration::from_secs(30))
            .await
    }

    /// [`Client::iq`] waiting up to `limit` for the answer.
    pub async fn iq_within(
        &mut self,
        to: &str,
        type_: &str,
        body: &str,
        limit: std::time::Duration,
    ) -> Result<String, Error> {
        let id = self.id();
        self.send(&format!(
            "<iq type='{type_}' to='{to}' id='{id}'>{body}</iq>"
        ))
        .await?;
        let deadline = std::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let s = match tokio::time::timeout(left, self.inbox.recv()).await {
                Ok(Some((_, s))) => s,
                Ok(None) => return Err("stream closed".into()),
                Err(_) => return Err(format!("no answer to IQ {id} in {limit:?}").into()),
            };
            if s.starts_with("<iq") && xml::attr(&s, "id") == Some(&id) {
                return Ok(s);
            }
        }
    }

    async fn features(&mut self) -> Result<String, Error> {
        loop {
            let s = self.recv().await?;
            if s.starts_with("<stream:features") {
                return Ok(s);
            }
        }
    }
}

async fn open(addr: &str, domain: &str) -> Result<Client, Error> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let (mut read, write) = tcp.into_split();
    let (tx, inbox) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut splitter = Splitter::default();
        let mut buf = vec![0u8; 64 * 1024];
        let mut out = Vec::new();
        while let Ok(n) = read.read(&mut buf).await {
            if n == 0 {
                break;
            }
            let now = Instant::now();
            splitter.feed(&buf[..n], &mut out);
            for s in out.drain(..) {
                if tx.send((now, s)).is_err() {
                    return;
                }
            }
        }
    });
    let mut c = Client {
        jid: String::new(),
        writer: BufWriter::new(write),
        inbox,
        next_id: 0,
    };
    c.send(&header(domain)).await?;
    Ok(c)
}

async fn register(addr: &str, domain: &str, user: &str, password: &str) -> Result<(), Error> {
    let mut c = open(addr, domain).await?;
    c.features().await?;
    let reply = c
        .iq(domain, "set", &format!("<query xmlns='jabber:iq:register'><username>{user}</username><password>{password}</password></query>"))
        .await?;
    if xml::attr(&reply, "type") == Some("result") || reply.contains("<conflict") {
        return Ok(());
    }
    Err(format!("registration of {user} failed: {reply}").into())
}

fn header(domain: &str) -> String {
    format!(
        "<?xml version='1.0'?><stream:stream to='{domain}' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
    )
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(super::base64(b"\0a\0b"), "AGEAYg==");
        assert_eq!(super::base64(b"foobar"), "Zm9vYmFy");
    }
}
