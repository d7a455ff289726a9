//! What `emulate` prints: one line per API call and per delivery attempt, for people or as
//! NDJSON. Secrets and bodies are never printed.

use std::io::Write;

use serde_json::{json, Value};

use crate::inert;

/// Where and how lines are printed.
#[derive(Clone, Copy, Debug)]
pub struct Log {
    json: bool,
}

impl Log {
    /// NDJSON with `json`, else human lines.
    pub fn new(json: bool) -> Log {
        Log { json }
    }

    fn print(&self, line: Value, human: impl FnOnce() -> String) {
        let text = if self.json { line.to_string() } else { human() };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    /// The first line: where the API is and what to give the SDK.
    pub fn started(&self, provider: &str, addr: &str, base_url: &str, hint: &str) {
        self.print(
            json!({"event": "emulating", "provider": provider, "addr": addr, "base_url": base_url}),
            || format!("emulating {provider}'s webhook API at {base_url}\n  {hint}"),
        );
    }

    /// One API call and its answer's status.
    pub fn api(&self, method: &str, path: &str, status: u16) {
        self.print(
            json!({"event": "api", "method": method, "path": path, "status": status}),
            || format!("api  {method} {} → {status}", inert::line(path)),
        );
    }

    /// One delivery attempt.
    pub fn attempt(&self, attempt: &AttemptLine<'_>) {
        self.print(
            json!({
                "event": "attempt",
                "delivery": attempt.delivery,
                "subscription": attempt.subscription,
                "event_type": attempt.event_type,
                "attempt": attempt.number,
                "target": attempt.target,
                "response_status": attempt.response_status,
                "error": attempt.error,
                "status": attempt.status,
                "next_retry_at": attempt.next_retry_at,
            }),
            || {
                let outcome = match (attempt.response_status, attempt.error) {
                    (Some(status), None) => status.to_string(),
                    (_, Some(error)) => inert::line(error).into_owned(),
                    (None, None) => "no answer".into(),
                };
                let next = attempt
                    .next_retry_at
                    .map(|at| format!("; retry at {at}"))
                    .unwrap_or_default();
                format!(
                    "send {} {} → {} attempt {}: {outcome} ({}){next}",
                    attempt.delivery,
                    attempt.event_type,
                    inert::line(attempt.target),
                    attempt.number,
                    attempt.status
                )
            },
        );
    }

    /// A subscription turned off after a delivery failed every attempt.
    pub fn disabled(&self, subscription: &str, delivery: &str, attempts: u32) {
        self.print(
            json!({"event": "disabled", "subscription": subscription, "delivery": delivery, "attempts": attempts}),
            || format!("disabled {subscription}: {delivery} failed all {attempts} attempts"),
        );
    }

    /// Retries found in the store at start, resumed.
    pub fn resumed(&self, pending: usize) {
        self.print(json!({"event": "resumed", "pending": pending}), || {
            format!(
                "resumed {pending} pending deliver{}",
                if pending == 1 { "y" } else { "ies" }
            )
        });
    }
}

/// The facts of one attempt for [`Log::attempt`].
pub struct AttemptLine<'a> {
    /// The delivery id.
    pub delivery: &'a str,
    /// The subscription id.
    pub subscription: &'a str,
    pub event_type: &'a str,
    /// 1 for the first.
    pub number: u32,
    /// Where it went.
    pub target: &'a str,
    /// The handler's status, if it answered.
    pub response_status: Option<u16>,
    /// Why it failed.
    pub error: Option<&'a str>,
    /// The delivery's status after it.
    pub status: &'a str,
    /// When the next attempt is due.
    pub next_retry_at: Option<&'a str>,
}
