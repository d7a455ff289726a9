//! Writes committed on the async runtime itself, by the task that waits for them, instead of on
//! the writer thread: no thread wake-up on either side of a commit, which is most of what a lone
//! request costs. For `listen` on its single-threaded runtime with process durability, where a
//! commit is a few tens of microseconds of CPU and never waits for the disk.
//!
//! Group commit still happens: a task queues its write, lets every other ready task run first
//! (the forward it started, other requests queuing theirs), then commits whatever is queued.

use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::Notify;

use super::queue::{JobQueue, DEFER_LIMIT};
use super::writer::{commit_all, Job};

/// The connection and queue shared by the tasks that commit.
pub(super) struct RuntimeWriter {
    /// `None` once closed.
    conn: Mutex<Option<Connection>>,
    jobs: Arc<JobQueue<Job>>,
    /// Woken when a deferred write is queued, so it is committed even if nothing follows it.
    deferred: Arc<Notify>,
}

impl RuntimeWriter {
    /// Takes over `conn` and starts the task that commits deferred writes left alone; must be
    /// called within a tokio runtime.
    pub fn start(conn: Connection, jobs: Arc<JobQueue<Job>>) -> Arc<RuntimeWriter> {
        let deferred = Arc::new(Notify::new());
        let writer = Arc::new(RuntimeWriter {
            conn: Mutex::new(Some(conn)),
            jobs,
            deferred: deferred.clone(),
        });
        let weak = Arc::downgrade(&writer);
        tokio::spawn(async move {
            loop {
                deferred.notified().await;
                tokio::time::sleep(DEFER_LIMIT).await;
                match weak.upgrade() {
                    Some(writer) if !writer.is_closed() => writer.commit_queued(),
                    _ => return,
                }
            }
        });
        writer
    }

    /// Queues an urgent write and commits it (with whatever else is queued by then) once the
    /// other ready tasks have run.
    pub async fn commit_soon(&self, job: Job) {
        if let Err(unsent) = self.jobs.push(job) {
            (unsent.0.done)(Err(super::StoreError::Closed));
            return;
        }
        tokio::task::yield_now().await;
        self.commit_queued();
    }

    /// Queues a write nobody waits on; it rides along with the next commit.
    pub fn defer(&self, job: Job) {
        match self.jobs.push_deferred(job) {
            Ok(()) => self.deferred.notify_one(),
            Err(unsent) => (unsent.0.done)(Err(super::StoreError::Closed)),
        }
    }

    /// Commits everything queued, unless another thread is already committing (it then takes
    /// this write along: it looks at the queue again after letting go of the connection).
    pub fn commit_queued(&self) {
        loop {
            {
                let Ok(mut conn) = self.conn.try_lock() else {
                    return;
                };
                let Some(conn) = conn.as_mut() else {
                    return;
                };
                commit_all(conn, &self.jobs);
            }
            if !self.jobs.has_urgent() {
                return;
            }
        }
    }

    fn is_closed(&self) -> bool {
        self.conn.lock().map_or(true, |conn| conn.is_none())
    }

    /// Commits what is left and closes the connection; later writes fail with `Closed`.
    pub fn close(&self) {
        self.deferred.notify_one();
        self.jobs.close();
        let mut conn = self
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(open) = conn.take() {
            commit_all(&open, &self.jobs);
        }
    }
}
