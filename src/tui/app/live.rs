//! The live list: requests shown when they arrive, completed in place when answered, what
//! others record in the store, the list kept in arrival order, and quitting that waits for the
//! requests in flight.

use super::{App, Screen};
use crate::summary::RequestSummary;
use crate::tui::detail;
use crate::tui::message::Effect;

impl App {
    /// A request has arrived: listed at once, pending.
    pub(super) fn arrived(&mut self, summary: &RequestSummary) {
        let from = self.rows.len();
        self.rows.push_arrived(summary);
        self.pending.insert(summary.id.clone(), from);
        self.live.insert(summary.id.clone());
        self.rows_added(from);
    }

    /// A request has been answered: its pending row is completed, or (refused before its body
    /// was read, so it never arrived) it is listed now.
    pub(super) fn answered(&mut self, summary: &RequestSummary) {
        match self.pending.remove(&summary.id) {
            Some(row) => {
                self.rows.complete(row, summary);
                self.row_completed(row);
            }
            None if self.rows.find_recent(&summary.id, 256).is_some() => {}
            None => {
                let from = self.rows.len();
                self.rows.push_summary(summary);
                self.live.insert(summary.id.clone());
                self.rows_added(from);
            }
        }
        self.quit_when_drained();
    }

    /// Lists what others recorded in the store since the last look.
    pub(super) fn poll(&mut self) {
        let from = self.rows.len();
        let mut rows = std::mem::take(&mut self.rows);
        let polled = self.history.poll(&mut rows, &mut self.live);
        self.rows = rows;
        match polled {
            Ok(0) => {}
            Ok(_) => self.rows_added(from),
            Err(e) => self.error(format!("cannot read new requests: {e:#}")),
        }
    }

    /// The list's order: arrival time, then the order rows were added.
    pub(super) fn arrival(&self, row: u32) -> (i64, u32) {
        (self.rows.row(row as usize).received_us, row)
    }

    pub(super) fn rebuild_view(&mut self) {
        let keep = self.selected_row();
        self.view = (0..self.rows.len())
            .filter(|&i| self.filter.matches(&self.rows, i))
            .map(|i| i as u32)
            .collect();
        let rows = &self.rows;
        if !self
            .view
            .is_sorted_by_key(|&r| rows.row(r as usize).received_us)
        {
            self.view.sort_by_key(|&r| rows.row(r as usize).received_us);
        }
        let index = match keep {
            _ if self.follow => self.view.len().checked_sub(1),
            Some(row) => self.view.iter().position(|&r| r as usize == row),
            None => self.view.len().checked_sub(1),
        };
        self.select(index);
    }

    pub(super) fn rows_added(&mut self, from: usize) {
        for i in from..self.rows.len() {
            if self.filter.matches(&self.rows, i) {
                let key = self.arrival(i as u32);
                let at = self.view.partition_point(|&r| self.arrival(r) <= key);
                self.view.insert(at, i as u32);
                if let Some(selected) = &mut self.selected {
                    if at <= *selected {
                        *selected += 1;
                    }
                }
            }
        }
        if self.selected.is_none() || (self.follow && self.screen == Screen::List) {
            self.select(self.view.len().checked_sub(1));
        }
    }

    /// A pending row got its answer: the filter may now see it differently, and the detail
    /// shown for it is stale.
    pub(super) fn row_completed(&mut self, row: usize) {
        let at = self
            .view
            .binary_search_by_key(&self.arrival(row as u32), |&r| self.arrival(r));
        match (at, self.filter.matches(&self.rows, row)) {
            (Ok(_), true) | (Err(_), false) => {}
            _ => self.rebuild_view(),
        }
        if self
            .detail
            .as_ref()
            .is_some_and(|d| d.id == self.rows.id(row))
        {
            self.detail = None;
        }
    }

    /// Quits now, or once the requests in flight are answered (the listener stops accepting
    /// new ones meanwhile).
    pub(super) fn begin_quit(&mut self) -> Vec<Effect> {
        self.confirm_quit = false;
        if self.rows.counts().pending == 0 {
            self.quit = true;
            return vec![];
        }
        self.quitting = true;
        vec![Effect::StopAccepting]
    }

    pub(super) fn quit_when_drained(&mut self) {
        if self.quitting && self.rows.counts().pending == 0 {
            self.quit = true;
        }
    }

    /// What quitting waits for: the requests in flight, oldest first, with their age.
    pub(crate) fn waiting_for(&self) -> String {
        let mut waiting: Vec<usize> = self.pending.values().copied().collect();
        waiting.sort_unstable();
        let shown: Vec<String> = waiting
            .iter()
            .take(3)
            .map(|&i| {
                let age = (self.now_us - self.rows.row(i).received_us).max(0) as f64 / 1e6;
                format!(
                    "{} {} ({age:.1}s)",
                    detail::one_line(self.rows.method(i)),
                    detail::one_line(self.rows.path(i))
                )
            })
            .collect();
        let more = waiting.len().saturating_sub(shown.len());
        format!(
            "quitting: waiting for {} request{} in flight to be answered: {}{}; q or Ctrl-C again quits at once",
            waiting.len(),
            if waiting.len() == 1 { "" } else { "s" },
            shown.join(", "),
            if more > 0 { format!(" and {more} more") } else { String::new() }
        )
    }
}
