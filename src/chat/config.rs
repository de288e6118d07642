//! `[chat]` configuration: chat commands and readable bodies.

use serde::Deserialize;

use super::template::Template;
use crate::node_pattern::NodePattern;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatConfig {
    /// Answer chat commands (`help`, `list`, `subscribe`, ...) sent to
    /// the service's JID.
    #[serde(default = "yes")]
    pub commands: bool,
    /// Longest readable body, in characters; longer ones end with `…`.
    #[serde(default = "default_max_body")]
    pub max_body_chars: usize,
    /// Body templates per node pattern; the first match wins.
    #[serde(default)]
    pub templates: Vec<TemplateConfig>,
    /// Chat messages per subscriber and window; the rest are summed up in
    /// one digest message when the window ends (an event storm must not
    /// bury a person's chat window).
    #[serde(default = "default_chat_rate")]
    pub max_per_minute: u32,
    /// Length of that window in seconds.
    #[serde(default = "default_chat_window")]
    pub window_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateConfig {
    /// Node patterns (syntax: `crate::node_pattern`, documented in
    /// herald.example.toml).
    pub nodes: Vec<String>,
    /// e.g. `{type} {data.app} by {data.user}`.
    pub template: String,
}

fn yes() -> bool {
    true
}
fn default_max_body() -> usize {
    400
}
fn default_chat_rate() -> u32 {
    30
}
fn default_chat_window() -> u64 {
    60
}

impl Default for ChatConfig {
    fn default() -> Self {
        ChatConfig {
            commands: true,
            max_body_chars: default_max_body(),
            templates: Vec::new(),
            max_per_minute: default_chat_rate(),
            window_secs: default_chat_window(),
        }
    }
}

impl ChatConfig {
    /// Every problem of `[chat]`: patterns, templates, the length limit
    /// (`check-config` lists them all).
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.max_body_chars < 16 {
            problems.push("chat.max_body_chars must be at least 16".into());
        }
        if self.max_per_minute == 0 || self.window_secs == 0 {
            problems.push("chat.max_per_minute and chat.window_secs must be > 0".into());
        }
        for t in &self.templates {
            if t.nodes.is_empty() {
                problems.push("chat.templates: every template needs nodes".into());
            }
            problems.extend(NodePattern::problems("chat.templates", &t.nodes));
            if let Err(e) = Template::parse(&t.template) {
                problems.push(format!("chat.templates: {e}"));
            }
        }
        problems
    }
}
