//! Small conveniences over minidom 0.19, whose builder wants attribute
//! names as checked `NcName`s.

use tokio_xmpp::minidom::rxml::NcName;
use tokio_xmpp::minidom::{ElementBuilder, IntoAttributeValue};

pub trait BuilderExt {
    /// Sets attribute `name`; names are literals in our code, so an invalid
    /// one is a programming error caught by the debug assertion and tests.
    fn a<V: IntoAttributeValue>(self, name: &str, value: V) -> Self;
}

impl BuilderExt for ElementBuilder {
    fn a<V: IntoAttributeValue>(self, name: &str, value: V) -> Self {
        match NcName::try_from(name) {
            Ok(name) => self.attr(name, value),
            Err(_) => {
                debug_assert!(false, "invalid attribute name {name:?}");
                self
            }
        }
    }
}

// ---- Shape limits on XML that enters -------------------------------------
//
// minidom parses with an explicit stack, but clones, serializes, compares
// and drops its trees recursively, so a payload nested a few thousand deep
// overflows the stack wherever it is next touched (a reply, a notification,
// a restart reading it back). Every XML text that becomes a tree is first
// scanned flat here, and a tree that arrived already built (an XMPP
// publish, bounded by the link's own depth cap) is walked with a heap stack.

use std::sync::atomic::{AtomicUsize, Ordering};
use tokio_xmpp::minidom::Element;
use tokio_xmpp::minidom::rxml::{self, Parse};

/// Depth (the root element is depth 1) and element-count limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XmlLimits {
    pub max_depth: usize,
    pub max_elements: usize,
}

pub use crate::limits::{
    DEFAULT_MAX_PAYLOAD_DEPTH, DEFAULT_MAX_PAYLOAD_ELEMENTS, MAX_PAYLOAD_DEPTH_CEILING,
};
/// Payloads read back from the store: whatever the current limit (lowering
/// it must not hide old items), never deeper than the ceiling, so items
/// stored before depth was checked cannot crash a reader.
pub const STORED_PAYLOAD_LIMITS: XmlLimits = XmlLimits {
    max_depth: MAX_PAYLOAD_DEPTH_CEILING,
    max_elements: usize::MAX,
};

// Set once at startup from `limits.*`; adapters read them per payload.
static MAX_DEPTH: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_PAYLOAD_DEPTH);
static MAX_ELEMENTS: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_PAYLOAD_ELEMENTS);

/// Installs the configured payload limits (startup).
pub fn set_payload_limits(limits: XmlLimits) {
    MAX_DEPTH.store(limits.max_depth, Ordering::Relaxed);
    MAX_ELEMENTS.store(limits.max_elements, Ordering::Relaxed);
}

/// The payload limits in force.
pub fn payload_limits() -> XmlLimits {
    XmlLimits {
        max_depth: MAX_DEPTH.load(Ordering::Relaxed),
        max_elements: MAX_ELEMENTS.load(Ordering::Relaxed),
    }
}

/// Why an XML text or tree was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XmlShapeError {
    /// Not well-formed (the parser's message).
    Malformed(String),
    /// No element at all.
    Empty,
    /// Text or markup after the root element.
    TrailingContent,
    /// Nested deeper than `limit`.
    TooDeep { limit: usize },
    /// More than `limit` elements.
    TooManyElements { limit: usize },
}

impl std::fmt::Display for XmlShapeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            XmlShapeError::Malformed(e) => write!(f, "{e}"),
            XmlShapeError::Empty => f.write_str("there is no XML element"),
            XmlShapeError::TrailingContent => f.write_str(
                "there is text or markup after the root element: send exactly one element",
            ),
            XmlShapeError::TooDeep { limit } => write!(
                f,
                "the XML is nested more than {limit} elements deep (limits.max_payload_depth)"
            ),
            XmlShapeError::TooManyElements { limit } => write!(
                f,
                "the XML has more than {limit} elements (limits.max_payload_elements)"
            ),
        }
    }
}

impl std::error::Error for XmlShapeError {}

/// Checks, without building a tree, that `text` is one well-formed element
/// (whitespace around it allowed) within `limits`.
pub fn check_document(text: &str, limits: &XmlLimits) -> Result<(), XmlShapeError> {
    let mut parser = rxml::Parser::default();
    let mut buf = text.trim().as_bytes();
    let (mut depth, mut elements, mut root_closed) = (0usize, 0usize, false);
    loop {
        let ev = match parser.parse(&mut buf, true) {
            Ok(Some(ev)) => ev,
            Ok(None) => break,
            // Whatever the parser dislikes after the root is trailing junk.
            Err(_) if root_closed => return Err(XmlShapeError::TrailingContent),
            Err(rxml::error::EndOrError::NeedMoreData) => {
                return Err(XmlShapeError::Malformed("unexpected end of the XML".into()));
            }
            Err(rxml::error::EndOrError::Error(e)) => {
                return Err(XmlShapeError::Malformed(e.to_string()));
            }
        };
        match ev {
            rxml::Event::StartElement(..) => {
                if root_closed {
                    return Err(XmlShapeError::TrailingContent);
                }
                depth += 1;
                elements += 1;
                if depth > limits.max_depth {
                    return Err(XmlShapeError::TooDeep {
                        limit: limits.max_depth,
                    });
                }
                if elements > limits.max_elements {
                    return Err(XmlShapeError::TooManyElements {
                        limit: limits.max_elements,
                    });
                }
            }
            rxml::Event::EndElement(_) => {
                depth = depth.saturating_sub(1);
                root_closed = depth == 0;
            }
            rxml::Event::Text(_, t) if depth == 0 && !t.trim().is_empty() => {
                return Err(XmlShapeError::TrailingContent);
            }
            _ => {}
        }
    }
    if elements == 0 {
        return Err(XmlShapeError::Empty);
    }
    Ok(())
}

/// Checks a tree that is already built (bounded by the link's depth cap),
/// walking it with a heap stack rather than recursion.
pub fn check_element(root: &Element, limits: &XmlLimits) -> Result<(), XmlShapeError> {
    let mut stack = vec![(root, 1usize)];
    let mut elements = 0usize;
    while let Some((el, depth)) = stack.pop() {
        if depth > limits.max_depth {
            return Err(XmlShapeError::TooDeep {
                limit: limits.max_depth,
            });
        }
        elements += 1;
        if elements > limits.max_elements {
            return Err(XmlShapeError::TooManyElements {
                limit: limits.max_elements,
            });
        }
        stack.extend(el.children().map(|c| (c, depth + 1)));
    }
    Ok(())
}

/// Parses `text` into an element once [`check_document`] accepted it.
pub fn parse_bounded(text: &str, limits: &XmlLimits) -> Result<Element, XmlShapeError> {
    check_document(text, limits)?;
    text.trim()
        .parse()
        .map_err(|e: tokio_xmpp::minidom::Error| XmlShapeError::Malformed(e.to_string()))
}

/// A stored payload back into an element, within [`STORED_PAYLOAD_LIMITS`].
pub fn parse_stored(text: &str) -> Result<Element, XmlShapeError> {
    // Depth is at most the number of `<` in the text (and stored payloads
    // have no element limit): a payload with fewer than the depth limit
    // (almost all) needs no shape scan before the parse, so a stored item
    // is read once.
    let tags = text.bytes().filter(|b| *b == b'<').count();
    if tags <= STORED_PAYLOAD_LIMITS.max_depth {
        return text
            .trim()
            .parse()
            .map_err(|e: tokio_xmpp::minidom::Error| XmlShapeError::Malformed(e.to_string()));
    }
    parse_bounded(text, &STORED_PAYLOAD_LIMITS)
}

#[cfg(test)]
mod shape_tests {
    use super::*;

    const L: XmlLimits = XmlLimits {
        max_depth: 32,
        max_elements: 100,
    };

    fn nested(depth: usize) -> String {
        let mut s = String::with_capacity(depth * 16);
        s.push_str("<a xmlns='urn:x'>");
        for _ in 1..depth {
            s.push_str("<a>");
        }
        for _ in 0..depth {
            s.push_str("</a>");
        }
        s
    }

    #[test]
    fn one_element_within_the_limits_passes() {
        assert_eq!(check_document("  <a xmlns='u'><b/>t</a>\n", &L), Ok(()));
        assert_eq!(check_document(&nested(32), &L), Ok(()));
    }

    #[test]
    fn depth_is_refused_before_any_tree_exists() {
        assert_eq!(
            check_document(&nested(33), &L),
            Err(XmlShapeError::TooDeep { limit: 32 })
        );
        // Far beyond what recursion survives: the scan is flat.
        assert_eq!(
            check_document(&nested(200_000), &L),
            Err(XmlShapeError::TooDeep { limit: 32 })
        );
    }

    #[test]
    fn element_count_is_limited() {
        let many = format!("<a xmlns='u'>{}</a>", "<b/>".repeat(100));
        assert_eq!(
            check_document(&many, &L),
            Err(XmlShapeError::TooManyElements { limit: 100 })
        );
    }

    #[test]
    fn anything_after_the_root_is_refused() {
        for bad in [
            "<a xmlns='u'/><b xmlns='u'/>",
            "<a xmlns='u'/>trailing",
            "<a xmlns='u'/><",
            "<a xmlns='u'/></a>",
        ] {
            assert_eq!(
                check_document(bad, &L),
                Err(XmlShapeError::TrailingContent),
                "{bad}"
            );
        }
        assert!(matches!(
            check_document("<a xmlns='u'>", &L),
            Err(XmlShapeError::Malformed(_))
        ));
        assert!(matches!(
            check_document("", &L),
            Err(XmlShapeError::Empty | XmlShapeError::Malformed(_))
        ));
    }

    #[test]
    fn built_trees_are_walked_without_recursion() {
        let el: Element = nested(40).parse().unwrap();
        assert_eq!(
            check_element(&el, &L),
            Err(XmlShapeError::TooDeep { limit: 32 })
        );
        let ok: Element = nested(32).parse().unwrap();
        assert_eq!(check_element(&ok, &L), Ok(()));
    }

    #[test]
    fn stored_poison_is_refused_not_crashed_on() {
        // What an unfixed Herald accepted and stored: reading it back must
        // not recurse (a tree this deep overflows when dropped).
        let poison = nested(100_000);
        assert_eq!(
            parse_stored(&poison),
            Err(XmlShapeError::TooDeep {
                limit: MAX_PAYLOAD_DEPTH_CEILING
            })
        );
        assert!(parse_stored("<json xmlns='urn:xmpp:json:0'>{}</json>").is_ok());
    }

    #[test]
    fn readers_of_stored_payloads_skip_poison() {
        // Every path that renders a stored payload (items replies, MAM,
        // notifications, chat bodies) goes through these two.
        let poison = nested(100_000);
        assert!(crate::protocol::notify::stored_payload("p", &poison).is_none());
        assert!(matches!(
            crate::chat::payload::Payload::parse(Some(&poison)),
            crate::chat::payload::Payload::None
        ));
        let fine = nested(MAX_PAYLOAD_DEPTH_CEILING);
        assert!(crate::protocol::notify::stored_payload("f", &fine).is_some());
    }
}
