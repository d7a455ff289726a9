//! The single writer thread: takes writes from a queue and commits them in batches (group commit).
//! A caller's write is acknowledged only after the transaction that holds it has committed.

use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{params, Connection};

use super::codec::encode_headers;
use super::connection::SharedConnection;
use super::queue::JobQueue;
use super::{StoreError, BUSY_TIMEOUT};
use crate::delivery::Delivery;
use crate::model::{CapturedRequest, ForwardOutcome, RecordedResponse};
use crate::signature::Verdict;

/// The most writes committed in one transaction.
const MAX_BATCH: usize = 256;

/// Called with a write's outcome once its transaction has committed (or failed).
pub type OnCommit = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// One write, with what to do once its outcome is known.
pub(super) struct Job {
    pub op: Op,
    pub done: OnCommit,
}

/// A write to the store.
pub(super) enum Op {
    InsertRequest {
        request: Arc<CapturedRequest>,
        signature: Verdict,
        event_type: Option<String>,
        schema: Option<String>,
    },
    RecordResponse {
        request_id: String,
        response: RecordedResponse,
        forward: Option<ForwardOutcome>,
        schema: Option<String>,
    },
    SaveDelivery(Delivery),
}

/// Waits for the next job, then takes whatever else is already queued, up to `max`: one batch
/// for one transaction. `None` once every sender is gone and the queue is empty.
pub fn next_batch<T>(jobs: &Receiver<T>, max: usize) -> Option<Vec<T>> {
    let mut batch = vec![jobs.recv().ok()?];
    while batch.len() < max {
        match jobs.try_recv() {
            Ok(job) => batch.push(job),
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
        }
    }
    Some(batch)
}

/// Runs until the queue is closed and empty.
pub(super) fn run(shared: Arc<SharedConnection>, jobs: Arc<JobQueue<Job>>) {
    while let Some(batch) = jobs.next_batch(MAX_BATCH) {
        match shared.lock().as_ref() {
            Some(conn) => commit_batch(conn, batch),
            None => fail_all(batch, "the store is closed"),
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
        commit_batch(conn, batch);
    }
}

/// Runs one of the statements that begin and end a transaction, parsed once per connection.
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Commits everything queued without waiting for a write lock another process holds; gives
/// back the batch it could not begin, for the writer thread, which may wait.
pub(super) fn commit_all_unless_locked(
    conn: &Connection,
    jobs: &JobQueue<Job>,
) -> Result<(), Vec<Job>> {
    if let Err(err) = conn.busy_timeout(Duration::ZERO) {
        tracing::warn!("cannot stop the store waiting for locks: {err}");
    }
    let outcome = loop {
        let batch = jobs.take_now(MAX_BATCH);
        if batch.is_empty() {
            break Ok(());
        }
        match run_cached(conn, "BEGIN IMMEDIATE") {
            Err(rusqlite::Error::SqliteFailure(failure, _))
                if failure.code == rusqlite::ErrorCode::DatabaseBusy =>
            {
                break Err(batch)
            }
            Err(err) => fail_all(batch, &err.to_string()),
            Ok(()) => apply_and_commit(conn, batch),
        }
    };
    if let Err(err) = conn.busy_timeout(BUSY_TIMEOUT) {
        tracing::warn!("cannot restore the store's lock timeout: {err}");
    }
    outcome
}

fn commit_batch(conn: &Connection, batch: Vec<Job>) {
    match run_cached(conn, "BEGIN IMMEDIATE") {
        Ok(()) => apply_and_commit(conn, batch),
        Err(err) => fail_all(batch, &err.to_string()),
    }
}

/// Applies a batch inside the transaction just begun and commits it.
fn apply_and_commit(conn: &Connection, batch: Vec<Job>) {
    let results: Vec<Result<(), StoreError>> = batch
        .iter()
        .map(|job| apply(conn, &job.op).map_err(|e| StoreError::Write(e.to_string())))
        .collect();
    if let Err(err) = run_cached(conn, "COMMIT") {
        if !conn.is_autocommit() {
            let _ = run_cached(conn, "ROLLBACK");
        }
        return fail_all(batch, &err.to_string());
    }
    for (job, result) in batch.into_iter().zip(results) {
        (job.done)(result);
    }
}

fn fail_all(batch: Vec<Job>, error: &str) {
    tracing::error!("store commit failed: {error}");
    for job in batch {
        (job.done)(Err(StoreError::Write(error.to_string())));
    }
}

fn apply(tx: &Connection, op: &Op) -> rusqlite::Result<()> {
    match op {
        Op::InsertRequest {
            request,
            signature,
            event_type,
            schema,
        } => {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO requests (id, received_at, peer, method, path, headers, body, size,
                    event_type, sig_status, sig_profile, sig_reason, replay_of, schema_report)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )?;
            stmt.execute(params![
                request.id,
                super::format_time(&request.received_at),
                request.peer.map(|p| p.to_string()),
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
        }
        Op::RecordResponse {
            request_id,
            response,
            forward,
            schema,
        } => {
            let mut stmt = tx.prepare_cached(
                "UPDATE requests SET resp_status = ?2, resp_headers = ?3, resp_body = ?4,
                    fwd_target = ?5, fwd_status = ?6, fwd_duration_ms = ?7, fwd_error = ?8,
                    schema_report = COALESCE(?9, schema_report)
                 WHERE id = ?1",
            )?;
            let updated = stmt.execute(params![
                request_id,
                response.status,
                encode_headers(&response.headers),
                response.body.as_ref(),
                forward.as_ref().map(|f| f.target.as_str()),
                forward.as_ref().and_then(|f| f.status),
                forward.as_ref().map(|f| f.duration_ms),
                forward.as_ref().and_then(|f| f.error.as_deref()),
                schema,
            ])?;
            if updated == 0 {
                return Err(rusqlite::Error::QueryReturnedNoRows);
            }
        }
        Op::SaveDelivery(d) => {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO deliveries (id, kind, event_type, target, status, attempt_count,
                    response_status_code, response_body, error_message, created_at, request_id, source_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                 ON CONFLICT(id) DO UPDATE SET status = excluded.status,
                    attempt_count = excluded.attempt_count,
                    response_status_code = excluded.response_status_code,
                    response_body = excluded.response_body,
                    error_message = excluded.error_message,
                    request_id = excluded.request_id",
            )?;
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
        }
    }
    Ok(())
}
