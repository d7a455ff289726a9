//! `e`: a request as an editable HTTP message (request line, headers, blank line, body with JSON
//! pretty-printed from its own tokens), and the replay read back from it.

use bytes::Bytes;

use crate::json_text;
use crate::model::HeaderList;
use crate::store::StoredRequest;

/// Whether a changed header makes a replay "edited": not the length, which a replay sets itself,
/// nor the headers that change whenever a request is re-signed.
fn is_edit(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name != "content-length" && !crate::signature::SIGNATURE_HEADERS.contains(&name.as_str())
}

const HELP: &str =
    "# Edit the request line, the headers or the body; save and quit to replay it.\n\
# Quit without changes to replay nothing. Content-Length follows the body.\n";

/// What a replay sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Draft {
    /// The method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Headers in order.
    pub headers: HeaderList,
    /// The body, encoded as it will be sent.
    pub body: Bytes,
}

impl Draft {
    /// The request as it was captured.
    pub(crate) fn of(stored: &StoredRequest) -> Draft {
        Draft {
            method: stored.summary.method.clone(),
            path: stored.summary.path.clone(),
            headers: stored.headers.clone(),
            body: stored.body.clone(),
        }
    }
}

/// The file the editor opens for `stored` whose body, decoded for display, is `body`; `None` when
/// part of it is not text (binary body or header value).
pub(crate) fn message(stored: &StoredRequest, body: &[u8]) -> Option<String> {
    let body = match json_text::pretty_text(body) {
        Some(pretty) => pretty,
        None => std::str::from_utf8(body).ok()?.to_string(),
    };
    let mut text = format!("{HELP}{} {}\n", stored.summary.method, stored.summary.path);
    for (name, value) in &stored.headers {
        text.push_str(&format!("{name}: {}\n", std::str::from_utf8(value).ok()?));
    }
    text.push('\n');
    text.push_str(&body);
    if !body.ends_with('\n') {
        text.push('\n');
    }
    Some(text)
}

/// Reads back an edited [`message`] of `stored` (whose decoded body is `decoded`). An untouched
/// body keeps its bytes; an edited JSON body is sent compact again when the original was.
/// `encode` re-applies the original content encoding.
pub(crate) fn parse(
    text: &str,
    stored: &StoredRequest,
    decoded: &[u8],
    encode: impl Fn(&[u8]) -> Vec<u8>,
) -> Result<Draft, String> {
    let mut lines = text.split_inclusive('\n');
    let request_line = lines
        .by_ref()
        .map(|l| l.trim_end_matches(['\r', '\n']))
        .find(|l| !l.starts_with('#') && !l.trim().is_empty())
        .ok_or("the request line (METHOD /path) is missing: nothing replayed")?;
    let (method, path) = request_line
        .trim()
        .split_once(' ')
        .map(|(m, p)| (m.trim(), p.trim()))
        .filter(|(m, p)| {
            !m.is_empty()
                && m.bytes().all(|b| b.is_ascii_alphabetic())
                && p.starts_with('/')
                && !p.contains(' ')
        })
        .ok_or_else(|| format!("{request_line:?} is not METHOD /path: nothing replayed"))?;
    let mut headers = HeaderList::new();
    for line in lines.by_ref() {
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .filter(|(n, _)| !n.trim().is_empty() && !n.contains(' '))
            .ok_or_else(|| format!("{line:?} is not a header (name: value): nothing replayed"))?;
        headers.push((name.trim().to_string(), value.trim().as_bytes().to_vec()));
    }
    let mut body: String = lines.collect();
    if body.ends_with('\n') && !decoded.ends_with(b"\n") {
        body.pop();
    }
    let original_text = json_text::pretty_text(decoded)
        .or_else(|| std::str::from_utf8(decoded).ok().map(str::to_string));
    let bytes = if original_text.as_deref() == Some(body.as_str()) {
        stored.body.clone()
    } else {
        let was_compact =
            json_text::parse(decoded).is_some_and(|n| n.compact().as_bytes() == decoded);
        let text = match json_text::parse(body.as_bytes()) {
            Some(node) if was_compact => node.compact(),
            _ => body,
        };
        Bytes::from(encode(text.as_bytes()))
    };
    Ok(Draft {
        method: method.to_string(),
        path: path.to_string(),
        headers,
        body: bytes,
    })
}

/// What an edit changed between `original` and its replay `replay`: any of "request line",
/// "headers", "body" (signature headers and the length are not edits).
pub(crate) fn differences(original: &StoredRequest, replay: &StoredRequest) -> Vec<&'static str> {
    let kept = |headers: &HeaderList| -> Vec<(String, Vec<u8>)> {
        headers
            .iter()
            .filter(|(n, _)| is_edit(n))
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
            .collect()
    };
    let mut out = Vec::new();
    if original.summary.method != replay.summary.method
        || original.summary.path != replay.summary.path
    {
        out.push("request line");
    }
    if kept(&original.headers) != kept(&replay.headers) {
        out.push("headers");
    }
    if original.body != replay.body {
        out.push("body");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::RequestSummary;

    fn stored(path: &str, body: &'static [u8]) -> StoredRequest {
        StoredRequest {
            summary: RequestSummary {
                id: "req_1".into(),
                received_at: "2026-11-25T12:00:00.000000Z".into(),
                method: "POST".into(),
                path: path.into(),
                size: body.len() as u64,
                event_type: None,
                signature: crate::signature::unchecked(&Vec::new()),
                forward: None,
                replay_of: None,
                schema: None,
            },
            peer: None,
            headers: vec![
                ("content-type".into(), b"application/json".to_vec()),
                ("content-length".into(), body.len().to_string().into_bytes()),
            ],
            body: Bytes::from_static(body),
            response: None,
            forward_target: None,
            answer_truncated: false,
        }
    }

    #[test]
    fn the_message_is_pretty_and_reads_back_unchanged() {
        let original = stored("/hooks?a=1", br#"{"n":10.50,"a":[1]}"#);
        let text = message(&original, &original.body).unwrap();
        assert!(text.contains("POST /hooks?a=1\ncontent-type: application/json\n"));
        assert!(
            text.ends_with("\n\n{\n  \"n\": 10.50,\n  \"a\": [\n    1\n  ]\n}\n"),
            "{text}"
        );
        let draft = parse(&text, &original, &original.body, <[u8]>::to_vec).unwrap();
        assert_eq!(draft, Draft::of(&original));
    }

    #[test]
    fn edits_to_the_line_headers_and_body_are_read_back() {
        let original = stored("/hooks", br#"{"n":10.50,"a":[1]}"#);
        let text = message(&original, &original.body)
            .unwrap()
            .replace("POST /hooks", "PUT /other?x=1")
            .replace(
                "content-type: application/json\n",
                "content-type: application/json\nx-extra: yes\n",
            )
            .replace("10.50", "10.500");
        let draft = parse(&text, &original, &original.body, <[u8]>::to_vec).unwrap();
        assert_eq!(
            (draft.method.as_str(), draft.path.as_str()),
            ("PUT", "/other?x=1")
        );
        assert_eq!(draft.headers[1], ("x-extra".to_string(), b"yes".to_vec()));
        assert_eq!(
            draft.body.as_ref(),
            br#"{"n":10.500,"a":[1]}"#,
            "compact again, tokens kept"
        );
        let bad = text.replace("PUT /other?x=1", "PUT");
        assert!(parse(&bad, &original, &original.body, <[u8]>::to_vec).is_err());
    }

    #[test]
    fn differences_ignore_signatures_and_length() {
        let original = stored("/hooks", b"{}");
        let mut replay = original.clone();
        replay
            .headers
            .push(("webhook-signature".into(), b"v1,x".to_vec()));
        assert!(differences(&original, &replay).is_empty());
        replay.body = Bytes::from_static(b"{\"a\":1}");
        replay.summary.path = "/x".into();
        assert_eq!(differences(&original, &replay), ["request line", "body"]);
    }
}
