//! HAR 1.2 (<http://www.softwareishard.com/blog/har-12-spec/>): export of stored requests with their
//! answers, and import of HAR entries as fixtures.

use chrono::DateTime;
use serde_json::{json, Value};

use crate::fixture::{redact, Fixture, FIXTURE_VERSION};
use crate::model::find_header;
use crate::store::StoredRequest;
use crate::summary::{headers_json, BodyJson};

fn har_headers(headers: &[(String, String)]) -> Value {
    Value::Array(
        headers
            .iter()
            .map(|(n, v)| json!({"name": n, "value": v}))
            .collect(),
    )
}

fn content_type(headers: &[(String, Vec<u8>)]) -> String {
    find_header(headers, "content-type")
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default()
}

/// The body as HAR text: UTF-8 as is, anything else base64 with `"encoding": "base64"`.
fn har_text(body: &[u8], object: &mut serde_json::Map<String, Value>) {
    let encoded = BodyJson::encode(body);
    object.insert("text".into(), Value::String(encoded.data));
    if encoded.encoding == "base64" {
        object.insert("encoding".into(), Value::String("base64".into()));
    }
}

/// One HAR entry for a stored request; credential headers redacted when `redact_secrets`.
pub fn entry(stored: &StoredRequest, redact_secrets: bool) -> Value {
    let s = &stored.summary;
    let host = find_header(&stored.headers, "host")
        .map(|h| String::from_utf8_lossy(h).into_owned())
        .unwrap_or_else(|| "localhost".into());
    let path = if redact_secrets {
        crate::fixture::redact_query(&s.path)
    } else {
        s.path.clone()
    };
    let url = format!("http://{host}{path}");
    let query = path.split_once('?').map(|(_, q)| q).unwrap_or("");
    let query_string: Vec<Value> = form_urlencoded::parse(query.as_bytes())
        .map(|(n, v)| json!({"name": n, "value": v}))
        .collect();
    let mut headers = headers_json(&stored.headers);
    if redact_secrets {
        redact(&mut headers);
    }
    let mut request = json!({
        "method": s.method,
        "url": url,
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": har_headers(&headers),
        "queryString": query_string,
        "headersSize": -1,
        "bodySize": stored.body.len(),
    });
    if !stored.body.is_empty() {
        let mut post = serde_json::Map::new();
        post.insert(
            "mimeType".into(),
            Value::String(content_type(&stored.headers)),
        );
        har_text(&stored.body, &mut post);
        request["postData"] = Value::Object(post);
    }
    let duration = s.forward.as_ref().map(|f| f.duration_ms).unwrap_or(0.0);
    let response = match &stored.response {
        Some(r) => {
            let mut content = serde_json::Map::new();
            content.insert("size".into(), json!(r.body.len()));
            content.insert("mimeType".into(), Value::String(content_type(&r.headers)));
            har_text(&r.body, &mut content);
            let mut response_headers = headers_json(&r.headers);
            if redact_secrets {
                redact(&mut response_headers);
            }
            json!({
                "status": r.status,
                "statusText": hyper::StatusCode::from_u16(r.status).ok().and_then(|c| c.canonical_reason()).unwrap_or(""),
                "httpVersion": "HTTP/1.1",
                "cookies": [],
                "headers": har_headers(&response_headers),
                "content": content,
                "redirectURL": "",
                "headersSize": -1,
                "bodySize": r.body.len(),
            })
        }
        None => json!({
            "status": 0, "statusText": "", "httpVersion": "HTTP/1.1", "cookies": [], "headers": [],
            "content": {"size": 0, "mimeType": ""}, "redirectURL": "", "headersSize": -1, "bodySize": -1,
        }),
    };
    json!({
        "startedDateTime": s.received_at,
        "time": duration,
        "request": request,
        "response": response,
        "cache": {},
        "timings": {"send": 0, "wait": duration, "receive": 0},
        "comment": s.id,
    })
}

/// A whole HAR log for `stored`.
pub fn log(stored: &[StoredRequest], redact_secrets: bool) -> Value {
    json!({
        "log": {
            "version": "1.2",
            "creator": {"name": "webhook-dev", "version": env!("CARGO_PKG_VERSION")},
            "entries": stored.iter().map(|s| entry(s, redact_secrets)).collect::<Vec<_>>(),
        }
    })
}

/// The requests of a HAR log, as fixtures.
pub fn parse(har: &Value) -> anyhow::Result<Vec<Fixture>> {
    let entries = har
        .pointer("/log/entries")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow::anyhow!("not a HAR file: it has no log.entries"))?;
    entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let fail = |what: &str| anyhow::anyhow!("HAR entry {index}: {what}");
            let request = entry.get("request").ok_or_else(|| fail("no request"))?;
            let method = request
                .get("method")
                .and_then(Value::as_str)
                .ok_or_else(|| fail("no request.method"))?;
            let url = request
                .get("url")
                .and_then(Value::as_str)
                .ok_or_else(|| fail("no request.url"))?;
            let path = match url.find("://") {
                Some(scheme_end) => {
                    let rest = &url[scheme_end + 3..];
                    rest.find('/').map(|i| &rest[i..]).unwrap_or("/")
                }
                None => url,
            };
            let headers = request
                .get("headers")
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .filter_map(|h| {
                            Some((
                                h.get("name")?.as_str()?.to_string(),
                                h.get("value")?.as_str()?.to_string(),
                            ))
                        })
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            let body = match request.get("postData") {
                Some(post) => BodyJson {
                    encoding: match post.get("encoding").and_then(Value::as_str) {
                        Some("base64") => "base64".into(),
                        _ => "utf8".into(),
                    },
                    data: post
                        .get("text")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                },
                None => BodyJson::encode(b""),
            };
            let received_at = entry
                .get("startedDateTime")
                .and_then(Value::as_str)
                .filter(|t| DateTime::parse_from_rfc3339(t).is_ok())
                .map(str::to_string);
            let fixture = Fixture {
                webhook_dev_fixture: FIXTURE_VERSION,
                id: None,
                received_at,
                method: method.to_string(),
                path: path.to_string(),
                headers,
                body,
                event_type: None,
                profile: None,
                redacted: Vec::new(),
            };
            fixture.body_bytes().map_err(|e| fail(&e.to_string()))?;
            Ok(fixture)
        })
        .collect()
}
