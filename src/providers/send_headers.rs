//! The headers a provider sends with every event besides its signature (`send_headers` in a
//! profile file), as templates filled in once per triggered event.
//!
//! A value may hold placeholders: `{uuid}` (a fresh UUID v4, one per header), `{event}`,
//! `{msg_id}`, `{now_rfc3339}`, `{now_unix}` and `{body:/json/pointer}` (the value at that
//! pointer in the body sent; the header is left out when the body has none there).

use chrono::{DateTime, SecondsFormat, Utc};
use rand::Rng;
use serde_json::Value;

/// One `send_headers` entry: a lower-case header name and its value template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderTemplate {
    /// The header name, lower-cased.
    pub name: String,
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Uuid,
    Event,
    MsgId,
    NowRfc3339,
    NowUnix,
    Body(String),
}

/// What a template is filled in with.
pub(crate) struct Fill<'a> {
    /// The event name.
    pub event: &'a str,
    /// The message id the signature uses.
    pub msg_id: &'a str,
    /// The body as sent, when it is JSON.
    pub body: Option<&'a Value>,
    /// The moment the event is sent.
    pub now: DateTime<Utc>,
}

impl HeaderTemplate {
    /// Parses `value`, naming an unknown placeholder or an unclosed brace.
    pub(crate) fn parse(name: &str, value: &str) -> Result<HeaderTemplate, String> {
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(format!("send_headers: {name:?} is not a header name"));
        }
        let mut parts = Vec::new();
        let mut rest = value;
        while let Some(start) = rest.find('{') {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_owned()));
            }
            let Some(len) = rest[start..].find('}') else {
                return Err(format!("send_headers.{name}: `{{` without a closing `}}`"));
            };
            let inner = &rest[start + 1..start + len];
            parts.push(match inner {
                "uuid" => Part::Uuid,
                "event" => Part::Event,
                "msg_id" => Part::MsgId,
                "now_rfc3339" => Part::NowRfc3339,
                "now_unix" => Part::NowUnix,
                _ => match inner.strip_prefix("body:") {
                    Some(pointer) if pointer.starts_with('/') => Part::Body(pointer.to_owned()),
                    _ => {
                        return Err(format!(
                            "send_headers.{name}: unknown placeholder {{{inner}}} (known: {{uuid}}, {{event}}, {{msg_id}}, {{now_rfc3339}}, {{now_unix}}, {{body:/json/pointer}})"
                        ))
                    }
                },
            });
            rest = &rest[start + len + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(HeaderTemplate { name, parts })
    }

    /// The header's value, or `None` when a `{body:...}` pointer finds nothing.
    pub(crate) fn render(&self, fill: &Fill<'_>, rng: &mut impl Rng) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Uuid => out.push_str(&super::fresh::uuid(rng, false)),
                Part::Event => out.push_str(fill.event),
                Part::MsgId => out.push_str(fill.msg_id),
                Part::NowRfc3339 => {
                    out.push_str(&fill.now.to_rfc3339_opts(SecondsFormat::Millis, true))
                }
                Part::NowUnix => out.push_str(&fill.now.timestamp().to_string()),
                Part::Body(pointer) => match fill.body?.pointer(pointer)? {
                    Value::String(text) => out.push_str(text),
                    Value::Null | Value::Array(_) | Value::Object(_) => return None,
                    other => out.push_str(&other.to_string()),
                },
            }
        }
        Some(out)
    }
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Overlays `event`'s templates on the profile's, by name, keeping the profile's order.
pub(crate) fn merged<'a>(
    profile: &'a [HeaderTemplate],
    event: &'a [HeaderTemplate],
) -> Vec<&'a HeaderTemplate> {
    let mut out: Vec<&HeaderTemplate> = profile
        .iter()
        .filter(|p| !event.iter().any(|e| e.name == p.name))
        .collect();
    out.extend(event.iter());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn fill(body: &Value) -> Fill<'_> {
        Fill {
            event: "push",
            msg_id: "msg_1",
            body: Some(body),
            now: DateTime::parse_from_rfc3339("2026-12-05T20:00:00.123Z")
                .unwrap()
                .with_timezone(&Utc),
        }
    }

    #[test]
    fn placeholders_are_filled() {
        let body = serde_json::json!({"repository": {"id": 42, "name": "hello"}});
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let render = |value: &str, rng: &mut rand::rngs::StdRng| {
            HeaderTemplate::parse("X-Test", value)
                .unwrap()
                .render(&fill(&body), rng)
        };
        assert_eq!(render("{event}/{msg_id}", &mut rng).unwrap(), "push/msg_1");
        assert_eq!(
            render("{now_rfc3339} {now_unix}", &mut rng).unwrap(),
            "2026-12-05T20:00:00.123Z 1796500800"
        );
        assert_eq!(
            render("id={body:/repository/id}", &mut rng).unwrap(),
            "id=42"
        );
        assert_eq!(
            render("{body:/repository/name}", &mut rng).unwrap(),
            "hello"
        );
        assert_eq!(render("{body:/absent}", &mut rng), None);
        let uuid = render("{uuid}", &mut rng).unwrap();
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
        assert!(matches!(&uuid[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn bad_templates_are_named() {
        let err = HeaderTemplate::parse("x-a", "{nope}").unwrap_err();
        assert!(err.contains("unknown placeholder {nope}"), "{err}");
        let err = HeaderTemplate::parse("x-a", "{uuid").unwrap_err();
        assert!(err.contains("without a closing"), "{err}");
        assert!(HeaderTemplate::parse("bad name", "x").is_err());
        assert_eq!(HeaderTemplate::parse("X-A", "v").unwrap().name, "x-a");
    }

    #[test]
    fn event_templates_override_the_profiles_by_name() {
        let profile = vec![
            HeaderTemplate::parse("a", "1").unwrap(),
            HeaderTemplate::parse("b", "2").unwrap(),
        ];
        let event = vec![HeaderTemplate::parse("b", "3").unwrap()];
        let names: Vec<_> = merged(&profile, &event)
            .iter()
            .map(|t| (t.name.clone(), t.parts.clone()))
            .collect();
        assert_eq!(names.len(), 2);
        assert_eq!(names[1].1, vec![Part::Text("3".into())]);
    }
}
