//! The plain consumers of engine events: one human line per request, or NDJSON.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use chrono::{DateTime, Local};

use crate::engine::EngineEvent;
use crate::event_queue::EventQueue;
use crate::inert;
use crate::signature::Status;
use crate::summary::RequestSummary;

/// How `listen` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// One readable line per request.
    Human {
        /// Colour the lines.
        colour: bool,
    },
    /// One JSON object per line.
    Json,
}

impl Mode {
    /// Human lines, coloured when stdout is a terminal and `NO_COLOR` is unset.
    pub fn human_for_stdout() -> Mode {
        Mode::Human {
            colour: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }
}

/// How long the printer lets lines gather after writing some: under load it then wakes a few
/// hundred times a second instead of once per request, and a line is late by at most this much.
const GATHER: Duration = Duration::from_millis(2);

/// Prints events on a thread of its own until the queue closes (when the engine holding its
/// sink is gone), writing whatever has queued up in one go. A terminal paused with Ctrl-S, or a
/// pipe nobody reads, then holds up only the printing, never the requests; and past `buffer`
/// lines waiting, request lines are dropped and the count printed instead
/// (`{"event":"dropped","count":N}`), so memory stays bounded. Returns the queue for the engine.
pub fn spawn_printer(mode: Mode, buffer: usize) -> std::io::Result<(EventQueue, Printer)> {
    let queue = EventQueue::new(buffer);
    let filling = queue.clone();
    let thread = std::thread::Builder::new()
        .name("printer".into())
        .spawn(move || {
            let mut text = Vec::new();
            while let Some(batch) = queue.next_batch(256) {
                text.clear();
                if batch.dropped > 0 {
                    text.extend_from_slice(dropped_line(batch.dropped, mode).as_bytes());
                    text.push(b'\n');
                }
                for event in &batch.events {
                    if matches!(event, EngineEvent::Arrived(_)) {
                        continue;
                    }
                    match mode {
                        Mode::Json => push_json_line(event, &mut text),
                        Mode::Human { colour } => {
                            text.extend_from_slice(human_event(event, colour).as_bytes())
                        }
                    }
                    text.push(b'\n');
                }
                let mut stdout = std::io::stdout().lock();
                if stdout
                    .write_all(&text)
                    .and_then(|()| stdout.flush())
                    .is_err()
                {
                    break;
                }
                std::thread::sleep(GATHER);
            }
        })?;
    Ok((filling, Printer { thread }))
}

/// The printing thread of [`spawn_printer`].
pub struct Printer {
    thread: std::thread::JoinHandle<()>,
}

impl Printer {
    /// Waits at most `grace` for the lines still queued to be written once the engine is gone;
    /// `false` if stdout was not taking them (they are then left unprinted).
    pub async fn finish(self, grace: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + grace;
        while !self.thread.is_finished() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let _ = self.thread.join();
        true
    }
}

/// The line standing for `count` request lines that stdout did not take in time.
fn dropped_line(count: u64, mode: Mode) -> String {
    match mode {
        Mode::Json => serde_json::json!({"event": "dropped", "count": count}).to_string(),
        Mode::Human { .. } => format!(
            "webhook-dev: {count} request line(s) not printed: stdout was not keeping up (every request is stored: `webhook-dev requests list`)"
        ),
    }
}

/// The NDJSON line for `listen --json`, without its newline.
#[cfg(test)]
fn json_line(event: &EngineEvent) -> String {
    let mut line = Vec::new();
    push_json_line(event, &mut line);
    String::from_utf8(line).expect("JSON is UTF-8")
}

/// Appends the NDJSON line for `listen --json`, without its newline, to `out` (the printer's
/// buffer, so that a line under load costs no allocation of its own).
fn push_json_line(event: &EngineEvent, out: &mut Vec<u8>) {
    let written = match event {
        EngineEvent::Listening {
            addr,
            forward,
            store,
        } => serde_json::to_writer(
            out,
            &serde_json::json!({
                "event": "listening",
                "addr": addr.to_string(),
                "forward": forward,
                "store": store,
            }),
        ),
        EngineEvent::Request(summary) => {
            serde_json::to_writer(out, &RequestLine::new("request", summary))
        }
        EngineEvent::Arrived(summary) => {
            serde_json::to_writer(out, &RequestLine::new("arrived", summary))
        }
        EngineEvent::Relay(state) => serde_json::to_writer(out, &state.to_json()),
    };
    written.expect("an event always serializes");
}

/// A request's NDJSON line: `"event"` first, then the summary's fields.
#[derive(serde::Serialize)]
struct RequestLine<'a> {
    event: &'static str,
    #[serde(flatten)]
    summary: &'a RequestSummary,
}

impl<'a> RequestLine<'a> {
    fn new(event: &'static str, summary: &'a RequestSummary) -> Self {
        Self { event, summary }
    }
}

fn human_event(event: &EngineEvent, colour: bool) -> String {
    match event {
        EngineEvent::Listening {
            addr,
            forward,
            store,
        } => {
            let forward = match forward {
                Some(target) => format!("forwarding to {target}"),
                None => "answering by itself (no --forward)".to_string(),
            };
            format!(
                "webhook-dev listening on http://{addr}, {forward}; store: {store}; Ctrl-C stops"
            )
        }
        EngineEvent::Request(summary) | EngineEvent::Arrived(summary) => {
            human_line(summary, colour, false)
        }
        EngineEvent::Relay(state) => state.human(),
    }
}

fn paint(text: &str, code: &str, colour: bool) -> String {
    if colour {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// `1.2 kB`-style sizes.
pub fn human_size(bytes: u64) -> String {
    match bytes {
        0..=999 => format!("{bytes} B"),
        1000..=999_999 => format!("{:.1} kB", bytes as f64 / 1000.0),
        _ => format!("{:.1} MB", bytes as f64 / 1_000_000.0),
    }
}

/// `30 s`, `1.5 s`, `250 ms`.
pub fn humanize(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        let secs = d.as_secs_f64();
        if secs.fract() == 0.0 {
            format!("{secs:.0} s")
        } else {
            format!("{secs} s")
        }
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// Accepts plain seconds (`30`, `0.5`) or a unit (`500ms`, `2m`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    if let Ok(secs) = s.parse::<f64>() {
        return if secs.is_finite() && secs > 0.0 {
            Ok(Duration::from_secs_f64(secs))
        } else {
            Err(format!("{s} must be a positive number of seconds"))
        };
    }
    humantime::parse_duration(s).map_err(|e| format!("{s:?} is not a duration: {e}"))
}

/// One line for a request: time, method, path, size, signature, forward status and milliseconds.
pub fn human_line(summary: &RequestSummary, colour: bool, with_id: bool) -> String {
    let time = DateTime::parse_from_rfc3339(&summary.received_at)
        .map(|t| t.with_timezone(&Local).format("%H:%M:%S%.3f").to_string())
        .unwrap_or_else(|_| summary.received_at.clone());
    let signature = summary.signature.status.as_str();
    let signature_colour = match summary.signature.status {
        Status::Verified => "32",
        Status::Unchecked => "2",
        _ => "31",
    };
    let forward = match &summary.forward {
        None => paint("(not forwarded)", "2", colour),
        Some(f) => {
            let status = f
                .status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "---".into());
            let status_colour = match f.status {
                Some(200..=299) if f.error.is_none() => "32",
                Some(300..=399) => "36",
                _ => "31",
            };
            let mut text = format!(
                "→ {} {:.1} ms",
                paint(&status, status_colour, colour),
                f.duration_ms
            );
            if let Some(error) = &f.error {
                text.push_str("  ");
                text.push_str(&paint(&inert::line(error), "31", colour));
            }
            text
        }
    };
    let id = if with_id {
        format!("{}  ", paint(&summary.id, "2", colour))
    } else {
        String::new()
    };
    let event = summary
        .event_type
        .as_deref()
        .map(|e| format!(" [{}]", inert::line(e)))
        .unwrap_or_default();
    let schema = summary
        .schema
        .as_ref()
        .map(|report| {
            let problems: Vec<&String> = report
                .problems
                .iter()
                .chain(&report.answer_problems)
                .collect();
            match problems.as_slice() {
                [] => String::new(),
                [one] => format!(
                    "  {}",
                    paint(&format!("schema: {}", inert::line(one)), "33", colour)
                ),
                [first, rest @ ..] => format!(
                    "  {}",
                    paint(
                        &format!("schema: {} (+{} more)", inert::line(first), rest.len()),
                        "33",
                        colour
                    )
                ),
            }
        })
        .unwrap_or_default();
    format!(
        "{id}{time}  {:<6} {}{event}  {}  {}  {forward}{schema}",
        paint(&summary.method, "1", colour),
        inert::line(&summary.path),
        human_size(summary.size),
        paint(signature, signature_colour, colour),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_line_starts_with_the_event_and_matches_the_json_object() {
        let summary = RequestSummary {
            id: "req_1".into(),
            received_at: "2026-11-25T15:00:00.000000Z".into(),
            method: "POST".into(),
            path: "/hooks".into(),
            size: 2,
            event_type: None,
            signature: crate::signature::unchecked(&Vec::new()),
            forward: None,
            replay_of: None,
            schema: None,
        };
        let event = EngineEvent::Request(Box::new(summary));
        let line = json_line(&event);
        assert!(
            line.starts_with(r#"{"event":"request","id":"req_1","#),
            "{line}"
        );
        assert!(
            !line.contains("replay_of"),
            "absent fields stay absent: {line}"
        );
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["path"], "/hooks");
        assert_eq!(parsed["signature"]["status"], "unchecked");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(humanize(Duration::from_secs(30)), "30 s");
        assert_eq!(humanize(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(humanize(Duration::from_millis(200)), "200 ms");
    }
    use crate::signature::Verdict;
    use crate::summary::ForwardSummary;

    fn summary() -> RequestSummary {
        RequestSummary {
            id: "req_1".into(),
            received_at: "2026-11-25T12:00:00.000001Z".into(),
            method: "POST".into(),
            path: "/hooks/\u{1b}[2J".into(),
            size: 1234,
            event_type: Some("report.delivered".into()),
            signature: Verdict {
                status: Status::Unchecked,
                profile: None,
                reason: Some("no profile configured".into()),
            },
            forward: Some(ForwardSummary {
                status: Some(502),
                duration_ms: 1.25,
                error: Some("could not forward".into()),
            }),
            replay_of: None,
            schema: Some(crate::model::SchemaReport {
                event: Some("study.access_requested".into()),
                problems: vec![],
                answer_problems: vec!["answer lacks `urls`".into()],
            }),
        }
    }

    #[test]
    fn a_line_names_everything_and_stays_inert() {
        let line = human_line(&summary(), false, true);
        for part in [
            "req_1",
            "POST",
            "/hooks/\\x1b[2J",
            "[report.delivered]",
            "1.2 kB",
            "unchecked",
            "→ 502",
            "1.2 ms",
            "could not forward",
            "schema: answer lacks `urls`",
        ] {
            assert!(line.contains(part), "{part} missing from {line}");
        }
        assert!(!line.contains('\u{1b}'));
    }

    #[test]
    fn colour_only_when_asked() {
        assert!(human_line(&summary(), true, false).contains("\x1b[31m"));
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(1500), "1.5 kB");
        assert_eq!(human_size(10_485_760), "10.5 MB");
    }
}
