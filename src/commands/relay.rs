//! `webhook-dev relay`: run the relay until Ctrl-C; `relay token CHANNEL`: print a channel token.
//! Also starts the relay client beside `listen --relay`.

use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::cli::{QueueUrl, RelayArgs, RelayCommand};
use crate::relay::pg::PgQueue;
use crate::relay::server::{self, RateLimit, Relay, RelayConfig};
use crate::relay::strangers::StrangerLimits;
use crate::relay::{queue, tls, token};

/// Runs `relay` or `relay token`.
pub async fn run(store_dir: &Path, args: RelayArgs) -> anyhow::Result<()> {
    match args.command {
        Some(RelayCommand::Token { channel, secret }) => {
            token::check_channel(&channel)?;
            token::check_secret(&secret)?;
            println!("{}", token::channel_token(&secret, &channel).expose());
            return Ok(());
        }
        Some(RelayCommand::Forget {
            channel,
            queue,
            queue_ca,
        }) => return forget(store_dir, &channel, queue.as_ref(), queue_ca.as_deref()).await,
        None => {}
    }
    let (Some(addr), Some(secret)) = (args.addr, args.secret) else {
        anyhow::bail!("relay needs --addr HOST:PORT and --secret SECRET");
    };
    let mut config = RelayConfig::new(secret);
    config.offline_status = args.offline_status;
    config.answer_timeout = args.answer_timeout;
    config.max_body = args.max_body;
    config.max_queue = args.max_queue;
    config.rate = (args.max_rate > 0).then(|| RateLimit {
        per_second: f64::from(args.max_rate),
        burst: f64::from(args.max_rate) * 2.0,
    });
    config.shutdown_grace = args.answer_timeout + Duration::from_secs(5);
    config.channels = args.channels.map(|names| names.into_iter().collect());
    config.max_connections = args.max_connections as usize;
    config.open_channels = args.open_channels;
    config.strangers = StrangerLimits {
        total: args.max_unauthenticated as usize,
        per_address: args.max_unauthenticated_per_address as usize,
    };
    config.max_queue_bytes = args.max_queue_bytes as u64;
    match crate::fd_limit::raise_to_hard_limit() {
        Ok(files) if (files as usize) < config.max_connections + 64 => eprintln!(
            "webhook-dev: warning: only {files} open files are allowed (ulimit -n), fewer than --max-connections {} needs",
            config.max_connections
        ),
        Ok(_) => {}
        Err(err) => tracing::warn!("cannot raise the open-file limit: {err}"),
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(tls::server_config(cert, key)?),
        _ => None,
    };
    let (events, mut received) = mpsc::unbounded_channel();
    let relay = match &args.queue {
        Some(url) => {
            Relay::open_shared(config, url.expose(), args.queue_ca.as_deref(), Some(events)).await?
        }
        None => Relay::open(config, store_dir, args.durability, Some(events))?,
    };
    let listener = TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (is something else using it?)"))?;
    let bound = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let ws_scheme = if tls.is_some() { "wss" } else { "ws" };
    let (queued, store) = match relay.shared_queue() {
        Some(queue) => (queue.queued().await?, "postgresql (--queue)".to_string()),
        None => (relay.queued(), store_dir.display().to_string()),
    };
    let json = args.json;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "event": "listening", "addr": bound.to_string(), "tls": tls.is_some(),
                "queued": queued, "store": store,
            })
        );
    } else {
        println!(
            "webhook-dev relay on {scheme}://{bound}: providers send to {scheme}://HOST/CHANNEL/..., listeners connect to {ws_scheme}://HOST/CHANNEL; {queued} request(s) queued; store: {store}; Ctrl-C stops"
        );
    }
    let _ = std::io::stdout().flush();
    let printer = tokio::spawn(async move {
        while let Some(event) = received.recv().await {
            let line = if json {
                event.to_json().to_string()
            } else {
                event.human()
            };
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
        }
    });
    server::serve(listener, relay.clone(), tls, async {
        crate::shutdown::signal().await;
        tracing::info!("stopping: closing listener sessions");
    })
    .await;
    let closing = relay.clone();
    tokio::task::spawn_blocking(move || closing.close()).await?;
    drop(relay);
    printer.abort();
    Ok(())
}

/// `relay forget CHANNEL`: the channel and its queue leave the relay's store.
async fn forget(
    store_dir: &Path,
    channel: &str,
    shared: Option<&QueueUrl>,
    ca: Option<&Path>,
) -> anyhow::Result<()> {
    token::check_channel(channel)?;
    let forgotten = match shared {
        Some(url) => {
            let (wake, _) = mpsc::unbounded_channel();
            let queue = PgQueue::connect(url.expose(), ca, wake).await?;
            let forgotten = queue.forget(channel).await;
            queue.close();
            forgotten?
        }
        None => queue::forget_channel(store_dir, channel)?,
    };
    if forgotten.existed || forgotten.requests > 0 {
        println!(
            "channel {channel} forgotten with its {} queued request(s); providers get 404 until a listener holding its token connects",
            forgotten.requests
        );
        Ok(())
    } else {
        match shared {
            Some(_) => anyhow::bail!("the relay's queue database has no channel {channel}"),
            None => anyhow::bail!(
                "the relay store {} has no channel {channel}",
                store_dir.display()
            ),
        }
    }
}
