//! `update()` for every key and message: the inspector's behaviour without a terminal.

use std::sync::atomic::Ordering;

use ratatui::crossterm::event::KeyCode;
use webhook_dev::checks::{Checks, Route};
use webhook_dev::engine::EngineEvent;
use webhook_dev::providers::Catalog;
use webhook_dev::signature::{Scheme, Secret, Status};
use webhook_dev::tui::app::{update, App, InputKind, Mode, Screen, Tab, MAX_COPY};
use webhook_dev::tui::history::MemoryHistory;
use webhook_dev::tui::message::{Effect, Message};
use webhook_dev::tui::rows::Rows;

use crate::support::tui::*;

fn many(n: u32) -> Vec<Req> {
    (1..=n)
        .map(|i| Req::new(i, &format!("{{\"n\":{i}}}")))
        .collect()
}

fn selected(app: &App) -> Option<String> {
    app.selected_id().map(str::to_string)
}

fn status(app: &App) -> String {
    app.status
        .as_ref()
        .map(|(s, _)| s.text.clone())
        .unwrap_or_default()
}

fn status_is_error(app: &App) -> bool {
    app.status.as_ref().is_some_and(|(s, _)| s.error)
}

fn tab_text(app: &App) -> String {
    app.tab_doc()
        .map(|doc| {
            doc.lines()
                .iter()
                .map(|l| l.text())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

#[test]
fn starts_following_the_newest_request() {
    let app = app(&many(5), Mode::Listen);
    assert!(app.follow);
    assert_eq!(selected(&app), Some(id(5)));
    assert_eq!(app.screen, Screen::List);
}

#[test]
fn up_down_j_k_move_and_turn_follow_off() {
    let mut app = app(&many(5), Mode::Listen);
    press(&mut app, [key(KeyCode::Up)]);
    assert_eq!(selected(&app), Some(id(4)));
    assert!(!app.follow);
    press(&mut app, [ch('k'), ch('k')]);
    assert_eq!(selected(&app), Some(id(2)));
    press(&mut app, [key(KeyCode::Down), ch('j')]);
    assert_eq!(selected(&app), Some(id(4)));
    press(&mut app, [ch('j'), ch('j'), ch('j')]);
    assert_eq!(selected(&app), Some(id(5)), "stops at the newest");
    press(&mut app, [ch('p')]);
    assert_eq!(selected(&app), Some(id(4)));
    press(&mut app, [ch('n')]);
    assert_eq!(selected(&app), Some(id(5)));
}

#[test]
fn pages_and_ends() {
    let mut app = app(&many(100), Mode::Listen);
    let page = app.list_height();
    assert_eq!(page, 36, "40 rows less header (2), titles (1), status (1)");
    press(&mut app, [key(KeyCode::PageUp)]);
    assert_eq!(selected(&app), Some(id(100 - page as u32)));
    assert!(!app.follow);
    press(&mut app, [key(KeyCode::PageDown)]);
    assert_eq!(selected(&app), Some(id(100)));
    press(&mut app, [key(KeyCode::Home)]);
    assert_eq!(selected(&app), Some(id(1)));
    assert_eq!(app.list_offset, 0);
    press(&mut app, [key(KeyCode::End)]);
    assert_eq!(selected(&app), Some(id(100)));
    assert_eq!(app.list_offset, 100 - page);
    press(&mut app, [ch('g')]);
    assert_eq!(selected(&app), Some(id(1)));
    press(&mut app, [ch('G')]);
    assert_eq!(selected(&app), Some(id(100)));
}

#[test]
fn follow_keeps_the_newest_selected_and_f_toggles() {
    let mut app = app(&many(3), Mode::Inspect);
    press(&mut app, [ch('k')]);
    assert!(!app.follow);
    press(&mut app, [ch('f')]);
    assert!(app.follow);
    assert_eq!(selected(&app), Some(id(3)));
    press(&mut app, [ch('f')]);
    assert!(!app.follow);
}

fn exchange(n: u32) -> Message {
    use webhook_dev::engine::EngineEvent;
    use webhook_dev::model::{CapturedRequest, Exchange, RecordedResponse};
    use webhook_dev::summary::RequestSummary;
    let r = Req::new(n, "{}");
    let stored = r.stored();
    let summary = RequestSummary::from_exchange(&Exchange {
        request: std::sync::Arc::new(CapturedRequest {
            id: stored.summary.id.clone(),
            received_at: chrono::DateTime::parse_from_rfc3339(&stored.summary.received_at)
                .unwrap()
                .into(),
            peer: None,
            method: "POST".into(),
            path: stored.summary.path.clone(),
            headers: stored.headers.clone(),
            body: stored.body.clone(),
            replay_of: None,
        }),
        signature: stored.summary.signature.clone(),
        event_type: stored.summary.event_type.clone(),
        schema: None,
        forward: None,
        response: RecordedResponse::plain(200, "ok"),
    });
    Message::Engine(EngineEvent::Request(Box::new(summary)))
}

#[test]
fn live_requests_are_appended_and_followed_only_in_follow_mode() {
    let mut app = app(&many(2), Mode::Listen);
    press(&mut app, [exchange(3)]);
    assert_eq!(app.rows.len(), 3);
    assert_eq!(selected(&app), Some(id(3)));
    press(&mut app, [ch('k'), exchange(4)]);
    assert_eq!(selected(&app), Some(id(2)), "moving turned follow off");
    assert_eq!(app.rows.counts().total, 4);
}

#[test]
fn enter_opens_the_detail_lazily_and_esc_goes_back() {
    let reqs = sample();
    let mut rows = Rows::new();
    let mut history = MemoryHistory::new();
    for r in &reqs {
        rows.push_summary(&r.stored().summary);
        history.insert(r.stored(), None);
    }
    let loads = history.load_counter();
    let mut app = App::new(rows, Box::new(history), session(Mode::Listen));
    update(&mut app, Message::Resize(120, 40));
    press(&mut app, [ch('k'), ch('k')]);
    assert_eq!(
        loads.load(Ordering::Relaxed),
        0,
        "no body read for the list"
    );
    press(&mut app, [key(KeyCode::Enter)]);
    assert_eq!(app.screen, Screen::Detail);
    assert_eq!(app.tab, Tab::Request);
    assert_eq!(
        loads.load(Ordering::Relaxed),
        1,
        "only the shown request is read"
    );
    assert!(tab_text(&app).contains("\"is_critical\": false"));
    press(&mut app, [key(KeyCode::Esc)]);
    assert_eq!(app.screen, Screen::List);
}

#[test]
fn tabs_cycle_with_tab_shift_tab_numbers_and_arrows() {
    let mut app = app(&sample(), Mode::Listen);
    press(&mut app, [key(KeyCode::Tab)]);
    assert_eq!((app.screen, app.tab), (Screen::Detail, Tab::Request));
    press(&mut app, [key(KeyCode::Tab)]);
    assert_eq!(app.tab, Tab::Response);
    assert!(tab_text(&app).contains("connection refused"));
    press(&mut app, [key(KeyCode::Tab)]);
    assert_eq!(app.tab, Tab::Signature);
    assert!(tab_text(&app).contains("no signature matches"));
    press(&mut app, [key(KeyCode::Tab)]);
    assert_eq!(app.tab, Tab::Diff);
    press(&mut app, [key(KeyCode::Tab)]);
    assert_eq!(app.tab, Tab::Request);
    press(&mut app, [key(KeyCode::BackTab)]);
    assert_eq!(app.tab, Tab::Diff);
    press(&mut app, [ch('2')]);
    assert_eq!(app.tab, Tab::Response);
    press(&mut app, [key(KeyCode::Right)]);
    assert_eq!(app.tab, Tab::Signature);
    press(&mut app, [key(KeyCode::Left), key(KeyCode::Left)]);
    assert_eq!(app.tab, Tab::Request);
}

#[test]
fn detail_keys_scroll_the_content() {
    let big: String = format!(
        "{{{}}}",
        (0..200)
            .map(|i| format!("\"k{i}\":{i}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let mut app = app(&[Req::new(1, &big)], Mode::Listen);
    press(&mut app, [key(KeyCode::Enter)]);
    press(&mut app, [ch('j'), key(KeyCode::Down)]);
    assert_eq!(app.scroll, 2);
    press(&mut app, [ch('k')]);
    assert_eq!(app.scroll, 1);
    press(&mut app, [key(KeyCode::Up), key(KeyCode::Up)]);
    assert_eq!(app.scroll, 0);
    press(&mut app, [key(KeyCode::PageDown)]);
    assert!(app.scroll > 20);
    press(&mut app, [key(KeyCode::PageUp)]);
    assert_eq!(app.scroll, 0);
    press(&mut app, [ch('G')]);
    let rows = app.tab_doc().unwrap().row_count();
    assert!(app.scroll > 0 && app.scroll < rows);
    press(&mut app, [ch('g')]);
    assert_eq!(app.scroll, 0);
    press(&mut app, [key(KeyCode::End)]);
    assert!(app.scroll > 0);
    press(&mut app, [key(KeyCode::Home)]);
    assert_eq!(app.scroll, 0);
    press(&mut app, [Message::Scroll(3)]);
    assert_eq!(app.scroll, 3);
    press(&mut app, [Message::Scroll(-3)]);
    assert_eq!(app.scroll, 0);
}

#[test]
fn new_requests_do_not_pull_the_detail_away() {
    let mut app = app(&many(2), Mode::Listen);
    press(&mut app, [key(KeyCode::Enter), exchange(3)]);
    assert_eq!(selected(&app), Some(id(2)));
    press(&mut app, [key(KeyCode::Esc)]);
    assert_eq!(selected(&app), Some(id(3)), "follow resumes on the list");
}

#[test]
fn m_marks_d_diffs_with_the_mark() {
    let mut app = app(&sample(), Mode::Listen);
    press(&mut app, [ch('d')]);
    assert!(status_is_error(&app));
    assert!(status(&app).contains("nothing marked"));
    press(&mut app, [ch('k'), ch('k'), ch('m')]);
    assert_eq!(app.marked, Some(id(1)));
    press(&mut app, [ch('j'), ch('d')]);
    assert_eq!((app.screen, app.tab), (Screen::Detail, Tab::Diff));
    let text = tab_text(&app);
    assert!(text.contains("data.is_critical: false -> true"), "{text}");
    assert!(text.contains("data.report_id: \"r1\" -> \"r2\""), "{text}");
    assert!(text.contains("-webhook-id: msg_1"), "{text}");
    assert!(text.contains("+webhook-id: msg_2"), "{text}");
    press(&mut app, [key(KeyCode::Esc), ch('k'), ch('m')]);
    assert_eq!(app.marked, None, "m again unmarks");
}

#[test]
fn capital_d_diffs_with_the_previous_of_the_same_kind() {
    let mut first = app(&sample(), Mode::Listen);
    press(&mut first, [ch('D')]);
    assert!(tab_text(&first).contains("No earlier request with the event type invoice.paid"));
    press(&mut first, [key(KeyCode::Esc), ch('k'), ch('D')]);
    let text = tab_text(&first);
    assert!(text.contains("data.is_critical: false -> true"), "{text}");
    assert!(text.contains(&id(1)) && text.contains(&id(2)));
    // Same path when the event type is unknown.
    let mut a = Req::new(1, r#"{"a":1}"#);
    a.event = None;
    let mut b = Req::new(2, r#"{"a":2}"#);
    b.event = None;
    b.path = "/other".into();
    let mut c = Req::new(3, r#"{"a":3}"#);
    c.event = None;
    let mut app = app(&[a, b, c], Mode::Listen);
    press(&mut app, [ch('D')]);
    assert!(tab_text(&app).contains("a: 1 -> 3"), "{}", tab_text(&app));
    // n moves on and the diff follows the selection.
    press(&mut app, [ch('p')]);
    assert!(tab_text(&app).contains("No earlier request with the path /other"));
}

#[test]
fn r_replays_as_is_linked_to_the_original() {
    let mut app = app(&sample(), Mode::Listen);
    press(&mut app, [ch('k')]);
    let effects = press(&mut app, [ch('r')]);
    let [Effect::Replay {
        original,
        head,
        body,
        recorded_base,
        label,
        edited,
    }] = effects.as_slice()
    else {
        panic!("{effects:?}")
    };
    assert!(!edited);
    assert_eq!(original, &id(2));
    assert_eq!(head.replay_of.as_deref(), Some(id(2).as_str()));
    assert_eq!(head.method, "POST");
    assert_eq!(head.path, "/webhooks/avara");
    assert_eq!(
        head.headers,
        Req::new(2, "")
            .stored()
            .headers
            .iter()
            .map(|(n, v)| {
                if n == "content-length" {
                    (n.clone(), body.len().to_string().into_bytes())
                } else {
                    (n.clone(), v.clone())
                }
            })
            .collect::<Vec<_>>()
    );
    assert!(body.starts_with(b"{\"type\""));
    assert_eq!(recorded_base.as_deref(), Some("http://localhost:3000"));
    assert_eq!(*label, "replay");
    assert!(status(&app).contains("sending replay"));
}

#[test]
fn capital_r_without_a_secret_explains_how_to_get_one() {
    let mut app = app(&sample(), Mode::Listen);
    let effects = press(&mut app, [ch('R')]);
    assert!(effects.is_empty());
    assert!(status_is_error(&app));
    assert!(
        status(&app).contains("--profile NAME --secret S"),
        "{}",
        status(&app)
    );
}

#[test]
fn capital_r_re_signs_with_a_fresh_signature() {
    let app0 = app(&sample(), Mode::Listen);
    let checks = Checks::new(
        Catalog::builtin(),
        vec![Route::everywhere(
            Some("standard-webhooks".into()),
            Some(Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")),
        )],
    )
    .unwrap();
    let mut app = app0.with_checks(Some(checks));
    press(&mut app, [ch('k')]);
    let effects = press(&mut app, [ch('R')]);
    let [Effect::Replay {
        head, body, label, ..
    }] = effects.as_slice()
    else {
        panic!("{effects:?}")
    };
    assert_eq!(*label, "re-signed replay");
    let get = |name: &str| {
        head.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(get("webhook-id").len(), 1, "replaced, not added");
    assert_eq!(
        get("webhook-id")[0],
        "msg_2",
        "a resent message keeps its id"
    );
    assert_eq!(
        get("webhook-timestamp"),
        [(app.now_us / 1_000_000).to_string()]
    );
    assert!(get("webhook-signature")[0].starts_with("v1,"));
    let verdict = webhook_dev::signature::verify(
        "avara",
        &Scheme::StandardWebhooks {
            header_prefix: "webhook".into(),
            tolerance_secs: 300,
        },
        &head.headers,
        body,
        &Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        app.now_us / 1_000_000,
    );
    assert_eq!(verdict.status, Status::Verified, "{verdict:?}");
}

#[test]
fn replay_in_inspect_mode_needs_a_target() {
    let mut r = Req::new(1, "{}");
    r.forward = None;
    let mut app = app(&[r], Mode::Inspect);
    app.session.forward = None;
    let effects = press(&mut app, [ch('r')]);
    assert!(effects.is_empty());
    assert!(
        status(&app).contains("--forward TARGET"),
        "{}",
        status(&app)
    );
}

#[test]
fn e_edits_the_request_as_pretty_json_then_replays_the_edited_copy() {
    let mut app = app(&sample(), Mode::Listen);
    press(&mut app, [ch('k')]);
    let effects = press(&mut app, [ch('e')]);
    let [Effect::Edit { original, text }] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(original, &id(2));
    assert!(
        text.contains("\nPOST /webhooks/avara\nhost: 127.0.0.1:9797\n"),
        "{text}"
    );
    assert!(
        text.contains("\n\n{\n  \"type\": \"report.delivered\",\n  \"data\": {\n"),
        "{text}"
    );
    let edited = text
        .replace("POST /webhooks/avara", "POST /webhooks/avara?edited=1")
        .replace("\"is_critical\": true", "\"is_critical\": false")
        .replace(
            "webhook-id: msg_2\n",
            "webhook-id: msg_2\nx-note: by hand\n",
        );
    let effects = press(
        &mut app,
        [Message::Edited {
            original: id(2),
            text: Ok(edited.into_bytes()),
        }],
    );
    let [Effect::Replay {
        head,
        body,
        label,
        edited,
        recorded_base,
        ..
    }] = effects.as_slice()
    else {
        panic!("{effects:?}")
    };
    assert!(*edited);
    assert_eq!(
        recorded_base.as_deref(),
        Some("http://localhost:3000"),
        "the edited path is sent to the recorded target's base, not appended to the old path"
    );
    let sent = br#"{"type":"report.delivered","data":{"report_id":"r2","is_critical":false}}"#;
    assert_eq!(body.as_ref(), sent, "compact like the original");
    assert_eq!(head.path, "/webhooks/avara?edited=1");
    assert!(head
        .headers
        .contains(&("x-note".to_string(), b"by hand".to_vec())));
    assert_eq!(*label, "edited replay");
    let length = head
        .headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .unwrap();
    assert_eq!(
        length.1,
        sent.len().to_string().into_bytes(),
        "length fixed up"
    );
    // Unchanged, unreadable or failed edits replay nothing.
    let effects = press(&mut app, [ch('e')]);
    let [Effect::Edit { text, .. }] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    let unchanged = text.clone().into_bytes();
    assert!(press(
        &mut app,
        [Message::Edited {
            original: id(2),
            text: Ok(unchanged)
        }]
    )
    .is_empty());
    assert!(status(&app).contains("nothing changed"), "{}", status(&app));
    let broken = Message::Edited {
        original: id(2),
        text: Ok(b"no request line here".to_vec()),
    };
    assert!(press(&mut app, [broken]).is_empty());
    assert!(status_is_error(&app));
    let effects = press(
        &mut app,
        [Message::Edited {
            original: id(2),
            text: Err("the editor exited with 1".into()),
        }],
    );
    assert!(effects.is_empty());
    assert!(status_is_error(&app));
}

#[test]
fn an_edited_replay_says_so_and_o_compares_it_with_its_original() {
    let mut reqs = sample();
    let mut edited = Req::new(
        4,
        r#"{"type":"report.delivered","data":{"report_id":"r2","is_critical":false}}"#,
    );
    edited.replay_of = Some(2);
    edited.path = "/webhooks/avara?edited=1".into();
    let mut plain = Req::new(5, &String::from_utf8(reqs[1].body.clone()).unwrap());
    plain.replay_of = Some(2);
    plain.headers[2].1 = b"msg_2".to_vec();
    reqs.push(edited);
    reqs.push(plain);
    let mut app = app(&reqs, Mode::Listen);
    press(&mut app, [key(KeyCode::Enter)]);
    assert!(
        tab_text(&app).contains("as sent then (o compares)"),
        "{}",
        tab_text(&app)
    );
    press(&mut app, [ch('p')]);
    let text = tab_text(&app);
    assert!(text.contains("✎ edited: request line, body"), "{text}");
    press(&mut app, [Message::EditedReplay(id(4))]);
    let screen = render(&app);
    assert_eq!(
        screen.matches("↻ req_…00000002 ✎").count(),
        1,
        "the list marks the edited replay only: {screen}"
    );
    press(&mut app, [ch('o')]);
    assert_eq!(app.tab, Tab::Diff);
    let text = tab_text(&app);
    assert!(
        text.contains("Compared with the request it replays"),
        "{text}"
    );
    assert!(text.contains("data.is_critical: true -> false"), "{text}");
    press(&mut app, [ch('p'), ch('o')]);
    assert!(
        tab_text(&app).contains("not a replay"),
        "{}",
        tab_text(&app)
    );
}

#[test]
fn e_refuses_binary_bodies() {
    let mut r = Req::new(1, "");
    r.body = vec![0xff, 0x00, 0xfe];
    let mut app = app(&[r], Mode::Listen);
    let effects = press(&mut app, [ch('e')]);
    assert!(effects.is_empty());
    assert!(status(&app).contains("binary"));
}

#[test]
fn s_asks_where_then_saves_a_fixture() {
    let mut app = app(&sample(), Mode::Listen);
    press(&mut app, [ch('s')]);
    let input = app.input.as_ref().unwrap();
    assert_eq!(input.kind, InputKind::SavePath);
    assert_eq!(input.text, format!("fixtures/{}.json", id(3)));
    press(&mut app, [ctrl('u')]);
    press(&mut app, typed("out/x.json"));
    press(&mut app, [key(KeyCode::Backspace)]);
    press(&mut app, typed("n"));
    let effects = press(&mut app, [key(KeyCode::Enter)]);
    let [Effect::Save { path, contents }] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(path.to_str(), Some("out/x.json"));
    let fixture: serde_json::Value = serde_json::from_str(contents).unwrap();
    assert_eq!(fixture["webhook_dev_fixture"], 1);
    assert_eq!(fixture["id"], id(3));
    assert!(app.input.is_none());
    press(&mut app, [ch('s')]);
    let effects = press(&mut app, [key(KeyCode::Esc)]);
    assert!(effects.is_empty());
    assert_eq!(status(&app), "not saved");
}

#[test]
fn y_copies_a_curl_command_to_the_forward_target() {
    let mut app = app(&sample(), Mode::Listen);
    let effects = press(&mut app, [ch('y'), ch('c')]);
    let [Effect::Copy { text, what }] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert!(text.starts_with("curl "), "{text}");
    assert!(
        text.contains("'http://localhost:3000/webhooks/stripe?live=0'"),
        "{text}"
    );
    assert!(what.contains(&id(3)));
    // Without a session target, the recorded target's base is used.
    app.session.forward = None;
    let effects = press(&mut app, [ch('y'), ch('c')]);
    let [Effect::Copy { text, .. }] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert!(
        text.contains("'http://localhost:3000/webhooks/stripe?live=0'"),
        "{text}"
    );
}

#[test]
fn slash_filters_as_you_type_enter_keeps_esc_restores() {
    let mut app = app(&sample(), Mode::Listen);
    press(&mut app, [ch('/')]);
    assert_eq!(app.input.as_ref().unwrap().kind, InputKind::Filter);
    press(&mut app, typed("stripe"));
    assert_eq!(app.view.len(), 1);
    assert_eq!(selected(&app), Some(id(3)));
    press(&mut app, [key(KeyCode::Enter)]);
    assert!(app.input.is_none());
    assert_eq!(app.filter_text, "stripe");
    assert!(status(&app).contains("1 of 3"));
    // Esc while editing restores the filter before the edit.
    press(&mut app, [ch('/'), ctrl('w')]);
    press(&mut app, typed("event:report"));
    assert_eq!(app.view.len(), 2);
    press(&mut app, [key(KeyCode::Esc)]);
    assert_eq!(app.filter_text, "stripe");
    assert_eq!(app.view.len(), 1);
    // Esc on the list clears the filter.
    press(&mut app, [key(KeyCode::Esc)]);
    assert_eq!(app.view.len(), 3);
    press(&mut app, [ch('/')]);
    press(&mut app, typed("status:5xx"));
    assert_eq!(app.view.len(), 1);
    press(&mut app, [ctrl('u')]);
    press(&mut app, typed("sig:verified"));
    assert_eq!(app.view.len(), 2);
    press(&mut app, [Message::Paste("\n!000002".into())]);
    assert_eq!(app.filter_text, "sig:verified !000002");
    assert_eq!(app.view.len(), 1);
    press(&mut app, [key(KeyCode::Enter)]);
    // Keys typed into the prompt are not commands.
    press(&mut app, [ch('/'), ch('q')]);
    assert!(!app.quit);
    press(&mut app, [ctrl('c')]);
    assert!(app.input.is_none() && !app.quit);
}

#[test]
fn filter_keeps_the_selection_when_it_still_matches() {
    let mut app = app(&sample(), Mode::Listen);
    press(&mut app, [ch('k'), ch('k')]);
    press(&mut app, [ch('/')]);
    press(&mut app, typed("avara"));
    assert_eq!(selected(&app), Some(id(1)));
    press(&mut app, [key(KeyCode::Enter)]);
    press(&mut app, [exchange(9)]);
    assert_eq!(app.view.len(), 3, "a new avara request passes the filter");
}

#[test]
fn question_mark_opens_help_and_any_key_closes_it() {
    let mut app = app(&sample(), Mode::Listen);
    press(&mut app, [ch('?')]);
    assert!(app.overlay.is_some());
    press(&mut app, [ch('q')]);
    assert!(app.overlay.is_none());
    assert!(!app.quit, "the key that closes help does nothing else");
    press(&mut app, [key(KeyCode::F(1))]);
    assert!(app.overlay.is_some());
    press(&mut app, [Message::Scroll(1)]);
    assert!(app.overlay.is_some(), "the wheel scrolls it");
    press(&mut app, [key(KeyCode::Esc)]);
    assert!(app.overlay.is_none());
}

#[test]
fn q_and_ctrl_c_quit() {
    let mut app1 = app(&sample(), Mode::Listen);
    press(&mut app1, [ch('q')]);
    assert!(!app1.quit, "a live listener asks first");
    assert!(render(&app1).contains("stop listening on http://127.0.0.1:9797 and quit?"));
    press(&mut app1, [ch('x')]);
    assert!(!app1.quit && !app1.confirm_quit);
    press(&mut app1, [ch('q'), ch('y')]);
    assert!(app1.quit && !app1.quit_at_once);
    let mut app2 = app(&sample(), Mode::Listen);
    press(&mut app2, [key(KeyCode::Enter), ctrl('c')]);
    assert!(app2.quit);
    let mut app3 = app(&sample(), Mode::Inspect);
    press(&mut app3, [ch('q')]);
    assert!(app3.quit, "inspect has nothing to stop");
}

/// The summary of request `n`, at its arrival (no answer yet) or once answered.
fn live(n: u32, answered: bool) -> Message {
    let mut summary = Req::new(n, "{}").stored().summary;
    if answered {
        Message::Engine(EngineEvent::Request(Box::new(summary)))
    } else {
        summary.forward = None;
        Message::Engine(EngineEvent::Arrived(Box::new(summary)))
    }
}

#[test]
fn a_request_shows_when_it_arrives_and_is_completed_in_place() {
    let mut app = app(&many(1), Mode::Listen);
    press(&mut app, [live(5, false)]);
    assert_eq!(app.rows.len(), 2);
    assert!(app.rows.row(1).pending());
    assert_eq!(app.rows.counts().pending, 1);
    press(&mut app, [Message::Tick((T0 + 10 + 3) * 1_000_000)]);
    let screen = render(&app);
    assert!(screen.contains("⋯ 3.0s"), "a running timer: {screen}");
    press(&mut app, [Message::Tick((T0 + 10 + 4) * 1_000_000)]);
    assert!(render(&app).contains("⋯ 4.0s"));
    // One that arrived earlier but was reported later still goes above it.
    press(&mut app, [live(3, false)]);
    let ids: Vec<&str> = app.view.iter().map(|&i| app.rows.id(i as usize)).collect();
    assert_eq!(ids, [id(1), id(3), id(5)]);
    press(&mut app, [live(5, true)]);
    assert_eq!(app.rows.len(), 3, "completed in place, not added");
    assert!(!app.rows.row(1).pending());
    assert_eq!(app.rows.counts().pending, 1);
    let screen = render(&app);
    assert!(screen.contains("200 12ms"), "{screen}");
    assert_eq!(selected(&app), Some(id(5)));
}

#[test]
fn quitting_waits_for_requests_in_flight_and_a_second_q_quits_at_once() {
    let mut app = app(&many(1), Mode::Listen);
    press(&mut app, [live(2, false), live(3, false), ch('q')]);
    let effects = press(&mut app, [ch('y')]);
    assert!(
        matches!(effects.as_slice(), [Effect::StopAccepting]),
        "{effects:?}"
    );
    assert!(app.quitting && !app.quit);
    let screen = render(&app);
    assert!(
        screen.contains("waiting for 2 requests in flight to be answered: POST /webhooks/avara"),
        "{screen}"
    );
    press(&mut app, [live(2, true)]);
    assert!(!app.quit);
    press(&mut app, [live(3, true)]);
    assert!(
        app.quit && !app.quit_at_once,
        "quits once they are answered"
    );

    let mut other = crate::support::tui::app(&many(1), Mode::Listen);
    press(&mut other, [live(2, false), ctrl('c')]);
    assert!(other.quitting && !other.quit);
    press(&mut other, [ch('j')]);
    assert!(!other.quit, "other keys still work while waiting");
    press(&mut other, [ctrl('c')]);
    assert!(other.quit && other.quit_at_once);
}

#[test]
fn mouse_wheel_moves_and_clicks_select() {
    let mut app = app(&many(10), Mode::Listen);
    press(&mut app, [Message::Scroll(-3)]);
    assert_eq!(selected(&app), Some(id(7)));
    assert!(!app.follow);
    press(&mut app, [Message::Scroll(3)]);
    assert_eq!(selected(&app), Some(id(10)));
    // Row 3 of the screen is the first request (header 2 lines, titles 1).
    press(&mut app, [Message::Click(10, 3)]);
    assert_eq!(selected(&app), Some(id(1)));
    press(&mut app, [key(KeyCode::Enter)]);
    // On a 40-row terminal the tab bar sits under 8 list rows: at row 2 + 8.
    press(&mut app, [Message::Click(15, 10)]);
    assert_eq!(app.tab, Tab::Response);
}

#[test]
fn small_terminals_drop_the_list_above_the_detail() {
    let mut app = app(&many(3), Mode::Listen);
    press(&mut app, [Message::Resize(80, 24), key(KeyCode::Enter)]);
    assert_eq!(app.list_height(), 1);
    assert_eq!(app.size, (80, 24));
}

#[test]
fn status_messages_expire() {
    let mut app = app(&sample(), Mode::Listen);
    press(&mut app, [ch('R')]);
    assert!(app.status.is_some());
    let later = app.now_us + 9_000_000;
    press(&mut app, [Message::Tick(later)]);
    assert!(app.status.is_none());
    press(
        &mut app,
        [Message::Status(webhook_dev::tui::message::Status::info(
            "done",
        ))],
    );
    assert_eq!(status(&app), "done");
}

#[test]
fn replays_are_linked_in_the_rows() {
    let mut r = Req::new(2, "{}");
    r.replay_of = Some(1);
    let app = app(&[Req::new(1, "{}"), r], Mode::Listen);
    assert_eq!(app.rows.replay_of(1), Some(id(1).as_str()));
    assert_eq!(app.rows.counts().replays, 1);
}

#[test]
fn an_empty_history_has_no_selection_and_keys_are_harmless() {
    let mut app = app(&[], Mode::Listen);
    assert_eq!(app.selected, None);
    for m in [
        key(KeyCode::Up),
        key(KeyCode::Down),
        key(KeyCode::PageUp),
        key(KeyCode::PageDown),
        key(KeyCode::Home),
        key(KeyCode::End),
        key(KeyCode::Enter),
        key(KeyCode::Tab),
        key(KeyCode::BackTab),
        ch('m'),
        ch('d'),
        ch('D'),
        ch('r'),
        ch('R'),
        ch('e'),
        ch('s'),
        ch('y'),
        ch('f'),
        ch('n'),
        ch('p'),
        Message::Scroll(3),
        Message::Click(5, 5),
    ] {
        assert!(press(&mut app, [m]).is_empty());
    }
    assert_eq!(app.screen, Screen::List);
}

#[test]
fn the_end_of_a_detail_with_long_wrapped_lines_can_be_reached() {
    let long = "x".repeat(2_000);
    let body = format!("{{\"a\":\"{long}\",\"last\":\"THE-END\"}}");
    let mut app = app(&[Req::new(1, &body)], Mode::Listen);
    press(
        &mut app,
        [Message::Resize(80, 24), key(KeyCode::Enter), ch('G')],
    );
    let screen = render(&app);
    assert!(screen.contains("THE-END"), "{screen}");
    assert!(app.scroll > 0);
    press(&mut app, [ch('g')]);
    assert!(!render(&app).contains("THE-END"));
}

#[test]
fn the_body_shows_numbers_and_repeated_keys_as_sent() {
    let body = r#"{"big":12345678901234567890123,"price":10.50,"n":1e3,"id":1,"id":2}"#;
    let mut app = app(&[Req::new(1, body)], Mode::Listen);
    press(&mut app, [key(KeyCode::Enter)]);
    let text = tab_text(&app);
    assert!(text.contains("\"big\": 12345678901234567890123,"), "{text}");
    assert!(text.contains("\"price\": 10.50,"), "{text}");
    assert!(text.contains("\"n\": 1e3,"), "{text}");
    assert!(text.contains("\"id\": 1,"), "{text}");
    assert!(text.contains("\"id\": 2  ⚠ repeated key"), "{text}");
    assert!(text.contains("repeated keys: id"), "{text}");
}

#[test]
fn search_in_the_detail_highlights_and_jumps_between_matches() {
    let body = format!(
        "{{{}}}",
        (0..120)
            .map(|i| format!(
                "\"k{i}\":\"{}\"",
                if i % 40 == 7 { "needle" } else { "hay" }
            ))
            .collect::<Vec<_>>()
            .join(",")
    );
    let mut app = app(&[Req::new(1, &body)], Mode::Listen);
    press(&mut app, [Message::Resize(80, 24), key(KeyCode::Enter)]);
    press(&mut app, [ch('/')]);
    press(&mut app, typed("NEEDLE"));
    press(&mut app, [key(KeyCode::Enter)]);
    let search = app.search.clone().expect("a search");
    assert_eq!(search.matches.len(), 3);
    assert_eq!(search.current, 0);
    assert!(render(&app).contains("\"k7\": \"needle\""));
    press(&mut app, [ch('n')]);
    assert_eq!(app.search.as_ref().unwrap().current, 1);
    assert!(
        render(&app).contains("\"k47\": \"needle\""),
        "{}",
        render(&app)
    );
    press(&mut app, [ch('N'), ch('N')]);
    assert_eq!(app.search.as_ref().unwrap().current, 2);
    assert!(render(&app).contains("\"k87\": \"needle\""));
    assert_eq!(
        app.selected,
        Some(0),
        "n and N move between matches, not requests"
    );
    press(&mut app, [ch('/'), key(KeyCode::Esc)]);
    assert!(app.search.is_none());
    press(&mut app, [ch('/')]);
    press(&mut app, typed("absent"));
    press(&mut app, [key(KeyCode::Enter)]);
    assert!(status_is_error(&app), "{}", status(&app));
}

#[test]
fn a_long_line_wraps_at_words_or_scrolls_sideways() {
    let words = (0..400)
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut req = Req::new(1, &words);
    req.headers[1].1 = b"text/plain".to_vec();
    let mut app = app(&[req], Mode::Listen);
    press(
        &mut app,
        [Message::Resize(80, 24), key(KeyCode::Enter), ch('G')],
    );
    let screen = render(&app);
    assert!(screen.contains("w399"), "{screen}");
    assert!(
        !screen
            .lines()
            .any(|l| l.trim_end_matches(['"', ' ']).ends_with("w39")),
        "no word is cut at the edge: {screen}"
    );
    press(&mut app, [ch('w')]);
    assert!(!app.wrap);
    let rows = app.tab_doc().unwrap().row_count();
    press(&mut app, [ch('G')]);
    let screen = render(&app);
    assert!(screen.contains("w0 w1 w2"), "{screen}");
    assert!(rows < 40, "one row a line: {rows}");
    press(&mut app, [ch('L'), ch('L'), ch('L')]);
    assert!(app.hscroll > 0);
    assert!(!render(&app).contains("w0 w1 w2"));
    press(&mut app, [ch('H'), ch('H'), ch('H')]);
    assert_eq!(app.hscroll, 0);
}

#[test]
fn a_form_body_is_a_table_of_fields() {
    let mut req = Req::new(1, "command=%2Fdeploy&text=prod+now");
    req.headers[1].1 = b"application/x-www-form-urlencoded".to_vec();
    let mut app = app(&[req], Mode::Listen);
    press(&mut app, [key(KeyCode::Enter)]);
    let text = tab_text(&app);
    assert!(text.contains("command = /deploy"), "{text}");
    assert!(text.contains("text    = prod now"), "{text}");
}

#[test]
fn a_megabyte_body_opens_and_its_last_byte_is_reached() {
    let body = format!(
        "{{\"items\":[{}],\"last\":\"THE-END\"}}",
        (0..40_000)
            .map(|i| format!("{{\"n\":{i},\"s\":\"abcdefghij\"}}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    assert!(body.len() > 1_000_000);
    let mut app = app(&[Req::new(1, &body)], Mode::Listen);
    press(&mut app, [key(KeyCode::Enter), key(KeyCode::End)]);
    assert!(render(&app).contains("THE-END"));
    let bottom = app.scroll;
    press(&mut app, [ctrl('u')]);
    let half = bottom - app.scroll;
    assert!(half > 5, "{half}");
    press(&mut app, [ctrl('u')]);
    assert_eq!(app.scroll, bottom - 2 * half);
    press(&mut app, [ctrl('d')]);
    assert_eq!(app.scroll, bottom - half);
}

#[test]
fn long_paths_are_cut_with_an_ellipsis_and_old_rows_show_their_date() {
    let mut long = Req::new(1, "{}");
    long.path = format!("/webhooks/{}/end", "segment".repeat(30));
    let mut app = app(&[long, Req::new(2, "{}")], Mode::Listen);
    press(&mut app, [Message::Resize(80, 24)]);
    let screen = render(&app);
    let row = screen
        .lines()
        .find(|l| l.contains("/webhooks/segment"))
        .unwrap();
    assert!(row.contains("segment…"), "{row}");
    assert!(row.contains("200 12ms"), "the other columns stay: {row}");
    assert!(!screen.contains("11-25"), "today's rows show the time only");
    press(&mut app, [Message::Tick((T0 + 2 * 86_400) * 1_000_000)]);
    let screen = render(&app);
    assert!(screen.contains("11-25 12:00"), "{screen}");
    press(&mut app, [Message::Resize(120, 40)]);
    assert!(render(&app).contains("11-25 12:00:02"));
}

#[test]
fn selection_is_drawn_in_reverse_video() {
    use ratatui::style::Modifier;
    let app = app(&sample(), Mode::Listen);
    let (w, h) = app.size;
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
    terminal
        .draw(|f| webhook_dev::tui::ui::draw(f, &app))
        .unwrap();
    let buffer = terminal.backend().buffer();
    let selected_row = (0..h)
        .find(|&y| buffer[(0, y)].symbol() == "▶")
        .expect("a selected row");
    assert!(buffer[(20, selected_row)]
        .modifier
        .contains(Modifier::REVERSED));
    assert!(!buffer[(20, selected_row + 1)]
        .modifier
        .contains(Modifier::REVERSED));
}

#[test]
fn a_refused_request_says_so_and_counts_as_a_failure() {
    let mut app = app(&many(1), Mode::Listen);
    let mut summary = Req::new(2, "").stored().summary;
    summary.forward = None;
    summary.signature.status = Status::Unchecked;
    summary.signature.reason = Some(format!(
        "{} 413 before its body was read",
        webhook_dev::engine::REFUSED_REASON
    ));
    press(
        &mut app,
        [Message::Engine(EngineEvent::Request(Box::new(summary)))],
    );
    let screen = render(&app);
    assert!(screen.contains("413 refused"), "{screen}");
    assert!(screen.contains("1 fwd failed"), "{screen}");
}

#[test]
fn answer_problems_show_on_the_response_tab() {
    let mut req = Req::new(1, r#"{"type":"url_verification","challenge":"c"}"#);
    req.schema = Some(webhook_dev::model::SchemaReport {
        event: Some("url_verification".into()),
        problems: vec![],
        answer_problems: vec!["the answer must echo `challenge`".into()],
    });
    let mut app = app(&[req], Mode::Listen);
    press(&mut app, [key(KeyCode::Enter), ch('2')]);
    let text = tab_text(&app);
    assert!(
        text.contains("⚠ the answer does not match what the provider expects (1 problem):"),
        "{text}"
    );
    assert!(text.contains("the answer must echo `challenge`"), "{text}");
}

#[test]
fn y_offers_curl_body_id_or_har_redacted_and_refuses_what_is_too_large() {
    let mut req = Req::new(1, r#"{"a":1}"#);
    req.headers
        .push(("authorization".into(), b"Bearer sk_live_secret".to_vec()));
    let mut big = Req::new(2, &"x".repeat(MAX_COPY + 1));
    big.headers[1].1 = b"text/plain".to_vec();
    let mut app = app(&[req, big], Mode::Listen);
    press(&mut app, [ch('k'), ch('y')]);
    assert!(render(&app).contains("copy: c curl command · b body · i id · h HAR entry"));
    let copied = |app: &mut App, c: char| match press(app, [ch('y'), ch(c)]).as_slice() {
        [Effect::Copy { text, .. }] => text.clone(),
        other => panic!("{other:?}"),
    };
    press(&mut app, [key(KeyCode::Esc)]);
    let curl = copied(&mut app, 'c');
    assert!(
        curl.starts_with("curl ") && !curl.contains("sk_live_secret"),
        "{curl}"
    );
    assert_eq!(copied(&mut app, 'b'), r#"{"a":1}"#);
    assert_eq!(copied(&mut app, 'i'), id(1));
    let har = copied(&mut app, 'h');
    assert!(
        har.contains("\"request\"") && !har.contains("sk_live_secret"),
        "{har}"
    );
    press(&mut app, [ch('j')]);
    assert!(press(&mut app, [ch('y'), ch('b')]).is_empty());
    assert!(
        status(&app).contains("too large to copy"),
        "{}",
        status(&app)
    );
    assert!(press(&mut app, [ch('y'), ch('x')]).is_empty());
    assert_eq!(status(&app), "nothing copied");
}

#[test]
fn overlays_scroll_and_the_message_log_keeps_every_message() {
    let mut app = app(&sample(), Mode::Listen);
    press(&mut app, [Message::Resize(80, 24), ch('?')]);
    let screen = render(&app);
    assert!(
        screen.contains("j k PgUp PgDn scroll"),
        "help scrolls at 80x24: {screen}"
    );
    assert!(screen.lines().all(|l| l.chars().count() <= 82));
    press(&mut app, [ch('G')]);
    assert!(render(&app).contains("!term negates"), "{}", render(&app));
    press(&mut app, [ch('x')]);
    assert!(app.overlay.is_none());
    let long = format!("{} THE-END", "a long message ".repeat(12));
    press(
        &mut app,
        [Message::Status(webhook_dev::tui::message::Status::error(
            long.clone(),
        ))],
    );
    let screen = render(&app);
    assert!(
        screen.contains("! shows all") && !screen.contains("THE-END"),
        "{screen}"
    );
    press(&mut app, [ch('!')]);
    let screen = render(&app);
    assert!(screen.contains("THE-END"), "{screen}");
    assert!(!app.log.is_empty());
}

#[test]
fn an_unknown_filter_term_is_warned_about() {
    let mut app = app(&sample(), Mode::Listen);
    press(&mut app, [ch('/')]);
    press(&mut app, typed("evnt:invoice"));
    press(&mut app, [key(KeyCode::Enter)]);
    assert!(status_is_error(&app));
    assert!(
        status(&app).contains("unknown filter term evnt:"),
        "{}",
        status(&app)
    );
    press(&mut app, [ch('/'), ctrl('u')]);
    press(&mut app, typed("sig:bogus"));
    assert!(status(&app).contains("sig:bogus"), "{}", status(&app));
    press(&mut app, [ctrl('u')]);
    press(&mut app, typed("event:invoice"));
    press(&mut app, [key(KeyCode::Enter)]);
    assert!(!status_is_error(&app), "{}", status(&app));
}

#[test]
fn h_and_l_move_the_keys_between_the_list_and_the_detail() {
    let mut app = app(&sample(), Mode::Listen);
    press(&mut app, [ch('l')]);
    assert_eq!(app.screen, Screen::Detail);
    press(&mut app, [ch('h'), ch('k')]);
    assert!(app.list_focused);
    assert_eq!(selected(&app), Some(id(2)), "j and k move the selection");
    assert!(
        tab_text(&app).contains("\"report_id\": \"r2\""),
        "the detail follows"
    );
    press(&mut app, [ch('l'), ch('j')]);
    assert!(!app.list_focused);
    assert_eq!(selected(&app), Some(id(2)), "j scrolls the detail again");
    press(&mut app, [Message::Resize(80, 24), ch('h')]);
    assert_eq!(
        app.screen,
        Screen::List,
        "no list above on a short terminal: back to it"
    );
}

#[test]
fn capital_m_turns_mouse_capture_off_and_on_and_ctrl_z_suspends() {
    let mut app = app(&sample(), Mode::Listen);
    assert!(matches!(
        press(&mut app, [ch('M')]).as_slice(),
        [Effect::Mouse(false)]
    ));
    assert!(status(&app).contains("mouse off"));
    assert!(matches!(
        press(&mut app, [ch('M')]).as_slice(),
        [Effect::Mouse(true)]
    ));
    assert!(matches!(
        press(&mut app, [ctrl('z')]).as_slice(),
        [Effect::Suspend]
    ));
}
