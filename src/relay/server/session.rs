//! The listener side: a WebSocket upgrade of `GET /CHANNEL`, the `hello` handshake, then the
//! session that delivers the channel's requests in order within the window and takes answers.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::channel::{Channel, ListenerSlot, Outcome, SessionHandle};
use super::shared::SharedDelivery;
use super::{plain, Backend, Relay, RelayEvent, SessionGuard};
use crate::relay::pg::{Claim, Ownership, Settled, POLL};
use crate::relay::pre_hello::{PreHelloLimit, Verified};
use crate::relay::protocol::{
    self, next_message, write_frames, ClientMessage, ProtocolError, RefusedCode, RelayMessage,
    TakenOver, VERSION,
};
use crate::relay::strangers::Stranger;
use crate::relay::token::{self, check_channel};
use crate::sync::lock;

impl Relay {
    /// Accepts a listener's WebSocket upgrade and runs its session on a task of its own.
    pub(super) fn upgrade(
        &self,
        request: &mut Request<Incoming>,
        channel: String,
        peer: SocketAddr,
        stranger: Arc<Stranger>,
    ) -> Response<Full<Bytes>> {
        let headers = request.headers();
        if headers
            .get("sec-websocket-version")
            .is_none_or(|v| v.as_bytes() != b"13")
        {
            let mut response = plain(426, "webhook-dev relay: WebSocket version 13 is required");
            response
                .headers_mut()
                .insert("sec-websocket-version", HeaderValue::from_static("13"));
            return response;
        }
        let Some(key) = headers.get("sec-websocket-key") else {
            return plain(
                400,
                "webhook-dev relay: the upgrade has no Sec-WebSocket-Key",
            );
        };
        let accept = derive_accept_key(key.as_bytes());
        let upgrade = hyper::upgrade::on(request);
        let relay = self.clone();
        tokio::spawn(async move {
            match upgrade.await {
                Ok(upgraded) => {
                    let verified = Verified::for_stranger(stranger.clone());
                    let io = PreHelloLimit::new(TokioIo::new(upgraded), verified.clone());
                    let ws = WebSocketStream::from_raw_socket(
                        io,
                        Role::Server,
                        Some(protocol::websocket_config()),
                    )
                    .await;
                    // Only a stranger is ever evicted: once verified, the session runs to its end.
                    tokio::select! {
                        () = relay.serve_listener(&channel, ws, Some(peer), Some(verified)) => {}
                        () = stranger.evicted() => {
                            tracing::debug!(%peer, "closed before its hello to make room");
                        }
                    }
                }
                Err(err) => tracing::debug!(%peer, "upgrade failed: {err}"),
            }
        });
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(
            hyper::header::UPGRADE,
            HeaderValue::from_static("websocket"),
        );
        headers.insert(
            hyper::header::CONNECTION,
            HeaderValue::from_static("Upgrade"),
        );
        headers.insert(
            "sec-websocket-accept",
            HeaderValue::from_str(&accept).expect("base64 is a valid header value"),
        );
        response
    }

    /// Runs one listener's session over an upgraded WebSocket: the handshake, then delivery until
    /// the socket ends, the listener is replaced, or the relay shuts down. `verified` lifts the
    /// connection's pre-hello byte budget once the token checks out. Public so that tests can
    /// drive it over `tokio::io::duplex`.
    pub async fn serve_listener<S>(
        &self,
        channel_name: &str,
        mut ws: WebSocketStream<S>,
        peer: Option<SocketAddr>,
        verified: Option<Verified>,
    ) where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let _guard = SessionGuard::new(&self.inner);
        let config = &self.inner.config;
        let refuse = |code: RefusedCode, message: String| RelayMessage::Refused { code, message };
        let hello = tokio::time::timeout(config.handshake_timeout, next_message(&mut ws)).await;
        let no_takeover = matches!(
            hello,
            Ok(Ok(ClientMessage::Hello {
                no_takeover: true,
                ..
            }))
        );
        let refusal = match hello {
            Err(_) => Some(refuse(
                RefusedCode::Timeout,
                format!(
                    "no hello within {} of connecting",
                    crate::output::humanize(config.handshake_timeout)
                ),
            )),
            Ok(Err(err)) => {
                tracing::debug!(?peer, "listener handshake failed: {err}");
                Some(refuse(RefusedCode::Protocol, format!("bad handshake: {err}")))
            }
            Ok(Ok(ClientMessage::Hello { version, .. })) if version != VERSION => Some(refuse(
                RefusedCode::Version,
                format!(
                    "this relay speaks protocol version {VERSION} and the listener {version}: run the same webhook-dev version on both sides"
                ),
            )),
            Ok(Ok(ClientMessage::Hello { token, .. })) => {
                if check_channel(channel_name).is_err() {
                    Some(refuse(
                        RefusedCode::Channel,
                        format!("invalid channel name {channel_name:?}"),
                    ))
                } else if !token::verify(&config.secret, channel_name, &token) {
                    Some(refuse(
                        RefusedCode::BadToken,
                        format!(
                            "wrong token for channel {channel_name}: tokens are per channel; print this channel's with `webhook-dev relay token {channel_name} --secret ...` using the relay's secret"
                        ),
                    ))
                } else {
                    None
                }
            }
            Ok(Ok(other)) => Some(refuse(
                RefusedCode::Protocol,
                format!("the first message must be hello, not {}", message_kind(&other)),
            )),
        };
        if let Some(refusal) = refusal {
            self.refuse_listener(channel_name, peer, ws, refusal).await;
            return;
        }
        if let Some(verified) = verified {
            verified.set();
        }
        if let Err(err) = self.register(channel_name).await {
            tracing::error!("channel {channel_name} could not be recorded: {err}");
            self.closing_for_now(
                ws,
                format!("the relay could not record channel {channel_name} ({err})"),
            )
            .await;
            return;
        }

        let channel = self.channel(channel_name);
        let me = self.inner.next_listener.fetch_add(1, Ordering::Relaxed);
        let handle = Arc::new(SessionHandle::new(peer, no_takeover));
        let dead_after = config.heartbeat * 5 / 2;
        let mut delivery = match &self.inner.backend {
            Backend::Sqlite(_) => Delivery::Local,
            Backend::Postgres(queue) => {
                match queue
                    .claim(channel_name, me, peer.map(|p| p.to_string()), no_takeover)
                    .await
                {
                    Ok(Claim::Claimed { queued }) => {
                        Delivery::Shared(SharedDelivery::new(queue.clone()), queued)
                    }
                    Ok(Claim::Held {
                        peer: holder,
                        since,
                    }) => {
                        let refusal = RelayMessage::Refused {
                            code: RefusedCode::Held,
                            message: held_message(channel_name, holder.as_deref(), &since),
                        };
                        self.refuse_listener(channel_name, peer, ws, refusal).await;
                        return;
                    }
                    Err(err) => {
                        self.closing_for_now(
                            ws,
                            format!("the relay could not reach its queue database ({err})"),
                        )
                        .await;
                        return;
                    }
                }
            }
        };
        // With the shared queue the database settled who holds the channel.
        let shared = matches!(delivery, Delivery::Shared(..));
        let claimed = {
            let mut state = lock(&channel.state);
            match &state.listener {
                Some(current) if !shared && current.handle.holds(dead_after) => {
                    Err(current.handle.clone())
                }
                _ => {
                    let previous = state.listener.replace(ListenerSlot {
                        id: me,
                        handle: handle.clone(),
                    });
                    Ok((state.queued as u64, previous.map(|p| p.handle)))
                }
            }
        };
        let queued = match claimed {
            Ok((queued, previous)) => {
                let queued = match &delivery {
                    Delivery::Shared(_, queued) => *queued,
                    Delivery::Local => queued,
                };
                if let Some(previous) = previous {
                    let taken_over = TakenOver {
                        at: handle.since,
                        by: peer.map(|p| p.to_string()),
                    };
                    previous.take_over(taken_over);
                    self.emit(RelayEvent::ListenerTakenOver {
                        channel: channel_name.to_string(),
                        previous: previous.peer,
                        by: peer,
                    });
                }
                queued
            }
            Err(holder) => {
                let refusal = RelayMessage::Refused {
                    code: RefusedCode::Held,
                    message: held_message(
                        channel_name,
                        holder.peer.map(|p| p.to_string()).as_deref(),
                        &holder.since,
                    ),
                };
                self.refuse_listener(channel_name, peer, ws, refusal).await;
                return;
            }
        };
        let welcome = RelayMessage::Welcome {
            version: VERSION,
            channel: channel_name.to_string(),
            queued,
            heartbeat_ms: config.heartbeat.as_millis() as u64,
        };
        let sent = match protocol::encode(&welcome) {
            Ok(frame) => ws.send(frame).await.map_err(ProtocolError::from),
            Err(err) => Err(err),
        };
        let reason = match sent {
            Ok(()) => {
                self.emit(RelayEvent::ListenerConnected {
                    channel: channel_name.to_string(),
                    peer,
                    queued,
                });
                self.deliver(&channel, me, &handle, ws, &mut delivery).await
            }
            Err(err) => err.to_string(),
        };
        self.release(&channel, me);
        if let Delivery::Shared(delivery, _) = delivery {
            delivery.end(channel_name, me);
        }
        self.emit(RelayEvent::ListenerLeft {
            channel: channel_name.to_string(),
            reason,
        });
    }

    /// Tells a listener that the relay cannot serve it right now and that it should reconnect.
    async fn closing_for_now<S>(&self, mut ws: WebSocketStream<S>, message: String)
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let closing = RelayMessage::Closing {
            message,
            reconnect: true,
            taken_over: None,
        };
        if let Ok(frame) = protocol::encode(&closing) {
            let _ = tokio::time::timeout(Duration::from_secs(2), ws.send(frame)).await;
        }
    }

    /// Tells a listener why it is refused, logs it, and closes the connection.
    async fn refuse_listener<S>(
        &self,
        channel_name: &str,
        peer: Option<SocketAddr>,
        mut ws: WebSocketStream<S>,
        refusal: RelayMessage,
    ) where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        if let RelayMessage::Refused { message, .. } = &refusal {
            self.emit(RelayEvent::ListenerRefused {
                channel: channel_name.to_string(),
                peer,
                reason: message.clone(),
            });
        }
        if let Ok(frame) = protocol::encode(&refusal) {
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                let _ = ws.send(frame).await;
                let _ = ws.close(None).await;
            })
            .await;
        }
    }

    /// Sends requests in order, within the window, and takes answers, until the session ends.
    /// Returns why it ended.
    async fn deliver<S>(
        &self,
        channel: &Arc<Channel>,
        me: u64,
        handle: &SessionHandle,
        ws: WebSocketStream<S>,
        delivery: &mut Delivery,
    ) -> String
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let config = &self.inner.config;
        let (sink, mut stream) = ws.split();
        let (out, out_rx) = mpsc::unbounded_channel::<Message>();
        let writer = tokio::spawn(write_frames(sink, out_rx));
        let mut shutdown = self.inner.shutdown.subscribe();
        let mut heartbeat =
            tokio::time::interval_at(Instant::now() + config.heartbeat, config.heartbeat);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let dead_after = config.heartbeat * 5 / 2;
        let mut last_seen = Instant::now();
        let mut in_flight = 0usize;
        let mut nonce = 0u64;
        let shared = matches!(delivery, Delivery::Shared(..));
        let mut poll = tokio::time::interval_at(Instant::now() + POLL, POLL);
        let closing = |message: &str, reconnect: bool| {
            protocol::encode(&RelayMessage::Closing {
                message: message.to_string(),
                reconnect,
                taken_over: None,
            })
        };
        let reason = loop {
            if *shutdown.borrow() {
                let _ = out.send(closing("the relay is shutting down", true).expect("small"));
                break "the relay is shutting down".to_string();
            }
            let filled = match delivery {
                Delivery::Local => self.fill(channel, me, &mut in_flight, &out).await,
                Delivery::Shared(delivery, _) => {
                    self.fill_shared(channel, delivery, &mut in_flight, &out)
                        .await
                }
            };
            if let Err(reason) = filled {
                let _ = out.send(closing(&reason, true).expect("small"));
                break reason;
            }
            tokio::select! {
                biased;
                () = handle.kicked.notified() => {
                    let taken_over = handle.taken_over();
                    let message = match &taken_over {
                        Some(taken_over) => taken_over.describe(&channel.name),
                        None => format!("another listener connected to channel {}", channel.name),
                    };
                    let frame = protocol::encode(&RelayMessage::Closing {
                        message: message.clone(),
                        reconnect: false,
                        taken_over,
                    });
                    let _ = out.send(frame.expect("small"));
                    break message;
                }
                _ = shutdown.changed() => continue,
                frame = stream.next() => {
                    last_seen = Instant::now();
                    handle.seen(last_seen);
                    let message = match frame {
                        None => break "the listener closed the connection".to_string(),
                        Some(Err(err)) => break ProtocolError::from(err).to_string(),
                        Some(Ok(frame)) => match protocol::decode::<ClientMessage>(frame) {
                            Ok(Some(message)) => message,
                            Ok(None) => continue,
                            Err(ProtocolError::Closed(reason)) => {
                                break reason.unwrap_or_else(|| "the listener closed the connection".into())
                            }
                            Err(err) => {
                                let _ = out.send(closing(&err.to_string(), true).expect("small"));
                                break err.to_string();
                            }
                        },
                    };
                    let retry_after = config.retry_after_error;
                    match (message, &mut *delivery) {
                        (ClientMessage::Answer { id, response }, Delivery::Local) => {
                            self.settle(channel, me, &id, Outcome::Answered(response.into()), &mut in_flight);
                        }
                        (ClientMessage::Ack { id }, Delivery::Local) => {
                            self.settle(channel, me, &id, Outcome::Offline, &mut in_flight);
                        }
                        (ClientMessage::Error { id, message }, Delivery::Local) => {
                            self.retry_later(channel, me, &id, message, &mut in_flight);
                        }
                        (ClientMessage::Answer { id, response }, Delivery::Shared(delivery, _)) => {
                            delivery.settle(&channel.name, &id, Settled::Answered(response), retry_after, &mut in_flight);
                        }
                        (ClientMessage::Ack { id }, Delivery::Shared(delivery, _)) => {
                            delivery.settle(&channel.name, &id, Settled::Acknowledged, retry_after, &mut in_flight);
                        }
                        (ClientMessage::Error { id, message }, Delivery::Shared(delivery, _)) => {
                            delivery.settle(&channel.name, &id, Settled::NotStored(message), retry_after, &mut in_flight);
                        }
                        (ClientMessage::Ping { nonce }, _) => {
                            let _ = out.send(protocol::encode(&RelayMessage::Pong { nonce }).expect("small"));
                        }
                        (ClientMessage::Pong { .. }, _) => {}
                        (ClientMessage::Hello { .. }, _) => {
                            let _ = out.send(closing("hello sent twice", true).expect("small"));
                            break "the listener broke the protocol (hello sent twice)".to_string();
                        }
                    }
                }
                () = channel.wake.notified() => {
                    if let Delivery::Shared(delivery, _) = delivery {
                        delivery.woken();
                    }
                }
                _ = poll.tick(), if shared => {
                    let Delivery::Shared(delivery, _) = delivery else { continue };
                    delivery.woken();
                    match delivery.queue().still_owner(&channel.name, me).await {
                        Ok(Ownership::Held) => {}
                        Ok(Ownership::Forgotten) => {
                            let reason = format!("channel {} was forgotten (relay forget)", channel.name);
                            let _ = out.send(closing(&reason, true).expect("small"));
                            break reason;
                        }
                        Ok(Ownership::TakenOver(taken_over)) => {
                            let message = taken_over.describe(&channel.name);
                            self.emit(RelayEvent::ListenerTakenOver {
                                channel: channel.name.clone(),
                                previous: handle.peer,
                                by: taken_over.by.as_deref().and_then(|by| by.parse().ok()),
                            });
                            let frame = protocol::encode(&RelayMessage::Closing {
                                message: message.clone(),
                                reconnect: false,
                                taken_over: Some(taken_over),
                            });
                            let _ = out.send(frame.expect("small"));
                            break message;
                        }
                        Err(err) => {
                            let reason = format!("the relay lost its queue database ({err})");
                            let _ = out.send(closing(&reason, true).expect("small"));
                            break reason;
                        }
                    }
                }
                _ = heartbeat.tick() => {
                    if last_seen.elapsed() > dead_after {
                        break format!(
                            "no heartbeat for {} (dead connection)",
                            crate::output::humanize(last_seen.elapsed())
                        );
                    }
                    nonce += 1;
                    let _ = out.send(protocol::encode(&RelayMessage::Ping { nonce }).expect("small"));
                }
            }
        };
        drop(out);
        let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
        reason
    }

    /// Sends pending requests, oldest first, while the window has room.
    async fn fill(
        &self,
        channel: &Channel,
        me: u64,
        in_flight: &mut usize,
        out: &mpsc::UnboundedSender<Message>,
    ) -> Result<(), String> {
        let window = self.inner.config.max_in_flight;
        while *in_flight < window {
            let next = {
                let mut state = lock(&channel.state);
                let Some((_, mut entry)) = state.pending.pop_first() else {
                    return Ok(());
                };
                let redelivery = entry.delivered;
                entry.delivered = true;
                entry.owner = me;
                let queued = !state.waiters.contains_key(&entry.id);
                let cached = entry.cached.clone();
                let seq = entry.seq;
                let id = entry.id.clone();
                state.in_flight.insert(entry.id.clone(), entry);
                (seq, id, cached, redelivery, queued)
            };
            let (seq, id, cached, redelivery, queued) = next;
            *in_flight += 1;
            let request = match cached {
                Some(request) => Some((*request).clone()),
                None => match self.inner.sqlite().load(seq).await {
                    Ok(request) => request,
                    Err(err) => {
                        // Put it back and give up on this session; the next one tries again.
                        self.unsend(channel, &id);
                        *in_flight -= 1;
                        return Err(format!("the relay could not read its queue: {err}"));
                    }
                },
            };
            let Some(mut request) = request else {
                // Acknowledged and deleted meanwhile.
                let mut state = lock(&channel.state);
                if let Some(entry) = state.in_flight.remove(&id) {
                    self.dequeued(&mut state, &entry);
                }
                *in_flight -= 1;
                continue;
            };
            request.redelivery = redelivery;
            request.queued = queued;
            match protocol::encode(&RelayMessage::Request(Box::new(request))) {
                Ok(frame) => {
                    if out.send(frame).is_err() {
                        return Err("the connection to the listener broke".into());
                    }
                }
                Err(err) => {
                    // Cannot happen with --max-body within the protocol's limit. Never loop on
                    // it, and never delete it: it stays in the queue on disk.
                    tracing::error!(%id, "request cannot be sent, left in the queue: {err}");
                    let waiter = {
                        let mut state = lock(&channel.state);
                        state.in_flight.remove(&id);
                        state.waiters.remove(&id)
                    };
                    *in_flight -= 1;
                    if let Some(waiter) = waiter {
                        let _ = waiter.send(Outcome::NotStored(err.to_string()));
                    }
                }
            }
        }
        Ok(())
    }
}

/// How a listener session gets its channel's requests.
pub(super) enum Delivery {
    /// From the channel's state in memory (the SQLite queue).
    Local,
    /// From the shared queue; with the number queued when the session claimed the channel.
    Shared(SharedDelivery, u64),
}

fn held_message(
    channel: &str,
    holder: Option<&str>,
    since: &chrono::DateTime<chrono::Utc>,
) -> String {
    format!(
        "channel {channel} already has a listener{} connected since {} that refuses to be displaced (--no-takeover); stop it first",
        holder.map(|p| format!(" from {p}")).unwrap_or_default(),
        crate::model::format_time(since)
    )
}

fn message_kind(message: &ClientMessage) -> &'static str {
    match message {
        ClientMessage::Hello { .. } => "hello",
        ClientMessage::Answer { .. } => "answer",
        ClientMessage::Ack { .. } => "ack",
        ClientMessage::Error { .. } => "error",
        ClientMessage::Ping { .. } => "ping",
        ClientMessage::Pong { .. } => "pong",
    }
}

pub(super) fn is_websocket_upgrade<B>(request: &Request<B>) -> bool {
    let has = |name: hyper::header::HeaderName, token: &str| {
        request.headers().get_all(name).iter().any(|v| {
            v.to_str().is_ok_and(|v| {
                v.split(',')
                    .any(|part| part.trim().eq_ignore_ascii_case(token))
            })
        })
    };
    request.method() == hyper::Method::GET
        && has(hyper::header::UPGRADE, "websocket")
        && has(hyper::header::CONNECTION, "upgrade")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrades_are_recognised() {
        let request = Request::builder()
            .method("GET")
            .uri("/acme")
            .header("Upgrade", "WebSocket")
            .header("Connection", "keep-alive, Upgrade")
            .body(())
            .unwrap();
        assert!(is_websocket_upgrade(&request));
        let post = Request::builder()
            .method("POST")
            .uri("/acme")
            .header("Upgrade", "websocket")
            .header("Connection", "upgrade")
            .body(())
            .unwrap();
        assert!(!is_websocket_upgrade(&post));
    }
}
