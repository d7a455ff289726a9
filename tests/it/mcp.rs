//! `webhook-dev mcp`: a JSON-RPC client over the real binary's stdio — initialize, tools/list,
//! and every tool against a store with captured requests.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};

use serde_json::{json, Value};

use crate::support::common::*;

struct Client {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: u64,
}

impl Client {
    fn start(store: &std::path::Path) -> Client {
        let mut child = cli(store)
            .arg("mcp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Client {
            child,
            stdin,
            stdout,
            next_id: 1,
        }
    }

    fn send(&mut self, message: Value) {
        writeln!(self.stdin, "{message}").unwrap();
        self.stdin.flush().unwrap();
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let answer: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(answer["id"], id, "{answer}");
        answer
    }

    /// The text of a tool's result, and whether it is an error.
    fn tool(&mut self, name: &str, arguments: Value) -> (String, bool) {
        let answer = self.request("tools/call", json!({"name": name, "arguments": arguments}));
        let result = &answer["result"];
        (
            result["content"][0]["text"].as_str().unwrap().to_owned(),
            result["isError"].as_bool().unwrap(),
        )
    }
}

fn fixture(body: &str, extra: &[(&str, &str)]) -> Value {
    let mut headers = vec![json!(["content-type", "application/json"])];
    headers.extend(extra.iter().map(|(n, v)| json!([n, v])));
    json!({
        "webhook_dev_fixture": 1,
        "method": "POST",
        "path": "/hooks/avala",
        "headers": headers,
        "body": {"encoding": "utf8", "data": body},
        "profile": "avala"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_reads_verifies_replays_and_triggers_through_mcp() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let file = dir.path().join("fixtures.json");
    let fixtures = json!([
        fixture(
            r#"{"type":"task.completed","data":{"uid":"t_1"}}"#,
            &[
                ("authorization", "Bearer sk_live_secret"),
                ("x-avala-signature", "00")
            ]
        ),
        fixture(
            "{\"type\":\"task.completed\",\"data\":{\"uid\":\"t_2\",\"note\":\"\\u001b]0;pwned\\u0007\"}}",
            &[]
        ),
    ]);
    let mut fixtures = fixtures;
    fixtures[1]["path"] = json!("/hooks/avala?api_token=tok_live_123&page=2");
    std::fs::write(&file, fixtures.to_string()).unwrap();
    assert!(cli(&store)
        .arg("import")
        .arg(&file)
        .status()
        .unwrap()
        .success());
    let handler = Handler::start(Answer::ok("{}")).await;

    let mut client = Client::start(&store);
    let init = client.request(
        "initialize",
        json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}}),
    );
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18");
    assert!(init["result"]["capabilities"]["tools"].is_object());
    client.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    let tools = client.request("tools/list", json!({}));
    let names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for expected in [
        "list_requests",
        "show_request",
        "diff_requests",
        "verify_request",
        "replay_request",
        "trigger_event",
        "list_deliveries",
        "list_profiles",
    ] {
        assert!(names.contains(&expected), "{names:?}");
    }

    let (listed, error) = client.tool("list_requests", json!({"limit": 5}));
    assert!(!error, "{listed}");
    let ids: Vec<String> = listed
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 2, "{listed}");

    let (shown, error) = client.tool("show_request", json!({"id": ids[0]}));
    assert!(!error, "{shown}");
    assert!(
        shown.contains("<redacted>") && !shown.contains("sk_live_secret"),
        "{shown}"
    );
    assert!(shown.contains("t_1"), "{shown}");

    let (diff, error) = client.tool("diff_requests", json!({"old": ids[0], "new": ids[1]}));
    assert!(!error, "{diff}");
    assert!(diff.contains("uid"), "{diff}");

    let (shown_second, error) = client.tool("show_request", json!({"id": ids[1]}));
    assert!(!error, "{shown_second}");
    for text in [&listed, &shown_second, &diff] {
        assert!(
            !text.contains("tok_live_123") && text.contains("api_token=REDACTED&page=2"),
            "a credential query parameter is redacted as exports redact it: {text}"
        );
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "inert: {text:?}"
        );
    }

    let (verdict, error) = client.tool("verify_request", json!({"id": ids[0], "secret": "s"}));
    assert!(error, "a wrong signature fails verification: {verdict}");
    assert!(verdict.contains("\"invalid\""), "{verdict}");

    let (replayed, error) = client.tool(
        "replay_request",
        json!({"id": ids[1], "to": handler.addr.to_string()}),
    );
    assert!(!error, "{replayed}");
    assert_eq!(handler.seen().len(), 1);

    let (resigned, error) = client.tool(
        "replay_request",
        json!({"id": ids[1], "to": handler.addr.to_string(), "resign": true, "profile": "avala", "secret": "s"}),
    );
    assert!(!error, "{resigned}");
    let sent = &handler.seen()[1];
    let signature = sent.header_values("x-avala-signature");
    assert_eq!(signature.len(), 1, "a re-signed replay carries a signature");
    assert_eq!(
        signature[0],
        hmac_sha256_hex(b"s", &sent.body),
        "signed with the given secret over the body sent"
    );

    let (triggered, error) = client.tool(
        "trigger_event",
        json!({"profile": "avala", "event": "task.completed", "to": handler.addr.to_string(), "secret": "s", "set": ["data.note=\"from mcp\""]}),
    );
    assert!(!error, "{triggered}");
    assert!(triggered.contains("\"status\":\"success\""), "{triggered}");
    assert!(handler.seen()[2].header_values("x-avala-signature").len() == 1);

    let (deliveries, error) = client.tool("list_deliveries", json!({}));
    assert!(!error && deliveries.lines().count() >= 2, "{deliveries}");
    let (profiles, error) = client.tool("list_profiles", json!({"name": "avala"}));
    assert!(
        !error && profiles.contains("x-avala-signature"),
        "{profiles}"
    );
    let (missing, error) = client.tool("show_request", json!({"id": "req_nope"}));
    assert!(error && missing.contains("no request"), "{missing}");

    drop(client.stdin);
    assert!(
        client.child.wait().unwrap().success(),
        "stdin closed: the server ends"
    );
}

fn hmac_sha256_hex(secret: &[u8], body: &[u8]) -> String {
    use hmac::{Mac, SimpleHmac};
    let mut mac = SimpleHmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}
