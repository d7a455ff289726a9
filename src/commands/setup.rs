//! Builds the catalog and checks from `--profile`, `--secret` and `--config`.

use std::path::Path;
use std::time::Duration;

use crate::checks::{Checks, Route};
use crate::cli::SigningArgs;
use crate::config::Config;
use crate::handler_tls::HandlerTls;
use crate::providers::{Catalog, Profile};

/// The config file in effect (`--config`, else `$WEBHOOK_DEV_CONFIG`, else `./webhook-dev.toml`),
/// loaded.
pub fn found_config(flag: Option<&Path>) -> anyhow::Result<Option<Config>> {
    crate::config::locate(flag)?
        .map(|(path, _)| Config::load(&path))
        .transpose()
}

/// The provider catalog: builtin, plus the config's profile directory, plus `--profile FILE`.
/// Returns it with the name `profile` refers to.
pub fn catalog(
    config: Option<&Config>,
    profile: Option<&str>,
) -> anyhow::Result<(Catalog, Option<String>)> {
    let mut catalog = Catalog::load(config.and_then(|c| c.providers.as_deref()))?;
    let name = match profile {
        Some(arg) if arg.ends_with(".toml") || Path::new(arg).is_file() => {
            let loaded = Profile::from_file(Path::new(arg))?;
            let name = loaded.name.clone();
            catalog.insert(loaded);
            Some(name)
        }
        other => other.map(str::to_string),
    };
    Ok((catalog, name))
}

/// The checks that `--profile`, `--secret` and `--config` ask for.
pub fn checks_for(
    signing: &SigningArgs,
    timeout: Duration,
    tls: &HandlerTls,
) -> anyhow::Result<Checks> {
    checks(
        signing.config.as_deref(),
        signing.profile.as_deref(),
        signing.secret.as_deref(),
        timeout,
        tls,
    )
}

/// The checks for `listen` and `verify`: the config's routes, then `--profile`/`--secret` for
/// every other path.
pub fn checks(
    config_file: Option<&Path>,
    profile: Option<&str>,
    secret: Option<&str>,
    timeout: Duration,
    tls: &HandlerTls,
) -> anyhow::Result<Checks> {
    let config = found_config(config_file)?;
    let (catalog, profile) = catalog(config.as_ref(), profile)?;
    let mut routes = match &config {
        Some(config) => config.routes(timeout, tls)?,
        None => Vec::new(),
    };
    let secret = secret.map(crate::secrets::resolve).transpose()?;
    if profile.is_some() || secret.is_some() {
        routes.push(Route::everywhere(profile, secret));
    }
    Checks::new(catalog, routes)
}
