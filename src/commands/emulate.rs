//! `webhook-dev emulate avala|infermedica`: serve the provider's webhook API until Ctrl-C,
//! delivering events and resuming the retries the store holds.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;

use crate::cli::EmulateArgs;
use crate::emulate::log::Log;
use crate::emulate::scheduler::{Deliverer, DeliverySettings};
use crate::emulate::{server, Emulator, EmulatorDb};
use crate::store::{Durability, Store};
use crate::trigger::parse_schedule;

/// Runs the emulator until Ctrl-C (or SIGTERM).
pub async fn run(store_dir: &Path, args: EmulateArgs) -> anyhow::Result<()> {
    let (catalog, _) = super::setup::catalog(None, None)?;
    let profile = catalog.require(args.provider.name())?.clone();
    let schedule = match &args.retry_schedule {
        Some(text) => parse_schedule(text).map_err(|e| anyhow::anyhow!("--retry-schedule: {e}"))?,
        None => profile.retry_schedule.clone(),
    };
    let store = Store::open(store_dir, Durability::Process)?;
    let db = EmulatorDb::open(store_dir)?;
    let listener = TcpListener::bind(&args.addr).await.with_context(|| {
        format!(
            "cannot listen on {} (is another emulator or server using it? try --addr 127.0.0.1:0)",
            args.addr
        )
    })?;
    let addr = listener.local_addr()?;
    let log = Log::new(args.json);
    let deliverer = Deliverer::new(
        DeliverySettings {
            provider: args.provider,
            profile: profile.clone(),
            catalog,
            schedule,
            timeout: args.timeout,
            tls: args.handler_tls.tls(),
        },
        db.clone(),
        store.clone(),
        log,
    );
    let base_url = format!("http://{addr}{}", args.provider.base_path());
    log.started(
        args.provider.name(),
        &addr.to_string(),
        &base_url,
        &args.provider.hint(&base_url),
    );
    let resumed = deliverer.resume().await?;
    if resumed > 0 {
        log.resumed(resumed);
    }
    let emulator = Arc::new(Emulator {
        provider: args.provider,
        profile,
        db,
        deliverer,
        log,
    });
    server::serve(listener, emulator, crate::shutdown::signal()).await;
    tokio::task::spawn_blocking(move || store.close()).await?;
    Ok(())
}
