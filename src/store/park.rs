//! Hands the writes a runtime thread queued to the writer thread once that thread runs out of
//! other work, so that a commit under load holds many requests instead of the few that came in
//! while the last one was made.
//!
//! Every commit rewrites a few pages whatever it holds (the last, partly filled page of each
//! table and index, and the database header), so a commit of a few requests writes several times
//! their size to the WAL, and the writer's work, the checkpointer's and the disk's grow with
//! that. A write held here costs its request little while the thread has other requests to
//! serve: the request's forward to the handler goes on meanwhile. Once nothing else is ready the
//! runtime calls [`before_park`] (installed with `on_thread_park`), and the held writes are
//! committed together; a write is never held longer than the queue's hold limit. A thread whose
//! runtime does not call [`before_park`] never holds a write back.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use super::queue::JobQueue;

/// The most writes a thread holds back before it hands them over anyway: under load, about
/// what one thread serving 32 connections queues between two parks.
pub(super) const HOLD_AT_MOST: usize = 32;

/// A queue whose held writes can be let go of.
pub(super) trait Release {
    fn release(&self);
}

impl<T> Release for JobQueue<T> {
    fn release(&self) {
        JobQueue::release(self);
    }
}

thread_local! {
    /// Whether this thread's runtime calls [`before_park`].
    static PARKS_HERE: Cell<bool> = const { Cell::new(false) };
    /// The queues holding writes this thread queued, to release before it parks.
    static HELD: RefCell<Vec<Arc<dyn Release>>> = const { RefCell::new(Vec::new()) };
}

/// Releases the writes this thread holds back; for `tokio::runtime::Builder::on_thread_park`,
/// on a runtime whose threads never block outside it (`block_in_place`): a thread blocked there
/// would hold its writes until it came back.
pub fn before_park() {
    PARKS_HERE.set(true);
    for queue in HELD.take() {
        queue.release();
    }
}

/// Whether writes queued on this thread may be held back: it runs a runtime that releases them
/// before it parks.
pub(crate) fn holds_here() -> bool {
    PARKS_HERE.get() && tokio::runtime::Handle::try_current().is_ok()
}

/// Releases `queue` the next time this thread parks.
pub(super) fn release_before_park(queue: Arc<dyn Release>) {
    HELD.with_borrow_mut(|held| {
        let same =
            |other: &Arc<dyn Release>| std::ptr::addr_eq(Arc::as_ptr(other), Arc::as_ptr(&queue));
        if !held.iter().any(same) {
            held.push(queue);
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
            release_before_park(queue.clone());
            assert!(!queue.push_held("request 2", HOLD_AT_MOST).unwrap());
            release_before_park(queue.clone());
            assert!(!queue.is_released(), "released before the thread parked");
            park_once().await;
            assert!(queue.is_released());
        });
        assert_eq!(queue.take_now(10), ["request 1", "request 2"]);
    }
}
