//! Where the inspector reads requests: the store (lazily, one whole request at a time), or memory
//! in tests.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::Context as _;
use rusqlite::{params, Connection, OpenFlags};

use super::rows::{parse_time_us, NewRow, Rows};
use crate::signature::Status;
use crate::store::{StoreReader, StoredRequest};

/// A whole request, as shown in the detail.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// Summary, headers, body, answer.
    pub stored: StoredRequest,
    /// The URL it was forwarded to, when it was.
    pub forward_target: Option<String>,
}

/// The inspector's access to whole requests.
pub trait History: Send {
    /// The request with id `id`, headers, body and answer included.
    fn load(&mut self, id: &str) -> anyhow::Result<Option<Loaded>>;

    /// Appends to `rows` the requests recorded since the last call by anyone (another process
    /// included), except those in `known` (which it removes from there once passed), and returns
    /// how many; a history that only learns from engine events returns 0.
    fn poll(&mut self, rows: &mut Rows, known: &mut HashSet<String>) -> anyhow::Result<usize> {
        let _ = (rows, known);
        Ok(0)
    }
}

/// The store, read with its own connection: the index is streamed once at start, then only the
/// shown request is loaded.
pub struct StoreHistory {
    reader: StoreReader,
    conn: Connection,
    last_seq: i64,
    poll: bool,
}

const INDEX_SQL: &str = "SELECT r.seq, r.id, r.received_at, r.method, r.path, r.size,
    r.event_type, r.sig_status, a.fwd_target IS NOT NULL, a.fwd_status, a.fwd_duration_ms,
    a.fwd_error IS NOT NULL, r.replay_of, a.status IS NOT NULL,
    COALESCE(json_array_length(COALESCE(a.schema_report, r.schema_report), '$.problems'), 0)
        + COALESCE(json_array_length(COALESCE(a.schema_report, r.schema_report), '$.answer_problems'), 0),
    a.status, r.sig_reason
    FROM requests r LEFT JOIN answers a ON a.request_seq = r.seq WHERE r.seq > ?1 ORDER BY r.seq";

/// An answer still being awaited is not listed by `poll` until it is this old (a request that
/// never got one, e.g. because webhook-dev was killed, is listed then).
const PENDING_GRACE_US: i64 = 120_000_000;

impl StoreHistory {
    /// Opens the store in `dir` and reads the index of every stored request into `rows`.
    /// With `poll`, later [`History::poll`] calls pick up requests that others record.
    pub fn open(dir: &Path, rows: &mut Rows, poll: bool) -> anyhow::Result<StoreHistory> {
        let reader = StoreReader::open(dir)?;
        let path = crate::store::db_path(dir);
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_context(|| format!("cannot open the store at {}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let count: i64 = conn.query_row("SELECT COUNT(*) FROM requests", [], |r| r.get(0))?;
        rows.reserve(count.max(0) as usize);
        let mut history = StoreHistory {
            reader,
            conn,
            last_seq: 0,
            poll,
        };
        history.read_index(rows, i64::MAX, &mut HashSet::new())?;
        // Later looks run on the inspector's thread: a lock held elsewhere must not freeze it.
        history.conn.busy_timeout(POLL_BUSY_TIMEOUT)?;
        Ok(history)
    }

    /// Appends rows after `last_seq` but those in `known`; with a finite `now_us`, stops at a
    /// young unanswered one.
    fn read_index(
        &mut self,
        rows: &mut Rows,
        now_us: i64,
        known: &mut HashSet<String>,
    ) -> anyhow::Result<usize> {
        let mut stmt = self.conn.prepare_cached(INDEX_SQL)?;
        let mut cursor = stmt.query(params![self.last_seq])?;
        let mut added = 0;
        while let Some(row) = cursor.next()? {
            let seq: i64 = row.get(0)?;
            let id: String = row.get(1)?;
            let received_at: String = row.get(2)?;
            let received_us = parse_time_us(&received_at);
            if known.remove(&id) {
                self.last_seq = seq;
                continue;
            }
            let answered: bool = row.get(13)?;
            if !answered
                && now_us != i64::MAX
                && now_us.saturating_sub(received_us) < PENDING_GRACE_US
            {
                break;
            }
            let method: String = row.get(3)?;
            let path: String = row.get(4)?;
            let event_type: Option<String> = row.get(6)?;
            let sig: String = row.get(7)?;
            let forwarded: bool = row.get(8)?;
            let replay_of: Option<String> = row.get(12)?;
            rows.push(NewRow {
                id: &id,
                received_us,
                method: &method,
                path: &path,
                size: row.get::<_, i64>(5)?.max(0) as u64,
                event_type: event_type.as_deref(),
                sig: Status::parse(&sig).unwrap_or(Status::Unchecked),
                forward: if forwarded {
                    Some((
                        row.get(9)?,
                        row.get::<_, Option<f64>>(10)?.unwrap_or(0.0),
                        row.get(11)?,
                    ))
                } else {
                    None
                },
                replay_of: replay_of.as_deref(),
                schema_problems: row.get::<_, Option<i64>>(14)?.unwrap_or(0) > 0,
                pending: false,
                refused: refused(forwarded, row.get(15)?, row.get(16)?),
            });
            self.last_seq = seq;
            added += 1;
        }
        Ok(added)
    }
}

/// How long a look for new requests waits for a lock another connection holds before trying
/// again at the next tick.
const POLL_BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(50);

/// The store is locked by a writer for now: the next look will do.
fn is_busy(err: &anyhow::Error) -> bool {
    matches!(
        err.downcast_ref::<rusqlite::Error>()
            .and_then(rusqlite::Error::sqlite_error_code),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// The status a request was refused with before its body was read, if it was.
fn refused(forwarded: bool, status: Option<u16>, reason: Option<String>) -> Option<u16> {
    let reason = reason?;
    (!forwarded && reason.starts_with(crate::engine::REFUSED_REASON))
        .then_some(status)
        .flatten()
}

impl History for StoreHistory {
    fn load(&mut self, id: &str) -> anyhow::Result<Option<Loaded>> {
        let Some(stored) = self.reader.get(id)? else {
            return Ok(None);
        };
        let forward_target = stored.forward_target.clone();
        Ok(Some(Loaded {
            stored,
            forward_target,
        }))
    }

    fn poll(&mut self, rows: &mut Rows, known: &mut HashSet<String>) -> anyhow::Result<usize> {
        if !self.poll {
            return Ok(0);
        }
        let now = chrono::Utc::now().timestamp_micros();
        match self.read_index(rows, now, known) {
            Err(err) if is_busy(&err) => Ok(0),
            other => other,
        }
    }
}

/// Requests held in memory: for tests and benchmarks.
#[derive(Default)]
pub struct MemoryHistory {
    requests: HashMap<String, Loaded>,
    loads: Arc<AtomicUsize>,
}

impl MemoryHistory {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts the calls to [`History::load`] (tests check that bodies are loaded lazily).
    pub fn load_counter(&self) -> Arc<AtomicUsize> {
        self.loads.clone()
    }

    /// Adds a request.
    pub fn insert(&mut self, stored: StoredRequest, forward_target: Option<String>) {
        self.requests.insert(
            stored.summary.id.clone(),
            Loaded {
                stored,
                forward_target,
            },
        );
    }
}

impl History for MemoryHistory {
    fn load(&mut self, id: &str) -> anyhow::Result<Option<Loaded>> {
        self.loads.fetch_add(1, Ordering::Relaxed);
        Ok(self.requests.get(id).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_store_is_told_apart_from_a_broken_one() {
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        assert!(is_busy(&anyhow::Error::from(busy)));
        assert!(!is_busy(&anyhow::Error::from(
            rusqlite::Error::QueryReturnedNoRows
        )));
        assert!(!is_busy(&anyhow::anyhow!("database is locked")));
    }
}
