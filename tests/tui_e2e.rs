//! The real binary in a real terminal (tmux): requests arrive live, the detail shows a body, a
//! diff shows a changed field, a hostile payload stays inert, `q` quits and restores the terminal.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux server of our own (its own socket), killed when the test ends.
struct Tmux {
    socket: String,
    session: String,
}

impl Tmux {
    fn available() -> bool {
        Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    fn start(command: &str) -> Tmux {
        let tmux = Tmux {
            socket: format!("webhook-dev-e2e-{}", std::process::id()),
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

    fn keys(&self, keys: &[&str]) {
        for key in keys {
            self.cmd(&["send-keys", "-t", &self.session, key]);
            std::thread::sleep(Duration::from_millis(60));
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

    /// Polls the screen until `check` holds (at most 15 s).
    fn wait_for(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let screen = self.screen();
            if check(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
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
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
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
    if !Tmux::available() {
        eprintln!("SKIPPED: tmux is not installed (CI installs it; apt-get install tmux)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let bin = env!("CARGO_BIN_EXE_webhook-dev");
    let command = format!(
        "env -u WEBHOOK_DEV_STORE '{bin}' --store '{}' listen --addr 127.0.0.1:0; echo \"exit=$?\"; stty -a | tr ' ' '\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' '; echo; sleep 60",
        store.display()
    );
    let tmux = Tmux::start(&command);

    // The header names the address.
    let screen = tmux.wait_for("the listening address", |s| s.contains("http://127.0.0.1:"));
    assert_eq!(
        tmux.format("#{alternate_on}"),
        "1",
        "the inspector uses the alternate screen"
    );
    let port: u16 = screen
        .split("http://127.0.0.1:")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap();
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
    let screen = tmux.wait_for("the replay", |s| {
        s.contains("4 requests") && s.contains("↻ req_")
    });
    assert!(screen.contains("recorded as req_"), "{screen}");

    // y copies the request as a curl command through OSC 52.
    tmux.keys(&["y"]);
    tmux.wait_for("the copy", |s| s.contains("to the clipboard"));
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut copied = String::new();
    while Instant::now() < deadline && !copied.contains("curl ") {
        copied = tmux.cmd(&["show-buffer"]);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(copied.starts_with("curl "), "{copied:?}");
    assert!(copied.contains("/webhooks/avara"), "{copied:?}");

    // Help opens and closes.
    tmux.keys(&["?"]);
    tmux.wait_for("help", |s| s.contains("any key closes this help"));
    tmux.keys(&["Escape"]);
    tmux.wait_for("help closed", |s| !s.contains("any key closes this help"));

    // q quits and the terminal is restored.
    tmux.keys(&["q"]);
    let screen = tmux.wait_for("the exit", |s| s.contains("exit="));
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
