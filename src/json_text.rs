//! JSON as it was sent: a tree of the original tokens, so that pretty-printing re-indents the
//! text instead of re-serializing values. `12345678901234567890123`, `10.50` and `1e3` keep
//! their text, and a key given twice is kept twice (and reported).

use std::borrow::Cow;
use std::collections::HashSet;

/// A JSON value as its tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// `{...}`: members in the order sent, repeated keys included.
    Object(Vec<Member>),
    /// `[...]`.
    Array(Vec<Node>),
    /// A string (with its quotes and escapes), number, `true`, `false` or `null`, as sent.
    Scalar(String),
}

/// One `"key": value` of an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The key, unescaped (for paths and comparisons).
    pub key: String,
    /// The key token as sent, quotes included.
    pub raw_key: String,
    pub value: Node,
}

/// A key that appears more than once in the same object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Duplicate {
    /// Its path, as in diffs (`data.id`).
    pub path: String,
    /// The 0-based line of the pretty text where it appears again.
    pub line: usize,
}

/// Pretty-printed JSON (two-space indent, `"key": value`), and the repeated keys found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pretty {
    /// The text, without a final newline.
    pub text: String,
    /// Keys repeated within one object, in document order.
    pub duplicates: Vec<Duplicate>,
}

/// The token tree of `bytes`, or `None` when they are not one valid JSON document.
pub fn parse(bytes: &[u8]) -> Option<Node> {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).ok()?;
    let text = std::str::from_utf8(bytes).ok()?;
    let mut parser = Parser { text, at: 0 };
    parser.value()
}

/// `bytes` pretty-printed from their own tokens, or `None` when they are not JSON. One pass over
/// the text, without building a tree (bodies of megabytes stay quick).
pub fn pretty(bytes: &[u8]) -> Option<Pretty> {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).ok()?;
    let text = std::str::from_utf8(bytes).ok()?;
    stream_pretty(text)
}

/// A key token unescaped: borrowed when it has no escapes.
fn decode_key(raw: &str) -> Option<Cow<'_, str>> {
    let inner = raw.get(1..raw.len().checked_sub(1)?)?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(raw).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(inner))
    }
}

/// Where the pretty-printer is: in an object (its keys so far, the current key) or an array
/// (the current index).
enum Frame<'a> {
    Object {
        keys: HashSet<Cow<'a, str>>,
        key: Cow<'a, str>,
    },
    Array {
        index: usize,
    },
}

fn path_of(frames: &[Frame<'_>]) -> String {
    let mut path = String::new();
    for frame in frames {
        match frame {
            Frame::Object { key, .. } => push_key(&mut path, key),
            Frame::Array { index, .. } => path.push_str(&format!("[{index}]")),
        }
    }
    path
}

/// Re-indents text serde_json has accepted as one JSON document.
fn stream_pretty(text: &str) -> Option<Pretty> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + text.len() / 2);
    let mut line = 0;
    let mut frames: Vec<Frame<'_>> = Vec::new();
    let mut duplicates = Vec::new();
    let newline = |out: &mut String, line: &mut usize, depth: usize| {
        out.push('\n');
        *line += 1;
        for _ in 0..depth {
            out.push_str("  ");
        }
    };
    let mut at = 0;
    // Whether the next string token is an object key.
    let mut expect_key = false;
    while at < bytes.len() {
        let b = bytes[at];
        match b {
            b' ' | b'\t' | b'\n' | b'\r' => at += 1,
            b'{' | b'[' => {
                let close = if b == b'{' { b'}' } else { b']' };
                let mut next = at + 1;
                while next < bytes.len() && matches!(bytes[next], b' ' | b'\t' | b'\n' | b'\r') {
                    next += 1;
                }
                if bytes.get(next) == Some(&close) {
                    out.push(b as char);
                    out.push(close as char);
                    at = next + 1;
                    continue;
                }
                out.push(b as char);
                frames.push(if b == b'{' {
                    expect_key = true;
                    Frame::Object {
                        keys: HashSet::new(),
                        key: Cow::Borrowed(""),
                    }
                } else {
                    expect_key = false;
                    Frame::Array { index: 0 }
                });
                newline(&mut out, &mut line, frames.len());
                at += 1;
            }
            b'}' | b']' => {
                frames.pop();
                newline(&mut out, &mut line, frames.len());
                out.push(b as char);
                at += 1;
            }
            b',' => {
                out.push(',');
                newline(&mut out, &mut line, frames.len());
                match frames.last_mut()? {
                    Frame::Array { index, .. } => {
                        *index += 1;
                        expect_key = false;
                    }
                    Frame::Object { .. } => expect_key = true,
                }
                at += 1;
            }
            b':' => {
                out.push_str(": ");
                at += 1;
            }
            b'"' => {
                let start = at;
                at += 1;
                while at < bytes.len() && bytes[at] != b'"' {
                    at += if bytes[at] == b'\\' { 2 } else { 1 };
                }
                at += 1;
                let token = text.get(start..at)?;
                if expect_key {
                    expect_key = false;
                    let key = decode_key(token)?;
                    let Some(Frame::Object { keys, key: current }) = frames.last_mut() else {
                        return None;
                    };
                    let repeated = !keys.insert(key.clone());
                    *current = key;
                    if repeated {
                        duplicates.push(Duplicate {
                            path: path_of(&frames),
                            line,
                        });
                    }
                }
                out.push_str(token);
            }
            _ => {
                let start = at;
                while at < bytes.len()
                    && !matches!(bytes[at], b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r')
                {
                    at += 1;
                }
                out.push_str(text.get(start..at)?);
            }
        }
    }
    Some(Pretty {
        text: out,
        duplicates,
    })
}

/// `bytes` pretty-printed when they are JSON, else `None`; for places that only want the text.
pub fn pretty_text(bytes: &[u8]) -> Option<String> {
    pretty(bytes).map(|p| p.text)
}

/// Appends `key` to a path: `a.b`, or `a["odd key"]` when it is not a plain name.
pub fn push_key(path: &mut String, key: &str) {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '$' || c == '@');
    if plain {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
    } else {
        path.push('[');
        path.push_str(&serde_json::to_string(key).unwrap_or_default());
        path.push(']');
    }
}

impl Node {
    /// The value on one line, its tokens unchanged and no whitespace between them.
    pub fn compact(&self) -> String {
        let mut out = String::new();
        self.write_compact(&mut out);
        out
    }

    fn write_compact(&self, out: &mut String) {
        match self {
            Node::Scalar(text) => out.push_str(text),
            Node::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_compact(out);
                }
                out.push(']');
            }
            Node::Object(members) => {
                out.push('{');
                for (i, member) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&member.raw_key);
                    out.push(':');
                    member.value.write_compact(out);
                }
                out.push('}');
            }
        }
    }

    /// The value indented two spaces a level, its tokens unchanged: the tests' oracle for the
    /// streaming [`pretty`].
    #[cfg(test)]
    pub fn pretty(&self) -> Pretty {
        let mut printer = Printer {
            out: String::new(),
            line: 0,
            path: String::new(),
            duplicates: Vec::new(),
        };
        printer.value(self, 0);
        Pretty {
            text: printer.out,
            duplicates: printer.duplicates,
        }
    }

    /// The members of an object with each key once (the last value of a repeated key, as most
    /// parsers read it), in the order keys first appear.
    pub fn unique_members(members: &[Member]) -> Vec<(&str, &Node)> {
        let mut out: Vec<(&str, &Node)> = Vec::with_capacity(members.len());
        for member in members {
            match out.iter_mut().find(|(key, _)| *key == member.key) {
                Some(slot) => slot.1 = &member.value,
                None => out.push((&member.key, &member.value)),
            }
        }
        out
    }
}

#[cfg(test)]
struct Printer {
    out: String,
    line: usize,
    path: String,
    duplicates: Vec<Duplicate>,
}

#[cfg(test)]
impl Printer {
    fn newline(&mut self, depth: usize) {
        self.out.push('\n');
        self.line += 1;
        for _ in 0..depth {
            self.out.push_str("  ");
        }
    }

    fn value(&mut self, node: &Node, depth: usize) {
        match node {
            Node::Scalar(text) => self.out.push_str(text),
            Node::Array(items) if items.is_empty() => self.out.push_str("[]"),
            Node::Object(members) if members.is_empty() => self.out.push_str("{}"),
            Node::Array(items) => {
                self.out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    self.newline(depth + 1);
                    let len = self.path.len();
                    self.path.push_str(&format!("[{i}]"));
                    self.value(item, depth + 1);
                    self.path.truncate(len);
                }
                self.newline(depth);
                self.out.push(']');
            }
            Node::Object(members) => {
                self.out.push('{');
                let mut seen = HashSet::with_capacity(members.len());
                for (i, member) in members.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    self.newline(depth + 1);
                    let len = self.path.len();
                    push_key(&mut self.path, &member.key);
                    if !seen.insert(member.key.as_str()) {
                        self.duplicates.push(Duplicate {
                            path: self.path.clone(),
                            line: self.line,
                        });
                    }
                    self.out.push_str(&member.raw_key);
                    self.out.push_str(": ");
                    self.value(&member.value, depth + 1);
                    self.path.truncate(len);
                }
                self.newline(depth);
                self.out.push('}');
            }
        }
    }
}

/// Reads tokens from text that serde_json has already accepted as one JSON document.
struct Parser<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Parser<'a> {
    fn skip_space(&mut self) {
        let bytes = self.text.as_bytes();
        while self.at < bytes.len() && matches!(bytes[self.at], b' ' | b'\t' | b'\n' | b'\r') {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.text.as_bytes().get(self.at).copied()
    }

    fn value(&mut self) -> Option<Node> {
        match self.peek()? {
            b'{' => {
                self.at += 1;
                let mut members = Vec::new();
                if self.peek()? == b'}' {
                    self.at += 1;
                    return Some(Node::Object(members));
                }
                loop {
                    self.peek()?;
                    let raw_key = self.string()?;
                    let key = decode_key(raw_key)?.into_owned();
                    if self.peek()? != b':' {
                        return None;
                    }
                    self.at += 1;
                    let value = self.value()?;
                    members.push(Member {
                        key,
                        raw_key: raw_key.to_string(),
                        value,
                    });
                    match self.peek()? {
                        b',' => self.at += 1,
                        b'}' => {
                            self.at += 1;
                            return Some(Node::Object(members));
                        }
                        _ => return None,
                    }
                }
            }
            b'[' => {
                self.at += 1;
                let mut items = Vec::new();
                if self.peek()? == b']' {
                    self.at += 1;
                    return Some(Node::Array(items));
                }
                loop {
                    items.push(self.value()?);
                    match self.peek()? {
                        b',' => self.at += 1,
                        b']' => {
                            self.at += 1;
                            return Some(Node::Array(items));
                        }
                        _ => return None,
                    }
                }
            }
            b'"' => self.string().map(|s| Node::Scalar(s.to_string())),
            _ => {
                let start = self.at;
                let bytes = self.text.as_bytes();
                while self.at < bytes.len()
                    && !matches!(
                        bytes[self.at],
                        b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r'
                    )
                {
                    self.at += 1;
                }
                (self.at > start).then(|| Node::Scalar(self.text[start..self.at].to_string()))
            }
        }
    }

    /// A string token, quotes included.
    fn string(&mut self) -> Option<&'a str> {
        let bytes = self.text.as_bytes();
        if bytes.get(self.at) != Some(&b'"') {
            return None;
        }
        let start = self.at;
        self.at += 1;
        while self.at < bytes.len() {
            match bytes[self.at] {
                b'\\' => self.at += 2,
                b'"' => {
                    self.at += 1;
                    return Some(&self.text[start..self.at]);
                }
                _ => self.at += 1,
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_text_and_the_layout_matches_serde() {
        let sent = br#"{"big":12345678901234567890123,"price":10.50,"n":1e3,"s":"a\"b","e":[],"o":{},"l":[true,null]}"#;
        let p = pretty(sent).unwrap();
        assert_eq!(
            p.text,
            "{\n  \"big\": 12345678901234567890123,\n  \"price\": 10.50,\n  \"n\": 1e3,\n  \"s\": \"a\\\"b\",\n  \"e\": [],\n  \"o\": {},\n  \"l\": [\n    true,\n    null\n  ]\n}"
        );
        assert!(p.duplicates.is_empty());
        let plain = br#"{"a":[1,{"b":"c"}],"d":"\u00e9"}"#;
        let value: serde_json::Value = serde_json::from_slice(plain).unwrap();
        assert_eq!(
            pretty_text(plain).unwrap(),
            serde_json::to_string_pretty(&value)
                .unwrap()
                .replace("é", "\\u00e9")
        );
    }

    #[test]
    fn repeated_keys_are_kept_and_reported_with_their_line() {
        let p = pretty(br#"{"a":1,"data":{"id":1,"id":2},"a":3}"#).unwrap();
        assert_eq!(p.text.matches("\"id\"").count(), 2);
        assert_eq!(
            p.duplicates,
            vec![
                Duplicate {
                    path: "data.id".into(),
                    line: 4
                },
                Duplicate {
                    path: "a".into(),
                    line: 6
                }
            ]
        );
        assert_eq!(p.text.lines().nth(4).unwrap().trim(), "\"id\": 2");
    }

    #[test]
    fn the_one_pass_printer_matches_the_tree() {
        for sent in [
            &br#" { "a" : [ 1 , { "b\u0041" : [ ] , "c" : { } } ] , "a":"x\"y" , "d":[[],[{}]] } "#
                [..],
            b"[]",
            b"\"just a string\"",
            b"-1.5e+3",
            br#"{"k":{"k":1,"k":2},"k":3}"#,
        ] {
            let tree = parse(sent).unwrap().pretty();
            assert_eq!(
                pretty(sent).unwrap(),
                tree,
                "{}",
                String::from_utf8_lossy(sent)
            );
        }
    }

    #[test]
    fn compact_keeps_tokens_and_invalid_json_is_refused() {
        let node = parse(b" { \"k\" : [ 1.0 , \"x y\" ] } ").unwrap();
        assert_eq!(node.compact(), r#"{"k":[1.0,"x y"]}"#);
        assert_eq!(parse(b"{\"a\":1,}"), None);
        assert_eq!(parse(b"12 13"), None);
        assert_eq!(parse(b""), None);
        assert_eq!(parse(b"-0.0e-5").unwrap().compact(), "-0.0e-5");
    }
}
