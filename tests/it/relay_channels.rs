//! Channels cannot be invented by providers: a channel exists once a listener holding its token
//! connects, durably (relay restarts, idle time); `relay forget` removes one; idle channels'
//! bookkeeping leaves memory; `--max-queue-bytes` bounds the whole queue.

use std::time::Duration;

use crate::support::common::send;
use crate::support::eventually::eventually;
use crate::support::relay::*;

const BIN: &str = env!("CARGO_BIN_EXE_webhook-dev");

#[tokio::test]
async fn a_channel_exists_once_its_listener_connects_and_stays_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut relay = RunningRelay::start(dir.path(), relay_config()).await;
    let invented = send(relay.addr, "POST", "/made-up/x", &[], b"{}").await;
    assert_eq!(invented.status, 404, "{}", invented.text());
    assert!(
        invented.text().contains("channel made-up does not exist")
            && invented
                .text()
                .contains("listener holding its token first connects"),
        "{}",
        invented.text()
    );
    assert_eq!(relay.relay.queued(), 0);
    assert_eq!(relay.relay.channels_in_memory(), 0, "no state for a 404");

    relay.open_channel("acme").await;
    let queued = send(relay.addr, "POST", "/acme/x", &[], b"{}").await;
    assert_eq!(queued.status, 202, "{}", queued.text());
    relay.stop().await;

    // A restart (a laptop asleep meanwhile) keeps the channel: events still queue.
    let relay = RunningRelay::start(dir.path(), relay_config()).await;
    assert_eq!(relay.relay.queued_for("acme"), 1);
    let again = send(relay.addr, "POST", "/acme/y", &[], b"{}").await;
    assert_eq!(again.status, 202, "{}", again.text());
    assert_eq!(
        send(relay.addr, "POST", "/made-up/x", &[], b"{}")
            .await
            .status,
        404
    );
    relay.stop().await;
}

#[tokio::test]
async fn open_channels_accepts_any_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = relay_config();
    config.open_channels = true;
    let relay = RunningRelay::start(dir.path(), config).await;
    let answer = send(relay.addr, "POST", "/anything/x", &[], b"{}").await;
    assert_eq!(answer.status, 202, "{}", answer.text());
    assert_eq!(relay.relay.queued_for("anything"), 1);
    relay.stop().await;
}

#[tokio::test]
async fn idle_channels_leave_memory_but_not_existence() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = relay_config();
    config.idle_eviction = Duration::from_millis(100);
    let mut relay = RunningRelay::start(dir.path(), config).await;
    relay.open_channel("acme").await;
    relay.open_channel("idle").await;
    let listener_dir = tempfile::tempdir().unwrap();
    let mut listener = RunningListener::start(
        listener_dir.path(),
        client_config(relay.url("acme"), token("acme")),
        None,
    )
    .await;
    listener.connected().await;
    assert!(relay.relay.channels_in_memory() >= 1);
    // "idle" has no listener and nothing queued: evicted; "acme" has a listener: kept.
    let evicted = eventually(Duration::from_secs(10), || {
        relay.relay.channels_in_memory() == 1
    })
    .await;
    assert!(
        evicted,
        "{} channels in memory",
        relay.relay.channels_in_memory()
    );
    listener.stop().await;
    let evicted = eventually(Duration::from_secs(10), || {
        relay.relay.channels_in_memory() == 0
    })
    .await;
    assert!(evicted, "acme stays in memory");
    // Both still exist.
    for channel in ["acme", "idle"] {
        let answer = send(relay.addr, "POST", &format!("/{channel}/x"), &[], b"{}").await;
        assert_eq!(answer.status, 202, "{}", answer.text());
    }
    relay.stop().await;
}

#[tokio::test]
async fn max_queue_bytes_bounds_the_whole_queue() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = relay_config();
    config.max_body = 1000;
    config.max_queue_bytes = 2500;
    config.rate = None;
    let mut relay = RunningRelay::start(dir.path(), config).await;
    relay.open_channel("acme").await;
    relay.open_channel("other").await;
    for channel in ["acme", "other"] {
        let answer = send(
            relay.addr,
            "POST",
            &format!("/{channel}/x"),
            &[],
            &[b'x'; 900],
        )
        .await;
        assert_eq!(answer.status, 202, "{}", answer.text());
    }
    let full = send(relay.addr, "POST", "/acme/x", &[], &[b'x'; 900]).await;
    assert_eq!(full.status, 507, "{}", full.text());
    assert!(full.text().contains("--max-queue-bytes"), "{}", full.text());
    assert_eq!(relay.relay.queued(), 2);

    // Draining one channel makes room again.
    let listener_dir = tempfile::tempdir().unwrap();
    let mut listener = RunningListener::start(
        listener_dir.path(),
        client_config(relay.url("other"), token("other")),
        None,
    )
    .await;
    listener.requests(1).await;
    relay.queued_becomes("other", 0).await;
    listener.stop().await;
    let after = send(relay.addr, "POST", "/acme/x", &[], &[b'x'; 900]).await;
    assert_eq!(after.status, 202, "{}", after.text());
    relay.stop().await;
}

#[tokio::test]
async fn relay_forget_removes_a_channel_and_its_queue() {
    let dir = tempfile::tempdir().unwrap();
    let mut relay = RunningRelay::start(dir.path(), relay_config()).await;
    relay.open_channel("acme").await;
    relay.open_channel("kept").await;
    for channel in ["acme", "acme", "kept"] {
        let answer = send(relay.addr, "POST", &format!("/{channel}/x"), &[], b"{}").await;
        assert_eq!(answer.status, 202);
    }
    relay.stop().await;

    let forget = |channel: &str| {
        std::process::Command::new(BIN)
            .env_remove("WEBHOOK_DEV_STORE")
            .arg("--store")
            .arg(dir.path())
            .args(["relay", "forget", channel])
            .output()
            .unwrap()
    };
    let output = forget("acme");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(
        stdout.contains("channel acme forgotten with its 2 queued request(s)"),
        "{stdout}"
    );
    let unknown = forget("acme");
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("has no channel acme"),
        "{unknown:?}"
    );

    let relay = RunningRelay::start(dir.path(), relay_config()).await;
    assert_eq!(relay.relay.queued_for("acme"), 0);
    assert_eq!(relay.relay.queued_for("kept"), 1);
    assert_eq!(
        send(relay.addr, "POST", "/acme/x", &[], b"{}").await.status,
        404
    );
    assert_eq!(
        send(relay.addr, "POST", "/kept/x", &[], b"{}").await.status,
        202
    );
    relay.stop().await;
}
