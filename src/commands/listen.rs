//! `webhook-dev listen`: bind, capture until Ctrl-C, then drain and flush.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::capture::{self, Limits};
use crate::cli::ListenArgs;
use crate::engine::{Engine, EngineConfig, EngineEvent};
use crate::event_sink::EventSink;
use crate::forward::Forwarder;
use crate::output::{self, Mode};
use crate::relay::client::{self, ClientConfig, Refused};
use crate::relay::tls;
use crate::store::Store;
use crate::tui::theme::Theme;

/// How long `listen`, once stopped, waits for stdout to take the lines still queued.
const PRINTER_GRACE: Duration = Duration::from_secs(1);

/// Whether `listen` opens the inspector: on a terminal, unless `--json` or `--no-tui`.
pub fn opens_inspector(args: &ListenArgs) -> bool {
    !args.json && !args.no_tui && std::io::stdout().is_terminal() && std::io::stdin().is_terminal()
}

/// Runs `listen` until Ctrl-C (or SIGTERM).
pub async fn run(store_dir: &Path, args: ListenArgs) -> anyhow::Result<()> {
    let relay = listener_config(&args)?;
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
    let (events, receiver, printer): (EventSink, _, _) = if use_tui {
        let (events, receiver) = mpsc::unbounded_channel();
        (events.into(), Some(receiver), None)
    } else {
        let (queue, printer) = output::spawn_printer(mode, args.output_buffer)?;
        (queue.into(), None, Some(printer))
    };
    let checks = super::setup::checks_for(&args.signing, args.timeout, &args.handler_tls.tls())?;
    let checks_for_tui = checks.clone();
    let theme = Theme::choose(
        args.theme,
        crate::config::theme(args.signing.config.as_deref())?,
    );
    let forwarder = args
        .forward
        .map(|target| Forwarder::with_tls(target, args.timeout, &args.handler_tls.tls()))
        .transpose()?
        .map(|forwarder| forwarder.with_answer_cap(args.max_stored_answer));
    let engine = Engine::new(
        store.clone(),
        EngineConfig {
            forwarder: forwarder.clone(),
            respond: args.respond,
            checks,
        },
        events,
    );
    // The inspector lists a request the moment it arrives; the printers only once answered.
    let engine = Arc::new(if use_tui {
        engine.reporting_arrivals()
    } else {
        engine
    });
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
            let (quit, quitted) = tokio::sync::oneshot::channel::<()>();
            let inspector = crate::tui::for_listen(
                store_dir,
                engine.clone(),
                receiver,
                checks_for_tui,
                Box::new(move || {
                    let _ = quit.send(());
                }),
            )?
            .with_theme(theme);
            let mut server =
                tokio::spawn(serve_until_signal(listener, engine, limits, relay, async {
                    let _ = quitted.await;
                }));
            // `q` stops the server; a signal (or the relay refusing this listener) stops the
            // server, which closes the inspector.
            tokio::select! {
                outcome = inspector.run() => {
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

/// Serves until the first Ctrl-C (or `quit`), then finishes the requests in flight; a second
/// Ctrl-C exits at once ([`crate::shutdown`]). With a relay client, also stops (with its error) when the relay refuses
/// the listener.
async fn serve_until_signal(
    listener: TcpListener,
    engine: Arc<Engine>,
    limits: Limits,
    relay: Option<crate::relay::client::ClientConfig>,
    quit: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let stop = Arc::new(tokio::sync::watch::Sender::new(false));
    crate::shutdown::stop_on_signal(stop.clone(), quit);
    let relay = relay.map(|config| spawn_listener_client(engine.clone(), config, stop.clone()));
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

/// The relay client's settings for `listen --relay`, if asked for.
pub fn listener_config(args: &ListenArgs) -> anyhow::Result<Option<ClientConfig>> {
    let Some(url) = args.relay.clone() else {
        return Ok(None);
    };
    let token = args
        .relay_token
        .clone()
        .context("--relay needs --relay-token (print it on the relay host with `webhook-dev relay token CHANNEL`)")?;
    let mut config = ClientConfig::new(url, token);
    config.extra_roots = client::load_extra_roots(args.relay_ca.as_ref())?;
    if config.url.is_tls() {
        // Fail now, not on every reconnect, if the roots cannot be used.
        tls::client_config(&config.extra_roots)?;
    }
    config.max_body = args.max_body;
    config.shutdown_grace = args.timeout + Duration::from_secs(5);
    config.no_takeover = args.no_takeover;
    Ok(Some(config))
}

/// Starts the relay client beside the capture server. It stops when `stop` turns true; if the
/// relay refuses the listener for good, it turns `stop` true itself so `listen` exits.
pub fn spawn_listener_client(
    engine: Arc<Engine>,
    config: ClientConfig,
    stop: Arc<watch::Sender<bool>>,
) -> JoinHandle<Result<(), Refused>> {
    let mut stopped = stop.subscribe();
    tokio::spawn(async move {
        let result = client::run(engine, config, async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        })
        .await;
        if result.is_err() {
            let _ = stop.send(true);
        }
        result
    })
}
