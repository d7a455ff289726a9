//! The store's one writing connection, shared by the writer thread and by callers that commit
//! their own write. A request handled while nothing else is in flight commits on its own thread:
//! no wake-up of the writer thread on the way in, none of the runtime on the way out, which is
//! most of what a lone request costs. Under load writes go to the writer thread instead, which
//! batches them and keeps SQLite off the thread serving connections.

use std::sync::{Arc, Mutex, MutexGuard, Weak};

use rusqlite::Connection;
use tokio::sync::Notify;

use super::queue::{JobQueue, DEFER_LIMIT};
use super::writer::{commit_all, commit_all_unless_locked, Job};

/// The writing connection (`None` once closed) and the queue of writes for it.
pub(super) struct SharedConnection {
    conn: Mutex<Option<Connection>>,
    jobs: Arc<JobQueue<Job>>,
    /// Wakes the task that commits deferred writes a caller left behind.
    deferred: Arc<Notify>,
    /// Whether that task runs: only when the store was opened within a tokio runtime.
    flushes: bool,
}

impl SharedConnection {
    /// Shares `conn`; within a tokio runtime, also starts the task that commits deferred writes
    /// callers left behind once they have waited [`DEFER_LIMIT`].
    pub fn new(conn: Connection, jobs: Arc<JobQueue<Job>>) -> Arc<SharedConnection> {
        let runtime = tokio::runtime::Handle::try_current().ok();
        let deferred = Arc::new(Notify::new());
        let shared = Arc::new(SharedConnection {
            conn: Mutex::new(Some(conn)),
            jobs,
            deferred: deferred.clone(),
            flushes: runtime.is_some(),
        });
        if let Some(runtime) = runtime {
            runtime.spawn(flush_deferred(Arc::downgrade(&shared), deferred));
        }
        shared
    }

    /// The connection, for the writer thread; `None` once closed.
    pub fn lock(&self) -> MutexGuard<'_, Option<Connection>> {
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues a write someone waits on and commits it on this thread, with whatever else is
    /// queued, once the other ready tasks have run (the forward that was just started, for one).
    pub async fn commit_here(&self, job: Job) {
        if let Err(unsent) = self.jobs.push_quiet(job) {
            return (unsent.0.done)(Err(super::StoreError::Closed));
        }
        tokio::task::yield_now().await;
        self.commit_queued();
    }

    /// Queues a write nobody waits on without waking the writer thread; it rides along with the
    /// next commit, or is committed here after [`DEFER_LIMIT`].
    pub fn defer_here(&self, job: Job) {
        let queued = if self.flushes {
            self.jobs.push_deferred_quiet(job)
        } else {
            self.jobs.push_deferred(job)
        };
        match queued {
            Ok(()) => self.deferred.notify_one(),
            Err(unsent) => (unsent.0.done)(Err(super::StoreError::Closed)),
        }
    }

    /// Commits everything queued, unless someone else holds the connection: the writer thread
    /// then finds these writes when it next looks at the queue, and another caller looks again
    /// after letting go of it. Never waits for another process's lock on the store: what it
    /// cannot begin goes to the writer thread, which may.
    pub fn commit_queued(&self) {
        loop {
            let locked_out = {
                let Ok(mut conn) = self.conn.try_lock() else {
                    return;
                };
                let Some(conn) = conn.as_mut() else { return };
                commit_all_unless_locked(conn, &self.jobs).err()
            };
            if let Some(batch) = locked_out {
                return self.jobs.requeue(batch);
            }
            if !self.jobs.has_urgent() {
                return;
            }
        }
    }

    /// Commits whatever is still queued and closes the connection.
    pub fn close(&self) {
        self.deferred.notify_one();
        if let Some(conn) = self.lock().take() {
            commit_all(&conn, &self.jobs);
        }
    }

    fn is_closed(&self) -> bool {
        self.lock().is_none()
    }
}

/// Commits the deferred writes callers left behind, [`DEFER_LIMIT`] after they were queued,
/// until the connection is closed or gone.
async fn flush_deferred(shared: Weak<SharedConnection>, deferred: Arc<Notify>) {
    loop {
        deferred.notified().await;
        tokio::time::sleep(DEFER_LIMIT).await;
        match shared.upgrade() {
            Some(shared) if !shared.is_closed() => shared.commit_queued(),
            _ => return,
        }
    }
}
