//! Typed configuration: a TOML file, with secrets also taken from the
//! environment so they need not sit in a file.

use crate::pubsub::{QueueSettings, RetentionSettings, ServiceSettings};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Environment variable that overrides `component.secret`.
pub const SECRET_ENV: &str = "HERALD_COMPONENT_SECRET";

pub use crate::limits::DEFAULT_MAX_STANZA_BYTES;

mod cluster;
mod storage;
mod webhooks;
pub use cluster::ClusterConfig;
pub use storage::{Backend, JetStreamConfig, nats_credentials};
pub use webhooks::WebhooksConfig;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub component: ComponentConfig,
    pub storage: StorageConfig,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub pubsub: PubsubConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub queue: QueueConfig,
    /// MUC relay (`[relay]`, `[[relay.rooms]]`), see `relay/config.rs`.
    #[serde(default)]
    pub relay: crate::relay::RelayConfig,
    /// Chat commands and readable bodies (`[chat]`), see `chat/config.rs`.
    #[serde(default)]
    pub chat: crate::chat::ChatConfig,
    #[serde(default)]
    pub retention: RetentionConfig,
    /// Webhook delivery policy (`[webhooks]`), see `config/webhooks.rs`.
    #[serde(default)]
    pub webhooks: WebhooksConfig,
    /// Several instances on one JetStream cluster (`config/cluster.rs`).
    #[serde(default)]
    pub cluster: ClusterConfig,
}

/// Consumer groups (XEP-0254 queueing), see `pubsub::queue`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// A held item goes back to its group after this long without ack.
    pub ack_timeout_ms: u64,
    /// Deliveries of an item before the next failure dead-letters it.
    pub max_deliveries: u32,
    /// Redelivery wait after the first failure; doubles per failure.
    pub backoff_base_ms: u64,
    /// Longest redelivery wait.
    pub backoff_max_ms: u64,
    /// How often ack deadlines and due redeliveries are checked.
    pub tick_ms: u64,
}

impl Default for QueueConfig {
    fn default() -> Self {
        // The core's defaults, defined once in pubsub::queue.
        let core = QueueSettings::default();
        QueueConfig {
            ack_timeout_ms: core.ack_timeout_ms,
            max_deliveries: core.max_deliveries,
            backoff_base_ms: core.backoff_base_ms,
            backoff_max_ms: core.backoff_max_ms,
            tick_ms: 250,
        }
    }
}

/// Node history (XEP-0313 archive) limits and the expiry sweep.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Most history entries kept per node; 0 turns the history off.
    #[serde(default = "default_history_entries")]
    pub history_max_entries: u64,
    /// History entries older than this many seconds are dropped; 0: no age
    /// limit.
    #[serde(default = "default_history_age")]
    pub history_max_age_secs: u64,
    /// Most items or history entries one node loses per sweep (each second).
    #[serde(default = "default_sweep_batch")]
    pub sweep_batch: usize,
}

// Defaults the core uses are defined once, in the core's settings.
fn default_history_entries() -> u64 {
    RetentionSettings::default().history_max_entries
}
fn default_history_age() -> u64 {
    RetentionSettings::default()
        .history_max_age_secs
        .unwrap_or(0)
}
fn default_sweep_batch() -> usize {
    RetentionSettings::default().sweep_batch
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            history_max_entries: default_history_entries(),
            history_max_age_secs: default_history_age(),
            sweep_batch: default_sweep_batch(),
        }
    }
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentConfig {
    /// The component's domain, e.g. `events.example.com`.
    pub jid: String,
    #[serde(default = "default_host")]
    pub host: String,
    #[serde(default = "default_component_port")]
    pub port: u16,
    /// Shared secret of the XEP-0114 handshake; `HERALD_COMPONENT_SECRET` wins.
    #[serde(default)]
    pub secret: Option<String>,
    /// Seconds of silence before Herald pings ejabberd to keep the link alive.
    #[serde(default = "default_keepalive")]
    pub keepalive_secs: u64,
    /// Parallel component connections; ejabberd spreads the domain's
    /// traffic over them (its parsing of Herald's output then uses more
    /// than one Erlang process).
    #[serde(default = "default_connections")]
    pub connections: usize,
    /// Most stanzas written on one connection and not yet confirmed by
    /// ejabberd; writing pauses when it is reached (at-least-once window).
    #[serde(default = "default_confirm_window")]
    pub confirm_window: usize,
    /// Least milliseconds between two confirmation probes while stanzas
    /// wait for confirmation.
    #[serde(default = "default_confirm_interval")]
    pub confirm_interval_ms: u64,
    /// A confirmation probe unanswered this many milliseconds means the
    /// connection is dead: Herald reconnects and writes the unconfirmed
    /// stanzas again.
    #[serde(default = "default_confirm_timeout")]
    pub confirm_timeout_ms: u64,
    /// XEP-0033: when the server offers a multicast service (found with
    /// disco after the link comes up), a notification identical for many
    /// subscribers leaves as one stanza per batch instead of one each.
    #[serde(default = "default_true")]
    pub multicast: bool,
    /// Most recipients in one multicast stanza. The default fits
    /// ejabberd's default `mod_multicast` limit for a non-local sender.
    #[serde(default = "default_multicast_batch")]
    pub multicast_batch: usize,
}

/// The secret never appears in `Debug` output (logs, panics).
impl std::fmt::Debug for ComponentConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComponentConfig")
            .field("jid", &self.jid)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("keepalive_secs", &self.keepalive_secs)
            .field("connections", &self.connections)
            .field("confirm_window", &self.confirm_window)
            .field("confirm_interval_ms", &self.confirm_interval_ms)
            .field("confirm_timeout_ms", &self.confirm_timeout_ms)
            .field("multicast", &self.multicast)
            .field("multicast_batch", &self.multicast_batch)
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// `sled` (default) or `jetstream` (see `config/storage.rs`).
    #[serde(default)]
    pub backend: Backend,
    /// Required by sled; unused by JetStream (no state on local disk).
    #[serde(default)]
    pub data_dir: PathBuf,
    /// sled's page cache in MiB. Peak memory is roughly this plus a fixed
    /// overhead; a larger cache speeds up reads of old items.
    #[serde(default = "default_cache_mb")]
    pub cache_mb: u64,
    pub jetstream: Option<JetStreamConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Address of the HTTP ingest and health endpoints; none disables HTTP.
    pub listen: Option<SocketAddr>,
    /// Bearer tokens for ingest, by name (`[http.tokens.NAME]`).
    #[serde(default)]
    pub tokens: std::collections::BTreeMap<String, TokenConfig>,
    /// How long an `Idempotency-Key` is remembered.
    #[serde(default = "default_key_retention")]
    pub idempotency_retention_secs: u64,
    /// Most idempotency keys kept; the oldest are forgotten first.
    #[serde(default = "default_max_keys")]
    pub idempotency_max_keys: usize,
    /// Most items in one batch request.
    #[serde(default = "default_max_batch")]
    pub max_batch_items: usize,
    /// From waiting for a request until its headers are complete
    /// (slowloris); also how long a kept-alive connection may wait idle.
    #[serde(default = "default_header_timeout")]
    pub header_read_timeout_secs: u64,
    /// A request body must arrive within this (else 408).
    #[serde(default = "default_body_timeout")]
    pub body_read_timeout_secs: u64,
    /// A connection on which no byte moves for this long is closed.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_secs: u64,
    /// Most HTTP connections open at once (lowered to fit the process's
    /// descriptor limit); past it the oldest idle one is closed.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// `/metrics` exports `herald_node_items` for this many nodes, those
    /// holding the most items, plus totals: 100,000 nodes must not make
    /// 100,000 series.
    #[serde(default = "default_metrics_top_nodes")]
    pub metrics_top_nodes: usize,
}

/// One ingest token. Its value is never logged (`Debug` redacts it).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// The token itself; prefer `token_env`.
    #[serde(default)]
    pub token: Option<String>,
    /// Environment variable holding the token (read at startup).
    #[serde(default)]
    pub token_env: Option<String>,
    /// Node patterns this token may publish to, e.g. `["apps", "billing.*"]`
    /// (syntax: `crate::node_pattern`, documented in herald.example.toml).
    pub nodes: Vec<String>,
    /// Whether it may create missing nodes by publishing to them.
    #[serde(default)]
    pub create: bool,
    /// Requests per second this token may make on average (token bucket;
    /// 0: no limit). Past it: 429 with `Retry-After`.
    #[serde(default = "default_rate")]
    pub rate_per_sec: u32,
    /// Requests it may make at once above the rate.
    #[serde(default = "default_burst")]
    pub burst: u32,
    /// What the token may do, each only on nodes its `nodes` patterns
    /// match. Default `["publish"]`.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<TokenScope>,
}

/// One right a token can hold (`[http.tokens.NAME] scopes = [...]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenScope {
    /// Publish (and, with `create`, create nodes) over HTTP.
    Publish,
    /// Read a node's items and stream its events.
    Read,
    /// Manage webhook endpoints for its nodes.
    Webhooks,
    /// The operator console and its JSON API.
    Admin,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Publish => "publish",
            TokenScope::Read => "read",
            TokenScope::Webhooks => "webhooks",
            TokenScope::Admin => "admin",
        }
    }
}

fn default_scopes() -> Vec<TokenScope> {
    vec![TokenScope::Publish]
}

impl std::fmt::Debug for TokenConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenConfig")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_env", &self.token_env)
            .field("nodes", &self.nodes)
            .field("create", &self.create)
            .field("rate_per_sec", &self.rate_per_sec)
            .field("burst", &self.burst)
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: None,
            tokens: Default::default(),
            idempotency_retention_secs: default_key_retention(),
            idempotency_max_keys: default_max_keys(),
            max_batch_items: default_max_batch(),
            header_read_timeout_secs: default_header_timeout(),
            body_read_timeout_secs: default_body_timeout(),
            idle_timeout_secs: default_idle_timeout(),
            max_connections: default_max_connections(),
            metrics_top_nodes: default_metrics_top_nodes(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PubsubConfig {
    /// Bare JIDs that own the service: they may create nodes and act as
    /// owner of every node.
    #[serde(default)]
    pub admins: Vec<String>,
    /// Any user of these domains may create nodes.
    #[serde(default)]
    pub create_domains: Vec<String>,
    /// Default `pubsub#max_items` for new nodes.
    #[serde(default = "default_max_items")]
    pub default_max_items: u64,
    /// Publishing to a missing node creates it when the publisher may
    /// create nodes (XEP-0060 §7.1.4).
    #[serde(default = "default_true")]
    pub auto_create: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest item payload accepted, in bytes of serialized XML.
    #[serde(default = "default_max_payload")]
    pub max_payload_bytes: usize,
    /// Stanzas that may wait for the component writer before senders pause.
    #[serde(default = "default_outbox")]
    pub outbox_capacity: usize,
    /// Upper bound on `pubsub#max_items` any node may be configured with.
    #[serde(default = "default_node_items_cap")]
    pub max_items_per_node: u64,
    /// Largest number of items one retrieval returns.
    #[serde(default = "default_max_page")]
    pub max_items_per_page: usize,
    /// Most nodes the service holds; none means no limit.
    #[serde(default)]
    pub max_nodes: Option<usize>,
    /// Deepest nesting of an item payload (its root element is 1), checked
    /// before any tree is built: over XMPP and HTTP alike.
    #[serde(default = "default_max_payload_depth")]
    pub max_payload_depth: usize,
    /// Most elements in one item payload.
    #[serde(default = "default_max_payload_elements")]
    pub max_payload_elements: usize,
    /// Stanzas per second one bare JID may send on average (per-sender
    /// fairness before the core's queue); 0 disables the limit.
    #[serde(default = "default_sender_rate")]
    pub sender_rate_per_sec: u32,
    /// Stanzas one bare JID may send at once above that average.
    #[serde(default = "default_sender_burst")]
    pub sender_burst: u32,
    /// Largest stanza Herald sends: keep it under ejabberd's component
    /// `max_stanza_size`, which closes the link on a bigger one.
    #[serde(default = "default_max_stanza")]
    pub max_stanza_bytes: usize,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `text` (default) or `json`.
    #[serde(default)]
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

fn default_host() -> String {
    "127.0.0.1".into()
}
fn default_component_port() -> u16 {
    5347
}
fn default_keepalive() -> u64 {
    30
}
fn default_cache_mb() -> u64 {
    crate::store::sled_store::DEFAULT_CACHE_MB
}
fn default_true() -> bool {
    true
}
fn default_connections() -> usize {
    1
}
fn default_sender_rate() -> u32 {
    4000
}
fn default_sender_burst() -> u32 {
    2000
}
fn default_multicast_batch() -> usize {
    20
}
fn default_confirm_window() -> usize {
    2048
}
fn default_confirm_interval() -> u64 {
    200
}
fn default_confirm_timeout() -> u64 {
    3000
}
fn default_max_items() -> u64 {
    ServiceSettings::default().default_max_items
}
fn default_max_payload() -> usize {
    ServiceSettings::default().max_payload_bytes
}
fn default_max_payload_depth() -> usize {
    crate::limits::DEFAULT_MAX_PAYLOAD_DEPTH
}
fn default_max_payload_elements() -> usize {
    crate::limits::DEFAULT_MAX_PAYLOAD_ELEMENTS
}
fn default_max_stanza() -> usize {
    DEFAULT_MAX_STANZA_BYTES
}
fn default_outbox() -> usize {
    4096
}
fn default_node_items_cap() -> u64 {
    ServiceSettings::default().max_items_cap
}
fn default_max_page() -> usize {
    ServiceSettings::default().max_page_size
}
fn default_key_retention() -> u64 {
    24 * 3600
}
fn default_max_keys() -> usize {
    100_000
}
fn default_max_batch() -> usize {
    1000
}
fn default_header_timeout() -> u64 {
    10
}
fn default_body_timeout() -> u64 {
    30
}
fn default_idle_timeout() -> u64 {
    60
}
fn default_max_connections() -> usize {
    512
}
fn default_metrics_top_nodes() -> usize {
    20
}
fn default_rate() -> u32 {
    1000
}
fn default_burst() -> u32 {
    2000
}

impl Default for PubsubConfig {
    fn default() -> Self {
        Self {
            admins: Vec::new(),
            create_domains: Vec::new(),
            default_max_items: default_max_items(),
            auto_create: true,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_payload_bytes: default_max_payload(),
            outbox_capacity: default_outbox(),
            max_items_per_node: default_node_items_cap(),
            max_items_per_page: default_max_page(),
            max_nodes: None,
            max_payload_depth: default_max_payload_depth(),
            max_payload_elements: default_max_payload_elements(),
            sender_rate_per_sec: default_sender_rate(),
            sender_burst: default_sender_burst(),
            max_stanza_bytes: default_max_stanza(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
    /// Every problem found, each naming its key (never its value).
    #[error("invalid configuration ({} problems):\n  - {}", .0.len(), .0.join("\n  - "))]
    Problems(Vec<String>),
}

impl ConfigError {
    fn from_problems(mut problems: Vec<String>) -> Result<(), ConfigError> {
        match problems.len() {
            0 => Ok(()),
            1 => Err(ConfigError::Invalid(problems.remove(0))),
            _ => Err(ConfigError::Problems(problems)),
        }
    }
}

impl Config {
    /// Reads the file, applies environment overrides, validates, and
    /// creates the data directory if missing (`run`).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let config = Config::check_file(path)?;
        if config.storage.backend == Backend::Sled {
            prepare_data_dir(&config.storage.data_dir)?;
        }
        Ok(config)
    }

    /// Like [`Config::load`] without touching anything (`check-config`):
    /// every problem is reported at once.
    pub fn check_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config = Config::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        })?;
        if let Ok(secret) = std::env::var(SECRET_ENV) {
            config.component.secret = Some(secret);
        }
        let mut problems = config.resolve_token_env();
        problems.extend(config.problems());
        ConfigError::from_problems(problems)?;
        Ok(config)
    }

    /// Parses TOML. An error names the line, column and key, never the
    /// offending text: that line may hold a secret or a token.
    pub fn parse(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| describe_toml_error(text, &e))
    }

    /// Checks what serde cannot (presence of the secret, a usable domain,
    /// sane limits, a data directory that can be created or written),
    /// without side effects; every problem found, as one error.
    pub fn validate(&self) -> Result<(), ConfigError> {
        ConfigError::from_problems(self.problems())
    }

    /// Every problem of a parsed config, each naming its key.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut invalid = |m: String| problems.push(m);
        match &self.component.secret {
            None => invalid(format!(
                "component.secret is missing: set it in the file or in {SECRET_ENV}"
            )),
            Some(s) if s.is_empty() => invalid("component.secret is empty".into()),
            Some(_) => {}
        }
        if let Err(problem) = self.webhooks.validate() {
            invalid(problem);
        }
        let jetstream = self.storage.backend == Backend::Jetstream;
        self.cluster
            .problems(jetstream)
            .into_iter()
            .for_each(&mut invalid);
        match tokio_xmpp::jid::BareJid::new(&self.component.jid) {
            Ok(j) if j.node().is_none() => {}
            _ => invalid(format!(
                "component.jid {:?} must be a bare domain such as events.example.com",
                self.component.jid
            )),
        }
        for admin in &self.pubsub.admins {
            if tokio_xmpp::jid::BareJid::new(admin).is_err() {
                invalid(format!("pubsub.admins: {admin:?} is not a valid bare JID"));
            }
        }
        if !(1..=16).contains(&self.component.connections) {
            invalid("component.connections must be between 1 and 16".into());
        }
        if !(2..=10_000).contains(&self.component.multicast_batch) {
            invalid("component.multicast_batch must be between 2 and 10000".into());
        }
        if self.retention.sweep_batch == 0 {
            invalid("retention.sweep_batch must be > 0".into());
        }
        if self.limits.outbox_capacity == 0 || self.limits.max_items_per_page == 0 {
            invalid("limits.outbox_capacity and limits.max_items_per_page must be > 0".into());
        }
        let ceiling = crate::limits::MAX_PAYLOAD_DEPTH_CEILING;
        if !(1..=ceiling).contains(&self.limits.max_payload_depth) {
            invalid(format!(
                "limits.max_payload_depth must be between 1 and {ceiling} (the component \
                 link refuses stanzas deeper than {})",
                tokio_xmpp::xmlstream::MAX_STANZA_DEPTH
            ));
        }
        if self.limits.max_payload_elements == 0 {
            invalid("limits.max_payload_elements must be > 0".into());
        }
        let q = &self.queue;
        if q.ack_timeout_ms == 0 || q.max_deliveries == 0 || q.tick_ms == 0 {
            invalid(
                "queue.ack_timeout_ms, queue.max_deliveries and queue.tick_ms must be > 0".into(),
            );
        }
        let envelope = crate::limits::ENVELOPE_BYTES;
        if self.limits.max_payload_bytes.saturating_add(envelope) > self.limits.max_stanza_bytes {
            invalid(format!(
                "limits.max_payload_bytes plus {envelope} bytes of stanza envelope must fit \
                 limits.max_stanza_bytes (an item too big for any stanza could never be sent)"
            ));
        }
        if self.pubsub.default_max_items > self.limits.max_items_per_node {
            invalid("pubsub.default_max_items exceeds limits.max_items_per_node".into());
        }
        problems.extend(self.http_problems());
        problems.extend(self.relay.problems());
        problems.extend(self.chat.problems());
        problems.extend(self.storage_problems());
        problems
    }

    fn storage_problems(&self) -> Vec<String> {
        let s = &self.storage;
        match (s.backend, &s.jetstream) {
            (Backend::Sled, _) if s.data_dir.as_os_str().is_empty() => {
                vec!["storage.data_dir is required (backend = \"sled\")".into()]
            }
            (Backend::Sled, _) => check_data_dir(&s.data_dir).err().into_iter().collect(),
            (Backend::Jetstream, None) => {
                vec!["storage.backend = \"jetstream\" needs a [storage.jetstream] section".into()]
            }
            (Backend::Jetstream, Some(js)) => js.problems(),
        }
    }

    /// Reads each `token_env` into `token` (one of the two must be set);
    /// the problems found.
    fn resolve_token_env(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        for (name, t) in &mut self.http.tokens {
            let Some(var) = &t.token_env else { continue };
            if t.token.is_some() {
                problems.push(format!(
                    "http.tokens.{name}: set token or token_env, not both"
                ));
                continue;
            }
            match std::env::var(var) {
                Ok(v) => t.token = Some(v),
                Err(_) => problems.push(format!(
                    "http.tokens.{name}: environment variable {var} is not set"
                )),
            }
        }
        problems
    }

    fn http_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut by_value: std::collections::BTreeMap<&str, &str> = Default::default();
        for (name, t) in &self.http.tokens {
            match t.token.as_deref() {
                None => problems.push(format!(
                    "http.tokens.{name}: token or token_env is required"
                )),
                Some(v) if v.len() < 16 => problems.push(format!(
                    "http.tokens.{name}: the token must be at least 16 characters"
                )),
                Some(v) => {
                    // One value under two names would make the names (and
                    // their node rights) indistinguishable.
                    if let Some(first) = by_value.insert(v, name) {
                        problems.push(format!(
                            "http.tokens.{first} and http.tokens.{name} have the same token: \
                             give each name its own"
                        ));
                    }
                }
            }
            if t.nodes.is_empty() {
                problems.push(format!(
                    "http.tokens.{name}: nodes must list non-empty patterns"
                ));
            }
            let what = format!("http.tokens.{name}.nodes");
            problems.extend(crate::node_pattern::NodePattern::problems(&what, &t.nodes));
            if t.scopes.is_empty() {
                problems.push(format!(
                    "http.tokens.{name}: scopes must list at least one of \
                     publish, read, webhooks, admin"
                ));
            }
            if t.rate_per_sec > 0 && t.burst == 0 {
                problems.push(format!(
                    "http.tokens.{name}: burst must be > 0 when rate_per_sec is set"
                ));
            }
        }
        let h = &self.http;
        if h.header_read_timeout_secs == 0
            || h.body_read_timeout_secs == 0
            || h.idle_timeout_secs == 0
            || h.max_connections == 0
        {
            problems.push(
                "http.header_read_timeout_secs, http.body_read_timeout_secs, \
                 http.idle_timeout_secs and http.max_connections must be > 0"
                    .into(),
            );
        }
        if self.http.max_batch_items == 0 || self.http.idempotency_max_keys == 0 {
            problems.push("http.max_batch_items and http.idempotency_max_keys must be > 0".into());
        }
        problems
    }

    pub fn secret(&self) -> &str {
        self.component.secret.as_deref().unwrap_or_default()
    }
}

/// Whether the data directory exists and is writable, or could be
/// created: read-only checks (permission bits against this process's
/// owner), so `check-config` changes nothing.
fn check_data_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let fail = |why: &str| Err(format!("storage.data_dir {} {why}", dir.display()));
    // The nearest existing ancestor decides: it is where sled writes or
    // where the missing directories would be created.
    let mut probe = dir;
    let meta = loop {
        match std::fs::metadata(probe) {
            Ok(m) => break m,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) =>
            {
                match probe.parent() {
                    Some(p) if !p.as_os_str().is_empty() => probe = p,
                    _ => break std::fs::metadata(".").map_err(|e| e.to_string())?,
                }
            }
            Err(e) => return fail(&format!("cannot be inspected: {e}")),
        }
    };
    if !meta.is_dir() {
        return if probe == dir {
            fail("is not a directory")
        } else {
            fail(&format!(
                "cannot be created: {} is not a directory",
                probe.display()
            ))
        };
    }
    // /proc/self belongs to the process's effective user and group.
    let me = std::fs::metadata("/proc/self").ok();
    let (uid, gid) = me
        .map(|m| (m.uid(), m.gid()))
        .unwrap_or((u32::MAX, u32::MAX));
    let mode = meta.permissions().mode();
    let writable = uid == 0
        || (meta.uid() == uid && mode & 0o200 != 0)
        || (meta.uid() != uid && meta.gid() == gid && mode & 0o020 != 0)
        || (meta.uid() != uid && mode & 0o002 != 0)
        // Supplementary groups are not known here: do not guess "no".
        || (meta.uid() != uid && meta.gid() != gid && mode & 0o020 != 0);
    if writable {
        Ok(())
    } else if probe == dir {
        fail("is not writable")
    } else {
        fail(&format!(
            "cannot be created: {} is not writable",
            probe.display()
        ))
    }
}

/// Creates the data directory if missing and proves it writable (`run`).
fn prepare_data_dir(dir: &Path) -> Result<(), ConfigError> {
    let fail = |why: String| {
        Err(ConfigError::Invalid(format!(
            "storage.data_dir {} is not writable: {why}",
            dir.display()
        )))
    };
    if let Err(e) = std::fs::create_dir_all(dir) {
        return fail(e.to_string());
    }
    let probe = dir.join(".herald-write-probe");
    match std::fs::write(&probe, b"ok") {
        Ok(()) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => fail(e.to_string()),
    }
}

/// `line L, column C, key `a.b`: message` for a TOML error. The message
/// loses any literal it quotes (serde writes `invalid type: string "…"`),
/// and the key is only named when it is a plain key.
fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = scrub_values(e.message());
    let Some(span) = e.span() else {
        return message;
    };
    let at = span.start.min(text.len());
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    match key_at(text, line) {
        Some(key) => format!("line {line}, column {column}, key `{key}`: {message}"),
        None => format!("line {line}, column {column}: {message}"),
    }
}

/// The dotted key set on `line` (1-based), with its table; `None` unless
/// everything involved is a bare key.
fn key_at(text: &str, line: usize) -> Option<String> {
    let bare = |k: &str| {
        !k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    };
    let lines: Vec<&str> = text.lines().collect();
    let this = lines.get(line.checked_sub(1)?)?.trim();
    let header = |l: &str| {
        let l = l.trim();
        let inner = l.strip_prefix("[[").and_then(|r| r.strip_suffix("]]"));
        let inner = inner.or_else(|| l.strip_prefix('[').and_then(|r| r.strip_suffix(']')));
        inner.map(|h| h.trim().to_owned()).filter(|h| bare(h))
    };
    if this.starts_with('[') {
        return header(this);
    }
    let key = this.split_once('=')?.0.trim();
    let key = key.split('.').map(str::trim).collect::<Vec<_>>().join(".");
    if !bare(&key) {
        return None;
    }
    let table = lines[..line - 1].iter().rev().find_map(|l| header(l));
    Some(match table {
        Some(t) => format!("{t}.{key}"),
        None => key,
    })
}

/// Drops the literal value serde quotes in `invalid type` / `invalid
/// value` / `unknown variant` messages; keeps what was expected.
fn scrub_values(message: &str) -> String {
    let message = message.trim();
    for prefix in ["invalid type: ", "invalid value: ", "unknown variant "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let (got, expected) = match rest.find(", expected") {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            let kind = got.split(['"', '`']).next().unwrap_or("").trim();
            let prefix = prefix.trim_end();
            return match kind.is_empty() {
                true => format!("{prefix}{expected}"),
                false => format!("{prefix} {kind}{expected}"),
            };
        }
    }
    message.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(data_dir: &Path) -> String {
        format!(
            "[component]\njid = \"events.localhost\"\nsecret = \"s\"\n[storage]\ndata_dir = {:?}\n",
            data_dir.display().to_string()
        )
    }

    #[test]
    fn minimal_config_is_valid_with_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::parse(&sample(dir.path())).unwrap();
        config.validate().unwrap();
        assert_eq!(config.component.port, 5347);
        assert_eq!(config.limits.max_payload_bytes, 65536);
    }

    #[test]
    fn wrong_type_is_reported_with_the_key() {
        let err =
            Config::parse("[component]\njid = \"e\"\nport = \"x\"\n[storage]\ndata_dir=\"/tmp\"")
                .unwrap_err();
        assert!(err.contains("port"), "{err}");
    }

    #[test]
    fn unknown_key_is_rejected() {
        let err = Config::parse("[component]\njid = \"e\"\nprot = 1\n[storage]\ndata_dir=\"/tmp\"")
            .unwrap_err();
        assert!(err.contains("prot"), "{err}");
    }

    #[test]
    fn missing_secret_names_the_env_var() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::parse(&sample(dir.path())).unwrap();
        config.component.secret = None;
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains(SECRET_ENV), "{err}");
    }

    #[test]
    fn component_jid_must_be_a_domain() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::parse(&sample(dir.path())).unwrap();
        config.component.jid = "user@events.localhost".into();
        assert!(config.validate().is_err());
    }

    #[test]
    fn tokens_are_checked_and_never_shown_by_debug() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "{}[http.tokens.billing]\ntoken = \"0123456789abcdef-secret\"\nnodes = [\"billing.*\"]\n",
            sample(dir.path())
        );
        let mut config = Config::parse(&text).unwrap();
        config.validate().unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("0123456789abcdef-secret"), "{shown}");
        let t = config.http.tokens.get_mut("billing").unwrap();
        t.token = Some("short".into());
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("http.tokens.billing"), "{err}");
    }

    #[test]
    fn token_env_must_be_set() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "{}[http.tokens.a]\ntoken_env = \"HERALD_TEST_UNSET_TOKEN_VAR\"\nnodes = [\"*\"]\n",
            sample(dir.path())
        );
        let mut config = Config::parse(&text).unwrap();
        let problems = config.resolve_token_env();
        assert!(
            problems[0].contains("HERALD_TEST_UNSET_TOKEN_VAR"),
            "{problems:?}"
        );
    }

    #[test]
    fn unwritable_data_dir_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"x").unwrap();
        let mut config = Config::parse(&sample(dir.path())).unwrap();
        config.storage.data_dir = file.join("sub");
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("storage.data_dir"), "{err}");
        assert!(err.contains("not a directory"), "{err}");
    }

    #[test]
    fn parse_errors_name_line_and_key_but_never_the_value() {
        let text = "[component]\njid = \"events.localhost\"\nport = \"hunter2-secret\"\n\
                    [storage]\ndata_dir = \"/tmp\"\n";
        let err = Config::parse(text).unwrap_err();
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("component.port"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        // A syntax error on the secret's line: toml would print the line.
        let text = "[component]\njid = \"e\"\nsecret = \"s3cr3t-value\" junk\n";
        let err = Config::parse(text).unwrap_err();
        assert!(!err.contains("s3cr3t"), "{err}");
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("component.secret"), "{err}");
        let text = "[component]\njid = \"e\"\nsecret = \"unterminated-s3cr3t\n";
        let err = Config::parse(text).unwrap_err();
        assert!(!err.contains("s3cr3t"), "{err}");
        let text =
            "[log]\nformat = \"t0ken-like\"\n[component]\njid=\"e\"\n[storage]\ndata_dir=\"/x\"\n";
        let err = Config::parse(text).unwrap_err();
        assert!(!err.contains("t0ken"), "{err}");
        assert!(err.contains("log.format"), "{err}");
    }

    #[test]
    fn every_problem_is_listed() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::parse(&sample(dir.path())).unwrap();
        config.component.secret = None;
        config.component.connections = 0;
        config.component.multicast_batch = 1;
        config.limits.max_payload_depth = 10_000;
        let err = config.validate().unwrap_err().to_string();
        for key in [
            "component.secret",
            "component.connections",
            "component.multicast_batch",
            "limits.max_payload_depth",
        ] {
            assert!(err.contains(key), "{key} missing from {err}");
        }
    }

    #[test]
    fn checking_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("not-yet").join("data");
        let path = dir.path().join("herald.toml");
        std::fs::write(&path, sample(&data)).unwrap();
        Config::check_file(&path).unwrap();
        assert!(!data.exists(), "check-config created {}", data.display());
        assert!(!dir.path().join("not-yet").exists());
        Config::load(&path).unwrap();
        assert!(data.is_dir());
    }

    #[test]
    fn the_same_token_under_two_names_is_refused_without_showing_it() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "{}[http.tokens.billing]\ntoken = \"0123456789abcdef-same\"\nnodes = [\"b.*\"]\n\
             [http.tokens.ops]\ntoken = \"0123456789abcdef-same\"\nnodes = [\"*\"]\n",
            sample(dir.path())
        );
        let config = Config::parse(&text).unwrap();
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("http.tokens.billing"), "{err}");
        assert!(err.contains("http.tokens.ops"), "{err}");
        assert!(!err.contains("0123456789abcdef"), "{err}");
    }

    #[test]
    fn debug_never_shows_the_component_secret() {
        let dir = tempfile::tempdir().unwrap();
        let text = sample(dir.path()).replace("secret = \"s\"", "secret = \"very-secret-value\"");
        let config = Config::parse(&text).unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("very-secret-value"), "{shown}");
    }

    #[test]
    fn payload_limit_must_leave_room_for_the_stanza_envelope() {
        let dir = tempfile::tempdir().unwrap();
        let text = sample(dir.path());
        let config = Config::parse(&text).unwrap();
        assert_eq!(config.limits.max_stanza_bytes, DEFAULT_MAX_STANZA_BYTES);
        let too_big = format!("{text}[limits]\nmax_payload_bytes = 983040\n");
        let err = Config::parse(&too_big).unwrap().validate().unwrap_err();
        assert!(err.to_string().contains("limits.max_stanza_bytes"), "{err}");
        let raised = format!("{too_big}max_stanza_bytes = 2000000\n");
        Config::parse(&raised).unwrap().validate().unwrap();
    }

    #[test]
    fn node_patterns_are_checked_in_every_nodes_list() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "{}[http.tokens.ops]\ntoken = \"0123456789abcdef-ops\"\nnodes = [\"apps\", \"a?b\"]\n\
             [[chat.templates]]\nnodes = [\" apps\"]\ntemplate = \"{{id}}\"\n\
             [[relay.rooms]]\nroom = \"ops@conference.localhost\"\nnick = \"h\"\nnodes = [\"x**\"]\n",
            sample(dir.path())
        );
        let err = Config::parse(&text)
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
        for says in [
            "http.tokens.ops.nodes: node pattern \"a?b\"",
            "chat.templates: node pattern \" apps\"",
            "relay.rooms \"ops@conference.localhost\": node pattern \"x**\"",
        ] {
            assert!(err.contains(says), "{says} missing from {err}");
        }
        // The same lists in the superset syntax are fine everywhere.
        let fine = text
            .replace("\"a?b\"", "\"billing.*\"")
            .replace("\" apps\"", "\"a*c*e\"")
            .replace("\"x**\"", "\"*.events\"");
        Config::parse(&fine).unwrap().validate().unwrap();
    }

    #[test]
    fn token_scopes_default_to_publish_and_unknown_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let token = |scopes: &str| {
            format!(
                "{}[http.tokens.ops]\ntoken = \"0123456789abcdef-ops\"\nnodes = [\"*\"]\n{scopes}",
                sample(dir.path())
            )
        };
        let plain = Config::parse(&token("")).unwrap();
        assert_eq!(plain.http.tokens["ops"].scopes, vec![TokenScope::Publish]);
        let both = Config::parse(&token("scopes = [\"read\", \"admin\"]\n")).unwrap();
        assert_eq!(
            both.http.tokens["ops"].scopes,
            vec![TokenScope::Read, TokenScope::Admin]
        );
        let err = Config::parse(&token("scopes = [\"root\"]\n")).unwrap_err();
        assert!(
            err.contains("http.tokens.ops.scopes") && err.contains("webhooks"),
            "{err}"
        );
        let none = Config::parse(&token("scopes = []\n")).unwrap();
        let err = none.validate().unwrap_err().to_string();
        assert!(err.contains("http.tokens.ops: scopes"), "{err}");
    }
}
