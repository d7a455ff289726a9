//! `webhook-dev profiles [NAME]`.

use std::io::Write;

use crate::providers::Catalog;

/// Lists every profile, or describes one.
pub fn run(name: Option<&str>) -> anyhow::Result<()> {
    let catalog = Catalog::load(None)?;
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
            let profile = catalog.get(name).ok_or_else(|| {
                let known: Vec<&str> = catalog.profiles().map(|p| p.name.as_str()).collect();
                anyhow::anyhow!(
                    "unknown profile {name:?}; known profiles: {}",
                    known.join(", ")
                )
            })?;
            write!(out, "{}", profile.describe())?;
        }
    }
    Ok(())
}
