//! Moves committed pages from the WAL into the database file on its own thread, so the disk
//! flushes a checkpoint needs never sit between a request and its answer; and gives the disk
//! space of a grown WAL back once writes have stopped.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use rusqlite::Connection;

/// How often committed WAL pages are checkpointed.
const INTERVAL: Duration = Duration::from_millis(500);

/// A WAL file larger than this is truncated once a whole interval has passed without a commit.
///
/// A passive checkpoint never holds commits back, so under unbroken load it does not catch up
/// and the WAL grows until the load pauses; SQLite then writes it over from its start, but the
/// file keeps its size. Truncating it, or bounding it with a restarting checkpoint, while commits
/// go on stalled them for tens of milliseconds (measured), so it waits for a quiet moment.
const WAL_KEPT: u64 = 64 * 1024 * 1024;

/// Checkpoints every [`INTERVAL`] until `stop` fires or closes, then truncates the WAL.
pub(super) fn run(conn: Connection, stop: Receiver<()>) {
    run_with(conn, stop, INTERVAL, WAL_KEPT);
}

fn run_with(conn: Connection, stop: Receiver<()>, interval: Duration, wal_kept: u64) {
    let wal = conn.path().map(|db| format!("{db}-wal"));
    let mut version_before = None;
    while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(interval) {
        let Some((frames, copied)) = checkpoint(&conn, "PASSIVE") else {
            continue;
        };
        // Changes whenever another connection has committed.
        let version = conn
            .query_row("PRAGMA data_version", [], |row| row.get::<_, i64>(0))
            .ok();
        let quiet = frames == copied && version.is_some() && version == version_before;
        version_before = version;
        let size = wal
            .as_ref()
            .and_then(|wal| std::fs::metadata(wal).ok())
            .map_or(0, |meta| meta.len());
        if quiet && size > wal_kept {
            truncate_unless_busy(&conn);
        }
    }
    checkpoint(&conn, "TRUNCATE");
}

/// Truncates the WAL, unless a commit is under way: then the next quiet interval tries again.
fn truncate_unless_busy(conn: &Connection) {
    super::without_waiting_for_locks(conn, || checkpoint(conn, "TRUNCATE"));
}

/// Runs a checkpoint; the frames in the WAL and the frames copied into the database, unless it
/// failed.
fn checkpoint(conn: &Connection, mode: &str) -> Option<(i64, i64)> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
        Ok((row.get(1)?, row.get(2)?))
    })
    .inspect_err(|err| tracing::warn!("store checkpoint ({mode}) failed: {err}"))
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wal_size(db: &std::path::Path) -> u64 {
        std::fs::metadata(format!("{}-wal", db.display())).map_or(0, |m| m.len())
    }

    #[test]
    fn a_grown_wal_is_truncated_once_writes_stop_and_not_before() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        let writer = Connection::open(&db).unwrap();
        writer.pragma_update(None, "journal_mode", "WAL").unwrap();
        writer.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        writer.execute_batch("CREATE TABLE t (b BLOB)").unwrap();
        let insert = || {
            writer
                .execute("INSERT INTO t (b) VALUES (?1)", [vec![7u8; 4000]])
                .unwrap()
        };
        // A burst grows the WAL past what is kept.
        for _ in 0..300 {
            insert();
        }
        let (stop, stopped) = std::sync::mpsc::channel();
        let checkpointer = Connection::open(&db).unwrap();
        let checkpoints = std::thread::spawn(move || {
            run_with(checkpointer, stopped, Duration::from_millis(20), 100 * 4096)
        });
        // Writes go on, never quiet for a whole interval: the file is left alone.
        let mut smallest = u64::MAX;
        for _ in 0..40 {
            insert();
            std::thread::sleep(Duration::from_millis(5));
            smallest = smallest.min(wal_size(&db));
        }
        assert!(smallest > 100 * 4096, "truncated while busy: {smallest}");
        // Quiet: within a few intervals the file is given back.
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(wal_size(&db), 0);
        insert();
        stop.send(()).unwrap();
        checkpoints.join().unwrap();
        let count: i64 = writer
            .query_row("SELECT count(*) FROM t", [], |row| row.get(0))
            .unwrap();
        assert_eq!(count, 341);
    }
}
