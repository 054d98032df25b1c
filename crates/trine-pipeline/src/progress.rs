//! How long stages say how far they are, without the library drawing anything itself.

/// Receives a long stage's progress: the CLI draws bars on stderr, the Python package and
/// tests stay silent. Called from one thread at a time, but may be shared across threads.
pub trait Progress: Sync {
    /// A stage of `total` items counted in `unit` (`docs`, `chunks`, `vectors`) begins.
    fn begin(&self, stage: &str, total: u64, unit: &str);
    /// The current stage has finished `done` items in all.
    fn set(&self, done: u64);
    /// The current stage has finished `n` more items.
    fn advance(&self, n: u64);
    /// The current stage is over.
    fn end(&self);
    /// A line worth telling the user (what was reused, how documents were split).
    fn note(&self, message: &str);
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn begin(&self, _: &str, _: u64, _: &str) {}
    fn set(&self, _: u64) {}
    fn advance(&self, _: u64) {}
    fn end(&self) {}
    fn note(&self, _: &str) {}
}
