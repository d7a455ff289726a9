//! Shared test fixtures: a recording handler, a running capture server, a raw HTTP client.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

use webhook_dev::capture::{self, Limits};
use webhook_dev::checks::Checks;
use webhook_dev::engine::{Engine, EngineConfig, EngineEvent, FixedAnswer};
use webhook_dev::forward::Forwarder;
use webhook_dev::store::{Durability, Store, StoreReader};

/// What the handler saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub uri: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Bytes,
}

impl Seen {
    pub fn header_values(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .collect()
    }
}

/// How the test handler answers.
#[derive(Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, &'static str)>,
    pub body: Bytes,
    pub delay: Duration,
}

impl Answer {
    pub fn ok(body: &'static str) -> Self {
        Self {
            status: 200,
            headers: vec![("content-type", "application/json")],
            body: Bytes::from_static(body.as_bytes()),
            delay: Duration::ZERO,
        }
    }
}

/// A handler on 127.0.0.1:0 that records every request and answers with `answer`.
pub struct Handler {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl Handler {
    pub async fn start(answer: Answer) -> Handler {
        Self::start_on(TcpListener::bind("127.0.0.1:0").await.unwrap(), answer).await
    }

    /// A handler on a listener the test bound (another address family, a known port).
    pub async fn start_on(listener: TcpListener, answer: Answer) -> Handler {
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorded = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let recorded = recorded.clone();
                let answer = answer.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let recorded = recorded.clone();
                        let answer = answer.clone();
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body.collect().await.unwrap().to_bytes();
                            recorded.lock().unwrap().push(Seen {
                                method: parts.method.to_string(),
                                uri: parts.uri.to_string(),
                                headers: parts
                                    .headers
                                    .iter()
                                    .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
                                    .collect(),
                                body,
                            });
                            tokio::time::sleep(answer.delay).await;
                            let mut response = Response::new(Full::new(answer.body.clone()));
                            *response.status_mut() =
                                hyper::StatusCode::from_u16(answer.status).unwrap();
                            for (n, v) in &answer.headers {
                                response.headers_mut().append(*n, v.parse().unwrap());
                            }
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Handler { addr, seen }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// A capture server over a temporary store.
pub struct Listening {
    pub addr: SocketAddr,
    pub store: Store,
    pub store_dir: PathBuf,
    pub events: mpsc::UnboundedReceiver<EngineEvent>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

/// How to start the capture server in a test.
pub struct Setup {
    pub forward: Option<String>,
    pub timeout: Duration,
    pub limits: Limits,
    pub respond: FixedAnswer,
    pub checks: Checks,
    /// `Process` (the default) lets a lone request commit on its own thread; `Power` sends every
    /// write to the writer thread.
    pub durability: Durability,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            forward: None,
            timeout: Duration::from_secs(5),
            limits: Limits {
                header_timeout: Duration::from_secs(10),
                body_timeout: Duration::from_secs(10),
                shutdown_grace: Duration::from_secs(5),
                ..Limits::default()
            },
            respond: FixedAnswer::default(),
            checks: Checks::default(),
            durability: Durability::Process,
        }
    }
}

impl Setup {
    pub fn forwarding_to(addr: SocketAddr) -> Self {
        Self {
            forward: Some(format!("http://{addr}")),
            ..Self::default()
        }
    }

    pub async fn start(self) -> Listening {
        let dir = tempfile::tempdir().unwrap();
        let store_dir = dir.path().join("store");
        let store = Store::open(&store_dir, self.durability).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (events_tx, events) = mpsc::unbounded_channel();
        let forwarder = self
            .forward
            .map(|t| Forwarder::new(t.parse().unwrap(), self.timeout));
        let engine = Arc::new(Engine::new(
            store.clone(),
            EngineConfig {
                forwarder,
                respond: self.respond,
                checks: self.checks,
            },
            events_tx,
        ));
        let (stop, stopped) = oneshot::channel::<()>();
        let limits = self.limits;
        let server = tokio::spawn(async move {
            capture::serve(listener, engine, limits, async {
                let _ = stopped.await;
            })
            .await;
        });
        Listening {
            addr,
            store,
            store_dir,
            events,
            stop: Some(stop),
            server: Some(server),
            _dir: dir,
        }
    }
}

impl Listening {
    pub fn reader(&self) -> StoreReader {
        StoreReader::open(&self.store_dir).unwrap()
    }

    /// The ids of every stored request, oldest first.
    pub fn ids(&self) -> Vec<String> {
        self.reader()
            .list(None)
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect()
    }

    /// Waits for `n` request events (each emitted once the answer is committed).
    pub async fn requests_done(&mut self, n: usize) -> Vec<EngineEvent> {
        let mut got = Vec::new();
        while got.len() < n {
            let event = tokio::time::timeout(Duration::from_secs(10), self.events.recv())
                .await
                .expect("request events arrive")
                .expect("the engine is alive");
            if matches!(event, EngineEvent::Request(_)) {
                got.push(event);
            }
        }
        got
    }

    /// Shuts down (see [`Listening::shutdown`]) and hands back the engine's event channel.
    pub async fn shutdown_keeping_events(mut self) -> mpsc::UnboundedReceiver<EngineEvent> {
        let (_, events) = mpsc::unbounded_channel();
        let events = std::mem::replace(&mut self.events, events);
        self.shutdown().await;
        events
    }

    /// Stops accepting, waits for requests in flight, flushes the store.
    pub async fn shutdown(mut self) -> (StoreReader, tempfile::TempDir) {
        let _ = self.stop.take().unwrap().send(());
        self.server.take().unwrap().await.unwrap();
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.close())
            .await
            .unwrap();
        (StoreReader::open(&self.store_dir).unwrap(), self._dir)
    }
}

/// A parsed HTTP/1 answer.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Parses a response read to EOF (bodies with Content-Length).
pub fn parse_response(raw: &[u8]) -> Option<RawResponse> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(": ")
                .map(|(n, v)| (n.to_string(), v.to_string()))
        })
        .collect();
    let mut body = raw[end + 4..].to_vec();
    if let Some(len) = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        body.truncate(len);
    }
    Some(RawResponse {
        status,
        headers,
        body,
    })
}

/// Writes `raw` and reads the whole answer (the request should say `Connection: close`).
pub async fn send_raw(addr: SocketAddr, raw: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(raw).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(15), stream.read_to_end(&mut out))
        .await
        .expect("an answer within 15 s")
        .unwrap_or_else(|err| panic!("reading the answer failed after {} bytes: {err}", out.len()));
    out
}

/// Sends one request with a Content-Length body and `Connection: close`.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> RawResponse {
    let mut raw =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n").into_bytes();
    for (n, v) in headers {
        raw.extend_from_slice(n.as_bytes());
        raw.extend_from_slice(b": ");
        raw.extend_from_slice(v);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    raw.extend_from_slice(body);
    let answer = send_raw(addr, &raw).await;
    parse_response(&answer)
        .unwrap_or_else(|| panic!("unparseable answer: {:?}", String::from_utf8_lossy(&answer)))
}

/// The real binary with its store in `store` (and `$WEBHOOK_DEV_STORE` ignored).
pub fn cli(store: &std::path::Path) -> std::process::Command {
    use assert_cmd::cargo::CommandCargoExt;
    let mut cmd = std::process::Command::cargo_bin("webhook-dev").unwrap();
    cmd.env_remove("WEBHOOK_DEV_STORE")
        .arg("--store")
        .arg(store);
    cmd
}

/// One JSON value per line of `stdout` (NDJSON output of `--json` commands).
pub fn ndjson(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?} is not JSON: {e}"))
        })
        .collect()
}

/// An address where nothing listens.
pub async fn dead_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// The real binary's `listen --addr 127.0.0.1:0 --json` with `args`, once it is listening: the
/// child, its address, and the rest of its NDJSON lines.
pub fn listen_json(
    store: &std::path::Path,
    args: &[&str],
) -> (
    std::process::Child,
    String,
    std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
) {
    listen_json_from(cli(store), args)
}

/// [`listen_json`] from a command already set up (its store, directory, environment).
pub fn listen_json_from(
    mut command: std::process::Command,
    args: &[&str],
) -> (
    std::process::Child,
    String,
    std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
) {
    use std::io::BufRead;
    let mut child = command
        .args(["listen", "--addr", "127.0.0.1:0", "--json"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let listening: serde_json::Value =
        serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(listening["event"], "listening", "{listening}");
    let addr = listening["addr"].as_str().unwrap().to_owned();
    (child, addr, lines)
}
