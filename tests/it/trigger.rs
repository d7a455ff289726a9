//! `trigger`: every event of every profile, signed and valid; retries; synchronous answers.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;
use webhook_dev::checks::Checks;
use webhook_dev::engine::{Engine, EngineConfig, FixedAnswer};
use webhook_dev::forward::Forwarder;
use webhook_dev::providers::Catalog;
use webhook_dev::signature::{verify, Secret, Status};
use webhook_dev::store::{Durability, Store};
use webhook_dev::trigger::{event_body, trigger, TriggerPlan};

use crate::support::common::*;

#[tokio::test]
async fn every_event_of_every_profile_arrives_signed_and_valid() {
    let handler = Handler::start(Answer::ok("{}")).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Durability::Process).unwrap();
    let catalog = Catalog::builtin();
    let (events, _) = mpsc::unbounded_channel();
    let engine = Arc::new(Engine::new(
        store.clone(),
        EngineConfig {
            forwarder: Some(Forwarder::new(
                handler.addr.to_string().parse().unwrap(),
                std::time::Duration::from_secs(5),
            )),
            respond: FixedAnswer::default(),
            checks: Checks::default(),
        },
        events,
    ));
    let secret = Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    let mut sent = 0;
    for profile in catalog.profiles() {
        for event in &profile.events {
            let body = Bytes::from(event_body(profile, event, &[]).unwrap());
            assert_ne!(
                body,
                Bytes::from(serde_json::to_vec(&event.sample).unwrap()),
                "{} {}: fresh ids",
                profile.name,
                event.name
            );
            let plan = TriggerPlan {
                profile,
                event,
                body,
                path: "/hook".into(),
                secret: Some(secret.clone()),
                schedule: vec![],
            };
            let attempts = trigger(&engine, &store, &plan, |_, _, _| {}).await;
            assert_eq!(attempts.len(), 1);
            sent += 1;
            let seen = handler.seen().pop().unwrap();
            let verdict = verify(
                &profile.name,
                &profile.scheme,
                &seen.headers,
                &seen.body,
                &secret,
                chrono::Utc::now().timestamp(),
            );
            assert_eq!(
                verdict.status,
                Status::Verified,
                "{} {}: {:?}",
                profile.name,
                event.name,
                verdict.reason
            );
            let check = profile.check_event(&seen.headers, &seen.body);
            assert_eq!(
                check.event.as_deref(),
                Some(event.name.as_str()),
                "{} {}",
                profile.name,
                event.name
            );
            assert!(
                check.problems.is_empty(),
                "{} {}: {:?}",
                profile.name,
                event.name,
                check.problems
            );
        }
    }
    assert!(sent >= 38, "{sent} events");
    for name in [
        "report.delivered",
        "study.access_requested",
        "secondary_capture.access_requested",
    ] {
        assert!(catalog.get("avara").unwrap().event(name).is_some());
    }
    assert!(catalog
        .get("infermedica")
        .unwrap()
        .event("survey_finished")
        .is_some());
    store.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_attempts_are_retried_and_logged_as_one_delivery() {
    let handler = Handler::start(Answer {
        status: 503,
        ..Answer::ok("{\"error\":\"down\"}")
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let out = cli(dir.path())
        .args([
            "trigger",
            "avala",
            "task.completed",
            "--to",
            &handler.addr.to_string(),
            "--secret",
            "s",
            "--retry-schedule",
            "0.2s,0.2s",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("attempt 1: 503") && stderr.contains("retrying in 200 ms"),
        "{stderr}"
    );
    assert!(
        stderr.contains("attempt 3: 503")
            && stderr.contains("3 attempt(s), none answered with 2xx"),
        "{stderr}"
    );
    assert_eq!(handler.seen().len(), 3);
    assert!(
        handler
            .seen()
            .iter()
            .all(|s| s.header_values("x-avala-signature").len() == 1),
        "every attempt is signed"
    );

    let deliveries = cli(dir.path())
        .args(["deliveries", "list", "--json", "--status", "failed"])
        .output()
        .unwrap();
    let lines: Vec<serde_json::Value> = ndjson(&deliveries.stdout);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["attempt_count"], 3);
    assert_eq!(lines[0]["response_status_code"], 503);
    assert_eq!(
        lines[0]["error_message"],
        "the handler answered 503 Service Unavailable; only a 2xx counts as delivered"
    );
    assert_eq!(lines[0]["event_type"], "task.completed");
    let stored = cli(dir.path())
        .args(["requests", "list", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(stored.stdout).unwrap().lines().count(),
        3,
        "each attempt is stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_synchronous_answer_is_checked_against_what_the_provider_expects() {
    let incomplete = Handler::start(Answer::ok(r#"{"authorized":true,"ttl":10.50}"#)).await;
    let dir = tempfile::tempdir().unwrap();
    let out = cli(dir.path())
        .args([
            "trigger",
            "avara",
            "study.access_requested",
            "--to",
            &incomplete.addr.to_string(),
            "--secret",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("urls") && stderr.contains("avara would not accept this answer"),
        "{stderr}"
    );
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("\"authorized\": true"), "{shown}");
    assert!(
        shown.contains("\"ttl\": 10.50"),
        "the answer as sent: {shown}"
    );

    let complete = Handler::start(Answer::ok(
        r#"{"authorized":true,"urls":["https://pacs.example/1.dcm"]}"#,
    ))
    .await;
    let out = cli(dir.path())
        .args([
            "trigger",
            "avara",
            "study.access_requested",
            "--to",
            &complete.addr.to_string(),
            "--set",
            "data.studyInstanceUid=1.2.3",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("UNSIGNED"));
    let sent = &complete.seen()[0];
    for added in ["x-forwarded-proto", "x-forwarded-for", "x-forwarded-host"] {
        assert!(
            sent.header_values(added).is_empty(),
            "a trigger is sent as the provider sends it, without {added}"
        );
    }
    let body: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(body["data"]["studyInstanceUid"], "1.2.3");
    assert!(body["id"].as_str().unwrap().starts_with("whe_"));
}

#[test]
fn an_unknown_event_lists_the_profiles_events() {
    let dir = tempfile::tempdir().unwrap();
    let out = cli(dir.path())
        .args(["trigger", "avara", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("report.delivered") && stderr.contains("study.access_requested"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_never_answers_leaves_no_response_status_and_says_why() {
    let dead = dead_addr().await;
    let dir = tempfile::tempdir().unwrap();
    let out = cli(dir.path())
        .args([
            "trigger",
            "avala",
            "task.completed",
            "--to",
            &dead.to_string(),
            "--secret",
            "s",
            "--retry-schedule",
            "none",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let delivery = &ndjson(&out.stdout)[0];
    assert_eq!(delivery["status"], "failed");
    assert!(delivery["response_status_code"].is_null(), "{delivery}");
    assert!(delivery["response_body"].is_null(), "{delivery}");
    let error = delivery["error_message"].as_str().unwrap();
    assert!(error.starts_with("the handler never answered: "), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_the_provider_would_refuse_is_a_failed_delivery() {
    let wrong = Handler::start(Answer::ok(r#"{"challenge":"nope"}"#)).await;
    let dir = tempfile::tempdir().unwrap();
    let out = cli(dir.path())
        .args([
            "trigger",
            "slack",
            "url_verification",
            "--to",
            &wrong.addr.to_string(),
            "--secret",
            "8f742231b10e8888abcd99yyyzzz85a5",
            "--retry-schedule",
            "none",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("answer's `challenge` is \"nope\", but the request's is"),
        "{stderr}"
    );
    let delivery = &ndjson(&out.stdout)[0];
    assert_eq!(delivery["status"], "failed", "{delivery}");
    assert_eq!(delivery["response_status_code"], 200);
    assert!(
        delivery["error_message"]
            .as_str()
            .unwrap()
            .starts_with("slack would not accept the answer: answer's `challenge`"),
        "{delivery}"
    );
}
