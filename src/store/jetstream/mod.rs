//! [`Store`] on a NATS JetStream cluster: no durable state on this
//! machine, every write replicated (`docs/architecture.md`, "Contracts";
//! the design and what an acknowledgement guarantees are argued in
//! `xep-notes/decisions.md`, "Storage on NATS JetStream").
//!
//! Layout (names in `names.rs`): nodes are spread over `partitions`
//! replicated streams; an item is the one message of its own subject
//! (`max_msgs_per_subject = 1`: re-publishing replaces it and moves it to
//! the stream's end), a history entry one message of a subject of its own;
//! node metadata, consumer-group records and idempotency records live in
//! KV buckets. Every message body starts with the core's per-node seq.
//!
//! Within a node, the stream order of its live item messages is the order
//! of their seqs (both grow with each publication), so "items after seq S"
//! is a binary search over stream sequences followed by next-by-subject
//! reads (`log.rs`).
//!
//! Group commit: publishes are pipelined (sent without waiting for the
//! ack) and [`Store::flush`] awaits every ack, so "flushed" means "every
//! write so far is held by a quorum of replicas". A lookup by item ID
//! before the flush is answered from the writes still in flight; any other
//! read, and any write that is not a publish (purge, KV update), first
//! waits for those acks, so the store always reads its own writes.
//!
//! The `Store` trait is synchronous because the core runs on its own OS
//! thread; each call enters the async client with `Handle::block_on` on a
//! tokio runtime whose worker threads drive the NATS connection. That is
//! only valid outside async tasks (the core thread; startup loads inside
//! `block_in_place`).

mod fanout;
mod log;
mod names;
mod retry;
pub use fanout::{AckedMarks, LoggedItem, PartitionLog};
#[cfg(test)]
pub mod testing;
#[cfg(test)]
mod tests;

use super::keys;
use super::{
    ArchiveEntry, IdempotencyRecord, NodeId, QueueKey, QueueWrite, Store, StoreError, StoreResult,
    StoredItem,
};
use async_nats::HeaderMap;
use async_nats::jetstream::{self, context::PublishAckFuture, kv, stream};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, future::join_all};
use log::Entry;
use names::Names;
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::runtime::Handle;

use retry::{ATTEMPT, HEAVY_ATTEMPT, Retry, retrying};

/// How Herald authenticates to NATS, from the environment.
#[derive(Clone, PartialEq, Eq)]
pub enum NatsCredentials {
    None,
    UserPassword { user: String, password: String },
    Token(String),
}

impl std::fmt::Debug for NatsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NatsCredentials::None => "None",
            NatsCredentials::UserPassword { .. } => "UserPassword(..)",
            NatsCredentials::Token(_) => "Token(..)",
        })
    }
}

/// What [`JetStreamStore::connect`] needs (from `[storage.jetstream]`).
#[derive(Debug, Clone)]
pub struct JetStreamSettings {
    pub servers: Vec<String>,
    pub replicas: usize,
    pub partitions: u32,
    pub stream_prefix: String,
    pub credentials: NatsCredentials,
}

pub struct JetStreamStore {
    handle: Handle,
    js: jetstream::Context,
    names: Names,
    /// One stream per partition, indexed by partition.
    streams: Vec<stream::Stream>,
    nodes: kv::Store,
    queues: kv::Store,
    idem: kv::Store,
    webhooks: kv::Store,
    /// Interior mutability: reads (`&self`) wait for pending acks too.
    state: RefCell<State>,
    /// Makes `Nats-Msg-Id`s unique across instances and restarts.
    nonce: String,
    reclaimer: Reclaimer,
    /// Acknowledged stream sequences per partition (`fanout.rs`).
    acked: std::sync::Arc<AckedMarks>,
}

/// Writes sent but not yet acknowledged, and what they change.
#[derive(Default)]
struct State {
    pending: Vec<Pending>,
    /// Items as known since the last settle, by (node, ID): written here
    /// (`Some`), or read from the cluster (`Some` or `None`: absent). This
    /// store is the only writer (one core; in a cluster, the lease
    /// holder's), so a read stays true until its own writes, which update
    /// it, or its removals, which settle first and so clear it. It saves
    /// the second lookup of an item in one batch (an HTTP ingest
    /// classifies each item, then publishes it: one NATS request less per
    /// item; docs/scaling.md).
    items: HashMap<(NodeId, String), Option<StoredItem>>,
    idem: HashMap<String, IdempotencyRecord>,
    /// Last known revision of each node's metadata (updates are by
    /// revision, so a concurrent writer makes ours fail, not vanish).
    revisions: HashMap<String, u64>,
    next_msg_id: u64,
}

struct Pending {
    resend: Resend,
    ack: PublishAckFuture,
}

/// A publish as sent, to send again while its ack is missing.
struct Resend {
    subject: String,
    headers: HeaderMap,
    payload: Bytes,
    /// A delete marker, purged once acknowledged (see [`Reclaimer`]).
    marker: bool,
}

/// Purges acknowledged delete markers of removed queue records in the
/// background: consumer-group entries are removed all the time, and a
/// marker left per removed entry would grow the bucket without bound. Each
/// purge is bounded by the marker's own stream sequence, so a later write
/// of the same key survives; the core never waits for it. A marker not
/// purged (queue full, crash) is harmless: it reads as "no record".
type Reclaimer = tokio::sync::mpsc::Sender<(String, u64)>;
/// Few purges at a time: reclaiming is housekeeping and must leave the
/// cluster's capacity to the writes the core waits for.
const RECLAIM_IN_FLIGHT: usize = 4;

async fn reclaim(stream: stream::Stream<()>, mut rx: tokio::sync::mpsc::Receiver<(String, u64)>) {
    let stream = &stream;
    let mut purges = futures::stream::FuturesUnordered::new();
    loop {
        tokio::select! {
            next = rx.recv(), if purges.len() < RECLAIM_IN_FLIGHT => match next {
                Some((subject, seq)) => purges.push(async move {
                    if let Err(e) = stream.purge().filter(subject).sequence(seq + 1).await {
                        tracing::debug!(error = %e, "delete marker not purged");
                    }
                }),
                None => break,
            },
            Some(()) = purges.next(), if !purges.is_empty() => {}
        }
    }
    while purges.next().await.is_some() {}
}

fn io(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Io(format!("jetstream {what}: {e}"))
}

/// A NATS connection with Herald's timeouts and credentials.
pub async fn connect_client(
    servers: &[String],
    credentials: &NatsCredentials,
) -> StoreResult<async_nats::Client> {
    let mut options = async_nats::ConnectOptions::new()
        .connection_timeout(retry::CONNECT)
        .request_timeout(Some(HEAVY_ATTEMPT))
        .name("herald");
    options = match credentials.clone() {
        NatsCredentials::None => options,
        NatsCredentials::UserPassword { user, password } => {
            options.user_and_password(user, password)
        }
        NatsCredentials::Token(t) => options.token(t),
    };
    options.connect(servers).await.map_err(|e| io("connect", e))
}

/// Opens (creating if missing) a KV bucket, as a plain stream of the KV
/// layout (history 1; no direct gets, so reads go to the leader):
/// async-nats 0.49's create_key_value cannot read nats-server 2.9's
/// answer. `max_age` makes entries expire (leases).
pub async fn open_bucket(
    js: &jetstream::Context,
    name: String,
    replicas: usize,
    max_age: Option<Duration>,
) -> StoreResult<kv::Store> {
    let config = stream::Config {
        name: names::kv_stream(&name),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: 1,
        num_replicas: replicas,
        storage: stream::StorageType::File,
        allow_rollup: true,
        deny_delete: true,
        discard: stream::DiscardPolicy::New,
        max_age: max_age.unwrap_or_default(),
        ..Default::default()
    };
    retrying("bucket create", HEAVY_ATTEMPT, || {
        js.get_or_create_stream(config.clone())
    })
    .await?;
    retrying("bucket", HEAVY_ATTEMPT, || js.get_key_value(name.clone())).await
}

impl JetStreamStore {
    /// Connects and creates the streams and buckets that are missing.
    /// `handle` is the runtime that will run the client (see module doc).
    pub async fn connect(settings: JetStreamSettings, handle: Handle) -> StoreResult<Self> {
        let client = connect_client(&settings.servers, &settings.credentials).await?;
        let js = jetstream::ContextBuilder::new()
            // Bounds each wait for an ack (`settle`, KV writes).
            .timeout(ATTEMPT)
            .build(client);
        let names = Names {
            prefix: settings.stream_prefix,
            partitions: settings.partitions,
        };
        let mut streams = Vec::new();
        for p in 0..names.partitions {
            let config = stream::Config {
                name: names.stream(p),
                subjects: vec![names.stream_subjects(p)],
                max_messages_per_subject: 1,
                num_replicas: settings.replicas,
                storage: stream::StorageType::File,
                ..Default::default()
            };
            // Retried: a cluster that just started has no meta leader yet.
            let s = retrying("stream create", HEAVY_ATTEMPT, || {
                js.get_or_create_stream(config.clone())
            })
            .await?;
            streams.push(s);
        }
        let replicas = settings.replicas;
        let bucket = |name: String| open_bucket(&js, name, replicas, None);
        let nodes = bucket(names.nodes_bucket()).await?;
        let queues = bucket(names.queues_bucket()).await?;
        let idem = bucket(names.idem_bucket()).await?;
        let webhooks = bucket(names.webhooks_bucket()).await?;
        let (reclaimer, rx) = tokio::sync::mpsc::channel(65_536);
        let queue_stream = js
            .get_stream_no_info(names::kv_stream(&names.queues_bucket()))
            .await
            .map_err(|e| io("stream", e))?;
        handle.spawn(reclaim(queue_stream, rx));
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Ok(Self {
            handle,
            js,
            streams,
            nodes,
            queues,
            idem,
            webhooks,
            state: RefCell::new(State::default()),
            nonce: format!("{}-{nanos:x}", std::process::id()),
            reclaimer,
            acked: std::sync::Arc::new(AckedMarks::new(names.partitions)),
            names,
        })
    }

    /// Runs `fut` to completion on the client's runtime. Callers are
    /// outside any async task: the core thread, `spawn_blocking` or
    /// `block_in_place` (tokio panics otherwise, so only those call it).
    fn run<T>(&self, fut: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        self.handle.block_on(fut)
    }

    fn stream(&self, node: NodeId) -> &stream::Stream {
        // partition() < partitions == streams.len().
        &self.streams[self.names.partition(node) as usize]
    }

    /// Sends a publish without waiting for its ack (awaited in `settle`).
    async fn publish(
        &self,
        subject: String,
        headers: HeaderMap,
        payload: Bytes,
    ) -> StoreResult<()> {
        self.send(subject, headers, payload, false).await
    }

    async fn send(
        &self,
        subject: String,
        mut headers: HeaderMap,
        payload: Bytes,
        marker: bool,
    ) -> StoreResult<()> {
        let id = {
            let mut st = self.state.borrow_mut();
            st.next_msg_id += 1;
            format!("{}-{}", self.nonce, st.next_msg_id)
        };
        headers.insert("Nats-Msg-Id", id.as_str());
        let ack = self
            .js
            .publish_with_headers(subject.clone(), headers.clone(), payload.clone())
            .await
            .map_err(|e| io("publish", e))?;
        self.state.borrow_mut().pending.push(Pending {
            resend: Resend {
                subject,
                headers,
                payload,
                marker,
            },
            ack,
        });
        Ok(())
    }

    /// The partition streams as logs, for the cluster's fan-out handover.
    pub fn partition_log(&self) -> PartitionLog {
        PartitionLog {
            js: self.js.clone(),
            names: self.names.clone(),
            acked: self.acked.clone(),
        }
    }

    fn note_acked(&self, ack: &jetstream::publish::PublishAck) {
        if let Some(p) = fanout::partition_of_stream(&self.names, &ack.stream) {
            self.acked.raise(p, ack.sequence);
        }
    }

    /// Waits until every publish sent so far is acknowledged. A publish
    /// whose ack failed or did not come within one [`ATTEMPT`] (a leader
    /// election, a lost connection) is sent again with its `Nats-Msg-Id`,
    /// and so is every later one, in order; all of them at once, then
    /// their acks awaited in order, until each is acknowledged. A resend
    /// of a publish that did land is answered as a duplicate with the
    /// stream sequence of the stored copy, so it counts as done.
    async fn settle(&self) -> StoreResult<()> {
        let pending = std::mem::take(&mut self.state.borrow_mut().pending);
        let mut unsure: Vec<Resend> = Vec::new();
        let mut markers = Vec::new();
        let mut failure = None;
        for p in pending {
            if !unsure.is_empty() {
                unsure.push(p.resend);
                continue;
            }
            let awaited = Instant::now();
            match p.ack.await {
                Ok(ack) => self.note_ack(&p.resend, &ack, &mut markers),
                Err(e) => {
                    failure = Some((awaited, e.to_string()));
                    unsure.push(p.resend);
                }
            }
        }
        let mut retry = Retry::starting(Instant::now(), ATTEMPT);
        while let Some((round_started, err)) = failure.take() {
            if unsure.is_empty() {
                break;
            }
            tracing::warn!(error = %err, writes = unsure.len(), "JetStream ack failed; resending");
            retry.pause(round_started, "publish", &err).await?;
            let round_started = Instant::now();
            let mut acks = Vec::with_capacity(unsure.len());
            for r in &unsure {
                let sent = self
                    .js
                    .publish_with_headers(r.subject.clone(), r.headers.clone(), r.payload.clone())
                    .await;
                let Ok(ack) = sent else { break };
                acks.push(ack);
            }
            let mut done = 0;
            for ack in acks {
                match ack.await {
                    Ok(ack) => {
                        self.note_ack(&unsure[done], &ack, &mut markers);
                        done += 1;
                    }
                    Err(e) => {
                        failure = Some((round_started, e.to_string()));
                        break;
                    }
                }
            }
            unsure.drain(..done);
            if !unsure.is_empty() && failure.is_none() {
                failure = Some((round_started, "publish not sent".into()));
            }
        }
        for m in markers {
            // Full: the marker stays, which is harmless.
            let _ = self.reclaimer.try_send(m);
        }
        let mut st = self.state.borrow_mut();
        st.items.clear();
        st.idem.clear();
        Ok(())
    }

    fn note_ack(
        &self,
        sent: &Resend,
        ack: &jetstream::publish::PublishAck,
        markers: &mut Vec<(String, u64)>,
    ) {
        if sent.marker {
            markers.push((sent.subject.clone(), ack.sequence));
        } else {
            self.note_acked(ack);
        }
    }

    /// Writes a node's metadata by revision (create if new). Retried
    /// through a leader election; an attempt whose ack was lost (or came
    /// after its [`ATTEMPT`]) is found by reading the entry back: the
    /// retry of a write that landed meets a newer revision, which holds
    /// our value, and counts as done. Another writer's revision is an
    /// error.
    async fn put_meta(&self, name: &str, meta: &[u8]) -> StoreResult<u64> {
        let key = names::name_key(name);
        let known = self.state.borrow().revisions.get(name).copied();
        let mut retry = Retry::starting(Instant::now(), ATTEMPT);
        loop {
            let started = Instant::now();
            let value = Bytes::copy_from_slice(meta);
            let attempt = match known {
                Some(rev) => self
                    .nodes
                    .update(&key, value, rev)
                    .await
                    .map_err(|e| e.to_string()),
                None => self
                    .nodes
                    .create(&key, value)
                    .await
                    .map_err(|e| e.to_string()),
            };
            let err = match attempt {
                Ok(rev) => return Ok(rev),
                Err(e) => e,
            };
            let read = tokio::time::timeout(ATTEMPT, self.nodes.entry(&key)).await;
            if let Ok(Ok(Some(entry))) = read {
                let put = entry.operation == kv::Operation::Put;
                if put && entry.value.as_ref() == meta {
                    return Ok(entry.revision);
                }
                let theirs = match known {
                    Some(rev) => entry.revision != rev,
                    None => put,
                };
                if theirs {
                    return Err(io(&format!("node {name:?} written by another writer"), err));
                }
            }
            retry
                .pause(started, &format!("node {name:?} write"), &err)
                .await?;
        }
    }
    /// The item as stored on the cluster (acknowledged writes only).
    async fn fetch_item(&self, node: NodeId, id: &str) -> StoreResult<Option<StoredItem>> {
        let subject = self.names.item(node, id);
        match log::last(self.stream(node), &subject).await? {
            Some(e) => decode_item(&e).map(Some),
            None => Ok(None),
        }
    }

    async fn item(&self, node: NodeId, id: &str) -> StoreResult<Option<StoredItem>> {
        let mine = self
            .state
            .borrow()
            .items
            .get(&(node, id.to_owned()))
            .cloned();
        if let Some(known) = mine {
            return Ok(known);
        }
        let found = self.fetch_item(node, id).await?;
        self.state
            .borrow_mut()
            .items
            .insert((node, id.to_owned()), found.clone());
        Ok(found)
    }

    async fn purge_filter(
        &self,
        node: NodeId,
        filter: String,
        below: Option<u64>,
    ) -> StoreResult<u64> {
        self.settle().await?;
        let done = retrying("purge", HEAVY_ATTEMPT, || {
            let purge = self.stream(node).purge().filter(filter.clone());
            async move {
                match below {
                    Some(seq) => purge.sequence(seq).await,
                    None => purge.await,
                }
            }
        })
        .await?;
        Ok(done.purged)
    }

    async fn group(
        &self,
        items: &[(NodeId, StoredItem)],
        archive: bool,
        links: &[(NodeId, ArchiveEntry)],
        record: Option<&IdempotencyRecord>,
    ) -> StoreResult<Vec<Option<u64>>> {
        // Current seqs, looked up concurrently (one round trip, not one
        // per item); writes still in flight answer first.
        let mut current: HashMap<(NodeId, String), Option<u64>> = HashMap::new();
        let mut missing = Vec::new();
        {
            let st = self.state.borrow();
            for (node, item) in items {
                let key = (*node, item.id.clone());
                if current.contains_key(&key) {
                    continue;
                }
                match st.items.get(&key) {
                    Some(known) => {
                        current.insert(key, known.as_ref().map(|i| i.seq));
                    }
                    None => {
                        current.insert(key.clone(), None);
                        missing.push(key);
                    }
                }
            }
        }
        let found = join_all(missing.iter().map(|(n, id)| self.fetch_item(*n, id))).await;
        for (key, item) in missing.into_iter().zip(found) {
            current.insert(key, item?.map(|i| i.seq));
        }
        let mut replaced = Vec::with_capacity(items.len());
        for (node, item) in items {
            let key = (*node, item.id.clone());
            replaced.push(current.insert(key.clone(), Some(item.seq)).flatten());
            let body = with_seq(item.seq, &keys::encode_item(item));
            self.publish(self.names.item(*node, &item.id), HeaderMap::new(), body)
                .await?;
            if archive {
                let body = with_seq(item.seq, &keys::encode_archived_item(item));
                self.publish(self.names.archive(*node, item.seq), HeaderMap::new(), body)
                    .await?;
            }
            self.state
                .borrow_mut()
                .items
                .insert(key, Some(item.clone()));
        }
        self.append_links(links).await?;
        if let Some(r) = record {
            // Last: the record is the commit point of a keyed request (a
            // crash before it makes the retry publish the items again,
            // which replaces them by ID).
            let subject = names::kv_subject(&self.names.idem_bucket(), &names::idem_key(&r.key));
            let body = Bytes::from(keys::encode_idem(r.created_ms, &r.value));
            self.publish(subject, HeaderMap::new(), body).await?;
            self.state
                .borrow_mut()
                .idem
                .insert(r.key.clone(), r.clone());
        }
        Ok(replaced)
    }

    /// The collections' history entries (`Store::put_group`'s `links`),
    /// after the leaf's: a failure in between leaves a leaf entry that no
    /// collection lists, never a link to nothing.
    async fn append_links(&self, links: &[(NodeId, ArchiveEntry)]) -> StoreResult<()> {
        for (collection, entry) in links {
            let body = with_seq(entry.seq(), &keys::encode_archive(entry));
            let subject = self.names.archive(*collection, entry.seq());
            self.publish(subject, HeaderMap::new(), body).await?;
        }
        Ok(())
    }

    /// Live entries of `filter` (in `node`'s stream) from the oldest, while
    /// `keep_going` says so, at most `max`.
    async fn oldest_while(
        &self,
        node: NodeId,
        filter: &str,
        max: usize,
        mut keep_going: impl FnMut(&Entry) -> StoreResult<bool>,
    ) -> StoreResult<Vec<Entry>> {
        let mut out = Vec::new();
        let mut from = 1;
        while out.len() < max {
            let Some(e) = log::next(self.stream(node), filter, from).await? else {
                break;
            };
            if !keep_going(&e)? {
                break;
            }
            from = e.sseq + 1;
            out.push(e);
        }
        Ok(out)
    }

    /// Every current (key, value) of a bucket.
    async fn bucket_entries(&self, kv: &kv::Store) -> StoreResult<Vec<(String, u64, Bytes)>> {
        // A set: the key listing (an ordered consumer) can repeat keys
        // when markers are purged while it runs.
        let keys: std::collections::BTreeSet<String> = kv
            .keys()
            .await
            .map_err(|e| io("keys", e))?
            .try_collect()
            .await
            .map_err(|e| io("keys", e))?;
        let entries = futures::stream::iter(keys.into_iter().map(|k| async move {
            let e = kv.entry(k.clone()).await.map_err(|e| io("get", e))?;
            Ok::<_, StoreError>(
                e.filter(|e| e.operation == kv::Operation::Put)
                    .map(|e| (k, e.revision, e.value)),
            )
        }))
        .buffered(64)
        .collect::<Vec<_>>()
        .await;
        entries.into_iter().filter_map(Result::transpose).collect()
    }

    /// Removes every message of each KV subject (no marker left), 64
    /// purges in flight at a time.
    async fn purge_subjects(&self, bucket: &str, subjects: Vec<String>) -> StoreResult<()> {
        let stream = self
            .js
            .get_stream_no_info(names::kv_stream(bucket))
            .await
            .map_err(|e| io("stream", e))?;
        let stream = &stream;
        let done: Vec<StoreResult<()>> =
            futures::stream::iter(subjects.into_iter().map(|subject| async move {
                retrying("purge", HEAVY_ATTEMPT, || {
                    stream.purge().filter(subject.clone()).into_future()
                })
                .await
                .map(|_| ())
            }))
            .buffered(64)
            .collect()
            .await;
        done.into_iter().collect()
    }

    /// Removes a node's queue records: one purge of their subjects.
    async fn drop_queue_node(&self, node: NodeId) -> StoreResult<()> {
        self.settle().await?;
        let bucket = self.names.queues_bucket();
        let stream = self
            .js
            .get_stream_no_info(names::kv_stream(&bucket))
            .await
            .map_err(|e| io("stream", e))?;
        let filter = names::queue_node_filter(&bucket, node);
        retrying("purge", HEAVY_ATTEMPT, || {
            stream.purge().filter(filter.clone()).into_future()
        })
        .await?;
        Ok(())
    }

    /// The server leading the stream that holds `node` (tests).
    #[cfg(test)]
    pub fn leader_of(&self, node: NodeId) -> StoreResult<Option<String>> {
        self.run(async {
            let info = self
                .stream(node)
                .get_info()
                .await
                .map_err(|e| io("info", e))?;
            Ok(info.cluster.and_then(|c| c.leader))
        })
    }

    /// Messages held by the queue and idempotency buckets (tests).
    #[cfg(test)]
    pub fn record_messages(&self) -> StoreResult<u64> {
        self.run(async {
            let mut n = 0;
            for b in [self.names.queues_bucket(), self.names.idem_bucket()] {
                let s = self
                    .js
                    .get_stream(names::kv_stream(&b))
                    .await
                    .map_err(|e| io("stream", e))?;
                n += s.cached_info().state.messages;
            }
            Ok(n)
        })
    }

    /// Deletes every stream and bucket of this prefix (tests).
    #[cfg(test)]
    pub fn destroy(self) -> StoreResult<()> {
        let js = self.js.clone();
        let mut names: Vec<String> = (0..self.names.partitions)
            .map(|p| self.names.stream(p))
            .collect();
        for b in [
            self.names.nodes_bucket(),
            self.names.queues_bucket(),
            self.names.idem_bucket(),
            self.names.webhooks_bucket(),
        ] {
            names.push(names::kv_stream(&b));
        }
        self.run(async move {
            for n in names {
                js.delete_stream(&n).await.map_err(|e| io("delete", e))?;
            }
            Ok(())
        })
    }
}

fn with_seq(seq: u64, rest: &[u8]) -> Bytes {
    let mut body = Vec::with_capacity(8 + rest.len());
    body.extend_from_slice(&seq.to_be_bytes());
    body.extend_from_slice(rest);
    Bytes::from(body)
}

fn decode_item(e: &Entry) -> StoreResult<StoredItem> {
    keys::decode_item(e.seq, e.rest())
}

fn decode_archive(e: &Entry) -> StoreResult<ArchiveEntry> {
    keys::decode_archive(e.seq, e.rest())
}

impl Store for JetStreamStore {
    fn load_nodes(&self) -> StoreResult<Vec<(String, Vec<u8>)>> {
        self.run(async {
            self.settle().await?;
            let mut out = Vec::new();
            for (key, revision, value) in self.bucket_entries(&self.nodes).await? {
                let name = names::name_from_key(&key)?;
                self.state
                    .borrow_mut()
                    .revisions
                    .insert(name.clone(), revision);
                out.push((name, value.to_vec()));
            }
            out.sort();
            Ok(out)
        })
    }

    fn put_node_meta(&mut self, name: &str, meta: &[u8]) -> StoreResult<()> {
        self.run(async {
            let revision = self.put_meta(name, meta).await?;
            self.state
                .borrow_mut()
                .revisions
                .insert(name.to_owned(), revision);
            Ok(())
        })
    }

    fn delete_node(&mut self, name: &str, node: NodeId) -> StoreResult<()> {
        self.run(async {
            // Items and history first: a failure in between leaves the node
            // with fewer items (the delete was not acknowledged).
            self.purge_filter(node, self.names.items(node), None)
                .await?;
            self.purge_filter(node, self.names.archives(node), None)
                .await?;
            // Repeatable: a second delete marker reads the same.
            let key = names::name_key(name);
            retrying("node delete", ATTEMPT, || self.nodes.delete(key.clone())).await?;
            self.state.borrow_mut().revisions.remove(name);
            Ok(())
        })
    }

    fn put_item(&mut self, node: NodeId, item: &StoredItem) -> StoreResult<Option<u64>> {
        let replaced = self.run(self.group(&[(node, item.clone())], false, &[], None))?;
        Ok(replaced.into_iter().next().flatten())
    }

    fn put_group(
        &mut self,
        items: &[(NodeId, StoredItem)],
        archive: bool,
        links: &[(NodeId, ArchiveEntry)],
        record: Option<&IdempotencyRecord>,
    ) -> StoreResult<Vec<Option<u64>>> {
        self.run(self.group(items, archive, links, record))
    }

    fn get_item(&self, node: NodeId, id: &str) -> StoreResult<Option<StoredItem>> {
        self.run(self.item(node, id))
    }

    fn item_seq(&self, node: NodeId, id: &str) -> StoreResult<Option<u64>> {
        Ok(self.get_item(node, id)?.map(|i| i.seq))
    }

    fn remove_item(&mut self, node: NodeId, id: &str) -> StoreResult<Option<StoredItem>> {
        self.run(async {
            let Some(item) = self.item(node, id).await? else {
                return Ok(None);
            };
            self.purge_filter(node, self.names.item(node, id), None)
                .await?;
            Ok(Some(item))
        })
    }

    fn items_after(&self, node: NodeId, after: u64, max: usize) -> StoreResult<Vec<StoredItem>> {
        self.run(async {
            self.settle().await?;
            let page = log::after(self.stream(node), &self.names.items(node), after, max).await?;
            page.iter().map(decode_item).collect()
        })
    }

    fn items_before(&self, node: NodeId, before: u64, max: usize) -> StoreResult<Vec<StoredItem>> {
        self.run(async {
            self.settle().await?;
            let page = log::before(self.stream(node), &self.names.items(node), before, max).await?;
            page.iter().map(decode_item).collect()
        })
    }

    fn remove_oldest(&mut self, node: NodeId, n: usize) -> StoreResult<Vec<String>> {
        self.run(async {
            self.settle().await?;
            let filter = self.names.items(node);
            let old = self.oldest_while(node, &filter, n, |_| Ok(true)).await?;
            let Some(last) = old.last() else {
                return Ok(Vec::new());
            };
            self.purge_filter(node, filter, Some(last.sseq + 1)).await?;
            old.iter().map(|e| decode_item(e).map(|i| i.id)).collect()
        })
    }

    fn purge(&mut self, node: NodeId) -> StoreResult<u64> {
        self.run(self.purge_filter(node, self.names.items(node), None))
    }

    /// The whole purge in one step: the server purges the subjects in one
    /// call, while removing the oldest `max` would first read them back
    /// (about 1 s per 1,000 items, measured: a 20k purge took 23 s instead
    /// of under one). The board then shows the purge start and end.
    fn purge_step(&mut self, node: NodeId, _max: usize) -> StoreResult<u64> {
        self.purge(node)
    }

    fn last_seq(&self, node: NodeId) -> StoreResult<u64> {
        self.run(async {
            self.settle().await?;
            let page = log::before(self.stream(node), &self.names.items(node), u64::MAX, 1).await?;
            Ok(page.last().map_or(0, |e| e.seq))
        })
    }

    fn count_items(&self, node: NodeId) -> StoreResult<u64> {
        self.run(async {
            self.settle().await?;
            let subjects = log::subjects(self.stream(node), &self.names.items(node)).await?;
            Ok(subjects.len() as u64)
        })
    }

    fn remove_expired(
        &mut self,
        node: NodeId,
        before_ms: u64,
        max: usize,
    ) -> StoreResult<Vec<String>> {
        self.run(async {
            self.settle().await?;
            let filter = self.names.items(node);
            let mut ids = Vec::new();
            let old = self
                .oldest_while(node, &filter, max, |e| {
                    let (published_ms, id) = keys::decode_item_head(e.rest())?;
                    let expired = published_ms < before_ms;
                    if expired {
                        ids.push(id);
                    }
                    Ok(expired)
                })
                .await?;
            if let Some(last) = old.last() {
                self.purge_filter(node, filter, Some(last.sseq + 1)).await?;
            }
            Ok(ids)
        })
    }

    fn retract_archived(
        &mut self,
        node: NodeId,
        id: &str,
        entry: &ArchiveEntry,
        links: &[(NodeId, ArchiveEntry)],
    ) -> StoreResult<Option<StoredItem>> {
        self.run(async {
            let Some(item) = self.item(node, id).await? else {
                return Ok(None);
            };
            // History first: a failure in between leaves the item in place
            // with its retraction recorded, and a retried retract is safe.
            let body = with_seq(entry.seq(), &keys::encode_archive(entry));
            self.publish(
                self.names.archive(node, entry.seq()),
                HeaderMap::new(),
                body,
            )
            .await?;
            self.append_links(links).await?;
            self.purge_filter(node, self.names.item(node, id), None)
                .await?;
            Ok(Some(item))
        })
    }

    fn archive_after(
        &self,
        node: NodeId,
        after: u64,
        max: usize,
    ) -> StoreResult<Vec<ArchiveEntry>> {
        self.run(async {
            self.settle().await?;
            let page =
                log::after(self.stream(node), &self.names.archives(node), after, max).await?;
            page.iter().map(decode_archive).collect()
        })
    }

    fn archive_before(
        &self,
        node: NodeId,
        before: u64,
        max: usize,
    ) -> StoreResult<Vec<ArchiveEntry>> {
        self.run(async {
            self.settle().await?;
            let page =
                log::before(self.stream(node), &self.names.archives(node), before, max).await?;
            page.iter().map(decode_archive).collect()
        })
    }

    fn archive_contains(&self, node: NodeId, seq: u64) -> StoreResult<bool> {
        self.run(async {
            self.settle().await?;
            let found = log::last(self.stream(node), &self.names.archive(node, seq)).await?;
            Ok(found.is_some())
        })
    }

    fn trim_archive(&mut self, node: NodeId, max: usize, before_ms: u64) -> StoreResult<u64> {
        self.run(async {
            self.settle().await?;
            let filter = self.names.archives(node);
            let old = self
                .oldest_while(node, &filter, max, |e| {
                    Ok(keys::decode_archive_time(e.rest())? < before_ms)
                })
                .await?;
            match old.last() {
                Some(last) => self.purge_filter(node, filter, Some(last.sseq + 1)).await,
                None => Ok(0),
            }
        })
    }

    fn archive_stats(&self, node: NodeId) -> StoreResult<(u64, u64)> {
        self.run(async {
            self.settle().await?;
            // An entry's subject ends in its seq (`names.rs`).
            let subjects = log::subjects(self.stream(node), &self.names.archives(node)).await?;
            let max = subjects
                .iter()
                .filter_map(|s| s.rsplit('.').next()?.parse::<u64>().ok())
                .max()
                .unwrap_or(0);
            Ok((subjects.len() as u64, max))
        })
    }

    fn load_queue_state(&self) -> StoreResult<Vec<(QueueKey, Vec<u8>)>> {
        self.run(async {
            self.settle().await?;
            let mut out = Vec::new();
            for (key, _, value) in self.bucket_entries(&self.queues).await? {
                out.push((names::queue_from_key(&key)?, value.to_vec()));
            }
            Ok(out)
        })
    }

    fn write_queue_state(&mut self, writes: &[QueueWrite]) -> StoreResult<()> {
        self.run(async {
            let bucket = self.names.queues_bucket();
            for w in writes {
                match w {
                    QueueWrite::Put(k, v) => {
                        let subject = names::kv_subject(&bucket, &names::queue_key(k)?);
                        self.publish(subject, HeaderMap::new(), Bytes::copy_from_slice(v))
                            .await?;
                    }
                    QueueWrite::Remove(k) => {
                        let subject = names::kv_subject(&bucket, &names::queue_key(k)?);
                        let mut headers = HeaderMap::new();
                        headers.insert("KV-Operation", "DEL");
                        self.send(subject, headers, Bytes::new(), true).await?;
                    }
                    QueueWrite::DropNode(node) => self.drop_queue_node(*node).await?,
                }
            }
            Ok(())
        })
    }

    fn flush(&mut self) -> StoreResult<()> {
        self.run(self.settle())
    }

    fn get_idempotency(&self, key: &str) -> StoreResult<Option<IdempotencyRecord>> {
        if let Some(r) = self.state.borrow().idem.get(key) {
            return Ok(Some(r.clone()));
        }
        self.run(async {
            let k = names::idem_key(key);
            let entry = retrying("get", ATTEMPT, || self.idem.entry(k.clone())).await?;
            let Some(entry) = entry.filter(|e| e.operation == kv::Operation::Put) else {
                return Ok(None);
            };
            let (created_ms, value) = keys::decode_idem(&entry.value)?;
            Ok(Some(IdempotencyRecord {
                key: key.to_owned(),
                created_ms,
                value,
            }))
        })
    }

    fn prune_idempotency(&mut self, created_before_ms: u64, keep_max: usize) -> StoreResult<u64> {
        self.run(async {
            self.settle().await?;
            let mut index = Vec::new();
            for (k, _, value) in self.bucket_entries(&self.idem).await? {
                let (created, _) = keys::decode_idem(&value)?;
                index.push((created, names::idem_from_key(&k)?, k));
            }
            index.sort();
            let over = index.len().saturating_sub(keep_max);
            let doomed: Vec<&String> = index
                .iter()
                .enumerate()
                .filter(|(i, (created, _, _))| *i < over || *created < created_before_ms)
                .map(|(_, (_, _, k))| k)
                .collect();
            let bucket = self.names.idem_bucket();
            let subjects = doomed.iter().map(|k| names::kv_subject(&bucket, k));
            self.purge_subjects(&bucket, subjects.collect()).await?;
            Ok(doomed.len() as u64)
        })
    }

    fn load_webhooks(&self) -> StoreResult<Vec<(String, Vec<u8>)>> {
        self.run(async {
            self.settle().await?;
            let mut out = Vec::new();
            for (key, _, value) in self.bucket_entries(&self.webhooks).await? {
                out.push((names::idem_from_key(&key)?, value.to_vec()));
            }
            Ok(out)
        })
    }

    fn put_webhook(&mut self, id: &str, record: &[u8]) -> StoreResult<()> {
        self.run(async {
            // Hex like idempotency keys: any id is a valid subject token.
            let subject = names::kv_subject(&self.names.webhooks_bucket(), &names::idem_key(id));
            self.publish(subject, HeaderMap::new(), Bytes::copy_from_slice(record))
                .await
        })
    }

    fn delete_webhook(&mut self, id: &str) -> StoreResult<()> {
        self.run(async {
            // Purged, not marked: a deleted endpoint leaves nothing behind.
            self.settle().await?;
            let bucket = self.names.webhooks_bucket();
            let subject = names::kv_subject(&bucket, &names::idem_key(id));
            self.purge_subjects(&bucket, vec![subject]).await
        })
    }
}
