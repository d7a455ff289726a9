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

mod accept;
mod channel;
mod config;
mod events;
mod provider;
mod session;
mod shared;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use tokio::sync::{mpsc, watch, Notify};

use super::pg::PgQueue;
use super::queue::{last_seq, Queue};
use super::strangers::{Stranger, Strangers};
use super::token::check_channel;
use crate::model::RecordedResponse;
use crate::store::Durability;
use crate::sync::lock;
pub use accept::serve;
use channel::{Channel, Entry};
pub use config::{RateLimit, RelayConfig};
pub use events::RelayEvent;
use session::is_websocket_upgrade;

/// The relay: a cheap-to-clone handle on its queue and channels.
#[derive(Clone)]
pub struct Relay {
    inner: Arc<Shared>,
}

struct Shared {
    config: RelayConfig,
    backend: Backend,
    /// Channels with state in memory; idle ones are evicted ([`Relay::evict_idle`]).
    channels: Mutex<HashMap<String, Arc<Channel>>>,
    /// Channels that exist (durably, in the queue's database).
    known: Mutex<HashSet<String>>,
    /// Body and header bytes of every queued request, all channels together.
    queued_bytes: AtomicU64,
    /// Connections not yet authenticated.
    strangers: Strangers,
    ids: Mutex<ulid::Generator>,
    next_seq: AtomicI64,
    next_listener: AtomicU64,
    events: Option<mpsc::UnboundedSender<RelayEvent>>,
    shutdown: watch::Sender<bool>,
    sessions: AtomicUsize,
    sessions_done: Notify,
}

/// Where the relay keeps its queue.
enum Backend {
    /// SQLite in the store directory: this process is the whole relay, and the channels' state in
    /// memory says what is queued, in flight and waited for.
    Sqlite(Queue),
    /// PostgreSQL, shared with the other instances of the same relay: the database says what is
    /// queued and which session delivers each channel.
    Postgres(PgQueue),
}

impl Shared {
    /// The SQLite queue; only the SQLite path's bookkeeping reaches for it.
    fn sqlite(&self) -> &Queue {
        match &self.backend {
            Backend::Sqlite(queue) => queue,
            Backend::Postgres(_) => {
                unreachable!("the in-memory queue bookkeeping runs only over SQLite")
            }
        }
    }
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
        // A channel with requests queued exists, however they got there.
        let mut known = queue.channels_blocking()?;
        known.extend(entries.iter().map(|e| e.channel.clone()));
        let queued_bytes = entries.iter().map(|e| e.size).sum();
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
                    size: entry.size,
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
        let strangers = Strangers::new(config.strangers);
        Ok(Relay {
            inner: Arc::new(Shared {
                config,
                backend: Backend::Sqlite(queue),
                channels: Mutex::new(channels),
                known: Mutex::new(known),
                queued_bytes: AtomicU64::new(queued_bytes),
                strangers,
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

    /// Opens the relay over the PostgreSQL queue at `url`, shared with every other instance
    /// started with the same database and secret.
    /// `ca`: see [`PgQueue::connect`].
    pub(crate) async fn open_shared(
        config: RelayConfig,
        url: &str,
        ca: Option<&Path>,
        events: Option<mpsc::UnboundedSender<RelayEvent>>,
    ) -> anyhow::Result<Relay> {
        config.validate()?;
        let (wake, woken) = mpsc::unbounded_channel();
        let queue = PgQueue::connect(url, ca, wake).await?;
        let queued_bytes = queue.queued_bytes().await.unwrap_or(0);
        let (shutdown, _) = watch::channel(false);
        let strangers = Strangers::new(config.strangers);
        let relay = Relay {
            inner: Arc::new(Shared {
                config,
                backend: Backend::Postgres(queue),
                channels: Mutex::new(HashMap::new()),
                known: Mutex::new(HashSet::new()),
                queued_bytes: AtomicU64::new(queued_bytes),
                strangers,
                ids: Mutex::new(ulid::Generator::new()),
                next_seq: AtomicI64::new(0),
                next_listener: AtomicU64::new(1),
                events,
                shutdown,
                sessions: AtomicUsize::new(0),
                sessions_done: Notify::new(),
            }),
        };
        tokio::spawn(shared::wake_channels(Arc::downgrade(&relay.inner), woken));
        tokio::spawn(shared::refresh_queued_bytes(Arc::downgrade(&relay.inner)));
        Ok(relay)
    }

    /// The shared PostgreSQL queue, when the relay runs over one.
    pub(crate) fn shared_queue(&self) -> Option<&PgQueue> {
        match &self.inner.backend {
            Backend::Postgres(queue) => Some(queue),
            Backend::Sqlite(_) => None,
        }
    }

    /// How many requests wait in the queue, all channels together.
    pub fn queued(&self) -> u64 {
        lock(&self.inner.channels)
            .values()
            .map(|c| lock(&c.state).queued as u64)
            .sum()
    }

    /// How many connections are not yet authenticated.
    pub fn strangers(&self) -> usize {
        self.inner.strangers.count()
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
        match &self.inner.backend {
            Backend::Sqlite(queue) => queue.close(),
            Backend::Postgres(queue) => queue.close(),
        }
    }

    fn emit(&self, event: RelayEvent) {
        tracing::info!("{}", event.human());
        if let Some(events) = &self.inner.events {
            let _ = events.send(event);
        }
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
        stranger: &Arc<Stranger>,
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
            return self.upgrade(&mut request, channel, peer, stranger.clone());
        }
        let rest = if rest.starts_with('/') {
            rest.to_string()
        } else {
            format!("/{rest}")
        };
        self.provider(request, channel, rest, peer, stranger).await
    }
}

fn plain(status: u16, message: &str) -> Response<Full<Bytes>> {
    RecordedResponse::plain(status, message).into_hyper()
}
