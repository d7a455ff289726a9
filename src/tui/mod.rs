//! The terminal inspector: `listen` on a terminal, and `inspect`.
//!
//! Elm-style: [`app::App`] holds the state, [`app::update`] is the only place it changes (one
//! [`message::Message`] at a time, returning [`message::Effect`]s), [`ui::draw`] draws it without
//! changing anything, and [`event_loop`] wires the terminal, the engine and the effects together.
//! The engine knows nothing of this module: the inspector consumes its events and reads the store.

pub(crate) mod actions;
pub mod app;
pub(crate) mod body;
pub(crate) mod detail;
pub(crate) mod doc;
pub(crate) mod edit;
pub(crate) mod event_loop;
pub(crate) mod filter;
pub mod history;
pub(crate) mod layout;
pub mod message;
pub mod rows;
pub(crate) mod terminal;
pub(crate) mod theme;
pub mod ui;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::checks::Checks;
use crate::engine::{Engine, EngineEvent};
use crate::target::Target;
use app::{App, Mode, Session};
use event_loop::{Inspector, Replayer};
use history::StoreHistory;
use rows::Rows;

/// The file in the store directory that takes warnings while the inspector owns the terminal.
pub(crate) const LOG_FILE: &str = "inspector.log";

/// The inspector for `listen`: the stored history first, then the engine's requests live, and
/// what other processes record in the store meanwhile. Call before the capture server starts
/// accepting, so no request falls between the two. `checks` (from `--profile`, `--secret`,
/// `--config`) give `R` its secret; `stop_accepting` stops the server when quitting begins.
pub(crate) fn for_listen(
    store_dir: &Path,
    engine: Arc<Engine>,
    events: mpsc::UnboundedReceiver<EngineEvent>,
    checks: Checks,
    stop_accepting: Box<dyn FnOnce() + Send>,
) -> anyhow::Result<Inspector> {
    let mut rows = Rows::new();
    let history = StoreHistory::open(store_dir, &mut rows, true)?;
    let session = Session {
        mode: Mode::Listen,
        listen: None,
        forward: engine.forwarder().map(|f| f.target().to_string()),
        relay: None,
        store: store_dir.display().to_string(),
    };
    Ok(Inspector {
        app: App::new(rows, Box::new(history), session).with_checks(Some(checks)),
        events: Some(events),
        events_mean_poll: false,
        replayer: Replayer::Engine(engine),
        log: Some(store_dir.join(LOG_FILE)),
        poll_on_tick: true,
        stop_accepting: Some(stop_accepting),
    })
}

/// The inspector for `inspect`: the stored history, and whatever others record meanwhile.
/// Replays go to `forward`, else to each request's recorded target, checked with `checks`.
pub(crate) fn for_inspect(
    store_dir: &Path,
    forward: Option<Target>,
    timeout: Duration,
    tls: crate::handler_tls::HandlerTls,
    checks: Checks,
) -> anyhow::Result<Inspector> {
    let mut rows = Rows::new();
    let history = StoreHistory::open(store_dir, &mut rows, true)?;
    let session = Session {
        mode: Mode::Inspect,
        listen: None,
        forward: forward.as_ref().map(ToString::to_string),
        relay: None,
        store: store_dir.display().to_string(),
    };
    let (events_tx, events) = mpsc::unbounded_channel();
    Ok(Inspector {
        app: App::new(rows, Box::new(history), session).with_checks(Some(checks.clone())),
        events: Some(events),
        events_mean_poll: true,
        replayer: Replayer::Store {
            dir: store_dir.to_path_buf(),
            forward,
            timeout,
            tls,
            checks,
            store: None,
            engines: Default::default(),
            events: events_tx,
        },
        log: Some(store_dir.join(LOG_FILE)),
        poll_on_tick: true,
        stop_accepting: None,
    })
}
