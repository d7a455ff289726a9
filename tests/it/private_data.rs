//! Data at rest is private: the store directory 0700 and its files 0600 whatever the umask, the
//! relay queue too; an existing store open to others is warned about; a literal secret on the
//! command line, or a secret file others can read, gets a warning.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::support::common::*;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The binary run under `umask 022`, as a default shell would.
fn under_umask(store: &Path, args: &[&str]) -> std::process::Output {
    let bin = assert_cmd::cargo::cargo_bin("webhook-dev");
    let mut script = format!(
        "umask 022; exec '{}' --store '{}'",
        bin.display(),
        store.display()
    );
    for arg in args {
        script.push_str(&format!(" '{arg}'"));
    }
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .env_remove("WEBHOOK_DEV_STORE")
        .output()
        .unwrap()
}

fn fixture(dir: &Path) -> String {
    let file = dir.join("f.json");
    std::fs::write(
        &file,
        r#"{"webhook_dev_fixture":1,"method":"POST","path":"/h","headers":[["content-type","application/json"]],"body":{"encoding":"utf8","data":"{}"}}"#,
    )
    .unwrap();
    file.to_str().unwrap().to_owned()
}

#[test]
fn the_store_is_private_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("nested").join("store");
    let file = fixture(dir.path());
    let out = under_umask(&store, &["import", &file]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&store), 0o700);
    for entry in std::fs::read_dir(&store).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    assert!(store.join("webhook-dev.sqlite3").exists());

    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = under_umask(&store, &["import", &file]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("can be read by other users (mode 755)")
            && stderr.contains(&format!("chmod 700 {}", store.display())),
        "{stderr}"
    );
}

#[test]
fn the_relay_queue_is_private_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let queue_dir = dir.path().join("relay");
    // umask is process-wide: no other test changes it, and the modes they check are set
    // explicitly, whatever the umask.
    let previous = unsafe_umask(0o022);
    let opened =
        webhook_dev::relay::queue::Queue::open(&queue_dir, webhook_dev::store::Durability::Process);
    unsafe_umask(previous);
    drop(opened.unwrap());
    assert_eq!(mode(&queue_dir), 0o700);
    for entry in std::fs::read_dir(&queue_dir).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
}

fn unsafe_umask(mask: u32) -> u32 {
    // libc::umask cannot fail; it is an FFI call, hence unsafe.
    #[allow(unsafe_code)]
    unsafe {
        libc::umask(mask as libc::mode_t) as u32
    }
}

#[test]
fn literal_secrets_and_open_secret_files_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let file = fixture(dir.path());
    let out = cli(&store)
        .args([
            "verify",
            &file,
            "--profile",
            "avala",
            "--secret",
            "a-literal-secret",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--secret was given literally") && stderr.contains("env:VAR"),
        "{stderr}"
    );
    assert!(!stderr.contains("a-literal-secret"), "{stderr}");

    let secret = dir.path().join("secret.txt");
    std::fs::write(&secret, "s3cret\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let spec = format!("file:{}", secret.display());
    let out = cli(&store)
        .args(["verify", &file, "--profile", "avala", "--secret", &spec])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("given literally"), "{stderr}");
    assert!(
        stderr.contains("secret file") && stderr.contains("chmod 600"),
        "{stderr}"
    );
}

#[test]
fn exports_redact_credential_headers_and_query_parameters_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let file = dir.path().join("creds.json");
    std::fs::write(
        &file,
        r#"{"webhook_dev_fixture":1,"method":"POST","path":"/h?access_token=tok_live_1&page=2","headers":[["content-type","application/json"],["x-api-key","key_live_2"],["x-session-id","sess_3"]],"body":{"encoding":"utf8","data":"{}"}}"#,
    )
    .unwrap();
    assert!(cli(&store)
        .arg("import")
        .arg(&file)
        .status()
        .unwrap()
        .success());
    let listed = cli(&store)
        .args(["requests", "list", "--json"])
        .output()
        .unwrap();
    let id = ndjson(&listed.stdout)[0]["id"].as_str().unwrap().to_owned();
    for format in ["curl", "har", "fixture"] {
        let out = cli(&store)
            .args(["export", &id, "--format", format])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        for secret in ["tok_live_1", "key_live_2", "sess_3"] {
            assert!(!text.contains(secret), "{format} shows {secret}: {text}");
        }
        assert!(
            text.contains("page=2") && text.contains("access_token=REDACTED"),
            "{format}: {text}"
        );
        let kept = cli(&store)
            .args(["export", &id, "--format", format, "--no-redact"])
            .output()
            .unwrap();
        let kept = String::from_utf8_lossy(&kept.stdout);
        assert!(
            kept.contains("tok_live_1") && kept.contains("key_live_2"),
            "{format}: {kept}"
        );
    }
}
