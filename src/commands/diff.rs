//! `webhook-dev diff ID ID`: what changed between two stored requests.

use std::io::Write;
use std::path::Path;

use crate::content::decode;
use crate::diff::{diff_requests, Hunk, LineTag, Side};
use crate::inert::inert;
use crate::store::{StoreReader, StoredRequest};

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
            out.push_str(&format!("{mark}{}\n", inert(&line.text, false)));
        }
    }
}

/// Prints the differences from `old` to `new`: request line, JSON paths, body and header lines.
pub fn run(store_dir: &Path, old: &str, new: &str, json: bool) -> anyhow::Result<()> {
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
        let changes: Vec<serde_json::Value> = diff
            .json
            .iter()
            .flatten()
            .map(|c| {
                serde_json::json!({
                    "path": c.display_path(),
                    "kind": format!("{:?}", c.kind).to_lowercase(),
                    "old": c.old,
                    "new": c.new,
                })
            })
            .collect();
        out = serde_json::json!({
            "old": a.summary.id,
            "new": b.summary.id,
            "request_line": diff.request_line,
            "json": diff.json.as_ref().map(|_| changes),
            "body_changed": !diff.body.is_empty(),
            "headers_changed": !diff.headers.is_empty(),
        })
        .to_string();
        out.push('\n');
    } else if diff.is_empty() {
        out.push_str("no differences\n");
    } else {
        out.push_str(&format!("--- {}\n+++ {}\n", a.summary.id, b.summary.id));
        if let Some((old_line, new_line)) = &diff.request_line {
            out.push_str(&format!(
                "request: {} -> {}\n",
                inert(old_line, false),
                inert(new_line, false)
            ));
        }
        if let Some(changes) = &diff.json {
            for change in changes {
                out.push_str(&format!("{}\n", inert(&change.to_string(), false)));
            }
        }
        hunks_text("body:", &diff.body, &mut out);
        hunks_text("headers:", &diff.headers, &mut out);
    }
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(())
}
