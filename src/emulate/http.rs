//! A request to the emulator as the API handlers see it, and their answer.

use bytes::Bytes;
use hyper::{HeaderMap, Method};
use serde_json::Value;

/// A request whose body has been read.
#[derive(Debug)]
pub struct ApiRequest {
    pub method: Method,
    /// The path, without the query.
    pub path: String,
    /// The query string, if any.
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl ApiRequest {
    /// A header's value as text, when it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A query parameter's first value.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let query = self.query.as_deref()?;
        form_urlencoded::parse(query.as_bytes())
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.into_owned())
    }

    /// The base of absolute URLs pointing back here (`http://host:port`).
    pub fn origin(&self, fallback: &str) -> String {
        format!("http://{}", self.header("host").unwrap_or(fallback))
    }

    /// The body as JSON; an empty body reads as `{}`.
    pub fn json(&self) -> Result<Value, serde_json::Error> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Object(Default::default()));
        }
        serde_json::from_slice(&self.body)
    }
}

/// An answer: a status and a JSON body, or none (204).
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The JSON body, if any.
    pub body: Option<Value>,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
        }
    }

    /// 204 No Content.
    pub fn no_content() -> Reply {
        Reply {
            status: 204,
            body: None,
        }
    }

    /// The HTTP response.
    pub fn into_hyper(self) -> hyper::Response<http_body_util::Full<Bytes>> {
        let mut builder = hyper::Response::builder().status(self.status);
        let body = match self.body {
            Some(value) => {
                builder = builder.header("content-type", "application/json");
                Bytes::from(value.to_string())
            }
            None => Bytes::new(),
        };
        builder
            .body(http_body_util::Full::new(body))
            .expect("a status and a content type always make a response")
    }
}

/// Whether `text` is an absolute http:// or https:// URL with a host.
pub fn is_http_url(text: &str) -> bool {
    let Ok(uri) = text.parse::<hyper::Uri>() else {
        return false;
    };
    matches!(uri.scheme_str(), Some("http" | "https"))
        && uri.host().is_some_and(|h| !h.is_empty())
        && !text.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_absolute_web_urls_pass() {
        assert!(is_http_url("http://127.0.0.1:3000/hooks"));
        assert!(is_http_url("https://api.example.com/webhooks/avala"));
        for bad in [
            "not a url",
            "ftp://example.com/x",
            "/hooks",
            "http://",
            "localhost:3000",
            "",
        ] {
            assert!(!is_http_url(bad), "{bad}");
        }
    }
}
