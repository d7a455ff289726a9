//! Where a secret comes from: a literal, `env:VAR` or `file:PATH`.

use anyhow::Context as _;

use crate::signature::Secret;

/// Resolves a SECRET argument. `env:VAR` reads the variable, `file:PATH` reads the file (one
/// trailing newline dropped); anything else is the secret itself. Errors never show the secret.
pub fn resolve(spec: &str) -> anyhow::Result<Secret> {
    if let Some(var) = spec.strip_prefix("env:") {
        let value = std::env::var(var)
            .with_context(|| format!("the secret comes from ${var}, which is not set"))?;
        return non_empty(value, &format!("${var}"));
    }
    if let Some(path) = spec.strip_prefix("file:") {
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

fn non_empty(value: String, origin: &str) -> anyhow::Result<Secret> {
    if value.is_empty() {
        anyhow::bail!("the secret from {origin} is empty");
    }
    Ok(Secret::new(value))
}

#[cfg(test)]
mod tests {
    use super::*;

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
