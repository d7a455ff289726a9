//! The records that flow from capture to the store, the printers and the inspector: the
//! crate's vocabulary, which depends on nothing else of ours.
//!
//! Which request type is which:
//!
//! | type | what it is | made by |
//! |---|---|---|
//! | `engine::RequestHead` | method, path and headers, before the body has arrived | capture |
//! | [`CapturedRequest`] | one request exactly as it arrived, body included | capture, relay, replay |
//! | [`Exchange`] | a captured request with its verdict, answer and forward outcome | the engine |
//! | `summary::RequestSummary` | one line of `requests list --json` and of `listen --json` | the store, the engine |
//! | `summary::RequestDetail` | `requests show --json`: the summary plus headers and bodies | the store |
//! | `store::StoredRequest` | a request as read back from the store | `StoreReader` |
//! | `relay::protocol::WireRequest` | a request crossing the relay's WebSocket | the relay |
//! | `fixture::Fixture` | a request as a file, to import, replay or verify | export, the user |

use std::net::SocketAddr;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};

use serde::{Deserialize, Serialize};

/// Header name (lower-cased) and raw value bytes, in arrival order with repeats kept.
pub(crate) type HeaderList = Vec<(String, Vec<u8>)>;

/// One request exactly as it reached webhook-dev.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapturedRequest {
    /// Sortable id: `req_` followed by a ULID.
    pub id: String,
    /// When the request head arrived.
    pub received_at: DateTime<Utc>,
    /// The sender's socket address, when known.
    pub peer: Option<SocketAddr>,
    /// The HTTP method as sent.
    pub method: String,
    /// Path and query exactly as received.
    pub path: String,
    /// Headers in arrival order.
    pub headers: HeaderList,
    /// The raw body bytes.
    pub body: Bytes,
    /// The id of the request this one replays, if it is a replay.
    pub replay_of: Option<String>,
}

/// The first value of header `name` (case-insensitive) in `headers`.
pub(crate) fn find_header<'a>(headers: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

/// An HTTP answer: the handler's, or the one webhook-dev gave itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedResponse {
    /// Status code.
    pub status: u16,
    /// Headers in the order the handler sent them.
    pub headers: HeaderList,
    /// Raw body bytes.
    pub body: Bytes,
}

/// Headers that frame a message on one connection; webhook-dev sets its own.
pub(crate) const FRAMING: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
];

/// Whether `name`, in any case, is one of the [`FRAMING`] headers.
pub(crate) fn is_framing(name: &str) -> bool {
    FRAMING
        .iter()
        .any(|framing| name.eq_ignore_ascii_case(framing))
}

impl RecordedResponse {
    /// A plain-text answer that webhook-dev gives on its own behalf.
    pub fn plain(status: u16, message: impl Into<String>) -> Self {
        let mut body = message.into();
        if !body.ends_with('\n') {
            body.push('\n');
        }
        Self {
            status,
            headers: vec![("content-type".into(), b"text/plain; charset=utf-8".to_vec())],
            body: Bytes::from(body),
        }
    }

    /// The hyper response for this answer. webhook-dev frames every body itself: the answer's own
    /// `Content-Length`, `Transfer-Encoding` and other hop-by-hop headers are never passed on (a
    /// handler's wrong length could otherwise smuggle a second response onto the sender's
    /// connection), and a 1xx is never sent as a final answer. Headers hyper cannot carry are
    /// left out.
    pub(crate) fn into_hyper(self) -> hyper::Response<http_body_util::Full<Bytes>> {
        self.into_hyper_with(None)
    }

    /// Like [`RecordedResponse::into_hyper`], with `parsed` holding the same headers as hyper
    /// parsed them off the handler's answer, framing already left out: used as they are rather
    /// than parsed again from `headers`.
    pub(crate) fn into_hyper_with(
        self,
        parsed: Option<hyper::HeaderMap>,
    ) -> hyper::Response<http_body_util::Full<Bytes>> {
        use hyper::header::{HeaderName, HeaderValue};
        if self.status < 200 {
            return RecordedResponse::plain(
                502,
                format!(
                    "webhook-dev: the handler answered {}, an interim status that cannot be passed on as the answer",
                    self.status
                ),
            )
            .into_hyper();
        }
        let mut response = hyper::Response::new(http_body_util::Full::new(self.body));
        *response.status_mut() =
            hyper::StatusCode::from_u16(self.status).unwrap_or(hyper::StatusCode::BAD_GATEWAY);
        if let Some(parsed) = parsed {
            *response.headers_mut() = parsed;
            return response;
        }
        let headers = response.headers_mut();
        for (name, value) in self.headers {
            if is_framing(&name) {
                continue;
            }
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_bytes(&value),
            ) {
                headers.append(name, value);
            }
        }
        response
    }

    /// A JSON answer that webhook-dev gives on its own behalf.
    pub fn json(status: u16, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), b"application/json".to_vec())],
            body: body.into(),
        }
    }
}

/// What happened when a request was forwarded to the handler.
#[derive(Clone, Debug, PartialEq)]
pub struct ForwardOutcome {
    /// The URL the request was sent to.
    pub target: String,
    /// The handler's status, or the status webhook-dev answered with when forwarding failed.
    pub status: Option<u16>,
    /// Time from sending the request to having the whole answer.
    pub duration_ms: f64,
    /// Why forwarding failed, in words.
    pub error: Option<String>,
    /// The answer was larger than the store keeps: only its first bytes are recorded.
    pub answer_truncated: bool,
}

/// Everything known about one captured request once it has been handled.
#[derive(Clone, Debug)]
pub struct Exchange {
    /// The request as captured.
    pub request: std::sync::Arc<CapturedRequest>,
    /// The signature verdict recorded for it.
    pub signature: Verdict,
    /// The provider event type, when a profile names it.
    pub event_type: Option<String>,
    /// The forward attempt, when there was one.
    pub forward: Option<ForwardOutcome>,
    /// The answer given to the sender.
    pub response: RecordedResponse,
    /// Schema findings for the body and the answer, when a profile knows the event.
    pub schema: Option<SchemaReport>,
}

/// Outcome of a signature check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// A presented signature matched.
    Verified,
    /// The signature headers are there but malformed, or no signature matched.
    Invalid,
    /// A signature matched, but its timestamp is outside the tolerance.
    Expired,
    /// A header the scheme needs is absent.
    Missing,
    /// Nothing was checked (no profile or no secret configured).
    Unchecked,
}

impl Status {
    /// The lower-case name used in JSON and in the store.
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            Status::Verified => "verified",
            Status::Invalid => "invalid",
            Status::Expired => "expired",
            Status::Missing => "missing",
            Status::Unchecked => "unchecked",
        }
    }

    /// The inverse of [`Status::as_str`]; `None` for any other string.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "verified" => Some(Status::Verified),
            "invalid" => Some(Status::Invalid),
            "expired" => Some(Status::Expired),
            "missing" => Some(Status::Missing),
            "unchecked" => Some(Status::Unchecked),
            _ => None,
        }
    }
}

/// The recorded result of checking one request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// What the check concluded.
    pub status: Status,
    /// The profile the request was checked against, if any.
    pub profile: Option<String>,
    /// Why the check did not verify; `Some` for every status except [`Status::Verified`].
    pub reason: Option<String>,
}

impl Verdict {
    pub(crate) fn verified(profile: &str) -> Self {
        Verdict {
            status: Status::Verified,
            profile: Some(profile.to_owned()),
            reason: None,
        }
    }

    pub(crate) fn failed(status: Status, profile: &str, reason: impl Into<String>) -> Self {
        Verdict {
            status,
            profile: Some(profile.to_owned()),
            reason: Some(reason.into()),
        }
    }
}

/// Schema findings for a request and, for an event the provider expects an answer to, the answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaReport {
    /// The event the body was checked as.
    pub event: Option<String>,
    /// What in the request body departs from the event's schema.
    pub problems: Vec<String>,
    /// What in the handler's answer departs from the answer the provider expects.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answer_problems: Vec<String>,
}

/// Milliseconds as shown everywhere: to the microsecond.
pub(crate) fn round_ms(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

/// Formats a time the way the store and the JSON output hold it: RFC 3339, UTC, microseconds.
pub fn format_time(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}
