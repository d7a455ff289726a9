//! Where a secret comes from: a literal, `env:VAR` or `file:PATH`.

use anyhow::Context as _;

use crate::signature::Secret;

/// A SECRET as written on the command line or in a config file: a literal, `env:VAR` or
/// `file:PATH`. Its `Debug` shows where the secret comes from, never a literal secret.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct SecretSpec(String);

impl SecretSpec {
    /// The spec as written.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// Reads the secret it names.
    pub(crate) fn resolve(&self) -> anyhow::Result<Secret> {
        resolve(&self.0)
    }
}

impl std::ops::Deref for SecretSpec {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for SecretSpec {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(SecretSpec(s.to_string()))
    }
}

impl std::fmt::Debug for SecretSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.starts_with("env:") || self.0.starts_with("file:") {
            write!(f, "SecretSpec({:?})", self.0)
        } else {
            f.write_str("SecretSpec(<redacted>)")
        }
    }
}

/// Resolves a SECRET argument. `env:VAR` reads the variable, `file:PATH` reads the file (one
/// trailing newline dropped); anything else is the secret itself. Errors never show the secret.
pub(crate) fn resolve(spec: &str) -> anyhow::Result<Secret> {
    if let Some(var) = spec.strip_prefix("env:") {
        let value = std::env::var(var)
            .with_context(|| format!("the secret comes from ${var}, which is not set"))?;
        return non_empty(value, &format!("${var}"));
    }
    if let Some(path) = spec.strip_prefix("file:") {
        let readable =
            crate::store::private::open_to_others(std::path::Path::new(path), "secret file", "600");
        if let Some(warning) = readable {
            eprintln!(
                "webhook-dev: warning: {}",
                warning.replace("; it holds captured requests", "")
            );
        }
        let value = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the secret file {path}"))?;
        let value = value
            .strip_suffix("\r\n")
            .or_else(|| value.strip_suffix('\n'))
            .unwrap_or(&value)
            .to_string();
        return non_empty(value, path);
    }
    non_empty(spec.to_string(), "--secret")
}

/// The flags whose values are secrets, or may hold one (a database URL's password).
const SECRET_FLAGS: &[&str] = &["--secret", "--relay-token", "--queue"];

/// Whether a postgres:// URL carries a password (`user:password@` or `password=`).
fn url_has_password(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let in_userinfo = authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'));
    let in_query = rest
        .split_once('?')
        .is_some_and(|(_, query)| query.split('&').any(|p| p.starts_with("password=")));
    in_userinfo || in_query
}

/// One warning per secret given literally on the command line, where other users see it in `ps`.
pub fn command_line_warnings(args: &[String]) -> Vec<String> {
    let mut warnings = Vec::new();
    let mut iter = args.iter().peekable();
    while let Some(arg) = iter.next() {
        let (flag, value) = match arg.split_once('=') {
            Some((flag, value)) if SECRET_FLAGS.contains(&flag) => (flag, Some(value.to_owned())),
            _ if SECRET_FLAGS.contains(&arg.as_str()) => {
                (arg.as_str(), iter.peek().map(|v| v.to_string()))
            }
            _ => continue,
        };
        if flag == "--queue" {
            if value.as_deref().is_some_and(url_has_password) {
                warnings.push(
                    "--queue holds a password, so other users can read it with `ps`; set WEBHOOK_DEV_RELAY_QUEUE instead".into(),
                );
            }
            continue;
        }
        if let Some(value) = value.filter(|v| !v.starts_with("env:") && !v.starts_with("file:")) {
            if !value.is_empty() {
                warnings.push(format!(
                    "{flag} was given literally, so other users can read it with `ps`; pass {flag} env:VAR or {flag} file:PATH instead"
                ));
            }
        }
    }
    warnings
}

fn non_empty(value: String, origin: &str) -> anyhow::Result<Secret> {
    if value.is_empty() {
        anyhow::bail!("the secret from {origin} is empty");
    }
    Ok(Secret::new(value))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_queue_url_with_a_password_is_warned_about() {
        let warn = |url: &str| {
            let args: Vec<String> = ["webhook-dev", "relay", "--queue", url]
                .map(String::from)
                .to_vec();
            super::command_line_warnings(&args)
        };
        assert_eq!(warn("postgres://relay:s3cret@db:5432/relay").len(), 1);
        assert_eq!(warn("postgres://relay@db/relay?password=s3cret").len(), 1);
        assert!(warn("postgres://relay@db:5432/relay?sslmode=require").is_empty());
        assert!(warn("postgres://db/relay").is_empty());
        assert!(warn("postgres://relay:s3cret@db/relay")[0].contains("WEBHOOK_DEV_RELAY_QUEUE"));
    }

    #[test]
    fn literal_secrets_on_the_command_line_are_warned_about() {
        let args: Vec<String> = [
            "webhook-dev",
            "listen",
            "--secret",
            "whsec_abc",
            "--relay-token=tok",
            "--profile",
            "avara",
        ]
        .map(String::from)
        .to_vec();
        let warnings = super::command_line_warnings(&args);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].starts_with("--secret was given literally")
                && !warnings[0].contains("whsec_abc")
        );
        let safe: Vec<String> = ["listen", "--secret", "env:S", "--relay-token", "file:/t"]
            .map(String::from)
            .to_vec();
        assert!(super::command_line_warnings(&safe).is_empty());
    }

    use super::*;
    use clap::Parser as _;

    #[test]
    fn a_literal_spec_is_redacted_in_debug() {
        let literal: SecretSpec = "whsec_topsecret".parse().unwrap();
        assert_eq!(format!("{literal:?}"), "SecretSpec(<redacted>)");
        let env: SecretSpec = "env:AVARA_SECRET".parse().unwrap();
        assert_eq!(format!("{env:?}"), "SecretSpec(\"env:AVARA_SECRET\")");
        let cli = crate::cli::Cli::try_parse_from([
            "webhook-dev",
            "listen",
            "--secret",
            "whsec_topsecret",
        ])
        .unwrap();
        assert!(!format!("{cli:?}").contains("topsecret"));
    }

    #[test]
    fn literal_env_and_file() {
        assert_eq!(resolve("whsec_abc").unwrap().expose(), "whsec_abc");
        std::env::set_var("WEBHOOK_DEV_TEST_SECRET_1", "from-env");
        assert_eq!(
            resolve("env:WEBHOOK_DEV_TEST_SECRET_1").unwrap().expose(),
            "from-env"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        std::fs::write(&path, "from-file\n").unwrap();
        assert_eq!(
            resolve(&format!("file:{}", path.display()))
                .unwrap()
                .expose(),
            "from-file"
        );
    }

    #[test]
    fn failures_name_the_source_not_the_secret() {
        let err = resolve("env:WEBHOOK_DEV_TEST_UNSET_VAR")
            .unwrap_err()
            .to_string();
        assert!(err.contains("$WEBHOOK_DEV_TEST_UNSET_VAR"), "{err}");
        assert!(resolve("").is_err());
        assert!(resolve("file:/nonexistent/secret")
            .unwrap_err()
            .to_string()
            .contains("/nonexistent/secret"));
    }
}
