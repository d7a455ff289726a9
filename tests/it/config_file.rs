//! The config file found by itself: `./webhook-dev.toml` or `$WEBHOOK_DEV_CONFIG`, used by every
//! command (listen, verify, replay --resign); `--config none`; `webhook-dev config`; and
//! `profiles FILE`.

use std::path::Path;

use serde_json::json;

use crate::support::common::*;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn write_config(dir: &Path) {
    std::fs::write(
        dir.join("webhook-dev.toml"),
        "[[routes]]\npath = \"/hooks/sw\"\nprofile = \"standard-webhooks\"\nsecret = \"env:CONFIG_TEST_SECRET\"\n\n[[routes]]\npath = \"/hooks/literal\"\nprofile = \"avala\"\nsecret = \"a-literal-secret-value\"\n",
    )
    .unwrap();
}

/// A fixture of a Standard Webhooks request signed an hour ago (so only a re-signed copy passes).
fn stale_fixture(dir: &Path) -> std::path::PathBuf {
    let body =
        br#"{"type":"contact.created","timestamp":"2026-12-05T20:00:00Z","data":{"id":"c_1"}}"#;
    let signed = webhook_dev::signature::sign(
        &webhook_dev::signature::Scheme::StandardWebhooks {
            header_prefix: "webhook".into(),
            tolerance_secs: 300,
        },
        &webhook_dev::signature::Secret::new(SECRET),
        body,
        "msg_config",
        chrono::Utc::now().timestamp() - 3600,
    )
    .unwrap();
    let mut headers = vec![json!(["content-type", "application/json"])];
    headers.extend(signed.iter().map(|(n, v)| json!([n, v])));
    let file = dir.join("stale.json");
    let fixture = json!({
        "webhook_dev_fixture": 1, "method": "POST", "path": "/hooks/sw",
        "headers": headers, "body": {"encoding": "utf8", "data": std::str::from_utf8(body).unwrap()}
    });
    std::fs::write(&file, fixture.to_string()).unwrap();
    file
}

fn run_in(dir: &Path, store: &Path, args: &[&str]) -> std::process::Output {
    cli(store)
        .current_dir(dir)
        .env_remove("WEBHOOK_DEV_CONFIG")
        .env("CONFIG_TEST_SECRET", SECRET)
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_finds_webhook_dev_toml_in_the_current_directory() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    write_config(dir.path());
    let fixture = stale_fixture(dir.path());
    let fixture = fixture.to_str().unwrap();

    let checked = run_in(dir.path(), &store, &["verify", fixture, "--json"]);
    let verdict: serde_json::Value = serde_json::from_slice(&checked.stdout).unwrap();
    // The route's profile and secret were used: the signature matches, an hour ago.
    assert_eq!(verdict["signature"]["status"], "expired", "{verdict}");
    assert_eq!(verdict["signature"]["profile"], "standard-webhooks");

    let off = run_in(
        dir.path(),
        &store,
        &["verify", fixture, "--json", "--config", "none"],
    );
    let verdict: serde_json::Value = serde_json::from_slice(&off.stdout).unwrap();
    assert_eq!(verdict["signature"]["status"], "unchecked", "{verdict}");

    let handler = Handler::start(Answer::ok("{}")).await;
    assert!(run_in(dir.path(), &store, &["import", fixture])
        .status
        .success());
    let listed = run_in(dir.path(), &store, &["requests", "list", "--json"]);
    let id = ndjson(&listed.stdout)[0]["id"].as_str().unwrap().to_owned();
    let replayed = run_in(
        dir.path(),
        &store,
        &["replay", &id, "--resign", "--to", &handler.addr.to_string()],
    );
    assert!(
        replayed.status.success(),
        "{}",
        String::from_utf8_lossy(&replayed.stderr)
    );
    let seen = handler.seen().pop().unwrap();
    let verdict = webhook_dev::signature::verify(
        "standard-webhooks",
        &webhook_dev::signature::Scheme::StandardWebhooks {
            header_prefix: "webhook".into(),
            tolerance_secs: 300,
        },
        &seen.headers,
        &seen.body,
        &webhook_dev::signature::Secret::new(SECRET),
        chrono::Utc::now().timestamp(),
    );
    assert_eq!(
        verdict.status,
        webhook_dev::signature::Status::Verified,
        "re-signed with the route's secret: {verdict:?}"
    );
}

#[test]
fn config_shows_where_things_come_from_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    write_config(dir.path());
    let shown = run_in(dir.path(), &store, &["config"]);
    let text = String::from_utf8(shown.stdout).unwrap();
    assert!(
        text.contains("config file:  webhook-dev.toml (webhook-dev.toml in the current directory)"),
        "{text}"
    );
    assert!(
        text.contains("route /hooks/sw") && text.contains("env:CONFIG_TEST_SECRET (set)"),
        "{text}"
    );
    assert!(
        !text.contains("a-literal-secret-value") && text.contains("<redacted>"),
        "{text}"
    );

    let elsewhere = tempfile::tempdir().unwrap();
    let from_env = cli(&store)
        .current_dir(elsewhere.path())
        .env("WEBHOOK_DEV_CONFIG", dir.path().join("webhook-dev.toml"))
        .arg("config")
        .output()
        .unwrap();
    let text = String::from_utf8(from_env.stdout).unwrap();
    assert!(
        text.contains("($WEBHOOK_DEV_CONFIG)") && text.contains("env:CONFIG_TEST_SECRET (NOT SET)"),
        "{text}"
    );
    let none = run_in(elsewhere.path(), &store, &["config"]);
    assert!(String::from_utf8(none.stdout)
        .unwrap()
        .contains("config file:  none"));
    let broken = cli(&store)
        .current_dir(elsewhere.path())
        .env("WEBHOOK_DEV_CONFIG", elsewhere.path().join("absent.toml"))
        .arg("config")
        .output()
        .unwrap();
    assert!(!broken.status.success());
    assert!(String::from_utf8_lossy(&broken.stderr).contains("$WEBHOOK_DEV_CONFIG names"));
}

#[test]
fn profiles_describes_a_profile_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("acme.toml");
    std::fs::write(
        &file,
        "description = \"Acme test hooks\"\n[scheme]\nkind = \"hmac\"\nheader = \"x-acme-signature\"\nalgorithm = \"sha256\"\nencoding = \"hex\"\n[[events]]\nname = \"thing.done\"\nsample = '{\"type\": \"thing.done\"}'\n",
    )
    .unwrap();
    let out = cli(&dir.path().join("store"))
        .args(["profiles"])
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.starts_with("acme: Acme test hooks") && text.contains("thing.done"),
        "{text}"
    );
}

#[test]
fn listen_trigger_and_profiles_use_the_config_files_profile_directory_and_routes() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir(dir.path().join("providers")).unwrap();
    std::fs::write(
        dir.path().join("providers/acme.toml"),
        "description = \"Acme test hooks\"\nevent_type = { field = \"/type\" }\n[scheme]\nkind = \"hmac\"\nheader = \"x-acme-signature\"\nalgorithm = \"sha256\"\nencoding = \"hex\"\n[[events]]\nname = \"thing.done\"\nsample = '{\"type\": \"thing.done\"}'\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("webhook-dev.toml"),
        "providers = \"./providers\"\n[[routes]]\npath = \"/hooks/acme\"\nprofile = \"acme\"\nsecret = \"env:ACME_SECRET\"\n",
    )
    .unwrap();
    let in_dir = |args: &[&str]| {
        let mut command = cli(&store);
        command
            .current_dir(dir.path())
            .env_remove("WEBHOOK_DEV_CONFIG")
            .env("ACME_SECRET", "acme-secret-value")
            .args(args);
        command
    };

    let listed = in_dir(&["profiles"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("Acme test hooks"),
        "profiles lists the config's profile directory: {}",
        String::from_utf8_lossy(&listed.stderr)
    );

    let (mut listen, addr, mut lines) = listen_json_from(in_dir(&[]), &[]);

    let triggered = in_dir(&[
        "trigger",
        "acme",
        "thing.done",
        "--to",
        &format!("http://{addr}/hooks/acme"),
        "--secret",
        "env:ACME_SECRET",
        "--retry-schedule",
        "none",
    ])
    .output()
    .unwrap();
    assert!(
        triggered.status.success(),
        "trigger finds the config's profile: {}",
        String::from_utf8_lossy(&triggered.stderr)
    );
    let request: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    listen.kill().unwrap();
    listen.wait().unwrap();
    assert_eq!(request["event_type"], "thing.done", "{request}");
    assert_eq!(
        request["signature"]["status"], "verified",
        "listen checks with the config's route: {request}"
    );
    assert_eq!(request["signature"]["profile"], "acme");
}
