//! `https://` handlers: trusted through --forward-ca or --forward-insecure, refused with advice
//! otherwise; and `localhost` reaching a handler bound to `::1` or to `127.0.0.1`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::support::common::*;

/// A self-signed certificate for localhost, 127.0.0.1 and ::1, as PEM files.
fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let names = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    let certified = rcgen::generate_simple_self_signed(names).unwrap();
    let cert = dir.join("handler.crt");
    let key = dir.join("handler.key");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    (cert, key)
}

/// An HTTPS handler on 127.0.0.1:0 that answers 200 with the body it got.
async fn https_handler(cert: &Path, key: &Path) -> SocketAddr {
    let config = webhook_dev::relay::tls::server_config(cert, key).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = service_fn(
                    |request: hyper::Request<hyper::body::Incoming>| async move {
                        let body = request.into_body().collect().await?.to_bytes();
                        let mut echoed = b"tls:".to_vec();
                        echoed.extend_from_slice(&body);
                        Ok::<_, hyper::Error>(hyper::Response::new(Full::new(Bytes::from(echoed))))
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    addr
}

/// `listen --json` with `args`; returns the child and its address.
fn listen(store: &Path, args: &[&str]) -> (Child, String) {
    let (child, addr, _) = listen_json(store, args);
    (child, addr)
}

async fn post(addr: &str) -> RawResponse {
    let raw = send_raw(
        addr.parse().unwrap(),
        b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
    )
    .await;
    parse_response(&raw).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_handlers_are_trusted_as_told_and_a_refusal_says_what_to_pass() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let handler = https_handler(&cert, &key).await;
    let target = format!("https://localhost:{}", handler.port());

    let (mut untrusted, addr) = listen(&dir.path().join("a"), &["--forward", &target]);
    let refused = post(&addr).await;
    assert_eq!(refused.status, 502);
    let text = refused.text();
    assert!(
        text.contains("certificate not trusted")
            && text.contains("--forward-ca")
            && text.contains("--forward-insecure"),
        "{text}"
    );
    untrusted.kill().unwrap();

    let ca = cert.to_str().unwrap();
    let (mut trusted, addr) = listen(
        &dir.path().join("b"),
        &["--forward", &target, "--forward-ca", ca],
    );
    let answer = post(&addr).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.text(), "tls:{}");
    trusted.kill().unwrap();

    let triggered = cli(&dir.path().join("t"))
        .args([
            "trigger",
            "avala",
            "task.completed",
            "--to",
            &target,
            "--secret",
            "s",
        ])
        .args(["--retry-schedule", "none", "--forward-ca", ca])
        .output()
        .unwrap();
    assert!(
        triggered.status.success(),
        "{}",
        String::from_utf8_lossy(&triggered.stderr)
    );

    let (mut insecure, addr) = listen(
        &dir.path().join("c"),
        &["--forward", &target, "--forward-insecure"],
    );
    assert_eq!(post(&addr).await.text(), "tls:{}");
    insecure.kill().unwrap();

    let (mut wrong_ca, _) = (
        cli(&dir.path().join("d"))
            .args([
                "listen",
                "--addr",
                "127.0.0.1:0",
                "--json",
                "--forward",
                &target,
                "--forward-ca",
            ])
            .arg(dir.path().join("absent.pem"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        (),
    );
    let status = wrong_ca.wait().unwrap();
    assert!(
        !status.success(),
        "a missing --forward-ca file stops listen"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn localhost_reaches_a_handler_on_either_loopback_family() {
    let dir = tempfile::tempdir().unwrap();
    for bind in ["[::1]:0", "127.0.0.1:0"] {
        let Ok(listener) = TcpListener::bind(bind).await else {
            panic!("cannot bind {bind}: this test needs IPv6 and IPv4 loopback");
        };
        let port = listener.local_addr().unwrap().port();
        let handler = Arc::new(Handler::start_on(listener, Answer::ok("{\"family\":true}")).await);
        let (mut child, addr) = listen(
            &dir.path().join(bind.replace([':', '[', ']', '.'], "_")),
            &["--forward", &format!("localhost:{port}")],
        );
        let answer = post(&addr).await;
        assert_eq!(answer.status, 200, "{bind}: {}", answer.text());
        assert_eq!(handler.seen().len(), 1, "{bind}");
        child.kill().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_config_routes_and_trigger_deliveries_speak_https_as_listen_does() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let handler = https_handler(&cert, &key).await;
    let target = format!("https://localhost:{}", handler.port());
    let ca = cert.to_str().unwrap();
    let store = dir.path().join("store");

    // A config route forwarding to the https handler, found in the current directory.
    std::fs::write(
        dir.path().join("webhook-dev.toml"),
        format!("[[routes]]\npath = \"/hooks\"\nforward = \"{target}\"\n"),
    )
    .unwrap();
    let mut in_dir = cli(&store);
    in_dir
        .current_dir(dir.path())
        .env_remove("WEBHOOK_DEV_CONFIG");
    let (mut listen, addr, mut lines) = listen_json_from(in_dir, &["--forward-ca", ca]);
    let raw = send_raw(
        addr.parse().unwrap(),
        b"POST /hooks/a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
    )
    .await;
    let answer = parse_response(&raw).unwrap();
    assert_eq!(answer.text(), "tls:{}", "the route's https target answered");
    let _ = lines.next();
    listen.kill().unwrap();
    listen.wait().unwrap();

    let listed = cli(&store)
        .args(["requests", "list", "--json"])
        .output()
        .unwrap();
    let id = ndjson(&listed.stdout)[0]["id"].as_str().unwrap().to_owned();
    let replayed = cli(&store)
        .args(["replay", &id, "--to", &target, "--forward-ca", ca])
        .output()
        .unwrap();
    assert!(
        replayed.status.success(),
        "replay --to https with --forward-ca: {}",
        String::from_utf8_lossy(&replayed.stderr)
    );
    let refused = cli(&store)
        .args(["replay", &id, "--to", &target])
        .output()
        .unwrap();
    assert!(
        !refused.status.success(),
        "an untrusted certificate fails the replay"
    );

    let untrusted = cli(&store)
        .args(["trigger", "avala", "task.completed", "--to", &target])
        .args(["--secret", "s", "--retry-schedule", "none", "--json"])
        .output()
        .unwrap();
    assert!(!untrusted.status.success());
    let deliveries = cli(&store)
        .args(["deliveries", "list", "--json", "--status", "failed"])
        .output()
        .unwrap();
    let failed = ndjson(&deliveries.stdout);
    let trigger = failed
        .iter()
        .find(|d| d["kind"] == "trigger")
        .expect("the trigger's delivery is logged");
    assert!(trigger["response_status_code"].is_null(), "{trigger}");
    let error = trigger["error_message"].as_str().unwrap();
    assert!(
        error.contains("--forward-ca") && error.contains("--forward-insecure"),
        "the delivery log says what to pass: {error}"
    );
}
