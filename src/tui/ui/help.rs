//! The overlays: `?` lists every key, `!` the status messages so far. Both fit the screen and
//! scroll (j k, PgUp PgDn) when they are longer; any other key closes them.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

use crate::tui::app::{App, Overlay};
use crate::tui::detail::one_line;
use crate::tui::theme::{self, Theme};

/// Every key, grouped.
pub(crate) const KEYS: &[(&str, &str)] = &[
    ("↑ ↓  j k", "move the selection (detail: scroll)"),
    ("PgUp PgDn", "a page up or down"),
    ("Ctrl-D Ctrl-U", "half a page down or up"),
    (
        "Home End g G",
        "first or last request (detail: top, last line)",
    ),
    ("n  p", "next or previous request"),
    ("Enter  Esc", "open the detail · back to the list"),
    (
        "h  l",
        "detail: keys to the list above · back to the detail",
    ),
    ("Tab ⇧Tab 1-4", "Request · Response · Signature · Diff"),
    ("/", "list: filter · detail: find in the tab shown"),
    ("n  N", "detail, after /: next or previous match"),
    (
        "w",
        "detail: wrap long lines or not (then H L scroll sideways)",
    ),
    ("f", "follow: keep the newest request selected"),
    ("m", "mark the selected request (again: unmark)"),
    (
        "d  D  o",
        "diff with the marked · the previous of its type · its original",
    ),
    (
        "r  R",
        "replay to the forward target · re-signed, fresh timestamp",
    ),
    ("e", "edit the request in $EDITOR, then replay it"),
    ("s", "save as a fixture file"),
    ("y", "copy: curl command, body, id or HAR entry (OSC 52)"),
    ("!", "the status messages so far"),
    ("M", "mouse capture off/on (off: the terminal selects text)"),
    ("Ctrl-Z", "suspend (fg resumes)"),
    (
        "q  Ctrl-C",
        "quit (listen: asks, then waits for requests in flight)",
    ),
];

/// Filter terms, for the help.
const FILTER: &[(&str, &str)] = &[
    (
        "word",
        "path, event, method, id, signature or forward status",
    ),
    ("path: event:", "method: id: one field"),
    ("sig:", "verified invalid expired missing unchecked failed"),
    (
        "status:",
        "502 5xx failed ok none · replay · schema · !term negates",
    ),
];

fn box_area(area: Rect, lines: usize) -> Rect {
    let width = area.width.min(80);
    let height = (lines as u16 + 2).min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

/// Draws `lines` in a box, from line `scroll` on (clamped), with a title and a footer saying
/// how to scroll when they do not fit.
fn draw_box(
    frame: &mut Frame<'_>,
    area: Rect,
    title: &str,
    lines: Vec<Line<'static>>,
    scroll: usize,
) {
    let rect = box_area(area, lines.len());
    let inner = rect.height.saturating_sub(2) as usize;
    let first = scroll.min(lines.len().saturating_sub(inner));
    let more = lines.len() > inner;
    let footer = if more {
        format!(
            " {}-{} of {} · j k PgUp PgDn scroll · any other key closes ",
            first + 1,
            (first + inner).min(lines.len()),
            lines.len()
        )
    } else {
        " any key closes ".to_string()
    };
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).scroll((first as u16, 0)).block(
            Block::default()
                .borders(Borders::ALL)
                .title(title.to_string())
                .title_bottom(Line::styled(footer, theme::DIM)),
        ),
        rect,
    );
}

fn help_lines(t: &Theme) -> Vec<Line<'static>> {
    let row = |keys: &str, what: &str| {
        Line::from(vec![
            Span::styled(format!(" {keys:<14}"), t.key),
            Span::raw(what.to_string()),
        ])
    };
    let mut lines: Vec<Line<'static>> = KEYS.iter().map(|(k, w)| row(k, w)).collect();
    lines.push(Line::styled(" Filter terms", theme::STRONG));
    lines.extend(FILTER.iter().map(|(k, w)| row(k, w)));
    lines
}

fn message_lines(app: &App) -> Vec<Line<'static>> {
    if app.log.is_empty() {
        return vec![Line::styled(" no messages yet", theme::DIM)];
    }
    app.log
        .iter()
        .map(|(at, status)| {
            let time = chrono::DateTime::from_timestamp_micros(*at)
                .map(|t| {
                    t.with_timezone(&app.utc_offset)
                        .format("%H:%M:%S")
                        .to_string()
                })
                .unwrap_or_default();
            Line::from(vec![
                Span::styled(format!(" {time} "), theme::DIM),
                Span::styled(
                    one_line(&status.text),
                    if status.error {
                        app.theme.status_error
                    } else {
                        ratatui::style::Style::new()
                    },
                ),
            ])
        })
        .collect()
}

/// Draws the overlay that is open, if any.
pub(crate) fn draw(frame: &mut Frame<'_>, area: Rect, app: &App) {
    match app.overlay {
        Some(Overlay::Help) => draw_box(
            frame,
            area,
            " webhook-dev inspector — keys ",
            help_lines(&app.theme),
            app.overlay_scroll,
        ),
        Some(Overlay::Messages) => {
            // Long messages wrap to the box's width so nothing is cut off.
            let width = area.width.min(80).saturating_sub(2) as usize;
            let lines: Vec<Line<'static>> = message_lines(app)
                .into_iter()
                .flat_map(|line| {
                    let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
                    let style = line.spans.last().map(|s| s.style).unwrap_or_default();
                    let starts = crate::tui::doc::wrap_starts(&text, width.max(1));
                    let mut rows = Vec::new();
                    for (n, &start) in starts.iter().enumerate() {
                        let end = starts.get(n + 1).copied().unwrap_or(text.len());
                        rows.push(Line::styled(text[start..end].to_string(), style));
                    }
                    rows
                })
                .collect();
            draw_box(
                frame,
                area,
                " messages (newest last) ",
                lines,
                app.overlay_scroll,
            )
        }
        None => {}
    }
}
