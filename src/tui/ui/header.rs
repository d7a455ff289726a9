//! The two header lines: the session, then counts and the requests-per-second sparkline.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};
use ratatui::Frame;

use crate::tui::app::{App, Mode};
use crate::tui::detail::one_line;
use crate::tui::theme;

/// Requests in each of the last `seconds` seconds up to `app.now_us`, oldest first.
pub(crate) fn per_second(app: &App, seconds: usize) -> Vec<u64> {
    let mut buckets = vec![0u64; seconds];
    if seconds == 0 {
        return buckets;
    }
    let now_s = app.now_us.div_euclid(1_000_000);
    let first_s = now_s - seconds as i64 + 1;
    for row in app.rows.all().iter().rev().take(50_000) {
        let s = row.received_us.div_euclid(1_000_000);
        if s < first_s {
            break;
        }
        if s <= now_s {
            buckets[(s - first_s) as usize] += 1;
        }
    }
    buckets
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Draws the header.
pub(crate) fn draw(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let session = &app.session;
    let mut first = vec![Span::styled(" webhook-dev ", t.brand)];
    let narrow = area.width < 100;
    match (session.mode, &session.listen) {
        (Mode::Listen, Some(addr)) => {
            first.push(Span::raw(if narrow { " " } else { " listening " }));
            first.push(Span::styled(format!("http://{addr}"), theme::STRONG));
        }
        (Mode::Listen, None) => first.push(Span::raw(" starting…")),
        (Mode::Inspect, _) => first.push(Span::raw(" inspect (stored history)")),
    }
    match &session.forward {
        Some(target) => {
            first.push(Span::raw(" → "));
            first.push(Span::styled(one_line(target), t.ok));
        }
        None if session.mode == Mode::Listen => {
            first.push(Span::styled(" → no forward (answering itself)", theme::DIM))
        }
        None => {}
    }
    first.push(Span::styled(
        format!(
            " · relay: {}",
            session
                .relay
                .as_deref()
                .map(one_line)
                .unwrap_or_else(|| "off".into())
        ),
        theme::DIM,
    ));
    if !narrow {
        first.push(Span::styled(
            format!(" · store {}", one_line(&session.store)),
            theme::DIM,
        ));
    }

    let counts = app.rows.counts();
    let mut second = vec![Span::styled(
        format!(" {}", plural(counts.total, "request", "requests")),
        theme::STRONG,
    )];
    let bad = |n: usize, text: String| Span::styled(text, if n > 0 { t.bad } else { theme::DIM });
    second.push(Span::raw(" · "));
    second.push(bad(
        counts.failed_signatures,
        format!("{} sig failed", counts.failed_signatures),
    ));
    second.push(Span::raw(" · "));
    second.push(bad(
        counts.failed_forwards,
        format!("{} fwd failed", counts.failed_forwards),
    ));
    if counts.schema_problems > 0 {
        second.push(Span::raw(" · "));
        second.push(Span::styled(
            format!("{} schema", counts.schema_problems),
            t.warn,
        ));
    }
    if app.follow {
        second.push(Span::styled(" · follow", t.accent));
    }
    if !app.filter_text.is_empty() {
        second.push(Span::styled(
            format!(
                " · filter {} ({} shown)",
                one_line(&app.filter_text),
                app.view.len()
            ),
            t.warn,
        ));
    }
    if let Some(marked) = &app.marked {
        second.push(Span::styled(format!(" · ◆ {}", short_id(marked)), t.mark));
    }

    let [line1, line2] =
        Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
    frame.render_widget(Paragraph::new(Line::from(first)), line1);

    let spark_width = if area.width >= 100 {
        30
    } else if area.width >= 70 {
        16
    } else {
        0
    };
    let label_width = 9;
    let [counts_area, label_area, spark_area] = Layout::horizontal([
        Constraint::Min(0),
        Constraint::Length(if spark_width > 0 { label_width } else { 0 }),
        Constraint::Length(spark_width),
    ])
    .areas(line2);
    frame.render_widget(Paragraph::new(Line::from(second)), counts_area);
    if spark_width > 0 {
        let data = per_second(app, spark_width as usize);
        // The last whole second: the current one is still filling.
        let now = data.iter().rev().nth(1).copied().unwrap_or(0);
        frame.render_widget(
            Paragraph::new(format!("{now:>3} req/s")).style(theme::DIM),
            label_area,
        );
        frame.render_widget(
            Sparkline::default()
                .data(&data)
                .max(data.iter().copied().max().unwrap_or(1).max(1))
                .style(t.accent),
            spark_area,
        );
    }
}

/// An id shortened for narrow places: a `req_` + ULID id keeps the end of its random part
/// (`req_…7QX3M2KD`), since ids received in the same millisecond share their first 10 characters.
pub(crate) fn short_id(id: &str) -> String {
    let clean = one_line(id);
    match clean.strip_prefix("req_") {
        Some(ulid) if ulid.len() == 26 && ulid.is_ascii() => format!("req_…{}", &ulid[18..]),
        _ if clean.chars().count() > 14 => {
            let mut s: String = clean.chars().take(13).collect();
            s.push('…');
            s
        }
        _ => clean,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ids_keep_the_random_end_of_the_ulid() {
        let a = short_id("req_01JDTZ5M3Q0000000000000AB1");
        let b = short_id("req_01JDTZ5M3Q0000000000000AB2");
        assert_eq!(a, "req_…00000AB1");
        assert_ne!(a, b, "ids of the same millisecond differ");
        assert_eq!(short_id("evt_1"), "evt_1");
    }
}
