//! `webhook-dev profiles [NAME]`.

use std::io::Write;

use crate::cli::ProfilesArgs;

/// Lists every profile, or describes one.
pub fn run(args: ProfilesArgs) -> anyhow::Result<()> {
    let name = args.name.as_deref();
    let config = super::setup::found_config(None)?;
    let (catalog, _) = super::setup::catalog(config.as_ref(), None)?;
    let mut out = std::io::stdout().lock();
    match name {
        None => {
            for profile in catalog.profiles() {
                writeln!(out, "{}", profile.summary())?;
            }
            writeln!(
                out,
                "\n`webhook-dev profiles NAME` shows a profile's scheme, headers and events."
            )?;
        }
        Some(name) => {
            let (catalog, name) = super::setup::catalog(config.as_ref(), Some(name))?;
            let name = name.expect("a name was given");
            write!(out, "{}", catalog.require(&name)?.describe())?;
        }
    }
    Ok(())
}
