//! The one rule for node names and item IDs, whatever the entry point
//! (XMPP request, HTTP ingest): 1 to [`MAX_NAME_BYTES`] bytes of UTF-8,
//! no control characters and no XML non-characters. Adapters call
//! [`check_node`] / [`check_item_id`] and translate [`NameError`] into their
//! own error (XMPP `bad-request`, HTTP 400 `bad_node` / `bad_item_id`).

use std::fmt;

/// Longest node name or item ID accepted, in bytes.
pub const MAX_NAME_BYTES: usize = 256;

/// Which kind of name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Node,
    ItemId,
}

/// Why a node name or item ID was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// Empty, or longer than [`MAX_NAME_BYTES`] (`len` in bytes).
    Length { kind: NameKind, len: usize },
    /// Contains a control character or U+FFFE / U+FFFF.
    ControlCharacter { kind: NameKind },
}

impl NameError {
    pub fn kind(&self) -> NameKind {
        match self {
            NameError::Length { kind, .. } | NameError::ControlCharacter { kind } => *kind,
        }
    }
}

impl fmt::Display for NameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameKind::Node => "node name",
            NameKind::ItemId => "item ID",
        })
    }
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::Length { kind, len } => write!(
                f,
                "the {kind} must be 1 to {MAX_NAME_BYTES} bytes (it has {len})"
            ),
            NameError::ControlCharacter { kind } => {
                write!(f, "the {kind} must not contain control characters")
            }
        }
    }
}

impl std::error::Error for NameError {}

/// Checks a node name.
pub fn check_node(name: &str) -> Result<(), NameError> {
    check(NameKind::Node, name)
}

/// Checks an item ID.
pub fn check_item_id(id: &str) -> Result<(), NameError> {
    check(NameKind::ItemId, id)
}

/// Checks a name of either kind.
pub fn check(kind: NameKind, name: &str) -> Result<(), NameError> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        return Err(NameError::Length {
            kind,
            len: name.len(),
        });
    }
    if name
        .chars()
        .any(|c| c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}')
    {
        return Err(NameError::ControlCharacter { kind });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_bytes_from_one_to_the_limit() {
        assert!(check_node("a").is_ok());
        assert!(check_node(&"x".repeat(MAX_NAME_BYTES)).is_ok());
        assert_eq!(
            check_node(&"x".repeat(MAX_NAME_BYTES + 1)),
            Err(NameError::Length {
                kind: NameKind::Node,
                len: MAX_NAME_BYTES + 1
            })
        );
        // 129 two-byte characters: 258 bytes.
        assert!(check_item_id(&"é".repeat(129)).is_err());
        assert!(check_item_id("").is_err());
    }

    #[test]
    fn control_characters_are_refused() {
        for bad in ["a\nb", "\0", "x\u{7f}", "\u{FFFE}"] {
            assert_eq!(
                check_item_id(bad),
                Err(NameError::ControlCharacter {
                    kind: NameKind::ItemId
                }),
                "{bad:?}"
            );
        }
        assert!(check_node("billing/invoices.paid ü").is_ok());
    }

    #[test]
    fn the_message_names_the_limit() {
        let e = check_node(&"x".repeat(300)).unwrap_err();
        assert_eq!(e.kind(), NameKind::Node);
        assert!(e.to_string().contains("256"), "{e}");
    }
}
