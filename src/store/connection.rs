//! The store's one writing connection, shared by the writer thread and by callers that commit
//! their own write. A request handled while nothing else is in flight commits on its own thread:
//! no wake-up of the writer thread on the way in, none of the runtime on the way out, which is
//! most of what a lone request costs. Its answer is committed on that thread too, once the
//! answer is on its way to the sender. Under load the thread holds its writes until it runs out
//! of other work and commits them together then ([`super::park`]); what it cannot commit goes to
//! the writer thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError, Weak};

use rusqlite::Connection;
use tokio::sync::Notify;

use super::checkpoint::{Waits, WalGuard};
use super::queue::JobQueue;
use super::wakes::Wakes;
use super::writer::{commit_all, commit_batch, commit_unless_locked, Job, MAX_BATCH};

/// The writing connection (`None` once closed) and the queue of writes for it.
pub(super) struct SharedConnection {
    conn: Mutex<Option<Connection>>,
    closed: AtomicBool,
    /// The checkpointer waits for the connection: writers let it go first.
    checkpoint_waiting: AtomicBool,
    jobs: Arc<JobQueue<Job>>,
    /// Wakes the task that commits deferred writes a caller left behind.
    deferred: Arc<Notify>,
    /// Whether that task runs.
    flushes: bool,
    /// Copies the WAL into the database when the checkpointer has fallen far behind.
    wal_guard: WalGuard,
    /// Tells the callers waiting on the writer thread's batches.
    wakes: Wakes,
}

impl SharedConnection {
    /// Shares `conn`, whose commits `wal_guard` follows. With `callers_commit` and within a tokio
    /// runtime, also starts the task that commits the deferred writes callers leave behind
    /// ([`SharedConnection::defer_here`]).
    pub(crate) fn new(
        conn: Connection,
        jobs: Arc<JobQueue<Job>>,
        callers_commit: bool,
        wal_guard: WalGuard,
    ) -> Arc<SharedConnection> {
        let within = tokio::runtime::Handle::try_current().ok();
        let wakes = Wakes::new(within.as_ref());
        let runtime = within.filter(|_| callers_commit);
        let deferred = Arc::new(Notify::new());
        let shared = Arc::new(SharedConnection {
            wal_guard,
            wakes,
            conn: Mutex::new(Some(conn)),
            closed: AtomicBool::new(false),
            checkpoint_waiting: AtomicBool::new(false),
            jobs,
            deferred: deferred.clone(),
            flushes: runtime.is_some(),
        });
        if let Some(runtime) = runtime {
            runtime.spawn(flush_deferred(Arc::downgrade(&shared), deferred));
        }
        shared
    }

    /// Waits for the connection; `None` once closed. For the writer thread and for closing;
    /// the serving thread uses [`SharedConnection::commit_queued`], which never waits.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Option<Connection>> {
        while self.checkpoint_waiting.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
        crate::sync::lock(&self.conn)
    }

    /// Waits for the connection ahead of the writers (a writer thread that always has another
    /// batch would otherwise keep taking it back), so the checkpointer can hold commits briefly.
    pub(crate) fn lock_for_checkpoint(&self) -> MutexGuard<'_, Option<Connection>> {
        self.checkpoint_waiting.store(true, Ordering::Release);
        let guard = crate::sync::lock(&self.conn);
        self.checkpoint_waiting.store(false, Ordering::Release);
        guard
    }

    /// Queues a write someone waits on, to be committed on the caller's thread by
    /// [`PendingCommit::commit`].
    pub(crate) fn queue_here(self: &Arc<Self>, job: Job) -> PendingCommit {
        if let Err(unsent) = self.jobs.push_quiet(job) {
            unsent.0.done.refuse_closed();
        }
        PendingCommit {
            shared: Some(self.clone()),
        }
    }

    /// Queues a write nobody waits on without waking the writer thread. A task on the runtime
    /// commits it, with any others queued by then, as soon as the task that queued it yields:
    /// for an answer, once hyper has written that answer to the sender. The thread is then busy
    /// committing while the sender reads the answer and sends its next request, which is
    /// waiting when the commit is done; a thread gone to sleep instead must be woken for it,
    /// which costs a sender more than the commit costs the thread.
    pub(crate) fn defer_here(&self, job: Job) {
        let queued = if self.flushes {
            self.jobs.push_deferred_quiet(job)
        } else {
            self.jobs.push_deferred(job)
        };
        match queued {
            Ok(()) if self.flushes => self.deferred.notify_one(),
            Ok(()) => {}
            Err(unsent) => unsent.0.done.refuse_closed(),
        }
    }

    /// Commits one batch of what is queued on this thread, if the connection is free; never
    /// waits, neither for the writer thread nor for another process's lock on the store. What is
    /// left — the rest of a backlog, a batch another process's lock kept out — is the writer
    /// thread's, which is woken for it. With [`Deferred::UntilDue`] the writes nobody waits on
    /// (answers) stay queued until they are due, so a lone request's commit, which its sender
    /// waits for, writes only the request; the answers get a commit of their own once the
    /// sender has been answered.
    pub(crate) fn commit_queued(&self, deferred: Deferred) {
        if self.checkpoint_waiting.load(Ordering::Acquire) || self.wal_guard.wants_the_writer() {
            return self.jobs.wake();
        }
        let mut guard = match self.conn.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return self.jobs.wake(),
        };
        if let Some(conn) = guard.as_mut() {
            let batch = match deferred {
                Deferred::Along => self.jobs.take_now(MAX_BATCH),
                Deferred::UntilDue => self.jobs.take_urgent_now(MAX_BATCH),
            };
            if !batch.is_empty() {
                match commit_unless_locked(conn, batch) {
                    Ok(()) => self.wal_guard.after_commit(conn, Waits::Never),
                    // Put back before letting go of the connection, so that `close` finds it.
                    Err(locked_out) => self.jobs.requeue(locked_out),
                }
            }
        }
        drop(guard);
        let left_for_the_writer = match deferred {
            Deferred::Along => !self.jobs.is_empty(),
            Deferred::UntilDue => self.jobs.has_urgent(),
        };
        if left_for_the_writer {
            self.jobs.wake();
        }
    }

    /// Commits `batch` on `conn`, held by the writer thread through [`SharedConnection::lock`].
    pub(crate) fn commit_batch(&self, conn: &Connection, batch: Vec<Job>) {
        commit_batch(conn, batch, &self.wakes);
        self.wal_guard.after_commit(conn, Waits::ForLocks);
    }

    /// Commits whatever is still queued and closes the connection.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.deferred.notify_one();
        if let Some(conn) = self.lock().take() {
            commit_all(&conn, &self.jobs);
        }
        self.wakes.close();
    }
}

impl super::park::Settle for SharedConnection {
    /// Commits the held writes on this thread, with the answers queued meanwhile; what is left
    /// (the connection was busy, or another process holds the store's lock) is the writer
    /// thread's.
    fn settle(&self) {
        self.commit_queued(Deferred::Along);
        self.jobs.release();
    }
}

/// Whether a commit on the caller's thread takes the writes nobody waits on along.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Deferred {
    /// All that is queued.
    Along,
    /// Only once the oldest of them is due.
    UntilDue,
}

/// A write queued by [`SharedConnection::queue_here`] and not yet committed. Dropped before
/// [`PendingCommit::commit`] (its request was cancelled), it hands the write to the writer thread.
pub(super) struct PendingCommit {
    shared: Option<Arc<SharedConnection>>,
}

impl PendingCommit {
    /// Commits what is queued. The caller lets the forward go first (the engine yields before
    /// it queues the write), so nothing here waits for the runtime again.
    pub(crate) fn commit(mut self) {
        if let Some(shared) = self.shared.take() {
            shared.commit_queued(Deferred::UntilDue);
        }
    }
}

impl Drop for PendingCommit {
    fn drop(&mut self) {
        if let Some(shared) = &self.shared {
            shared.jobs.wake();
        }
    }
}

/// Commits the deferred writes callers left behind each time it is woken for them, until the
/// connection is closed or gone. Woken from a task, it runs once that task yields.
async fn flush_deferred(shared: Weak<SharedConnection>, deferred: Arc<Notify>) {
    loop {
        deferred.notified().await;
        match shared.upgrade() {
            Some(shared) if !shared.closed.load(Ordering::Acquire) => {
                shared.commit_queued(Deferred::Along)
            }
            _ => return,
        }
    }
}
