//! The accept loop: one task per connection, stopped gracefully on shutdown.

use std::future::Future;
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use super::request::{capture, Limits};
use crate::engine::Engine;
use crate::http_edge::next_connection;

/// Serves `listener` until `shutdown` resolves, then stops accepting and waits for the requests in
/// flight (their forwards included) to be answered.
pub async fn serve(
    listener: TcpListener,
    engine: Arc<Engine>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        let (stream, peer) = tokio::select! {
            accepted = next_connection(&listener) => accepted,
            () = &mut shutdown => break,
        };
        let engine = engine.clone();
        let service = service_fn(move |request| capture(engine.clone(), limits, peer, request));
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        connections.spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(%peer, "connection ended: {err}");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "requests still in flight after {:?}; dropping them",
            limits.shutdown_grace
        );
    }
    connections.shutdown().await;
}
