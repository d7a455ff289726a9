//! `webhook-dev export`.

use std::io::Write;
use std::path::Path;

use anyhow::Context as _;

use crate::cli::{ExportArgs, ExportFormat};
use crate::export::curl_command;
use crate::fixture::Fixture;
use crate::har;
use crate::store::{StoreReader, StoredRequest};

/// Writes the requests in the chosen format.
pub fn run(store_dir: &Path, args: ExportArgs) -> anyhow::Result<()> {
    let reader = StoreReader::open(store_dir)?;
    let stored = args
        .ids
        .iter()
        .map(|id| {
            reader
                .get(id)?
                .ok_or_else(|| anyhow::anyhow!("no request {id:?} in {}", store_dir.display()))
        })
        .collect::<anyhow::Result<Vec<StoredRequest>>>()?;
    let redact = !args.no_redact;
    let text = match args.format {
        ExportFormat::Har => format!(
            "{}\n",
            serde_json::to_string_pretty(&har::log(&stored, redact))?
        ),
        ExportFormat::Fixture => {
            let fixtures: Vec<Fixture> = stored
                .iter()
                .map(|s| {
                    let fixture = Fixture::from_stored(s);
                    if redact {
                        fixture.redacted()
                    } else {
                        fixture
                    }
                })
                .collect();
            match fixtures.as_slice() {
                [one] => one.to_json_pretty(),
                many => format!("{}\n", serde_json::to_string_pretty(many)?),
            }
        }
        ExportFormat::Curl => {
            let mut lines = String::new();
            for s in &stored {
                let base = args
                    .to
                    .clone()
                    .or_else(|| s.forward_base())
                    .unwrap_or_else(|| "http://localhost:3000".into());
                lines.push_str(&curl_command(s, &base, redact));
                lines.push('\n');
            }
            lines
        }
    };
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(())
}
