//! webhook-dev frames every answer itself: a handler's own Content-Length or Transfer-Encoding
//! never reaches the sender, a 1xx is never a final answer, and a forwarded request's
//! Content-Length is that of the body actually sent.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::common::*;

/// A raw handler that reads one request and writes `answer` verbatim, then closes; the request
/// it read is sent on the channel.
async fn raw_handler(
    answer: &'static [u8],
) -> (SocketAddr, tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                // Read the head and whatever body arrives within a moment.
                loop {
                    match tokio::time::timeout(
                        std::time::Duration::from_millis(300),
                        stream.read(&mut buf),
                    )
                    .await
                    {
                        Ok(Ok(n)) if n > 0 => seen.extend_from_slice(&buf[..n]),
                        _ => break,
                    }
                }
                let _ = tx.send(seen);
                let _ = stream.write_all(answer).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (addr, rx)
}

/// The raw answer a sender gets from `listen --forward` when the handler answers `answer` to one
/// POST.
async fn sender_gets(answer: &'static [u8]) -> Vec<u8> {
    let (handler, _) = raw_handler(answer).await;
    let mut server = Setup::forwarding_to(handler).start().await;
    let raw = send_raw(
        server.addr,
        b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
    )
    .await;
    server.requests_done(1).await;
    raw
}

/// The bytes after the head, and the Content-Length the head declares.
fn framing(raw: &[u8]) -> (usize, Option<usize>, String) {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let declared = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .and_then(|v| v.trim().parse().ok());
    (raw.len() - end - 4, declared, head)
}

#[tokio::test]
async fn a_handlers_own_length_never_reaches_the_sender() {
    // Content-Length: 5 and chunked together, with a second response hidden in the chunk.
    let smuggle: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n48\r\nhello\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\nX-Injected: yes\r\n\r\ninjected\r\n0\r\n\r\n";
    let raw = sender_gets(smuggle).await;
    let (after_head, declared, head) = framing(&raw);
    assert!(!head.contains("transfer-encoding"), "{head}");
    assert_eq!(
        Some(after_head),
        declared,
        "the bytes after the head are exactly the declared length: {}",
        String::from_utf8_lossy(&raw)
    );
}

#[tokio::test]
async fn the_sender_gets_the_handlers_end_to_end_headers_with_repeats_in_order() {
    let raw = sender_gets(
        b"HTTP/1.1 201 Created\r\nSet-Cookie: a=1\r\nX-Trace: t-9\r\nConnection: keep-alive, X-Hop\r\nX-Hop: private\r\nKeep-Alive: timeout=5\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\n\r\nok",
    )
    .await;
    let answer = parse_response(&raw).unwrap();
    assert_eq!(answer.status, 201);
    let values = |name: &str| -> Vec<&str> {
        answer
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    };
    assert_eq!(values("set-cookie"), ["a=1", "b=2"]);
    assert_eq!(values("x-trace"), ["t-9"]);
    assert!(
        values("x-hop").is_empty(),
        "a header Connection names is hop-by-hop"
    );
    assert!(values("keep-alive").is_empty());
    assert_eq!(values("content-length"), ["2"], "webhook-dev's own framing");
    let (after_head, _, _) = framing(&raw);
    assert_eq!(after_head, 2);
}

#[tokio::test]
async fn an_interim_status_is_not_passed_on_as_the_answer() {
    let raw = sender_gets(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    )
    .await;
    let answer = parse_response(&raw).unwrap();
    assert!(answer.status >= 200, "{}", String::from_utf8_lossy(&raw));
    assert_ne!(answer.status, 101);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_fixture_is_sent_with_the_length_of_its_body() {
    let dir = tempfile::tempdir().unwrap();
    let (handler, mut seen) = raw_handler(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}").await;
    let body = "{\"fifty-three bytes of body, not five or a thousand\":1}";
    for claimed in ["5", "1000"] {
        let fixture = serde_json::json!({
            "webhook_dev_fixture": 1, "method": "POST", "path": "/hook",
            "headers": [["content-type", "application/json"], ["content-length", claimed]],
            "body": {"encoding": "utf8", "data": body}
        });
        let file = dir.path().join(format!("f{claimed}.json"));
        std::fs::write(&file, fixture.to_string()).unwrap();
        let out = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            tokio::task::spawn_blocking({
                let store = dir.path().join("store");
                let to = handler.to_string();
                move || {
                    cli(&store)
                        .arg("replay")
                        .arg(&file)
                        .args(["--to", &to])
                        .output()
                        .unwrap()
                }
            }),
        )
        .await
        .expect("the replay does not hang")
        .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let request = seen.recv().await.unwrap();
        let (after_head, declared, _) = framing(&request);
        assert_eq!(
            declared,
            Some(body.len()),
            "{}",
            String::from_utf8_lossy(&request)
        );
        assert_eq!(after_head, body.len());
    }
}

#[tokio::test]
async fn a_malformed_chunked_body_gets_400_and_connect_gets_405() {
    let handler = Handler::start(Answer::ok("{}")).await;
    let server = Setup::forwarding_to(handler.addr).start().await;
    let raw = send_raw(
        server.addr,
        b"POST /hook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nnot a chunk\r\n0\r\n\r\n",
    )
    .await;
    let answer = parse_response(&raw)
        .unwrap_or_else(|| panic!("no answer: {:?}", String::from_utf8_lossy(&raw)));
    assert_eq!(answer.status, 400, "{}", answer.text());
    assert!(answer.text().contains("malformed"), "{}", answer.text());

    let raw = send_raw(
        server.addr,
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    )
    .await;
    let answer = parse_response(&raw).unwrap();
    assert_eq!(answer.status, 405);
    assert!(answer.header("allow").is_some());
    assert!(handler.seen().is_empty(), "nothing reached the handler");
}
