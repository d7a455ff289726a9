//! Header access, MAC computation, encodings and phrasing shared by the schemes.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};

use super::{Algorithm, Encoding, Headers, SignError};

/// Every value of header `name` (matched case-insensitively), in arrival order.
pub(crate) fn values<'h, 'n>(
    headers: &'h Headers,
    name: &'n str,
) -> impl Iterator<Item = &'h [u8]> + use<'h, 'n> {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

pub(crate) fn has(headers: &Headers, name: &str) -> bool {
    values(headers, name).next().is_some()
}

/// The one trimmed text value of a header that must not disagree with itself when repeated.
pub(crate) fn single_text<'a>(
    headers: &'a Headers,
    name: &str,
    display: &str,
) -> Result<Option<&'a str>, String> {
    let mut found: Option<&str> = None;
    let mut count = 0usize;
    for raw in values(headers, name) {
        count += 1;
        let text = std::str::from_utf8(raw)
            .map_err(|_| format!("{display} is not valid UTF-8"))?
            .trim();
        match found {
            Some(prev) if prev != text => {
                return Err(format!(
                    "{display} appears {count} times with different values"
                ))
            }
            _ => found = Some(text),
        }
    }
    Ok(found)
}

/// Every signature token in a header: all repeats, each split on commas and whitespace.
/// Returns the tokens and how many header values were not UTF-8.
pub(crate) fn tokens<'a>(headers: &'a Headers, name: &str) -> (Vec<&'a str>, usize) {
    let mut out = Vec::new();
    let mut not_utf8 = 0;
    for raw in values(headers, name) {
        match std::str::from_utf8(raw) {
            Ok(text) => out.extend(
                text.split(|c: char| c == ',' || c.is_ascii_whitespace())
                    .filter(|t| !t.is_empty()),
            ),
            Err(_) => not_utf8 += 1,
        }
    }
    (out, not_utf8)
}

fn keyed<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> Option<M> {
    let mut mac = <M as Mac>::new_from_slice(key).ok()?;
    for part in parts {
        mac.update(part);
    }
    Some(mac)
}

/// The MAC of the concatenated `parts`.
pub(crate) fn mac(algorithm: Algorithm, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    fn tag<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        keyed::<M>(key, parts)
            .map(|m| m.finalize().into_bytes().to_vec())
            .unwrap_or_default()
    }
    match algorithm {
        Algorithm::Sha1 => tag::<Hmac<sha1::Sha1>>(key, parts),
        Algorithm::Sha256 => tag::<Hmac<sha2::Sha256>>(key, parts),
        Algorithm::Sha512 => tag::<Hmac<sha2::Sha512>>(key, parts),
    }
}

/// Whether `signature` is the MAC of the concatenated `parts`, compared in constant time.
pub(crate) fn mac_matches(
    algorithm: Algorithm,
    key: &[u8],
    parts: &[&[u8]],
    signature: &[u8],
) -> bool {
    fn check<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]], sig: &[u8]) -> bool {
        keyed::<M>(key, parts).is_some_and(|m| m.verify_slice(sig).is_ok())
    }
    match algorithm {
        Algorithm::Sha1 => check::<Hmac<sha1::Sha1>>(key, parts, signature),
        Algorithm::Sha256 => check::<Hmac<sha2::Sha256>>(key, parts, signature),
        Algorithm::Sha512 => check::<Hmac<sha2::Sha512>>(key, parts, signature),
    }
}

pub(crate) fn algorithm_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::Sha1 => "HMAC-SHA1",
        Algorithm::Sha256 => "HMAC-SHA256",
        Algorithm::Sha512 => "HMAC-SHA512",
    }
}

pub(crate) fn encoding_name(encoding: Encoding) -> &'static str {
    match encoding {
        Encoding::Hex => "hex",
        Encoding::Base64 => "base64",
    }
}

/// Lenient base64: standard or URL-safe alphabet, padded or not.
pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
}

pub(crate) fn decode(encoding: Encoding, text: &str) -> Option<Vec<u8>> {
    match encoding {
        Encoding::Hex => hex::decode(text).ok(),
        Encoding::Base64 => base64_decode(text),
    }
}

pub(crate) fn encode(encoding: Encoding, bytes: &[u8]) -> String {
    match encoding {
        Encoding::Hex => hex::encode(bytes),
        Encoding::Base64 => STANDARD.encode(bytes),
    }
}

/// A Unix timestamp in seconds: ASCII digits only, fitting in an `i64`.
pub(crate) fn parse_timestamp(text: &str, display: &str) -> Result<i64, String> {
    if text.is_empty() {
        return Err(format!(
            "{display} is empty; a Unix timestamp in seconds is expected"
        ));
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{display} is not a Unix timestamp in seconds: {}",
            quote(text)
        ));
    }
    text.parse::<i64>()
        .map_err(|_| format!("{display} is out of range: {}", quote(text)))
}

/// `Some(reason)` when `timestamp` is further than `tolerance` seconds from `now`, either way.
pub(crate) fn out_of_tolerance(timestamp: i64, now: i64, tolerance: u64) -> Option<String> {
    let age = i128::from(now) - i128::from(timestamp);
    let tolerance_wide = i128::from(tolerance);
    if age > tolerance_wide {
        Some(format!(
            "timestamp is {age} s old against a {tolerance} s tolerance"
        ))
    } else if -age > tolerance_wide {
        let in_millis = (i128::from(now) - i128::from(timestamp / 1000)).abs() <= tolerance_wide;
        Some(format!(
            "timestamp is {} s in the future against a {tolerance} s tolerance{}",
            -age,
            if in_millis {
                " (it looks like milliseconds; a Unix timestamp in seconds is expected)"
            } else {
                ""
            }
        ))
    } else {
        None
    }
}

/// A header value shown in a reason: quoted, control characters replaced, cut at 40 chars.
pub(crate) fn quote(text: &str) -> String {
    const MAX: usize = 40;
    let mut shown: String = text
        .chars()
        .take(MAX)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().nth(MAX).is_some() {
        shown.push('…');
    }
    format!("\"{shown}\"")
}

/// "a", "a and b", "a, b and c".
pub(crate) fn join_and(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

pub(crate) fn count(n: usize, singular: &str, plural: &str) -> String {
    if n == 1 {
        format!("1 {singular}")
    } else {
        format!("{n} {plural}")
    }
}

/// [`count`], or `None` when there are none: one of the things [`found_instead`] lists.
pub(crate) fn counted(n: usize, singular: &str, plural: &str) -> Option<String> {
    (n > 0).then(|| count(n, singular, plural))
}

/// The parenthesis after "X has no v1= signature" saying what the header held instead:
/// ` (found "v0", 1 item without =)`; when it held nothing of note, ` ({nothing})` ("it is
/// empty"), or no parenthesis at all when `nothing` is empty.
pub(crate) fn found_instead(found: &[String], nothing: &str) -> String {
    match (found.is_empty(), nothing.is_empty()) {
        (false, _) => format!(" (found {})", found.join(", ")),
        (true, false) => format!(" ({nothing})"),
        (true, true) => String::new(),
    }
}

/// The reason for a [`super::Status::Missing`] verdict.
pub(crate) fn missing_reason(profile: &str, missing: &[&str], expected: &[&str]) -> String {
    let noun = if missing.len() == 1 {
        "header"
    } else {
        "headers"
    };
    format!(
        "missing {noun} {}; the profile {profile} expects {}",
        join_and(missing),
        join_and(expected)
    )
}

/// Checks a header name against RFC 9110's token grammar and lower-cases it.
pub(crate) fn header_name(name: &str) -> Result<String, SignError> {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if valid {
        Ok(name.to_ascii_lowercase())
    } else {
        Err(SignError::InvalidHeaderName(name.to_owned()))
    }
}

/// Checks that a value can be sent in a header: visible ASCII and inner spaces or tabs.
pub(crate) fn header_value(header: &str, value: String) -> Result<String, SignError> {
    let valid = value
        .bytes()
        .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
        && value.trim() == value;
    if valid {
        Ok(value)
    } else {
        Err(SignError::InvalidHeaderValue(header.to_owned()))
    }
}

pub(crate) fn nonnegative(timestamp: i64) -> Result<i64, SignError> {
    if timestamp < 0 {
        Err(SignError::NegativeTimestamp(timestamp))
    } else {
        Ok(timestamp)
    }
}
