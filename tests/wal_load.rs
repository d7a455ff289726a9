//! A load test, in a binary of its own rather than in `tests/it`: it bounds the WAL while 32
//! tasks write as fast as they can, which holds only while the store's checkpoint thread gets
//! its share of the CPU, so no other test runs beside it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use webhook_dev::model::CapturedRequest;
use webhook_dev::signature;
use webhook_dev::store::{CommitOn, Durability, Store};

fn request(n: u32, body: Bytes) -> CapturedRequest {
    CapturedRequest {
        id: format!("req_{n:026}"),
        received_at: chrono::Utc::now(),
        peer: None,
        method: "POST".into(),
        path: format!("/store/{n}"),
        headers: vec![("content-type".into(), b"application/json".to_vec())],
        body,
        replay_of: None,
    }
}

/// Under unbroken concurrent writes the WAL is started over again and again instead of growing
/// with everything written (it grew by ~130 MB a second at full load before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_unbroken_load_the_wal_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Durability::Process).unwrap();
    let wal = dir.path().join("webhook-dev.sqlite3-wal");
    let body = Bytes::from(vec![b'x'; 6000]);
    let written = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (wal, written) = (wal.clone(), written.clone());
        std::thread::spawn(move || {
            let mut largest = 0;
            while !written.load(std::sync::atomic::Ordering::Acquire) {
                largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
                std::thread::sleep(Duration::from_millis(20));
            }
            largest
        })
    };
    let mut tasks = Vec::new();
    for task in 0..32u32 {
        let (store, body) = (store.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            for n in 0..1000u32 {
                let captured = request(task * 1000 + n, body.clone());
                store
                    .insert_request(
                        Arc::new(captured),
                        signature::unchecked(&Vec::new()),
                        None,
                        None,
                        CommitOn::Caller,
                    )
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    written.store(true, std::sync::atomic::Ordering::Release);
    let largest = watcher.join().unwrap();
    assert_eq!(store.reader().unwrap().count().unwrap(), 32 * 1000);
    // 32,000 requests of 6 KB: about 490 MB through the WAL, which kept all of it before; the
    // issue's bound for 20 s of full load is 256 MB.
    assert!(
        largest < 256 * 1024 * 1024,
        "the WAL grew to {largest} bytes"
    );
    store.close();
}
