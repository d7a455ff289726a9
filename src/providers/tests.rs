//! Tests over the built-in catalog and the public API together.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::{json, Value};

use super::*;
use crate::signature::{self, Secret, Status};

fn catalog() -> Catalog {
    Catalog::builtin()
}

fn profile(name: &str) -> Profile {
    catalog()
        .get(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .clone()
}

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
        .collect()
}

fn body(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

/// The headers `trigger` would send with `event`, as captured headers.
fn event_headers(profile: &Profile, event: &str) -> Vec<(String, Vec<u8>)> {
    let spec = profile.event(event).expect("the event is in the catalog");
    let fill = crate::providers::Fill {
        event,
        msg_id: "msg_1",
        body: Some(&spec.sample),
        now: Utc::now(),
    };
    profile
        .request_headers(event)
        .into_iter()
        .chain(profile.send_headers(spec, &fill, &mut StdRng::seed_from_u64(9)))
        .map(|(n, v)| (n, v.into_bytes()))
        .collect()
}

fn avara_check(event: &str, edit: impl FnOnce(&mut Value)) -> SchemaCheck {
    let avara = profile("avara");
    let mut sample = avara.event(event).unwrap().sample.clone();
    edit(&mut sample);
    avara.check_event(&[], &body(&sample))
}

#[test]
fn builtin_catalog_holds_every_required_profile_sorted() {
    let names: Vec<String> = catalog().profiles().map(|p| p.name.clone()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    for wanted in [
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
        assert!(names.iter().any(|n| n == wanted), "missing {wanted}");
    }
    assert_eq!(names.len(), builtin::FILES.len());
}

#[test]
fn every_builtin_schema_compiles_and_every_sample_matches() {
    for p in catalog().profiles() {
        file::validate(p).unwrap_or_else(|e| panic!("{}: {e}", p.name));
        assert!(!p.events.is_empty(), "{} lists no events", p.name);
        for e in &p.events {
            assert!(!e.description.is_empty(), "{}/{}", p.name, e.name);
            let check = p.check_event(&event_headers(p, &e.name), &body(&e.sample));
            assert_eq!(
                check.event.as_deref(),
                Some(e.name.as_str()),
                "{}/{}",
                p.name,
                e.name
            );
            assert!(check.is_ok(), "{}/{}: {:?}", p.name, e.name, check.problems);
            if e.synchronous {
                assert!(
                    e.answer_schema.is_some(),
                    "{}/{} is synchronous without answer_schema",
                    p.name,
                    e.name
                );
            }
        }
    }
}

#[test]
fn seed_events_are_all_covered() {
    let avara = profile("avara");
    let sync: Vec<(&str, bool)> = avara
        .events
        .iter()
        .map(|e| (e.name.as_str(), e.synchronous))
        .collect();
    assert_eq!(
        sync,
        [
            ("report.delivered", false),
            ("study.access_requested", true),
            ("secondary_capture.access_requested", true),
            ("ephemeral.access_requested", true),
            ("modality_worklist.requested", true),
            ("patient_study.enrichment_requested", true),
            ("clinical_context.enrichment_requested", true)
        ]
    );
    let soft: Vec<&str> = avara
        .events
        .iter()
        .filter(|e| e.soft_synchronous)
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(
        soft,
        [
            "patient_study.enrichment_requested",
            "clinical_context.enrichment_requested"
        ]
    );
    assert!(avara.events.iter().all(|e| e.answer_schema.is_some()));
    assert_eq!(
        avara.scheme,
        signature::Scheme::StandardWebhooks {
            header_prefix: "webhook".into(),
            tolerance_secs: 300
        }
    );

    let avala = profile("avala");
    for kind in ["task", "project", "dataset", "export"] {
        let actions: &[&str] = match kind {
            "task" => &[
                "created",
                "updated",
                "completed",
                "reviewed",
                "rejected",
                "deleted",
            ],
            "export" => &["created", "completed", "failed"],
            _ => &["created", "updated", "deleted"],
        };
        for action in actions {
            assert!(
                avala.event(&format!("{kind}.{action}")).is_some(),
                "avala {kind}.{action}"
            );
        }
    }
    assert_eq!(avala.events.len(), 15);
    let minutes: Vec<u64> = avala
        .retry_schedule
        .iter()
        .map(|d| d.as_secs() / 60)
        .collect();
    assert_eq!(minutes, [1, 5, 15, 60]);
    assert_eq!(avala.scheme, signature::Scheme::Avala);

    let infermedica = profile("infermedica");
    assert!(infermedica.event("survey_finished").is_some());
    assert_eq!(
        infermedica.scheme,
        signature::Scheme::StaticToken {
            header: "x-webhook-infermedica-token".into()
        }
    );
    assert_eq!(
        profile("slack").answer_time_limit,
        Some(Duration::from_secs(3))
    );
}

#[test]
fn avara_id_formats_are_enforced_with_their_paths() {
    let bad_study = avara_check("study.access_requested", |s| {
        s["data"]["studyId"] = json!("stu_1")
    });
    assert_eq!(bad_study.event.as_deref(), Some("study.access_requested"));
    assert_eq!(
        bad_study.problems,
        [r#"data.studyId: "stu_1" does not match ^stu_[0-9a-f]{32}$"#]
    );

    let upper = avara_check("report.delivered", |s| {
        s["id"] = json!("whe_4F9C2B7E1A8D4C6F9E3B5A7D2C1F8E6A")
    });
    assert!(
        upper.problems[0].starts_with(r#"id: "whe_4F9C"#),
        "{:?}",
        upper.problems
    );
    let rep = avara_check("report.delivered", |s| {
        s["data"]["reportId"] = json!("stu_9b1d3f5a7c9e4b2d8f6a1c3e5b7d9f20")
    });
    assert!(
        rep.problems[0].starts_with("data.reportId:"),
        "{:?}",
        rep.problems
    );
    let url = avara_check("report.delivered", |s| {
        s["data"]["presignedUrl"] = json!("not a url")
    });
    assert_eq!(
        url.problems,
        [r#"data.presignedUrl: "not a url" is not a valid uri"#]
    );
    let critical = avara_check("report.delivered", |s| {
        s["data"]["isCritical"] = json!("no")
    });
    assert_eq!(
        critical.problems,
        [r#"data.isCritical: expected boolean, found string "no""#]
    );
    let missing = avara_check("report.delivered", |s| {
        s["data"].as_object_mut().unwrap().remove("isCritical");
    });
    assert_eq!(missing.problems, ["data lacks `isCritical`"]);
    let no_text = avara_check("report.delivered", |s| {
        s["data"].as_object_mut().unwrap().remove("plainText");
    });
    assert!(
        no_text.is_ok(),
        "plainText is optional: {:?}",
        no_text.problems
    );
    let null_text = avara_check("report.delivered", |s| s["data"]["plainText"] = Value::Null);
    assert!(null_text.is_ok());

    let uid = avara_check("study.access_requested", |s| {
        s["data"]["studyInstanceUid"] = json!("1.2.03")
    });
    assert!(
        uid.problems[0].starts_with("data.studyInstanceUid:"),
        "{:?}",
        uid.problems
    );
    let long = "1.".repeat(32) + "1";
    let long_uid = avara_check("study.access_requested", |s| {
        s["data"]["studyInstanceUid"] = json!(long)
    });
    assert_eq!(
        long_uid.problems,
        ["data.studyInstanceUid: 65 characters long, more than the 64 allowed"]
    );
    let sop = avara_check("secondary_capture.access_requested", |s| {
        s["data"]["sopInstanceUid"] = json!("1.2.x")
    });
    assert!(
        sop.problems[0].starts_with("data.sopInstanceUid:"),
        "{:?}",
        sop.problems
    );
    let optional = avara_check("secondary_capture.access_requested", |s| {
        let data = s["data"].as_object_mut().unwrap();
        data.remove("sopInstanceUid");
        data.insert("seriesInstanceUid".into(), Value::Null);
    });
    assert!(optional.is_ok(), "{:?}", optional.problems);
    let wrong_type = avara_check("study.access_requested", |s| {
        s["type"] = json!("study.access_requested")
    });
    assert!(wrong_type.is_ok());
    let envelope = avara_check("study.access_requested", |s| {
        s.as_object_mut().unwrap().remove("id");
    });
    assert_eq!(envelope.problems, ["body lacks `id`"]);
}

#[test]
fn unknown_or_untyped_payloads_are_not_checked() {
    let avara = profile("avara");
    let unknown = avara.check_event(&[], br#"{"type": "study.deleted", "id": 5}"#);
    assert_eq!(unknown.event.as_deref(), Some("study.deleted"));
    assert_eq!(unknown.problems.len(), 1);
    assert!(
        unknown.problems[0]
            .starts_with("avara has no event `study.deleted` (known: report.delivered, "),
        "{:?}",
        unknown.problems
    );
    assert_eq!(avara.check_event(&[], b"not json"), SchemaCheck::default());
    assert_eq!(
        avara.check_event(&[], br#"{"type": 5}"#),
        SchemaCheck::default()
    );
}

#[test]
fn answers_are_checked_in_words() {
    let avara = profile("avara");
    let lacks = avara.check_answer(
        "study.access_requested",
        200,
        br#"{"authorized": true}"#,
        b"{}",
    );
    assert_eq!(lacks.problems, ["answer lacks `urls`"]);
    assert!(lacks.problems[0].contains("urls"));
    let not_json = avara.check_answer("study.access_requested", 200, b"<html>ok</html>", b"{}");
    assert!(
        not_json.problems[0].starts_with("answer is not JSON"),
        "{:?}",
        not_json.problems
    );
    let empty = avara.check_answer("study.access_requested", 200, b"", b"{}");
    assert_eq!(empty.problems, ["answer is empty, expected JSON"]);
    let media = avara.check_answer(
        "study.access_requested",
        200,
        br#"{"authorized": true, "urls": [], "media_urls": [{"mime_type": "image/png", "url": "nope"}]}"#, b"{}"
    );
    assert_eq!(
        media.problems,
        [r#"answer.mediaUrls[0].url: "nope" is not a valid uri"#],
        "a snake_case answer is held to the same schema"
    );
    assert!(
        media.notes[0].starts_with("the answer's field names are snake_case"),
        "{:?}",
        media.notes
    );
    let camel = avara.check_answer(
        "study.access_requested",
        200,
        br#"{"authorized": true, "urls": [], "mediaUrls": [{"mimeType": "image/png", "url": "https://x.test/a.png"}]}"#,
        b"{}",
    );
    assert!(camel.is_ok(), "{:?}", camel.problems);
    assert!(camel.notes[0].contains("camelCase"), "{:?}", camel.notes);
    let neither = avara.check_answer(
        "secondary_capture.access_requested",
        200,
        br#"{"authorized": true, "uploadURLs": []}"#,
        b"{}",
    );
    assert_eq!(neither.problems, ["answer lacks `uploadUrls`"]);
    let refused_ack = avara.check_answer("report.delivered", 200, br#"{"success": false}"#, b"{}");
    assert_eq!(refused_ack.problems, ["answer.success: false is not true"]);
    let soft = avara.check_answer("patient_study.enrichment_requested", 500, b"", b"{}");
    assert!(soft.is_ok(), "a soft-synchronous failure is not a problem");
    assert!(
        soft.notes[0].contains("takes a failed or invalid answer"),
        "{:?}",
        soft.notes
    );
    let refused = avara.check_answer(
        "study.access_requested",
        200,
        br#"{"authorized": false, "urls": [], "error": "unknown study"}"#,
        b"{}",
    );
    assert!(refused.is_ok());
    let failed = avara.check_answer("study.access_requested", 503, b"", b"{}");
    assert_eq!(
        failed.problems,
        ["answer status 503 is not 2xx, so avara counts the delivery as failed"]
    );
    let upload = avara.check_answer(
        "secondary_capture.access_requested",
        200,
        br#"{"authorized": true, "urls": []}"#,
        b"{}",
    );
    assert_eq!(upload.problems, ["answer lacks `uploadUrls`"]);
    let ack = avara.check_answer("report.delivered", 200, br#"{"success": "yes"}"#, b"{}");
    assert_eq!(ack.problems, [r#"answer.success: "yes" is not true"#]);
    for e in &avara.events {
        let answer = e.answer_sample.as_ref().unwrap();
        assert!(
            avara
                .check_answer(&e.name, 200, &body(answer), b"{}")
                .is_ok(),
            "{}",
            e.name
        );
    }

    let stripe = profile("stripe");
    assert!(stripe
        .check_answer("invoice.paid", 200, b"anything", b"{}")
        .is_ok());
    assert!(!stripe.check_answer("invoice.paid", 302, b"", b"{}").is_ok());

    let slack = profile("slack");
    assert!(slack
        .check_answer(
            "url_verification",
            200,
            br#"{"challenge": "abc"}"#,
            br#"{"type":"url_verification","challenge":"abc"}"#
        )
        .is_ok());
    assert!(
        slack
            .check_answer(
                "url_verification",
                200,
                b"abc",
                br#"{"type":"url_verification","challenge":"abc"}"#
            )
            .is_ok(),
        "a bare challenge is accepted"
    );
    assert_eq!(
        slack
            .check_answer(
                "url_verification",
                200,
                b"{}",
                br#"{"type":"url_verification","challenge":"abc"}"#
            )
            .problems,
        ["answer lacks `challenge`"]
    );
}

#[test]
fn infermedica_envelope_gives_the_event_type() {
    let infermedica = profile("infermedica");
    let body = br#"{"event_type": "survey_finished", "content": {"survey_id": "x"}}"#;
    assert_eq!(
        infermedica.event_type(&[], body).as_deref(),
        Some("survey_finished")
    );
    let check =
        infermedica.check_event(&[], br#"{"event_type": "survey_finished", "content": []}"#);
    assert_eq!(check.problems, ["content: expected object, found an array"]);
}

#[test]
fn github_event_type_comes_from_the_header() {
    let github = profile("github");
    let push = &github.event("push").unwrap().sample;
    let h = headers(&[
        ("X-GitHub-Event", "push"),
        ("content-type", "application/json"),
    ]);
    assert_eq!(
        github.event_type(&h, br#"{"type": "ping"}"#).as_deref(),
        Some("push")
    );
    assert_eq!(github.event_type(&[], &body(push)), None);
    assert!(github.check_event(&h, &body(push)).is_ok());
    let not_json = github.check_event(&h, b"{");
    assert_eq!(not_json.event.as_deref(), Some("push"));
    assert!(
        not_json.problems[0].starts_with("body is not JSON"),
        "{:?}",
        not_json.problems
    );
    let mut broken = push.clone();
    broken["after"] = json!("HEAD");
    assert_eq!(
        github.check_event(&h, &body(&broken)).problems,
        [r#"after: "HEAD" does not match ^[0-9a-f]{40}$"#]
    );
    let form = headers(&[
        ("x-github-event", "ping"),
        ("content-type", "application/x-www-form-urlencoded"),
    ]);
    let encoded = format!(
        "payload={}",
        encode_form(&body(&github.event("ping").unwrap().sample))
    );
    assert!(github.check_event(&form, encoded.as_bytes()).is_ok());
    let shopify = profile("shopify");
    let topic = headers(&[("x-shopify-topic", "orders/create")]);
    assert_eq!(
        shopify.event_type(&topic, b"{}").as_deref(),
        Some("orders/create")
    );
}

fn encode_form(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                char::from(*b).to_string()
            }
            b' ' => "+".to_owned(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[test]
fn slack_reads_the_outer_type() {
    let slack = profile("slack");
    let sample = &slack.event("event_callback").unwrap().sample;
    assert_eq!(
        slack.event_type(&[], &body(sample)).as_deref(),
        Some("event_callback")
    );
}

/// Every pointer in `value` whose last key names an id, with its value.
fn id_fields(value: &Value, path: String, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let here = format!("{path}/{k}");
                let id_like = k == "id"
                    || k == "uid"
                    || k.ends_with("_id")
                    || k.ends_with("Id")
                    || k.ends_with("_uid");
                let worth = match v {
                    Value::String(s) => {
                        s.bytes().any(|b| b.is_ascii_digit()) && !s.contains(['-', ' '])
                    }
                    Value::Number(n) => n.as_u64().is_some_and(|n| n >= 1000),
                    _ => false,
                };
                if id_like && worth {
                    out.push((here.clone(), v.clone()));
                }
                id_fields(v, here, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                id_fields(v, format!("{path}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn fresh_samples_match_their_schemas_with_new_ids() {
    let now = Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).unwrap();
    for p in catalog().profiles() {
        for e in &p.events {
            let mut rng = StdRng::seed_from_u64(7);
            let fresh = fresh_sample_at(p, e, &mut rng, now);
            let where_ = format!("{}/{}", p.name, e.name);
            assert_ne!(fresh, e.sample, "{where_}");
            let check = p.check_event(&event_headers(p, &e.name), &body(&fresh));
            assert!(check.is_ok(), "{where_}: {:?}\n{fresh:#}", check.problems);
            assert_eq!(check.event.as_deref(), Some(e.name.as_str()));
            let mut ids = Vec::new();
            id_fields(&e.sample, String::new(), &mut ids);
            for (pointer, old) in ids {
                assert_ne!(
                    fresh.pointer(&pointer),
                    Some(&old),
                    "{where_}{pointer} kept {old}"
                );
            }
            let again = fresh_sample_at(p, e, &mut StdRng::seed_from_u64(7), now);
            assert_eq!(fresh, again, "{where_} is not deterministic");
            let other = fresh_sample_at(p, e, &mut StdRng::seed_from_u64(8), now);
            assert_ne!(fresh, other, "{where_} ignores the rng");
        }
    }
}

#[test]
fn fresh_avara_ids_keep_their_formats_and_links() {
    let avara = profile("avara");
    let now = Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).unwrap();
    let event = avara.event("report.delivered").unwrap();
    let fresh = fresh_sample_at(&avara, event, &mut StdRng::seed_from_u64(1), now);
    for (field, prefix) in [
        ("/id", "whe_"),
        ("/data/reportId", "rep_"),
        ("/data/studyId", "stu_"),
    ] {
        let id = fresh.pointer(field).unwrap().as_str().unwrap();
        let hex = id.strip_prefix(prefix).unwrap();
        assert!(
            hex.len() == 32 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
            "{id}"
        );
    }
    let report_id = fresh["data"]["reportId"].as_str().unwrap();
    assert!(fresh["data"]["presignedUrl"]
        .as_str()
        .unwrap()
        .contains(report_id));

    let sc = avara.event("secondary_capture.access_requested").unwrap();
    let fresh = fresh_sample_at(&avara, sc, &mut StdRng::seed_from_u64(1), now);
    let uids: Vec<&str> = ["studyInstanceUid", "seriesInstanceUid", "sopInstanceUid"]
        .iter()
        .map(|k| fresh["data"][k].as_str().unwrap())
        .collect();
    for uid in &uids {
        let decimal = uid.strip_prefix("2.25.").unwrap();
        assert!(
            decimal.parse::<u128>().is_ok() && !decimal.starts_with('0') && uid.len() <= 64,
            "{uid}"
        );
    }
    assert!(uids[0] != uids[1] && uids[1] != uids[2]);
    let study = avara.event("study.access_requested").unwrap();
    let again = fresh_sample(&avara, study, &mut rand::rng());
    assert!(avara.check_event(&[], &body(&again)).is_ok());
}

#[test]
fn fresh_timestamps_move_together_to_now() {
    let now = Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).unwrap();
    let stripe = profile("stripe");
    let checkout = stripe.event("checkout.session.completed").unwrap();
    let fresh = fresh_sample_at(&stripe, checkout, &mut StdRng::seed_from_u64(3), now);
    let created = fresh["created"].as_i64().unwrap();
    assert_eq!(created, now.timestamp());
    let expires = fresh["data"]["object"]["expires_at"].as_i64().unwrap();
    let sample = &checkout.sample;
    assert_eq!(
        expires - created,
        sample["data"]["object"]["expires_at"].as_i64().unwrap()
            - sample["created"].as_i64().unwrap()
    );

    let avala = profile("avala");
    let done = avala.event("task.completed").unwrap();
    let fresh = fresh_sample_at(&avala, done, &mut StdRng::seed_from_u64(3), now);
    assert_eq!(fresh["created_at"], "2030-01-02T03:04:05Z");
    assert_eq!(fresh["data"]["completed_at"], "2030-01-02T03:04:00Z");

    let shopify = profile("shopify");
    let order = shopify.event("orders/create").unwrap();
    let fresh = fresh_sample_at(&shopify, order, &mut StdRng::seed_from_u64(3), now);
    assert_eq!(fresh["updated_at"], "2030-01-01T23:04:05-04:00");
    let id = fresh["id"].as_u64().unwrap();
    assert_eq!(
        fresh["admin_graphql_api_id"],
        format!("gid://shopify/Order/{id}")
    );

    let slack = profile("slack");
    let callback = slack.event("event_callback").unwrap();
    let fresh = fresh_sample_at(&slack, callback, &mut StdRng::seed_from_u64(3), now);
    assert_eq!(fresh["event_time"], now.timestamp());
    assert_eq!(
        fresh["event"]["event_ts"],
        format!("{}.000200", now.timestamp())
    );
    let user = fresh["authorizations"][0]["user_id"].as_str().unwrap();
    assert!(user.starts_with('U') && fresh["event"]["text"].as_str().unwrap().contains(user));
}

#[test]
fn fresh_samples_sign_and_verify_with_their_scheme() {
    let now = Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).unwrap();
    for p in catalog().profiles() {
        let secret = match p.scheme {
            signature::Scheme::StandardWebhooks { .. } => {
                Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            }
            _ => Secret::new("a-test-secret"),
        };
        let event = &p.events[0];
        let payload = body(&fresh_sample_at(
            p,
            event,
            &mut StdRng::seed_from_u64(5),
            now,
        ));
        let signed = signature::sign(
            &p.scheme,
            &secret,
            &payload,
            "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
            now.timestamp(),
        )
        .unwrap();
        let mut h: Vec<(String, Vec<u8>)> = signed
            .into_iter()
            .map(|(n, v)| (n, v.into_bytes()))
            .collect();
        h.extend(event_headers(p, &event.name));
        let verdict = signature::verify(&p.name, &p.scheme, &h, &payload, &secret, now.timestamp());
        assert_eq!(
            verdict.status,
            Status::Verified,
            "{}: {:?}",
            p.name,
            verdict.reason
        );
        assert_eq!(
            p.event_type(&h, &payload).as_deref(),
            Some(event.name.as_str())
        );
    }
}

#[test]
fn user_files_add_and_override_builtins() {
    let dir = tempfile::tempdir().unwrap();
    let avara = std::fs::read_to_string(format!(
        "{}/assets/providers/avara.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let local = avara
        .replace("answer_time_limit = \"15s\"", "answer_time_limit = \"30s\"")
        .replace("retry_schedule = []", "retry_schedule = [\"10s\", \"1m\"]");
    std::fs::write(dir.path().join("avara.toml"), local).unwrap();
    std::fs::write(
        dir.path().join("acme.toml"),
        "description = \"Acme\"\nevent_type = { header = \"x-acme-event\" }\n[scheme]\nkind = \"hmac\"\nheader = \"x-acme-signature\"\nalgorithm = \"sha512\"\nencoding = \"base64\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
    let catalog = Catalog::load(Some(dir.path())).unwrap();
    let avara = catalog.get("avara").unwrap();
    assert_eq!(avara.answer_time_limit, Some(Duration::from_secs(30)));
    assert_eq!(
        avara.retry_schedule,
        [Duration::from_secs(10), Duration::from_secs(60)]
    );
    assert_eq!(avara.events.len(), 7);
    let acme = catalog.get("acme").unwrap();
    assert_eq!(
        acme.event_type,
        EventTypeSource::Header("x-acme-event".into())
    );
    assert!(catalog.get("stripe").is_some());
    assert_eq!(
        catalog.profiles().count(),
        Catalog::builtin().profiles().count() + 1
    );
    assert!(acme
        .describe()
        .contains("HMAC-SHA512 of the body, base64, no prefix"));
}

#[test]
fn a_broken_user_file_is_named_with_its_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    std::fs::write(
        &path,
        "description = \"x\"\n[scheme]\nkind = \"stripe\"\ntolerance_secs = \"soon\"\n",
    )
    .unwrap();
    let err = Catalog::load(Some(dir.path())).unwrap_err().to_string();
    assert!(err.starts_with(&path.display().to_string()), "{err}");
    assert!(
        err.contains("tolerance_secs") || err.contains("invalid type"),
        "{err}"
    );

    std::fs::write(&path, "description = \"x\"\n[scheme]\nkind = \"github\"\n[[events]]\nname = \"e\"\nsample = '{\"n\": 1}'\nschema = '{\"required\": [\"m\"]}'\n").unwrap();
    let err = Catalog::load(Some(dir.path())).unwrap_err().to_string();
    assert!(
        err.contains("broken.toml")
            && err.contains("sample does not match its schema: body lacks `m`"),
        "{err}"
    );

    std::fs::write(
        &path,
        "name = \"twin\"\ndescription = \"x\"\n[scheme]\nkind = \"github\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("other.toml"),
        "name = \"twin\"\ndescription = \"y\"\n[scheme]\nkind = \"github\"\n",
    )
    .unwrap();
    let err = Catalog::load(Some(dir.path())).unwrap_err().to_string();
    assert!(
        err.contains("other.toml")
            && err.contains("already defined by")
            && err.contains("broken.toml"),
        "{err}"
    );
}

#[test]
fn a_missing_user_dir_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = Catalog::load(Some(&dir.path().join("absent"))).unwrap();
    assert_eq!(
        catalog.profiles().count(),
        Catalog::builtin().profiles().count()
    );
    assert!(Catalog::load(None).is_ok());
}

#[test]
fn describe_lists_scheme_headers_events_and_retries() {
    let text = profile("avara").describe();
    for needle in [
        "avara: ",
        "Standard Webhooks",
        "webhook-id, webhook-timestamp, webhook-signature",
        "whsec_",
        "body field /type",
        "answer within:  15s",
        "no published schedule",
    ] {
        assert!(text.contains(needle), "{needle:?} not in\n{text}");
    }
    let sync_line = text
        .lines()
        .find(|l| l.contains("study.access_requested"))
        .unwrap();
    assert!(sync_line.contains(" sync "), "{sync_line}");
    let async_line = text
        .lines()
        .find(|l| l.contains("report.delivered"))
        .unwrap();
    assert!(!async_line.contains(" sync "), "{async_line}");
    let avala = profile("avala").describe();
    assert!(
        avala.contains("retries:        1m, 5m, 15m, 1h (delay before each retry)")
            && avala.contains("x-avala-signature"),
        "{avala}"
    );
    assert!(profile("github")
        .describe()
        .contains("header x-github-event"));
    assert!(profile("infermedica")
        .describe()
        .contains("x-webhook-infermedica-token"));
}

#[test]
fn summaries_and_request_headers() {
    let avara = profile("avara").summary();
    assert!(
        avara.starts_with("avara ")
            && avara.contains("standard-webhooks")
            && avara.contains("7 events (6 sync)"),
        "{avara}"
    );
    assert!(profile("infermedica").summary().contains("static-token"));
    assert_eq!(
        profile("github").request_headers("push"),
        [
            ("content-type".to_owned(), "application/json".to_owned()),
            ("x-github-event".to_owned(), "push".to_owned())
        ]
    );
    assert_eq!(
        profile("avara").request_headers("report.delivered").len(),
        1
    );
}

#[test]
fn catalog_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Catalog>();
    let catalog = std::sync::Arc::new(catalog());
    let payload = body(&catalog.get("avara").unwrap().events[1].sample);
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (catalog, payload) = (catalog.clone(), payload.clone());
            std::thread::spawn(move || {
                catalog
                    .get("avara")
                    .unwrap()
                    .check_event(&[], &payload)
                    .is_ok()
            })
        })
        .collect();
    assert!(threads.into_iter().all(|t| t.join().unwrap()));
}

fn arbitrary_headers() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    let names = prop_oneof![
        Just("x-github-event".to_owned()),
        Just("x-shopify-topic".to_owned()),
        Just("content-type".to_owned()),
        "[a-z-]{1,12}",
    ];
    let values = prop_oneof![
        Just(b"push".to_vec()),
        Just(b"orders/create".to_vec()),
        Just(b"application/x-www-form-urlencoded".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..24),
    ];
    proptest::collection::vec((names, values), 0..4)
}

fn arbitrary_body() -> impl Strategy<Value = Vec<u8>> {
    let samples: Vec<Vec<u8>> = catalog()
        .profiles()
        .flat_map(|p| p.events.iter().map(|e| body(&e.sample)).collect::<Vec<_>>())
        .collect();
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        (
            proptest::sample::select(samples),
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 0..8)
        )
            .prop_map(|(mut body, at, junk)| {
                let at = at % (body.len() + 1);
                body.splice(at..at, junk);
                body
            }),
        "payload=[%-~]{0,40}".prop_map(String::into_bytes),
        "\\{\"(type|event_type)\": ?(\"[a-z._/]{0,30}\"|[0-9]|null|\\[\\]|\\{\\})\\}"
            .prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn checks_never_panic(h in arbitrary_headers(), b in arbitrary_body(), status in any::<u16>()) {
        for p in catalog().profiles() {
            let _ = p.event_type(&h, &b);
            let check = p.check_event(&h, &b);
            if check.event.is_none() {
                prop_assert!(check.problems.is_empty());
            }
            for e in &p.events {
                let _ = p.check_answer(&e.name, status, &b, b"{}");
            }
        }
    }

    #[test]
    fn set_field_never_panics(path in "[a-z0-9./~]{0,16}", value in ".{0,16}") {
        let mut payload = profile("avara").events[0].sample.clone();
        let _ = set_field(&mut payload, &format!("{path}={value}"));
    }
}
