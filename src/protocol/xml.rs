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
