//! `webhook-dev requests list|show`: read the store, even while `listen` writes to it.

use std::io::Write;
use std::path::Path;

use crate::cli::RequestsCommand;
use crate::inert;
use crate::output::{human_line, human_size, Mode};
use crate::store::{StoreReader, StoredRequest};

/// Runs a `requests` subcommand.
pub fn run(store_dir: &Path, command: RequestsCommand) -> anyhow::Result<()> {
    let reader = StoreReader::open(store_dir)?;
    let mut out = std::io::stdout().lock();
    match command {
        RequestsCommand::List { json, limit } => {
            let colour = matches!(Mode::human_for_stdout(), Mode::Human { colour: true });
            for summary in reader.list(limit)? {
                if json {
                    writeln!(out, "{}", serde_json::to_string(&summary)?)?;
                } else {
                    writeln!(out, "{}", human_line(&summary, colour, true))?;
                }
            }
        }
        RequestsCommand::Show { id, json } => {
            let stored = reader
                .get(&id)?
                .ok_or_else(|| anyhow::anyhow!("no request {id:?} in {}", store_dir.display()))?;
            let truncated = stored.answer_truncated;
            if json {
                let mut detail = serde_json::to_value(stored.to_detail())?;
                if let Some(response) = detail.get_mut("response").and_then(|r| r.as_object_mut()) {
                    response.insert("truncated".into(), truncated.into());
                }
                writeln!(out, "{}", serde_json::to_string_pretty(&detail)?)?;
            } else {
                write!(out, "{}", human_detail(&stored))?;
                if truncated {
                    let kept = stored.response.as_ref().map_or(0, |r| r.body.len() as u64);
                    writeln!(
                        out,
                        "\n(answer truncated in the store: only its first {} are kept, --max-stored-answer; the sender got all of it)",
                        human_size(kept)
                    )?;
                }
            }
        }
    }
    Ok(())
}

/// The readable form of one request: request line, headers, body, then the answer.
pub fn human_detail(stored: &StoredRequest) -> String {
    let s = &stored.summary;
    let mut text = format!(
        "{}  {}\n{} {}\n",
        inert::line(&s.id),
        inert::line(&s.received_at),
        inert::line(&s.method),
        inert::line(&s.path)
    );
    for (name, value) in &stored.headers {
        text.push_str(&format!(
            "{}: {}\n",
            inert::line(name),
            inert::bytes_line(value)
        ));
    }
    text.push('\n');
    text.push_str(&body_text(&stored.headers, &stored.body));
    let reason = inert::line(s.signature.reason.as_deref().unwrap_or(""));
    text.push_str(&format!(
        "\nsignature: {} {}\n",
        s.signature.status.as_str(),
        reason
    ));
    match &s.forward {
        Some(f) => text.push_str(&format!(
            "forward: {} in {:.1} ms{}\n",
            f.status.map(|c| c.to_string()).unwrap_or_default(),
            f.duration_ms,
            f.error
                .as_ref()
                .map(|e| format!(" ({})", inert::line(e)))
                .unwrap_or_default()
        )),
        None => text.push_str("forward: none\n"),
    }
    if let Some(response) = &stored.response {
        text.push_str(&format!("\nanswer {}\n", response.status));
        for (name, value) in &response.headers {
            text.push_str(&format!(
                "{}: {}\n",
                inert::line(name),
                inert::bytes_line(value)
            ));
        }
        text.push('\n');
        text.push_str(&body_text(&response.headers, &response.body));
    }
    text
}

fn body_text(headers: &[(String, Vec<u8>)], body: &[u8]) -> String {
    if body.is_empty() {
        return "(empty body)\n".into();
    }
    let decoded = crate::content::decode(headers, body);
    let mut text = decoded
        .note
        .as_ref()
        .map(|note| format!("({note})\n"))
        .unwrap_or_default();
    match std::str::from_utf8(&decoded.bytes) {
        Ok(body) => {
            text.push_str(&inert::bytes_text(body.as_bytes()));
            if !text.ends_with('\n') {
                text.push('\n');
            }
        }
        Err(_) => text.push_str(&format!(
            "({} of binary data; `requests show --json` has it as base64)\n",
            human_size(decoded.bytes.len() as u64)
        )),
    }
    text
}
