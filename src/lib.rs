//! webhook-dev: a local development tunnel and inspector for webhooks.
//!
//! Requests arrive through [`capture`], go through the [`engine`] (store, verify, forward) and are
//! followed by consumers of [`engine::EngineEvent`]s.

pub mod capture;
pub mod cli;
pub mod commands;
pub mod diff;
pub mod engine;
pub mod export;
pub mod fixture;
pub mod forward;
pub mod inert;
pub mod model;
pub mod output;
pub mod signature;
pub mod store;
pub mod summary;
pub mod target;
pub mod tui;

use cli::{Cli, Command};

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Listen(args) => commands::listen::run(&cli.store, args).await,
        Command::Requests(command) => commands::requests::run(&cli.store, command),
        Command::Inspect(args) => commands::inspect::run(&cli.store, args).await,
    }
}
