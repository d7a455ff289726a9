//! The real binary: `relay token`, `relay` + `listen --relay` end to end, a listener process
//! killed (SIGKILL) mid-delivery, and a wrong token ending `listen` with a clear error.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use webhook_dev::relay::token::channel_token;
use webhook_dev::signature::Secret;
use webhook_dev::store::StoreReader;

use crate::support::common::{ndjson, send, Answer, Handler};
use crate::support::eventually::eventually;

const SECRET: &str = "cli-test-relay-secret-0123456789";
const BIN: &str = env!("CARGO_BIN_EXE_webhook-dev");

fn webhook_dev(store: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_remove("WEBHOOK_DEV_STORE")
        .env_remove("WEBHOOK_DEV_RELAY_SECRET")
        .env_remove("WEBHOOK_DEV_RELAY_TOKEN")
        .arg("--store")
        .arg(store)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

struct Running {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Running {
    fn spawn(mut cmd: Command) -> Running {
        let mut child = cmd.spawn().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Running { child, lines }
    }

    /// The next JSON line that `pick` accepts.
    async fn json(&mut self, pick: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        tokio::time::timeout(Duration::from_secs(15), async {
            loop {
                let line = self
                    .lines
                    .next_line()
                    .await
                    .unwrap()
                    .expect("the process prints until the expected line");
                let value: serde_json::Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
                if pick(&value) {
                    return value;
                }
            }
        })
        .await
        .expect("the line within 15 s")
    }

    async fn interrupt(mut self) -> std::process::Output {
        let pid = self.child.id().unwrap().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        let output = tokio::time::timeout(Duration::from_secs(20), async {
            let status = self.child.wait().await.unwrap();
            let mut stderr = String::new();
            if let Some(mut err) = self.child.stderr.take() {
                use tokio::io::AsyncReadExt;
                let _ = err.read_to_string(&mut stderr).await;
            }
            std::process::Output {
                status,
                stdout: Vec::new(),
                stderr: stderr.into_bytes(),
            }
        })
        .await
        .expect("stops within 20 s after Ctrl-C");
        output
    }
}

fn start_relay(store: &Path) -> Running {
    let mut cmd = webhook_dev(store);
    cmd.args([
        "relay",
        "--addr",
        "127.0.0.1:0",
        "--secret",
        SECRET,
        "--json",
    ]);
    Running::spawn(cmd)
}

fn start_listener(store: &Path, relay: &str, token: &str, forward: &str) -> Running {
    let mut cmd = webhook_dev(store);
    cmd.args([
        "listen",
        "--addr",
        "127.0.0.1:0",
        "--json",
        "--forward",
        forward,
        "--relay",
        &format!("ws://{relay}/acme"),
    ])
    .env("WEBHOOK_DEV_RELAY_TOKEN", token);
    Running::spawn(cmd)
}

fn is_state(state: &'static str) -> impl Fn(&serde_json::Value) -> bool {
    move |v| v["event"] == "relay" && v["state"] == state
}

#[tokio::test]
async fn relay_token_prints_the_channel_token() {
    let dir = tempfile::tempdir().unwrap();
    let output = webhook_dev(dir.path())
        .args(["relay", "token", "acme", "--secret", SECRET])
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let printed = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        printed.trim(),
        channel_token(&Secret::new(SECRET), "acme").expose()
    );
    let short = webhook_dev(dir.path())
        .args(["relay", "token", "acme", "--secret", "short"])
        .output()
        .await
        .unwrap();
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("too short"));
    let secret_file = dir.path().join("secret");
    std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
    let from_file = webhook_dev(dir.path())
        .args(["relay", "token", "acme", "--secret"])
        .arg(format!("file:{}", secret_file.display()))
        .output()
        .await
        .unwrap();
    assert_eq!(from_file.stdout, printed.as_bytes());
}

#[tokio::test]
async fn relay_and_listen_work_end_to_end_and_survive_a_killed_listener() {
    let handler = Handler::start(Answer {
        delay: Duration::from_millis(800),
        ..Answer::ok("{\"handled\":true}")
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let token = channel_token(&Secret::new(SECRET), "acme");
    let mut relay = start_relay(&dir.path().join("relay"));
    let listening = relay.json(|v| v["event"] == "listening").await;
    let relay_addr = listening["addr"].as_str().unwrap().to_string();
    let listener_store = dir.path().join("listener");
    let mut listener = start_listener(
        &listener_store,
        &relay_addr,
        token.expose(),
        &handler.addr.to_string(),
    );
    listener.json(is_state("connected")).await;
    relay.json(|v| v["event"] == "listener_connected").await;

    // A synchronous webhook gets the handler's answer.
    let addr = relay_addr.parse().unwrap();
    let answer = send(addr, "POST", "/acme/hooks/sync", &[], b"{\"n\":1}").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.body, b"{\"handled\":true}");
    let first = listener.json(|v| v["event"] == "request").await;
    assert_eq!(first["path"], "/hooks/sync");

    // Kill the listener (SIGKILL) while the handler is busy with the next request, once the
    // listener has stored it (the commit runs beside the forward).
    let provider =
        tokio::spawn(
            async move { send(addr, "POST", "/acme/hooks/killed", &[], b"{\"n\":2}").await },
        );
    let stored = StoreReader::open(&listener_store).unwrap();
    let busy = eventually(Duration::from_secs(5), || {
        handler.seen().len() == 2 && stored.count().unwrap() == 2
    })
    .await;
    assert!(busy, "the handler saw {} requests", handler.seen().len());
    listener.child.start_kill().unwrap();
    let _ = listener.child.wait().await;
    let answer = provider.await.unwrap();
    assert_eq!(answer.status, 202, "kept for later: {}", answer.text());
    let id = serde_json::from_slice::<serde_json::Value>(&answer.body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // A request arrives while nobody listens.
    let away = send(addr, "POST", "/acme/hooks/away", &[], b"{\"n\":3}").await;
    assert_eq!(away.status, 202);

    // The listener comes back on the same store: the killed request is not stored twice,
    // the one sent while away is delivered.
    let mut listener = start_listener(
        &listener_store,
        &relay_addr,
        token.expose(),
        &handler.addr.to_string(),
    );
    let connected = listener.json(is_state("connected")).await;
    assert_eq!(connected["queued"], 2, "{connected}");
    let delivered = listener.json(|v| v["event"] == "request").await;
    assert_eq!(delivered["path"], "/hooks/away");
    listener.interrupt().await;

    let list = std::process::Command::new(BIN)
        .arg("--store")
        .arg(&listener_store)
        .args(["requests", "list", "--json"])
        .output()
        .unwrap();
    let stored: Vec<serde_json::Value> = ndjson(&list.stdout);
    let paths: Vec<&str> = stored.iter().map(|v| v["path"].as_str().unwrap()).collect();
    assert_eq!(paths, vec!["/hooks/sync", "/hooks/killed", "/hooks/away"]);
    assert_eq!(stored[1]["id"], id.as_str(), "the relay's id is kept");
    let handled: Vec<String> = handler.seen().into_iter().map(|s| s.uri).collect();
    assert_eq!(
        handled,
        vec!["/hooks/sync", "/hooks/killed", "/hooks/away"],
        "nothing forwarded twice"
    );
    let output = relay.interrupt().await;
    assert!(output.status.success(), "{output:?}");
}

#[tokio::test]
async fn listen_with_a_wrong_token_exits_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut relay = start_relay(&dir.path().join("relay"));
    let listening = relay.json(|v| v["event"] == "listening").await;
    let relay_addr = listening["addr"].as_str().unwrap().to_string();
    let mut listener = start_listener(&dir.path().join("listener"), &relay_addr, "0123", "3000");
    let refused = listener.json(is_state("refused")).await;
    assert!(
        refused["reason"]
            .as_str()
            .unwrap()
            .contains("wrong token for channel acme"),
        "{refused}"
    );
    let status = tokio::time::timeout(Duration::from_secs(10), listener.child.wait())
        .await
        .expect("listen exits by itself")
        .unwrap();
    assert!(!status.success());
    let mut stderr = String::new();
    use tokio::io::AsyncReadExt;
    listener
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    assert!(stderr.contains("refused this listener"), "{stderr}");
    assert!(!stderr.contains(SECRET));
    relay.interrupt().await;
}

#[tokio::test]
async fn a_displaced_listen_says_when_and_by_whom_and_no_takeover_holds_the_channel() {
    let handler = Handler::start(Answer::ok("{}")).await;
    let dir = tempfile::tempdir().unwrap();
    let token = channel_token(&Secret::new(SECRET), "acme");
    let mut relay = start_relay(&dir.path().join("relay"));
    let listening = relay.json(|v| v["event"] == "listening").await;
    let relay_addr = listening["addr"].as_str().unwrap().to_string();
    let forward = handler.addr.to_string();

    let mut first = start_listener(&dir.path().join("a"), &relay_addr, token.expose(), &forward);
    first.json(is_state("connected")).await;
    let mut second = start_listener(&dir.path().join("b"), &relay_addr, token.expose(), &forward);
    second.json(is_state("connected")).await;
    let displaced = first.json(is_state("taken_over")).await;
    assert!(
        displaced["at"].as_str().unwrap().ends_with('Z'),
        "{displaced}"
    );
    let by = displaced["by"].as_str().unwrap();
    assert!(by.starts_with("127.0.0.1:"), "{displaced}");
    assert!(
        displaced["reason"].as_str().unwrap().contains(by),
        "{displaced}"
    );
    let taken = relay.json(|v| v["event"] == "listener_taken_over").await;
    assert_eq!(taken["by"], by);
    let status = tokio::time::timeout(Duration::from_secs(10), first.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(!status.success());
    second.interrupt().await;

    // With --no-takeover the first keeps the channel and the newcomer is told why.
    let mut cmd = webhook_dev(&dir.path().join("c"));
    cmd.args([
        "listen",
        "--addr",
        "127.0.0.1:0",
        "--json",
        "--forward",
        &forward,
    ])
    .args([
        "--relay",
        &format!("ws://{relay_addr}/acme"),
        "--no-takeover",
    ])
    .env("WEBHOOK_DEV_RELAY_TOKEN", token.expose());
    let mut holder = Running::spawn(cmd);
    holder.json(is_state("connected")).await;
    let mut newcomer = start_listener(&dir.path().join("d"), &relay_addr, token.expose(), &forward);
    let refused = newcomer.json(is_state("refused")).await;
    assert!(
        refused["reason"]
            .as_str()
            .unwrap()
            .contains("refuses to be displaced (--no-takeover)"),
        "{refused}"
    );
    let status = tokio::time::timeout(Duration::from_secs(10), newcomer.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(!status.success());
    holder.interrupt().await;
    relay.interrupt().await;
}
