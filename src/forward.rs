//! Sends a captured request to the handler and brings back its whole answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::Request;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;

mod headers;

use crate::handler_pool::{HandlerPool, PoolError};
use crate::handler_tls::{HandlerTls, LocalhostBothFamilies};
use crate::model::{is_framing, CapturedRequest, ForwardOutcome, RecordedResponse};
use crate::target::Target;
pub(crate) use headers::end_to_end_headers;
use headers::{copy_end_to_end, end_to_end, Header, SentThrough};

/// The largest handler answer webhook-dev collects whole (for replays and the relay); answers to
/// `listen`'s senders are streamed whatever their size.
pub(crate) const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// How much of an answer is stored by default (`listen --max-stored-answer`); the sender gets all
/// of it.
pub(crate) const STORED_ANSWER_BYTES: usize = 1024 * 1024;

type Connector = HttpsConnector<HttpConnector<LocalhostBothFamilies>>;

/// A pooled HTTP or HTTPS client bound to one target.
#[derive(Clone)]
pub struct Forwarder {
    pool: Arc<HandlerPool<Connector>>,
    target: Target,
    /// The Host header sent: the target's authority.
    host: HeaderValue,
    timeout: Duration,
    answer_cap: usize,
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// The handler's answer and how the attempt went, ready to record.
pub(crate) struct Forwarded {
    /// The answer as stored: whole, or its first `answer_cap` bytes when `rest` is set.
    pub response: RecordedResponse,
    /// What is recorded about the attempt.
    pub outcome: ForwardOutcome,
    /// The rest of an answer larger than the cap, still to be read: streamed to the sender,
    /// never stored.
    pub rest: Option<AnswerRest>,
    /// The handler's headers for the sender as hyper parsed them (`response.headers` without
    /// the framing webhook-dev sets itself); `None` for an answer webhook-dev gave itself.
    pub sender_headers: Option<hyper::HeaderMap>,
}

/// The handler's answer as [`Forwarder::send`] read it.
struct Answered {
    response: RecordedResponse,
    rest: Option<AnswerRest>,
    sender_headers: hyper::HeaderMap,
}

/// The part of a large answer after the stored bytes: those already read, then the handler's
/// body as it keeps arriving.
pub(crate) struct AnswerRest {
    read: Bytes,
    body: Incoming,
}

/// A body error on its way to the sender.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a sender receives: a whole answer, or the stored bytes followed by the rest as it arrives.
pub(crate) type SenderBody = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

impl AnswerRest {
    /// The sender's body: `first` (the stored bytes), then the rest as it arrives.
    pub(crate) fn after(self, first: Full<Bytes>) -> SenderBody {
        let read = Full::new(self.read);
        Chain {
            first: Some(first),
            read: Some(read),
            then: self.body,
        }
        .boxed_unsync()
    }

    /// Reads the remaining bytes whole, at most `max` of them.
    pub(crate) async fn collect(self, max: usize) -> Result<Bytes, String> {
        let mut all = BytesMut::from(self.read.as_ref());
        let mut body = self.body;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("the handler's answer broke off: {e}"))?;
            if let Ok(data) = frame.into_data() {
                all.extend_from_slice(&data);
                if all.len() > max {
                    return Err(format!("the handler's answer is larger than {max} bytes"));
                }
            }
        }
        Ok(all.freeze())
    }
}

/// A whole answer as a sender's body.
pub(crate) fn whole(body: Full<Bytes>) -> SenderBody {
    body.map_err(|never| match never {}).boxed_unsync()
}

/// Two bodies already in memory, then the handler's.
struct Chain {
    first: Option<Full<Bytes>>,
    read: Option<Full<Bytes>>,
    then: Incoming,
}

impl hyper::body::Body for Chain {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, BoxError>>> {
        use std::task::Poll;
        for slot in [0, 1] {
            let part = if slot == 0 {
                &mut self.first
            } else {
                &mut self.read
            };
            if let Some(body) = part.as_mut() {
                match std::pin::Pin::new(body).poll_frame(cx) {
                    Poll::Ready(Some(Ok(frame))) => return Poll::Ready(Some(Ok(frame))),
                    Poll::Ready(Some(Err(never))) => match never {},
                    Poll::Ready(None) => *part = None,
                    Poll::Pending => return Poll::Pending,
                }
            }
        }
        std::pin::Pin::new(&mut self.then)
            .poll_frame(cx)
            .map_err(BoxError::from)
    }
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("target", &self.target.to_string())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Forwarder {
    /// How long a forward may take before it gives up (`--timeout`).
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// A forwarder to `target` that gives up after `timeout`, trusting the system's roots for
    /// an `https://` target.
    pub fn new(target: Target, timeout: Duration) -> Self {
        Self::with_tls(target, timeout, &HandlerTls::default())
            .expect("the system's roots alone always make a TLS configuration")
    }

    /// A forwarder whose `https://` connections trust as `tls` says.
    pub(crate) fn with_tls(
        target: Target,
        timeout: Duration,
        tls: &HandlerTls,
    ) -> anyhow::Result<Self> {
        let mut http = HttpConnector::new_with_resolver(LocalhostBothFamilies::default());
        http.set_nodelay(true);
        http.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(Arc::unwrap_or_clone(tls.client_config()?))
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let origin = hyper::Uri::builder()
            .scheme(target.scheme())
            .authority(target.authority())
            .path_and_query("/")
            .build()?;
        Ok(Self {
            pool: Arc::new(HandlerPool::new(connector, origin)),
            host: HeaderValue::from_str(target.authority())?,
            target,
            timeout,
            answer_cap: STORED_ANSWER_BYTES,
        })
    }

    /// Stores at most `cap` bytes of each answer (the sender still gets all of it).
    pub(crate) fn with_answer_cap(mut self, cap: usize) -> Self {
        self.answer_cap = cap;
        self
    }

    /// The target requests go to.
    pub(crate) fn target(&self) -> &Target {
        &self.target
    }

    /// Forwards `request`, whose headers hyper parsed into `wire` when it came in over HTTP here;
    /// a dead or slow handler becomes a 502 or 504 answer, never an error.
    pub(crate) async fn forward(
        &self,
        request: &CapturedRequest,
        wire: Option<&hyper::HeaderMap>,
    ) -> Forwarded {
        let url = self.target.uri_for(&request.path);
        let started = Instant::now();
        let attempt = tokio::time::timeout(self.timeout, self.send(request, &url, wire)).await;
        let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        let (response, rest, sender_headers, error) = match attempt {
            Ok(Ok(Answered {
                response,
                rest,
                sender_headers,
            })) => (response, rest, Some(sender_headers), None),
            Ok(Err(cause)) => {
                let message = format!("could not forward to {url}: {cause}");
                (
                    RecordedResponse::plain(502, format!("webhook-dev: {message}")),
                    None,
                    None,
                    Some(message),
                )
            }
            Err(_) => {
                let message = format!(
                    "{url} did not answer within {} (--timeout)",
                    crate::output::humanize(self.timeout)
                );
                (
                    RecordedResponse::plain(504, format!("webhook-dev: {message}")),
                    None,
                    None,
                    Some(message),
                )
            }
        };
        Forwarded {
            outcome: ForwardOutcome {
                target: url,
                status: Some(response.status),
                duration_ms,
                error,
                answer_truncated: rest.is_some(),
            },
            response,
            rest,
            sender_headers,
        }
    }

    /// Sends the request and reads the answer: whole, or up to the cap with the rest left to read.
    async fn send(
        &self,
        request: &CapturedRequest,
        url: &str,
        wire: Option<&hyper::HeaderMap>,
    ) -> Result<Answered, ForwardError> {
        let outgoing = self
            .build(request, url, &url[self.target.origin_len()..], wire)
            .map_err(|e| ForwardError::Unsendable(e.to_string()))?;
        let (answer, connection) = self
            .pool
            .send(outgoing)
            .await
            .map_err(ForwardError::from_pool)?;
        let (parts, mut body) = answer.into_parts();
        let mut read = BytesMut::new();
        let mut over_cap = false;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| ForwardError::BrokenAnswer(e.to_string()))?;
            if let Ok(data) = frame.into_data() {
                read.extend_from_slice(&data);
                if read.len() > self.answer_cap {
                    over_cap = true;
                    break;
                }
            }
        }
        if !over_cap {
            connection.release();
        }
        let (body, rest) = if over_cap {
            let beyond = read.split_off(self.answer_cap).freeze();
            (read.freeze(), Some(AnswerRest { read: beyond, body }))
        } else {
            (read.freeze(), None)
        };
        let mut stored = Vec::with_capacity(parts.headers.len());
        let mut sender_headers = hyper::HeaderMap::with_capacity(parts.headers.len());
        for header @ (name, value) in end_to_end(|| parts.headers.iter()) {
            stored.push(header.owned());
            if !is_framing(name.as_str()) {
                sender_headers.append(name.clone(), value.clone());
            }
        }
        Ok(Answered {
            response: RecordedResponse {
                status: parts.status.as_u16(),
                headers: stored,
                body,
            },
            rest,
            sender_headers,
        })
    }

    /// The request to send to `url`, whose path and query are `path`; its headers are taken from
    /// `wire`, the headers hyper parsed off the sender's request, when given (the same as the
    /// request's, without parsing each again).
    fn build(
        &self,
        request: &CapturedRequest,
        url: &str,
        path: &str,
        wire: Option<&hyper::HeaderMap>,
    ) -> anyhow::Result<Request<Full<Bytes>>> {
        let method = hyper::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| anyhow::anyhow!("{:?} is not an HTTP method", request.method))?;
        // The connection is to the target already: the request line names the path alone.
        let path = hyper::Uri::try_from(path)
            .map_err(|e| anyhow::anyhow!("{url:?} is not a URL that can be sent: {e}"))?;
        let mut outgoing = Request::new(Full::new(request.body.clone()));
        *outgoing.method_mut() = method;
        *outgoing.uri_mut() = path;
        let headers = outgoing.headers_mut();
        headers.reserve(request.headers.len() + 4);
        let SentThrough {
            original_host,
            forwarded_for,
            forwarded_proto,
        } = match wire {
            Some(parsed) => copy_end_to_end(|| parsed.iter(), headers)?,
            None => copy_end_to_end(|| request.headers.iter(), headers)?,
        };
        headers.insert(hyper::header::HOST, self.host.clone());
        if let Some(peer) = request.peer {
            let mut chain = forwarded_for.map(<[u8]>::to_vec).unwrap_or_default();
            if !chain.is_empty() {
                chain.extend_from_slice(b", ");
            }
            crate::addr_text::push_ip(peer.ip(), &mut chain);
            headers.insert(X_FORWARDED_FOR, HeaderValue::from_bytes(&chain)?);
        } else if let Some(chain) = forwarded_for {
            headers.insert(X_FORWARDED_FOR, HeaderValue::from_bytes(chain)?);
        }
        // A request made here (trigger, a fixture) was not proxied: it gets no X-Forwarded-Proto.
        match (forwarded_proto, request.peer) {
            (Some(proto), _) => {
                headers.insert(X_FORWARDED_PROTO, HeaderValue::from_bytes(proto)?);
            }
            (None, Some(_)) => {
                headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
            }
            (None, None) => {}
        }
        if let Some(host) = original_host {
            headers.insert(X_FORWARDED_HOST, HeaderValue::from_bytes(host)?);
        }
        Ok(outgoing)
    }
}

/// Why a request could not be forwarded, phrased for a developer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ForwardError {
    /// The request cannot be put on the wire (a method or header HTTP does not allow).
    #[error("{0}")]
    Unsendable(String),
    /// The handler's TLS certificate is not trusted.
    #[error("certificate not trusted ({0}): pass --forward-ca mkcert-root.pem (the CA that signed the handler's certificate) or --forward-insecure")]
    Untrusted(String),
    /// Nothing listens at the target.
    #[error("{0} (is your handler running?)")]
    Refused(String),
    /// The connection could not be made for another reason.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The handler closed the connection before a complete answer.
    #[error("the handler closed the connection without a complete answer: {0}")]
    BrokenAnswer(String),
}

impl ForwardError {
    fn from_pool(error: PoolError) -> ForwardError {
        match error {
            PoolError::Connect(cause) => Self::classify(&*cause, true),
            PoolError::Send(cause) => Self::classify(&cause, false),
        }
    }

    /// Classifies an error by its causes, not by their wording; `connecting` when it came
    /// from making the connection.
    fn classify(error: &(dyn std::error::Error + 'static), connecting: bool) -> ForwardError {
        let mut innermost: &dyn std::error::Error = error;
        let mut untrusted = false;
        let mut refused = false;
        let mut cause: Option<&dyn std::error::Error> = Some(error);
        while let Some(current) = cause {
            innermost = current;
            untrusted |= matches!(
                tls_error(current),
                Some(rustls::Error::InvalidCertificate(_))
            );
            refused |= current
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused);
            cause = current.source();
        }
        let text = innermost.to_string();
        if untrusted {
            ForwardError::Untrusted(text)
        } else if refused {
            ForwardError::Refused(text)
        } else if connecting {
            ForwardError::Connect(text)
        } else {
            ForwardError::BrokenAnswer(text)
        }
    }
}

/// The TLS error `error` is, or wraps: an I/O error carries the error it wraps as itself, not as
/// its source.
fn tls_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = error.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    let inner = error.downcast_ref::<std::io::Error>()?.get_ref()?;
    tls_error(inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_that_cannot_be_sent_is_a_502_not_a_panic() {
        let forwarder = Forwarder::new("127.0.0.1:9".parse().unwrap(), Duration::from_secs(1));
        for (method, path) in [("", "/ok"), ("GET", "/a b"), ("P\u{1b}ST", "/x")] {
            let request = CapturedRequest {
                id: "req_1".into(),
                received_at: chrono::Utc::now(),
                peer: None,
                method: method.into(),
                path: path.into(),
                headers: vec![],
                body: Bytes::new(),
                replay_of: None,
            };
            let forwarded = forwarder.forward(&request, None).await;
            assert_eq!(forwarded.response.status, 502);
            let error = forwarded.outcome.error.unwrap();
            assert!(
                error.contains("not an HTTP method") || error.contains("not a URL"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_request_is_built_alike_from_the_parsed_headers_and_from_the_stored_list() {
        let forwarder = Forwarder::new("127.0.0.1:9".parse().unwrap(), Duration::from_secs(1));
        let mut wire = hyper::HeaderMap::new();
        for (name, value) in [
            ("host", "hooks.example.test"),
            ("content-type", "application/json"),
            ("x-signature", "t=1,v1=abc"),
            ("connection", "keep-alive, x-private"),
            ("x-private", "1"),
            ("content-length", "2"),
            ("x-forwarded-for", "203.0.113.9"),
            ("x-signature", "t=1,v1=def"),
            ("transfer-encoding", "chunked"),
            ("x-forwarded-proto", "https"),
        ] {
            wire.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        let request = CapturedRequest {
            id: "req_1".into(),
            received_at: chrono::Utc::now(),
            peer: Some("127.0.0.1:40000".parse().unwrap()),
            method: "POST".into(),
            path: "/hooks/x?y=1".into(),
            headers: crate::http_edge::header_list(&wire),
            body: Bytes::from_static(b"{}"),
            replay_of: None,
        };
        let url = forwarder.target.uri_for(&request.path);
        let path = &url[forwarder.target.origin_len()..];
        let from_wire = forwarder.build(&request, &url, path, Some(&wire)).unwrap();
        let from_list = forwarder.build(&request, &url, path, None).unwrap();
        let sent = |built: &Request<Full<Bytes>>| -> Vec<(String, Vec<u8>)> {
            built
                .headers()
                .iter()
                .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
                .collect()
        };
        assert_eq!(sent(&from_wire), sent(&from_list));
        assert_eq!(from_wire.uri(), from_list.uri());
        let names: Vec<String> = sent(&from_wire).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "content-type",
                "x-signature",
                "x-signature",
                "host",
                "x-forwarded-for",
                "x-forwarded-proto",
                "x-forwarded-host"
            ]
        );
        assert_eq!(
            from_wire.headers()["x-forwarded-for"],
            "203.0.113.9, 127.0.0.1"
        );
    }

    #[test]
    fn hop_by_hop_and_connection_named_headers_are_dropped() {
        let headers = vec![
            ("Connection".to_string(), b"keep-alive, X-Private".to_vec()),
            ("x-private".to_string(), b"1".to_vec()),
            ("transfer-encoding".to_string(), b"chunked".to_vec()),
            ("x-kept".to_string(), b"yes".to_vec()),
        ];
        let kept = end_to_end_headers(&headers);
        assert_eq!(kept, vec![("x-kept".to_string(), b"yes".to_vec())]);
    }
}
