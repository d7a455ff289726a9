//! The relay and `listen --relay` end to end over real sockets on 127.0.0.1: synchronous answers,
//! refusals, queueing while away and across relay restarts, connections cut mid-delivery, limits,
//! and TLS.

use std::time::Duration;

use bytes::Bytes;
use webhook_dev::engine::EngineEvent;
use webhook_dev::relay::server::{RateLimit, RelayEvent};
use webhook_dev::relay::token::Token;
use webhook_dev::relay_state::RelayState;

use crate::support::common::{send, Answer, Handler};
use crate::support::eventually::eventually;
use crate::support::relay::*;

const CHANNEL: &str = "acme";

fn path(p: &str) -> String {
    format!("/{CHANNEL}{p}")
}

#[tokio::test]
async fn a_synchronous_webhook_gets_the_handlers_answer_through_the_relay() {
    let handler = Handler::start(Answer {
        status: 201,
        headers: vec![("x-handler", "yes"), ("content-type", "application/json")],
        body: Bytes::from_static(b"{\"decision\":\"allow\"}"),
        delay: Duration::ZERO,
    })
    .await;
    let relay_dir = tempfile::tempdir().unwrap();
    let listener_dir = tempfile::tempdir().unwrap();
    let relay = RunningRelay::start(relay_dir.path(), relay_config()).await;
    let mut listener = RunningListener::start(
        listener_dir.path(),
        client_config(relay.url(CHANNEL), token(CHANNEL)),
        Some(handler.addr),
    )
    .await;
    assert_eq!(listener.connected().await, 0);

    let body: Vec<u8> = (0..=255u8).collect();
    let answer = send(
        relay.addr,
        "POST",
        &path("/hooks/avara?x=1&y=%2F"),
        &[
            ("webhook-id", b"msg_1"),
            ("x-dup", b"a"),
            ("x-dup", b"b"),
            ("x-raw", &[0xff, b'a']),
        ],
        &body,
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    assert_eq!(answer.header("x-handler"), Some("yes"));
    assert_eq!(answer.body, b"{\"decision\":\"allow\"}");

    let seen = handler.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].uri, "/hooks/avara?x=1&y=%2F",
        "the path below the channel"
    );
    assert_eq!(seen[0].body.as_ref(), body.as_slice());
    assert_eq!(seen[0].header_values("x-dup"), vec!["a", "b"]);
    assert_eq!(seen[0].header_values("webhook-id"), vec!["msg_1"]);
    assert_eq!(seen[0].header_values("x-forwarded-for"), vec!["127.0.0.1"]);
    assert_eq!(
        seen[0].header_values("x-forwarded-host"),
        vec![relay.addr.to_string()]
    );

    let summary = listener.requests(1).await.remove(0);
    assert!(summary.id.starts_with("req_"));
    let stored = listener.reader().get(&summary.id).unwrap().unwrap();
    assert_eq!(stored.summary.path, "/hooks/avara?x=1&y=%2F");
    assert_eq!(stored.body.as_ref(), body.as_slice());
    assert!(stored
        .headers
        .contains(&("x-raw".to_string(), vec![0xff, b'a'])));
    assert_eq!(stored.response.unwrap().status, 201);
    relay.queued_becomes(CHANNEL, 0).await;
    listener.stop().await;
    relay.stop().await;
}

#[tokio::test]
async fn a_wrong_token_is_refused_and_the_client_stops_trying() {
    let relay_dir = tempfile::tempdir().unwrap();
    let listener_dir = tempfile::tempdir().unwrap();
    let mut relay = RunningRelay::start(relay_dir.path(), relay_config()).await;
    let mut listener = RunningListener::start(
        listener_dir.path(),
        client_config(relay.url(CHANNEL), token("another-channel")),
        None,
    )
    .await;
    let RelayState::Refused { reason, .. } = listener
        .state(|s| matches!(s, RelayState::Refused { .. }))
        .await
    else {
        unreachable!()
    };
    assert!(reason.contains("wrong token for channel acme"), "{reason}");
    let err = listener.ended().await.unwrap_err();
    assert!(err.to_string().contains("refused this listener"), "{err}");
    relay
        .event(|e| matches!(e, RelayEvent::ListenerRefused { .. }))
        .await;
    relay.stop().await;
}

#[tokio::test]
async fn requests_sent_while_away_are_queued_and_delivered_in_order_once() {
    let handler = Handler::start(Answer::ok("{}")).await;
    let relay_dir = tempfile::tempdir().unwrap();
    let listener_dir = tempfile::tempdir().unwrap();
    let mut relay = RunningRelay::start(relay_dir.path(), relay_config()).await;
    relay.open_channel(CHANNEL).await;
    for n in 0..5 {
        let answer = send(
            relay.addr,
            "POST",
            &path(&format!("/event/{n}")),
            &[],
            format!("{{\"n\":{n}}}").as_bytes(),
        )
        .await;
        assert_eq!(answer.status, 202, "{}", answer.text());
        let json: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(json["queued"], true);
        assert!(json["id"].as_str().unwrap().starts_with("req_"));
    }
    assert_eq!(relay.relay.queued_for(CHANNEL), 5);

    let mut listener = RunningListener::start(
        listener_dir.path(),
        client_config(relay.url(CHANNEL), token(CHANNEL)),
        Some(handler.addr),
    )
    .await;
    assert_eq!(listener.connected().await, 5);
    listener.requests(5).await;
    let uris: Vec<String> = handler.seen().into_iter().map(|s| s.uri).collect();
    let expected: Vec<String> = (0..5).map(|n| format!("/event/{n}")).collect();
    assert_eq!(uris, expected, "the handler got them in arrival order");
    relay.queued_becomes(CHANNEL, 0).await;
    let reader = listener.stop().await;
    let stored: Vec<String> = reader
        .list(None)
        .unwrap()
        .into_iter()
        .map(|s| s.path)
        .collect();
    assert_eq!(stored, expected);
    relay.stop().await;
}

#[tokio::test]
async fn queued_requests_survive_a_relay_restart_and_are_delivered_once_in_order() {
    let handler = Handler::start(Answer::ok("{}")).await;
    let relay_dir = tempfile::tempdir().unwrap();
    let listener_dir = tempfile::tempdir().unwrap();

    let mut first = RunningRelay::start(relay_dir.path(), relay_config()).await;
    first.open_channel(CHANNEL).await;
    for n in 0..5 {
        let answer = send(first.addr, "POST", &path(&format!("/e{n}")), &[], b"{}").await;
        assert_eq!(answer.status, 202);
    }
    first.stop().await;

    let second = RunningRelay::start(relay_dir.path(), relay_config()).await;
    assert_eq!(second.relay.queued_for(CHANNEL), 5, "the queue is on disk");
    let mut listener = RunningListener::start(
        listener_dir.path(),
        client_config(second.url(CHANNEL), token(CHANNEL)),
        Some(handler.addr),
    )
    .await;
    assert_eq!(listener.connected().await, 5);
    listener.requests(5).await;
    second.queued_becomes(CHANNEL, 0).await;
    listener.stop().await;
    second.stop().await;

    // A third run finds nothing left, and a listener on the same store gets nothing new.
    let third = RunningRelay::start(relay_dir.path(), relay_config()).await;
    assert_eq!(third.relay.queued(), 0);
    let mut again = RunningListener::start(
        listener_dir.path(),
        client_config(third.url(CHANNEL), token(CHANNEL)),
        Some(handler.addr),
    )
    .await;
    assert_eq!(again.connected().await, 0);
    let reader = again.stop().await;
    third.stop().await;

    let uris: Vec<String> = handler.seen().into_iter().map(|s| s.uri).collect();
    assert_eq!(uris, vec!["/e0", "/e1", "/e2", "/e3", "/e4"]);
    let stored = reader.list(None).unwrap();
    assert_eq!(stored.len(), 5, "each stored once");
}

#[tokio::test]
async fn a_connection_cut_mid_delivery_loses_nothing_and_stores_nothing_twice() {
    let handler = Handler::start(Answer {
        delay: Duration::from_millis(600),
        ..Answer::ok("{\"slow\":true}")
    })
    .await;
    let relay_dir = tempfile::tempdir().unwrap();
    let listener_dir = tempfile::tempdir().unwrap();
    let relay = RunningRelay::start(relay_dir.path(), relay_config()).await;
    let cutter = Cutter::start(relay.addr).await;
    let url = format!("ws://{}/{CHANNEL}", cutter.addr).parse().unwrap();
    let mut listener = RunningListener::start(
        listener_dir.path(),
        client_config(url, token(CHANNEL)),
        Some(handler.addr),
    )
    .await;
    listener.connected().await;

    let relay_addr = relay.addr;
    let provider =
        tokio::spawn(
            async move { send(relay_addr, "POST", &path("/slow"), &[], b"{\"n\":1}").await },
        );
    // Cut the tunnel while the handler is busy with the request.
    assert!(eventually(Duration::from_secs(5), || !handler.seen().is_empty()).await);
    assert_eq!(handler.seen().len(), 1);
    cutter.cut();

    // The provider is told the request is kept, since no listener is connected any more.
    let answer = provider.await.unwrap();
    assert!(
        answer.status == 202 || answer.status == 200,
        "{} {}",
        answer.status,
        answer.text()
    );
    listener
        .state(|s| matches!(s, RelayState::Reconnecting { .. }))
        .await;
    listener.connected().await;
    relay.queued_becomes(CHANNEL, 0).await;
    let reader = listener.stop().await;
    let stored = reader.list(None).unwrap();
    assert_eq!(stored.len(), 1, "stored once: {stored:?}");
    assert_eq!(stored[0].path, "/slow");
    assert_eq!(handler.seen().len(), 1, "the handler got it once");
    relay.stop().await;
}

#[tokio::test]
async fn no_answer_in_time_gives_504_and_the_request_is_still_delivered() {
    let handler = Handler::start(Answer {
        delay: Duration::from_millis(1500),
        ..Answer::ok("{}")
    })
    .await;
    let relay_dir = tempfile::tempdir().unwrap();
    let listener_dir = tempfile::tempdir().unwrap();
    let mut config = relay_config();
    config.answer_timeout = Duration::from_millis(300);
    let relay = RunningRelay::start(relay_dir.path(), config).await;
    let mut listener = RunningListener::start(
        listener_dir.path(),
        client_config(relay.url(CHANNEL), token(CHANNEL)),
        Some(handler.addr),
    )
    .await;
    listener.connected().await;
    let answer = send(relay.addr, "POST", &path("/late"), &[], b"{}").await;
    assert_eq!(answer.status, 504);
    assert!(answer.text().contains("stays queued"), "{}", answer.text());
    // Before the provider got its 504, the request was written to the relay's queue on disk.
    let on_disk: i64 =
        rusqlite::Connection::open(relay_dir.path().join(webhook_dev::relay::queue::QUEUE_FILE))
            .unwrap()
            .query_row("SELECT COUNT(*) FROM queue", [], |r| r.get(0))
            .unwrap();
    assert_eq!(on_disk, 1);
    // The listener answers late; that still acknowledges it.
    listener.requests(1).await;
    relay.queued_becomes(CHANNEL, 0).await;
    let reader = listener.stop().await;
    assert_eq!(reader.count().unwrap(), 1);
    relay.stop().await;
}

#[tokio::test]
async fn limits_answer_413_507_and_429_with_reasons() {
    let relay_dir = tempfile::tempdir().unwrap();
    let mut config = relay_config();
    config.max_body = 1000;
    config.max_queue = 2;
    config.rate = None;
    let mut relay = RunningRelay::start(relay_dir.path(), config).await;
    relay.open_channel(CHANNEL).await;
    relay.open_channel("other").await;

    let big = send(relay.addr, "POST", &path("/big"), &[], &[b'x'; 1001]).await;
    assert_eq!(big.status, 413);
    assert!(big.text().contains("--max-body 1000"), "{}", big.text());
    assert_eq!(relay.relay.queued_for(CHANNEL), 0, "not queued");

    for _ in 0..2 {
        assert_eq!(
            send(relay.addr, "POST", &path("/q"), &[], b"{}")
                .await
                .status,
            202
        );
    }
    let full = send(relay.addr, "POST", &path("/q"), &[], b"{}").await;
    assert_eq!(full.status, 507);
    assert!(full.text().contains("--max-queue"), "{}", full.text());
    // Another channel has its own queue.
    assert_eq!(
        send(relay.addr, "POST", "/other/q", &[], b"{}")
            .await
            .status,
        202
    );
    relay.stop().await;

    let relay_dir = tempfile::tempdir().unwrap();
    let mut config = relay_config();
    config.rate = Some(RateLimit {
        per_second: 0.5,
        burst: 2.0,
    });
    let mut relay = RunningRelay::start(relay_dir.path(), config).await;
    relay.open_channel(CHANNEL).await;
    for _ in 0..2 {
        assert_eq!(
            send(relay.addr, "POST", &path("/r"), &[], b"{}")
                .await
                .status,
            202
        );
    }
    let limited = send(relay.addr, "POST", &path("/r"), &[], b"{}").await;
    assert_eq!(limited.status, 429);
    assert!(limited.text().contains("--max-rate"), "{}", limited.text());
    assert_eq!(limited.header("retry-after"), Some("2"));
    assert_eq!(relay.relay.queued_for(CHANNEL), 2);
    relay.stop().await;
}

#[tokio::test]
async fn the_relays_own_pages_and_bad_channels() {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = RunningRelay::start(relay_dir.path(), relay_config()).await;
    assert_eq!(
        send(relay.addr, "GET", "/_health", &[], b"").await.status,
        200
    );
    let root = send(relay.addr, "GET", "/", &[], b"").await;
    assert!(root.text().contains("--relay"), "{}", root.text());
    let none = send(relay.addr, "POST", "/", &[], b"{}").await;
    assert_eq!(none.status, 404);
    let bad = send(relay.addr, "POST", "/-bad/x", &[], b"{}").await;
    assert_eq!(bad.status, 404);
    assert!(
        bad.text().contains("invalid channel name"),
        "{}",
        bad.text()
    );
    relay.stop().await;
}

#[tokio::test]
async fn a_relay_can_be_limited_to_some_channels() {
    let relay_dir = tempfile::tempdir().unwrap();
    let listener_dir = tempfile::tempdir().unwrap();
    let mut config = relay_config();
    config.channels = Some(["acme".to_string()].into_iter().collect());
    let mut relay = RunningRelay::start(relay_dir.path(), config).await;
    relay.open_channel("acme").await;
    assert_eq!(
        send(relay.addr, "POST", "/acme/x", &[], b"{}").await.status,
        202
    );
    let other = send(relay.addr, "POST", "/other/x", &[], b"{}").await;
    assert_eq!(other.status, 404);
    assert!(other.text().contains("--channels"), "{}", other.text());
    let mut listener = RunningListener::start(
        listener_dir.path(),
        client_config(relay.url("other"), token("other")),
        None,
    )
    .await;
    // A channel the relay does not serve will not start being served by retrying: the listener
    // stops with the reason instead of reconnecting forever.
    let RelayState::Refused { reason, .. } = listener
        .state(|s| matches!(s, RelayState::Refused { .. }))
        .await
    else {
        unreachable!()
    };
    assert!(reason.contains("HTTP 404"), "{reason}");
    assert!(reason.contains("does not serve channel other"), "{reason}");
    let err = listener.ended().await.unwrap_err();
    assert!(err.to_string().contains("refused this listener"), "{err}");
    relay.stop().await;
}

#[tokio::test]
async fn a_second_listener_takes_the_channel_over_and_the_first_stops() {
    let relay_dir = tempfile::tempdir().unwrap();
    let (first_dir, second_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut relay = RunningRelay::start(relay_dir.path(), relay_config()).await;
    let mut first = RunningListener::start(
        first_dir.path(),
        client_config(relay.url(CHANNEL), token(CHANNEL)),
        None,
    )
    .await;
    first.connected().await;
    let before = chrono::Utc::now();
    let mut second = RunningListener::start(
        second_dir.path(),
        client_config(relay.url(CHANNEL), token(CHANNEL)),
        None,
    )
    .await;
    second.connected().await;
    // The displaced listener is told when and from which address.
    let RelayState::TakenOver { at, by, reason, .. } = first
        .state(|s| matches!(s, RelayState::TakenOver { .. }))
        .await
    else {
        unreachable!()
    };
    assert!(at >= before - chrono::Duration::seconds(1), "{at}");
    let by = by.expect("the newcomer's address");
    assert!(by.starts_with("127.0.0.1:"), "{by}");
    assert!(reason.contains(&format!("from {by}")), "{reason}");
    assert!(reason.contains("took channel acme over at"), "{reason}");
    let err = first.ended().await.unwrap_err();
    assert!(err.to_string().contains("took channel acme over"), "{err}");
    // The relay logs it.
    let event = relay
        .event(|e| matches!(e, RelayEvent::ListenerTakenOver { .. }))
        .await;
    assert!(
        event
            .human()
            .contains("taken over by a newer one from 127.0.0.1:"),
        "{}",
        event.human()
    );
    assert_eq!(event.to_json()["by"], by.as_str());
    let answer = send(relay.addr, "POST", &path("/x"), &[], b"{}").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    second.requests(1).await;
    second.stop().await;
    relay.stop().await;
}

#[tokio::test]
async fn a_no_takeover_listener_keeps_its_channel_while_healthy() {
    let relay_dir = tempfile::tempdir().unwrap();
    let (first_dir, second_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let third_dir = tempfile::tempdir().unwrap();
    let mut relay = RunningRelay::start(relay_dir.path(), relay_config()).await;
    let mut holding = client_config(relay.url(CHANNEL), token(CHANNEL));
    holding.no_takeover = true;
    let mut first = RunningListener::start(first_dir.path(), holding, None).await;
    first.connected().await;
    let mut second = RunningListener::start(
        second_dir.path(),
        client_config(relay.url(CHANNEL), token(CHANNEL)),
        None,
    )
    .await;
    let RelayState::Refused { reason, .. } = second
        .state(|s| matches!(s, RelayState::Refused { .. }))
        .await
    else {
        unreachable!()
    };
    assert!(
        reason.contains("refuses to be displaced (--no-takeover)")
            && reason.contains("from 127.0.0.1:"),
        "{reason}"
    );
    assert!(second.ended().await.is_err());
    relay
        .event(|e| matches!(e, RelayEvent::ListenerRefused { .. }))
        .await;
    // The first still has the channel.
    let answer = send(relay.addr, "POST", &path("/kept"), &[], b"{}").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(first.requests(1).await[0].path, "/kept");
    // Once it is gone, a newcomer gets the channel.
    first.kill();
    relay
        .event(|e| matches!(e, RelayEvent::ListenerLeft { .. }))
        .await;
    let mut third = RunningListener::start(
        third_dir.path(),
        client_config(relay.url(CHANNEL), token(CHANNEL)),
        None,
    )
    .await;
    third.connected().await;
    third.stop().await;
    relay.stop().await;
}

#[tokio::test]
async fn the_listener_reconnects_when_the_relay_comes_back() {
    let relay_dir = tempfile::tempdir().unwrap();
    let listener_dir = tempfile::tempdir().unwrap();
    let relay = RunningRelay::start(relay_dir.path(), relay_config()).await;
    let cutter = Cutter::start(relay.addr).await;
    let url = format!("ws://{}/{CHANNEL}", cutter.addr).parse().unwrap();
    let mut listener = RunningListener::start(
        listener_dir.path(),
        client_config(url, token(CHANNEL)),
        None,
    )
    .await;
    listener.connected().await;
    relay.stop().await;
    // The relay is gone: every attempt fails, and waits grow (up to the cap).
    let mut delays = Vec::new();
    while delays.len() < 4 {
        if let RelayState::Reconnecting { delay, .. } = listener
            .state(|s| matches!(s, RelayState::Reconnecting { .. }))
            .await
        {
            delays.push(delay);
        }
    }
    assert!(delays[3] > delays[0], "{delays:?}");
    assert!(
        delays.iter().all(|d| *d <= Duration::from_millis(400)),
        "{delays:?}"
    );
    // It comes back, on the same queue: the listener connects again by itself.
    let relay = RunningRelay::start(relay_dir.path(), relay_config()).await;
    cutter.retarget(relay.addr);
    listener.connected().await;
    let answer = send(relay.addr, "POST", &path("/back"), &[], b"{}").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    listener.requests(1).await;
    listener.stop().await;
    relay.stop().await;
}

#[tokio::test]
async fn a_request_id_from_the_relay_is_kept_by_the_listener() {
    let relay_dir = tempfile::tempdir().unwrap();
    let listener_dir = tempfile::tempdir().unwrap();
    let mut relay = RunningRelay::start(relay_dir.path(), relay_config()).await;
    relay.open_channel(CHANNEL).await;
    let answer = send(relay.addr, "POST", &path("/a"), &[], b"{}").await;
    let id = serde_json::from_slice::<serde_json::Value>(&answer.body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut listener = RunningListener::start(
        listener_dir.path(),
        client_config(relay.url(CHANNEL), token(CHANNEL)),
        None,
    )
    .await;
    let summary = listener.requests(1).await.remove(0);
    assert_eq!(summary.id, id);
    assert!(listener
        .events
        .try_recv()
        .map_or(true, |e| !matches!(e, EngineEvent::Request(_))));
    listener.stop().await;
    relay.stop().await;
}

#[test]
fn tokens_are_redacted_in_debug() {
    assert_eq!(format!("{:?}", Token::new("abc")), "Token(<redacted>)");
}
