//! A handler's large answer is streamed whole to the sender, while the store keeps only its first
//! `--max-stored-answer` bytes and marks it truncated.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::support::common::{cli, listen_json, send, Answer, Handler};

const LARGE: usize = 3 * 1024 * 1024 + 17;

fn large_body() -> Bytes {
    Bytes::from((0..LARGE).map(|i| (i % 251) as u8).collect::<Vec<u8>>())
}

#[tokio::test]
async fn a_large_answer_reaches_the_sender_whole_and_is_stored_up_to_the_cap() {
    let body = large_body();
    let handler = Handler::start(Answer {
        status: 200,
        headers: vec![("content-type", "application/octet-stream")],
        body: body.clone(),
        delay: Duration::ZERO,
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr, mut lines) = listen_json(
        dir.path(),
        &[
            "--forward",
            &handler.addr.to_string(),
            "--max-stored-answer",
            "256KiB",
        ],
    );
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let answer = tokio::time::timeout(
        Duration::from_secs(30),
        client.request(
            hyper::Request::post(format!("http://{addr}/big"))
                .body(Full::new(Bytes::from_static(b"{}")))
                .unwrap(),
        ),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(answer.status(), 200);
    let received = answer.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(received.len(), LARGE);
    assert!(received == body, "the sender gets every byte, in order");

    let line = tokio::task::spawn_blocking(move || lines.next().unwrap().unwrap())
        .await
        .unwrap();
    let summary: serde_json::Value = serde_json::from_str(&line).unwrap();
    let id = summary["id"].as_str().unwrap().to_string();
    let _ = child.kill();
    let _ = child.wait();

    let shown = cli(dir.path())
        .args(["requests", "show", &id, "--json"])
        .output()
        .unwrap();
    assert!(shown.status.success(), "{shown:?}");
    let detail: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(
        detail["response"]["truncated"], true,
        "the stored record is marked"
    );
    use base64::Engine as _;
    let stored = base64::engine::general_purpose::STANDARD
        .decode(detail["response"]["body"]["data"].as_str().unwrap())
        .unwrap();
    assert_eq!(stored.len(), 256 * 1024);
    assert_eq!(&stored[..], &body[..256 * 1024]);

    let human = cli(dir.path())
        .args(["requests", "show", &id])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("answer truncated in the store: only its first 262.1 kB are kept"),
        "{text}"
    );
}

#[tokio::test]
async fn an_answer_within_the_cap_is_stored_whole_and_not_marked() {
    let handler = Handler::start(Answer::ok("{\"small\":true}")).await;
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr, mut lines) =
        listen_json(dir.path(), &["--forward", &handler.addr.to_string()]);
    let answer = send(addr.parse().unwrap(), "POST", "/small", &[], b"{}").await;
    assert_eq!(answer.body, b"{\"small\":true}");
    let line = tokio::task::spawn_blocking(move || lines.next().unwrap().unwrap())
        .await
        .unwrap();
    let id = serde_json::from_str::<serde_json::Value>(&line).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let _ = child.kill();
    let _ = child.wait();
    let shown = cli(dir.path())
        .args(["requests", "show", &id, "--json"])
        .output()
        .unwrap();
    let detail: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(detail["response"]["truncated"], false);
    assert_eq!(detail["response"]["body"]["data"], "{\"small\":true}");
}
