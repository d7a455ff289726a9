//! Turns one hyper request into a captured request, and the engine's answer into a hyper response.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Request, Response};

use crate::engine::{Answer, Engine, RequestHead};
use crate::forward::{whole, SenderBody};
use crate::http_edge::{header_list, read_body, BodyError};
use crate::model::RecordedResponse;

/// Bounds on what one sender can make the server do.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The largest body accepted; larger ones get 413.
    pub max_body: usize,
    /// How long a client may take to send the request head.
    pub header_timeout: Duration,
    /// How long a client may take to send the body once the head has arrived.
    pub body_timeout: Duration,
    /// How long shutdown waits for requests in flight before dropping them.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body: 10 * 1024 * 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(35),
        }
    }
}

/// Why a request produced no answer: the client went away mid-body. Nothing is stored.
#[derive(Debug, thiserror::Error)]
#[error("the client stopped sending the body: {0}")]
pub(crate) struct BodyBroken(String);

/// Reads one request whole and returns the engine's answer.
pub(crate) async fn capture(
    engine: Arc<Engine>,
    limits: Limits,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Result<Response<SenderBody>, BodyBroken> {
    let (parts, body) = request.into_parts();
    if parts.method == hyper::Method::CONNECT {
        let refusal = RecordedResponse::plain(
            405,
            "webhook-dev: CONNECT is not a webhook; webhook-dev is not a forward proxy",
        );
        let mut response = into_hyper(refusal, true);
        response.headers_mut().insert(
            hyper::header::ALLOW,
            HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
        );
        return Ok(response.map(whole));
    }
    let head = RequestHead {
        peer: Some(peer),
        ..RequestHead::new(
            parts.method.as_str(),
            parts
                .uri
                .path_and_query()
                .map(|pq| pq.as_str().to_string())
                .unwrap_or_else(|| parts.uri.to_string()),
            header_list(&parts.headers),
        )
    };
    let body = match read_body(&parts.headers, body, limits.max_body, limits.body_timeout).await {
        Ok(body) => body,
        Err(BodyError::TooLarge(_)) => {
            return Ok(refuse(&engine, head, limits.max_body).await.map(whole))
        }
        Err(BodyError::Late(timeout)) => {
            let late = RecordedResponse::plain(
                408,
                format!(
                    "webhook-dev: the body did not arrive within {}; nothing was stored or forwarded",
                    crate::output::humanize(timeout)
                ),
            );
            return Ok(into_hyper(late, true).map(whole));
        }
        Err(BodyError::Malformed(err)) => {
            let bad = RecordedResponse::plain(
                400,
                format!("webhook-dev: the request body is malformed ({err}); nothing was stored or forwarded"),
            );
            return Ok(into_hyper(bad, true).map(whole));
        }
        Err(BodyError::Broken(err)) => return Err(BodyBroken(err)),
    };
    let Answer {
        response,
        rest,
        headers,
    } = engine.handle(head, parts.headers, body).await;
    let response = response.into_hyper_with(headers);
    Ok(match rest {
        Some(rest) => response.map(|stored| rest.after(stored)),
        None => response.map(whole),
    })
}

/// The 413 answer for a body over `max_body` bytes.
pub(crate) fn too_large(max_body: usize) -> RecordedResponse {
    RecordedResponse::plain(
        413,
        format!(
            "webhook-dev: the request body is larger than --max-body ({max_body} bytes); it was recorded without its body and not forwarded"
        ),
    )
}

/// Records a refused request and gives the refusal; the sender gets it even if recording failed.
async fn refuse(engine: &Engine, head: RequestHead, max_body: usize) -> Response<Full<Bytes>> {
    let refusal = too_large(max_body);
    into_hyper(
        engine
            .refuse(head, refusal.clone())
            .await
            .unwrap_or(refusal),
        true,
    )
}

/// Builds the hyper response; `close` asks the client to open a new connection afterwards.
fn into_hyper(answer: RecordedResponse, close: bool) -> Response<Full<Bytes>> {
    let mut response = answer.into_hyper();
    if close {
        response
            .headers_mut()
            .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
