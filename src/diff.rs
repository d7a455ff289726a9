//! Differences between two payloads: a JSON-aware structural diff (changed, added and removed
//! paths with their old and new values) and line diffs of the pretty bodies and of the headers.
//!
//! Pure functions over values and text; the inspector and `diff ID ID` draw the results.

use std::fmt;

use crate::json_text::{self, push_key, Node};
use similar::{ChangeTag, TextDiff};

/// What happened to one JSON path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// The path holds a different value (or a value of another type).
    Changed,
    /// The path exists only in the new payload.
    Added,
    /// The path exists only in the old payload.
    Removed,
}

/// One structural difference, e.g. `data.is_critical: false -> true`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonChange {
    /// The path: object keys joined with `.`, array indices as `[i]`, odd keys quoted
    /// (`["a.b"]`); empty for the root.
    pub path: String,
    /// What happened.
    pub kind: ChangeKind,
    /// The value in the old payload as sent, on one line (absent when added).
    pub old: Option<String>,
    /// The value in the new payload as sent, on one line (absent when removed).
    pub new: Option<String>,
}

impl JsonChange {
    /// The path as shown: `(root)` for the root.
    pub fn display_path(&self) -> &str {
        if self.path.is_empty() {
            "(root)"
        } else {
            &self.path
        }
    }
}

impl fmt::Display for JsonChange {
    /// `data.is_critical: false -> true`, `+ data.note: "x"`, `- data.old: 1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: &Option<String>| v.clone().unwrap_or_default();
        match self.kind {
            ChangeKind::Changed => write!(
                f,
                "{}: {} -> {}",
                self.display_path(),
                show(&self.old),
                show(&self.new)
            ),
            ChangeKind::Added => write!(f, "+ {}: {}", self.display_path(), show(&self.new)),
            ChangeKind::Removed => write!(f, "- {}: {}", self.display_path(), show(&self.old)),
        }
    }
}

/// The structural differences from `old` to `new`, in document order (old's keys first, then
/// keys only in new). Objects are compared key by key (a repeated key by its last value), arrays
/// index by index; values are compared and shown as sent, so `10.50` differs from `10.5`. Any
/// other difference (including a change of type) is one `Changed` entry at that path.
pub fn json_changes(old: &Node, new: &Node) -> Vec<JsonChange> {
    let mut out = Vec::new();
    walk(&mut String::new(), old, new, &mut out);
    out
}

fn change(path: &str, kind: ChangeKind, old: Option<&Node>, new: Option<&Node>) -> JsonChange {
    JsonChange {
        path: path.to_string(),
        kind,
        old: old.map(Node::compact),
        new: new.map(Node::compact),
    }
}

fn walk(path: &mut String, old: &Node, new: &Node, out: &mut Vec<JsonChange>) {
    match (old, new) {
        (Node::Object(a), Node::Object(b)) => {
            let (a, b) = (Node::unique_members(a), Node::unique_members(b));
            for (key, old_value) in &a {
                let len = path.len();
                push_key(path, key);
                match b.iter().find(|(k, _)| k == key) {
                    Some((_, new_value)) => walk(path, old_value, new_value, out),
                    None => out.push(change(path, ChangeKind::Removed, Some(old_value), None)),
                }
                path.truncate(len);
            }
            for (key, new_value) in &b {
                if !a.iter().any(|(k, _)| k == key) {
                    let len = path.len();
                    push_key(path, key);
                    out.push(change(path, ChangeKind::Added, None, Some(new_value)));
                    path.truncate(len);
                }
            }
        }
        (Node::Array(a), Node::Array(b)) => {
            for index in 0..a.len().max(b.len()) {
                let len = path.len();
                path.push_str(&format!("[{index}]"));
                match (a.get(index), b.get(index)) {
                    (Some(x), Some(y)) => walk(path, x, y, out),
                    (Some(x), None) => out.push(change(path, ChangeKind::Removed, Some(x), None)),
                    (None, Some(y)) => out.push(change(path, ChangeKind::Added, None, Some(y))),
                    (None, None) => {}
                }
                path.truncate(len);
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(change(path, ChangeKind::Changed, Some(a), Some(b))),
    }
}

/// One line of a line diff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiffLine {
    /// Kept, removed (`-`) or inserted (`+`).
    pub tag: LineTag,
    /// The line without its line break.
    pub text: String,
}

/// The kind of a [`DiffLine`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineTag {
    /// In both.
    Same,
    /// Only in the old text.
    Removed,
    /// Only in the new text.
    Added,
}

/// A run of changed lines with a little context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hunk {
    /// 1-based first line in the old text, and how many old lines the hunk covers.
    pub old_start: usize,
    /// How many lines of the old text the hunk covers.
    pub old_len: usize,
    /// 1-based first line in the new text.
    pub new_start: usize,
    /// How many lines of the new text the hunk covers.
    pub new_len: usize,
    pub lines: Vec<DiffLine>,
}

impl Hunk {
    /// `@@ -1,4 +1,5 @@`.
    pub fn header(&self) -> String {
        format!(
            "@@ -{},{} +{},{} @@",
            self.old_start, self.old_len, self.new_start, self.new_len
        )
    }
}

/// Lines of context kept around each change.
pub const CONTEXT_LINES: usize = 3;

/// A line diff of two texts, as hunks with [`CONTEXT_LINES`] of context; empty when equal.
pub fn line_diff(old: &str, new: &str) -> Vec<Hunk> {
    let diff = TextDiff::configure()
        .timeout(std::time::Duration::from_millis(500))
        .diff_lines(old, new);
    diff.grouped_ops(CONTEXT_LINES)
        .into_iter()
        .map(|group| {
            let first = &group[0];
            let last = &group[group.len() - 1];
            let old_range = first.old_range().start..last.old_range().end;
            let new_range = first.new_range().start..last.new_range().end;
            let lines = group
                .iter()
                .flat_map(|op| diff.iter_changes(op))
                .map(|change| DiffLine {
                    tag: match change.tag() {
                        ChangeTag::Equal => LineTag::Same,
                        ChangeTag::Delete => LineTag::Removed,
                        ChangeTag::Insert => LineTag::Added,
                    },
                    text: change.value().trim_end_matches(['\n', '\r']).to_string(),
                })
                .collect();
            Hunk {
                old_start: old_range.start + 1,
                old_len: old_range.len(),
                new_start: new_range.start + 1,
                new_len: new_range.len(),
                lines,
            }
        })
        .collect()
}

/// A body as text for a line diff: pretty JSON when it parses, the text when it is UTF-8, else
/// a one-line description of the bytes.
pub fn body_text(body: &[u8]) -> String {
    if let Some(pretty) = json_text::pretty_text(body) {
        return pretty + "\n";
    }
    match std::str::from_utf8(body) {
        Ok(text) => text.to_string(),
        Err(_) => format!(
            "(binary body: {} bytes, fnv {:016x})\n",
            body.len(),
            fnv(body)
        ),
    }
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Headers as `name: value` lines, in arrival order.
pub fn headers_text(headers: &[(String, Vec<u8>)]) -> String {
    let mut text = String::new();
    for (name, value) in headers {
        text.push_str(name);
        text.push_str(": ");
        text.push_str(&String::from_utf8_lossy(value));
        text.push('\n');
    }
    text
}

/// Everything that differs between two requests.
#[derive(Clone, Debug, PartialEq)]
pub struct PayloadDiff {
    /// Structural changes, when both bodies are JSON (`None` otherwise).
    pub json: Option<Vec<JsonChange>>,
    /// Line diff of the bodies (pretty-printed when JSON).
    pub body: Vec<Hunk>,
    /// Line diff of the headers.
    pub headers: Vec<Hunk>,
    /// The method and path, old and new, when either differs.
    pub request_line: Option<(String, String)>,
}

impl PayloadDiff {
    /// True when nothing differs.
    pub fn is_empty(&self) -> bool {
        self.json.as_ref().is_none_or(|c| c.is_empty())
            && self.body.is_empty()
            && self.headers.is_empty()
            && self.request_line.is_none()
    }
}

/// One side of a comparison: the parts of a request that are compared.
#[derive(Clone, Copy, Debug)]
pub struct Side<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Path and query.
    pub path: &'a str,
    /// Headers in arrival order.
    pub headers: &'a [(String, Vec<u8>)],
    /// The body, already decoded (e.g. un-gzipped) when it should be compared decoded.
    pub body: &'a [u8],
}

/// Compares two requests: request line, headers, body (structurally when both are JSON).
pub fn diff_requests(old: Side<'_>, new: Side<'_>) -> PayloadDiff {
    let json = match (json_text::parse(old.body), json_text::parse(new.body)) {
        (Some(a), Some(b)) => Some(json_changes(&a, &b)),
        _ => None,
    };
    let old_line = format!("{} {}", old.method, old.path);
    let new_line = format!("{} {}", new.method, new.path);
    PayloadDiff {
        json,
        body: line_diff(&body_text(old.body), &body_text(new.body)),
        headers: line_diff(&headers_text(old.headers), &headers_text(new.headers)),
        request_line: (old_line != new_line).then_some((old_line, new_line)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn changes_of(old: &Value, new: &Value) -> Vec<JsonChange> {
        let node = |v: &Value| json_text::parse(v.to_string().as_bytes()).unwrap();
        json_changes(&node(old), &node(new))
    }

    #[test]
    fn values_are_compared_and_shown_as_sent() {
        let d = diff_requests(
            Side {
                method: "POST",
                path: "/a",
                headers: &[],
                body: br#"{"big":12345678901234567890123,"price":10.50,"n":1e3,"k":1,"k":2}"#,
            },
            Side {
                method: "POST",
                path: "/a",
                headers: &[],
                body: br#"{"big":12345678901234567890124,"price":10.5,"n":1e3,"k":3}"#,
            },
        );
        let lines: Vec<String> = d.json.unwrap().iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "big: 12345678901234567890123 -> 12345678901234567890124",
                "price: 10.50 -> 10.5",
                "k: 2 -> 3",
            ]
        );
        assert!(d
            .body
            .iter()
            .flat_map(|h| &h.lines)
            .any(|l| l.tag == LineTag::Removed && l.text == "  \"price\": 10.50,"));
    }
    use serde_json::json;

    #[test]
    fn changed_added_and_removed_paths_with_values() {
        let old = json!({"type": "report.delivered", "data": {"is_critical": false, "id": 1, "gone": "x"}});
        let new = json!({"type": "report.delivered", "data": {"is_critical": true, "id": 1, "note": null}});
        let lines: Vec<String> = changes_of(&old, &new)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            lines,
            [
                "data.is_critical: false -> true",
                "- data.gone: \"x\"",
                "+ data.note: null",
            ]
        );
    }

    #[test]
    fn arrays_are_compared_by_index() {
        let changes = changes_of(&json!({"a": [1, 2, 3]}), &json!({"a": [1, 5]}));
        let lines: Vec<String> = changes.iter().map(ToString::to_string).collect();
        assert_eq!(lines, ["a[1]: 2 -> 5", "- a[2]: 3"]);
        let grown = changes_of(&json!([]), &json!([{"x": 1}]));
        assert_eq!(grown[0].to_string(), "+ [0]: {\"x\":1}");
    }

    #[test]
    fn a_type_change_is_one_change_and_equal_values_none() {
        let changes = changes_of(&json!({"a": {"b": 1}}), &json!({"a": [1]}));
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].to_string(), "a: {\"b\":1} -> [1]");
        assert!(changes_of(&json!({"a": [1, {"b": 2}]}), &json!({"a": [1, {"b": 2}]})).is_empty());
        let root = changes_of(&json!(1), &json!("1"));
        assert_eq!(root[0].to_string(), "(root): 1 -> \"1\"");
    }

    #[test]
    fn odd_keys_are_quoted() {
        let changes = changes_of(
            &json!({"a.b": 1, "": 2, "x y": {"k": 1}}),
            &json!({"a.b": 2, "": 3, "x y": {"k": 2}}),
        );
        let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["[\"a.b\"]", "[\"\"]", "[\"x y\"].k"]);
    }

    #[test]
    fn line_diff_has_hunks_with_context() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\ni\n";
        let new = "a\nb\nc\nd\nE\nf\ng\nh\ni\n";
        let hunks = line_diff(old, new);
        assert_eq!(hunks.len(), 1);
        let h = &hunks[0];
        assert_eq!(h.header(), "@@ -2,7 +2,7 @@");
        let tags: Vec<(LineTag, &str)> = h.lines.iter().map(|l| (l.tag, l.text.as_str())).collect();
        assert_eq!(
            tags,
            [
                (LineTag::Same, "b"),
                (LineTag::Same, "c"),
                (LineTag::Same, "d"),
                (LineTag::Removed, "e"),
                (LineTag::Added, "E"),
                (LineTag::Same, "f"),
                (LineTag::Same, "g"),
                (LineTag::Same, "h"),
            ]
        );
        assert!(line_diff("same\n", "same\n").is_empty());
    }

    #[test]
    fn request_diff_compares_everything() {
        let h1 = vec![("webhook-id".to_string(), b"msg_1".to_vec())];
        let h2 = vec![("webhook-id".to_string(), b"msg_2".to_vec())];
        let d = diff_requests(
            Side {
                method: "POST",
                path: "/a",
                headers: &h1,
                body: br#"{"data":{"is_critical":false}}"#,
            },
            Side {
                method: "POST",
                path: "/b",
                headers: &h2,
                body: br#"{"data":{"is_critical":true}}"#,
            },
        );
        assert_eq!(
            d.json.as_ref().unwrap()[0].to_string(),
            "data.is_critical: false -> true"
        );
        assert!(d
            .body
            .iter()
            .flat_map(|h| &h.lines)
            .any(|l| l.tag == LineTag::Added && l.text.contains("true")));
        assert_eq!(d.headers[0].lines.len(), 2);
        assert_eq!(d.request_line, Some(("POST /a".into(), "POST /b".into())));
        assert!(!d.is_empty());

        let same = Side {
            method: "POST",
            path: "/a",
            headers: &h1,
            body: b"\xff\x00",
        };
        let d = diff_requests(same, same);
        assert!(d.is_empty());
        assert!(d.json.is_none());
    }

    #[test]
    fn binary_bodies_are_described() {
        let text = body_text(&[0xff, 0xfe]);
        assert!(text.starts_with("(binary body: 2 bytes"), "{text}");
        assert_ne!(body_text(&[0xff, 0xfe]), body_text(&[0xff, 0xfd]));
    }
}
