//! The relay protocol over `tokio::io::duplex`: handshake, refusals, round trip, frame limit,
//! timeouts and heartbeats (under paused time), with no network at all.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::DuplexStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use webhook_dev::engine::{Engine, EngineConfig, EngineEvent, FixedAnswer};
use webhook_dev::relay::client::{self, ConnectError, Listener, SessionEnd};
use webhook_dev::relay::protocol::{
    self, ClientMessage, RefusedCode, RelayMessage, WireRequest, MAX_FRAME_BYTES, VERSION,
};
use webhook_dev::relay::queue::Queue;
use webhook_dev::relay::server::{Relay, RelayConfig, RelayEvent};
use webhook_dev::relay::token::Token;
use webhook_dev::store::{Durability, Store};

use crate::support::eventually::eventually;
use crate::support::relay::*;

type Ws = WebSocketStream<DuplexStream>;

async fn pair() -> (Ws, Ws) {
    let (a, b) = tokio::io::duplex(1 << 16);
    let client =
        WebSocketStream::from_raw_socket(a, Role::Client, Some(protocol::websocket_config()));
    let server =
        WebSocketStream::from_raw_socket(b, Role::Server, Some(protocol::websocket_config()));
    (client.await, server.await)
}

/// A relay session over a duplex pipe; returns the listener's end and the relay's events.
async fn relay_session(
    dir: &std::path::Path,
    config: RelayConfig,
) -> (Ws, Relay, mpsc::UnboundedReceiver<RelayEvent>) {
    let (events_tx, events) = mpsc::unbounded_channel();
    let relay = Relay::open(config, dir, Durability::Process, Some(events_tx)).unwrap();
    let (client, server) = pair().await;
    let serving = relay.clone();
    tokio::spawn(async move { serving.serve_listener("acme", server, None, None).await });
    (client, relay, events)
}

async fn send(ws: &mut Ws, message: &ClientMessage) {
    ws.send(protocol::encode(message).unwrap()).await.unwrap();
}

async fn recv(ws: &mut Ws) -> RelayMessage {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .expect("a message")
            .expect("the connection is open")
            .expect("a frame");
        if let Some(message) = protocol::decode(frame).unwrap() {
            return message;
        }
    }
}

fn hello(version: u32, token: Token) -> ClientMessage {
    ClientMessage::Hello {
        version,
        token,
        client: "test".into(),
        no_takeover: false,
    }
}

fn wire_request(id: &str, body: &'static [u8]) -> WireRequest {
    WireRequest {
        id: id.into(),
        received_at: "2026-03-04T05:06:07.000008Z".parse().unwrap(),
        method: "POST".into(),
        path: "/hooks/x?y=1".into(),
        headers: vec![("content-type".into(), b"application/json".to_vec())],
        body: Bytes::from_static(body),
        peer: Some("198.51.100.7:5000".into()),
        redelivery: false,
        queued: true,
    }
}

#[tokio::test]
async fn a_queued_request_round_trips_and_leaves_the_queue_on_answer() {
    let dir = tempfile::tempdir().unwrap();
    // A request queued by an earlier run of the relay.
    let (queue, _) = Queue::open(dir.path(), Durability::Process).unwrap();
    queue
        .insert(
            7,
            "acme",
            Arc::new(wire_request("req_01JEQ5K3ZC00000000000000A1", b"{\"n\":1}")),
        )
        .await
        .unwrap();
    queue.close();

    let (mut ws, relay, _events) = relay_session(dir.path(), relay_config()).await;
    assert_eq!(relay.queued_for("acme"), 1);
    send(&mut ws, &hello(VERSION, token("acme"))).await;
    match recv(&mut ws).await {
        RelayMessage::Welcome {
            version,
            channel,
            queued,
            ..
        } => {
            assert_eq!((version, channel.as_str(), queued), (VERSION, "acme", 1));
        }
        other => panic!("expected welcome, got {other:?}"),
    }
    let RelayMessage::Request(request) = recv(&mut ws).await else {
        panic!("expected the queued request")
    };
    assert_eq!(request.id, "req_01JEQ5K3ZC00000000000000A1");
    assert_eq!(request.path, "/hooks/x?y=1");
    assert_eq!(request.body.as_ref(), b"{\"n\":1}");
    assert!(
        request.redelivery,
        "a previous run may have sent it: look it up"
    );
    assert!(request.queued, "nobody waits for its answer");
    send(
        &mut ws,
        &ClientMessage::Answer {
            id: "req_01JEQ5K3ZC00000000000000A1".into(),
            response: RecordedResponse::json(200, "{}").into(),
        },
    )
    .await;
    // Pings are answered while we wait for the delete.
    send(&mut ws, &ClientMessage::Ping { nonce: 42 }).await;
    assert_eq!(recv(&mut ws).await, RelayMessage::Pong { nonce: 42 });
    let answered = eventually(Duration::from_secs(5), || relay.queued_for("acme") == 0).await;
    assert!(answered, "{} still queued", relay.queued_for("acme"));
    drop(ws);
    relay.close();
    let (_, left) = Queue::open(dir.path(), Durability::Process).unwrap();
    assert!(left.is_empty(), "answered requests leave the disk queue");
}

use webhook_dev::model::RecordedResponse;

#[tokio::test]
async fn a_wrong_token_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ws, _relay, mut events) = relay_session(dir.path(), relay_config()).await;
    send(&mut ws, &hello(VERSION, token("other-channel"))).await;
    match recv(&mut ws).await {
        RelayMessage::Refused { code, message } => {
            assert_eq!(code, RefusedCode::BadToken);
            assert!(
                message.contains("wrong token for channel acme"),
                "{message}"
            );
            assert!(
                message.contains("webhook-dev relay token acme"),
                "{message}"
            );
        }
        other => panic!("expected refused, got {other:?}"),
    }
    assert!(
        ws.next()
            .await
            .is_none_or(|f| f.is_err() || f.unwrap().is_close()),
        "the relay closes after refusing"
    );
    let event = events.recv().await.unwrap();
    assert!(
        matches!(event, RelayEvent::ListenerRefused { .. }),
        "{event:?}"
    );
    assert!(!format!("{event:?}").contains(token("other-channel").expose()));
}

#[tokio::test]
async fn the_client_reports_a_refusal_as_permanent() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ws, _relay, _events) = relay_session(dir.path(), relay_config()).await;
    let err = client::handshake(&mut ws, &Token::new("0".repeat(64)))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectError::Refused(_)), "{err:?}");
    assert!(err.to_string().contains("wrong token"), "{err}");
}

#[tokio::test]
async fn a_version_mismatch_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ws, _relay, _events) = relay_session(dir.path(), relay_config()).await;
    send(&mut ws, &hello(VERSION + 1, token("acme"))).await;
    match recv(&mut ws).await {
        RelayMessage::Refused { code, message } => {
            assert_eq!(code, RefusedCode::Version);
            assert!(message.contains("same webhook-dev version"), "{message}");
        }
        other => panic!("expected refused, got {other:?}"),
    }
}

#[tokio::test]
async fn the_client_refuses_a_relay_of_another_version() {
    let (mut ws, mut relay_end) = pair().await;
    tokio::spawn(async move {
        let _hello = relay_end.next().await;
        let welcome = RelayMessage::Welcome {
            version: VERSION + 1,
            channel: "acme".into(),
            queued: 0,
            heartbeat_ms: 1000,
        };
        relay_end
            .send(protocol::encode(&welcome).unwrap())
            .await
            .unwrap();
        let _ = relay_end.next().await;
    });
    let err = client::handshake(&mut ws, &token("acme"))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectError::Refused(_)), "{err:?}");
    assert!(err.to_string().contains("protocol version"), "{err}");
}

#[tokio::test]
async fn the_first_message_must_be_hello() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ws, _relay, _events) = relay_session(dir.path(), relay_config()).await;
    send(&mut ws, &ClientMessage::Ack { id: "x".into() }).await;
    match recv(&mut ws).await {
        RelayMessage::Refused { code, message } => {
            assert_eq!(code, RefusedCode::Protocol);
            assert!(message.contains("must be hello"), "{message}");
        }
        other => panic!("expected refused, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_silent_listener_is_refused_after_the_handshake_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ws, _relay, _events) = relay_session(dir.path(), relay_config()).await;
    let started = tokio::time::Instant::now();
    match recv(&mut ws).await {
        RelayMessage::Refused { code, message } => {
            assert_eq!(code, RefusedCode::Timeout);
            assert!(message.contains("no hello within 10 s"), "{message}");
        }
        other => panic!("expected refused, got {other:?}"),
    }
    let waited = started.elapsed();
    assert!(
        waited >= protocol::HANDSHAKE_TIMEOUT && waited < protocol::HANDSHAKE_TIMEOUT * 2,
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_client_gives_up_on_a_relay_that_never_welcomes() {
    let (mut ws, _relay_end) = pair().await;
    let err = client::handshake(&mut ws, &token("acme"))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectError::Failed(_)), "{err:?}");
    assert!(err.to_string().contains("no welcome"), "{err}");
}

#[tokio::test]
async fn an_oversized_frame_ends_the_session_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let (client_io, server_io) = tokio::io::duplex(1 << 16);
    // This client has no limit of its own, so it can send what the relay must refuse.
    let unlimited = WebSocketConfig::default()
        .max_message_size(None)
        .max_frame_size(None);
    let mut ws = WebSocketStream::from_raw_socket(client_io, Role::Client, Some(unlimited)).await;
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let relay = Relay::open(
        relay_config(),
        dir.path(),
        Durability::Process,
        Some(events_tx),
    )
    .unwrap();
    let serving = relay.clone();
    tokio::spawn(async move {
        let server = WebSocketStream::from_raw_socket(
            server_io,
            Role::Server,
            Some(protocol::websocket_config()),
        )
        .await;
        serving.serve_listener("acme", server, None, None).await
    });
    send(&mut ws, &hello(VERSION, token("acme"))).await;
    assert!(matches!(recv(&mut ws).await, RelayMessage::Welcome { .. }));
    let oversized = format!(
        "{{\"type\":\"ack\",\"id\":\"{}\"}}",
        "x".repeat(MAX_FRAME_BYTES)
    );
    // The relay stops reading after the frame header, so the write may not complete.
    let _ = tokio::time::timeout(Duration::from_secs(5), ws.send(Message::text(oversized))).await;
    let reason = loop {
        match tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .unwrap()
            .unwrap()
        {
            RelayEvent::ListenerLeft { reason, .. } => break reason,
            _ => continue,
        }
    };
    assert!(reason.contains("larger than the maximum"), "{reason}");
}

async fn next_reply(ws: &mut Ws) -> Result<ClientMessage, tokio::time::error::Elapsed> {
    tokio::time::timeout(Duration::from_secs(10), async move {
        loop {
            let frame = ws.next().await.unwrap().unwrap();
            if let Some(message) = protocol::decode::<ClientMessage>(frame).unwrap() {
                return message;
            }
        }
    })
    .await
}

fn engine_with_store(
    dir: &std::path::Path,
) -> (Arc<Engine>, Store, mpsc::UnboundedReceiver<EngineEvent>) {
    let store = Store::open(dir, Durability::Process).unwrap();
    let (events_tx, events) = mpsc::unbounded_channel();
    let engine = Arc::new(Engine::new(
        store.clone(),
        EngineConfig {
            forwarder: None,
            respond: "201:{\"handled\":true}".parse::<FixedAnswer>().unwrap(),
            checks: webhook_dev::checks::Checks::default(),
        },
        events_tx,
    ));
    (engine, store, events)
}

#[tokio::test]
async fn the_listener_answers_stores_once_and_answers_a_redelivery_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, store, _events) = engine_with_store(dir.path());
    let listener = Listener::new(engine, 1024 * 1024);
    let (client_end, mut relay_end) = pair().await;
    let session = tokio::spawn({
        let listener = listener.clone();
        async move {
            let mut never = std::pin::pin!(std::future::pending::<()>());
            listener
                .session(
                    client_end,
                    Duration::from_secs(10),
                    Duration::from_secs(5),
                    &mut never,
                )
                .await
        }
    });
    let send_request =
        |request: WireRequest| protocol::encode(&RelayMessage::Request(Box::new(request))).unwrap();

    relay_end
        .send(send_request(wire_request(
            "req_01JEQ5K3ZC000000000000000E",
            b"{\"a\":1}",
        )))
        .await
        .unwrap();
    let first = next_reply(&mut relay_end).await.unwrap();
    let ClientMessage::Answer { id, response } = &first else {
        panic!("expected an answer, got {first:?}")
    };
    assert_eq!(id, "req_01JEQ5K3ZC000000000000000E");
    assert_eq!(response.status, 201);
    assert_eq!(response.body.as_ref(), b"{\"handled\":true}");

    // The relay did not get the answer and delivers again: same answer, nothing stored twice.
    let mut again = wire_request("req_01JEQ5K3ZC000000000000000E", b"{\"a\":1}");
    again.redelivery = true;
    relay_end.send(send_request(again)).await.unwrap();
    let second = next_reply(&mut relay_end).await.unwrap();
    assert!(
        matches!(&second, ClientMessage::Answer { id, response } if id == "req_01JEQ5K3ZC000000000000000E" && response.status == 201)
            || matches!(&second, ClientMessage::Ack { id } if id == "req_01JEQ5K3ZC000000000000000E"),
        "{second:?}"
    );
    // Even without the redelivery flag, a recent id is recognised.
    relay_end
        .send(send_request(wire_request(
            "req_01JEQ5K3ZC000000000000000E",
            b"{\"a\":1}",
        )))
        .await
        .unwrap();
    let third = next_reply(&mut relay_end).await.unwrap();
    assert!(!matches!(third, ClientMessage::Error { .. }), "{third:?}");

    drop(relay_end);
    let end = tokio::time::timeout(Duration::from_secs(5), session)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(end, SessionEnd::Lost(_)), "{end:?}");
    tokio::task::spawn_blocking(move || store.close())
        .await
        .unwrap();
    let reader = webhook_dev::store::StoreReader::open(dir.path()).unwrap();
    let all = reader.list(None).unwrap();
    assert_eq!(all.len(), 1, "stored once");
    assert_eq!(all[0].id, "req_01JEQ5K3ZC000000000000000E");
    assert_eq!(
        all[0].received_at, "2026-03-04T05:06:07.000008Z",
        "the relay's time is kept"
    );
    assert_eq!(all[0].path, "/hooks/x?y=1");
}

#[tokio::test(start_paused = true)]
async fn the_listener_declares_a_silent_relay_dead_after_its_heartbeats() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _store, _events) = engine_with_store(dir.path());
    let listener = Listener::new(engine, 1024);
    let (client_end, mut relay_end) = pair().await;
    // The relay end reads (so pings are written) but never answers.
    let pings = tokio::spawn(async move {
        let mut pings = 0;
        while let Some(Ok(frame)) = relay_end.next().await {
            if let Ok(Some(ClientMessage::Ping { .. })) = protocol::decode::<ClientMessage>(frame) {
                pings += 1;
            }
        }
        pings
    });
    let started = tokio::time::Instant::now();
    let mut never = std::pin::pin!(std::future::pending::<()>());
    let end = listener
        .session(
            client_end,
            Duration::from_secs(10),
            Duration::from_secs(1),
            &mut never,
        )
        .await;
    let waited = started.elapsed();
    let SessionEnd::Lost(reason) = end else {
        panic!("expected a lost connection, got {end:?}")
    };
    assert!(reason.contains("dead connection"), "{reason}");
    assert!(
        waited > Duration::from_secs(25) && waited <= Duration::from_secs(30),
        "{waited:?}"
    );
    assert!(pings.await.unwrap() >= 2, "it pinged before giving up");
}

#[tokio::test(start_paused = true)]
async fn the_relay_declares_a_silent_listener_dead_and_requeues_its_requests() {
    let dir = tempfile::tempdir().unwrap();
    let (queue, _) = Queue::open(dir.path(), Durability::Process).unwrap();
    queue
        .insert(
            1,
            "acme",
            Arc::new(wire_request("req_01JEQ5K3ZC00000000000000A1", b"{}")),
        )
        .await
        .unwrap();
    queue.close();
    let mut config = relay_config();
    config.heartbeat = Duration::from_secs(4);
    let (mut ws, relay, mut events) = relay_session(dir.path(), config).await;
    send(&mut ws, &hello(VERSION, token("acme"))).await;
    assert!(matches!(recv(&mut ws).await, RelayMessage::Welcome { .. }));
    assert!(matches!(recv(&mut ws).await, RelayMessage::Request(_)));
    // Say nothing more: no answer, no pong.
    let started = tokio::time::Instant::now();
    let reason = loop {
        match events.recv().await.unwrap() {
            RelayEvent::ListenerLeft { reason, .. } => break reason,
            _ => continue,
        }
    };
    assert!(reason.contains("dead connection"), "{reason}");
    assert!(
        started.elapsed() <= Duration::from_secs(14),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        relay.queued_for("acme"),
        1,
        "the unanswered request stays queued"
    );
}

#[tokio::test(start_paused = true)]
async fn a_request_the_listener_could_not_store_is_delivered_again() {
    let dir = tempfile::tempdir().unwrap();
    let (queue, _) = Queue::open(dir.path(), Durability::Process).unwrap();
    queue
        .insert(
            1,
            "acme",
            Arc::new(wire_request("req_01JEQ5K3ZC00000000000000F7", b"{}")),
        )
        .await
        .unwrap();
    queue.close();
    let mut config = relay_config();
    config.retry_after_error = Duration::from_secs(3);
    let (mut ws, relay, _events) = relay_session(dir.path(), config).await;
    send(&mut ws, &hello(VERSION, token("acme"))).await;
    assert!(matches!(recv(&mut ws).await, RelayMessage::Welcome { .. }));
    assert!(
        matches!(recv(&mut ws).await, RelayMessage::Request(r) if r.id == "req_01JEQ5K3ZC00000000000000F7")
    );
    send(
        &mut ws,
        &ClientMessage::Error {
            id: "req_01JEQ5K3ZC00000000000000F7".into(),
            message: "disk full".into(),
        },
    )
    .await;
    let started = tokio::time::Instant::now();
    let RelayMessage::Request(again) = recv(&mut ws).await else {
        panic!("expected the request again")
    };
    assert_eq!(again.id, "req_01JEQ5K3ZC00000000000000F7");
    assert!(again.redelivery);
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(relay.queued_for("acme"), 1, "kept meanwhile");
    send(
        &mut ws,
        &ClientMessage::Ack {
            id: "req_01JEQ5K3ZC00000000000000F7".into(),
        },
    )
    .await;
    send(&mut ws, &ClientMessage::Ping { nonce: 1 }).await;
    assert_eq!(recv(&mut ws).await, RelayMessage::Pong { nonce: 1 });
    assert_eq!(relay.queued_for("acme"), 0);
}

#[tokio::test]
async fn the_listener_reports_what_it_could_not_store_and_records_oversized_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, store, _events) = engine_with_store(dir.path());
    let listener = Listener::new(engine, 4);
    // Larger than this listener's --max-body: recorded without its body, answered 413.
    let reply = listener
        .process(wire_request(
            "req_01JEQ5K3ZC0000000000000B16",
            b"0123456789",
        ))
        .await;
    let ClientMessage::Answer { response, .. } = &reply else {
        panic!("expected an answer, got {reply:?}")
    };
    assert_eq!(response.status, 413);
    // A store that cannot take writes: the relay is told, so it keeps the request.
    store.close();
    let reply = listener
        .process(wire_request("req_01JEQ5K3ZC0000000000001057", b"{}"))
        .await;
    let ClientMessage::Error { id, message } = &reply else {
        panic!("expected an error, got {reply:?}")
    };
    assert_eq!(id, "req_01JEQ5K3ZC0000000000001057");
    assert!(message.contains("closed"), "{message}");
    // Not remembered as stored: a later delivery is handled again.
    let reply = listener
        .process(wire_request("req_01JEQ5K3ZC0000000000001057", b"{}"))
        .await;
    assert!(matches!(reply, ClientMessage::Error { .. }), "{reply:?}");
    let reader = webhook_dev::store::StoreReader::open(dir.path()).unwrap();
    let big = reader
        .get("req_01JEQ5K3ZC0000000000000B16")
        .unwrap()
        .unwrap();
    assert!(big.body.is_empty());
    assert!(reader
        .get("req_01JEQ5K3ZC0000000000001057")
        .unwrap()
        .is_none());
}
