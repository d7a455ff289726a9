//! The content of the detail tabs, built once when a request is loaded (never while drawing).

use chrono::FixedOffset;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::body::{self, clean};
use super::doc::Doc;
use super::history::Loaded;
use super::theme::{self, Theme};
use crate::diff::{self, ChangeKind, LineTag, PayloadDiff};
use crate::inert;
use crate::signature::Status;

/// The most characters of one JSON value shown in a diff line.
const MAX_VALUE_CHARS: usize = 300;

fn heading(text: impl Into<String>) -> Line<'static> {
    Line::styled(text.into(), theme::STRONG)
}

fn dim(text: impl Into<String>) -> Span<'static> {
    Span::styled(text.into(), theme::DIM)
}

fn label(name: &str) -> Span<'static> {
    Span::styled(format!("{name:<10}"), theme::DIM)
}

/// Formats an RFC 3339 time in the inspector's time zone, with milliseconds.
pub(crate) fn local_time(rfc3339: &str, offset: FixedOffset) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| {
            t.with_timezone(&offset)
                .format("%Y-%m-%d %H:%M:%S%.3f %:z")
                .to_string()
        })
        .unwrap_or_else(|_| clean(rfc3339))
}

fn header_lines(t: &Theme, out: &mut Doc, headers: &[(String, Vec<u8>)]) {
    if headers.is_empty() {
        out.push(Line::from(dim("  (none)")));
    }
    for (name, value) in headers {
        out.push(Line::from(vec![
            Span::styled(format!("  {}", clean(name)), t.accent),
            Span::raw(": "),
            Span::raw(clean(&String::from_utf8_lossy(value))),
        ]));
    }
}

fn body_section(t: &Theme, out: &mut Doc, headers: &[(String, Vec<u8>)], bytes: &[u8]) {
    let view = body::view(t, headers, bytes);
    out.push(Line::from(vec![
        Span::styled("Body", theme::STRONG),
        dim(format!("  ({})", view.note)),
    ]));
    out.extend(view.lines);
}

/// The Request tab: request line, facts, headers, body. For a replay, `edits` says what differs
/// from its original (when that is still stored).
pub(crate) fn request_tab(
    t: &Theme,
    loaded: &Loaded,
    offset: FixedOffset,
    edits: Option<&[&str]>,
) -> Doc {
    let stored = &loaded.stored;
    let s = &stored.summary;
    let mut out = Doc::from(vec![Line::from(vec![
        Span::styled(clean(&s.method), theme::STRONG),
        Span::raw(" "),
        Span::raw(clean(&s.path)),
    ])]);
    out.push(Line::from(vec![label("id"), Span::raw(clean(&s.id))]));
    out.push(Line::from(vec![
        label("received"),
        Span::raw(local_time(&s.received_at, offset)),
    ]));
    if let Some(peer) = &stored.peer {
        out.push(Line::from(vec![label("from"), Span::raw(clean(peer))]));
    }
    if let Some(event) = &s.event_type {
        out.push(Line::from(vec![label("event"), Span::raw(clean(event))]));
    }
    if let Some(original) = &s.replay_of {
        let mut line = vec![
            label("replay of"),
            Span::styled(format!("↻ {}", clean(original)), t.link),
        ];
        match edits {
            Some([]) => line.push(dim("  as sent then (o compares)")),
            Some(changed) => line.push(Span::styled(
                format!("  ✎ edited: {} (o compares)", changed.join(", ")),
                t.warn,
            )),
            None => {}
        }
        out.push(Line::from(line));
    }
    out.push(Line::default());
    out.push(heading(format!("Headers ({})", stored.headers.len())));
    header_lines(t, &mut out, &stored.headers);
    out.push(Line::default());
    body_section(t, &mut out, &stored.headers, &stored.body);
    out
}

/// The Response tab: how forwarding went, then the answer the sender got.
pub(crate) fn response_tab(t: &Theme, loaded: &Loaded) -> Doc {
    let stored = &loaded.stored;
    let mut out = Doc::default();
    match &stored.summary.forward {
        Some(f) => {
            let target = loaded
                .forward_target
                .as_deref()
                .map(clean)
                .unwrap_or_else(|| "the handler".into());
            let status = f
                .status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "---".into());
            let ok = f.error.is_none() && f.status.is_some_and(|s| (200..400).contains(&s));
            out.push(Line::from(vec![
                label("forwarded"),
                Span::raw(format!("{target} → ")),
                Span::styled(status, t.outcome(ok).add_modifier(Modifier::BOLD)),
                Span::raw(format!(" in {:.1} ms", f.duration_ms)),
            ]));
            if let Some(error) = &f.error {
                out.push(Line::from(vec![
                    label("error"),
                    Span::styled(clean(error), t.bad),
                ]));
            }
        }
        None => out.push(Line::from(vec![
            label("forwarded"),
            dim("no: webhook-dev answered by itself (no --forward)"),
        ])),
    }
    if let Some(report) = stored
        .summary
        .schema
        .as_ref()
        .filter(|r| !r.answer_problems.is_empty())
    {
        out.push(Line::default());
        out.push(Line::styled(
            format!(
                "⚠ the answer does not match what the provider expects ({} problem{}):",
                report.answer_problems.len(),
                if report.answer_problems.len() == 1 {
                    ""
                } else {
                    "s"
                }
            ),
            t.warn.add_modifier(Modifier::BOLD),
        ));
        for problem in &report.answer_problems {
            out.push(Line::from(vec![
                label(""),
                Span::styled(clean(problem), t.warn),
            ]));
        }
    }
    if let Some(reason) = stored.summary.signature.reason.as_deref().filter(|r| {
        stored.summary.forward.is_none() && r.starts_with(crate::engine::REFUSED_REASON)
    }) {
        out.push(Line::from(vec![
            label("refused"),
            Span::styled(
                format!(
                    "{}: it never reached the handler",
                    clean(reason.trim_start_matches("not checked: "))
                ),
                t.bad,
            ),
        ]));
    }
    out.push(Line::default());
    match &stored.response {
        Some(response) => {
            let reason = hyper::StatusCode::from_u16(response.status)
                .ok()
                .and_then(|c| c.canonical_reason())
                .unwrap_or("");
            out.push(heading(format!("Answer {} {reason}", response.status)));
            out.push(heading(format!("Headers ({})", response.headers.len())));
            header_lines(t, &mut out, &response.headers);
            out.push(Line::default());
            body_section(t, &mut out, &response.headers, &response.body);
        }
        None => out.push(Line::from(dim(
            "No answer was recorded (webhook-dev stopped before the request was answered).",
        ))),
    }
    out
}

/// Signature badge text.
pub(crate) fn verdict_text(status: Status) -> &'static str {
    match status {
        Status::Verified => "✓ verified",
        Status::Invalid => "✗ invalid",
        Status::Expired => "✗ expired",
        Status::Missing => "✗ missing",
        Status::Unchecked => "· unchecked",
    }
}

/// The Signature tab: verdict, reason, profile, schema check, the signature headers, and how `R`
/// would re-sign (the profile, or why it cannot).
pub(crate) fn signature_tab(t: &Theme, loaded: &Loaded, resigner: Result<String, String>) -> Doc {
    let s = &loaded.stored.summary;
    let badge = verdict_text(s.signature.status);
    let mut out = Doc::default();
    out.push(Line::from(vec![
        label("verdict"),
        Span::styled(
            badge,
            t.verdict(s.signature.status).add_modifier(Modifier::BOLD),
        ),
    ]));
    out.push(Line::from(vec![
        label("profile"),
        match &s.signature.profile {
            Some(p) => Span::raw(clean(p)),
            None => dim("none (start with --profile NAME --secret S to check signatures)"),
        },
    ]));
    match &s.signature.reason {
        Some(reason) => {
            let mut first = true;
            for line in reason.lines() {
                out.push(Line::from(vec![
                    label(if first { "reason" } else { "" }),
                    Span::raw(clean(line)),
                ]));
                first = false;
            }
        }
        None => out.push(Line::from(vec![label("reason"), dim("—")])),
    }
    let event = |report: &crate::model::SchemaReport| {
        report
            .event
            .as_deref()
            .map(clean)
            .unwrap_or_else(|| "the event".into())
    };
    match &s.schema {
        Some(report) if report.problems.is_empty() && report.answer_problems.is_empty() => {
            out.push(Line::from(vec![
                label("schema"),
                Span::styled(format!("✓ matches the schema of {}", event(report)), t.ok),
            ]));
        }
        Some(report) => {
            out.push(Line::from(vec![
                label("schema"),
                Span::styled(
                    format!(
                        "✗ {} problem(s) against the schema of {}",
                        report.problems.len() + report.answer_problems.len(),
                        event(report)
                    ),
                    t.bad,
                ),
            ]));
            for problem in &report.problems {
                out.push(Line::from(vec![
                    label(""),
                    Span::raw(format!("body: {}", clean(problem))),
                ]));
            }
            for problem in &report.answer_problems {
                out.push(Line::from(vec![
                    label(""),
                    Span::raw(format!("answer: {}", clean(problem))),
                ]));
            }
        }
        None => out.push(Line::from(vec![
            label("schema"),
            dim(match &s.event_type {
                Some(_) => "not checked: the profile has no schema for this event",
                None => "not checked: the event type is unknown",
            }),
        ])),
    }
    out.push(Line::default());
    let present: Vec<(String, Vec<u8>)> = loaded
        .stored
        .headers
        .iter()
        .filter(|(n, _)| {
            crate::signature::SIGNATURE_HEADERS.contains(&n.to_ascii_lowercase().as_str())
        })
        .cloned()
        .collect();
    out.push(heading(format!("Signature headers ({})", present.len())));
    header_lines(t, &mut out, &present);
    out.push(Line::default());
    out.push(Line::from(vec![
        label("re-sign"),
        match resigner {
            Ok(profile) => Span::raw(format!(
                "R replays this request re-signed as {} with a fresh timestamp",
                clean(&profile)
            )),
            Err(why) => dim(why),
        },
    ]));
    out
}

fn shorten(text: String) -> String {
    if text.chars().count() <= MAX_VALUE_CHARS {
        return text;
    }
    let mut short: String = text.chars().take(MAX_VALUE_CHARS).collect();
    short.push('…');
    short
}

fn hunks(t: &Theme, out: &mut Doc, hunks: &[diff::Hunk]) {
    for hunk in hunks {
        out.push(Line::styled(format!("  {}", hunk.header()), t.link));
        for line in &hunk.lines {
            let (mark, style) = match line.tag {
                LineTag::Same => (' ', Style::new()),
                LineTag::Removed => ('-', t.bad),
                LineTag::Added => ('+', t.ok),
            };
            out.push(Line::styled(
                format!("  {mark}{}", clean(&line.text)),
                style,
            ));
        }
    }
}

/// The Diff tab's lines for a computed diff between `old` (the base) and `new` (the selection).
pub(crate) fn diff_lines(
    t: &Theme,
    title: &str,
    old: &Loaded,
    new: &Loaded,
    d: &PayloadDiff,
    offset: FixedOffset,
) -> Doc {
    let side = |l: &Loaded| {
        let s = &l.stored.summary;
        format!(
            "{} {} {}",
            clean(&s.id),
            local_time(&s.received_at, offset),
            s.event_type
                .as_deref()
                .map(clean)
                .unwrap_or_else(|| clean(&s.path))
        )
    };
    let mut out = Doc::from(vec![
        heading(title.to_string()),
        Line::from(vec![Span::styled("  - ", t.bad), Span::raw(side(old))]),
        Line::from(vec![Span::styled("  + ", t.ok), Span::raw(side(new))]),
        Line::default(),
    ]);
    if d.is_empty() {
        out.push(Line::from(dim(
            "The two requests are identical: same request line, headers and body.",
        )));
        return out;
    }
    if let Some((a, b)) = &d.request_line {
        out.push(heading("Request line"));
        out.push(Line::styled(format!("  -{}", clean(a)), t.bad));
        out.push(Line::styled(format!("  +{}", clean(b)), t.ok));
        out.push(Line::default());
    }
    match &d.json {
        Some(changes) => {
            out.push(heading(format!(
                "JSON fields ({} change{})",
                changes.len(),
                if changes.len() == 1 { "" } else { "s" }
            )));
            if changes.is_empty() {
                out.push(Line::from(dim("  no field differs")));
            }
            for change in changes {
                let value = |v: &Option<String>| shorten(clean(v.as_deref().unwrap_or_default()));
                let path = clean(change.display_path());
                let line = match change.kind {
                    ChangeKind::Changed => Line::from(vec![
                        Span::styled("  ~ ", t.warn),
                        Span::styled(path, t.accent),
                        Span::raw(": "),
                        Span::styled(value(&change.old), t.bad),
                        Span::raw(" -> "),
                        Span::styled(value(&change.new), t.ok),
                    ]),
                    ChangeKind::Added => Line::from(vec![
                        Span::styled("  + ", t.ok),
                        Span::styled(path, t.accent),
                        Span::raw(": "),
                        Span::styled(value(&change.new), t.ok),
                    ]),
                    ChangeKind::Removed => Line::from(vec![
                        Span::styled("  - ", t.bad),
                        Span::styled(path, t.accent),
                        Span::raw(": "),
                        Span::styled(value(&change.old), t.bad),
                    ]),
                };
                out.push(line);
            }
            out.push(Line::default());
        }
        None => out.push(Line::from(dim(
            "Not both bodies are JSON: no field-by-field comparison.",
        ))),
    }
    out.push(heading(format!(
        "Body ({})",
        if d.body.is_empty() {
            "same"
        } else {
            "line diff"
        }
    )));
    hunks(t, &mut out, &d.body);
    out.push(Line::default());
    out.push(heading(format!(
        "Headers ({})",
        if d.headers.is_empty() {
            "same"
        } else {
            "line diff"
        }
    )));
    hunks(t, &mut out, &d.headers);
    out
}

/// `inert` for one-line strings, re-exported for the widgets.
pub(crate) fn one_line(text: &str) -> String {
    clean(&inert::line(text))
}
