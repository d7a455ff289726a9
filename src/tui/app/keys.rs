//! The key map: which key does what on which screen, the prompts, and mouse clicks.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;

use super::{App, DiffMode, Input, InputKind, Mode, Overlay, Screen, Tab};
use crate::tui::filter::Filter;
use crate::tui::layout;
use crate::tui::message::Effect;

impl App {
    pub(super) fn key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if self.overlay.is_some() {
            self.overlay_key(key.code);
            return vec![];
        }
        if self.copy_menu {
            self.copy_menu = false;
            return match key.code {
                KeyCode::Char(c @ ('c' | 'b' | 'i' | 'h')) => self.copy(c),
                _ => {
                    self.info("nothing copied");
                    vec![]
                }
            };
        }
        if self.input.is_some() {
            return self.input_key(key);
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let quit_key = key.code == KeyCode::Char('q') || (ctrl && key.code == KeyCode::Char('c'));
        if self.confirm_quit {
            if quit_key || matches!(key.code, KeyCode::Char('y') | KeyCode::Enter) {
                return self.begin_quit();
            }
            self.confirm_quit = false;
            self.info("still listening");
            return vec![];
        }
        if self.quitting && quit_key {
            self.quit = true;
            self.quit_at_once = true;
            return vec![];
        }
        match key.code {
            KeyCode::Char('c') if ctrl => return self.begin_quit(),
            KeyCode::Char('q') if self.session.mode == Mode::Listen => self.confirm_quit = true,
            KeyCode::Char('q') => return self.begin_quit(),
            KeyCode::Char('?') | KeyCode::F(1) => self.open_overlay(Overlay::Help),
            KeyCode::Char('!') => self.open_overlay(Overlay::Messages),
            KeyCode::Char('z') if ctrl => return vec![Effect::Suspend],
            KeyCode::Char('M') => {
                self.mouse = !self.mouse;
                self.info(if self.mouse {
                    "mouse on: the wheel scrolls, a click selects (M turns it off)"
                } else {
                    "mouse off: the terminal selects and copies text (M turns it back on)"
                });
                return vec![Effect::Mouse(self.mouse)];
            }
            KeyCode::Char('h') if self.screen == Screen::Detail => {
                if self.areas().list.height > 0 {
                    self.list_focused = true;
                } else {
                    self.screen = Screen::List;
                }
            }
            KeyCode::Char('l') if self.screen == Screen::List => self.open_tab(Tab::Request),
            KeyCode::Char('l') if self.screen == Screen::Detail => self.list_focused = false,
            KeyCode::Char('d') if ctrl => self.half_page(1),
            KeyCode::Char('u') if ctrl => self.half_page(-1),
            KeyCode::Char('/') if self.screen == Screen::Detail => {
                let text = self
                    .search
                    .as_ref()
                    .map(|s| s.query.clone())
                    .unwrap_or_default();
                self.input = Some(Input {
                    kind: InputKind::Search,
                    previous: text.clone(),
                    text,
                    target: None,
                });
            }
            KeyCode::Char('n') if self.screen == Screen::Detail && self.search.is_some() => {
                self.next_match(1)
            }
            KeyCode::Char('N') if self.screen == Screen::Detail && self.search.is_some() => {
                self.next_match(-1)
            }
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
            KeyCode::Char('o') => self.start_diff(DiffMode::Original),
            KeyCode::Char('r') => return self.replay(false),
            KeyCode::Char('R') => return self.replay(true),
            KeyCode::Char('e') => return self.edit(),
            KeyCode::Char('y') if self.selected.is_some() => self.copy_menu = true,
            KeyCode::Char('y') => self.error("no request selected"),
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
                Screen::Detail if self.list_focused => self.list_focused = false,
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
                Screen::Detail if self.list_focused => self.list_key(code),
                Screen::List => self.list_key(code),
                Screen::Detail => self.detail_key(code),
            },
        }
        vec![]
    }

    pub(super) fn list_key(&mut self, code: KeyCode) {
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

    pub(super) fn detail_key(&mut self, code: KeyCode) {
        let page = self.detail_height().saturating_sub(1).max(1);
        let step = (self.areas().detail.width as usize / 2).max(1);
        match code {
            KeyCode::Char('w') => {
                self.wrap = !self.wrap;
                self.hscroll = 0;
                self.scroll = 0;
                self.info(if self.wrap {
                    "wrap on: long lines wrap at word boundaries"
                } else {
                    "wrap off: H and L scroll sideways"
                });
            }
            KeyCode::Char('L') if !self.wrap => {
                let widest = self.tab_doc().map_or(0, |d| d.max_width());
                self.hscroll = (self.hscroll + step).min(widest.saturating_sub(step));
            }
            KeyCode::Char('H') if !self.wrap => self.hscroll = self.hscroll.saturating_sub(step),
            KeyCode::Up | KeyCode::Char('k') => self.scroll = self.scroll.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => self.scroll += 1,
            KeyCode::PageUp => self.scroll = self.scroll.saturating_sub(page),
            KeyCode::PageDown | KeyCode::Char(' ') => self.scroll += page,
            KeyCode::Home | KeyCode::Char('g') => self.scroll = 0,
            KeyCode::End | KeyCode::Char('G') => self.scroll = usize::MAX,
            _ => {}
        }
    }

    pub(super) fn set_filter(&mut self, text: String) {
        self.filter = Filter::parse(&text);
        self.filter_text = text;
        self.rebuild_view();
    }

    pub(super) fn input_key(&mut self, key: KeyEvent) -> Vec<Effect> {
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
                let unknown = self.filter.unknown();
                if !unknown.is_empty() {
                    self.error(format!(
                        "unknown filter term{} {}: searched as plain words (known: path: event: method: id: sig: status: replay schema; ? lists them)",
                        if unknown.len() == 1 { "" } else { "s" },
                        unknown.join(" ")
                    ));
                } else if done && !self.filter_text.is_empty() {
                    let shown = self.view.len();
                    self.info(format!("filter: {shown} of {} requests", self.rows.len()));
                }
                if !done && !cancelled {
                    self.input = Some(input);
                }
                vec![]
            }
            InputKind::Search => {
                if cancelled {
                    self.search = None;
                } else if self.search.as_ref().map(|s| s.query.as_str()) != Some(&input.text) {
                    self.find(&input.text);
                }
                if done {
                    match &self.search {
                        Some(search) if search.matches.is_empty() => {
                            let text = format!("{:?} is not in this tab", search.query);
                            self.error(text)
                        }
                        Some(search) => {
                            let text =
                                format!("{} matches: n next, N previous", search.matches.len());
                            self.info(text)
                        }
                        None => {}
                    }
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

    fn open_overlay(&mut self, overlay: Overlay) {
        self.overlay = Some(overlay);
        self.overlay_scroll = match overlay {
            Overlay::Help => 0,
            Overlay::Messages => usize::MAX,
        };
    }

    /// In an overlay, the scrolling keys scroll it and any other key closes it.
    fn overlay_key(&mut self, code: KeyCode) {
        let page = (self.size.1 as usize).saturating_sub(6).max(1);
        let scroll = &mut self.overlay_scroll;
        match code {
            KeyCode::Down | KeyCode::Char('j') => *scroll = scroll.saturating_add(1),
            KeyCode::Up | KeyCode::Char('k') => *scroll = scroll.saturating_sub(1),
            KeyCode::PageDown | KeyCode::Char(' ') => *scroll = scroll.saturating_add(page),
            KeyCode::PageUp => *scroll = scroll.saturating_sub(page),
            KeyCode::Home | KeyCode::Char('g') => *scroll = 0,
            KeyCode::End | KeyCode::Char('G') => *scroll = usize::MAX,
            _ => self.overlay = None,
        }
    }

    /// Half a page down (`by` 1) or up (-1): the detail scrolls, the list moves.
    fn half_page(&mut self, by: isize) {
        match self.screen {
            Screen::Detail if !self.list_focused => {
                let half = (self.detail_height() / 2).max(1) as isize;
                self.scroll = (self.scroll as isize + by * half).max(0) as usize;
            }
            _ => {
                let half = (self.list_height() / 2).max(1) as isize;
                self.move_by(by * half);
            }
        }
    }

    /// Searches the tab shown for `query` and shows the first match from the top row on.
    fn find(&mut self, query: &str) {
        let Some(doc) = self.tab_doc() else {
            return;
        };
        let mut search = doc.search(query);
        let top = self.scroll;
        search.current = search
            .matches
            .iter()
            .position(|(line, range)| doc.row_of(*line, range.start) >= top)
            .unwrap_or(0);
        self.search = Some(search);
        self.show_match();
    }

    /// Moves to the next (`by` 1) or previous (-1) match, wrapping around.
    fn next_match(&mut self, by: isize) {
        let Some(search) = &mut self.search else {
            return;
        };
        let n = search.matches.len();
        if n == 0 {
            let text = format!("{:?} is not in this tab", search.query);
            self.error(text);
            return;
        }
        search.current = (search.current as isize + by).rem_euclid(n as isize) as usize;
        self.show_match();
    }

    /// Scrolls so the current match is on screen, a few rows from the top.
    fn show_match(&mut self) {
        let Some((line, range)) = self
            .search
            .as_ref()
            .and_then(|s| s.matches.get(s.current).cloned())
        else {
            return;
        };
        let Some(doc) = self.tab_doc() else {
            return;
        };
        let row = doc.row_of(line, range.start);
        let column =
            unicode_width::UnicodeWidthStr::width(&doc.lines()[line].text()[..range.start]);
        let height = self.detail_height();
        if row < self.scroll || row >= self.scroll + height {
            self.scroll = row.saturating_sub(height / 3);
        }
        if !self.wrap {
            let width = self.areas().detail.width as usize;
            if column < self.hscroll || column >= self.hscroll + width {
                self.hscroll = column.saturating_sub(width / 3);
            }
        }
    }

    pub(super) fn click(&mut self, column: u16, row: u16) {
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
                let width = layout::tab_width(tab.title());
                if column >= x && column < x + width {
                    self.open_tab(tab);
                }
                x += width;
            }
        }
    }
}
