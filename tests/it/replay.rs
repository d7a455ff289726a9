//! Replay, export and import over real sockets and the real binary.

use std::time::Duration;

use base64::Engine as _;
use hmac::Mac;
use webhook_dev::checks::Checks;
use webhook_dev::delivery::DeliveryStatus;
use webhook_dev::replay::{replay, ReplayOptions, Resigner, Source};
use webhook_dev::signature::{Scheme, Secret};

use crate::support::common::*;

fn options() -> ReplayOptions {
    ReplayOptions {
        to: None,
        resign: None,
        times: 1,
        concurrency: 1,
        shuffle: false,
        timeout: Duration::from_secs(5),
        tls: Default::default(),
        checks: Checks::default(),
    }
}

#[tokio::test]
async fn a_plain_replay_is_byte_exact_and_linked_to_its_original() {
    let handler = Handler::start(Answer::ok("{}")).await;
    let mut server = Setup::forwarding_to(handler.addr).start().await;
    let body: Vec<u8> = (0..=255u8).collect();
    send(
        server.addr,
        "PATCH",
        "/hooks/x?a=1&a=2",
        &[("X-Dup", b"1"), ("X-Dup", b"2"), ("Webhook-Id", b"msg_1")],
        &body,
    )
    .await;
    server.requests_done(1).await;
    let original = server.reader().list(None).unwrap().remove(0);

    let sources =
        Source::load_all(Some(&server.reader()), std::slice::from_ref(&original.id)).unwrap();
    let outcomes = replay(&server.store, sources, &options()).await.unwrap();
    assert_eq!(outcomes.len(), 1);
    assert!(outcomes[0].succeeded());

    let seen = handler.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].method, seen[1].method);
    assert_eq!(seen[0].uri, seen[1].uri);
    assert_eq!(
        seen[0].headers, seen[1].headers,
        "the handler sees the same headers, in the same order"
    );
    assert_eq!(seen[1].body.as_ref(), body.as_slice());

    let list = server.reader().list(None).unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[1].replay_of.as_deref(), Some(original.id.as_str()));
    let deliveries = server.reader().deliveries(None).unwrap();
    assert_eq!(deliveries.len(), 1);
    let d = &deliveries[0];
    assert_eq!(
        (d.status, d.attempt_count, d.response_status_code),
        (DeliveryStatus::Success, 1, Some(200))
    );
    assert_eq!(d.kind, "replay");
    assert_eq!(d.source_id.as_deref(), Some(original.id.as_str()));
    assert_eq!(d.request_id.as_deref(), Some(list[1].id.as_str()));
    assert_eq!(d.target, format!("http://{}/hooks/x?a=1&a=2", handler.addr));
}

#[tokio::test]
async fn replay_to_another_target_many_times_concurrently_and_shuffled() {
    let first = Handler::start(Answer::ok("{}")).await;
    let second = Handler::start(Answer::ok("{}")).await;
    let server = Setup::forwarding_to(first.addr).start().await;
    for n in 0..3 {
        send(
            server.addr,
            "POST",
            &format!("/e/{n}"),
            &[],
            format!("{n}").as_bytes(),
        )
        .await;
    }
    let ids = server.ids();
    let sources = Source::load_all(Some(&server.reader()), &ids).unwrap();
    let opts = ReplayOptions {
        to: Some(second.addr.to_string().parse().unwrap()),
        times: 4,
        concurrency: 3,
        shuffle: true,
        ..options()
    };
    let outcomes = replay(&server.store, sources, &opts).await.unwrap();
    assert_eq!(outcomes.len(), 12);
    assert!(outcomes.iter().all(|o| o.succeeded()));
    assert_eq!(first.seen().len(), 3);
    let mut paths: Vec<String> = second.seen().into_iter().map(|s| s.uri).collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/e/0", "/e/0", "/e/0", "/e/0", "/e/1", "/e/1", "/e/1", "/e/1", "/e/2", "/e/2", "/e/2",
            "/e/2"
        ]
    );
    assert_eq!(
        server
            .reader()
            .deliveries(Some(DeliveryStatus::Success))
            .unwrap()
            .len(),
        12
    );
}

/// Stores one request forwarded to a handler giving `answer`, replays it (to `to` instead, when
/// given) and returns whether the replay succeeded and the failed deliveries logged.
async fn replay_failing(
    answer: Answer,
    to: Option<std::net::SocketAddr>,
) -> (bool, Vec<webhook_dev::delivery::Delivery>) {
    let handler = Handler::start(answer).await;
    let mut server = Setup::forwarding_to(handler.addr).start().await;
    send(server.addr, "POST", "/hook", &[], b"{}").await;
    server.requests_done(1).await;
    let id = server.reader().list(None).unwrap()[0].id.clone();
    let sources = Source::load_all(Some(&server.reader()), &[id]).unwrap();
    let opts = ReplayOptions {
        to: to.map(|addr| addr.to_string().parse().unwrap()),
        ..options()
    };
    let outcomes = replay(&server.store, sources, &opts).await.unwrap();
    let failed = server
        .reader()
        .deliveries(Some(DeliveryStatus::Failed))
        .unwrap();
    (outcomes[0].succeeded(), failed)
}

#[tokio::test]
async fn a_replay_answered_with_an_error_is_a_failed_delivery() {
    let answer = Answer {
        status: 500,
        ..Answer::ok("{\"error\":\"boom\"}")
    };
    let (succeeded, failed) = replay_failing(answer, None).await;
    assert!(!succeeded);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].response_status_code, Some(500));
    assert_eq!(
        failed[0].response_body.as_deref(),
        Some("{\"error\":\"boom\"}")
    );
}

#[tokio::test]
async fn a_replay_nobody_answers_logs_no_answer_and_says_why() {
    let dead = dead_addr().await;
    let (succeeded, failed) = replay_failing(Answer::ok("{}"), Some(dead)).await;
    assert!(!succeeded);
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0].response_status_code, None,
        "webhook-dev's own 502 is not the handler's answer"
    );
    let error = failed[0].error_message.as_deref().unwrap_or_default();
    assert!(
        error.contains("never answered") && error.contains(&dead.to_string()),
        "{error}"
    );
}

#[tokio::test]
async fn a_replay_answered_503_is_failed_with_a_reason() {
    let answer = Answer {
        status: 503,
        ..Answer::ok("")
    };
    let (succeeded, failed) = replay_failing(answer, None).await;
    assert!(!succeeded);
    assert_eq!(failed[0].response_status_code, Some(503));
    let error = failed[0].error_message.as_deref().unwrap_or_default();
    assert!(error.contains("503"), "a non-2xx answer says so: {error:?}");
}

/// An independent Standard Webhooks check, written from the specification: HMAC-SHA256 over
/// `{id}.{timestamp}.{body}` keyed with the base64-decoded part of the `whsec_` secret.
fn standard_webhooks_accepts(
    secret: &str,
    id: &str,
    timestamp: &str,
    body: &[u8],
    header: &str,
) -> bool {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    header.split(' ').any(|sig| sig == format!("v1,{expected}"))
}

#[tokio::test]
async fn a_resigned_replay_of_an_hour_old_event_is_accepted() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let handler = Handler::start(Answer::ok("{}")).await;
    let mut server = Setup::forwarding_to(handler.addr).start().await;
    let body = br#"{"type":"report.delivered","data":{"is_critical":false}}"#;
    let old = (chrono::Utc::now().timestamp() - 3600).to_string();
    let old_headers = webhook_dev::signature::sign(
        &Scheme::StandardWebhooks {
            header_prefix: "webhook".into(),
            tolerance_secs: 300,
        },
        &Secret::new(secret),
        body,
        "msg_old",
        old.parse().unwrap(),
    )
    .unwrap();
    let headers: Vec<(&str, &[u8])> = old_headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    send(server.addr, "POST", "/avara", &headers, body).await;
    server.requests_done(1).await;
    let id = server.reader().list(None).unwrap()[0].id.clone();

    let sources = Source::load_all(Some(&server.reader()), &[id]).unwrap();
    let opts = ReplayOptions {
        resign: Some(Resigner {
            scheme: Scheme::StandardWebhooks {
                header_prefix: "webhook".into(),
                tolerance_secs: 300,
            },
            secret: Secret::new(secret),
            new_id: false,
        }),
        ..options()
    };
    replay(&server.store, sources.clone(), &opts).await.unwrap();
    let replayed = &handler.seen()[1];
    let ts = &replayed.header_values("webhook-timestamp")[0];
    let msg_id = &replayed.header_values("webhook-id")[0];
    let signature = &replayed.header_values("webhook-signature")[0];
    assert!(
        (chrono::Utc::now().timestamp() - ts.parse::<i64>().unwrap()).abs() < 10,
        "fresh timestamp"
    );
    assert_eq!(msg_id, "msg_old", "a resent message keeps its id");
    assert_eq!(
        replayed.header_values("webhook-signature").len(),
        1,
        "the old signature is gone"
    );
    assert_eq!(replayed.body.as_ref(), body, "the body is unchanged");
    assert!(standard_webhooks_accepts(
        secret, msg_id, ts, body, signature
    ));
    assert!(!standard_webhooks_accepts(
        secret, "msg_old", &old, body, signature
    ));

    let three = ReplayOptions {
        times: 3,
        ..opts.clone()
    };
    replay(&server.store, sources.clone(), &three)
        .await
        .unwrap();
    let resent = &handler.seen()[2..5];
    assert!(
        resent
            .iter()
            .all(|seen| seen.header_values("webhook-id") == ["msg_old"]),
        "--times 3 sends one message three times, so de-duplication on webhook-id can be tested"
    );
    for seen in resent {
        assert!(standard_webhooks_accepts(
            secret,
            "msg_old",
            &seen.header_values("webhook-timestamp")[0],
            body,
            &seen.header_values("webhook-signature")[0]
        ));
    }

    let mut minting = opts.clone();
    if let Some(resigner) = minting.resign.as_mut() {
        resigner.new_id = true;
    }
    replay(&server.store, sources, &minting).await.unwrap();
    let minted = &handler.seen()[5];
    let new_id = &minted.header_values("webhook-id")[0];
    assert_ne!(new_id, "msg_old", "--new-id mints a message id");
    assert!(new_id.starts_with("msg_"), "{new_id}");
    assert!(standard_webhooks_accepts(
        secret,
        new_id,
        &minted.header_values("webhook-timestamp")[0],
        body,
        &minted.header_values("webhook-signature")[0]
    ));
}

#[tokio::test]
async fn export_har_fixture_and_curl_with_redaction_then_import() {
    let handler = Handler::start(Answer::ok(r#"{"received":true}"#)).await;
    let server = Setup::forwarding_to(handler.addr).start().await;
    send(
        server.addr,
        "POST",
        "/hooks?x=1&y=a%20b",
        &[
            ("Authorization", b"Bearer s3cret"),
            ("Content-Type", b"application/json"),
        ],
        br#"{"a":1}"#,
    )
    .await;
    send(
        server.addr,
        "POST",
        "/bin",
        &[("Content-Type", b"application/octet-stream")],
        b"\x00\xff\x1b",
    )
    .await;
    let ids = server.ids();
    let store_dir = server.store_dir.clone();
    let (_, _dir) = server.shutdown().await;

    let har = cli(&store_dir)
        .args(["export", &ids[0], &ids[1], "--format", "har"])
        .output()
        .unwrap();
    assert!(
        har.status.success(),
        "{}",
        String::from_utf8_lossy(&har.stderr)
    );
    let har: serde_json::Value = serde_json::from_slice(&har.stdout).unwrap();
    assert_eq!(har["log"]["version"], "1.2");
    assert_eq!(har["log"]["creator"]["name"], "webhook-dev");
    let entries = har["log"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    for entry in entries {
        for key in [
            "startedDateTime",
            "time",
            "request",
            "response",
            "cache",
            "timings",
        ] {
            assert!(entry.get(key).is_some(), "entry lacks {key}");
        }
        for key in [
            "method",
            "url",
            "httpVersion",
            "cookies",
            "headers",
            "queryString",
            "headersSize",
            "bodySize",
        ] {
            assert!(entry["request"].get(key).is_some(), "request lacks {key}");
        }
        for key in [
            "status",
            "statusText",
            "httpVersion",
            "cookies",
            "headers",
            "content",
            "redirectURL",
            "headersSize",
            "bodySize",
        ] {
            assert!(entry["response"].get(key).is_some(), "response lacks {key}");
        }
    }
    let first = &entries[0]["request"];
    assert!(first["url"]
        .as_str()
        .unwrap()
        .ends_with("/hooks?x=1&y=a%20b"));
    assert_eq!(
        first["queryString"][1],
        serde_json::json!({"name": "y", "value": "a b"})
    );
    assert_eq!(first["postData"]["text"], r#"{"a":1}"#);
    assert!(first["headers"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!({"name": "authorization", "value": "<redacted>"})));
    assert_eq!(
        entries[0]["response"]["content"]["text"],
        r#"{"received":true}"#
    );
    assert_eq!(entries[1]["request"]["postData"]["encoding"], "base64");
    assert_eq!(entries[1]["request"]["postData"]["text"], "AP8b");

    let unredacted = cli(&store_dir)
        .args(["export", &ids[0], "--format", "har", "--no-redact"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&unredacted.stdout).contains("Bearer s3cret"));

    let curl = cli(&store_dir)
        .args(["export", &ids[0], "--format", "curl"])
        .output()
        .unwrap();
    let curl = String::from_utf8(curl.stdout).unwrap();
    assert!(
        curl.contains("'authorization: <redacted>'") && !curl.contains("s3cret"),
        "{curl}"
    );
    assert!(
        curl.contains(&format!("'http://{}/hooks?x=1&y=a%20b'", handler.addr)),
        "{curl}"
    );

    let dir = tempfile::tempdir().unwrap();
    let har_file = dir.path().join("export.har");
    let fixture_file = dir.path().join("fixture.json");
    assert!(cli(&store_dir)
        .args(["export", &ids[1], "--format", "har", "-o"])
        .arg(&har_file)
        .status()
        .unwrap()
        .success());
    assert!(cli(&store_dir)
        .args(["export", &ids[0], "--format", "fixture", "-o"])
        .arg(&fixture_file)
        .status()
        .unwrap()
        .success());
    let fixture: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&fixture_file).unwrap()).unwrap();
    assert_eq!(fixture["webhook_dev_fixture"], 1);
    assert_eq!(fixture["redacted"], serde_json::json!(["authorization"]));

    let other = dir.path().join("other-store");
    for file in [&har_file, &fixture_file] {
        let out = cli(&other).arg("import").arg(file).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let listed = cli(&other)
        .args(["requests", "list", "--json"])
        .output()
        .unwrap();
    let listed: Vec<serde_json::Value> = ndjson(&listed.stdout);
    assert_eq!(listed.len(), 2);
    let imported_bin = cli(&other)
        .args([
            "requests",
            "show",
            listed[0]["id"].as_str().unwrap(),
            "--json",
        ])
        .output()
        .unwrap();
    let imported_bin: serde_json::Value = serde_json::from_slice(&imported_bin.stdout).unwrap();
    assert_eq!(
        imported_bin["body"],
        serde_json::json!({"encoding": "base64", "data": "AP8b"})
    );
    assert_eq!(listed[1]["path"], "/hooks?x=1&y=a%20b");

    let replayed = cli(&other)
        .args(["replay", listed[1]["id"].as_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        replayed.status.code(),
        Some(2),
        "an imported request has no target to go back to"
    );
    assert!(String::from_utf8_lossy(&replayed.stderr).contains("--to TARGET"));
}

// The binary runs blocking on this thread: the handler needs a thread of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redacted_fixture_is_replayable_with_resign() {
    let handler = Handler::start(Answer::ok("{}")).await;
    let dir = tempfile::tempdir().unwrap();
    let fixture = dir.path().join("survey.json");
    std::fs::write(
        &fixture,
        r#"{"webhook_dev_fixture":1,"method":"POST","path":"/infermedica",
            "headers":[["content-type","application/json"],["x-webhook-infermedica-token","<redacted>"]],
            "body":{"encoding":"utf8","data":"{\"event_type\":\"survey_finished\",\"content\":{}}"},
            "profile":"infermedica","redacted":["x-webhook-infermedica-token"]}"#,
    )
    .unwrap();
    let store = dir.path().join("store");
    let out = cli(&store)
        .args([
            "replay",
            fixture.to_str().unwrap(),
            "--to",
            &handler.addr.to_string(),
            "--resign",
            "--secret",
            "env:SURVEY_TOKEN",
            "--json",
        ])
        .env("SURVEY_TOKEN", "tok_live_1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = &handler.seen()[0];
    assert_eq!(
        seen.header_values("x-webhook-infermedica-token"),
        vec!["tok_live_1"]
    );
    let deliveries = cli(&store)
        .args(["deliveries", "list", "--json"])
        .output()
        .unwrap();
    let delivery: serde_json::Value = serde_json::from_slice(&deliveries.stdout).unwrap();
    for key in [
        "id",
        "event_type",
        "target",
        "status",
        "attempt_count",
        "response_status_code",
        "response_body",
        "error_message",
        "created_at",
    ] {
        assert!(delivery.get(key).is_some(), "delivery lacks {key}");
    }
    assert_eq!(delivery["status"], "success");
    let human = cli(&store).args(["deliveries", "list"]).output().unwrap();
    assert!(String::from_utf8_lossy(&human.stdout).contains("1/1 succeeded (100%)"));
}

// The binary runs blocking on this thread: the handler needs a thread of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replay_command_exits_non_zero_when_an_answer_is_not_2xx() {
    let handler = Handler::start(Answer {
        status: 409,
        ..Answer::ok("{}")
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let fixture = dir.path().join("f.json");
    std::fs::write(&fixture, r#"{"webhook_dev_fixture":1,"method":"POST","path":"/x","headers":[],"body":{"encoding":"utf8","data":"{}"}}"#).unwrap();
    let out = cli(&dir.path().join("s"))
        .args([
            "replay",
            fixture.to_str().unwrap(),
            "--to",
            &handler.addr.to_string(),
            "--times",
            "2",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("2 of 2 replays were not answered with 2xx")
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
}

#[tokio::test]
async fn diff_shows_the_changed_json_paths_and_lines() {
    let mut server = Setup::default().start().await;
    send(
        server.addr,
        "POST",
        "/r",
        &[("X-Attempt", b"1")],
        br#"{"type":"report.delivered","data":{"is_critical":false}}"#,
    )
    .await;
    send(
        server.addr,
        "POST",
        "/r",
        &[("X-Attempt", b"2")],
        br#"{"type":"report.delivered","data":{"is_critical":true,"note":"x"}}"#,
    )
    .await;
    server.requests_done(2).await;
    let ids = server.ids();
    let (_reader, dir) = server.shutdown().await;
    let store = dir.path().join("store");

    let out = cli(&store)
        .args(["diff", &ids[0], &ids[1]])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for part in [
        "data.is_critical: false -> true",
        "+ data.note: \"x\"",
        "-x-attempt: 1",
        "+x-attempt: 2",
    ] {
        assert!(text.contains(part), "{part} missing from\n{text}");
    }
    let same = cli(&store)
        .args(["diff", &ids[0], &ids[0]])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(same.stdout).unwrap(), "no differences\n");
    let json = cli(&store)
        .args(["diff", &ids[0], &ids[1], "--json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        json["json"][0],
        serde_json::json!({"path": "data.is_critical", "kind": "changed", "old": false, "new": true})
    );
}

#[tokio::test]
async fn diff_shows_values_exactly_as_sent() {
    let mut server = Setup::default().start().await;
    for body in [
        br#"{"big":12345678901234567890123,"price":10.50}"#.as_slice(),
        br#"{"big":12345678901234567890124,"price":10.5}"#.as_slice(),
    ] {
        send(server.addr, "POST", "/r", &[], body).await;
    }
    server.requests_done(2).await;
    let ids = server.ids();
    let (_reader, dir) = server.shutdown().await;
    let store = dir.path().join("store");

    let out = cli(&store)
        .args(["diff", &ids[0], &ids[1]])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for part in [
        "big: 12345678901234567890123 -> 12345678901234567890124",
        "price: 10.50 -> 10.5",
        "-  \"price\": 10.50",
        "+  \"price\": 10.5",
    ] {
        assert!(text.contains(part), "{part} missing from\n{text}");
    }
    let json = cli(&store)
        .args(["diff", &ids[0], &ids[1], "--json"])
        .output()
        .unwrap();
    let json = String::from_utf8(json.stdout).unwrap();
    assert!(
        json.contains(r#"{"path":"price","kind":"changed","old":10.50,"new":10.5}"#),
        "{json}"
    );
}
