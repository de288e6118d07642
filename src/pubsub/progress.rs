//! Progress of the core's long operations (a purge or delete of a large
//! node). The core runs on one thread and answers nothing while one runs,
//! so it reports each step to a [`Progress`] the adapter gives it (the
//! operations board the HTTP side reads without asking the core). The
//! core only says what it did; logging and keeping records are the
//! adapter's.

/// Where the core reports its long operations.
pub trait Progress: Send {
    /// `kind` (`"purge"`, `"delete"`) of `target` begins; `total` is how
    /// many items it expects to remove.
    fn begin(&self, kind: &'static str, target: &str, total: u64) -> Box<dyn Step>;
}

/// One running operation.
pub trait Step: Send {
    /// `done` items so far (monotonic).
    fn advance(&mut self, done: u64);
    /// The operation ended: how many items it removed, or why it failed.
    fn end(self: Box<Self>, result: Result<u64, String>);
}

/// The default: nobody listens (tests, tools).
pub struct Silent;

impl Progress for Silent {
    fn begin(&self, _: &'static str, _: &str, _: u64) -> Box<dyn Step> {
        Box::new(Silent)
    }
}

impl Step for Silent {
    fn advance(&mut self, _: u64) {}
    fn end(self: Box<Self>, _: Result<u64, String>) {}
}
