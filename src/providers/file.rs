//! The TOML form of a profile and its conversion into a [`Profile`].

use std::collections::HashSet;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::profile::{EventSpec, EventTypeSource, Profile};
use super::send_headers::HeaderTemplate;
use crate::signature::Scheme;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    name: Option<String>,
    description: String,
    docs: Option<String>,
    scheme: Scheme,
    secret_hint: Option<String>,
    event_type: Option<EventTypeFile>,
    #[serde(default)]
    retry_schedule: Vec<String>,
    answer_time_limit: Option<String>,
    #[serde(default)]
    send_headers: toml::Table,
    #[serde(default)]
    answers_in_either_case: bool,
    #[serde(default)]
    events: Vec<EventFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventTypeFile {
    field: Option<String>,
    header: Option<String>,
}

/// `sample`, `schema`, `answer_schema` and `answer_sample` are JSON text or TOML tables.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventFile {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    synchronous: bool,
    /// The provider waits for the answer but treats a failed or missing one as empty.
    #[serde(default)]
    soft_synchronous: bool,
    #[serde(default)]
    send_headers: toml::Table,
    /// JSON pointers the answer must repeat from the request.
    #[serde(default)]
    answer_echoes: Vec<String>,
    sample: toml::Value,
    schema: Option<toml::Value>,
    answer_schema: Option<toml::Value>,
    answer_sample: Option<toml::Value>,
}

/// Read a profile from TOML text; `default_name` is used when the file has no `name`.
pub(super) fn parse(text: &str, default_name: &str) -> Result<Profile, String> {
    let file: ProfileFile =
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())?;
    let name = file.name.unwrap_or_else(|| default_name.to_owned());
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "name {name:?} must be non-empty and without spaces"
        ));
    }
    let event_type = match file.event_type {
        None => EventTypeSource::None,
        Some(EventTypeFile {
            field: Some(pointer),
            header: None,
        }) if pointer.starts_with('/') => EventTypeSource::Field(pointer),
        Some(EventTypeFile {
            field: Some(pointer),
            header: None,
        }) => {
            return Err(format!(
                "event_type.field {pointer:?} must be a JSON pointer such as \"/type\""
            ))
        }
        Some(EventTypeFile {
            field: None,
            header: Some(header),
        }) if !header.trim().is_empty() => EventTypeSource::Header(header.trim().to_owned()),
        Some(_) => {
            return Err(
                "event_type must be { field = \"/json/pointer\" } or { header = \"name\" }"
                    .to_owned(),
            )
        }
    };
    let retry_schedule = file
        .retry_schedule
        .iter()
        .enumerate()
        .map(|(i, text)| duration(text).map_err(|e| format!("retry_schedule[{i}]: {e}")))
        .collect::<Result<_, _>>()?;
    let answer_time_limit = file
        .answer_time_limit
        .as_deref()
        .map(|text| duration(text).map_err(|e| format!("answer_time_limit: {e}")))
        .transpose()?;
    let send_headers = header_templates(file.send_headers)?;
    let mut seen = HashSet::new();
    let mut events = Vec::with_capacity(file.events.len());
    for event in file.events {
        if !seen.insert(event.name.clone()) {
            return Err(format!("event `{}` is defined twice", event.name));
        }
        events.push(event_spec(event)?);
    }
    Ok(Profile {
        name,
        description: file.description,
        docs: file.docs,
        scheme: file.scheme,
        secret_hint: file.secret_hint,
        event_type,
        retry_schedule,
        answer_time_limit,
        send_headers,
        answers_in_either_case: file.answers_in_either_case,
        events,
    })
}

fn header_templates(table: toml::Table) -> Result<Vec<HeaderTemplate>, String> {
    table
        .into_iter()
        .map(|(name, value)| match value {
            toml::Value::String(text) => HeaderTemplate::parse(&name, &text),
            other => Err(format!(
                "send_headers.{name} must be a string, not a {}",
                other.type_str()
            )),
        })
        .collect()
}

/// Check what [`parse`] leaves to first use: every schema compiles and every sample matches.
pub(super) fn validate(profile: &Profile) -> Result<(), String> {
    for event in &profile.events {
        let name = &event.name;
        event
            .body_validator()
            .map_err(|e| format!("event `{name}`: schema does not compile: {e}"))?;
        let problems = event.body_problems(&event.sample);
        if !problems.is_empty() {
            return Err(format!(
                "event `{name}`: sample does not match its schema: {}",
                problems.join("; ")
            ));
        }
        if let Some(Err(e)) = event.answer_validator() {
            return Err(format!(
                "event `{name}`: answer_schema does not compile: {e}"
            ));
        }
        if let Some(answer) = &event.answer_sample {
            let problems = event.answer_problems(answer.to_string().as_bytes());
            if !problems.is_empty() {
                return Err(format!(
                    "event `{name}`: answer_sample does not match answer_schema: {}",
                    problems.join("; ")
                ));
            }
        }
    }
    Ok(())
}

fn event_spec(event: EventFile) -> Result<EventSpec, String> {
    let name = event.name;
    let json = |what: &str, value: toml::Value| {
        to_json(value).map_err(|e| format!("event `{name}`: {what} {e}"))
    };
    let sample = json("sample", event.sample)?;
    let schema = match event.schema {
        Some(schema) => json("schema", schema)?,
        None => Value::Bool(true),
    };
    let answer_schema = event
        .answer_schema
        .map(|s| json("answer_schema", s))
        .transpose()?;
    let answer_sample = event
        .answer_sample
        .map(|s| json("answer_sample", s))
        .transpose()?;
    if answer_sample.is_some() && answer_schema.is_none() {
        return Err(format!(
            "event `{name}`: answer_sample is given without an answer_schema"
        ));
    }
    let send_headers =
        header_templates(event.send_headers).map_err(|e| format!("event `{name}`: {e}"))?;
    let mut spec = EventSpec::new(&name, event.description, event.synchronous, sample, schema);
    spec.soft_synchronous = event.soft_synchronous;
    spec.send_headers = send_headers;
    if let Some(bad) = event.answer_echoes.iter().find(|p| !p.starts_with('/')) {
        return Err(format!(
            "event `{name}`: answer_echoes entry {bad:?} must be a JSON pointer such as \"/challenge\""
        ));
    }
    spec.answer_echoes = event.answer_echoes;
    if spec.soft_synchronous && !spec.synchronous {
        return Err(format!(
            "event `{name}`: soft_synchronous needs synchronous = true"
        ));
    }
    Ok(match answer_schema {
        Some(answer_schema) => spec.with_answer(answer_schema, answer_sample),
        None => spec,
    })
}

/// A TOML string is JSON text; a table or array is converted as it stands.
fn to_json(value: toml::Value) -> Result<Value, String> {
    match value {
        toml::Value::String(text) => {
            serde_json::from_str(&text).map_err(|e| format!("is not valid JSON: {e}"))
        }
        toml::Value::Table(_) | toml::Value::Array(_) => Ok(toml_to_json(value)),
        other => Err(format!(
            "must be JSON text or a TOML table, not a {}",
            other.type_str()
        )),
    }
}

fn toml_to_json(value: toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => Value::from(f),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => Value::Object(
            table
                .into_iter()
                .map(|(k, v)| (k, toml_to_json(v)))
                .collect(),
        ),
    }
}

/// `30s`, `5m`, `1h`, `1h 30m`, `0s`.
fn duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("{text:?} is not a duration like 30s, 5m or 1h ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
description = "d"
[scheme]
kind = "github"
"#;

    #[test]
    fn minimal_file_takes_default_name_and_no_events() {
        let p = parse(MINIMAL, "mine").unwrap();
        assert_eq!(p.name, "mine");
        assert_eq!(p.event_type, EventTypeSource::None);
        assert!(p.events.is_empty() && p.retry_schedule.is_empty());
    }

    #[test]
    fn tables_and_json_text_both_work() {
        let text = r#"
description = "d"
event_type = { header = "x-e" }
[scheme]
kind = "github"
[[events]]
name = "a"
sample = { type = "a", n = 1, when = 2024-01-02T03:04:05Z }
schema = '{"type": "object", "required": ["type"]}'
"#;
        let p = parse(text, "x").unwrap();
        assert_eq!(p.event_type, EventTypeSource::Header("x-e".into()));
        assert_eq!(p.events[0].sample["when"], "2024-01-02T03:04:05Z");
        assert_eq!(p.events[0].sample["n"], 1);
        validate(&p).unwrap();
    }

    #[test]
    fn bad_values_are_named() {
        let with = |extra: &str| parse(&format!("{extra}\n{MINIMAL}"), "x").unwrap_err();
        assert!(with("retry_schedule = [\"1m\", \"soon\"]").contains("retry_schedule[1]"));
        assert!(with("answer_time_limit = \"3 parsecs\"").contains("answer_time_limit"));
        assert!(with("event_type = { field = \"type\" }").contains("JSON pointer"));
        assert!(
            with("event_type = { field = \"/a\", header = \"b\" }").contains("event_type must be")
        );
        let bad_kind = parse("description = \"d\"\n[scheme]\nkind = \"rot13\"\n", "x").unwrap_err();
        assert!(bad_kind.contains("rot13"), "{bad_kind}");
    }

    #[test]
    fn events_are_checked() {
        let event = |body: &str| format!("{MINIMAL}\n[[events]]\nname = \"e\"\n{body}\n");
        assert!(parse(&event("sample = '{not json'"), "x")
            .unwrap_err()
            .contains("sample is not valid JSON"));
        let twice = format!(
            "{}\n[[events]]\nname = \"e\"\nsample = '{{}}'\n",
            event("sample = '{}'")
        );
        assert!(parse(&twice, "x").unwrap_err().contains("defined twice"));
        let mismatch = parse(
            &event("sample = '{\"n\": \"one\"}'\nschema = '{\"properties\": {\"n\": {\"type\": \"integer\"}}}'"),
            "x",
        )
        .unwrap();
        let err = validate(&mismatch).unwrap_err();
        assert!(
            err.contains("sample does not match") && err.contains("n: expected integer"),
            "{err}"
        );
        let broken = parse(&event("sample = '{}'\nschema = '{\"type\": 5}'"), "x").unwrap();
        assert!(validate(&broken)
            .unwrap_err()
            .contains("schema does not compile"));
    }
}
