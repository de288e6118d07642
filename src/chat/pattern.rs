//! Node name patterns of the relay routes and body templates: a name
//! matches exactly, `prefix*` matches every name starting with `prefix`,
//! and `*` matches everything.

/// True when `node` matches `pattern`.
pub fn matches(pattern: &str, node: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => node.starts_with(prefix),
        None => pattern == node,
    }
}

/// True when `node` matches any of `patterns`.
pub fn matches_any(patterns: &[String], node: &str) -> bool {
    patterns.iter().any(|p| matches(p, node))
}

/// A pattern is usable when it is non-empty and `*` appears only at the end.
pub fn validate(pattern: &str) -> Result<(), String> {
    let body = pattern.strip_suffix('*').unwrap_or(pattern);
    if pattern.is_empty() || body.contains('*') {
        return Err(format!(
            "node pattern {pattern:?}: use a node name, \"prefix*\" or \"*\""
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_prefix_and_star() {
        assert!(matches("apps", "apps"));
        assert!(!matches("apps", "apps-eu"));
        assert!(matches("apps*", "apps-eu"));
        assert!(matches("apps*", "apps"));
        assert!(!matches("apps*", "domains"));
        assert!(matches("*", "anything"));
    }

    #[test]
    fn star_only_at_the_end() {
        assert!(validate("a*").is_ok());
        assert!(validate("*").is_ok());
        assert!(validate("a*b").is_err());
        assert!(validate("").is_err());
    }
}
