//! `webhook-dev man`: the command line described for `man`.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::Cli;

/// Writes the manual page (roff) to stdout.
pub fn run() -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    out.flush()?;
    Ok(())
}
