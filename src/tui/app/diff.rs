//! The Diff tab: the selection compared with the marked request or the previous of its kind.

use ratatui::text::Line;

use super::{App, DiffMode, DiffView, Tab};
use crate::diff::{self, Side};
use crate::tui::doc::Doc;
use crate::tui::{body, detail};

impl App {
    /// Recomputes the Diff tab for the selection in the current diff mode.
    pub(super) fn compute_diff(&mut self) {
        let Some(row) = self.selected_row() else {
            return;
        };
        let target = self.rows.id(row).to_string();
        let (base, title) = match &self.diff_mode {
            None => {
                self.diff = Some(DiffView {
                    base: String::new(),
                    target,
                    lines: Doc::from(vec![
                        Line::raw("No comparison chosen."),
                        Line::raw(""),
                        Line::raw(
                            "  m  marks a request; then d on another compares it with the mark",
                        ),
                        Line::raw("  D  compares with the previous request of the same event type"),
                        Line::raw("     (the same path when the event type is unknown)"),
                    ]),
                });
                return;
            }
            Some(DiffMode::Marked) => match &self.marked {
                Some(marked) => (marked.clone(), "Compared with the marked request"),
                None => {
                    self.diff = Some(DiffView {
                        base: String::new(),
                        target,
                        lines: Doc::from(vec![Line::raw(
                            "No request is marked: press m on one first.",
                        )]),
                    });
                    return;
                }
            },
            Some(DiffMode::Previous) => match self.previous_of_same_kind(row) {
                Some(prev) => (
                    self.rows.id(prev).to_string(),
                    "Compared with the previous request of the same kind",
                ),
                None => {
                    let kind = match self.rows.event_type(row) {
                        Some(e) => format!("event type {}", detail::one_line(e)),
                        None => format!("path {}", detail::one_line(self.rows.path(row))),
                    };
                    self.diff = Some(DiffView {
                        base: String::new(),
                        target,
                        lines: Doc::from(vec![Line::raw(format!(
                            "No earlier request with the {kind} to compare with."
                        ))]),
                    });
                    return;
                }
            },
            Some(DiffMode::Original) => match self.rows.replay_of(row) {
                Some(original) => (original.to_string(), "Compared with the request it replays"),
                None => {
                    self.diff = Some(DiffView {
                        base: String::new(),
                        target,
                        lines: Doc::from(vec![Line::raw(
                            "This request is not a replay: o compares a replay with its original.",
                        )]),
                    });
                    return;
                }
            },
        };
        let lines = match (self.load(&base), self.load(&target)) {
            (Ok(old), Ok(new)) => {
                let old_body = body::decode(&old.stored.headers, &old.stored.body);
                let new_body = body::decode(&new.stored.headers, &new.stored.body);
                let d = diff::diff_requests(
                    Side {
                        method: &old.stored.summary.method,
                        path: &old.stored.summary.path,
                        headers: &old.stored.headers,
                        body: &old_body.bytes,
                    },
                    Side {
                        method: &new.stored.summary.method,
                        path: &new.stored.summary.path,
                        headers: &new.stored.headers,
                        body: &new_body.bytes,
                    },
                );
                detail::diff_lines(&self.theme, title, &old, &new, &d, self.utc_offset)
            }
            (Err(e), _) | (_, Err(e)) => Doc::from(vec![Line::raw(e)]),
        };
        self.diff = Some(DiffView {
            base,
            target,
            lines,
        });
        self.scroll = 0;
    }

    pub(super) fn start_diff(&mut self, mode: DiffMode) {
        if self.selected.is_none() {
            self.error("no request selected");
            return;
        }
        if mode == DiffMode::Marked && self.marked.is_none() {
            self.error("nothing marked: press m on a request, then d on another to compare");
            return;
        }
        self.diff_mode = Some(mode);
        self.open_tab(Tab::Diff);
        self.diff = None;
    }
}
