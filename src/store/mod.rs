//! The durable store: SQLite (WAL) in one file under the store directory.
//!
//! Writes go through one writer thread that commits in batches; readers — including a second
//! process running `requests list` — open their own connections.

mod codec;
mod read;
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

use crate::model::{CapturedRequest, ForwardOutcome, RecordedResponse};
use crate::signature::Verdict;
use writer::{Job, Op};

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
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// Formats a time the way the store and the JSON output hold it: RFC 3339, UTC, microseconds.
pub fn format_time(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
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
    /// Opens (creating if needed) the store in `dir`, migrates it and starts the writer.
    pub fn open(dir: &Path, durability: Durability) -> anyhow::Result<Store> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the store directory {}", dir.display()))?;
        let mut conn = open_connection(&db_path(dir))?;
        let synchronous = match durability {
            Durability::Process => "NORMAL",
            Durability::Power => "FULL",
        };
        conn.pragma_update(None, "synchronous", synchronous)?;
        schema::migrate(&mut conn)?;
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer::run(conn, rx))?;
        Ok(Store {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                jobs: Mutex::new(Some(tx)),
                thread: Mutex::new(Some(thread)),
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

    fn submit(&self, op: Op) -> oneshot::Receiver<Result<(), String>> {
        let (done, outcome) = oneshot::channel();
        let jobs = self.inner.jobs.lock().expect("store queue lock");
        if let Some(jobs) = jobs.as_ref() {
            let _ = jobs.send(Job {
                op,
                done: Some(done),
            });
        }
        outcome
    }

    /// Queues a captured request; the returned future resolves once it is committed.
    pub fn insert_request(
        &self,
        request: Arc<CapturedRequest>,
        signature: Verdict,
        event_type: Option<String>,
    ) -> impl std::future::Future<Output = Result<(), StoreError>> {
        wait(self.submit(Op::InsertRequest {
            request,
            signature,
            event_type,
        }))
    }

    /// Queues the answer a request got; it is written even if the future is never awaited.
    pub fn record_response(
        &self,
        request_id: String,
        response: RecordedResponse,
        forward: Option<ForwardOutcome>,
    ) -> impl std::future::Future<Output = Result<(), StoreError>> {
        wait(self.submit(Op::RecordResponse {
            request_id,
            response,
            forward,
        }))
    }

    /// Commits everything queued so far and stops the writer. Later writes fail with `Closed`.
    pub fn close(&self) {
        self.inner.jobs.lock().expect("store queue lock").take();
        if let Some(thread) = self.inner.thread.lock().expect("store thread lock").take() {
            let _ = thread.join();
        }
    }
}

async fn wait(outcome: oneshot::Receiver<Result<(), String>>) -> Result<(), StoreError> {
    match outcome.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(message)) => Err(StoreError::Write(message)),
        Err(_) => Err(StoreError::Closed),
    }
}
