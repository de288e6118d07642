//! Subscription options (XEP-0060 §6.3, form type
//! `http://jabber.org/protocol/pubsub#subscribe_options`), including the
//! consumer-group options of `pubsub::queue` (XEP-0254).

use serde::{Deserialize, Serialize};

use super::error::PubsubError;
use super::form::{FORM_TYPE, FieldValues, FormField, parse_bool, single};

/// Namespace of Herald's own subscription options. XEP-0068 §3.4: a
/// field outside what the registered FORM_TYPE defines is named in Clark
/// notation, `{namespace}name` (xep-notes/xep-0004.md).
pub const OPTIONS_NS: &str = "urn:herald:subscribe_options:0";

/// Form field of [`SubscriptionOptions::chat`].
pub const CHAT_FIELD: &str = "{urn:herald:subscribe_options:0}chat";
/// Consumer group to join (XEP-0254 has one queue per node).
pub const QUEUE_GROUP_FIELD: &str = "{urn:herald:subscribe_options:0}queue_group";
/// Where a new group starts: `newest` or `oldest`.
pub const QUEUE_START_FIELD: &str = "{urn:herald:subscribe_options:0}queue_start";
/// A new group starts after this item ID.
pub const QUEUE_AFTER_FIELD: &str = "{urn:herald:subscribe_options:0}queue_after";

/// The names these fields had before they were namespaced, still accepted
/// on submit (clients written against them keep working); forms show
/// only the namespaced names.
const LEGACY_NAMES: [(&str, &str); 4] = [
    ("herald#chat", CHAT_FIELD),
    ("pubsub#queue_group", QUEUE_GROUP_FIELD),
    ("pubsub#queue_start", QUEUE_START_FIELD),
    ("pubsub#queue_after", QUEUE_AFTER_FIELD),
];

/// Largest `pubsub#queue_requests` (items one member may hold unacked).
pub const MAX_QUEUE_REQUESTS: u32 = 10_000;

/// Options of one subscription: `pubsub#deliver`, Herald's own
/// `herald#chat` (see xep-notes/decisions.md "Chat subscriptions"), and the
/// queue options
/// (a subscription with `queue_group` or `queue_requests` is a member of
/// a consumer group instead of a plain subscriber).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionOptions {
    /// `pubsub#deliver`: whether notifications are sent at all.
    pub deliver: bool,
    /// `herald#chat`: items arrive as chat messages with a readable body
    /// (rendered outside the core) instead of `pubsub#event` messages.
    /// Subscriptions stored before this option existed read as `false`.
    #[serde(default)]
    pub chat: bool,
    /// `pubsub#queue_group`: the consumer group joined (Herald extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_group: Option<String>,
    /// `pubsub#queue_requests` (XEP-0254): items held unacknowledged at most.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_requests: Option<u32>,
    /// `pubsub#queue_start` / `pubsub#queue_after`: where a group that does
    /// not exist yet starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_start: Option<QueueStart>,
    /// `pubsub#subscription_type` (XEP-0248 §4.1), meaningful on
    /// collections only; stored subscriptions read as the default.
    #[serde(default, skip_serializing_if = "SubscriptionType::is_default")]
    pub subscription_type: SubscriptionType,
    /// `pubsub#subscription_depth`: `None` is `all`, else the levels below
    /// the collection that notify (default 1).
    #[serde(default = "one_level", skip_serializing_if = "is_one_level")]
    pub subscription_depth: Option<u32>,
}

/// What a collection subscription is told about (XEP-0248 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubscriptionType {
    /// Items published to (or retracted from) leaves below.
    Items,
    /// Nodes associated with the collection (the XEP's default).
    #[default]
    Nodes,
    /// Both.
    All,
}

impl SubscriptionType {
    fn is_default(&self) -> bool {
        *self == SubscriptionType::default()
    }

    pub fn wants_items(self) -> bool {
        self != SubscriptionType::Nodes
    }

    pub fn wants_nodes(self) -> bool {
        self != SubscriptionType::Items
    }

    fn as_str(self) -> &'static str {
        match self {
            SubscriptionType::Items => "items",
            SubscriptionType::Nodes => "nodes",
            SubscriptionType::All => "all",
        }
    }
}

fn one_level() -> Option<u32> {
    Some(1)
}

fn is_one_level(d: &Option<u32>) -> bool {
    *d == Some(1)
}

/// Where a new consumer group starts reading the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueStart {
    /// Only items published from now on (default).
    Newest,
    /// Every item the node still holds.
    Oldest,
    /// Items published after this item ID.
    After(String),
}

impl Default for SubscriptionOptions {
    fn default() -> Self {
        SubscriptionOptions {
            deliver: true,
            chat: false,
            queue_group: None,
            queue_requests: None,
            queue_start: None,
            subscription_type: SubscriptionType::default(),
            subscription_depth: one_level(),
        }
    }
}

fn invalid(var: &str, what: &str) -> PubsubError {
    PubsubError::InvalidOptions(format!("{var} expects {what}"))
}

impl SubscriptionOptions {
    /// A copy with the submitted fields applied. `FORM_TYPE` is ignored;
    /// unknown fields and bad values give [`PubsubError::InvalidOptions`].
    pub fn with_fields(&self, fields: &[FieldValues]) -> Result<Self, PubsubError> {
        let mut next = self.clone();
        for (var, values) in fields {
            let value = single(values).ok_or_else(|| invalid(var, "one value"))?;
            next.apply(var, value)?;
        }
        Ok(next)
    }

    fn apply(&mut self, var: &str, value: &str) -> Result<(), PubsubError> {
        let var = LEGACY_NAMES
            .iter()
            .find(|(old, _)| *old == var)
            .map_or(var, |(_, new)| new);
        match var {
            FORM_TYPE => {}
            "pubsub#deliver" => {
                self.deliver = parse_bool(value).ok_or_else(|| invalid(var, "a boolean"))?;
            }
            CHAT_FIELD => {
                self.chat = parse_bool(value).ok_or_else(|| invalid(var, "a boolean"))?;
            }
            QUEUE_GROUP_FIELD => {
                self.queue_group = (!value.is_empty()).then(|| value.to_owned());
            }
            "pubsub#queue_requests" => self.queue_requests = parse_requests(var, value)?,
            QUEUE_START_FIELD => {
                self.queue_start = match value {
                    "" => None,
                    "newest" => Some(QueueStart::Newest),
                    "oldest" => Some(QueueStart::Oldest),
                    _ => return Err(invalid(var, "newest or oldest")),
                };
            }
            QUEUE_AFTER_FIELD if !value.is_empty() => {
                self.queue_start = Some(QueueStart::After(value.to_owned()));
            }
            QUEUE_AFTER_FIELD => {}
            "pubsub#subscription_type" => {
                self.subscription_type = match value {
                    "items" => SubscriptionType::Items,
                    "nodes" => SubscriptionType::Nodes,
                    "all" => SubscriptionType::All,
                    _ => return Err(invalid(var, "items, nodes or all")),
                };
            }
            "pubsub#subscription_depth" => {
                self.subscription_depth = match value {
                    "all" => None,
                    n => match n.parse::<u32>() {
                        Ok(levels) if levels >= 1 => Some(levels),
                        _ => return Err(invalid(var, "a positive integer or all")),
                    },
                };
            }
            other => {
                return Err(PubsubError::InvalidOptions(format!(
                    "unknown field {other}"
                )));
            }
        }
        Ok(())
    }

    /// Whether this subscription is a consumer-group member.
    pub fn is_queue_member(&self) -> bool {
        self.queue_group.is_some() || self.queue_requests.is_some()
    }

    /// The group name (`""`: the node's default group, XEP-0254's one queue).
    pub fn group_name(&self) -> &str {
        self.queue_group.as_deref().unwrap_or("")
    }

    /// Items the member may hold unacknowledged (default 1).
    pub fn credit(&self) -> u32 {
        self.queue_requests.unwrap_or(1)
    }

    /// Fields to render the options form (§6.3.2).
    pub fn to_fields(&self) -> Vec<FormField> {
        let start = match &self.queue_start {
            Some(QueueStart::Oldest) => "oldest",
            _ => "newest",
        };
        let after = match &self.queue_start {
            Some(QueueStart::After(id)) => id.as_str(),
            _ => "",
        };
        let requests = self.queue_requests.map(|n| n.to_string());
        vec![
            FormField::boolean("pubsub#deliver", "Enable delivery?", self.deliver),
            FormField::boolean(
                CHAT_FIELD,
                "Deliver as chat messages with a readable body?",
                self.chat,
            ),
            FormField::text(
                QUEUE_GROUP_FIELD,
                "Consumer group to join (XEP-0254 queueing)",
                self.queue_group.clone().unwrap_or_default(),
            ),
            FormField::text(
                "pubsub#queue_requests",
                "Items to hold unacknowledged at most",
                requests.unwrap_or_default(),
            ),
            FormField::list(
                QUEUE_START_FIELD,
                "Where a new group starts",
                start,
                &["newest", "oldest"],
            ),
            FormField::text(
                QUEUE_AFTER_FIELD,
                "A new group starts after this item ID",
                after,
            ),
            FormField::list(
                "pubsub#subscription_type",
                "Collections: notifications of items, of nodes, or all",
                self.subscription_type.as_str(),
                &["items", "nodes", "all"],
            ),
            FormField::text(
                "pubsub#subscription_depth",
                "Collections: levels below that notify (a number or all)",
                self.subscription_depth
                    .map_or_else(|| "all".to_owned(), |d| d.to_string()),
            ),
        ]
    }
}

fn parse_requests(var: &str, value: &str) -> Result<Option<u32>, PubsubError> {
    if value.is_empty() {
        return Ok(None);
    }
    match value.parse::<u32>() {
        Ok(n) if (1..=MAX_QUEUE_REQUESTS).contains(&n) => Ok(Some(n)),
        _ => Err(invalid(
            var,
            &format!("an integer from 1 to {MAX_QUEUE_REQUESTS}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(var: &str, value: &str) -> SubscriptionOptions {
        let fields = [(var.to_owned(), vec![value.to_owned()])];
        SubscriptionOptions::default().with_fields(&fields).unwrap()
    }

    #[test]
    fn collection_options_parse_and_default() {
        let d = SubscriptionOptions::default();
        assert_eq!(d.subscription_type, SubscriptionType::Nodes);
        assert_eq!(d.subscription_depth, Some(1));
        assert_eq!(
            set("pubsub#subscription_type", "items").subscription_type,
            SubscriptionType::Items
        );
        assert_eq!(
            set("pubsub#subscription_depth", "all").subscription_depth,
            None
        );
        assert_eq!(
            set("pubsub#subscription_depth", "3").subscription_depth,
            Some(3)
        );
        for (var, bad) in [
            ("pubsub#subscription_depth", "0"),
            ("pubsub#subscription_depth", "x"),
            ("pubsub#subscription_type", "leaf"),
        ] {
            let fields = [(var.to_owned(), vec![bad.to_owned()])];
            let got = SubscriptionOptions::default().with_fields(&fields);
            assert!(
                matches!(got, Err(PubsubError::InvalidOptions(_))),
                "{var}={bad}"
            );
        }
        // Stored before these options existed: the defaults.
        let old: SubscriptionOptions = serde_json::from_str(r#"{"deliver":true}"#).unwrap();
        assert_eq!(old, SubscriptionOptions::default());
    }

    #[test]
    fn herald_fields_are_namespaced_and_old_names_still_accepted() {
        for var in [CHAT_FIELD, "herald#chat"] {
            assert!(set(var, "true").chat, "{var}");
        }
        for var in [QUEUE_GROUP_FIELD, "pubsub#queue_group"] {
            assert_eq!(set(var, "g").queue_group.as_deref(), Some("g"), "{var}");
        }
        let names: Vec<String> = SubscriptionOptions::default()
            .to_fields()
            .into_iter()
            .map(|f| f.var)
            .collect();
        for (old, new) in LEGACY_NAMES {
            assert!(new.starts_with(&format!("{{{OPTIONS_NS}}}")));
            assert!(names.iter().any(|n| n == new) && !names.iter().any(|n| n == old));
        }
    }
}
