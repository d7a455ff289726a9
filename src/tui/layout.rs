//! Where each part of the screen goes, and how many rows a line takes: shared by the state (for
//! scrolling and clicks) and the drawing.

use ratatui::layout::{Constraint, Layout, Rect};

/// Terminals at least this tall keep a few list rows above the detail.
const SPLIT_MIN_HEIGHT: u16 = 30;
/// List rows (with its column header) kept above the detail on tall terminals.
const SPLIT_LIST_ROWS: u16 = 8;

/// Where each part goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Areas {
    /// Session, counts, sparkline.
    pub header: Rect,
    /// The request list, its column titles on the first line.
    pub list: Rect,
    /// The detail's tab bar.
    pub tabs: Rect,
    /// The detail's content.
    pub detail: Rect,
    /// Status, prompt or key hints.
    pub status: Rect,
}

/// Splits `area` for the list alone, or for the detail (with a few list rows when tall enough).
pub(crate) fn split(area: Rect, detail_shown: bool) -> Areas {
    let [header, body, status] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    let mut areas = Areas {
        header,
        status,
        ..Areas::default()
    };
    if !detail_shown {
        areas.list = body;
        return areas;
    }
    let list_rows = if area.height >= SPLIT_MIN_HEIGHT {
        SPLIT_LIST_ROWS
    } else {
        0
    };
    let [list, tabs, detail] = Layout::vertical([
        Constraint::Length(list_rows),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(body);
    areas.list = list;
    areas.tabs = tabs;
    areas.detail = detail;
    areas
}

/// The width a tab titled `title` takes in the tab bar, with the gap after it.
pub(crate) fn tab_width(title: &str) -> u16 {
    title.chars().count() as u16 + 5
}
