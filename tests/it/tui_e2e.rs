//! The real binary in a real terminal (tmux): requests arrive live, the detail shows a body, a
//! diff shows a changed field, a hostile payload stays inert, `q` quits and restores the terminal.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use crate::support::eventually::eventually_blocking;

static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A tmux server of our own (its own socket), killed when the test ends.
struct Tmux {
    socket: String,
    session: String,
}

impl Tmux {
    /// Fails the test when tmux is missing: these tests are the inspector's only check in a
    /// real terminal, so passing without them would hide a regression.
    fn require() {
        let found = Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            found,
            "tmux is not installed: apt-get install tmux (.ci/run installs it)"
        );
    }

    fn start(command: &str) -> Tmux {
        let tmux = Tmux {
            socket: format!(
                "webhook-dev-e2e-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            ),
            session: "inspector".into(),
        };
        let status = Command::new("tmux")
            .args(["-L", &tmux.socket, "-f", "/dev/null"])
            .args([
                "new-session",
                "-d",
                "-x",
                "120",
                "-y",
                "40",
                "-s",
                &tmux.session,
            ])
            .arg(command)
            .env_remove("TMUX")
            .status()
            .unwrap();
        assert!(status.success());
        // Let OSC 52 (y) reach tmux's paste buffer.
        tmux.cmd(&["set-option", "-g", "set-clipboard", "on"]);
        tmux
    }

    fn cmd(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types `keys`. After an Escape it waits for the screen to change: an Escape read together
    /// with the next key is Alt+key.
    fn keys(&self, keys: &[&str]) {
        for key in keys {
            let before = (*key == "Escape").then(|| self.screen());
            self.cmd(&["send-keys", "-t", &self.session, key]);
            if let Some(before) = before {
                let changed =
                    eventually_blocking(Duration::from_secs(5), || self.screen() != before);
                assert!(changed, "Escape changed nothing on:\n{before}");
            }
        }
    }

    fn screen(&self) -> String {
        self.cmd(&["capture-pane", "-p", "-t", &self.session])
    }

    fn format(&self, format: &str) -> String {
        self.cmd(&["display-message", "-p", "-t", &self.session, format])
            .trim()
            .to_string()
    }

    /// The screen once `check` holds for it (at most 15 s).
    fn wait_for(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let mut screen = String::new();
        let shown = eventually_blocking(Duration::from_secs(15), || {
            screen = self.screen();
            check(&screen)
        });
        assert!(shown, "timed out waiting for {what}; the screen:\n{screen}");
        screen
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

fn post(port: u16, path: &str, body: &[u8]) {
    post_with(port, path, &[], body);
}

fn post_with(port: u16, path: &str, headers: &[(String, String)], body: &[u8]) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: application/json\r\n{}Content-Length: {}\r\n\r\n",
        headers
            .iter()
            .map(|(n, v)| format!("{n}: {v}\r\n"))
            .collect::<String>(),
        body.len()
    )
    .unwrap();
    stream.write_all(body).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn the_inspector_in_a_real_terminal() {
    Tmux::require();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let bin = env!("CARGO_BIN_EXE_webhook-dev");
    let command = format!(
        "env -u WEBHOOK_DEV_STORE '{bin}' --store '{}' listen --addr 127.0.0.1:0; echo \"exit=$?\"; stty -a | tr ' ' '\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' '; echo; sleep 60",
        store.display()
    );
    let tmux = Tmux::start(&command);

    // The header names the address.
    let screen = tmux.wait_for("the listening address", header_drawn);
    assert_eq!(
        tmux.format("#{alternate_on}"),
        "1",
        "the inspector uses the alternate screen"
    );
    let port = port_on(&screen);
    let title_before = tmux.format("#{pane_title}");

    // Requests arrive live.
    post(
        port,
        "/webhooks/avara",
        br#"{"type":"report.delivered","data":{"report_id":"r1","is_critical":false}}"#,
    );
    post(
        port,
        "/webhooks/avara",
        br#"{"type":"report.delivered","data":{"report_id":"r1","is_critical":true}}"#,
    );
    post(
        port,
        "/webhooks/evil",
        b"{\"note\":\"hi\"}\x1b]0;pwned\x07\x1b[2J\x1b[31mRED",
    );
    let screen = tmux.wait_for("three requests", |s| s.contains("3 requests"));
    assert_eq!(screen.matches("/webhooks/avara").count(), 2, "{screen}");
    assert!(screen.contains("/webhooks/evil"), "{screen}");

    // The hostile body is shown as text: no retitling, no clearing, no colour change.
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("the hostile body", |s| s.contains("pwned"));
    assert!(
        screen.contains(r"\x1b]0;pwned\x07\x1b[2J\x1b[31mRED"),
        "the escape sequences are shown inert:\n{screen}"
    );
    assert!(
        screen.contains("3 requests"),
        "the screen was not cleared:\n{screen}"
    );
    assert_ne!(tmux.format("#{pane_title}"), "pwned");
    assert_eq!(tmux.format("#{pane_title}"), title_before);

    // The detail shows a body.
    tmux.keys(&["Escape", "k", "Enter"]);
    tmux.wait_for("the second body", |s| {
        s.contains("\"is_critical\": true") && s.contains("\"report_id\": \"r1\"")
    });

    // A diff shows the changed field: mark the first, diff the second against it.
    tmux.keys(&["Escape", "k", "m", "j", "d"]);
    let screen = tmux.wait_for("the diff", |s| s.contains("data.is_critical"));
    assert!(
        screen.contains("data.is_critical: false -> true"),
        "{screen}"
    );
    // D compares with the previous request of the same kind: the same result here.
    tmux.keys(&["Escape", "D"]);
    tmux.wait_for("the D diff", |s| {
        s.contains("previous request of the same kind")
            && s.contains("data.is_critical: false -> true")
    });

    // A replay shows up as a new row linked to its original.
    tmux.keys(&["Escape", "r"]);
    tmux.wait_for("the replay", |s| {
        s.contains("4 requests") && s.contains("↻ req_") && s.contains("recorded as req_")
    });

    // y copies the request as a curl command through OSC 52.
    tmux.keys(&["y", "c"]);
    tmux.wait_for("the copy", |s| s.contains("copied to the clipboard"));
    let mut copied = String::new();
    let _ = eventually_blocking(Duration::from_secs(5), || {
        copied = tmux.cmd(&["show-buffer"]);
        copied.contains("curl ")
    });
    assert!(copied.starts_with("curl "), "{copied:?}");
    assert!(copied.contains("/webhooks/avara"), "{copied:?}");

    // Help opens and closes.
    tmux.keys(&["?"]);
    tmux.wait_for("help", |s| s.contains("any key closes"));
    tmux.keys(&["Escape"]);
    tmux.wait_for("help closed", |s| !s.contains("any key closes"));

    // q asks first on a live listener, then quits and the terminal is restored.
    tmux.keys(&["q"]);
    tmux.wait_for("the question", |s| s.contains("and quit?"));
    tmux.keys(&["y"]);
    let screen = tmux.wait_for("the exit and the terminal's modes", |s| {
        s.contains("exit=") && s.contains("icanon")
    });
    assert!(screen.contains("exit=0"), "{screen}");
    let modes = screen
        .lines()
        .find(|l| l.contains("icanon"))
        .unwrap_or_default()
        .to_string();
    assert!(
        modes.split_whitespace().any(|m| m == "icanon")
            && modes.split_whitespace().any(|m| m == "echo"),
        "the terminal is back in cooked mode with echo: {modes:?}"
    );
    assert_eq!(
        tmux.format("#{alternate_on}"),
        "0",
        "back on the main screen"
    );
    assert_eq!(
        tmux.format("#{mouse_any_flag}"),
        "0",
        "the mouse is released"
    );
    assert_eq!(tmux.format("#{cursor_flag}"), "1", "the cursor is shown");
    assert!(!screen.contains("Waiting for requests"), "{screen}");
}

/// A handler on 127.0.0.1:0 answering 200 and keeping each request's raw head and body.
fn handler() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut raw = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = stream.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    break;
                }
                raw.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&raw).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length: ")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if raw.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            record
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(&raw).into_owned());
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{\"ok\":true}",
            );
        }
    });
    (port, seen)
}

fn header_of(raw: &str, name: &str) -> Option<String> {
    raw.split("\r\n\r\n").next().unwrap().lines().find_map(|l| {
        let (n, v) = l.split_once(": ")?;
        n.eq_ignore_ascii_case(name).then(|| v.to_string())
    })
}

#[test]
fn inspect_replays_re_signed_to_the_recorded_target() {
    use std::io::BufRead as _;
    Tmux::require();
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let (handler_port, seen) = handler();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let bin = env!("CARGO_BIN_EXE_webhook-dev");

    // Capture one signed request with a plain `listen --json`, then stop it.
    let mut listen = Command::new(bin)
        .env_remove("WEBHOOK_DEV_STORE")
        .arg("--store")
        .arg(&store)
        .args([
            "listen",
            "--addr",
            "127.0.0.1:0",
            "--json",
            "--profile",
            "standard-webhooks",
        ])
        .args(["--secret", SECRET, "--forward", &handler_port.to_string()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(listen.stdout.take().unwrap()).lines();
    let listening: serde_json::Value =
        serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    let port: u16 = listening["addr"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let body = br#"{"type":"contact.created","data":{"id":"c_1"}}"#;
    // Two minutes old: still within tolerance, and re-signing must give a new timestamp.
    let timestamp = chrono::Utc::now().timestamp() - 120;
    let signed = webhook_dev::signature::sign(
        &webhook_dev::signature::Scheme::StandardWebhooks {
            header_prefix: "webhook".into(),
            tolerance_secs: 300,
        },
        &webhook_dev::signature::Secret::new(SECRET),
        body,
        "msg_original",
        timestamp,
    )
    .unwrap();
    post_with(port, "/hooks/sw", &signed, body);
    let captured: serde_json::Value =
        serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(captured["signature"]["status"], "verified", "{captured}");
    listen.kill().unwrap();
    listen.wait().unwrap();

    // Inspect it and press R: a re-signed copy goes to the recorded target.
    let command = format!(
        "env -u WEBHOOK_DEV_STORE '{bin}' --store '{}' inspect --profile standard-webhooks --secret {SECRET}; echo \"exit=$?\"; sleep 60",
        store.display()
    );
    let tmux = Tmux::start(&command);
    tmux.wait_for("the stored request", |s| {
        s.contains("1 request ") && s.contains("/hooks/sw")
    });
    tmux.keys(&["Enter", "3"]);
    tmux.wait_for("the signature tab", |s| {
        s.contains("✓ verified") && s.contains("re-signed as standard-webhooks")
    });
    tmux.keys(&["R"]);
    let screen = tmux.wait_for("the re-signed replay", |s| {
        s.contains("re-signed replay of") && s.contains("answered 200")
    });
    assert!(!screen.contains("not forwarded"), "{screen}");
    tmux.keys(&["Escape"]);
    tmux.wait_for("the new row", |s| {
        s.contains("2 requests") && s.contains("↻ req_")
    });
    tmux.keys(&["q"]);
    tmux.wait_for("the exit", |s| s.contains("exit=0"));

    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.len(),
        2,
        "the original and the replay reached the handler"
    );
    let (first, second) = (&seen[0], &seen[1]);
    assert!(second.starts_with("POST /hooks/sw "), "{second}");
    assert!(
        second.ends_with(std::str::from_utf8(body).unwrap()),
        "{second}"
    );
    assert_eq!(
        header_of(first, "webhook-id").as_deref(),
        Some("msg_original")
    );
    let kept_id = header_of(second, "webhook-id").unwrap();
    assert_eq!(kept_id, "msg_original", "a resent message keeps its id");
    assert_ne!(
        header_of(first, "webhook-signature"),
        header_of(second, "webhook-signature")
    );

    // The replay is stored, verified and linked, and logged as a delivery.
    let out = Command::new(bin)
        .env_remove("WEBHOOK_DEV_STORE")
        .arg("--store")
        .arg(&store)
        .args(["requests", "list", "--json"])
        .output()
        .unwrap();
    let listed: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1]["replay_of"], listed[0]["id"]);
    assert_eq!(
        listed[1]["signature"]["status"], "verified",
        "{}",
        listed[1]
    );
    let out = Command::new(bin)
        .env_remove("WEBHOOK_DEV_STORE")
        .arg("--store")
        .arg(&store)
        .args(["deliveries", "list", "--json"])
        .output()
        .unwrap();
    let deliveries = String::from_utf8_lossy(&out.stdout);
    assert!(
        deliveries.contains("\"status\":\"success\""),
        "{deliveries}"
    );
    assert!(deliveries.contains("\"kind\":\"replay\""), "{deliveries}");
}

/// A handler that holds every request until `release` is set, then answers 200.
fn held_handler() -> (u16, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let release = std::sync::Arc::new(AtomicBool::new(false));
    let released = release.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let released = released.clone();
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut raw = Vec::new();
                let mut buf = [0u8; 65536];
                loop {
                    let n = stream.read(&mut buf).unwrap_or(0);
                    raw.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&raw);
                    let complete = text.find("\r\n\r\n").is_some_and(|end| {
                        let length = header_of(&text, "content-length")
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        raw.len() >= end + 4 + length
                    });
                    if n == 0 || complete {
                        break;
                    }
                }
                let _ = eventually_blocking(Duration::from_secs(30), || {
                    released.load(Ordering::SeqCst)
                });
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
            });
        }
    });
    (port, release)
}

/// Whether the header shows the listening address, whole: the first frames show only the
/// handler's (`→ http://…`), and the relay's state is drawn after both.
fn header_drawn(screen: &str) -> bool {
    screen
        .lines()
        .any(|l| l.contains("listening http://127.0.0.1:") && l.contains(" · relay: "))
}

fn port_on(screen: &str) -> u16 {
    screen
        .split("listening http://127.0.0.1:")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap()
}

#[test]
fn requests_show_when_they_arrive_long_bodies_scroll_and_quitting_waits() {
    use std::sync::atomic::Ordering;
    Tmux::require();
    let (handler, release) = held_handler();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let bin = env!("CARGO_BIN_EXE_webhook-dev");
    let command = format!(
        "env -u WEBHOOK_DEV_STORE '{bin}' --store '{}' listen --addr 127.0.0.1:0 --forward 127.0.0.1:{handler}; echo \"exit=$?\"; sleep 60",
        store.display()
    );
    let tmux = Tmux::start(&command);
    let port = port_on(&tmux.wait_for("the listening address", header_drawn));

    // A request to a handler that has not answered yet is listed at once, with a running timer.
    let sender = std::thread::spawn(move || post(port, "/held", b"{\"a\":1}"));
    let screen = tmux.wait_for("the pending row", |s| {
        s.contains("/held") && s.contains("⋯ ")
    });
    assert!(screen.contains("1 request"), "{screen}");
    let first = screen
        .lines()
        .find(|l| l.contains("/held"))
        .unwrap()
        .to_string();
    tmux.wait_for("the timer to run", |s| {
        s.lines()
            .find(|l| l.contains("/held"))
            .is_some_and(|l| l != first)
    });
    release.store(true, Ordering::SeqCst);
    sender.join().unwrap();
    tmux.wait_for("the answer in place", |s| {
        s.lines().any(|l| l.contains("/held") && l.contains("200 ")) && !s.contains("⋯ ")
    });

    // What another process adds to the store shows up too.
    let id = {
        let out = Command::new(bin)
            .args([
                "--store",
                &store.display().to_string(),
                "requests",
                "list",
                "--json",
            ])
            .output()
            .unwrap();
        let line = String::from_utf8(out.stdout).unwrap();
        let v: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
        v["id"].as_str().unwrap().to_string()
    };
    let replay = Command::new(bin)
        .args([
            "--store",
            &store.display().to_string(),
            "replay",
            &id,
            "--to",
        ])
        .arg(format!("127.0.0.1:{handler}"))
        .output()
        .unwrap();
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    tmux.wait_for("the replay from another process", |s| {
        s.contains("2 requests") && s.matches("/held").count() == 2
    });

    // A long one-line body scrolls by screen rows to its last byte.
    let long = format!("{}THE-END", "lorem ipsum ".repeat(600));
    post(port, "/long", long.as_bytes());
    tmux.wait_for("the long request", |s| s.contains("/long"));
    tmux.keys(&["G", "Enter"]);
    tmux.wait_for("the detail", |s| s.contains("Body"));
    assert!(!tmux.screen().contains("THE-END"));
    tmux.keys(&["G"]);
    tmux.wait_for("the last byte", |s| s.contains("THE-END"));

    // Quitting says what it waits for; a second q quits at once.
    release.store(false, Ordering::SeqCst);
    let _late = std::thread::spawn(move || {
        let _ = std::panic::catch_unwind(|| post(port, "/late", b"{}"));
    });
    tmux.wait_for("the second pending row", |s| s.contains("⋯ "));
    tmux.keys(&["q", "y"]);
    tmux.wait_for("the wait", |s| {
        s.contains("waiting for 1 request in flight to be answered: POST /late")
    });
    tmux.keys(&["q"]);
    let screen = tmux.wait_for("the exit", |s| s.contains("exit="));
    assert!(screen.contains("exit=130"), "{screen}");
    assert!(screen.contains("quit at once"), "{screen}");
    release.store(true, Ordering::SeqCst);
}

#[test]
fn themes_and_no_color_in_a_real_terminal() {
    Tmux::require();
    let bin = env!("CARGO_BIN_EXE_webhook-dev");
    let coloured = |s: &str| {
        s.split('\u{1b}')
            .filter_map(|seq| seq.strip_prefix('['))
            .filter_map(|seq| seq.split_once('m').map(|(codes, _)| codes))
            .flat_map(|codes| codes.split(';'))
            .any(|code| {
                matches!(
                    code.parse::<u8>(),
                    Ok(30..=37 | 40..=47 | 90..=97 | 38 | 48)
                )
            })
    };
    for (setting, colours) in [
        ("", true),
        ("--theme light", true),
        ("--theme mono", false),
        ("NO_COLOR=1", false),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (env, flag) = match setting.strip_prefix("--") {
            Some(_) => ("", setting),
            None => (setting, ""),
        };
        let command = format!(
            "env -u WEBHOOK_DEV_STORE {env} '{bin}' --store '{}' listen --addr 127.0.0.1:0 {flag}; sleep 60",
            dir.path().join("store").display()
        );
        let tmux = Tmux::start(&command);
        let port = port_on(&tmux.wait_for("the listening address", header_drawn));
        post(port, "/themed", b"{}");
        tmux.wait_for("the request", |s| s.contains("/themed"));
        let styled = tmux.cmd(&["capture-pane", "-p", "-e", "-t", &tmux.session]);
        assert_eq!(coloured(&styled), colours, "{setting:?}: {styled:?}");
        let selected = styled.lines().find(|l| l.contains("/themed")).unwrap();
        let reversed = selected
            .split('\u{1b}')
            .filter_map(|seq| seq.strip_prefix('['))
            .filter_map(|seq| seq.split_once('m').map(|(codes, _)| codes))
            .any(|codes| {
                let codes: Vec<&str> = codes.split(';').collect();
                codes.iter().enumerate().any(|(i, c)| {
                    *c == "7" && (i < 2 || !matches!(codes[i - 2], "38" | "48" | "58"))
                })
            });
        assert!(
            reversed,
            "{setting:?}: the selection is in reverse video: {selected:?}"
        );
    }
}
