//! `listen --json` with a stdout nobody reads: lines past `--output-buffer` are dropped and
//! counted instead of held in memory, and SIGTERM still ends `listen` promptly.

use std::time::{Duration, Instant};

use crate::support::common::{cli, listen_json, ndjson, send};
use crate::support::eventually::eventually_blocking;

fn terminate(child: &std::process::Child) {
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// Waits for `child` to exit, at most `limit`.
fn exits_within(child: &mut std::process::Child, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    if eventually_blocking(limit, || child.try_wait().unwrap().is_some()) {
        return Some(started.elapsed());
    }
    let _ = child.kill();
    None
}

async fn send_many(addr: &str, n: usize) {
    let addr = addr.parse().unwrap();
    for i in 0..n {
        let answer = send(addr, "POST", &format!("/hooks/{i}"), &[], b"{\"n\":1}").await;
        assert_eq!(answer.status, 200, "{}", answer.text());
    }
}

#[tokio::test]
async fn sigterm_with_a_stdout_nobody_reads_exits_promptly() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr, lines) = listen_json(dir.path(), &[]);
    // Far more than a pipe holds (64 KiB is about 200 lines); nobody reads them.
    send_many(&addr, 600).await;
    terminate(&child);
    let took = exits_within(&mut child, Duration::from_secs(10));
    drop(lines);
    let took = took.expect("listen exits after SIGTERM although stdout is full");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[tokio::test]
async fn a_stdout_that_falls_behind_loses_lines_with_a_count_not_memory() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr, mut lines) = listen_json(dir.path(), &["--output-buffer", "10"]);
    send_many(&addr, 600).await;
    // Now read: every request is either printed or counted in a dropped line.
    let reading = tokio::task::spawn_blocking(move || {
        let (mut printed, mut dropped, mut dropped_lines) = (0u64, 0u64, 0);
        while printed + dropped < 600 {
            let line = lines.next().expect("more lines").unwrap();
            let value: serde_json::Value = serde_json::from_str(&line).unwrap();
            match value["event"].as_str() {
                Some("request") => printed += 1,
                Some("dropped") => {
                    dropped += value["count"].as_u64().unwrap();
                    dropped_lines += 1;
                }
                _ => {}
            }
        }
        (printed, dropped, dropped_lines, lines)
    });
    let (printed, dropped, dropped_lines, lines) =
        tokio::time::timeout(Duration::from_secs(20), reading)
            .await
            .expect("all 600 accounted for")
            .unwrap();
    assert_eq!(printed + dropped, 600);
    assert!(dropped > 0 && dropped_lines > 0, "{printed} printed");
    // A pipe holds a few hundred lines, the queue 10: most were dropped, not kept.
    assert!(printed < 450, "{printed} printed");
    terminate(&child);
    assert!(exits_within(&mut child, Duration::from_secs(10)).is_some());
    drop(lines);
    // Every request is stored nonetheless.
    let listed = cli(dir.path())
        .args(["requests", "list", "--json"])
        .output()
        .unwrap();
    assert_eq!(ndjson(&listed.stdout).len(), 600);
}
