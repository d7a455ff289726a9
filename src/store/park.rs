//! Commits the writes a runtime thread queued once that thread runs out of other work, on that
//! thread, so that a commit under load holds many requests instead of the few that came in while
//! the last one was made, and is made at the one moment the thread has nothing better to do.
//!
//! Every commit rewrites a few pages whatever it holds (the last, partly filled page of each
//! table and index, and the database header), so a commit of a few requests writes several times
//! their size to the WAL, and the committing thread's work, the checkpointer's and the disk's
//! grow with that. A write held here costs its request little while the thread has other
//! requests to serve: the request's forward to the handler goes on meanwhile. Once nothing else
//! is ready the runtime calls [`before_park`] (installed with `on_thread_park`), and the held
//! writes are committed together, with the answers queued meanwhile.
//!
//! Handed to the writer thread instead, the commit came after two wake-ups across threads (the
//! writer's, then the runtime's), each waiting for a core the serving thread, wrk and the handler
//! were using, while every request the thread served waited for that commit: the thread went
//! idle in between, about once every 20 requests at 32 connections. Where the thread cannot
//! commit (another thread or process holds the connection, or the store fsyncs every commit, see
//! [`super::Durability::Power`]) the held writes go to the writer thread, as do the writes of a
//! thread kept busy past the queue's hold limit or holding [`HOLD_AT_MOST`]. A thread whose
//! runtime does not call [`before_park`] never holds a write back.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use super::queue::JobQueue;

/// The most writes a thread holds back before it hands them to the writer thread anyway: as
/// many as one commit takes. Handing them over sooner (after 32, about what a thread serving 32
/// connections queues between two parks) cost more CPU a request than it saved the thread,
/// and fewer requests a second (README, "Speed").
pub(super) const HOLD_AT_MOST: usize = super::writer::MAX_BATCH;

/// Where the writes a thread held go when it parks.
pub(super) trait Settle {
    /// Commits them, or hands them on to be.
    fn settle(&self);
}

impl<T> Settle for JobQueue<T> {
    /// Lets the writer thread take them.
    fn settle(&self) {
        self.release();
    }
}

thread_local! {
    /// Whether this thread's runtime calls [`before_park`].
    static PARKS_HERE: Cell<bool> = const { Cell::new(false) };
    /// Where the writes this thread holds go before it parks.
    static HELD: RefCell<Vec<Arc<dyn Settle>>> = const { RefCell::new(Vec::new()) };
}

/// Commits the writes this thread holds back, or hands them to the writer thread; for
/// `tokio::runtime::Builder::on_thread_park`, on a runtime whose threads never block outside it
/// (`block_in_place`): a thread blocked there would hold its writes until it came back. Waking
/// the tasks that wait for the commit keeps the runtime from parking: it polls them first.
pub fn before_park() {
    PARKS_HERE.set(true);
    for held in HELD.take() {
        held.settle();
    }
}

/// Whether writes queued on this thread may be held back: it runs a runtime that releases them
/// before it parks.
pub(crate) fn holds_here() -> bool {
    PARKS_HERE.get() && tokio::runtime::Handle::try_current().is_ok()
}

/// Settles `writes` the next time this thread parks.
pub(super) fn settle_before_park(writes: Arc<dyn Settle>) {
    HELD.with_borrow_mut(|held| {
        let same =
            |other: &Arc<dyn Settle>| std::ptr::addr_eq(Arc::as_ptr(other), Arc::as_ptr(&writes));
        if !held.iter().any(same) {
            held.push(writes);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime(parks_with_hook: bool) -> tokio::runtime::Runtime {
        let mut builder = tokio::runtime::Builder::new_current_thread();
        if parks_with_hook {
            builder.on_thread_park(before_park);
        }
        builder.enable_all().build().unwrap()
    }

    /// Lets the runtime park once.
    async fn park_once() {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }

    #[test]
    fn a_thread_holds_writes_once_its_runtime_has_parked_through_the_hook() {
        runtime(true).block_on(async {
            park_once().await;
            assert!(holds_here());
        });
    }

    #[test]
    fn a_thread_whose_runtime_has_no_hook_never_holds_writes() {
        runtime(false).block_on(async {
            park_once().await;
            assert!(!holds_here());
        });
    }

    #[test]
    fn held_writes_are_released_when_the_thread_parks() {
        let queue = Arc::new(JobQueue::default());
        runtime(true).block_on(async {
            park_once().await;
            assert!(queue.push_held("request 1", HOLD_AT_MOST).unwrap());
            settle_before_park(queue.clone());
            assert!(!queue.push_held("request 2", HOLD_AT_MOST).unwrap());
            settle_before_park(queue.clone());
            assert!(!queue.is_released(), "released before the thread parked");
            park_once().await;
            assert!(queue.is_released());
        });
        assert_eq!(queue.take_now(10), ["request 1", "request 2"]);
    }
}
