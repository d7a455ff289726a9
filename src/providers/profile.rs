use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::schema::{Compiled, SchemaCheck};
use super::{body, file, ProviderError};
use crate::signature::{Headers, Scheme};

/// One provider: how it signs, where its event type is, how it retries, and its events.
#[derive(Clone, Debug)]
pub struct Profile {
    /// Short name used on the command line (`avara`, `stripe`, ...).
    pub name: String,
    /// One line about the provider.
    pub description: String,
    /// Where the provider documents its webhooks (for display only).
    pub docs: Option<String>,
    /// How requests are signed.
    pub scheme: Scheme,
    /// What the secret looks like and where to find it.
    pub secret_hint: Option<String>,
    /// Where a request's event type is found.
    pub event_type: EventTypeSource,
    /// Delays between a failed attempt and the next, as the provider applies them; empty when the
    /// provider does not publish them.
    pub retry_schedule: Vec<Duration>,
    /// How long the provider waits for an answer, when it documents it.
    pub answer_time_limit: Option<Duration>,
    /// The events the provider sends, in file order.
    pub events: Vec<EventSpec>,
}

/// Where a request's event type is found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventTypeSource {
    /// A string in the JSON body at this JSON pointer (`/type`, `/event_type`).
    Field(String),
    /// The value of this request header (`x-github-event`).
    Header(String),
    /// The provider's requests carry no event type.
    None,
}

/// One event a provider sends.
#[derive(Clone, Debug)]
pub struct EventSpec {
    /// The event type, as the provider writes it (`study.access_requested`).
    pub name: String,
    /// What the event means and what the handler should do.
    pub description: String,
    /// Whether the provider waits for the handler's answer and uses its body.
    pub synchronous: bool,
    /// A realistic complete payload.
    pub sample: Value,
    /// JSON Schema (draft 2020-12 unless `$schema` says otherwise) of the payload.
    pub schema: Value,
    /// JSON Schema of the answer the provider expects, if it reads the answer's body.
    pub answer_schema: Option<Value>,
    /// An example of a valid answer.
    pub answer_sample: Option<Value>,
    pub(super) compiled: Compiled,
}

impl EventSpec {
    /// An event without an answer schema. Schemas are compiled on first use and cached, so
    /// `schema` and `answer_schema` must not be changed after the event has been checked.
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        synchronous: bool,
        sample: Value,
        schema: Value,
    ) -> Self {
        EventSpec {
            name: name.into(),
            description: description.into(),
            synchronous,
            sample,
            schema,
            answer_schema: None,
            answer_sample: None,
            compiled: Compiled::default(),
        }
    }

    /// The same event expecting answers that match `answer_schema`, exemplified by `sample`.
    pub fn with_answer(mut self, answer_schema: Value, sample: Option<Value>) -> Self {
        self.answer_schema = Some(answer_schema);
        self.answer_sample = sample;
        self.compiled = Compiled::default();
        self
    }
}

impl Profile {
    /// Read a profile from a TOML file, checking that its schemas compile and its samples match
    /// them. A missing `name` defaults to the file stem.
    pub fn from_file(path: &Path) -> Result<Profile, ProviderError> {
        let problem = |problem: String| ProviderError::File {
            path: path.to_owned(),
            problem,
        };
        let text = std::fs::read_to_string(path).map_err(|e| problem(e.to_string()))?;
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        let profile = file::parse(&text, stem).map_err(problem)?;
        file::validate(&profile).map_err(problem)?;
        Ok(profile)
    }

    /// The event type of a request, if the profile knows where to find it and it is there.
    pub fn event_type(&self, headers: &Headers, body: &[u8]) -> Option<String> {
        match &self.event_type {
            EventTypeSource::Field(pointer) => body::string_at(headers, body, pointer),
            EventTypeSource::Header(name) => body::header_text(headers, name).map(str::to_owned),
            EventTypeSource::None => None,
        }
    }

    /// Headers a request of `event` carries besides its signature, for `trigger`: a JSON
    /// content type and, when the profile reads the event type from a header (GitHub's
    /// `x-github-event`, Shopify's `x-shopify-topic`), that header.
    pub fn request_headers(&self, event: &str) -> Vec<(String, String)> {
        let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        if let EventTypeSource::Header(name) = &self.event_type {
            headers.push((name.to_ascii_lowercase(), event.to_owned()));
        }
        headers
    }

    /// The event named `name`.
    pub fn event(&self, name: &str) -> Option<&EventSpec> {
        self.events.iter().find(|e| e.name == name)
    }

    /// Problems of a request body against its event's schema, in words
    /// (`data.study_id: "stu_1" does not match ^stu_[0-9a-f]{32}$`); empty when valid or when
    /// the event is unknown. `event` is the request's event type as [`Profile::event_type`]
    /// finds it, so a caller needs only this call. The body is parsed whole only when its event
    /// is in the catalog.
    pub fn check_event(&self, headers: &Headers, body: &[u8]) -> SchemaCheck {
        let Some(name) = self.event_type(headers, body) else {
            return SchemaCheck::default();
        };
        let problems = match self.event(&name) {
            Some(spec) => match body::parse(headers, body) {
                Ok(value) => spec.body_problems(&value),
                Err(problem) => vec![problem],
            },
            None => Vec::new(),
        };
        SchemaCheck {
            event: Some(name),
            problems,
        }
    }

    /// Problems of the handler's answer to `event` ("answer lacks `urls`", "answer is not JSON:
    /// ..."): a status outside 2xx, and for a 2xx answer, a body that does not match the event's
    /// answer schema. Events without an answer schema only have their status checked.
    pub fn check_answer(&self, event: &str, status: u16, answer_body: &[u8]) -> SchemaCheck {
        let mut problems = Vec::new();
        if !(200..300).contains(&status) {
            problems.push(format!(
                "answer status {status} is not 2xx, so {} counts the delivery as failed",
                self.name
            ));
        } else if let Some(spec) = self.event(event) {
            problems = spec.answer_problems(answer_body);
        }
        SchemaCheck {
            event: Some(event.to_owned()),
            problems,
        }
    }
}
