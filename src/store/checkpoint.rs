//! Moves committed pages from the WAL into the database file on its own thread, so the disk
//! flushes a checkpoint needs never sit between a request and its answer; keeps the WAL from
//! growing under unbroken load; and gives the disk space of a grown WAL back once writes stop.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use rusqlite::Connection;

/// Runs the given work while no commit can begin (it holds the writing connection).
pub(super) type HoldWrites = Box<dyn Fn(&mut dyn FnMut()) + Send>;

/// How often committed WAL pages are checkpointed.
const INTERVAL: Duration = Duration::from_millis(100);

/// A WAL file larger than this is truncated once a whole interval has passed without a commit.
const WAL_KEPT: u64 = 64 * 1024 * 1024;

/// Once the WAL holds more than this since it last started over, what the passive checkpoint
/// could not copy is copied while commits wait.
///
/// A passive checkpoint never holds commits back, so under unbroken load it never copies the
/// last frames, and SQLite starts the WAL over only once every frame is in the database: the
/// file grew by ~130 MB a second at full load. Copying just the frames committed while the
/// passive checkpoint ran, with commits held, lets the next commit start the WAL over, so it
/// stays near what a few intervals write. Truncating the file, or a restarting checkpoint, while
/// commits go on stalled them for tens of milliseconds (measured), so truncation waits for a
/// quiet moment.
const CATCH_UP_ABOVE: i64 = 4 * 1024 * 1024;

/// How the checkpointer paces itself.
struct Pace {
    interval: Duration,
    wal_kept: u64,
    catch_up_above: i64,
}

/// Checkpoints every [`INTERVAL`] (five times as often while the WAL is large) until `stop`
/// fires or closes, then truncates the WAL.
pub(super) fn run(conn: Connection, stop: Receiver<()>, hold_writes: HoldWrites) {
    let pace = Pace {
        interval: INTERVAL,
        wal_kept: WAL_KEPT,
        catch_up_above: CATCH_UP_ABOVE,
    };
    run_with(conn, stop, &pace, &hold_writes);
}

fn run_with(conn: Connection, stop: Receiver<()>, pace: &Pace, hold_writes: &HoldWrites) {
    let wal = conn.path().map(|db| format!("{db}-wal"));
    let page_size: i64 = conn
        .query_row("PRAGMA page_size", [], |row| row.get(0))
        .unwrap_or(4096);
    let mut version_before = None;
    let mut wait = pace.interval;
    while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(wait) {
        wait = pace.interval;
        let Some((frames, copied)) = checkpoint(&conn, "PASSIVE") else {
            continue;
        };
        // `frames` counts from the WAL's last start over; commits may have added more since.
        if frames * page_size > pace.catch_up_above {
            wait = pace.interval / 5;
            catch_up(
                &conn,
                frames,
                page_size,
                pace.catch_up_above / 4,
                hold_writes,
            );
        }
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
        if quiet && size > pace.wal_kept {
            truncate_unless_busy(&conn);
        }
    }
    checkpoint(&conn, "TRUNCATE");
}

/// Copies what commits added while the last checkpoint ran, with passive checkpoints while that is
/// more than `small` bytes, then the rest with commits held, so that the next commit starts the
/// WAL over. Each passive round copies only what the round before let through, so the part
/// copied while commits wait is small.
fn catch_up(conn: &Connection, frames: i64, page_size: i64, small: i64, hold: &HoldWrites) {
    let mut before = frames;
    for _ in 0..8 {
        let Some((now, _)) = checkpoint(conn, "PASSIVE") else {
            return;
        };
        if now < before {
            return; // started over already
        }
        if (now - before) * page_size <= small {
            break;
        }
        before = now;
    }
    hold(&mut || {
        checkpoint(conn, "PASSIVE");
    });
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

    fn no_hold() -> HoldWrites {
        Box::new(|work| work())
    }

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
            let pace = Pace {
                interval: Duration::from_millis(20),
                wal_kept: 100 * 4096,
                catch_up_above: i64::MAX,
            };
            run_with(checkpointer, stopped, &pace, &no_hold())
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
