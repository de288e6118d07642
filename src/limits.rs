//! Size and shape limits shared by the config (its defaults and bounds)
//! and the code that enforces them (`protocol/`, `pubsub/`). A leaf
//! module: it depends on nothing, so neither side has to import the other.

/// Default `limits.max_payload_depth`.
pub const DEFAULT_MAX_PAYLOAD_DEPTH: usize = 32;
/// Default `limits.max_payload_elements`.
pub const DEFAULT_MAX_PAYLOAD_ELEMENTS: usize = 10_000;
/// Highest `limits.max_payload_depth` the config accepts: a payload plus
/// the elements around it (`iq/pubsub/publish/item`, `message/event/items/
/// item`, a MAM `result/forwarded/message/...`) must stay under the
/// component link's hard cap (`tokio_xmpp::xmlstream::MAX_STANZA_DEPTH`).
pub const MAX_PAYLOAD_DEPTH_CEILING: usize = 200;
/// Default `limits.max_stanza_bytes`: below the 1 MiB `max_stanza_size`
/// of the production listener snippet (ejabberd closes the component
/// stream on a bigger stanza).
pub const DEFAULT_MAX_STANZA_BYTES: usize = 960 * 1024;
/// What config validation keeps between `max_payload_bytes` and
/// `max_stanza_bytes`, so that one item of the largest allowed payload
/// always fits a stanza of its own with the longest addresses (RFC 7622:
/// 3071 bytes a JID) and a few SHIM headers.
pub const ENVELOPE_BYTES: usize = 16 * 1024;
