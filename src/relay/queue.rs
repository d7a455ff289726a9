//! The relay's own durable queue: every request the relay accepts is written here (SQLite, WAL)
//! before its provider is answered, and deleted once a listener has acknowledged it.
//!
//! Writes go through one writer thread that commits in batches (group commit); an insert's future
//! resolves once the transaction holding it has committed. Deletes are not awaited: one lost in a
//! crash only means the listener sees that request again, and drops it as a duplicate.

use std::collections::HashSet;
use std::path::Path;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::Context as _;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::oneshot;

use super::protocol::WireRequest;
use crate::model::format_time;
use crate::store::{decode_headers, encode_headers, Durability, WriteError, Writer};

/// The queue's database file inside the store directory (beside a listener's own store).
pub const QUEUE_FILE: &str = "relay-queue.sqlite3";

/// The most writes committed in one transaction.
const MAX_BATCH: usize = 512;

/// Migrations, oldest first; migration `i` moves the queue from version `i` to `i + 1`.
/// The relay queue's schema version this build writes and reads (`PRAGMA user_version`).
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

const MIGRATIONS: &[&str] = &[
    "CREATE TABLE queue (
        seq          INTEGER PRIMARY KEY,
        channel      TEXT NOT NULL,
        id           TEXT NOT NULL UNIQUE,
        received_at  TEXT NOT NULL,
        peer         TEXT,
        method       TEXT NOT NULL,
        path         TEXT NOT NULL,
        headers      BLOB NOT NULL,
        body         BLOB NOT NULL
    );
    CREATE INDEX queue_by_channel ON queue (channel, seq);",
    // A channel exists once a listener holding its token has connected; channels that already
    // had requests queued before this table existed are kept.
    "CREATE TABLE channels (
        name       TEXT PRIMARY KEY,
        opened_at  TEXT NOT NULL
    );
    INSERT OR IGNORE INTO channels (name, opened_at)
        SELECT DISTINCT channel, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM queue;",
];

/// One queued request as listed at startup: enough to deliver it in order later.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedEntry {
    /// Arrival order across the whole relay.
    pub seq: i64,
    /// The channel it was sent to.
    pub channel: String,
    /// The relay's request id.
    pub id: String,
    /// Its body and header bytes, as counted against `--max-queue-bytes`.
    pub size: u64,
}

enum Op {
    Insert {
        seq: i64,
        channel: String,
        request: Arc<WireRequest>,
    },
    Delete {
        seq: i64,
    },
    OpenChannel {
        name: String,
    },
}

struct Job {
    op: Op,
    done: Option<oneshot::Sender<Result<(), WriteError>>>,
}

/// A cheap-to-clone handle on the queue.
#[derive(Clone)]
pub struct Queue {
    inner: Arc<Inner>,
}

struct Inner {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    reader: Mutex<Connection>,
}

fn open_connection(path: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open(path)
        .with_context(|| format!("cannot open the relay queue at {}", path.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    crate::store::migrate_with(conn, MIGRATIONS, "the relay queue")
}

impl Queue {
    /// Opens (creating if needed) the queue in `dir`; returns it with every queued request, oldest
    /// first.
    pub fn open(dir: &Path, durability: Durability) -> anyhow::Result<(Queue, Vec<QueuedEntry>)> {
        crate::store::private::prepare_dir(dir)?;
        let path = dir.join(QUEUE_FILE);
        crate::store::private::prepare_file(&path)?;
        let mut conn = open_connection(&path)?;
        conn.pragma_update(
            None,
            "synchronous",
            match durability {
                Durability::Process => "NORMAL",
                Durability::Power => "FULL",
            },
        )?;
        migrate(&mut conn)?;
        let entries = {
            let mut stmt = conn.prepare(
                "SELECT seq, channel, id, length(body) + length(headers) FROM queue ORDER BY seq",
            )?;
            let rows = stmt.query_map([], |row| {
                Ok(QueuedEntry {
                    seq: row.get(0)?,
                    channel: row.get(1)?,
                    id: row.get(2)?,
                    size: row.get::<_, i64>(3)?.max(0) as u64,
                })
            })?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        let reader = open_connection(&path)?;
        let (tx, rx) = mpsc::channel();
        let writer = std::thread::Builder::new()
            .name("relay-queue".into())
            .spawn(move || run_writer(conn, rx))?;
        Ok((
            Queue {
                inner: Arc::new(Inner {
                    jobs: Mutex::new(Some(tx)),
                    writer: Mutex::new(Some(writer)),
                    reader: Mutex::new(reader),
                }),
            },
            entries,
        ))
    }

    fn submit(&self, op: Op, done: Option<oneshot::Sender<Result<(), WriteError>>>) {
        let jobs = self.inner.jobs.lock().expect("queue lock");
        let refused = match jobs.as_ref() {
            Some(jobs) => jobs.send(Job { op, done }).err().map(|e| e.0.done),
            None => Some(done),
        };
        if let Some(Some(done)) = refused {
            let _ = done.send(Err(WriteError::Closed(Writer::RelayQueue)));
        }
    }

    /// Queues `request` for `channel` at position `seq`; the future resolves once it is committed.
    /// The write is submitted at once, so later writes (its delete) are applied after it.
    pub fn insert(
        &self,
        seq: i64,
        channel: &str,
        request: Arc<WireRequest>,
    ) -> impl std::future::Future<Output = Result<(), WriteError>> {
        let (done, outcome) = oneshot::channel();
        self.submit(
            Op::Insert {
                seq,
                channel: channel.to_string(),
                request,
            },
            Some(done),
        );
        async move {
            outcome
                .await
                .unwrap_or(Err(WriteError::Closed(Writer::RelayQueue)))
        }
    }

    /// Records that channel `name` exists (a listener holding its token connected); the future
    /// resolves once that is committed.
    pub(crate) fn open_channel(
        &self,
        name: &str,
    ) -> impl std::future::Future<Output = Result<(), WriteError>> {
        let (done, outcome) = oneshot::channel();
        self.submit(
            Op::OpenChannel {
                name: name.to_string(),
            },
            Some(done),
        );
        async move {
            outcome
                .await
                .unwrap_or(Err(WriteError::Closed(Writer::RelayQueue)))
        }
    }

    /// The channels that exist. Blocking.
    pub(crate) fn channels_blocking(&self) -> anyhow::Result<HashSet<String>> {
        let conn = self.inner.reader.lock().expect("queue reader lock");
        let mut stmt = conn.prepare("SELECT name FROM channels")?;
        let names = stmt.query_map([], |row| row.get::<_, String>(0))?;
        Ok(names.collect::<Result<_, _>>()?)
    }

    /// Removes the request at `seq` (acknowledged by a listener); not awaited.
    pub(crate) fn remove(&self, seq: i64) {
        self.submit(Op::Delete { seq }, None);
    }

    /// The request at `seq`, read from disk (it may be gone if it was acknowledged meanwhile).
    /// Blocking: call it from `spawn_blocking`.
    pub(crate) fn load_blocking(&self, seq: i64) -> anyhow::Result<Option<WireRequest>> {
        let conn = self.inner.reader.lock().expect("queue reader lock");
        let mut stmt = conn.prepare_cached(
            "SELECT id, received_at, peer, method, path, headers, body FROM queue WHERE seq = ?1",
        )?;
        let row = stmt
            .query_row(params![seq], |row| {
                let received_at: String = row.get(1)?;
                Ok((
                    row.get::<_, String>(0)?,
                    received_at,
                    row.get::<_, Option<String>>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, Vec<u8>>(5)?,
                    row.get::<_, Vec<u8>>(6)?,
                ))
            })
            .optional()?;
        let Some((id, received_at, peer, method, path, headers, body)) = row else {
            return Ok(None);
        };
        let received_at: DateTime<Utc> = received_at
            .parse()
            .with_context(|| format!("queued request {id} has an unreadable time"))?;
        Ok(Some(WireRequest {
            id,
            received_at,
            method,
            path,
            headers: decode_headers(&headers),
            body: Bytes::from(body),
            peer,
            redelivery: false,
            queued: false,
        }))
    }

    /// The request at `seq`, read on a blocking thread.
    pub(crate) async fn load(&self, seq: i64) -> anyhow::Result<Option<WireRequest>> {
        let queue = self.clone();
        tokio::task::spawn_blocking(move || queue.load_blocking(seq)).await?
    }

    /// Commits everything submitted so far and stops the writer; later writes fail with `Closed`.
    pub fn close(&self) {
        self.inner.jobs.lock().expect("queue lock").take();
        if let Some(writer) = self.inner.writer.lock().expect("queue writer lock").take() {
            let _ = writer.join();
        }
    }
}

fn run_writer(mut conn: Connection, jobs: Receiver<Job>) {
    while let Some(batch) = next_batch(&jobs, MAX_BATCH) {
        commit_batch(&mut conn, batch);
    }
}

fn commit_batch(conn: &mut Connection, batch: Vec<Job>) {
    let outcome = (|| -> rusqlite::Result<Vec<Result<(), WriteError>>> {
        let tx = conn.transaction()?;
        let results = batch
            .iter()
            .map(|job| {
                apply(&tx, &job.op)
                    .map_err(|e| WriteError::Write(Writer::RelayQueue, e.to_string()))
            })
            .collect();
        tx.commit()?;
        Ok(results)
    })();
    match outcome {
        Ok(results) => {
            for (job, result) in batch.into_iter().zip(results) {
                if let Some(done) = job.done {
                    let _ = done.send(result);
                } else if let Err(err) = result {
                    tracing::warn!("relay queue: {err}");
                }
            }
        }
        Err(err) => {
            tracing::error!("relay queue commit failed: {err}");
            for job in batch {
                if let Some(done) = job.done {
                    let _ = done.send(Err(WriteError::Write(Writer::RelayQueue, err.to_string())));
                }
            }
        }
    }
}

fn apply(tx: &rusqlite::Transaction<'_>, op: &Op) -> rusqlite::Result<()> {
    match op {
        Op::Insert {
            seq,
            channel,
            request,
        } => {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO queue (seq, channel, id, received_at, peer, method, path, headers, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            stmt.execute(params![
                seq,
                channel,
                request.id,
                format_time(&request.received_at),
                request.peer,
                request.method,
                request.path,
                encode_headers(&request.headers),
                request.body.as_ref(),
            ])?;
        }
        Op::Delete { seq } => {
            let mut stmt = tx.prepare_cached("DELETE FROM queue WHERE seq = ?1")?;
            stmt.execute(params![seq])?;
        }
        Op::OpenChannel { name } => {
            let mut stmt = tx.prepare_cached(
                "INSERT OR IGNORE INTO channels (name, opened_at) VALUES (?1, ?2)",
            )?;
            stmt.execute(params![name, format_time(&Utc::now())])?;
        }
    }
    Ok(())
}

/// What `relay forget` removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Forgotten {
    /// The channel existed.
    pub existed: bool,
    /// Requests that were queued for it, now deleted.
    pub requests: u64,
}

/// Removes channel `name` and its queued requests from the queue in `dir`: providers get 404
/// again until a listener holding its token connects. A relay running on `dir` keeps what it has
/// in memory until it restarts.
pub(crate) fn forget_channel(dir: &Path, name: &str) -> anyhow::Result<Forgotten> {
    let path = dir.join(QUEUE_FILE);
    if !path.exists() {
        return Ok(Forgotten {
            existed: false,
            requests: 0,
        });
    }
    let mut conn = open_connection(&path)?;
    migrate(&mut conn)?;
    let tx = conn.transaction()?;
    let existed = tx.execute("DELETE FROM channels WHERE name = ?1", params![name])? > 0;
    let requests = tx.execute("DELETE FROM queue WHERE channel = ?1", params![name])? as u64;
    tx.commit()?;
    Ok(Forgotten { existed, requests })
}

/// The highest `seq` in `entries`, or 0.
pub(crate) fn last_seq(entries: &[QueuedEntry]) -> i64 {
    entries.iter().map(|e| e.seq).max().unwrap_or(0)
}

/// Waits for the next job, then takes whatever else is already queued, up to `max`: one batch
/// for one transaction. `None` once every sender is gone and the queue is empty.
fn next_batch<T>(jobs: &std::sync::mpsc::Receiver<T>, max: usize) -> Option<Vec<T>> {
    let mut batch = vec![jobs.recv().ok()?];
    while batch.len() < max {
        match jobs.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    Some(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(id: &str) -> Arc<WireRequest> {
        Arc::new(WireRequest {
            id: id.into(),
            received_at: "2026-01-02T03:04:05.123456Z".parse().unwrap(),
            method: "POST".into(),
            path: "/a?b=1".into(),
            headers: vec![("x-raw".into(), vec![0xff, b':', b' ', 0x00])],
            body: Bytes::from_static(b"\x00body\xff"),
            peer: Some("127.0.0.1:1".into()),
            redelivery: false,
            queued: false,
        })
    }

    #[tokio::test]
    async fn entries_survive_a_restart_in_order_and_deletes_stick() {
        let dir = tempfile::tempdir().unwrap();
        let (queue, entries) = Queue::open(dir.path(), Durability::Process).unwrap();
        assert!(entries.is_empty());
        for (seq, id) in [(1, "req_a"), (2, "req_b"), (3, "req_c")] {
            queue
                .insert(seq, if seq == 2 { "other" } else { "acme" }, request(id))
                .await
                .unwrap();
        }
        queue.remove(1);
        let loaded = queue.load(2).await.unwrap().unwrap();
        assert_eq!(loaded.id, "req_b");
        assert_eq!(loaded.headers, request("x").headers);
        assert_eq!(loaded.body, request("x").body);
        assert_eq!(loaded.received_at, request("x").received_at);
        queue.close();
        assert!(matches!(
            queue.insert(9, "acme", request("req_z")).await,
            Err(WriteError::Closed(Writer::RelayQueue))
        ));

        let (queue, entries) = Queue::open(dir.path(), Durability::Process).unwrap();
        let ids: Vec<_> = entries.iter().map(|e| (e.seq, e.id.as_str())).collect();
        assert_eq!(ids, vec![(2, "req_b"), (3, "req_c")]);
        assert_eq!(last_seq(&entries), 3);
        assert!(queue.load(1).await.unwrap().is_none());
        queue.close();
    }

    #[tokio::test]
    async fn channels_persist_until_forgotten_with_their_queue() {
        let dir = tempfile::tempdir().unwrap();
        let (queue, _) = Queue::open(dir.path(), Durability::Process).unwrap();
        queue.open_channel("acme").await.unwrap();
        queue.open_channel("acme").await.unwrap();
        queue.open_channel("other").await.unwrap();
        queue.insert(1, "acme", request("req_a")).await.unwrap();
        queue.insert(2, "other", request("req_b")).await.unwrap();
        queue.close();
        let (queue, entries) = Queue::open(dir.path(), Durability::Process).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(
            entries[0].size,
            6 + encode_headers(&request("x").headers).len() as u64
        );
        let names = queue.channels_blocking().unwrap();
        assert_eq!(names, HashSet::from(["acme".into(), "other".into()]));
        queue.close();

        let forgotten = forget_channel(dir.path(), "acme").unwrap();
        assert_eq!(
            forgotten,
            Forgotten {
                existed: true,
                requests: 1
            }
        );
        assert!(!forget_channel(dir.path(), "acme").unwrap().existed);
        let (queue, entries) = Queue::open(dir.path(), Durability::Process).unwrap();
        assert_eq!(
            entries.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            ["req_b"]
        );
        assert_eq!(
            queue.channels_blocking().unwrap(),
            HashSet::from(["other".into()])
        );
        queue.close();
    }

    #[tokio::test]
    async fn a_duplicate_id_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let (queue, _) = Queue::open(dir.path(), Durability::Process).unwrap();
        queue.insert(1, "acme", request("req_a")).await.unwrap();
        let err = queue.insert(2, "acme", request("req_a")).await.unwrap_err();
        assert!(err.to_string().contains("UNIQUE"), "{err}");
        queue.close();
    }
}
