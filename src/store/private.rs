//! Data at rest is private to the user: the store directory is created 0700 and its database
//! files 0600 whatever the umask (SQLite gives the WAL and shared-memory files the database
//! file's mode), and an existing store that others can read gets a warning naming the fix.

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::Context as _;

/// Creates `dir` 0700 if it does not exist; warns when an existing one is open to others.
pub(crate) fn prepare_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        if let Some(warning) = open_to_others(dir, "store directory", "700") {
            eprintln!("webhook-dev: warning: {warning}");
        }
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create the store directory {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot make {} private", dir.display()))
}

/// Creates the database file `path` 0600 before SQLite opens it; warns when an existing one is
/// open to others.
pub(crate) fn prepare_file(path: &Path) -> anyhow::Result<()> {
    if path.exists() {
        if let Some(warning) = open_to_others(path, "store file", "600") {
            eprintln!("webhook-dev: warning: {warning}");
        }
        return Ok(());
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot make {} private", path.display()))
}

/// A warning when `path` can be read or written by the group or others.
pub(crate) fn open_to_others(path: &Path, what: &str, fix: &str) -> Option<String> {
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| {
        format!(
            "the {what} {} can be read by other users (mode {mode:o}); it holds captured requests: run `chmod {fix} {}`",
            path.display(),
            path.display()
        )
    })
}
