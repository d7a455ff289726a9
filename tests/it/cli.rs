//! The real binary: `listen --json` end to end, Ctrl-C, and reading the store from a second process.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use assert_cmd::cargo::CommandCargoExt;

use crate::support::common::{cli, listen_json};

fn post(addr: &str, path: &str, body: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn listen_json_captures_then_ctrl_c_flushes_and_a_second_process_reads_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mut child = cli(&store)
        .args(["listen", "--addr", "127.0.0.1:0", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let listening: serde_json::Value =
        serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(listening["event"], "listening");
    let addr = listening["addr"].as_str().unwrap().to_string();
    assert!(addr.starts_with("127.0.0.1:"));

    let answer = post(
        &addr,
        "/hooks/stripe?live=0",
        br#"{"type":"payment_intent.succeeded"}"#,
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let request: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(request["event"], "request");
    assert_eq!(request["method"], "POST");
    assert_eq!(request["path"], "/hooks/stripe?live=0");
    assert_eq!(request["size"], 35);
    assert_eq!(request["signature"]["status"], "unchecked");
    assert!(request["forward"].is_null());
    let id = request["id"].as_str().unwrap().to_string();

    // While listen still runs, a second process reads the store.
    let listed = cli(&store)
        .args(["requests", "list", "--json"])
        .output()
        .unwrap();
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(summary["id"], id.as_str());
    let keys: Vec<&str> = summary
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "received_at",
            "method",
            "path",
            "size",
            "event_type",
            "signature",
            "forward"
        ]
    );

    post(&addr, "/second", b"{}");
    lines.next().unwrap().unwrap();

    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "listen exits cleanly on Ctrl-C: {exit:?}");

    let newest = cli(&store)
        .args(["requests", "list", "--json", "--limit", "1"])
        .output()
        .unwrap();
    let newest: serde_json::Value = serde_json::from_slice(&newest.stdout).unwrap();
    assert_eq!(newest["path"], "/second");

    let show = cli(&store)
        .args(["requests", "show", &id, "--json"])
        .output()
        .unwrap();
    assert!(show.status.success());
    let detail: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(
        detail["body"],
        serde_json::json!({"encoding": "utf8", "data": "{\"type\":\"payment_intent.succeeded\"}"})
    );
    assert!(detail["headers"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!(["content-type", "application/json"])));
    assert_eq!(detail["response"]["status"], 200);

    let human = cli(&store)
        .args(["requests", "show", &id[..id.len() - 4]])
        .output()
        .unwrap();
    let human = String::from_utf8(human.stdout).unwrap();
    assert!(
        human.contains("POST /hooks/stripe?live=0") && human.contains("payment_intent.succeeded"),
        "{human}"
    );
}

#[test]
fn no_tui_prints_one_readable_line_per_request() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = cli(&dir.path().join("s"))
        .args([
            "listen",
            "--addr",
            "127.0.0.1:0",
            "--no-tui",
            "--forward",
            "1",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let banner = lines.next().unwrap().unwrap();
    assert!(
        banner.contains("forwarding to http://localhost:1"),
        "{banner}"
    );
    let addr = banner
        .split("http://")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_string();
    let answer = post(&addr, "/dead", b"{}");
    assert!(answer.starts_with("HTTP/1.1 502"), "{answer}");
    let line = lines.next().unwrap().unwrap();
    for part in [
        "POST",
        "/dead",
        "2 B",
        "unchecked",
        "→ 502",
        "ms",
        "could not forward",
    ] {
        assert!(line.contains(part), "{part} missing from {line}");
    }
    assert!(
        !line.contains('\u{1b}'),
        "no colour when stdout is not a terminal"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn reading_a_store_that_does_not_exist_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = cli(&dir.path().join("nowhere"))
        .args(["requests", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no store at") && err.contains("nothing has been captured"),
        "{err}"
    );
}

#[test]
fn an_unknown_request_id_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    webhook_dev::store::Store::open(&store, webhook_dev::store::Durability::Process)
        .unwrap()
        .close();
    let out = cli(&store)
        .args(["requests", "show", "req_nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no request \"req_nope\""));
}

#[test]
fn a_bad_forward_target_is_explained() {
    let out = Command::cargo_bin("webhook-dev")
        .unwrap()
        .args(["listen", "--forward", "ftp://x:1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the scheme must be http"));
}

#[test]
fn a_busy_port_is_explained() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = cli(&dir.path().join("s"))
        .args(["listen", "--addr", &addr, "--no-tui"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("cannot listen on {addr}")));
}

#[test]
fn json_with_no_tui_is_accepted_and_an_unknown_event_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr, mut lines) =
        listen_json(&dir.path().join("s"), &["--no-tui", "--profile", "avara"]);
    let answer = post(
        &addr,
        "/avara",
        br#"{"id":"whe_1","type":"study.deleted","data":{}}"#,
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let request: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(request["event_type"], "study.deleted");
    let problem = request["schema"]["problems"][0]
        .as_str()
        .unwrap_or_default();
    assert!(
        problem.starts_with("avara has no event `study.deleted` (known: report.delivered, "),
        "{request}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn completions_man_page_and_version_describe_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef webhook-dev"),
        ("fish", "complete -c webhook-dev"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = cli(dir.path())
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.contains(marker), "{shell}: {script:.200}");
        assert!(
            script.contains("trigger") && script.contains("--resign"),
            "{shell}"
        );
    }
    let man = cli(dir.path()).arg("man").output().unwrap();
    assert!(man.status.success());
    let page = String::from_utf8(man.stdout).unwrap();
    assert!(
        page.contains(".TH webhook-dev 1") && page.contains("listen"),
        "{page:.300}"
    );
    let version = cli(dir.path()).arg("--version").output().unwrap();
    let text = String::from_utf8(version.stdout).unwrap();
    assert!(
        text.starts_with(&format!(
            "webhook-dev {}\nstore schema ",
            env!("CARGO_PKG_VERSION")
        )) && text.contains("relay queue schema "),
        "{text}"
    );
}
