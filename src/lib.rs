//! webhook-dev: a local development tunnel and inspector for webhooks.
//!
//! Requests arrive through [`capture`], go through the [`engine`] (store, verify, forward) and are
//! followed by consumers of [`engine::EngineEvent`]s.

#![warn(missing_docs)]
#![deny(unsafe_code)]

mod addr_text;
pub mod capture;
pub mod checks;
pub mod cli;
pub(crate) mod commands;
pub(crate) mod config;
pub(crate) mod content;
pub mod delivery;
pub(crate) mod diff;
pub(crate) mod emulate;
pub mod engine;
pub(crate) mod event_queue;
pub(crate) mod event_sink;
pub mod exit;
pub(crate) mod export;
pub mod fd_limit;
pub(crate) mod fixture;
pub mod forward;
pub(crate) mod handler_pool;
pub(crate) mod handler_tls;
pub(crate) mod har;
pub(crate) mod http_edge;
pub(crate) mod inert;
pub(crate) mod json_text;
pub(crate) mod mcp;
pub mod model;
pub(crate) mod output;
pub mod providers;
pub mod relay;
pub mod relay_state;
pub mod replay;
pub mod secrets;
pub(crate) mod shutdown;
pub mod signature;
pub mod store;
pub mod summary;
pub(crate) mod sync;
pub(crate) mod target;
pub mod trigger;
pub mod tui;

use cli::{Cli, Command};

/// The runtime for a command. `listen` without the inspector keeps every request on one thread:
/// on the 2-core benchmark machine that measured faster than a multi-threaded runtime, which
/// pays for cross-thread wake-ups on every request (see README, "Speed"). The inspector needs the
/// multi-threaded runtime: it suspends for `$EDITOR` with `block_in_place`. The single thread
/// commits the writes it queued when it runs out of work ([`store::before_park`]), so that one
/// commit holds them all, and, serving a lone sender, polls a little longer before it sleeps
/// ([`capture::before_park`]). A worker of the multi-threaded runtime is not given the hook:
/// one blocked in `block_in_place` would hold its writes for as long as the editor is open.
pub fn runtime(cli: &Cli) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = match &cli.command {
        Command::Listen(args) if !commands::listen::opens_inspector(args) => {
            let mut builder = tokio::runtime::Builder::new_current_thread();
            builder.on_thread_park(|| {
                store::before_park();
                capture::before_park();
            });
            builder
        }
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    builder.enable_all().build()
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Listen(args) => commands::listen::run(&cli.store, args).await,
        Command::Requests(command) => commands::requests::run(&cli.store, command),
        Command::Relay(args) => commands::relay::run(&cli.store, args).await,
        Command::Inspect(args) => commands::inspect::run(&cli.store, args).await,
        Command::Replay(args) => commands::replay::run(&cli.store, args).await,
        Command::Export(args) => commands::export::run(&cli.store, args),
        Command::Import(args) => commands::import::run(&cli.store, args).await,
        Command::Diff(args) => commands::diff::run(&cli.store, args),
        Command::Verify(args) => commands::verify::run(&cli.store, args),
        Command::Trigger(args) => commands::trigger::run(&cli.store, args).await,
        Command::Profiles(args) => commands::profiles::run(args),
        Command::Deliveries(command) => commands::deliveries::run(&cli.store, command),
        Command::Completions(args) => commands::completions::run(args),
        Command::Man => commands::man::run(),
        Command::Config(args) => commands::config::run(&cli.store, args),
        Command::Emulate(args) => commands::emulate::run(&cli.store, args).await,
        Command::Mcp => commands::mcp::run(&cli.store).await,
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn holds_writes_after_parking(args: &[&str]) -> bool {
        let cli = Cli::try_parse_from(args).unwrap();
        runtime(&cli).unwrap().block_on(async {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            store::holds_writes_here()
        })
    }

    #[test]
    fn listen_without_the_inspector_holds_writes_until_its_thread_parks() {
        assert!(holds_writes_after_parking(&[
            "webhook-dev",
            "listen",
            "--json"
        ]));
    }

    #[test]
    fn other_commands_never_hold_writes() {
        assert!(!holds_writes_after_parking(&[
            "webhook-dev",
            "requests",
            "list"
        ]));
    }
}
