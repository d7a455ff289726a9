//! Every style the inspector draws with, by role. Drawing code names a role (`theme.ok`), never a
//! colour, so a palette is one function here.

use ratatui::style::{Color, Modifier, Style};

use crate::signature::Status;

/// The inspector's styles, by what they mean.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Theme {
    /// The "webhook-dev" badge.
    pub brand: Style,
    /// The tab shown.
    pub tab_active: Style,
    /// The other tabs.
    pub tab_inactive: Style,
    /// The selected list row.
    pub selected: Style,
    /// Section titles, methods, the listen address.
    pub strong: Style,
    /// Column titles of the list.
    pub column_titles: Style,
    /// Secondary text: labels, notes, hints.
    pub dim: Style,
    /// Success: verified, 2xx, a matching schema.
    pub ok: Style,
    /// Failure: invalid or missing signatures, failed forwards, errors.
    pub bad: Style,
    /// Needs a look: expired signatures, schema problems, the filter.
    pub warn: Style,
    /// A signature that was not checked.
    pub unchecked: Style,
    /// Links between requests (replays) and diff hunk headers.
    pub link: Style,
    /// The marked request.
    pub mark: Style,
    /// Names: header names, JSON paths in diffs, follow, the sparkline.
    pub accent: Style,
    /// Keys in help and hints.
    pub key: Style,
    /// The prompt and its cursor.
    pub prompt: Style,
    /// An error in the status line.
    pub status_error: Style,
    /// A message in the status line.
    pub status_info: Style,
    /// A search match in the detail.
    pub search_match: Style,
    /// The search match last jumped to.
    pub search_current: Style,
    /// JSON object keys.
    pub json_key: Style,
    /// JSON strings.
    pub json_string: Style,
    /// JSON numbers.
    pub json_number: Style,
    /// `true`, `false`, `null`.
    pub json_literal: Style,
}

impl Default for Theme {
    fn default() -> Self {
        Theme::dark()
    }
}

/// Bold: the same in every palette.
pub const STRONG: Style = Style::new().add_modifier(Modifier::BOLD);
/// Dim: the same in every palette.
pub const DIM: Style = Style::new().add_modifier(Modifier::DIM);

impl Theme {
    /// For dark terminal backgrounds.
    pub fn dark() -> Theme {
        let fg = |c: Color| Style::new().fg(c);
        Theme {
            brand: Style::new()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
            tab_active: Style::new()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
            tab_inactive: fg(Color::Gray),
            selected: Style::new()
                .bg(Color::DarkGray)
                .add_modifier(Modifier::BOLD),
            strong: STRONG,
            column_titles: STRONG.add_modifier(Modifier::DIM),
            dim: DIM,
            ok: fg(Color::Green),
            bad: fg(Color::Red),
            warn: fg(Color::Yellow),
            unchecked: fg(Color::DarkGray),
            link: fg(Color::Blue),
            mark: fg(Color::Magenta),
            accent: fg(Color::Cyan),
            key: fg(Color::Cyan).add_modifier(Modifier::BOLD),
            prompt: fg(Color::Yellow).add_modifier(Modifier::BOLD),
            status_error: fg(Color::Red).add_modifier(Modifier::BOLD),
            status_info: fg(Color::Green),
            search_match: Style::new().fg(Color::Black).bg(Color::Yellow),
            search_current: Style::new()
                .fg(Color::Black)
                .bg(Color::LightYellow)
                .add_modifier(Modifier::BOLD.union(Modifier::UNDERLINED)),
            json_key: fg(Color::Cyan),
            json_string: fg(Color::Green),
            json_number: fg(Color::Magenta),
            json_literal: fg(Color::Yellow),
        }
    }

    /// The style of a signature verdict.
    pub fn verdict(&self, status: Status) -> Style {
        match status {
            Status::Verified => self.ok,
            Status::Invalid | Status::Missing => self.bad,
            Status::Expired => self.warn,
            Status::Unchecked => self.unchecked,
        }
    }

    /// `ok` or `bad`.
    pub fn outcome(&self, ok: bool) -> Style {
        if ok {
            self.ok
        } else {
            self.bad
        }
    }
}
