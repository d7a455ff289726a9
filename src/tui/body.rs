//! Bodies for display: gzip/deflate decoded, JSON pretty-printed and coloured, text shown inert,
//! anything else as a hex dump. Every payload-derived string goes through [`inert`].

use ratatui::style::Style;

use super::theme::{self, Theme};
use ratatui::text::{Line, Span};

use crate::inert::inert;
use crate::output::human_size;

/// The most bytes shown as text or pretty JSON.
pub const MAX_TEXT: usize = 2 * 1024 * 1024;
/// The most bytes shown as a hex dump.
pub const MAX_HEX: usize = 64 * 1024;

pub use crate::content::{decode, Decoded, MAX_DECODED};

/// What a body turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Nothing.
    Empty,
    /// Valid JSON.
    Json,
    /// UTF-8 text.
    Text,
    /// Anything else.
    Binary,
}

/// A body ready to draw.
pub struct BodyView {
    /// What it is.
    pub kind: Kind,
    /// A one-line description: size, kind, decoding, truncation.
    pub note: String,
    /// The lines.
    pub lines: Vec<Line<'static>>,
}

/// Makes text safe and tab-free for one line of the screen.
pub fn clean(text: &str) -> String {
    let text = inert(text, false);
    if text.contains('\t') {
        text.replace('\t', "    ")
    } else {
        text.into_owned()
    }
}

/// The display of a body sent with `headers`.
pub fn view(t: &Theme, headers: &[(String, Vec<u8>)], body: &[u8]) -> BodyView {
    let decoded = decode(headers, body);
    let bytes: &[u8] = &decoded.bytes;
    let mut notes = vec![human_size(body.len() as u64)];
    if let Some(note) = &decoded.note {
        notes.push(note.clone());
    }
    let (kind, lines) = if bytes.is_empty() {
        (Kind::Empty, vec![Line::styled("(empty body)", dim())])
    } else if let Some(lines) = json_lines(t, bytes) {
        (Kind::Json, lines)
    } else if let Some(text) = std::str::from_utf8(bytes)
        .ok()
        .filter(|t| !t.contains('\0'))
    {
        let shown = if text.len() > MAX_TEXT {
            notes.push(format!("first {} shown", human_size(MAX_TEXT as u64)));
            let mut end = MAX_TEXT;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            &text[..end]
        } else {
            text
        };
        (Kind::Text, text_lines(shown))
    } else {
        if bytes.len() > MAX_HEX {
            notes.push(format!("first {} shown", human_size(MAX_HEX as u64)));
        }
        (Kind::Binary, hex_lines(&bytes[..bytes.len().min(MAX_HEX)]))
    };
    let kind_name = match kind {
        Kind::Empty => "empty",
        Kind::Json => "JSON",
        Kind::Text => "text",
        Kind::Binary => "binary, hex view",
    };
    notes.insert(1, kind_name.to_string());
    BodyView {
        kind,
        note: notes.join(", "),
        lines,
    }
}

/// Plain lines, made inert.
pub fn text_lines(text: &str) -> Vec<Line<'static>> {
    text.split('\n')
        .map(|line| Line::raw(clean(line.strip_suffix('\r').unwrap_or(line))))
        .collect()
}

fn dim() -> Style {
    theme::DIM
}

/// Pretty, coloured JSON; `None` when `bytes` is not JSON or too large to pretty-print.
pub fn json_lines(t: &Theme, bytes: &[u8]) -> Option<Vec<Line<'static>>> {
    if bytes.len() > MAX_TEXT {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let pretty = serde_json::to_string_pretty(&value).ok()?;
    Some(
        pretty
            .lines()
            .map(|line| highlight_json_line(t, line))
            .collect(),
    )
}

/// Colours one line of pretty-printed JSON.
pub fn highlight_json_line(t: &Theme, line: &str) -> Line<'static> {
    let mut spans = Vec::new();
    let bytes = line.as_bytes();
    let mut i = 0;
    let mut plain_start = 0;
    let flush = |spans: &mut Vec<Span<'static>>, from: usize, to: usize| {
        if to > from {
            spans.push(Span::styled(clean(&line[from..to]), Style::new()));
        }
    };
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                flush(&mut spans, plain_start, i);
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i = (i + 1).min(bytes.len());
                let is_key = line[i..].trim_start().starts_with(':');
                spans.push(Span::styled(
                    clean(&line[start..i]),
                    if is_key { t.json_key } else { t.json_string },
                ));
                plain_start = i;
            }
            b'-' | b'0'..=b'9' => {
                flush(&mut spans, plain_start, i);
                let start = i;
                while i < bytes.len()
                    && matches!(bytes[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                spans.push(Span::styled(line[start..i].to_string(), t.json_number));
                plain_start = i;
            }
            b't' | b'f' | b'n' => {
                let word = ["true", "false", "null"]
                    .into_iter()
                    .find(|w| line[i..].starts_with(w));
                match word {
                    Some(word) => {
                        flush(&mut spans, plain_start, i);
                        spans.push(Span::styled(word.to_string(), t.json_literal));
                        i += word.len();
                        plain_start = i;
                    }
                    None => i += 1,
                }
            }
            _ => i += 1,
        }
    }
    flush(&mut spans, plain_start, bytes.len());
    Line::from(spans)
}

/// `00000000  7b 22 61 22 ...  |{"a"...|`, 16 bytes a line.
pub fn hex_lines(bytes: &[u8]) -> Vec<Line<'static>> {
    bytes
        .chunks(16)
        .enumerate()
        .map(|(n, chunk)| {
            let mut hex = String::with_capacity(50);
            for (i, b) in chunk.iter().enumerate() {
                if i == 8 {
                    hex.push(' ');
                }
                hex.push_str(&format!("{b:02x} "));
            }
            let ascii: String = chunk
                .iter()
                .map(|&b| {
                    if b.is_ascii_graphic() || b == b' ' {
                        b as char
                    } else {
                        '.'
                    }
                })
                .collect();
            Line::from(vec![
                Span::styled(format!("{:08x}  ", n * 16), dim()),
                Span::raw(format!("{hex:<50}")),
                Span::styled(format!("|{ascii}|"), dim()),
            ])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn text(lines: &[Line<'_>]) -> String {
        lines
            .iter()
            .map(|l| {
                l.spans
                    .iter()
                    .map(|s| s.content.as_ref())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn json_is_pretty_and_coloured() {
        let v = view(&Theme::default(), &[], br#"{"a":{"b":[1,true,null,"x"]}}"#);
        assert_eq!(v.kind, Kind::Json);
        assert!(text(&v.lines).contains("  \"a\": {"));
        let key = &v.lines[1].spans[1];
        assert_eq!(key.content, "\"a\"");
        assert_eq!(key.style, Theme::default().json_key);
        assert!(v.note.contains("JSON"));
    }

    #[test]
    fn gzip_is_decoded() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(br#"{"zipped":true}"#).unwrap();
        let gz = enc.finish().unwrap();
        let headers = vec![("content-encoding".to_string(), b"gzip".to_vec())];
        let v = view(&Theme::default(), &headers, &gz);
        assert_eq!(v.kind, Kind::Json);
        assert!(v.note.contains("gzip"), "{}", v.note);
        assert!(text(&v.lines).contains("zipped"));
        let broken = view(&Theme::default(), &headers, b"not gzip");
        assert!(broken.note.contains("cannot be decoded"), "{}", broken.note);
    }

    #[test]
    fn binary_is_a_hex_dump_and_text_is_inert() {
        let v = view(&Theme::default(), &[], &[0xff, 0x00, b'A']);
        assert_eq!(v.kind, Kind::Binary);
        assert_eq!(
            text(&v.lines),
            format!("00000000  {:<50}|..A|", "ff 00 41 ")
        );
        let t = view(
            &Theme::default(),
            &[],
            b"\x1b]0;pwned\x07 \x1b[2J\tx\r\ny\xc2\x9b",
        );
        assert_eq!(t.kind, Kind::Text);
        let shown = text(&t.lines);
        assert_eq!(shown, "\\x1b]0;pwned\\x07 \\x1b[2J    x\ny\\x9b");
        let j = view(
            &Theme::default(),
            &[],
            "{\"k\u{9b}\":\"\\u001b[2J\u{9b}\"}".as_bytes(),
        );
        let shown = text(&j.lines);
        assert!(
            !shown.contains('\u{1b}') && !shown.contains('\u{9b}'),
            "{shown}"
        );
    }
}
