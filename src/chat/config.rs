//! `[chat]` configuration: chat commands and readable bodies.

use serde::Deserialize;

use super::pattern;
use super::template::Template;

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
    /// Node names or patterns (`apps`, `apps*`, `*`).
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
    /// Checks patterns, templates and the length limit.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_body_chars < 16 {
            return Err("chat.max_body_chars must be at least 16".into());
        }
        if self.max_per_minute == 0 || self.window_secs == 0 {
            return Err("chat.max_per_minute and chat.window_secs must be > 0".into());
        }
        for t in &self.templates {
            if t.nodes.is_empty() {
                return Err("chat.templates: every template needs nodes".into());
            }
            for p in &t.nodes {
                pattern::validate(p).map_err(|e| format!("chat.templates: {e}"))?;
            }
            Template::parse(&t.template).map_err(|e| format!("chat.templates: {e}"))?;
        }
        Ok(())
    }
}
