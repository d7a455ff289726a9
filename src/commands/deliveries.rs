//! `webhook-dev deliveries list`.

use std::io::Write;
use std::path::Path;

use crate::cli::DeliveriesCommand;
use crate::delivery::summarize;
use crate::inert;
use crate::store::StoreReader;

/// Prints deliveries (one JSON object per line with `json`), then the success rate per target
/// and event type.
pub fn run(store_dir: &Path, command: DeliveriesCommand) -> anyhow::Result<()> {
    let DeliveriesCommand::List { json, status } = command;
    let reader = StoreReader::open(store_dir)?;
    let deliveries = reader.deliveries(status)?;
    let mut out = std::io::stdout().lock();
    for d in &deliveries {
        if json {
            writeln!(out, "{}", serde_json::to_string(d)?)?;
        } else {
            writeln!(
                out,
                "{}  {}  {:<7}  {}  {}  attempts {}  {}{}",
                d.id,
                d.created_at,
                d.status.as_str(),
                d.kind,
                inert::line(d.event_type.as_deref().unwrap_or("-")),
                d.attempt_count,
                d.response_status_code
                    .map(|c| format!("→ {c} "))
                    .unwrap_or_default(),
                inert::line(&d.target),
            )?;
            if let Some(error) = &d.error_message {
                writeln!(out, "    {}", inert::line(error))?;
            }
        }
    }
    if !json {
        if deliveries.is_empty() {
            writeln!(out, "no deliveries yet (trigger and replay record them)")?;
        }
        for line in summarize(&deliveries) {
            writeln!(out, "{}", inert::line(&line))?;
        }
    }
    Ok(())
}
