//! Moves committed pages from the WAL into the database file on its own thread, so the disk
//! flushes a checkpoint needs never sit between a request and its answer; keeps the WAL from
//! growing under unbroken load; and gives the disk space of a grown WAL back once writes stop.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, InterruptHandle};

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

/// How often the committing connection looks at the WAL's size ([`WalGuard`]).
const GUARD_EVERY: Duration = Duration::from_millis(50);

/// A WAL file growing past this means the checkpointer has fallen far behind ([`WalGuard`]);
/// with it keeping up the WAL stays near what a few intervals write (20–35 MB measured at full
/// load).
const GUARD_ABOVE: u64 = 128 * 1024 * 1024;

/// Bounds the WAL when the checkpointer thread falls behind.
///
/// The checkpointer keeps the WAL small only while it gets the CPU: on a machine busy with other
/// work (a build beside a storm of webhooks) it may not run for seconds while commits go on, and
/// the WAL then grows with everything written. The connection that commits looks at the WAL's
/// size now and then; once the file has grown past [`GUARD_ABOVE`] since it last looked, it
/// interrupts the checkpoint the starved thread may have begun, then copies the WAL into the
/// database and truncates it itself, with commits waiting (up to about a second at full load
/// measured, which the checkpointer avoids while it keeps up). Only the writer thread does this;
/// a thread serving connections, which must not wait, leaves it to the writer thread's next
/// commit. Should a reader keep part of the WAL in use, what can be copied is, and the guard
/// tries again as the file grows.
pub(super) struct WalGuard {
    wal: Option<PathBuf>,
    above: u64,
    every: Duration,
    /// How long the writer thread waits, at most, for the WAL to be let go of.
    wait_at_most: Duration,
    /// Stops the checkpoint thread's checkpoint, which may be starved of CPU half-way.
    checkpointer: Option<InterruptHandle>,
    started: Instant,
    /// When to look next, in milliseconds since `started`.
    next_look: AtomicU64,
    /// A thread that cannot wait found the WAL grown: the writer thread truncates it after its
    /// next commit, and until then every commit is the writer thread's.
    for_the_writer: AtomicBool,
    /// The WAL's size when last looked at.
    last_len: AtomicU64,
}

impl WalGuard {
    /// A guard for the WAL of the database `conn` is open on, checkpointed by the connection
    /// `checkpointer` interrupts.
    pub(super) fn for_connection(conn: &Connection, checkpointer: InterruptHandle) -> Self {
        Self {
            checkpointer: Some(checkpointer),
            ..Self::with(conn, GUARD_ABOVE, GUARD_EVERY, super::BUSY_TIMEOUT)
        }
    }

    fn with(conn: &Connection, above: u64, every: Duration, wait_at_most: Duration) -> Self {
        Self {
            wal: wal_path(conn),
            above,
            every,
            wait_at_most,
            checkpointer: None,
            started: Instant::now(),
            next_look: AtomicU64::new(0),
            last_len: AtomicU64::new(0),
            for_the_writer: AtomicBool::new(false),
        }
    }

    /// Whether the next commit must be the writer thread's, for it to truncate the WAL after it.
    pub(super) fn wants_the_writer(&self) -> bool {
        self.for_the_writer.load(Ordering::Acquire)
    }

    /// Called by whoever holds the writing connection `conn`, after a commit. The writer thread
    /// may wait for the checkpointer or a reader to let go of the WAL (up to the store's lock
    /// timeout: the WAL cannot grow meanwhile); a thread serving connections leaves that to the
    /// writer thread ([`WalGuard::wants_the_writer`]).
    pub(super) fn after_commit(&self, conn: &Connection, waits: Waits) {
        if waits == Waits::ForLocks && self.for_the_writer.swap(false, Ordering::AcqRel) {
            return truncate_waiting(conn, self.wait_at_most, self.checkpointer.as_ref());
        }
        let now = self.started.elapsed().as_millis() as u64;
        if now < self.next_look.load(Ordering::Relaxed) {
            return;
        }
        self.next_look
            .store(now + self.every.as_millis() as u64, Ordering::Relaxed);
        let Some(len) = wal_len(self.wal.as_deref()) else {
            return;
        };
        let before = self.last_len.swap(len, Ordering::Relaxed);
        if len > self.above && len > before {
            tracing::warn!(
                "the store's WAL has grown to {} MB: the checkpoint thread is behind (is the machine busy?); copying it into the database now",
                len / (1024 * 1024)
            );
            match waits {
                Waits::ForLocks => {
                    truncate_waiting(conn, self.wait_at_most, self.checkpointer.as_ref())
                }
                Waits::Never => self.for_the_writer.store(true, Ordering::Release),
            }
        }
    }
}

/// Whether the connection's holder may wait for locks ([`WalGuard::after_commit`]).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Waits {
    /// The writer thread: nobody waits on it but the writes it holds.
    ForLocks,
    /// A thread serving connections.
    Never,
}

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
    let wal = wal_path(&conn);
    let page_size: i64 = conn
        .query_row("PRAGMA page_size", [], |row| row.get(0))
        .unwrap_or(4096);
    let mut version_before = None;
    let mut wait = pace.interval;
    while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(wait) {
        wait = pace.interval;
        let Some(Checkpointed { frames, copied, .. }) = checkpoint(&conn, "PASSIVE") else {
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
        if quiet && wal_len(wal.as_deref()).unwrap_or(0) > pace.wal_kept {
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
        let Some(Checkpointed { frames: now, .. }) = checkpoint(conn, "PASSIVE") else {
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

/// Copies the WAL into the database and truncates it, retrying for at most `limit` while it
/// cannot. SQLite does not wait for another connection's checkpoint to end, only for readers: the
/// checkpoint thread's, which may be starved of CPU half-way, is interrupted, which takes it a
/// moment where finishing could take seconds.
fn truncate_waiting(conn: &Connection, limit: Duration, checkpointer: Option<&InterruptHandle>) {
    let started = Instant::now();
    loop {
        if let Some(checkpointer) = checkpointer {
            checkpointer.interrupt();
        }
        match checkpoint(conn, "TRUNCATE") {
            Some(Checkpointed { blocked: true, .. }) if started.elapsed() < limit => {
                std::thread::sleep(Duration::from_millis(1))
            }
            Some(Checkpointed { blocked: true, .. }) => {
                return tracing::warn!(
                    "the store's WAL could not be truncated within {limit:?}: the checkpoint thread or another process reading the store holds it"
                )
            }
            _ => return,
        }
    }
}

/// Truncates the WAL, unless a commit is under way: then the next quiet interval tries again.
fn truncate_unless_busy(conn: &Connection) {
    super::without_waiting_for_locks(conn, || checkpoint(conn, "TRUNCATE"));
}

/// The WAL file of the database `conn` is open on (none for an in-memory one).
fn wal_path(conn: &Connection) -> Option<PathBuf> {
    conn.path().map(|db| PathBuf::from(format!("{db}-wal")))
}

/// The size of the WAL file, if there is one.
fn wal_len(wal: Option<&Path>) -> Option<u64> {
    std::fs::metadata(wal?).ok().map(|meta| meta.len())
}

/// What a checkpoint did.
struct Checkpointed {
    /// A RESTART or TRUNCATE checkpoint could not finish: another connection holds the WAL.
    blocked: bool,
    /// The frames in the WAL.
    frames: i64,
    /// The frames copied into the database.
    copied: i64,
}

/// Runs a checkpoint; what it did, unless it failed.
fn checkpoint(conn: &Connection, mode: &str) -> Option<Checkpointed> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
        Ok(Checkpointed {
            blocked: row.get::<_, i64>(0)? != 0,
            frames: row.get(1)?,
            copied: row.get(2)?,
        })
    })
    .inspect_err(|err| match err.sqlite_error_code() {
        // The writer interrupted it to truncate the WAL itself (`WalGuard`).
        Some(rusqlite::ErrorCode::OperationInterrupted) => {
            tracing::debug!("store checkpoint ({mode}) interrupted")
        }
        _ => tracing::warn!("store checkpoint ({mode}) failed: {err}"),
    })
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

    /// A database in `dir` in WAL mode that only the tests checkpoint, with a table `t` of blobs.
    fn wal_database(dir: &std::path::Path) -> (PathBuf, Connection) {
        let db = dir.join("db");
        let writer = Connection::open(&db).unwrap();
        writer.pragma_update(None, "journal_mode", "WAL").unwrap();
        writer.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        writer.execute_batch("CREATE TABLE t (b BLOB)").unwrap();
        (db, writer)
    }

    /// Commits a row of 4,000 bytes.
    fn insert(writer: &Connection) {
        writer
            .execute("INSERT INTO t (b) VALUES (?1)", [vec![7u8; 4000]])
            .unwrap();
    }

    /// The largest the WAL grows over 2,000 commits of 4 kB each (about 8 MB) with no
    /// checkpointer running, guarded above 1 MB or not at all.
    fn largest_wal_without_checkpointer(guard_above: Option<u64>) -> u64 {
        let dir = tempfile::tempdir().unwrap();
        let (db, writer) = wal_database(dir.path());
        let guard =
            guard_above.map(|above| WalGuard::with(&writer, above, Duration::ZERO, Duration::ZERO));
        let mut largest = 0;
        for _ in 0..2000 {
            insert(&writer);
            if let Some(guard) = &guard {
                guard.after_commit(&writer, Waits::ForLocks);
            }
            largest = largest.max(wal_size(&db));
        }
        let count: i64 = writer
            .query_row("SELECT count(*) FROM t", [], |row| row.get(0))
            .unwrap();
        assert_eq!(count, 2000);
        largest
    }

    #[test]
    fn with_the_checkpointer_behind_the_committing_connection_bounds_the_wal() {
        let unguarded = largest_wal_without_checkpointer(None);
        assert!(unguarded > 8_000_000, "the WAL grew to {unguarded} only");
        let guarded = largest_wal_without_checkpointer(Some(1024 * 1024));
        // Past the bound by at most what one commit adds before the guard looks.
        assert!(
            guarded < 1024 * 1024 + 3 * 4096,
            "the WAL grew to {guarded}"
        );
    }

    /// A reader in another thread holding a snapshot of the store at `db`, until told to let go.
    fn reader_holding_a_snapshot(
        db: &std::path::Path,
    ) -> (std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>) {
        let (reading, read) = std::sync::mpsc::channel();
        let (let_go, told) = std::sync::mpsc::channel::<()>();
        let db = db.to_path_buf();
        let reader = std::thread::spawn(move || {
            let reader = Connection::open(&db).unwrap();
            reader.execute_batch("BEGIN").unwrap();
            let _: i64 = reader
                .query_row("SELECT count(*) FROM t", [], |row| row.get(0))
                .unwrap();
            reading.send(()).unwrap();
            let _ = told.recv();
            reader.execute_batch("COMMIT").unwrap();
        });
        read.recv().unwrap();
        (let_go, reader)
    }

    #[test]
    fn the_serving_thread_leaves_a_grown_wal_to_the_writer_which_waits_for_a_reader_then_truncates_it(
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (db, writer) = wal_database(dir.path());
        let insert_some = || {
            for _ in 0..10 {
                insert(&writer);
            }
        };
        let guard = WalGuard::with(&writer, 4096, Duration::ZERO, Duration::from_secs(5));

        // A thread serving connections never waits: it leaves the grown WAL to the writer.
        insert_some();
        let (let_go, reader) = reader_holding_a_snapshot(&db);
        insert_some();
        let started = Instant::now();
        guard.after_commit(&writer, Waits::Never);
        assert!(started.elapsed() < Duration::from_millis(200));
        assert!(wal_size(&db) > 0);
        assert!(guard.wants_the_writer());

        // The writer thread, after its next commit, waits until the reader lets go, then
        // truncates it.
        let letting_go = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            let_go.send(()).unwrap();
        });
        insert(&writer);
        guard.after_commit(&writer, Waits::ForLocks);
        assert!(started.elapsed() >= Duration::from_millis(250));
        assert_eq!(wal_size(&db), 0);
        assert!(!guard.wants_the_writer());
        letting_go.join().unwrap();
        reader.join().unwrap();
    }

    #[test]
    fn a_grown_wal_is_truncated_once_writes_stop_and_not_before() {
        let dir = tempfile::tempdir().unwrap();
        let (db, writer) = wal_database(dir.path());
        // A burst grows the WAL past what is kept.
        for _ in 0..300 {
            insert(&writer);
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
            insert(&writer);
            std::thread::sleep(Duration::from_millis(5));
            smallest = smallest.min(wal_size(&db));
        }
        assert!(smallest > 100 * 4096, "truncated while busy: {smallest}");
        // Quiet: within a few intervals the file is given back.
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(wal_size(&db), 0);
        insert(&writer);
        stop.send(()).unwrap();
        checkpoints.join().unwrap();
        let count: i64 = writer
            .query_row("SELECT count(*) FROM t", [], |row| row.get(0))
            .unwrap();
        assert_eq!(count, 341);
    }
}
