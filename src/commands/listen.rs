//! `webhook-dev listen`: bind, capture until Ctrl-C, then drain and flush.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::capture::{self, Limits};
use crate::cli::ListenArgs;
use crate::engine::{Engine, EngineConfig, EngineEvent};
use crate::forward::Forwarder;
use crate::output::{self, Mode};
use crate::store::Store;

/// How long `listen`, once stopped, waits for stdout to take the lines still queued.
const PRINTER_GRACE: Duration = Duration::from_secs(1);

/// Whether `listen` opens the inspector: on a terminal, unless `--json` or `--no-tui`.
pub fn opens_inspector(args: &ListenArgs) -> bool {
    !args.json && !args.no_tui && std::io::stdout().is_terminal() && std::io::stdin().is_terminal()
}

/// Runs `listen` until Ctrl-C (or SIGTERM).
pub async fn run(store_dir: &Path, args: ListenArgs) -> anyhow::Result<()> {
    let relay = super::relay::listener_config(&args)?;
    let store = Store::open(store_dir, args.durability)?;
    let listener = TcpListener::bind(&args.addr).await.with_context(|| {
        format!("cannot listen on {} (is another webhook-dev or server using it? try --addr 127.0.0.1:0)", args.addr)
    })?;
    let addr = listener.local_addr()?;
    let mode = if args.json {
        Mode::Json
    } else {
        Mode::human_for_stdout()
    };
    let use_tui = opens_inspector(&args);
    let (events, receiver) = mpsc::unbounded_channel();
    let mut receiver = Some(receiver);
    let printer = if use_tui {
        None
    } else {
        receiver
            .take()
            .map(|receiver| output::spawn_printer(receiver, mode, args.output_buffer))
            .transpose()?
    };
    let checks = super::setup::checks(
        args.config.as_deref(),
        args.profile.as_deref(),
        args.secret.as_deref(),
        args.timeout,
        &args.handler_tls.tls(),
    )?;
    let checks_for_tui = checks.clone();
    let forwarder = args
        .forward
        .map(|target| Forwarder::with_tls(target, args.timeout, &args.handler_tls.tls()))
        .transpose()?
        .map(|forwarder| forwarder.with_answer_cap(args.max_stored_answer));
    let engine = Arc::new(Engine::new(
        store.clone(),
        EngineConfig {
            forwarder: forwarder.clone(),
            respond: args.respond,
            checks,
        },
        events,
    ));
    engine.emit(EngineEvent::Listening {
        addr,
        forward: forwarder.map(|f| f.target().to_string()),
        store: store_dir.display().to_string(),
    });
    let limits = Limits {
        max_body: args.max_body,
        header_timeout: args.header_timeout,
        body_timeout: args.body_timeout,
        shutdown_grace: args.timeout + Duration::from_secs(5),
    };
    let outcome = match receiver {
        Some(receiver) => {
            // The inspector reads the history before the server accepts anything.
            let inspector =
                crate::tui::for_listen(store_dir, engine.clone(), receiver, checks_for_tui)?;
            let (quit, quitted) = tokio::sync::oneshot::channel::<()>();
            let mut server =
                tokio::spawn(serve_until_signal(listener, engine, limits, relay, async {
                    let _ = quitted.await;
                }));
            // `q` stops the server; a signal (or the relay refusing this listener) stops the
            // server, which closes the inspector.
            tokio::select! {
                outcome = inspector.run() => {
                    let _ = quit.send(());
                    let served = (&mut server).await;
                    outcome.and(served?)
                }
                served = &mut server => served?,
            }
        }
        None => serve_until_signal(listener, engine, limits, relay, std::future::pending()).await,
    };
    tokio::task::spawn_blocking(move || store.close()).await?;
    if let Some(printer) = printer {
        if !printer.finish(PRINTER_GRACE).await {
            eprintln!(
                "webhook-dev: stdout is not taking lines; the last ones were not printed (every request is stored)"
            );
        }
    }
    outcome
}

/// Serves until the first Ctrl-C (or `quit`), then finishes the requests in flight. A second
/// Ctrl-C exits at once. With a relay client, also stops (with its error) when the relay refuses
/// the listener.
async fn serve_until_signal(
    listener: TcpListener,
    engine: Arc<Engine>,
    limits: Limits,
    relay: Option<crate::relay::client::ClientConfig>,
    quit: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let stop = Arc::new(tokio::sync::watch::Sender::new(false));
    let signalled = stop.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = shutdown_signal() => {}
            () = quit => {
                let _ = signalled.send(true);
                return;
            }
        }
        tracing::info!("stopping: finishing requests in flight");
        let _ = signalled.send(true);
        shutdown_signal().await;
        eprintln!("webhook-dev: stopped at once; requests in flight may not have been answered");
        std::process::exit(130);
    });
    let relay = relay
        .map(|config| super::relay::spawn_listener_client(engine.clone(), config, stop.clone()));
    let mut stopped = stop.subscribe();
    capture::serve(listener, engine, limits, async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    })
    .await;
    if let Some(relay) = relay {
        relay.await??;
    }
    Ok(())
}

pub(crate) async fn shutdown_signal() {
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
