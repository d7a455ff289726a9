//! The listener's end of the tunnel: `listen --relay ws(s)://RELAY/CHANNEL --relay-token TOKEN`.
//!
//! The client keeps one WebSocket to the relay, reconnecting with exponential backoff and jitter.
//! Each request it receives goes through [`Engine::process`] exactly like a local one (the
//! relay's id and arrival time kept, the path below the channel preserved); the handler's answer
//! goes back to the relay, which returns it to the provider. A request is answered (and so
//! acknowledged) only once it is committed to the store; one that could not be stored is reported
//! as an `error`, and the relay keeps it. A request delivered twice — the relay could not know that
//! the first delivery arrived — is recognised by its id and not handled again.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rand::Rng as _;

use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

use super::protocol::{
    self, next_message, write_frames, ClientMessage, ProtocolError, RelayMessage, TakenOver,
    WireRequest, WireResponse, VERSION,
};
use super::tls;
use super::token::{check_channel, Token};
use crate::engine::{Engine, EngineEvent, RequestHead};
use crate::model::RecordedResponse;
use crate::relay_state::RelayState;
use crate::store::StoreReader;
use crate::sync::lock;

/// The most relayed requests a listener forwards to its handler at once; the rest wait their turn
/// (a relay, trusted or not, cannot make a laptop's handler take hundreds of requests at once).
pub(crate) const MAX_FORWARDS_AT_ONCE: usize = 32;

/// A relay address: `ws://host[:port]/CHANNEL` or `wss://...`; `http(s)://` is taken to mean the
/// same host (what providers are given), so either can be pasted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayUrl {
    tls: bool,
    host: String,
    port: u16,
    channel: String,
}

/// Why a relay address could not be understood.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "invalid relay address {input:?}: {problem} (use ws://HOST:PORT/CHANNEL or wss://HOST/CHANNEL)"
)]
pub struct RelayUrlError {
    input: String,
    problem: String,
}

impl FromStr for RelayUrl {
    type Err = RelayUrlError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |problem: &str| RelayUrlError {
            input: input.to_string(),
            problem: problem.to_string(),
        };
        let uri: hyper::Uri = input.trim().parse().map_err(|_| fail("it is not a URL"))?;
        let tls = match uri.scheme_str() {
            Some("ws" | "http") => false,
            Some("wss" | "https") => true,
            Some(_) => return Err(fail("the scheme must be ws or wss")),
            None => return Err(fail("it has no scheme")),
        };
        let authority = uri.authority().ok_or_else(|| fail("it has no host"))?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if host.is_empty() {
            return Err(fail("it has no host"));
        }
        if uri.query().is_some() {
            return Err(fail("it cannot carry a query"));
        }
        let channel = uri.path().trim_matches('/');
        if channel.is_empty() {
            return Err(fail("it names no channel"));
        }
        check_channel(channel).map_err(|e| fail(&e.to_string()))?;
        Ok(RelayUrl {
            tls,
            host: host.to_string(),
            port: authority.port_u16().unwrap_or(if tls { 443 } else { 80 }),
            channel: channel.to_string(),
        })
    }
}

impl fmt::Display for RelayUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "wss" } else { "ws" };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default_port = if self.tls { 443 } else { 80 };
        if self.port == default_port {
            write!(f, "{scheme}://{host}/{}", self.channel)
        } else {
            write!(f, "{scheme}://{host}:{}/{}", self.port, self.channel)
        }
    }
}

impl RelayUrl {
    /// The channel subscribed to.
    #[cfg(test)]
    pub(crate) fn channel(&self) -> &str {
        &self.channel
    }

    /// Whether the connection uses TLS (`wss://`).
    pub fn is_tls(&self) -> bool {
        self.tls
    }
}

/// Exponential backoff with jitter: attempt `n` waits a random time in `[d/2, d]` where
/// `d = min(initial * 2^n, max)`.
#[derive(Clone, Debug)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    /// Starts at `initial`, never waits more than `max`.
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max: max.max(initial),
            attempt: 0,
        }
    }

    /// The ceiling of the next wait, before jitter.
    fn ceiling(&self) -> Duration {
        let factor = 2u32.saturating_pow(self.attempt.min(20));
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// The next wait.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        let half = ceiling / 2;
        half + half.mul_f64(rand::rng().random::<f64>())
    }

    /// After a successful connection: start from `initial` again.
    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// How the client connects and behaves.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Where to connect.
    pub url: RelayUrl,
    /// The channel token.
    pub token: Token,
    /// Certificates to trust for `wss://` besides the Mozilla roots.
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// How often to ping; the connection is dead after 2.5 intervals without a frame.
    pub heartbeat: Duration,
    /// The first reconnect wait.
    pub backoff_initial: Duration,
    /// The longest reconnect wait.
    pub backoff_max: Duration,
    /// How long connecting (TCP, TLS, upgrade, hello) may take.
    pub connect_timeout: Duration,
    /// Bodies above this are recorded without their body and answered 413 (`listen --max-body`).
    pub max_body: usize,
    /// On shutdown, how long to wait for requests in flight to be answered.
    pub shutdown_grace: Duration,
    /// Refuse to be displaced by a newer listener while this one is healthy (`--no-takeover`).
    pub no_takeover: bool,
}

impl ClientConfig {
    /// Defaults around a relay address and token.
    pub fn new(url: RelayUrl, token: Token) -> Self {
        ClientConfig {
            url,
            token,
            extra_roots: Vec::new(),
            heartbeat: Duration::from_secs(10),
            backoff_initial: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_body: 10 * 1024 * 1024,
            shutdown_grace: Duration::from_secs(35),
            no_takeover: false,
        }
    }
}

/// The relay refused this listener for good (wrong token, other protocol version, or another
/// listener took the channel over).
#[derive(Debug, thiserror::Error)]
#[error("the relay {relay} refused this listener: {reason}")]
pub struct Refused {
    /// The relay address.
    pub relay: String,
    /// Why.
    pub reason: String,
}

/// Why a connection attempt did not give a session.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Permanent: retrying will not help.
    #[error("{0}")]
    Refused(String),
    /// Worth retrying.
    #[error("{0}")]
    Failed(String),
}

/// What the relay said when the handshake succeeded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Welcome {
    /// The channel.
    pub channel: String,
    /// Requests waiting in the relay's queue.
    pub queued: u64,
    /// The relay's heartbeat interval.
    pub heartbeat: Duration,
}

/// How a session ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionEnd {
    /// Shutdown was asked for; requests in flight were answered (within the grace period).
    Shutdown,
    /// The connection was lost or closed; reconnecting makes sense.
    Lost(String),
    /// The relay closed it and asked not to reconnect.
    Closed(String),
    /// A newer listener took the channel over (the message says when and from where).
    TakenOver(TakenOver, String),
}

/// Sends `hello` and waits for `welcome`.
pub async fn handshake<S>(
    ws: &mut WebSocketStream<S>,
    token: &Token,
) -> Result<Welcome, ConnectError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    handshake_holding(ws, token, false).await
}

/// Sends `hello` (asking, with `no_takeover`, not to be displaced while healthy) and waits for
/// `welcome`.
pub(crate) async fn handshake_holding<S>(
    ws: &mut WebSocketStream<S>,
    token: &Token,
    no_takeover: bool,
) -> Result<Welcome, ConnectError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let hello = ClientMessage::Hello {
        version: VERSION,
        token: token.clone(),
        client: format!("webhook-dev {}", env!("CARGO_PKG_VERSION")),
        no_takeover,
    };
    let frame = protocol::encode(&hello).map_err(|e| ConnectError::Failed(e.to_string()))?;
    ws.send(frame)
        .await
        .map_err(|e| ConnectError::Failed(ProtocolError::from(e).to_string()))?;
    let reply = tokio::time::timeout(protocol::HANDSHAKE_TIMEOUT, next_message(ws))
        .await
        .map_err(|_| {
            ConnectError::Failed(format!(
                "no welcome from the relay within {}",
                crate::output::humanize(protocol::HANDSHAKE_TIMEOUT)
            ))
        })?
        .map_err(|e| ConnectError::Failed(e.to_string()))?;
    match reply {
        RelayMessage::Welcome {
            version,
            channel,
            queued,
            heartbeat_ms,
        } if version == VERSION => Ok(Welcome {
            channel,
            queued,
            heartbeat: Duration::from_millis(heartbeat_ms),
        }),
        RelayMessage::Welcome { version, .. } => Err(ConnectError::Refused(format!(
            "the relay speaks protocol version {version} and this listener {VERSION}: run the same webhook-dev version on both sides"
        ))),
        RelayMessage::Refused { message, .. } => Err(ConnectError::Refused(message)),
        RelayMessage::Closing {
            message, reconnect, ..
        } if reconnect => {
            Err(ConnectError::Failed(message))
        }
        RelayMessage::Closing { message, .. } => Err(ConnectError::Refused(message)),
        _ => Err(ConnectError::Failed(
            "the relay broke the protocol: its first message was not welcome".into(),
        )),
    }
}

/// What became of a request on this side.
#[derive(Clone, Debug)]
enum Handled {
    /// Stored; with the answer when known.
    Stored(Option<RecordedResponse>),
    /// Not stored, with why.
    NotStored(String),
}

#[derive(Default)]
struct Claims {
    /// Being handled now: wait for that outcome rather than handling twice.
    in_flight: HashMap<String, watch::Receiver<Option<Handled>>>,
    /// Stored recently (bounded): a copy is answered from the store.
    recent: HashSet<String>,
    order: VecDeque<String>,
}

/// How many stored request ids are remembered in memory for dropping duplicates; older ones are
/// looked up in the store.
const RECENT_IDS: usize = 16_384;

/// The listener's side of relayed requests: handles each once, across reconnections. A cheap
/// handle to share between sessions.
#[derive(Clone)]
pub struct Listener {
    inner: Arc<ListenerInner>,
}

struct ListenerInner {
    engine: Arc<Engine>,
    max_body: usize,
    claims: Mutex<Claims>,
    lookup: Mutex<Option<StoreReader>>,
}

enum Claim {
    Mine(watch::Sender<Option<Handled>>),
    Wait(watch::Receiver<Option<Handled>>),
    Known,
}

/// Forgets an in-flight claim if its task is dropped before it finishes.
struct ClaimGuard<'a> {
    listener: &'a ListenerInner,
    id: &'a str,
    armed: bool,
}

impl Drop for ClaimGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            lock(&self.listener.claims).in_flight.remove(self.id);
        }
    }
}

impl Listener {
    /// Handles relayed requests with `engine`; bodies above `max_body` get 413.
    pub fn new(engine: Arc<Engine>, max_body: usize) -> Self {
        Listener {
            inner: Arc::new(ListenerInner {
                engine,
                max_body,
                claims: Mutex::new(Claims::default()),
                lookup: Mutex::new(None),
            }),
        }
    }

    /// Handles one relayed request, once, and returns the message for the relay.
    pub async fn process(&self, request: WireRequest) -> ClientMessage {
        let id = request.id.clone();
        if let Err(message) = request.check() {
            tracing::warn!("refused a relayed request: {message}");
            return ClientMessage::Error { id, message };
        }
        let claim = {
            let mut claims = lock(&self.inner.claims);
            if let Some(running) = claims.in_flight.get(&id) {
                Claim::Wait(running.clone())
            } else if claims.recent.contains(&id) {
                Claim::Known
            } else {
                let (tx, rx) = watch::channel(None);
                claims.in_flight.insert(id.clone(), rx);
                Claim::Mine(tx)
            }
        };
        let handled = match claim {
            Claim::Wait(mut running) => match running.wait_for(Option::is_some).await {
                Ok(handled) => handled.clone().expect("waited for Some"),
                Err(_) => Handled::NotStored("the first delivery was interrupted".into()),
            },
            Claim::Known => self.look_up(&id).await,
            Claim::Mine(done) => {
                let mut guard = ClaimGuard {
                    listener: &self.inner,
                    id: &id,
                    armed: true,
                };
                let handled = if request.redelivery {
                    match self.look_up(&id).await {
                        Handled::NotStored(_) => self.handle(request).await,
                        stored => stored,
                    }
                } else {
                    self.handle(request).await
                };
                let _ = done.send(Some(handled.clone()));
                guard.armed = false;
                let mut claims = lock(&self.inner.claims);
                claims.in_flight.remove(&id);
                if matches!(handled, Handled::Stored(_)) {
                    claims.recent.insert(id.clone());
                    claims.order.push_back(id.clone());
                    if claims.order.len() > RECENT_IDS {
                        if let Some(old) = claims.order.pop_front() {
                            claims.recent.remove(&old);
                        }
                    }
                }
                handled
            }
        };
        match handled {
            Handled::Stored(Some(response)) => ClientMessage::Answer {
                id,
                response: WireResponse::from(fit(response)),
            },
            Handled::Stored(None) => ClientMessage::Ack { id },
            Handled::NotStored(message) => ClientMessage::Error { id, message },
        }
    }

    async fn handle(&self, request: WireRequest) -> Handled {
        let head = RequestHead {
            id: Some(request.id),
            received_at: Some(request.received_at),
            peer: request.peer.as_deref().and_then(|p| p.parse().ok()),
            method: request.method,
            path: request.path,
            headers: request.headers,
            replay_of: None,
        };
        let engine = &self.inner.engine;
        if request.body.len() > self.inner.max_body {
            let refusal = crate::capture::too_large(self.inner.max_body);
            return match engine.refuse(head, refusal).await {
                Ok(answer) => Handled::Stored(Some(answer)),
                Err(err) => Handled::NotStored(err.to_string()),
            };
        }
        match engine.process(head, request.body).await {
            Ok(exchange) => Handled::Stored(Some(exchange.response)),
            Err(err) => Handled::NotStored(err.to_string()),
        }
    }

    /// Looks a request up in the store: `Stored` (with its answer when recorded) or `NotStored`.
    async fn look_up(&self, id: &str) -> Handled {
        let inner = self.inner.clone();
        let id = id.to_string();
        let found = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let mut lookup = lock(&inner.lookup);
            if lookup.is_none() {
                *lookup = Some(StoreReader::open(inner.engine.store().dir())?);
            }
            let reader = lookup.as_ref().expect("opened above");
            Ok(reader.get_exact(&id)?.map(|stored| stored.response))
        })
        .await;
        match found {
            Ok(Ok(Some(response))) => Handled::Stored(response),
            Ok(Ok(None)) => Handled::NotStored("not in the store".into()),
            Ok(Err(err)) => Handled::NotStored(format!("cannot read the store: {err}")),
            Err(err) => Handled::NotStored(format!("cannot read the store: {err}")),
        }
    }

    /// Runs one session over a WebSocket on which the handshake is done, until it is lost, the
    /// relay closes it, or `shutdown` resolves. Requests in flight when the connection is lost
    /// still finish (and are stored); the relay delivers them again and gets their answer then.
    pub async fn session<S>(
        &self,
        ws: WebSocketStream<S>,
        heartbeat: Duration,
        shutdown_grace: Duration,
        shutdown: &mut (impl Future<Output = ()> + Unpin),
    ) -> SessionEnd
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (sink, mut stream) = ws.split();
        let (out, out_rx) = mpsc::unbounded_channel::<Message>();
        let writer = tokio::spawn(write_frames(sink, out_rx));
        let abandoned = Arc::new(AtomicBool::new(false));
        let (lane, mut lane_rx) = mpsc::unbounded_channel::<WireRequest>();
        let forwards = Arc::new(tokio::sync::Semaphore::new(MAX_FORWARDS_AT_ONCE));
        {
            let listener = self.clone();
            let out = out.clone();
            let abandoned = abandoned.clone();
            tokio::spawn(async move {
                while let Some(request) = lane_rx.recv().await {
                    if abandoned.load(Ordering::SeqCst) {
                        break;
                    }
                    let reply = listener.process(request).await;
                    let _ = out.send(encode_reply(&reply));
                }
            });
        }
        let mut ping = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let dead_after = heartbeat * 5 / 2;
        let mut last_seen = Instant::now();
        let mut nonce = 0u64;
        let end = loop {
            tokio::select! {
                biased;
                () = &mut *shutdown => break SessionEnd::Shutdown,
                frame = stream.next() => {
                    last_seen = Instant::now();
                    let message = match frame {
                        None => break SessionEnd::Lost("the relay closed the connection".into()),
                        Some(Err(err)) => break SessionEnd::Lost(ProtocolError::from(err).to_string()),
                        Some(Ok(frame)) => match protocol::decode::<RelayMessage>(frame) {
                            Ok(Some(message)) => message,
                            Ok(None) => continue,
                            Err(ProtocolError::Closed(reason)) => break SessionEnd::Lost(
                                reason.unwrap_or_else(|| "the relay closed the connection".into()),
                            ),
                            Err(err) => break SessionEnd::Lost(err.to_string()),
                        },
                    };
                    match message {
                        RelayMessage::Request(request) => {
                            if request.queued {
                                let _ = lane.send(*request);
                            } else {
                                let listener = self.clone();
                                let out = out.clone();
                                let forwards = forwards.clone();
                                tokio::spawn(async move {
                                    let _permit = forwards.acquire_owned().await;
                                    let reply = listener.process(*request).await;
                                    let _ = out.send(encode_reply(&reply));
                                });
                            }
                        }
                        RelayMessage::Ping { nonce } => {
                            let _ = out.send(protocol::encode(&ClientMessage::Pong { nonce }).expect("small"));
                        }
                        RelayMessage::Pong { .. } => {}
                        RelayMessage::Closing { message, reconnect: true, .. } => break SessionEnd::Lost(message),
                        RelayMessage::Closing { message, taken_over: Some(how), .. } => break SessionEnd::TakenOver(how, message),
                        RelayMessage::Closing { message, .. } => break SessionEnd::Closed(message),
                        RelayMessage::Welcome { .. } | RelayMessage::Refused { .. } => {
                            break SessionEnd::Lost("the relay broke the protocol (a second handshake reply)".into());
                        }
                    }
                }
                _ = ping.tick() => {
                    if last_seen.elapsed() > dead_after {
                        break SessionEnd::Lost(format!(
                            "nothing heard from the relay for {} (dead connection)",
                            crate::output::humanize(Duration::from_secs(last_seen.elapsed().as_secs()))
                        ));
                    }
                    nonce += 1;
                    let _ = out.send(protocol::encode(&ClientMessage::Ping { nonce }).expect("small"));
                }
            }
        };
        drop(lane);
        drop(out);
        if end == SessionEnd::Shutdown {
            // Requests being handled finish and are answered; queued ones not started are left
            // for the relay to deliver next time. The writer ends when the last answer is sent.
            abandoned.store(true, Ordering::SeqCst);
            if tokio::time::timeout(shutdown_grace, writer).await.is_err() {
                tracing::warn!("requests from the relay still in flight after {shutdown_grace:?}");
            }
        } else {
            abandoned.store(true, Ordering::SeqCst);
        }
        end
    }
}

/// Replaces an answer too large for the protocol by a 502 that says so.
fn fit(response: RecordedResponse) -> RecordedResponse {
    if protocol::body_fits(response.body.len()) {
        response
    } else {
        RecordedResponse::plain(
            502,
            format!(
                "webhook-dev: the handler's answer ({} bytes) is larger than the relay can carry ({} bytes)",
                response.body.len(),
                protocol::MAX_BODY_BYTES
            ),
        )
    }
}

fn encode_reply(reply: &ClientMessage) -> Message {
    protocol::encode(reply).unwrap_or_else(|err| {
        let id = match reply {
            ClientMessage::Answer { id, .. }
            | ClientMessage::Ack { id }
            | ClientMessage::Error { id, .. } => id.clone(),
            _ => String::new(),
        };
        protocol::encode(&ClientMessage::Answer {
            id,
            response: WireResponse::from(RecordedResponse::plain(
                502,
                format!("webhook-dev: the handler's answer cannot be relayed: {err}"),
            )),
        })
        .expect("a short answer always encodes")
    })
}

/// Anything a WebSocket can run over: TCP, or TLS over TCP.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

async fn connect(
    config: &ClientConfig,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Result<(WebSocketStream<Box<dyn Io>>, Welcome), ConnectError> {
    let url = &config.url;
    let failed =
        |what: &str, err: &dyn fmt::Display| ConnectError::Failed(format!("{what}: {err}"));
    let tcp = TcpStream::connect((url.host.as_str(), url.port))
        .await
        .map_err(|e| failed(&format!("cannot connect to {}:{}", url.host, url.port), &e))?;
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn Io> = match tls {
        None => Box::new(tcp),
        Some(tls) => {
            let name = ServerName::try_from(url.host.clone()).map_err(|e| {
                ConnectError::Refused(format!("{} is not a TLS server name: {e}", url.host))
            })?;
            let stream = tokio_rustls::TlsConnector::from(tls.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| failed("TLS handshake failed", &e))?;
            Box::new(stream)
        }
    };
    let mut request = url
        .to_string()
        .into_client_request()
        .map_err(|e| ConnectError::Refused(format!("bad relay address: {e}")))?;
    request.headers_mut().insert(
        "user-agent",
        hyper::header::HeaderValue::from_static(concat!("webhook-dev/", env!("CARGO_PKG_VERSION"))),
    );
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(
        request,
        stream,
        Some(protocol::websocket_config()),
    )
    .await
    .map_err(|err| match err {
        tungstenite::Error::Http(response) => {
            let body = response
                .body()
                .as_deref()
                .map(|b| String::from_utf8_lossy(b).trim().to_string())
                .filter(|b| !b.is_empty())
                .map(|b| format!(": {}", crate::inert::line(&b)))
                .unwrap_or_default();
            let status = response.status();
            let message = format!(
                "the server at {url} answered the upgrade with HTTP {status}{body} (is it a webhook-dev relay, and is the channel allowed?)"
            );
            // A client error will not change by retrying (a wrong URL, a channel not allowed);
            // anything else (a restarting relay, a busy proxy) may.
            if status.is_client_error() && status != 408 && status != 429 {
                ConnectError::Refused(message)
            } else {
                ConnectError::Failed(message)
            }
        }
        other => failed("the WebSocket upgrade failed", &other),
    })?;
    let welcome = handshake_holding(&mut ws, &config.token, config.no_takeover).await?;
    Ok((ws, welcome))
}

/// Keeps the listener connected to the relay until `shutdown` resolves, reporting its state as
/// [`EngineEvent::Relay`]. Returns an error only when the relay refuses the listener for good.
pub async fn run(
    engine: Arc<Engine>,
    config: ClientConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Refused> {
    let relay = config.url.to_string();
    let tls = if config.url.is_tls() {
        Some(
            tls::client_config(&config.extra_roots).map_err(|e| Refused {
                relay: relay.clone(),
                reason: format!("{e:#}"),
            })?,
        )
    } else {
        None
    };
    let listener = Listener::new(engine.clone(), config.max_body);
    let emit = |state: RelayState| engine.emit(EngineEvent::Relay(state));
    let mut backoff = Backoff::new(config.backoff_initial, config.backoff_max);
    let shutdown = futures_util::FutureExt::fuse(shutdown);
    tokio::pin!(shutdown);
    emit(RelayState::Connecting {
        relay: relay.clone(),
    });
    loop {
        let attempt = tokio::select! {
            () = &mut shutdown => return Ok(()),
            attempt = tokio::time::timeout(config.connect_timeout, connect(&config, tls.as_ref())) => attempt,
        };
        let reason = match attempt {
            Err(_) => format!(
                "no connection within {}",
                crate::output::humanize(config.connect_timeout)
            ),
            Ok(Err(ConnectError::Failed(reason))) => reason,
            Ok(Err(ConnectError::Refused(reason))) => {
                emit(RelayState::Refused {
                    relay: relay.clone(),
                    reason: reason.clone(),
                });
                return Err(Refused { relay, reason });
            }
            Ok(Ok((ws, welcome))) => {
                backoff.reset();
                emit(RelayState::Connected {
                    relay: relay.clone(),
                    channel: welcome.channel.clone(),
                    queued: welcome.queued,
                });
                let heartbeat = config.heartbeat.max(welcome.heartbeat);
                match listener
                    .session(ws, heartbeat, config.shutdown_grace, &mut shutdown)
                    .await
                {
                    SessionEnd::Shutdown => return Ok(()),
                    SessionEnd::Closed(reason) => {
                        emit(RelayState::Refused {
                            relay: relay.clone(),
                            reason: reason.clone(),
                        });
                        return Err(Refused { relay, reason });
                    }
                    SessionEnd::TakenOver(how, reason) => {
                        tracing::warn!("{reason}");
                        emit(RelayState::TakenOver {
                            relay: relay.clone(),
                            at: how.at,
                            by: how.by,
                            reason: reason.clone(),
                        });
                        return Err(Refused { relay, reason });
                    }
                    SessionEnd::Lost(reason) => reason,
                }
            }
        };
        let delay = backoff.next_delay();
        emit(RelayState::Reconnecting {
            relay: relay.clone(),
            delay,
            reason,
        });
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            () = tokio::time::sleep(delay) => {}
        }
    }
}

/// Reads the `--relay-ca` file.
pub fn load_extra_roots(path: Option<&PathBuf>) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    match path {
        Some(path) => tls::load_certs(path),
        None => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_addresses() {
        let url: RelayUrl = "ws://127.0.0.1:8080/acme".parse().unwrap();
        assert_eq!(url.to_string(), "ws://127.0.0.1:8080/acme");
        assert_eq!(url.channel(), "acme");
        assert!(!url.is_tls());
        let url: RelayUrl = "https://relay.example.test/team-1/".parse().unwrap();
        assert_eq!(url.to_string(), "wss://relay.example.test/team-1");
        assert_eq!(url.port, 443);
        let url: RelayUrl = "wss://[::1]:9443/a".parse().unwrap();
        assert_eq!(url.host, "::1");
        assert_eq!(url.to_string(), "wss://[::1]:9443/a");
        for bad in [
            "relay.example.test/acme",
            "ftp://x/acme",
            "ws://x",
            "ws://x/",
            "ws://x/a/b",
            "ws://x/acme?token=1",
            "ws://x/_health",
        ] {
            let err = bad.parse::<RelayUrl>().unwrap_err().to_string();
            assert!(err.contains("invalid relay address"), "{bad}: {err}");
        }
    }

    #[test]
    fn backoff_grows_with_jitter_up_to_the_cap_and_resets() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let mut ceilings = Vec::new();
        for _ in 0..8 {
            let ceiling = backoff.ceiling();
            let delay = backoff.next_delay();
            assert!(
                delay >= ceiling / 2 && delay <= ceiling,
                "{delay:?} vs {ceiling:?}"
            );
            ceilings.push(ceiling.as_millis());
        }
        assert_eq!(ceilings, vec![100, 200, 400, 800, 1600, 2000, 2000, 2000]);
        let spread: HashSet<_> = (0..20)
            .map(|_| {
                let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(1));
                b.next_delay().as_micros()
            })
            .collect();
        assert!(spread.len() > 1, "jitter varies the delay");
        backoff.reset();
        assert_eq!(backoff.ceiling(), Duration::from_millis(100));
        let mut huge = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        for _ in 0..100 {
            assert!(huge.next_delay() <= Duration::from_secs(30));
        }
    }

    #[test]
    fn oversized_answers_become_a_502() {
        let big = RecordedResponse {
            status: 200,
            headers: vec![],
            body: bytes::Bytes::from(vec![0u8; protocol::MAX_BODY_BYTES + 1]),
        };
        let fitted = fit(big);
        assert_eq!(fitted.status, 502);
        assert!(String::from_utf8_lossy(&fitted.body).contains("larger than the relay can carry"));
    }
}
