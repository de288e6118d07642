//! Chat commands as typed values, parsed from a message body.

use crate::pubsub::NodeName;

/// Items `last` shows when no count is given, and at most.
pub const LAST_DEFAULT: usize = 5;
pub const LAST_MAX: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    List,
    Subscribe(NodeName),
    Unsubscribe(NodeName),
    /// Node, items to show (capped at `LAST_MAX`), items asked for.
    Last(NodeName, usize, usize),
}

/// Parses a body: the first word (any case) names the command. The error
/// is the readable answer.
pub fn parse(body: &str) -> Result<Command, String> {
    let words: Vec<&str> = body.split_whitespace().collect();
    let Some((first, args)) = words.split_first() else {
        return Err("Send \"help\" for the list of commands.".into());
    };
    let name = first.to_lowercase();
    match (name.as_str(), args) {
        ("help" | "?", _) => Ok(Command::Help),
        ("list", []) => Ok(Command::List),
        ("subscribe", [node]) => Ok(Command::Subscribe(node_name(node)?)),
        ("unsubscribe", [node]) => Ok(Command::Unsubscribe(node_name(node)?)),
        ("last", [node]) => Ok(Command::Last(node_name(node)?, LAST_DEFAULT, LAST_DEFAULT)),
        ("last", [node, n]) => match n.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(Command::Last(node_name(node)?, n.min(LAST_MAX), n)),
            _ => Err(format!("\"{n}\" is not a count: try \"last {node} 5\".")),
        },
        ("list" | "subscribe" | "unsubscribe" | "last", _) => Err(format!(
            "Usage: {}. Send \"help\" for all commands.",
            usage(&name)
        )),
        _ => Err(format!(
            "Unknown command \"{first}\". Send \"help\" for the list of commands."
        )),
    }
}

/// A command's node argument, under the same name rule as every entry
/// point (`pubsub/names.rs`).
fn node_name(node: &str) -> Result<NodeName, String> {
    NodeName::new(node).map_err(|e| format!("Refused: {e}."))
}

fn usage(name: &str) -> &'static str {
    match name {
        "list" => "list",
        "subscribe" => "subscribe NODE",
        "unsubscribe" => "unsubscribe NODE",
        _ => "last NODE [N]",
    }
}

/// The answer to `help`.
pub fn help_text() -> String {
    [
        "Herald commands:",
        "  list                 nodes you can read (* = you get them here,",
        "                       + = through a collection)",
        "  subscribe NODE       receive NODE's new items as chat messages;",
        "                       a collection: the items of every node in it",
        "  unsubscribe NODE     stop receiving them",
        &format!(
            "  last NODE [N]        the N newest items (default {LAST_DEFAULT}, at most {LAST_MAX})"
        ),
        "  help                 this text",
    ]
    .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_case_insensitively() {
        assert_eq!(parse(" HELP "), Ok(Command::Help));
        assert_eq!(parse("list"), Ok(Command::List));
        assert_eq!(
            parse("Subscribe apps"),
            Ok(Command::Subscribe("apps".into()))
        );
        assert_eq!(
            parse("unsubscribe apps"),
            Ok(Command::Unsubscribe("apps".into()))
        );
    }

    #[test]
    fn node_names_follow_the_name_rule() {
        let long = "n".repeat(crate::pubsub::names::MAX_NAME_BYTES + 1);
        for cmd in ["subscribe", "unsubscribe", "last"] {
            let err = parse(&format!("{cmd} {long}")).unwrap_err();
            assert!(
                err.starts_with("Refused: the node name must be 1 to 256 bytes"),
                "{err}"
            );
        }
        let err = parse(&format!("last {long} 3")).unwrap_err();
        assert!(err.contains("256"), "{err}");
    }

    #[test]
    fn last_takes_an_optional_capped_count() {
        assert_eq!(
            parse("last apps"),
            Ok(Command::Last("apps".into(), LAST_DEFAULT, LAST_DEFAULT))
        );
        assert_eq!(parse("last apps 3"), Ok(Command::Last("apps".into(), 3, 3)));
        assert_eq!(
            parse("last apps 500"),
            Ok(Command::Last("apps".into(), LAST_MAX, 500))
        );
        assert!(parse("last apps zero").unwrap_err().contains("not a count"));
        assert!(parse("last apps 0").is_err());
    }

    #[test]
    fn bad_input_gets_a_readable_hint() {
        assert!(
            parse("subscribe")
                .unwrap_err()
                .contains("Usage: subscribe NODE")
        );
        assert!(parse("subscribe a b").unwrap_err().contains("Usage"));
        assert!(
            parse("dance")
                .unwrap_err()
                .contains("Unknown command \"dance\"")
        );
        assert!(parse("   ").unwrap_err().contains("help"));
    }
}
