//! How a long-running command stops: the first Ctrl-C (or SIGTERM) asks it to finish what is in
//! flight; a second one exits at once.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;

/// The exit code of a process stopped at once by a second signal (128 + SIGINT).
const STOPPED_AT_ONCE: i32 = 130;

/// Waits for Ctrl-C or SIGTERM.
pub async fn signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("a SIGTERM handler can be installed");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// Turns `stop` true at the first signal, or when `quit` completes; after a signal, a second one
/// exits the process at once.
pub fn stop_on_signal(
    stop: Arc<watch::Sender<bool>>,
    quit: impl Future<Output = ()> + Send + 'static,
) {
    tokio::spawn(async move {
        tokio::select! {
            () = signal() => {}
            () = quit => {
                let _ = stop.send(true);
                return;
            }
        }
        tracing::info!("stopping: finishing requests in flight");
        let _ = stop.send(true);
        signal().await;
        eprintln!("webhook-dev: stopped at once; requests in flight may not have been answered");
        std::process::exit(STOPPED_AT_ONCE);
    });
}
