//! `webhook-dev verify ID|FILE`: check a stored request or a fixture offline.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};

use crate::checks::Checks;
use crate::cli::VerifyArgs;
use crate::replay::Source;
use crate::signature::Status;
use crate::store::StoreReader;

/// Prints the verdict; fails (exit 1) unless the signature is verified.
pub fn run(store_dir: &Path, args: VerifyArgs) -> anyhow::Result<()> {
    let reader = StoreReader::open(store_dir).ok();
    let source = Source::load_all(reader.as_ref(), std::slice::from_ref(&args.source))?.remove(0);
    let profile = args.signing.profile.clone().or_else(|| source.profile());
    let checks: Checks = super::setup::checks(
        args.signing.config.as_deref(),
        profile.as_deref(),
        args.signing.secret.as_deref(),
        std::time::Duration::from_secs(30),
        &crate::handler_tls::HandlerTls::default(),
    )?;
    let (head, body) = source.request()?;
    let received = match &source {
        Source::Stored(s) => Some(s.summary.received_at.clone()),
        Source::Fixture(f, _) => f.received_at.clone(),
    };
    let at = match received
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    {
        Some(t) if !args.now => t.with_timezone(&Utc),
        _ => Utc::now(),
    };
    let findings = checks.examine(
        checks.route_for(&head.path),
        &head.headers,
        &body,
        at.timestamp(),
    );
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(
            out,
            "{}",
            serde_json::json!({
                "signature": findings.signature,
                "event_type": findings.event_type,
                "schema": findings.schema,
                "checked_at": crate::model::format_time(&at),
            })
        )?;
    } else {
        let verdict = &findings.signature;
        let profile = verdict
            .profile
            .as_deref()
            .map(|p| format!(" (profile {p})"))
            .unwrap_or_default();
        writeln!(out, "{}{profile}", verdict.status.as_str())?;
        if let Some(reason) = &verdict.reason {
            writeln!(out, "  {}", crate::inert::line(reason))?;
        }
        writeln!(
            out,
            "  timestamps judged against {}",
            crate::model::format_time(&at)
        )?;
        if let Some(event) = &findings.event_type {
            writeln!(out, "event: {}", crate::inert::line(event))?;
        }
        if let Some(schema) = &findings.schema {
            if schema.problems.is_empty() {
                writeln!(out, "schema: matches")?;
            }
            for problem in &schema.problems {
                writeln!(out, "schema: {}", crate::inert::line(problem))?;
            }
        }
    }
    if findings.signature.status != Status::Verified {
        return Err(crate::exit::Unsuccessful(format!(
            "the signature is {}",
            findings.signature.status.as_str()
        ))
        .into());
    }
    Ok(())
}
