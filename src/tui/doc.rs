//! What a detail tab shows: logical lines kept as text and styled only when a row of them is
//! drawn, laid out in screen rows (wrapped at word boundaries where possible, or one row a line
//! with sideways scrolling), and searched. Scrolling counts screen rows, so the last row of a
//! multi-megabyte one-line body can be reached.

use std::ops::Range;

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthChar as _;

use super::theme::Theme;

/// How a line is coloured.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Look {
    /// Runs of one style: each ends at the byte offset given.
    Runs(Vec<(usize, Style)>),
    /// One line of pretty JSON, coloured by token when drawn.
    Json,
}

/// One logical line: inert text (no control characters, no tabs) and how to colour it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocLine {
    text: String,
    look: Look,
}

impl DocLine {
    /// A line of one style.
    pub(crate) fn plain(text: String, style: Style) -> DocLine {
        let end = text.len();
        DocLine {
            text,
            look: Look::Runs(vec![(end, style)]),
        }
    }

    /// A line of pretty JSON.
    pub(crate) fn json(text: String) -> DocLine {
        DocLine {
            text,
            look: Look::Json,
        }
    }

    /// Its text.
    pub fn text(&self) -> &str {
        &self.text
    }

    fn runs(&self, theme: &Theme) -> Vec<(usize, Style)> {
        match &self.look {
            Look::Runs(runs) => runs.clone(),
            Look::Json => json_runs(theme, &self.text),
        }
    }
}

impl From<Line<'static>> for DocLine {
    fn from(line: Line<'static>) -> DocLine {
        let mut text = String::new();
        let mut runs = Vec::with_capacity(line.spans.len());
        for span in &line.spans {
            text.push_str(&span.content);
            runs.push((text.len(), line.style.patch(span.style)));
        }
        DocLine {
            text,
            look: Look::Runs(runs),
        }
    }
}

/// Where each screen row starts: (logical line, byte offset).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct RowMap {
    width: u16,
    wrap: bool,
    starts: Vec<(u32, u32)>,
}

/// A search in a document: the matches, and the one last jumped to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Search {
    /// What was searched for.
    pub query: String,
    /// (line, byte range), in document order.
    pub matches: Vec<(usize, Range<usize>)>,
    /// Index into `matches`.
    pub current: usize,
}

/// A scrollable document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Doc {
    lines: Vec<DocLine>,
    rows: RowMap,
}

impl From<Vec<Line<'static>>> for Doc {
    fn from(lines: Vec<Line<'static>>) -> Doc {
        let mut doc = Doc::default();
        doc.extend(lines.into_iter().map(DocLine::from));
        doc
    }
}

/// The byte offsets where the rows of `text` start when wrapped at `width` columns: after the
/// last space that fits, or mid-word when a word is wider than a row.
pub(crate) fn wrap_starts(text: &str, width: usize) -> Vec<usize> {
    let width = width.max(1);
    let mut starts = vec![0];
    let mut used = 0;
    let mut row_start = 0;
    let mut last_break: Option<(usize, usize)> = None;
    for (i, c) in text.char_indices() {
        let w = c.width().unwrap_or(0);
        if used + w > width && i > row_start {
            match last_break.filter(|&(at, _)| at > row_start) {
                Some((at, used_before)) => {
                    starts.push(at);
                    row_start = at;
                    used -= used_before;
                }
                None => {
                    starts.push(i);
                    row_start = i;
                    used = 0;
                }
            }
            last_break = None;
        }
        used += w;
        if c == ' ' {
            last_break = Some((i + 1, used));
        }
    }
    starts
}

impl Doc {
    /// Adds a line.
    pub(crate) fn push(&mut self, line: impl Into<DocLine>) {
        self.lines.push(line.into());
        self.rows = RowMap::default();
    }

    /// Adds lines.
    pub(crate) fn extend(&mut self, lines: impl IntoIterator<Item = DocLine>) {
        self.lines.extend(lines);
        self.rows = RowMap::default();
    }

    /// The logical lines.
    pub fn lines(&self) -> &[DocLine] {
        &self.lines
    }

    /// Lays the document out for `width` columns, wrapped or not (kept until either changes).
    pub(crate) fn lay_out(&mut self, width: u16, wrap: bool) {
        if self.rows.width == width && self.rows.wrap == wrap && !self.rows.starts.is_empty() {
            return;
        }
        self.rows = Self::row_map(&self.lines, width, wrap);
    }

    fn row_map(lines: &[DocLine], width: u16, wrap: bool) -> RowMap {
        let mut starts = Vec::with_capacity(lines.len());
        for (n, line) in lines.iter().enumerate() {
            if wrap && line.text.len() > width as usize {
                starts.extend(
                    wrap_starts(&line.text, width as usize)
                        .into_iter()
                        .map(|at| (n as u32, at as u32)),
                );
            } else {
                starts.push((n as u32, 0));
            }
        }
        RowMap {
            width,
            wrap,
            starts,
        }
    }

    /// Screen rows at the last [`Doc::lay_out`].
    pub fn row_count(&self) -> usize {
        self.rows.starts.len()
    }

    /// The first row of logical line `line`.
    pub(crate) fn row_of(&self, line: usize, byte: usize) -> usize {
        let key = (line as u32, byte as u32);
        self.rows
            .starts
            .partition_point(|&s| s <= key)
            .saturating_sub(1)
    }

    /// Rows `first..first + height` as drawn `width` columns wide (`wrap` as laid out),
    /// scrolled `hscroll` columns sideways when not wrapped, with `search` matches marked.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn render(
        &self,
        theme: &Theme,
        first: usize,
        height: usize,
        width: u16,
        wrap: bool,
        hscroll: usize,
        search: Option<&Search>,
    ) -> Vec<Line<'static>> {
        let computed;
        let rows = if self.rows.width == width && self.rows.wrap == wrap {
            &self.rows
        } else {
            computed = Self::row_map(&self.lines, width, wrap);
            &computed
        };
        let mut out = Vec::with_capacity(height);
        let mut cached: Option<(usize, Vec<(usize, Style)>)> = None;
        for r in first..(first + height).min(rows.starts.len()) {
            let (line, start) = rows.starts[r];
            let (line, start) = (line as usize, start as usize);
            let text = &self.lines[line].text;
            let end = match rows.starts.get(r + 1) {
                Some(&(next, at)) if next as usize == line => at as usize,
                _ => text.len(),
            };
            if cached.as_ref().map(|c| c.0) != Some(line) {
                let mut runs = self.lines[line].runs(theme);
                if let Some(search) = search {
                    runs = mark_matches(runs, search, line, theme);
                }
                cached = Some((line, runs));
            }
            let runs = &cached.as_ref().expect("just set").1;
            let range = if wrap {
                start..end
            } else {
                columns(text, hscroll, width as usize)
            };
            out.push(slice(text, runs, range));
        }
        out
    }

    /// Finds `query` (ASCII case ignored) in every line.
    pub(crate) fn search(&self, query: &str) -> Search {
        let needle = query.to_ascii_lowercase();
        let mut matches = Vec::new();
        if !needle.is_empty() {
            for (n, line) in self.lines.iter().enumerate() {
                let hay = line.text.to_ascii_lowercase();
                let mut from = 0;
                while let Some(at) = hay[from..].find(&needle) {
                    matches.push((n, from + at..from + at + needle.len()));
                    from += at + needle.len();
                }
            }
        }
        Search {
            query: query.to_string(),
            matches,
            current: 0,
        }
    }

    /// The widest line, in columns (for sideways scrolling).
    pub(crate) fn max_width(&self) -> usize {
        self.lines
            .iter()
            .map(|l| unicode_width::UnicodeWidthStr::width(l.text.as_str()))
            .max()
            .unwrap_or(0)
    }
}

/// The runs of a line with the search matches in it restyled.
fn mark_matches(
    runs: Vec<(usize, Style)>,
    search: &Search,
    line: usize,
    theme: &Theme,
) -> Vec<(usize, Style)> {
    let first = search.matches.partition_point(|(l, _)| *l < line);
    let hits: Vec<(usize, &Range<usize>)> = search.matches[first..]
        .iter()
        .enumerate()
        .take_while(|(_, (l, _))| *l == line)
        .map(|(i, (_, range))| (first + i, range))
        .collect();
    if hits.is_empty() {
        return runs;
    }
    let mut out = Vec::new();
    let mut at = 0;
    let mut run = 0;
    let mut cuts: Vec<usize> = runs.iter().map(|r| r.0).collect();
    for (_, range) in &hits {
        cuts.push(range.start);
        cuts.push(range.end);
    }
    cuts.sort_unstable();
    cuts.dedup();
    for cut in cuts {
        if cut <= at {
            continue;
        }
        while run < runs.len() && runs[run].0 <= at {
            run += 1;
        }
        let base = runs.get(run).map_or(Style::new(), |r| r.1);
        let style = match hits.iter().find(|(_, r)| r.start <= at && at < r.end) {
            Some((i, _)) if *i == search.current => base.patch(theme.search_current),
            Some(_) => base.patch(theme.search_match),
            None => base,
        };
        out.push((cut, style));
        at = cut;
    }
    out
}

/// The byte range of `text` that shows columns `skip..skip + width`.
fn columns(text: &str, skip: usize, width: usize) -> Range<usize> {
    let mut col = 0;
    let mut start = text.len();
    for (i, c) in text.char_indices() {
        if col >= skip {
            start = i;
            break;
        }
        col += c.width().unwrap_or(0);
    }
    let mut end = text.len();
    let mut used = 0;
    for (i, c) in text[start..].char_indices() {
        used += c.width().unwrap_or(0);
        if used > width {
            end = start + i;
            break;
        }
    }
    start..end
}

/// The spans of `text[range]`, styled by `runs`.
fn slice(text: &str, runs: &[(usize, Style)], range: Range<usize>) -> Line<'static> {
    let mut spans = Vec::new();
    let mut at = range.start;
    for &(end, style) in runs {
        if end <= at {
            continue;
        }
        let to = end.min(range.end);
        if to > at {
            spans.push(Span::styled(text[at..to].to_string(), style));
            at = to;
        }
        if at >= range.end {
            break;
        }
    }
    if at < range.end {
        spans.push(Span::raw(text[at..range.end].to_string()));
    }
    Line::from(spans)
}

/// The colour runs of one line of pretty JSON: each run ends at the byte offset given.
pub(crate) fn json_runs(t: &Theme, line: &str) -> Vec<(usize, Style)> {
    let mut runs = Vec::new();
    let bytes = line.as_bytes();
    let mut i = 0;
    let push = |runs: &mut Vec<(usize, Style)>, end: usize, style: Style| {
        if end > 0 {
            runs.push((end, style));
        }
    };
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                push(&mut runs, i, Style::new());
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i = (i + 1).min(bytes.len());
                let is_key = line[i..].trim_start().starts_with(':');
                push(
                    &mut runs,
                    i,
                    if is_key { t.json_key } else { t.json_string },
                );
            }
            b'-' | b'0'..=b'9' => {
                push(&mut runs, i, Style::new());
                while i < bytes.len()
                    && matches!(bytes[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                push(&mut runs, i, t.json_number);
            }
            b't' | b'f' | b'n' => match ["true", "false", "null"]
                .into_iter()
                .find(|w| line[i..].starts_with(w))
            {
                Some(word) => {
                    push(&mut runs, i, Style::new());
                    i += word.len();
                    push(&mut runs, i, t.json_literal);
                }
                None => i += 1,
            },
            _ => i += 1,
        }
    }
    runs.push((bytes.len(), Style::new()));
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lines: &[Line<'_>]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn wraps_at_spaces_and_breaks_long_words() {
        assert_eq!(wrap_starts("aaa bbb ccc", 8), [0, 8]);
        assert_eq!(wrap_starts("abcdefghij", 4), [0, 4, 8]);
        assert_eq!(wrap_starts("ab cdefghij", 4), [0, 3, 7]);
        assert_eq!(wrap_starts("", 4), [0]);
    }

    #[test]
    fn rows_reach_the_end_of_a_long_line_and_scroll_sideways() {
        let long = "word ".repeat(2_000) + "LAST";
        let mut doc = Doc::default();
        doc.push(DocLine::plain("head".into(), Style::new()));
        doc.push(DocLine::plain(long.clone(), Style::new()));
        doc.lay_out(20, true);
        let rows = doc.row_count();
        assert_eq!(rows, 1 + long.len().div_ceil(20));
        let t = Theme::default();
        let last = doc.render(&t, rows - 1, 5, 20, true, 0, None);
        assert_eq!(text(&last), ["LAST"]);
        doc.lay_out(20, false);
        assert_eq!(doc.row_count(), 2);
        let side = doc.render(&t, 1, 1, 20, false, 3, None);
        assert_eq!(text(&side), ["d word word word wor"]);
    }

    #[test]
    fn search_finds_and_marks_every_match() {
        let mut doc = Doc::default();
        doc.push(DocLine::plain("an Apple and an apple".into(), Style::new()));
        doc.push(DocLine::json("\"apple\": 1".into()));
        let search = doc.search("APPLE");
        assert_eq!(search.matches.len(), 3);
        assert_eq!(search.matches[2], (1, 1..6));
        let t = Theme::default();
        doc.lay_out(80, true);
        let row = &doc.render(&t, 0, 1, 80, true, 0, Some(&search))[0];
        let marked: Vec<&str> = row
            .spans
            .iter()
            .filter(|s| s.style == t.search_current || s.style == t.search_match)
            .map(|s| s.content.as_ref())
            .collect();
        assert_eq!(marked, ["Apple", "apple"]);
        assert_eq!(row.to_string(), "an Apple and an apple");
    }
}
