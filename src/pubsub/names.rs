//! The one rule for node names and item IDs, whatever the entry point
//! (XMPP request, HTTP ingest, chat commands, relay config): 1 to
//! [`MAX_NAME_BYTES`] bytes of UTF-8, no control characters and no XML
//! non-characters. The core's entry points take [`NodeName`] and
//! [`ItemId`], which only [`NodeName::new`] / [`ItemId::new`] build (through
//! [`check_node`] / [`check_item_id`]), so no caller reaches the core
//! without the check. Adapters translate [`NameError`] into their own error
//! (XMPP `bad-request`, HTTP 400 `bad_node` / `bad_item_id`).

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

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

/// Defines a checked name type: built only through its rule, read as `&str`.
macro_rules! checked_name {
    ($(#[$doc:meta])* $name:ident, $rule:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The name, if it passes the rule.
            pub fn new(name: impl Into<String>) -> Result<Self, NameError> {
                let name = name.into();
                $rule(&name)?;
                Ok($name(name))
            }

            /// A name the core derives from a checked one (such as a
            /// dead-letter node's), or reads back from its own store: it
            /// was checked when it first came in, so it is not again.
            pub(in crate::pubsub) fn trusted(name: impl Into<String>) -> Self {
                $name(name.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl TryFrom<String> for $name {
            type Error = NameError;
            fn try_from(name: String) -> Result<Self, NameError> {
                $name::new(name)
            }
        }

        /// Test literals: `"node".into()` (panics on a name the rule refuses).
        #[cfg(test)]
        impl From<&str> for $name {
            fn from(name: &str) -> Self {
                $name::new(name).expect("a test name that passes the rule")
            }
        }

        impl From<$name> for String {
            fn from(name: $name) -> String {
                name.0
            }
        }
    };
}

checked_name!(
    /// A node name that passed [`check_node`].
    NodeName,
    check_node
);
checked_name!(
    /// An item ID that passed [`check_item_id`].
    ItemId,
    check_item_id
);

/// Test literals as node names (panics on a name the rule refuses).
#[cfg(test)]
pub fn nn(name: impl AsRef<str>) -> NodeName {
    NodeName::from(name.as_ref())
}

/// Test literals as item IDs (panics on a name the rule refuses).
#[cfg(test)]
pub fn iid(id: impl AsRef<str>) -> ItemId {
    ItemId::from(id.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_over_long_name_cannot_become_a_node_name() {
        let long = "n".repeat(MAX_NAME_BYTES + 1);
        assert_eq!(
            NodeName::new(long.as_str()),
            Err(NameError::Length {
                kind: NameKind::Node,
                len: MAX_NAME_BYTES + 1
            })
        );
        assert!(
            NodeName::try_from(long).is_err(),
            "TryFrom<String> checks too"
        );
        assert!(NodeName::new("").is_err());
        assert!(NodeName::new("a\nb").is_err());
        let ok = NodeName::new("n".repeat(MAX_NAME_BYTES)).unwrap();
        assert_eq!(ok.len(), MAX_NAME_BYTES, "reads as the &str it holds");
        assert!(ItemId::new("é".repeat(129)).is_err());
        assert_eq!(ItemId::new("item-1").unwrap(), "item-1");
    }

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
