//! Bodies for display: gzip/deflate decoded, JSON re-indented from its own tokens and coloured,
//! form fields as a table, text shown inert, anything else as a hex dump. Every payload-derived
//! string goes through [`inert`].

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::doc::{json_runs, DocLine};
use super::theme::{self, Theme};
use crate::inert;
use crate::json_text;
use crate::model::find_header;
use crate::output::human_size;

/// The most bytes shown as text, pretty JSON or a form.
pub(crate) const MAX_TEXT: usize = MAX_DECODED;
/// The most bytes shown as a hex dump.
pub(crate) const MAX_HEX: usize = 64 * 1024;

pub use crate::content::{decode, Decoded, MAX_DECODED};

/// What a body turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Nothing.
    Empty,
    /// Valid JSON.
    Json,
    /// `application/x-www-form-urlencoded` fields.
    Form,
    /// UTF-8 text.
    Text,
    /// Anything else.
    Binary,
}

/// A body ready to draw.
pub(crate) struct BodyView {
    /// What it is (the note names it too).
    #[cfg(test)]
    pub kind: Kind,
    /// A one-line description: size, kind, decoding, truncation, repeated keys.
    pub note: String,
    /// The lines.
    pub lines: Vec<DocLine>,
}

/// Makes text safe and tab-free for one line of the screen.
pub(crate) fn clean(text: &str) -> String {
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return text.to_string();
    }
    let text = inert::line(text);
    if text.contains('\t') {
        text.replace('\t', "    ")
    } else {
        text.into_owned()
    }
}

/// Whether `headers` declare a form body.
fn is_form(headers: &[(String, Vec<u8>)]) -> bool {
    find_header(headers, "content-type").is_some_and(|v| {
        String::from_utf8_lossy(v)
            .trim()
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    })
}

/// The display of a body sent with `headers`.
pub(crate) fn view(t: &Theme, headers: &[(String, Vec<u8>)], body: &[u8]) -> BodyView {
    let decoded = decode(headers, body);
    let bytes: &[u8] = &decoded.bytes;
    let mut notes = vec![human_size(body.len() as u64)];
    if let Some(note) = &decoded.note {
        notes.push(note.clone());
    }
    let text = std::str::from_utf8(bytes)
        .ok()
        .filter(|t| !t.contains('\0'));
    let (kind, lines) = if bytes.is_empty() {
        (
            Kind::Empty,
            vec![DocLine::plain("(empty body)".into(), theme::DIM)],
        )
    } else if let Some((lines, duplicates)) = json_lines(t, bytes) {
        if !duplicates.is_empty() {
            notes.push(format!(
                "⚠ repeated keys: {}",
                clean(&duplicates.join(", "))
            ));
        }
        (Kind::Json, lines)
    } else if let Some(text) = text.filter(|_| is_form(headers) && bytes.len() <= MAX_TEXT) {
        (Kind::Form, form_lines(t, text))
    } else if let Some(text) = text {
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
        (
            Kind::Binary,
            hex_lines(&bytes[..bytes.len().min(MAX_HEX)])
                .into_iter()
                .map(DocLine::from)
                .collect(),
        )
    };
    let kind_name = match kind {
        Kind::Empty => "empty".to_string(),
        Kind::Json => "JSON".to_string(),
        Kind::Form => format!("form, {} fields", lines.len()),
        Kind::Text => "text".to_string(),
        Kind::Binary => "binary, hex view".to_string(),
    };
    notes.insert(1, kind_name);
    BodyView {
        #[cfg(test)]
        kind,
        note: notes.join(", "),
        lines,
    }
}

/// Plain lines, made inert.
pub(crate) fn text_lines(text: &str) -> Vec<DocLine> {
    text.split('\n')
        .map(|line| DocLine::plain(clean(line.strip_suffix('\r').unwrap_or(line)), Style::new()))
        .collect()
}

/// One `name = value` line a field, decoded, names aligned.
fn form_lines(t: &Theme, text: &str) -> Vec<DocLine> {
    let fields: Vec<(String, String)> = form_urlencoded::parse(text.trim_end().as_bytes())
        .map(|(k, v)| (clean(&k), clean(&v)))
        .collect();
    let width = fields
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0)
        .min(40);
    fields
        .into_iter()
        .map(|(name, value)| {
            let pad = width.saturating_sub(name.chars().count());
            DocLine::from(Line::from(vec![
                Span::styled(name, t.json_key),
                Span::styled(format!("{} = ", " ".repeat(pad)), theme::DIM),
                Span::styled(value, t.json_string),
            ]))
        })
        .collect()
}

/// Pretty, coloured JSON from the body's own tokens, with the paths of repeated keys (their
/// lines are flagged); `None` when `bytes` is not JSON or too large.
pub(crate) fn json_lines(t: &Theme, bytes: &[u8]) -> Option<(Vec<DocLine>, Vec<String>)> {
    if bytes.len() > MAX_TEXT {
        return None;
    }
    let pretty = json_text::pretty(bytes)?;
    let mut lines: Vec<DocLine> = pretty
        .text
        .split('\n')
        .map(|line| DocLine::json(clean(line)))
        .collect();
    for duplicate in &pretty.duplicates {
        if let Some(line) = lines.get_mut(duplicate.line) {
            let flagged = format!("{}  ⚠ repeated key", line.text());
            *line = DocLine::from(Line::from(
                json_runs(t, line.text())
                    .into_iter()
                    .scan(0, |at, (end, style)| {
                        let span = Span::styled(line.text()[*at..end].to_string(), style);
                        *at = end;
                        Some(span)
                    })
                    .chain([Span::styled(
                        flagged[line.text().len()..].to_string(),
                        t.warn,
                    )])
                    .collect::<Vec<_>>(),
            ));
        }
    }
    Some((
        lines,
        pretty.duplicates.into_iter().map(|d| d.path).collect(),
    ))
}

fn dim() -> Style {
    theme::DIM
}

/// `00000000  7b 22 61 22 ...  |{"a"...|`, 16 bytes a line.
pub(crate) fn hex_lines(bytes: &[u8]) -> Vec<Line<'static>> {
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

    fn text(lines: &[DocLine]) -> String {
        lines
            .iter()
            .map(DocLine::text)
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn json_is_re_indented_from_its_tokens_and_coloured() {
        let t = Theme::default();
        let v = view(
            &t,
            &[],
            br#"{"a":{"b":[1,true,null,"x"]},"big":12345678901234567890123,"p":10.50,"e":1e3}"#,
        );
        assert_eq!(v.kind, Kind::Json);
        let shown = text(&v.lines);
        assert!(shown.contains("  \"a\": {"));
        assert!(
            shown.contains("\"big\": 12345678901234567890123,"),
            "{shown}"
        );
        assert!(shown.contains("\"p\": 10.50,"), "{shown}");
        assert!(shown.contains("\"e\": 1e3"), "{shown}");
        let runs = json_runs(&t, v.lines[1].text());
        assert_eq!(runs[1], ("  \"a\"".len(), t.json_key));
        assert!(v.note.contains("JSON"));
    }

    #[test]
    fn repeated_keys_are_shown_and_flagged() {
        let v = view(&Theme::default(), &[], br#"{"id":1,"id":2}"#);
        let shown = text(&v.lines);
        assert!(shown.contains("\"id\": 1,"), "{shown}");
        assert!(shown.contains("\"id\": 2  ⚠ repeated key"), "{shown}");
        assert!(v.note.contains("repeated keys: id"), "{}", v.note);
    }

    #[test]
    fn forms_are_a_table_of_decoded_fields() {
        let headers = vec![(
            "Content-Type".to_string(),
            b"application/x-www-form-urlencoded".to_vec(),
        )];
        let v = view(
            &Theme::default(),
            &headers,
            b"token=abc&text=hello+world%21&channel_name=general",
        );
        assert_eq!(v.kind, Kind::Form);
        assert_eq!(
            text(&v.lines),
            "token        = abc\ntext         = hello world!\nchannel_name = general"
        );
        assert!(v.note.contains("form, 3 fields"), "{}", v.note);
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
