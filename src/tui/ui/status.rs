//! The bottom line: a prompt being typed, the result of the last action, or the keys that apply.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::list::fit;
use crate::tui::app::{App, InputKind, Screen};
use crate::tui::detail::one_line;
use crate::tui::theme::{self, Theme};

/// As many key hints as fit in `width`, most important first.
fn hints(t: &Theme, pairs: &[(&'static str, &'static str)], width: u16) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    let mut used = 0;
    for (key, what) in pairs {
        let needed = key.chars().count() + what.chars().count() + 3;
        if used + needed > width as usize {
            break;
        }
        used += needed;
        spans.push(Span::styled(format!(" {key}"), t.key));
        spans.push(Span::styled(format!(" {what} "), theme::DIM));
    }
    spans
}

/// Draws the status line.
pub(crate) fn draw(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let line = if let Some(input) = &app.input {
        let (prompt, help) = match input.kind {
            InputKind::Filter => (
                " / ",
                "  Enter keeps · Esc cancels · path: event: method: sig: status:5xx replay !word",
            ),
            InputKind::SavePath => (" save fixture to: ", "  Enter saves · Esc cancels"),
            InputKind::Search => (
                " find: ",
                "  Enter keeps · Esc clears · then n next, N previous",
            ),
        };
        Line::from(vec![
            Span::styled(prompt, t.prompt),
            Span::raw(one_line(&input.text)),
            Span::styled("█", t.prompt),
            Span::styled(help, theme::DIM),
        ])
    } else if app.copy_menu {
        Line::from(vec![
            Span::styled(" copy: ", t.prompt),
            Span::styled("c", t.key),
            Span::raw(" curl command · "),
            Span::styled("b", t.key),
            Span::raw(" body · "),
            Span::styled("i", t.key),
            Span::raw(" id · "),
            Span::styled("h", t.key),
            Span::raw(" HAR entry"),
            Span::styled("  (any other key cancels)", theme::DIM),
        ])
    } else if app.confirm_quit {
        let addr = app.session.listen.as_deref().unwrap_or("this address");
        Line::from(vec![
            Span::styled(
                format!(" stop listening on http://{} and quit?", one_line(addr)),
                t.prompt,
            ),
            Span::styled("  y quits · any other key stays", theme::DIM),
        ])
    } else if app.quitting {
        Line::from(Span::styled(
            format!(" {}", one_line(&app.waiting_for())),
            t.status_error,
        ))
    } else if let Some((status, _)) = &app.status {
        let style = if status.error {
            t.status_error
        } else {
            t.status_info
        };
        let text = one_line(&status.text);
        let room = (area.width as usize).saturating_sub(1);
        if unicode_width::UnicodeWidthStr::width(text.as_str()) <= room {
            Line::from(Span::styled(format!(" {text}"), style))
        } else {
            // Never cut off silently: the message log has the whole text.
            let more = " ! shows all";
            Line::from(vec![
                Span::styled(
                    format!(" {}", fit(&text, room.saturating_sub(more.len()))),
                    style,
                ),
                Span::styled(more, t.key),
            ])
        }
    } else {
        Line::from(match app.screen {
            Screen::List => hints(
                t,
                &[
                    ("↑↓", "move"),
                    ("⏎", "detail"),
                    ("/", "filter"),
                    ("f", "follow"),
                    ("m", "mark"),
                    ("d", "diff"),
                    ("?", "help"),
                    ("q", "quit"),
                    ("r", "replay"),
                    ("y", "copy"),
                    ("!", "log"),
                ],
                area.width,
            ),
            Screen::Detail => hints(
                t,
                &[
                    ("Esc", "back"),
                    ("?", "help"),
                    ("Tab", "tab"),
                    ("↑↓", "scroll"),
                    ("n/p", "next/prev"),
                    ("d/D", "diff"),
                    ("r/R", "replay"),
                    ("/", "find"),
                    ("w", "wrap"),
                    ("e", "edit"),
                    ("y", "copy"),
                ],
                area.width,
            ),
        })
    };
    frame.render_widget(Paragraph::new(line), area);
}
