//! A channel's state: the requests waiting for its listener, in flight with it, and the providers
//! waiting for answers; and how a session's end or an answer moves them.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;

use std::net::SocketAddr;

use chrono::{DateTime, Utc};

use super::{Backend, RateLimit, Relay};
use crate::model::RecordedResponse;
use crate::relay::protocol::TakenOver;
use crate::relay::protocol::WireRequest;
use crate::store::WriteError;
use crate::sync::lock;

pub(super) struct Channel {
    pub(super) name: String,
    pub(super) state: Mutex<ChannelState>,
    /// Wakes the channel's listener session: something to send, or room to send it.
    pub(super) wake: Notify,
}

pub(super) struct ListenerSlot {
    pub(super) id: u64,
    pub(super) handle: Arc<SessionHandle>,
}

/// What others may know of, and do to, a listener session.
pub(super) struct SessionHandle {
    /// The listener's address.
    pub(super) peer: Option<SocketAddr>,
    /// When it connected.
    pub(super) since: DateTime<Utc>,
    /// It refuses newcomers while healthy (`--no-takeover`).
    no_takeover: bool,
    /// When it was last heard from.
    last_seen: Mutex<Instant>,
    /// Ends the session: another listener took the channel over.
    pub(super) kicked: Notify,
    taken_over: Mutex<Option<TakenOver>>,
}

impl SessionHandle {
    pub(super) fn new(peer: Option<SocketAddr>, no_takeover: bool) -> Self {
        SessionHandle {
            peer,
            since: Utc::now(),
            no_takeover,
            last_seen: Mutex::new(Instant::now()),
            kicked: Notify::new(),
            taken_over: Mutex::new(None),
        }
    }

    /// Whether it keeps the channel against a newcomer: it asked to, and was heard from within
    /// `dead_after`.
    pub(super) fn holds(&self, dead_after: Duration) -> bool {
        self.no_takeover && lock(&self.last_seen).elapsed() <= dead_after
    }

    pub(super) fn seen(&self, at: Instant) {
        *lock(&self.last_seen) = at;
    }

    pub(super) fn take_over(&self, how: TakenOver) {
        *lock(&self.taken_over) = Some(how);
        self.kicked.notify_one();
    }

    pub(super) fn taken_over(&self) -> Option<TakenOver> {
        lock(&self.taken_over).clone()
    }
}

#[derive(Default)]
pub(super) struct ChannelState {
    pub(super) listener: Option<ListenerSlot>,
    /// Not yet sent to the current listener, in arrival order.
    pub(super) pending: BTreeMap<i64, Entry>,
    /// Sent, not yet answered; by request id.
    pub(super) in_flight: HashMap<String, Entry>,
    /// Providers waiting for the answer; by request id.
    pub(super) waiters: HashMap<String, oneshot::Sender<Outcome>>,
    /// Requests of this channel in the durable queue (pending + in flight + retrying).
    pub(super) queued: usize,
    pub(super) bucket: Option<Bucket>,
    /// When a provider or listener last used the channel; `None` until the first sweep sees it.
    pub(super) touched: Option<Instant>,
}

impl ChannelState {
    /// Whether nothing but bookkeeping is left: no listener, nothing queued or waiting.
    fn is_idle(&self) -> bool {
        self.listener.is_none()
            && self.pending.is_empty()
            && self.in_flight.is_empty()
            && self.waiters.is_empty()
            && self.queued == 0
    }
}

/// The owner of an in-flight entry waiting to be delivered again (no session has it).
pub(super) const PARKED: u64 = 0;

pub(super) struct Entry {
    pub(super) seq: i64,
    pub(super) id: String,
    /// Body and header bytes, counted against `max_queue_bytes` while queued.
    pub(super) size: u64,
    /// The request in memory; `None` once it is committed and nobody is about to send it.
    pub(super) cached: Option<Arc<WireRequest>>,
    /// Its insert into the queue was submitted (its delete must follow, once answered).
    pub(super) inserted: bool,
    /// The insert has committed, so the request can be read back from the queue.
    pub(super) committed: bool,
    /// It was (maybe) sent to a listener before: this process did, or a previous one might have.
    pub(super) delivered: bool,
    /// The listener session it is in flight with.
    pub(super) owner: u64,
}

/// What a waiting provider learns.
pub(super) enum Outcome {
    Answered(RecordedResponse),
    /// No listener any more: the request stays queued.
    Offline,
    /// The listener could not store it: the request stays queued and is delivered again.
    NotStored(String),
}

pub(super) struct Bucket {
    pub(super) tokens: f64,
    pub(super) last: Instant,
}

impl Bucket {
    /// Takes one token, or says how long until one is available.
    pub(super) fn take(&mut self, limit: RateLimit, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * limit.per_second).min(limit.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - self.tokens) / limit.per_second,
            ))
        }
    }
}

impl Relay {
    /// Whether providers may send to `name`: a listener holding its token has connected at some
    /// point (or the relay runs with open channels).
    /// With the shared queue, a channel another instance made exist is looked up there.
    pub(super) async fn exists(&self, name: &str) -> Result<bool, WriteError> {
        if self.inner.config.open_channels || lock(&self.inner.known).contains(name) {
            return Ok(true);
        }
        let Backend::Postgres(queue) = &self.inner.backend else {
            return Ok(false);
        };
        let exists = queue.channel_exists(name).await?;
        if exists {
            lock(&self.inner.known).insert(name.to_string());
        }
        Ok(exists)
    }

    /// Makes channel `name` exist, durably, before its first listener is welcomed.
    /// With the shared queue it is recorded each time: another instance may have forgotten it.
    pub(super) async fn register(&self, name: &str) -> Result<(), WriteError> {
        match &self.inner.backend {
            Backend::Sqlite(queue) => {
                if lock(&self.inner.known).contains(name) {
                    return Ok(());
                }
                queue.open_channel(name).await?
            }
            Backend::Postgres(queue) => queue.open_channel(name).await?,
        }
        lock(&self.inner.known).insert(name.to_string());
        Ok(())
    }

    /// Reserves room for a request of `size` bytes in the whole queue; `false` if it is full.
    pub(super) fn reserve_bytes(&self, size: u64) -> bool {
        let max = self.inner.config.max_queue_bytes;
        self.inner
            .queued_bytes
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                (used + size <= max).then_some(used + size)
            })
            .is_ok()
    }

    /// A request left the queue (answered, acknowledged, or never written).
    pub(super) fn dequeued(&self, state: &mut ChannelState, entry: &Entry) {
        state.queued -= 1;
        self.inner
            .queued_bytes
            .fetch_sub(entry.size, Ordering::SeqCst);
    }

    /// Drops the in-memory state of channels idle for `idle_eviction`: nothing queued, no listener,
    /// nobody holding it. Their existence stays (it is on disk). Returns how many were dropped.
    pub(crate) fn evict_idle(&self) -> usize {
        let idle = self.inner.config.idle_eviction;
        let now = Instant::now();
        let mut channels = lock(&self.inner.channels);
        let before = channels.len();
        channels.retain(|_, channel| {
            if Arc::strong_count(channel) > 1 {
                return true;
            }
            let mut state = lock(&channel.state);
            if !state.is_idle() {
                return true;
            }
            let touched = *state.touched.get_or_insert(now);
            now.saturating_duration_since(touched) < idle
        });
        before - channels.len()
    }

    /// How many channels have state in memory (idle ones are evicted).
    pub fn channels_in_memory(&self) -> usize {
        lock(&self.inner.channels).len()
    }

    pub(super) fn channel(&self, name: &str) -> Arc<Channel> {
        let mut channels = lock(&self.inner.channels);
        if let Some(channel) = channels.get(name) {
            return channel.clone();
        }
        let channel = Arc::new(Channel::new(name));
        channels.insert(name.to_string(), channel.clone());
        channel
    }

    /// Puts an in-flight request back at its place in the pending line.
    pub(super) fn unsend(&self, channel: &Channel, id: &str) {
        let mut state = lock(&channel.state);
        if let Some(entry) = state.in_flight.remove(id) {
            state.pending.insert(entry.seq, entry);
        }
    }

    /// The listener stored request `id`: drop it from the queue and tell its provider, if waiting.
    pub(super) fn settle(
        &self,
        channel: &Channel,
        me: u64,
        id: &str,
        outcome: Outcome,
        in_flight: &mut usize,
    ) {
        let waiter = {
            let mut state = lock(&channel.state);
            match state.in_flight.get(id) {
                Some(entry) if entry.owner == me => {}
                _ => {
                    tracing::debug!(%id, "answer for a request not in flight here; ignored");
                    return;
                }
            }
            let entry = state.in_flight.remove(id).expect("checked above");
            self.dequeued(&mut state, &entry);
            // Deleted under the lock, so that the delete follows the insert.
            if entry.inserted {
                self.inner.sqlite().remove(entry.seq);
            }
            state.waiters.remove(id)
        };
        *in_flight -= 1;
        if let Some(waiter) = waiter {
            let _ = waiter.send(outcome);
        }
    }

    /// The listener could not store request `id`: tell its provider, deliver it again later.
    /// Meanwhile it stays parked in the in-flight map with no owner, so that its provider can
    /// still have it written to the queue.
    pub(super) fn retry_later(
        &self,
        channel: &Arc<Channel>,
        me: u64,
        id: &str,
        reason: String,
        in_flight: &mut usize,
    ) {
        let waiter = {
            let mut state = lock(&channel.state);
            match state.in_flight.get_mut(id) {
                Some(entry) if entry.owner == me => entry.owner = PARKED,
                _ => return,
            }
            state.waiters.remove(id)
        };
        *in_flight -= 1;
        tracing::warn!(%id, "the listener could not store a request: {reason}");
        if let Some(waiter) = waiter {
            let _ = waiter.send(Outcome::NotStored(reason));
        }
        let channel = channel.clone();
        let delay = self.inner.config.retry_after_error;
        let id = id.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let mut state = lock(&channel.state);
            if state.in_flight.get(&id).is_some_and(|e| e.owner == PARKED) {
                let entry = state.in_flight.remove(&id).expect("checked above");
                state.pending.insert(entry.seq, entry);
                drop(state);
                channel.wake.notify_one();
            }
        });
    }

    /// The session `me` ended: its unanswered requests go back in line; if no other listener
    /// took over, waiting providers get the offline answer (their requests stay queued).
    pub(super) fn release(&self, channel: &Channel, me: u64) {
        let waiters = {
            let mut state = lock(&channel.state);
            let mine: Vec<String> = state
                .in_flight
                .iter()
                .filter(|(_, e)| e.owner == me)
                .map(|(id, _)| id.clone())
                .collect();
            for id in mine {
                let mut entry = state.in_flight.remove(&id).expect("listed above");
                if entry.committed {
                    entry.cached = None;
                }
                entry.owner = 0;
                state.pending.insert(entry.seq, entry);
            }
            if state.listener.as_ref().is_some_and(|l| l.id == me) {
                state.listener = None;
                state.touched = Some(Instant::now());
                for entry in state.pending.values_mut() {
                    if entry.committed {
                        entry.cached = None;
                    }
                }
                std::mem::take(&mut state.waiters)
            } else {
                HashMap::new()
            }
        };
        channel.wake.notify_one();
        for (_, waiter) in waiters {
            let _ = waiter.send(Outcome::Offline);
        }
    }
}

impl Channel {
    pub(super) fn new(name: &str) -> Self {
        Channel {
            name: name.to_string(),
            state: Mutex::new(ChannelState::default()),
            wake: Notify::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_no_takeover_listener_holds_only_while_heard_from() {
        let dead_after = Duration::from_secs(25);
        let holding = SessionHandle::new(None, true);
        let yielding = SessionHandle::new(None, false);
        assert!(holding.holds(dead_after));
        assert!(!yielding.holds(dead_after));
        tokio::time::advance(Duration::from_secs(20)).await;
        holding.seen(Instant::now());
        tokio::time::advance(Duration::from_secs(20)).await;
        assert!(holding.holds(dead_after), "heard from 20 s ago");
        tokio::time::advance(Duration::from_secs(6)).await;
        assert!(!holding.holds(dead_after), "silent for 26 s: displaced");
    }

    #[tokio::test(start_paused = true)]
    async fn the_bucket_allows_a_burst_then_the_rate() {
        let limit = RateLimit {
            per_second: 10.0,
            burst: 3.0,
        };
        let now = Instant::now();
        let mut bucket = Bucket {
            tokens: limit.burst,
            last: now,
        };
        for _ in 0..3 {
            assert!(bucket.take(limit, now).is_ok());
        }
        let wait = bucket.take(limit, now).unwrap_err();
        assert!(wait <= Duration::from_millis(100), "{wait:?}");
        tokio::time::advance(Duration::from_millis(100)).await;
        assert!(bucket.take(limit, Instant::now()).is_ok());
        assert!(bucket.take(limit, Instant::now()).is_err());
        tokio::time::advance(Duration::from_secs(60)).await;
        for _ in 0..3 {
            assert!(bucket.take(limit, Instant::now()).is_ok());
        }
        assert!(bucket.take(limit, Instant::now()).is_err());
    }
}
