//! What can happen to the inspector ([`Message`]) and what it asks the outside world to do
//! ([`Effect`]).

use std::path::PathBuf;

use bytes::Bytes;
use ratatui::crossterm::event::KeyEvent;

use crate::engine::{EngineEvent, RequestHead};

/// Everything [`super::app::update`] reacts to.
#[derive(Debug)]
pub enum Message {
    /// A key was pressed (releases and repeats are filtered out before this).
    Key(KeyEvent),
    /// The mouse wheel moved by this many lines (negative: up).
    Scroll(i32),
    /// A left click at (column, row).
    Click(u16, u16),
    /// Text was pasted.
    Paste(String),
    /// The terminal is now this many columns and rows.
    Resize(u16, u16),
    /// Something happened in the engine.
    Engine(EngineEvent),
    /// Time passed: microseconds since the epoch (UTC).
    Tick(i64),
    /// Look for requests that others recorded in the store (inspect mode).
    Poll,
    /// The editor closed: the edited request `original` as a message (see [`super::edit`]), or
    /// why there is none.
    Edited {
        /// The request that was edited.
        original: String,
        /// The edited file.
        text: Result<Vec<u8>, String>,
    },
    /// An edited replay is being sent as the request with this id.
    EditedReplay(String),
    /// An action finished; show this in the status line.
    Status(Status),
}

/// A line for the status bar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// What to say.
    pub text: String,
    /// Whether it reports a failure.
    pub error: bool,
}

impl Status {
    /// A neutral message.
    pub fn info(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            error: false,
        }
    }

    /// A failure.
    pub fn error(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            error: true,
        }
    }
}

/// Work with side effects, done by the event loop after an update.
#[derive(Debug)]
pub enum Effect {
    /// Send this request through the engine (stored as a new request, forwarded).
    Replay {
        /// The request it replays.
        original: String,
        /// Method, path, headers, `replay_of`.
        head: Box<RequestHead>,
        /// The body.
        body: Bytes,
        /// Where the original was forwarded, without its path (an edit may change the path),
        /// for when the inspector has no target.
        recorded_base: Option<String>,
        /// How to describe it: "replay", "re-signed replay", "edited replay".
        label: &'static str,
        /// The user edited it (`e`): the inspector marks the new request.
        edited: bool,
    },
    /// Open `text` in `$EDITOR` (terminal suspended) and answer with [`Message::Edited`].
    Edit {
        /// The request being edited.
        original: String,
        /// The request as an editable HTTP message.
        text: String,
    },
    /// Put this text on the clipboard (OSC 52).
    Copy {
        /// The text.
        text: String,
        /// What it is, for the status line.
        what: String,
    },
    /// Hand the terminal back and stop the process (Ctrl-Z); take it again when continued.
    Suspend,
    /// Turn mouse capture on or off.
    Mouse(bool),
    /// Stop accepting requests (quitting waits for those in flight).
    StopAccepting,
    /// Write `contents` to a new file at `path`.
    Save {
        /// Where.
        path: PathBuf,
        /// What.
        contents: String,
    },
}
