use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::schema::{Compiled, SchemaCheck};
use super::send_headers::{self, Fill, HeaderTemplate};
use super::{answer, body, file, ProviderError};
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
    /// Headers sent with every event besides the signature (`send_headers`).
    pub send_headers: Vec<HeaderTemplate>,
    /// Answers may spell the answer schema's camelCase field names in snake_case.
    pub answers_in_either_case: bool,
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
    /// The provider waits for the answer but treats a failed, late or invalid one as empty
    /// (Avara's enrichment requests), so a bad answer is a warning, not a failure.
    pub soft_synchronous: bool,
    /// Headers this event carries beyond the profile's, overriding them by name.
    pub send_headers: Vec<HeaderTemplate>,
    /// JSON pointers whose value the answer must repeat from the request (`/challenge`).
    pub answer_echoes: Vec<String>,
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
    pub(crate) fn new(
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
            soft_synchronous: false,
            send_headers: Vec::new(),
            answer_echoes: Vec::new(),
            sample,
            schema,
            answer_schema: None,
            answer_sample: None,
            compiled: Compiled::default(),
        }
    }

    /// The same event expecting answers that match `answer_schema`, exemplified by `sample`.
    pub(crate) fn with_answer(mut self, answer_schema: Value, sample: Option<Value>) -> Self {
        self.answer_schema = Some(answer_schema);
        self.answer_sample = sample;
        self.compiled = Compiled::default();
        self
    }
}

impl Profile {
    /// Read a profile from a TOML file, checking that its schemas compile and its samples match
    /// them. A missing `name` defaults to the file stem.
    pub(crate) fn from_file(path: &Path) -> Result<Profile, ProviderError> {
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
    pub(crate) fn event_type(&self, headers: &Headers, body: &[u8]) -> Option<String> {
        match &self.event_type {
            EventTypeSource::Field(pointer) => body::string_at(headers, body, pointer),
            EventTypeSource::Header(name) => body::header_text(headers, name).map(str::to_owned),
            EventTypeSource::None => None,
        }
    }

    /// Headers a request of `event` carries besides its signature, for `trigger`: a JSON
    /// content type and, when the profile reads the event type from a header (GitHub's
    /// `x-github-event`, Shopify's `x-shopify-topic`), that header.
    pub(crate) fn request_headers(&self, event: &str) -> Vec<(String, String)> {
        let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        if let EventTypeSource::Header(name) = &self.event_type {
            headers.push((name.to_ascii_lowercase(), event.to_owned()));
        }
        headers
    }

    /// The provider's other headers for `event` (`send_headers`), filled in for one event: each
    /// `{uuid}` is new, so call this once per event and keep the result across retries.
    pub(crate) fn send_headers(
        &self,
        event: &EventSpec,
        fill: &Fill<'_>,
        rng: &mut impl rand::Rng,
    ) -> Vec<(String, String)> {
        send_headers::merged(&self.send_headers, &event.send_headers)
            .into_iter()
            .filter_map(|t| Some((t.name.clone(), t.render(fill, rng)?)))
            .collect()
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
            None => vec![self.unknown_event(&name)],
        };
        SchemaCheck {
            event: Some(name),
            problems,
            notes: Vec::new(),
        }
    }

    /// "avara has no event `x.y` (known: ...)", for an event type outside the catalog.
    pub(crate) fn unknown_event(&self, name: &str) -> String {
        let known: Vec<&str> = self.events.iter().map(|e| e.name.as_str()).collect();
        format!(
            "{} has no event `{}` (known: {}); nothing in it was checked",
            self.name,
            crate::inert::line(name),
            known.join(", ")
        )
    }

    /// Problems of the handler's answer to `event` ("answer lacks `urls`", "answer is not JSON:
    /// ..."): a status outside 2xx; for a 2xx answer, a body that does not match the event's
    /// answer schema or does not repeat what it must of `request_body` (Slack's `challenge`).
    /// A profile with `answers_in_either_case` accepts snake_case field names for the schema's
    /// camelCase ones and notes which it saw. For a soft-synchronous event every problem is a
    /// note instead: the provider takes a bad answer as an empty one.
    pub(crate) fn check_answer(
        &self,
        event: &str,
        status: u16,
        answer_body: &[u8],
        request_body: &[u8],
    ) -> SchemaCheck {
        let spec = self.event(event);
        let mut notes = Vec::new();
        let mut problems = Vec::new();
        if !(200..300).contains(&status) {
            problems.push(format!(
                "answer status {status} is not 2xx, so {} counts the delivery as failed",
                self.name
            ));
        } else if let Some(spec) = spec {
            let answer = serde_json::from_slice::<Value>(answer_body).ok();
            problems = spec.answer_problems(answer_body);
            if let (true, Some(value)) = (self.answers_in_either_case, answer.as_ref()) {
                // Checked as camelCase, so a snake_case field is held to the same schema.
                problems = spec.answer_problems(answer::camel_keys(value).to_string().as_bytes());
                if let Some(casing) = answer::casing(value) {
                    notes.push(format!(
                        "the answer's field names are {}; {} is read in camelCase and snake_case",
                        casing.name(),
                        self.name
                    ));
                }
            }
            let request = serde_json::from_slice::<Value>(request_body)
                .ok()
                .filter(|_| problems.is_empty());
            problems.extend(answer::echo_problems(
                &spec.answer_echoes,
                request.as_ref(),
                answer.as_ref(),
                answer_body,
                &self.name,
            ));
        }
        if spec.is_some_and(|spec| spec.soft_synchronous) && !problems.is_empty() {
            notes.extend(problems.drain(..).map(|problem| {
                format!(
                    "{problem} ({} takes a failed or invalid answer to this event as an empty one)",
                    self.name
                )
            }));
        }
        SchemaCheck {
            event: Some(event.to_owned()),
            problems,
            notes,
        }
    }

    /// Whether the provider reads the answer to `event` beyond its status.
    pub(crate) fn reads_answer(&self, event: &str) -> bool {
        self.event(event).is_some_and(|spec| {
            spec.synchronous || spec.answer_schema.is_some() || !spec.answer_echoes.is_empty()
        })
    }
}
