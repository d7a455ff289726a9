//! JSON as it was sent: a tree of the original tokens, so that pretty-printing re-indents the
//! text instead of re-serializing values. `12345678901234567890123`, `10.50` and `1e3` keep
//! their text, and a key given twice is kept twice (and reported).

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
    /// The value.
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

/// `bytes` pretty-printed from their own tokens, or `None` when they are not JSON.
pub fn pretty(bytes: &[u8]) -> Option<Pretty> {
    parse(bytes).map(|node| node.pretty())
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

    /// The value indented two spaces a level, its tokens unchanged.
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

struct Printer {
    out: String,
    line: usize,
    path: String,
    duplicates: Vec<Duplicate>,
}

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
                    let key = serde_json::from_str::<String>(raw_key).ok()?;
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
    fn compact_keeps_tokens_and_invalid_json_is_refused() {
        let node = parse(b" { \"k\" : [ 1.0 , \"x y\" ] } ").unwrap();
        assert_eq!(node.compact(), r#"{"k":[1.0,"x y"]}"#);
        assert_eq!(parse(b"{\"a\":1,}"), None);
        assert_eq!(parse(b"12 13"), None);
        assert_eq!(parse(b""), None);
        assert_eq!(parse(b"-0.0e-5").unwrap().compact(), "-0.0e-5");
    }
}
