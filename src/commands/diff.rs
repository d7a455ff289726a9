//! `webhook-dev diff ID ID`: what changed between two stored requests.

use std::io::Write;
use std::path::Path;

use serde_json::value::RawValue;

use crate::cli::DiffArgs;
use crate::content::decode;
use crate::diff::{diff_requests, Hunk, LineTag, Side};
use crate::inert;
use crate::store::{StoreReader, StoredRequest};

/// `diff --json`: values appear exactly as they were sent (`10.50` stays `10.50`).
#[derive(serde::Serialize)]
struct DiffJson<'a> {
    old: &'a str,
    new: &'a str,
    request_line: Option<&'a (String, String)>,
    json: Option<Vec<ChangeJson<'a>>>,
    body_changed: bool,
    headers_changed: bool,
}

#[derive(serde::Serialize)]
struct ChangeJson<'a> {
    path: &'a str,
    kind: String,
    old: Option<&'a RawValue>,
    new: Option<&'a RawValue>,
}

fn raw(text: &str) -> Option<&RawValue> {
    serde_json::from_str(text).ok()
}

fn side<'a>(stored: &'a StoredRequest, body: &'a [u8]) -> Side<'a> {
    Side {
        method: &stored.summary.method,
        path: &stored.summary.path,
        headers: &stored.headers,
        body,
    }
}

fn hunks_text(title: &str, hunks: &[Hunk], out: &mut String) {
    if hunks.is_empty() {
        return;
    }
    out.push_str(&format!("{title}\n"));
    for hunk in hunks {
        out.push_str(&hunk.header());
        out.push('\n');
        for line in &hunk.lines {
            let mark = match line.tag {
                LineTag::Same => ' ',
                LineTag::Removed => '-',
                LineTag::Added => '+',
            };
            out.push_str(&format!("{mark}{}\n", inert::line(&line.text)));
        }
    }
}

/// Prints the differences from `old` to `new`: request line, JSON paths, body and header lines.
pub fn run(store_dir: &Path, args: DiffArgs) -> anyhow::Result<()> {
    let (old, new, json) = (args.old.as_str(), args.new.as_str(), args.json);
    let reader = StoreReader::open(store_dir)?;
    let load = |id: &str| {
        reader
            .get(id)?
            .ok_or_else(|| anyhow::anyhow!("no request {id:?} in {}", store_dir.display()))
    };
    let (a, b) = (load(old)?, load(new)?);
    let (a_body, b_body) = (decode(&a.headers, &a.body), decode(&b.headers, &b.body));
    let diff = diff_requests(side(&a, &a_body.bytes), side(&b, &b_body.bytes));
    let mut out = String::new();
    if json {
        let changes: Option<Vec<ChangeJson<'_>>> = diff.json.as_ref().map(|changes| {
            changes
                .iter()
                .map(|c| ChangeJson {
                    path: c.display_path(),
                    kind: format!("{:?}", c.kind).to_lowercase(),
                    old: c.old.as_deref().and_then(raw),
                    new: c.new.as_deref().and_then(raw),
                })
                .collect()
        });
        out = serde_json::to_string(&DiffJson {
            old: &a.summary.id,
            new: &b.summary.id,
            request_line: diff.request_line.as_ref(),
            json: changes,
            body_changed: !diff.body.is_empty(),
            headers_changed: !diff.headers.is_empty(),
        })?;
        out.push('\n');
    } else if diff.is_empty() {
        out.push_str("no differences\n");
    } else {
        out.push_str(&format!("--- {}\n+++ {}\n", a.summary.id, b.summary.id));
        if let Some((old_line, new_line)) = &diff.request_line {
            out.push_str(&format!(
                "request: {} -> {}\n",
                inert::line(old_line),
                inert::line(new_line)
            ));
        }
        if let Some(changes) = &diff.json {
            for change in changes {
                out.push_str(&format!("{}\n", inert::line(&change.to_string())));
            }
        }
        hunks_text("body:", &diff.body, &mut out);
        hunks_text("headers:", &diff.headers, &mut out);
    }
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(())
}
