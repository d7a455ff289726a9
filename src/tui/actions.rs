//! The outside work behind the action keys: exports (through [`crate::export`] and
//! [`crate::fixture`]), the clipboard, files and the editor.

use std::io::{Read as _, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;

use crate::fixture::Fixture;
use crate::store::StoredRequest;

/// `s`: the fixture file for `stored`, credential headers redacted as in every export.
pub(crate) fn fixture_json(stored: &StoredRequest) -> Result<String, String> {
    Ok(Fixture::from_stored(stored).redacted().to_json_pretty())
}

/// The OSC 52 sequence that puts `text` on the clipboard of the terminal (and of the machine the
/// terminal runs on, over SSH). Inside tmux it needs `set -g set-clipboard on`.
pub(crate) fn osc52(text: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    format!("\x1b]52;c;{encoded}\x07")
}

/// Writes `contents` to a new file at `path` (creating its directory), refusing to overwrite.
pub(crate) fn save_new_file(path: &Path, contents: &str) -> std::io::Result<PathBuf> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    Ok(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()))
}

/// The editor to run: `$VISUAL`, else `$EDITOR`, else `vi`.
pub(crate) fn editor_command() -> String {
    ["VISUAL", "EDITOR"]
        .into_iter()
        .filter_map(std::env::var_os)
        .map(|v| v.to_string_lossy().trim().to_string())
        .find(|v| !v.is_empty())
        .unwrap_or_else(|| "vi".to_string())
}

/// Writes `body` to a private temporary file, runs the editor on it (through the shell, so
/// `EDITOR="code --wait"` works) and reads it back. The terminal must be handed over already.
pub(crate) fn edit_in_editor(id: &str, body: &[u8], extension: &str) -> Result<Vec<u8>, String> {
    let dir = std::env::temp_dir();
    let path = dir.join(format!(
        "webhook-dev-{id}-{}.{extension}",
        ulid::Ulid::new().to_string().to_lowercase()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let result = (|| {
        let mut file = options
            .open(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        file.write_all(body)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        drop(file);
        let editor = editor_command();
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{editor} \"$1\""))
            .arg("webhook-dev-editor")
            .arg(&path)
            .status()
            .map_err(|e| format!("cannot run the editor {editor:?}: {e}"))?;
        if !status.success() {
            return Err(format!(
                "the editor {editor:?} exited with {status}: nothing replayed"
            ));
        }
        let mut edited = Vec::new();
        std::fs::File::open(&path)
            .and_then(|mut f| f.read_to_end(&mut edited))
            .map_err(|e| format!("cannot read back {}: {e}", path.display()))?;
        Ok(edited)
    })();
    let _ = std::fs::remove_file(&path);
    result
}

/// Compresses `bytes` with gzip (for an edited body that was sent gzip-encoded).
pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osc52_carries_base64() {
        assert_eq!(osc52("hi"), "\x1b]52;c;aGk=\x07");
    }

    #[test]
    fn saving_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/f.json");
        save_new_file(&path, "{}").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{}");
        assert!(save_new_file(&path, "[]").is_err());
    }

    #[test]
    fn gzip_round_trips_through_display_decoding() {
        let zipped = gzip(b"{\"a\":1}");
        let decoded = crate::tui::body::decode(&[], &zipped);
        assert_eq!(decoded.bytes.as_ref(), b"{\"a\":1}");
    }
}
