//! Moves committed pages from the WAL into the database file on its own thread, so the disk
//! flushes a checkpoint needs never sit between a request and its answer.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use rusqlite::Connection;

/// How often committed WAL pages are checkpointed.
const INTERVAL: Duration = Duration::from_millis(500);

/// The size the WAL file is cut back to when SQLite starts it over, which it does at the first
/// commit after a checkpoint has caught up with the last one. A passive checkpoint never holds
/// writers back, so under unbroken load it does not catch up and the WAL keeps growing until the
/// load pauses; a restarting checkpoint, which would bound it, held every commit up for about
/// 50 ms each time (measured), so it is not used.
pub(super) const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

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
