//! The accept loop: one task per connection (TLS first when configured), closed gracefully when
//! the relay stops.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;

use super::Relay;
use crate::http_edge::next_connection;
use crate::relay::strangers::Stranger;

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
    let sweeper = tokio::spawn(sweep_idle_channels(relay.clone()));
    let mut turned_away = 0u64;
    loop {
        let (stream, peer) = tokio::select! {
            accepted = next_connection(&listener) => accepted,
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
        let Ok(stranger) = relay.inner.strangers.admit(peer.ip()) else {
            drop(stream);
            continue;
        };
        let relay = relay.clone();
        let builder = builder.clone();
        let tls = tls.clone();
        let stopped = stopped.clone();
        let alive = alive.clone();
        tokio::spawn(async move {
            let _alive = alive;
            let _slot = slot;
            let handshake_timeout = relay.inner.config.handshake_timeout;
            let evicted = stranger.clone();
            let serving = async move {
                match tls {
                    None => {
                        let io = TokioIo::new(stream);
                        serve_connection(builder, io, relay, peer, stranger, stopped).await
                    }
                    Some(acceptor) => {
                        match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await
                        {
                            Ok(Ok(stream)) => {
                                let io = TokioIo::new(stream);
                                serve_connection(builder, io, relay, peer, stranger, stopped).await
                            }
                            Ok(Err(err)) => tracing::debug!(%peer, "TLS handshake failed: {err}"),
                            Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                        }
                    }
                }
            };
            // Only a stranger is ever evicted; a promoted connection is served to its end.
            tokio::select! {
                () = serving => {}
                () = evicted.evicted() => tracing::debug!(%peer, "closed to make room for a newer connection"),
            }
        });
    }
    drop(listener);
    sweeper.abort();
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
    stranger: Arc<Stranger>,
    mut stopped: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| {
        let relay = relay.clone();
        let stranger = stranger.clone();
        async move { Ok::<_, Infallible>(relay.route(request, peer, &stranger).await) }
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

/// Evicts idle channels' in-memory state every half `idle_eviction`.
async fn sweep_idle_channels(relay: Relay) {
    let every = (relay.inner.config.idle_eviction / 2).max(std::time::Duration::from_millis(10));
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        let evicted = relay.evict_idle();
        if evicted > 0 {
            tracing::debug!("{evicted} idle channel(s) evicted from memory");
        }
    }
}
