//! Reading request bodies and headers: the JSON payload (also inside a form's `payload` field,
//! as GitHub and Slack may send it), and one string at a JSON pointer without building the
//! whole document.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::signature::Headers;

/// The trimmed UTF-8 value of the first header `name`, if present and not empty.
pub(super) fn header_text<'h>(headers: &'h Headers, name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| std::str::from_utf8(v).ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The whole JSON payload, or why the body is not JSON.
pub(super) fn parse(headers: &Headers, body: &[u8]) -> Result<Value, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err("body is empty, expected JSON".to_owned());
    }
    serde_json::from_slice(&json_bytes(headers, body)).map_err(|e| format!("body is not JSON: {e}"))
}

/// The string at JSON pointer `pointer` in the payload, reading only what leads to it.
pub(super) fn string_at(headers: &Headers, body: &[u8], pointer: &str) -> Option<String> {
    let segments = pointer_segments(pointer)?;
    let bytes = json_bytes(headers, body);
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    let found = PointerSeed(&segments).deserialize(&mut de).ok()?;
    de.end().ok()?;
    found
}

/// The bytes holding JSON: the body, or its form-encoded `payload` field.
fn json_bytes<'b>(headers: &Headers, body: &'b [u8]) -> Cow<'b, [u8]> {
    let form = header_text(headers, "content-type").is_some_and(|t| {
        t.to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    });
    if form {
        if let Some(payload) = form_field(body, b"payload") {
            return Cow::Owned(payload);
        }
    }
    Cow::Borrowed(body)
}

/// The percent-decoded value of field `name` in an `application/x-www-form-urlencoded` body.
fn form_field(body: &[u8], name: &[u8]) -> Option<Vec<u8>> {
    body.split(|&b| b == b'&').find_map(|pair| {
        let mut parts = pair.splitn(2, |&b| b == b'=');
        let key = parts.next()?;
        (percent_decode(key) == name).then(|| percent_decode(parts.next().unwrap_or_default()))
    })
}

fn percent_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let escaped = (input[i] == b'%')
            .then(|| input.get(i + 1..i + 3))
            .flatten()
            .filter(|hex| hex.iter().all(u8::is_ascii_hexdigit))
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match (input[i], escaped) {
            (_, Some(decoded)) => {
                out.push(decoded);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (other, None) => {
                out.push(other);
                i += 1;
            }
        }
    }
    out
}

/// The unescaped segments of an RFC 6901 JSON pointer; `None` if it does not start with `/`.
fn pointer_segments(pointer: &str) -> Option<Vec<String>> {
    let rest = pointer.strip_prefix('/')?;
    Some(
        rest.split('/')
            .map(|s| s.replace("~1", "/").replace("~0", "~"))
            .collect(),
    )
}

/// Walks a JSON document along pointer segments, skipping everything else unbuilt.
struct PointerSeed<'p>(&'p [String]);

impl<'de> DeserializeSeed<'de> for PointerSeed<'_> {
    type Value = Option<String>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for PointerSeed<'_> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.0.is_empty().then(|| v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(self.0.is_empty().then_some(v))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        let Some((first, rest)) = self.0.split_first() else {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(None);
        };
        while let Some(matches) = map.next_key_seed(KeyIs(first))? {
            if matches && found.is_none() {
                found = map.next_value_seed(PointerSeed(rest))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let wanted = self
            .0
            .split_first()
            .and_then(|(first, rest)| Some((first.parse::<usize>().ok()?, rest)));
        let mut found = None;
        let mut index = 0usize;
        loop {
            match wanted {
                Some((at, rest)) if at == index => {
                    match seq.next_element_seed(PointerSeed(rest))? {
                        Some(value) => found = value,
                        None => break,
                    }
                }
                _ => {
                    if seq.next_element::<IgnoredAny>()?.is_none() {
                        break;
                    }
                }
            }
            index += 1;
        }
        Ok(found)
    }
}

/// Whether an object key equals the wanted segment, without allocating when it is unescaped.
struct KeyIs<'k>(&'k str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, key: &str) -> Result<bool, E> {
        Ok(key == self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn string_at_follows_nested_pointers_and_indexes() {
        let body = br#"{"a": [1, {"b": "x"}], "event": {"type": "app_mention", "n": null}, "type": "event_callback"}"#;
        assert_eq!(
            string_at(&[], body, "/type").as_deref(),
            Some("event_callback")
        );
        assert_eq!(
            string_at(&[], body, "/event/type").as_deref(),
            Some("app_mention")
        );
        assert_eq!(string_at(&[], body, "/a/1/b").as_deref(), Some("x"));
        assert_eq!(string_at(&[], body, "/a/0"), None);
        assert_eq!(string_at(&[], body, "/missing"), None);
        assert_eq!(string_at(&[], body, "type"), None);
    }

    #[test]
    fn string_at_rejects_broken_json_and_trailing_bytes() {
        assert_eq!(string_at(&[], br#"{"type": "x""#, "/type"), None);
        assert_eq!(string_at(&[], br#"{"type": "x"} {}"#, "/type"), None);
        assert_eq!(string_at(&[], b"", "/type"), None);
    }

    #[test]
    fn escaped_keys_and_values_are_read() {
        let body = br#"{"a\/b": {"t\u0079pe": "caf\u00e9"}}"#;
        assert_eq!(string_at(&[], body, "/a~1b/type").as_deref(), Some("café"));
    }

    #[test]
    fn form_payload_is_decoded() {
        let headers = h(&[("content-type", "application/x-www-form-urlencoded")]);
        let body = b"other=1&payload=%7B%22type%22%3A%22block_actions%22%2C%22x%22%3A%22a+b%22%7D";
        assert_eq!(
            string_at(&headers, body, "/type").as_deref(),
            Some("block_actions")
        );
        assert_eq!(parse(&headers, body).unwrap()["x"], "a b");
    }

    #[test]
    fn percent_decode_keeps_malformed_escapes() {
        assert_eq!(percent_decode(b"%41%4"), b"A%4");
        assert_eq!(percent_decode(b"%zz%"), b"%zz%");
        assert_eq!(percent_decode(b"%"), b"%");
    }

    #[test]
    fn header_text_is_case_insensitive_and_trimmed() {
        let headers = h(&[("X-GitHub-Event", " push ")]);
        assert_eq!(header_text(&headers, "x-github-event"), Some("push"));
        assert_eq!(
            header_text(&h(&[("x-github-event", " ")]), "x-github-event"),
            None
        );
    }
}
