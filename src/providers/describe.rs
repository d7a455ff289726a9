//! The human description of a profile, for `webhook-dev profiles NAME`.

use std::fmt::Write as _;
use std::time::Duration;

use super::profile::{EventTypeSource, Profile};
use crate::signature::{Algorithm, Encoding, Scheme};

impl Profile {
    /// A human description for `webhook-dev profiles NAME`: scheme, headers, secret hint, event
    /// type source, answer time limit, retry schedule, and the events with sync markers.
    pub(crate) fn describe(&self) -> String {
        let (scheme, headers) = scheme_summary(&self.scheme);
        let mut rows: Vec<(&str, String)> =
            vec![("scheme", scheme), ("headers", headers.join(", "))];
        if let Some(hint) = &self.secret_hint {
            rows.push(("secret", hint.clone()));
        }
        rows.push((
            "event type",
            match &self.event_type {
                EventTypeSource::Field(pointer) => format!("body field {pointer}"),
                EventTypeSource::Header(name) => format!("header {name}"),
                EventTypeSource::None => "not sent".to_owned(),
            },
        ));
        if let Some(limit) = self.answer_time_limit {
            rows.push(("answer within", human(limit)));
        }
        rows.push((
            "retries",
            if self.retry_schedule.is_empty() {
                "no published schedule".to_owned()
            } else {
                let delays: Vec<String> = self.retry_schedule.iter().copied().map(human).collect();
                format!("{} (delay before each retry)", delays.join(", "))
            },
        ));
        if let Some(docs) = &self.docs {
            rows.push(("docs", docs.clone()));
        }

        let mut out = format!("{}: {}\n", self.name, self.description);
        for (label, value) in rows {
            let _ = writeln!(out, "  {:<16}{value}", format!("{label}:"));
        }
        if self.events.is_empty() {
            out.push_str("  events:         none listed\n");
            return out;
        }
        out.push_str("  events (sync = the provider waits for and reads the answer):\n");
        let width = self.events.iter().map(|e| e.name.len()).max().unwrap_or(0);
        for event in &self.events {
            let marker = if event.synchronous { "sync" } else { "    " };
            let line = format!(
                "    {:<width$}  {marker}  {}",
                event.name,
                first_sentence(&event.description)
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

impl Profile {
    /// One line for `webhook-dev profiles`: name, scheme kind, event count, description.
    pub(crate) fn summary(&self) -> String {
        let kind = serde_json::to_value(&self.scheme)
            .ok()
            .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_owned))
            .unwrap_or_default();
        let sync = self.events.iter().filter(|e| e.synchronous).count();
        let events = match (self.events.len(), sync) {
            (1, 0) => "1 event".to_owned(),
            (n, 0) => format!("{n} events"),
            (n, s) => format!("{n} events ({s} sync)"),
        };
        format!(
            "{:<18} {kind:<17} {events:<18} {}",
            self.name, self.description
        )
    }
}

/// What a scheme signs and how, and the headers it uses.
fn scheme_summary(scheme: &Scheme) -> (String, Vec<String>) {
    match scheme {
        Scheme::StandardWebhooks {
            header_prefix,
            tolerance_secs,
        } => (
            format!(
                "Standard Webhooks: HMAC-SHA256 of {{id}}.{{timestamp}}.{{body}}, base64, \"v1,\" prefix, \
                 timestamps within {tolerance_secs} s"
            ),
            ["id", "timestamp", "signature"]
                .iter()
                .map(|h| format!("{header_prefix}-{h}"))
                .collect(),
        ),
        Scheme::Stripe { tolerance_secs } => (
            format!(
                "Stripe: HMAC-SHA256 of {{t}}.{{body}}, hex, as t=..,v1=.., timestamps within {tolerance_secs} s"
            ),
            vec!["stripe-signature".to_owned()],
        ),
        Scheme::Github => (
            "GitHub: HMAC-SHA256 of the body, hex, \"sha256=\" prefix (legacy sha1= in x-hub-signature)"
                .to_owned(),
            vec!["x-hub-signature-256".to_owned()],
        ),
        Scheme::Shopify => (
            "Shopify: HMAC-SHA256 of the body, base64".to_owned(),
            vec!["x-shopify-hmac-sha256".to_owned()],
        ),
        Scheme::Slack { tolerance_secs } => (
            format!(
                "Slack: HMAC-SHA256 of v0:{{timestamp}}:{{body}}, hex, \"v0=\" prefix, timestamps within {tolerance_secs} s"
            ),
            vec!["x-slack-signature".to_owned(), "x-slack-request-timestamp".to_owned()],
        ),
        Scheme::Avala => (
            "Avala: HMAC-SHA256 of the body, hex, no prefix".to_owned(),
            vec!["x-avala-signature".to_owned()],
        ),
        Scheme::StaticToken { header } => (
            "static token: the header carries the secret itself, compared in constant time".to_owned(),
            vec![header.clone()],
        ),
        Scheme::Hmac {
            header,
            algorithm,
            encoding,
            prefix,
        } => {
            let algorithm = match algorithm {
                Algorithm::Sha1 => "HMAC-SHA1",
                Algorithm::Sha256 => "HMAC-SHA256",
                Algorithm::Sha512 => "HMAC-SHA512",
            };
            let encoding = match encoding {
                Encoding::Hex => "hex",
                Encoding::Base64 => "base64",
            };
            let prefix = match prefix {
                Some(p) => format!("{p:?} prefix"),
                None => "no prefix".to_owned(),
            };
            (
                format!("HMAC: {algorithm} of the body, {encoding}, {prefix}"),
                vec![header.clone()],
            )
        }
    }
}

fn human(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

fn first_sentence(text: &str) -> &str {
    match text.find(". ") {
        Some(end) => &text[..=end],
        None => text,
    }
}
