//! Readable bodies for items: the node's template if one matches, else a
//! default built from the payload; always one line, at most
//! `max_body_chars` characters.

use super::config::ChatConfig;
use super::payload::Payload;
use super::template::Template;
use crate::node_pattern::{self, NodePattern};
use crate::pubsub::Item;

/// Renders item bodies; built once from the config, shared by the relay
/// and chat delivery.
#[derive(Debug, Clone)]
pub struct BodyRenderer {
    templates: Vec<(Vec<NodePattern>, Template)>,
    max_chars: usize,
}

impl Default for BodyRenderer {
    fn default() -> Self {
        BodyRenderer {
            templates: Vec::new(),
            max_chars: 400,
        }
    }
}

impl BodyRenderer {
    /// From a validated config (templates that fail to parse are skipped;
    /// `ChatConfig::problems` reports them at startup).
    pub fn from_config(config: &ChatConfig) -> Self {
        let templates = (config.templates.iter())
            .filter_map(|t| {
                let nodes = NodePattern::parse_all(&t.nodes);
                Some((nodes, Template::parse(&t.template).ok()?))
            })
            .collect();
        BodyRenderer {
            templates,
            max_chars: config.max_body_chars,
        }
    }

    /// The readable body of `item` published on `node`.
    pub fn render(&self, node: &str, item: &Item) -> String {
        let payload = Payload::parse(item.payload.as_deref());
        let template = (self.templates.iter()).find(|(p, _)| node_pattern::matches_any(p, node));
        let text = match template {
            Some((_, t)) => t.render(|path| {
                payload
                    .lookup(path)
                    .or_else(|| item_field(node, item, path))
            }),
            None => default_body(node, item, &payload),
        };
        limit(&one_line(&text), self.max_chars)
    }
}

/// `node`, `id` and `publisher` when the payload has no such field.
fn item_field(node: &str, item: &Item, path: &str) -> Option<String> {
    match path {
        "node" => Some(node.to_owned()),
        "id" => Some(item.id.clone()),
        "publisher" => item.publisher.as_ref().map(|p| p.to_string()),
        _ => None,
    }
}

fn default_body(node: &str, item: &Item, payload: &Payload) -> String {
    let summary = payload.summary();
    if summary.is_empty() {
        return format!("[{node}] new item {}", item.id);
    }
    format!("[{node}] {summary}")
}

/// Control characters (newlines included) become spaces, runs collapse.
fn one_line(text: &str) -> String {
    let spaced = text.replace(|c: char| c.is_control(), " ");
    spaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `max` characters, the last one `…` when cut.
pub fn limit(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::super::config::TemplateConfig;
    use super::*;
    use std::sync::Arc;

    fn item(payload: Option<&str>) -> Item {
        Item {
            id: "i1".into(),
            seq: 1,
            publisher: Some("alice@localhost".parse().unwrap()),
            published_ms: 0,
            payload: payload.map(Arc::from),
        }
    }

    fn renderer(template: &str, max: usize) -> BodyRenderer {
        BodyRenderer::from_config(&ChatConfig {
            commands: true,
            max_body_chars: max,
            templates: vec![TemplateConfig {
                nodes: vec!["apps*".into()],
                template: template.into(),
            }],
            ..ChatConfig::default()
        })
    }

    const JSON: &str = r#"<json xmlns='urn:xmpp:json:0'>{"type":"app.created","data":{"app":"shiny","user":"alice"}}</json>"#;

    #[test]
    fn matching_node_uses_its_template() {
        let r = renderer("{type} {data.app} by {data.user}", 400);
        assert_eq!(
            r.render("apps-eu", &item(Some(JSON))),
            "app.created shiny by alice"
        );
    }

    #[test]
    fn template_falls_back_to_item_fields() {
        let r = renderer("{node}/{id} from {publisher}", 400);
        assert_eq!(
            r.render("apps", &item(Some(JSON))),
            "apps/i1 from alice@localhost"
        );
    }

    #[test]
    fn other_nodes_get_the_default_body() {
        let r = renderer("{type}", 400);
        let body = r.render("domains", &item(Some(JSON)));
        assert!(
            body.starts_with("[domains] type=app.created data="),
            "{body}"
        );
        let none = r.render("domains", &item(None));
        assert_eq!(none, "[domains] new item i1");
    }

    #[test]
    fn bodies_are_one_line_and_limited() {
        let r = renderer("{data.app}", 16);
        let long = r#"<json xmlns='urn:xmpp:json:0'>{"data":{"app":"a\nvery long application name"}}</json>"#;
        let body = r.render("apps", &item(Some(long)));
        assert_eq!(body.chars().count(), 16);
        assert!(body.ends_with('…') && !body.contains('\n'), "{body}");
    }
}
