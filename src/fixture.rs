//! The fixture file: one captured request as small, stable JSON, meant to be committed into a
//! test suite and replayed with `webhook-dev replay FILE`.
//!
//! ```json
//! {
//!   "webhook_dev_fixture": 1,
//!   "id": "req_01JD...",
//!   "received_at": "2026-11-25T12:00:00.000000Z",
//!   "method": "POST",
//!   "path": "/webhooks/avara?x=1",
//!   "headers": [["content-type", "application/json"], ["webhook-id", "msg_..."]],
//!   "body": {"encoding": "utf8", "data": "{...}"},
//!   "event_type": "report.delivered",
//!   "profile": "avara",
//!   "redacted": ["authorization"]
//! }
//! ```
//! `body.encoding` is `utf8` or `base64`; `redacted` names the headers whose values were replaced
//! by `<redacted>` on export (replay such a fixture with `--resign`).

use serde::{Deserialize, Serialize};

use crate::model::HeaderList;
use crate::store::StoredRequest;
use crate::summary::{headers_json, BodyJson};

/// The version written in `webhook_dev_fixture`.
pub const FIXTURE_VERSION: u32 = 1;

/// The value that replaces a redacted header's value.
pub const REDACTED: &str = "<redacted>";

/// One request as a fixture file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fixture {
    /// Format version; always [`FIXTURE_VERSION`] when written by this build.
    pub webhook_dev_fixture: u32,
    /// The id of the captured request, when it came from the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// When it was captured (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<String>,
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// `[name, value]` pairs in order.
    pub headers: Vec<(String, String)>,
    pub body: BodyJson,
    /// The provider event type, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// The profile its signature was checked with, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Headers whose values were redacted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redacted: Vec<String>,
}

/// Words that mark a header or query parameter as a credential.
const CREDENTIAL_WORDS: &[&str] = &[
    "token",
    "key",
    "secret",
    "signature",
    "auth",
    "password",
    "passwd",
    "session",
    "cookie",
    "hmac",
];

/// Whether a header (or query parameter) name looks like a credential that exports hide unless
/// asked not to: `Authorization`, `Cookie`, `X-Api-Key`, `Stripe-Signature`, `session_id`, ...
pub fn is_secret_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    CREDENTIAL_WORDS.iter().any(|word| name.contains(word))
}

/// The value that replaces a redacted query parameter (kept URL-safe).
pub const REDACTED_QUERY: &str = "REDACTED";

/// `path` with the values of credential-looking query parameters replaced, the rest byte-exact.
pub fn redact_query(path: &str) -> String {
    let Some((base, query)) = path.split_once('?') else {
        return path.to_owned();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret_header(&decoded(name)) => {
                format!("{name}={REDACTED_QUERY}")
            }
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", pairs.join("&"))
}

fn decoded(name: &str) -> String {
    form_urlencoded::parse(name.as_bytes())
        .next()
        .map(|(n, _)| n.into_owned())
        .unwrap_or_default()
}

/// Replaces credential header values with [`REDACTED`]; returns the names redacted.
pub fn redact(headers: &mut [(String, String)]) -> Vec<String> {
    let mut names = Vec::new();
    for (name, value) in headers.iter_mut() {
        if is_secret_header(name) {
            *value = REDACTED.to_string();
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    names
}

impl Fixture {
    /// The fixture for a stored request, unredacted.
    pub fn from_stored(stored: &StoredRequest) -> Fixture {
        Fixture {
            webhook_dev_fixture: FIXTURE_VERSION,
            id: Some(stored.summary.id.clone()),
            received_at: Some(stored.summary.received_at.clone()),
            method: stored.summary.method.clone(),
            path: stored.summary.path.clone(),
            headers: headers_json(&stored.headers),
            body: BodyJson::encode(&stored.body),
            event_type: stored.summary.event_type.clone(),
            profile: stored.summary.signature.profile.clone(),
            redacted: Vec::new(),
        }
    }

    /// The same fixture with credential headers and query parameters redacted.
    pub fn redacted(mut self) -> Fixture {
        self.redacted = redact(&mut self.headers);
        self.path = redact_query(&self.path);
        self
    }

    /// Pretty JSON, ending in a newline.
    pub fn to_json_pretty(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a fixture always serializes");
        text.push('\n');
        text
    }

    /// Parses a fixture file, explaining what is wrong when it is not one.
    pub fn parse(text: &str) -> anyhow::Result<Fixture> {
        let fixture: Fixture = serde_json::from_str(text)
            .map_err(|e| anyhow::anyhow!("not a webhook-dev fixture: {e}"))?;
        if fixture.webhook_dev_fixture > FIXTURE_VERSION {
            anyhow::bail!(
                "fixture version {} is newer than this webhook-dev understands ({FIXTURE_VERSION})",
                fixture.webhook_dev_fixture
            );
        }
        fixture.body_bytes()?;
        Ok(fixture)
    }

    /// The raw body bytes.
    pub fn body_bytes(&self) -> anyhow::Result<Vec<u8>> {
        self.body
            .decode()
            .map_err(|e| anyhow::anyhow!("the fixture body is not valid base64: {e}"))
    }

    /// Headers as raw bytes, names lower-cased.
    pub fn header_list(&self) -> HeaderList {
        self.headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.as_bytes().to_vec()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Fixture {
        Fixture {
            webhook_dev_fixture: 1,
            id: Some("req_1".into()),
            received_at: None,
            method: "POST".into(),
            path: "/h?x=1".into(),
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("Authorization".into(), "Bearer abc".into()),
                ("x-webhook-infermedica-token".into(), "tok".into()),
                ("webhook-signature".into(), "v1,abc".into()),
            ],
            body: BodyJson::encode(&[0xff, 0x00]),
            event_type: None,
            profile: None,
            redacted: vec![],
        }
    }

    #[test]
    fn round_trips_through_json() {
        let f = sample();
        let back = Fixture::parse(&f.to_json_pretty()).unwrap();
        assert_eq!(back, f);
        assert_eq!(back.body_bytes().unwrap(), vec![0xff, 0x00]);
    }

    #[test]
    fn credentials_are_redacted_signatures_included() {
        let f = sample().redacted();
        assert_eq!(
            f.redacted,
            vec![
                "Authorization",
                "x-webhook-infermedica-token",
                "webhook-signature"
            ]
        );
        assert_eq!(f.headers[1].1, REDACTED);
        assert_eq!(f.headers[2].1, REDACTED);
        assert_eq!(f.headers[3].1, REDACTED);
    }

    #[test]
    fn credential_query_parameters_are_redacted_and_the_rest_kept() {
        assert_eq!(
            redact_query("/hook?a=1&api_key=sk_live_1&X-Amz-Signature=abc&session%5Fid=9&b=%20"),
            "/hook?a=1&api_key=REDACTED&X-Amz-Signature=REDACTED&session%5Fid=REDACTED&b=%20"
        );
        assert_eq!(redact_query("/plain"), "/plain");
        for name in [
            "X-Api-Key",
            "Stripe-Signature",
            "x-shopify-hmac-sha256",
            "X-Auth-User",
            "Cookie",
        ] {
            assert!(is_secret_header(name), "{name}");
        }
        assert!(!is_secret_header("content-type") && !is_secret_header("x-github-event"));
    }

    #[test]
    fn other_json_is_refused_clearly() {
        let err = Fixture::parse("{\"a\":1}").unwrap_err().to_string();
        assert!(err.contains("not a webhook-dev fixture"), "{err}");
        let newer = sample()
            .to_json_pretty()
            .replace("\"webhook_dev_fixture\": 1", "\"webhook_dev_fixture\": 9");
        assert!(Fixture::parse(&newer)
            .unwrap_err()
            .to_string()
            .contains("newer"));
    }
}
