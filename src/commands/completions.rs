//! `webhook-dev completions SHELL`: the command line described for a shell.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};

/// Writes the completion script for the shell to stdout.
pub fn run(args: CompletionsArgs) -> anyhow::Result<()> {
    let mut command = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut command, "webhook-dev", &mut out);
    out.flush()?;
    Ok(())
}
