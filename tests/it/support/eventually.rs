//! Waiting for a condition that comes true in its own time, checked often, instead of a sleep
//! that guesses how long it takes. Each returns whether the condition held in time, for the
//! caller's `assert!` to say what it was waiting for.

use std::future::Future;
use std::time::{Duration, Instant};

/// The first pause between checks; it doubles up to [`LONGEST_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(2);
const LONGEST_PAUSE: Duration = Duration::from_millis(50);

/// Whether `condition` held within `timeout`, checked between pauses of the async runtime.
#[must_use]
pub async fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    eventually_async(timeout, || std::future::ready(condition())).await
}

/// [`eventually`] with a condition that awaits (a request, a query).
#[must_use]
pub async fn eventually_async<F: Future<Output = bool>>(
    timeout: Duration,
    mut condition: impl FnMut() -> F,
) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut pause = FIRST_PAUSE;
    loop {
        if condition().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}

/// [`eventually`] for a test without a runtime: the thread sleeps between checks.
#[must_use]
pub fn eventually_blocking(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    let mut pause = FIRST_PAUSE;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}
