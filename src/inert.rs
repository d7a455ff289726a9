//! Makes untrusted text safe to print: a payload is data, never terminal control.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Replaces control characters (ESC, BEL, C1 controls, DEL...) with visible escapes such as `\x1b`,
/// keeping tabs and, when `keep_newlines`, line breaks.
pub fn inert(text: &str, keep_newlines: bool) -> Cow<'_, str> {
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

/// Bytes as text safe to print: invalid UTF-8 is replaced, controls escaped.
pub fn inert_bytes(bytes: &[u8], keep_newlines: bool) -> String {
    inert(&String::from_utf8_lossy(bytes), keep_newlines).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_are_shown_not_run() {
        assert_eq!(
            inert("\x1b]0;pwned\x07title", false),
            "\\x1b]0;pwned\\x07title"
        );
        assert_eq!(inert("a\nb", false), "a\\x0ab");
        assert_eq!(inert("a\nb\tc", true), "a\nb\tc");
        assert_eq!(inert("\u{9b}31m", true), "\\x9b31m");
    }

    #[test]
    fn clean_text_is_borrowed() {
        assert!(matches!(inert("plain", false), Cow::Borrowed(_)));
    }
}
