//! The inspector's state and [`update`]: every key, event and result goes through here. Nothing
//! here draws; the only outside work done in place is reading the store for the one request
//! shown. Everything else with a side effect is returned as an [`Effect`]: see `effects` for
//! the actions, `keys` for the key map and `diff` for the Diff tab.

mod diff;
mod effects;
mod keys;
mod live;

use chrono::FixedOffset;
use ratatui::layout::Rect;
use ratatui::text::Line;

use std::collections::{HashMap, HashSet, VecDeque};

use super::detail;
use super::doc::{Doc, Search};
use super::filter::Filter;
use super::history::{History, Loaded};
use super::layout::{self, Areas};
use super::message::{Effect, Message, Status};
use super::rows::Rows;
use super::theme::Theme;
use crate::checks::Checks;
use crate::engine::EngineEvent;

pub(crate) use effects::resigner_for;
pub use effects::MAX_COPY;

/// How long a status message stays.
const STATUS_US: i64 = 8_000_000;

/// How many status messages the log keeps.
pub(crate) const LOG_SIZE: usize = 500;

/// What is drawn over the screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overlay {
    /// `?`: every key.
    Help,
    /// `!`: the status messages so far.
    Messages,
}

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
    pub(crate) const ALL: [Tab; 4] = [Tab::Request, Tab::Response, Tab::Signature, Tab::Diff];

    /// The tab's title.
    pub(crate) fn title(self) -> &'static str {
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
pub(crate) enum DiffMode {
    /// The request marked with `m`.
    Marked,
    /// The previous request of the same event type (same path when there is none).
    Previous,
    /// The request the selection replays.
    Original,
}

/// A computed diff, ready to draw.
pub struct DiffView {
    /// The base request.
    pub base: String,
    /// The compared (selected) request.
    pub target: String,
    /// The lines.
    pub lines: Doc,
}

/// The whole request being shown, with its tab contents.
pub struct Detail {
    /// Its id.
    pub id: String,
    /// The request, or `None` when the store no longer has it.
    pub loaded: Option<Loaded>,
    /// Why it could not be read.
    pub error: Option<String>,
    tabs: [Option<Doc>; 3],
}

/// What a text prompt is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// `/`: the filter, applied as it is typed.
    Filter,
    /// `s`: where to save the fixture.
    SavePath,
    /// `/` in the detail: text to find in the tab shown.
    Search,
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
    /// First screen row of the detail drawn.
    pub scroll: usize,
    /// Long detail lines wrap (`w` turns it off for sideways scrolling).
    pub wrap: bool,
    /// Columns the detail is scrolled sideways when lines do not wrap.
    pub hscroll: usize,
    /// The search in the detail tab shown.
    pub search: Option<Search>,
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
    /// The overlay shown over everything (help, message log), if any.
    pub overlay: Option<Overlay>,
    /// First line of the overlay shown.
    pub overlay_scroll: usize,
    /// Every status message, oldest first (the last [`LOG_SIZE`]).
    pub log: VecDeque<(i64, Status)>,
    /// The edited replays sent from this inspector (marked `✎` in the list).
    pub edited_replays: HashSet<String>,
    /// `y` was pressed: the next key says what to copy.
    pub copy_menu: bool,
    /// Mouse capture is on (`M` turns it off so the terminal can select text).
    pub mouse: bool,
    /// In the detail, the list above it has the keys (`h`; `l` gives them back).
    pub list_focused: bool,
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
    /// The styles.
    pub theme: Theme,
    /// Set when the inspector should close.
    pub quit: bool,
    /// `q` on a live listener is waiting for a `y`.
    pub confirm_quit: bool,
    /// Quitting once the requests in flight are answered.
    pub quitting: bool,
    /// Quit without waiting for the requests in flight.
    pub quit_at_once: bool,
    checks: Option<Checks>,
    history: Box<dyn History>,
    /// Rows still waiting for their answer, by id.
    pending: HashMap<String, usize>,
    /// Ids the engine reported that the store's poll has not passed yet (it skips them).
    live: HashSet<String>,
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
            wrap: true,
            hscroll: 0,
            search: None,
            detail: None,
            diff: None,
            diff_mode: None,
            marked: None,
            filter_text: String::new(),
            filter: Filter::default(),
            input: None,
            overlay: None,
            overlay_scroll: 0,
            log: VecDeque::new(),
            mouse: true,
            copy_menu: false,
            edited_replays: HashSet::new(),
            list_focused: false,
            status: None,
            session,
            now_us: chrono::Utc::now().timestamp_micros(),
            utc_offset: *chrono::Local::now().offset(),
            size: (80, 24),
            theme: Theme::default(),
            quit: false,
            confirm_quit: false,
            quitting: false,
            quit_at_once: false,
            checks: None,
            history,
            pending: HashMap::new(),
            live: HashSet::new(),
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
    pub(crate) fn selected_row(&self) -> Option<usize> {
        self.selected.map(|s| self.view[s] as usize)
    }

    /// The id of the selection.
    pub fn selected_id(&self) -> Option<&str> {
        self.selected_row().map(|i| self.rows.id(i))
    }

    /// The document of the detail tab shown, once loaded.
    pub fn tab_doc(&self) -> Option<&Doc> {
        match self.tab {
            Tab::Diff => self.diff.as_ref().map(|d| &d.lines),
            tab => self
                .detail
                .as_ref()
                .and_then(|d| d.tabs[tab.index()].as_ref()),
        }
    }

    fn tab_doc_mut(&mut self) -> Option<&mut Doc> {
        match self.tab {
            Tab::Diff => self.diff.as_mut().map(|d| &mut d.lines),
            tab => self
                .detail
                .as_mut()
                .and_then(|d| d.tabs[tab.index()].as_mut()),
        }
    }

    fn areas(&self) -> Areas {
        layout::split(
            Rect::new(0, 0, self.size.0, self.size.1),
            self.screen == Screen::Detail,
        )
    }

    /// Rows of requests the list shows at once.
    pub fn list_height(&self) -> usize {
        (self.areas().list.height as usize).saturating_sub(1).max(1)
    }

    fn detail_height(&self) -> usize {
        (self.areas().detail.height as usize).max(1)
    }

    /// The largest scroll that still fills the detail: the last row at the bottom.
    fn max_scroll(&self) -> usize {
        let rows = self.tab_doc().map_or(0, Doc::row_count);
        rows.saturating_sub(self.detail_height())
    }

    /// Lays the tab shown out for the detail's width.
    fn lay_out_tab(&mut self) {
        let width = self.areas().detail.width;
        let wrap = self.wrap;
        if let Some(doc) = self.tab_doc_mut() {
            doc.lay_out(width, wrap);
        }
    }

    fn set_status(&mut self, status: Status) {
        if self.log.len() == LOG_SIZE {
            self.log.pop_front();
        }
        self.log.push_back((self.now_us, status.clone()));
        self.status = Some((status, self.now_us));
    }

    fn info(&mut self, text: impl Into<String>) {
        self.set_status(Status::info(text));
    }

    fn error(&mut self, text: impl Into<String>) {
        self.set_status(Status::error(text));
    }

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
            self.lay_out_tab();
        }
        self.scroll = self.scroll.min(self.max_scroll());
        if let Some((_, at)) = &self.status {
            if self.now_us - at > STATUS_US {
                self.status = None;
            }
        }
    }

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
                Ok(None) if self.pending.contains_key(&id) => (
                    None,
                    Some(format!(
                        "{id} has arrived and is being stored and forwarded: its detail shows once it is answered"
                    )),
                ),
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
            self.search = None;
        }
        if self.tab == Tab::Diff {
            let current = self.diff.as_ref().map(|d| d.target.as_str());
            if current != Some(id.as_str()) {
                self.compute_diff();
            }
        } else {
            let offset = self.utc_offset;
            let checks = self.checks.clone();
            let theme = self.theme.clone();
            let edits = self.edits_of_shown();
            let detail = self.detail.as_mut().expect("just loaded");
            let slot = &mut detail.tabs[self.tab.index()];
            if slot.is_none() {
                *slot = Some(match (&detail.loaded, &detail.error) {
                    (Some(loaded), _) => match self.tab {
                        Tab::Request => {
                            detail::request_tab(&theme, loaded, offset, edits.as_deref())
                        }
                        Tab::Response => detail::response_tab(&theme, loaded),
                        _ => detail::signature_tab(
                            &theme,
                            loaded,
                            resigner_for(checks.as_ref(), &loaded.stored).map(|(name, _)| name),
                        ),
                    },
                    (None, error) => Doc::from(vec![Line::raw(error.clone().unwrap_or_default())]),
                });
            }
        }
    }

    /// What the shown request changed from its original, when it is a replay whose original is
    /// still stored (only looked at for the Request tab).
    fn edits_of_shown(&mut self) -> Option<Vec<&'static str>> {
        if self.tab != Tab::Request {
            return None;
        }
        let detail = self.detail.as_ref()?;
        if detail.tabs[Tab::Request.index()].is_some() {
            return None;
        }
        let replay = detail.loaded.as_ref()?.stored.clone();
        let original = replay.summary.replay_of.clone()?;
        let original = self.history.load(&original).ok()??;
        Some(super::edit::differences(&original.stored, &replay))
    }

    fn open_tab(&mut self, tab: Tab) {
        if self.selected.is_none() {
            return;
        }
        if self.tab != tab || self.screen != Screen::Detail {
            self.scroll = 0;
            self.search = None;
        }
        self.screen = Screen::Detail;
        self.tab = tab;
    }

    fn previous_of_same_kind(&self, row: usize) -> Option<usize> {
        (0..row).rev().find(|&i| self.rows.same_kind(i, row))
    }
}

/// The one place the inspector's state changes.
pub fn update(app: &mut App, message: Message) -> Vec<Effect> {
    let effects = match message {
        Message::Key(key) => app.key(key),
        Message::Scroll(lines) => {
            if app.overlay.is_some() {
                app.overlay_scroll = (app.overlay_scroll as isize + lines as isize).max(0) as usize;
            } else if app.screen == Screen::Detail && !app.list_focused {
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
        Message::Engine(EngineEvent::Arrived(summary)) => {
            app.arrived(&summary);
            vec![]
        }
        Message::Engine(EngineEvent::Request(summary)) => {
            app.answered(&summary);
            vec![]
        }
        Message::Tick(now) => {
            app.now_us = now;
            vec![]
        }
        Message::Poll => {
            app.poll();
            vec![]
        }
        Message::Edited { original, text } => app.edited(original, text),
        Message::EditedReplay(id) => {
            app.edited_replays.insert(id);
            vec![]
        }
        Message::Status(status) => {
            app.set_status(status);
            vec![]
        }
    };
    app.settle();
    effects
}
