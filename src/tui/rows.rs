//! The inspector's index of requests: one compact row per request, kept in memory.
//!
//! Memory is bounded by design: a row is a fixed 48-byte record (times as integers, statuses as
//! small integers, method, path and event type interned), plus the id's characters in one shared
//! arena — about 80 bytes a request, 8 MB for 100,000. Signature reasons, forward errors,
//! headers and bodies are never kept here: the detail loads them from the store for the one
//! request that is shown.

use std::collections::HashMap;
use std::sync::Arc;

use crate::engine::REFUSED_REASON;
use crate::signature::Status;
use crate::summary::RequestSummary;

/// One request in the list.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Row {
    /// Microseconds since the Unix epoch (UTC).
    pub received_us: i64,
    /// Body size in bytes.
    pub size: u64,
    /// Forward duration in milliseconds (when forwarded).
    pub fwd_ms: f32,
    /// Forward status code, 0 when there is none.
    pub fwd_status: u16,
    /// Interned method.
    method: u32,
    /// Interned path.
    path: u32,
    /// Interned event type, 0 when unknown.
    event: u32,
    /// 1 + index into the replay table, 0 when not a replay.
    replay_of: u32,
    /// End of this row's id in the id arena (it starts where the previous row's ends).
    id_end: u32,
    /// The signature verdict.
    pub sig: Status,
    flags: u8,
}

const FORWARDED: u8 = 1;
const FORWARD_ERROR: u8 = 2;
const SCHEMA_PROBLEMS: u8 = 4;
const PENDING: u8 = 8;
const REFUSED: u8 = 16;

impl Row {
    /// Whether the request was forwarded.
    pub(crate) fn forwarded(&self) -> bool {
        self.flags & FORWARDED != 0
    }

    /// Whether forwarding failed outright (no answer from the handler).
    pub(crate) fn forward_error(&self) -> bool {
        self.flags & FORWARD_ERROR != 0
    }

    /// A failed delivery: no answer, or an answer other than 2xx/3xx.
    pub(crate) fn forward_failed(&self) -> bool {
        self.refused()
            || self.forwarded() && (self.forward_error() || !(200..400).contains(&self.fwd_status))
    }

    /// Refused before its body was read (e.g. 413, too large): never reached the handler.
    pub(crate) fn refused(&self) -> bool {
        self.flags & REFUSED != 0
    }

    /// Arrived and not answered yet.
    pub fn pending(&self) -> bool {
        self.flags & PENDING != 0
    }

    /// The body or the answer departs from the event's schema.
    pub(crate) fn schema_problems(&self) -> bool {
        self.flags & SCHEMA_PROBLEMS != 0
    }

    /// A signature that was checked and did not verify.
    pub(crate) fn signature_failed(&self) -> bool {
        matches!(
            self.sig,
            Status::Invalid | Status::Expired | Status::Missing
        )
    }
}

/// Strings stored once.
#[derive(Default)]
struct Interner {
    ids: HashMap<Arc<str>, u32>,
    strings: Vec<Arc<str>>,
}

impl Interner {
    fn new() -> Self {
        let mut interner = Self::default();
        interner.intern("");
        interner
    }

    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.strings.len() as u32;
        let shared: Arc<str> = Arc::from(s);
        self.strings.push(shared.clone());
        self.ids.insert(shared, id);
        id
    }

    fn get(&self, id: u32) -> &str {
        &self.strings[id as usize]
    }
}

/// Counters shown in the header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Requests listed.
    pub total: usize,
    /// Signatures checked and not verified.
    pub failed_signatures: usize,
    /// Forwards that got no answer or a non-2xx/3xx answer.
    pub failed_forwards: usize,
    /// Replays.
    pub replays: usize,
    /// Requests (or their answers) that depart from the event's schema.
    pub schema_problems: usize,
    /// Requests arrived and not answered yet.
    pub pending: usize,
}

/// All listed requests, oldest first.
pub struct Rows {
    rows: Vec<Row>,
    ids: String,
    strings: Interner,
    replays: Vec<Box<str>>,
    counts: Counts,
}

impl Default for Rows {
    fn default() -> Self {
        Self::new()
    }
}

/// The fields of one row, as read from the store or an engine event.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NewRow<'a> {
    /// Request id.
    pub id: &'a str,
    /// Microseconds since the epoch.
    pub received_us: i64,
    /// Method.
    pub method: &'a str,
    /// Path and query.
    pub path: &'a str,
    /// Body size.
    pub size: u64,
    /// Event type.
    pub event_type: Option<&'a str>,
    /// Signature status.
    pub sig: Status,
    /// Forward status and duration, when forwarded.
    pub forward: Option<(Option<u16>, f64, bool)>,
    /// The original, for a replay.
    pub replay_of: Option<&'a str>,
    /// The schema check found problems.
    pub schema_problems: bool,
    /// Arrived and not answered yet.
    pub pending: bool,
    /// Refused with this status before its body was read.
    pub refused: Option<u16>,
}

/// Parses an RFC 3339 time into microseconds since the epoch (0 when unparseable).
pub(crate) fn parse_time_us(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_micros())
        .unwrap_or(0)
}

impl Rows {
    /// No rows.
    pub fn new() -> Self {
        Self {
            rows: Vec::new(),
            ids: String::new(),
            strings: Interner::new(),
            replays: Vec::new(),
            counts: Counts::default(),
        }
    }

    /// Room for `n` more rows.
    pub(crate) fn reserve(&mut self, n: usize) {
        self.rows.reserve(n);
        self.ids.reserve(n * 30);
    }

    /// Adds a row at the end.
    pub(crate) fn push(&mut self, new: NewRow<'_>) {
        self.ids.push_str(new.id);
        let (fwd_status, fwd_ms, flags) = match new.forward {
            Some((status, ms, error)) => (
                status.unwrap_or(0),
                ms as f32,
                FORWARDED | if error { FORWARD_ERROR } else { 0 },
            ),
            None => (0, 0.0, 0),
        };
        let flags = flags
            | if new.schema_problems {
                SCHEMA_PROBLEMS
            } else {
                0
            }
            | if new.pending { PENDING } else { 0 }
            | if new.refused.is_some() { REFUSED } else { 0 };
        let replay_of = match new.replay_of {
            Some(original) => {
                self.replays.push(original.into());
                self.replays.len() as u32
            }
            None => 0,
        };
        let row = Row {
            received_us: new.received_us,
            size: new.size,
            fwd_ms,
            fwd_status: new.refused.unwrap_or(fwd_status),
            method: self.strings.intern(new.method),
            path: self.strings.intern(new.path),
            event: new.event_type.map_or(0, |e| self.strings.intern(e)),
            replay_of,
            id_end: self.ids.len() as u32,
            sig: new.sig,
            flags,
        };
        self.counts.total += 1;
        self.counts.replays += usize::from(replay_of != 0);
        self.count(&row, 1);
        self.rows.push(row);
    }

    fn count(&mut self, row: &Row, sign: isize) {
        let add = |n: &mut usize, yes: bool| {
            if yes {
                *n = n.wrapping_add_signed(sign);
            }
        };
        add(&mut self.counts.failed_signatures, row.signature_failed());
        add(&mut self.counts.failed_forwards, row.forward_failed());
        add(&mut self.counts.schema_problems, row.schema_problems());
        add(&mut self.counts.pending, row.pending());
    }

    /// Adds a row from a summary.
    pub fn push_summary(&mut self, s: &RequestSummary) {
        self.push(Self::new_row(s));
    }

    /// Adds a pending row for a request that has arrived and is not answered yet.
    pub(crate) fn push_arrived(&mut self, s: &RequestSummary) {
        self.push(NewRow {
            pending: true,
            ..Self::new_row(s)
        });
    }

    /// Completes row `i` (pending until now) in place with the answered request's summary.
    pub(crate) fn complete(&mut self, i: usize, s: &RequestSummary) {
        let old = self.rows[i];
        self.count(&old, -1);
        let new = Self::new_row(s);
        let (fwd_status, fwd_ms, forwarded) = match new.forward {
            Some((status, ms, error)) => (
                status.unwrap_or(0),
                ms as f32,
                FORWARDED | if error { FORWARD_ERROR } else { 0 },
            ),
            None => (0, 0.0, 0),
        };
        let row = &mut self.rows[i];
        row.fwd_status = fwd_status;
        row.fwd_ms = fwd_ms;
        row.sig = new.sig;
        row.size = new.size;
        row.flags = forwarded
            | if new.schema_problems {
                SCHEMA_PROBLEMS
            } else {
                0
            };
        if let Some(event) = new.event_type {
            row.event = self.strings.intern(event);
        }
        let row = self.rows[i];
        self.count(&row, 1);
    }

    fn new_row(s: &RequestSummary) -> NewRow<'_> {
        NewRow {
            id: &s.id,
            received_us: parse_time_us(&s.received_at),
            method: &s.method,
            path: &s.path,
            size: s.size,
            event_type: s.event_type.as_deref(),
            sig: s.signature.status,
            forward: s
                .forward
                .as_ref()
                .map(|f| (f.status, f.duration_ms, f.error.is_some())),
            replay_of: s.replay_of.as_deref(),
            schema_problems: s
                .schema
                .as_ref()
                .is_some_and(|r| !r.problems.is_empty() || !r.answer_problems.is_empty()),
            pending: false,
            refused: s
                .signature
                .reason
                .as_deref()
                .filter(|r| s.forward.is_none() && r.starts_with(REFUSED_REASON))
                .and_then(|r| r[REFUSED_REASON.len()..].split_whitespace().next())
                .and_then(|status| status.parse().ok()),
        }
    }

    /// How many rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The header counters.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &Row {
        &self.rows[i]
    }

    /// All rows.
    pub(crate) fn all(&self) -> &[Row] {
        &self.rows
    }

    /// The id of row `i`.
    pub fn id(&self, i: usize) -> &str {
        let start = if i == 0 {
            0
        } else {
            self.rows[i - 1].id_end as usize
        };
        &self.ids[start..self.rows[i].id_end as usize]
    }

    /// The method of row `i`.
    pub(crate) fn method(&self, i: usize) -> &str {
        self.strings.get(self.rows[i].method)
    }

    /// The path of row `i`.
    pub(crate) fn path(&self, i: usize) -> &str {
        self.strings.get(self.rows[i].path)
    }

    /// The event type of row `i`.
    pub(crate) fn event_type(&self, i: usize) -> Option<&str> {
        match self.rows[i].event {
            0 => None,
            e => Some(self.strings.get(e)),
        }
    }

    /// The request row `i` replays.
    pub fn replay_of(&self, i: usize) -> Option<&str> {
        match self.rows[i].replay_of {
            0 => None,
            r => Some(&self.replays[r as usize - 1]),
        }
    }

    /// The row with id `id` (newest first: replays and diffs mostly look at recent rows).
    #[cfg(test)]
    pub(crate) fn find(&self, id: &str) -> Option<usize> {
        (0..self.rows.len()).rev().find(|&i| self.id(i) == id)
    }

    /// The row with id `id` among the last `within` rows.
    pub(crate) fn find_recent(&self, id: &str, within: usize) -> Option<usize> {
        let len = self.rows.len();
        (len.saturating_sub(within)..len)
            .rev()
            .find(|&i| self.id(i) == id)
    }

    /// Whether rows `a` and `b` are "the same kind" of request: the same event type, or the same
    /// path when neither has one.
    pub(crate) fn same_kind(&self, a: usize, b: usize) -> bool {
        match (self.rows[a].event, self.rows[b].event) {
            (0, 0) => self.rows[a].path == self.rows[b].path,
            (x, y) => x == y,
        }
    }

    /// Approximate heap bytes held (for the benchmark).
    pub fn heap_bytes(&self) -> usize {
        self.rows.capacity() * std::mem::size_of::<Row>()
            + self.ids.capacity()
            + self
                .strings
                .strings
                .iter()
                .map(|s| s.len() + 16)
                .sum::<usize>()
                * 2
            + self.replays.iter().map(|r| r.len() + 16).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_row<'a>(id: &'a str, path: &'a str) -> NewRow<'a> {
        NewRow {
            id,
            received_us: 1,
            method: "POST",
            path,
            size: 3,
            event_type: None,
            sig: Status::Invalid,
            forward: Some((Some(502), 1.5, true)),
            replay_of: None,
            schema_problems: false,
            pending: false,
            refused: None,
        }
    }

    #[test]
    fn rows_are_compact_and_give_their_fields_back() {
        assert!(std::mem::size_of::<Row>() <= 48);
        let mut rows = Rows::new();
        rows.push(new_row("req_a", "/x"));
        rows.push(NewRow {
            replay_of: Some("req_a"),
            event_type: Some("e.t"),
            forward: None,
            sig: Status::Verified,
            ..new_row("req_bb", "/x")
        });
        assert_eq!(rows.id(0), "req_a");
        assert_eq!(rows.id(1), "req_bb");
        assert_eq!(rows.path(1), "/x");
        assert_eq!(rows.event_type(0), None);
        assert_eq!(rows.event_type(1), Some("e.t"));
        assert_eq!(rows.replay_of(1), Some("req_a"));
        assert_eq!(rows.find("req_bb"), Some(1));
        assert_eq!(
            rows.counts(),
            Counts {
                total: 2,
                failed_signatures: 1,
                failed_forwards: 1,
                replays: 1,
                schema_problems: 0,
                pending: 0,
            }
        );
        assert!(!rows.same_kind(0, 1));
    }
}
