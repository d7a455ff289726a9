//! The bottom line: a prompt being typed, the result of the last action, or the keys that apply.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::tui::app::{App, InputKind, Screen};
use crate::tui::detail::one_line;

/// As many key hints as fit in `width`, most important first.
fn hints(pairs: &[(&'static str, &'static str)], width: u16) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    let mut used = 0;
    for (key, what) in pairs {
        let needed = key.chars().count() + what.chars().count() + 3;
        if used + needed > width as usize {
            break;
        }
        used += needed;
        spans.push(Span::styled(
            format!(" {key}"),
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::styled(
            format!(" {what} "),
            Style::new().add_modifier(Modifier::DIM),
        ));
    }
    spans
}

/// Draws the status line.
pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let line = if let Some(input) = &app.input {
        let (prompt, help) = match input.kind {
            InputKind::Filter => (
                " / ",
                "  Enter keeps · Esc cancels · path: event: method: sig: status:5xx replay !word",
            ),
            InputKind::SavePath => (" save fixture to: ", "  Enter saves · Esc cancels"),
        };
        Line::from(vec![
            Span::styled(
                prompt,
                Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            ),
            Span::raw(one_line(&input.text)),
            Span::styled("█", Style::new().fg(Color::Yellow)),
            Span::styled(help, Style::new().add_modifier(Modifier::DIM)),
        ])
    } else if let Some((status, _)) = &app.status {
        Line::from(Span::styled(
            format!(" {}", one_line(&status.text)),
            if status.error {
                Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
            } else {
                Style::new().fg(Color::Green)
            },
        ))
    } else {
        Line::from(match app.screen {
            Screen::List => hints(
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
                    ("y", "curl"),
                ],
                area.width,
            ),
            Screen::Detail => hints(
                &[
                    ("Esc", "back"),
                    ("?", "help"),
                    ("Tab", "tab"),
                    ("↑↓", "scroll"),
                    ("n/p", "next/prev"),
                    ("d/D", "diff"),
                    ("r/R", "replay"),
                    ("e", "edit"),
                    ("y", "curl"),
                ],
                area.width,
            ),
        })
    };
    frame.render_widget(Paragraph::new(line), area);
}
