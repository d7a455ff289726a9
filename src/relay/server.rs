//! The relay server: the public end of the tunnel.
//!
//! Providers send to `http(s)://RELAY/CHANNEL/any/path`; a listener subscribes to CHANNEL with a
//! WebSocket upgrade of `GET /CHANNEL` (see [`super::protocol`]). Every accepted request is
//! written to the relay's durable [`Queue`] and handed to the channel's listener, if one is
//! connected; the provider gets the listener's answer (status, headers, body). With no listener,
//! the provider gets `--offline-status` at once and the request waits in the queue; queued
//! requests are delivered in arrival order when a listener connects, and leave the queue only when
//! the listener acknowledges them.
//!
//! Shared state is one [`Relay`] handle; each channel's state sits behind its own mutex, never
//! held across an `.await`.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::pre_hello::{PreHelloLimit, Verified};
use super::protocol::{
    self, ClientMessage, ProtocolError, RefusedCode, RelayMessage, WireRequest, VERSION,
};
use super::queue::{last_seq, Queue, QueueError};
use super::token::{self, check_channel};
use crate::model::RecordedResponse;
use crate::signature::Secret;
use crate::store::Durability;

/// A request rate limit per channel: a token bucket.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: f64,
    /// How many may arrive at once after a quiet spell.
    pub burst: f64,
}

/// How the relay behaves.
#[derive(Clone, Debug)]
pub struct RelayConfig {
    /// The secret channel tokens are derived from.
    pub secret: Secret,
    /// The status a provider gets when no listener is connected (the request is queued).
    pub offline_status: u16,
    /// How long a provider waits for the listener's answer before getting 504.
    pub answer_timeout: Duration,
    /// The largest request body accepted (413 above it).
    pub max_body: usize,
    /// The most requests queued per channel (507 above it).
    pub max_queue: usize,
    /// Requests per second per channel (429 above it); `None` for no limit.
    pub rate: Option<RateLimit>,
    /// How many requests a listener may have unanswered at once.
    pub max_in_flight: usize,
    /// How often both ends ping; a connection silent for 2.5 intervals is dead.
    pub heartbeat: Duration,
    /// How long a listener has to send `hello`, and a TLS client to finish its handshake.
    pub handshake_timeout: Duration,
    /// How long a provider may take to send a request head.
    pub header_timeout: Duration,
    /// How long to wait before delivering again a request the listener could not store.
    pub retry_after_error: Duration,
    /// How long shutdown waits for connections to finish.
    pub shutdown_grace: Duration,
    /// Serve only these channels (404 for others); `None` serves any valid channel name.
    pub channels: Option<std::collections::HashSet<String>>,
    /// The most connections served at once; more are closed as they arrive.
    pub max_connections: usize,
}

impl RelayConfig {
    /// Defaults around `secret`.
    pub fn new(secret: Secret) -> Self {
        RelayConfig {
            secret,
            offline_status: 202,
            answer_timeout: Duration::from_secs(30),
            max_body: 10 * 1024 * 1024,
            max_queue: 10_000,
            rate: Some(RateLimit {
                per_second: 1000.0,
                burst: 2000.0,
            }),
            max_in_flight: 128,
            heartbeat: Duration::from_secs(10),
            handshake_timeout: protocol::HANDSHAKE_TIMEOUT,
            header_timeout: Duration::from_secs(10),
            retry_after_error: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(10),
            channels: None,
            max_connections: 4096,
        }
    }

    /// Checks the settings against each other and the protocol.
    pub fn validate(&self) -> anyhow::Result<()> {
        token::check_secret(&self.secret)?;
        if !(200..=299).contains(&self.offline_status) {
            anyhow::bail!(
                "--offline-status must be a 2xx status (the request is accepted and queued), not {}",
                self.offline_status
            );
        }
        if !protocol::body_fits(self.max_body) {
            anyhow::bail!(
                "--max-body can be at most {} bytes (what one protocol frame carries)",
                protocol::MAX_BODY_BYTES
            );
        }
        if self.max_queue == 0 || self.max_in_flight == 0 {
            anyhow::bail!("--max-queue and the in-flight window must be at least 1");
        }
        for channel in self.channels.iter().flatten() {
            check_channel(channel)?;
        }
        Ok(())
    }
}

/// What the relay reports for its operator.
#[derive(Clone, Debug, PartialEq)]
pub enum RelayEvent {
    /// A listener subscribed to a channel.
    ListenerConnected {
        /// The channel.
        channel: String,
        /// The listener's address.
        peer: Option<SocketAddr>,
        /// How many requests were queued for it.
        queued: u64,
    },
    /// A listener went away.
    ListenerLeft {
        /// The channel.
        channel: String,
        /// Why.
        reason: String,
    },
    /// A listener was refused at the handshake.
    ListenerRefused {
        /// The channel.
        channel: String,
        /// The listener's address.
        peer: Option<SocketAddr>,
        /// Why.
        reason: String,
    },
}

impl RelayEvent {
    /// One line for the operator.
    pub fn human(&self) -> String {
        let peer = |p: &Option<SocketAddr>| p.map(|p| format!(" from {p}")).unwrap_or_default();
        match self {
            RelayEvent::ListenerConnected {
                channel,
                peer: p,
                queued,
            } => format!(
                "listener connected to {channel}{}; {queued} queued request(s) to deliver",
                peer(p)
            ),
            RelayEvent::ListenerLeft { channel, reason } => {
                format!("listener of {channel} left: {reason}")
            }
            RelayEvent::ListenerRefused {
                channel,
                peer: p,
                reason,
            } => format!("listener refused on {channel}{}: {reason}", peer(p)),
        }
    }

    /// The NDJSON line for `relay --json`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            RelayEvent::ListenerConnected {
                channel,
                peer,
                queued,
            } => serde_json::json!({"event": "listener_connected", "channel": channel,
                "peer": peer.map(|p| p.to_string()), "queued": queued}),
            RelayEvent::ListenerLeft { channel, reason } => serde_json::json!({
                "event": "listener_left", "channel": channel, "reason": reason}),
            RelayEvent::ListenerRefused {
                channel,
                peer,
                reason,
            } => serde_json::json!({"event": "listener_refused", "channel": channel,
                "peer": peer.map(|p| p.to_string()), "reason": reason}),
        }
    }
}

/// The relay: a cheap-to-clone handle on its queue and channels.
#[derive(Clone)]
pub struct Relay {
    inner: Arc<Shared>,
}

struct Shared {
    config: RelayConfig,
    queue: Queue,
    channels: Mutex<HashMap<String, Arc<Channel>>>,
    ids: Mutex<ulid::Generator>,
    next_seq: AtomicI64,
    next_listener: AtomicU64,
    events: Option<mpsc::UnboundedSender<RelayEvent>>,
    shutdown: watch::Sender<bool>,
    sessions: AtomicUsize,
    sessions_done: Notify,
}

/// Counts a listener session while it lives.
struct SessionGuard(Arc<Shared>);

impl SessionGuard {
    fn new(shared: &Arc<Shared>) -> Self {
        shared.sessions.fetch_add(1, Ordering::SeqCst);
        SessionGuard(shared.clone())
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        if self.0.sessions.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.sessions_done.notify_waiters();
        }
    }
}

struct Channel {
    name: String,
    state: Mutex<ChannelState>,
    /// Wakes the channel's listener session: something to send, or room to send it.
    wake: Notify,
}

struct ListenerSlot {
    id: u64,
    kick: Arc<Notify>,
}

#[derive(Default)]
struct ChannelState {
    listener: Option<ListenerSlot>,
    /// Not yet sent to the current listener, in arrival order.
    pending: BTreeMap<i64, Entry>,
    /// Sent, not yet answered; by request id.
    in_flight: HashMap<String, Entry>,
    /// Providers waiting for the answer; by request id.
    waiters: HashMap<String, oneshot::Sender<Outcome>>,
    /// Requests of this channel in the durable queue (pending + in flight + retrying).
    queued: usize,
    bucket: Option<Bucket>,
}

/// The owner of an in-flight entry waiting to be delivered again (no session has it).
const PARKED: u64 = 0;

struct Entry {
    seq: i64,
    id: String,
    /// The request in memory; `None` once it is committed and nobody is about to send it.
    cached: Option<Arc<WireRequest>>,
    /// Its insert into the queue was submitted (its delete must follow, once answered).
    inserted: bool,
    /// The insert has committed, so the request can be read back from the queue.
    committed: bool,
    /// It was (maybe) sent to a listener before: this process did, or a previous one might have.
    delivered: bool,
    /// The listener session it is in flight with.
    owner: u64,
}

/// What a waiting provider learns.
enum Outcome {
    Answered(RecordedResponse),
    /// No listener any more: the request stays queued.
    Offline,
    /// The listener could not store it: the request stays queued and is delivered again.
    NotStored(String),
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// Takes one token, or says how long until one is available.
    fn take(&mut self, limit: RateLimit, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * limit.per_second).min(limit.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - self.tokens) / limit.per_second,
            ))
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Relay {
    /// Opens the relay's queue in `dir` and picks up the requests queued there by a previous run.
    pub fn open(
        config: RelayConfig,
        dir: &Path,
        durability: Durability,
        events: Option<mpsc::UnboundedSender<RelayEvent>>,
    ) -> anyhow::Result<Relay> {
        config.validate()?;
        let (queue, entries) = Queue::open(dir, durability)?;
        let next_seq = last_seq(&entries) + 1;
        let mut channels: HashMap<String, Arc<Channel>> = HashMap::new();
        for entry in entries {
            let channel = channels
                .entry(entry.channel.clone())
                .or_insert_with(|| Arc::new(Channel::new(&entry.channel)));
            let mut state = lock(&channel.state);
            state.queued += 1;
            state.pending.insert(
                entry.seq,
                Entry {
                    seq: entry.seq,
                    id: entry.id,
                    cached: None,
                    inserted: true,
                    committed: true,
                    // A previous run may have sent it before it stopped.
                    delivered: true,
                    owner: 0,
                },
            );
        }
        let (shutdown, _) = watch::channel(false);
        Ok(Relay {
            inner: Arc::new(Shared {
                config,
                queue,
                channels: Mutex::new(channels),
                ids: Mutex::new(ulid::Generator::new()),
                next_seq: AtomicI64::new(next_seq),
                next_listener: AtomicU64::new(1),
                events,
                shutdown,
                sessions: AtomicUsize::new(0),
                sessions_done: Notify::new(),
            }),
        })
    }

    /// The settings.
    pub fn config(&self) -> &RelayConfig {
        &self.inner.config
    }

    /// How many requests wait in the queue, all channels together.
    pub fn queued(&self) -> u64 {
        lock(&self.inner.channels)
            .values()
            .map(|c| lock(&c.state).queued as u64)
            .sum()
    }

    /// How many requests wait for `channel`.
    pub fn queued_for(&self, channel: &str) -> u64 {
        lock(&self.inner.channels)
            .get(channel)
            .map(|c| lock(&c.state).queued as u64)
            .unwrap_or(0)
    }

    /// Commits every queue write submitted so far and stops the queue's writer. Call it after
    /// [`serve`] has returned.
    pub fn close(&self) {
        self.inner.queue.close();
    }

    fn emit(&self, event: RelayEvent) {
        tracing::info!("{}", event.human());
        if let Some(events) = &self.inner.events {
            let _ = events.send(event);
        }
    }

    fn channel(&self, name: &str) -> Arc<Channel> {
        let mut channels = lock(&self.inner.channels);
        if let Some(channel) = channels.get(name) {
            return channel.clone();
        }
        let channel = Arc::new(Channel::new(name));
        channels.insert(name.to_string(), channel.clone());
        channel
    }

    fn next_id(&self) -> String {
        let mut ids = lock(&self.inner.ids);
        let ulid = ids.generate().unwrap_or_else(|_| ulid::Ulid::new());
        format!("req_{ulid}")
    }

    /// Serves one HTTP request: a provider's webhook, a listener's upgrade, or the relay's own
    /// pages.
    async fn route(
        &self,
        mut request: Request<Incoming>,
        peer: SocketAddr,
    ) -> Response<Full<Bytes>> {
        let path_and_query = request
            .uri()
            .path_and_query()
            .map(|pq| pq.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let after_slash = path_and_query.strip_prefix('/').unwrap_or(&path_and_query);
        let split = after_slash.find(['/', '?']).unwrap_or(after_slash.len());
        let (channel, rest) = after_slash.split_at(split);
        let channel = channel.to_string();
        if channel.is_empty() {
            return match *request.method() {
                hyper::Method::GET | hyper::Method::HEAD => plain(
                    200,
                    "webhook-dev relay: providers send webhooks to /CHANNEL/any/path; a listener subscribes with `webhook-dev listen --relay ws(s)://THIS-HOST/CHANNEL --relay-token TOKEN`",
                ),
                _ => plain(404, "webhook-dev relay: send webhooks to /CHANNEL/any/path (no channel was given)"),
            };
        }
        if channel == "_health" {
            return plain(200, "ok");
        }
        if let Err(err) = check_channel(&channel) {
            return plain(404, &format!("webhook-dev relay: {err}"));
        }
        if self
            .inner
            .config
            .channels
            .as_ref()
            .is_some_and(|served| !served.contains(&channel))
        {
            return plain(
                404,
                &format!(
                    "webhook-dev relay: this relay does not serve channel {channel} (--channels)"
                ),
            );
        }
        if is_websocket_upgrade(&request) {
            if !rest.is_empty() && rest != "/" {
                return plain(
                    404,
                    &format!(
                        "webhook-dev relay: listeners connect to /{channel}, not /{channel}{rest}"
                    ),
                );
            }
            return self.upgrade(&mut request, channel, peer);
        }
        let rest = if rest.starts_with('/') {
            rest.to_string()
        } else {
            format!("/{rest}")
        };
        self.provider(request, channel, rest, peer).await
    }

    /// Accepts a listener's WebSocket upgrade and runs its session on a task of its own.
    fn upgrade(
        &self,
        request: &mut Request<Incoming>,
        channel: String,
        peer: SocketAddr,
    ) -> Response<Full<Bytes>> {
        let headers = request.headers();
        if headers
            .get("sec-websocket-version")
            .is_none_or(|v| v.as_bytes() != b"13")
        {
            let mut response = plain(426, "webhook-dev relay: WebSocket version 13 is required");
            response
                .headers_mut()
                .insert("sec-websocket-version", HeaderValue::from_static("13"));
            return response;
        }
        let Some(key) = headers.get("sec-websocket-key") else {
            return plain(
                400,
                "webhook-dev relay: the upgrade has no Sec-WebSocket-Key",
            );
        };
        let accept = derive_accept_key(key.as_bytes());
        let upgrade = hyper::upgrade::on(request);
        let relay = self.clone();
        tokio::spawn(async move {
            match upgrade.await {
                Ok(upgraded) => {
                    let verified = Verified::default();
                    let io = PreHelloLimit::new(TokioIo::new(upgraded), verified.clone());
                    let ws = WebSocketStream::from_raw_socket(
                        io,
                        Role::Server,
                        Some(protocol::websocket_config()),
                    )
                    .await;
                    relay
                        .serve_listener(&channel, ws, Some(peer), Some(verified))
                        .await;
                }
                Err(err) => tracing::debug!(%peer, "upgrade failed: {err}"),
            }
        });
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(
            hyper::header::UPGRADE,
            HeaderValue::from_static("websocket"),
        );
        headers.insert(
            hyper::header::CONNECTION,
            HeaderValue::from_static("Upgrade"),
        );
        headers.insert(
            "sec-websocket-accept",
            HeaderValue::from_str(&accept).expect("base64 is a valid header value"),
        );
        response
    }

    /// Takes a provider's request: bounds it, queues it durably, hands it to the listener and
    /// answers with the listener's answer, the offline answer, or why not.
    async fn provider(
        &self,
        request: Request<Incoming>,
        channel_name: String,
        path: String,
        peer: SocketAddr,
    ) -> Response<Full<Bytes>> {
        let received_at = Utc::now();
        let config = &self.inner.config;
        let channel = self.channel(&channel_name);
        if let Some(refusal) = self.admit(&channel) {
            return refusal;
        }
        let (parts, body) = request.into_parts();
        let too_large = || {
            let mut response = plain(
                413,
                &format!(
                    "webhook-dev relay: the request body is larger than the relay accepts (--max-body {} bytes); it was not queued",
                    config.max_body
                ),
            );
            response
                .headers_mut()
                .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
            response
        };
        let declared = parts
            .headers
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > config.max_body as u64) {
            return too_large();
        }
        let body = match Limited::new(body, config.max_body).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => return too_large(),
            Err(err) => {
                tracing::debug!(%peer, "the provider stopped sending the body: {err}");
                return plain(400, "webhook-dev relay: the request body broke off");
            }
        };
        let request = Arc::new(WireRequest {
            id: self.next_id(),
            received_at,
            method: parts.method.as_str().to_string(),
            path,
            headers: parts
                .headers
                .iter()
                .map(|(n, v)| (n.as_str().to_string(), v.as_bytes().to_vec()))
                .collect(),
            body,
            peer: Some(peer.to_string()),
            redelivery: false,
            queued: false,
        });
        let id = request.id.clone();

        // Reserve a place and make the request deliverable. With a listener connected, the request
        // is written to the queue only if the listener does not store it first (most never touch
        // the disk here): the provider is answered only once one of the two has it durably. With
        // none, it is written now. Inserts are submitted under the channel lock, so an insert is
        // always submitted before the delete of the same request.
        let (seq, arrival_commit, waiter) = {
            let mut state = lock(&channel.state);
            if state.queued >= config.max_queue {
                drop(state);
                return queue_full(&channel_name, config.max_queue);
            }
            state.queued += 1;
            let seq = self.inner.next_seq.fetch_add(1, Ordering::Relaxed);
            let connected = state.listener.is_some();
            let (commit, waiter) = if connected {
                let (tx, rx) = oneshot::channel();
                state.waiters.insert(id.clone(), tx);
                (None, Some(rx))
            } else {
                let commit = self.inner.queue.insert(seq, &channel_name, request.clone());
                (Some(commit), None)
            };
            state.pending.insert(
                seq,
                Entry {
                    seq,
                    id: id.clone(),
                    cached: Some(request),
                    inserted: !connected,
                    committed: false,
                    delivered: false,
                    owner: 0,
                },
            );
            (seq, commit, waiter)
        };

        let Some(waiter) = waiter else {
            let commit = arrival_commit.expect("inserted on arrival when nobody listens");
            return match self.committed(&channel, seq, &id, commit.await) {
                Ok(()) => self.offline_answer(&channel_name, &id),
                Err(err) => not_queued(&err),
            };
        };
        channel.wake.notify_one();
        let outcome = match tokio::time::timeout(config.answer_timeout, waiter).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Outcome::Offline,
            Err(_) => {
                lock(&channel.state).waiters.remove(&id);
                return match self.keep(&channel, seq, &id).await {
                    Ok(()) => plain(
                        504,
                        &format!(
                            "webhook-dev relay: the listener did not answer within {}; the request ({id}) stays queued and the listener will still get it",
                            crate::forward::humanize(config.answer_timeout)
                        ),
                    ),
                    Err(err) => plain(
                        504,
                        &format!("webhook-dev relay: the listener did not answer in time and the request could not be queued ({err})"),
                    ),
                };
            }
        };
        match outcome {
            // The listener stored it: nothing for the relay to keep.
            Outcome::Answered(answer) => answer.into_hyper(),
            Outcome::Offline => match self.keep(&channel, seq, &id).await {
                Ok(()) => self.offline_answer(&channel_name, &id),
                Err(err) => not_queued(&err),
            },
            Outcome::NotStored(reason) => match self.keep(&channel, seq, &id).await {
                Ok(()) => plain(
                    503,
                    &format!("webhook-dev relay: the listener could not store the request ({reason}); the relay keeps it ({id}) and delivers it again"),
                ),
                Err(err) => not_queued(&err),
            },
        }
    }

    /// Makes sure request `id` is in the durable queue before its provider is answered without
    /// the listener's answer. Nothing to do if a listener has stored it meanwhile (it is no longer
    /// the relay's), or if it is already written.
    async fn keep(&self, channel: &Channel, seq: i64, id: &str) -> Result<(), QueueError> {
        let commit = {
            let mut state = lock(&channel.state);
            let entry = match state.pending.get_mut(&seq) {
                Some(entry) => Some(entry),
                None => state.in_flight.get_mut(id),
            };
            match entry {
                Some(entry) if !entry.inserted => {
                    entry.inserted = true;
                    let request = entry
                        .cached
                        .clone()
                        .expect("a request not yet written is kept in memory");
                    Some(self.inner.queue.insert(seq, &channel.name, request))
                }
                _ => None,
            }
        };
        match commit {
            Some(commit) => self.committed(channel, seq, id, commit.await),
            None => Ok(()),
        }
    }

    /// Applies the rate limit; `Some` is the refusal.
    fn admit(&self, channel: &Channel) -> Option<Response<Full<Bytes>>> {
        let limit = self.inner.config.rate?;
        let now = Instant::now();
        let wait = {
            let mut state = lock(&channel.state);
            let bucket = state.bucket.get_or_insert(Bucket {
                tokens: limit.burst,
                last: now,
            });
            bucket.take(limit, now).err()?
        };
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        let mut response = plain(
            429,
            &format!(
                "webhook-dev relay: channel {} receives more than {} requests per second (--max-rate); retry in {secs} s",
                channel.name, limit.per_second
            ),
        );
        response.headers_mut().insert(
            hyper::header::RETRY_AFTER,
            HeaderValue::from_str(&secs.to_string()).expect("digits"),
        );
        Some(response)
    }

    /// Records how the insert of `seq` went: once committed, the copy in memory may be dropped;
    /// if it failed, the request is taken back out of the channel.
    fn committed(
        &self,
        channel: &Channel,
        seq: i64,
        id: &str,
        result: Result<(), QueueError>,
    ) -> Result<(), QueueError> {
        let mut state = lock(&channel.state);
        let connected = state.listener.is_some();
        match &result {
            Ok(()) => {
                if let Some(entry) = state.pending.get_mut(&seq) {
                    entry.committed = true;
                    if !connected {
                        entry.cached = None;
                    }
                } else if let Some(entry) = state.in_flight.get_mut(id) {
                    entry.committed = true;
                }
            }
            Err(err) => {
                tracing::error!(%id, "request not queued: {err}");
                // The provider is told it was not accepted (and will retry).
                if state.pending.remove(&seq).is_some() {
                    state.queued -= 1;
                } else if let Some(entry) = state.in_flight.get_mut(id) {
                    // The listener has it; its answer releases the place. Not on disk: keep the
                    // copy in memory, and issue no delete.
                    entry.inserted = false;
                }
            }
        }
        result
    }

    fn offline_answer(&self, channel: &str, id: &str) -> Response<Full<Bytes>> {
        let body = serde_json::json!({
            "ok": true,
            "queued": true,
            "id": id,
            "channel": channel,
            "message": "no listener is connected; the request is queued and will be delivered when one connects",
        });
        RecordedResponse::json(self.inner.config.offline_status, body.to_string()).into_hyper()
    }

    /// Runs one listener's session over an upgraded WebSocket: the handshake, then delivery until
    /// the socket ends, the listener is replaced, or the relay shuts down. `verified` lifts the
    /// connection's pre-hello byte budget once the token checks out. Public so that tests can
    /// drive it over `tokio::io::duplex`.
    pub async fn serve_listener<S>(
        &self,
        channel_name: &str,
        mut ws: WebSocketStream<S>,
        peer: Option<SocketAddr>,
        verified: Option<Verified>,
    ) where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let _guard = SessionGuard::new(&self.inner);
        let config = &self.inner.config;
        let refuse = |code: RefusedCode, message: String| RelayMessage::Refused { code, message };
        let hello = tokio::time::timeout(config.handshake_timeout, next_message(&mut ws)).await;
        let refusal = match hello {
            Err(_) => Some(refuse(
                RefusedCode::Timeout,
                format!(
                    "no hello within {} of connecting",
                    crate::forward::humanize(config.handshake_timeout)
                ),
            )),
            Ok(Err(err)) => {
                tracing::debug!(?peer, "listener handshake failed: {err}");
                Some(refuse(RefusedCode::Protocol, format!("bad handshake: {err}")))
            }
            Ok(Ok(ClientMessage::Hello { version, .. })) if version != VERSION => Some(refuse(
                RefusedCode::Version,
                format!(
                    "this relay speaks protocol version {VERSION} and the listener {version}: run the same webhook-dev version on both sides"
                ),
            )),
            Ok(Ok(ClientMessage::Hello { token, .. })) => {
                if check_channel(channel_name).is_err() {
                    Some(refuse(
                        RefusedCode::Channel,
                        format!("invalid channel name {channel_name:?}"),
                    ))
                } else if !token::verify(&config.secret, channel_name, &token) {
                    Some(refuse(
                        RefusedCode::BadToken,
                        format!(
                            "wrong token for channel {channel_name}: tokens are per channel; print this channel's with `webhook-dev relay token {channel_name} --secret ...` using the relay's secret"
                        ),
                    ))
                } else {
                    None
                }
            }
            Ok(Ok(other)) => Some(refuse(
                RefusedCode::Protocol,
                format!("the first message must be hello, not {}", message_kind(&other)),
            )),
        };
        if let Some(refusal) = refusal {
            if let RelayMessage::Refused { message, .. } = &refusal {
                self.emit(RelayEvent::ListenerRefused {
                    channel: channel_name.to_string(),
                    peer,
                    reason: message.clone(),
                });
            }
            if let Ok(frame) = protocol::encode(&refusal) {
                let _ = tokio::time::timeout(Duration::from_secs(2), async {
                    let _ = ws.send(frame).await;
                    let _ = ws.close(None).await;
                })
                .await;
            }
            return;
        }
        if let Some(verified) = verified {
            verified.set();
        }

        let channel = self.channel(channel_name);
        let me = self.inner.next_listener.fetch_add(1, Ordering::Relaxed);
        let kick = Arc::new(Notify::new());
        let queued = {
            let mut state = lock(&channel.state);
            if let Some(previous) = state.listener.replace(ListenerSlot {
                id: me,
                kick: kick.clone(),
            }) {
                previous.kick.notify_one();
            }
            state.queued as u64
        };
        let welcome = RelayMessage::Welcome {
            version: VERSION,
            channel: channel_name.to_string(),
            queued,
            heartbeat_ms: config.heartbeat.as_millis() as u64,
        };
        let sent = match protocol::encode(&welcome) {
            Ok(frame) => ws.send(frame).await.map_err(ProtocolError::from),
            Err(err) => Err(err),
        };
        let reason = match sent {
            Ok(()) => {
                self.emit(RelayEvent::ListenerConnected {
                    channel: channel_name.to_string(),
                    peer,
                    queued,
                });
                self.deliver(&channel, me, &kick, ws).await
            }
            Err(err) => err.to_string(),
        };
        self.release(&channel, me);
        self.emit(RelayEvent::ListenerLeft {
            channel: channel_name.to_string(),
            reason,
        });
    }

    /// Sends requests in order, within the window, and takes answers, until the session ends.
    /// Returns why it ended.
    async fn deliver<S>(
        &self,
        channel: &Arc<Channel>,
        me: u64,
        kick: &Notify,
        ws: WebSocketStream<S>,
    ) -> String
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let config = &self.inner.config;
        let (sink, mut stream) = ws.split();
        let (out, out_rx) = mpsc::unbounded_channel::<Message>();
        let writer = tokio::spawn(write_frames(sink, out_rx));
        let mut shutdown = self.inner.shutdown.subscribe();
        let mut heartbeat =
            tokio::time::interval_at(Instant::now() + config.heartbeat, config.heartbeat);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let dead_after = config.heartbeat * 5 / 2;
        let mut last_seen = Instant::now();
        let mut in_flight = 0usize;
        let mut nonce = 0u64;
        let closing = |message: &str, reconnect: bool| {
            protocol::encode(&RelayMessage::Closing {
                message: message.to_string(),
                reconnect,
            })
        };
        let reason = loop {
            if *shutdown.borrow() {
                let _ = out.send(closing("the relay is shutting down", true).expect("small"));
                break "the relay is shutting down".to_string();
            }
            if let Err(reason) = self.fill(channel, me, &mut in_flight, &out).await {
                break reason;
            }
            tokio::select! {
                biased;
                () = kick.notified() => {
                    let message = format!("another listener connected to channel {}", channel.name);
                    let _ = out.send(closing(&message, false).expect("small"));
                    break message;
                }
                _ = shutdown.changed() => continue,
                frame = stream.next() => {
                    last_seen = Instant::now();
                    let message = match frame {
                        None => break "the listener closed the connection".to_string(),
                        Some(Err(err)) => break ProtocolError::from(err).to_string(),
                        Some(Ok(frame)) => match protocol::decode::<ClientMessage>(frame) {
                            Ok(Some(message)) => message,
                            Ok(None) => continue,
                            Err(ProtocolError::Closed(reason)) => {
                                break reason.unwrap_or_else(|| "the listener closed the connection".into())
                            }
                            Err(err) => {
                                let _ = out.send(closing(&err.to_string(), true).expect("small"));
                                break err.to_string();
                            }
                        },
                    };
                    match message {
                        ClientMessage::Answer { id, response } => {
                            self.settle(channel, me, &id, Outcome::Answered(response.into()), &mut in_flight);
                        }
                        ClientMessage::Ack { id } => {
                            self.settle(channel, me, &id, Outcome::Offline, &mut in_flight);
                        }
                        ClientMessage::Error { id, message } => {
                            self.retry_later(channel, me, &id, message, &mut in_flight);
                        }
                        ClientMessage::Ping { nonce } => {
                            let _ = out.send(protocol::encode(&RelayMessage::Pong { nonce }).expect("small"));
                        }
                        ClientMessage::Pong { .. } => {}
                        ClientMessage::Hello { .. } => {
                            let _ = out.send(closing("hello sent twice", true).expect("small"));
                            break "the listener broke the protocol (hello sent twice)".to_string();
                        }
                    }
                }
                () = channel.wake.notified() => {}
                _ = heartbeat.tick() => {
                    if last_seen.elapsed() > dead_after {
                        break format!(
                            "no heartbeat for {} (dead connection)",
                            crate::forward::humanize(last_seen.elapsed())
                        );
                    }
                    nonce += 1;
                    let _ = out.send(protocol::encode(&RelayMessage::Ping { nonce }).expect("small"));
                }
            }
        };
        drop(out);
        let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
        reason
    }

    /// Sends pending requests, oldest first, while the window has room.
    async fn fill(
        &self,
        channel: &Channel,
        me: u64,
        in_flight: &mut usize,
        out: &mpsc::UnboundedSender<Message>,
    ) -> Result<(), String> {
        let window = self.inner.config.max_in_flight;
        while *in_flight < window {
            let next = {
                let mut state = lock(&channel.state);
                let Some((_, mut entry)) = state.pending.pop_first() else {
                    return Ok(());
                };
                let redelivery = entry.delivered;
                entry.delivered = true;
                entry.owner = me;
                let queued = !state.waiters.contains_key(&entry.id);
                let cached = entry.cached.clone();
                let seq = entry.seq;
                let id = entry.id.clone();
                state.in_flight.insert(entry.id.clone(), entry);
                (seq, id, cached, redelivery, queued)
            };
            let (seq, id, cached, redelivery, queued) = next;
            *in_flight += 1;
            let request = match cached {
                Some(request) => Some((*request).clone()),
                None => match self.inner.queue.load(seq).await {
                    Ok(request) => request,
                    Err(err) => {
                        // Put it back and give up on this session; the next one tries again.
                        self.unsend(channel, &id);
                        *in_flight -= 1;
                        return Err(format!("the relay could not read its queue: {err}"));
                    }
                },
            };
            let Some(mut request) = request else {
                // Acknowledged and deleted meanwhile.
                let mut state = lock(&channel.state);
                if state.in_flight.remove(&id).is_some() {
                    state.queued -= 1;
                }
                *in_flight -= 1;
                continue;
            };
            request.redelivery = redelivery;
            request.queued = queued;
            match protocol::encode(&RelayMessage::Request(Box::new(request))) {
                Ok(frame) => {
                    if out.send(frame).is_err() {
                        return Err("the connection to the listener broke".into());
                    }
                }
                Err(err) => {
                    // Cannot happen with --max-body within the protocol's limit. Never loop on
                    // it, and never delete it: it stays in the queue on disk.
                    tracing::error!(%id, "request cannot be sent, left in the queue: {err}");
                    let waiter = {
                        let mut state = lock(&channel.state);
                        state.in_flight.remove(&id);
                        state.waiters.remove(&id)
                    };
                    *in_flight -= 1;
                    if let Some(waiter) = waiter {
                        let _ = waiter.send(Outcome::NotStored(err.to_string()));
                    }
                }
            }
        }
        Ok(())
    }

    /// Puts an in-flight request back at its place in the pending line.
    fn unsend(&self, channel: &Channel, id: &str) {
        let mut state = lock(&channel.state);
        if let Some(entry) = state.in_flight.remove(id) {
            state.pending.insert(entry.seq, entry);
        }
    }

    /// The listener stored request `id`: drop it from the queue and tell its provider, if waiting.
    fn settle(
        &self,
        channel: &Channel,
        me: u64,
        id: &str,
        outcome: Outcome,
        in_flight: &mut usize,
    ) {
        let waiter = {
            let mut state = lock(&channel.state);
            match state.in_flight.get(id) {
                Some(entry) if entry.owner == me => {}
                _ => {
                    tracing::debug!(%id, "answer for a request not in flight here; ignored");
                    return;
                }
            }
            let entry = state.in_flight.remove(id).expect("checked above");
            state.queued -= 1;
            // Deleted under the lock, so that the delete follows the insert.
            if entry.inserted {
                self.inner.queue.remove(entry.seq);
            }
            state.waiters.remove(id)
        };
        *in_flight -= 1;
        if let Some(waiter) = waiter {
            let _ = waiter.send(outcome);
        }
    }

    /// The listener could not store request `id`: tell its provider, deliver it again later.
    /// Meanwhile it stays parked in the in-flight map with no owner, so that its provider can
    /// still have it written to the queue.
    fn retry_later(
        &self,
        channel: &Arc<Channel>,
        me: u64,
        id: &str,
        reason: String,
        in_flight: &mut usize,
    ) {
        let waiter = {
            let mut state = lock(&channel.state);
            match state.in_flight.get_mut(id) {
                Some(entry) if entry.owner == me => entry.owner = PARKED,
                _ => return,
            }
            state.waiters.remove(id)
        };
        *in_flight -= 1;
        tracing::warn!(%id, "the listener could not store a request: {reason}");
        if let Some(waiter) = waiter {
            let _ = waiter.send(Outcome::NotStored(reason));
        }
        let channel = channel.clone();
        let delay = self.inner.config.retry_after_error;
        let id = id.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let mut state = lock(&channel.state);
            if state.in_flight.get(&id).is_some_and(|e| e.owner == PARKED) {
                let entry = state.in_flight.remove(&id).expect("checked above");
                state.pending.insert(entry.seq, entry);
                drop(state);
                channel.wake.notify_one();
            }
        });
    }

    /// The session `me` ended: its unanswered requests go back in line; if no other listener
    /// took over, waiting providers get the offline answer (their requests stay queued).
    fn release(&self, channel: &Channel, me: u64) {
        let waiters = {
            let mut state = lock(&channel.state);
            let mine: Vec<String> = state
                .in_flight
                .iter()
                .filter(|(_, e)| e.owner == me)
                .map(|(id, _)| id.clone())
                .collect();
            for id in mine {
                let mut entry = state.in_flight.remove(&id).expect("listed above");
                if entry.committed {
                    entry.cached = None;
                }
                entry.owner = 0;
                state.pending.insert(entry.seq, entry);
            }
            if state.listener.as_ref().is_some_and(|l| l.id == me) {
                state.listener = None;
                for entry in state.pending.values_mut() {
                    if entry.committed {
                        entry.cached = None;
                    }
                }
                std::mem::take(&mut state.waiters)
            } else {
                HashMap::new()
            }
        };
        channel.wake.notify_one();
        for (_, waiter) in waiters {
            let _ = waiter.send(Outcome::Offline);
        }
    }
}

impl Channel {
    fn new(name: &str) -> Self {
        Channel {
            name: name.to_string(),
            state: Mutex::new(ChannelState::default()),
            wake: Notify::new(),
        }
    }
}

async fn next_message<S>(ws: &mut WebSocketStream<S>) -> Result<ClientMessage, ProtocolError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        match ws.next().await {
            None => return Err(ProtocolError::Closed(None)),
            Some(Err(err)) => return Err(err.into()),
            Some(Ok(frame)) => {
                if let Some(message) = protocol::decode(frame)? {
                    return Ok(message);
                }
            }
        }
    }
}

fn message_kind(message: &ClientMessage) -> &'static str {
    match message {
        ClientMessage::Hello { .. } => "hello",
        ClientMessage::Answer { .. } => "answer",
        ClientMessage::Ack { .. } => "ack",
        ClientMessage::Error { .. } => "error",
        ClientMessage::Ping { .. } => "ping",
        ClientMessage::Pong { .. } => "pong",
    }
}

/// Writes frames as they come, flushing once per burst.
pub(crate) async fn write_frames<S>(
    mut sink: futures_util::stream::SplitSink<WebSocketStream<S>, Message>,
    mut frames: mpsc::UnboundedReceiver<Message>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut batch = Vec::with_capacity(64);
    while frames.recv_many(&mut batch, 64).await > 0 {
        for frame in batch.drain(..) {
            if sink.feed(frame).await.is_err() {
                return;
            }
        }
        if sink.flush().await.is_err() {
            return;
        }
    }
    let _ = sink.close().await;
}

fn is_websocket_upgrade<B>(request: &Request<B>) -> bool {
    let has = |name: hyper::header::HeaderName, token: &str| {
        request.headers().get_all(name).iter().any(|v| {
            v.to_str().is_ok_and(|v| {
                v.split(',')
                    .any(|part| part.trim().eq_ignore_ascii_case(token))
            })
        })
    };
    request.method() == hyper::Method::GET
        && has(hyper::header::UPGRADE, "websocket")
        && has(hyper::header::CONNECTION, "upgrade")
}

fn plain(status: u16, message: &str) -> Response<Full<Bytes>> {
    RecordedResponse::plain(status, message).into_hyper()
}

fn queue_full(channel: &str, max: usize) -> Response<Full<Bytes>> {
    plain(
        507,
        &format!(
            "webhook-dev relay: channel {channel} already has {max} requests queued (--max-queue); connect a listener to drain it, then retry"
        ),
    )
}

fn not_queued(err: &QueueError) -> Response<Full<Bytes>> {
    plain(
        503,
        &format!("webhook-dev relay: the request could not be queued ({err}); it was not accepted, please retry"),
    )
}

/// Serves `listener` (plain HTTP, or HTTPS with `tls`) until `shutdown` resolves; then stops
/// accepting, closes listener sessions (telling them to reconnect later) and waits for the
/// connections to finish. Call [`Relay::close`] afterwards to flush the queue.
pub async fn serve(
    listener: TcpListener,
    relay: Relay,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()>,
) {
    let tls = tls.map(TlsAcceptor::from);
    let (stop, stopped) = watch::channel(false);
    // Every connection task holds a clone; when all are gone, recv() returns None.
    let (alive, mut all_done) = mpsc::channel::<()>(1);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(relay.inner.config.header_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    let slots = Arc::new(tokio::sync::Semaphore::new(
        relay.inner.config.max_connections.max(1),
    ));
    let mut turned_away = 0u64;
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!("accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            turned_away += 1;
            if turned_away.is_power_of_two() {
                tracing::warn!(
                    %peer,
                    "{turned_away} connection(s) closed on arrival: {} are open (--max-connections)",
                    relay.inner.config.max_connections
                );
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let relay = relay.clone();
        let builder = builder.clone();
        let tls = tls.clone();
        let stopped = stopped.clone();
        let alive = alive.clone();
        tokio::spawn(async move {
            let _alive = alive;
            let _slot = slot;
            let handshake_timeout = relay.inner.config.handshake_timeout;
            match tls {
                None => serve_connection(builder, TokioIo::new(stream), relay, peer, stopped).await,
                Some(acceptor) => {
                    match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            serve_connection(builder, TokioIo::new(stream), relay, peer, stopped)
                                .await
                        }
                        Ok(Err(err)) => tracing::debug!(%peer, "TLS handshake failed: {err}"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
    drop(listener);
    drop(alive);
    let _ = stop.send(true);
    let _ = relay.inner.shutdown.send(true);
    let grace = relay.inner.config.shutdown_grace;
    let finished = tokio::time::timeout(grace, async {
        let _ = all_done.recv().await;
        loop {
            let done = relay.inner.sessions_done.notified();
            if relay.inner.sessions.load(Ordering::SeqCst) == 0 {
                break;
            }
            done.await;
        }
    });
    if finished.await.is_err() {
        tracing::warn!("connections still open after {grace:?}; dropping them");
    }
}

async fn serve_connection<I>(
    builder: http1::Builder,
    io: TokioIo<I>,
    relay: Relay,
    peer: SocketAddr,
    mut stopped: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| {
        let relay = relay.clone();
        async move { Ok::<_, Infallible>(relay.route(request, peer).await) }
    });
    let connection = builder.serve_connection(io, service).with_upgrades();
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = async { let _ = stopped.wait_for(|stop| *stop).await; } => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(err) = result {
        tracing::debug!(%peer, "connection ended: {err}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_bucket_allows_a_burst_then_the_rate() {
        let limit = RateLimit {
            per_second: 10.0,
            burst: 3.0,
        };
        let now = Instant::now();
        let mut bucket = Bucket {
            tokens: limit.burst,
            last: now,
        };
        for _ in 0..3 {
            assert!(bucket.take(limit, now).is_ok());
        }
        let wait = bucket.take(limit, now).unwrap_err();
        assert!(wait <= Duration::from_millis(100), "{wait:?}");
        tokio::time::advance(Duration::from_millis(100)).await;
        assert!(bucket.take(limit, Instant::now()).is_ok());
        assert!(bucket.take(limit, Instant::now()).is_err());
        tokio::time::advance(Duration::from_secs(60)).await;
        for _ in 0..3 {
            assert!(bucket.take(limit, Instant::now()).is_ok());
        }
        assert!(bucket.take(limit, Instant::now()).is_err());
    }

    #[test]
    fn upgrades_are_recognised() {
        let request = Request::builder()
            .method("GET")
            .uri("/acme")
            .header("Upgrade", "WebSocket")
            .header("Connection", "keep-alive, Upgrade")
            .body(())
            .unwrap();
        assert!(is_websocket_upgrade(&request));
        let post = Request::builder()
            .method("POST")
            .uri("/acme")
            .header("Upgrade", "websocket")
            .header("Connection", "upgrade")
            .body(())
            .unwrap();
        assert!(!is_websocket_upgrade(&post));
    }

    #[test]
    fn bad_settings_are_explained() {
        let mut config = RelayConfig::new(Secret::new("0123456789abcdef0123"));
        assert!(config.validate().is_ok());
        config.offline_status = 503;
        assert!(config.validate().unwrap_err().to_string().contains("2xx"));
        config.offline_status = 202;
        config.max_body = protocol::MAX_BODY_BYTES + 1;
        assert!(config
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--max-body"));
        let short = RelayConfig::new(Secret::new("short"));
        assert!(short
            .validate()
            .unwrap_err()
            .to_string()
            .contains("too short"));
    }
}
