//! Verification end to end: listen with profiles, secrets and routes; the verify and profiles
//! commands.

use webhook_dev::checks::{Checks, Route};
use webhook_dev::engine::EngineEvent;
use webhook_dev::providers::Catalog;
use webhook_dev::signature::{sign, Scheme, Secret, Status};
use webhook_dev::summary::RequestSummary;

use crate::support::common::*;

const AVARA_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const STUDY_ACCESS: &[u8] = br#"{"id":"whe_0123456789abcdef0123456789abcdef","type":"study.access_requested","data":{"studyId":"stu_0123456789abcdef0123456789abcdef","studyInstanceUid":"1.2.840.10008.5.1.4.1.1.2"}}"#;

fn avara() -> Scheme {
    Catalog::builtin().get("avara").unwrap().scheme.clone()
}

fn signed(scheme: &Scheme, secret: &str, body: &[u8], at: i64) -> Vec<(String, String)> {
    sign(
        scheme,
        &Secret::new(secret),
        body,
        "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
        at,
    )
    .unwrap()
}

fn as_headers(headers: &[(String, String)]) -> Vec<(&str, &[u8])> {
    headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect()
}

fn checks(profile: Option<&str>, secret: Option<&str>) -> Checks {
    Checks::new(
        Catalog::builtin(),
        vec![Route::everywhere(
            profile.map(str::to_string),
            secret.map(Secret::new),
        )],
    )
    .unwrap()
}

async fn summary_of(server: &mut Listening) -> RequestSummary {
    let EngineEvent::Request(summary) = server.requests_done(1).await.remove(0) else {
        unreachable!()
    };
    *summary
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn a_signed_synchronous_event_is_verified_and_its_answer_checked() {
    let handler = Handler::start(Answer::ok(r#"{"authorized":true}"#)).await;
    let mut server = Setup {
        checks: checks(Some("avara"), Some(AVARA_SECRET)),
        ..Setup::forwarding_to(handler.addr)
    }
    .start()
    .await;
    let headers = signed(&avara(), AVARA_SECRET, STUDY_ACCESS, now());
    let answer = send(
        server.addr,
        "POST",
        "/webhooks/avara",
        &as_headers(&headers),
        STUDY_ACCESS,
    )
    .await;
    assert_eq!(
        answer.text(),
        r#"{"authorized":true}"#,
        "the handler's answer goes back untouched"
    );

    let summary = summary_of(&mut server).await;
    assert_eq!(summary.signature.status, Status::Verified);
    assert_eq!(summary.signature.profile.as_deref(), Some("avara"));
    assert_eq!(summary.signature.reason, None);
    assert_eq!(
        summary.event_type.as_deref(),
        Some("study.access_requested")
    );
    let schema = summary.schema.unwrap();
    assert!(schema.problems.is_empty(), "{:?}", schema.problems);
    assert!(
        schema.answer_problems.iter().any(|p| p.contains("urls")),
        "{:?}",
        schema.answer_problems
    );

    let stored = server.reader().get(&summary.id).unwrap().unwrap();
    assert_eq!(stored.summary.signature.status, Status::Verified);
    assert!(stored
        .summary
        .schema
        .unwrap()
        .answer_problems
        .iter()
        .any(|p| p.contains("urls")));
}

#[tokio::test]
async fn a_wrong_secret_an_old_timestamp_and_a_missing_header_are_each_explained() {
    let handler = Handler::start(Answer::ok("{}")).await;
    let mut server = Setup {
        checks: checks(Some("avara"), Some(AVARA_SECRET)),
        ..Setup::forwarding_to(handler.addr)
    }
    .start()
    .await;

    let wrong = signed(
        &avara(),
        "whsec_dGhpcyBpcyBub3QgdGhlIHNlY3JldA==",
        STUDY_ACCESS,
        now(),
    );
    send(server.addr, "POST", "/a", &as_headers(&wrong), STUDY_ACCESS).await;
    let verdict = summary_of(&mut server).await.signature;
    assert_eq!(verdict.status, Status::Invalid);
    assert!(verdict.reason.unwrap().contains("no signature matched"));

    let old = signed(&avara(), AVARA_SECRET, STUDY_ACCESS, now() - 3600);
    send(server.addr, "POST", "/a", &as_headers(&old), STUDY_ACCESS).await;
    let verdict = summary_of(&mut server).await.signature;
    assert_eq!(verdict.status, Status::Expired);
    let reason = verdict.reason.unwrap();
    assert!(
        reason.contains("s old") && reason.contains("300 s tolerance"),
        "{reason}"
    );

    send(server.addr, "POST", "/a", &[], STUDY_ACCESS).await;
    let verdict = summary_of(&mut server).await.signature;
    assert_eq!(verdict.status, Status::Missing);
    assert!(verdict.reason.unwrap().contains("webhook-signature"));

    let tampered = signed(&avara(), AVARA_SECRET, STUDY_ACCESS, now());
    send(
        server.addr,
        "POST",
        "/a",
        &as_headers(&tampered),
        &STUDY_ACCESS[..STUDY_ACCESS.len() - 1],
    )
    .await;
    assert_eq!(
        summary_of(&mut server).await.signature.status,
        Status::Invalid
    );
    assert_eq!(
        handler.seen().len(),
        4,
        "a failed signature is still forwarded: the handler decides"
    );
}

#[tokio::test]
async fn without_a_profile_the_scheme_is_detected_and_named() {
    let mut server = Setup::default().start().await;
    let stripe = Catalog::builtin().get("stripe").unwrap().scheme.clone();
    let body = br#"{"id":"evt_1","object":"event","type":"payment_intent.succeeded"}"#;
    send(
        server.addr,
        "POST",
        "/s",
        &as_headers(&signed(&stripe, "whsec_test_vector", body, now())),
        body,
    )
    .await;
    let summary = summary_of(&mut server).await;
    assert_eq!(summary.signature.status, Status::Unchecked);
    assert!(summary.signature.reason.unwrap().contains("stripe"));
    assert_eq!(
        summary.event_type.as_deref(),
        Some("payment_intent.succeeded")
    );
}

#[tokio::test]
async fn a_secret_without_a_profile_verifies_with_the_detected_scheme() {
    let mut server = Setup {
        checks: checks(None, Some("It's a Secret to Everybody")),
        ..Setup::default()
    }
    .start()
    .await;
    // GitHub's documented example ("Validating webhook deliveries").
    send(
        server.addr,
        "POST",
        "/gh",
        &[
            (
                "X-Hub-Signature-256",
                b"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            ),
            ("X-GitHub-Event", b"ping"),
        ],
        b"Hello, World!",
    )
    .await;
    let summary = summary_of(&mut server).await;
    assert_eq!(summary.signature.status, Status::Verified);
    assert_eq!(summary.signature.profile.as_deref(), Some("github"));
    assert_eq!(summary.event_type.as_deref(), Some("ping"));
}

#[tokio::test]
async fn the_wrong_profile_is_diagnosed() {
    let mut server = Setup {
        checks: checks(Some("github"), Some("s3cret")),
        ..Setup::default()
    }
    .start()
    .await;
    let stripe = Catalog::builtin().get("stripe").unwrap().scheme.clone();
    send(
        server.addr,
        "POST",
        "/x",
        &as_headers(&signed(&stripe, "s3cret", b"{}", now())),
        b"{}",
    )
    .await;
    let reason = summary_of(&mut server).await.signature.reason.unwrap();
    assert!(
        reason.contains("Stripe-Signature") && reason.contains("github"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_body_off_its_schema_is_reported_by_path() {
    let mut server = Setup {
        checks: checks(Some("avara"), None),
        ..Setup::default()
    }
    .start()
    .await;
    let bad = br#"{"id":"whe_0123456789abcdef0123456789abcdef","type":"study.access_requested","data":{"studyId":"stu_1","studyInstanceUid":"1.2.840.10008.5.1.4.1.1.2"}}"#;
    send(server.addr, "POST", "/x", &[], bad).await;
    let summary = summary_of(&mut server).await;
    let problems = summary.schema.unwrap().problems;
    assert!(
        problems
            .iter()
            .any(|p| p.contains("data.studyId") && p.contains("stu_1")),
        "{problems:?}"
    );
    assert_eq!(summary.signature.status, Status::Unchecked);
    assert!(summary
        .signature
        .reason
        .unwrap()
        .contains("no secret configured"));
}

/// The real binary, so that the `env:` secret comes from its own environment: setting a variable
/// in this process would race with every other test reading the environment.
#[tokio::test]
async fn config_routes_choose_profile_secret_and_target_by_path() {
    let avara_handler = Handler::start(Answer::ok("{}")).await;
    let avala_handler = Handler::start(Answer::ok("{}")).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("webhook-dev.toml");
    std::fs::write(
        &config,
        format!(
            "[[routes]]\npath = \"/avara\"\nprofile = \"avara\"\nsecret = \"{AVARA_SECRET}\"\nforward = \"{}\"\n\n[[routes]]\npath = \"/avala\"\nprofile = \"avala\"\nsecret = \"env:WEBHOOK_DEV_TEST_AVALA\"\nforward = \"{}\"\n",
            avara_handler.addr, avala_handler.addr
        ),
    )
    .unwrap();
    let mut command = cli(&dir.path().join("store"));
    command.env("WEBHOOK_DEV_TEST_AVALA", "avala-secret");
    let (mut child, addr, lines) =
        listen_json_from(command, &["--config", config.to_str().unwrap()]);
    let addr = addr.parse().unwrap();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(lines));
    let next_summary = || {
        let lines = lines.clone();
        async move {
            let line =
                tokio::task::spawn_blocking(move || lines.lock().unwrap().next().unwrap().unwrap())
                    .await
                    .unwrap();
            serde_json::from_str::<serde_json::Value>(&line).unwrap()
        }
    };

    send(
        addr,
        "POST",
        "/avara/hook",
        &as_headers(&signed(&avara(), AVARA_SECRET, STUDY_ACCESS, now())),
        STUDY_ACCESS,
    )
    .await;
    let summary = next_summary().await;
    assert_eq!(summary["signature"]["status"], "verified", "{summary}");
    let avala_body = br#"{"type":"task.completed","data":{"uid":"t1"}}"#;
    let avala = Catalog::builtin().get("avala").unwrap().scheme.clone();
    send(
        addr,
        "POST",
        "/avala",
        &as_headers(&signed(&avala, "avala-secret", avala_body, now())),
        avala_body,
    )
    .await;
    let summary = next_summary().await;
    assert_eq!(
        (
            &summary["signature"]["status"],
            &summary["signature"]["profile"]
        ),
        (&"verified".into(), &"avala".into()),
        "{summary}"
    );
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(avara_handler.seen().len(), 1);
    assert_eq!(avala_handler.seen()[0].uri, "/avala");
}

#[tokio::test]
async fn verify_checks_a_stored_request_or_a_fixture_offline() {
    let mut server = Setup::default().start().await;
    let headers = signed(&avara(), AVARA_SECRET, STUDY_ACCESS, now());
    send(
        server.addr,
        "POST",
        "/avara",
        &as_headers(&headers),
        STUDY_ACCESS,
    )
    .await;
    let id = summary_of(&mut server).await.id;
    let (_reader, dir) = server.shutdown().await;
    let store = dir.path().join("store");

    let ok = cli(&store)
        .args([
            "verify",
            &id,
            "--profile",
            "avara",
            "--secret",
            AVARA_SECRET,
        ])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let text = String::from_utf8_lossy(&ok.stdout);
    assert!(
        text.starts_with("verified (profile avara)")
            && text.contains("event: study.access_requested"),
        "{text}"
    );

    // Captured two hours ago, signed when it was sent: valid then, expired now.
    let two_hours_ago = now() - 7200;
    let old_headers = signed(&avara(), AVARA_SECRET, STUDY_ACCESS, two_hours_ago);
    let old_fixture = serde_json::json!({
        "webhook_dev_fixture": 1,
        "received_at": chrono::DateTime::from_timestamp(two_hours_ago + 1, 0).unwrap().to_rfc3339(),
        "method": "POST",
        "path": "/avara",
        "headers": old_headers,
        "body": {"encoding": "utf8", "data": std::str::from_utf8(STUDY_ACCESS).unwrap()},
    });
    let old_file = dir.path().join("old.json");
    std::fs::write(&old_file, old_fixture.to_string()).unwrap();
    let then = cli(&store)
        .args([
            "verify",
            old_file.to_str().unwrap(),
            "--profile",
            "avara",
            "--secret",
            AVARA_SECRET,
        ])
        .output()
        .unwrap();
    assert!(
        then.status.success(),
        "{}",
        String::from_utf8_lossy(&then.stdout)
    );
    let late = cli(&store)
        .args([
            "verify",
            old_file.to_str().unwrap(),
            "--profile",
            "avara",
            "--secret",
            AVARA_SECRET,
            "--now",
        ])
        .output()
        .unwrap();
    assert_eq!(late.status.code(), Some(1));
    let late = String::from_utf8_lossy(&late.stdout);
    assert!(
        late.starts_with("expired") && late.contains(" s old against a 300 s tolerance"),
        "{late}"
    );

    let wrong = cli(&store)
        .args([
            "verify",
            &id,
            "--profile",
            "avara",
            "--secret",
            "whsec_d3Jvbmc=",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&wrong.stdout).unwrap();
    assert_eq!(json["signature"]["status"], "invalid");
    assert!(json["signature"]["reason"]
        .as_str()
        .unwrap()
        .contains("no signature matched"));

    let fixture = dir.path().join("hello.json");
    std::fs::write(
        &fixture,
        r#"{"webhook_dev_fixture":1,"method":"POST","path":"/gh","headers":[["x-hub-signature-256","sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"]],"body":{"encoding":"utf8","data":"Hello, World!"}}"#,
    )
    .unwrap();
    let fixture_ok = cli(&store)
        .args([
            "verify",
            fixture.to_str().unwrap(),
            "--profile",
            "github",
            "--secret",
            "It's a Secret to Everybody",
        ])
        .output()
        .unwrap();
    assert!(fixture_ok.status.success());
    let out = String::from_utf8_lossy(&fixture_ok.stdout).to_string()
        + &String::from_utf8_lossy(&fixture_ok.stderr);
    assert!(
        !out.contains("It's a Secret"),
        "the secret is never printed"
    );
}

#[test]
fn profiles_lists_and_describes() {
    let dir = tempfile::tempdir().unwrap();
    let list = cli(dir.path()).arg("profiles").output().unwrap();
    let list = String::from_utf8(list.stdout).unwrap();
    for name in [
        "avara",
        "avala",
        "infermedica",
        "standard-webhooks",
        "svix",
        "stripe",
        "github",
        "shopify",
        "slack",
        "hmac",
    ] {
        assert!(
            list.lines().any(|l| l.starts_with(name)),
            "{name} missing from\n{list}"
        );
    }
    let avara = cli(dir.path())
        .args(["profiles", "avara"])
        .output()
        .unwrap();
    let avara = String::from_utf8(avara.stdout).unwrap();
    for part in [
        "webhook-signature",
        "study.access_requested",
        "secondary_capture.access_requested",
        "report.delivered",
    ] {
        assert!(avara.contains(part), "{part} missing from\n{avara}");
    }
    let unknown = cli(dir.path()).args(["profiles", "nope"]).output().unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("known profiles"));
}
