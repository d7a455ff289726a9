//! JSON Schema checks: compiled once per event, reported in words.

use std::fmt::Write as _;
use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::{Location, LocationSegment};
use jsonschema::{ValidationError, Validator};
use serde::Serialize;
use serde_json::Value;

use super::profile::EventSpec;

/// Most problems reported for one payload; the rest are counted.
const MAX_PROBLEMS: usize = 20;
/// Longest rendering of a JSON value inside a problem.
const MAX_VALUE_CHARS: usize = 80;

/// The outcome of checking a payload or an answer against an event's schema.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SchemaCheck {
    /// The event type the payload was checked as, if one was found.
    pub event: Option<String>,
    /// What does not match, in words; empty when the payload matches or was not checked.
    pub problems: Vec<String>,
    /// What was noticed without being wrong: the casing an answer used, a bad answer that a
    /// soft-synchronous provider takes as empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl SchemaCheck {
    /// Whether no problem was found.
    #[cfg(test)]
    pub(crate) fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// An event's validators, compiled on first use.
#[derive(Clone, Debug, Default)]
pub(super) struct Compiled {
    body: OnceLock<Result<Validator, String>>,
    answer: OnceLock<Result<Validator, String>>,
}

/// A validator for `schema`, with `format` asserted (uri, date-time, ...) and no remote `$ref`s.
pub(super) fn compile(schema: &Value) -> Result<Validator, String> {
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .map_err(|e| e.to_string())
}

/// Which payload a path belongs to, for naming it in a problem.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Root {
    Body,
    Answer,
}

impl EventSpec {
    pub(super) fn body_validator(&self) -> Result<&Validator, &str> {
        self.compiled
            .body
            .get_or_init(|| compile(&self.schema))
            .as_ref()
            .map_err(String::as_str)
    }

    pub(super) fn answer_validator(&self) -> Option<Result<&Validator, &str>> {
        let schema = self.answer_schema.as_ref()?;
        Some(
            self.compiled
                .answer
                .get_or_init(|| compile(schema))
                .as_ref()
                .map_err(String::as_str),
        )
    }

    /// Problems of a parsed request payload.
    pub(super) fn body_problems(&self, value: &Value) -> Vec<String> {
        match self.body_validator() {
            Ok(validator) => problems(validator, value, Root::Body),
            Err(e) => vec![format!("the schema of {} does not compile: {e}", self.name)],
        }
    }

    /// Problems of a 2xx answer's body; a body that is not JSON is checked as a JSON string.
    pub(super) fn answer_problems(&self, body: &[u8]) -> Vec<String> {
        let validator = match self.answer_validator() {
            None => return Vec::new(),
            Some(Ok(validator)) => validator,
            Some(Err(e)) => {
                return vec![format!(
                    "the answer schema of {} does not compile: {e}",
                    self.name
                )]
            }
        };
        if body.iter().all(u8::is_ascii_whitespace) {
            return vec!["answer is empty, expected JSON".to_owned()];
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(value) => problems(validator, &value, Root::Answer),
            Err(e) => {
                let as_text = String::from_utf8_lossy(body).trim().to_owned();
                if validator.is_valid(&Value::String(as_text)) {
                    Vec::new()
                } else {
                    vec![format!("answer is not JSON: {e}")]
                }
            }
        }
    }
}

fn problems(validator: &Validator, value: &Value, root: Root) -> Vec<String> {
    let mut out = Vec::new();
    let mut total = 0usize;
    for error in validator.iter_errors(value) {
        for line in describe(&error, root) {
            total += 1;
            if out.len() < MAX_PROBLEMS {
                out.push(line);
            }
        }
    }
    if total > out.len() {
        out.push(format!("... and {} more problems", total - out.len()));
    }
    out
}

/// One validation error in words; a failed `anyOf`/`oneOf` is explained by its closest branch.
fn describe(error: &ValidationError<'_>, root: Root) -> Vec<String> {
    let at = location(error.instance_path(), root);
    let value = error.instance();
    let shown = || short(value);
    let line = match error.kind() {
        ValidationErrorKind::Required { property } => {
            let name = property
                .as_str()
                .map_or_else(|| property.to_string(), str::to_owned);
            format!("{at} lacks `{name}`")
        }
        ValidationErrorKind::Pattern { pattern } => {
            format!("{at}: {} does not match {pattern}", shown())
        }
        ValidationErrorKind::Format { format } => {
            format!("{at}: {} is not a valid {format}", shown())
        }
        ValidationErrorKind::Type { kind } => {
            format!(
                "{at}: expected {}, found {}",
                expected_types(kind),
                found(value)
            )
        }
        ValidationErrorKind::Constant { expected_value } => {
            format!("{at}: {} is not {}", shown(), short(expected_value))
        }
        ValidationErrorKind::Enum { options } => {
            format!("{at}: {} is not one of {}", shown(), short(options))
        }
        ValidationErrorKind::MaxLength { limit } => format!(
            "{at}: {} characters long, more than the {limit} allowed",
            value.as_str().map_or(0, |s| s.chars().count())
        ),
        ValidationErrorKind::MinLength { limit } => {
            format!("{at}: {} is shorter than {limit} characters", shown())
        }
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
            format!("{at} has unexpected fields: {}", unexpected.join(", "))
        }
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            if let Some(branch) = closest_branch(context) {
                return branch.iter().flat_map(|e| describe(e, root)).collect();
            }
            format!("{at}: {} matches none of the allowed forms", shown())
        }
        _ => format!("{at}: {}", error.masked()),
    };
    vec![line]
}

/// The branch of a failed `anyOf`/`oneOf` that came closest: not rejected for its type alone,
/// with the fewest errors.
type Branch = Vec<ValidationError<'static>>;

fn closest_branch(context: &[Branch]) -> Option<&Branch> {
    let type_only = |branch: &&Branch| {
        branch.len() == 1 && matches!(branch[0].kind(), ValidationErrorKind::Type { .. })
    };
    context
        .iter()
        .filter(|branch| !branch.is_empty() && !type_only(branch))
        .min_by_key(|branch| branch.len())
        .or_else(|| context.iter().find(|branch| !branch.is_empty()))
}

/// `data.study_id`, `answer.urls[0]`; the root itself is `body` or `answer`.
fn location(path: &Location, root: Root) -> String {
    let mut out = String::from(match root {
        Root::Body => "",
        Root::Answer => "answer",
    });
    for segment in path.iter() {
        match segment {
            LocationSegment::Property(name) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&name);
            }
            LocationSegment::Index(index) => {
                let _ = write!(out, "[{index}]");
            }
        }
    }
    if out.is_empty() {
        out.push_str("body");
    }
    out
}

fn expected_types(kind: &TypeKind) -> String {
    match kind {
        TypeKind::Single(t) => t.to_string(),
        TypeKind::Multiple(set) => set
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

fn found(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(_) => format!("boolean {value}"),
        Value::Number(_) => format!("number {value}"),
        Value::String(_) => format!("string {}", short(value)),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// Compact JSON, cut to [`MAX_VALUE_CHARS`].
fn short(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(MAX_VALUE_CHARS) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}
