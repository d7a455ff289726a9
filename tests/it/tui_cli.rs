//! `inspect` outside a terminal explains itself instead of drawing into a pipe.

use assert_cmd::Command;

#[test]
fn inspect_needs_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::cargo_bin("webhook-dev")
        .unwrap()
        .env_remove("WEBHOOK_DEV_STORE")
        .arg("--store")
        .arg(dir.path())
        .arg("inspect")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("inspect needs a terminal"), "{stderr}");
    assert!(stderr.contains("requests list"), "{stderr}");
}
