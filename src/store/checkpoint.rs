//! Moves committed pages from the WAL into the database file on its own thread, so the disk
//! flushes a checkpoint needs never sit between a request and its answer.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use rusqlite::Connection;

/// How often committed WAL pages are checkpointed.
const INTERVAL: Duration = Duration::from_millis(500);

/// Checkpoints every [`INTERVAL`] until `stop` fires or closes, then truncates the WAL.
pub(super) fn run(conn: Connection, stop: Receiver<()>) {
    while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(INTERVAL) {
        checkpoint(&conn, "PASSIVE");
    }
    checkpoint(&conn, "TRUNCATE");
}

fn checkpoint(conn: &Connection, mode: &str) {
    let outcome = conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
        row.get::<_, i64>(0)
    });
    if let Err(err) = outcome {
        tracing::warn!("store checkpoint ({mode}) failed: {err}");
    }
}
