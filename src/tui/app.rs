//! The inspector's state and [`update`]: every key, event and result goes through here. Nothing
//! here draws; the only outside work done in place is reading the store for the one request
//! shown. Everything else with a side effect is returned as an [`Effect`].

use std::path::PathBuf;

use bytes::Bytes;
use chrono::FixedOffset;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::body;
use super::detail;
use super::filter::Filter;
use super::history::{History, Loaded};
use super::message::{Effect, Message, Status};
use super::rows::Rows;
use super::ui;
use crate::checks::Checks;
use crate::diff::{self, Side};
use crate::engine::{EngineEvent, RequestHead};
use crate::model::HeaderList;
use crate::replay::Resigner;
use crate::signature;
use crate::store::StoredRequest;

/// How long a status message stays.
const STATUS_US: i64 = 8_000_000;

/// Which screen is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Screen {
    /// The request list.
    List,
    /// One request, in tabs.
    Detail,
}

/// The detail tabs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    /// Headers and body.
    Request,
    /// The handler's answer.
    Response,
    /// Verdict, reason, profile.
    Signature,
    /// Against the marked or previous request.
    Diff,
}

impl Tab {
    /// All tabs, in order.
    pub const ALL: [Tab; 4] = [Tab::Request, Tab::Response, Tab::Signature, Tab::Diff];

    /// The tab's title.
    pub fn title(self) -> &'static str {
        match self {
            Tab::Request => "Request",
            Tab::Response => "Response",
            Tab::Signature => "Signature",
            Tab::Diff => "Diff",
        }
    }

    fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }

    fn step(self, by: isize) -> Tab {
        Tab::ALL[(self.index() as isize + by).rem_euclid(4) as usize]
    }
}

/// What the Diff tab compares the selection with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiffMode {
    /// The request marked with `m`.
    Marked,
    /// The previous request of the same event type (same path when there is none).
    Previous,
}

/// A computed diff, ready to draw.
pub struct DiffView {
    /// The base request.
    pub base: String,
    /// The compared (selected) request.
    pub target: String,
    /// The lines.
    pub lines: Vec<Line<'static>>,
}

/// The whole request being shown, with its tab contents.
pub struct Detail {
    /// Its id.
    pub id: String,
    /// The request, or `None` when the store no longer has it.
    pub loaded: Option<Loaded>,
    /// Why it could not be read.
    pub error: Option<String>,
    tabs: [Option<Vec<Line<'static>>>; 3],
}

/// What a text prompt is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// `/`: the filter, applied as it is typed.
    Filter,
    /// `s`: where to save the fixture.
    SavePath,
}

/// A one-line prompt in the status bar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    /// What it is for.
    pub kind: InputKind,
    /// The text typed so far.
    pub text: String,
    /// The text before editing (restored by Esc).
    previous: String,
    /// The request it applies to.
    target: Option<String>,
}

/// Whether the inspector runs with a listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `listen`: live requests from the engine.
    Listen,
    /// `inspect`: the stored history.
    Inspect,
}

/// What the header shows about the session.
#[derive(Clone, Debug)]
pub struct Session {
    /// Listen or inspect.
    pub mode: Mode,
    /// The listen address.
    pub listen: Option<String>,
    /// Where requests (and replays) go.
    pub forward: Option<String>,
    /// The relay state.
    pub relay: Option<String>,
    /// The store directory.
    pub store: String,
}

/// Everything the inspector shows.
pub struct App {
    /// All requests, oldest first.
    pub rows: Rows,
    /// Indices of the rows that pass the filter.
    pub view: Vec<u32>,
    /// Index into `view`.
    pub selected: Option<usize>,
    /// First `view` index drawn in the list.
    pub list_offset: usize,
    /// Keep the newest request selected.
    pub follow: bool,
    /// The screen shown.
    pub screen: Screen,
    /// The detail tab shown.
    pub tab: Tab,
    /// First line of the detail drawn.
    pub scroll: usize,
    /// The request shown in the detail.
    pub detail: Option<Detail>,
    /// The diff shown in the Diff tab.
    pub diff: Option<DiffView>,
    diff_mode: Option<DiffMode>,
    /// The request marked with `m`.
    pub marked: Option<String>,
    /// The filter text applied.
    pub filter_text: String,
    filter: Filter,
    /// The prompt being typed in, if any.
    pub input: Option<Input>,
    /// The help overlay is open.
    pub help: bool,
    /// The status line, and when it was set.
    pub status: Option<(Status, i64)>,
    /// What the header says about the session.
    pub session: Session,
    /// Now, in microseconds since the epoch (advanced by ticks).
    pub now_us: i64,
    /// The time zone times are shown in.
    pub utc_offset: FixedOffset,
    /// The terminal's size.
    pub size: (u16, u16),
    /// Set when the inspector should close.
    pub quit: bool,
    checks: Option<Checks>,
    history: Box<dyn History>,
}

/// How `R` would re-sign `stored` with `checks` (the routes of `--profile`, `--secret` and
/// `--config`): the route's secret for its path, and the route's profile, else the profile it was
/// checked with, else the one its headers reveal. The error says what to start with.
pub fn resigner_for(
    checks: Option<&Checks>,
    stored: &StoredRequest,
) -> Result<(String, Resigner), String> {
    let path = &stored.summary.path;
    let no_secret = || {
        format!(
            "R re-signs with a secret, and none applies to {}: start with --profile NAME --secret S (r replays as is)",
            detail::one_line(path)
        )
    };
    let checks = checks.ok_or_else(no_secret)?;
    let route = checks.route_for(path);
    let secret = route.and_then(|r| r.secret.clone()).ok_or_else(no_secret)?;
    let name = route
        .and_then(|r| r.profile.clone())
        .or_else(|| stored.summary.signature.profile.clone())
        .or_else(|| signature::detect(&stored.headers).map(str::to_string))
        .ok_or_else(|| {
            "R needs to know how to sign: this request's scheme is unknown, start with --profile NAME --secret S"
                .to_string()
        })?;
    let profile = checks.catalog().get(&name).ok_or_else(|| {
        format!(
            "R cannot re-sign: no profile named {}",
            detail::one_line(&name)
        )
    })?;
    Ok((
        name.clone(),
        Resigner {
            scheme: profile.scheme.clone(),
            secret,
            new_id: false,
        },
    ))
}

impl App {
    /// An inspector over `rows` (already loaded), reading whole requests from `history`.
    pub fn new(rows: Rows, history: Box<dyn History>, session: Session) -> App {
        let view = (0..rows.len() as u32).collect::<Vec<_>>();
        let selected = view.len().checked_sub(1);
        let mut app = App {
            rows,
            view,
            selected,
            list_offset: 0,
            follow: true,
            screen: Screen::List,
            tab: Tab::Request,
            scroll: 0,
            detail: None,
            diff: None,
            diff_mode: None,
            marked: None,
            filter_text: String::new(),
            filter: Filter::default(),
            input: None,
            help: false,
            status: None,
            session,
            now_us: chrono::Utc::now().timestamp_micros(),
            utc_offset: *chrono::Local::now().offset(),
            size: (80, 24),
            quit: false,
            checks: None,
            history,
        };
        app.settle();
        app
    }

    /// Gives the inspector the routes (profile, secret) that re-signed replays sign with.
    pub fn with_checks(mut self, checks: Option<Checks>) -> App {
        self.checks = checks;
        self
    }

    /// The row index (into `rows`) of the selection.
    pub fn selected_row(&self) -> Option<usize> {
        self.selected.map(|s| self.view[s] as usize)
    }

    /// The id of the selection.
    pub fn selected_id(&self) -> Option<&str> {
        self.selected_row().map(|i| self.rows.id(i))
    }

    /// The lines of the detail tab shown.
    pub fn tab_lines(&self) -> &[Line<'static>] {
        match self.tab {
            Tab::Diff => self
                .diff
                .as_ref()
                .map(|d| d.lines.as_slice())
                .unwrap_or(&[]),
            tab => self
                .detail
                .as_ref()
                .and_then(|d| d.tabs[tab.index()].as_deref())
                .unwrap_or(&[]),
        }
    }

    fn areas(&self) -> ui::Areas {
        ui::layout(Rect::new(0, 0, self.size.0, self.size.1), self)
    }

    /// Rows of requests the list shows at once.
    pub fn list_height(&self) -> usize {
        (self.areas().list.height as usize).saturating_sub(1).max(1)
    }

    fn detail_height(&self) -> usize {
        (self.areas().detail.height as usize).max(1)
    }

    /// The largest scroll that still fills the detail: the last lines, wrapped, fit below it.
    fn max_scroll(&self) -> usize {
        let lines = self.tab_lines();
        let width = self.areas().detail.width;
        let height = self.detail_height();
        let mut rows = 0;
        for (i, line) in lines.iter().enumerate().rev() {
            rows += ui::wrapped_rows(line, width);
            if rows > height {
                return i + 1;
            }
        }
        0
    }

    fn set_status(&mut self, status: Status) {
        self.status = Some((status, self.now_us));
    }

    fn info(&mut self, text: impl Into<String>) {
        self.set_status(Status::info(text));
    }

    fn error(&mut self, text: impl Into<String>) {
        self.set_status(Status::error(text));
    }

    // ----- selection and list -----

    fn select(&mut self, index: Option<usize>) {
        self.selected = index.map(|i| i.min(self.view.len().saturating_sub(1)));
        if self.view.is_empty() {
            self.selected = None;
        }
    }

    fn move_by(&mut self, delta: isize) {
        if self.view.is_empty() {
            return;
        }
        self.follow = false;
        let current = self.selected.unwrap_or(self.view.len() - 1) as isize;
        let next = (current + delta).clamp(0, self.view.len() as isize - 1);
        self.select(Some(next as usize));
    }

    fn move_to(&mut self, index: usize) {
        if self.view.is_empty() {
            return;
        }
        self.follow = false;
        self.select(Some(index));
    }

    fn rebuild_view(&mut self) {
        let keep = self.selected_row();
        self.view = (0..self.rows.len())
            .filter(|&i| self.filter.matches(&self.rows, i))
            .map(|i| i as u32)
            .collect();
        let index = match keep {
            _ if self.follow => self.view.len().checked_sub(1),
            Some(row) => Some(self.view.partition_point(|&r| (r as usize) < row)),
            None => self.view.len().checked_sub(1),
        };
        self.select(index);
    }

    fn rows_added(&mut self, from: usize) {
        for i in from..self.rows.len() {
            if self.filter.matches(&self.rows, i) {
                self.view.push(i as u32);
            }
        }
        if self.selected.is_none() || (self.follow && self.screen == Screen::List) {
            self.select(self.view.len().checked_sub(1));
        }
    }

    /// Keeps the selection on screen, the detail in step with it and the scroll in range.
    fn settle(&mut self) {
        let height = self.list_height();
        if let Some(selected) = self.selected {
            if selected < self.list_offset {
                self.list_offset = selected;
            } else if selected >= self.list_offset + height {
                self.list_offset = selected + 1 - height;
            }
        }
        let max_offset = self.view.len().saturating_sub(height);
        self.list_offset = self.list_offset.min(max_offset);
        if self.screen == Screen::Detail {
            self.sync_detail();
        }
        self.scroll = self.scroll.min(self.max_scroll());
        if let Some((_, at)) = &self.status {
            if self.now_us - at > STATUS_US {
                self.status = None;
            }
        }
    }

    // ----- the detail -----

    fn load(&mut self, id: &str) -> Result<Loaded, String> {
        if let Some(detail) = &self.detail {
            if detail.id == id {
                if let Some(loaded) = &detail.loaded {
                    return Ok(loaded.clone());
                }
            }
        }
        match self.history.load(id) {
            Ok(Some(loaded)) => Ok(loaded),
            Ok(None) => Err(format!("{id} is no longer in the store")),
            Err(err) => Err(format!("cannot read {id} from the store: {err:#}")),
        }
    }

    fn sync_detail(&mut self) {
        let Some(id) = self.selected_id().map(str::to_string) else {
            self.detail = None;
            self.diff = None;
            return;
        };
        if self.detail.as_ref().map(|d| d.id.as_str()) != Some(id.as_str()) {
            let (loaded, error) = match self.history.load(&id) {
                Ok(Some(loaded)) => (Some(loaded), None),
                Ok(None) => (None, Some(format!("{id} is no longer in the store"))),
                Err(err) => (
                    None,
                    Some(format!("cannot read {id} from the store: {err:#}")),
                ),
            };
            self.detail = Some(Detail {
                id: id.clone(),
                loaded,
                error,
                tabs: [None, None, None],
            });
            self.scroll = 0;
        }
        if self.tab == Tab::Diff {
            let current = self.diff.as_ref().map(|d| d.target.as_str());
            if current != Some(id.as_str()) {
                self.compute_diff();
            }
        } else {
            let offset = self.utc_offset;
            let checks = self.checks.clone();
            let detail = self.detail.as_mut().expect("just loaded");
            let slot = &mut detail.tabs[self.tab.index()];
            if slot.is_none() {
                *slot = Some(match (&detail.loaded, &detail.error) {
                    (Some(loaded), _) => match self.tab {
                        Tab::Request => detail::request_tab(loaded, offset),
                        Tab::Response => detail::response_tab(loaded),
                        _ => detail::signature_tab(
                            loaded,
                            resigner_for(checks.as_ref(), &loaded.stored).map(|(name, _)| name),
                        ),
                    },
                    (None, error) => vec![Line::raw(error.clone().unwrap_or_default())],
                });
            }
        }
    }

    fn open_tab(&mut self, tab: Tab) {
        if self.selected.is_none() {
            return;
        }
        if self.tab != tab || self.screen != Screen::Detail {
            self.scroll = 0;
        }
        self.screen = Screen::Detail;
        self.tab = tab;
    }

    fn previous_of_same_kind(&self, row: usize) -> Option<usize> {
        (0..row).rev().find(|&i| self.rows.same_kind(i, row))
    }

    /// Recomputes the Diff tab for the selection in the current diff mode.
    fn compute_diff(&mut self) {
        let Some(row) = self.selected_row() else {
            return;
        };
        let target = self.rows.id(row).to_string();
        let (base, title) = match &self.diff_mode {
            None => {
                self.diff = Some(DiffView {
                    base: String::new(),
                    target,
                    lines: vec![
                        Line::raw("No comparison chosen."),
                        Line::raw(""),
                        Line::raw(
                            "  m  marks a request; then d on another compares it with the mark",
                        ),
                        Line::raw("  D  compares with the previous request of the same event type"),
                        Line::raw("     (the same path when the event type is unknown)"),
                    ],
                });
                return;
            }
            Some(DiffMode::Marked) => match &self.marked {
                Some(marked) => (marked.clone(), "Compared with the marked request"),
                None => {
                    self.diff = Some(DiffView {
                        base: String::new(),
                        target,
                        lines: vec![Line::raw("No request is marked: press m on one first.")],
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
                        lines: vec![Line::raw(format!(
                            "No earlier request with the {kind} to compare with."
                        ))],
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
                detail::diff_lines(title, &old, &new, &d, self.utc_offset)
            }
            (Err(e), _) | (_, Err(e)) => vec![Line::raw(e)],
        };
        self.diff = Some(DiffView {
            base,
            target,
            lines,
        });
        self.scroll = 0;
    }

    fn start_diff(&mut self, mode: DiffMode) {
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

    // ----- actions -----

    fn replay(&mut self, resign: bool) -> Vec<Effect> {
        let Some(id) = self.selected_id().map(str::to_string) else {
            self.error("no request selected");
            return vec![];
        };
        let loaded = match self.load(&id) {
            Ok(loaded) => loaded,
            Err(e) => {
                self.error(e);
                return vec![];
            }
        };
        if resign {
            if let Err(e) = resigner_for(self.checks.as_ref(), &loaded.stored) {
                self.error(e);
                return vec![];
            }
        }
        let body = loaded.stored.body.clone();
        self.replay_effect(
            loaded,
            body,
            resign,
            if resign { "re-signed replay" } else { "replay" },
        )
    }

    fn replay_effect(
        &mut self,
        loaded: Loaded,
        body: Bytes,
        resign: bool,
        label: &'static str,
    ) -> Vec<Effect> {
        if self.session.mode == Mode::Inspect
            && self.session.forward.is_none()
            && loaded.forward_target.is_none()
        {
            self.error(format!(
                "{} was never forwarded: start inspect with --forward TARGET to replay it",
                loaded.stored.summary.id
            ));
            return vec![];
        }
        let resigner = if resign {
            match resigner_for(self.checks.as_ref(), &loaded.stored) {
                Ok((_, resigner)) => Some(resigner),
                Err(e) => {
                    self.error(e);
                    return vec![];
                }
            }
        } else {
            None
        };
        match build_replay(&loaded, body, resigner.as_ref(), self.now_us / 1_000_000) {
            Ok((head, body)) => {
                self.info(format!("sending {label} of {}…", loaded.stored.summary.id));
                vec![Effect::Replay {
                    original: loaded.stored.summary.id.clone(),
                    head,
                    body,
                    recorded_target: loaded.forward_target.clone(),
                    label,
                }]
            }
            Err(e) => {
                self.error(e);
                vec![]
            }
        }
    }

    fn edit(&mut self) -> Vec<Effect> {
        let Some(id) = self.selected_id().map(str::to_string) else {
            self.error("no request selected");
            return vec![];
        };
        let loaded = match self.load(&id) {
            Ok(loaded) => loaded,
            Err(e) => {
                self.error(e);
                return vec![];
            }
        };
        let decoded = body::decode(&loaded.stored.headers, &loaded.stored.body);
        let gzip = decoded
            .note
            .as_deref()
            .is_some_and(|n| n.starts_with("gzip:"));
        if decoded.note.is_some() && !gzip {
            self.error("this body's encoding cannot be edited and re-encoded; r replays it as is");
            return vec![];
        }
        let bytes = decoded.bytes.into_owned();
        let extension = if serde_json::from_slice::<serde_json::Value>(&bytes).is_ok() {
            "json"
        } else if std::str::from_utf8(&bytes).is_ok() {
            "txt"
        } else {
            self.error("binary bodies cannot be edited as text; r replays it as is");
            return vec![];
        };
        vec![Effect::Edit {
            original: id,
            body: bytes,
            extension,
            gzip,
        }]
    }

    fn edited(&mut self, original: String, body: Result<Vec<u8>, String>) -> Vec<Effect> {
        let body = match body {
            Ok(body) => body,
            Err(e) => {
                self.error(e);
                return vec![];
            }
        };
        let loaded = match self.load(&original) {
            Ok(loaded) => loaded,
            Err(e) => {
                self.error(e);
                return vec![];
            }
        };
        if body == loaded.stored.body.as_ref() {
            self.info("body unchanged: nothing replayed (r replays as is)");
            return vec![];
        }
        let resign = resigner_for(self.checks.as_ref(), &loaded.stored).is_ok();
        self.replay_effect(
            loaded,
            Bytes::from(body),
            resign,
            if resign {
                "edited, re-signed replay"
            } else {
                "edited replay"
            },
        )
    }

    fn copy_curl(&mut self) -> Vec<Effect> {
        let Some(id) = self.selected_id().map(str::to_string) else {
            self.error("no request selected");
            return vec![];
        };
        match self.load(&id) {
            Ok(loaded) => {
                let target = self
                    .session
                    .forward
                    .clone()
                    .or_else(|| {
                        loaded
                            .forward_target
                            .as_deref()
                            .map(base_of_target(&loaded))
                    })
                    .or_else(|| self.session.listen.as_ref().map(|a| format!("http://{a}")))
                    .unwrap_or_else(|| format!("http://127.0.0.1:{}", crate::cli::DEFAULT_PORT));
                vec![Effect::Copy {
                    text: super::actions::curl(&loaded.stored, &target),
                    what: format!("curl command for {id} (to {target})"),
                }]
            }
            Err(e) => {
                self.error(e);
                vec![]
            }
        }
    }

    fn save(&mut self, path: String, id: String) -> Vec<Effect> {
        if path.trim().is_empty() {
            self.error("no file name given: nothing saved");
            return vec![];
        }
        match self.load(&id) {
            Ok(loaded) => match super::actions::fixture_json(&loaded.stored) {
                Ok(contents) => vec![Effect::Save {
                    path: PathBuf::from(path.trim()),
                    contents,
                }],
                Err(e) => {
                    self.error(e);
                    vec![]
                }
            },
            Err(e) => {
                self.error(e);
                vec![]
            }
        }
    }

    // ----- keys -----

    fn key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if self.help {
            self.help = false;
            return vec![];
        }
        if self.input.is_some() {
            return self.input_key(key);
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('c') if ctrl => self.quit = true,
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Char('?') | KeyCode::F(1) => self.help = true,
            KeyCode::Char('/') => {
                self.input = Some(Input {
                    kind: InputKind::Filter,
                    text: self.filter_text.clone(),
                    previous: self.filter_text.clone(),
                    target: None,
                });
            }
            KeyCode::Char('f') => {
                self.follow = !self.follow;
                if self.follow {
                    self.select(self.view.len().checked_sub(1));
                    self.info("follow on: the newest request stays selected");
                } else {
                    self.info("follow off");
                }
            }
            KeyCode::Char('m') => match self.selected_id().map(str::to_string) {
                Some(id) if self.marked.as_deref() == Some(id.as_str()) => {
                    self.marked = None;
                    self.info(format!("unmarked {id}"));
                }
                Some(id) => {
                    self.info(format!(
                        "marked {id}: press d on another request to compare"
                    ));
                    self.marked = Some(id);
                    if self.diff_mode == Some(DiffMode::Marked) {
                        self.diff = None;
                    }
                }
                None => self.error("no request selected"),
            },
            KeyCode::Char('d') => self.start_diff(DiffMode::Marked),
            KeyCode::Char('D') => self.start_diff(DiffMode::Previous),
            KeyCode::Char('r') => return self.replay(false),
            KeyCode::Char('R') => return self.replay(true),
            KeyCode::Char('e') => return self.edit(),
            KeyCode::Char('y') => return self.copy_curl(),
            KeyCode::Char('s') => match self.selected_id().map(str::to_string) {
                Some(id) => {
                    let text = format!("fixtures/{id}.json");
                    self.input = Some(Input {
                        kind: InputKind::SavePath,
                        text,
                        previous: String::new(),
                        target: Some(id),
                    });
                }
                None => self.error("no request selected"),
            },
            KeyCode::Enter => self.open_tab(if self.screen == Screen::Detail {
                self.tab
            } else {
                Tab::Request
            }),
            KeyCode::Esc => match self.screen {
                Screen::Detail => {
                    self.screen = Screen::List;
                    if self.follow {
                        self.select(self.view.len().checked_sub(1));
                    }
                }
                Screen::List if !self.filter_text.is_empty() => self.set_filter(String::new()),
                Screen::List => self.status = None,
            },
            KeyCode::Tab => self.open_tab(if self.screen == Screen::Detail {
                self.tab.step(1)
            } else {
                self.tab
            }),
            KeyCode::BackTab => self.open_tab(if self.screen == Screen::Detail {
                self.tab.step(-1)
            } else {
                self.tab
            }),
            KeyCode::Char(c @ '1'..='4') if self.screen == Screen::Detail => {
                self.open_tab(Tab::ALL[c as usize - '1' as usize])
            }
            KeyCode::Left if self.screen == Screen::Detail => self.open_tab(self.tab.step(-1)),
            KeyCode::Right if self.screen == Screen::Detail => self.open_tab(self.tab.step(1)),
            KeyCode::Char('n') => self.move_by(1),
            KeyCode::Char('p') => self.move_by(-1),
            code => match self.screen {
                Screen::List => self.list_key(code),
                Screen::Detail => self.detail_key(code),
            },
        }
        vec![]
    }

    fn list_key(&mut self, code: KeyCode) {
        let page = self.list_height() as isize;
        match code {
            KeyCode::Up | KeyCode::Char('k') => self.move_by(-1),
            KeyCode::Down | KeyCode::Char('j') => self.move_by(1),
            KeyCode::PageUp => self.move_by(-page),
            KeyCode::PageDown => self.move_by(page),
            KeyCode::Home | KeyCode::Char('g') => self.move_to(0),
            KeyCode::End | KeyCode::Char('G') => self.move_to(self.view.len().saturating_sub(1)),
            _ => {}
        }
    }

    fn detail_key(&mut self, code: KeyCode) {
        let page = self.detail_height().saturating_sub(1).max(1);
        match code {
            KeyCode::Up | KeyCode::Char('k') => self.scroll = self.scroll.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => self.scroll += 1,
            KeyCode::PageUp => self.scroll = self.scroll.saturating_sub(page),
            KeyCode::PageDown | KeyCode::Char(' ') => self.scroll += page,
            KeyCode::Home | KeyCode::Char('g') => self.scroll = 0,
            KeyCode::End | KeyCode::Char('G') => self.scroll = usize::MAX,
            _ => {}
        }
    }

    fn set_filter(&mut self, text: String) {
        self.filter = Filter::parse(&text);
        self.filter_text = text;
        self.rebuild_view();
    }

    fn input_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(mut input) = self.input.take() else {
            return vec![];
        };
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let mut done = false;
        let mut cancelled = false;
        match key.code {
            KeyCode::Esc => cancelled = true,
            KeyCode::Char('c') if ctrl => cancelled = true,
            KeyCode::Enter => done = true,
            KeyCode::Backspace => {
                input.text.pop();
            }
            KeyCode::Char('u') if ctrl => input.text.clear(),
            KeyCode::Char('w') if ctrl => {
                let trimmed = input.text.trim_end().len();
                let cut = input.text[..trimmed].rfind(' ').map_or(0, |i| i + 1);
                input.text.truncate(cut);
            }
            KeyCode::Char(c) if !ctrl => input.text.push(c),
            _ => {}
        }
        match input.kind {
            InputKind::Filter => {
                if cancelled {
                    let previous = input.previous.clone();
                    self.set_filter(previous);
                } else if input.text != self.filter_text {
                    self.set_filter(input.text.clone());
                }
                if done && !self.filter_text.is_empty() {
                    let shown = self.view.len();
                    self.info(format!("filter: {shown} of {} requests", self.rows.len()));
                }
                if !done && !cancelled {
                    self.input = Some(input);
                }
                vec![]
            }
            InputKind::SavePath => {
                if cancelled {
                    self.info("not saved");
                    vec![]
                } else if done {
                    let id = input.target.clone().unwrap_or_default();
                    self.save(input.text, id)
                } else {
                    self.input = Some(input);
                    vec![]
                }
            }
        }
    }

    fn click(&mut self, column: u16, row: u16) {
        let areas = self.areas();
        let inside =
            |r: Rect| column >= r.x && column < r.x + r.width && row >= r.y && row < r.y + r.height;
        if inside(areas.list) && row > areas.list.y {
            let index = self.list_offset + (row - areas.list.y - 1) as usize;
            if index < self.view.len() {
                self.move_to(index);
            }
        } else if inside(areas.tabs) {
            let mut x = areas.tabs.x;
            for tab in Tab::ALL {
                let width = ui::tab_width(tab);
                if column >= x && column < x + width {
                    self.open_tab(tab);
                }
                x += width;
            }
        }
    }
}

/// The base of a recorded forward URL: the URL less the request path it ends with.
fn base_of_target(loaded: &Loaded) -> impl Fn(&str) -> String + '_ {
    move |url: &str| {
        url.strip_suffix(loaded.stored.summary.path.as_str())
            .unwrap_or(url)
            .to_string()
    }
}

/// The head and body of a replay of `loaded` with `body`: same method, path and headers (the
/// length fixed up), linked to the original, and re-signed when a signer is given.
pub fn build_replay(
    loaded: &Loaded,
    body: Bytes,
    resigner: Option<&Resigner>,
    now_unix: i64,
) -> Result<(RequestHead, Bytes), String> {
    let stored = &loaded.stored;
    let mut headers: HeaderList = stored.headers.clone();
    for (name, value) in headers.iter_mut() {
        if name.eq_ignore_ascii_case("content-length") {
            *value = body.len().to_string().into_bytes();
        }
    }
    if let Some(resigner) = resigner {
        resigner
            .apply(&mut headers, &body, now_unix)
            .map_err(|e| format!("{e:#}"))?;
    }
    let head = RequestHead {
        replay_of: Some(stored.summary.id.clone()),
        ..RequestHead::new(
            stored.summary.method.clone(),
            stored.summary.path.clone(),
            headers,
        )
    };
    Ok((head, body))
}

/// The one place the inspector's state changes.
pub fn update(app: &mut App, message: Message) -> Vec<Effect> {
    let effects = match message {
        Message::Key(key) => app.key(key),
        Message::Scroll(lines) => {
            if app.help {
                app.help = false;
            } else if app.screen == Screen::Detail {
                app.scroll = (app.scroll as isize + lines as isize).max(0) as usize;
            } else {
                app.move_by(lines as isize);
            }
            vec![]
        }
        Message::Click(column, row) => {
            app.click(column, row);
            vec![]
        }
        Message::Paste(text) => {
            if let Some(input) = &mut app.input {
                input.text.push_str(&text.replace(['\n', '\r'], " "));
                if input.kind == InputKind::Filter {
                    let text = input.text.clone();
                    app.set_filter(text);
                }
            }
            vec![]
        }
        Message::Resize(width, height) => {
            app.size = (width, height);
            vec![]
        }
        Message::Engine(EngineEvent::Listening {
            addr,
            forward,
            store,
        }) => {
            app.session.listen = Some(addr.to_string());
            app.session.forward = forward;
            app.session.store = store;
            vec![]
        }
        Message::Engine(EngineEvent::Relay(state)) => {
            app.session.relay = Some(state.short());
            vec![]
        }
        Message::Engine(EngineEvent::Request(summary)) => {
            let from = app.rows.len();
            app.rows.push_summary(&summary);
            app.rows_added(from);
            vec![]
        }
        Message::Tick(now) => {
            app.now_us = now;
            vec![]
        }
        Message::Poll => {
            let from = app.rows.len();
            let mut rows = std::mem::take(&mut app.rows);
            let polled = app.history.poll(&mut rows);
            app.rows = rows;
            match polled {
                Ok(0) => {}
                Ok(_) => app.rows_added(from),
                Err(e) => app.error(format!("cannot read new requests: {e:#}")),
            }
            vec![]
        }
        Message::Edited { original, body } => app.edited(original, body),
        Message::Status(status) => {
            app.set_status(status);
            vec![]
        }
    };
    app.settle();
    effects
}
