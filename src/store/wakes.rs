//! Tells the callers waiting on a batch's writes that it committed, with one wake-up of their
//! runtime for the whole batch.
//!
//! Each waiting caller is a task on the runtime that serves connections. Woken one by one from
//! the writer thread, every wake-up is a write to the runtime's eventfd (tokio unparks its driver
//! for each task scheduled from another thread): about one system call a request under load.
//! Handed over together, the outcomes are sent by a task on the runtime itself, where waking a
//! task is a push onto its local queue.

use std::sync::{Arc, Mutex};

use tokio::sync::{oneshot, Notify};

use super::writer::Inserted;
use super::WriteError;

/// Where a write's outcome goes when a caller waits on it.
pub(crate) type Waiter = oneshot::Sender<Result<Inserted, WriteError>>;

/// A waiter and the outcome it is to hear.
type Outcome = (Waiter, Result<Inserted, WriteError>);

/// Delivers the outcomes of waited-on writes: through a task on the runtime the store was opened
/// in, or, without one (or once that task is gone), straight from the committing thread.
pub(super) struct Wakes {
    on_runtime: Option<Arc<HandOver>>,
}

/// Sends `outcome` to `waiter` (which may have stopped waiting).
pub(super) fn wake(waiter: Waiter, outcome: Result<Inserted, WriteError>) {
    let _ = waiter.send(outcome);
}

struct HandOver {
    pending: Mutex<Pending>,
    ready: Notify,
}

struct Pending {
    outcomes: Vec<Outcome>,
    /// Whether outcomes are still handed over: not once the store closes or the runtime drops
    /// the delivering task.
    accepting: bool,
}

impl Wakes {
    /// Delivers straight from the committing thread.
    pub(super) const DIRECT: Wakes = Wakes { on_runtime: None };

    /// Delivers from the runtime `within` when there is one, from the committing thread otherwise.
    pub(super) fn new(within: Option<&tokio::runtime::Handle>) -> Self {
        let on_runtime = within.map(|runtime| {
            let hand_over = Arc::new(HandOver {
                pending: Mutex::new(Pending {
                    outcomes: Vec::new(),
                    accepting: true,
                }),
                ready: Notify::new(),
            });
            runtime.spawn(deliver(CloseOnDrop(hand_over.clone())));
            hand_over
        });
        Self { on_runtime }
    }

    /// Sends every outcome to its waiter.
    pub(super) fn deliver(&self, outcomes: Vec<Outcome>) {
        if outcomes.is_empty() {
            return;
        }
        if let Some(hand_over) = &self.on_runtime {
            let mut pending = crate::sync::lock(&hand_over.pending);
            if pending.accepting {
                pending.outcomes.extend(outcomes);
                drop(pending);
                hand_over.ready.notify_one();
                return;
            }
        }
        send_all(outcomes);
    }

    /// Ends the delivering task once it has sent what was handed over.
    pub(super) fn close(&self) {
        if let Some(hand_over) = &self.on_runtime {
            crate::sync::lock(&hand_over.pending).accepting = false;
            hand_over.ready.notify_one();
        }
    }
}

fn send_all(outcomes: Vec<Outcome>) {
    for (waiter, outcome) in outcomes {
        wake(waiter, outcome);
    }
}

/// Sends what is handed over, a batch at a time, until the store closes.
async fn deliver(closes: CloseOnDrop) {
    let hand_over = &closes.0;
    loop {
        hand_over.ready.notified().await;
        let (outcomes, accepting) = {
            let mut pending = crate::sync::lock(&hand_over.pending);
            (std::mem::take(&mut pending.outcomes), pending.accepting)
        };
        send_all(outcomes);
        if !accepting {
            return;
        }
    }
}

/// Should the runtime drop the delivering task, what it was handed is sent at once and later
/// outcomes go straight from the committing thread.
struct CloseOnDrop(Arc<HandOver>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        let outcomes = {
            let mut pending = crate::sync::lock(&self.0.pending);
            pending.accepting = false;
            std::mem::take(&mut pending.outcomes)
        };
        send_all(outcomes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting() -> (Waiter, oneshot::Receiver<Result<Inserted, WriteError>>) {
        oneshot::channel()
    }

    #[tokio::test]
    async fn outcomes_from_another_thread_reach_their_waiters_on_the_runtime() {
        let wakes = Arc::new(Wakes::new(Some(&tokio::runtime::Handle::current())));
        let (first, first_outcome) = waiting();
        let (second, second_outcome) = waiting();
        let from = wakes.clone();
        std::thread::spawn(move || {
            from.deliver(vec![
                (first, Ok(Some(7))),
                (second, Err(WriteError::Closed(super::super::Writer::Store))),
            ])
        })
        .join()
        .unwrap();
        assert_eq!(first_outcome.await.unwrap().unwrap(), Some(7));
        assert!(second_outcome.await.unwrap().is_err());
    }

    #[test]
    fn outcomes_still_arrive_once_the_runtime_is_gone() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let wakes = Wakes::new(Some(runtime.handle()));
        let (handed_over, handed_over_outcome) = waiting();
        wakes.deliver(vec![(handed_over, Ok(None))]);
        drop(runtime);
        let (after, after_outcome) = waiting();
        wakes.deliver(vec![(after, Ok(None))]);
        assert!(handed_over_outcome.blocking_recv().unwrap().is_ok());
        assert!(after_outcome.blocking_recv().unwrap().is_ok());
    }

    #[tokio::test]
    async fn closing_sends_what_was_handed_over_and_ends_the_task() {
        let wakes = Wakes::new(Some(&tokio::runtime::Handle::current()));
        let (waiter, outcome) = waiting();
        wakes.deliver(vec![(waiter, Ok(None))]);
        wakes.close();
        assert!(outcome.await.unwrap().is_ok());
        let hand_over = wakes.on_runtime.as_ref().unwrap();
        for _ in 0..10 {
            if Arc::strong_count(hand_over) == 1 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(Arc::strong_count(hand_over), 1, "the delivering task ended");
        let (late, late_outcome) = waiting();
        wakes.deliver(vec![(late, Ok(None))]);
        assert!(late_outcome.await.unwrap().is_ok());
    }

    #[test]
    fn without_a_runtime_outcomes_go_straight_to_their_waiters() {
        let wakes = Wakes::new(None);
        let (waiter, outcome) = waiting();
        wakes.deliver(vec![(waiter, Ok(None))]);
        assert!(outcome.blocking_recv().unwrap().is_ok());
    }
}
