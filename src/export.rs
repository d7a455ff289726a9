//! Exports of stored requests: curl commands (HAR and fixtures live beside them).

use base64::Engine as _;

use crate::fixture::{is_secret_header, REDACTED};
use crate::forward::end_to_end_headers;
use crate::store::StoredRequest;

/// Quotes `text` for a POSIX shell.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Whether bytes can sit inside a single-quoted shell word and be shown on a terminal safely.
fn is_plain_text(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|text| {
        !text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
    })
}

/// A curl command that sends the stored request to `base_url` (e.g. `http://localhost:3000`):
/// same method, path, headers (less Host, Content-Length and hop-by-hop headers) and body bytes.
/// Binary or control-character bodies travel as base64 through `base64 -d`, so the command is
/// safe to print. With `redact`, credential headers carry [`REDACTED`] instead of their value.
pub fn curl_command(stored: &StoredRequest, base_url: &str, redact: bool) -> String {
    let path = if redact {
        crate::fixture::redact_query(&stored.summary.path)
    } else {
        stored.summary.path.clone()
    };
    let url = format!("{}{path}", base_url.trim_end_matches('/'));
    let mut parts = vec!["curl".to_string(), "-sS".to_string()];
    parts.push("-X".into());
    parts.push(stored.summary.method.clone());
    parts.push(shell_quote(&url));
    for (name, value) in end_to_end_headers(&stored.headers) {
        if name.eq_ignore_ascii_case("host") || name.eq_ignore_ascii_case("content-length") {
            continue;
        }
        let value: String = if redact && is_secret_header(&name) {
            REDACTED.to_string()
        } else {
            String::from_utf8_lossy(&value)
                .chars()
                .filter(|c| !c.is_control() || *c == '\t')
                .collect()
        };
        parts.push("-H".into());
        parts.push(shell_quote(&format!("{name}: {value}")));
    }
    if stored.body.is_empty() {
        return parts.join(" ");
    }
    if is_plain_text(&stored.body) {
        parts.push("--data-binary".into());
        parts.push(shell_quote(&String::from_utf8_lossy(&stored.body)));
        parts.join(" ")
    } else {
        let encoded = base64::engine::general_purpose::STANDARD.encode(&stored.body);
        parts.push("--data-binary".into());
        parts.push("@-".into());
        format!(
            "printf %s {} | base64 -d | {}",
            shell_quote(&encoded),
            parts.join(" ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::{Status, Verdict};
    use crate::summary::RequestSummary;
    use bytes::Bytes;

    fn stored(body: &[u8]) -> StoredRequest {
        StoredRequest {
            summary: RequestSummary {
                id: "req_1".into(),
                received_at: "2026-11-25T00:00:00Z".into(),
                method: "POST".into(),
                path: "/hooks?a=1".into(),
                size: body.len() as u64,
                event_type: None,
                signature: Verdict {
                    status: Status::Unchecked,
                    profile: None,
                    reason: Some("x".into()),
                },
                forward: None,
                replay_of: None,
                schema: None,
            },
            peer: None,
            headers: vec![
                ("host".into(), b"127.0.0.1:9797".to_vec()),
                ("content-type".into(), b"application/json".to_vec()),
                ("x-note".into(), b"it's".to_vec()),
                ("content-length".into(), b"2".to_vec()),
                ("connection".into(), b"close".to_vec()),
            ],
            body: Bytes::copy_from_slice(body),
            response: None,
            forward_target: None,
            answer_truncated: false,
        }
    }

    #[test]
    fn text_bodies_are_quoted_inline() {
        let cmd = curl_command(&stored(b"{\"a\":\"b'c\"}"), "http://localhost:3000/", false);
        assert_eq!(
            cmd,
            r#"curl -sS -X POST 'http://localhost:3000/hooks?a=1' -H 'content-type: application/json' -H 'x-note: it'\''s' --data-binary '{"a":"b'\''c"}'"#
        );
    }

    #[test]
    fn credentials_are_redacted_even_with_odd_bytes() {
        let mut request = stored(b"{}");
        request
            .headers
            .push(("authorization".into(), b"Bearer sk_live_1\xc2\x85".to_vec()));
        let cmd = curl_command(&request, "http://h:1", true);
        assert!(cmd.contains("'authorization: <redacted>'"), "{cmd}");
        assert!(!cmd.contains("sk_live"), "{cmd}");
        assert!(curl_command(&request, "http://h:1", false).contains("sk_live_1"));
    }

    #[test]
    fn binary_and_hostile_bodies_go_through_base64() {
        let cmd = curl_command(&stored(b"\x1b]0;pwned\x07"), "http://h:1", false);
        assert!(
            cmd.starts_with("printf %s 'G10wO3B3bmVkBw==' | base64 -d | curl"),
            "{cmd}"
        );
        assert!(!cmd.contains('\u{1b}'));
    }
}
