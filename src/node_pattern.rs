//! Node name patterns: the one syntax of every `nodes` list in the config
//! file (`http.tokens.*.nodes`, `relay.rooms.nodes`,
//! `chat.templates.nodes`), documented once in `herald.example.toml`.
//!
//! A pattern without `*` is a node name and matches only that name; `*`
//! matches any run of characters, also none, anywhere in the pattern
//! (`apps*` matches `apps` and `apps-eu`, `billing.*` matches
//! `billing.invoices`, `*.events` matches `x.events`, `*` matches every
//! node). That is a superset of both older syntaxes (`prefix*` for relay
//! and chat, `*` anywhere for tokens), so old configs keep their meaning.
//! Refused when the config is loaded, because a reader could take them to
//! mean something else: an empty pattern, `**`, spaces at either end,
//! control characters, and `?`, `[`, `]`, `{`, `}` or `\` (special in
//! other glob syntaxes, literal here). A leaf module: it knows nothing of
//! the crate.

use std::fmt;

/// Characters other glob syntaxes give a meaning this one does not.
const GLOB_LOOKALIKES: &[char] = &['?', '[', ']', '{', '}', '\\'];

/// A checked pattern; see the module documentation for the syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePattern {
    text: String,
    /// The literal runs between the stars (one more than the stars).
    parts: Vec<String>,
}

impl NodePattern {
    /// Checks `text`; the error says what is wrong and how to write it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let refuse = |why: &str| Err(format!("node pattern {text:?}: {why}"));
        if text.is_empty() {
            return refuse("is empty; write a node name, a name with `*`, or `*` for every node");
        }
        if text.trim() != text {
            return refuse("starts or ends with spaces; node names rarely do, remove them");
        }
        if text.chars().any(char::is_control) {
            return refuse("contains a control character");
        }
        if text.contains("**") {
            return refuse("has `**`; one `*` already matches any run of characters");
        }
        if let Some(c) = text.chars().find(|c| GLOB_LOOKALIKES.contains(c)) {
            return refuse(&format!(
                "contains {c:?}: only `*` is special in Herald's patterns, and {c:?} would \
                 read as a wildcard or an escape from other glob syntaxes"
            ));
        }
        Ok(NodePattern {
            text: text.to_owned(),
            parts: text.split('*').map(str::to_owned).collect(),
        })
    }

    /// Checks every pattern of a `nodes` list; the problems found, each
    /// prefixed with `what` (the config key).
    pub fn problems<'a>(what: &str, patterns: impl IntoIterator<Item = &'a String>) -> Vec<String> {
        (patterns.into_iter())
            .filter_map(|p| NodePattern::parse(p).err())
            .map(|e| format!("{what}: {e}"))
            .collect()
    }

    /// The patterns of a list that parse (a validated config has no
    /// other kind; one that does not parse never matches, so it grants
    /// nothing).
    pub fn parse_all<'a>(patterns: impl IntoIterator<Item = &'a String>) -> Vec<NodePattern> {
        (patterns.into_iter())
            .filter_map(|p| NodePattern::parse(p).ok())
            .collect()
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True when `node` matches. Taking each middle run at its first
    /// occurrence is enough: a later one would only leave less room for
    /// the runs after it.
    pub fn matches(&self, node: &str) -> bool {
        let Some((first, rest)) = self.parts.split_first() else {
            return false;
        };
        let Some(mut tail) = node.strip_prefix(first.as_str()) else {
            return false;
        };
        let Some((last, middle)) = rest.split_last() else {
            return tail.is_empty();
        };
        for part in middle {
            match tail.find(part.as_str()) {
                Some(i) => tail = &tail[i + part.len()..],
                None => return false,
            }
        }
        tail.ends_with(last.as_str())
    }
}

/// True when `node` matches any of `patterns`.
pub fn matches_any(patterns: &[NodePattern], node: &str) -> bool {
    patterns.iter().any(|p| p.matches(node))
}

impl fmt::Display for NodePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, node: &str) -> bool {
        NodePattern::parse(pattern).unwrap().matches(node)
    }

    #[test]
    fn exact_prefix_and_star() {
        assert!(matches("apps", "apps"));
        assert!(!matches("apps", "apps-eu"));
        assert!(matches("apps*", "apps-eu"));
        assert!(matches("apps*", "apps"));
        assert!(!matches("apps*", "domains"));
        assert!(matches("*", "anything"));
        assert!(matches("*", ""));
    }

    #[test]
    fn star_anywhere() {
        assert!(matches("apps", "apps"));
        assert!(!matches("apps", "apps2"));
        assert!(matches("billing.*", "billing.invoices"));
        assert!(!matches("billing.*", "billing"));
        assert!(!matches("billing.*", "xbilling.a"));
        assert!(matches("*", "anything"));
        assert!(matches("a*c*e", "abcde"));
        assert!(!matches("a*c*e", "abcd"));
        assert!(matches("*.events", "x.events"));
        assert!(!matches("*.events", "x.events.old"));
        assert!(!matches("a*a", "a"));
        assert!(matches("a*a", "aa"));
        assert!(matches("a*b*b", "abb"));
        assert!(matches("*-eu-*", "apps-eu-1"));
        assert!(!matches("*-eu-*", "apps-us-1"));
    }

    #[test]
    fn prefix_star_means_what_it_meant_for_rooms_and_templates() {
        // The old relay/chat rule: `prefix*` is starts_with, else equality.
        for (pattern, node) in [
            ("apps*", "apps"),
            ("apps*", "apps/x"),
            ("apps*", "app"),
            ("ops", "ops"),
            ("ops", "ops2"),
            ("*", "x"),
        ] {
            let old = match pattern.strip_suffix('*') {
                Some(prefix) => node.starts_with(prefix),
                None => pattern == node,
            };
            assert_eq!(matches(pattern, node), old, "{pattern} vs {node}");
        }
    }

    #[test]
    fn what_was_valid_stays_valid() {
        for p in [
            "a*",
            "*",
            "apps",
            "billing.*",
            "a*c*e",
            "*.events",
            "jobs/dead-letter",
        ] {
            assert!(NodePattern::parse(p).is_ok(), "{p}");
        }
    }

    #[test]
    fn ambiguous_patterns_are_refused_with_a_reason() {
        for (p, says) in [
            ("", "empty"),
            (" apps*", "spaces"),
            ("apps* ", "spaces"),
            ("a**", "`**`"),
            ("app?", "'?'"),
            ("app[12]", "'['"),
            ("{a,b}", "'{'"),
            ("a\\*", "'\\\\'"),
            ("a\tb", "control"),
        ] {
            let err = NodePattern::parse(p).unwrap_err();
            assert!(err.contains(says), "{p:?}: {err}");
            assert!(err.starts_with("node pattern"), "{err}");
        }
    }

    #[test]
    fn problems_name_the_key_and_every_bad_pattern() {
        let list = vec!["ok*".to_owned(), "".to_owned(), "x?".to_owned()];
        let problems = NodePattern::problems("relay.rooms \"r@c\"", &list);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems
                .iter()
                .all(|p| p.starts_with("relay.rooms \"r@c\": "))
        );
        assert_eq!(NodePattern::parse_all(&list).len(), 1);
    }

    #[test]
    fn matches_any_of_a_list() {
        let list = NodePattern::parse_all(&["apps".to_owned(), "billing.*".to_owned()]);
        assert!(matches_any(&list, "apps"));
        assert!(matches_any(&list, "billing.x"));
        assert!(!matches_any(&list, "other"));
        assert!(!matches_any(&[], "apps"));
    }
}
