//! Keeps the thread serving a lone sender polling for a short while before it sleeps.
//!
//! A thread asleep in `epoll_wait` that the next packet wakes costs that request tens of
//! microseconds more than a thread still running: its idle core has halted (in a VM the wake-up
//! crosses the hypervisor both ways: the sender pays for the interrupt, the thread for coming
//! back). With one sender, each request waits like this twice, for the handler's answer and for
//! the sender's next request, which both come back within tens of microseconds. So when the thread
//! runs out of work after serving, a task yields in a loop for up to [`LINGER`]: each time the
//! runtime's queue empties with only that task left, tokio polls for I/O without blocking (and
//! runs [`crate::store::before_park`]'s work only when it really parks), and the next packet is
//! picked up at once. The thread lingers only while at most one connection is open: with more,
//! the other senders keep it busy, and the CPU lingering takes is what they need.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// How long the thread polls before it sleeps, once it has run out of work.
pub(crate) const LINGER: Duration = Duration::from_micros(50);

thread_local! {
    /// Requests begun and ended on this thread.
    static ACTIVITY: Cell<u64> = const { Cell::new(0) };
    /// The activity count when the thread last lingered.
    static LINGERED_AT: Cell<u64> = const { Cell::new(0) };
    /// The lingering task on this thread, and the open connections it counts.
    static LINGERER: RefCell<Option<Lingerer>> = const { RefCell::new(None) };
}

struct Lingerer {
    start: Arc<Notify>,
    connections: Arc<AtomicUsize>,
}

/// Counts a request begun or ended on this thread.
pub(crate) fn note_activity() {
    ACTIVITY.set(ACTIVITY.get().wrapping_add(1));
}

/// Starts the lingering task, if this thread has one, when a request began or ended since it
/// last lingered and at most one connection is open; for `on_thread_park`. Waking the task
/// keeps the runtime from parking.
pub fn before_park() {
    let activity = ACTIVITY.get();
    if activity == LINGERED_AT.get() {
        return;
    }
    LINGERER.with_borrow(|lingerer| {
        if let Some(lingerer) = lingerer {
            if lingerer.connections.load(Ordering::Relaxed) <= 1 {
                LINGERED_AT.set(activity);
                lingerer.start.notify_one();
            }
        }
    });
}

/// Lingers each time [`before_park`] says to, for as long as it runs; `connections` counts the
/// connections open. Spawned on the runtime thread that serves them.
pub(crate) async fn linger_when_idle(connections: Arc<AtomicUsize>) {
    let start = Arc::new(Notify::new());
    LINGERER.set(Some(Lingerer {
        start: start.clone(),
        connections,
    }));
    let _unregister = Unregister;
    loop {
        start.notified().await;
        let until = Instant::now() + LINGER;
        while Instant::now() < until {
            tokio::task::yield_now().await;
        }
    }
}

/// Forgets the lingering task when it stops.
struct Unregister;

impl Drop for Unregister {
    fn drop(&mut self) {
        LINGERER.set(None);
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    /// Registers a lingerer that only records being started, with `open` connections.
    fn registered(open: usize) -> Arc<Notify> {
        let start = Arc::new(Notify::new());
        LINGERER.set(Some(Lingerer {
            start: start.clone(),
            connections: Arc::new(AtomicUsize::new(open)),
        }));
        start
    }

    fn started(start: &Notify) -> bool {
        start.notified().now_or_never().is_some()
    }

    #[test]
    fn a_lone_connection_lingers_once_after_each_request_and_not_without_one() {
        let start = registered(1);
        before_park();
        assert!(!started(&start), "lingered before any request");
        note_activity();
        before_park();
        assert!(started(&start));
        before_park();
        assert!(!started(&start), "lingered twice for one request");
        note_activity();
        before_park();
        assert!(started(&start));
        LINGERER.set(None);
    }

    #[test]
    fn with_a_second_connection_open_the_thread_does_not_linger() {
        let start = registered(2);
        note_activity();
        before_park();
        assert!(!started(&start));
        LINGERER.set(None);
    }

    #[test]
    fn after_a_request_the_thread_polls_for_a_while_then_parks() {
        let parks = Arc::new(std::sync::Mutex::new(Vec::new()));
        let runtime = {
            let parks = parks.clone();
            tokio::runtime::Builder::new_current_thread()
                .on_thread_park(move || {
                    parks.lock().unwrap().push(Instant::now());
                    before_park();
                })
                .enable_all()
                .build()
                .unwrap()
        };
        runtime.block_on(async {
            let lingering = tokio::spawn(linger_when_idle(Arc::new(AtomicUsize::new(1))));
            tokio::task::yield_now().await;
            parks.lock().unwrap().clear();
            note_activity();
            tokio::time::sleep(Duration::from_millis(200)).await;
            lingering.abort();
        });
        let parks = parks.lock().unwrap();
        assert!(parks.len() >= 2, "it parked {} times", parks.len());
        // The first time it would park it lingers instead; it parks once that is over.
        let lingered = parks[1] - parks[0];
        assert!(lingered >= LINGER, "lingered {lingered:?}");
        assert!(
            lingered < Duration::from_millis(100),
            "lingered {lingered:?}"
        );
    }
}
