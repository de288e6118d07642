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

impl Default for ChatConfig {
    fn default() -> Self {
        ChatConfig {
            commands: true,
            max_body_chars: default_max_body(),
            templates: Vec::new(),
        }
    }
}

impl ChatConfig {
    /// Checks patterns, templates and the length limit.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_body_chars < 16 {
            return Err("chat.max_body_chars must be at least 16".into());
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
