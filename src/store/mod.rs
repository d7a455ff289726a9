//! The durable store: SQLite (WAL) in one file under the store directory.
//!
//! Writes go through one writer thread that commits in batches; readers — including a second
//! process running `requests list` — open their own connections.

mod checkpoint;
mod codec;
mod queue;
mod read;
mod runtime_writer;
mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::Context as _;
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::Connection;
use tokio::sync::oneshot;

pub use codec::{decode_headers, encode_headers};
pub use read::{StoreReader, StoredRequest};
pub use schema::migrate_with;
pub use writer::next_batch;

use crate::checks::SchemaReport;
use crate::delivery::Delivery;
use crate::model::{CapturedRequest, ForwardOutcome, RecordedResponse};
use crate::signature::Verdict;
use queue::JobQueue;
use runtime_writer::RuntimeWriter;
use writer::{Job, OnCommit, Op};

/// The database file inside the store directory.
pub const DB_FILE: &str = "webhook-dev.sqlite3";

/// How hard a commit tries to reach the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Durability {
    /// Committed to the operating system: survives webhook-dev crashing or being killed.
    Process,
    /// Also fsync'ed: survives power loss, at the cost of a disk flush per batch.
    Power,
}

/// Which thread commits the store's writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Committer {
    /// A writer thread of the store's own: the waiting task never blocks its runtime.
    Thread,
    /// The tokio task that waits for the write, on its own runtime: no thread hand-off, but the
    /// runtime is busy for the length of each commit. Only for [`Durability::Process`], whose
    /// commits never wait for the disk; must be opened within a tokio runtime.
    Runtime,
}

/// Why a write could not be made durable.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The writer has shut down.
    #[error("the store is closed")]
    Closed,
    /// SQLite refused the write.
    #[error("the store could not write: {0}")]
    Write(String),
}

/// A cheap-to-clone handle for writing to the store.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    jobs: Arc<JobQueue<Job>>,
    /// Set when writes are committed on the runtime ([`Committer::Runtime`]).
    on_runtime: Option<Arc<RuntimeWriter>>,
    threads: Mutex<Option<Threads>>,
}

impl Drop for Inner {
    /// A store dropped without [`Store::close`] still commits what is queued.
    fn drop(&mut self) {
        self.jobs.close();
        if let Some(on_runtime) = &self.on_runtime {
            on_runtime.close();
        }
    }
}

struct Threads {
    writer: Option<JoinHandle<()>>,
    checkpointer: JoinHandle<()>,
    stop_checkpointer: mpsc::Sender<()>,
}

/// Formats a time the way the store and the JSON output hold it: RFC 3339, UTC, microseconds.
pub fn format_time(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn schema_json(report: &SchemaReport) -> String {
    serde_json::to_string(report).expect("a schema report always serializes")
}

/// The database path for a store directory.
pub fn db_path(dir: &Path) -> PathBuf {
    dir.join(DB_FILE)
}

fn open_connection(path: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open(path)
        .with_context(|| format!("cannot open the store at {}", path.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

impl Store {
    /// Opens (creating if needed) the store in `dir`, migrates it and starts the writer thread.
    pub fn open(dir: &Path, durability: Durability) -> anyhow::Result<Store> {
        Self::open_with(dir, durability, Committer::Thread)
    }

    /// Like [`Store::open`], with writes committed by `committer`; [`Committer::Runtime`] falls
    /// back to the writer thread with [`Durability::Power`], whose commits wait for the disk.
    pub fn open_with(
        dir: &Path,
        durability: Durability,
        committer: Committer,
    ) -> anyhow::Result<Store> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the store directory {}", dir.display()))?;
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
        let (writer, on_runtime) = match (committer, durability) {
            (Committer::Runtime, Durability::Process) => {
                (None, Some(RuntimeWriter::start(conn, jobs.clone())))
            }
            _ => {
                let jobs = jobs.clone();
                let writer = std::thread::Builder::new()
                    .name("store-writer".into())
                    .spawn(move || writer::run(conn, jobs))?;
                (Some(writer), None)
            }
        };
        let (stop_checkpointer, stop) = mpsc::channel();
        let checkpointer = std::thread::Builder::new()
            .name("store-checkpoint".into())
            .spawn(move || checkpoint::run(checkpoint_conn, stop))?;
        Ok(Store {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                jobs,
                on_runtime,
                threads: Mutex::new(Some(Threads {
                    writer,
                    checkpointer,
                    stop_checkpointer,
                })),
            }),
        })
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// A reader over the same store.
    pub fn reader(&self) -> anyhow::Result<StoreReader> {
        StoreReader::open(&self.inner.dir)
    }

    /// Queues a write; a `deferred` one waits (briefly) for another write to share its commit.
    fn submit(&self, op: Op, done: OnCommit, deferred: bool) {
        let job = Job { op, done };
        if let (Some(on_runtime), true) = (&self.inner.on_runtime, deferred) {
            return on_runtime.defer(job);
        }
        let queued = if deferred {
            self.inner.jobs.push_deferred(job)
        } else {
            self.inner.jobs.push(job)
        };
        if let Err(unsent) = queued {
            (unsent.0.done)(Err(StoreError::Closed));
        }
    }

    fn submit_and_wait(&self, op: Op) -> impl std::future::Future<Output = Result<(), StoreError>> {
        let (done, outcome) = oneshot::channel();
        let done: OnCommit = Box::new(move |result| {
            let _ = done.send(result);
        });
        let on_runtime = match &self.inner.on_runtime {
            Some(on_runtime) => Some((on_runtime.clone(), Job { op, done })),
            None => {
                self.submit(op, done, false);
                None
            }
        };
        async move {
            if let Some((on_runtime, job)) = on_runtime {
                on_runtime.commit_soon(job).await;
            }
            outcome.await.unwrap_or(Err(StoreError::Closed))
        }
    }

    /// Queues a captured request; the returned future resolves once it is committed.
    pub fn insert_request(
        &self,
        request: Arc<CapturedRequest>,
        signature: Verdict,
        event_type: Option<String>,
        schema: Option<&SchemaReport>,
    ) -> impl std::future::Future<Output = Result<(), StoreError>> {
        self.submit_and_wait(Op::InsertRequest {
            request,
            signature,
            event_type,
            schema: schema.map(schema_json),
        })
    }

    /// Queues the answer a request got (the request must already be stored); `on_commit` runs on
    /// the writer thread once the answer is committed, or with the error. Nobody waits on it, so
    /// it shares the next commit, a few milliseconds later at most.
    pub fn record_response(
        &self,
        request_id: String,
        response: RecordedResponse,
        forward: Option<ForwardOutcome>,
        schema: Option<&SchemaReport>,
        on_commit: impl FnOnce(Result<(), StoreError>) + Send + 'static,
    ) {
        self.submit(
            Op::RecordResponse {
                request_id,
                response,
                forward,
                schema: schema.map(schema_json),
            },
            Box::new(on_commit),
            true,
        );
    }

    /// Saves a delivery (inserting it, or updating it by id); resolves once committed.
    pub fn save_delivery(
        &self,
        delivery: Delivery,
    ) -> impl std::future::Future<Output = Result<(), StoreError>> {
        self.submit_and_wait(Op::SaveDelivery(delivery))
    }

    /// Commits everything queued so far and stops the writer. Later writes fail with `Closed`.
    pub fn close(&self) {
        self.inner.jobs.close();
        if let Some(on_runtime) = &self.inner.on_runtime {
            on_runtime.close();
        }
        if let Some(threads) = self.inner.threads.lock().expect("store thread lock").take() {
            if let Some(writer) = threads.writer {
                let _ = writer.join();
            }
            let _ = threads.stop_checkpointer.send(());
            let _ = threads.checkpointer.join();
        }
    }
}
