//! A bounded queue between the engine's events and a printer that may fall behind (a pipe nobody
//! reads, a terminal paused with Ctrl-S): past its capacity, request lines are dropped and
//! counted rather than held in memory. Other events (listening, relay states) are rare and always
//! kept.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::engine::EngineEvent;

/// A cheap-to-clone handle on the queue.
#[derive(Clone)]
pub struct EventQueue {
    inner: Arc<(Mutex<State>, Condvar)>,
    capacity: usize,
}

#[derive(Default)]
struct State {
    events: VecDeque<EngineEvent>,
    dropped: u64,
    closed: bool,
    /// Whether the printer waits for events and nobody has woken it yet.
    waiting: bool,
}

/// What the printer takes in one go.
#[derive(Debug, Default)]
pub struct Batch {
    /// Request lines dropped since the last batch, before the events below.
    pub dropped: u64,
    /// Events in order.
    pub events: Vec<EngineEvent>,
}

impl EventQueue {
    /// A queue holding at most `capacity` request events (at least 1).
    pub fn new(capacity: usize) -> Self {
        EventQueue {
            inner: Arc::new((Mutex::new(State::default()), Condvar::new())),
            capacity: capacity.max(1),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        crate::sync::lock(&self.inner.0)
    }

    /// Adds an event; a request event past the capacity is dropped and counted.
    pub fn push(&self, event: EngineEvent) {
        let mut state = self.state();
        if state.events.len() >= self.capacity && matches!(event, EngineEvent::Request(_)) {
            state.dropped += 1;
        } else {
            state.events.push_back(event);
        }
        // Woken once: the events pushed before it runs are taken in the same batch.
        let wake = std::mem::take(&mut state.waiting);
        drop(state);
        if wake {
            self.inner.1.notify_one();
        }
    }

    /// No more events will come; the printer ends once it has taken what is left.
    pub fn close(&self) {
        self.state().closed = true;
        self.inner.1.notify_all();
    }

    /// Waits for events (or drops to report) and takes up to `max` of them; `None` once closed
    /// and empty.
    pub fn next_batch(&self, max: usize) -> Option<Batch> {
        let mut state = self.state();
        while state.events.is_empty() && state.dropped == 0 {
            if state.closed {
                return None;
            }
            state.waiting = true;
            state = self.inner.1.wait(state).unwrap_or_else(|p| p.into_inner());
            state.waiting = false;
        }
        let take = state.events.len().min(max);
        Some(Batch {
            dropped: std::mem::take(&mut state.dropped),
            events: state.events.drain(..take).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn listening() -> EngineEvent {
        EngineEvent::Listening {
            addr: SocketAddr::from(([127, 0, 0, 1], 1)),
            forward: None,
            store: "s".into(),
        }
    }

    fn request(n: u64) -> EngineEvent {
        let summary: crate::summary::RequestSummary = serde_json::from_value(serde_json::json!({
            "id": format!("req_{n}"), "received_at": "2026-01-01T00:00:00Z", "method": "POST",
            "path": "/", "size": 0, "event_type": null,
            "signature": {"status": "unchecked", "profile": null, "reason": "none"},
            "forward": null
        }))
        .unwrap();
        EngineEvent::Request(Box::new(summary))
    }

    #[test]
    fn a_waiting_printer_gets_every_event_pushed_while_it_wakes() {
        let queue = EventQueue::new(1000);
        let printer = {
            let queue = queue.clone();
            std::thread::spawn(move || {
                let mut taken = 0;
                while let Some(batch) = queue.next_batch(7) {
                    taken += batch.events.len();
                }
                taken
            })
        };
        while !queue.state().waiting {
            std::thread::yield_now();
        }
        for n in 0..100 {
            queue.push(request(n));
            if n % 10 == 0 {
                std::thread::yield_now();
            }
        }
        queue.close();
        assert_eq!(printer.join().unwrap(), 100);
    }

    #[test]
    fn past_its_capacity_request_lines_are_counted_not_kept() {
        let queue = EventQueue::new(3);
        queue.push(listening());
        for n in 0..10 {
            queue.push(request(n));
        }
        queue.push(listening());
        let batch = queue.next_batch(100).unwrap();
        // 1 listening + 2 requests fill the 3 places; 8 requests dropped; listening kept anyway.
        assert_eq!(batch.dropped, 8);
        assert_eq!(batch.events.len(), 4);
        queue.push(request(11));
        queue.close();
        let last = queue.next_batch(100).unwrap();
        assert_eq!((last.dropped, last.events.len()), (0, 1));
        assert!(queue.next_batch(100).is_none());
    }
}
