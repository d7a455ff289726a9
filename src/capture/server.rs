//! The accept loop: one task per connection, stopped gracefully on shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::runtime::{Handle, RuntimeFlavor};

use super::linger::{linger_when_idle, note_activity};
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
    // A set aborts its tasks when dropped: these stop with `serve`, however it ends.
    let mut background = tokio::task::JoinSet::new();
    background.spawn(anchor_timer_wheel(anchor_period(
        &limits,
        engine.shortest_forward_timeout(),
    )));
    if Handle::current().runtime_flavor() == RuntimeFlavor::CurrentThread {
        background.spawn(linger_when_idle(engine.connection_count()));
    }
    tokio::pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        let (stream, peer) = tokio::select! {
            accepted = next_connection(&listener) => accepted,
            () = &mut shutdown => break,
        };
        let open = engine.connection_opened();
        let engine = engine.clone();
        let service = service_fn(move |request| {
            let engine = engine.clone();
            async move {
                note_activity();
                let answer = capture(engine, limits, peer, request).await;
                note_activity();
                answer
            }
        });
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        connections.spawn(async move {
            let _open = open;
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

/// How often [`anchor_timer_wheel`] ticks at most.
const ANCHOR_EVERY: Duration = Duration::from_secs(2);

/// How often [`anchor_timer_wheel`] ticks: no later than the shortest timer a request sets (the
/// header and body timeouts, and the forward's `--timeout`) can be due, and every
/// [`ANCHOR_EVERY`] at most.
fn anchor_period(limits: &Limits, forward_timeout: Option<Duration>) -> Duration {
    [limits.header_timeout, limits.body_timeout]
        .into_iter()
        .chain(forward_timeout)
        .fold(ANCHOR_EVERY, Duration::min)
        .max(MIN_ANCHOR_EVERY)
}

/// The anchor never ticks more often than this, however short a timeout is set.
const MIN_ANCHOR_EVERY: Duration = Duration::from_millis(10);

/// Keeps a timer due within `every` in tokio's timer wheel while serving.
///
/// Tokio's time driver wakes its runtime through the runtime's eventfd whenever a timer is set
/// to expire before the earliest one the driver saw on its last turn, even while the runtime's
/// thread is busy and will look again anyway (tokio-rs/tokio#5207). With only the 30 s timers of
/// requests in flight in the wheel, every connection's 10 s header timer then cost a write(2)
/// and an extra `epoll_wait`. A timer always due no later than any request's keeps the earliest
/// deadline ahead of theirs.
async fn anchor_timer_wheel(every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_anchor_ticks_no_later_than_the_shortest_timer_a_request_sets() {
        let defaults = Limits::default();
        assert_eq!(
            anchor_period(&defaults, Some(Duration::from_secs(30))),
            ANCHOR_EVERY
        );
        assert_eq!(anchor_period(&defaults, None), ANCHOR_EVERY);
        assert_eq!(
            anchor_period(&defaults, Some(Duration::from_millis(500))),
            Duration::from_millis(500)
        );
        let short_head = Limits {
            header_timeout: Duration::from_secs(1),
            ..Limits::default()
        };
        assert_eq!(anchor_period(&short_head, None), Duration::from_secs(1));
        assert_eq!(
            anchor_period(&defaults, Some(Duration::ZERO)),
            MIN_ANCHOR_EVERY
        );
    }
}
