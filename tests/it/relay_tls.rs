//! The relay over TLS (rustls): HTTPS for providers, wss:// for listeners, with a self-signed
//! certificate made for 127.0.0.1 in the test.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use webhook_dev::relay::client::load_extra_roots;
use webhook_dev::relay::tls;
use webhook_dev::relay_state::RelayState;

use crate::support::common::{parse_response, Answer, Handler, RawResponse};
use crate::support::relay::*;

/// Writes a self-signed certificate for 127.0.0.1 and its key as PEM files.
fn self_signed(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let cert = dir.join("relay.crt");
    let key = dir.join("relay.key");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    (cert, key)
}

async fn https_post(addr: SocketAddr, ca: &Path, path: &str, body: &[u8]) -> RawResponse {
    let config = tls::client_config(&load_extra_roots(Some(&ca.to_path_buf())).unwrap()).unwrap();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut stream = tokio_rustls::TlsConnector::from(config)
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .unwrap();
    let mut raw = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    stream.write_all(&raw).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    parse_response(&out).unwrap_or_else(|| panic!("no answer: {:?}", String::from_utf8_lossy(&out)))
}

#[tokio::test]
async fn https_providers_and_wss_listeners_round_trip() {
    let handler = Handler::start(Answer::ok("{\"tls\":true}")).await;
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let server_tls = tls::server_config(&cert, &key).unwrap();
    let relay_dir = dir.path().join("relay");
    let relay = RunningRelay::start_with(&relay_dir, relay_config(), Some(server_tls)).await;
    let url = relay.url("acme");
    assert!(url.is_tls());
    let mut config = client_config(url, token("acme"));
    config.extra_roots = load_extra_roots(Some(&cert)).unwrap();
    let mut listener =
        RunningListener::start(&dir.path().join("listener"), config, Some(handler.addr)).await;
    listener.connected().await;

    let answer = https_post(relay.addr, &cert, "/acme/secure?x=1", b"{\"a\":1}").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.body, b"{\"tls\":true}");
    assert_eq!(handler.seen()[0].uri, "/secure?x=1");
    listener.requests(1).await;
    listener.stop().await;
    relay.stop().await;
}

#[tokio::test]
async fn an_untrusted_certificate_is_reported_and_retried() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let server_tls = tls::server_config(&cert, &key).unwrap();
    let relay =
        RunningRelay::start_with(&dir.path().join("relay"), relay_config(), Some(server_tls)).await;
    // No --relay-ca: the self-signed certificate is not trusted.
    let mut listener = RunningListener::start(
        &dir.path().join("listener"),
        client_config(relay.url("acme"), token("acme")),
        None,
    )
    .await;
    let RelayState::Reconnecting { reason, .. } = listener
        .state(|s| matches!(s, RelayState::Reconnecting { .. }))
        .await
    else {
        unreachable!()
    };
    assert!(reason.contains("TLS handshake failed"), "{reason}");
    assert!(reason.to_lowercase().contains("certificate"), "{reason}");
    listener.stop().await;
    relay.stop().await;
}

#[tokio::test]
async fn plain_http_to_a_tls_relay_is_dropped_and_the_relay_stays_up() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let mut config = relay_config();
    config.open_channels = true;
    let relay = RunningRelay::start_with(
        &dir.path().join("relay"),
        config,
        Some(tls::server_config(&cert, &key).unwrap()),
    )
    .await;
    let mut tcp = TcpStream::connect(relay.addr).await.unwrap();
    tcp.write_all(b"POST /acme HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut out)).await;
    assert!(!out.starts_with(b"HTTP/1.1 2"), "no plain HTTP answer");
    let answer = https_post(relay.addr, &cert, "/acme/after", b"{}").await;
    assert_eq!(answer.status, 202, "{}", answer.text());
    relay.stop().await;
}

#[test]
fn bad_certificate_files_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let err = tls::server_config(&missing, &missing).unwrap_err();
    assert!(format!("{err:#}").contains("missing.pem"), "{err:#}");
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    let err = load_extra_roots(Some(&not_pem)).unwrap_err();
    assert!(format!("{err:#}").contains("no PEM certificate"), "{err:#}");
}
