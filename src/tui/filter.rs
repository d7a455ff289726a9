//! The `/` filter: space-separated terms, all of which must match (case-insensitive).
//!
//! - a bare word matches the path, event type, method, id, signature status or forward status;
//! - `path:TEXT`, `event:TEXT`, `method:TEXT`, `id:TEXT` match one field;
//! - `sig:STATUS` (verified, invalid, expired, missing, unchecked, or `failed`);
//! - `status:CODE` for the forward status: `502`, `5xx`, `failed`, `ok`, `none`;
//! - `replay` matches replays, `schema` requests with schema problems; a leading `!` negates
//!   any term.

use super::rows::Rows;

/// A parsed filter; the empty filter matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Filter {
    terms: Vec<(bool, Term)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Term {
    Any(String),
    Path(String),
    Event(String),
    Method(String),
    Id(String),
    Sig(String),
    Status(String),
    Replay,
    Schema,
}

/// `haystack` contains `needle` (already lower-case), ignoring ASCII case.
fn contains(haystack: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    h.len() >= n.len()
        && h.windows(n.len())
            .any(|w| w.iter().zip(n).all(|(a, b)| a.to_ascii_lowercase() == *b))
}

fn status_matches(rows: &Rows, i: usize, pattern: &str) -> bool {
    let row = rows.row(i);
    match pattern {
        "none" => !row.forwarded(),
        "failed" | "fail" | "error" => row.forward_failed(),
        "ok" => row.forwarded() && !row.forward_failed(),
        _ if !row.forwarded() || row.fwd_status == 0 => false,
        p if p.len() == 3 && p.ends_with("xx") => {
            p.as_bytes()[0] == b'0' + (row.fwd_status / 100) as u8
        }
        p => row.fwd_status.to_string().starts_with(p),
    }
}

fn sig_matches(rows: &Rows, i: usize, pattern: &str) -> bool {
    let row = rows.row(i);
    match pattern {
        "failed" | "fail" | "bad" => row.signature_failed(),
        p => row.sig.as_str().starts_with(p),
    }
}

impl Filter {
    /// Parses the filter text.
    pub(crate) fn parse(text: &str) -> Filter {
        let terms = text
            .split_whitespace()
            .map(|word| {
                let (negated, word) = match word.strip_prefix('!') {
                    Some(rest) => (true, rest),
                    None => (false, word),
                };
                let lower = word.to_lowercase();
                let term = match lower.split_once(':') {
                    Some(("path", v)) => Term::Path(v.into()),
                    Some(("event" | "type", v)) => Term::Event(v.into()),
                    Some(("method", v)) => Term::Method(v.into()),
                    Some(("id", v)) => Term::Id(v.into()),
                    Some(("sig" | "signature", v)) => Term::Sig(v.into()),
                    Some(("status" | "fwd" | "forward", v)) => Term::Status(v.into()),
                    _ if lower == "replay" || lower == "replays" => Term::Replay,
                    _ if lower == "schema" => Term::Schema,
                    _ => Term::Any(lower),
                };
                (negated, term)
            })
            .collect();
        Filter { terms }
    }

    /// The terms that look like `name:value` with a name the filter does not know, or a `sig:`
    /// value that is no signature status: they are searched as plain words.
    pub(crate) fn unknown(&self) -> Vec<String> {
        const STATUSES: &[&str] = &[
            "verified",
            "invalid",
            "expired",
            "missing",
            "unchecked",
            "failed",
            "fail",
            "bad",
        ];
        self.terms
            .iter()
            .filter_map(|(_, term)| match term {
                Term::Any(word) => word
                    .split_once(':')
                    .filter(|(name, _)| {
                        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphabetic())
                    })
                    .map(|(name, _)| format!("{name}:")),
                Term::Sig(value)
                    if !value.is_empty()
                        && !STATUSES.iter().any(|s| s.starts_with(value.as_str())) =>
                {
                    Some(format!("sig:{value}"))
                }
                _ => None,
            })
            .collect()
    }

    /// Whether row `i` passes.
    pub(crate) fn matches(&self, rows: &Rows, i: usize) -> bool {
        self.terms.iter().all(|(negated, term)| {
            let hit = match term {
                Term::Path(v) => contains(rows.path(i), v),
                Term::Event(v) => rows.event_type(i).is_some_and(|e| contains(e, v)),
                Term::Method(v) => contains(rows.method(i), v),
                Term::Id(v) => contains(rows.id(i), v),
                Term::Sig(v) => sig_matches(rows, i, v),
                Term::Status(v) => status_matches(rows, i, v),
                Term::Replay => rows.replay_of(i).is_some(),
                Term::Schema => rows.row(i).schema_problems(),
                Term::Any(v) => {
                    contains(rows.path(i), v)
                        || rows.event_type(i).is_some_and(|e| contains(e, v))
                        || contains(rows.method(i), v)
                        || contains(rows.id(i), v)
                        || rows.row(i).sig.as_str().starts_with(v.as_str())
                        || (rows.row(i).forwarded() && status_matches(rows, i, v))
                }
            };
            hit != *negated
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::Status;
    use crate::tui::rows::NewRow;

    fn rows() -> Rows {
        let mut rows = Rows::new();
        let base = NewRow {
            id: "req_1",
            received_us: 0,
            method: "POST",
            path: "/hooks/Stripe",
            size: 1,
            event_type: Some("invoice.paid"),
            sig: Status::Verified,
            forward: Some((Some(200), 1.0, false)),
            replay_of: None,
            schema_problems: false,
            pending: false,
            refused: None,
        };
        rows.push(base);
        rows.push(NewRow {
            id: "req_2",
            path: "/hooks/github",
            event_type: None,
            sig: Status::Invalid,
            forward: Some((Some(502), 1.0, true)),
            replay_of: Some("req_1"),
            schema_problems: true,
            ..base
        });
        rows.push(NewRow {
            id: "req_3",
            method: "GET",
            path: "/health",
            event_type: None,
            sig: Status::Unchecked,
            forward: None,
            ..base
        });
        rows
    }

    fn hits(text: &str) -> Vec<usize> {
        let rows = rows();
        let f = Filter::parse(text);
        (0..rows.len()).filter(|&i| f.matches(&rows, i)).collect()
    }

    #[test]
    fn terms() {
        assert_eq!(hits(""), [0, 1, 2]);
        assert_eq!(hits("stripe"), [0]);
        assert_eq!(hits("HOOKS"), [0, 1]);
        assert_eq!(hits("invoice"), [0]);
        assert_eq!(hits("event:paid"), [0]);
        assert_eq!(hits("path:/health"), [2]);
        assert_eq!(hits("method:get"), [2]);
        assert_eq!(hits("sig:invalid"), [1]);
        assert_eq!(hits("sig:failed"), [1]);
        assert_eq!(hits("status:5xx"), [1]);
        assert_eq!(hits("status:200"), [0]);
        assert_eq!(hits("status:failed"), [1]);
        assert_eq!(hits("status:none"), [2]);
        assert_eq!(hits("502"), [1]);
        assert_eq!(hits("replay"), [1]);
        assert_eq!(hits("schema"), [1]);
        assert_eq!(hits("!schema"), [0, 2]);
        assert_eq!(hits("hooks !github"), [0]);
        assert_eq!(hits("id:req_3"), [2]);
    }
}
