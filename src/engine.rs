//! The pipeline every request goes through, whichever way it arrived (capture, the relay, a
//! replay, a trigger). Consumers (printers, the inspector) follow it through [`EngineEvent`]s.
//!
//! The life of a request, in `Engine::process_streaming`:
//!
//! 1. **Forward ∥ examine and store**: [`Forwarder::forward`] sends the request to the handler
//!    its route names (or the default one) and, while the handler works,
//!    [`Checks::examine`] checks the signature (the verdict), names the event and checks the body
//!    against its schema, the inspector is told it arrived ([`EngineEvent::Arrived`],
//!    `report_arrival`), and [`Store::insert_request`] commits the request.
//! 2. **Answer**: the handler's answer (or 502/504 when it failed, or the fixed `--respond`
//!    answer); its problems against the answer the provider expects join the schema report
//!    (`Findings::answer_problems`).
//! 3. **Reply to the sender once committed**: `process_streaming` returns only after the
//!    request's commit, so no sender is answered for a request that is not stored; a failed
//!    commit becomes a 503 in [`Engine::handle`].
//! 4. **Record the answer**: `finish` queues [`Store::record_response`]: a lone request's answer
//!    is committed on the same thread once the sender has it, answers under load share a commit
//!    with other writes within a few milliseconds.
//! 5. **Emit the event**: once the answer is committed, [`EngineEvent::Request`] carries the
//!    request's summary to the consumers.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use hyper::HeaderMap;

use crate::checks::Checks;
use crate::event_sink::EventSink;
use crate::forward::{AnswerRest, Forwarded, Forwarder};
use crate::model::{CapturedRequest, Exchange, HeaderList, RecordedResponse};
use crate::relay_state::RelayState;
use crate::signature;
use crate::store::{CommitOn, RequestRow, Store, WriteError};
use crate::summary::RequestSummary;

/// How the signature reason of a request refused before its body was read begins.
pub const REFUSED_REASON: &str = "not checked: the request was refused with";

/// What the engine tells its consumers.
#[derive(Clone, Debug)]
pub enum EngineEvent {
    /// The capture server is accepting requests.
    Listening {
        /// The bound address.
        addr: SocketAddr,
        /// Where requests are forwarded, if anywhere.
        forward: Option<String>,
        /// The store directory.
        store: String,
    },
    /// A request has arrived (its body read and checked) and is being stored and forwarded: the
    /// summary has no forward outcome yet. [`EngineEvent::Request`] follows with the same id once
    /// it is answered. Printers skip it; the inspector shows a pending row.
    Arrived(Box<RequestSummary>),
    /// A request has been answered and recorded. Only its summary travels: the bodies are in
    /// the store, so a consumer that falls behind holds a few hundred bytes per request.
    Request(Box<RequestSummary>),
    /// The connection to a relay changed (`listen --relay`).
    Relay(RelayState),
}

/// The answer given when there is no forward target: `--respond STATUS[:BODY]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixedAnswer {
    status: u16,
    /// The body and its content type, decided once; `None` for the default JSON naming the id.
    body: Option<(Bytes, &'static [u8])>,
}

impl Default for FixedAnswer {
    fn default() -> Self {
        Self {
            status: 200,
            body: None,
        }
    }
}

impl std::str::FromStr for FixedAnswer {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (status, body) = match s.split_once(':') {
            Some((status, body)) => (status, Some(body)),
            None => (s, None),
        };
        let status: u16 = status
            .trim()
            .parse()
            .ok()
            .filter(|code| (100..=999).contains(code) && !(100..200).contains(code))
            .ok_or_else(|| {
                format!("{s:?} is not STATUS or STATUS:BODY (e.g. 202 or '200:{{\"ok\":true}}')")
            })?;
        let body = body.map(|body| {
            let content_type: &'static [u8] =
                if serde_json::from_str::<serde_json::Value>(body).is_ok() {
                    b"application/json"
                } else {
                    b"text/plain; charset=utf-8"
                };
            (Bytes::from(body.to_string()), content_type)
        });
        Ok(Self { status, body })
    }
}

impl FixedAnswer {
    /// The answer for the request with id `id`.
    pub(crate) fn answer(&self, id: &str) -> RecordedResponse {
        match &self.body {
            None => RecordedResponse::json(
                self.status,
                serde_json::json!({"ok": true, "id": id}).to_string(),
            ),
            Some((body, content_type)) => RecordedResponse {
                status: self.status,
                headers: vec![("content-type".into(), content_type.to_vec())],
                body: body.clone(),
            },
        }
    }
}

/// The answer for a sender: as stored, plus the rest of an answer larger than the store keeps.
pub(crate) struct Answer {
    /// The answer's status, headers and (first) bytes.
    pub response: RecordedResponse,
    /// The rest of the body, to stream after `response.body`.
    pub rest: Option<AnswerRest>,
    /// `response.headers` as hyper parsed them off the handler's answer, framing left out.
    pub headers: Option<HeaderMap>,
}

/// Everything the engine needs besides the store.
pub struct EngineConfig {
    /// Where to forward, or `None` to answer with `respond`.
    pub forwarder: Option<Forwarder>,
    /// The answer when nothing is forwarded.
    pub respond: FixedAnswer,
    /// Routes, profiles and secrets: what is checked for each request.
    pub checks: Checks,
}

/// Handles captured requests; share it behind an `Arc`.
pub struct Engine {
    store: Store,
    config: EngineConfig,
    events: EventSink,
    ids: Mutex<ulid::Generator>,
    /// Requests being handled right now.
    in_flight: AtomicUsize,
    /// Connections open to the HTTP server in front of this engine ([`Engine::connection_opened`]).
    connections: Arc<AtomicUsize>,
    /// Whether [`EngineEvent::Arrived`] is emitted: only the inspector lists requests still
    /// waiting for their answer, and the printers need not pay for it.
    arrivals: bool,
}

/// Counts a request as in flight for as long as it lives.
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    /// Counts one more; says where its writes should be committed: on the caller's thread when
    /// it is the only request in flight and at most one connection is open, batched with others
    /// otherwise. Requests on many connections keep coming while one commits even when none is
    /// in flight for a moment, and a commit of one request at a time on the thread serving them
    /// all would cost them more than a batch committed when that thread runs out of work.
    fn enter(count: &'a AtomicUsize, connections: &AtomicUsize) -> (Self, CommitOn) {
        let before = count.fetch_add(1, Ordering::Relaxed);
        let on = if before == 0 && connections.load(Ordering::Relaxed) <= 1 {
            CommitOn::Caller
        } else {
            CommitOn::Writer
        };
        (Self(count), on)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A connection counted as open by [`Engine::connection_opened`].
pub(crate) struct OpenConnection(Arc<AtomicUsize>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The parts of a request known before its body has been read.
#[derive(Clone, Debug, Default)]
pub struct RequestHead {
    /// An id given by whoever received the request first (the relay); `None` for a new one.
    pub id: Option<String>,
    /// When it was first received, if not now.
    pub received_at: Option<DateTime<Utc>>,
    /// The sender's address.
    pub peer: Option<SocketAddr>,
    /// HTTP method.
    pub method: String,
    /// Path and query as received.
    pub path: String,
    /// Headers in arrival order.
    pub headers: HeaderList,
    /// The request this one replays.
    pub replay_of: Option<String>,
}

impl RequestHead {
    /// A head with the given method, path and headers and nothing else set.
    pub(crate) fn new(
        method: impl Into<String>,
        path: impl Into<String>,
        headers: HeaderList,
    ) -> Self {
        Self {
            method: method.into(),
            path: path.into(),
            headers,
            ..Self::default()
        }
    }
}

impl Engine {
    /// An engine writing to `store` and reporting on `events`.
    pub fn new(store: Store, config: EngineConfig, events: impl Into<EventSink>) -> Self {
        Self {
            store,
            config,
            events: events.into(),
            ids: Mutex::new(ulid::Generator::new()),
            in_flight: AtomicUsize::new(0),
            connections: Arc::default(),
            arrivals: false,
        }
    }

    /// Also reports each request as it arrives ([`EngineEvent::Arrived`]), before its answer.
    pub(crate) fn reporting_arrivals(mut self) -> Self {
        self.arrivals = true;
        self
    }

    /// Counts a connection to the HTTP server in front of this engine as open until the
    /// returned guard is dropped.
    pub(crate) fn connection_opened(&self) -> OpenConnection {
        self.connections.fetch_add(1, Ordering::Relaxed);
        OpenConnection(self.connections.clone())
    }

    /// The count of connections open, as [`Engine::connection_opened`] keeps it.
    pub(crate) fn connection_count(&self) -> Arc<AtomicUsize> {
        self.connections.clone()
    }

    /// Where requests are forwarded, if anywhere.
    pub(crate) fn forwarder(&self) -> Option<&Forwarder> {
        self.config.forwarder.as_ref()
    }

    /// The shortest `--timeout` of any target a request may be forwarded to.
    pub(crate) fn shortest_forward_timeout(&self) -> Option<std::time::Duration> {
        self.config
            .forwarder
            .iter()
            .chain(self.config.checks.route_forwarders())
            .map(Forwarder::timeout)
            .min()
    }

    /// The store this engine writes to.
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// Tells consumers about an event.
    pub(crate) fn emit(&self, event: EngineEvent) {
        self.events.send(event);
    }

    /// A new sortable request id, `req_` + ULID, strictly increasing within this process.
    /// (Encoded into a buffer of its final length: `format!` cost more than generating it.)
    pub(crate) fn next_id(&self) -> String {
        let mut ids = self.ids.lock().expect("id generator lock");
        let ulid = ids.generate().unwrap_or_else(|_| ulid::Ulid::new());
        drop(ids);
        let mut text = [0; ulid::ULID_LEN];
        let mut id = String::with_capacity("req_".len() + ulid::ULID_LEN);
        id.push_str("req_");
        id.push_str(ulid.array_to_str(&mut text));
        id
    }

    fn capture(&self, head: RequestHead, body: Bytes) -> Arc<CapturedRequest> {
        Arc::new(CapturedRequest {
            id: head.id.unwrap_or_else(|| self.next_id()),
            received_at: head.received_at.unwrap_or_else(Utc::now),
            peer: head.peer,
            method: head.method,
            path: head.path,
            headers: head.headers,
            body,
            replay_of: head.replay_of,
        })
    }

    /// Captures a request whose body has been read: stores it, forwards it (concurrently with the
    /// commit) and returns the answer for the sender — only once the request is durable. An answer
    /// larger than the store keeps comes with the rest still to stream.
    ///
    /// `wire` holds the request's headers as hyper parsed them (`head.headers` lists the same):
    /// the forward is built from them rather than parsing each again.
    pub(crate) async fn handle(&self, head: RequestHead, wire: HeaderMap, body: Bytes) -> Answer {
        match self.process_streaming(head, Some(&wire), body).await {
            Ok((exchange, rest, headers)) => Answer {
                response: exchange.response,
                rest,
                headers,
            },
            Err(err) => Answer {
                response: RecordedResponse::plain(
                    503,
                    format!("webhook-dev could not store this request ({err}); it was not accepted, please retry"),
                ),
                rest: None,
                headers: None,
            },
        }
    }

    /// Like [`Engine::handle`], returning the whole exchange with the whole answer (up to
    /// [`crate::forward::MAX_ANSWER_BYTES`]), or the store error that kept the request from being
    /// accepted. The store keeps the answer only up to its cap.
    pub(crate) async fn process(
        &self,
        head: RequestHead,
        body: Bytes,
    ) -> Result<Exchange, WriteError> {
        let (mut exchange, rest, _) = self.process_streaming(head, None, body).await?;
        if let Some(rest) = rest {
            match rest.collect(crate::forward::MAX_ANSWER_BYTES).await {
                Ok(more) => {
                    let mut whole = bytes::BytesMut::from(exchange.response.body.as_ref());
                    whole.extend_from_slice(&more);
                    exchange.response.body = whole.freeze();
                }
                Err(err) => {
                    exchange.response = RecordedResponse::plain(502, format!("webhook-dev: {err}"));
                }
            }
        }
        Ok(exchange)
    }

    /// The pipeline: the exchange as stored, the unread rest of a large answer, and the
    /// handler's headers as hyper parsed them for the sender.
    async fn process_streaming(
        &self,
        head: RequestHead,
        wire: Option<&HeaderMap>,
        body: Bytes,
    ) -> Result<(Exchange, Option<AnswerRest>, Option<HeaderMap>), WriteError> {
        let (_in_flight, commit_on) = InFlight::enter(&self.in_flight, &self.connections);
        let request = self.capture(head, body);
        let route = self.config.checks.route_for(&request.path);
        let forwarder = route
            .and_then(|route| route.forwarder.as_ref())
            .or(self.config.forwarder.as_ref());
        // The request is examined and its commit made while the handler works on it: the forward
        // is polled first and sent as soon as this task yields.
        let examined_and_stored = async {
            tokio::task::yield_now().await;
            let findings = self.config.checks.examine(
                route,
                &request.headers,
                &request.body,
                Utc::now().timestamp(),
            );
            self.report_arrival(&request, &findings);
            let stored = self
                .store
                .insert_request(
                    request.clone(),
                    findings.signature.clone(),
                    findings.event_type.clone(),
                    findings.schema.as_ref(),
                    commit_on,
                )
                .await;
            (findings, stored)
        };
        let ((mut findings, stored), forwarded) = match forwarder {
            Some(forwarder) => {
                let (forwarded, examined) =
                    tokio::join!(forwarder.forward(&request, wire), examined_and_stored);
                (examined, Some(forwarded))
            }
            None => (examined_and_stored.await, None),
        };
        let row = stored
            .inspect_err(|err| tracing::error!(id = %request.id, "request not stored: {err}"))?;
        let (response, forward, rest, sender_headers) = match forwarded {
            Some(Forwarded {
                response,
                outcome,
                rest,
                sender_headers,
            }) => (response, Some(outcome), rest, sender_headers),
            None => (self.config.respond.answer(&request.id), None, None, None),
        };
        let mut schema = findings.schema.take();
        if let (Some(report), Some(outcome)) = (schema.as_mut(), forward.as_ref()) {
            if let (Some(event), None) = (report.event.as_deref(), outcome.error.as_ref()) {
                report.answer_problems =
                    findings.answer_problems(event, response.status, &response.body, &request.body);
            }
        }
        let exchange = Exchange {
            request,
            signature: findings.signature,
            event_type: findings.event_type,
            forward,
            response,
            schema,
        };
        self.finish(&exchange, row, commit_on);
        Ok((exchange, rest, sender_headers))
    }

    /// Tells the inspector a request arrived, before its answer (when it asked to be told).
    fn report_arrival(&self, request: &CapturedRequest, findings: &crate::checks::Findings<'_>) {
        if !self.arrivals {
            return;
        }
        self.emit(EngineEvent::Arrived(Box::new(RequestSummary::arrived(
            request,
            findings.event_type.clone(),
            findings.signature.clone(),
        ))));
    }

    /// Records a request that was refused before its body was read (e.g. too large), so the
    /// developer still sees it, and returns the refusal.
    pub(crate) async fn refuse(
        &self,
        head: RequestHead,
        response: RecordedResponse,
    ) -> Result<RecordedResponse, WriteError> {
        let (_in_flight, commit_on) = InFlight::enter(&self.in_flight, &self.connections);
        let request = self.capture(head, Bytes::new());
        let mut signature = signature::unchecked(&request.headers);
        signature.reason = Some(format!(
            "{REFUSED_REASON} {} before its body was read",
            response.status
        ));
        let row = self
            .store
            .insert_request(request.clone(), signature.clone(), None, None, commit_on)
            .await
            .inspect_err(
                |err| tracing::error!(id = %request.id, "refused request not stored: {err}"),
            )?;
        self.finish(
            &Exchange {
                request,
                signature,
                event_type: None,
                forward: None,
                response: response.clone(),
                schema: None,
            },
            row,
            commit_on,
        );
        Ok(response)
    }

    /// Queues the answer to the request stored as `row` and, once it is committed, tells
    /// consumers.
    fn finish(&self, exchange: &Exchange, row: RequestRow, on: CommitOn) {
        let events = self.events.clone();
        let answer_schema = exchange
            .schema
            .as_ref()
            .filter(|report| !report.answer_problems.is_empty());
        let summary = Box::new(RequestSummary::from_exchange(exchange));
        self.store.record_response(
            row,
            exchange.response.clone(),
            exchange.forward.clone(),
            answer_schema,
            on,
            move |recorded| {
                if let Err(err) = recorded {
                    tracing::error!(id = %summary.id, "answer not stored: {err}");
                }
                events.send(EngineEvent::Request(summary));
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_request_commits_on_its_own_thread_only_while_at_most_one_connection_is_open() {
        let in_flight = AtomicUsize::new(0);
        let connections = AtomicUsize::new(1);
        let (first, alone) = InFlight::enter(&in_flight, &connections);
        assert_eq!(alone, CommitOn::Caller);
        let (second, beside_another) = InFlight::enter(&in_flight, &connections);
        assert_eq!(beside_another, CommitOn::Writer);
        drop((first, second));
        connections.store(2, Ordering::Relaxed);
        let (_third, alone_among_connections) = InFlight::enter(&in_flight, &connections);
        assert_eq!(alone_among_connections, CommitOn::Writer);
    }

    #[test]
    fn fixed_answers_parse() {
        assert_eq!(
            "202".parse::<FixedAnswer>().unwrap().answer("x").status,
            202
        );
        let a: FixedAnswer = "200:{\"ok\":1}".parse().unwrap();
        assert_eq!(a.answer("x").body, Bytes::from_static(b"{\"ok\":1}"));
        let t: FixedAnswer = "418:teapot".parse().unwrap();
        assert_eq!(t.answer("x").headers[0].1, b"text/plain; charset=utf-8");
        assert!("abc".parse::<FixedAnswer>().is_err());
        assert!("100".parse::<FixedAnswer>().is_err());
    }

    #[test]
    fn the_default_answer_names_the_request() {
        let a = FixedAnswer::default().answer("req_1");
        assert_eq!(a.status, 200);
        assert_eq!(
            a.body,
            Bytes::from_static(b"{\"ok\":true,\"id\":\"req_1\"}")
        );
    }
}
