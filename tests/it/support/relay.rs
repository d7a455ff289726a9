//! Fixtures for the relay tests: a relay and a relay client (listener) on 127.0.0.1:0.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use webhook_dev::engine::{Engine, EngineConfig, EngineEvent, FixedAnswer};
use webhook_dev::forward::Forwarder;
use webhook_dev::relay::client::{self, ClientConfig, Refused, RelayUrl};
use webhook_dev::relay::server::{self, Relay, RelayConfig, RelayEvent};
use webhook_dev::relay::token::{channel_token, Token};
use webhook_dev::relay_state::RelayState;
use webhook_dev::signature::Secret;
use webhook_dev::store::{Durability, Store, StoreReader};
use webhook_dev::summary::RequestSummary;

use crate::support::eventually::eventually;

pub const SECRET: &str = "relay-test-secret-0123456789";

pub fn secret() -> Secret {
    Secret::new(SECRET)
}

pub fn token(channel: &str) -> Token {
    channel_token(&secret(), channel)
}

/// Relay settings for tests: short heartbeats and timeouts.
pub fn relay_config() -> RelayConfig {
    let mut config = RelayConfig::new(secret());
    config.answer_timeout = Duration::from_secs(10);
    config.shutdown_grace = Duration::from_secs(5);
    config
}

/// A relay serving on 127.0.0.1:0 over the queue in `dir`.
pub struct RunningRelay {
    pub addr: SocketAddr,
    pub relay: Relay,
    pub events: mpsc::UnboundedReceiver<RelayEvent>,
    pub tls: bool,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl RunningRelay {
    pub async fn start(dir: &Path, config: RelayConfig) -> RunningRelay {
        Self::start_with(dir, config, None).await
    }

    pub async fn start_with(
        dir: &Path,
        config: RelayConfig,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> RunningRelay {
        let (events_tx, events) = mpsc::unbounded_channel();
        let relay = Relay::open(config, dir, Durability::Process, Some(events_tx)).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = relay.clone();
        let is_tls = tls.is_some();
        let task = tokio::spawn(async move {
            server::serve(listener, serving, tls, async {
                let _ = stopped.await;
            })
            .await;
        });
        RunningRelay {
            addr,
            relay,
            events,
            tls: is_tls,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self, channel: &str) -> RelayUrl {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{}/{channel}", self.addr)
            .parse()
            .unwrap()
    }

    /// Waits for a relay event that `pick` accepts.
    pub async fn event(&mut self, pick: impl Fn(&RelayEvent) -> bool) -> RelayEvent {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let event = self.events.recv().await.expect("relay alive");
                if pick(&event) {
                    return event;
                }
            }
        })
        .await
        .expect("the relay event within 10 s")
    }

    /// Makes `channel` exist the way it does in use: a listener holding its token connects once,
    /// then leaves. Consumes the relay's events for it.
    pub async fn open_channel(&mut self, channel: &str) {
        let dir = tempfile::tempdir().unwrap();
        let mut listener = RunningListener::start(
            dir.path(),
            client_config(self.url(channel), token(channel)),
            None,
        )
        .await;
        listener.connected().await;
        listener.stop().await;
        self.event(|e| matches!(e, RelayEvent::ListenerLeft { channel: c, .. } if c == channel))
            .await;
    }

    /// Waits until the relay's queue for `channel` holds `n` requests.
    pub async fn queued_becomes(&self, channel: &str, n: u64) {
        let reached = eventually(Duration::from_secs(10), || {
            self.relay.queued_for(channel) == n
        })
        .await;
        assert!(
            reached,
            "queue of {channel} stays at {} instead of {n}",
            self.relay.queued_for(channel)
        );
    }

    /// Stops serving and flushes the queue.
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap();
        let relay = self.relay.clone();
        tokio::task::spawn_blocking(move || relay.close())
            .await
            .unwrap();
    }
}

/// A relay client with its own engine and store, forwarding to `forward` (or answering 200).
pub struct RunningListener {
    pub store: Store,
    pub store_dir: PathBuf,
    pub events: mpsc::UnboundedReceiver<EngineEvent>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<Result<(), Refused>>>,
}

pub fn client_config(url: RelayUrl, token: Token) -> ClientConfig {
    let mut config = ClientConfig::new(url, token);
    config.backoff_initial = Duration::from_millis(50);
    config.backoff_max = Duration::from_millis(400);
    config.heartbeat = Duration::from_secs(5);
    config.shutdown_grace = Duration::from_secs(5);
    config
}

impl RunningListener {
    pub async fn start(
        store_dir: &Path,
        config: ClientConfig,
        forward: Option<SocketAddr>,
    ) -> RunningListener {
        let store = Store::open(store_dir, Durability::Process).unwrap();
        let (events_tx, events) = mpsc::unbounded_channel();
        let forwarder = forward.map(|addr| {
            Forwarder::new(
                format!("http://{addr}").parse().unwrap(),
                Duration::from_secs(10),
            )
        });
        let engine = Arc::new(Engine::new(
            store.clone(),
            EngineConfig {
                forwarder,
                respond: FixedAnswer::default(),
                checks: webhook_dev::checks::Checks::default(),
            },
            events_tx,
        ));
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(client::run(engine, config, async move {
            let _ = stopped.wait_for(|s| *s).await;
        }));
        RunningListener {
            store,
            store_dir: store_dir.to_path_buf(),
            events,
            stop,
            task: Some(task),
        }
    }

    /// Waits for a relay state that `pick` accepts.
    pub async fn state(&mut self, pick: impl Fn(&RelayState) -> bool) -> RelayState {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match self.events.recv().await.expect("engine alive") {
                    EngineEvent::Relay(state) if pick(&state) => return state,
                    _ => {}
                }
            }
        })
        .await
        .expect("the relay state within 10 s")
    }

    pub async fn connected(&mut self) -> u64 {
        match self
            .state(|s| matches!(s, RelayState::Connected { .. }))
            .await
        {
            RelayState::Connected { queued, .. } => queued,
            _ => unreachable!(),
        }
    }

    /// Waits for `n` handled requests.
    pub async fn requests(&mut self, n: usize) -> Vec<RequestSummary> {
        let mut got = Vec::new();
        tokio::time::timeout(Duration::from_secs(15), async {
            while got.len() < n {
                if let EngineEvent::Request(summary) =
                    self.events.recv().await.expect("engine alive")
                {
                    got.push(*summary);
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{n} requests within 15 s; got {}", got.len()));
        got
    }

    pub fn reader(&self) -> StoreReader {
        StoreReader::open(&self.store_dir).unwrap()
    }

    /// The client's result once it ends by itself (e.g. refused).
    pub async fn ended(&mut self) -> Result<(), Refused> {
        tokio::time::timeout(Duration::from_secs(10), self.task.take().unwrap())
            .await
            .expect("the client ends within 10 s")
            .unwrap()
    }

    /// Stops gracefully and closes the store.
    pub async fn stop(mut self) -> StoreReader {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await.unwrap();
        }
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.close())
            .await
            .unwrap();
        StoreReader::open(&self.store_dir).unwrap()
    }

    /// Drops the connection at once, as if the process died (the store stays open).
    pub fn kill(&mut self) {
        self.task.take().unwrap().abort();
    }
}

/// A TCP proxy on 127.0.0.1:0 whose connections can all be cut at once, as a network would.
pub struct Cutter {
    pub addr: SocketAddr,
    target: Arc<std::sync::Mutex<SocketAddr>>,
    connections: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Cutter {
    pub async fn start(target: SocketAddr) -> Cutter {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(std::sync::Mutex::new(Vec::new()));
        let tracked = connections.clone();
        let target = Arc::new(std::sync::Mutex::new(target));
        let current = target.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = *current.lock().unwrap();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tracked.lock().unwrap().push(task);
            }
        });
        Cutter {
            addr,
            target,
            connections,
            accept,
        }
    }

    /// New connections go to `target` from now on.
    pub fn retarget(&self, target: SocketAddr) {
        *self.target.lock().unwrap() = target;
    }

    /// Closes every connection through the proxy (new ones still work).
    pub fn cut(&self) {
        for task in self.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

impl Drop for Cutter {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}
