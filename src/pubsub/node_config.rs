//! Node configuration (XEP-0060 §16.4 `pubsub#node_config`): typed values,
//! parsing from submitted form fields with typed validation errors, and
//! rendering back to fields.

use serde::{Deserialize, Serialize};

use super::error::PubsubError;
use super::form::{FORM_TYPE, FieldType, FieldValues, FormField, parse_bool, single};

/// `pubsub#access_model`. `roster` is not supported (refused on input).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessModel {
    Open,
    Presence,
    Authorize,
    Whitelist,
}

/// `pubsub#publish_model`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PublishModel {
    Publishers,
    Subscribers,
    Open,
}

/// `pubsub#notification_type`: the `type` of notification messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotificationType {
    Headline,
    Normal,
}

/// `pubsub#send_last_published_item`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendLastPublished {
    Never,
    OnSub,
    OnSubAndPresence,
}

/// `pubsub#node_type` (XEP-0248): a leaf holds items, a collection holds
/// nodes. Nodes stored before collections existed read as leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeType {
    #[default]
    Leaf,
    Collection,
}

/// `pubsub#max_items`: a number, or `max` (the service's cap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MaxItems {
    Count(u64),
    Max,
}

impl MaxItems {
    /// The number of items kept, given the service cap.
    pub fn limit(self, cap: u64) -> u64 {
        match self {
            MaxItems::Count(n) => n.min(cap),
            MaxItems::Max => cap,
        }
    }
}

/// Typed validation errors of a submitted configuration form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown configuration field {0}")]
    UnknownField(String),
    #[error("invalid value {value:?} for {var}: {reason}")]
    InvalidValue {
        var: String,
        value: String,
        reason: &'static str,
    },
    /// XEP-0248 §5.2: `<not-allowed/>` + `<invalid-options/>`.
    #[error("{0}")]
    NotAllowed(&'static str),
    #[error("{var} needs the unsupported feature {feature}")]
    Unsupported {
        var: &'static str,
        feature: &'static str,
    },
}

impl From<ConfigError> for PubsubError {
    fn from(e: ConfigError) -> Self {
        match e {
            ConfigError::Unsupported { feature, .. } => PubsubError::UnsupportedFeature(feature),
            ConfigError::NotAllowed(why) => PubsubError::InvalidCollection(why),
            other => PubsubError::NotAcceptable(other.to_string()),
        }
    }
}

/// The configuration of one leaf node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeConfig {
    pub access_model: AccessModel,
    pub publish_model: PublishModel,
    pub max_items: MaxItems,
    pub persist_items: bool,
    pub deliver_payloads: bool,
    pub deliver_notifications: bool,
    pub notify_retract: bool,
    pub notify_delete: bool,
    pub notify_config: bool,
    pub notification_type: NotificationType,
    pub title: String,
    /// `pubsub#type`: the payload namespace, empty if unset.
    pub payload_type: String,
    pub send_last_published_item: SendLastPublished,
    /// `pubsub#item_expire` in seconds after publication; enforced by the
    /// retention tick ([`super::Service::expire`]).
    pub item_expire: Option<u64>,
    /// `pubsub#node_type` (XEP-0248); serde default keeps stored nodes.
    #[serde(default)]
    pub node_type: NodeType,
    /// `pubsub#collection`: the collections this node belongs to (its
    /// parents; several allowed). Children are derived from these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub collections: Vec<String>,
}

impl NodeConfig {
    /// The default configuration (XEP-0060 §8.3) with `max_items` default.
    pub fn with_defaults(default_max_items: u64) -> Self {
        NodeConfig {
            access_model: AccessModel::Open,
            publish_model: PublishModel::Publishers,
            max_items: MaxItems::Count(default_max_items),
            persist_items: true,
            deliver_payloads: true,
            deliver_notifications: true,
            notify_retract: true,
            notify_delete: true,
            notify_config: false,
            notification_type: NotificationType::Headline,
            title: String::new(),
            payload_type: String::new(),
            send_last_published_item: SendLastPublished::Never,
            item_expire: None,
            node_type: NodeType::Leaf,
            collections: Vec::new(),
        }
    }

    pub fn is_collection(&self) -> bool {
        self.node_type == NodeType::Collection
    }

    /// A copy with every submitted field applied, or the first error.
    /// `FORM_TYPE`, `pubsub#max_payload_size` (read-only) and an empty
    /// `pubsub#roster_groups_allowed` are ignored; unknown vars are refused.
    pub fn with_fields(
        &self,
        fields: &[FieldValues],
        max_items_cap: u64,
    ) -> Result<NodeConfig, ConfigError> {
        let mut next = self.clone();
        for (var, values) in fields {
            next.apply(var, values, max_items_cap)?;
        }
        // XEP-0248 §5.2 "Changing Node Type to Leaf": never allowed.
        if self.is_collection() && !next.is_collection() {
            return Err(ConfigError::NotAllowed("a collection cannot become a leaf"));
        }
        Ok(next)
    }

    /// Whether a publish-options field (XEP-0060 §7.1.5) matches this
    /// configuration. Unknown fields and bad values never match.
    pub fn matches_field(&self, var: &str, values: &[String], max_items_cap: u64) -> bool {
        if var == FORM_TYPE {
            return true;
        }
        let mut probe = self.clone();
        probe.apply(var, values, max_items_cap).is_ok() && probe == *self
    }

    fn apply(&mut self, var: &str, values: &[String], cap: u64) -> Result<(), ConfigError> {
        let bad = |reason: &'static str| ConfigError::InvalidValue {
            var: var.to_owned(),
            value: values.join(","),
            reason,
        };
        if var == "pubsub#roster_groups_allowed" {
            return match values.iter().all(|v| v.is_empty()) {
                true => Ok(()),
                false => Err(ConfigError::Unsupported {
                    var: "pubsub#roster_groups_allowed",
                    feature: "access-roster",
                }),
            };
        }
        if var == "pubsub#collection" {
            // An empty value is "no parent" (XEP-0248 §5.2: the root).
            let mut parents: Vec<String> = Vec::new();
            for v in values.iter().filter(|v| !v.is_empty()) {
                if !parents.contains(v) {
                    parents.push(v.clone());
                }
            }
            self.collections = parents;
            return Ok(());
        }
        let value = single(values).ok_or_else(|| bad("expects a single value"))?;
        if let Some(slot) = self.flag_mut(var) {
            *slot = parse_bool(value).ok_or_else(|| bad("expects a boolean"))?;
            return Ok(());
        }
        match var {
            FORM_TYPE | "pubsub#max_payload_size" => {}
            "pubsub#access_model" if value == "roster" => {
                return Err(ConfigError::Unsupported {
                    var: "pubsub#access_model",
                    feature: "access-roster",
                });
            }
            "pubsub#access_model" => {
                self.access_model = parse_access(value).ok_or_else(|| bad("unknown model"))?
            }
            "pubsub#publish_model" => {
                self.publish_model =
                    parse_publish_model(value).ok_or_else(|| bad("unknown model"))?
            }
            "pubsub#max_items" => self.max_items = parse_max_items(value, cap).map_err(bad)?,
            "pubsub#notification_type" => {
                self.notification_type = parse_notification_type(value)
                    .ok_or_else(|| bad("expects headline or normal"))?
            }
            "pubsub#title" => self.title = value.to_owned(),
            "pubsub#type" => self.payload_type = value.to_owned(),
            "pubsub#send_last_published_item" => {
                self.send_last_published_item =
                    parse_send_last(value).ok_or_else(|| bad("unknown value"))?
            }
            "pubsub#item_expire" => self.item_expire = parse_expire(value).map_err(bad)?,
            "pubsub#node_type" => {
                self.node_type = match value {
                    "leaf" => NodeType::Leaf,
                    "collection" => NodeType::Collection,
                    _ => return Err(bad("expects leaf or collection")),
                }
            }
            _ => return Err(ConfigError::UnknownField(var.to_owned())),
        }
        Ok(())
    }

    /// The boolean option a var names, if it names one.
    fn flag_mut(&mut self, var: &str) -> Option<&mut bool> {
        Some(match var {
            "pubsub#persist_items" => &mut self.persist_items,
            "pubsub#deliver_payloads" => &mut self.deliver_payloads,
            "pubsub#deliver_notifications" => &mut self.deliver_notifications,
            "pubsub#notify_retract" => &mut self.notify_retract,
            "pubsub#notify_delete" => &mut self.notify_delete,
            "pubsub#notify_config" => &mut self.notify_config,
            _ => return None,
        })
    }

    /// Fields to render the configuration form (XEP-0060 §8.2.1), with
    /// `pubsub#max_payload_size` as a read-only display of the service limit.
    pub fn to_fields(&self, max_payload_bytes: usize) -> Vec<FormField> {
        let mut fields = self.model_fields();
        fields.extend(self.delivery_fields());
        fields.push(FormField::text(
            "pubsub#item_expire",
            "Seconds after which items expire (empty: never)",
            self.item_expire.map(|s| s.to_string()).unwrap_or_default(),
        ));
        fields.push(FormField::text(
            "pubsub#max_payload_size",
            "Max payload size in bytes (read-only)",
            max_payload_bytes.to_string(),
        ));
        // XEP-0248 rows last: the XEP-0060 rows keep their places.
        fields.push(FormField::list(
            "pubsub#node_type",
            "Whether the node is a leaf (default) or a collection",
            node_type_str(self.node_type),
            &["leaf", "collection"],
        ));
        fields.push(FormField::new(
            "pubsub#collection",
            FieldType::TextMulti,
            "The collections with which the node is affiliated",
            self.collections.clone(),
        ));
        fields
    }

    fn model_fields(&self) -> Vec<FormField> {
        vec![
            FormField::text("pubsub#title", "A friendly name for the node", &self.title),
            FormField::text(
                "pubsub#type",
                "The type of node data (payload namespace)",
                &self.payload_type,
            ),
            FormField::list(
                "pubsub#access_model",
                "Who may subscribe and retrieve items",
                access_str(self.access_model),
                &["open", "presence", "authorize", "whitelist"],
            ),
            FormField::list(
                "pubsub#publish_model",
                "Who may publish items",
                publish_model_str(self.publish_model),
                &["publishers", "subscribers", "open"],
            ),
            FormField::text(
                "pubsub#max_items",
                "Max number of items to persist (or max)",
                max_items_str(self.max_items),
            ),
            FormField::boolean(
                "pubsub#persist_items",
                "Persist items to storage",
                self.persist_items,
            ),
        ]
    }

    fn delivery_fields(&self) -> Vec<FormField> {
        let flag = |var: &str, label: &str, v: bool| FormField::boolean(var, label, v);
        vec![
            flag(
                "pubsub#deliver_payloads",
                "Deliver payloads with event notifications",
                self.deliver_payloads,
            ),
            flag(
                "pubsub#deliver_notifications",
                "Deliver event notifications",
                self.deliver_notifications,
            ),
            flag(
                "pubsub#notify_retract",
                "Notify subscribers when items are removed",
                self.notify_retract,
            ),
            flag(
                "pubsub#notify_delete",
                "Notify subscribers when the node is deleted",
                self.notify_delete,
            ),
            flag(
                "pubsub#notify_config",
                "Notify subscribers when the configuration changes",
                self.notify_config,
            ),
            FormField::list(
                "pubsub#notification_type",
                "Message type of event notifications",
                notification_type_str(self.notification_type),
                &["headline", "normal"],
            ),
            FormField::list(
                "pubsub#send_last_published_item",
                "When to send the last published item",
                send_last_str(self.send_last_published_item),
                &["never", "on_sub", "on_sub_and_presence"],
            ),
        ]
    }
}

fn parse_access(value: &str) -> Option<AccessModel> {
    match value {
        "open" => Some(AccessModel::Open),
        "presence" => Some(AccessModel::Presence),
        "authorize" => Some(AccessModel::Authorize),
        "whitelist" => Some(AccessModel::Whitelist),
        _ => None,
    }
}

fn parse_publish_model(value: &str) -> Option<PublishModel> {
    match value {
        "publishers" => Some(PublishModel::Publishers),
        "subscribers" => Some(PublishModel::Subscribers),
        "open" => Some(PublishModel::Open),
        _ => None,
    }
}

fn parse_max_items(value: &str, cap: u64) -> Result<MaxItems, &'static str> {
    if value == "max" {
        return Ok(MaxItems::Max);
    }
    match value.parse::<u64>() {
        Ok(0) => Err("must be at least 1 (use persist_items=0 to keep nothing)"),
        Ok(n) if n > cap => Err("exceeds the service's limit on items per node"),
        Ok(n) => Ok(MaxItems::Count(n)),
        Err(_) => Err("expects a number or max"),
    }
}

fn parse_notification_type(value: &str) -> Option<NotificationType> {
    match value {
        "headline" => Some(NotificationType::Headline),
        "normal" => Some(NotificationType::Normal),
        _ => None,
    }
}

fn parse_send_last(value: &str) -> Option<SendLastPublished> {
    match value {
        "never" => Some(SendLastPublished::Never),
        "on_sub" => Some(SendLastPublished::OnSub),
        "on_sub_and_presence" => Some(SendLastPublished::OnSubAndPresence),
        _ => None,
    }
}

fn parse_expire(value: &str) -> Result<Option<u64>, &'static str> {
    match value {
        "" => Ok(None),
        v => v
            .parse()
            .map(Some)
            .map_err(|_| "expects a number of seconds"),
    }
}

pub(crate) fn access_str(m: AccessModel) -> &'static str {
    match m {
        AccessModel::Open => "open",
        AccessModel::Presence => "presence",
        AccessModel::Authorize => "authorize",
        AccessModel::Whitelist => "whitelist",
    }
}

pub(crate) fn publish_model_str(m: PublishModel) -> &'static str {
    match m {
        PublishModel::Publishers => "publishers",
        PublishModel::Subscribers => "subscribers",
        PublishModel::Open => "open",
    }
}

pub(crate) fn max_items_str(m: MaxItems) -> String {
    match m {
        MaxItems::Count(n) => n.to_string(),
        MaxItems::Max => "max".to_owned(),
    }
}

pub(crate) fn node_type_str(t: NodeType) -> &'static str {
    match t {
        NodeType::Leaf => "leaf",
        NodeType::Collection => "collection",
    }
}

fn notification_type_str(t: NotificationType) -> &'static str {
    match t {
        NotificationType::Headline => "headline",
        NotificationType::Normal => "normal",
    }
}

fn send_last_str(s: SendLastPublished) -> &'static str {
    match s {
        SendLastPublished::Never => "never",
        SendLastPublished::OnSub => "on_sub",
        SendLastPublished::OnSubAndPresence => "on_sub_and_presence",
    }
}
