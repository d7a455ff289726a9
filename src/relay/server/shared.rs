//! The relay over the shared PostgreSQL queue: a provider's request is committed there before
//! anything else, and the listener session that holds its channel (on this instance or another)
//! takes it from there in the channel's order; an answer comes back directly or, from another
//! instance, through the database.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::channel::Channel;
use super::provider::{
    listener_did_not_store, no_answer_in_time, no_such_channel, not_queued, queue_full, relay_full,
};
use super::{Backend, Relay, Shared};
use crate::model::RecordedResponse;
use crate::relay::pg::{Claimed, InsertError, PgQueue, Settled, POLL};
use crate::relay::protocol::{self, RelayMessage, WireRequest};
use crate::store::{WriteError, Writer};
use crate::sync::lock;

/// Wakes the sessions of the channels named on `woken` (all of them for an empty name).
pub(super) async fn wake_channels(relay: Weak<Shared>, mut woken: mpsc::UnboundedReceiver<String>) {
    while let Some(name) = woken.recv().await {
        let Some(shared) = relay.upgrade() else {
            return;
        };
        let channels = lock(&shared.channels);
        if name.is_empty() {
            channels.values().for_each(|c| c.wake.notify_one());
        } else if let Some(channel) = channels.get(&name) {
            channel.wake.notify_one();
        }
    }
}

/// Reads the bytes queued by all instances each second (`--max-queue-bytes` is checked
/// against it, plus what arrived here since).
pub(super) async fn refresh_queued_bytes(relay: Weak<Shared>) {
    let mut tick = tokio::time::interval(POLL);
    loop {
        tick.tick().await;
        let Some(shared) = relay.upgrade() else {
            return;
        };
        let Backend::Postgres(queue) = &shared.backend else {
            return;
        };
        if let Ok(bytes) = queue.queued_bytes().await {
            shared.queued_bytes.store(bytes, Ordering::SeqCst);
        }
    }
}

/// A listener session's delivery from the shared queue.
pub(super) struct SharedDelivery {
    queue: PgQueue,
    /// The last request handed to this session, in the channel's order.
    last_seq: i64,
    /// More may be queued after `last_seq` than this session has seen.
    maybe_more: bool,
    /// Sent and not yet answered: id -> (seq, a provider waits, sent as queued).
    in_flight: HashMap<String, (i64, bool, bool)>,
    /// Requests the listener could not store, to send again once due.
    retry: Vec<(Instant, i64)>,
}

impl SharedDelivery {
    pub(super) fn new(queue: PgQueue) -> Self {
        SharedDelivery {
            queue,
            last_seq: 0,
            maybe_more: true,
            in_flight: HashMap::new(),
            retry: Vec::new(),
        }
    }

    pub(super) fn queue(&self) -> &PgQueue {
        &self.queue
    }

    /// Something may have been queued.
    pub(super) fn woken(&mut self) {
        self.maybe_more = true;
    }

    /// The listener is done with `id`: stored (answered or acknowledged), or not (`NotStored`).
    pub(super) fn settle(
        &mut self,
        channel: &str,
        id: &str,
        outcome: Settled,
        retry_after: std::time::Duration,
        in_flight: &mut usize,
    ) {
        let Some((seq, _, _)) = self.in_flight.remove(id) else {
            tracing::debug!(%id, "answer for a request not in flight here; ignored");
            return;
        };
        *in_flight -= 1;
        let stored = !matches!(outcome, Settled::NotStored(_));
        if let Settled::NotStored(reason) = &outcome {
            tracing::warn!(%id, "the listener could not store a request: {reason}");
            self.retry.push((Instant::now() + retry_after, seq));
        }
        self.queue.settle(channel, seq, id, stored, outcome);
    }

    /// The session ended: providers waiting for what it had in flight get the offline answer
    /// (their requests stay queued for the next session).
    pub(super) fn end(self, channel: &str, me: u64) {
        for (id, (_, awaited, _)) in &self.in_flight {
            if *awaited {
                self.queue.tell_offline(id);
            }
        }
        let queue = self.queue;
        let channel = channel.to_string();
        tokio::spawn(async move {
            if let Err(err) = queue.release(&channel, me).await {
                tracing::debug!("channel {channel} not released in the queue database: {err}");
            }
        });
    }
}

impl Relay {
    /// Queues a provider's request in the shared queue, then waits for the listener's answer if
    /// a listener session holds the channel.
    pub(super) async fn provider_shared(
        &self,
        queue: &PgQueue,
        channel: &Channel,
        request: Arc<WireRequest>,
        size: u64,
    ) -> Response<Full<Bytes>> {
        let config = &self.inner.config;
        let id = request.id.clone();
        // Approximate across instances: the total is read from the database each second.
        let queued_bytes = self.inner.queued_bytes.fetch_add(size, Ordering::SeqCst);
        if queued_bytes + size > config.max_queue_bytes {
            self.inner.queued_bytes.fetch_sub(size, Ordering::SeqCst);
            return relay_full(config.max_queue_bytes);
        }
        let mut answer = queue.expect_answer(&id);
        let inserted = queue
            .insert(
                &channel.name,
                request,
                size,
                config.max_queue,
                config.open_channels,
            )
            .await;
        let inserted = match inserted {
            Ok(inserted) => inserted,
            Err(err) => {
                queue.forget_answer(&id);
                self.inner.queued_bytes.fetch_sub(size, Ordering::SeqCst);
                return match err {
                    InsertError::NoChannel => no_such_channel(&channel.name),
                    InsertError::Full => queue_full(&channel.name, config.max_queue),
                    InsertError::Db(err) => {
                        tracing::error!(%id, "request not queued: {err}");
                        not_queued(&WriteError::Write(Writer::RelayQueue, err))
                    }
                };
            }
        };
        channel.wake.notify_one();
        if !inserted.listener {
            queue.forget_answer(&id);
            return self.offline_answer(&channel.name, &id);
        }
        let deadline = Instant::now() + config.answer_timeout;
        let mut poll = tokio::time::interval_at(Instant::now() + POLL, POLL);
        let outcome = loop {
            tokio::select! {
                outcome = &mut answer => break Some(outcome.unwrap_or(Settled::Offline)),
                () = tokio::time::sleep_until(deadline) => break None,
                _ = poll.tick() => {
                    // The session holding the channel may be gone with its instance.
                    if let Ok(false) = queue.listener_connected(&channel.name).await {
                        break Some(Settled::Offline);
                    }
                }
            }
        };
        queue.forget_answer(&id);
        match outcome {
            Some(Settled::Answered(answer)) => RecordedResponse::from(answer).into_hyper(),
            Some(Settled::Acknowledged | Settled::Offline) => {
                self.offline_answer(&channel.name, &id)
            }
            Some(Settled::NotStored(reason)) => listener_did_not_store(&reason, &id),
            None => no_answer_in_time(config.answer_timeout, &id),
        }
    }

    /// Sends the channel's queued requests after the last one sent, and those due again, while
    /// the window has room.
    pub(super) async fn fill_shared(
        &self,
        channel: &Channel,
        delivery: &mut SharedDelivery,
        in_flight: &mut usize,
        out: &mpsc::UnboundedSender<Message>,
    ) -> Result<(), String> {
        let window = self.inner.config.max_in_flight;
        let unreadable = |err: WriteError| format!("the relay could not read its queue: {err}");
        let now = Instant::now();
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut delivery.retry)
            .into_iter()
            .partition(|(at, _)| *at <= now);
        delivery.retry = later;
        for (at, seq) in due {
            if *in_flight >= window {
                delivery.retry.push((at, seq));
                continue;
            }
            if let Some(claimed) = delivery
                .queue
                .again(&channel.name, seq)
                .await
                .map_err(unreadable)?
            {
                send(delivery, claimed, in_flight, out)?;
            }
        }
        while delivery.maybe_more && *in_flight < window {
            let room = window - *in_flight;
            let batch = delivery
                .queue
                .next(&channel.name, delivery.last_seq, room)
                .await
                .map_err(unreadable)?;
            delivery.maybe_more = batch.len() == room;
            for claimed in batch {
                delivery.last_seq = claimed.seq;
                send(delivery, claimed, in_flight, out)?;
            }
        }
        Ok(())
    }
}

fn send(
    delivery: &mut SharedDelivery,
    claimed: Claimed,
    in_flight: &mut usize,
    out: &mpsc::UnboundedSender<Message>,
) -> Result<(), String> {
    let Claimed {
        seq,
        mut request,
        awaited,
    } = claimed;
    // The listener handles queued requests one at a time, in order, and the others at once: one
    // behind a queued request still in flight is sent as queued too, so that it keeps its place.
    let behind_queued = delivery.in_flight.values().any(|(_, _, queued)| *queued);
    request.queued = !awaited || behind_queued;
    let queued = request.queued;
    let id = request.id.clone();
    match protocol::encode(&RelayMessage::Request(Box::new(request))) {
        Ok(frame) => {
            delivery.in_flight.insert(id, (seq, awaited, queued));
            *in_flight += 1;
            out.send(frame)
                .map_err(|_| "the connection to the listener broke".to_string())
        }
        Err(err) => {
            // Cannot happen with --max-body within the protocol's limit; it stays queued.
            tracing::error!(%id, "request cannot be sent, left in the queue: {err}");
            Ok(())
        }
    }
}
