//! Body templates: text with `{path}` placeholders, `{{` and `}}` for
//! literal braces. Placeholders are resolved by a lookup function (see
//! `payload.rs`); a missing value renders as `?`.

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(String),
}

impl Template {
    /// Parses `text`; an unclosed `{`, a stray `}` or an empty `{}` is an
    /// error naming the position.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|p| p.1) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|p| p.1) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let name: String = chars
                        .by_ref()
                        .map(|(_, c)| c)
                        .take_while(|c| *c != '}')
                        .collect();
                    let closed = text[at..].contains('}');
                    if !closed || name.trim().is_empty() || name.contains('{') {
                        return Err(format!("template {text:?}: bad placeholder at {at}"));
                    }
                    parts.push(Part::Text(std::mem::take(&mut literal)));
                    parts.push(Part::Field(name.trim().to_owned()));
                }
                '}' => return Err(format!("template {text:?}: stray '}}' at {at}")),
                c => literal.push(c),
            }
        }
        parts.push(Part::Text(literal));
        parts.retain(|p| !matches!(p, Part::Text(t) if t.is_empty()));
        Ok(Template { parts })
    }

    /// The text with each placeholder replaced by `lookup(path)`, or `?`.
    pub fn render(&self, lookup: impl Fn(&str) -> Option<String>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Field(f) => out.push_str(lookup(f).as_deref().unwrap_or("?")),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(path: &str) -> Option<String> {
        match path {
            "type" => Some("app.created".into()),
            "data.app" => Some("shiny".into()),
            _ => None,
        }
    }

    #[test]
    fn placeholders_are_replaced_and_missing_ones_marked() {
        let t = Template::parse("{type} {data.app} by {data.user}").unwrap();
        assert_eq!(t.render(lookup), "app.created shiny by ?");
    }

    #[test]
    fn doubled_braces_are_literal() {
        let t = Template::parse("{{x}} {type}").unwrap();
        assert_eq!(t.render(lookup), "{x} app.created");
    }

    #[test]
    fn malformed_templates_are_rejected() {
        for bad in ["{type", "a } b", "{}", "{ {a}"] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }
}
