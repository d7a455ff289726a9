//! Where the engine's events go: a channel its reader polls (the inspector, tests), or the
//! printers' bounded queue, filled straight from the thread that committed the answer so that no
//! thread sits between the engine and the printer.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::engine::EngineEvent;
use crate::event_queue::EventQueue;

/// A cheap-to-clone handle the engine sends its events through.
#[derive(Clone)]
pub enum EventSink {
    /// An unbounded channel: its reader keeps up or holds the events in memory.
    Channel(mpsc::UnboundedSender<EngineEvent>),
    /// The printers' queue, closed once the last handle is dropped.
    Queue(Arc<QueueFiller>),
}

/// Fills an [`EventQueue`]; closes it when dropped, so the printer ends once the engine is gone.
pub struct QueueFiller(EventQueue);

impl Drop for QueueFiller {
    fn drop(&mut self) {
        self.0.close();
    }
}

impl EventSink {
    /// Sends an event; one nobody reads any more is dropped.
    pub fn send(&self, event: EngineEvent) {
        match self {
            EventSink::Channel(sender) => {
                let _ = sender.send(event);
            }
            EventSink::Queue(filler) => filler.0.push(event),
        }
    }

    /// A sink whose events nobody reads (one-off engines: replays, triggers).
    pub fn discard() -> Self {
        EventSink::Channel(mpsc::unbounded_channel().0)
    }
}

impl From<mpsc::UnboundedSender<EngineEvent>> for EventSink {
    fn from(sender: mpsc::UnboundedSender<EngineEvent>) -> Self {
        EventSink::Channel(sender)
    }
}

impl From<EventQueue> for EventSink {
    fn from(queue: EventQueue) -> Self {
        EventSink::Queue(Arc::new(QueueFiller(queue)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listening() -> EngineEvent {
        EngineEvent::Listening {
            addr: std::net::SocketAddr::from(([127, 0, 0, 1], 1)),
            forward: None,
            store: "s".into(),
        }
    }

    #[test]
    fn the_printers_queue_closes_when_the_last_sink_is_dropped() {
        let queue = EventQueue::new(8);
        let sink = EventSink::from(queue.clone());
        let another = sink.clone();
        sink.send(listening());
        drop(sink);
        another.send(listening());
        assert_eq!(queue.next_batch(8).map(|b| b.events.len()), Some(2));
        let reader = std::thread::spawn(move || queue.next_batch(8).is_none());
        drop(another);
        assert!(
            reader.join().unwrap(),
            "the queue ends once no sink is left"
        );
    }
}
