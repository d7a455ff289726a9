//! Several relay processes over one PostgreSQL queue (`relay --queue postgres://...`) act as one
//! relay: a provider may post to any of them, the listener (on any of them) gets every request
//! once and in order, with its answer back to the provider; kill -9 of an instance or a database
//! restart loses nothing that was acknowledged.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use webhook_dev::relay_state::RelayState;

use crate::support::common::{send, Answer, Handler, RawResponse};
use crate::support::eventually::eventually;
use crate::support::pg::{Balancer, Postgres};
use crate::support::relay::{client_config, token, RunningListener, SECRET};

const BIN: &str = env!("CARGO_BIN_EXE_webhook-dev");
const CHANNEL: &str = "acme";

/// A relay process over the shared queue.
struct Instance {
    addr: SocketAddr,
    child: Child,
    log: std::path::PathBuf,
}

impl Instance {
    async fn start(pg: &Postgres, store: &Path) -> Instance {
        Self::start_with(pg, store, &[]).await
    }

    async fn start_with(pg: &Postgres, store: &Path, args: &[&str]) -> Instance {
        std::fs::create_dir_all(store).unwrap();
        let log = store.join("relay.log");
        let mut child = Command::new(BIN)
            .env_remove("WEBHOOK_DEV_STORE")
            .env_remove("WEBHOOK_DEV_RELAY_SECRET")
            .env_remove("WEBHOOK_DEV_RELAY_QUEUE")
            .args(["--store", store.to_str().unwrap()])
            .args(["relay", "--addr", "127.0.0.1:0", "--json"])
            .args(["--secret", SECRET])
            .args(
                (!args.contains(&"--queue"))
                    .then(|| ["--queue".to_string(), pg.url()])
                    .into_iter()
                    .flatten(),
            )
            .args(["--answer-timeout", "10"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the relay starts within 20 s")
            .unwrap()
            .expect("the relay prints its listening line");
        let listening: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(listening["event"], "listening", "{listening}");
        assert_eq!(listening["store"], "postgresql (--queue)");
        // Keep reading so the relay never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Instance {
            addr: listening["addr"].as_str().unwrap().parse().unwrap(),
            child,
            log,
        }
    }

    /// What the relay logged (warnings and errors) so far.
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }

    async fn kill(&mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }
}

async fn post(relay: SocketAddr, n: usize) -> Option<RawResponse> {
    let path = format!("/{CHANNEL}/event/{n}");
    let body = format!("{{\"n\":{n}}}");
    tokio::time::timeout(Duration::from_secs(15), async {
        // A killed instance refuses the connection: no answer, nothing acknowledged.
        tokio::net::TcpStream::connect(relay).await.ok()?;
        Some(send(relay, "POST", &path, &[], body.as_bytes()).await)
    })
    .await
    .expect("an answer within 15 s")
}

fn event_paths(range: impl IntoIterator<Item = usize>) -> Vec<String> {
    range.into_iter().map(|n| format!("/event/{n}")).collect()
}

/// The handler's paths once it has seen every path in `expected` (it may see more).
async fn handler_sees_all(handler: &Handler, expected: &[String]) -> Vec<String> {
    let paths = || -> Vec<String> { handler.seen().into_iter().map(|s| s.uri).collect() };
    let missing = |seen: &[String]| -> Vec<String> {
        let got: HashSet<&String> = seen.iter().collect();
        expected
            .iter()
            .filter(|p| !got.contains(p))
            .cloned()
            .collect()
    };
    let all = eventually(Duration::from_secs(40), || missing(&paths()).is_empty()).await;
    let seen = paths();
    assert!(all, "the listener still misses {:?}", missing(&seen));
    seen
}

/// Each path once, in increasing event order.
fn assert_once_in_order(seen: &[String]) {
    let numbers: Vec<usize> = seen
        .iter()
        .map(|p| p.trim_start_matches("/event/").parse().unwrap())
        .collect();
    let mut sorted = numbers.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(numbers, sorted, "each request once, in arrival order");
}

async fn listener_via(relay: SocketAddr, store: &Path, handler: &Handler) -> RunningListener {
    let url = format!("ws://{relay}/{CHANNEL}").parse().unwrap();
    RunningListener::start(
        store,
        client_config(url, token(CHANNEL)),
        Some(handler.addr),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_are_one_relay_with_answers_across_them() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let a = Instance::start(&pg, &dir.path().join("a")).await;
    let b = Instance::start(&pg, &dir.path().join("b")).await;
    let schema = pg.client().await;
    let version: i32 = schema
        .query_one("SELECT version FROM wd_schema", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, webhook_dev::relay::pg::SCHEMA_VERSION);

    let refused = post(b.addr, 0).await.unwrap();
    assert_eq!(refused.status, 404, "no listener ever opened the channel");

    let handler = Handler::start(Answer::ok("{\"handled\":true}")).await;
    let mut listener = listener_via(a.addr, &dir.path().join("listener"), &handler).await;
    listener.connected().await;
    // The channel exists for B too; B's provider gets the answer of A's listener.
    let answered = post(b.addr, 1).await.unwrap();
    assert_eq!(answered.status, 200, "{}", answered.text());
    assert_eq!(answered.text(), "{\"handled\":true}");
    let answered = post(a.addr, 2).await.unwrap();
    assert_eq!(answered.text(), "{\"handled\":true}");

    // With the listener away, both instances queue; it gets everything on B, in order.
    listener.stop().await;
    for n in 3..9usize {
        let relay = if n.is_multiple_of(2) { a.addr } else { b.addr };
        let queued = post(relay, n).await.unwrap();
        assert_eq!(queued.status, 202, "{}", queued.text());
    }
    let mut listener = listener_via(b.addr, &dir.path().join("listener"), &handler).await;
    assert_eq!(listener.connected().await, 6);
    let seen = handler_sees_all(&handler, &event_paths(1..9)).await;
    assert_eq!(seen, event_paths(1..9));
    let stored = listener.stop().await.list(None).unwrap();
    assert_eq!(stored.len(), 8);

    // A newer schema than this build knows is refused.
    schema
        .execute("UPDATE wd_schema SET version = 99", &[])
        .await
        .unwrap();
    let output = Command::new(BIN)
        .args(["--store", dir.path().join("c").to_str().unwrap()])
        .args(["relay", "--addr", "127.0.0.1:0", "--secret", SECRET])
        .args(["--queue", &pg.url()])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("schema version 99"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_events_posted_alternately_arrive_once_in_order() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let a = Instance::start(&pg, &dir.path().join("a")).await;
    let b = Instance::start(&pg, &dir.path().join("b")).await;
    let handler = Handler::start(Answer::ok("{}")).await;
    let mut first = listener_via(b.addr, &dir.path().join("listener"), &handler).await;
    first.connected().await;
    let mut listener = Some(first);
    for n in 0..300usize {
        let relay = if n.is_multiple_of(2) { a.addr } else { b.addr };
        let answer = post(relay, n).await.unwrap();
        assert!(
            answer.status == 200 || answer.status == 202,
            "event {n}: {} {}",
            answer.status,
            answer.text()
        );
        if n == 150 {
            // A quarter of the stream queued while the listener is away.
            listener.take().unwrap().stop().await;
        }
        if n == 225 {
            let mut again = listener_via(a.addr, &dir.path().join("listener"), &handler).await;
            assert_eq!(again.connected().await, 75);
            listener = Some(again);
        }
    }
    let seen = handler_sees_all(&handler, &event_paths(0..300)).await;
    assert_eq!(seen, event_paths(0..300));
    let stored = listener.unwrap().stop().await.list(None).unwrap();
    assert_eq!(stored.len(), 300, "each stored once");
}

/// Posts events alternately to both instances (one at a time), kills one of them with SIGKILL
/// after 40 are acknowledged and goes on with the other, and checks that the listener, behind a
/// load balancer over both, got every acknowledged one once and in order.
async fn kill_mid_stream(kill_the_listeners_instance: bool) {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let a = Instance::start(&pg, &dir.path().join("a")).await;
    let b = Instance::start(&pg, &dir.path().join("b")).await;
    // The listener lands on A (the balancer's first choice) and moves to B when A dies.
    let balancer = Balancer::start(vec![a.addr, b.addr]).await;
    let handler = Handler::start(Answer::ok("{}")).await;
    let mut listener = listener_via(balancer.addr, &dir.path().join("listener"), &handler).await;
    listener.connected().await;
    let (mut victim, survivor) = if kill_the_listeners_instance {
        (a, b)
    } else {
        (b, a)
    };
    let mut acknowledged = Vec::new();
    let mut killed = false;
    for n in 0..160usize {
        let relay = if n.is_multiple_of(2) && !killed {
            victim.addr
        } else {
            survivor.addr
        };
        if let Some(answer) = post(relay, n).await {
            if (200..300).contains(&answer.status) {
                acknowledged.push(format!("/event/{n}"));
            }
        }
        if acknowledged.len() == 40 && !killed {
            victim.kill().await;
            killed = true;
        }
    }
    assert!(
        acknowledged.len() >= 150,
        "{} acknowledged",
        acknowledged.len()
    );
    let seen = handler_sees_all(&handler, &acknowledged).await;
    assert_once_in_order(&seen);
    listener.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_listeners_instance_loses_nothing_acknowledged() {
    kill_mid_stream(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_other_instance_loses_nothing_acknowledged() {
    kill_mid_stream(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_gets_503s_and_loses_nothing_acknowledged() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let a = Instance::start(&pg, &dir.path().join("a")).await;
    let b = Instance::start(&pg, &dir.path().join("b")).await;
    let handler = Handler::start(Answer::ok("{}")).await;
    let mut listener = listener_via(a.addr, &dir.path().join("listener"), &handler).await;
    listener.connected().await;
    let mut acknowledged = Vec::new();
    let mut n = 0;
    let post_next = |n: &mut usize| {
        let relay = if n.is_multiple_of(2) { a.addr } else { b.addr };
        let this = *n;
        *n += 1;
        async move { (this, post(relay, this).await.unwrap()) }
    };
    while n < 40 {
        let (this, answer) = post_next(&mut n).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        acknowledged.push(format!("/event/{this}"));
    }
    pg.stop();
    for _ in 0..10 {
        let (_, answer) = post_next(&mut n).await;
        assert_eq!(
            answer.status,
            503,
            "nothing is accepted while the database is down: {}",
            answer.text()
        );
    }
    pg.start_again();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut accepted_again = 0;
    while accepted_again < 40 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the relays came back"
        );
        let (this, answer) = post_next(&mut n).await;
        match answer.status {
            200 | 202 => {
                accepted_again += 1;
                acknowledged.push(format!("/event/{this}"));
            }
            503 => tokio::time::sleep(Duration::from_millis(100)).await,
            other => panic!("{other}: {}", answer.text()),
        }
    }
    let seen = handler_sees_all(&handler, &acknowledged).await;
    assert_once_in_order(&seen);
    listener.stop().await;
    for instance in [&a, &b] {
        let log = instance.log();
        assert!(log.contains("relay queue database unreachable"), "{log}");
        assert!(log.contains("retrying in"), "{log}");
        assert!(
            log.contains("relay queue database reachable again"),
            "{log}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_on_another_instance_takes_the_channel_over_unless_the_holder_refuses() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let a = Instance::start(&pg, &dir.path().join("a")).await;
    let b = Instance::start(&pg, &dir.path().join("b")).await;
    let handler = Handler::start(Answer::ok("{}")).await;
    let mut first = listener_via(a.addr, &dir.path().join("first"), &handler).await;
    first.connected().await;
    let mut second = listener_via(b.addr, &dir.path().join("second"), &handler).await;
    second.connected().await;
    let RelayState::TakenOver { by, reason, .. } = first
        .state(|s| matches!(s, RelayState::TakenOver { .. }))
        .await
    else {
        unreachable!()
    };
    assert!(by
        .expect("the newcomer's address")
        .starts_with("127.0.0.1:"));
    assert!(reason.contains("took channel acme over"), "{reason}");
    let answer = post(a.addr, 1).await.unwrap();
    assert_eq!(answer.status, 200, "{}", answer.text());
    second.requests(1).await;
    second.stop().await;

    let url = format!("ws://{}/{CHANNEL}", a.addr).parse().unwrap();
    let mut holding = client_config(url, token(CHANNEL));
    holding.no_takeover = true;
    let mut holder = RunningListener::start(&dir.path().join("holder"), holding, None).await;
    holder.connected().await;
    let mut newcomer = listener_via(b.addr, &dir.path().join("newcomer"), &handler).await;
    let RelayState::Refused { reason, .. } = newcomer
        .state(|s| matches!(s, RelayState::Refused { .. }))
        .await
    else {
        unreachable!()
    };
    assert!(
        reason.contains("refuses to be displaced (--no-takeover)"),
        "{reason}"
    );
    holder.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_limit_holds_across_instances_and_forget_removes_a_channel() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let start = |store: &str| {
        let store = dir.path().join(store);
        let pg = &pg;
        async move { Instance::start_with(pg, &store, &["--max-queue", "3"]).await }
    };
    let a = start("a").await;
    let b = start("b").await;
    let handler = Handler::start(Answer::ok("{}")).await;
    let mut opening = listener_via(a.addr, &dir.path().join("listener"), &handler).await;
    opening.connected().await;
    opening.stop().await;
    for (n, relay) in [a.addr, b.addr, a.addr].into_iter().enumerate() {
        assert_eq!(post(relay, n).await.unwrap().status, 202);
    }
    let full = post(b.addr, 3).await.unwrap();
    assert_eq!(full.status, 507, "{}", full.text());
    assert!(full.text().contains("--max-queue"), "{}", full.text());

    let forget = Command::new(BIN)
        .env_remove("WEBHOOK_DEV_RELAY_QUEUE")
        .args(["relay", "forget", CHANNEL, "--queue", &pg.url()])
        .output()
        .await
        .unwrap();
    assert!(forget.status.success(), "{forget:?}");
    assert!(
        String::from_utf8_lossy(&forget.stdout).contains("forgotten with its 3 queued request(s)"),
        "{forget:?}"
    );
    let rows: i64 = pg
        .client()
        .await
        .query_one("SELECT count(*) FROM wd_queue", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 0);
    // Running instances refuse it now, and so does one that never saw it.
    let gone = post(a.addr, 4).await.unwrap();
    assert_eq!(gone.status, 404, "{}", gone.text());
    assert!(gone.text().contains("does not exist"), "{}", gone.text());
    let c = start("c").await;
    assert_eq!(post(c.addr, 5).await.unwrap().status, 404);
    let again = Command::new(BIN)
        .args(["relay", "forget", CHANNEL, "--queue", &pg.url()])
        .output()
        .await
        .unwrap();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("queue database has no channel acme"),
        "{again:?}"
    );
    // A listener makes it exist again, even through an instance that knew it before; forgotten
    // under a connected listener, it is made to exist again by the listener's reconnection.
    let mut listener = listener_via(a.addr, &dir.path().join("listener"), &handler).await;
    listener.connected().await;
    assert_eq!(post(c.addr, 6).await.unwrap().status, 200);
    let forget = Command::new(BIN)
        .args(["relay", "forget", CHANNEL, "--queue", &pg.url()])
        .output()
        .await
        .unwrap();
    assert!(forget.status.success(), "{forget:?}");
    let RelayState::Reconnecting { reason, .. } = listener
        .state(|s| matches!(s, RelayState::Reconnecting { .. }))
        .await
    else {
        unreachable!()
    };
    assert!(reason.contains("was forgotten"), "{reason}");
    listener.connected().await;
    assert_eq!(post(b.addr, 7).await.unwrap().status, 200);
    listener.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_can_be_reached_over_tls_only() {
    let (pg, ca) = Postgres::start_tls_only();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}?sslmode=require", pg.url());
    let relay = |extra: Vec<String>| {
        let mut cmd = std::process::Command::new(BIN);
        cmd.env_remove("WEBHOOK_DEV_RELAY_QUEUE")
            .args(["--store", dir.path().join("r").to_str().unwrap()])
            .args(["relay", "forget", CHANNEL])
            .args(extra);
        cmd.output().unwrap()
    };
    // Plain connections are refused by this server; so is its certificate without --queue-ca.
    let plain = relay(vec!["--queue".into(), pg.url()]);
    assert!(
        String::from_utf8_lossy(&plain.stderr).contains("no encryption"),
        "{plain:?}"
    );
    let untrusted = relay(vec!["--queue".into(), url.clone()]);
    assert!(
        String::from_utf8_lossy(&untrusted.stderr).contains("certificate"),
        "{untrusted:?}"
    );
    let trusted = relay(vec![
        "--queue".into(),
        url.clone(),
        "--queue-ca".into(),
        ca.display().to_string(),
    ]);
    assert!(
        String::from_utf8_lossy(&trusted.stderr).contains("queue database has no channel acme"),
        "{trusted:?}"
    );
    let a = Instance::start_with(
        &pg,
        &dir.path().join("a"),
        &["--queue", &url, "--queue-ca", ca.to_str().unwrap()],
    )
    .await;
    let handler = Handler::start(Answer::ok("{\"over\":\"tls\"}")).await;
    let mut listener = listener_via(a.addr, &dir.path().join("listener"), &handler).await;
    listener.connected().await;
    let answer = post(a.addr, 1).await.unwrap();
    assert_eq!(answer.text(), "{\"over\":\"tls\"}");
    listener.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_posts_to_both_instances_are_each_queued_once() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let a = Instance::start(&pg, &dir.path().join("a")).await;
    let b = Instance::start(&pg, &dir.path().join("b")).await;
    let handler = Handler::start(Answer::ok("{}")).await;
    let mut opening = listener_via(a.addr, &dir.path().join("listener"), &handler).await;
    opening.connected().await;
    opening.stop().await;
    // Many at once: each instance commits them in batches.
    let posts = (0..60usize).map(|n| {
        let relay = if n.is_multiple_of(2) { a.addr } else { b.addr };
        tokio::spawn(async move { post(relay, n).await.unwrap().status })
    });
    for status in futures_util::future::join_all(posts).await {
        assert_eq!(status.unwrap(), 202);
    }
    let mut listener = listener_via(b.addr, &dir.path().join("listener"), &handler).await;
    assert_eq!(listener.connected().await, 60);
    let expected = event_paths(0..60);
    let seen = handler_sees_all(&handler, &expected).await;
    assert_eq!(seen.len(), 60, "each once: {seen:?}");
    listener.stop().await;
}
