//! `listen --forward` over real sockets: capture, durable store, byte-exact forwarding, failures.

use std::io::Write as _;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use webhook_dev::capture::Limits;
use webhook_dev::engine::EngineEvent;
use webhook_dev::store::Durability;

use crate::support::common::*;
use crate::support::eventually::eventually;

fn all_bytes() -> Vec<u8> {
    (0..=255u8).chain((0..=255u8).rev()).collect()
}

#[tokio::test]
async fn forwards_byte_for_byte_and_returns_the_handlers_answer() {
    let handler = Handler::start(Answer {
        status: 201,
        headers: vec![
            ("x-handler", "yes"),
            ("content-type", "application/octet-stream"),
        ],
        body: Bytes::from_static(b"\x00answer\xff"),
        delay: Duration::ZERO,
    })
    .await;
    let mut server = Setup::forwarding_to(handler.addr).start().await;
    let body = all_bytes();
    let answer = send(
        server.addr,
        "PUT",
        "/hooks/a%20b?x=1&y=%2F&x=2",
        &[
            ("X-Dup", b"first"),
            ("X-Dup", b"second"),
            ("Webhook-Id", b"msg_1"),
            ("Keep-Alive", b"timeout=5"),
            ("TE", b"trailers"),
        ],
        &body,
    )
    .await;

    assert_eq!(answer.status, 201);
    assert_eq!(answer.header("x-handler"), Some("yes"));
    assert_eq!(answer.body, b"\x00answer\xff");

    let seen = handler.seen();
    assert_eq!(seen.len(), 1);
    let seen = &seen[0];
    assert_eq!(seen.method, "PUT");
    assert_eq!(seen.uri, "/hooks/a%20b?x=1&y=%2F&x=2");
    assert_eq!(seen.body.as_ref(), body.as_slice());
    assert_eq!(seen.header_values("x-dup"), vec!["first", "second"]);
    assert_eq!(seen.header_values("webhook-id"), vec!["msg_1"]);
    assert_eq!(seen.header_values("host"), vec![handler.addr.to_string()]);
    assert_eq!(seen.header_values("x-forwarded-for"), vec!["127.0.0.1"]);
    assert_eq!(seen.header_values("x-forwarded-proto"), vec!["http"]);
    assert_eq!(
        seen.header_values("x-forwarded-host"),
        vec![server.addr.to_string()]
    );
    for hop in ["keep-alive", "te", "connection", "transfer-encoding"] {
        assert!(seen.header_values(hop).is_empty(), "{hop} was forwarded");
    }

    let events = server.requests_done(1).await;
    let EngineEvent::Request(summary) = &events[0] else {
        unreachable!()
    };
    let stored = server.reader().get(&summary.id).unwrap().unwrap();
    assert_eq!(stored.summary.method, "PUT");
    assert_eq!(stored.summary.path, "/hooks/a%20b?x=1&y=%2F&x=2");
    assert_eq!(stored.body.as_ref(), body.as_slice());
    assert_eq!(stored.summary.size, body.len() as u64);
    let names: Vec<&str> = stored.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "host",
            "connection",
            "x-dup",
            "x-dup",
            "webhook-id",
            "keep-alive",
            "te",
            "content-length"
        ]
    );
    assert_eq!(
        stored.peer.as_deref().map(|p| p.starts_with("127.0.0.1:")),
        Some(true)
    );
    let forward = stored.summary.forward.as_ref().unwrap();
    assert_eq!(forward.status, Some(201));
    assert!(forward.error.is_none());
    assert!(forward.duration_ms > 0.0);
    let response = stored.response.unwrap();
    assert_eq!(response.status, 201);
    assert_eq!(response.body.as_ref(), b"\x00answer\xff");
    assert!(response
        .headers
        .iter()
        .any(|(n, v)| n == "x-handler" && v == b"yes"));

    let detail = serde_json::to_value(
        server
            .reader()
            .get(&summary.id)
            .unwrap()
            .unwrap()
            .to_detail(),
    )
    .unwrap();
    assert_eq!(detail["body"]["encoding"], "base64");
    assert_eq!(detail["response"]["status"], 201);
    assert_eq!(detail["headers"][2], serde_json::json!(["x-dup", "first"]));
}

#[tokio::test]
async fn a_base_path_in_the_target_is_prefixed() {
    let handler = Handler::start(Answer::ok("{}")).await;
    let server = Setup {
        forward: Some(format!("http://{}/api/v1/", handler.addr)),
        ..Setup::default()
    }
    .start()
    .await;
    send(server.addr, "POST", "/hooks?q=1", &[], b"{}").await;
    assert_eq!(handler.seen()[0].uri, "/api/v1/hooks?q=1");
}

#[tokio::test]
async fn a_synchronous_webhook_gets_the_handlers_answer() {
    // Avara's study.access_requested expects presigned URLs in the answer to the webhook itself.
    let urls = r#"{"authorized":true,"urls":["https://pacs.example/1.dcm?sig=abc"]}"#;
    let handler = Handler::start(Answer::ok(urls)).await;
    let server = Setup::forwarding_to(handler.addr).start().await;
    let event = br#"{"id":"whe_0123456789abcdef0123456789abcdef","type":"study.access_requested","data":{"studyId":"stu_0123456789abcdef0123456789abcdef","studyInstanceUid":"1.2.840.10008.5.1.4.1.1.2"}}"#;
    let answer = send(
        server.addr,
        "POST",
        "/webhooks/avara",
        &[("Content-Type", b"application/json")],
        event,
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.text(), urls);
    assert_eq!(answer.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn a_request_is_durable_before_the_sender_is_answered() {
    for durability in [Durability::Process, Durability::Power] {
        durable_before_answered(durability).await;
    }
}

async fn durable_before_answered(durability: Durability) {
    let handler = Handler::start(Answer::ok("{}")).await;
    let server = Setup {
        durability,
        ..Setup::forwarding_to(handler.addr)
    }
    .start()
    .await;
    for n in 1..=5 {
        send(
            server.addr,
            "POST",
            "/durable",
            &[],
            format!("{n}").as_bytes(),
        )
        .await;
        // A separate connection, as a second process would open, already sees it.
        assert_eq!(server.reader().count().unwrap(), n);
    }
}

#[tokio::test]
async fn a_dead_handler_gives_502_naming_the_target_and_the_cause() {
    let dead = dead_addr().await;
    let mut server = Setup::forwarding_to(dead).start().await;
    let answer = send(server.addr, "POST", "/hook", &[], b"{\"a\":1}").await;
    assert_eq!(answer.status, 502);
    let text = answer.text();
    assert!(text.contains(&format!("http://{dead}/hook")), "{text}");
    assert!(text.to_lowercase().contains("refused"), "{text}");
    assert!(text.contains("is your handler running?"), "{text}");
    assert_eq!(
        answer.header("content-type"),
        Some("text/plain; charset=utf-8")
    );

    server.requests_done(1).await;
    let list = server.reader().list(None).unwrap();
    let forward = list[0].forward.as_ref().unwrap();
    assert_eq!(forward.status, Some(502));
    assert!(forward.error.as_deref().unwrap().contains("refused"));
    let stored = server.reader().get(&list[0].id).unwrap().unwrap();
    assert_eq!(stored.body.as_ref(), b"{\"a\":1}");
}

#[tokio::test]
async fn a_slow_handler_gives_504_after_the_timeout() {
    let handler = Handler::start(Answer {
        delay: Duration::from_secs(3),
        ..Answer::ok("{}")
    })
    .await;
    let mut server = Setup {
        timeout: Duration::from_millis(300),
        ..Setup::forwarding_to(handler.addr)
    }
    .start()
    .await;
    let started = std::time::Instant::now();
    let answer = send(server.addr, "POST", "/slow", &[], b"x").await;
    assert_eq!(answer.status, 504);
    assert!(
        answer.text().contains("did not answer within 300 ms"),
        "{}",
        answer.text()
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    server.requests_done(1).await;
    let forward = server.reader().list(None).unwrap()[0]
        .forward
        .clone()
        .unwrap();
    assert_eq!(forward.status, Some(504));
    assert!(forward.error.unwrap().contains("--timeout"));
}

#[tokio::test]
async fn an_oversized_body_gets_413_and_the_server_stays_up() {
    let handler = Handler::start(Answer::ok("{}")).await;
    let mut server = Setup {
        limits: Limits {
            max_body: 1024,
            ..Setup::default().limits
        },
        ..Setup::forwarding_to(handler.addr)
    }
    .start()
    .await;

    let declared = send(server.addr, "POST", "/big", &[], &vec![b'a'; 2048]).await;
    assert_eq!(declared.status, 413);
    assert!(
        declared.text().contains("--max-body (1024 bytes)"),
        "{}",
        declared.text()
    );

    let mut chunked = b"POST /big-chunked HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..4 {
        chunked.extend_from_slice(b"200\r\n");
        chunked.extend_from_slice(&[b'b'; 512]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let answer = parse_response(&send_raw(server.addr, &chunked).await).unwrap();
    assert_eq!(answer.status, 413);

    let exact = send(server.addr, "POST", "/fits", &[], &vec![b'c'; 1024]).await;
    assert_eq!(exact.status, 200);
    assert_eq!(
        handler.seen().len(),
        1,
        "only the body within the limit is forwarded"
    );

    server.requests_done(3).await;
    let list = server.reader().list(None).unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[0].path, "/big");
    assert_eq!(list[0].size, 0);
    assert!(list[0].forward.is_none());
    assert!(list[0].signature.reason.as_deref().unwrap().contains("413"));
    let refused = server.reader().get(&list[0].id).unwrap().unwrap();
    assert_eq!(refused.response.unwrap().status, 413);
}

#[tokio::test]
async fn malformed_http_gets_400_and_the_server_stays_up() {
    let server = Setup::default().start().await;
    for garbage in [
        &b"GARBAGE\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\nBad Header\r\n\r\n",
    ] {
        let answer = parse_response(&send_raw(server.addr, garbage).await).expect("an HTTP answer");
        assert_eq!(answer.status, 400, "{garbage:?}");
    }
    // A TLS client hello sent to the plain-HTTP port: refused without an answer or a crash.
    send_raw(server.addr, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03").await;
    let fine = send(server.addr, "POST", "/after", &[], b"ok").await;
    assert_eq!(fine.status, 200);
    assert_eq!(server.reader().count().unwrap(), 1, "nothing half-stored");
}

#[tokio::test]
async fn slow_headers_are_cut_off() {
    let server = Setup {
        limits: Limits {
            header_timeout: Duration::from_millis(200),
            ..Setup::default().limits
        },
        ..Setup::default()
    }
    .start()
    .await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let started = std::time::Instant::now();
    stream
        .write_all(b"POST /slowloris HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut rest),
    )
    .await;
    assert!(
        closed.is_ok(),
        "the connection is closed by the header timeout"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "closed by the timeout, not at once"
    );
    if let Some(answer) = parse_response(&rest) {
        assert_eq!(answer.status, 408);
    }
    assert_eq!(
        send(server.addr, "GET", "/after", &[], b"").await.status,
        200
    );
    assert_eq!(server.reader().count().unwrap(), 1);
}

#[tokio::test]
async fn a_client_that_disconnects_mid_body_leaves_nothing_stored() {
    let handler = Handler::start(Answer::ok("{}")).await;
    let server = Setup::forwarding_to(handler.addr).start().await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"POST /cut HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        .await
        .unwrap();
    stream.shutdown().await.unwrap();
    // The server is done with the cut request once it closes the connection.
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut rest),
    )
    .await;
    assert!(
        closed.is_ok(),
        "the server closes a connection cut mid-body"
    );
    assert_eq!(
        send(server.addr, "POST", "/after", &[], b"ok").await.status,
        200
    );
    let list = server.reader().list(None).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].path, "/after");
    assert_eq!(handler.seen().len(), 1);
}

#[tokio::test]
async fn gzip_bodies_are_forwarded_untouched() {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(br#"{"type":"task.completed"}"#).unwrap();
    let gz = encoder.finish().unwrap();
    let handler = Handler::start(Answer::ok("{}")).await;
    let server = Setup::forwarding_to(handler.addr).start().await;
    send(
        server.addr,
        "POST",
        "/gz",
        &[
            ("Content-Encoding", b"gzip"),
            ("Content-Type", b"application/json"),
        ],
        &gz,
    )
    .await;
    let seen = &handler.seen()[0];
    assert_eq!(seen.body.as_ref(), gz.as_slice());
    assert_eq!(seen.header_values("content-encoding"), vec!["gzip"]);
    let stored = server.reader().list(None).unwrap();
    assert_eq!(
        server
            .reader()
            .get(&stored[0].id)
            .unwrap()
            .unwrap()
            .body
            .as_ref(),
        gz.as_slice()
    );
    let shown = cli(&server.store_dir)
        .args(["requests", "show", &stored[0].id])
        .output()
        .unwrap();
    let shown = String::from_utf8(shown.stdout).unwrap();
    assert!(
        shown.contains("(gzip: ") && shown.contains(r#"{"type":"task.completed"}"#),
        "decoded for display:\n{shown}"
    );
}

#[tokio::test]
async fn non_utf8_header_values_round_trip() {
    let handler = Handler::start(Answer::ok("{}")).await;
    let server = Setup::forwarding_to(handler.addr).start().await;
    send(
        server.addr,
        "POST",
        "/latin1",
        &[("X-Name", b"caf\xe9")],
        b"\xe9",
    )
    .await;
    assert_eq!(
        handler.seen()[0]
            .headers
            .iter()
            .find(|(n, _)| n == "x-name")
            .unwrap()
            .1,
        b"caf\xe9"
    );
    let id = server.reader().list(None).unwrap()[0].id.clone();
    let stored = server.reader().get(&id).unwrap().unwrap();
    assert!(stored
        .headers
        .contains(&("x-name".to_string(), b"caf\xe9".to_vec())));
    assert_eq!(stored.body.as_ref(), b"\xe9");
}

#[tokio::test]
async fn without_forward_the_sender_gets_the_configured_answer() {
    let server = Setup::default().start().await;
    let answer = send(server.addr, "POST", "/x", &[], b"{}").await;
    assert_eq!(answer.status, 200);
    let json: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(json["ok"], true);
    let id = json["id"].as_str().unwrap();
    assert!(id.starts_with("req_"));
    assert!(server.reader().get(id).unwrap().is_some());

    let custom = Setup {
        respond: "202:accepted".parse().unwrap(),
        ..Setup::default()
    }
    .start()
    .await;
    let answer = send(custom.addr, "POST", "/x", &[], b"{}").await;
    assert_eq!((answer.status, answer.text().as_str()), (202, "accepted"));
}

#[tokio::test]
async fn three_hundred_concurrent_requests_are_each_answered_and_stored_once() {
    for durability in [Durability::Process, Durability::Power] {
        three_hundred_concurrent(durability).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_concurrent_requests_on_a_multi_threaded_runtime() {
    three_hundred_concurrent(Durability::Process).await;
}

async fn three_hundred_concurrent(durability: Durability) {
    let handler = Handler::start(Answer::ok("{}")).await;
    let mut server = Setup {
        durability,
        ..Setup::forwarding_to(handler.addr)
    }
    .start()
    .await;
    let addr = server.addr;
    let tasks: Vec<_> = (0..300)
        .map(|n| {
            tokio::spawn(async move {
                send(
                    addr,
                    "POST",
                    &format!("/c/{n}"),
                    &[],
                    format!("body-{n}").as_bytes(),
                )
                .await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().status, 200);
    }
    server.requests_done(300).await;
    assert_eq!(handler.seen().len(), 300);
    let list = server.reader().list(None).unwrap();
    assert_eq!(list.len(), 300);
    let mut paths: Vec<String> = list.iter().map(|s| s.path.clone()).collect();
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), 300);
    let mut ids: Vec<String> = list.iter().map(|s| s.id.clone()).collect();
    let sorted = ids.clone();
    ids.sort();
    assert_eq!(ids, sorted, "list is in id order");
    ids.dedup();
    assert_eq!(ids.len(), 300);
    assert!(list
        .iter()
        .all(|s| s.forward.as_ref().unwrap().status == Some(200)));
}

#[tokio::test]
async fn the_answer_to_a_lone_request_is_stored_without_another_request_to_carry_it() {
    for durability in [Durability::Process, Durability::Power] {
        let handler = Handler::start(Answer::ok(r#"{"alone":true}"#)).await;
        let mut server = Setup {
            durability,
            ..Setup::forwarding_to(handler.addr)
        }
        .start()
        .await;
        let answer = send(server.addr, "POST", "/alone", &[], b"x").await;
        assert_eq!(answer.status, 200);
        // The event comes once the answer is committed, and nothing else is sent meanwhile.
        server.requests_done(1).await;
        let id = server.ids().pop().unwrap();
        let stored = server.reader().get(&id).unwrap().unwrap();
        let response = stored.response.expect("the answer is stored");
        assert_eq!(response.status, 200, "{durability:?}");
        assert_eq!(response.body.as_ref(), br#"{"alone":true}"#);
    }
}

#[tokio::test]
async fn a_store_locked_by_another_process_holds_up_only_the_requests_waiting_for_it() {
    let handler = Handler::start(Answer::ok("{}")).await;
    let server = Setup::forwarding_to(handler.addr).start().await;
    let other = rusqlite::Connection::open(webhook_dev::store::db_path(&server.store_dir)).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let addr = server.addr;
    let waiting = tokio::spawn(async move { send(addr, "POST", "/waits", &[], b"x").await });
    // Forwarded while its commit waits for the lock.
    assert!(eventually(Duration::from_secs(5), || handler.seen().len() == 1).await);
    // The server still serves while that request waits for the lock.
    let refused = tokio::time::timeout(
        Duration::from_secs(4),
        send_raw(server.addr, b"GARBAGE\r\n\r\n"),
    )
    .await
    .expect("a malformed request is answered while the store is locked");
    assert_eq!(parse_response(&refused).unwrap().status, 400);
    assert!(!waiting.is_finished(), "answered before it was stored");
    other.execute_batch("ROLLBACK").unwrap();
    assert_eq!(waiting.await.unwrap().status, 200);
    assert_eq!(server.ids().len(), 1);
}

#[tokio::test]
async fn shutdown_finishes_forwards_in_flight_and_flushes_the_store() {
    let handler = Handler::start(Answer {
        delay: Duration::from_millis(600),
        ..Answer::ok(r#"{"late":true}"#)
    })
    .await;
    let server = Setup::forwarding_to(handler.addr).start().await;
    let addr = server.addr;
    let in_flight = tokio::spawn(async move { send(addr, "POST", "/in-flight", &[], b"x").await });
    assert!(eventually(Duration::from_secs(5), || handler.seen().len() == 1).await);
    let (reader, _dir) = server.shutdown().await;
    let answer = in_flight.await.unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.text(), r#"{"late":true}"#);
    let list = reader.list(None).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].forward.as_ref().unwrap().status, Some(200));
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn a_body_that_never_finishes_gets_408_and_nothing_is_stored() {
    let handler = Handler::start(Answer::ok("{}")).await;
    let server = Setup {
        limits: Limits {
            body_timeout: Duration::from_millis(300),
            ..Setup::default().limits
        },
        ..Setup::forwarding_to(handler.addr)
    }
    .start()
    .await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"POST /stalled HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut answer),
    )
    .await
    .expect("answered and closed after the body timeout")
    .unwrap();
    let answer = parse_response(&answer).unwrap();
    assert_eq!(answer.status, 408);
    assert!(
        answer.text().contains("did not arrive within 300 ms"),
        "{}",
        answer.text()
    );
    assert_eq!(server.reader().count().unwrap(), 0);
    assert!(handler.seen().is_empty());
}

#[tokio::test]
async fn shutdown_is_not_held_up_by_a_stalled_client() {
    let server = Setup {
        limits: Limits {
            shutdown_grace: Duration::from_millis(300),
            ..Setup::default().limits
        },
        ..Setup::default()
    }
    .start()
    .await;
    let mut stalled = TcpStream::connect(server.addr).await.unwrap();
    stalled
        .write_all(b"POST /stalled HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n01234")
        .await
        .unwrap();
    // Connections are accepted in arrival order: once a later one is answered, the stalled one
    // is the server's to wait for.
    assert_eq!(
        send(server.addr, "GET", "/later", &[], b"").await.status,
        200
    );
    let started = std::time::Instant::now();
    let mut events = server.shutdown_keeping_events().await;
    assert!(started.elapsed() < Duration::from_secs(3));
    let closed = tokio::time::timeout(Duration::from_secs(2), async {
        while events.recv().await.is_some() {}
    })
    .await;
    assert!(
        closed.is_ok(),
        "the stalled connection no longer holds the engine"
    );
}
