//! `webhook-dev import`.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::cli::ImportArgs;
use crate::fixture::Fixture;
use crate::har;
use crate::model::CapturedRequest;
use crate::signature::{Status, Verdict};
use crate::store::{CommitOn, Durability, Store};

/// Reads a HAR file or fixture(s) and stores each request; prints the new ids.
pub async fn run(store_dir: &Path, args: ImportArgs) -> anyhow::Result<()> {
    let file = args.file.as_path();
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
