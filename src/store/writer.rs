//! The single writer thread: takes writes from a queue and commits them in batches (group commit).
//! A caller's write is acknowledged only after the transaction that holds it has committed.

use std::sync::Arc;

use rusqlite::{params, CachedStatement, Connection};

use super::codec::encode_headers;
use super::connection::SharedConnection;
use super::queue::JobQueue;
use super::wakes::{wake, Waiter, Wakes};
use super::{without_waiting_for_locks, RequestRow, WriteError, Writer};
use crate::delivery::Delivery;
use crate::model::{CapturedRequest, ForwardOutcome, RecordedResponse};
use crate::signature::Verdict;

/// The most writes committed in one transaction.
pub(super) const MAX_BATCH: usize = 256;

/// Called with a write's outcome once its transaction has committed (or failed).
pub(crate) type OnCommit = Box<dyn FnOnce(Result<(), WriteError>) + Send>;

/// What a committed write reports: the row it inserted, when it inserted one.
pub(crate) type Inserted = Option<i64>;

/// One write, with what to do once its outcome is known.
pub(super) struct Job {
    /// The write.
    pub op: Op,
    /// Done exactly once, after the transaction holding the write committed or failed.
    pub done: Done,
}

/// What is done with a write's outcome.
pub(super) enum Done {
    /// A caller waits for it.
    Wake(Waiter),
    /// Nobody waits: this runs, on the thread that committed.
    Call(OnCommit),
}

impl Done {
    pub(super) fn finish(self, outcome: Result<Inserted, WriteError>) {
        match self {
            Done::Wake(waiter) => wake(waiter, outcome),
            Done::Call(call) => call(outcome.map(|_| ())),
        }
    }

    /// Tells whoever waits that the write was refused: the store is closed.
    pub(super) fn refuse_closed(self) {
        self.finish(Err(WriteError::Closed(Writer::Store)));
    }
}

/// A write to the store.
pub(super) enum Op {
    /// A captured request, before its answer is known.
    InsertRequest {
        request: Arc<CapturedRequest>,
        signature: Verdict,
        event_type: Option<String>,
        /// The schema report as JSON.
        schema: Option<String>,
    },
    /// The answer a stored request got.
    RecordResponse {
        request: RequestRow,
        response: RecordedResponse,
        forward: Option<ForwardOutcome>,
        /// The schema report as JSON, when the answer changed it.
        schema: Option<String>,
    },
    /// A delivery made by trigger or replay, inserted or updated by id.
    SaveDelivery(Delivery),
}

/// Runs until the queue is closed and empty.
pub(super) fn run(shared: Arc<SharedConnection>, jobs: Arc<JobQueue<Job>>) {
    let _fails_the_rest_if_it_panics = FailOnPanic(&jobs);
    while let Some(batch) = jobs.next_batch(MAX_BATCH) {
        match shared.lock().as_ref() {
            Some(conn) => shared.commit_batch(conn, batch),
            None => fail_closed(batch),
        }
    }
}

/// Should the writer thread die, closes its queue and fails what is in it, so that nobody waits
/// for a commit that will never come.
struct FailOnPanic<'a>(&'a JobQueue<Job>);

impl Drop for FailOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            tracing::error!("the store's writer thread failed; writes are refused from now on");
            self.0.close();
            fail_closed(self.0.take_now(usize::MAX));
        }
    }
}

/// Commits everything queued, batch by batch, without waiting for more.
pub(super) fn commit_all(conn: &Connection, jobs: &JobQueue<Job>) {
    loop {
        let batch = jobs.take_now(MAX_BATCH);
        if batch.is_empty() {
            return;
        }
        commit_batch(conn, batch, &Wakes::DIRECT);
    }
}

/// Runs one of the statements that begin and end a transaction, parsed once per connection.
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Commits `batch` unless another process holds the store's write lock; then gives it back
/// untouched, for the writer thread, which may wait.
pub(super) fn commit_unless_locked(conn: &Connection, batch: Vec<Job>) -> Result<(), Vec<Job>> {
    let Some(begun) = without_waiting_for_locks(conn, || run_cached(conn, "BEGIN IMMEDIATE"))
    else {
        return Err(batch);
    };
    match begun {
        Ok(()) => {
            apply_and_commit(conn, batch, &Wakes::DIRECT);
            Ok(())
        }
        Err(rusqlite::Error::SqliteFailure(failure, _))
            if failure.code == rusqlite::ErrorCode::DatabaseBusy =>
        {
            Err(batch)
        }
        Err(err) => {
            fail_all(batch, &err.to_string());
            Ok(())
        }
    }
}

/// Commits `batch`, waiting for another process's lock on the store; the waiters of its writes
/// hear of the outcome through `wakes`.
pub(super) fn commit_batch(conn: &Connection, batch: Vec<Job>, wakes: &Wakes) {
    match run_cached(conn, "BEGIN IMMEDIATE") {
        Ok(()) => apply_and_commit(conn, batch, wakes),
        Err(err) => fail_all(batch, &err.to_string()),
    }
}

/// Applies a batch inside the transaction just begun and commits it. The writes nobody waits
/// on are done with first; the waiters then hear together through `wakes`.
fn apply_and_commit(conn: &Connection, batch: Vec<Job>, wakes: &Wakes) {
    let mut statements = Statements::new(conn);
    let results: Vec<Result<Inserted, WriteError>> = batch
        .iter()
        .map(|job| {
            apply(&mut statements, &job.op)
                .map_err(|e| WriteError::Write(Writer::Store, e.to_string()))
        })
        .collect();
    drop(statements);
    if let Err(err) = run_cached(conn, "COMMIT") {
        if !conn.is_autocommit() {
            let _ = run_cached(conn, "ROLLBACK");
        }
        return fail_all(batch, &err.to_string());
    }
    let mut waiters = Vec::new();
    for (job, result) in batch.into_iter().zip(results) {
        match job.done {
            Done::Wake(waiter) => waiters.push((waiter, result)),
            done => done.finish(result),
        }
    }
    wakes.deliver(waiters);
}

fn fail_closed(batch: Vec<Job>) {
    for job in batch {
        job.done.refuse_closed();
    }
}

fn fail_all(batch: Vec<Job>, error: &str) {
    tracing::error!("store commit failed: {error}");
    for job in batch {
        job.done
            .finish(Err(WriteError::Write(Writer::Store, error.to_string())));
    }
}

/// The statements one batch runs, each taken from the connection's cache once for the whole
/// batch rather than once a write (a cache look-up and return hashes the statement's text).
struct Statements<'conn> {
    conn: &'conn Connection,
    prepared: [Option<CachedStatement<'conn>>; 3],
}

#[derive(Clone, Copy)]
enum Statement {
    InsertRequest,
    RecordResponse,
    SaveDelivery,
}

impl Statement {
    fn sql(self) -> &'static str {
        match self {
            Statement::InsertRequest => {
                "INSERT INTO requests (id, received_at, peer, method, path, headers, body, size,
                    event_type, sig_status, sig_profile, sig_reason, replay_of, schema_report)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
            }
            Statement::RecordResponse => {
                "INSERT OR REPLACE INTO answers (request_seq, status, headers, body, fwd_target,
                    fwd_status, fwd_duration_ms, fwd_error, schema_report, truncated)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
            }
            Statement::SaveDelivery => {
                "INSERT INTO deliveries (id, kind, event_type, target, status, attempt_count,
                    response_status_code, response_body, error_message, created_at, request_id, source_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                 ON CONFLICT(id) DO UPDATE SET status = excluded.status,
                    attempt_count = excluded.attempt_count,
                    response_status_code = excluded.response_status_code,
                    response_body = excluded.response_body,
                    error_message = excluded.error_message,
                    request_id = excluded.request_id"
            }
        }
    }
}

impl<'conn> Statements<'conn> {
    fn new(conn: &'conn Connection) -> Self {
        Self {
            conn,
            prepared: [None, None, None],
        }
    }

    fn get(&mut self, which: Statement) -> rusqlite::Result<&mut CachedStatement<'conn>> {
        let slot = &mut self.prepared[which as usize];
        match slot {
            Some(statement) => Ok(statement),
            None => Ok(slot.insert(self.conn.prepare_cached(which.sql())?)),
        }
    }
}

fn apply(statements: &mut Statements<'_>, op: &Op) -> rusqlite::Result<Inserted> {
    match op {
        Op::InsertRequest {
            request,
            signature,
            event_type,
            schema,
        } => {
            let stmt = statements.get(Statement::InsertRequest)?;
            stmt.execute(params![
                request.id,
                crate::model::format_time(&request.received_at),
                request.peer.map(crate::addr_text::socket_addr),
                request.method,
                request.path,
                encode_headers(&request.headers),
                request.body.as_ref(),
                request.body.len() as i64,
                event_type,
                signature.status.as_str(),
                signature.profile,
                signature.reason,
                request.replay_of,
                schema,
            ])?;
            Ok(Some(statements.conn.last_insert_rowid()))
        }
        Op::RecordResponse {
            request,
            response,
            forward,
            schema,
        } => {
            let stmt = statements.get(Statement::RecordResponse)?;
            stmt.execute(params![
                request.0,
                response.status,
                encode_headers(&response.headers),
                response.body.as_ref(),
                forward.as_ref().map(|f| f.target.as_str()),
                forward.as_ref().and_then(|f| f.status),
                forward.as_ref().map(|f| f.duration_ms),
                forward.as_ref().and_then(|f| f.error.as_deref()),
                schema,
                forward.as_ref().is_some_and(|f| f.answer_truncated),
            ])?;
            Ok(None)
        }
        Op::SaveDelivery(d) => {
            let stmt = statements.get(Statement::SaveDelivery)?;
            stmt.execute(params![
                d.id,
                d.kind,
                d.event_type,
                d.target,
                d.status.as_str(),
                d.attempt_count,
                d.response_status_code,
                d.response_body,
                d.error_message,
                d.created_at,
                d.request_id,
                d.source_id,
            ])?;
            Ok(None)
        }
    }
}
