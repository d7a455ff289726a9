//! Strangers on the relay: a connection that has not shown a valid token cannot make the relay
//! hold a large message, and the relay keeps serving the listener that has one.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::support::common::send;
use crate::support::eventually::eventually_async;
use crate::support::relay::*;

#[tokio::test]
async fn a_large_message_before_hello_closes_the_connection_and_the_relay_serves_on() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RunningRelay::start(&dir.path().join("relay"), relay_config()).await;
    let tcp = tokio::net::TcpStream::connect(relay.addr).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{}/acme", relay.addr), tcp)
        .await
        .unwrap();
    // A valid hello, padded with 64 KiB of JSON whitespace: only the budget refuses it.
    let hello = webhook_dev::relay::protocol::ClientMessage::Hello {
        version: webhook_dev::relay::protocol::VERSION,
        token: token("acme"),
        client: "stranger".into(),
        no_takeover: false,
    };
    let mut padded = serde_json::to_string(&hello).unwrap();
    padded.push_str(&" ".repeat(64 * 1024));
    let _ = ws.send(Message::text(padded)).await;
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) => return "closed",
                Some(Ok(Message::Close(_))) => return "closed",
                Some(Ok(Message::Text(text))) if text.contains("refused") => return "refused",
                Some(Ok(Message::Text(text))) if text.contains("welcome") => return "welcomed",
                Some(Ok(_)) => continue,
            }
        }
    })
    .await
    .expect("the relay ends the connection instead of reading on");
    assert!(matches!(ended, "closed" | "refused"));

    // A small hello-sized message below the budget is still read (and refused for its token).
    let tcp = tokio::net::TcpStream::connect(relay.addr).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{}/acme", relay.addr), tcp)
        .await
        .unwrap();
    ws.send(Message::text(
        r#"{"type":"hello","version":1,"token":"wrong"}"#,
    ))
    .await
    .unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap();
    let text = match answer {
        Some(Ok(Message::Text(text))) => text.to_string(),
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert!(text.contains("refused"), "{text}");

    let mut listener = RunningListener::start(
        &dir.path().join("listener"),
        client_config(relay.url("acme"), token("acme")),
        None,
    )
    .await;
    listener.connected().await;
    listener.stop().await;
    relay.stop().await;
}

#[tokio::test]
async fn connections_past_the_cap_are_closed_and_served_again_once_one_ends() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let mut config = relay_config();
    config.max_connections = 2;
    let relay = RunningRelay::start(&dir.path().join("relay"), config).await;
    let idle_a = tokio::net::TcpStream::connect(relay.addr).await.unwrap();
    let _idle_b = tokio::net::TcpStream::connect(relay.addr).await.unwrap();
    // The relay accepts in arrival order: both hold their slots before it looks at a third.
    let mut third = tokio::net::TcpStream::connect(relay.addr).await.unwrap();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(5), third.read(&mut buf))
        .await
        .expect("the relay closes a connection past the cap at once");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");

    drop(idle_a);
    let healthy = || async {
        let mut stream = tokio::net::TcpStream::connect(relay.addr).await.unwrap();
        let _ = stream
            .write_all(b"GET /_health HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n")
            .await;
        let mut out = Vec::new();
        let _ = stream.read_to_end(&mut out).await;
        out.starts_with(b"HTTP/1.1 200")
    };
    assert!(
        eventually_async(Duration::from_secs(5), healthy).await,
        "a freed slot serves again"
    );
    relay.stop().await;
}

/// A socket from `from` (any 127.x.y.z: Linux answers on the whole loopback /8) that sends the
/// start of a request head and then nothing.
async fn slow_socket(from: &str, relay: std::net::SocketAddr) -> Option<tokio::net::TcpStream> {
    use tokio::io::AsyncWriteExt;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let mut stream = socket.connect(relay).await.ok()?;
    let _ = stream
        .write_all(b"POST /acme/slow HTTP/1.1\r\nHost: relay\r\n")
        .await;
    Some(stream)
}

#[tokio::test]
async fn slow_strangers_cannot_crowd_out_a_provider_or_a_listener() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = relay_config();
    // Fewer connections than slow sockets: without the caps on strangers they would take them all.
    config.max_connections = 250;
    config.strangers = webhook_dev::relay::strangers::StrangerLimits {
        total: 100,
        per_address: 20,
    };
    // Both ends of 300 sockets live in this process, beside the other tests' sockets.
    let _ = webhook_dev::fd_limit::raise_to_hard_limit();
    let mut relay = RunningRelay::start(&dir.path().join("relay"), config).await;
    relay.open_channel("acme").await;

    // 300 slow sockets: 150 from one address, 150 from 75 others.
    let mut slow = Vec::new();
    for _ in 0..150 {
        slow.extend(slow_socket("127.0.0.2", relay.addr).await);
    }
    for n in 0..150 {
        slow.extend(slow_socket(&format!("127.0.1.{}", 1 + n / 2), relay.addr).await);
    }
    assert!(slow.len() >= 250, "{} slow sockets connected", slow.len());

    let prompt = Duration::from_secs(3);
    let answer = tokio::time::timeout(prompt, send(relay.addr, "POST", "/acme/good", &[], b"{}"))
        .await
        .expect("the provider is served promptly");
    assert_eq!(answer.status, 202, "{}", answer.text());

    let listener_dir = tempfile::tempdir().unwrap();
    let mut listener = RunningListener::start(
        listener_dir.path(),
        client_config(relay.url("acme"), token("acme")),
        None,
    )
    .await;
    tokio::time::timeout(prompt, listener.connected())
        .await
        .expect("the listener is served promptly");
    let got = tokio::time::timeout(prompt, listener.requests(1))
        .await
        .expect("the queued request is delivered promptly");
    assert_eq!(got[0].path, "/good");
    assert!(
        relay.relay.strangers() <= 100,
        "{} strangers",
        relay.relay.strangers()
    );
    drop(slow);
    listener.stop().await;
    relay.stop().await;
}

#[tokio::test]
async fn a_body_that_never_arrives_gets_408_and_is_not_queued() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let mut config = relay_config();
    config.body_timeout = Duration::from_millis(300);
    let mut relay = RunningRelay::start(&dir.path().join("relay"), config).await;
    relay.open_channel("acme").await;
    let mut tcp = tokio::net::TcpStream::connect(relay.addr).await.unwrap();
    tcp.write_all(b"POST /acme/x HTTP/1.1\r\nHost: r\r\nContent-Length: 10\r\n\r\n{\"a\"")
        .await
        .unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut out))
        .await
        .expect("answered and closed within 5 s")
        .unwrap();
    let answer = String::from_utf8_lossy(&out);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert_eq!(relay.relay.queued(), 0);
    relay.stop().await;
}
