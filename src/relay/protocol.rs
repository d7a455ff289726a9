//! The relay's wire protocol, in one place.
//!
//! A listener opens a WebSocket to `ws(s)://RELAY/CHANNEL` (an HTTP/1.1 `GET /CHANNEL` with
//! `Upgrade: websocket`). Every protocol message is then one WebSocket **text** message holding one
//! JSON object, tagged by `"type"`:
//!
//! ```text
//! listener                                   relay
//!    | -- hello {version, token, client, --->  |   within HANDSHAKE_TIMEOUT of the upgrade;
//!    |           no_takeover?}                 |   no_takeover: refuse newcomers while healthy
//!    | <-- welcome {version, channel, ...} --  |   or refused {code, message}, then close
//!    | <-- request {id, method, path, ...} --  |   in arrival order, up to a window in flight
//!    | -- answer {id, response} ------------>  |   stored on the listener side: the relay drops it
//!    | -- ack {id} ------------------------->  |   already stored (a duplicate): drops it too
//!    | -- error {id, message} -------------->  |   not stored: the relay keeps it, delivers it again
//!    | <-> ping {nonce} / pong {nonce} <---->  |   both ways, every heartbeat interval
//!    | <-- closing {message, reconnect, -----  |   the relay is going away, or another listener
//!    |              taken_over?: {at, by}}     |   took the channel over (when, from where)
//! ```
//!
//! A request leaves the relay's queue only on `answer` or `ack`, both of which a listener sends
//! only once the request is committed to its own store. Request ids are the relay's, so a
//! listener recognises a request delivered twice and drops the copy.
//!
//! Bodies travel base64-encoded; header values as strings when they are UTF-8, else as
//! `{"base64": "..."}`. No frame may exceed [`MAX_FRAME_BYTES`]; bodies are limited to
//! [`MAX_BODY_BYTES`] so that every request that the relay accepts fits in one frame.

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::error::CapacityError;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

use super::token::Token;
use crate::model::{HeaderList, RecordedResponse};

/// The protocol version this build speaks; both sides must agree exactly.
pub const VERSION: u32 = 1;

/// The largest protocol message, in bytes of JSON.
pub const MAX_FRAME_BYTES: usize = 24 * 1024 * 1024;

/// The largest request or answer body that the protocol carries (base64 makes it 4/3 larger).
pub(crate) const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// How long a relay waits for `hello` after the upgrade, and a listener for `welcome`.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The WebSocket settings both sides use: no message or frame above [`MAX_FRAME_BYTES`], and a
/// 16 KiB read buffer (tungstenite zero-fills the whole buffer before every read, so its 128 KiB
/// default costs more than it saves for messages of a few kB).
pub fn websocket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(16 * 1024)
        .max_message_size(Some(MAX_FRAME_BYTES))
        .max_frame_size(Some(MAX_FRAME_BYTES))
}

/// What a listener sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// The first message: which protocol, and the channel token.
    Hello {
        /// Must equal [`VERSION`].
        version: u32,
        /// The channel token (see `relay::token`).
        token: Token,
        /// Who is connecting, e.g. `webhook-dev 0.1.0`, for the relay's log.
        client: String,
        /// Refuse newcomers while this listener is healthy, instead of being displaced by them.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        no_takeover: bool,
    },
    /// The handler's answer to request `id`, which is now stored on the listener's side.
    Answer {
        /// The relay's request id.
        id: String,
        /// What the provider gets back, if it is still waiting.
        response: WireResponse,
    },
    /// Request `id` was already stored (a duplicate delivery) and its answer is not known.
    Ack {
        /// The relay's request id.
        id: String,
    },
    /// Request `id` could not be stored; the relay keeps it and delivers it again later.
    Error {
        /// The relay's request id.
        id: String,
        /// Why, in words.
        message: String,
    },
    /// A heartbeat; the relay answers `pong` with the same nonce.
    Ping {
        /// Any number.
        nonce: u64,
    },
    /// The answer to a relay's `ping`.
    Pong {
        /// The nonce of the ping.
        nonce: u64,
    },
}

/// What a relay sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RelayMessage {
    /// The handshake succeeded: requests follow.
    Welcome {
        /// The relay's [`VERSION`].
        version: u32,
        /// The channel subscribed to.
        channel: String,
        /// How many requests were waiting in the relay's queue.
        queued: u64,
        /// The heartbeat interval the relay uses.
        heartbeat_ms: u64,
    },
    /// The handshake failed; the relay closes the connection after this.
    Refused {
        /// Why, for programs.
        code: RefusedCode,
        /// Why, for people.
        message: String,
    },
    /// A request to handle; answer it with `answer`, `ack` or `error`.
    Request(Box<WireRequest>),
    /// The relay closes this connection.
    Closing {
        /// Why, for people.
        message: String,
        /// Whether connecting again makes sense (false when another listener took the channel).
        reconnect: bool,
        /// Set when another listener took the channel over: when, and from where.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        taken_over: Option<TakenOver>,
    },
    /// A heartbeat; the listener answers `pong` with the same nonce.
    Ping {
        /// Any number.
        nonce: u64,
    },
    /// The answer to a listener's `ping`.
    Pong {
        /// The nonce of the ping.
        nonce: u64,
    },
}

/// Why a handshake was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusedCode {
    /// The token is not the channel's.
    BadToken,
    /// The listener speaks another protocol version.
    Version,
    /// The first message was not `hello`.
    Protocol,
    /// No `hello` within the handshake timeout.
    Timeout,
    /// The channel name is invalid.
    Channel,
    /// The channel's listener is healthy and refuses to be displaced (`--no-takeover`).
    Held,
}

/// How a listener was displaced by a newer one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TakenOver {
    /// When the newer listener connected.
    pub at: DateTime<Utc>,
    /// The newer listener's address, as the relay saw it.
    pub by: Option<String>,
}

impl TakenOver {
    /// One sentence for people.
    pub(crate) fn describe(&self, channel: &str) -> String {
        format!(
            "another listener took channel {channel} over at {}{} (the newest connection wins; `listen --no-takeover` refuses newcomers instead)",
            crate::model::format_time(&self.at),
            self.by
                .as_deref()
                .map(|by| format!(" from {by}"))
                .unwrap_or_default()
        )
    }
}

/// A request as the relay received it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WireRequest {
    /// The relay's id (`req_` + ULID), kept by the listener's store.
    pub id: String,
    /// When the relay received the request head.
    pub received_at: DateTime<Utc>,
    /// HTTP method.
    pub method: String,
    /// Path and query below the channel, exactly as received (`/CHANNEL/a?b` becomes `/a?b`).
    pub path: String,
    /// Headers in arrival order, repeats kept.
    #[serde(with = "header_list")]
    pub headers: HeaderList,
    /// The raw body.
    #[serde(with = "base64_bytes")]
    pub body: Bytes,
    /// The provider's address as the relay saw it.
    pub peer: Option<String>,
    /// The relay may have delivered this request before: look for it in the store first.
    #[serde(default)]
    pub redelivery: bool,
    /// Nobody waits for the answer (the provider was answered when it was queued): listeners
    /// handle such requests one at a time, in order.
    #[serde(default)]
    pub queued: bool,
}

impl WireRequest {
    /// Checks what a listener must not take on trust from a relay: the id is `req_` and a ULID,
    /// and the method is an HTTP token. The reason quotes neither raw.
    pub(crate) fn check(&self) -> Result<(), String> {
        let ulid = self.id.strip_prefix("req_").unwrap_or("");
        if ulid.len() != 26 || ulid::Ulid::from_string(ulid).is_err() {
            return Err(format!(
                "the relay sent an invalid request id {} (expected req_ and a ULID)",
                crate::inert::line(&self.id.chars().take(40).collect::<String>())
            ));
        }
        let token = !self.method.is_empty()
            && self.method.len() <= 32
            && self
                .method
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token {
            return Err(format!(
                "the relay sent request {} with an invalid method {}",
                self.id,
                crate::inert::line(&self.method.chars().take(40).collect::<String>())
            ));
        }
        Ok(())
    }
}

/// An answer to send back to the provider.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WireResponse {
    /// Status code.
    pub status: u16,
    /// Headers in order.
    #[serde(with = "header_list")]
    pub headers: HeaderList,
    /// Raw body.
    #[serde(with = "base64_bytes")]
    pub body: Bytes,
}

impl From<RecordedResponse> for WireResponse {
    fn from(r: RecordedResponse) -> Self {
        WireResponse {
            status: r.status,
            headers: r.headers,
            body: r.body,
        }
    }
}

impl From<WireResponse> for RecordedResponse {
    fn from(r: WireResponse) -> Self {
        RecordedResponse {
            status: r.status,
            headers: r.headers,
            body: r.body,
        }
    }
}

/// What went wrong on the wire.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// A message over [`MAX_FRAME_BYTES`], sent or received.
    #[error("a protocol frame of {size} bytes is larger than the maximum of {max} bytes")]
    FrameTooLarge {
        /// Its size (a lower bound when received).
        size: usize,
        /// [`MAX_FRAME_BYTES`].
        max: usize,
    },
    /// A message that is not what the protocol allows.
    #[error("malformed protocol message: {0}")]
    Malformed(String),
    /// The other side closed the connection.
    #[error("the connection was closed{}", .0.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    Closed(Option<String>),
    /// The WebSocket failed.
    #[error("{0}")]
    WebSocket(tungstenite::Error),
}

impl From<tungstenite::Error> for ProtocolError {
    fn from(err: tungstenite::Error) -> Self {
        match err {
            tungstenite::Error::Capacity(CapacityError::MessageTooLong { size, max_size }) => {
                ProtocolError::FrameTooLarge {
                    size,
                    max: max_size,
                }
            }
            tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
                ProtocolError::Closed(None)
            }
            other => ProtocolError::WebSocket(other),
        }
    }
}

/// Encodes one message as a WebSocket text message, refusing one over [`MAX_FRAME_BYTES`].
pub fn encode<T: Serialize>(message: &T) -> Result<Message, ProtocolError> {
    let text =
        serde_json::to_string(message).map_err(|e| ProtocolError::Malformed(e.to_string()))?;
    if text.len() > MAX_FRAME_BYTES {
        return Err(ProtocolError::FrameTooLarge {
            size: text.len(),
            max: MAX_FRAME_BYTES,
        });
    }
    Ok(Message::text(text))
}

/// Decodes one received WebSocket message: `Ok(None)` for WebSocket-level pings and pongs (which
/// tungstenite answers by itself), an error for binary messages and oversized or malformed ones.
pub fn decode<T: DeserializeOwned>(message: Message) -> Result<Option<T>, ProtocolError> {
    match message {
        Message::Text(text) => {
            if text.len() > MAX_FRAME_BYTES {
                return Err(ProtocolError::FrameTooLarge {
                    size: text.len(),
                    max: MAX_FRAME_BYTES,
                });
            }
            serde_json::from_str(text.as_str())
                .map(Some)
                .map_err(|e| ProtocolError::Malformed(e.to_string()))
        }
        Message::Binary(_) => Err(ProtocolError::Malformed(
            "binary WebSocket messages are not part of the protocol".into(),
        )),
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Ok(None),
        Message::Close(frame) => Err(ProtocolError::Closed(
            frame
                .map(|f| f.reason.to_string())
                .filter(|reason| !reason.is_empty()),
        )),
    }
}

/// The next protocol message from `ws`, skipping WebSocket-level pings and pongs; used by both
/// ends (`T` is [`ClientMessage`] on the relay, [`RelayMessage`] on the listener).
pub(crate) async fn next_message<T, S>(ws: &mut WebSocketStream<S>) -> Result<T, ProtocolError>
where
    T: DeserializeOwned,
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        match ws.next().await {
            None => return Err(ProtocolError::Closed(None)),
            Some(Err(err)) => return Err(err.into()),
            Some(Ok(frame)) => {
                if let Some(message) = decode(frame)? {
                    return Ok(message);
                }
            }
        }
    }
}

/// Writes frames as they come, flushing once per burst, until `frames` ends; then closes.
pub(crate) async fn write_frames<S>(
    mut sink: SplitSink<WebSocketStream<S>, Message>,
    mut frames: mpsc::UnboundedReceiver<Message>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut batch = Vec::with_capacity(64);
    while frames.recv_many(&mut batch, 64).await > 0 {
        for frame in batch.drain(..) {
            if sink.feed(frame).await.is_err() {
                return;
            }
        }
        if sink.flush().await.is_err() {
            return;
        }
    }
    let _ = sink.close().await;
}

/// How long a body may be so that its request still fits in a frame.
pub(crate) fn body_fits(len: usize) -> bool {
    len <= MAX_BODY_BYTES
}

/// Bodies as standard base64 strings.
mod base64_bytes {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(
        bytes: &Bytes,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Bytes, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map(Bytes::from)
            .map_err(serde::de::Error::custom)
    }
}

/// Header lists as `[[name, value], ...]`; a value that is not UTF-8 becomes `{"base64": ...}`.
mod header_list {
    use super::*;
    use serde::ser::SerializeSeq;
    use serde::{Deserializer, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Value<'a> {
        Text(std::borrow::Cow<'a, str>),
        Raw { base64: String },
    }

    pub(crate) fn serialize<S: Serializer>(
        headers: &[(String, Vec<u8>)],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(headers.len()))?;
        for (name, value) in headers {
            let value = match std::str::from_utf8(value) {
                Ok(text) => Value::Text(text.into()),
                Err(_) => Value::Raw {
                    base64: base64::engine::general_purpose::STANDARD.encode(value),
                },
            };
            seq.serialize_element(&(name, value))?;
        }
        seq.end()
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<HeaderList, D::Error> {
        let pairs = Vec::<(String, Value<'de>)>::deserialize(deserializer)?;
        pairs
            .into_iter()
            .map(|(name, value)| {
                let value = match value {
                    Value::Text(text) => text.into_owned().into_bytes(),
                    Value::Raw { base64 } => base64::engine::general_purpose::STANDARD
                        .decode(base64)
                        .map_err(serde::de::Error::custom)?,
                };
                Ok((name, value))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample_request() -> WireRequest {
        WireRequest {
            id: "req_01J00000000000000000000000".into(),
            received_at: "2026-01-02T03:04:05.123456Z".parse().unwrap(),
            method: "POST".into(),
            path: "/hooks/a%20b?x=1".into(),
            headers: vec![
                ("content-type".into(), b"application/json".to_vec()),
                ("x-raw".into(), vec![0xff, 0x00, b'a']),
                ("x-dup".into(), b"1".to_vec()),
                ("x-dup".into(), b"2".to_vec()),
            ],
            body: Bytes::from_static(b"\x00{\"a\":1}\xff"),
            peer: Some("203.0.113.9:4433".into()),
            redelivery: false,
            queued: true,
        }
    }

    #[test]
    fn messages_round_trip_byte_exact() {
        let messages = vec![
            RelayMessage::Request(Box::new(sample_request())),
            RelayMessage::Welcome {
                version: VERSION,
                channel: "acme".into(),
                queued: 3,
                heartbeat_ms: 10_000,
            },
            RelayMessage::Refused {
                code: RefusedCode::BadToken,
                message: "no".into(),
            },
        ];
        for message in messages {
            let decoded: RelayMessage = decode(encode(&message).unwrap()).unwrap().unwrap();
            assert_eq!(decoded, message);
        }
        let answer = ClientMessage::Answer {
            id: "req_1".into(),
            response: WireResponse {
                status: 201,
                headers: vec![("x".into(), vec![0x80])],
                body: Bytes::from_static(b"\xfe"),
            },
        };
        let decoded: ClientMessage = decode(encode(&answer).unwrap()).unwrap().unwrap();
        assert_eq!(decoded, answer);
    }

    #[test]
    fn the_wire_format_is_readable_json() {
        let text = encode(&ClientMessage::Ack { id: "req_1".into() })
            .unwrap()
            .into_text()
            .unwrap();
        assert_eq!(text.as_str(), r#"{"type":"ack","id":"req_1"}"#);
        let request = encode(&RelayMessage::Request(Box::new(sample_request())))
            .unwrap()
            .into_text()
            .unwrap();
        assert!(
            request.starts_with(r#"{"type":"request","id":"req_01J"#),
            "{request}"
        );
        assert!(
            request.contains(r#"["x-raw",{"base64":"/wBh"}]"#),
            "{request}"
        );
        assert!(request.contains(r#"["content-type","application/json"]"#));
    }

    #[test]
    fn ids_and_methods_from_a_relay_are_checked_and_quoted_inert() {
        assert_eq!(sample_request().check(), Ok(()));
        let mut escape = sample_request();
        escape.id = "req_\u{1b}[2J".into();
        let err = escape.check().unwrap_err();
        assert!(
            err.contains("invalid request id") && !err.contains('\u{1b}'),
            "{err}"
        );
        let mut crlf = sample_request();
        crlf.method = "POST\r\nX-Injected: 1".into();
        let err = crlf.check().unwrap_err();
        assert!(
            err.contains("invalid method") && !err.contains('\r'),
            "{err}"
        );
        let mut lower = sample_request();
        lower.method = "PROPFIND".into();
        assert_eq!(lower.check(), Ok(()));
    }

    #[test]
    fn the_token_never_shows_in_debug() {
        let hello = ClientMessage::Hello {
            version: VERSION,
            token: Token::new("s3cr3t-token"),
            client: "test".into(),
            no_takeover: false,
        };
        assert!(!format!("{hello:?}").contains("s3cr3t"));
        let text = encode(&hello).unwrap().into_text().unwrap();
        assert!(
            text.contains("s3cr3t-token"),
            "the token travels in the hello"
        );
    }

    #[test]
    fn oversized_frames_are_refused_both_ways() {
        let huge = RelayMessage::Request(Box::new(WireRequest {
            body: Bytes::from(vec![0u8; MAX_FRAME_BYTES]),
            ..sample_request()
        }));
        assert!(matches!(
            encode(&huge),
            Err(ProtocolError::FrameTooLarge { .. })
        ));
        let text = "x".repeat(MAX_FRAME_BYTES + 1);
        let err = decode::<RelayMessage>(Message::text(text)).unwrap_err();
        assert!(matches!(err, ProtocolError::FrameTooLarge { .. }), "{err}");
        assert!(err.to_string().contains("larger than the maximum"));
    }

    #[test]
    fn the_largest_body_fits_in_a_frame() {
        let request = RelayMessage::Request(Box::new(WireRequest {
            body: Bytes::from(vec![0xabu8; MAX_BODY_BYTES]),
            ..sample_request()
        }));
        assert!(encode(&request).is_ok());
    }

    #[test]
    fn garbage_is_malformed() {
        for text in ["", "{}", "{\"type\":\"nope\"}", "[1]"] {
            let err = decode::<ClientMessage>(Message::text(text)).unwrap_err();
            assert!(matches!(err, ProtocolError::Malformed(_)), "{text}: {err}");
        }
        assert!(matches!(
            decode::<ClientMessage>(Message::binary(vec![1, 2])),
            Err(ProtocolError::Malformed(_))
        ));
        assert!(decode::<ClientMessage>(Message::Ping(Bytes::new()))
            .unwrap()
            .is_none());
    }
}
