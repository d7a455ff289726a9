//! Makes untrusted text safe to print: a payload is data, never terminal control.

use std::borrow::Cow;
use std::fmt::Write as _;

/// One line of untrusted text, safe to print: every control character (ESC, BEL, C1 controls,
/// DEL, line breaks...) shown as a visible escape such as `\x1b`; tabs kept.
pub fn line(text: &str) -> Cow<'_, str> {
    escape(text, false)
}

/// Untrusted text of several lines, safe to print: as [`line`], but line breaks kept.
pub fn text(text: &str) -> Cow<'_, str> {
    escape(text, true)
}

/// Bytes as one line safe to print: invalid UTF-8 replaced, controls escaped.
pub fn bytes_line(bytes: &[u8]) -> String {
    line(&String::from_utf8_lossy(bytes)).into_owned()
}

/// Bytes as text safe to print: invalid UTF-8 replaced, controls escaped, line breaks kept.
pub fn bytes_text(bytes: &[u8]) -> String {
    text(&String::from_utf8_lossy(bytes)).into_owned()
}

fn escape(text: &str, keep_newlines: bool) -> Cow<'_, str> {
    let needs_escape =
        |c: char| c.is_control() && c != '\t' && !(keep_newlines && (c == '\n' || c == '\r'));
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c) {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_are_shown_not_run() {
        assert_eq!(line("\x1b]0;pwned\x07title"), "\\x1b]0;pwned\\x07title");
        assert_eq!(line("a\nb"), "a\\x0ab");
        assert_eq!(text("a\nb\tc"), "a\nb\tc");
        assert_eq!(text("\u{9b}31m"), "\\x9b31m");
    }

    #[test]
    fn clean_text_is_borrowed() {
        assert!(matches!(line("plain"), Cow::Borrowed(_)));
    }
}
