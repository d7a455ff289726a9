//! The store's write paths: commits made by the caller, by the writer thread, and on close.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use webhook_dev::model::{CapturedRequest, RecordedResponse};
use webhook_dev::signature;
use webhook_dev::store::{CommitOn, Durability, RequestRow, Store, StoreReader};

use crate::support::eventually::eventually;

fn request(n: u32) -> Arc<CapturedRequest> {
    Arc::new(CapturedRequest {
        id: format!("req_{n:026}"),
        received_at: chrono::Utc::now(),
        peer: None,
        method: "POST".into(),
        path: format!("/store/{n}"),
        headers: vec![("content-type".into(), b"application/json".to_vec())],
        body: Bytes::from(format!("{{\"n\":{n}}}")),
        replay_of: None,
    })
}

fn insert(
    store: &Store,
    n: u32,
    on: CommitOn,
) -> impl std::future::Future<Output = Result<RequestRow, webhook_dev::store::WriteError>> {
    store.insert_request(
        request(n),
        signature::unchecked(&Vec::new()),
        None,
        None,
        on,
    )
}

/// Records `response` as the answer to `row`, committed by the caller; the receiver hears
/// whether it was committed.
fn record_lone_answer(
    store: &Store,
    row: RequestRow,
    response: RecordedResponse,
) -> tokio::sync::oneshot::Receiver<bool> {
    let (done, committed) = tokio::sync::oneshot::channel();
    store.record_response(
        row,
        response,
        None,
        None,
        CommitOn::Caller,
        move |outcome| {
            let _ = done.send(outcome.is_ok());
        },
    );
    committed
}

async fn count_reaches(dir: &std::path::Path, n: u64) {
    let reader = StoreReader::open(dir).unwrap();
    let stored = eventually(Duration::from_secs(5), || reader.count().unwrap() >= n).await;
    assert!(stored, "{n} requests stored");
}

#[tokio::test]
async fn a_write_whose_caller_gives_up_before_committing_it_is_still_committed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Durability::Process).unwrap();
    // Let the writer thread go to sleep on its empty queue first.
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(insert(&store, 1, CommitOn::Caller));
    count_reaches(dir.path(), 1).await;
}

#[tokio::test]
async fn an_answer_deferred_by_a_lone_caller_is_committed_without_another_write() {
    for durability in [Durability::Process, Durability::Power] {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), durability).unwrap();
        let row = insert(&store, 1, CommitOn::Caller).await.unwrap();
        let committed = record_lone_answer(&store, row, RecordedResponse::plain(202, "later"));
        let committed = tokio::time::timeout(Duration::from_secs(5), committed).await;
        assert_eq!(
            committed.ok().and_then(Result::ok),
            Some(true),
            "{durability:?}"
        );
        let stored = StoreReader::open(dir.path())
            .unwrap()
            .get(&request(1).id)
            .unwrap()
            .unwrap();
        assert_eq!(stored.response.unwrap().status, 202);
    }
}

/// The answer a lone caller leaves behind is committed by the caller's runtime as soon as the
/// caller yields (in the engine: once the answer is written to its sender), not on a timer: with
/// the clock paused, no time passes before it is committed.
#[tokio::test(start_paused = true)]
async fn an_answer_deferred_by_a_lone_caller_is_committed_once_the_caller_yields() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Durability::Process).unwrap();
    let row = insert(&store, 1, CommitOn::Caller).await.unwrap();
    let queued = tokio::time::Instant::now();
    let committed = record_lone_answer(&store, row, RecordedResponse::plain(200, "at once"));
    assert_eq!(committed.await, Ok(true));
    assert_eq!(queued.elapsed(), Duration::ZERO);
}

#[tokio::test]
async fn answers_recorded_by_row_reach_their_own_requests_when_committed_in_batches() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Durability::Process).unwrap();
    let inserts: Vec<_> = (0..40)
        .map(|n| tokio::spawn(insert(&store, n, CommitOn::Writer)))
        .collect();
    let mut rows = Vec::new();
    for insert in inserts {
        rows.push(insert.await.unwrap().unwrap());
    }
    let distinct: std::collections::HashSet<_> = rows.iter().collect();
    assert_eq!(
        distinct.len(),
        rows.len(),
        "every request has a row of its own"
    );
    let mut committed = Vec::new();
    for (n, row) in rows.into_iter().enumerate() {
        let (done, answer_committed) = tokio::sync::oneshot::channel();
        store.record_response(
            row,
            RecordedResponse::plain(200 + n as u16, format!("answer {n}")),
            None,
            None,
            CommitOn::Writer,
            move |outcome| {
                let _ = done.send(outcome.is_ok());
            },
        );
        committed.push(answer_committed);
    }
    for answer_committed in committed {
        assert!(answer_committed.await.unwrap());
    }
    let reader = StoreReader::open(dir.path()).unwrap();
    for n in 0..40u32 {
        let stored = reader.get(&request(n).id).unwrap().unwrap();
        let response = stored.response.unwrap();
        assert_eq!(response.status, 200 + n as u16, "request {n}");
        let sent = RecordedResponse::plain(200 + n as u16, format!("answer {n}"));
        assert_eq!(response.body, sent.body, "request {n}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_closes_at_once_both_return_once_everything_is_committed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Durability::Process).unwrap();
    let writes: Vec<_> = (0..200)
        .map(|n| {
            let on = if n % 2 == 0 {
                CommitOn::Writer
            } else {
                CommitOn::Caller
            };
            tokio::spawn(insert(&store, n, on))
        })
        .collect();
    let closes: Vec<_> = (0..2)
        .map(|_| {
            let store = store.clone();
            let dir = dir.path().to_path_buf();
            tokio::task::spawn_blocking(move || {
                store.close();
                StoreReader::open(&dir).unwrap().count().unwrap()
            })
        })
        .collect();
    let mut accepted: u64 = 0;
    for write in writes {
        match write.await.unwrap() {
            Ok(_) => accepted += 1,
            Err(err) => assert!(
                matches!(err, webhook_dev::store::WriteError::Closed(_)),
                "{err}"
            ),
        }
    }
    for close in closes {
        assert_eq!(close.await.unwrap(), accepted, "a close returned early");
    }
}

#[tokio::test]
async fn writes_after_close_are_refused_as_closed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Durability::Process).unwrap();
    let closing = store.clone();
    tokio::task::spawn_blocking(move || closing.close())
        .await
        .unwrap();
    for on in [CommitOn::Caller, CommitOn::Writer] {
        let refused = insert(&store, 1, on).await.unwrap_err();
        assert!(
            matches!(refused, webhook_dev::store::WriteError::Closed(_)),
            "{refused}"
        );
    }
}

/// A store written before answers had a table of their own (schema version 2) keeps every request
/// and every answer through the migration.
#[test]
fn a_store_of_schema_version_two_keeps_its_requests_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    {
        let conn = rusqlite::Connection::open(webhook_dev::store::db_path(dir.path())).unwrap();
        conn.execute_batch(
            "CREATE TABLE requests (
                seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, received_at TEXT NOT NULL,
                peer TEXT, method TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL,
                event_type TEXT, sig_status TEXT NOT NULL, sig_profile TEXT, sig_reason TEXT,
                replay_of TEXT, resp_status INTEGER, fwd_target TEXT, fwd_status INTEGER,
                fwd_duration_ms REAL, fwd_error TEXT, schema_report TEXT, headers BLOB NOT NULL,
                body BLOB NOT NULL, resp_headers BLOB, resp_body BLOB);
             CREATE TABLE deliveries (
                seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
                event_type TEXT, target TEXT NOT NULL, status TEXT NOT NULL,
                attempt_count INTEGER NOT NULL, response_status_code INTEGER, response_body TEXT,
                error_message TEXT, created_at TEXT NOT NULL, request_id TEXT, source_id TEXT);
             INSERT INTO requests (id, received_at, method, path, size, sig_status, headers, body,
                resp_status, fwd_target, fwd_status, fwd_duration_ms, resp_headers, resp_body)
             VALUES ('req_01KBQ0000000000000000000A1', '2026-12-05T10:00:00.000000Z', 'POST',
                '/answered', 2, 'unchecked', X'', CAST('{}' AS BLOB), 201,
                'http://localhost:3000/answered', 201, 1.5, X'', CAST('{\"ok\":true}' AS BLOB));
             INSERT INTO requests (id, received_at, method, path, size, sig_status, headers, body,
                schema_report)
             VALUES ('req_01KBQ0000000000000000000A2', '2026-12-05T10:00:01.000000Z', 'POST',
                '/unanswered', 2, 'unchecked', X'', CAST('{}' AS BLOB),
                '{\"event\":\"x\",\"problems\":[]}');
             PRAGMA user_version = 2;",
        )
        .unwrap();
    }
    Store::open(dir.path(), Durability::Process)
        .unwrap()
        .close();
    let reader = StoreReader::open(dir.path()).unwrap();
    let listed = reader.list(None).unwrap();
    assert_eq!(listed.len(), 2);
    let answered = reader
        .get("req_01KBQ0000000000000000000A1")
        .unwrap()
        .unwrap();
    let response = answered
        .response
        .expect("the answer survived the migration");
    assert_eq!(response.status, 201);
    assert_eq!(response.body.as_ref(), br#"{"ok":true}"#);
    let forward = answered.summary.forward.expect("its forward too");
    assert_eq!(forward.status, Some(201));
    assert_eq!(
        answered.forward_target.as_deref(),
        Some("http://localhost:3000/answered")
    );
    let unanswered = reader
        .get("req_01KBQ0000000000000000000A2")
        .unwrap()
        .unwrap();
    assert!(unanswered.response.is_none() && unanswered.summary.forward.is_none());
    assert_eq!(
        unanswered.summary.schema.unwrap().event.as_deref(),
        Some("x")
    );
}

/// The runtime `listen` runs in: its thread hands the writes it queued to the writer when it
/// parks.
fn runtime_releasing_writes_when_it_parks() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .on_thread_park(webhook_dev::store::before_park)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn writes_held_until_the_runtime_parks_are_all_committed() {
    let dir = tempfile::tempdir().unwrap();
    runtime_releasing_writes_when_it_parks().block_on(async {
        let store = Store::open(dir.path(), Durability::Process).unwrap();
        // Parked once, the thread holds its writes back from then on.
        tokio::time::sleep(Duration::from_millis(10)).await;
        let lone =
            tokio::time::timeout(Duration::from_secs(5), insert(&store, 0, CommitOn::Writer));
        assert!(lone.await.expect("a lone held write is committed").is_ok());
        let many = (1..=100).map(|n| insert(&store, n, CommitOn::Writer));
        let all =
            tokio::time::timeout(Duration::from_secs(5), futures_util::future::join_all(many))
                .await
                .expect("held writes are committed");
        assert!(all.iter().all(Result::is_ok));
        let from_another_thread = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || {
                tokio::runtime::Handle::current().block_on(insert(&store, 101, CommitOn::Writer))
            })
        };
        assert!(from_another_thread.await.unwrap().is_ok());
        count_reaches(dir.path(), 102).await;
    });
}

/// Under load the thread serving requests commits what it queued once it runs out of work,
/// rather than waking the writer thread and waiting for it; a store that fsyncs every commit
/// (`--durability power`) leaves its commits to the writer thread.
#[test]
fn writes_held_until_the_runtime_parks_are_committed_on_its_thread_unless_each_commit_fsyncs() {
    for (durability, commits_here) in [(Durability::Process, true), (Durability::Power, false)] {
        let dir = tempfile::tempdir().unwrap();
        runtime_releasing_writes_when_it_parks().block_on(async {
            let store = Store::open(dir.path(), durability).unwrap();
            tokio::time::sleep(Duration::from_millis(10)).await;
            let serving_thread = std::thread::current().id();
            let rows = futures_util::future::join_all(
                (0..20).map(|n| insert(&store, n, CommitOn::Writer)),
            )
            .await;
            let (done, mut committed) = tokio::sync::mpsc::unbounded_channel();
            for row in rows {
                let done = done.clone();
                store.record_response(
                    row.expect("a held write is committed"),
                    RecordedResponse {
                        status: 200,
                        headers: Vec::new(),
                        body: Bytes::from_static(b"ok"),
                    },
                    None,
                    None,
                    CommitOn::Writer,
                    move |outcome| {
                        let _ = done.send((outcome.is_ok(), std::thread::current().id()));
                    },
                );
            }
            let mut on_serving_thread = 0;
            for _ in 0..20 {
                let (ok, thread) = tokio::time::timeout(Duration::from_secs(5), committed.recv())
                    .await
                    .expect("every answer is committed")
                    .unwrap();
                assert!(ok);
                on_serving_thread += usize::from(thread == serving_thread);
            }
            // An answer waits 5 ms at most for the thread to park before the writer thread
            // takes it: on a loaded machine a few may go that way, never all of them.
            if commits_here {
                assert!(
                    on_serving_thread > 0,
                    "no answer was committed on the serving thread"
                );
            } else {
                assert_eq!(
                    on_serving_thread, 0,
                    "a commit that fsyncs was made on the serving thread"
                );
            }
            store.close();
        });
    }
}
