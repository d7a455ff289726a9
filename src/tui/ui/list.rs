//! The request list: only the rows on screen are built, so its cost does not grow with history.

use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};
use ratatui::Frame;

use super::header::short_id;
use crate::output::human_size;
use crate::signature::Status;
use crate::tui::app::{App, Mode};
use crate::tui::detail::one_line;
use crate::tui::theme;

fn sig_badge(status: Status, wide: bool) -> &'static str {
    let (wide_text, narrow_text) = match status {
        Status::Verified => ("✓ verified", "✓ ok"),
        Status::Invalid => ("✗ invalid", "✗ inv"),
        Status::Expired => ("✗ expired", "✗ exp"),
        Status::Missing => ("✗ missing", "✗ mis"),
        Status::Unchecked => ("· unchecked", "·"),
    };
    if wide {
        wide_text
    } else {
        narrow_text
    }
}

/// Whether `micros` falls on an earlier day than now, in the inspector's time zone.
fn before_today(app: &App, micros: i64) -> bool {
    let day = |us: i64| {
        chrono::DateTime::from_timestamp_micros(us)
            .map(|t| t.with_timezone(&app.utc_offset).date_naive())
    };
    day(micros) < day(app.now_us)
}

fn time(app: &App, micros: i64, wide: bool) -> String {
    let format = match (before_today(app, micros), wide) {
        (false, true) => "%H:%M:%S%.3f",
        (false, false) => "%H:%M:%S",
        (true, true) => "%m-%d %H:%M:%S",
        (true, false) => "%m-%d %H:%M",
    };
    match chrono::DateTime::from_timestamp_micros(micros) {
        Some(t) => t.with_timezone(&app.utc_offset).format(format).to_string(),
        None => "?".into(),
    }
}

/// `text` cut to `width` columns, ending in `…` when cut.
pub(crate) fn fit(text: &str, width: usize) -> String {
    use unicode_width::{UnicodeWidthChar as _, UnicodeWidthStr as _};
    if text.width() <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    if width > 0 {
        out.push('…');
    }
    out
}

fn ms(value: f32) -> String {
    if value < 10.0 {
        format!("{value:.1}ms")
    } else {
        format!("{value:.0}ms")
    }
}

fn empty_message(app: &App) -> Vec<Line<'static>> {
    let t = &app.theme;
    if !app.filter_text.is_empty() {
        return vec![
            Line::raw(format!(
                "No request matches the filter {:?}.",
                one_line(&app.filter_text)
            )),
            Line::raw("Esc clears it; / edits it; ? lists the filter terms."),
        ];
    }
    match (app.session.mode, &app.session.listen) {
        (Mode::Listen, Some(addr)) => vec![
            Line::raw("Waiting for requests…"),
            Line::raw(""),
            Line::raw("Point your provider or relay at this address, or send one:"),
            Line::styled(
                format!("  curl -X POST http://{addr}/webhook -H 'content-type: application/json' -d '{{\"hello\":\"world\"}}'"),
                t.accent,
            ),
        ],
        (Mode::Listen, None) => vec![Line::raw("Starting the listener…")],
        (Mode::Inspect, _) => vec![
            Line::raw(format!(
                "The store at {} has no requests yet.",
                one_line(&app.session.store)
            )),
            Line::raw("Capture some with `webhook-dev listen`; they show up here as they arrive."),
        ],
    }
}

/// Draws the list into `area` (first line: column titles).
pub(crate) fn draw(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let wide = area.width >= 110;
    let height = area.height.saturating_sub(1) as usize;
    let end = (app.list_offset + height).min(app.view.len());
    let dated = (app.list_offset..end)
        .any(|v| before_today(app, app.rows.row(app.view[v] as usize).received_us));
    let time_width = match (wide, dated) {
        (true, true) => 14,
        (true, false) => 12,
        (false, true) => 11,
        (false, false) => 8,
    };
    // The path takes what the fixed columns leave, the event a share of it when there is room.
    let fixed = 2 + time_width + 7 + 8 + if wide { 11 } else { 5 } + 11 + 7;
    let flexible = (area.width as usize).saturating_sub(fixed);
    let event_width = if flexible >= 40 {
        (flexible * 2 / 5).min(32)
    } else {
        0
    };
    let path_width = flexible.saturating_sub(event_width);
    let widths = [
        Constraint::Length(2),
        Constraint::Length(time_width as u16),
        Constraint::Length(7),
        Constraint::Length(path_width as u16),
        Constraint::Length(event_width as u16),
        Constraint::Length(8),
        Constraint::Length(if wide { 11 } else { 5 }),
        Constraint::Length(11),
    ];
    let titles = Row::new(
        [
            "", "TIME", "METHOD", "PATH", "EVENT", "SIZE", "SIG", "FORWARD",
        ]
        .map(Cell::from),
    )
    .style(t.column_titles);
    if app.view.is_empty() {
        frame.render_widget(
            Table::new([titles.clone()], widths).column_spacing(1),
            Rect { height: 1, ..area },
        );
        if area.height > 2 {
            frame.render_widget(
                Paragraph::new(empty_message(app)).wrap(Wrap { trim: false }),
                Rect {
                    x: area.x + 2,
                    y: area.y + 2,
                    width: area.width.saturating_sub(4),
                    height: area.height - 2,
                },
            );
        }
        return;
    }
    let rows = &app.rows;
    let marked = app.marked.as_deref();
    let table_rows: Vec<Row<'_>> = (app.list_offset..end)
        .map(|v| {
            let i = app.view[v] as usize;
            let row = rows.row(i);
            let id = rows.id(i);
            let edited = if app.edited_replays.contains(id) {
                " ✎"
            } else {
                ""
            };
            let replay = rows
                .replay_of(i)
                .map(|original| format!(" ↻ {}{edited}", short_id(original)))
                .unwrap_or_default();
            let room =
                path_width.saturating_sub(unicode_width::UnicodeWidthStr::width(replay.as_str()));
            let path = vec![
                Span::raw(fit(&one_line(rows.path(i)), room)),
                Span::styled(replay, t.link),
            ];
            let badge = sig_badge(row.sig, wide);
            let forward = if row.pending() {
                let waited = (app.now_us - row.received_us).max(0) as f64 / 1e6;
                Span::styled(format!("⋯ {waited:.1}s"), t.warn)
            } else if row.refused() {
                Span::styled(format!("{} refused", row.fwd_status), t.bad)
            } else if !row.forwarded() {
                Span::styled("—", theme::DIM)
            } else {
                let status = if row.fwd_status == 0 {
                    "---".to_string()
                } else {
                    row.fwd_status.to_string()
                };
                Span::styled(
                    format!("{status} {}", ms(row.fwd_ms)),
                    t.outcome(!row.forward_failed()),
                )
            };
            let is_marked = marked == Some(id);
            let is_selected = Some(v) == app.selected;
            let cells = vec![
                Cell::from(Line::from(vec![
                    Span::raw(if is_selected { "▶" } else { " " }),
                    Span::styled(if is_marked { "◆" } else { " " }, t.mark),
                ])),
                Cell::from(time(app, row.received_us, wide)),
                Cell::from(Span::styled(one_line(rows.method(i)), theme::STRONG)),
                Cell::from(Line::from(path)),
                Cell::from({
                    let event = rows.event_type(i).map(one_line).unwrap_or_default();
                    if row.schema_problems() {
                        Line::from(vec![
                            Span::styled("⚠ ", t.warn),
                            Span::raw(fit(&event, event_width.saturating_sub(2))),
                        ])
                    } else {
                        Line::raw(fit(&event, event_width))
                    }
                }),
                Cell::from(human_size(row.size)),
                Cell::from(Span::styled(badge, t.verdict(row.sig))),
                Cell::from(forward),
            ];
            let mut table_row = Row::new(cells);
            if is_selected {
                table_row = table_row.style(t.selected);
            }
            table_row
        })
        .collect();
    frame.render_widget(
        Table::new(table_rows, widths)
            .header(titles)
            .column_spacing(1),
        area,
    );
}
