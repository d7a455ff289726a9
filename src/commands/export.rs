//! `webhook-dev export` and `webhook-dev import`.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::cli::{ExportArgs, ExportFormat};
use crate::export::curl_command;
use crate::fixture::Fixture;
use crate::har;
use crate::model::CapturedRequest;
use crate::signature::{Status, Verdict};
use crate::store::{CommitOn, Durability, Store, StoreReader, StoredRequest};

/// Writes the requests in the chosen format.
pub fn export(store_dir: &Path, args: ExportArgs) -> anyhow::Result<()> {
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

/// Reads a HAR file or fixture(s) and stores each request; prints the new ids.
pub async fn import(store_dir: &Path, file: &Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not JSON (HAR or fixture expected)", file.display()))?;
    let fixtures = if json.get("log").is_some() {
        har::parse(&json)?
    } else if let Some(list) = json.as_array() {
        list.iter()
            .map(|v| Fixture::parse(&v.to_string()))
            .collect::<anyhow::Result<Vec<_>>>()?
    } else {
        vec![Fixture::parse(&text)?]
    };
    let store = Store::open(store_dir, Durability::Process)?;
    let mut ids = ulid::Generator::new();
    let mut out = std::io::stdout().lock();
    for fixture in fixtures {
        let id = format!(
            "req_{}",
            ids.generate().unwrap_or_else(|_| ulid::Ulid::new())
        );
        let received_at = fixture
            .received_at
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(Utc::now);
        let request = Arc::new(CapturedRequest {
            id: id.clone(),
            received_at,
            peer: None,
            method: fixture.method.clone(),
            path: fixture.path.clone(),
            headers: fixture.header_list(),
            body: Bytes::from(fixture.body_bytes()?),
            replay_of: None,
        });
        let verdict = Verdict {
            status: Status::Unchecked,
            profile: fixture.profile.clone(),
            reason: Some(format!("imported from {}; not checked", file.display())),
        };
        store
            .insert_request(
                request,
                verdict,
                fixture.event_type.clone(),
                None,
                CommitOn::Writer,
            )
            .await?;
        writeln!(
            out,
            "{id}  {} {}",
            fixture.method,
            crate::inert::line(&fixture.path)
        )?;
    }
    tokio::task::spawn_blocking(move || store.close()).await?;
    Ok(())
}
