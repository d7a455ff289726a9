//! The JSON shapes of DESIGN.md: request summaries (`requests list`, `listen --json`) and details
//! (`requests show --json`).

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::model::{
    round_ms, CapturedRequest, Exchange, ForwardOutcome, RecordedResponse, SchemaReport,
};
use crate::signature::Verdict;

/// One line of `requests list --json` and the body of a `request` event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestSummary {
    /// `req_` + ULID.
    pub id: String,
    /// RFC 3339, UTC.
    pub received_at: String,
    /// HTTP method.
    pub method: String,
    /// Path and query exactly as received.
    pub path: String,
    /// Body size in bytes.
    pub size: u64,
    /// The provider event type, when a profile knows it.
    pub event_type: Option<String>,
    /// The signature verdict.
    pub signature: Verdict,
    /// The forward attempt, or null when nothing was forwarded.
    pub forward: Option<ForwardSummary>,
    /// For a replay, the id of the request it replays (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_of: Option<String>,
    /// Schema findings, when a profile knows the event (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<SchemaReport>,
}

/// The `forward` object of a summary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ForwardSummary {
    /// The status the sender got for this forward: the handler's, or 502/504 when it failed.
    pub status: Option<u16>,
    /// Milliseconds from sending to having the whole answer.
    pub duration_ms: f64,
    /// Why forwarding failed.
    pub error: Option<String>,
}

impl From<&ForwardOutcome> for ForwardSummary {
    fn from(f: &ForwardOutcome) -> Self {
        Self {
            status: f.status,
            duration_ms: round_ms(f.duration_ms),
            error: f.error.clone(),
        }
    }
}

impl RequestSummary {
    /// The summary of a handled exchange.
    pub fn from_exchange(exchange: &Exchange) -> Self {
        Self {
            forward: exchange.forward.as_ref().map(ForwardSummary::from),
            schema: exchange.schema.clone(),
            ..Self::arrived(
                &exchange.request,
                exchange.event_type.clone(),
                exchange.signature.clone(),
            )
        }
    }

    /// The summary of a request that has arrived and is not answered yet.
    pub fn arrived(
        request: &CapturedRequest,
        event_type: Option<String>,
        signature: Verdict,
    ) -> Self {
        Self {
            id: request.id.clone(),
            received_at: crate::model::format_time(&request.received_at),
            method: request.method.clone(),
            path: request.path.clone(),
            size: request.body.len() as u64,
            event_type,
            signature,
            forward: None,
            replay_of: request.replay_of.clone(),
            schema: None,
        }
    }
}

/// A body in JSON: UTF-8 text as is, anything else base64.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BodyJson {
    /// `utf8` or `base64`.
    pub encoding: String,
    /// The text, or the base64 of the bytes.
    pub data: String,
}

impl BodyJson {
    /// Encodes raw bytes, choosing the encoding.
    pub(crate) fn encode(bytes: &[u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(text) => Self {
                encoding: "utf8".into(),
                data: text.to_string(),
            },
            Err(_) => Self {
                encoding: "base64".into(),
                data: base64::engine::general_purpose::STANDARD.encode(bytes),
            },
        }
    }

    /// The raw bytes back.
    pub(crate) fn decode(&self) -> Result<Vec<u8>, base64::DecodeError> {
        match self.encoding.as_str() {
            "base64" => base64::engine::general_purpose::STANDARD.decode(&self.data),
            _ => Ok(self.data.as_bytes().to_vec()),
        }
    }
}

/// Headers in JSON: `[name, value]` pairs in arrival order.
pub(crate) fn headers_json(headers: &[(String, Vec<u8>)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| (n.clone(), String::from_utf8_lossy(v).into_owned()))
        .collect()
}

/// The `response` object of a detail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResponseJson {
    /// Status code.
    pub status: u16,
    /// `[name, value]` pairs.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: BodyJson,
}

impl From<&RecordedResponse> for ResponseJson {
    fn from(r: &RecordedResponse) -> Self {
        Self {
            status: r.status,
            headers: headers_json(&r.headers),
            body: BodyJson::encode(&r.body),
        }
    }
}

/// `requests show ID --json`: the summary plus headers, body and response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestDetail {
    /// The summary fields, inline.
    #[serde(flatten)]
    pub summary: RequestSummary,
    /// The sender's address.
    pub peer: Option<String>,
    /// `[name, value]` pairs in arrival order, repeats kept.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: BodyJson,
    /// The answer given to the sender, when there was one.
    pub response: Option<ResponseJson>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_bodies_are_base64_and_round_trip() {
        let bytes = vec![0u8, 0xff, 0xfe, b'a'];
        let json = BodyJson::encode(&bytes);
        assert_eq!(json.encoding, "base64");
        assert_eq!(json.decode().unwrap(), bytes);
        assert_eq!(BodyJson::encode(b"{}").encoding, "utf8");
    }
}
