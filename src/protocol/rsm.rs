//! XEP-0059 result sets in replies: the `<set/>` that tells the client
//! where a page starts and ends and how many there are in all.

use super::ns;
use tokio_xmpp::minidom::Element;

/// `<set>` with `<first/>` and `<last/>` (omitted for an empty page, §2.5)
/// and `<count/>`.
pub fn set(first: Option<String>, last: Option<String>, count: u64) -> Element {
    let text = |name: &str, v: String| Element::builder(name, ns::RSM).append(v);
    let mut b = Element::builder("set", ns::RSM);
    if let (Some(first), Some(last)) = (first, last) {
        b = b.append(text("first", first)).append(text("last", last));
    }
    b.append(text("count", count.to_string())).build()
}
