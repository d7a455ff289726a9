//! Drawing: pure functions from [`App`] to a frame. Nothing here changes state.

mod header;
mod help;
mod list;
mod status;

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::app::{App, Screen, Tab};
use super::layout;
use super::theme;

/// Draws everything.
pub fn draw(frame: &mut Frame<'_>, app: &App) {
    let areas = layout::split(frame.area(), app.screen == Screen::Detail);
    header::draw(frame, areas.header, app);
    if areas.list.height > 0 {
        list::draw(frame, areas.list, app);
    }
    if app.screen == Screen::Detail {
        draw_tabs(frame, areas.tabs, areas.detail.height as usize, app);
        draw_detail(frame, areas.detail, app);
    }
    status::draw(frame, areas.status, app);
    if app.help {
        help::draw(frame, frame.area(), &app.theme);
    }
}

fn draw_tabs(frame: &mut Frame<'_>, area: Rect, page: usize, app: &App) {
    let mut spans = Vec::new();
    for (n, tab) in Tab::ALL.into_iter().enumerate() {
        let style = if tab == app.tab {
            app.theme.tab_active
        } else {
            app.theme.tab_inactive
        };
        spans.push(Span::styled(format!(" {} {} ", n + 1, tab.title()), style));
        spans.push(Span::raw(" "));
    }
    let lines = app.tab_lines().len();
    let position = if lines > page {
        format!(
            " {}-{}/{}",
            app.scroll + 1,
            (app.scroll + page).min(lines),
            lines
        )
    } else {
        String::new()
    };
    let id = app
        .selected_id()
        .map(super::detail::one_line)
        .unwrap_or_default();
    let right = format!("{id}{position} ");
    let used: usize = spans.iter().map(|s| s.width()).sum();
    let gap = (area.width as usize).saturating_sub(used + right.chars().count());
    spans.push(Span::raw(" ".repeat(gap)));
    spans.push(Span::styled(right, theme::DIM));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// `line` cut into rows of at most `width` columns, keeping each span's style.
fn wrap<'a>(line: &'a Line<'a>, width: u16) -> Vec<Line<'a>> {
    use unicode_width::UnicodeWidthChar as _;
    let width = width.max(1) as usize;
    let mut rows = Vec::new();
    let mut current: Vec<Span<'a>> = Vec::new();
    let mut used = 0;
    for span in &line.spans {
        let mut piece = String::new();
        for c in span.content.chars() {
            let w = c.width().unwrap_or(0);
            if used + w > width && used > 0 {
                if !piece.is_empty() {
                    current.push(Span::styled(std::mem::take(&mut piece), span.style));
                }
                rows.push(Line::from(std::mem::take(&mut current)).style(line.style));
                used = 0;
            }
            piece.push(c);
            used += w;
        }
        if !piece.is_empty() {
            current.push(Span::styled(piece, span.style));
        }
    }
    rows.push(Line::from(current).style(line.style));
    rows
}

fn draw_detail(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let lines = app.tab_lines();
    let start = app.scroll.min(lines.len());
    let mut rows: Vec<Line<'_>> = Vec::with_capacity(area.height as usize);
    for line in &lines[start..] {
        if rows.len() >= area.height as usize {
            break;
        }
        if line.width() <= area.width as usize {
            rows.push(line.clone());
        } else {
            rows.extend(wrap(line, area.width));
        }
    }
    rows.truncate(area.height as usize);
    frame.render_widget(Paragraph::new(rows), area);
}
