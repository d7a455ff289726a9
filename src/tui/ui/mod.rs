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
use super::detail::one_line;
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
    help::draw(frame, frame.area(), app);
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
    let rows = app.tab_doc().map_or(0, |d| d.row_count());
    let mut position = if rows > page {
        format!(
            " {}-{}/{}",
            app.scroll + 1,
            (app.scroll + page).min(rows),
            rows
        )
    } else {
        String::new()
    };
    if !app.wrap {
        position.push_str(&format!(" nowrap +{}", app.hscroll));
    }
    if let Some(search) = &app.search {
        position.push_str(&match search.matches.len() {
            0 => format!(" /{}: none", one_line(&search.query)),
            n => format!(" /{}: {}/{n}", one_line(&search.query), search.current + 1),
        });
    }
    let id = app.selected_id().map(one_line).unwrap_or_default();
    let right = format!("{id}{position} ");
    let used: usize = spans.iter().map(|s| s.width()).sum();
    let gap = (area.width as usize).saturating_sub(used + right.chars().count());
    spans.push(Span::raw(" ".repeat(gap)));
    spans.push(Span::styled(right, theme::DIM));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_detail(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let Some(doc) = app.tab_doc() else {
        return;
    };
    let rows = doc.render(
        &app.theme,
        app.scroll,
        area.height as usize,
        area.width,
        app.wrap,
        app.hscroll,
        app.search.as_ref(),
    );
    frame.render_widget(Paragraph::new(rows), area);
}
