//! The `--config webhook-dev.toml` file: routes by path prefix, each with a profile, a secret and a
//! forward target, plus a directory of extra provider profiles.
//!
//! ```toml
//! providers = "./providers"        # optional: more profile files (*.toml), by name over the builtin
//! theme = "light"                  # optional: the inspector's colours, dark | light | mono
//!
//! [[routes]]
//! path = "/webhooks/avara"
//! profile = "avara"
//! secret = "env:AVARA_WEBHOOK_SECRET"
//! forward = "localhost:3000"       # optional: else --forward
//!
//! [[routes]]
//! path = "/webhooks/stripe"
//! profile = "stripe"
//! secret = "file:./stripe-secret.txt"
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use serde::Deserialize;

use crate::checks::Route;
use crate::forward::Forwarder;
use crate::handler_tls::HandlerTls;
use crate::secrets::SecretSpec;
use crate::target::Target;
use crate::tui::theme::Palette;

/// The file name looked for in the current directory.
pub const DEFAULT_FILE: &str = "webhook-dev.toml";

/// Where the config file in effect was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// `--config FILE`.
    Flag,
    /// `$WEBHOOK_DEV_CONFIG`.
    Environment,
    /// `./webhook-dev.toml`.
    CurrentDirectory,
}

impl Origin {
    /// How the origin reads in `webhook-dev config`.
    pub fn describe(&self) -> &'static str {
        match self {
            Origin::Flag => "--config",
            Origin::Environment => "$WEBHOOK_DEV_CONFIG",
            Origin::CurrentDirectory => "webhook-dev.toml in the current directory",
        }
    }
}

/// The config file every command uses: `--config FILE`, else `$WEBHOOK_DEV_CONFIG`, else
/// `./webhook-dev.toml` when it exists; `none` (as the flag or the variable) turns it off.
pub fn locate(flag: Option<&Path>) -> anyhow::Result<Option<(PathBuf, Origin)>> {
    let off = |p: &Path| p.as_os_str() == "none";
    if let Some(path) = flag {
        return Ok((!off(path)).then(|| (path.to_owned(), Origin::Flag)));
    }
    if let Some(value) = std::env::var_os("WEBHOOK_DEV_CONFIG").filter(|v| !v.is_empty()) {
        let path = PathBuf::from(value);
        if off(&path) {
            return Ok(None);
        }
        if !path.is_file() {
            anyhow::bail!(
                "$WEBHOOK_DEV_CONFIG names {}, which is not a file (set it to none to use no config file)",
                path.display()
            );
        }
        return Ok(Some((path, Origin::Environment)));
    }
    let here = PathBuf::from(DEFAULT_FILE);
    Ok(here.is_file().then_some((here, Origin::CurrentDirectory)))
}

/// The parsed config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// A directory of extra provider profiles, relative to the config file.
    pub providers: Option<PathBuf>,
    /// Routes by path prefix.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// The inspector's colours (`--theme` wins).
    pub theme: Option<Palette>,
}

/// One `[[routes]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Requests whose path starts with this prefix take this route.
    pub path: String,
    /// The provider profile.
    pub profile: Option<String>,
    /// The signing secret: a literal, `env:VAR` or `file:PATH` (relative to the config file).
    pub secret: Option<SecretSpec>,
    /// Where to forward requests of this route.
    pub forward: Option<String>,
}

/// The `theme` of the config file in effect (see [`locate`]), if it names one.
pub fn theme(flag: Option<&Path>) -> anyhow::Result<Option<Palette>> {
    Ok(match locate(flag)? {
        Some((path, _)) => Config::load(&path)?.theme,
        None => None,
    })
}

impl Config {
    /// Reads and parses `path`, naming the file in every error.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the config file {}", path.display()))?;
        let mut config: Config = toml::from_str(&text)
            .with_context(|| format!("{} is not a valid config", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        if let Some(dir) = &config.providers {
            config.providers = Some(base.join(dir));
        }
        for route in &mut config.routes {
            if !route.path.starts_with('/') {
                anyhow::bail!(
                    "{}: route path {:?} must start with /",
                    path.display(),
                    route.path
                );
            }
            if let Some(file) = route
                .secret
                .as_deref()
                .and_then(|s| s.strip_prefix("file:"))
            {
                let relative = format!("file:{}", base.join(file).display());
                route.secret = Some(relative.parse().expect("any text is a secret spec"));
            }
        }
        Ok(config)
    }

    /// The routes, with secrets resolved and forwarders built.
    pub fn routes(&self, timeout: Duration, tls: &HandlerTls) -> anyhow::Result<Vec<Route>> {
        self.routes
            .iter()
            .map(|r| {
                let secret = r
                    .secret
                    .as_ref()
                    .map(SecretSpec::resolve)
                    .transpose()
                    .with_context(|| format!("route {}", r.path))?;
                let forwarder = r
                    .forward
                    .as_deref()
                    .map(|t| -> anyhow::Result<Forwarder> {
                        Forwarder::with_tls(t.parse::<Target>()?, timeout, tls)
                    })
                    .transpose()
                    .with_context(|| format!("route {}", r.path))?;
                Ok(Route {
                    prefix: r.path.clone(),
                    profile: r.profile.clone(),
                    secret,
                    forwarder,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_with_routes_loads_relative_to_its_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret.txt"), "shhh\n").unwrap();
        let path = dir.path().join("webhook-dev.toml");
        std::fs::write(
            &path,
            "providers = \"profiles\"\n[[routes]]\npath = \"/a\"\nprofile = \"avala\"\nsecret = \"file:secret.txt\"\nforward = \"3001\"\n",
        )
        .unwrap();
        let config = Config::load(&path).unwrap();
        assert_eq!(config.providers, Some(dir.path().join("profiles")));
        let routes = config
            .routes(Duration::from_secs(1), &HandlerTls::default())
            .unwrap();
        assert_eq!(routes[0].secret.as_ref().unwrap().expose(), "shhh");
        assert_eq!(
            routes[0].forwarder.as_ref().unwrap().target().to_string(),
            "http://localhost:3001"
        );
    }

    #[test]
    fn mistakes_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "[[routes]]\npath = \"/a\"\nprofil = \"x\"\n").unwrap();
        let err = format!("{:#}", Config::load(&path).unwrap_err());
        assert!(err.contains("bad.toml") && err.contains("profil"), "{err}");
        std::fs::write(&path, "[[routes]]\npath = \"a\"\n").unwrap();
        assert!(Config::load(&path)
            .unwrap_err()
            .to_string()
            .contains("must start with /"));
    }

    #[test]
    fn the_theme_is_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("webhook-dev.toml");
        std::fs::write(&path, "theme = \"light\"\n").unwrap();
        assert_eq!(theme(Some(&path)).unwrap(), Some(Palette::Light));
        std::fs::write(&path, "theme = \"purple\"\n").unwrap();
        let err = format!("{:#}", theme(Some(&path)).unwrap_err());
        assert!(err.contains("purple") && err.contains("mono"), "{err}");
        assert_eq!(theme(Some(Path::new("none"))).unwrap(), None);
    }
}
