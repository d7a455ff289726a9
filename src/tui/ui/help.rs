//! The `?` overlay: every key.

use crate::tui::theme::{self, Theme};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

/// Every key, grouped.
pub const KEYS: &[(&str, &str)] = &[
    ("↑ ↓  j k", "move the selection (detail: scroll)"),
    ("PgUp PgDn", "a page up or down"),
    (
        "Home End g G",
        "first or last request (detail: top, bottom)",
    ),
    ("n  p", "next or previous request, on any screen"),
    ("Enter  Esc", "open the detail · back to the list"),
    ("Tab ⇧Tab 1-4", "Request · Response · Signature · Diff"),
    ("f", "follow: keep the newest request selected"),
    (
        "/",
        "filter: words, path: event: sig: status:5xx replay schema !x",
    ),
    ("m", "mark the selected request (again: unmark)"),
    (
        "d  D",
        "diff with the marked · with the previous of its type",
    ),
    (
        "r  R",
        "replay to the forward target · re-signed, fresh timestamp",
    ),
    (
        "e",
        "edit the body in $EDITOR, then replay it (re-signed if able)",
    ),
    ("s  y", "save as a fixture file · copy as curl (OSC 52)"),
    ("mouse", "wheel scrolls · click selects a row or a tab"),
    ("q  Ctrl-C", "quit (the terminal is restored)"),
];

/// Draws the overlay centred in `area`.
pub fn draw(frame: &mut Frame<'_>, area: Rect, t: &Theme) {
    let width = area.width.min(78);
    let height = (KEYS.len() as u16 + 4).min(area.height);
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let mut lines: Vec<Line<'_>> = KEYS
        .iter()
        .map(|(keys, what)| {
            Line::from(vec![
                Span::styled(format!(" {keys:<13}"), t.key),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::default());
    lines.push(Line::styled(" any key closes this help", theme::DIM));
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" webhook-dev inspector — keys "),
        ),
        rect,
    );
}
