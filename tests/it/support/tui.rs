//! Building inspector states for tests: deterministic requests, an in-memory history, keys.

use bytes::Bytes;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use webhook_dev::model::RecordedResponse;
use webhook_dev::model::SchemaReport;
use webhook_dev::signature::{Status, Verdict};
use webhook_dev::store::StoredRequest;
use webhook_dev::summary::{ForwardSummary, RequestSummary};
use webhook_dev::tui::app::{update, App, Mode, Session};
use webhook_dev::tui::history::MemoryHistory;
use webhook_dev::tui::message::{Effect, Message};
use webhook_dev::tui::rows::Rows;
use webhook_dev::tui::ui;

/// 2026-11-25T12:00:00Z in seconds.
pub const T0: i64 = 1_795_608_000;

/// A request's description, with defaults for everything.
#[derive(Clone)]
pub struct Req {
    pub n: u32,
    pub method: &'static str,
    pub path: String,
    pub event: Option<&'static str>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    pub sig: Status,
    pub reason: Option<&'static str>,
    pub profile: Option<&'static str>,
    pub forward: Option<(u16, f64, Option<&'static str>)>,
    pub replay_of: Option<u32>,
    pub response_body: &'static str,
    pub schema: Option<SchemaReport>,
}

pub fn id(n: u32) -> String {
    format!("req_01JDTEST{n:018}")
}

impl Req {
    pub fn new(n: u32, body: &str) -> Req {
        Req {
            n,
            method: "POST",
            path: "/webhooks/avara".into(),
            event: Some("report.delivered"),
            headers: vec![
                ("host".into(), b"127.0.0.1:9797".to_vec()),
                ("content-type".into(), b"application/json".to_vec()),
                ("webhook-id".into(), format!("msg_{n}").into_bytes()),
                ("content-length".into(), body.len().to_string().into_bytes()),
            ],
            body: body.as_bytes().to_vec(),
            sig: Status::Verified,
            reason: None,
            profile: Some("avara"),
            forward: Some((200, 12.5, None)),
            replay_of: None,
            response_body: r#"{"received":true}"#,
            schema: None,
        }
    }

    pub fn stored(&self) -> StoredRequest {
        let received = chrono::DateTime::from_timestamp(T0 + i64::from(self.n) * 2, 0).unwrap();
        StoredRequest {
            summary: RequestSummary {
                id: id(self.n),
                received_at: webhook_dev::model::format_time(&received),
                method: self.method.into(),
                path: self.path.clone(),
                size: self.body.len() as u64,
                event_type: self.event.map(Into::into),
                signature: Verdict {
                    status: self.sig,
                    profile: self.profile.map(Into::into),
                    reason: self.reason.map(Into::into),
                },
                forward: self.forward.map(|(status, ms, error)| ForwardSummary {
                    status: Some(status),
                    duration_ms: ms,
                    error: error.map(Into::into),
                }),
                replay_of: self.replay_of.map(id),
                schema: self.schema.clone(),
            },
            peer: Some("127.0.0.1:50000".into()),
            headers: self.headers.clone(),
            body: Bytes::from(self.body.clone()),
            response: Some(RecordedResponse {
                status: self.forward.map_or(200, |f| f.0),
                headers: vec![("content-type".into(), b"application/json".to_vec())],
                body: Bytes::from_static(self.response_body.as_bytes()),
            }),
            forward_target: self
                .forward
                .map(|_| format!("http://localhost:3000{}", self.path)),
            answer_truncated: false,
        }
    }
}

/// Three Avara reports; the second flips `is_critical`.
pub fn sample() -> Vec<Req> {
    vec![
        Req::new(1, r#"{"type":"report.delivered","data":{"report_id":"r1","is_critical":false}}"#),
        Req::new(2, r#"{"type":"report.delivered","data":{"report_id":"r2","is_critical":true}}"#),
        Req {
            path: "/webhooks/stripe?live=0".into(),
            event: Some("invoice.paid"),
            sig: Status::Invalid,
            reason: Some("no signature matches (1 checked): was the body changed, or is this the test-mode secret?"),
            profile: Some("stripe"),
            forward: Some((502, 3.25, Some("could not forward to http://localhost:3000/webhooks/stripe?live=0: connection refused (is your handler running?)"))),
            schema: Some(SchemaReport {
                event: Some("invoice.paid".into()),
                problems: vec!["/amount_paid: \"1200\" is not of type \"integer\"".into()],
                answer_problems: vec![],
            }),
            ..Req::new(3, r#"{"id":"in_1","object":"invoice","amount_paid":1200}"#)
        },
    ]
}

pub fn session(mode: Mode) -> Session {
    Session {
        mode,
        listen: (mode == Mode::Listen).then(|| "127.0.0.1:9797".to_string()),
        forward: Some("http://localhost:3000".into()),
        relay: None,
        store: ".webhook-dev".into(),
    }
}

/// An inspector over `reqs`, at 120x40, UTC, "now" just after the last request.
pub fn app(reqs: &[Req], mode: Mode) -> App {
    let mut rows = Rows::new();
    let mut history = MemoryHistory::new();
    for r in reqs {
        let stored = r.stored();
        rows.push_summary(&stored.summary);
        history.insert(
            stored,
            r.forward
                .map(|_| format!("http://localhost:3000{}", r.path)),
        );
    }
    let mut app = App::new(rows, Box::new(history), session(mode));
    app.utc_offset = chrono::FixedOffset::east_opt(0).unwrap();
    let last = reqs.iter().map(|r| r.n).max().unwrap_or(0);
    update(
        &mut app,
        Message::Tick((T0 + i64::from(last) * 2 + 1) * 1_000_000),
    );
    update(&mut app, Message::Resize(120, 40));
    app
}

pub fn key(code: KeyCode) -> Message {
    Message::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

pub fn ch(c: char) -> Message {
    key(KeyCode::Char(c))
}

pub fn ctrl(c: char) -> Message {
    Message::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

pub fn press(app: &mut App, messages: impl IntoIterator<Item = Message>) -> Vec<Effect> {
    let mut effects = Vec::new();
    for m in messages {
        effects.extend(update(app, m));
    }
    effects
}

pub fn typed(text: &str) -> Vec<Message> {
    text.chars().map(ch).collect()
}

/// The screen as text.
pub fn render(app: &App) -> String {
    let (w, h) = app.size;
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| ui::draw(f, app)).unwrap();
    terminal.backend().to_string()
}
