//! Why a write to one of the two SQLite writers (the capture store, the relay's queue) was not
//! made durable: one error for both, so callers branch on the same variants.

use std::fmt;

/// Which SQLite writer a [`WriteError`] comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Writer {
    /// The capture store (`webhook-dev.sqlite3`).
    Store,
    /// The relay's queue (`relay-queue.sqlite3`, or its PostgreSQL equivalent).
    RelayQueue,
}

impl fmt::Display for Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Writer::Store => "the store",
            Writer::RelayQueue => "the relay queue",
        })
    }
}

/// Why a write could not be made durable.
#[derive(Clone, Debug, thiserror::Error)]
pub enum WriteError {
    /// The writer has shut down.
    #[error("{0} is closed")]
    Closed(Writer),
    /// The database refused the write.
    #[error("{0} could not write: {1}")]
    Write(Writer, String),
}
