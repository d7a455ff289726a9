//! The durable store: SQLite (WAL) in one file under the store directory.
//!
//! Writes go through one connection: the writer thread commits them in batches, a runtime
//! thread serving many requests commits the batch it queued when it runs out of other work
//! (see [`before_park`]), or a caller with nothing else in flight commits its own (see
//! [`CommitOn`]). Readers — including a second process running `requests list` — open their
//! own connections.

mod checkpoint;
mod codec;
mod connection;
mod park;
pub(crate) mod private;
mod queue;
mod read;
mod schema;
mod wakes;
mod write_error;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::Context as _;
use rusqlite::Connection;
use tokio::sync::oneshot;

pub(crate) use codec::decode_headers;
pub use codec::encode_headers;
pub use park::before_park;
#[cfg(test)]
pub(crate) use park::holds_here as holds_writes_here;
pub use read::{StoreReader, StoredRequest};
pub(crate) use schema::migrate_with;
pub use schema::SCHEMA_VERSION;
pub use write_error::{WriteError, Writer};

use crate::delivery::Delivery;
use crate::model::SchemaReport;
use crate::model::{CapturedRequest, ForwardOutcome, RecordedResponse};
use crate::signature::Verdict;
use connection::SharedConnection;
use queue::JobQueue;
use writer::{Done, Inserted, Job, OnCommit, Op};

/// The database file inside the store directory.
pub(crate) const DB_FILE: &str = "webhook-dev.sqlite3";

/// How hard a commit tries to reach the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Durability {
    /// Committed to the operating system: survives webhook-dev crashing or being killed.
    Process,
    /// Also fsync'ed: survives power loss, at the cost of a disk flush per batch.
    Power,
}

/// A stored request's row, which its answer is recorded against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RequestRow(pub(crate) i64);

/// Where a write is committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitOn {
    /// In a batch with other writes: by the writer thread, or, on a runtime thread that settles
    /// its writes before it parks ([`before_park`]), by that thread once it has nothing else to
    /// do.
    Writer,
    /// The caller's own thread, when it is the only request in flight: no hand-off between
    /// threads either way, at the price of the caller's thread being busy for the commit (tens
    /// of microseconds). With [`Durability::Power`], whose commits wait for the disk, this
    /// falls back to the writer thread.
    Caller,
}

/// A cheap-to-clone handle for writing to the store.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    jobs: Arc<JobQueue<Job>>,
    conn: Arc<SharedConnection>,
    /// Whether callers may commit their own writes (not when commits wait for the disk).
    callers_commit: bool,
    threads: Mutex<Option<Threads>>,
}

impl Inner {
    /// Commits everything queued, stops the threads and closes the connection.
    fn close(&self) {
        self.jobs.close();
        // Held until the end, so that a second `close` returns only once everything is committed.
        let mut threads = crate::sync::lock(&self.threads);
        if let Some(running) = threads.take() {
            running.stop();
        }
        self.conn.close();
    }
}

impl Drop for Inner {
    /// A store dropped without [`Store::close`] still commits what is queued.
    fn drop(&mut self) {
        self.close();
    }
}

struct Threads {
    writer: JoinHandle<()>,
    checkpointer: JoinHandle<()>,
    stop_checkpointer: mpsc::Sender<()>,
}

impl Threads {
    /// Waits for the writer to commit what is queued (the queue must be closed), then stops
    /// the checkpointer.
    fn stop(self) {
        let _ = self.writer.join();
        let _ = self.stop_checkpointer.send(());
        let _ = self.checkpointer.join();
    }
}

fn schema_json(report: &SchemaReport) -> String {
    serde_json::to_string(report).expect("a schema report always serializes")
}

/// The database path for a store directory.
pub fn db_path(dir: &Path) -> PathBuf {
    dir.join(DB_FILE)
}

/// How long a write waits for a lock another process holds on the store.
pub(super) const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs `work` on `conn` with SQLite giving up at once on a lock another process holds, instead
/// of waiting up to [`BUSY_TIMEOUT`]; `None`, without running it, if that cannot be set.
fn without_waiting_for_locks<T>(conn: &Connection, work: impl FnOnce() -> T) -> Option<T> {
    if let Err(err) = conn.busy_timeout(std::time::Duration::ZERO) {
        tracing::warn!("cannot stop the store waiting for locks: {err}");
        return None;
    }
    let done = work();
    if let Err(err) = conn.busy_timeout(BUSY_TIMEOUT) {
        tracing::warn!("cannot restore the store's lock timeout: {err}");
    }
    Some(done)
}

/// A connection of its own to the store in `dir` (created and migrated by [`Store::open`]), for
/// a component that keeps tables of its own beside the requests (`emulate`).
pub(crate) fn connect(dir: &Path) -> anyhow::Result<Connection> {
    open_connection(&db_path(dir))
}

fn open_connection(path: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open(path)
        .with_context(|| format!("cannot open the store at {}", path.display()))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

impl Store {
    /// Opens (creating if needed) the store in `dir`, migrates it and starts the writer thread.
    /// With [`Durability::Process`], callers may commit their own writes ([`CommitOn::Caller`]);
    /// opened within a tokio runtime, the answers they defer are then committed on it too.
    /// Opened within a runtime, the writer thread tells waiting callers through a task on that
    /// runtime: the store's writes then complete only while it runs.
    pub fn open(dir: &Path, durability: Durability) -> anyhow::Result<Store> {
        private::prepare_dir(dir)?;
        private::prepare_file(&db_path(dir))?;
        let mut conn = open_connection(&db_path(dir))?;
        let synchronous = match durability {
            Durability::Process => "NORMAL",
            Durability::Power => "FULL",
        };
        conn.pragma_update(None, "synchronous", synchronous)?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        schema::migrate(&mut conn)?;
        let checkpoint_conn = open_connection(&db_path(dir))?;
        checkpoint_conn.pragma_update(None, "synchronous", synchronous)?;
        let jobs = Arc::new(JobQueue::default());
        let callers_commit = durability == Durability::Process;
        let guard =
            checkpoint::WalGuard::for_connection(&conn, checkpoint_conn.get_interrupt_handle());
        let conn = SharedConnection::new(conn, jobs.clone(), callers_commit, guard);
        let writer = {
            let (conn, jobs) = (conn.clone(), jobs.clone());
            std::thread::Builder::new()
                .name("store-writer".into())
                .spawn(move || writer::run(conn, jobs))?
        };
        let (stop_checkpointer, stop) = mpsc::channel();
        let hold_writes: checkpoint::HoldWrites = {
            let conn = Arc::downgrade(&conn);
            Box::new(move |work| {
                if let Some(conn) = conn.upgrade() {
                    let _commits_wait = conn.lock_for_checkpoint();
                    work();
                }
            })
        };
        let checkpointer = std::thread::Builder::new()
            .name("store-checkpoint".into())
            .spawn(move || checkpoint::run(checkpoint_conn, stop, hold_writes))?;
        Ok(Store {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                jobs,
                conn,
                callers_commit,
                threads: Mutex::new(Some(Threads {
                    writer,
                    checkpointer,
                    stop_checkpointer,
                })),
            }),
        })
    }

    /// The store directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// A reader over the same store.
    pub fn reader(&self) -> anyhow::Result<StoreReader> {
        StoreReader::open(&self.inner.dir)
    }

    fn here(&self, on: CommitOn) -> bool {
        on == CommitOn::Caller && self.inner.callers_commit
    }

    /// Queues a write nobody waits on; it waits (briefly) for another write to share its commit.
    /// On a runtime thread that commits its writes before it parks ([`park`]), that is when.
    fn submit_deferred(&self, op: Op, done: OnCommit, on: CommitOn) {
        let job = Job {
            op,
            done: Done::Call(done),
        };
        if self.here(on) {
            return self.inner.conn.defer_here(job);
        }
        match self.inner.jobs.push_deferred(job) {
            Ok(()) if self.inner.callers_commit && park::holds_here() => {
                park::settle_before_park(self.inner.conn.clone())
            }
            Ok(()) => {}
            Err(unsent) => unsent.0.done.refuse_closed(),
        }
    }

    /// Queues a write someone waits on for the writer thread. On a runtime thread that settles
    /// held writes before it parks ([`park`]) the write is held until then, and committed on
    /// that thread where callers may commit.
    fn queue_for_writer(&self, job: Job) {
        let jobs = &self.inner.jobs;
        let queued = if park::holds_here() {
            jobs.push_held(job, park::HOLD_AT_MOST).map(|first| {
                if first {
                    park::settle_before_park(if self.inner.callers_commit {
                        self.inner.conn.clone()
                    } else {
                        jobs.clone()
                    });
                }
            })
        } else {
            jobs.push(job)
        };
        if let Err(unsent) = queued {
            unsent.0.done.refuse_closed();
        }
    }

    fn submit_and_wait(
        &self,
        op: Op,
        on: CommitOn,
    ) -> impl std::future::Future<Output = Result<Inserted, WriteError>> {
        let (done, outcome) = oneshot::channel();
        let job = Job {
            op,
            done: Done::Wake(done),
        };
        let here = if self.here(on) {
            Some(self.inner.conn.queue_here(job))
        } else {
            self.queue_for_writer(job);
            None
        };
        async move {
            if let Some(pending) = here {
                pending.commit();
            }
            outcome
                .await
                .unwrap_or(Err(WriteError::Closed(Writer::Store)))
        }
    }

    /// Queues a captured request; the returned future resolves to its row once it is committed.
    /// With [`CommitOn::Caller`] the future makes the commit itself, when polled.
    pub fn insert_request(
        &self,
        request: Arc<CapturedRequest>,
        signature: Verdict,
        event_type: Option<String>,
        schema: Option<&SchemaReport>,
        on: CommitOn,
    ) -> impl std::future::Future<Output = Result<RequestRow, WriteError>> {
        let committed = self.submit_and_wait(
            Op::InsertRequest {
                request,
                signature,
                event_type,
                schema: schema.map(schema_json),
            },
            on,
        );
        async move {
            committed.await?.map(RequestRow).ok_or_else(|| {
                WriteError::Write(
                    Writer::Store,
                    "the store gave no row for the request".into(),
                )
            })
        }
    }

    /// Queues the answer a request got (the request must already be stored); `on_commit` runs
    /// once the answer is committed, or with the error. Nobody waits on it: with
    /// [`CommitOn::Caller`] it is committed on the caller's thread as soon as the caller's task
    /// yields (once the answer is written to its sender), otherwise it shares a commit with other
    /// writes, a few milliseconds later at most.
    pub fn record_response(
        &self,
        request: RequestRow,
        response: RecordedResponse,
        forward: Option<ForwardOutcome>,
        schema: Option<&SchemaReport>,
        on: CommitOn,
        on_commit: impl FnOnce(Result<(), WriteError>) + Send + 'static,
    ) {
        self.submit_deferred(
            Op::RecordResponse {
                request,
                response,
                forward,
                schema: schema.map(schema_json),
            },
            Box::new(on_commit),
            on,
        );
    }

    /// Saves a delivery (inserting it, or updating it by id); resolves once committed.
    pub(crate) fn save_delivery(
        &self,
        delivery: Delivery,
    ) -> impl std::future::Future<Output = Result<(), WriteError>> {
        let committed = self.submit_and_wait(Op::SaveDelivery(delivery), CommitOn::Writer);
        async move { committed.await.map(|_| ()) }
    }

    /// Commits everything queued so far and stops the writer. Later writes fail with `Closed`.
    pub fn close(&self) {
        self.inner.close();
    }
}
