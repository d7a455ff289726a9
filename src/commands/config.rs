//! `webhook-dev config`: the configuration every command would use here, with secrets redacted
//! and where each value came from.

use std::fmt::Write as _;
use std::path::Path;

use crate::cli::ConfigArgs;
use crate::config::{locate, Config};

/// Prints the effective configuration for `store_dir` and `--config`.
pub fn run(store_dir: &Path, args: ConfigArgs) -> anyhow::Result<()> {
    print!("{}", describe(store_dir, args.config.as_deref())?);
    Ok(())
}

/// The text `run` prints.
pub fn describe(store_dir: &Path, flag: Option<&Path>) -> anyhow::Result<String> {
    let mut out = String::new();
    let store_origin = match std::env::var_os("WEBHOOK_DEV_STORE") {
        Some(value) if Path::new(&value) == store_dir => "$WEBHOOK_DEV_STORE",
        _ if store_dir == Path::new(".webhook-dev") => "default",
        _ => "--store",
    };
    writeln!(
        out,
        "store:        {} ({store_origin})",
        store_dir.display()
    )?;
    let Some((path, origin)) = locate(flag)? else {
        writeln!(
            out,
            "config file:  none (--config FILE, $WEBHOOK_DEV_CONFIG or ./webhook-dev.toml would set one)"
        )?;
        return Ok(out);
    };
    let config = Config::load(&path)?;
    writeln!(
        out,
        "config file:  {} ({})",
        path.display(),
        origin.describe()
    )?;
    match &config.providers {
        Some(dir) => writeln!(
            out,
            "providers:    {} (from the config file)",
            dir.display()
        )?,
        None => writeln!(out, "providers:    built in only")?,
    }
    if config.routes.is_empty() {
        writeln!(out, "routes:       none")?;
    }
    for route in &config.routes {
        writeln!(out, "route {}", crate::inert::line(&route.path))?;
        if let Some(profile) = &route.profile {
            writeln!(out, "  profile:    {}", crate::inert::line(profile))?;
        }
        if let Some(secret) = &route.secret {
            writeln!(out, "  secret:     {}", secret_origin(secret.as_str()))?;
        }
        if let Some(forward) = &route.forward {
            writeln!(out, "  forward:    {}", crate::inert::line(forward))?;
        }
    }
    Ok(out)
}

/// Where a secret comes from, never the secret itself.
fn secret_origin(spec: &str) -> String {
    if let Some(var) = spec.strip_prefix("env:") {
        let set = std::env::var_os(var).is_some_and(|v| !v.is_empty());
        format!("env:{var} ({})", if set { "set" } else { "NOT SET" })
    } else if let Some(file) = spec.strip_prefix("file:") {
        let readable = std::fs::metadata(file).is_ok_and(|m| m.is_file());
        format!(
            "file:{file} ({})",
            if readable { "readable" } else { "MISSING" }
        )
    } else {
        "<redacted> (a literal in the config file; prefer env:VAR or file:PATH)".to_owned()
    }
}
