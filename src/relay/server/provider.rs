//! The provider side: a webhook POSTed to `/CHANNEL/...` is bounded, queued durably, handed to the
//! channel's listener, and answered with the listener's answer, the offline answer, or why not.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use chrono::Utc;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Request, Response};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::channel::{Bucket, Channel, Entry, Outcome};
use super::{plain, Backend, Relay};
use crate::http_edge::{header_list, read_body, BodyError};
use crate::model::RecordedResponse;
use crate::relay::protocol::WireRequest;
use crate::relay::strangers::Stranger;
use crate::store::WriteError;
use crate::sync::lock;

impl Relay {
    /// Takes a provider's request: bounds it, queues it durably, hands it to the listener and
    /// answers with the listener's answer, the offline answer, or why not.
    pub(super) async fn provider(
        &self,
        request: Request<Incoming>,
        channel_name: String,
        path: String,
        peer: SocketAddr,
        stranger: &Stranger,
    ) -> Response<Full<Bytes>> {
        let received_at = Utc::now();
        let config = &self.inner.config;
        match self.exists(&channel_name).await {
            Ok(true) => {}
            Ok(false) => return no_such_channel(&channel_name),
            Err(err) => return not_queued(&err),
        }
        let channel = self.channel(&channel_name);
        if let Some(refusal) = self.admit(&channel) {
            return refusal;
        }
        let (parts, body) = request.into_parts();
        let too_large = || {
            let mut response = plain(
                413,
                &format!(
                    "webhook-dev relay: the request body is larger than the relay accepts (--max-body {} bytes); it was not queued",
                    config.max_body
                ),
            );
            response
                .headers_mut()
                .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
            response
        };
        let body =
            match read_body(&parts.headers, body, config.max_body, config.body_timeout).await {
                Ok(body) => body,
                Err(BodyError::TooLarge(_)) => return too_large(),
                Err(BodyError::Late(_)) => return plain(
                    408,
                    "webhook-dev relay: the request body did not arrive in time; it was not queued",
                ),
                Err(err) => {
                    tracing::debug!(%peer, "the provider's body could not be read: {err}");
                    return plain(400, &format!("webhook-dev relay: {err}; it was not queued"));
                }
            };
        stranger.promote();
        let request = Arc::new(WireRequest {
            id: self.next_id(),
            received_at,
            method: parts.method.as_str().to_string(),
            path,
            headers: header_list(&parts.headers),
            body,
            peer: Some(peer.to_string()),
            redelivery: false,
            queued: false,
        });
        let size = request_size(&request);
        if let Backend::Postgres(queue) = &self.inner.backend {
            return self.provider_shared(queue, &channel, request, size).await;
        }
        let id = request.id.clone();

        // Reserve a place and make the request deliverable. With a listener connected, the request
        // is written to the queue only if the listener does not store it first (most never touch
        // the disk here): the provider is answered only once one of the two has it durably. With
        // none, it is written now. Inserts are submitted under the channel lock, so an insert is
        // always submitted before the delete of the same request.
        let (seq, arrival_commit, waiter) = {
            let mut state = lock(&channel.state);
            state.touched = Some(Instant::now());
            if state.queued >= config.max_queue {
                drop(state);
                return queue_full(&channel_name, config.max_queue);
            }
            if !self.reserve_bytes(size) {
                drop(state);
                return relay_full(config.max_queue_bytes);
            }
            state.queued += 1;
            let seq = self.inner.next_seq.fetch_add(1, Ordering::Relaxed);
            let connected = state.listener.is_some();
            let (commit, waiter) = if connected {
                let (tx, rx) = oneshot::channel();
                state.waiters.insert(id.clone(), tx);
                (None, Some(rx))
            } else {
                let commit = self
                    .inner
                    .sqlite()
                    .insert(seq, &channel_name, request.clone());
                (Some(commit), None)
            };
            state.pending.insert(
                seq,
                Entry {
                    seq,
                    id: id.clone(),
                    size,
                    cached: Some(request),
                    inserted: !connected,
                    committed: false,
                    delivered: false,
                    owner: 0,
                },
            );
            (seq, commit, waiter)
        };

        let Some(waiter) = waiter else {
            let commit = arrival_commit.expect("inserted on arrival when nobody listens");
            return match self.committed(&channel, seq, &id, commit.await) {
                Ok(()) => self.offline_answer(&channel_name, &id),
                Err(err) => not_queued(&err),
            };
        };
        channel.wake.notify_one();
        let outcome = match tokio::time::timeout(config.answer_timeout, waiter).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Outcome::Offline,
            Err(_) => {
                lock(&channel.state).waiters.remove(&id);
                return match self.keep(&channel, seq, &id).await {
                    Ok(()) => no_answer_in_time(config.answer_timeout, &id),
                    Err(err) => plain(
                        504,
                        &format!("webhook-dev relay: the listener did not answer in time and the request could not be queued ({err})"),
                    ),
                };
            }
        };
        match outcome {
            // The listener stored it: nothing for the relay to keep.
            Outcome::Answered(answer) => answer.into_hyper(),
            Outcome::Offline => match self.keep(&channel, seq, &id).await {
                Ok(()) => self.offline_answer(&channel_name, &id),
                Err(err) => not_queued(&err),
            },
            Outcome::NotStored(reason) => match self.keep(&channel, seq, &id).await {
                Ok(()) => listener_did_not_store(&reason, &id),
                Err(err) => not_queued(&err),
            },
        }
    }

    /// Makes sure request `id` is in the durable queue before its provider is answered without
    /// the listener's answer. Nothing to do if a listener has stored it meanwhile (it is no longer
    /// the relay's), or if it is already written.
    async fn keep(&self, channel: &Channel, seq: i64, id: &str) -> Result<(), WriteError> {
        let commit = {
            let mut state = lock(&channel.state);
            let entry = match state.pending.get_mut(&seq) {
                Some(entry) => Some(entry),
                None => state.in_flight.get_mut(id),
            };
            match entry {
                Some(entry) if !entry.inserted => {
                    entry.inserted = true;
                    let request = entry
                        .cached
                        .clone()
                        .expect("a request not yet written is kept in memory");
                    Some(self.inner.sqlite().insert(seq, &channel.name, request))
                }
                _ => None,
            }
        };
        match commit {
            Some(commit) => self.committed(channel, seq, id, commit.await),
            None => Ok(()),
        }
    }

    /// Applies the rate limit; `Some` is the refusal.
    fn admit(&self, channel: &Channel) -> Option<Response<Full<Bytes>>> {
        let limit = self.inner.config.rate?;
        let now = Instant::now();
        let wait = {
            let mut state = lock(&channel.state);
            let bucket = state.bucket.get_or_insert(Bucket {
                tokens: limit.burst,
                last: now,
            });
            bucket.take(limit, now).err()?
        };
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        let mut response = plain(
            429,
            &format!(
                "webhook-dev relay: channel {} receives more than {} requests per second (--max-rate); retry in {secs} s",
                channel.name, limit.per_second
            ),
        );
        response.headers_mut().insert(
            hyper::header::RETRY_AFTER,
            HeaderValue::from_str(&secs.to_string()).expect("digits"),
        );
        Some(response)
    }

    /// Records how the insert of `seq` went: once committed, the copy in memory may be dropped;
    /// if it failed, the request is taken back out of the channel.
    fn committed(
        &self,
        channel: &Channel,
        seq: i64,
        id: &str,
        result: Result<(), WriteError>,
    ) -> Result<(), WriteError> {
        let mut state = lock(&channel.state);
        let connected = state.listener.is_some();
        match &result {
            Ok(()) => {
                if let Some(entry) = state.pending.get_mut(&seq) {
                    entry.committed = true;
                    if !connected {
                        entry.cached = None;
                    }
                } else if let Some(entry) = state.in_flight.get_mut(id) {
                    entry.committed = true;
                }
            }
            Err(err) => {
                tracing::error!(%id, "request not queued: {err}");
                // The provider is told it was not accepted (and will retry).
                if let Some(entry) = state.pending.remove(&seq) {
                    self.dequeued(&mut state, &entry);
                } else if let Some(entry) = state.in_flight.get_mut(id) {
                    // The listener has it; its answer releases the place. Not on disk: keep the
                    // copy in memory, and issue no delete.
                    entry.inserted = false;
                }
            }
        }
        result
    }

    pub(super) fn offline_answer(&self, channel: &str, id: &str) -> Response<Full<Bytes>> {
        let body = serde_json::json!({
            "ok": true,
            "queued": true,
            "id": id,
            "channel": channel,
            "message": "no listener is connected; the request is queued and will be delivered when one connects",
        });
        RecordedResponse::json(self.inner.config.offline_status, body.to_string()).into_hyper()
    }
}

pub(super) fn no_answer_in_time(timeout: std::time::Duration, id: &str) -> Response<Full<Bytes>> {
    plain(
        504,
        &format!(
            "webhook-dev relay: the listener did not answer within {}; the request ({id}) stays queued and the listener will still get it",
            crate::output::humanize(timeout)
        ),
    )
}

pub(super) fn listener_did_not_store(reason: &str, id: &str) -> Response<Full<Bytes>> {
    plain(
        503,
        &format!("webhook-dev relay: the listener could not store the request ({reason}); the relay keeps it ({id}) and delivers it again"),
    )
}

pub(super) fn queue_full(channel: &str, max: usize) -> Response<Full<Bytes>> {
    plain(
        507,
        &format!(
            "webhook-dev relay: channel {channel} already has {max} requests queued (--max-queue); connect a listener to drain it, then retry"
        ),
    )
}

pub(super) fn no_such_channel(channel: &str) -> Response<Full<Bytes>> {
    plain(
        404,
        &format!(
            "webhook-dev relay: channel {channel} does not exist: a channel comes to exist when a listener holding its token first connects (`webhook-dev listen --relay ws(s)://THIS-HOST/{channel} --relay-token ...`); nothing was queued"
        ),
    )
}

pub(super) fn relay_full(max: u64) -> Response<Full<Bytes>> {
    plain(
        507,
        &format!(
            "webhook-dev relay: the relay's queue is full ({max} bytes queued across all channels, --max-queue-bytes); the request was not queued, please retry later"
        ),
    )
}

/// The bytes a request counts against `max_queue_bytes`: its body and headers.
fn request_size(request: &WireRequest) -> u64 {
    let headers: usize = request.headers.iter().map(|(n, v)| n.len() + v.len()).sum();
    (request.body.len() + headers) as u64
}

pub(super) fn not_queued(err: &WriteError) -> Response<Full<Bytes>> {
    plain(
        503,
        &format!("webhook-dev relay: the request could not be queued ({err}); it was not accepted, please retry"),
    )
}
