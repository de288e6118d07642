//! The pubsub service core: nodes, node configuration, affiliations,
//! subscriptions, access and publish models. No XML, no tokio, no sled:
//! `protocol/` turns stanzas into calls, and renders the returned values.
//!
//! # Use cases (XEP-0060 section → method on [`Service`])
//!
//! First argument is always the [`Actor`]. Read-only queries (`&self`)
//! return their value; state-changing ones (`&mut self`) return an
//! [`Outcome`]: the reply plus [`Notification`]s to send *after*
//! [`Service::flush`] succeeded.
//!
//! | § | use case | method |
//! |---|---|---|
//! | 5.2 | discover nodes (disco#items) | [`Service::discover_nodes`] |
//! | 5.4 | node meta-data (disco#info) | [`Service::node_metadata`] |
//! | 5.6 | retrieve own subscriptions (all or one node) | [`Service::subscriptions`] |
//! | 5.7 | retrieve own affiliations (all or one node) | [`Service::affiliations`] |
//! | 6.1 | subscribe (optionally with options) | [`Service::subscribe`] |
//! | 6.2 | unsubscribe (with or without SubID) | [`Service::unsubscribe`] |
//! | 6.3 | get subscription options | [`Service::subscription_options`] |
//! | 6.3.5 | set subscription options | [`Service::set_subscription_options`] |
//! | 6.4 | default subscription options | [`Service::default_subscription_options`] |
//! | 6.5 | retrieve items: newest N / all up to a page | [`Service::items`] |
//! | 6.5.8 | retrieve items by ID | [`Service::items_by_id`] |
//! | 6.5 + XEP-0059 | page after / before an item ID | [`Service::items_after`], [`Service::items_before`] |
//! | 7.1 | publish (auto-create, publish-options) | [`Service::publish`] |
//! | 7.2 | retract an item | [`Service::retract`] |
//! | XEP-0313 + XEP-0442 | query a node's history (MAM) | [`Service::history`] |
//! | SSE, webhooks | the history as a log: after a cursor, and live | [`Service::log_page`], [`Service::take_journal`] |
//! | `pubsub#item_expire`, history limits | retention tick | [`Service::expire`] |
//! | 8.1 | create a node (named, instant, with config) | [`Service::create_node`] |
//! | 8.2 | get node configuration form | [`Service::node_config`] |
//! | 8.2.5 | submit node configuration | [`Service::configure`] |
//! | 8.3 | default node configuration | [`Service::default_config`] |
//! | 8.4 | delete a node (optional redirect) | [`Service::delete_node`] |
//! | 8.5 | purge all items | [`Service::purge`] |
//! | 8.6 | approve / deny a pending subscription | [`Service::approve_subscription`] |
//! | 8.7 | pending subscriptions: nodes / one node | [`Service::pending_nodes`], [`Service::pending_subscriptions`] |
//! | 8.8.1 | owner: retrieve subscriptions | [`Service::node_subscriptions`] |
//! | 8.8.2 | owner: modify subscriptions | [`Service::modify_subscriptions`] |
//! | 8.9.1 | owner: retrieve affiliations | [`Service::node_affiliations`] |
//! | 8.9.2 | owner: modify affiliations | [`Service::modify_affiliations`] |
//! | 6.1.7 | available presence: last items (`on_sub_and_presence`) | [`Service::presence_available`] |
//! | XEP-0248 §3.2 | children of a collection (disco#items) | [`Service::collection_children`] |
//! | XEP-0248 §5.1 | default configuration of a collection | [`Service::default_config_of`] |
//!
//! Collections (XEP-0248) otherwise ride on the XEP-0060 calls: create and
//! configure take `pubsub#node_type`, `pubsub#collection`,
//! `pubsub#children`; publish and retract also notify the items
//! subscriptions of the collections above the leaf (`Notification::collection`
//! set), and (dis)associations notify nodes subscriptions (`Event::Associate`,
//! `Event::Dissociate`). See `collections.rs` and `ops_collections.rs`.
//!
//! | HTTP ingest | publish as the system, idempotent | [`Service::ingest`] |
//!
//! | XEP-0254 | consumer groups: deliver, settle, presence, timeouts | [`Service::queue_pump`], [`Service::queue_settle`], [`Service::queue_presence`], [`Service::queue_tick`] (see [`queue`]) |
//!
//! Group commit: [`Service::flush`] once per batch.
//!
//! # Notes for `protocol/`
//!
//! - **Errors** are [`PubsubError`]; each variant's doc names the stanza
//!   error condition and the `pubsub#errors` application condition.
//!   `Outcast` renders as plain `<forbidden/>`.
//! - **Forms** come in as `(var, values)` pairs ([`FieldValues`]); the core
//!   ignores `FORM_TYPE` on input and never emits it, so protocol adds it
//!   (`pubsub#node_config`, `pubsub#meta-data`, `pubsub#subscribe_options`,
//!   `pubsub#publish-options`). [`FormField`] carries type, label, values and
//!   list options. Unknown config vars → `NotAcceptable` naming the var.
//! - **Notifications**: one [`Notification`] per event with a list of
//!   [`Recipient`]s (JID + SHIM SubIDs, non-empty only when that JID holds
//!   several subscriptions). Item payloads are `Arc<str>` shared by all
//!   recipients; render them only when `Event::Items::include_payload`.
//!   `message_type` is the node's `pubsub#notification_type` (always
//!   `Normal` for [`Event::ApprovalRequest`], which protocol renders as the
//!   §8.6 `pubsub#subscribe_authorization` form). `Event::Items` with
//!   `last_published` is the §6.1.7 last-item delivery: add a XEP-0203
//!   delay from `Item::published_ms`. Send notifications only after
//!   `flush()` succeeded.
//! - **Items** come back oldest first with `ItemsPage::total` (RSM
//!   `<count/>`); RSM `<after/>`/`<before/>` map to `items_after` /
//!   `items_before`, whose `ItemNotFound` means "cursor gone, resync".
//!   Page sizes are capped at `ServiceSettings::max_page_size`.
//! - **Names**: node names and item IDs come in as [`NodeName`] /
//!   [`ItemId`], which only the one rule in [`names`] builds; the adapter
//!   answers its own error (`bad-request`, HTTP 400) when it fails.
//! - **JIDs**: the actor is the sender's bare JID; subscription JIDs are
//!   taken as given (bare or full) and matched exactly for unsubscribe and
//!   options.
//! - **Publish**: `NewItem::payload` is the serialized payload element; the
//!   core checks its size, protocol checks that it is a single element of
//!   the node's `pubsub#type` (`InvalidPayload`).
//! - **Presence**: call [`Service::presence_available`] on available
//!   presence. Presence subscriptions to the service grant no access
//!   (access model `presence`: see `access.rs`).

mod access;
pub mod archive_ids;
mod collection_log;
pub(crate) mod collections;
pub mod error;
mod exit;
pub mod feed;
pub mod form;
pub mod log;
pub mod names;
mod node;
pub mod node_config;
pub mod notify;
mod ops_collections;
mod ops_console;
mod ops_discovery;
mod ops_history;
pub mod ops_ingest;
mod ops_items;
mod ops_manage;
mod ops_owner;
mod ops_publish;
mod ops_resume;
mod ops_subscribe;
mod ops_webhooks;
mod presence;
pub mod progress;
pub mod queue;
mod reserved;
mod retention;
mod revoke;
mod service;
pub mod sub_options;
mod tracked;
pub mod types;

pub use archive_ids::ArchiveKey;
pub use error::{PubsubError, PubsubResult};
pub use feed::Published;
pub use form::{FORM_TYPE, FieldType, FieldValues, FormField};
pub use jid::{BareJid, Jid};
pub use log::{LogCursor, LogEvent, LogKind, LogPage};
pub use names::{ItemId, NodeName};
pub use node_config::{
    AccessModel, ConfigError, MaxItems, NodeConfig, NodeType, NotificationType, PublishModel,
    SendLastPublished,
};
pub use notify::{Event, Notification, Recipient};
pub use ops_console::{NodeDetail, NodeOverview};
pub use ops_discovery::{NodeCursor, NodesPage};
pub use ops_ingest::{
    IdempotencyKey, IngestError, IngestItem, IngestReply, IngestRequest, IngestedItem, ItemStatus,
};
pub use progress::{Progress, Silent, Step};
pub use queue::{
    DeadLetterRecord, GroupMember, GroupStats, QueueError, QueueSettings, RenderDeadLetter,
    ServiceStats, Settle,
};
pub use retention::RetentionSettings;
pub use service::{SERVICE_RECORD, Service, ServiceSettings};
pub use sub_options::{CHAT_FIELD, QueueStart, SubscriptionOptions, SubscriptionType};
pub use types::{
    Actor, Affiliation, HistoryEntry, HistoryEvent, HistoryPage, HistoryQuery, Item, ItemVia,
    ItemsPage, NewItem, NodeMetadata, NodeSummary, Outcome, PublishReply, Subscription,
    SubscriptionChange, SubscriptionState,
};

#[cfg(test)]
pub(crate) mod tests;
