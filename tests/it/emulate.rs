//! `webhook-dev emulate` over the real binary: Infermedica's configuration API as its document
//! describes it, bad requests to every endpoint refused with a clear error and nothing stored,
//! retries and disabling on a short schedule, and pending retries resumed after a restart.

use std::convert::Infallible;
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::support::common::{cli, listen_json, ndjson, send, RawResponse};
use crate::support::eventually::{eventually, eventually_async};

/// A running `emulate --json` and the lines it has printed so far.
struct Emulator {
    child: std::process::Child,
    addr: SocketAddr,
    base_url: String,
    lines: Arc<Mutex<Vec<Value>>>,
}

impl Emulator {
    fn start(store: &Path, provider: &str, args: &[&str]) -> Emulator {
        let mut child = cli(store)
            .args(["emulate", provider, "--addr", "127.0.0.1:0", "--json"])
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let first: Value = serde_json::from_str(&out.next().unwrap().unwrap()).unwrap();
        assert_eq!(first["event"], "emulating", "{first}");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let kept = lines.clone();
        std::thread::spawn(move || {
            for line in out.map_while(Result::ok) {
                kept.lock()
                    .unwrap()
                    .push(serde_json::from_str(&line).unwrap());
            }
        });
        Emulator {
            child,
            addr: first["addr"].as_str().unwrap().parse().unwrap(),
            base_url: first["base_url"].as_str().unwrap().to_string(),
            lines,
        }
    }

    fn lines(&self, event: &str) -> Vec<Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l["event"] == event)
            .cloned()
            .collect()
    }

    /// Waits (at most 15 s) until `count` lines of `event` have been printed.
    async fn wait_lines(&self, event: &str, count: usize) -> Vec<Value> {
        let printed =
            eventually(Duration::from_secs(15), || self.lines(event).len() >= count).await;
        assert!(
            printed,
            "no {count} {event:?} lines: {:?}",
            self.lines.lock().unwrap()
        );
        self.lines(event)
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &[u8])],
        body: &str,
    ) -> RawResponse {
        send(self.addr, method, path, headers, body.as_bytes()).await
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn json_of(answer: &RawResponse) -> Value {
    serde_json::from_slice(&answer.body)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", answer.text()))
}

/// A request as the handler received it: headers and body.
type Received = (Vec<(String, String)>, Bytes);

/// A handler whose status can be changed while it runs; it records every request.
struct Handler {
    url: String,
    status: Arc<AtomicU16>,
    seen: Arc<Mutex<Vec<Received>>>,
}

impl Handler {
    async fn start(status: u16, delay: Duration) -> Handler {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let status = Arc::new(AtomicU16::new(status));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (answer_with, record) = (status.clone(), seen.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (answer_with, record) = (answer_with.clone(), record.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let (answer_with, record) = (answer_with.clone(), record.clone());
                        async move {
                            let headers = req
                                .headers()
                                .iter()
                                .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
                                .collect();
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            record.lock().unwrap().push((headers, body));
                            tokio::time::sleep(delay).await;
                            let mut response =
                                hyper::Response::new(Full::new(Bytes::from("answer")));
                            *response.status_mut() =
                                hyper::StatusCode::from_u16(answer_with.load(Ordering::SeqCst))
                                    .unwrap();
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Handler { url, status, seen }
    }

    fn seen(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }

    fn header(&self, index: usize, name: &str) -> Option<String> {
        self.seen()[index]
            .0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }
}

fn trigger_through(store: &Path, profile: &str, event: &str, emulator: &Emulator) -> Vec<Value> {
    let out = cli(store)
        .args([
            "trigger",
            profile,
            event,
            "--emulator",
            &format!("http://{}", emulator.addr),
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ndjson(&out.stdout)
}

const BEARER: (&str, &[u8]) = ("authorization", b"Bearer test-credentials");
const JSON: (&str, &[u8]) = ("content-type", b"application/json");
const API_KEY: (&str, &[u8]) = ("x-avala-api-key", b"test-key");

#[tokio::test(flavor = "multi_thread")]
async fn infermedica_configurations_follow_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(dir.path(), "infermedica", &[]);
    let handler = Handler::start(200, Duration::ZERO).await;
    let path = "/api/v2/config/webhook";
    assert!(emu.base_url.starts_with("http://127.0.0.1:"));

    let registered = json!({
        "url": handler.url,
        "authorization_token": "zGORr7q1I4egIr0c0eKXD7CMpIcjFooJ",
        "subscribed_events": ["survey_finished"],
    });
    let unauthenticated = emu
        .call("POST", path, &[JSON], &registered.to_string())
        .await;
    assert_eq!(unauthenticated.status, 401, "{}", unauthenticated.text());
    assert!(unauthenticated.text().contains("Bearer"));

    let created = emu
        .call("POST", path, &[BEARER, JSON], &registered.to_string())
        .await;
    assert_eq!(created.status, 200, "{}", created.text());
    let created = json_of(&created);
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let mut expected = registered.clone();
    expected["id"] = json!(id);
    assert_eq!(created, expected);

    let without_token =
        json!({"id": id, "url": handler.url, "subscribed_events": ["survey_finished"]});
    let listed = emu.call("GET", path, &[BEARER], "").await;
    assert_eq!(json_of(&listed), json!([without_token]));
    let one = emu
        .call("GET", &format!("{path}/{id}"), &[BEARER], "")
        .await;
    assert_eq!(json_of(&one), without_token);

    let moved = Handler::start(200, Duration::ZERO).await;
    let patched = emu
        .call(
            "PATCH",
            &format!("{path}/{id}"),
            &[BEARER, JSON],
            &json!({"url": moved.url}).to_string(),
        )
        .await;
    assert_eq!(
        json_of(&patched),
        json!({"id": id, "url": moved.url, "subscribed_events": ["survey_finished"]})
    );
    let new_token = emu
        .call(
            "PATCH",
            &format!("{path}/{id}"),
            &[BEARER, JSON],
            &json!({"authorization_token": "n3w-t0ken"}).to_string(),
        )
        .await;
    assert_eq!(
        json_of(&new_token),
        json!({"id": id, "url": moved.url, "subscribed_events": ["survey_finished"], "authorization_token": "n3w-t0ken"})
    );

    let fired = trigger_through(dir.path(), "infermedica", "survey_finished", &emu);
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0]["status"], "success");
    assert!(handler.seen().is_empty());
    let seen = moved.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        moved.header(0, "x-webhook-infermedica-token").as_deref(),
        Some("n3w-t0ken")
    );
    let envelope: Value = serde_json::from_slice(&seen[0].1).unwrap();
    assert_eq!(envelope["event_type"], "survey_finished");
    assert!(envelope["content"].is_object());

    let deleted = emu
        .call("DELETE", &format!("{path}/{id}"), &[BEARER], "")
        .await;
    assert_eq!(deleted.status, 200);
    assert_eq!(
        json_of(&deleted),
        json!({"id": id, "url": moved.url, "subscribed_events": ["survey_finished"]})
    );
    let gone = emu
        .call("GET", &format!("{path}/{id}"), &[BEARER], "")
        .await;
    assert_eq!(gone.status, 404, "{}", gone.text());
    assert_eq!(
        json_of(&emu.call("GET", path, &[BEARER], "").await),
        json!([])
    );
    assert!(trigger_through(dir.path(), "infermedica", "survey_finished", &emu).is_empty());

    let calls = emu.lines("api");
    assert!(
        calls
            .iter()
            .any(|c| c["method"] == "DELETE" && c["status"] == 200),
        "{calls:?}"
    );
    assert!(
        !format!("{calls:?}").contains("n3w-t0ken"),
        "tokens never printed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn infermedica_refuses_bad_requests_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(dir.path(), "infermedica", &[]);
    let path = "/api/v2/config/webhook";
    let good = json!({"url": "http://127.0.0.1:9/hook", "authorization_token": "t", "subscribed_events": ["survey_finished"]});
    let kept = json_of(
        &emu.call("POST", path, &[BEARER, JSON], &good.to_string())
            .await,
    );
    let one = format!("{path}/{}", kept["id"].as_str().unwrap());
    let bad: &[(&str, &str, String, &str)] = &[
        ("POST", path, "{not json".into(), "not valid JSON"),
        ("POST", path, "[]".into(), "JSON object"),
        ("POST", path, json!({"url": "http://127.0.0.1:9/x", "authorization_token": "t"}).to_string(), "subscribed_events"),
        ("POST", path, json!({"url": "nowhere", "authorization_token": "t", "subscribed_events": ["survey_finished"]}).to_string(), "http://"),
        ("POST", path, json!({"url": "http://127.0.0.1:9/x", "authorization_token": "", "subscribed_events": ["survey_finished"]}).to_string(), "authorization_token"),
        ("POST", path, json!({"url": "http://127.0.0.1:9/x", "authorization_token": "t", "subscribed_events": ["survey_created"]}).to_string(), "survey_finished"),
        ("PATCH", &one, json!({"url": "http://127.0.0.1:9/moved", "subscribed_events": ["nope"]}).to_string(), "nope"),
        ("PATCH", &one, "{".into(), "not valid JSON"),
    ];
    for (method, path, body, says) in bad {
        let answer = emu.call(method, path, &[BEARER, JSON], body).await;
        assert_eq!(
            answer.status,
            422,
            "{method} {path} {body}: {}",
            answer.text()
        );
        assert!(
            answer.text().contains(says),
            "{method} {body}: {}",
            answer.text()
        );
    }
    let elsewhere: &[(&str, &str, u16)] = &[
        ("GET", "/api/v2/config/webhook/no-such-id", 404),
        ("PATCH", "/api/v2/config/webhook/no-such-id", 404),
        ("DELETE", "/api/v2/config/webhook/no-such-id", 404),
        ("PUT", &one, 405),
        ("GET", "/api/v2/somewhere-else", 404),
    ];
    for (method, path, status) in elsewhere {
        let answer = emu.call(method, path, &[BEARER, JSON], "{}").await;
        assert_eq!(answer.status, *status, "{method} {path}: {}", answer.text());
        assert!(json_of(&answer)["detail"].is_string());
    }
    for (method, path) in [
        ("GET", path),
        ("GET", &one),
        ("PATCH", &one),
        ("DELETE", &one),
    ] {
        let answer = emu.call(method, path, &[JSON], "{}").await;
        assert_eq!(answer.status, 401, "{method} {path}");
    }
    let listed = json_of(&emu.call("GET", path, &[BEARER], "").await);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(
        listed[0]["url"], "http://127.0.0.1:9/hook",
        "the refused PATCH changed nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn avala_refuses_bad_requests_to_every_endpoint_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(dir.path(), "avala", &[]);
    let good = json!({"target_url": "http://127.0.0.1:9/hook", "events": ["task.completed"]});
    let created = emu
        .call(
            "POST",
            "/api/v1/webhooks/",
            &[API_KEY, JSON],
            &good.to_string(),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let kept = json_of(&created);
    let uid = kept["uid"].as_str().unwrap();
    let one = format!("/api/v1/webhooks/{uid}/");
    let cases: Vec<(&str, String, String, u16, &str)> = vec![
        ("POST", "/api/v1/webhooks/".into(), "{oops".into(), 400, "JSON parse error"),
        ("POST", "/api/v1/webhooks/".into(), "[1]".into(), 400, "Expected a dictionary"),
        ("POST", "/api/v1/webhooks/".into(), "{}".into(), 400, "This field is required"),
        ("POST", "/api/v1/webhooks/".into(), json!({"target_url": "http://127.0.0.1:9/x", "events": ["task.exploded"]}).to_string(), 400, "task.exploded"),
        ("POST", "/api/v1/webhooks/".into(), json!({"target_url": 7, "events": ["task.completed"]}).to_string(), 400, "target_url"),
        ("POST", "/api/v1/webhooks/".into(), json!({"target_url": "http://127.0.0.1:9/x", "events": "task.completed"}).to_string(), 400, "Expected a list"),
        ("POST", "/api/v1/webhooks/".into(), json!({"target_url": "http://127.0.0.1:9/x", "events": ["task.completed"], "is_active": "yes"}).to_string(), 400, "is_active"),
        ("POST", "/api/v1/webhooks/".into(), json!({"target_url": "http://127.0.0.1:9/x", "events": ["task.completed"], "secret": ""}).to_string(), 400, "secret"),
        ("GET", "/api/v1/webhooks/?limit=0".into(), String::new(), 400, "limit"),
        ("GET", "/api/v1/webhooks/?limit=ten".into(), String::new(), 400, "limit"),
        ("GET", "/api/v1/webhooks/?cursor=bogus".into(), String::new(), 404, "Invalid cursor"),
        ("GET", "/api/v1/webhooks/wh_missing/".into(), String::new(), 404, "wh_missing"),
        ("PATCH", one.clone(), json!({"target_url": "http://127.0.0.1:9/moved", "events": ["nope"]}).to_string(), 400, "nope"),
        ("PATCH", one.clone(), "{".into(), 400, "JSON parse error"),
        ("PATCH", "/api/v1/webhooks/wh_missing/".into(), "{}".into(), 404, "wh_missing"),
        ("DELETE", "/api/v1/webhooks/wh_missing/".into(), String::new(), 404, "wh_missing"),
        ("POST", "/api/v1/webhooks/wh_missing/test/".into(), String::new(), 404, "wh_missing"),
        ("GET", "/api/v1/webhook-deliveries/?limit=-1".into(), String::new(), 400, "limit"),
        ("GET", "/api/v1/webhook-deliveries/?cursor=bogus".into(), String::new(), 404, "Invalid cursor"),
        ("GET", "/api/v1/webhook-deliveries/whd_missing/".into(), String::new(), 404, "whd_missing"),
        ("PUT", one.clone(), "{}".into(), 405, "PUT"),
        ("DELETE", "/api/v1/webhooks/".into(), String::new(), 405, "DELETE"),
        ("GET", "/api/v1/projects/".into(), String::new(), 404, "/api/v1/webhooks/"),
    ];
    for (method, path, body, status, says) in &cases {
        let answer = emu.call(method, path, &[API_KEY, JSON], body).await;
        assert_eq!(
            answer.status,
            *status,
            "{method} {path} {body}: {}",
            answer.text()
        );
        let detail = json_of(&answer)["detail"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            detail.contains(says),
            "{method} {path} {body}: {}",
            answer.text()
        );
    }
    for (method, path) in [
        ("GET", "/api/v1/webhooks/"),
        ("POST", "/api/v1/webhooks/"),
        ("GET", one.as_str()),
        ("PATCH", one.as_str()),
        ("DELETE", one.as_str()),
        ("POST", &format!("/api/v1/webhooks/{uid}/test/")),
        ("GET", "/api/v1/webhook-deliveries/"),
    ] {
        let answer = emu
            .call(method, path, &[JSON, ("x-avala-api-key", b"")], "{}")
            .await;
        assert_eq!(answer.status, 401, "{method} {path}: {}", answer.text());
    }
    let listed = json_of(&emu.call("GET", "/api/v1/webhooks/", &[API_KEY], "").await);
    assert_eq!(listed["results"], json!([kept]), "nothing stored half-way");
    let deliveries = json_of(
        &emu.call("GET", "/api/v1/webhook-deliveries/", &[API_KEY], "")
            .await,
    );
    assert_eq!(
        deliveries,
        json!({"next": null, "previous": null, "results": []})
    );
}

async fn avala_webhook(emu: &Emulator, target: &str, event: &str) -> Value {
    let body = json!({"target_url": target, "events": [event], "secret": "s3cret"});
    let created = emu
        .call(
            "POST",
            "/api/v1/webhooks/",
            &[API_KEY, JSON],
            &body.to_string(),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    json_of(&created)
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_deliveries_are_retried_on_the_schedule_then_the_webhook_is_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(dir.path(), "avala", &["--retry-schedule", "0.2s,0.2s"]);
    let handler = Handler::start(500, Duration::ZERO).await;
    let webhook = avala_webhook(&emu, &handler.url, "task.completed").await;
    let fired = trigger_through(dir.path(), "avala", "task.completed", &emu);
    assert_eq!(fired[0]["status"], "pending", "{fired:?}");

    let disabled = emu.wait_lines("disabled", 1).await;
    assert_eq!(disabled[0]["subscription"], webhook["uid"]);
    let attempts = emu.lines("attempt");
    let numbers: Vec<u64> = attempts
        .iter()
        .map(|a| a["attempt"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 2, 3]);
    assert_eq!(attempts[0]["status"], "pending");
    assert_eq!(attempts[2]["status"], "failed");
    assert!(attempts.iter().all(|a| a["response_status"] == 500));

    let seen = handler.seen();
    assert_eq!(seen.len(), 3);
    assert!(
        seen.windows(2).all(|w| w[0].1 == w[1].1),
        "every attempt sends the same body"
    );
    let expected = {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(&seen[0].1);
        hex::encode(mac.finalize().into_bytes())
    };
    assert_eq!(handler.header(2, "x-avala-signature"), Some(expected));

    let uid = webhook["uid"].as_str().unwrap();
    let after = json_of(
        &emu.call("GET", &format!("/api/v1/webhooks/{uid}/"), &[API_KEY], "")
            .await,
    );
    assert_eq!(after["is_active"], false);
    let delivery = json_of(
        &emu.call(
            "GET",
            &format!(
                "/api/v1/webhook-deliveries/{}/",
                fired[0]["id"].as_str().unwrap()
            ),
            &[API_KEY],
            "",
        )
        .await,
    );
    assert_eq!(delivery["status"], "failed");
    assert_eq!(delivery["attempts"], 3);
    assert_eq!(delivery["next_retry_at"], Value::Null);
    let log = delivery["attempt_log"].as_array().unwrap();
    assert_eq!(log.len(), 3, "every attempt recorded: {delivery}");
    for (n, attempt) in log.iter().enumerate() {
        assert_eq!(attempt["attempt"], n as u64 + 1);
        assert_eq!(attempt["response_status"], 500);
        assert!(attempt["request_id"].as_str().unwrap().starts_with("req_"));
    }

    let logged = cli(dir.path())
        .args(["deliveries", "list", "--json"])
        .output()
        .unwrap();
    let logged = ndjson(&logged.stdout);
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(logged[0]["status"], "failed");
    assert_eq!(logged[0]["attempt_count"], 3);
    let requests = cli(dir.path())
        .args(["requests", "list", "--json"])
        .output()
        .unwrap();
    let requests = ndjson(&requests.stdout);
    assert_eq!(requests.len(), 3, "each attempt is stored");
    assert!(
        requests
            .iter()
            .all(|r| r["signature"]["status"] == "verified"),
        "{requests:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_handler_too_slow_to_answer_is_a_failed_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(
        dir.path(),
        "avala",
        &["--retry-schedule", "0.2s", "--timeout", "0.3"],
    );
    let handler = Handler::start(200, Duration::from_secs(3)).await;
    avala_webhook(&emu, &handler.url, "export.failed").await;
    let fired = trigger_through(dir.path(), "avala", "export.failed", &emu);
    assert_eq!(fired[0]["status"], "pending", "{fired:?}");
    assert_eq!(fired[0]["response_status"], Value::Null);
    assert!(
        fired[0]["error_message"]
            .as_str()
            .unwrap()
            .contains("never answered"),
        "{fired:?}"
    );
    let attempts = emu.wait_lines("attempt", 2).await;
    assert_eq!(attempts[1]["status"], "failed");
}

#[tokio::test(flavor = "multi_thread")]
async fn pending_retries_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let schedule = ["--retry-schedule", "2s,2s"];
    let emu = Emulator::start(dir.path(), "avala", &schedule);
    let handler = Handler::start(503, Duration::ZERO).await;
    let webhook = avala_webhook(&emu, &handler.url, "task.created").await;
    let fired = trigger_through(dir.path(), "avala", "task.created", &emu);
    assert_eq!(fired[0]["status"], "pending", "{fired:?}");
    emu.kill();

    handler.status.store(200, Ordering::SeqCst);
    let again = Emulator::start(dir.path(), "avala", &schedule);
    let resumed = again.wait_lines("resumed", 1).await;
    assert_eq!(resumed[0]["pending"], 1);
    let attempts = again.wait_lines("attempt", 1).await;
    assert_eq!(attempts[0]["attempt"], 2);
    assert_eq!(attempts[0]["status"], "success");
    assert_eq!(attempts[0]["delivery"], fired[0]["id"]);
    assert_eq!(handler.seen().len(), 2);

    let uid = fired[0]["id"].as_str().unwrap();
    let delivery = json_of(
        &again
            .call(
                "GET",
                &format!("/api/v1/webhook-deliveries/{uid}/"),
                &[API_KEY],
                "",
            )
            .await,
    );
    assert_eq!(delivery["status"], "success");
    assert_eq!(delivery["attempts"], 2);
    assert_eq!(delivery["response_status"], 200);
    let hook = webhook["uid"].as_str().unwrap();
    let still = json_of(
        &again
            .call("GET", &format!("/api/v1/webhooks/{hook}/"), &[API_KEY], "")
            .await,
    );
    assert_eq!(still["is_active"], true);
    assert_eq!(still["secret"], "s3cret");
}

#[tokio::test(flavor = "multi_thread")]
async fn trigger_refuses_an_emulator_of_another_provider() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(dir.path(), "infermedica", &[]);
    let out = cli(dir.path())
        .args([
            "trigger",
            "avala",
            "task.completed",
            "--emulator",
            &format!("http://{}", emu.addr),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("infermedica"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_two_terminal_loop_emulate_then_listen_then_the_handler() {
    let emulator_store = tempfile::tempdir().unwrap();
    let listen_store = tempfile::tempdir().unwrap();
    let handler = Handler::start(202, Duration::ZERO).await;
    let forward = handler.url.trim_end_matches("/hooks").to_string();
    let (mut listen, listen_addr, mut listened) = listen_json(
        listen_store.path(),
        &[
            "--forward",
            &forward,
            "--profile",
            "avala",
            "--secret",
            "s3cret",
        ],
    );
    let emu = Emulator::start(emulator_store.path(), "avala", &[]);
    avala_webhook(
        &emu,
        &format!("http://{listen_addr}/webhooks/avala"),
        "task.reviewed",
    )
    .await;

    let fired = trigger_through(emulator_store.path(), "avala", "task.reviewed", &emu);
    assert_eq!(fired[0]["status"], "success", "{fired:?}");
    assert_eq!(
        fired[0]["response_status"], 202,
        "the handler's answer, through listen"
    );
    let seen: Value = serde_json::from_str(&listened.next().unwrap().unwrap()).unwrap();
    assert_eq!(seen["event"], "request");
    assert_eq!(seen["path"], "/webhooks/avala");
    assert_eq!(seen["event_type"], "task.reviewed");
    assert_eq!(seen["signature"]["status"], "verified", "{seen}");
    assert_eq!(handler.seen().len(), 1);
    let _ = listen.kill();
    let _ = listen.wait();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_webhook_gets_no_more_retries() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(dir.path(), "avala", &["--retry-schedule", "0.5s,0.5s"]);
    let handler = Handler::start(500, Duration::ZERO).await;
    let webhook = avala_webhook(&emu, &handler.url, "project.deleted").await;
    let fired = trigger_through(dir.path(), "avala", "project.deleted", &emu);
    assert_eq!(fired[0]["status"], "pending", "{fired:?}");
    let hook = webhook["uid"].as_str().unwrap();
    let deleted = emu
        .call(
            "DELETE",
            &format!("/api/v1/webhooks/{hook}/"),
            &[API_KEY],
            "",
        )
        .await;
    assert_eq!(deleted.status, 204);

    let path = format!(
        "/api/v1/webhook-deliveries/{}/",
        fired[0]["id"].as_str().unwrap()
    );
    let delivery = || async { json_of(&emu.call("GET", &path, &[API_KEY], "").await) };
    let settled = eventually_async(Duration::from_secs(5), || async {
        delivery().await["status"] != "pending"
    })
    .await;
    let delivery = delivery().await;
    assert!(settled, "{delivery}");
    assert_eq!(delivery["status"], "failed", "{delivery}");
    assert_eq!(delivery["attempts"], 1);
    assert!(
        delivery["error_message"]
            .as_str()
            .unwrap()
            .contains("deleted"),
        "{delivery}"
    );
    assert_eq!(handler.seen().len(), 1);
}
