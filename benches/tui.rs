//! The inspector at scale: a store of N requests (default 100,000; `cargo bench --bench tui --
//! 250000` for more), then
//! - open: stream the index out of SQLite into the inspector (what `inspect` does before the
//!   first frame), and the first frame;
//! - frames: update + draw through the real crossterm backend (escape sequences written to a
//!   sink) while moving through the list, scrolling a detail, switching tabs and diffing;
//! - memory: RSS after opening and after the frames, and the index's own heap.
//!
//! Prints one table.

use std::io::Write as _;
use std::time::{Duration, Instant};

use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use rusqlite::params;
use webhook_dev::store::{encode_headers, Durability, Store};
use webhook_dev::tui::app::{update, App, Mode, Session};
use webhook_dev::tui::history::StoreHistory;
use webhook_dev::tui::message::Message;
use webhook_dev::tui::rows::Rows;
use webhook_dev::tui::ui;

const EVENTS: &[(&str, &str)] = &[
    ("report.delivered", "/webhooks/avara"),
    ("study.access_requested", "/webhooks/avara"),
    ("task.completed", "/webhooks/avala"),
    ("invoice.paid", "/webhooks/stripe"),
    ("push", "/webhooks/github"),
];

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn populate(dir: &std::path::Path, n: usize) -> Duration {
    let started = Instant::now();
    Store::open(dir, Durability::Process).unwrap().close();
    let mut conn = rusqlite::Connection::open(webhook_dev::store::db_path(dir)).unwrap();
    conn.pragma_update(None, "synchronous", "OFF").unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut stmt = tx
            .prepare(
                "INSERT INTO requests (id, received_at, peer, method, path, headers, body, size,
                    event_type, sig_status, sig_profile, sig_reason, replay_of)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )
            .unwrap();
        let mut answer = tx
            .prepare(
                "INSERT INTO answers (request_seq, status, headers, body, fwd_target, fwd_status,
                    fwd_duration_ms, fwd_error)
                 VALUES (last_insert_rowid(), ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .unwrap();
        let mut ids = ulid::Generator::new();
        let start = chrono::Utc::now() - chrono::Duration::seconds(n as i64);
        let response_headers =
            encode_headers(&[("content-type".into(), b"application/json".to_vec())]);
        for i in 0..n {
            let (event, path) = EVENTS[i % EVENTS.len()];
            let received = start + chrono::Duration::milliseconds(i as i64 * 1000);
            let id = format!(
                "req_{}",
                ids.generate_from_datetime(received.into()).unwrap()
            );
            let padding = "x".repeat(400 + (i * 37) % 1200);
            let body = format!(
                r#"{{"type":"{event}","id":"evt_{i}","created":{},"data":{{"object":{{"id":"obj_{}","is_critical":{},"amount":{},"note":"{padding}"}}}}}}"#,
                received.timestamp(),
                i % 977,
                i % 7 == 0,
                i * 3
            );
            let headers = encode_headers(&[
                ("host".into(), b"127.0.0.1:9797".to_vec()),
                ("content-type".into(), b"application/json".to_vec()),
                ("webhook-id".into(), format!("msg_{i}").into_bytes()),
                (
                    "webhook-timestamp".into(),
                    received.timestamp().to_string().into_bytes(),
                ),
                (
                    "webhook-signature".into(),
                    b"v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=".to_vec(),
                ),
                ("content-length".into(), body.len().to_string().into_bytes()),
            ]);
            let (sig, reason) = match i % 10 {
                0 => ("invalid", Some("no signature matches (1 checked)")),
                1 => ("missing", Some("header webhook-signature is missing")),
                _ => ("verified", None),
            };
            let fwd_status: u16 = if i % 13 == 0 { 502 } else { 200 };
            stmt.execute(params![
                id,
                webhook_dev::model::format_time(&received),
                "127.0.0.1:50000",
                "POST",
                format!("{path}?n={}", i % 50),
                headers,
                body.as_bytes(),
                body.len() as i64,
                event,
                sig,
                "avara",
                reason,
                Option::<String>::None,
            ])
            .unwrap();
            answer
                .execute(params![
                    fwd_status,
                    response_headers,
                    br#"{"received":true}"#.as_slice(),
                    format!("http://localhost:3000{path}"),
                    fwd_status,
                    1.0 + (i % 50) as f64 / 3.0,
                    (fwd_status == 502).then_some("connection refused"),
                ])
                .unwrap();
        }
    }
    tx.commit().unwrap();
    started.elapsed()
}

fn key(code: KeyCode) -> Message {
    Message::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    eprintln!("populating a store with {n} requests…");
    let populated = populate(&store_dir, n);
    let db_size = std::fs::metadata(webhook_dev::store::db_path(&store_dir))
        .map(|m| m.len())
        .unwrap_or(0);
    let rss_start = rss_kib("VmRSS:");

    // Open: what `inspect` does before the first frame.
    let started = Instant::now();
    let mut rows = Rows::new();
    let history = StoreHistory::open(&store_dir, &mut rows, true).unwrap();
    let index_bytes = rows.heap_bytes();
    let mut app = App::new(
        rows,
        Box::new(history),
        Session {
            mode: Mode::Inspect,
            listen: None,
            forward: None,
            relay: None,
            store: store_dir.display().to_string(),
        },
    );
    update(&mut app, Message::Resize(120, 40));
    let mut terminal = Terminal::with_options(
        CrosstermBackend::new(std::io::sink()),
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, 120, 40)),
        },
    )
    .unwrap();
    terminal.draw(|f| ui::draw(f, &app)).unwrap();
    let open = started.elapsed();
    let rss_open = rss_kib("VmRSS:");

    // Frames: a session's worth of keys, each followed by a draw.
    let mut script: Vec<Message> = Vec::new();
    for _ in 0..300 {
        script.push(key(KeyCode::Up));
    }
    for _ in 0..50 {
        script.push(key(KeyCode::PageUp));
    }
    script.push(key(KeyCode::Home));
    for _ in 0..50 {
        script.push(key(KeyCode::PageDown));
    }
    script.push(key(KeyCode::End));
    script.push(key(KeyCode::Char('m')));
    for _ in 0..100 {
        script.push(key(KeyCode::Char('k')));
        script.push(key(KeyCode::Enter));
        script.push(key(KeyCode::Char('j')));
        script.push(key(KeyCode::Tab));
        script.push(key(KeyCode::Esc));
    }
    for _ in 0..50 {
        script.push(key(KeyCode::Char('k')));
        script.push(key(KeyCode::Char('D')));
        script.push(key(KeyCode::Char('d')));
        script.push(key(KeyCode::Esc));
    }
    script.push(key(KeyCode::Char('/')));
    for c in "stripe".chars() {
        script.push(key(KeyCode::Char(c)));
    }
    script.push(key(KeyCode::Enter));
    for _ in 0..100 {
        script.push(Message::Scroll(-3));
    }
    let mut frames = Vec::with_capacity(script.len());
    let mut draws = Vec::with_capacity(script.len());
    for message in script {
        let t = Instant::now();
        update(&mut app, message);
        let d = Instant::now();
        terminal.draw(|f| ui::draw(f, &app)).unwrap();
        draws.push(d.elapsed());
        frames.push(t.elapsed());
    }
    frames.sort();
    draws.sort();
    let rss_end = rss_kib("VmRSS:");
    let hwm = rss_kib("VmHWM:");

    let mut out = std::io::stdout().lock();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let _ = writeln!(
        out,
        "\ninspector benchmark: {n} stored requests, 120x40, {} cores, {cpu}",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let _ = writeln!(out, "| measure | value |");
    let _ = writeln!(out, "|---|---|");
    let _ = writeln!(
        out,
        "| store size (SQLite, bodies ~0.5-1.7 kB) | {:.1} MB (written in {:.1} s) |",
        db_size as f64 / 1e6,
        populated.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "| open: index {n} requests + first frame | {} |",
        ms(open)
    );
    let _ = writeln!(
        out,
        "| frame (update + draw), p50 | {} |",
        ms(percentile(&frames, 0.5))
    );
    let _ = writeln!(
        out,
        "| frame (update + draw), p99 | {} |",
        ms(percentile(&frames, 0.99))
    );
    let _ = writeln!(
        out,
        "| frame (update + draw), max | {} |",
        ms(*frames.last().unwrap())
    );
    let _ = writeln!(
        out,
        "| draw only, p50 / p99 | {} / {} |",
        ms(percentile(&draws, 0.5)),
        ms(percentile(&draws, 0.99))
    );
    let _ = writeln!(out, "| frames measured | {} |", frames.len());
    let _ = writeln!(
        out,
        "| index heap (rows, ids, interned strings) | {:.1} MB ({} B/request) |",
        index_bytes as f64 / 1e6,
        index_bytes / n.max(1)
    );
    let _ = writeln!(
        out,
        "| RSS before open / after open / after frames | {:.1} / {:.1} / {:.1} MB |",
        rss_start as f64 / 1024.0,
        rss_open as f64 / 1024.0,
        rss_end as f64 / 1024.0
    );
    let _ = writeln!(
        out,
        "| peak RSS (incl. populating the store) | {:.1} MB |",
        hwm as f64 / 1024.0
    );
}
