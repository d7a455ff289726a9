//! The inspector's screens, drawn on ratatui's `TestBackend` and compared with committed insta
//! snapshots (`tests/it/snapshots/`). Review changes with `cargo insta review`.

use ratatui::crossterm::event::KeyCode;
use webhook_dev::tui::app::Mode;
use webhook_dev::tui::message::Message;

use crate::support::tui::*;

fn hostile() -> Req {
    let mut r = Req::new(4, "");
    r.body = b"\x1b]0;pwned\x07\x1b[2Jhello \xc2\x9b31m".to_vec();
    r.path = "/evil\u{1b}[2J?x=\u{7}".into();
    r.event = Some("evil\u{1b}]0;pwned\u{7}");
    r.headers = vec![("x-evil".into(), b"\xc2\x9b2J \x1b]0;pwned\x07".to_vec())];
    r.sig = webhook_dev::signature::Status::Missing;
    r.reason = Some("header webhook-signature is missing");
    r
}

#[test]
fn empty_listen() {
    let app = app(&[], Mode::Listen);
    insta::assert_snapshot!(render(&app));
}

#[test]
fn empty_inspect() {
    let app = app(&[], Mode::Inspect);
    insta::assert_snapshot!(render(&app));
}

#[test]
fn list() {
    let mut reqs = sample();
    let mut replay = Req::new(
        5,
        r#"{"type":"report.delivered","data":{"report_id":"r2","is_critical":true}}"#,
    );
    replay.replay_of = Some(2);
    reqs.push(replay);
    let mut app = app(&reqs, Mode::Listen);
    press(&mut app, [ch('k'), ch('k'), ch('k'), ch('m'), ch('j')]);
    insta::assert_snapshot!(render(&app));
}

#[test]
fn detail_request_tab() {
    let mut app = app(&sample(), Mode::Listen);
    press(&mut app, [ch('k'), key(KeyCode::Enter)]);
    insta::assert_snapshot!(render(&app));
}

#[test]
fn detail_response_tab() {
    let mut app = app(&sample(), Mode::Listen);
    press(&mut app, [key(KeyCode::Enter), key(KeyCode::Tab)]);
    insta::assert_snapshot!(render(&app));
}

#[test]
fn detail_signature_tab() {
    let mut app = app(&sample(), Mode::Listen);
    press(&mut app, [key(KeyCode::Enter), ch('3')]);
    insta::assert_snapshot!(render(&app));
}

#[test]
fn detail_diff_tab_without_a_comparison() {
    let mut app = app(&sample(), Mode::Listen);
    press(&mut app, [key(KeyCode::Enter), ch('4')]);
    insta::assert_snapshot!(render(&app));
}

#[test]
fn diff_with_the_marked_request() {
    let mut app = app(&sample(), Mode::Listen);
    press(&mut app, [ch('k'), ch('k'), ch('m'), ch('j'), ch('d')]);
    insta::assert_snapshot!(render(&app));
}

#[test]
fn help_overlay() {
    let mut app = app(&sample(), Mode::Listen);
    press(&mut app, [ch('?')]);
    insta::assert_snapshot!(render(&app));
}

#[test]
fn small_terminal_list() {
    let mut app = app(&sample(), Mode::Listen);
    press(&mut app, [Message::Resize(80, 24)]);
    insta::assert_snapshot!(render(&app));
}

#[test]
fn small_terminal_detail() {
    let mut app = app(&sample(), Mode::Listen);
    press(
        &mut app,
        [Message::Resize(80, 24), ch('k'), key(KeyCode::Enter)],
    );
    insta::assert_snapshot!(render(&app));
}

#[test]
fn small_terminal_help() {
    let mut app = app(&sample(), Mode::Listen);
    press(&mut app, [Message::Resize(80, 24), ch('?')]);
    insta::assert_snapshot!(render(&app));
}

#[test]
fn filter_prompt_with_no_match() {
    let mut app = app(&sample(), Mode::Listen);
    press(&mut app, [ch('/')]);
    press(&mut app, typed("github"));
    insta::assert_snapshot!(render(&app));
}

#[test]
fn hostile_payload_is_inert_in_the_list_and_the_detail() {
    let mut reqs = sample();
    reqs.push(hostile());
    let mut app = app(&reqs, Mode::Listen);
    let list = render(&app);
    press(&mut app, [key(KeyCode::Enter)]);
    let detail = render(&app);
    for screen in [&list, &detail] {
        assert!(!screen.contains('\u{1b}'), "{screen}");
        assert!(!screen.contains('\u{7}'), "{screen}");
        assert!(!screen.contains('\u{9b}'), "{screen}");
    }
    assert!(
        detail.contains("\\x1b]0;pwned\\x07\\x1b[2Jhello \\x9b31m"),
        "{detail}"
    );
    insta::assert_snapshot!("hostile_list", list);
    insta::assert_snapshot!("hostile_detail", detail);
}

#[test]
fn binary_and_gzip_bodies() {
    use std::io::Write as _;
    let mut binary = Req::new(1, "");
    binary.body = (0u8..40).collect();
    let mut zipped = Req::new(2, "");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(br#"{"compressed":{"yes":true,"n":[1,2,3]}}"#)
        .unwrap();
    zipped.body = enc.finish().unwrap();
    zipped
        .headers
        .push(("content-encoding".into(), b"gzip".to_vec()));
    let mut app = app(&[binary, zipped], Mode::Listen);
    press(&mut app, [ch('k'), key(KeyCode::Enter)]);
    insta::assert_snapshot!("binary_body", render(&app));
    press(&mut app, [ch('n')]);
    insta::assert_snapshot!("gzip_body", render(&app));
}
