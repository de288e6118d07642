//! Subscription options (XEP-0060 §6.3, form type
//! `http://jabber.org/protocol/pubsub#subscribe_options`).

use serde::{Deserialize, Serialize};

use super::error::PubsubError;
use super::form::{FORM_TYPE, FieldValues, FormField, parse_bool, single};

/// Form field of [`SubscriptionOptions::chat`].
pub const CHAT_FIELD: &str = "herald#chat";

/// Options of one subscription: `pubsub#deliver`, and Herald's own
/// `herald#chat` (see xep-notes/decisions.md "Chat subscriptions").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionOptions {
    /// `pubsub#deliver`: whether notifications are sent at all.
    pub deliver: bool,
    /// `herald#chat`: items arrive as chat messages with a readable body
    /// (rendered outside the core) instead of `pubsub#event` messages.
    /// Subscriptions stored before this option existed read as `false`.
    #[serde(default)]
    pub chat: bool,
}

impl Default for SubscriptionOptions {
    fn default() -> Self {
        SubscriptionOptions {
            deliver: true,
            chat: false,
        }
    }
}

impl SubscriptionOptions {
    /// A copy with the submitted fields applied. `FORM_TYPE` is ignored;
    /// unknown fields and bad values give [`PubsubError::InvalidOptions`].
    pub fn with_fields(&self, fields: &[FieldValues]) -> Result<Self, PubsubError> {
        let mut next = self.clone();
        for (var, values) in fields {
            match var.as_str() {
                FORM_TYPE => {}
                "pubsub#deliver" => {
                    next.deliver = single(values).and_then(parse_bool).ok_or_else(|| {
                        PubsubError::InvalidOptions(format!("{var} expects a boolean"))
                    })?;
                }
                CHAT_FIELD => {
                    next.chat = single(values).and_then(parse_bool).ok_or_else(|| {
                        PubsubError::InvalidOptions(format!("{var} expects a boolean"))
                    })?;
                }
                other => {
                    return Err(PubsubError::InvalidOptions(format!(
                        "unknown field {other}"
                    )));
                }
            }
        }
        Ok(next)
    }

    /// Fields to render the options form (§6.3.2).
    pub fn to_fields(&self) -> Vec<FormField> {
        vec![
            FormField::boolean("pubsub#deliver", "Enable delivery?", self.deliver),
            FormField::boolean(
                CHAT_FIELD,
                "Deliver as chat messages with a readable body?",
                self.chat,
            ),
        ]
    }
}
