//! Fresh payloads for `trigger`: a sample with new ids and current timestamps.

use chrono::{DateTime, FixedOffset, SecondsFormat, TimeDelta, Utc};
use rand::Rng;
use serde_json::Value;

use super::profile::{EventSpec, EventTypeSource, Profile};

/// Fresh provider-format values for `trigger`: `event`'s sample with every id it holds replaced
/// by a new one of the same format (`whe_`/`rep_`/`stu_` + 32 hex, `evt_...`, UUIDs, DICOM UIDs
/// as `2.25.<uuid as decimal>`, numeric ids of the same width), each old id replaced by the same
/// new one everywhere (also inside URLs), and its timestamps moved so the event's own time is
/// now. Deterministic for a given `rng` state apart from the clock; see [`fresh_sample_at`].
pub(crate) fn fresh_sample(profile: &Profile, event: &EventSpec, rng: &mut impl Rng) -> Value {
    fresh_sample_at(profile, event, rng, Utc::now())
}

/// [`fresh_sample`] with the clock given, so the result depends only on the inputs.
///
/// The event's own time is its latest top-level timestamp (else its latest timestamp anywhere);
/// every timestamp is shifted by the same amount, so intervals such as an expiry stay intact.
pub(crate) fn fresh_sample_at(
    profile: &Profile,
    event: &EventSpec,
    rng: &mut impl Rng,
    now: DateTime<Utc>,
) -> Value {
    let mut value = event.sample.clone();
    let shift = reference_time(&value).map(|reference| now - reference);
    let mut fresh = Freshener {
        rng,
        shift,
        strings: Vec::new(),
        numbers: Vec::new(),
    };
    fresh.walk(&mut value, "");
    fresh.rewrite_mentions(&mut value);
    if let EventTypeSource::Field(pointer) = &profile.event_type {
        if let Some(slot @ Value::String(_)) = value.pointer_mut(pointer) {
            *slot = Value::String(event.name.clone());
        }
    }
    value
}

struct Freshener<'r, R> {
    rng: &'r mut R,
    shift: Option<TimeDelta>,
    /// Old id to new id, in the order met.
    strings: Vec<(String, String)>,
    numbers: Vec<(u64, u64)>,
}

impl<R: Rng> Freshener<'_, R> {
    fn walk(&mut self, value: &mut Value, key: &str) {
        match value {
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    self.walk(v, k);
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.walk(item, key);
                }
            }
            Value::String(text) => {
                if let Some(new) = self.shifted(key, &Value::String(text.clone())) {
                    *value = new;
                } else if let Some(new) = self.fresh_string(key, text) {
                    *text = new;
                }
            }
            Value::Number(number) => {
                let id = number.as_u64().filter(|n| *n >= 1000 && id_key(key));
                if let Some(new) = self.shifted(key, value) {
                    *value = new;
                } else if let Some(old) = id {
                    *value = Value::from(self.fresh_number(old));
                }
            }
            Value::Null | Value::Bool(_) => {}
        }
    }

    fn shifted(&self, key: &str, value: &Value) -> Option<Value> {
        let shift = self.shift?;
        match stamp(key, value)? {
            Stamp::Rfc3339(at, format) => {
                let moved = at.checked_add_signed(shift)?;
                let use_z = value.as_str().is_some_and(|s| s.ends_with(['Z', 'z']));
                Some(Value::String(moved.to_rfc3339_opts(format, use_z)))
            }
            Stamp::Unix(secs) => {
                let moved = DateTime::from_timestamp(secs, 0)?.checked_add_signed(shift)?;
                Some(Value::from(moved.timestamp()))
            }
            Stamp::SlackTs(secs, fraction) => {
                let moved = DateTime::from_timestamp(secs, 0)?.checked_add_signed(shift)?;
                Some(Value::String(format!("{}.{fraction}", moved.timestamp())))
            }
        }
    }

    fn fresh_string(&mut self, key: &str, old: &str) -> Option<String> {
        if let Some((_, new)) = self.strings.iter().find(|(o, _)| o == old) {
            return Some(new.clone());
        }
        let new = match classify(key, old)? {
            IdKind::Uuid => uuid(self.rng, old.chars().any(|c| c.is_ascii_uppercase())),
            IdKind::DicomUid => format!("2.25.{}", uuid_bits(self.rng)),
            IdKind::Token => self.regenerate(old),
        };
        self.strings.push((old.to_owned(), new.clone()));
        Some(new)
    }

    fn fresh_number(&mut self, old: u64) -> u64 {
        if let Some((_, new)) = self.numbers.iter().find(|(o, _)| *o == old) {
            return *new;
        }
        let digits = old.to_string().len();
        if digits >= 20 {
            return old;
        }
        let first: &[u8] = if digits == 19 {
            b"12345678"
        } else {
            b"123456789"
        };
        let new = loop {
            let mut text = String::from(pick(self.rng, first));
            for _ in 1..digits {
                text.push(pick(self.rng, b"0123456789"));
            }
            match text.parse::<u64>() {
                Ok(candidate) if candidate != old => break candidate,
                _ => continue,
            }
        };
        self.numbers.push((old, new));
        new
    }

    /// A new token of the same shape. Its type marker is kept: a `prefix_` (`evt_`, `cs_test_`,
    /// `R_`) or, without one, one or two leading letters before a digit (Slack's `U061F7AUR`,
    /// `Ev0LAN670R`). Hex stays hex, digits stay digits, letters keep their case.
    fn regenerate(&mut self, old: &str) -> String {
        let (prefix, rest) = old.split_at(marker_len(old));
        let all_digits = rest.bytes().all(|b| b.is_ascii_digit());
        let hex = !all_digits && rest.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        for _ in 0..16 {
            let mut out = String::with_capacity(old.len());
            out.push_str(prefix);
            for (i, c) in rest.chars().enumerate() {
                let next = if hex && c.is_ascii_alphanumeric() {
                    pick(self.rng, b"0123456789abcdef")
                } else if c.is_ascii_digit() {
                    if all_digits && i == 0 && c != '0' {
                        pick(self.rng, b"123456789")
                    } else {
                        pick(self.rng, b"0123456789")
                    }
                } else if c.is_ascii_lowercase() {
                    pick(self.rng, b"abcdefghijklmnopqrstuvwxyz")
                } else if c.is_ascii_uppercase() {
                    pick(self.rng, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")
                } else {
                    c
                };
                out.push(next);
            }
            if out != old {
                return out;
            }
        }
        format!("{old}0")
    }

    /// Replace old ids mentioned inside other strings (URLs, `gid://shopify/Order/<id>`, text).
    fn rewrite_mentions(&self, value: &mut Value) {
        let mut pairs: Vec<(String, String)> = self
            .strings
            .iter()
            .filter(|(old, _)| old.len() >= 6)
            .cloned()
            .chain(
                self.numbers
                    .iter()
                    .filter(|(old, _)| *old >= 100_000)
                    .map(|(old, new)| (old.to_string(), new.to_string())),
            )
            .collect();
        if pairs.is_empty() {
            return;
        }
        pairs.sort_by_key(|(old, _)| std::cmp::Reverse(old.len()));
        let is_new = |s: &str| self.strings.iter().any(|(_, new)| new == s);
        rewrite(value, &pairs, &is_new);
    }
}

fn rewrite(value: &mut Value, pairs: &[(String, String)], is_new: &dyn Fn(&str) -> bool) {
    match value {
        Value::String(text) if !is_new(text) => {
            for (old, new) in pairs {
                if text.contains(old.as_str()) {
                    *text = text.replace(old.as_str(), new);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite(v, pairs, is_new)),
        Value::Object(map) => map.values_mut().for_each(|v| rewrite(v, pairs, is_new)),
        _ => {}
    }
}

/// How many leading characters of an id name its type and are kept.
fn marker_len(id: &str) -> usize {
    let before_underscore = id.rfind('_').filter(|&i| {
        let head = &id[..i];
        head.starts_with(|c: char| c.is_ascii_alphabetic())
            && head.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    });
    if let Some(i) = before_underscore {
        return i + 1;
    }
    let letters = id.bytes().take_while(u8::is_ascii_alphabetic).count();
    let digit_follows = id.as_bytes().get(letters).is_some_and(u8::is_ascii_digit);
    if (1..=2).contains(&letters) && digit_follows {
        letters
    } else {
        0
    }
}

fn pick(rng: &mut impl Rng, alphabet: &[u8]) -> char {
    char::from(alphabet[rng.random_range(0..alphabet.len())])
}

/// A random (version 4) UUID's 128 bits.
fn uuid_bits(rng: &mut impl Rng) -> u128 {
    const VERSION_MASK: u128 = 0xF << 76;
    const VERSION_4: u128 = 0x4 << 76;
    const VARIANT_MASK: u128 = 0x3 << 62;
    const VARIANT_RFC_4122: u128 = 0x2 << 62;
    let bits: u128 = rng.random();
    (bits & !VERSION_MASK & !VARIANT_MASK) | VERSION_4 | VARIANT_RFC_4122
}

/// A random UUID version 4, in lower case unless `upper`.
pub(crate) fn uuid(rng: &mut impl Rng, upper: bool) -> String {
    let hex = format!("{:032x}", uuid_bits(rng));
    let text = format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    );
    if upper {
        text.to_ascii_uppercase()
    } else {
        text
    }
}

enum IdKind {
    Uuid,
    DicomUid,
    Token,
}

/// Whether a string value is an id, and of which kind. Ids are recognised by their shape, and
/// for short or ambiguous shapes by a key that names an id (`id`, `uid`, `*_id`, `*Id`).
fn classify(key: &str, value: &str) -> Option<IdKind> {
    let alnum = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric());
    let has_digit = value.bytes().any(|b| b.is_ascii_digit());
    let has_letter = value.bytes().any(|b| b.is_ascii_alphabetic());
    if is_uuid(value) {
        return Some(IdKind::Uuid);
    }
    if key.to_ascii_lowercase().ends_with("uid")
        && is_dicom_uid(value)
        && value.matches('.').count() >= 2
    {
        return Some(IdKind::DicomUid);
    }
    let word = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'=');
    if id_key(key) && word && has_digit {
        return Some(IdKind::Token);
    }
    if let Some((prefix, rest)) = value.split_once('_') {
        let prefixed = (1..=10).contains(&prefix.len())
            && prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && prefix.starts_with(|c: char| c.is_ascii_lowercase())
            && rest.len() >= 8
            && alnum(rest)
            && rest.bytes().any(|b| b.is_ascii_digit());
        if prefixed {
            return Some(IdKind::Token);
        }
    }
    if value.len() >= 20 && alnum(value) && has_digit && has_letter {
        return Some(IdKind::Token);
    }
    let letters = value.bytes().take_while(u8::is_ascii_uppercase).count();
    let caps_id = (8..=12).contains(&value.len())
        && (1..=2).contains(&letters)
        && value.as_bytes()[letters].is_ascii_digit()
        && value
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    caps_id.then_some(IdKind::Token)
}

fn id_key(key: &str) -> bool {
    matches!(key, "id" | "uid" | "uuid" | "ID")
        || key.ends_with("_id")
        || key.ends_with("_uid")
        || key.ends_with("Id")
        || key.ends_with("Uid")
        || key.ends_with("ID")
}

fn is_uuid(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// `^[0-2](\.(0|[1-9][0-9]*))*$`, at most 64 characters.
fn is_dicom_uid(value: &str) -> bool {
    value.len() <= 64
        && value.split('.').enumerate().all(|(i, part)| {
            !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_digit())
                && (part == "0" || !part.starts_with('0'))
                && (i > 0 || matches!(part, "0" | "1" | "2"))
        })
}

enum Stamp {
    Rfc3339(DateTime<FixedOffset>, SecondsFormat),
    Unix(i64),
    /// Slack's `"1719936000.000200"`: seconds and the fractional digits, kept as they are.
    SlackTs(i64, String),
}

/// Seconds since 1970 that a timestamp field plausibly holds (2001 to 2100).
const UNIX_RANGE: std::ops::RangeInclusive<i64> = 1_000_000_000..=4_102_444_800;

fn stamp(key: &str, value: &Value) -> Option<Stamp> {
    match value {
        Value::String(text) if text.len() >= 20 && text.as_bytes()[4] == b'-' => {
            let at = DateTime::parse_from_rfc3339(text).ok()?;
            let digits = text.split_once('.').map_or(0, |(_, rest)| {
                rest.bytes().take_while(u8::is_ascii_digit).count()
            });
            let format = match digits {
                0 => SecondsFormat::Secs,
                1..=3 => SecondsFormat::Millis,
                4..=6 => SecondsFormat::Micros,
                _ => SecondsFormat::Nanos,
            };
            Some(Stamp::Rfc3339(at, format))
        }
        Value::String(text) if key.ends_with("ts") => {
            let (secs, fraction) = text.split_once('.')?;
            let valid = secs.len() == 10
                && secs.bytes().all(|b| b.is_ascii_digit())
                && !fraction.is_empty()
                && fraction.bytes().all(|b| b.is_ascii_digit());
            valid.then(|| Stamp::SlackTs(secs.parse().unwrap_or_default(), fraction.to_owned()))
        }
        Value::Number(n) if time_key(key) => n
            .as_i64()
            .filter(|secs| UNIX_RANGE.contains(secs))
            .map(Stamp::Unix),
        _ => None,
    }
}

fn time_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "created", "updated", "time", "date", "stamp", "period", "expires", "since", "limited",
        "_at",
    ]
    .iter()
    .any(|word| key.contains(word))
        || key == "ts"
        || key.ends_with("_ts")
}

fn instant(stamp: &Stamp) -> Option<DateTime<Utc>> {
    match stamp {
        Stamp::Rfc3339(at, _) => Some(at.with_timezone(&Utc)),
        Stamp::Unix(secs) | Stamp::SlackTs(secs, _) => DateTime::from_timestamp(*secs, 0),
    }
}

/// The event's own time: its latest top-level timestamp, else its latest timestamp anywhere.
fn reference_time(value: &Value) -> Option<DateTime<Utc>> {
    let top = value.as_object().and_then(|map| {
        map.iter()
            .filter_map(|(k, v)| stamp(k, v).as_ref().and_then(instant))
            .max()
    });
    top.or_else(|| latest(value, ""))
}

fn latest(value: &Value, key: &str) -> Option<DateTime<Utc>> {
    match value {
        Value::Object(map) => map.iter().filter_map(|(k, v)| latest(v, k)).max(),
        Value::Array(items) => items.iter().filter_map(|v| latest(v, key)).max(),
        other => stamp(key, other).as_ref().and_then(instant),
    }
}
