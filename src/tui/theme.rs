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

/// The palettes `--theme` (or `theme = "..."` in the config file) picks from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Palette {
    /// Colours for dark backgrounds.
    Dark,
    /// Colours for light backgrounds.
    Light,
    /// No colours: bold, dim, reverse and underline only.
    Mono,
}

/// Bold: the same in every palette.
pub(crate) const STRONG: Style = Style::new().add_modifier(Modifier::BOLD);
/// Dim: the same in every palette.
pub(crate) const DIM: Style = Style::new().add_modifier(Modifier::DIM);
const REVERSED: Style = Style::new().add_modifier(Modifier::REVERSED);

impl Theme {
    /// The palette asked for with `--theme`, else the config file's, else `mono` when `NO_COLOR`
    /// is set, else `dark`.
    pub(crate) fn choose(flag: Option<Palette>, config: Option<Palette>) -> Theme {
        let palette = flag.or(config).unwrap_or_else(|| {
            if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
                Palette::Mono
            } else {
                Palette::Dark
            }
        });
        Theme::of(palette)
    }

    /// The styles of `palette`.
    pub(crate) fn of(palette: Palette) -> Theme {
        match palette {
            Palette::Dark => Theme::dark(),
            Palette::Light => Theme::light(),
            Palette::Mono => Theme::mono(),
        }
    }

    /// For dark terminal backgrounds.
    pub(crate) fn dark() -> Theme {
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
            ..Theme::colours(fg(Color::Cyan), fg(Color::Yellow), fg(Color::Blue))
        }
    }

    /// For light terminal backgrounds: no yellow or cyan text, no light grey.
    pub(crate) fn light() -> Theme {
        let fg = |c: Color| Style::new().fg(c);
        let accent = fg(Color::Blue);
        let warn = fg(Color::Indexed(130));
        Theme {
            brand: Style::new()
                .fg(Color::White)
                .bg(Color::Blue)
                .add_modifier(Modifier::BOLD),
            tab_active: REVERSED.add_modifier(Modifier::BOLD),
            json_key: accent,
            ..Theme::colours(accent, warn, fg(Color::Magenta))
        }
    }

    /// No colours at all (`NO_COLOR`): roles are told apart by bold, dim, reverse and underline.
    pub(crate) fn mono() -> Theme {
        let underlined = Style::new().add_modifier(Modifier::UNDERLINED);
        Theme {
            brand: REVERSED.add_modifier(Modifier::BOLD),
            tab_active: REVERSED.add_modifier(Modifier::BOLD),
            tab_inactive: Style::new(),
            selected: REVERSED.add_modifier(Modifier::BOLD),
            strong: STRONG,
            column_titles: STRONG.add_modifier(Modifier::DIM),
            dim: DIM,
            ok: Style::new(),
            bad: STRONG,
            warn: STRONG,
            unchecked: DIM,
            link: underlined,
            mark: STRONG,
            accent: Style::new(),
            key: STRONG,
            prompt: STRONG,
            status_error: STRONG,
            status_info: Style::new(),
            search_match: underlined.add_modifier(Modifier::BOLD),
            search_current: REVERSED,
            json_key: STRONG,
            json_string: Style::new(),
            json_number: Style::new(),
            json_literal: Style::new(),
        }
    }

    /// The styles every coloured palette shares, given its accent, warning and link colours.
    fn colours(accent: Style, warn: Style, link: Style) -> Theme {
        let fg = |c: Color| Style::new().fg(c);
        Theme {
            brand: REVERSED.add_modifier(Modifier::BOLD),
            tab_active: REVERSED.add_modifier(Modifier::BOLD),
            tab_inactive: Style::new(),
            selected: REVERSED.add_modifier(Modifier::BOLD),
            strong: STRONG,
            column_titles: STRONG.add_modifier(Modifier::DIM),
            dim: DIM,
            ok: fg(Color::Green),
            bad: fg(Color::Red),
            warn,
            unchecked: DIM,
            link,
            mark: fg(Color::Magenta),
            accent,
            key: accent.add_modifier(Modifier::BOLD),
            prompt: warn.add_modifier(Modifier::BOLD),
            status_error: fg(Color::Red).add_modifier(Modifier::BOLD),
            status_info: fg(Color::Green),
            search_match: Style::new().fg(Color::Black).bg(Color::Yellow),
            search_current: REVERSED.add_modifier(Modifier::BOLD),
            json_key: accent,
            json_string: fg(Color::Green),
            json_number: fg(Color::Magenta),
            json_literal: warn,
        }
    }

    /// The style of a signature verdict.
    pub(crate) fn verdict(&self, status: Status) -> Style {
        match status {
            Status::Verified => self.ok,
            Status::Invalid | Status::Missing => self.bad,
            Status::Expired => self.warn,
            Status::Unchecked => self.unchecked,
        }
    }

    /// `ok` or `bad`.
    pub(crate) fn outcome(&self, ok: bool) -> Style {
        if ok {
            self.ok
        } else {
            self.bad
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_over_the_config_file() {
        assert_eq!(
            Theme::choose(Some(Palette::Light), Some(Palette::Mono)),
            Theme::light()
        );
        assert_eq!(Theme::choose(None, Some(Palette::Mono)), Theme::mono());
    }

    #[test]
    fn selection_is_reverse_video_and_mono_has_no_colour() {
        for theme in [Theme::dark(), Theme::light(), Theme::mono()] {
            assert!(theme.selected.add_modifier.contains(Modifier::REVERSED));
            assert_eq!(
                theme.unchecked, DIM,
                "never a grey that a background can equal"
            );
            assert_eq!(
                theme.tab_inactive,
                Style::new(),
                "inactive tabs in the default colour"
            );
        }
        let mono = format!("{:?}", Theme::mono());
        assert!(
            !mono.contains("fg: Some") && !mono.contains("bg: Some"),
            "{mono}"
        );
    }
}
